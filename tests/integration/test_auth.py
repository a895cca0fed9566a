# SPDX-License-Identifier: GPL-3.0-or-later
"""SMTP AUTH (RFC 4954, PLAIN and LOGIN) and submission (RFC 6409, RFC 8314)
against the real relaisd: swaks and smtplib on the submission (STARTTLS) and
implicit-TLS ports, AUTH only inside TLS, the replies of every refusal, the
brute-force delay and lockout, a client leaving during the password check,
the MAIL FROM AUTH= parameter, the sender-login check and the statistics."""

import base64
import json
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from relais_helpers import (
    BUS_NAME, CLIENT_HELO, IFACE_STATS, OBJ_PATH, SENDER, TEST_DOMAIN, TEST_LOGIN, TEST_PASSWORD,
    RawSMTP, busctl, make_daemon, make_message, no_verify_context, require_tool, wait_for,
)

REMOTE = "someone@remote.example"      # not a local domain: relaying
ADDRESS = "%s@%s" % (TEST_LOGIN, TEST_DOMAIN)
IFACE_QUEUE = "org.relais.Relais1.Queue"


# ---------------------------------------------------------------- helpers

def b64(data):
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def plain(user=TEST_LOGIN, password=TEST_PASSWORD, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


def raw(daemon, port=None, tls=False):
    """A raw client, greeted and EHLO'd; with TLS (STARTTLS, or implicit TLS on
    the SMTPS port) when asked."""
    port = port or daemon.port
    if port == daemon.smtps_port:
        c = RawSMTP(daemon.host, port)
        c.starttls()            # wraps the socket: implicit TLS
    else:
        c = RawSMTP(daemon.host, port)
    c.greeting()
    r = c.ehlo()
    if tls and port != daemon.smtps_port:
        assert c.cmd("STARTTLS").code == 220
        c.starttls()
        r = c.ehlo()
    c.ehlo_reply = r
    return c


def extensions(reply):
    return {line.split()[0].upper(): line for line in reply.lines[1:]}


def swaks(daemon, port_args, mechanism, user=TEST_LOGIN, password=TEST_PASSWORD,
          sender=ADDRESS, to=REMOTE):
    require_tool("swaks")
    argv = ["swaks", "--server", daemon.host, "--helo", CLIENT_HELO,
            "--auth", mechanism, "--auth-user", user, "--auth-password", password,
            "--from", sender, "--to", to, "--timeout", "30"] + port_args
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def queue_list(daemon):
    p = busctl(daemon.bus_address, "--json=short", "call", BUS_NAME, OBJ_PATH, IFACE_QUEUE, "List")
    return json.loads(p.stdout)["data"][0]


def queued_for(daemon, recipient):
    """Queue entries (id, sender, pending recipients, ...) waiting for RECIPIENT."""
    return [row for row in queue_list(daemon) if recipient in row[2]]


def stats(daemon):
    return daemon.stats()


def wait_stats(daemon, predicate, what):
    """The Statistics properties follow the counters once a second: poll."""
    wait_for(lambda: predicate(stats(daemon)), 5, what, details=lambda: repr(stats(daemon)))


def rejected(st, reason):
    return st["RejectedByReason"].get(reason, 0)


def log_text(daemon):
    with open(daemon.log_path, errors="replace") as f:
        return f.read()


@pytest.fixture
def account(daemon):
    """Domain relais.test, account alice (password TEST_PASSWORD) and bob."""
    daemon.setup_mailbox()
    daemon.add_account("bob", password="bob-password-1")
    return ADDRESS


# ---------------------------------------------------------------- where AUTH is offered

def test_auth_only_inside_tls(daemon, account):
    for port in (daemon.port, daemon.submission_port):
        with raw(daemon, port) as c:
            exts = extensions(c.ehlo_reply)
            assert "STARTTLS" in exts and "AUTH" not in exts, c.ehlo_reply
            r = c.cmd("AUTH PLAIN " + plain())
            assert r.code == 538 and r.lines[0].startswith("5.7.11"), r
            assert "Encryption required for requested authentication mechanism" in r.text
            # still usable after the refusal
            assert c.cmd("NOOP").code == 250
        with raw(daemon, port, tls=True) as c:
            assert extensions(c.ehlo_reply).get("AUTH") == "AUTH PLAIN LOGIN", c.ehlo_reply
    with raw(daemon, daemon.smtps_port) as c:
        exts = extensions(c.ehlo_reply)
        assert "STARTTLS" not in exts and exts.get("AUTH") == "AUTH PLAIN LOGIN", c.ehlo_reply
    assert stats(daemon)["AuthSuccesses"] == 0 and stats(daemon)["AuthFailures"] == 0


def test_smtp_authentication_off(daemon, account):
    daemon.update(SmtpAuthentication=False)
    with raw(daemon, daemon.port, tls=True) as c:
        assert "AUTH" not in extensions(c.ehlo_reply), c.ehlo_reply
        r = c.cmd("AUTH PLAIN " + plain())
        assert r.code == 502 and r.lines[0].startswith("5.5.1"), r
        # without AUTH to offer, relaying is refused for good
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        r = c.cmd("RCPT TO:<%s>" % REMOTE)
        assert r.code == 554 and r.lines[0].startswith("5.7.1"), r
    # the submission ports always offer it
    with raw(daemon, daemon.submission_port, tls=True) as c:
        assert "AUTH" in extensions(c.ehlo_reply)
        assert c.cmd("AUTH PLAIN " + plain()).code == 235


def test_relay_refusal_is_temporary_while_auth_is_possible(daemon, account):
    for tls in (False, True):
        with raw(daemon, daemon.port, tls=tls) as c:
            assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
            r = c.cmd("RCPT TO:<%s>" % REMOTE)
            assert r.code == 454 and r.lines[0].startswith("4.7.1"), r
            assert "Relay access denied" in r.text


# ---------------------------------------------------------------- successful submission

@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("port", ["submission", "smtps"])
def test_swaks_submission_relays(daemon, account, mechanism, port):
    before = stats(daemon)["AuthSuccesses"]
    if port == "submission":
        args = ["--port", str(daemon.submission_port), "--tls"]
    else:
        args = ["--port", str(daemon.smtps_port), "--tlsc"]
    to = "%s-%s@remote.example" % (mechanism.lower(), port)
    p = swaks(daemon, args, mechanism, to=to)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "235 2.7.0 Authentication successful" in p.stdout, p.stdout
    assert re.search(r"250 2\.0\.0 Ok: queued as \S+", p.stdout), p.stdout
    # accepted for relaying: in the queue (delivery fails on DNS in the test namespace)
    wait_for(lambda: queued_for(daemon, to), 10, "the relayed message in Queue.List",
             details=lambda: repr(queue_list(daemon)))
    wait_stats(daemon, lambda st: st["AuthSuccesses"] == before + 1, "AuthSuccesses + 1")
    assert stats(daemon)["AuthFailures"] == 0


def test_smtplib_login_with_address_as_user_name(daemon, account):
    s = smtplib.SMTP_SSL(daemon.host, daemon.smtps_port, local_hostname=CLIENT_HELO,
                         timeout=15, context=no_verify_context())
    try:
        s.ehlo()
        assert s.has_extn("auth")
        code, text = s.login(ADDRESS, TEST_PASSWORD)     # smtplib prefers PLAIN here
        assert code == 235, text
        refused = s.sendmail(ADDRESS, ["smtplib@remote.example"],
                             make_message(to="smtplib@remote.example", sender=ADDRESS))
        assert refused == {}
    finally:
        s.close()
    wait_for(lambda: queued_for(daemon, "smtplib@remote.example"), 10, "the message in the queue")
    assert "login=%s" % TEST_LOGIN in log_text(daemon)


def test_smtplib_starttls_login_mechanism(daemon, account):
    with smtplib.SMTP(daemon.host, daemon.submission_port, local_hostname=CLIENT_HELO,
                      timeout=15) as s:
        s.ehlo()
        assert not s.has_extn("auth")
        s.starttls(context=no_verify_context())
        s.ehlo()
        s.user, s.password = TEST_LOGIN, TEST_PASSWORD
        code, text = s.auth("LOGIN", s.auth_login)
        assert code == 235, text


# ---------------------------------------------------------------- the exchange and its refusals

def test_auth_exchange_replies(daemon, account):
    with raw(daemon, daemon.submission_port, tls=True) as c:
        r = c.cmd("AUTH CRAM-MD5")
        assert r.code == 504 and r.lines[0].startswith("5.5.4"), r
        r = c.cmd("AUTH")
        assert r.code == 501 and r.lines[0].startswith("5.5.4"), r
        # no initial response: an empty challenge, then the response; "*" cancels
        r = c.cmd("AUTH PLAIN")
        assert r.code == 334 and r.lines == [""], r
        r = c.cmd("*")
        assert r.code == 501 and r.lines[0].startswith("5.0.0"), r
        r = c.cmd("AUTH PLAIN *")
        assert r.code == 501 and r.lines[0].startswith("5.0.0"), r
        # bad base64, in the initial response and in a response line
        r = c.cmd("AUTH PLAIN AGFsaWNl!")
        assert r.code == 501 and r.lines[0].startswith("5.5.2"), r
        assert c.cmd("AUTH LOGIN").code == 334
        r = c.cmd("not base64")
        assert r.code == 501 and r.lines[0].startswith("5.5.2"), r
        # "=" is an empty initial response: no user, no password
        r = c.cmd("AUTH PLAIN =")
        assert r.code == 501 and r.lines[0].startswith("5.5.2"), r
        # LOGIN: "Username:", "Password:"
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334 and base64.b64decode(r.lines[0]) == b"Username:", r
        r = c.cmd(b64(TEST_LOGIN))
        assert r.code == 334 and base64.b64decode(r.lines[0]) == b"Password:", r
        r = c.cmd(b64(TEST_PASSWORD))
        assert r.code == 235 and r.lines[0] == "2.7.0 Authentication successful", r
        r = c.cmd("AUTH PLAIN " + plain())
        assert r.code == 503 and r.lines[0].startswith("5.5.1"), r
        assert c.cmd("MAIL FROM:<%s>" % ADDRESS).code == 250
    assert stats(daemon)["AuthFailures"] == 0


def test_auth_during_transaction(daemon, account):
    with raw(daemon, daemon.port, tls=True) as c:
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        r = c.cmd("AUTH PLAIN " + plain())
        assert r.code == 503 and r.lines[0].startswith("5.5.1"), r
        assert c.cmd("RSET").code == 250
        r = c.cmd("AUTH PLAIN")
        assert r.code == 334
        r = c.cmd(plain())
        assert r.code == 235, r
        assert c.cmd("MAIL FROM:<%s>" % ADDRESS).code == 250
        assert c.cmd("RCPT TO:<%s>" % REMOTE).code == 250


def test_plain_authorization_identity(daemon, account):
    with raw(daemon, daemon.submission_port, tls=True) as c:
        # acting as someone else: refused like a wrong password
        r = c.cmd("AUTH PLAIN " + plain(authzid="bob"), timeout=30)
        assert r.code == 535 and r.lines[0].startswith("5.7.8"), r
        r = c.cmd("AUTH PLAIN " + plain(authzid=TEST_LOGIN), timeout=30)
        assert r.code == 235, r


def test_wrong_password_and_growing_delay(daemon, account):
    with raw(daemon, daemon.submission_port, tls=True) as c:
        t0 = time.monotonic()
        r = c.cmd("AUTH PLAIN " + plain(password="wrong-1"), timeout=60)
        first = time.monotonic() - t0
        assert r.code == 535 and r.lines[0] == "5.7.8 Authentication credentials invalid", r
        t0 = time.monotonic()
        r = c.cmd("AUTH LOGIN", timeout=60)
        assert r.code == 334
        assert c.cmd(b64(TEST_LOGIN)).code == 334
        r = c.cmd(b64("wrong-2"), timeout=60)
        second = time.monotonic() - t0
        assert r.code == 535 and r.lines[0].startswith("5.7.8"), r
        # an unknown user gets the same answer
        r = c.cmd("AUTH PLAIN " + plain(user="nobody"), timeout=60)
        assert r.code == 535 and r.lines[0].startswith("5.7.8"), r
        # still a usable session: the right password works
        r = c.cmd("AUTH PLAIN " + plain(), timeout=60)
        assert r.code == 235, r
    # Lower bounds only: the first failure waits 1 s, the second doubles it.
    assert first >= 1.0, "first 535 after %.2fs" % first
    assert second >= first * 0.99 and second >= 2.0, \
        "second 535 after %.2fs, the first after %.2fs" % (second, first)
    wait_stats(daemon, lambda st: st["AuthFailures"] == 3 and st["AuthSuccesses"] == 1 and
               rejected(st, "auth-failed") == 3, "3 failures (auth-failed) and 1 success")


@pytest.fixture
def guarded(request, tmp_path, session_bus):
    """A daemon whose brute-force limits are shortened for the test: 3
    failures lock out for 3 s, 100 ms first delay."""
    d = make_daemon(request, tmp_path, session_bus.address, extra_env={
        "RELAIS_TEST_AUTH_MAX_FAILURES": "3",
        "RELAIS_TEST_AUTH_DELAY_MS": "100",
        "RELAIS_TEST_AUTH_LOCKOUT_SECONDS": "3",
    })
    d.start()
    d.setup_mailbox()
    return d


def test_lockout_after_repeated_failures(guarded):
    d = guarded
    assert "RELAIS_TEST_AUTH_MAX_FAILURES=3 is set" in log_text(d)
    with raw(d, d.submission_port, tls=True) as c:
        for i in range(3):
            r = c.cmd("AUTH PLAIN " + plain(password="wrong-%d" % i), timeout=30)
            assert r.code == 535, (i, r)
        # locked out: even the right password is not checked
        r = c.cmd("AUTH PLAIN " + plain(), timeout=30)
        assert r.code == 454, r
        assert r.lines[0] == "4.7.0 Too many failed authentication attempts, try again later", r
        r = c.cmd("AUTH LOGIN")
        assert r.code == 454, r
    # another connection from the same address is locked out as well
    with raw(d, d.smtps_port) as c:
        assert c.cmd("AUTH PLAIN " + plain()).code == 454
    wait_stats(d, lambda st: st["AuthFailures"] == 6 and rejected(st, "auth-lockout") == 3 and
               rejected(st, "auth-failed") == 3 and st["AuthSuccesses"] == 0,
               "6 failures, 3 of them lockouts")

    # the lockout ends (3 s here): the right password works again
    def accepted():
        with raw(d, d.submission_port, tls=True) as c:
            return c.cmd("AUTH PLAIN " + plain(), timeout=30).code == 235
    wait_for(accepted, 20, "AUTH to work once the lockout is over", interval=0.5)


def test_success_resets_the_count(guarded):
    d = guarded
    with raw(d, d.submission_port, tls=True) as c:
        for i in range(2):
            assert c.cmd("AUTH PLAIN " + plain(password="bad"), timeout=30).code == 535
        assert c.cmd("AUTH PLAIN " + plain(), timeout=30).code == 235
    with raw(d, d.submission_port, tls=True) as c:
        for i in range(2):
            assert c.cmd("AUTH PLAIN " + plain(password="bad"), timeout=30).code == 535
        # two failures since the success: not locked out
        assert c.cmd("AUTH PLAIN " + plain(), timeout=30).code == 235


def test_client_leaves_during_password_check(daemon, account):
    for i in range(12):
        c = raw(daemon, daemon.smtps_port if i % 2 else daemon.submission_port, tls=True)
        password = TEST_PASSWORD if i % 3 == 0 else "wrong"
        c.send("AUTH PLAIN %s\r\n" % plain(password=password))
        if i % 4 == 0:
            # a reset instead of a clean close
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    # the check and the delayed replies run into closed connections: no crash
    time.sleep(1.5)
    assert daemon.alive(), "relaisd died: see its log"
    with raw(daemon, daemon.submission_port, tls=True) as c:
        assert c.cmd("AUTH PLAIN " + plain(), timeout=60).code == 235
        assert c.cmd("MAIL FROM:<%s>" % ADDRESS).code == 250
    wait_stats(daemon, lambda st: st["AuthSuccesses"] >= 1, "AuthSuccesses")
    assert daemon.alive()


def test_credentials_never_logged(daemon, account):
    secret = "Sekr3t-" + str(time.time_ns())
    daemon.add_account("carol", password=secret)
    with raw(daemon, daemon.submission_port, tls=True) as c:
        assert c.cmd("AUTH PLAIN " + plain("carol", secret), timeout=30).code == 235
    with raw(daemon, daemon.submission_port, tls=True) as c:
        assert c.cmd("AUTH LOGIN").code == 334
        assert c.cmd(b64("carol")).code == 334
        assert c.cmd(b64(secret + "x"), timeout=30).code == 535
    text = log_text(daemon)
    assert "AUTH PLAIN [initial response hidden]" in text
    for needle in (secret, b64(secret + "x"), plain("carol", secret)):
        assert needle not in text, "credential %r in the daemon log" % needle


# ---------------------------------------------------------------- submission rules

def test_submission_mail_without_auth(daemon, account):
    for port, tls in ((daemon.submission_port, False), (daemon.submission_port, True),
                      (daemon.smtps_port, True)):
        with raw(daemon, port, tls=tls) as c:
            r = c.cmd("MAIL FROM:<%s>" % ADDRESS)
            assert r.code == 530 and r.lines[0] == "5.7.0 Authentication required", (port, r)
    require_tool("swaks")
    p = subprocess.run(["swaks", "--server", daemon.host, "--port", str(daemon.submission_port),
                        "--tls", "--helo", CLIENT_HELO, "--from", ADDRESS, "--to", REMOTE,
                        "--timeout", "30"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "530 5.7.0 Authentication required" in p.stdout, p.stdout
    wait_stats(daemon, lambda st: rejected(st, "auth-required") == 4, "4 auth-required rejections")


def test_sender_login_check(daemon, account):
    daemon.update(VerifySenderLogin=True)
    args = ["--port", str(daemon.submission_port), "--tls"]
    p = swaks(daemon, args, "PLAIN", sender="bob@" + TEST_DOMAIN)
    assert p.returncode != 0
    assert "553 5.7.1 Sender address rejected: not owned by user alice" in p.stdout, p.stdout
    p = swaks(daemon, args, "LOGIN", sender="alice@remote.example")
    assert "553 5.7.1 Sender address rejected: not owned by user alice" in p.stdout, p.stdout
    p = swaks(daemon, args, "PLAIN", sender=ADDRESS, to="owned@remote.example")
    assert p.returncode == 0, p.stdout + p.stderr
    wait_for(lambda: queued_for(daemon, "owned@remote.example"), 10, "the message in the queue")
    with raw(daemon, daemon.submission_port, tls=True) as c:
        assert c.cmd("AUTH PLAIN " + plain()).code == 235
        assert c.cmd("MAIL FROM:<>").code == 250          # the null sender is allowed
        assert c.cmd("RSET").code == 250
        assert c.cmd("MAIL FROM:<ALICE@Relais.Test>").code == 250
    wait_stats(daemon, lambda st: rejected(st, "sender-login") == 2, "2 sender-login rejections")
    # off again: any sender
    daemon.update(VerifySenderLogin=False)
    p = swaks(daemon, args, "PLAIN", sender="bob@" + TEST_DOMAIN, to="any@remote.example")
    assert p.returncode == 0, p.stdout


def test_mail_auth_parameter(daemon, account):
    with raw(daemon, daemon.port, tls=True) as c:
        # unauthenticated: syntax checked, value ignored
        assert c.cmd("MAIL FROM:<%s> AUTH=forged+40example.net" % SENDER).code == 250
        assert c.cmd("RSET").code == 250
        r = c.cmd("MAIL FROM:<%s> AUTH=a+zz" % SENDER)
        assert r.code == 501 and r.lines[0].startswith("5.5.4"), r
        assert c.cmd("AUTH PLAIN " + plain()).code == 235
        assert c.cmd("MAIL FROM:<%s> AUTH=<>" % ADDRESS).code == 250
        assert c.cmd("RSET").code == 250
        assert c.cmd("MAIL FROM:<%s> AUTH=alice+40relais.test" % ADDRESS).code == 250
        assert c.cmd("RSET").code == 250
        r = c.cmd("MAIL FROM:<%s> AUTH=<x" % ADDRESS)
        assert r.code == 501 and r.lines[0].startswith("5.5.4"), r
    text = log_text(daemon)
    assert "ignoring AUTH=<forged@example.net>" in text
    assert "auth=<alice@relais.test>" in text and "auth=<>" in text
    assert "auth=<forged@example.net>" not in text


def test_statistics_over_busctl(daemon, account):
    with raw(daemon, daemon.submission_port, tls=True) as c:
        assert c.cmd("AUTH PLAIN " + plain()).code == 235
    with raw(daemon, daemon.submission_port, tls=True) as c:
        assert c.cmd("AUTH PLAIN " + plain(password="nope"), timeout=30).code == 535

    def prop(name):
        return busctl(daemon.bus_address, "get-property", BUS_NAME, OBJ_PATH, IFACE_STATS,
                      name).stdout.strip()
    wait_for(lambda: prop("AuthSuccesses") == "t 1" and prop("AuthFailures") == "t 1", 5,
             "AuthSuccesses and AuthFailures over busctl",
             details=lambda: prop("AuthSuccesses") + " / " + prop("AuthFailures"))
