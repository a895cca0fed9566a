# SPDX-License-Identifier: GPL-3.0-or-later
"""The SMTP DSN extension (RFC 3461) end to end, and the outbound half of
"disable auto-forwarding": the real relaisd, smtplib and a raw client. A local
recipient is made to fail after acceptance the way a real one can: its Maildir
path is blocked (temporary failure), then, with the daemon stopped, its queue
row loses its mailbox (the account is gone) and is made due at once."""

import os
import re
import smtplib
import sqlite3

from relais_helpers import (
    CLIENT_HELO, TEST_DOMAIN, RawSMTP, make_message, split_message, wait_for,
)

BOB = "bob@" + TEST_DOMAIN       # the sender, a local account: the DSN lands in its Maildir
CAROL = "carol@" + TEST_DOMAIN   # the recipient that fails


def raw(daemon):
    c = RawSMTP(daemon.host, daemon.port)
    c.greeting()
    return c


def log_text(daemon):
    with open(daemon.log_path, "r", errors="replace") as f:
        return f.read()


def send(daemon, rcpt, mail_options=(), rcpt_options=(), subject=None, extra_headers=()):
    msg = make_message(subject=subject, to=rcpt, sender=BOB, extra_headers=extra_headers)
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=10) as s:
        s.ehlo()
        assert s.has_extn("dsn"), s.esmtp_features
        s.mail(BOB, list(mail_options))
        code, text = s.rcpt(rcpt, list(rcpt_options))
        assert code == 250, (code, text)
        code, text = s.data(msg)
        assert code == 250, (code, text)
        return text.decode().split()[-1]   # "Ok: queued as ID"


def fail_carol_later(daemon, queue_id):
    """Carol's delivery defers (Maildir path blocked); then her row loses its
    mailbox and is retried at the next start: 5.1.1, for good."""
    wait_for(lambda: re.search(r"^relais-Message: .*: %s: to=<%s>, .* status=deferred \(" % (queue_id, CAROL),
                               log_text(daemon), re.M), 15,
             "the first delivery attempt to be deferred")
    daemon.stop()
    db = sqlite3.connect(os.path.join(daemon.state_dir, "relais.db"))
    with db:
        n = db.execute("UPDATE recipients SET mailbox = NULL, next_attempt = 0 "
                       "WHERE message_id = ? AND address = ?", (queue_id, CAROL)).rowcount
    db.close()
    assert n == 1
    daemon.start()


def prepare_failing_carol(daemon):
    daemon.setup_mailbox("bob")
    daemon.add_account("carol")
    os.makedirs(os.path.join(daemon.state_dir, "mail"), exist_ok=True)
    with open(os.path.join(daemon.state_dir, "mail", "carol"), "w") as f:
        f.write("not a directory\n")


def test_ehlo_advertises_dsn_and_checks_parameters(daemon, mailbox):
    with raw(daemon) as c:
        r = c.ehlo()
        assert "DSN" in r.lines, r
        assert c.cmd("MAIL FROM:<%s> RET=FULL RET=HDRS" % BOB).text == "5.5.4 Duplicate RET parameter"
        r = c.cmd("MAIL FROM:<%s> RET=BODY" % BOB)
        assert (r.code, r.text) == (501, "5.5.4 Bad RET parameter: expected FULL or HDRS"), r
        r = c.cmd("MAIL FROM:<%s> ENVID=%s" % (BOB, "x" * 101))
        assert (r.code, r.text) == (501, "5.5.4 Bad ENVID parameter: 1 to 100 characters of xtext"), r
        assert c.cmd("MAIL FROM:<%s> RET=HDRS ENVID=abc+2Bdef" % BOB).code == 250
        r = c.cmd("RCPT TO:<%s> NOTIFY=NEVER,SUCCESS" % mailbox)
        assert (r.code, r.text) == (
            501, "5.5.4 Bad NOTIFY parameter: NEVER cannot be combined with other keywords"), r
        r = c.cmd("RCPT TO:<%s> NOTIFY=FAILURE NOTIFY=DELAY" % mailbox)
        assert (r.code, r.text) == (501, "5.5.4 Duplicate NOTIFY parameter"), r
        r = c.cmd("RCPT TO:<%s> ORCPT=rfc822;a+zz" % mailbox)
        assert (r.code, r.text) == (501, "5.5.4 Bad ORCPT parameter: the address is not valid xtext"), r
        r = c.cmd("RCPT TO:<%s> RET=FULL" % mailbox)
        assert (r.code, r.text) == (555, "5.5.4 Unsupported RCPT parameter"), r
        assert c.cmd("RCPT TO:<%s> NOTIFY=success,failure ORCPT=rfc822;%s" % (mailbox, mailbox)).code == 250
    # Not after HELO: DSN was never advertised there.
    with raw(daemon) as c:
        assert c.cmd("HELO %s" % CLIENT_HELO).code == 250
        r = c.cmd("MAIL FROM:<%s> RET=FULL" % BOB)
        assert (r.code, r.text) == (555, "5.5.4 Unsupported MAIL parameter: DSN parameters need EHLO"), r
        assert c.cmd("MAIL FROM:<%s>" % BOB).code == 250
        r = c.cmd("RCPT TO:<%s> NOTIFY=NEVER" % mailbox)
        assert (r.code, r.text) == (555, "5.5.4 Unsupported RCPT parameter: DSN parameters need EHLO"), r


def test_failure_dsn_has_envid_orcpt_and_full_message(daemon):
    prepare_failing_carol(daemon)
    queue_id = send(daemon, CAROL, mail_options=("RET=FULL", "ENVID=QQ314159+2Bx"),
                    rcpt_options=("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Carol+2Btag@relais.test"),
                    subject="the failing one")
    fail_carol_later(daemon, queue_id)
    dsn = daemon.wait_messages(1, "bob", timeout=20)[0]
    headers, body = split_message(dsn)
    h = dict(headers)
    assert h["Return-Path"] == "<>"
    assert h["Subject"] == "Undelivered Mail Returned to Sender"
    assert h["Content-Type"].startswith("multipart/report; report-type=delivery-status")
    text = body.decode("utf-8", "replace")
    assert "\nOriginal-Envelope-Id: QQ314159+x\n" in text, text
    assert ("\nFinal-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;Carol+tag@relais.test\n"
            "Action: failed\nStatus: 5.1.1\n" % CAROL) in text, text
    # RET=FULL: the whole message comes back, body included.
    assert "Content-Type: message/rfc822\n" in text, text
    assert "Subject: the failing one\n" in text and "\nHello.\n" in text, text
    wait_for(lambda: "%s: removed from the queue" % queue_id in log_text(daemon), 10,
             "the original to leave the queue")


def test_notify_never_sends_no_dsn(daemon):
    prepare_failing_carol(daemon)
    queue_id = send(daemon, CAROL, rcpt_options=("NOTIFY=NEVER",))
    fail_carol_later(daemon, queue_id)
    wait_for(lambda: "%s: removed from the queue" % queue_id in log_text(daemon), 20,
             "the failed message to leave the queue")
    log = log_text(daemon)
    assert re.search(r": %s: to=<%s>, relay=local, .* dsn=5\.1\.1, status=bounced \(5\.1\.1 " % (queue_id, CAROL),
                     log), log
    assert "%s: no failure notification for <%s>: the sender asked NOTIFY=NEVER" % (queue_id, CAROL) in log
    assert daemon.messages("bob") == []


def test_notify_success_sends_delivered_dsn(daemon, mailbox):
    daemon.add_account("bob")
    queue_id = send(daemon, mailbox, mail_options=("ENVID=success-1",),
                    rcpt_options=("NOTIFY=SUCCESS",), subject="delivered one")
    assert len(daemon.wait_messages(1, "alice")) == 1
    dsn = daemon.wait_messages(1, "bob")[0]
    headers, body = split_message(dsn)
    h = dict(headers)
    assert h["Subject"] == "Successful Mail Delivery Report"
    assert h["Return-Path"] == "<>"
    text = body.decode("utf-8", "replace")
    assert "\nOriginal-Envelope-Id: success-1\n" in text, text
    assert "\nFinal-Recipient: rfc822; %s\nAction: delivered\nStatus: 2.0.0\n" % mailbox in text, text
    # Success reports carry the headers only.
    assert "Content-Type: text/rfc822-headers\n" in text and "Subject: delivered one\n" in text
    assert "\nHello.\n" not in text
    wait_for(lambda: "%s: removed from the queue" % queue_id in log_text(daemon), 10,
             "the message to leave the queue")
