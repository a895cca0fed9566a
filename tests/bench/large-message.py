#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""One large message (100 MB by default) sent to a local mailbox of the real
relaisd, once with DATA and once with BDAT (CHUNKING, 1 MiB chunks), from a
raw socket that streams it; for each, relaisd's RSS before, its peak while
receiving (up to the 250) and while delivering to the Maildir (VmHWM, reset
before each phase through /proc/PID/clear_refs, and VmRSS sampled every
10 ms), and after (issue 9: growth under 16 MB). MaxMessageSizeMB is raised
over D-Bus first:
  busctl --user call org.relais.Relais1 /org/relais/Relais1 \\
      org.relais.Relais1.General Update 'a{sv}b' 1 MaxMessageSizeMB u 200 false
A benchmark, not a test: it prints figures and asserts nothing.

    tests/bench/large-message.py [--relaisd build/daemon/relaisd] [--size-mb 100]
"""
import argparse
import threading
import time

import load_helpers as L

DOMAIN = "bench.test"
CHUNK = 1 << 20
LINE = b"x" * 998 + b"\r\n"        # the longest line RFC 5321 allows


class Sampler:
    """VmRSS of PID every 10 ms, in a thread; .peak in KiB."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, L.memory_kib(self.pid)["rss"])
            time.sleep(0.01)

    def end(self):
        self.stop.set()
        self.thread.join()
        return max(self.peak, L.memory_kib(self.pid)["rss"])


def message(size_mb):
    """SIZE_MB MiB: a header, then lines of 1,000 bytes."""
    head = b"From: <sender@client.test>\r\nTo: <bench@bench.test>\r\nSubject: large\r\n\r\n"
    body = LINE * ((size_mb * CHUNK - len(head)) // len(LINE))
    return head + body + b"y" * ((size_mb * CHUNK - len(head)) % len(LINE) - 2) + b"\r\n"


def send(d, how, data):
    c = L.H.RawSMTP(d.host, d.port, timeout=300)
    c.greeting()
    c.ehlo("large.client.test")
    for line, code in (("MAIL FROM:<sender@client.test> SIZE=%d" % len(data), 250),
                       ("RCPT TO:<bench@%s>" % DOMAIN, 250)) + ((("DATA", 354),) if how == "DATA" else ()):
        expect(c.cmd(line), code)
    if how == "DATA":
        c.send(data)
        expect(c.cmd("."), 250)
    else:
        view = memoryview(data)
        for offset in range(0, len(data), CHUNK):
            piece = view[offset:offset + CHUNK]
            c.send(b"BDAT %d%s\r\n" % (len(piece), b" LAST" if offset + CHUNK >= len(data) else b""))
            c.send(piece)
            expect(c.reply(), 250)
    c.close()


def expect(reply, code):
    if reply.code != code:
        raise SystemExit("expected %d, got %r" % (code, reply))


def mib(kib):
    return kib / 1024


def run(d, pid, how, data, delivered):
    before = L.memory_kib(pid)["rss"]
    L.reset_peak(pid)
    sampler = Sampler(pid)
    t0 = time.monotonic()
    send(d, how, data)
    received = time.monotonic() - t0
    receive_peak = max(sampler.end(), L.memory_kib(pid)["hwm"])

    L.reset_peak(pid)
    sampler = Sampler(pid)
    t0 = time.monotonic()
    messages = d.wait_messages(delivered + 1, login="bench", timeout=300)
    delivery = time.monotonic() - t0
    deliver_peak = max(sampler.end(), L.memory_kib(pid)["hwm"])
    size = len(messages[-1])
    time.sleep(1)
    after = L.memory_kib(pid)["rss"]
    peak = max(receive_peak, deliver_peak)
    print("%-5s %9.1f %10.1f %10.1f %9.1f %9.1f %8.1f %8.1f %9.0f"
          % (how, mib(before), mib(receive_peak), mib(deliver_peak), mib(after), mib(peak - before),
             received, delivery, len(data) / received / 1e6))
    return size, peak - before


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--relaisd", default=L.default_relaisd())
    ap.add_argument("--size-mb", type=int, default=100, help="message size in MiB")
    args = ap.parse_args()

    with L.BenchDaemon(args.relaisd) as bench:
        d = bench.daemon
        d.update(MaxMessageSizeMB=args.size_mb + 100)
        d.setup_mailbox("bench", DOMAIN)
        print("message of %d MiB to a local mailbox; MaxMessageSizeMB raised to %d over D-Bus"
              % (args.size_mb, args.size_mb + 100))
        print()
        print("%-5s %9s %10s %10s %9s %9s %8s %8s %9s" % ("", "RSS MiB", "peak recv", "peak dlvr", "after",
                                                        "growth", "recv s", "dlvr s", "MB/s in"))
        growths, sizes = [], []
        data = message(args.size_mb)
        for i, how in enumerate(("DATA", "BDAT")):
            size, growth = run(d, bench.pid, how, data, i)
            growths.append(growth)
            sizes.append(size)
        print()
        print("sent %d bytes each time; delivered (Maildir: LF line ends, our Received field): %s bytes"
              % (len(data), ", ".join(str(s) for s in sizes)))
        print("largest RSS growth: %.1f MiB = %.1f MB (target < 16 MB)"
              % (mib(max(growths)), max(growths) * 1024 / 1e6))


if __name__ == "__main__":
    main()
