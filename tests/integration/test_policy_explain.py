# SPDX-License-Identifier: GPL-3.0-or-later
"""The policy trace (SPEC §6) and the runtime side of Security on the real
relaisd: Policy.Explain names the rule or check that decides (black/white
rules, relay control, discard, the DNS-based checks against the test zone of
tests/dns/test.conf), lists every check it consulted, refuses bad envelopes
naming the key, and counts nothing; Policy.CanRelay agrees with it; a client
blocked for real by the nonexistent-account block shows in
Security.ListBlocked until the next local midnight and Security.Unblock
(polkit org.relais.relais1.configure) lets it in again."""

import datetime
import json
import os
import zoneinfo

import pytest
from gi.repository import GLib

from relais_helpers import (
    BUS_NAME, CLIENT_HELO, ERR, IFACE_ACCOUNTS, OBJ_PATH, SENDER, TEST_DOMAIN,
    DBusCallError, RawSMTP, busctl, guess_variant, make_daemon,
)
# The system-like bus with the polkit mock, shared with test_polkit.py.
from test_polkit import (  # noqa: F401  (pytest fixtures)
    ACTION_CONFIGURE, checked_actions, clear_calls, polkit_mock, set_allowed, system_bus,
)

IFACE_POLICY = "org.relais.Relais1.Policy"
IFACE_SECURITY = "org.relais.Relais1.Security"
FOREIGN = "127.0.0.66"           # in no trusted network; loopback is a local network
BLOCKED = "127.0.0.5"
ALICE = "alice@" + TEST_DOMAIN
REMOTE = "bob@relay-target.invalid"
TZ = "Europe/Paris"
NOW = 1767189600                 # 2025-12-31 15:00 in Paris: the daemon's clock, fixed

S = lambda v: GLib.Variant("s", v)  # noqa: E731


def in_test_net():
    return os.environ.get("RELAIS_TEST_NET") == "1"


needs_dns = pytest.mark.skipif(not in_test_net(),
                               reason="needs build-aux/with-test-net --dnsmasq (the test DNS zone)")


@pytest.fixture
def explain_daemon(request, tmp_path, session_bus):
    """relaisd with a fixed clock (so per-minute counts cannot roll over
    mid-test), local domain relais.test and account alice."""
    clock = tmp_path / "clock"
    clock.write_text("%d\n" % NOW)
    d = make_daemon(request, tmp_path, session_bus.address,
                    extra_env={"RELAIS_TEST_CLOCK_FILE": str(clock), "TZ": TZ})
    d.start()
    d.setup_mailbox()
    return d


def explain(daemon, **envelope):
    env = {k: guess_variant(v) for k, v in envelope.items()}
    return daemon.dbus().call(IFACE_POLICY, "Explain", "(a{sv})", (env,), timeout_ms=30000)[0]


def explain_error(daemon, envelope):
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE_POLICY, "Explain", "(a{sv})", (envelope,))
    return e.value


def can_relay(daemon, client, login, sender, recipient):
    return tuple(daemon.dbus().call(IFACE_POLICY, "CanRelay", "(ssss)", (client, login, sender, recipient),
                                    timeout_ms=30000))




def decided(result):
    return [(stage, check) for (stage, check, _answer, dec) in result["Steps"] if dec]


def outcome(result):
    return result["Decision"], result["Reply"], result["DecidedBy"]


def full_envelope(sender=SENDER, recipients=(ALICE,), client=FOREIGN, **more):
    return dict(ClientAddress=client, Helo=CLIENT_HELO, Sender=sender, Recipients=list(recipients), **more)


# ---------------------------------------------------------------- rules

def test_blacklisted_sender(explain_daemon):
    d = explain_daemon
    d.add_rule("spammers", "black", "sender", "spam@bad.example", "reject")
    r = explain(d, **full_envelope(sender="spam@bad.example"))
    assert outcome(r) == ("reject", "554 5.7.1 Access denied", "blacklist:spammers")
    assert r["Recipients"] == [(ALICE, "reject", "blacklist:spammers", "554 5.7.1 Access denied")]
    # every stage's checks are there, in order, and exactly one decided
    stages = [s for (s, _c, _a, _d) in r["Steps"]]
    assert stages == sorted(stages, key=["connect", "helo", "mail", "rcpt " + ALICE].index)
    checks = {(s, c) for (s, c, _a, _d) in r["Steps"]}
    for expected in [("connect", "nonexistent-block"), ("connect", "connection-limit"),
                     ("connect", "connection-rate"), ("helo", "non-fqdn-helo"), ("helo", "unknown-helo"),
                     ("mail", "auth-required"), ("mail", "message-rate"),
                     ("mail", "unknown-client-hostname"), ("mail", "non-fqdn-sender"),
                     ("rcpt " + ALICE, "recipient"), ("rcpt " + ALICE, "whitelist"),
                     ("rcpt " + ALICE, "blacklist")]:
        assert expected in checks, (expected, r["Steps"])
    assert decided(r) == [("rcpt " + ALICE, "blacklist")]
    answers = {(s, c): a for (s, c, a, _d) in r["Steps"]}
    assert answers[("helo", "unknown-helo")] == "off"
    assert "spammers" in answers[("rcpt " + ALICE, "blacklist")]

    # the same over busctl, as the README shows it
    p = busctl(d.bus_address, "--json=short", "call", BUS_NAME, OBJ_PATH, IFACE_POLICY, "Explain", "a{sv}", 3,
               "ClientAddress", "s", FOREIGN, "Sender", "s", "spam@bad.example", "Recipients", "as", 1, ALICE)
    result = json.loads(p.stdout)["data"][0]
    assert result["DecidedBy"] == {"type": "s", "data": "blacklist:spammers"}
    assert result["Decision"]["data"] == "reject"


def test_whitelisted_ip_overrides_the_blacklist(explain_daemon):
    d = explain_daemon
    d.add_rule("spammers", "black", "sender", "spam@bad.example", "reject")
    d.add_rule("partner", "white", "ip", FOREIGN)
    r = explain(d, **full_envelope(sender="spam@bad.example"))
    assert outcome(r) == ("accept", "250 2.1.5 Ok", "whitelist:partner")
    assert decided(r) == [("rcpt " + ALICE, "whitelist")]
    # another client is not whitelisted
    r = explain(d, **full_envelope(sender="spam@bad.example", client="127.0.0.67"))
    assert outcome(r) == ("reject", "554 5.7.1 Access denied", "blacklist:spammers")
    assert can_relay(d, FOREIGN, "", "spam@bad.example", ALICE) == (True, "whitelist:partner", "250 2.1.5 Ok")


def test_relay_refusal(explain_daemon):
    d = explain_daemon
    # AUTH is offered (SmtpAuthentication on, STARTTLS available): 454
    r = explain(d, **full_envelope(recipients=[ALICE, REMOTE]))
    assert outcome(r) == ("defer", "454 4.7.1 Relay access denied", "relay-denied")
    assert r["Recipients"] == [(ALICE, "accept", "local-account", "250 2.1.5 Ok"),
                               (REMOTE, "defer", "relay-denied", "454 4.7.1 Relay access denied")]
    assert decided(r) == [("rcpt " + ALICE, "recipient"), ("rcpt " + REMOTE, "recipient")]
    # an authenticated client may relay
    r = explain(d, **full_envelope(recipients=[REMOTE], Login="alice"))
    assert outcome(r) == ("accept", "250 2.1.5 Ok", "authenticated")
    d.update(SmtpAuthentication=False)
    r = explain(d, **full_envelope(recipients=[REMOTE]))
    assert outcome(r) == ("reject", "554 5.7.1 Relay access denied", "relay-denied")
    assert can_relay(d, FOREIGN, "", SENDER, REMOTE) == (False, "relay-denied", "554 5.7.1 Relay access denied")
    # the submission port needs authentication before anything else
    r = explain(d, **full_envelope(Endpoint="submission"))
    assert outcome(r) == ("reject", "530 5.7.0 Authentication required", "auth-required")
    assert r["Recipients"] == [] and decided(r) == [("mail", "auth-required")]


def test_discard(explain_daemon):
    d = explain_daemon
    d.add_rule("sink", "black", "recipient", ALICE, "discard")
    r = explain(d, **full_envelope())
    assert outcome(r) == ("discard", "250 2.1.5 Ok", "blacklist:sink")
    assert decided(r) == [("rcpt " + ALICE, "blacklist")]
    # CanRelay reports what the client sees: 250
    assert can_relay(d, FOREIGN, "", SENDER, ALICE) == (True, "blacklist:sink", "250 2.1.5 Ok")


def test_can_relay_with_a_blacklisted_ip(explain_daemon):
    d = explain_daemon
    d.add_rule("bad-host", "black", "ip", FOREIGN, "reject")
    assert can_relay(d, FOREIGN, "", SENDER, ALICE) == (False, "blacklist:bad-host", "554 5.7.1 Access denied")
    assert can_relay(d, "::ffff:" + FOREIGN, "", SENDER, ALICE)[1] == "blacklist:bad-host"
    assert can_relay(d, "127.0.0.67", "", SENDER, ALICE) == (True, "local-account", "250 2.1.5 Ok")


def test_without_recipients_the_last_stage_answers(explain_daemon):
    d = explain_daemon
    hostname = d.general()["Hostname"]
    r = explain(d, ClientAddress=FOREIGN)
    assert outcome(r) == ("accept", "220 %s ESMTP Relais" % hostname, "")
    assert {s for (s, _c, _a, _d) in r["Steps"]} == {"connect"} and decided(r) == []
    r = explain(d, ClientAddress=FOREIGN, Helo=CLIENT_HELO, Sender="")
    assert outcome(r) == ("accept", "250 2.1.0 Ok", "")
    d.update_security(RejectNonFqdnHelo=True)
    r = explain(d, ClientAddress=FOREIGN, Helo="localhost", Sender=SENDER, Recipients=[ALICE])
    assert outcome(r) == ("reject", "504 5.5.2 Helo command rejected: need fully-qualified hostname",
                          "policy:non-fqdn-helo")
    assert r["Recipients"] == [] and decided(r) == [("helo", "non-fqdn-helo")]


# ---------------------------------------------------------------- DNS-based checks

@needs_dns
def test_unknown_helo(explain_daemon):
    d = explain_daemon
    d.update_security(RejectUnknownHelo=True)
    for helo in ("good.client.test", "mxonly.test"):
        r = explain(d, ClientAddress=FOREIGN, Helo=helo, Sender=SENDER, Recipients=[ALICE])
        assert outcome(r) == ("accept", "250 2.1.5 Ok", "local-account"), helo
        assert ("helo", "unknown-helo", "'%s': found" % helo, False) in r["Steps"]
    for helo in ("nohost.test", "noaddr.test"):
        r = explain(d, ClientAddress=FOREIGN, Helo=helo, Sender=SENDER, Recipients=[ALICE])
        assert outcome(r) == ("defer", "450 4.7.1 Helo command rejected: Host not found",
                              "policy:unknown-helo"), helo
        assert decided(r) == [("helo", "unknown-helo")] and r["Recipients"] == []
    r = explain(d, ClientAddress=FOREIGN, Helo="nohost.test", Sender=SENDER)
    assert ("helo", "unknown-helo", "'nohost.test': not found (NXDOMAIN)", True) in r["Steps"]
    r = explain(d, ClientAddress=FOREIGN, Helo="noaddr.test", Sender=SENDER)
    assert ("helo", "unknown-helo", "'noaddr.test': no records", True) in r["Steps"]
    r = explain(d, ClientAddress=FOREIGN, Helo="broken.test", Sender=SENDER)
    assert outcome(r) == ("defer", "450 4.7.1 Helo command rejected: temporary DNS failure, try again later",
                          "policy:unknown-helo")
    # the name is judged at MAIL FROM: the EHLO alone is answered 250
    r = explain(d, ClientAddress=FOREIGN, Helo="nohost.test")
    assert outcome(r) == ("accept", "250 " + d.general()["Hostname"], "")
    assert [s for (s, _c, _a, _d) in r["Steps"]] == ["connect"] * 3
    # and an authenticated client is spared
    r = explain(d, ClientAddress=FOREIGN, Helo="nohost.test", Login="alice", Sender=SENDER, Recipients=[REMOTE])
    assert outcome(r) == ("accept", "250 2.1.5 Ok", "authenticated")


@needs_dns
def test_unknown_client_hostname(explain_daemon):
    d = explain_daemon
    d.update_security(RejectUnknownClientHostname=True)
    cases = {
        "127.0.0.61": ("accept", "250 2.1.5 Ok", "local-account"),
        "127.0.0.62": ("defer", "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.62]",
                       "policy:unknown-client-hostname"),
        "127.0.0.63": ("reject", "550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.63]",
                       "policy:unknown-client-hostname"),
        "127.0.0.64": ("defer", "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.64]",
                       "policy:unknown-client-hostname"),
    }
    for client, expected in cases.items():
        r = explain(d, **full_envelope(client=client))
        assert outcome(r) == expected, (client, r)
        if expected[0] != "accept":
            assert decided(r) == [("mail", "unknown-client-hostname")], r["Steps"]
    # an IP whitelist rule skips the check
    d.add_rule("known", "white", "ip", "127.0.0.63")
    r = explain(d, **full_envelope(client="127.0.0.63"))
    assert r["Decision"] == "accept"
    assert ("mail", "unknown-client-hostname", "skipped: whitelist rule 'known'", False) in r["Steps"]


@needs_dns
def test_unknown_sender_domain(explain_daemon):
    d = explain_daemon
    d.update_security(RejectUnknownSenderDomain=True)
    # checked only when a recipient is not a local account: relay as alice
    r = explain(d, **full_envelope(sender="x@nohost.test", recipients=[ALICE, REMOTE], Login="alice"))
    assert outcome(r) == ("reject", "550 5.1.8 Sender address rejected: Domain not found",
                          "policy:unknown-sender-domain")
    assert r["Recipients"][0] == (ALICE, "accept", "local-account", "250 2.1.5 Ok")
    assert decided(r) == [("rcpt " + ALICE, "recipient"), ("rcpt " + REMOTE, "unknown-sender-domain")]
    r = explain(d, **full_envelope(sender="x@broken.test", recipients=[REMOTE], Login="alice"))
    assert outcome(r) == ("defer", "450 4.1.8 Sender address rejected: temporary DNS failure, try again later",
                          "policy:unknown-sender-domain")
    r = explain(d, **full_envelope(sender="x@mxonly.test", recipients=[REMOTE], Login="alice"))
    assert outcome(r) == ("accept", "250 2.1.5 Ok", "authenticated")
    assert can_relay(d, FOREIGN, "alice", "x@nohost.test", REMOTE) == \
        (False, "policy:unknown-sender-domain", "550 5.1.8 Sender address rejected: Domain not found")


# ---------------------------------------------------------------- bad envelopes

@pytest.mark.parametrize("envelope,key", [
    ({}, "ClientAddress"),
    ({"ClientAddress": S("not-an-ip")}, "ClientAddress"),
    ({"ClientAddress": S("192.0.2.0/24")}, "ClientAddress"),
    ({"ClientAddress": GLib.Variant("u", 7)}, "ClientAddress"),
    ({"ClientAddress": S(FOREIGN), "Bogus": S("x")}, "Bogus"),
    ({"ClientAddress": S(FOREIGN), "Helo": S("two words")}, "Helo"),
    ({"ClientAddress": S(FOREIGN), "Helo": S("")}, "Helo"),
    ({"ClientAddress": S(FOREIGN), "Login": S("mallory")}, "Login"),
    ({"ClientAddress": S(FOREIGN), "Endpoint": S("pop3")}, "Endpoint"),
    ({"ClientAddress": S(FOREIGN), "Sender": S("not an address")}, "Sender"),
    ({"ClientAddress": S(FOREIGN), "Sender": S("a@b.example> SIZE=1")}, "Sender"),
    ({"ClientAddress": S(FOREIGN), "Sender": GLib.Variant("as", [SENDER])}, "Sender"),
    ({"ClientAddress": S(FOREIGN), "Recipients": GLib.Variant("as", [ALICE])}, "Recipients"),
    ({"ClientAddress": S(FOREIGN), "Sender": S(SENDER), "Recipients": S(ALICE)}, "Recipients"),
    ({"ClientAddress": S(FOREIGN), "Sender": S(SENDER), "Recipients": GLib.Variant("as", [ALICE, "bob@"])},
     "Recipients[1]"),
])
def test_invalid_envelope(explain_daemon, envelope, key):
    e = explain_error(explain_daemon, envelope)
    assert e.name == ERR + "InvalidArgument", e
    assert e.message.startswith(key + ": "), e.message


# ---------------------------------------------------------------- nothing counted

def test_explain_counts_nothing(explain_daemon):
    d = explain_daemon
    d.add_rule("spammers", "black", "sender", "spam@bad.example", "reject")
    d.update_security(LimitConnectionRate=True, MaxConnectionsPerMinute=2,
                    LimitMessageRate=True, MaxMessagesPerMinute=1)
    stats = d.stats()
    for _ in range(5):
        r = explain(d, **full_envelope(sender="spam@bad.example"))
        assert r["DecidedBy"] == "blacklist:spammers"
        # the counters as the next connection would see them: this one only
        answers = {c: a for (_s, c, a, _d) in r["Steps"]}
        assert answers["connection-rate"] == "1 this minute, limit 2"
        assert answers["message-rate"] == "1 this minute, limit 1"
    for _ in range(3):
        assert can_relay(d, FOREIGN, "", "spam@bad.example", ALICE)[1] == "blacklist:spammers"
    after = d.stats()
    assert after["RuleHits"] == stats["RuleHits"] == {}
    for key in ("Rejected", "RejectedByReason", "Connections", "MessagesReceived"):
        assert after[key] == stats[key], key
    # a real client from that address is within its limits: nothing was counted
    with RawSMTP(d.host, d.port, source=FOREIGN) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % ALICE).code == 250
    # and now Explain sees that connection and that message
    r = explain(d, **full_envelope())
    answers = {c: a for (_s, c, a, _d) in r["Steps"]}
    assert answers["connection-rate"] == "2 this minute, limit 2"
    assert outcome(r) == ("defer", "450 4.7.0 Message rate limit exceeded", "limit:message-rate")


# ---------------------------------------------------------------- blocks

def next_local_midnight(now, tz):
    local = datetime.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(tz))
    day = local.date() + datetime.timedelta(days=1)
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=zoneinfo.ZoneInfo(tz)).timestamp())


@pytest.fixture
def block_daemon(request, tmp_path, system_bus, polkit_mock):
    """relaisd on the system-like bus with polkit, a fixed clock and TZ."""
    clock = tmp_path / "clock"
    clock.write_text("%d\n" % NOW)
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    d = make_daemon(request, tmp_path, system_bus.address, session=False, submission=False, smtps=False,
                    extra_env={"RELAIS_TEST_CLOCK_FILE": str(clock), "TZ": TZ})
    d.start()
    d.dbus().call(IFACE_ACCOUNTS, "AddLocalDomain", "(sb)", (TEST_DOMAIN, False))
    d.update_security(BlockNonexistentRecipients=True, MaxNonexistentRecipients=2)
    set_allowed(polkit_mock, [])
    clear_calls(polkit_mock)
    return d


def smtp_from(daemon, source):
    return RawSMTP(daemon.host, daemon.port, source=source)


def list_blocked(daemon):
    return daemon.dbus().call(IFACE_SECURITY, "ListBlocked")[0]


def unblock(daemon, address):
    return daemon.dbus().call(IFACE_SECURITY, "Unblock", "(sb)", (address, False))


def test_block_list_and_unblock(block_daemon, polkit_mock):
    d = block_daemon
    assert list_blocked(d) == []
    with smtp_from(d, BLOCKED) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<nobody1@%s>" % TEST_DOMAIN).code == 550
        assert c.cmd("RCPT TO:<nobody2@%s>" % TEST_DOMAIN).code == 550
        # Explain sees the count as the next 550 would: it would block
        r = d.dbus().call(IFACE_POLICY, "Explain", "(a{sv})",
                          ({"ClientAddress": S(BLOCKED), "Sender": S(SENDER),
                            "Recipients": GLib.Variant("as", ["nobody3@" + TEST_DOMAIN, "x@" + TEST_DOMAIN])},))[0]
        assert r["Decision"] == "close" and r["DecidedBy"] == "policy:nonexistent-block", r
        assert r["Reply"].startswith("421 4.7.0 ")
        assert len(r["Recipients"]) == 1, "nothing after a close"
        assert decided(r) == [("rcpt nobody3@" + TEST_DOMAIN, "nonexistent-block")]
        reply = c.cmd("RCPT TO:<nobody3@%s>" % TEST_DOMAIN)
        assert reply.code == 421 and reply.text.startswith("4.7.0 "), reply
        assert c.closed_by_peer()

    midnight = next_local_midnight(NOW, TZ)
    assert midnight - NOW == 9 * 3600    # 15:00 in Paris
    assert list_blocked(d) == [(BLOCKED, midnight)]
    assert checked_actions(polkit_mock) == [], "ListBlocked is a read"
    with smtp_from(d, BLOCKED) as c:
        r = c.reply()
        assert r.code == 421 and r.text.startswith("4.7.0 "), r
    r = d.dbus().call(IFACE_POLICY, "Explain", "(a{sv})", ({"ClientAddress": S(BLOCKED)},))[0]
    assert (r["Decision"], r["DecidedBy"]) == ("close", "policy:nonexistent-block")
    assert can_relay(d, BLOCKED, "", SENDER, "x@" + TEST_DOMAIN)[:2] == (False, "policy:nonexistent-block")

    # Unblock needs configure
    with pytest.raises(DBusCallError) as e:
        unblock(d, BLOCKED)
    assert e.value.name == ERR + "PermissionDenied"
    assert checked_actions(polkit_mock) == [ACTION_CONFIGURE]
    assert list_blocked(d) == [(BLOCKED, midnight)]

    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    with pytest.raises(DBusCallError) as e:
        unblock(d, "not-an-address")
    assert e.value.name == ERR + "InvalidArgument" and "not-an-address" in e.value.message
    unblock(d, "::ffff:" + BLOCKED)      # the same address
    assert list_blocked(d) == []
    with pytest.raises(DBusCallError) as e:
        unblock(d, BLOCKED)
    assert e.value.name == ERR + "NotFound" and e.value.message == "address: %s is not blocked" % BLOCKED
    with smtp_from(d, BLOCKED) as c:
        assert c.reply().code == 220
        c.ehlo()
        # the day's count was cleared with the block
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<nobody1@%s>" % TEST_DOMAIN).code == 550
    with open(d.log_path, errors="replace") as f:
        assert "Security.Unblock(%s)" % BLOCKED in f.read()
