#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reception throughput of the real relaisd: N parallel smtplib clients send M
messages each to a local account on loopback; prints messages/s accepted (each
250 means fsynced and committed), latency percentiles and the group-commit
effect. A benchmark, not a test: it prints figures and asserts nothing.

    tests/bench/smtp-throughput.py [--relaisd build/daemon/relaisd] [--clients 20]
                                   [--messages 50] [--size 4096]
"""
import argparse
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("relaisd did not open its SMTP port")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--relaisd", default=os.path.join(here, "..", "..", "build", "daemon", "relaisd"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--messages", type=int, default=50, help="per client")
    ap.add_argument("--size", type=int, default=4096, help="body bytes")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="relais-bench-")
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = bus.stdout.readline().strip()
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    port = free_port()
    log = open(os.path.join(tmp, "relaisd.log"), "w")
    daemon = subprocess.Popen([args.relaisd, "--session", "--state-dir", os.path.join(tmp, "state"),
                               "--listen", "127.0.0.1:%d" % port], env=env, stderr=log)
    try:
        subprocess.run(["gdbus", "wait", "--session", "--timeout", "10", "org.relais.Relais1"],
                       env=env, check=True)
        wait_port(port, time.monotonic() + 10)
        busctl = ["busctl", "--user", "call", "org.relais.Relais1", "/org/relais/Relais1",
                  "org.relais.Relais1.Accounts"]
        subprocess.run(busctl + ["AddLocalDomain", "sb", "bench.test", "false"], env=env, check=True)
        subprocess.run(busctl + ["AddAccount", "ssasasb", "bench", "bench-password", "0", "0", "false"],
                       env=env, check=True)

        body = ("x" * 76 + "\r\n") * max(1, args.size // 78)
        latencies, errors, lock = [], [], threading.Lock()

        def client(i):
            try:
                with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.client.test", timeout=60) as s:
                    for j in range(args.messages):
                        msg = "Subject: bench %d-%d\r\n\r\n%s" % (i, j, body)
                        t0 = time.monotonic()
                        s.sendmail("sender@client.test", ["bench@bench.test"], msg)
                        with lock:
                            latencies.append(time.monotonic() - t0)
            except Exception as e:   # report, don't hide
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        latencies.sort()
        n = len(latencies)
        pct = lambda p: latencies[min(n - 1, int(p * n))] * 1000 if n else float("nan")
        print("clients %d, messages %d, body %d bytes" % (args.clients, n, len(body)))
        print("accepted/s %.1f" % (n / elapsed))
        print("latency ms p50 %.1f p90 %.1f p99 %.1f max %.1f" % (pct(.5), pct(.9), pct(.99), pct(1)))
        print("errors %d%s" % (len(errors), (": " + errors[0]) if errors else ""))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)
        bus.terminate()
        bus.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
