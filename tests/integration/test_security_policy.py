# SPDX-License-Identifier: GPL-3.0-or-later
"""SPEC §4.1, §4.3, §4.4 and §4.5 over real SMTP, one test per row: the real
relaisd, clients from several loopback addresses, dnsmasq answering PTR, A
and MX (tests/dns/test.conf: good.client.test = 127.0.0.61 with its PTR,
127.0.0.62 -> liar.client.test (not confirmed), 127.0.0.63 without PTR
(NXDOMAIN), 127.0.0.64 PTR lookup fails (SERVFAIL), broken.test fails,
nohost.test does not exist, noaddr.test has no A/MX). Rate limits and the
midnight block run on a test clock: the daemon reads "now" from the file
RELAIS_TEST_CLOCK_FILE names (only the policy counters do)."""

import calendar
import time

import pytest

import relais_helpers as H
from relais_helpers import (
    IFACE_STATS, SENDER, TEST_DOMAIN, RawSMTP, make_message,
    wait_for,
)

IFACE_SECURITY = "org.relais.Relais1.Security"
IFACE_RELAY_CONTROL = "org.relais.Relais1.RelayControl"
ACCESS_DENIED = "5.7.1 Access denied"
ALICE = "alice@" + TEST_DOMAIN
BOB = "bob@" + TEST_DOMAIN
# 2026-11-29 23:58:30 in Paris (UTC+1): local midnight comes 90 s later,
# an hour before UTC midnight.
CLOCK_START = calendar.timegm((2026, 11, 29, 22, 58, 30, 0, 0, 0))


@pytest.fixture
def clock(tmp_path):
    return H.SettableClock(str(tmp_path / "clock"), CLOCK_START)


@pytest.fixture
def daemon(request, tmp_path, session_bus, clock):
    d = H.make_daemon(request, tmp_path, session_bus.address,
                      extra_env={"RELAIS_TEST_CLOCK_FILE": clock.path, "TZ": "Europe/Paris"})
    d.start()
    d.setup_mailbox()
    d.add_account("bob")
    return d




def trust(daemon, network):
    daemon.dbus().call(IFACE_RELAY_CONTROL, "AddTrustedNetwork", "(ssb)", ("tests", network, False))


def hits(daemon):
    return dict(daemon.dbus().get(IFACE_STATS, "RuleHits"))


def wait_hits(daemon, rule, n):
    wait_for(lambda: hits(daemon).get(rule) == n, 5, "%s counted %d times" % (rule, n),
             details=lambda: str(hits(daemon)))


def connect(daemon, source="127.0.0.1", helo="client.example.net"):
    c = RawSMTP(daemon.host, daemon.port, source=source)
    c.greeting()
    if helo:
        c.ehlo(helo)
    return c


def assert_reply(r, code, text):
    assert r.code == code and r.text == text, r


def send(daemon, source="127.0.0.1", sender=SENDER, recipients=(ALICE,), subject="policy"):
    """One whole transaction; returns the replies to RCPT (in order) and to the
    end of data (None when no recipient was accepted)."""
    with connect(daemon, source) as c:
        r = c.cmd("MAIL FROM:<%s>" % sender)
        assert r.code == 250, r
        rcpt = [c.cmd("RCPT TO:<%s>" % rcpt) for rcpt in recipients]
        if not any(r.code == 250 for r in rcpt):
            return rcpt, None
        assert c.cmd("DATA").code == 354
        c.send(make_message(subject, to=recipients[0], sender=sender) + b".\r\n")
        return rcpt, c.reply()


# ---- §4.1 black and white lists ---------------------------------------------

@pytest.mark.parametrize("typ,value,source", [
    ("ip", "127.0.0.70", "127.0.0.70"),
    ("subnet", "127.0.1.0/24", "127.0.1.9"),
    ("subnet", "127.0.2.0/255.255.255.0", "127.0.2.9"),
])
def test_blacklisted_client_is_denied(daemon, typ, value, source):
    daemon.add_rule("bad-client", "black", typ, value, "reject")
    rcpt, _ = send(daemon, source=source)
    assert_reply(rcpt[0], 554, ACCESS_DENIED)
    rcpt, end = send(daemon, source="127.0.0.1")
    assert rcpt[0].code == 250 and end.code == 250
    wait_hits(daemon, "blacklist:bad-client", 1)
    assert daemon.stats()["RejectedByReason"]["blacklist"] == 1


def test_blacklisted_sender_is_denied(daemon):
    daemon.add_rule("spammer", "black", "sender", "spam@bad.example", "reject")
    rcpt, _ = send(daemon, sender="spam@BAD.example")
    assert_reply(rcpt[0], 554, ACCESS_DENIED)
    wait_hits(daemon, "blacklist:spammer", 1)


def test_blacklisted_recipient_is_denied_alone(daemon):
    daemon.add_rule("no-bob", "black", "recipient", BOB, "reject")
    rcpt, end = send(daemon, recipients=(BOB, ALICE))
    assert_reply(rcpt[0], 554, ACCESS_DENIED)
    assert rcpt[1].code == 250 and end.code == 250
    daemon.wait_messages(1, "alice")
    assert daemon.messages("bob") == []


def test_discarded_message_is_accepted_never_delivered_and_counted(daemon):
    daemon.add_rule("drop", "black", "sender", "drop@bad.example", "discard")
    rcpt, end = send(daemon, sender="drop@bad.example", recipients=(ALICE, BOB))
    assert [r.code for r in rcpt] == [250, 250]
    assert end.code == 250 and end.text.startswith("2.0.0 Ok: queued as "), end
    wait_for(lambda: daemon.stats()["Discarded"] == 1, 5, "Discarded = 1")
    wait_hits(daemon, "blacklist:drop", 2)      # once per recipient
    # A message sent after it arrives, the discarded one never does.
    send(daemon, subject="after")
    daemon.wait_messages(1, "alice")
    time.sleep(0.5)
    assert len(daemon.messages("alice")) == 1 and daemon.messages("bob") == []
    assert daemon.stats()["Rejected"] == 0


def test_discarded_recipient_leaves_the_others(daemon):
    daemon.add_rule("drop-bob", "black", "recipient", BOB, "discard")
    rcpt, end = send(daemon, recipients=(BOB, ALICE))
    assert [r.code for r in rcpt] == [250, 250] and end.code == 250
    daemon.wait_messages(1, "alice")
    time.sleep(0.3)
    assert daemon.messages("bob") == []
    wait_for(lambda: daemon.stats()["Discarded"] == 1, 5, "Discarded = 1")


@pytest.mark.parametrize("typ,value,source,sender,recipient", [
    ("ip", "127.0.0.71", "127.0.0.71", SENDER, ALICE),
    ("subnet", "127.0.3.0/24", "127.0.3.4", SENDER, ALICE),
    ("sender", "friend@partner.example", "127.0.0.1", "friend@partner.example", ALICE),
    ("recipient", ALICE, "127.0.0.1", SENDER, ALICE),
    ("domain", "partner.example", "127.0.0.1", "anyone@Partner.example", ALICE),
])
def test_whitelist_overrides_the_blacklist(daemon, typ, value, source, sender, recipient):
    daemon.add_rule("everyone-out", "black", "subnet", "127.0.0.0/8", "reject")
    daemon.add_rule("friend", "white", typ, value)
    rcpt, end = send(daemon, source=source, sender=sender, recipients=(recipient,))
    assert rcpt[0].code == 250 and end.code == 250
    daemon.wait_messages(1, "alice")
    wait_hits(daemon, "whitelist:friend", 1)
    # without the whitelist match, the blacklist holds
    rcpt, _ = send(daemon, source="127.0.0.99", sender="other@elsewhere.example", recipients=(BOB,))
    assert_reply(rcpt[0], 554, ACCESS_DENIED)


def test_no_whitelist_skips_relay_control(daemon):
    daemon.add_rule("friend", "white", "ip", "127.0.0.71")
    rcpt, _ = send(daemon, source="127.0.0.71", recipients=("someone@direct.test",))
    assert rcpt[0].code in (454, 554) and rcpt[0].text.endswith("Relay access denied"), rcpt[0]
    wait_hits(daemon, "relay-denied", 1)
    assert hits(daemon).get("whitelist:friend") is None


def test_ip_whitelist_skips_sender_helo_and_client_checks(daemon):
    daemon.update_security(RejectNonFqdnHelo=True, RejectUnknownHelo=True, RejectUnknownClientHostname=True)
    daemon.add_rule("friend", "white", "ip", "127.0.0.63")        # no PTR at all
    with connect(daemon, source="127.0.0.63", helo="nohost.test") as c:
        assert c.cmd("MAIL FROM:<root@localhost>").code == 250
        assert c.cmd("RCPT TO:<%s>" % ALICE).code == 250
    # a subnet rule is not an IP rule: the checks apply
    daemon.add_rule("lan", "white", "subnet", "127.0.4.0/24")
    with connect(daemon, source="127.0.4.4", helo="nohost.test") as c:
        assert_reply(c.cmd("MAIL FROM:<%s>" % SENDER), 450, "4.7.1 Helo command rejected: Host not found")


# ---- §4.3 sender policy -------------------------------------------------------

def test_non_fqdn_sender(daemon):
    with connect(daemon) as c:
        assert_reply(c.cmd("MAIL FROM:<root@localhost>"), 504,
                     "5.5.2 Sender address rejected: need fully-qualified address")
        assert c.cmd("MAIL FROM:<>").code == 250
    wait_hits(daemon, "policy:non-fqdn-sender", 1)
    daemon.update_security(RejectNonFqdnSender=False)
    with connect(daemon) as c:
        assert c.cmd("MAIL FROM:<root@localhost>").code == 250


@pytest.mark.parametrize("sender,code,text", [
    ("x@nohost.test", 550, "5.1.8 Sender address rejected: Domain not found"),
    ("x@noaddr.test", 550, "5.1.8 Sender address rejected: Domain not found"),
    ("x@broken.test", 450, "4.1.8 Sender address rejected: temporary DNS failure, try again later"),
])
def test_unknown_sender_domain(daemon, sender, code, text):
    daemon.update_security(RejectUnknownSenderDomain=True)
    trust(daemon, "127.0.0.0/8")
    with connect(daemon) as c:
        assert c.cmd("MAIL FROM:<%s>" % sender).code == 250
        # a local recipient: the sender's domain is not checked
        assert c.cmd("RCPT TO:<%s>" % ALICE).code == 250
        assert_reply(c.cmd("RCPT TO:<someone@direct.test>"), code, text)
    with connect(daemon) as c:
        assert c.cmd("MAIL FROM:<x@implicit.test>").code == 250
        assert c.cmd("RCPT TO:<someone@direct.test>").code == 250
        assert c.cmd("RSET").code == 250


def test_unknown_sender_domain_is_off_by_default(daemon):
    trust(daemon, "127.0.0.0/8")
    with connect(daemon) as c:
        assert c.cmd("MAIL FROM:<x@nohost.test>").code == 250
        assert c.cmd("RCPT TO:<someone@direct.test>").code == 250


# ---- §4.4 connection policy ---------------------------------------------------

@pytest.mark.parametrize("source,code,enhanced", [
    ("127.0.0.62", 450, "4.7.25"),      # the PTR name does not resolve back
    ("127.0.0.63", 550, "5.7.25"),      # no PTR: NXDOMAIN
    ("127.0.0.64", 450, "4.7.25"),      # the PTR lookup fails
])
def test_unknown_client_hostname(daemon, source, code, enhanced):
    daemon.update_security(RejectUnknownClientHostname=True)
    with connect(daemon, source=source) as c:
        assert_reply(c.cmd("MAIL FROM:<%s>" % SENDER, timeout=30), code,
                     "%s Client host rejected: cannot find your hostname, [%s]" % (enhanced, source))
    with connect(daemon, source="127.0.0.61") as c:
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    wait_hits(daemon, "policy:unknown-client-hostname", 1)


def test_concurrent_connections(daemon):
    daemon.update_security(MaxConnections=2)
    a = connect(daemon, source="127.0.0.72", helo=None)
    b = connect(daemon, source="127.0.0.72", helo=None)
    with RawSMTP(daemon.host, daemon.port, source="127.0.0.72") as c:
        assert_reply(c.reply(), 421, "4.7.0 Too many connections")
        assert c.closed_by_peer()
    # other addresses are not affected
    connect(daemon, source="127.0.0.73", helo=None).close()
    a.cmd("QUIT")
    a.close()
    wait_for(lambda: daemon.stats()["SessionsOpen"] <= 1, 5, "the first session to end")
    with RawSMTP(daemon.host, daemon.port, source="127.0.0.72") as c:
        assert c.reply().code == 220
    b.close()
    wait_hits(daemon, "limit:connections", 1)


def test_concurrent_connections_unlimited_when_off(daemon):
    daemon.update_security(LimitConnections=False, MaxConnections=1)
    a = connect(daemon, source="127.0.0.72", helo=None)
    b = connect(daemon, source="127.0.0.72", helo=None)
    a.close()
    b.close()


def test_message_rate_until_the_next_minute(daemon, clock):
    daemon.update_security(LimitMessageRate=True, MaxMessagesPerMinute=2)
    with connect(daemon, source="127.0.0.74") as c:
        for _ in range(2):
            assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
            assert c.cmd("RSET").code == 250
        assert_reply(c.cmd("MAIL FROM:<%s>" % SENDER), 450, "4.7.0 Message rate limit exceeded")
        # held off for the rest of the minute, whatever it tries
        clock.advance(20)     # 23:58:50
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 450
        clock.advance(10)     # 23:59:00: a new minute
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    wait_hits(daemon, "limit:message-rate", 2)


def test_connection_rate_until_the_next_minute(daemon, clock):
    daemon.update_security(LimitConnectionRate=True, MaxConnectionsPerMinute=2)
    for _ in range(2):
        connect(daemon, source="127.0.0.75", helo=None).close()
    with RawSMTP(daemon.host, daemon.port, source="127.0.0.75") as c:
        assert_reply(c.reply(), 421, "4.7.0 Connection rate limit exceeded")
    clock.advance(29)         # 23:58:59, same minute
    with RawSMTP(daemon.host, daemon.port, source="127.0.0.75") as c:
        assert c.reply().code == 421
    clock.advance(1)          # 23:59:00
    connect(daemon, source="127.0.0.75", helo=None).close()
    wait_hits(daemon, "limit:connection-rate", 2)


# ---- §4.5 advanced ------------------------------------------------------------

# The HELO name is judged at MAIL FROM, once the server knows whether the
# client authenticated (as Postfix's delayed rejection does).
def test_non_fqdn_helo(daemon):
    daemon.update_security(RejectNonFqdnHelo=True)
    with connect(daemon, helo="localhost") as c:
        assert_reply(c.cmd("MAIL FROM:<%s>" % SENDER), 504,
                     "5.5.2 Helo command rejected: need fully-qualified hostname")
        assert c.cmd("EHLO [127.0.0.1]").code == 250
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RSET").code == 250
        assert c.cmd("HELO client.example.net").code == 250
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
    wait_hits(daemon, "policy:non-fqdn-helo", 1)


def test_host_checks_spare_trusted_networks(daemon):
    daemon.update_security(RejectNonFqdnHelo=True, RejectUnknownHelo=True, RejectUnknownClientHostname=True)
    trust(daemon, "127.0.0.63/32")          # no PTR, and says EHLO laptop
    with connect(daemon, source="127.0.0.63", helo="laptop") as c:
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % ALICE).code == 250


@pytest.mark.parametrize("name,code,text", [
    ("nohost.test", 450, "4.7.1 Helo command rejected: Host not found"),
    ("noaddr.test", 450, "4.7.1 Helo command rejected: Host not found"),
    ("broken.test", 450, "4.7.1 Helo command rejected: temporary DNS failure, try again later"),
    ("good.client.test", 250, None),
    ("mxonly.test", 250, None),
])
def test_unknown_helo(daemon, name, code, text):
    daemon.update_security(RejectUnknownHelo=True)
    with connect(daemon, helo=name) as c:
        r = c.cmd("MAIL FROM:<%s>" % SENDER, timeout=30)
        assert r.code == code, r
        if text:
            assert r.text == text, r


def test_nonexistent_account_block_until_local_midnight(daemon, clock):
    daemon.update_security(BlockNonexistentRecipients=True, MaxNonexistentRecipients=2)
    with connect(daemon, source="127.0.0.76") as c:
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        for who in ("nobody1", "nobody2"):
            assert c.cmd("RCPT TO:<%s@%s>" % (who, TEST_DOMAIN)).code == 550
        assert_reply(c.cmd("RCPT TO:<nobody3@%s>" % TEST_DOMAIN), 421,
                     "4.7.0 Too many nonexistent recipients; blocked until midnight")
        assert c.closed_by_peer()
    with RawSMTP(daemon.host, daemon.port, source="127.0.0.76") as c:
        r = c.reply()
        assert r.code == 421 and r.text.startswith("4.7.0"), r
    # others are not blocked
    connect(daemon, source="127.0.0.77").close()
    clock.set(CLOCK_START + 89)     # 23:59:59 Paris: still blocked
    with RawSMTP(daemon.host, daemon.port, source="127.0.0.76") as c:
        assert c.reply().code == 421
    clock.set(CLOCK_START + 90)     # 00:00:00 Paris (23:00 UTC): the block is over
    with connect(daemon, source="127.0.0.76") as c:
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % ALICE).code == 250
    wait_hits(daemon, "policy:nonexistent-block", 3)   # the 421 at RCPT, then two refused connections


def test_nonexistent_account_block_is_off_by_default(daemon):
    with connect(daemon, source="127.0.0.78") as c:
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        for i in range(25):
            assert c.cmd("RCPT TO:<nobody%d@%s>" % (i, TEST_DOMAIN)).code == 550
