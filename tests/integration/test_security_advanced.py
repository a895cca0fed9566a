# SPDX-License-Identifier: GPL-3.0-or-later
"""SPEC §4.5 Advanced, over real SMTP connections: unauthorized pipelining
(before the greeting, several commands without PIPELINING, content before
354) and the junk command limit with its delay."""

import signal
import time

from relais_helpers import (
    IFACE_STATS, SENDER, TEST_DOMAIN, RawSMTP, guess_variant, make_message, wait_for,
)

IFACE_SECURITY = "org.relais.Relais1.Security"
PIPELINING_REPLY = "5.5.0 Improper use of SMTP command pipelining"


def security_update(daemon, **changes):
    d = {k: guess_variant(v) for k, v in changes.items()}
    daemon.dbus().call(IFACE_SECURITY, "Update", "(a{sv}b)", (d, False))


def rule_hits(daemon):
    return dict(daemon.dbus().get(IFACE_STATS, "RuleHits"))


def assert_pipelining_refused(c):
    r = c.reply()
    assert r.code == 554 and r.text == PIPELINING_REPLY, r
    assert c.closed_by_peer(), "the server must close after 554 5.5.0"


def test_data_before_greeting_is_refused(daemon, mailbox):
    # Stop the daemon so the client's bytes are surely there before the
    # greeting: the kernel completes the TCP handshake on its own.
    daemon.proc.send_signal(signal.SIGSTOP)
    try:
        c = RawSMTP(daemon.host, daemon.port)
        c.send("EHLO early.example.net\r\n")
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    with c:
        assert_pipelining_refused(c)
    wait_for(lambda: rule_hits(daemon).get("policy:unauthorized-pipelining") == 1, 5,
             "the pipelining hit counter")
    stats = daemon.stats()
    assert stats["RejectedByReason"]["unauthorized-pipelining"] == 1


def test_commands_in_one_go_after_helo_are_refused(daemon, mailbox):
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        assert c.cmd("HELO client.example.net").code == 250
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<alice@%s>\r\n" % (SENDER, TEST_DOMAIN))
        assert_pipelining_refused(c)


def test_pipelined_ehlo_is_refused(daemon, mailbox):
    # The client has not seen the EHLO reply yet, so not PIPELINING either.
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        c.send("EHLO client.example.net\r\nMAIL FROM:<%s>\r\n" % SENDER)
        assert_pipelining_refused(c)


def test_pipelining_after_ehlo_is_fine(daemon, mailbox):
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        c.ehlo()
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<alice@%s>\r\nDATA\r\n" % (SENDER, TEST_DOMAIN))
        assert c.reply().code == 250
        assert c.reply().code == 250
        assert c.reply().code == 354
        c.send(make_message("pipelined") + b".\r\nQUIT\r\n")
        assert c.reply().code == 250
        assert c.reply().code == 221
    daemon.wait_messages(1, "alice")


def test_content_before_354_is_refused(daemon, mailbox):
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        c.ehlo()
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<alice@%s>\r\n" % (SENDER, TEST_DOMAIN))
        assert c.reply().code == 250
        assert c.reply().code == 250
        c.send(b"DATA\r\n" + make_message("too early") + b".\r\n")
        assert_pipelining_refused(c)
    time.sleep(0.3)
    assert daemon.messages("alice") == []


def test_pipelining_check_can_be_turned_off(daemon, mailbox):
    security_update(daemon, RejectUnauthorizedPipelining=False)
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        c.send("HELO client.example.net\r\nMAIL FROM:<%s>\r\n" % SENDER)
        assert c.reply().code == 250
        assert c.reply().code == 250


def test_junk_commands_delay_then_close(daemon, mailbox):
    security_update(daemon, MaxJunkCommands=12)
    with RawSMTP(daemon.host, daemon.port, timeout=20) as c:
        c.greeting()
        c.ehlo()
        for i in range(9):
            assert c.cmd("NOOP").code == 250
        # The 10th junk command's reply is held back one second.
        start = time.monotonic()
        assert c.cmd("FOO bar").code == 500
        assert time.monotonic() - start >= 0.9
        assert c.cmd("VRFY someone").code == 252
        assert c.cmd("RSET").code == 250
        r = c.cmd("NOOP")
        assert r.code == 421 and r.text == "4.7.0 Too many junk commands", r
        assert c.closed_by_peer()
    wait_for(lambda: rule_hits(daemon).get("policy:junk-commands") == 1, 5, "the junk hit counter")


def test_junk_count_restarts_after_an_accepted_message(daemon, mailbox):
    security_update(daemon, MaxJunkCommands=5)
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        c.ehlo()
        for i in range(5):
            assert c.cmd("NOOP").code == 250
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<alice@%s>" % TEST_DOMAIN).code == 250
        assert c.cmd("DATA").code == 354
        c.send(make_message("resets the junk count") + b".\r\n")
        assert c.reply().code == 250
        for i in range(5):
            assert c.cmd("NOOP").code == 250
        assert c.cmd("NOOP").code == 421


def test_rule_hits_reset_only_on_request(daemon, mailbox):
    for _ in range(2):
        with RawSMTP(daemon.host, daemon.port) as c:
            c.greeting()
            c.send("HELO a.example.net\r\nNOOP\r\n")
            assert_pipelining_refused(c)
    wait_for(lambda: rule_hits(daemon).get("policy:unauthorized-pipelining") == 2, 5,
             "two pipelining hits")
    rejected = daemon.stats()["Rejected"]
    daemon.dbus().call(IFACE_STATS, "ResetRuleHits", "(b)", (False,))
    wait_for(lambda: rule_hits(daemon) == {}, 5, "the hit counters back to zero")
    # The other counters are not touched.
    assert daemon.stats()["Rejected"] == rejected
