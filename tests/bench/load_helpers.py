# SPDX-License-Identifier: GPL-3.0-or-later
"""What the load benchmarks (idle-sessions, large-message, live-config) share:
a relaisd of the binary given on a private session bus in a temporary state
dir, with the integration tests' helpers (tests/integration/relais_helpers.py)
and no debug log, and the daemon's memory as /proc tells it."""

import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import relais_helpers as H  # noqa: E402


def default_relaisd():
    return os.path.join(HERE, "..", "..", "build", "daemon", "relaisd")


class BenchDaemon:
    """`with BenchDaemon(path) as d:` a started relaisd (SMTP on loopback
    only) on a bus of its own; d.daemon is a relais_helpers.Daemon. The log
    is kept (its path printed) when the benchmark fails."""

    def __init__(self, relaisd, launcher=()):
        os.environ["RELAISD"] = os.path.abspath(relaisd)
        self.work = tempfile.mkdtemp(prefix="relais-bench-")
        self.bus = H.MessageBus.start_session(self.work)
        state = os.path.join(self.work, "state")
        os.mkdir(state)
        self.daemon = H.Daemon(self.bus.address, state, os.path.join(self.work, "relaisd.log"),
                               submission=False, smtps=False, extra_env={"G_MESSAGES_DEBUG": ""})
        self.daemon.launcher = list(launcher)

    def __enter__(self):
        try:
            self.daemon.start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, kind, value, tb):
        try:
            if self.daemon.alive():
                self.daemon.stop()
        finally:
            if self.daemon.alive():
                self.daemon.proc.kill()
            if self.daemon._dbus is not None:
                self.daemon._dbus.close()
            self.bus.stop()
            if kind is None:
                shutil.rmtree(self.work, ignore_errors=True)
            else:
                print("relaisd's log: %s" % self.daemon.log_path, file=sys.stderr)

    @property
    def pid(self):
        return self.daemon.proc.pid


def memory_kib(pid):
    """{"rss", "hwm" (peak RSS), "pss"} in KiB from /proc/PID/status and smaps_rollup."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["hwm"] = int(line.split()[1])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                out["pss"] = int(line.split()[1])
    return out


def reset_peak(pid):
    """Start VmHWM again from the current RSS (proc(5), clear_refs value 5)."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def cpu_seconds(pid):
    """User + system CPU time of PID so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]
