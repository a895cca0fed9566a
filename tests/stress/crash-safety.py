#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash safety under load: parallel SMTP clients send messages through relaisd
to a counting sink MTA (aiosmtpd) while relaisd is killed with SIGKILL at
random moments and started again on the same state folder, ROUNDS times. At
the end the queue is drained and every message that got its 250 must have
reached the sink: "lost" must be 0. Duplicates (a message the sink got more
than once) are counted and reported: relaisd killed after the sink took the
message and before the sink's 250 reached it and was written down (RFC 1047's
window: the sink counts before it answers, as a real MTA commits first). A
duplicate whose first copy reached the sink more than --window seconds before
any kill (or after it: what relaisd had written before it died still reaches
the sink) has no such excuse: it fails the run. Messages that reached the sink
although their client never saw the 250 (killed between the commit and the
reply; the client's error is right, a real client sends again) are reported.

Each attempt carries a token of its own (Message-ID and Subject), so a client
never sends the same token twice and the counts above are exact. The sink is
a process of its own (this script with --sink), which writes each token down
before it answers 250 (with the time, CLOCK_MONOTONIC, which this script
shares).

  tests/stress/crash-safety.py [--rounds 20] [--messages 5000] [--clients 8]

Runs in a private network namespace of its own (build-aux/with-test-net,
loopback only) unless already inside one. Exit status 0 when nothing was
lost (and, with --max-duplicates, duplicates stayed under that percentage).
The CI runs a short version (tests/integration/test_crash_safety.py)."""

import argparse
import os
import random
import re
import shutil
import smtplib
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

SENDER = "stress@client.relais.test"
RECIPIENT = "sink@sink.relais.test"
TOKEN_RE = re.compile(rb"^Message-ID: <([^@>]+)@stress\.relais\.test>", re.M | re.I)


def run_sink(port, path):
    """The counting sink: aiosmtpd on 127.0.0.1:PORT appending each message's
    token (or "-" when it has none) to PATH before its 250."""
    import asyncio
    from aiosmtpd.controller import Controller

    out = open(path, "a", buffering=1)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            m = TOKEN_RE.search(envelope.content)
            q = re.search(rb"\bid ([0-9A-Z]{16})\b", envelope.content)   # relaisd's queue id
            out.write("%s %.6f %s\n" % (m.group(1).decode() if m else "-", time.monotonic(),
                                        q.group(1).decode() if q else "-"))
            return "250 2.0.0 counted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False,
                            ready_timeout=10.0)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()        # until the parent goes
    finally:
        controller.stop()
        del asyncio


def start_sink(port, path):
    import subprocess
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--sink", str(port), path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the sink did not start")
    return proc


def sink_log(path):
    """[(token, time, queue id)] in the order the sink counted them."""
    with open(path) as f:
        return [(w[0], float(w[1]), w[2]) for w in (line.split() for line in f) if len(w) == 3]


def default_relaisd():
    for build in ("build-release", "build"):
        path = os.path.join(ROOT, build, "daemon", "relaisd")
        if os.access(path, os.X_OK):
            return path
    return os.path.join(ROOT, "build", "daemon", "relaisd")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=20, help="SIGKILLs and restarts (default 20)")
    p.add_argument("--messages", type=int, default=5000,
                   help="messages to have acknowledged with 250 in all (default 5000)")
    p.add_argument("--clients", type=int, default=8, help="parallel SMTP clients (default 8)")
    p.add_argument("--size-kib", type=int, default=4, help="message size (default 4 KiB)")
    p.add_argument("--relaisd", default=os.environ.get("RELAISD") or default_relaisd(),
                   help="the relaisd binary (default: build-release's, else build's)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    p.add_argument("--max-duplicates", type=float, default=None, metavar="PERCENT",
                   help="also fail when duplicates exceed PERCENT of the acknowledged messages")
    p.add_argument("--window", type=float, default=2.0,
                   help="seconds between a first copy reaching the sink and a kill, before or after, "
                        "that explain a duplicate (default 2)")
    p.add_argument("--drain-timeout", type=float, default=300,
                   help="seconds to wait for the queue to empty at the end (default 300)")
    return p.parse_args()


class Clients:
    """CLIENTS threads sending one message per connection until stopped; each
    attempt has a token of its own. acked: tokens that got 250 to DATA."""

    def __init__(self, port, n, size_kib):
        self.port = port
        self.body = ("x" * 76 + "\r\n") * max(1, size_kib * 1024 // 78)
        self.acked = set()
        self.attempts = 0
        self.failures = 0
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(60)

    def count(self):
        with self.lock:
            return len(self.acked)

    def _run(self, n):
        i = 0
        while not self.stop_event.is_set():
            token = "c%d-%d" % (n, i)
            i += 1
            message = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@stress.relais.test>\r\n\r\n%s"
                       % (SENDER, RECIPIENT, token, token, self.body))
            with self.lock:
                self.attempts += 1
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
                    s.sendmail(SENDER, [RECIPIENT], message)
                    with self.lock:
                        self.acked.add(token)
            except (OSError, smtplib.SMTPException):
                # refused, reset or 4xx while relaisd is down or starting
                with self.lock:
                    self.failures += 1
                time.sleep(0.05)


def queue_length(daemon):
    return len(daemon.dbus().call("org.relais.Relais1.Queue", "List")[0])


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--sink":
        run_sink(int(sys.argv[2]), sys.argv[3])
        return
    args = parse_args()
    if os.environ.get("RELAIS_TEST_NET") != "1":
        argv = [os.path.join(ROOT, "build-aux", "with-test-net"), "--", sys.executable,
                os.path.abspath(__file__)] + sys.argv[1:]
        os.execv(argv[0], argv)
    os.environ["RELAISD"] = os.path.abspath(args.relaisd)
    import relais_helpers as H

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("crash-safety: %d rounds, %d messages, %d clients, %d KiB, seed %d, relaisd %s"
          % (args.rounds, args.messages, args.clients, args.size_kib, seed, args.relaisd), flush=True)

    work = tempfile.mkdtemp(prefix="relais-stress-")
    bus = daemon = sink = clients = None
    ok = False
    try:
        bus = H.MessageBus.start_session(work)
        state = os.path.join(work, "state")
        os.mkdir(state)
        daemon = H.Daemon(bus.address, state, os.path.join(work, "relaisd.log"),
                          submission=False, smtps=False, extra_env={"G_MESSAGES_DEBUG": os.environ.get("G_MESSAGES_DEBUG", "")})
        sink_port, = H.free_ports(1)
        sink_path = os.path.join(work, "sink.log")
        sink = start_sink(sink_port, sink_path)
        daemon.start()
        v = H.guess_variant
        daemon.dbus().call("org.relais.Relais1.Distribution", "Update", "(a{sv}b)",
                           ({"Mode": v("relay-host"), "RelayServer": v("127.0.0.1"),
                             "RelayPort": v(sink_port)}, False))
        daemon.dbus().call("org.relais.Relais1.RelayControl", "AddTrustedNetwork", "(ssb)",
                           ("loopback", "127.0.0.0/8", False))
        daemon.update_security(LimitConnections=False)

        clients = Clients(daemon.port, args.clients, args.size_kib)
        clients.start()
        step = args.messages / (args.rounds + 1)
        kills = []
        for r in range(args.rounds):
            # somewhere in this round's share of the messages, at a random moment
            target = int((r + rng.uniform(0.3, 1.0)) * step)
            deadline = time.monotonic() + 600
            while clients.count() < target:
                if time.monotonic() > deadline or not daemon.alive():
                    raise RuntimeError("no progress in round %d (relaisd alive: %s)" % (r + 1, daemon.alive()))
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))
            kills.append(time.monotonic())
            daemon.kill9()
            started = time.monotonic()
            daemon.start()
            print("round %2d: killed at %5d acknowledged, %4d in the sink; back in %.2f s"
                  % (r + 1, clients.count(), len(sink_log(sink_path)), time.monotonic() - started),
                  flush=True)
        while clients.count() < args.messages:
            if not daemon.alive():
                raise RuntimeError("relaisd exited on its own")
            time.sleep(0.05)
        clients.stop()

        H.wait_for(lambda: queue_length(daemon) == 0, args.drain_timeout, "the queue to empty")
        time.sleep(1)   # the sink's last sessions end
        counted = sink_log(sink_path)
        delivered = [t for t, _, _ in counted if t != "-"]
        distinct = set(delivered)
        acked = clients.acked
        lost = sorted(acked - distinct)
        duplicates = len(delivered) - len(distinct)
        first, unexplained = {}, []
        for token, when, queue_id in counted:
            # a kill just before counts too: the message was in the socket's buffer already
            if token in first and not any(abs(k - first[token]) <= args.window for k in kills):
                unexplained.append("%s (queue id %s, first at %.3f, again at %.3f)"
                                   % (token, queue_id, first[token], when))
            first.setdefault(token, when)
        unacked = len(distinct - acked)
        pct = 100.0 * duplicates / max(1, len(acked))
        print("attempts %d, refused or cut %d" % (clients.attempts, clients.failures))
        print("acknowledged %d, delivered %d (%d distinct), lost %d, duplicates %d (%.3f %%; "
              "%d not near a kill), delivered without a 250 to the client %d, foreign %d"
              % (len(acked), len(delivered), len(distinct), len(lost), duplicates, pct,
                 len(unexplained), unacked, len(counted) - len(delivered)))
        if lost:
            print("LOST: %s" % " ".join(lost[:50]))
        for line in unexplained[:20]:
            print("DUPLICATE with no kill before it: %s" % line)
        ok = not lost and not unexplained and (args.max_duplicates is None or pct <= args.max_duplicates)
    finally:
        if clients is not None:
            clients.stop()
        if daemon is not None and daemon.alive():
            daemon.stop()
        if sink is not None:
            sink.stdin.close()
            sink.wait(10)
        if bus is not None:
            bus.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept for a look: %s (relaisd.log)" % work)
    print("crash-safety: %s" % ("ok" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
