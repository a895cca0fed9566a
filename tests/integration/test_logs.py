# SPDX-License-Identifier: GPL-3.0-or-later
"""Logs an administrator can follow (README "Logs", relaisd(8) LOGGING): the
real relaisd with RELAIS_LOG_FIELDS=1, so each stderr line ends with the
record's journald fields (RELAIS_SESSION, RELAIS_QUEUE_ID, RELAIS_CLIENT,
RELAIS_RULE). A message to a local mailbox, three that leave through the MX
of direct.test (an aiosmtpd peer on mx1.direct.test, tests/dns/test.conf) and
are sent, deferred (450) and bounced (550), and a refused RCPT: the queued
line links the session to the message, the queue id leads to the delivery
line, every delivery line has the documented shape, the refusal names its
rule.

Runs inside build-aux/with-test-net --dnsmasq tests/dns/test.conf."""

import json
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

import relais_helpers as H
from smtp_peers import Peer

MX1 = "127.0.0.21"          # mx1.direct.test, the lowest MX of direct.test

# The delivery line as README "Logs" documents it.
DELIVERY_RE = re.compile(
    r"^(?P<qid>[^:\s]+): to=<(?P<to>[^>]*)>, (?:orig_to=<(?P<orig_to>[^>]*)>, )?"
    r"relay=(?P<relay>\S+), delay=(?P<delay>\d+\.\d), attempt=(?P<attempt>\d+), "
    r"(?:retry_in=(?P<retry_in>\d+), )?dsn=(?P<dsn>[245]\.\d{1,3}\.\d{1,3}), "
    r"status=(?P<status>sent|deferred|bounced) \((?P<reply>.*)\)$")

# A stderr line of GLib's writer: "relais-Message: 14:05:01.123: TEXT [FIELDS]"
LINE_RE = re.compile(r"^relais-(?P<level>[A-Za-z]+): [\d:.]+: (?P<text>.*?)(?: \[(?P<fields>RELAIS_[^\]]*)\])?$")
FIELD_RE = re.compile(r"(RELAIS_[A-Z_]+)=(.*?)(?= RELAIS_[A-Z_]+=|$)")

pytestmark = pytest.mark.skipif(os.environ.get("RELAIS_TEST_NET") != "1",
                                reason="needs build-aux/with-test-net (root, private network namespace)")


class Record:
    def __init__(self, text, fields):
        self.text, self.fields = text, fields

    def __repr__(self):
        return "<%s %r>" % (self.text, self.fields)


def records(daemon):
    """The daemon's log lines, as (text, fields)."""
    out = []
    with open(daemon.log_path, errors="replace") as f:
        for line in f:
            m = LINE_RE.match(line.rstrip("\n"))
            if m:
                out.append(Record(m.group("text"), dict(FIELD_RE.findall(m.group("fields") or ""))))
    return out


def with_field(daemon, key, value):
    return [r for r in records(daemon) if r.fields.get(key) == value]


def delivery_lines(daemon, qid):
    """The delivery lines of queue id QID, matched against DELIVERY_RE."""
    out = []
    for r in with_field(daemon, "RELAIS_QUEUE_ID", qid):
        m = DELIVERY_RE.match(r.text)
        if m and m.group("qid") == qid:
            out.append(m)
    return out


def wait_delivery(daemon, qid, to):
    return H.wait_for(lambda: [m for m in delivery_lines(daemon, qid) if m.group("to") == to], 20,
                      "the delivery line of %s to %s" % (qid, to))[0]


def send(daemon, to, sender=H.SENDER):
    """Sends one message to TO; returns its queue id."""
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=H.CLIENT_HELO, timeout=15) as s:
        s.ehlo()
        assert s.mail(sender)[0] == 250
        code, text = s.rcpt(to)
        assert code == 250, (code, text)
        code, text = s.data(H.make_message(to=to, sender=sender))
        assert code == 250, (code, text)
        return text.decode().split()[-1]   # "2.0.0 Ok: queued as ID"


@pytest.fixture
def peer():
    p = Peer(MX1, rcpt_replies={
        "later@direct.test": "450 4.2.1 Mailbox busy, come back later",
        "gone@direct.test": "550 5.1.1 <gone@direct.test>: No such user here",
    }).start()
    yield p
    p.stop()


@pytest.fixture
def daemon(request, tmp_path, session_bus, peer):
    """relaisd with RELAIS_LOG_FIELDS=1: alice is a mailbox; ok, busy and
    nobody forward to direct.test (sent, deferred, bounced)."""
    d = H.make_daemon(request, tmp_path, session_bus.address, extra_env={"RELAIS_LOG_FIELDS": "1"})
    d.start()
    d.setup_mailbox()
    d.add_account("ok", forwards=["bob@direct.test"])
    d.add_account("busy", forwards=["later@direct.test"])
    d.add_account("nobody", forwards=["gone@direct.test"])
    return d


def test_a_local_message_is_followed_from_connect_to_delivery(daemon):
    qid = send(daemon, "alice@relais.test")
    line = wait_delivery(daemon, qid, "alice@relais.test")

    # The queued line carries both ids: it links the session to the message.
    queued = [r for r in with_field(daemon, "RELAIS_QUEUE_ID", qid) if " queued %s: " % qid in r.text]
    assert len(queued) == 1, records(daemon)
    session = queued[0].fields["RELAIS_SESSION"]
    assert queued[0].text.startswith("%s: queued %s: from=<%s>" % (session, qid, H.SENDER))
    assert queued[0].fields["RELAIS_CLIENT"] == "127.0.0.1"

    # The session id gives its connect, MAIL and RCPT lines, all with the client.
    texts = [r.text for r in with_field(daemon, "RELAIS_SESSION", session)]
    assert any(t.startswith("%s: connect from 127.0.0.1" % session) for t in texts), texts
    assert "%s: from=<%s>" % (session, H.SENDER) in texts, texts
    assert any(t.startswith("%s: to=<alice@relais.test>" % session) for t in texts), texts
    assert all(r.fields.get("RELAIS_CLIENT") == "127.0.0.1" for r in with_field(daemon, "RELAIS_SESSION", session))

    # The queue id gives the delivery line.
    assert line.group("relay") == "local"
    assert (line.group("status"), line.group("dsn"), line.group("attempt")) == ("sent", "2.0.0", "1")
    assert line.group("orig_to") is None and line.group("retry_in") is None
    assert line.group("reply") == "2.0.0 Delivered to mailbox alice"
    assert 0.0 <= float(line.group("delay")) < 20.0
    assert daemon.wait_messages(1)


def test_remote_deliveries_sent_deferred_and_bounced(daemon, peer):
    sent = send(daemon, "ok@relais.test")
    deferred = send(daemon, "busy@relais.test")
    bounced = send(daemon, "nobody@relais.test")
    relay = "mx1.direct.test[%s]:25" % MX1

    line = wait_delivery(daemon, sent, "bob@direct.test")
    assert (line.group("status"), line.group("dsn"), line.group("relay")) == ("sent", "2.0.0", relay)
    assert line.group("orig_to") == "ok@relais.test"
    assert line.group("reply").startswith("250 2.0.0"), line.group(0)
    assert peer.wait_received(1)[0].rcpt_tos == ["bob@direct.test"]

    line = wait_delivery(daemon, deferred, "later@direct.test")
    assert (line.group("status"), line.group("dsn"), line.group("relay")) == ("deferred", "4.2.1", relay)
    assert line.group("reply") == "450 4.2.1 Mailbox busy, come back later"
    assert line.group("attempt") == "1" and int(line.group("retry_in")) > 0

    line = wait_delivery(daemon, bounced, "gone@direct.test")
    assert (line.group("status"), line.group("dsn"), line.group("relay")) == ("bounced", "5.1.1", relay)
    assert line.group("reply") == "550 5.1.1 <gone@direct.test>: No such user here"
    assert line.group("orig_to") == "nobody@relais.test"

    # The SMTP client's own lines about a message carry its queue id too.
    assert any("%s[%s]:25: message sent" % ("mx1.direct.test", MX1) in r.text
               for r in with_field(daemon, "RELAIS_QUEUE_ID", sent)), with_field(daemon, "RELAIS_QUEUE_ID", sent)


def test_a_refused_rcpt_names_its_rule(daemon):
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=H.CLIENT_HELO, timeout=15) as s:
        s.ehlo()
        assert s.mail(H.SENDER)[0] == 250
        code, text = s.rcpt("stranger@direct.test")
    # loopback is a local network, but SkipAuthForLocalNetworks is off: no relaying
    assert code == 454, (code, text)

    def refusal():
        return [r for r in records(daemon) if "reject RCPT from" in r.text]
    line = H.wait_for(refusal, 20, "the refusal line")[0]
    session = line.fields["RELAIS_SESSION"]
    assert line.text == ("%s: reject RCPT from unknown[127.0.0.1]: 454 %s; from=<%s> to=<stranger@direct.test> "
                         "helo=<%s> reason=relay-denied rule=relay-denied"
                         % (session, text.decode(), H.SENDER, H.CLIENT_HELO)), line
    assert line.fields["RELAIS_RULE"] == "relay-denied"
    assert line.fields["RELAIS_CLIENT"] == "127.0.0.1"
    assert "RELAIS_QUEUE_ID" not in line.fields


def test_a_discard_names_its_rule(daemon):
    daemon.add_rule("droppers", "black", "sender", "drop@bad.example", "discard")
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=H.CLIENT_HELO, timeout=15) as s:
        s.ehlo()
        assert s.mail("drop@bad.example")[0] == 250
        assert s.rcpt("alice@relais.test")[0] == 250   # the client cannot tell

    def discard():
        return [r for r in records(daemon) if "discard to=<alice@relais.test>" in r.text]
    line = H.wait_for(discard, 20, "the discard line")[0]
    assert line.text.endswith(" rule=blacklist:droppers"), line
    assert line.fields["RELAIS_RULE"] == "blacklist:droppers"
    assert line.fields["RELAIS_CLIENT"] == "127.0.0.1"


# ---- the real journal ---------------------------------------------------------

JOURNALD = "/lib/systemd/systemd-journald"


@pytest.fixture
def journal():
    """A systemd-journald of the test's own: the test runs in a private mount
    namespace (with-test-net), where tmpfs over /run/systemd and /run/log
    hide the host's journal, if any. Returns journalctl for that journal:
    journal(*MATCHES, identifier="relaisd") -> [entry dict]."""
    if os.geteuid() != 0:
        pytest.skip("mounting a private /run/systemd needs root")
    for tool in (JOURNALD, "journalctl", "systemd-cat"):
        if shutil.which(tool) is None:
            pytest.skip("%s is not installed" % tool)
    mounted = []
    for d in ("/run/systemd", "/run/log"):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", d], check=True)
        mounted.append(d)
    os.makedirs("/run/systemd/journal")
    proc = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        H.wait_for(lambda: os.path.exists("/run/systemd/journal/stdout") and
                   os.path.exists("/run/systemd/journal/socket"), 20, "systemd-journald's sockets")

        def query(*matches, identifier="relaisd"):
            p = subprocess.run(["journalctl", "--no-pager", "-o", "json", "SYSLOG_IDENTIFIER=" + identifier,
                                *matches],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stderr
            return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        yield query
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        for d in reversed(mounted):
            subprocess.run(["umount", "-l", d], check=False)


def test_journalctl_follows_a_message_by_its_queue_id(request, tmp_path, session_bus, journal):
    """relaisd's stderr is a journal stream (as under systemd): GLib sends each
    record with its fields to journald, and journalctl finds them."""
    # as a service runs it: no G_MESSAGES_DEBUG (the helper's default is all)
    d = H.make_daemon(request, tmp_path, session_bus.address, extra_env={"G_MESSAGES_DEBUG": ""})
    d.launcher = ["systemd-cat", "--identifier=relaisd-stderr"]
    d.start()
    d.setup_mailbox()
    qid = send(d, "alice@relais.test")
    assert d.wait_messages(1)

    def delivered():
        return [e for e in journal("RELAIS_QUEUE_ID=" + qid) if DELIVERY_RE.match(e["MESSAGE"])]
    line = H.wait_for(delivered, 20, "the delivery line in the journal")[0]
    assert DELIVERY_RE.match(line["MESSAGE"]).group("status") == "sent"
    assert line["PRIORITY"] == "5"                      # g_message: notice

    # the queued entry links the message to its session ...
    entries = journal("RELAIS_QUEUE_ID=" + qid)
    queued = [e for e in entries if " queued %s: " % qid in e["MESSAGE"]]
    assert len(queued) == 1, entries
    session = queued[0]["RELAIS_SESSION"]
    assert queued[0]["RELAIS_CLIENT"] == "127.0.0.1"
    assert queued[0]["GLIB_DOMAIN"] == "relais"
    assert int(queued[0]["_PID"]) == d.proc.pid

    # ... whose entries run from connect to the queued line: the info ones
    # (from=, to=) too, the debug ones (the state machine) not
    session_entries = journal("RELAIS_SESSION=" + session)
    texts = [e["MESSAGE"] for e in session_entries]
    assert texts[0].startswith("%s: connect from 127.0.0.1" % session), texts
    assert "%s: from=<%s>" % (session, H.SENDER) in texts
    assert "%s: to=<alice@relais.test> rule=local-account" % session in texts
    assert any(t.startswith("%s: queued %s" % (session, qid)) for t in texts), texts
    assert {e["PRIORITY"] for e in session_entries} <= {"5", "6"}, texts
    assert not [t for t in texts if " state " in t], texts

    # a refusal is found by its rule
    with smtplib.SMTP(d.host, d.port, local_hostname=H.CLIENT_HELO, timeout=15) as s:
        s.ehlo()
        s.mail(H.SENDER)
        assert s.rcpt("stranger@direct.test")[0] == 454
    refusals = H.wait_for(lambda: journal("RELAIS_RULE=relay-denied"), 20, "the refusal in the journal")
    assert "reject RCPT from unknown[127.0.0.1]: 454" in refusals[0]["MESSAGE"], refusals
    # the records came through the journal's native protocol, with their
    # fields, and not again as plain text on the stderr stream
    assert {e["_TRANSPORT"] for e in entries} == {"journal"}
    assert not [e for e in journal(identifier="relaisd-stderr") if qid in e["MESSAGE"]]

