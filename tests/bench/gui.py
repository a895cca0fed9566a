#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""relais-settings against a real relaisd on a private session bus, on a
private Xvfb, driven through its test hook. Prints:
- live updates: from the reply to a `busctl --user call ... General Update`
  of MaxRecipients to the open app showing the new value, and from the app's
  Apply to `busctl --user get-property` returning it (median and worst of N);
- the Security page with many black/white rules: how long the app takes to
  show them after ReplaceRules (from the D-Bus reply to the count shown), to
  show one more rule added, to filter them down to one by value and back, and
  the app's resident memory.
A benchmark, not a test: it prints figures and asserts nothing.

    tests/bench/gui.py [--build build] [--samples 20] [--sizes 10,1000,10000,50000]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import gui_helpers as G  # noqa: E402
import relais_helpers as H  # noqa: E402

IFACE = "org.relais.Relais1.Security"


class Request:
    """Stands in for pytest's request: collects finalizers."""

    def __init__(self):
        self.finalizers = []

    def addfinalizer(self, f):
        self.finalizers.append(f)

    def close(self):
        for f in reversed(self.finalizers):
            f()


def rules(n):
    out = []
    for i in range(n):
        if i % 2:
            out.append(("net-%d" % i, "black", "subnet", "10.%d.%d.0/24" % (i // 256 % 256, i % 256), "reject"))
        else:
            out.append(("sender-%d" % i, "white" if i % 3 == 0 else "black", "sender",
                        "user%d@example%d.org" % (i, i % 97), "reject" if i % 3 else ""))
    return out


def wait_count(app, total, shown, timeout=120):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if tuple(app.value("Security.rules-count")) == (total, shown):
            return time.monotonic()
        time.sleep(0.005)
    sys.exit("the app did not show %d/%d rules within %ds" % (shown, total, timeout))


def busctl(bus, *args):
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus)
    return subprocess.run(["busctl", "--user"] + [str(a) for a in args], env=env, check=True,
                          capture_output=True, text=True, timeout=20).stdout


def latencies(app, bus, samples):
    """(busctl Update -> app shows, app Apply -> busctl get-property shows), in seconds."""
    to_app, to_daemon = [], []
    general = ("org.relais.Relais1", "/org/relais/Relais1", "org.relais.Relais1.General")
    for i in range(samples):
        value = 200 + i
        busctl(bus, "call", *general, "Update", "a{sv}b", 1, "MaxRecipients", "u", value, "false")
        t0 = time.monotonic()
        while app.value("General.MaxRecipients") != value:
            time.sleep(0.001)
        to_app.append(time.monotonic() - t0)

        app.set("General.MaxRecipients", value + 1000, "u")
        t0 = time.monotonic()
        app.action("win.apply")
        while busctl(bus, "get-property", *general, "MaxRecipients").strip() != "u %d" % (value + 1000):
            pass
        to_daemon.append(time.monotonic() - t0)
    return to_app, to_daemon


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--sizes", default="10,1000,10000,50000")
    args = p.parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("RELAIS_BUILD_ROOT", build)
    os.environ.setdefault("RELAISD", os.path.join(build, "daemon", "relaisd"))

    work = tempfile.mkdtemp(prefix="relais-bench-gui-")
    request = Request()
    bus = H.MessageBus.start_session(work)
    request.addfinalizer(bus.stop)
    xvfb = G.Xvfb(work)
    request.addfinalizer(xvfb.stop)
    try:
        state = os.path.join(work, "d")
        os.mkdir(state)
        daemon = H.make_daemon(request, _Path(state), bus.address)
        daemon.start()
        app = G.App(work, xvfb.display, bus.address)
        request.addfinalizer(app.stop)
        H.wait_for(lambda: app.state()["connected"], 20, "the app to connect")
        to_app, to_daemon = latencies(app, bus.address, args.samples)
        for what, xs in (("busctl Update -> shown in the app", to_app),
                         ("Apply in the app -> busctl get-property", to_daemon)):
            print("%-42s median %6.1f ms, worst %6.1f ms (%d samples)"
                  % (what, statistics.median(xs) * 1000, max(xs) * 1000, len(xs)))
        print()
        app.show_page("security")
        print("%8s %12s %12s %12s %12s %10s" % ("rules", "shown (ms)", "+1 (ms)", "filter (ms)",
                                               "unfilter (ms)", "RSS (MiB)"))
        for n in [int(x) for x in args.sizes.split(",")]:
            app.set("Security.filter", "")
            daemon.dbus().call(IFACE, "ReplaceRules", "(a(sssss)b)", (rules(n), False), timeout_ms=300000)
            t0 = time.monotonic()
            shown = wait_count(app, n, n) - t0
            daemon.dbus().call(IFACE, "AddRule", "(sssssb)",
                               ("one-more", "black", "ip", "192.0.2.200", "reject", False))
            t0 = time.monotonic()
            added = wait_count(app, n + 1, n + 1) - t0
            t0 = time.monotonic()
            app.set("Security.filter", "192.0.2.200")
            filtered = wait_count(app, n + 1, 1) - t0
            t0 = time.monotonic()
            app.set("Security.filter", "")
            unfiltered = wait_count(app, n + 1, n + 1) - t0
            print("%8d %12.1f %12.1f %12.1f %12.1f %10.1f" % (n, shown * 1000, added * 1000, filtered * 1000,
                                                             unfiltered * 1000, rss_kib(app.proc.pid) / 1024))
    finally:
        request.close()


class _Path(str):
    """The bit of pathlib make_daemon uses (tmp_path / "name", .mkdir())."""

    def __truediv__(self, other):
        return _Path(os.path.join(self, other))

    def mkdir(self):
        os.makedirs(self, exist_ok=True)


if __name__ == "__main__":
    main()
