#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many idle SMTP sessions against the real relaisd (issue 9: 10,000 sessions
in under 200 MB RSS, a new client still greeted within 100 ms). One asyncio
client opens the sessions (connect, greeting, EHLO, then silence) from several
loopback addresses; every --step sessions it prints relaisd's RSS and PSS and
the time new clients (from another address) take from connect() to the whole
greeting line; at the end the connections refused or failed, by kind.

relaisd starts with a soft open-file limit of 1024 (as a service gets without
LimitNOFILE=) and its hard limit: the daemon raises the soft one itself. Its
per-client connection limit (Security.LimitConnections, on at 50) is turned
off and its idle timeout (General.IdleTimeout) raised to 3600 s, over D-Bus:
  busctl --user call org.relais.Relais1 /org/relais/Relais1 \\
      org.relais.Relais1.Security Update 'a{sv}b' 1 LimitConnections b false false
A benchmark, not a test: it prints figures and asserts nothing.

    tests/bench/idle-sessions.py [--relaisd build/daemon/relaisd] [--sessions 10000]
                                 [--step 2000] [--samples 20] [--sources 4] [--parallel 50]
"""
import argparse
import asyncio
import collections
import resource
import socket
import statistics
import sys
import time

import load_helpers as L

PROBE_SOURCE = "127.0.0.250"


def greeting_ms(host, port):
    """connect() to the end of the greeting line, in ms; raises on a refusal
    or anything but a 220."""
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=10, source_address=(PROBE_SOURCE, 0)) as s:
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(512)
            if not chunk:
                raise ConnectionError("closed before the greeting")
            data += chunk
        elapsed = (time.monotonic() - t0) * 1000
        if not data.startswith(b"220"):
            raise ConnectionError("greeting %r" % data.split(b"\r\n")[0])
        s.sendall(b"QUIT\r\n")
    return elapsed


async def reply(reader):
    """The last line of an SMTP reply."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed by relaisd")
        if len(line) < 4 or line[3:4] != b"-":
            return line


class Client:
    def __init__(self, args, host, port):
        self.args, self.host, self.port = args, host, port
        self.sessions = []                 # (reader, writer) of the idle sessions
        self.failures = collections.Counter()
        self.first_failure = {}

    async def open_one(self, i, gate):
        source = "127.0.0.%d" % (11 + i % self.args.sources)
        async with gate:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port, local_addr=(source, 0)), 30)
                greeting = await asyncio.wait_for(reply(reader), 30)
                if not greeting.startswith(b"220 "):
                    raise ConnectionError("greeting " + greeting.decode(errors="replace").strip())
                writer.write(b"EHLO idle%d.client.test\r\n" % i)
                ehlo = await asyncio.wait_for(reply(reader), 30)
                if not ehlo.startswith(b"250 "):
                    raise ConnectionError("EHLO " + ehlo.decode(errors="replace").strip())
                self.sessions.append((reader, writer))
            except (OSError, asyncio.TimeoutError) as e:
                kind = type(e).__name__
                if type(e) is ConnectionError:      # a reply: "greeting 421", "EHLO 554"...
                    kind += " (%s)" % " ".join(str(e).split()[:2])
                self.failures[kind] += 1
                self.first_failure.setdefault(kind, repr(e))

    async def open_many(self, start, count):
        gate = asyncio.Semaphore(self.args.parallel)
        await asyncio.gather(*(self.open_one(i, gate) for i in range(start, start + count)))

    def alive(self):
        return sum(1 for reader, _ in self.sessions if not reader.at_eof())


def probe(host, port, samples, failures):
    out = []
    for _ in range(samples):
        try:
            out.append(greeting_ms(host, port))
        except OSError as e:
            failures["probe " + type(e).__name__] += 1
        time.sleep(0.02)
    return sorted(out)


def row(bench, opened, alive, greetings, base):
    m = L.memory_kib(bench.pid)
    per = (m["rss"] - base["rss"]) / opened if opened else 0
    print("%9d %7d %9.1f %9.1f %10.1f %9s %9s %9s" % (
        opened, alive, m["rss"] / 1024, m["pss"] / 1024, per,
        "%.1f" % statistics.median(greetings) if greetings else "-",
        "%.1f" % L.percentile(greetings, .9) if greetings else "-",
        "%.1f" % greetings[-1] if greetings else "-"))
    sys.stdout.flush()
    return m


async def run(args, bench):
    d = bench.daemon
    loop = asyncio.get_running_loop()
    d.update_security(LimitConnections=False)
    d.update(IdleTimeout=3600, MaxSessions=max(args.sessions + args.samples + 100, 5000))
    client = Client(args, d.host, d.port)
    soft, hard = L.H.open_file_limits(bench.pid)
    print("relaisd open-file limit: soft %s, hard %s (started with soft 1024)" % (soft, hard))
    print("per-client connection limit: Security.LimitConnections turned off over D-Bus; "
          "IdleTimeout 3600 s; General.MaxSessions above the sessions opened")
    print("%d sessions from %d source addresses, %d connecting at once, greeting samples of %d new clients"
          % (args.sessions, args.sources, args.parallel, args.samples))
    print()
    print("%9s %7s %9s %9s %10s %9s %9s %9s" % ("sessions", "alive", "RSS MiB", "PSS MiB", "KiB/sess",
                                                "greet p50", "p90", "max ms"))
    base = row(bench, 0, 0, await loop.run_in_executor(None, probe, d.host, d.port, args.samples,
                                                        client.failures), {"rss": 0})
    cpu0, t0 = L.cpu_seconds(bench.pid), time.monotonic()
    opened = 0
    while opened < args.sessions:
        n = min(args.step, args.sessions - opened)
        await client.open_many(opened, n)
        opened += n
        greetings = await loop.run_in_executor(None, probe, d.host, d.port, args.samples, client.failures)
        row(bench, opened, client.alive(), greetings, base)
    ramp, ramp_cpu = time.monotonic() - t0, L.cpu_seconds(bench.pid) - cpu0

    cpu0 = L.cpu_seconds(bench.pid)
    await asyncio.sleep(args.hold)
    idle_cpu = L.cpu_seconds(bench.pid) - cpu0
    greetings = await loop.run_in_executor(None, probe, d.host, d.port, args.samples * 3, client.failures)
    print("after %ds idle:" % args.hold)
    final = row(bench, opened, client.alive(), greetings, base)
    open_now = d.stats().get("SessionsOpen")
    print()
    print("opened %d sessions in %.1f s (%.0f/s), relaisd CPU %.1f s; idle for %d s: relaisd CPU %.2f s"
          % (len(client.sessions), ramp, len(client.sessions) / ramp, ramp_cpu, args.hold, idle_cpu))
    print("relaisd SessionsOpen %s (with the last probes, still closing); peak RSS (VmHWM) %.1f MiB"
          % (open_now, final["hwm"] / 1024))
    print("new clients greeted: median %.1f ms, p99 %.1f ms, max %.1f ms over %d samples (target < 100 ms)"
          % (statistics.median(greetings), L.percentile(greetings, .99), greetings[-1], len(greetings)))
    print("RSS with %d idle sessions: %.1f MiB (target < 200 MB = %.1f MiB)"
          % (opened, final["rss"] / 1024, 200e6 / 2**20))
    total = sum(client.failures.values())
    print("refused or failed: %d%s" % (total, "".join(
        "\n  %s: %d (first: %s)" % (k, v, client.first_failure.get(k, "")) for k, v in client.failures.items())))
    for _, writer in client.sessions:
        writer.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--relaisd", default=L.default_relaisd())
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--step", type=int, default=2000, help="sessions between two measurements")
    ap.add_argument("--samples", type=int, default=20, help="new clients timed at each step")
    ap.add_argument("--sources", type=int, default=4, help="loopback addresses 127.0.0.11... to connect from")
    ap.add_argument("--parallel", type=int, default=50, help="connections being set up at once")
    ap.add_argument("--hold", type=int, default=10, help="seconds idle before the last measurement")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < args.sessions + 200:
        sys.exit("the hard open-file limit (%d) is below --sessions + 200: raise it (ulimit -Hn) first" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    launcher = ["prlimit", "--nofile=%d:%d" % (min(1024, hard), hard), "--"]
    with L.BenchDaemon(args.relaisd, launcher=launcher) as bench:
        asyncio.run(run(args, bench))


if __name__ == "__main__":
    main()
