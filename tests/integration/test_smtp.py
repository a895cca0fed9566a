# SPDX-License-Identifier: GPL-3.0-or-later
"""SMTP sessions against the real relaisd: smtplib, swaks and a raw socket."""

import email.utils
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import uuid

import pytest

from relais_helpers import (
    CLIENT_HELO, SENDER, TEST_DOMAIN, RawSMTP, header_values, make_message,
    no_verify_context, require_tool, shrink_peer_send_buffer, split_message,
)


def smtp(daemon, port=None):
    return smtplib.SMTP(daemon.host, port or daemon.port, local_hostname=CLIENT_HELO, timeout=15)


def raw(daemon, port=None):
    c = RawSMTP(daemon.host, port or daemon.port)
    c.greeting()
    return c


def check_trace_headers(msg, hostname, rcpt, sender=SENDER):
    """Return-Path, Delivered-To and our Received header were added, above the
    message's own headers."""
    headers, _ = split_message(msg)
    names = [n.lower() for (n, _) in headers]
    assert header_values(msg, "Return-Path") == ["<%s>" % sender], headers
    assert rcpt in " ".join(header_values(msg, "Delivered-To")), headers
    received = header_values(msg, "Received")
    assert received, "no Received header: %r" % headers
    assert hostname in received[0], "first Received does not name %s: %r" % (hostname, received[0])
    # RFC 5322 date-time after the last ';' (RFC 5321 §4.4), about now
    stamp = email.utils.parsedate_to_datetime(received[0].rsplit(";", 1)[1].strip())
    assert stamp.tzinfo is not None, received[0]
    skew = abs(stamp.timestamp() - time.time())
    assert skew < 300, "Received date %s is %d s off" % (stamp, skew)
    assert names.index("received") < names.index("subject")
    assert b"\r\n" not in msg, "Maildir files must have LF line ends"


# ---------------------------------------------------------------- delivery

def test_smtplib_plain_delivery(daemon, mailbox):
    hostname = daemon.general()["Hostname"]
    subject = "plain " + uuid.uuid4().hex
    body = ("first line\n"
            ".a line starting with a dot\n"
            "..two dots\n"
            "last line\n")
    with smtp(daemon) as s:
        code, _ = s.ehlo()
        assert code == 250
        refused = s.sendmail(SENDER, [mailbox], make_message(subject, body, to=mailbox))
        assert refused == {}
    (msg,) = daemon.wait_messages(1)
    assert header_values(msg, "Subject") == [subject]
    check_trace_headers(msg, hostname, mailbox)
    _, stored_body = split_message(msg)
    assert stored_body == body.encode(), stored_body


def test_swaks_delivery(daemon, mailbox):
    require_tool("swaks")
    subject = "swaks " + uuid.uuid4().hex
    p = subprocess.run(["swaks", "--server", daemon.host, "--port", str(daemon.port),
                        "--helo", CLIENT_HELO, "--from", SENDER, "--to", mailbox,
                        "--header", "Subject: " + subject, "--body", "Body via swaks\n.dot line\n"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    (msg,) = daemon.wait_messages(1)
    assert header_values(msg, "Subject") == [subject]
    check_trace_headers(msg, daemon.general()["Hostname"], mailbox)
    _, body = split_message(msg)
    assert b"Body via swaks\n.dot line\n" in body


def test_ehlo_extensions(daemon):
    with raw(daemon) as c:
        r = c.ehlo()
        keywords = {l.split()[0].upper(): l for l in r.lines[1:]}
        for kw in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS", "CHUNKING",
                   "SMTPUTF8", "SIZE"):
            assert kw in keywords, "EHLO does not advertise %s: %r" % (kw, r.lines)
        assert keywords["SIZE"].split()[1] == str(10 * 1048576)


def test_greeting(daemon):
    g = daemon.general()
    with RawSMTP(daemon.host, daemon.port) as c:
        r = c.greeting()
    assert r.lines[-1] == "%s %s" % (g["Hostname"], g["Banner"]) or \
        r.lines[0] == "%s %s" % (g["Hostname"], g["Banner"]), r


# ---------------------------------------------------------------- TLS

def test_starttls_smtplib(daemon, mailbox):
    subject = "tls " + uuid.uuid4().hex
    with smtp(daemon) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=no_verify_context())
        assert code == 220
        assert isinstance(s.sock, ssl.SSLSocket)
        code, _ = s.ehlo()
        assert code == 250
        assert not s.has_extn("starttls"), "STARTTLS advertised again inside TLS"
        s.sendmail(SENDER, [mailbox], make_message(subject, "over TLS\n", to=mailbox))
    (msg,) = daemon.wait_messages(1)
    assert header_values(msg, "Subject") == [subject]


def _cert_names(der):
    """(subject CN list, SAN DNS list) of a DER certificate, via openssl x509."""
    require_tool("openssl")
    pem = ssl.DER_cert_to_PEM_cert(der)
    p = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName",
                        "-nameopt", "multiline"],
                       input=pem, capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    cns, sans = [], []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("commonName"):
            cns.append(line.split("=", 1)[1].strip())
        for part in line.split(","):
            part = part.strip()
            if part.startswith("DNS:"):
                sans.append(part[4:])
    return cns, sans


def test_tls_certificate_names_hostname(daemon):
    hostname = daemon.general()["Hostname"]
    with smtp(daemon) as s:
        s.ehlo()
        s.starttls(context=no_verify_context())
        der = s.sock.getpeercert(binary_form=True)
    cns, sans = _cert_names(der)
    assert hostname in cns or hostname in sans, \
        "certificate names CN=%r SAN=%r, Hostname is %r" % (cns, sans, hostname)
    if sans:
        assert hostname in sans, "Hostname %r missing from SAN %r" % (hostname, sans)


def test_swaks_tls(daemon, mailbox):
    require_tool("swaks")
    subject = "swaks-tls " + uuid.uuid4().hex
    p = subprocess.run(["swaks", "--server", daemon.host, "--port", str(daemon.port),
                        "--helo", CLIENT_HELO, "--tls", "--from", SENDER, "--to", mailbox,
                        "--header", "Subject: " + subject],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "TLS started" in p.stdout + p.stderr, p.stdout
    (msg,) = daemon.wait_messages(1)
    assert header_values(msg, "Subject") == [subject]


def test_plaintext_injection_after_starttls_is_discarded(daemon):
    with raw(daemon) as c:
        c.ehlo()
        c.send("STARTTLS\r\nNOOP\r\n")
        r = c.reply()
        assert r.code == 220, r
        # nothing may follow the 220 in plaintext (that would be the NOOP's answer)
        assert c.pending(0.3) == b"", "server answered the injected command in plaintext"
        c.starttls()
        c.send("EHLO " + CLIENT_HELO + "\r\n")
        first = c.reply()
        assert first.code == 250 and len(first.lines) > 1 and \
            any(l.upper().startswith("8BITMIME") for l in first.lines), \
            "first reply inside TLS is not the EHLO reply (injected NOOP answered?): %r" % first
        r = c.cmd("NOOP")
        assert r.code == 250, r
        assert c.pending(0.3) == b"", "extra replies inside TLS: %r" % c.buf


def test_implicit_tls_port_greets(daemon):
    g = daemon.general()
    s = smtplib.SMTP_SSL(daemon.host, daemon.smtps_port, local_hostname=CLIENT_HELO,
                         timeout=15, context=no_verify_context())
    try:
        code, _ = s.ehlo()
        assert code == 250
        assert g["Hostname"] in s.ehlo_resp.decode()
        assert not s.has_extn("starttls")
        assert s.noop()[0] == 250
    finally:
        s.close()


def test_submission_requires_auth(daemon, mailbox):
    with raw(daemon, daemon.submission_port) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<%s>" % SENDER)
        assert r.code == 530 and r.lines[0].startswith("5.7.0"), r


# ---------------------------------------------------------------- pipelining, BDAT

def test_pipelined_batch_replies_in_order(daemon, mailbox):
    subject = "pipelined " + uuid.uuid4().hex
    with raw(daemon) as c:
        c.ehlo()
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<nobody@%s>\r\nDATA\r\n"
               % (SENDER, mailbox, TEST_DOMAIN))
        codes = [c.reply() for _ in range(4)]
        assert [r.code for r in codes] == [250, 250, 550, 354], codes
        assert codes[2].lines[0].startswith("5.1.1"), codes[2]
        c.send(make_message(subject, "pipelined body\n", to=mailbox) + b".\r\n")
        r = c.reply()
        assert r.code == 250, r
        assert c.cmd("QUIT").code == 221
    (msg,) = daemon.wait_messages(1)
    assert header_values(msg, "Subject") == [subject]


def test_replies_wait_for_a_client_that_reads_late(daemon, mailbox):
    # More pipelined commands than the sockets' buffers hold replies for,
    # from a client that only starts reading a second later: the session's
    # writes wait for room (in the poller), then every reply arrives, in
    # order, and the session goes on.
    n = 5000
    c = RawSMTP(daemon.host, daemon.port, rcvbuf=4096)
    with c:
        c.greeting()
        shrink_peer_send_buffer(daemon.proc.pid, c.sock, 4096)
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        sender = threading.Thread(target=c.send, args=(("RCPT TO:<%s>\r\n" % mailbox) * n,))
        sender.start()
        time.sleep(1)
        data = b""
        deadline = time.monotonic() + 60
        while data.count(b"\r\n") < n and time.monotonic() < deadline:
            data += c.sock.recv(65536)
        sender.join()
        codes = [line[:4] for line in data.split(b"\r\n")[:n]]
        accepted = codes.count(b"250 ")
        assert accepted > 0 and codes == [b"250 "] * accepted + [b"452 "] * (n - accepted), set(codes)
        assert c.cmd("RSET").code == 250
        assert c.cmd("QUIT").code == 221


def test_bdat_two_chunks(daemon, mailbox):
    subject = "bdat " + uuid.uuid4().hex
    message = make_message(subject, "chunk body line 1\n.dot stays\nline 3\n", to=mailbox)
    a, b = message[:37], message[37:]
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        c.send(b"BDAT %d\r\n" % len(a) + a)
        r = c.reply()
        assert r.code == 250, r
        c.send(b"BDAT %d LAST\r\n" % len(b) + b)
        r = c.reply()
        assert r.code == 250, r
        assert c.cmd("NOOP").code == 250
    (msg,) = daemon.wait_messages(1)
    assert header_values(msg, "Subject") == [subject]
    _, body = split_message(msg)
    assert body == b"chunk body line 1\n.dot stays\nline 3\n"


def test_bdat_large_message(daemon, mailbox):
    subject = "bdat-large " + uuid.uuid4().hex
    line = ("0123456789" * 7) + "\n"
    body = line * 45000                      # ~3.2 MB
    message = make_message(subject, body, to=mailbox)
    chunk = 1000000
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s> SIZE=%d" % (SENDER, len(message))).code == 250
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        pos = 0
        while pos < len(message):
            part = message[pos:pos + chunk]
            pos += len(part)
            last = b" LAST" if pos >= len(message) else b""
            c.send(b"BDAT %d%s\r\n" % (len(part), last) + part)
            r = c.reply(timeout=30)
            assert r.code == 250, r
    (msg,) = daemon.wait_messages(1, timeout=30)
    _, stored = split_message(msg)
    assert stored == body.encode()


# ---------------------------------------------------------------- syntax and protocol errors

def test_long_command_line(daemon):
    with raw(daemon) as c:
        c.ehlo()
        r = c.cmd("NOOP " + "x" * 600)
        assert r.code == 500 and r.lines[0].startswith("5.5.2"), r
        r = c.cmd("NOOP")
        assert r.code == 250, "session did not go on after the long line: %r" % r


def test_nul_in_command(daemon):
    with raw(daemon) as c:
        c.ehlo()
        c.send(b"NOOP\x00junk\r\n")
        r = c.reply()
        assert r.code in (500, 501), r
        r = c.cmd("NOOP")
        assert r.code == 250, r


def test_bare_lf_dot_does_not_end_data(daemon, mailbox):
    subject = "barelf " + uuid.uuid4().hex
    msg = make_message(subject, "before\n", to=mailbox)
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        assert c.cmd("DATA").code == 354
        c.send(msg + b"middle\n.\nRSET\r\nafter the bare dot\r\n.\r\n")
        r = c.reply()
        assert r.code == 250, r
        assert c.pending(0.3) == b"", "more than one reply: the bare LF dot ended DATA: %r" % c.buf
        assert c.cmd("NOOP").code == 250
    (stored,) = daemon.wait_messages(1)
    assert b"after the bare dot" in stored
    assert header_values(stored, "Subject") == [subject]
    time.sleep(0.2)
    assert len(daemon.messages()) == 1


@pytest.mark.parametrize("command,code", [
    ("VRFY alice", 252),
    ("HELP", 214),
    ("FROBNICATE now", 500),
])
def test_simple_commands(daemon, command, code):
    with raw(daemon) as c:
        c.ehlo()
        r = c.cmd(command)
        assert r.code == code, r
        assert c.cmd("NOOP").code == 250


def test_rcpt_before_mail(daemon, mailbox):
    with raw(daemon) as c:
        c.ehlo()
        r = c.cmd("RCPT TO:<%s>" % mailbox)
        assert r.code == 503, r
        assert r.lines[0].startswith("5.5.1"), r


def test_data_without_rcpt(daemon, mailbox):
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        assert c.cmd("NOOP").code == 250


def test_unknown_local_user(daemon, mailbox):
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        r = c.cmd("RCPT TO:<nosuchuser@%s>" % TEST_DOMAIN)
        assert r.code == 550 and r.lines[0].startswith("5.1.1"), r


def test_relay_denied(daemon, mailbox):
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        r = c.cmd("RCPT TO:<someone@elsewhere.example.org>")
        # SPEC §3: 454 while the client could still authenticate (STARTTLS, then
        # AUTH); 554 when AUTH is off (test_auth.py)
        assert r.code == 454 and r.lines[0].startswith("4.7.1"), r
        assert "relay access denied" in r.text.lower(), r


def test_idle_timeout(daemon):
    daemon.update(IdleTimeout=5)
    assert daemon.general()["IdleTimeout"] == 5
    with raw(daemon) as c:
        t0 = time.monotonic()
        r = c.reply(timeout=15)
        waited = time.monotonic() - t0
        assert r.code == 421 and r.lines[0].startswith("4.4.2"), r
        assert 3.5 <= waited <= 12, "421 after %.1fs with IdleTimeout 5" % waited
        assert c.closed_by_peer(5), "connection not closed after 421"


def test_8bit_and_smtputf8(daemon, mailbox):
    subject = "Grüße " + uuid.uuid4().hex
    sender = "josé@example.net"
    body = "Ça marche: naïve façade, 日本語\n"
    msg = make_message(subject, body, to=mailbox, sender=sender)
    with smtp(daemon) as s:
        s.ehlo()
        assert s.has_extn("smtputf8") and s.has_extn("8bitmime")
        s.sendmail(sender, [mailbox], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    (stored,) = daemon.wait_messages(1)
    assert subject.encode() in stored
    assert body.encode() in stored
    assert header_values(stored, "Return-Path") == ["<%s>" % sender]
