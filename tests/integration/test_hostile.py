# SPDX-License-Identifier: GPL-3.0-or-later
"""Slow and hostile clients (issue 10): a command line trickled in a byte at a
time still ends at IdleTimeout; General.MaxSessions caps the sessions of all
clients together with 421 4.3.2; 1,000 slowloris connections and 1,000 idle
ones do not keep a normal client from sending a message in under a second;
a 100 MB message of 1 MB lines and a stream of over-long command lines leave
the daemon's memory where it was."""

import resource
import smtplib
import socket
import threading
import time

import pytest

import relais_helpers as H
from relais_helpers import SENDER, DBusCallError, RawSMTP, make_message, wait_for


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def reset_peak_rss(pid):
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def raw(daemon, source=None):
    c = RawSMTP(daemon.host, daemon.port, source=source)
    c.greeting()
    return c


def test_trickled_command_line_ends_at_idle_timeout(daemon):
    daemon.update(IdleTimeout=5)
    with raw(daemon) as c:
        t0 = time.monotonic()
        c.sock.settimeout(0.5)
        for ch in "EHLO a-very-slow-client.example.net":     # a byte every 0.5 s: 17 s in all
            try:
                c.send(ch)
                data = c.sock.recv(4096)        # the 421, when it comes
            except socket.timeout:
                continue
            c.buf += data
            break
        r = c.reply(timeout=10)
        waited = time.monotonic() - t0
        assert r.code == 421 and r.lines[0].startswith("4.4.2"), r
        assert 4 <= waited <= 10, "421 after %.1f s with IdleTimeout 5 and a byte every 0.5 s" % waited
        assert c.closed_by_peer(5), "connection not closed after 421"
    # message content is not held to it: each read has its own IdleTimeout
    with raw(daemon) as c:
        daemon.setup_mailbox()
        assert c.cmd("EHLO slow.example.net").code == 250
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<alice@relais.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send("Subject: slow\r\n\r\n")
        for _ in range(8):                                      # 8 s of content, a line a second
            time.sleep(1)
            c.send("line\r\n")
        r = c.cmd(".")
        assert r.code == 250, r


def test_global_session_limit(daemon):
    daemon.update(MaxSessions=5)
    assert daemon.general()["MaxSessions"] == 5
    # trusted or not: the limit guards the daemon itself
    daemon.dbus().call("org.relais.Relais1.RelayControl", "AddTrustedNetwork", "(ssb)",
                       ("loopback", "127.0.0.0/8", False))
    before = daemon.stats()["Rejected"]
    held = [raw(daemon, source="127.0.0.%d" % (10 + i)) for i in range(5)]
    try:
        for c in held:
            assert c.cmd("EHLO held.example.net").code == 250
        with RawSMTP(daemon.host, daemon.port, source="127.0.0.30") as extra:
            r = extra.reply()
            assert r.code == 421 and r.lines[0] == "4.3.2 Too many sessions, try again later", r
            assert extra.closed_by_peer(5), "connection not closed after 421"
        # those already open go on
        assert held[0].cmd("NOOP").code == 250
        wait_for(lambda: daemon.stats()["RejectedByReason"].get("max-sessions") == 1, 10,
                 "the refusal to be counted")
        assert daemon.stats()["Rejected"] == before + 1
        # one leaves: room for one more
        assert held.pop().cmd("QUIT").code == 221
        wait_for(lambda: daemon.stats()["SessionsOpen"] <= 4, 10, "the session to close")
        with raw(daemon, source="127.0.0.31") as again:
            assert again.cmd("QUIT").code == 221
        # raising it lets the next one in at once; lowering it never cuts a session
        daemon.update(MaxSessions=2)
        assert held[0].cmd("NOOP").code == 250
        daemon.update(MaxSessions=100)
        with raw(daemon, source="127.0.0.32") as more:
            assert more.cmd("QUIT").code == 221
    finally:
        for c in held:
            c.close()
    log = open(daemon.log_path, errors="replace").read()
    assert "max-sessions" in log, "the refusal is not logged"


@pytest.mark.parametrize("value", [0, 1000001])
def test_max_sessions_out_of_range(daemon, value):
    with pytest.raises(DBusCallError) as e:
        daemon.update(MaxSessions=value)
    assert "org.relais.Relais1.Error.InvalidArgument" in str(e.value)
    assert "MaxSessions" in str(e.value)
    assert daemon.general()["MaxSessions"] == 5000


def raise_open_files(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip("the hard open-file limit here (%d) is below %d" % (hard, n))
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def test_out_of_descriptors_the_daemon_accepts_again(request, tmp_path, session_bus):
    # More clients than the daemon has descriptors for: accept() fails, it
    # says so and tries again a little later (no busy loop), and once the
    # clients are gone a new one is greeted.
    d = H.make_daemon(request, tmp_path, session_bus.address)
    d.launcher = ["prlimit", "--nofile=128:128", "--"]
    d.start()
    d.update_security(LimitConnections=False)   # else the per-client limit closes them first
    held = []
    try:
        for _ in range(200):
            held.append(socket.create_connection((d.host, d.port), timeout=5))
        wait_for(lambda: "cannot accept a connection" in open(d.log_path, errors="replace").read(),
                 10, "accept() to run out of descriptors")
    finally:
        for c in held:
            c.close()
    wait_for(lambda: d.stats()["SessionsOpen"] == 0, 20, "the sessions of the closed clients to end")
    with RawSMTP(d.host, d.port, timeout=10) as c:
        c.greeting()
        assert c.cmd("QUIT").code == 221
    log = open(d.log_path, errors="replace").read()
    assert "Too many open files" in log
    # one warning per try, a try every 100 ms at most: no busy loop
    assert log.count("cannot accept a connection") < 400, log.count("cannot accept a connection")


def test_slowloris_and_idle_clients_do_not_stop_a_normal_one(daemon):
    n_slow, n_idle, per_address = 1000, 1000, 40     # under the per-client limit (50)
    raise_open_files(n_slow + n_idle + 512)
    mailbox = daemon.setup_mailbox()
    socks = []
    stop = threading.Event()

    def connect(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.%d.%d" % (1 + i // per_address // 250, 1 + (i // per_address) % 250), 0))
        s.connect((daemon.host, daemon.port))
        socks.append(s)
        return s

    def trickle(slow):
        while not stop.is_set():           # one byte a second on each, never a line end
            for s in slow:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            stop.wait(1)

    try:
        slow = [connect(i) for i in range(n_slow)]
        idle = [connect(n_slow + i) for i in range(n_idle)]
        wait_for(lambda: daemon.stats()["SessionsOpen"] >= n_slow + n_idle, 120,
                 "the hostile sessions to be open", interval=0.5,
                 details=lambda: "%d open" % daemon.stats()["SessionsOpen"])
        trickler = threading.Thread(target=trickle, args=(slow,), daemon=True)
        trickler.start()
        time.sleep(2)
        assert idle[0].recv(512).startswith(b"220 "), "an idle client was not greeted"
        reset_peak_rss(daemon.proc.pid)
        times = []
        for i in range(5):
            t0 = time.monotonic()
            with smtplib.SMTP(daemon.host, daemon.port, timeout=10) as client:
                refused = client.sendmail(SENDER, [mailbox], make_message("normal %d" % i, "hello\n", to=mailbox))
            times.append(time.monotonic() - t0)
            assert refused == {}
            time.sleep(0.3)
        print("normal client under %d slowloris and %d idle sessions: %s s"
              % (n_slow, n_idle, ", ".join("%.3f" % t for t in times)))
        assert max(times) < 1.0, times
        daemon.wait_messages(5)
        assert daemon.stats()["SessionsOpen"] >= n_slow + n_idle
        assert rss_kib(daemon.proc.pid, "VmHWM") < 200 * 1024
    finally:
        stop.set()
        for s in socks:
            s.close()


def test_memory_stays_bounded_with_huge_lines(daemon):
    mailbox = daemon.setup_mailbox()
    daemon.update(MaxMessageSizeMB=200)
    pid = daemon.proc.pid
    with raw(daemon) as c:
        assert c.cmd("EHLO big.example.net").code == 250
        # warm up: the first message's buffers and statements
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        assert c.cmd("DATA").code == 354
        assert c.cmd("Subject: small\r\n\r\nhello\r\n.").code == 250
        reset_peak_rss(pid)
        base = rss_kib(pid)

        # 100 MB in lines of 1 MB
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        assert c.cmd("DATA").code == 354
        c.send("Subject: huge lines\r\n\r\n")
        line = b"y" * (1024 * 1024 - 2) + b"\r\n"
        for _ in range(100):
            c.sock.sendall(line)
        r = c.cmd(".", timeout=120)
        assert r.code == 250, r

    # 100 over-long command lines of 100 KB, 9 a session (the tenth junk
    # command would slow the replies down)
    for _ in range(11):
        with raw(daemon) as c:
            for _ in range(9):
                r = c.cmd("NOOP " + "z" * (100 * 1024))
                assert r.code == 500 and r.lines[0] == "5.5.2 Error: line too long", r
            assert c.cmd("QUIT").code == 221
    peak = rss_kib(pid, "VmHWM")
    grown = (peak - base) / 1024
    print("RSS %d KiB before, peak %d KiB after 100 MB of 1 MB lines and long commands: +%.1f MiB"
          % (base, peak, grown))
    assert grown < 16, "the daemon's RSS grew by %.1f MiB" % grown
