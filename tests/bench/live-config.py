#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a live configuration change costs in the real relaisd (issue 9):
1. from the reply to a D-Bus General.Update to the first SMTP exchange that
   sees the new value: Banner (a new connection's greeting) and MaxRecipients
   (the next transaction, in a new session: 1 or 2, the second RCPT is
   answered 452 or 250), many samples, median, p99 and worst, and the time of
   the Update call itself;
2. the snapshot swap of Security.ReplaceRules with 10 to 100,000 black/white
   rules (IP, subnet, sender, recipient, domain): the D-Bus call, the time
   from its reply to the first transaction that sees the new rules (a rule
   that rejects the probe's sender comes and goes: the first call of a size
   replaces every rule, the next ones only that one), and the SMTP latency
   meanwhile: a client runs transactions (connect, EHLO, MAIL, RCPT, close)
   and another just takes greetings, each every 5 ms; those that overlap a
   call are compared with the others; and the daemon's RSS.
The policy decisions per second with that many rules are
build/tests/bench-policy-rules's. A benchmark, not a test: it prints figures
and asserts nothing.

    tests/bench/live-config.py [--relaisd build/daemon/relaisd] [--samples 200]
                               [--sizes 10,10000,100000] [--swaps 6]
"""
import argparse
import ipaddress
import random
import statistics
import threading
import time

import load_helpers as L

H = L.H
GLib = H.GLib
DOMAIN = "bench.test"
PROBE_SENDER = "probe@blocked.example"


def ms(seconds):
    return seconds * 1000


def summary(values):
    """"median / p99 / max ms" of a list of seconds."""
    v = sorted(values)
    if not v:
        return "-"
    return "%.2f / %.2f / %.2f" % (ms(statistics.median(v)), ms(L.percentile(v, .99)), ms(v[-1]))


def session(d):
    c = H.RawSMTP(d.host, d.port, timeout=60)
    c.greeting()
    c.ehlo("live.client.test")
    return c


# ---- 1. General.Update -> SMTP ------------------------------------------

def banner_samples(d, n):
    calls, seen, probes = [], [], 0
    for i in range(n):
        banner = "ESMTP bench %d" % i
        t0 = time.monotonic()
        d.update(Banner=banner)
        t1 = time.monotonic()
        while True:
            probes += 1
            c = H.RawSMTP(d.host, d.port)
            text = c.greeting().text
            t2 = time.monotonic()
            c.close()
            if text.endswith(banner):
                break
        calls.append(t1 - t0)
        seen.append(t2 - t1)
    return calls, seen, probes


def max_recipients_samples(d, n):
    calls, seen, transactions = [], [], 0
    for i in range(n):
        limit = 1 + i % 2
        t0 = time.monotonic()
        d.update(MaxRecipients=limit)
        t1 = time.monotonic()
        while True:
            transactions += 1
            with session(d) as c:
                assert c.cmd("MAIL FROM:<sender@client.test>").code == 250
                assert c.cmd("RCPT TO:<bench@%s>" % DOMAIN).code == 250
                second = c.cmd("RCPT TO:<bench2@%s>" % DOMAIN).code
                t2 = time.monotonic()
            if (second == 452) == (limit == 1):
                break
        calls.append(t1 - t0)
        seen.append(t2 - t1)
    return calls, seen, transactions


def greeting_baseline(d, n):
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        c = H.RawSMTP(d.host, d.port)
        c.greeting()
        out.append(time.monotonic() - t0)
        c.close()
    return out


# ---- 2. ReplaceRules ------------------------------------------------------

def rules(n, blocked, seed):
    """N rules of the five types, none matching a loopback client or the
    probe's sender, but the last, which rejects the probe's sender when
    BLOCKED (and names another address otherwise)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n - 1):
        kind = ("ip", "subnet", "sender", "recipient", "domain")[i % 5]
        black = kind != "domain" and rnd.random() < .7
        if kind == "ip":
            value = str(ipaddress.IPv4Address(rnd.randrange(0x0b000000, 0x7e000000)) if rnd.random() < .7
                        else ipaddress.IPv6Address((0x20010db8 << 96) | rnd.getrandbits(96)))
        elif kind == "subnet":
            prefix = rnd.randrange(16, 31)
            value = str(ipaddress.IPv4Network((rnd.randrange(0x0b000000, 0x7e000000) >> (32 - prefix)
                                               << (32 - prefix), prefix)))
        elif kind in ("sender", "recipient"):
            value = "user%d@d%d.example" % (rnd.randrange(10**6), rnd.randrange(5000))
        else:
            value = "d%d-%d.example" % (i, rnd.randrange(5000))
        out.append(("r%d" % i, "black" if black else "white", kind, value, "reject" if black else ""))
    out.append(("probe", "black", "sender", PROBE_SENDER if blocked else "other@blocked.example", "reject"))
    return out


class Probe:
    """Runs FUNC (returning a result) in a thread, 5 ms apart; keeps
    (start, end, result) of every run."""

    def __init__(self, func):
        self.func, self.runs, self.stop, self.error = func, [], threading.Event(), None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.stop.wait(0.005):
                t0 = time.monotonic()
                result = self.func()
                self.runs.append((t0, time.monotonic(), result))
        except (OSError, AssertionError) as e:
            self.error = e

    def end(self):
        self.stop.set()
        self.thread.join()


def transaction_probe(d):
    """A session of its own (the daemon holds RSET and the like back as junk):
    greeting, EHLO, MAIL, RCPT; whether the rule rejected the sender."""
    def run():
        with session(d) as c:
            mail = c.cmd("MAIL FROM:<%s>" % PROBE_SENDER).code
            rcpt = c.cmd("RCPT TO:<bench@%s>" % DOMAIN).code
        return mail >= 500 or rcpt >= 500
    return run


def greeting_probe(d):
    def run():
        with H.RawSMTP(d.host, d.port) as c:
            c.greeting()
    return run


def durations(runs, windows, inside):
    """Durations of the runs that overlap one of WINDOWS (inside) or none."""
    out = []
    for t0, t1, _ in runs:
        overlaps = any(t0 < b and t1 > a for a, b in windows)
        if overlaps == inside:
            out.append(t1 - t0)
    return out


def swap_bench(d, sizes, swaps):
    dbus = d.dbus()
    check = transaction_probe(d)
    tx = Probe(transaction_probe(d))
    greet = Probe(greeting_probe(d))
    head = "%8s %18s %22s %22s %22s %8s"
    print(head % ("rules", "call ms", "seen after reply ms", "tx ms during calls", "greeting ms during", "RSS"))
    print(head % ("", "(new / p50 other)", "(p50 / p99 / max)", "(p50 / p99 / max)", "(p50 / p99 / max)", "MiB"))
    windows_all = []
    L.reset_peak(d.proc.pid)
    for n in sizes:
        variants = [GLib.Variant("(a(sssss)b)", (rules(n, blocked, seed=n), False)) for blocked in (True, False)]
        calls, seen, windows = [], [], []
        for k in range(swaps):
            blocked = k % 2 == 0
            t0 = time.monotonic()
            dbus.raw_call(H.BUS_NAME, H.OBJ_PATH, H.IFACE_SECURITY, "ReplaceRules", variants[k % 2],
                          timeout_ms=600000)
            t1 = time.monotonic()
            windows.append((t0, t1))
            calls.append(t1 - t0)
            while check() != blocked:
                if time.monotonic() > t1 + 60:
                    raise SystemExit("the rules did not change within 60 s")
            seen.append(time.monotonic() - t1)
            if tx.error or greet.error:
                raise SystemExit("a probe failed: %r %r" % (tx.error, greet.error))
            time.sleep(0.2)
        windows_all += windows
        print((head.replace("%8s", "%8d", 1).replace("%8s", "%8.1f")) % (
            n, "%.0f / %.0f" % (ms(calls[0]), ms(statistics.median(calls[1:] or calls))), summary(seen),
            summary(durations(tx.runs, windows, True)), summary(durations(greet.runs, windows, True)),
            L.memory_kib(d.proc.pid)["rss"] / 1024))
    tx.end()
    greet.end()
    print(head % ("outside", "", "", summary(durations(tx.runs, windows_all, False)),
                  summary(durations(greet.runs, windows_all, False)), ""))
    print("transactions %d, greetings %d; relaisd peak RSS (VmHWM) during the swaps %.1f MiB"
          % (len(tx.runs), len(greet.runs), L.memory_kib(d.proc.pid)["hwm"] / 1024))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--relaisd", default=L.default_relaisd())
    ap.add_argument("--samples", type=int, default=200, help="Updates timed of each setting")
    ap.add_argument("--sizes", default="10,10000,100000", help="rule counts for ReplaceRules")
    ap.add_argument("--swaps", type=int, default=6, help="ReplaceRules calls per size")
    args = ap.parse_args()

    with L.BenchDaemon(args.relaisd) as bench:
        d = bench.daemon
        d.setup_mailbox("bench", DOMAIN)
        d.add_account("bench2")
        base = greeting_baseline(d, args.samples)
        banner = banner_samples(d, args.samples)
        recipients = max_recipients_samples(d, args.samples)
        print("General.Update -> first SMTP exchange that sees it (%d samples each)" % args.samples)
        print("%-40s %24s %24s %s" % ("", "Update call ms", "seen after reply ms", "probes"))
        print("%-40s %24s %24s" % ("", "(p50 / p99 / max)", "(p50 / p99 / max)"))
        print("%-40s %24s %24s" % ("a new connection's greeting, no Update", "", summary(base)))
        print("%-40s %24s %24s %d" % ("Banner: a new connection's greeting", summary(banner[0]),
                                      summary(banner[1]), banner[2]))
        print("%-40s %24s %24s %d" % ("MaxRecipients: next transaction", summary(recipients[0]),
                                      summary(recipients[1]), recipients[2]))
        print()
        print("Security.ReplaceRules: snapshot swap with SMTP clients at work (%d calls per size)" % args.swaps)
        swap_bench(d, [int(x) for x in args.sizes.split(",")], args.swaps)


if __name__ == "__main__":
    main()
