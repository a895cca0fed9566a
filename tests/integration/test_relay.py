# SPDX-License-Identifier: GPL-3.0-or-later
"""Who may relay (SPEC §1 and §3), over SMTP and through Policy.CanRelay.

Clients connect from several loopback source addresses to play several hosts:
loopback is a local network, so a "foreign" client is one with
SkipAuthForLocalNetworks off (the default) and an address in no trusted
network. Remote recipients are under .invalid: a relayed message stays queued
(its delivery is deferred), so Queue.List shows what was let through.
Trusted networks and relay domains are set through RelayControl."""

import json
import os
import re
import smtplib
import socket
import subprocess

import pytest

from relais_helpers import (
    BUS_NAME, CLIENT_HELO, ERR, OBJ_PATH, SENDER, TEST_DOMAIN, busctl, gdbus_call,
    make_message, require_tool, wait_for,
)

IFACE_POLICY = "org.relais.Relais1.Policy"
IFACE_QUEUE = "org.relais.Relais1.Queue"
IFACE_RELAY_CONTROL = "org.relais.Relais1.RelayControl"
REMOTE = "bob@relay-target.invalid"
FOREIGN = "127.0.0.66"
LOCAL = "127.0.0.5"
TRUSTED = "127.0.0.7"
# SmtpAuthentication is on and STARTTLS is offered, so a client could still
# authenticate: SPEC §3's relay refusal is then 454, not 554.
RELAY_DENIED = 454


# ---------------------------------------------------------------- helpers

@pytest.fixture
def relay(daemon):
    """The daemon with local domain relais.test and account alice."""
    daemon.setup_mailbox()
    return daemon


def smtp_from(daemon, source):
    s = smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=15,
                     source_address=(source, 0))
    s.ehlo()
    return s


def rcpt_reply(daemon, source, recipient):
    """(code, text) of RCPT TO:<recipient> from SOURCE, after a MAIL FROM."""
    with smtp_from(daemon, source) as s:
        code, _ = s.mail(SENDER)
        assert code == 250
        code, text = s.rcpt(recipient)
        return code, text.decode()


def send_from(daemon, source, recipient):
    with smtp_from(daemon, source) as s:
        s.sendmail(SENDER, [recipient], make_message("relay test", to=recipient))


def queue_list(daemon):
    p = busctl(daemon.bus_address, "--json=short", "call", BUS_NAME, OBJ_PATH, IFACE_QUEUE, "List")
    return json.loads(p.stdout)["data"][0]


def queued_non_local(daemon):
    """Every pending queue address whose domain is not the local domain."""
    return [a for row in queue_list(daemon) for a in row[2]
            if a.rpartition("@")[2].lower() != TEST_DOMAIN]


def can_relay(daemon, client, login, sender, recipient):
    p = busctl(daemon.bus_address, "--json=short", "call", BUS_NAME, OBJ_PATH, IFACE_POLICY,
               "CanRelay", "ssss", client, login, sender, recipient)
    allowed, rule, reply = json.loads(p.stdout)["data"]
    return allowed, rule, reply


def rejected(daemon, reason):
    return daemon.stats()["RejectedByReason"].get(reason, 0)


def relay_control(daemon, method, name, value):
    daemon.dbus().call(IFACE_RELAY_CONTROL, method, "(ssb)", (name, value, False))


# ---------------------------------------------------------------- SMTP

def test_foreign_client_is_refused_relay_but_reaches_local_mail(relay):
    before = rejected(relay, "relay-denied")
    code, text = rcpt_reply(relay, FOREIGN, REMOTE)
    assert (code, text) == (454, "4.7.1 Relay access denied")
    assert rcpt_reply(relay, FOREIGN, "alice@" + TEST_DOMAIN)[0] == 250
    wait_for(lambda: rejected(relay, "relay-denied") == before + 1, 5, "relay-denied counted")
    with open(relay.log_path, errors="replace") as f:
        log = f.read()
    assert re.search(r"reject RCPT from \S+\[%s\]: 454 4\.7\.1 .* reason=relay-denied rule=relay-denied"
                     % re.escape(FOREIGN), log), log
    assert queued_non_local(relay) == []


def test_foreign_client_with_swaks(relay):
    require_tool("swaks")
    p = subprocess.run(["swaks", "--server", "%s:%d" % (relay.host, relay.port),
                        "--local-interface", FOREIGN, "--helo", CLIENT_HELO,
                        "--from", SENDER, "--to", REMOTE, "--quit-after", "RCPT"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, p.stdout
    assert "<** 454 4.7.1 Relay access denied" in p.stdout, p.stdout


def test_local_network_relays_only_with_the_option(relay):
    assert rcpt_reply(relay, LOCAL, REMOTE)[0] == RELAY_DENIED
    relay.update(SkipAuthForLocalNetworks=True)
    send_from(relay, LOCAL, REMOTE)
    wait_for(lambda: REMOTE in queued_non_local(relay), 10, "the relayed message in Queue.List")
    with open(relay.log_path, errors="replace") as f:
        assert "to=<%s> rule=local-network" % REMOTE in f.read()
    relay.update(SkipAuthForLocalNetworks=False)
    assert rcpt_reply(relay, LOCAL, REMOTE)[0] == RELAY_DENIED


def test_new_interface_address_becomes_a_local_network(relay):
    """An address added to lo while the daemon runs is a local network at once
    (the netlink watch), and is not any more once removed."""
    if os.environ.get("RELAIS_TEST_NET") != "1" or os.geteuid() != 0:
        pytest.skip("needs root in the private test network namespace")
    relay.update(SkipAuthForLocalNetworks=True)
    client = "198.18.9.7"
    assert can_relay(relay, client, "", SENDER, REMOTE)[1] == "relay-denied"
    subprocess.run(["ip", "addr", "add", "198.18.9.1/24", "dev", "lo"], check=True)
    try:
        wait_for(lambda: can_relay(relay, client, "", SENDER, REMOTE)[1] == "local-network", 10,
                 "198.18.9.0/24 to become a local network")
        subprocess.run(["ip", "addr", "add", client + "/32", "dev", "lo"], check=True)
        # over SMTP too, from that address
        assert rcpt_reply(relay, client, REMOTE)[0] == 250
    finally:
        subprocess.run(["ip", "addr", "del", client + "/32", "dev", "lo"], check=False)
        subprocess.run(["ip", "addr", "del", "198.18.9.1/24", "dev", "lo"], check=False)
    wait_for(lambda: can_relay(relay, client, "", SENDER, REMOTE)[1] == "relay-denied", 10,
             "198.18.9.0/24 to stop being a local network")


def test_trusted_network_relays(relay):
    relay_control(relay, "AddTrustedNetwork", "office", TRUSTED + "/32")
    send_from(relay, TRUSTED, REMOTE)
    wait_for(lambda: REMOTE in queued_non_local(relay), 10, "the relayed message in Queue.List")
    assert rcpt_reply(relay, "127.0.0.8", REMOTE)[0] == RELAY_DENIED
    assert can_relay(relay, TRUSTED, "", SENDER, REMOTE) == (True, "trusted-network:office", "250 2.1.5 Ok")
    assert can_relay(relay, "::ffff:" + TRUSTED, "", SENDER, REMOTE)[1] == "trusted-network:office"


def test_relay_domain_accepts_from_anyone(relay):
    relay_control(relay, "AddRelayDomain", "partner", "partner.invalid")
    assert rcpt_reply(relay, FOREIGN, "carol@Partner.Invalid")[0] == 250
    assert rcpt_reply(relay, FOREIGN, "carol@sub.partner.invalid")[0] == RELAY_DENIED
    assert can_relay(relay, FOREIGN, "", SENDER, "carol@partner.invalid") == \
        (True, "relay-domain:partner", "250 2.1.5 Ok")


# ---------------------------------------------------------------- open relay

# (RCPT argument, expected reply code): every one from a foreign client.
TRICKS = [
    ("<bob@remote.invalid>", RELAY_DENIED),                          # plain relay
    ("<BOB@REMOTE.INVALID>", RELAY_DENIED),                          # case
    ("<bob%remote.invalid@relais.test>", 550),              # percent hack
    ("<bob%remote.invalid@RELAIS.TEST>", 550),              # percent hack, case
    ("<remote.invalid!bob@relais.test>", 550),              # bang path
    ("<remote.invalid!bob%other.invalid@relais.test>", 550),  # bang + percent
    ("<@relais.test:bob@remote.invalid>", RELAY_DENIED),             # source route
    ("<@relais.test,@other.invalid:bob@remote.invalid>", RELAY_DENIED),  # source route, two hops
    ("<@remote.invalid:bob%other.invalid@relais.test>", 550),   # source route + percent
    ('<"bob@remote.invalid"@relais.test>', 550),            # quoted local part with @
    ('<"bob%remote.invalid"@relais.test>', 550),            # quoted percent
    ('<"bob\\@remote.invalid"@relais.test>', 550),          # quoted-pair @
    ('<"bob@remote.invalid">', 501),                        # quoted, no domain
    ("<bob\\@remote.invalid@relais.test>", 501),            # backslash outside quotes
    ("<bob@[192.0.2.1]>", RELAY_DENIED),                             # IP literal
    ("<bob@[127.0.0.1]>", RELAY_DENIED),                             # IP literal of this host
    ("<bob@[IPv6:::1]>", RELAY_DENIED),                              # IPv6 literal
    ('<"bob"@[192.0.2.1]>', RELAY_DENIED),                           # quoted + literal
    ("<bob@[192.0.2.1].relais.test>", 501),                 # literal glued to a domain
    ("<bob@relais.test.>", 501),                            # trailing dot, local domain
    ("<bob@remote.invalid.>", 501),                         # trailing dot, remote
    ("<bob@remote.invalid@relais.test>", 501),              # two @
    ("<bob@relais.test@remote.invalid>", 501),              # two @, other order
    ("<bob@relais.test.remote.invalid>", RELAY_DENIED),              # local domain as a prefix
    ("<bob@remote.invalid%relais.test>", 501),              # percent in the domain
    ("<bob@relais.test><bob@remote.invalid>", 501),         # two paths
    ("bob@remote.invalid", 501),                            # no angle brackets
    ("<bob@remote.invalid", 501),                           # unclosed
    ("<postmaster@remote.invalid>", RELAY_DENIED),                   # someone else's postmaster
    ("<bob@localhost>", RELAY_DENIED),                               # a name for this host, not a local domain
    ("<bob@r\u00e9mote.invalid>", 553),                     # UTF-8 without SMTPUTF8
    ("<bob@remote.invalid> NOTIFY=NEVER", RELAY_DENIED),             # with a DSN parameter
]


def test_open_relay_battery(relay):
    assert len(TRICKS) >= 25
    before = rejected(relay, "relay-denied")
    answers = []
    # RawSMTP always connects from 127.0.0.1: a socket of our own, from the foreign address
    sock = socket.create_connection((relay.host, relay.port), timeout=10, source_address=(FOREIGN, 0))
    f = sock.makefile("rwb")

    def reply():
        lines = []
        while True:
            line = f.readline().decode("utf-8", "replace")
            assert line, "connection closed"
            lines.append(line.rstrip("\r\n"))
            if line[3:4] != "-":
                return int(line[:3]), lines

    def cmd(line):
        f.write(line.encode("utf-8") + b"\r\n")
        f.flush()
        return reply()

    assert reply()[0] == 220
    assert cmd("EHLO " + CLIENT_HELO)[0] == 250
    for trick, expected in TRICKS:
        assert cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
        code, lines = cmd("RCPT TO:" + trick)
        answers.append((trick, code, lines[-1]))
        if 200 <= code < 300:
            # let it through to the queue, so that the check below sees it
            assert cmd("DATA")[0] == 354
            f.write(make_message("smuggled", to="x@x.invalid") + b"\r\n.\r\n")
            f.flush()
            reply()
        assert cmd("RSET")[0] == 250
    cmd("QUIT")
    sock.close()

    wrong = [a for a, (_, expected) in zip(answers, TRICKS) if a[1] != expected]
    assert wrong == [], "\n".join("%s -> %s" % (t, line) for t, _, line in wrong)
    assert all(code >= 400 for _, code, _ in answers)   # refused: 454 while AUTH is possible, else 5xx
    n_relay = sum(1 for _, code in TRICKS if code == RELAY_DENIED)
    wait_for(lambda: rejected(relay, "relay-denied") == before + n_relay, 5, "every relay refusal counted")
    assert queued_non_local(relay) == []
    assert queue_list(relay) == []


# ---------------------------------------------------------------- Policy.CanRelay

def test_can_relay_rules(relay):
    alice = "alice@" + TEST_DOMAIN
    assert can_relay(relay, FOREIGN, "", SENDER, alice) == (True, "local-account", "250 2.1.5 Ok")
    assert can_relay(relay, FOREIGN, "", SENDER, "nobody@" + TEST_DOMAIN) == \
        (False, "unknown-recipient", "550 5.1.1 Recipient address rejected: unknown user")
    # AUTH is offered (SmtpAuthentication is on by default): 454
    assert can_relay(relay, FOREIGN, "", SENDER, REMOTE) == \
        (False, "relay-denied", "454 4.7.1 Relay access denied")
    assert can_relay(relay, "192.0.2.7", "", SENDER, REMOTE)[1] == "relay-denied"
    assert can_relay(relay, FOREIGN, "alice", SENDER, REMOTE) == (True, "authenticated", "250 2.1.5 Ok")
    assert can_relay(relay, FOREIGN, "", SENDER, "bob%remote.invalid@" + TEST_DOMAIN)[1] == "unknown-recipient"
    assert can_relay(relay, FOREIGN, "", SENDER, "@%s:%s" % (TEST_DOMAIN, REMOTE))[1] == "relay-denied"
    allowed, rule, reply = can_relay(relay, FOREIGN, "", SENDER, "bob@relais.test.")
    assert (allowed, rule) == (False, "bad-recipient") and reply.startswith("501 5.1.3 "), reply
    allowed, rule, reply = can_relay(relay, FOREIGN, "", "not an address", alice)
    assert (allowed, rule) == (False, "bad-sender") and reply.startswith("501 5.1.7 "), reply
    assert can_relay(relay, FOREIGN, "", "", alice)[0] is True          # null sender

    relay.update(SmtpAuthentication=False)
    assert can_relay(relay, FOREIGN, "", SENDER, REMOTE) == \
        (False, "relay-denied", "554 5.7.1 Relay access denied")
    relay.update(SkipAuthForLocalNetworks=True)
    assert can_relay(relay, LOCAL, "", SENDER, REMOTE) == (True, "local-network", "250 2.1.5 Ok")
    assert can_relay(relay, "::ffff:" + LOCAL, "", SENDER, REMOTE)[1] == "local-network"
    assert can_relay(relay, "::1", "", SENDER, REMOTE)[1] == "local-network"
    assert can_relay(relay, "192.0.2.7", "", SENDER, REMOTE)[1] == "relay-denied"

    relay.update(ExternalAdministrators=["admin@elsewhere.invalid"])
    assert can_relay(relay, "192.0.2.7", "", SENDER, "postmaster") == (True, "postmaster", "250 2.1.5 Ok")

    # nothing was sent or counted
    assert queue_list(relay) == []


def test_can_relay_bad_arguments(relay):
    for client in ("not-an-ip", "192.0.2.0/24", "", "[192.0.2.1]"):
        p = gdbus_call(relay.bus_address, IFACE_POLICY + ".CanRelay", client, "", SENDER, REMOTE)
        assert p.returncode != 0, p.stdout
        assert ERR + "InvalidArgument" in p.stderr and "'%s'" % client in p.stderr, p.stderr
    p = gdbus_call(relay.bus_address, IFACE_POLICY + ".CanRelay", FOREIGN, "mallory", SENDER, REMOTE)
    assert p.returncode != 0 and ERR + "InvalidArgument" in p.stderr and "mallory" in p.stderr, p.stderr
