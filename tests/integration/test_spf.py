# SPDX-License-Identifier: GPL-3.0-or-later
"""SPF (RFC 7208, SPEC §4.2) over real SMTP: the real relaisd asking dnsmasq
(tests/dns/test.conf: spf-pass.test lets 127.0.0.0/8 send, spf-fail.test
does not, spf-soft.test ends in ~all, spf-exp.test explains its fail,
spf-temp.test fails temporarily). A fail is 550 5.7.23 at RCPT, a temperror
451 4.7.24; everything else is delivered with a Received-SPF header above our
Received; the null sender is checked on its HELO name; every whitelist type
skips it, each for what it matches; authenticated clients are exempt; the
answers are counted and shown by Policy.Explain."""

import os
import smtplib

import pytest

import relais_helpers as H
from relais_helpers import IFACE_STATS, TEST_DOMAIN, RawSMTP, wait_for

IFACE_POLICY = "org.relais.Relais1.Policy"
ALICE = "alice@" + TEST_DOMAIN
BOB = "bob@" + TEST_DOMAIN

pytestmark = pytest.mark.skipif(os.environ.get("RELAIS_TEST_NET") != "1",
                                reason="needs build-aux/with-test-net --dnsmasq (the test DNS zone)")


@pytest.fixture
def daemon(request, tmp_path, session_bus):
    d = H.make_daemon(request, tmp_path, session_bus.address)
    d.start()
    d.setup_mailbox()
    d.add_account("bob")
    d.update_security(Spf=True)
    return d




def rcpt(daemon, sender, recipient=ALICE, helo="client.example.net"):
    with RawSMTP(daemon.host, daemon.port) as c:
        assert c.greeting().code == 220
        c.ehlo(helo)
        r = c.cmd("MAIL FROM:<%s>" % sender)
        assert r.code == 250, r
        return c.cmd("RCPT TO:<%s>" % recipient, timeout=30)


def send(daemon, sender, recipients=(ALICE,)):
    with smtplib.SMTP(daemon.host, daemon.port, timeout=30) as s:
        s.ehlo("client.example.net")
        refused = s.sendmail(sender, list(recipients), H.make_message(sender=sender, to=recipients[0]))
        assert refused == {}, refused


def test_fail_and_temperror_use_spec_codes(daemon):
    r = rcpt(daemon, "someone@spf-fail.test")
    assert (r.code, r.text) == (550, "5.7.23 SPF: spf-fail.test does not designate [127.0.0.1] as a "
                                     "permitted sender"), r
    r = rcpt(daemon, "someone@spf-exp.test")
    assert (r.code, r.text) == (550, "5.7.23 SPF: 127.0.0.1 may not send mail for spf-exp.test"), r
    r = rcpt(daemon, "someone@spf-temp.test")
    assert r.code == 451 and r.text.startswith("4.7.24 SPF: temporary error checking spf-temp.test"), r
    results = lambda: daemon.dbus().get(IFACE_STATS, "CheckResults")  # noqa: E731
    wait_for(lambda: results() == {"spf:fail": 2, "spf:temperror": 1}, 20,
             "two SPF fails and a temperror counted", details=lambda: str(results()))
    stats = daemon.dbus().get_all(IFACE_STATS)
    assert stats["RuleHits"].get("spf:fail") == 2 and stats["RuleHits"].get("spf:temperror") == 1
    assert stats["RejectedByReason"].get("spf") == 3


def test_pass_and_softfail_delivered_with_received_spf(daemon):
    send(daemon, "someone@spf-pass.test")
    send(daemon, "someone@spf-soft.test")
    # deliveries may end in any order: by envelope sender
    msgs = sorted(daemon.wait_messages(2), key=lambda raw: H.header_values(raw, "Return-Path")[0])
    for raw, result, domain in ((msgs[0], "pass", "spf-pass.test"), (msgs[1], "softfail", "spf-soft.test")):
        headers, _ = H.split_message(raw)
        names = [n.lower() for (n, _v) in headers]
        # RFC 7208 §9.1: above the Received field we add (local delivery adds
        # Return-Path and Delivered-To above both)
        assert names[:4] == ["return-path", "delivered-to", "received-spf", "received"], names
        value = headers[2][1]
        assert value.startswith(result + " "), value
        assert "client-ip=127.0.0.1;" in value and "envelope-from=\"someone@%s\"" % domain in value or \
            "envelope-from=someone@%s" % domain in value, value
        assert "helo=client.example.net;" in value and "identity=mailfrom" in value, value


def test_null_sender_checks_the_helo_name(daemon):
    r = rcpt(daemon, "", helo="spf-fail.test")
    assert (r.code, r.text[:6]) == (550, "5.7.23"), r
    assert "spf-fail.test" in r.text
    assert rcpt(daemon, "", helo="spf-pass.test").code == 250


def test_every_whitelist_type_skips_it(daemon):
    sender = "someone@spf-fail.test"
    daemon.add_rule("by-sender", "white", "sender", sender)
    assert rcpt(daemon, sender).code == 250
    assert rcpt(daemon, "other@spf-fail.test").code == 550
    daemon.add_rule("by-domain", "white", "domain", "spf-fail.test")
    assert rcpt(daemon, "other@spf-fail.test").code == 250
    assert rcpt(daemon, "other@spf-exp.test").code == 550
    # a recipient rule skips it for that recipient only
    daemon.add_rule("for-bob", "white", "recipient", BOB)
    assert rcpt(daemon, "other@spf-exp.test", recipient=BOB).code == 250
    assert rcpt(daemon, "other@spf-exp.test", recipient=ALICE).code == 550
    daemon.add_rule("loopback", "white", "subnet", "127.0.0.0/8")
    assert rcpt(daemon, "other@spf-exp.test").code == 250
    daemon.remove_rule("loopback")
    daemon.add_rule("me", "white", "ip", "127.0.0.1")
    assert rcpt(daemon, "other@spf-exp.test").code == 250
    # a message of a whitelisted sender gets no Received-SPF (the check was skipped)
    send(daemon, sender)
    raw = daemon.wait_messages(1)[0]
    assert H.header_values(raw, "Received-SPF") == []


def test_authenticated_client_is_exempt(daemon):
    daemon.update(SmtpAuthentication=True)
    ctx = H.no_verify_context()
    with smtplib.SMTP(daemon.host, daemon.port, timeout=30) as s:
        s.ehlo("client.example.net")
        s.starttls(context=ctx)
        s.login(H.TEST_LOGIN, H.TEST_PASSWORD)
        assert s.sendmail("alice@spf-fail.test", [BOB], H.make_message(sender="alice@spf-fail.test")) == {}


def test_explain_shows_the_spf_step(daemon):
    env = {"ClientAddress": H.GLib.Variant("s", "127.0.0.1"), "Helo": H.GLib.Variant("s", "client.example.net"),
           "Sender": H.GLib.Variant("s", "x@spf-fail.test"), "Recipients": H.GLib.Variant("as", [ALICE])}
    r = daemon.dbus().call(IFACE_POLICY, "Explain", "(a{sv})", (env,), timeout_ms=30000)[0]
    steps = [(c, a, d) for (_s, c, a, d) in r["Steps"] if c == "spf"]
    assert steps == [("spf", "fail: spf-fail.test does not allow [127.0.0.1] (-all)", True)], r["Steps"]
    assert r["DecidedBy"] == "spf:fail", r
    assert "550 5.7.23" in r["Reply"], r
    daemon.update_security(Spf=False)
    r = daemon.dbus().call(IFACE_POLICY, "Explain", "(a{sv})", (env,), timeout_ms=30000)[0]
    assert [a for (_s, c, a, _d) in r["Steps"] if c == "spf"] == ["off"], r["Steps"]
