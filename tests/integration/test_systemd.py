# SPDX-License-Identifier: GPL-3.0-or-later
"""relaisd under a service manager: sd_notify (READY, STATUS, WATCHDOG,
STOPPING, RELOADING) on a NOTIFY_SOCKET this test listens on, the graceful
stop on SIGTERM (421 to every session, a message being received may finish
within the grace period, nothing answered 250 is lost, exit status 0) and the
TLS certificate reload on SIGHUP."""

import hashlib
import os
import signal
import socket
import subprocess
import threading
import uuid

import pytest

from relais_helpers import (
    RawSMTP, header_values, make_daemon, make_message, no_verify_context, wait_for,
)

GRACE_SECONDS = 10


class NotifySocket:
    """The service manager's end of sd_notify(3): an AF_UNIX datagram socket
    in the abstract namespace; every datagram is kept, in order."""

    def __init__(self):
        self.name = "relais-test-notify-" + uuid.uuid4().hex
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.messages = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "@" + self.name

    def _run(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            with self.lock:
                self.messages.append(data.decode())

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def assignments(self):
        """Every VAR=value line received, in order."""
        with self.lock:
            return [line for m in self.messages for line in m.split("\n") if line]

    def count(self, line):
        return self.assignments().count(line)

    def statuses(self):
        return [a[len("STATUS="):] for a in self.assignments() if a.startswith("STATUS=")]


@pytest.fixture
def notify():
    n = NotifySocket()
    yield n
    n.close()


def start_daemon(request, tmp_path, bus, notify, extra_args=(), **env):
    """relaisd with NOTIFY_SOCKET, a 1 s watchdog for its own pid (the shell
    execs relaisd, so $$ is relaisd's pid) and a short grace period."""
    d = make_daemon(request, tmp_path, bus.address, extra_env=dict(
        NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="1000000",
        RELAIS_TEST_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS), **env))
    argv = d.argv
    d.argv = lambda: ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh"] + argv() + list(extra_args)
    d.start()
    wait_for(lambda: notify.count("READY=1") == 1, 20, "READY=1", details=notify.assignments)
    return d


def sigterm_and_wait(daemon):
    daemon.proc.send_signal(signal.SIGTERM)
    try:
        return daemon.proc.wait(GRACE_SECONDS + 20)
    except subprocess.TimeoutExpired:
        pytest.fail("relaisd did not exit after SIGTERM")


def log_text(daemon):
    with open(daemon.log_path, errors="replace") as f:
        return f.read()


def subjects(daemon):
    found = []
    for path in daemon.messages():
        with open(path, "rb") as f:
            found += header_values(f.read(), "Subject")
    return found


# ---- sd_notify -------------------------------------------------------------

def test_ready_status_watchdog_stopping(request, tmp_path, session_bus, notify):
    d = start_daemon(request, tmp_path, session_bus, notify)
    ready_at = notify.assignments().index("READY=1")
    assert notify.assignments()[ready_at + 1] == "STATUS=Accepting mail: 0 session(s), queue 0"

    # the status follows the open sessions
    with RawSMTP(d.host, d.port) as c:
        c.greeting()
        wait_for(lambda: "Accepting mail: 1 session(s), queue 0" in notify.statuses(), 20,
                 "STATUS with one session", details=notify.statuses)
    wait_for(lambda: notify.statuses()[-1] == "Accepting mail: 0 session(s), queue 0", 20,
             "STATUS back to no session", details=notify.statuses)
    # sent on change only: never the same text twice in a row
    st = notify.statuses()
    assert all(a != b for a, b in zip(st, st[1:])), st

    # WATCHDOG_USEC=1 s: a ping every half second from the main loop
    pings = notify.count("WATCHDOG=1")
    wait_for(lambda: notify.count("WATCHDOG=1") >= pings + 4, 20, "4 more WATCHDOG=1 pings",
             details=notify.assignments)

    # a stopped (stuck) process pings no more
    d.proc.send_signal(signal.SIGSTOP)
    try:
        threading.Event().wait(0.3)   # a ping sent just before the stop arrives
        frozen = notify.count("WATCHDOG=1")
        threading.Event().wait(1.5)
        assert notify.count("WATCHDOG=1") == frozen
    finally:
        d.proc.send_signal(signal.SIGCONT)

    assert sigterm_and_wait(d) == 0
    assert "STOPPING=1" in notify.assignments()
    assert "shutting down" in log_text(d)


def test_watchdog_not_for_another_pid(request, tmp_path, session_bus, notify):
    """WATCHDOG_PID naming another process: no pings (sd_watchdog_enabled)."""
    d = make_daemon(request, tmp_path, session_bus.address, extra_env=dict(
        NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="200000", WATCHDOG_PID="1"))
    d.start()
    wait_for(lambda: notify.count("READY=1") == 1, 20, "READY=1", details=notify.assignments)
    threading.Event().wait(1.0)
    assert notify.count("WATCHDOG=1") == 0, notify.assignments()


# ---- graceful stop ---------------------------------------------------------

def begin_data(c, mailbox):
    c.greeting()
    c.ehlo()
    assert c.cmd("MAIL FROM:<sender@example.net>").code == 250
    assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
    assert c.cmd("DATA").code == 354


def test_graceful_stop(request, tmp_path, session_bus, notify):
    d = start_daemon(request, tmp_path, session_bus, notify)
    mailbox = d.setup_mailbox()
    subj = {k: "%s %s" % (k, uuid.uuid4().hex) for k in ("queued", "finished", "cut")}
    shutting_down = "4.3.2 %s Service shutting down" % d.general()["Hostname"]

    queued = RawSMTP(d.host, d.port, timeout=GRACE_SECONDS + 20)
    finishing = RawSMTP(d.host, d.port, timeout=GRACE_SECONDS + 20)
    stuck = RawSMTP(d.host, d.port, timeout=GRACE_SECONDS + 20)
    idle = RawSMTP(d.host, d.port, timeout=GRACE_SECONDS + 20)
    for c in (queued, finishing, stuck, idle):
        request.addfinalizer(c.close)
    try:
        # answered 250 before SIGTERM, the session then idle
        begin_data(queued, mailbox)
        queued.send(make_message(subj["queued"], to=mailbox) + b".\r\n")
        r = queued.reply()
        assert r.code == 250, r
        # in the middle of DATA: one ends its message after SIGTERM, one never does
        begin_data(finishing, mailbox)
        finishing.send(make_message(subj["finished"], to=mailbox))
        begin_data(stuck, mailbox)
        stuck.send(make_message(subj["cut"], to=mailbox))
        idle.greeting()
        idle.ehlo()

        d.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "STOPPING=1" in notify.assignments(), 20, "STOPPING=1",
                 details=notify.assignments)

        # idle sessions: 421 at once, long before the grace period ends
        for c in (idle, queued):
            r = c.reply()
            assert (r.code, r.text) == (421, shutting_down), r
            assert c.closed_by_peer(10)
        # no new connection is accepted
        with pytest.raises(OSError):
            RawSMTP(d.host, d.port, timeout=5).close()
        # the mid-DATA sessions heard nothing yet: the grace period is running
        assert finishing.pending(0.2) == b"" and stuck.pending(0.2) == b""

        # the message ended within the grace period is queued, then 421
        finishing.send(".\r\n")
        r = finishing.reply()
        assert r.code == 250, r
        r = finishing.reply()
        assert (r.code, r.text) == (421, shutting_down), r
        assert finishing.closed_by_peer(10)

        # the other one gets its 421 when the grace period is over
        r = stuck.reply(GRACE_SECONDS + 15)
        assert (r.code, r.text) == (421, shutting_down), r
        assert stuck.closed_by_peer(10)
    finally:
        rc = d.proc.wait(GRACE_SECONDS + 20)
    assert rc == 0
    log = log_text(d)
    assert "dropping the message being received" in log
    assert "every SMTP session has ended" in log

    # restart: both messages answered 250 are delivered, the cut one never
    d.start()
    wait_for(lambda: {subj["queued"], subj["finished"]} <= set(subjects(d)), 20,
             "the two accepted messages delivered", details=lambda: subjects(d))
    assert subj["cut"] not in subjects(d)
    assert sigterm_and_wait(d) == 0


def test_stop_without_sessions_is_quick(request, tmp_path, session_bus, notify):
    d = start_daemon(request, tmp_path, session_bus, notify)
    d.proc.send_signal(signal.SIGTERM)
    # nothing to wait for: well within the grace period
    assert d.proc.wait(GRACE_SECONDS - 2) == 0
    assert "STOPPING=1" in notify.assignments()


def test_second_sigterm_does_not_wait(request, tmp_path, session_bus, notify):
    d = start_daemon(request, tmp_path, session_bus, notify)
    mailbox = d.setup_mailbox()
    with RawSMTP(d.host, d.port, timeout=GRACE_SECONDS + 20) as c:
        begin_data(c, mailbox)
        c.send(make_message("never ended", to=mailbox))
        d.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "STOPPING=1" in notify.assignments(), 20, "STOPPING=1",
                 details=notify.assignments)
        assert c.pending(0.2) == b""          # still within its grace period
        d.proc.send_signal(signal.SIGTERM)
        # well before the grace period is over
        assert d.proc.wait(GRACE_SECONDS - 2) == 0
        assert c.closed_by_peer(5)
    assert "asked again to stop" in log_text(d)


# ---- SIGHUP: TLS certificate reload ----------------------------------------

def make_cert(directory, name, cn):
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    with open(cert, "rb") as f:
        c = f.read()
    with open(key, "rb") as f:
        k = f.read()
    return c, k


def install(paths, cert, key):
    """Replace the files the daemon was started with (atomically)."""
    for path, data in ((paths[0], cert), (paths[1], key)):
        with open(path + ".new", "wb") as f:
            f.write(data)
        os.replace(path + ".new", path)


def starttls_fingerprint(d):
    c = RawSMTP(d.host, d.port)
    c.greeting()
    c.ehlo()
    assert c.cmd("STARTTLS").code == 220
    tls = c.starttls(no_verify_context())
    der = tls.getpeercert(binary_form=True)
    return c, hashlib.sha256(der).hexdigest()


def pem_fingerprint(pem):
    import ssl
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode())).hexdigest()


def test_sighup_reloads_certificate(request, tmp_path, session_bus, notify):
    certs = tmp_path / "certs"
    certs.mkdir()
    first = make_cert(str(certs), "first", "first.relais.test")
    second = make_cert(str(certs), "second", "second.relais.test")
    third = make_cert(str(certs), "third", "third.relais.test")
    paths = (str(certs / "server.crt"), str(certs / "server.key"))
    install(paths, *first)
    d = start_daemon(request, tmp_path, session_bus, notify,
                     extra_args=["--tls-cert", paths[0], "--tls-key", paths[1]])

    old_session, fp = starttls_fingerprint(d)
    request.addfinalizer(old_session.close)
    assert fp == pem_fingerprint(first[0])
    old_session.ehlo()

    # a new certificate: new connections use it, the open session goes on
    install(paths, *second)
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: notify.count("READY=1") == 2, 20, "READY=1 after the reload",
             details=notify.assignments)
    a = notify.assignments()
    reloading = [i for i, x in enumerate(a) if x == "RELOADING=1"]
    assert len(reloading) == 1 and reloading[0] < len(a) - 1 - a[::-1].index("READY=1")
    assert any(x.startswith("MONOTONIC_USEC=") for x in a)
    c, fp = starttls_fingerprint(d)
    c.close()
    assert fp == pem_fingerprint(second[0])
    assert old_session.cmd("NOOP").code == 250
    assert old_session.cmd("MAIL FROM:<sender@example.net>").code == 250

    # broken files: a certificate with another's key, then garbage. The
    # certificate in use stays, and the log says why.
    for broken in ((third[0], second[1]), (b"-----BEGIN CERTIFICATE-----\nnot base64\n", third[1])):
        before = notify.count("READY=1")
        install(paths, *broken)
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: notify.count("READY=1") == before + 1, 20, "READY=1 after the failed reload",
                 details=notify.assignments)
        wait_for(lambda: log_text(d).count("reload: keeping the TLS certificate in use") ==
                 (1 if broken[1] is second[1] else 2), 20, "the reload error in the log")
        c, fp = starttls_fingerprint(d)
        c.close()
        assert fp == pem_fingerprint(second[0])
    assert "Cannot load the TLS certificate %s" % paths[0] in log_text(d)
    assert d.alive()
    assert old_session.cmd("RSET").code == 250
    old_session.cmd("QUIT")
    assert sigterm_and_wait(d) == 0
