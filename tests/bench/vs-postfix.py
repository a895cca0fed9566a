#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Relais against Postfix on the same machine, under the same load.

Starts, on loopback ports, a private Postfix instance (its own config, queue
and data directories; the system's /etc/postfix is never used) and relaisd
(its own state dir, private session bus). Both relay the test domain
sink.bench.test to an smtp-sink; both answer 250 only after the message is
fsynced. Postfix's smtp-source drives the same load against each, one
message per connection unless --keep-connections, alternating
ceiling, Postfix, Relais, ceiling, Postfix, Relais, ... (--runs rounds per
cell); the ceiling is smtp-source straight into an smtp-sink, no MTA.

Prints, per cell (sessions x message size), the medians of the runs:
messages/s accepted (smtp-source's run time), messages/s delivered (until
the sink counted them all), CPU seconds per 1,000 messages (relaisd's
process; for Postfix every process under its master, exited ones included
through master's reaped-children times), peak RSS and PSS (sampled from
/proc/PID/smaps_rollup, summed over the processes) and the Relais/Postfix
ratios. A benchmark, not a test: it prints figures and asserts nothing.

Needs root (apt-get, Postfix's privilege separation, a network namespace).
Installs Debian's postfix package if smtp-source is missing, without
configuring or starting the system's Postfix. Unless --no-netns it runs in
build-aux/with-test-net (a private network namespace with only loopback),
so nothing outside this machine can be reached.

    meson setup build-release --buildtype=release && ninja -C build-release
    tests/bench/vs-postfix.py --relaisd build-release/daemon/relaisd [--quick]
        [--runs 3] [--sessions 1,10,50] [--sizes 1,10,100] [--scale 1.0]
        [--keep-connections] [--perf FILE] [--strace FILE] [--relaisd-b OTHER]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

SINK_DOMAIN = "sink.bench.test"
SENDER = "source@client.bench.test"
RECIPIENT = "user@" + SINK_DOMAIN
CLIENT_HELO = "client.bench.test"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# messages per run for 1 KiB and 10 KiB by sessions; half of it for 100 KiB
COUNTS = {1: 600, 10: 2000, 50: 3000}
# as seen with strace -f on both
DURABILITY = ("No 250 before fsync on either side: Postfix's cleanup fsyncs each queue file "
              "before smtpd answers 250 (always, there is no setting for it); relaisd fsyncs the "
              "spool file (and its directory, for a new file: a reused one's name is durable "
              "already) and commits the queue row (fdatasync) first, once for all the sessions "
              "waiting together.")


def note(text):
    """Progress goes to stderr; the results go to stdout."""
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Installing Postfix (its tools smtp-source and smtp-sink come with it)
# --------------------------------------------------------------------------

def ensure_postfix():
    if all(os.access(p, os.X_OK) for p in ("/usr/sbin/postfix", "/usr/sbin/smtp-source",
                                           "/usr/sbin/smtp-sink")):
        return
    note("installing Debian's postfix package (not configured, not started)")
    # "No configuration": the package writes no /etc/postfix/main.cf; no
    # package script may start a service while installing (policy-rc.d 101).
    subprocess.run(["debconf-set-selections"], check=True, text=True,
                   input="postfix postfix/main_mailer_type select No configuration\n")
    policy_rc = "/usr/sbin/policy-rc.d"
    ours = not os.path.exists(policy_rc)
    if ours:
        with open(policy_rc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy_rc, 0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=900"]
    try:
        subprocess.run(apt + ["update", "-q"], env=env, check=True)
        subprocess.run(apt + ["install", "-y", "-q", "--no-install-recommends", "postfix"],
                       env=env, check=True)
    finally:
        if ours:
            os.unlink(policy_rc)


# --------------------------------------------------------------------------
# /proc: CPU time and memory of a set of processes
# --------------------------------------------------------------------------

def proc_stat(pid):
    """(ppid, user seconds, kernel seconds) of PID, its reaped children's
    included, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime stime cutime cstime 14..17
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return int(fields[1]), (utime + cutime) / CLK_TCK, (stime + cstime) / CLK_TCK


def descendants(root):
    """ROOT and every process whose parent chain leads to it."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(pids):
    """(user, kernel) CPU seconds of these processes and of their exited,
    reaped children."""
    stats = [st for st in map(proc_stat, pids) if st]
    return sum(st[1] for st in stats), sum(st[2] for st in stats)


def rss_pss_kib(pid):
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class MemorySampler:
    """Samples the summed RSS and PSS of pids() every INTERVAL seconds in a
    thread; keeps the peaks and the largest number of processes."""

    INTERVAL = 0.2

    def __init__(self, pids):
        self.pids = pids
        self.rss = self.pss = self.procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        pids = self.pids()
        rss = pss = 0
        for pid in pids:
            r, p = rss_pss_kib(pid)
            rss += r
            pss += p
        self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
        self.procs = max(self.procs, len(pids))

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.INTERVAL)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


# --------------------------------------------------------------------------
# smtp-sink, the receiving end of every path
# --------------------------------------------------------------------------

class Sink:
    """smtp-sink on a loopback port; counts the messages it received (its -c
    counters, "sess=N quit=N mesg=N" lines ended by a carriage return)."""

    def __init__(self, port):
        self.port = port
        self.count = self.sessions = 0
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(["smtp-sink", "-c", "-u", "nobody", "-m", "1024",
                                      "127.0.0.1:%d" % port, "1024"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return
            buf += chunk
            *records, buf = buf.split(b"\r")
            if not records:
                continue
            counters = dict(w.split(b"=", 1) for w in records[-1].split() if b"=" in w)
            with self.cond:
                self.sessions = int(counters.get(b"sess", self.sessions))
                self.count = int(counters.get(b"mesg", self.count))
                self.cond.notify_all()

    def wait_count(self, n, timeout):
        """monotonic time at which the count reached N (None after TIMEOUT)."""
        with self.cond:
            if self.cond.wait_for(lambda: self.count >= n, timeout):
                return time.monotonic()
        return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


# --------------------------------------------------------------------------
# The three paths to a sink: none (the ceiling), Postfix, Relais
# --------------------------------------------------------------------------

class Ceiling:
    """smtp-source straight into an smtp-sink."""

    name = "ceiling"

    def __init__(self, sink):
        self.sink = sink
        self.port = sink.port

    def pids(self):
        return []

    def stop(self):
        pass


class Postfix:
    """A private Postfix instance: postfix -c DIR/etc start. Debian's stock
    master.cf with every chroot off (the private queue has no chroot files)
    and the SMTP service on our port; main.cf sets only what this instance
    needs, the rest is Postfix's defaults: mynetworks may relay, everything
    goes to the sink as the relayhost."""

    name = "Postfix"

    def __init__(self, directory, port, sink):
        self.port, self.sink, self.master = port, sink, None
        self.conf = os.path.join(directory, "etc")
        self.queue = os.path.join(directory, "queue")
        self.maillog = os.path.join(directory, "maillog")
        data = os.path.join(directory, "data")
        for d in (self.conf, self.queue, data):
            os.makedirs(d)
        shutil.chown(data, "postfix")
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": data,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": directory,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "postfix.bench.test",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "[127.0.0.1]:%d" % sink.port,
            "alias_maps": "",
            "alias_database": "",
            "smtp_dns_support_level": "disabled",
            "biff": "no",
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.writelines("%s = %s\n" % kv for kv in main.items())
        shutil.copy("/usr/share/postfix/master.cf.dist", os.path.join(self.conf, "master.cf"))
        postconf = ["postconf", "-c", self.conf]
        subprocess.run(postconf + ["-F", "*/*/chroot = n"], check=True)
        subprocess.run(postconf + ["-MX", "smtp/inet"], check=True)
        subprocess.run(postconf + ["-Me", "127.0.0.1:%d/inet = 127.0.0.1:%d inet n - n - - smtpd"
                                   % (port, port)], check=True)
        self.version = subprocess.run(postconf + ["-h", "mail_version"], capture_output=True,
                                      text=True).stdout.strip()

    def start(self):
        if subprocess.run(["postfix", "-c", self.conf, "start"]).returncode != 0:
            with open(self.maillog, errors="replace") as f:
                sys.exit("postfix start failed:\n" + f.read())
        pidfile = os.path.join(self.queue, "pid", "master.pid")
        deadline = time.monotonic() + 20
        while self.master is None and time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    self.master = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.1)
        if self.master is None:
            sys.exit("Postfix's master did not write %s" % pidfile)

    def pids(self):
        return descendants(self.master)

    def stop(self):
        if self.master:
            subprocess.run(["postfix", "-c", self.conf, "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 20
            while proc_stat(self.master) and time.monotonic() < deadline:
                time.sleep(0.1)


class Relais:
    """relaisd on its own state dir and private session bus (the shared test
    helpers' MessageBus and Daemon), relaying everything to the sink as its
    one relay host; loopback is a trusted network, as mynetworks is for
    Postfix."""

    def __init__(self, directory, sink, binary, name="Relais"):
        import relais_helpers as H
        self.H, self.sink, self.name = H, sink, name
        state = os.path.join(directory, "state")
        os.makedirs(state)
        self.bus = H.MessageBus.start(directory)
        # G_MESSAGES_DEBUG empty: the daemon logs as in production, info and up
        self.daemon = H.Daemon(self.bus.address, state, os.path.join(directory, "relaisd.log"),
                               submission=False, smtps=False, extra_env={"G_MESSAGES_DEBUG": ""})
        self.daemon.binary = binary
        self.port = self.daemon.port

    def start(self):
        d, v = self.daemon, self.H.guess_variant
        d.start()
        d.dbus().call("org.relais.Relais1.Distribution", "Update", "(a{sv}b)",
                      ({"Mode": v("relay-host"), "RelayServer": v("127.0.0.1"),
                        "RelayPort": v(self.sink.port)}, False))
        d.dbus().call("org.relais.Relais1.RelayControl", "AddTrustedNetwork", "(ssb)",
                      ("loopback", "127.0.0.0/8", False))
        # as Postfix exempts mynetworks from its per-client connection limit
        d.update_security(LimitConnections=False)
        d.update(Hostname="relais.bench.test")

    def pids(self):
        return [self.daemon.proc.pid]

    def stop(self):
        try:
            if self.daemon.alive():
                self.daemon.stop()
        finally:
            self.bus.stop()


# --------------------------------------------------------------------------
# Runs, cells, the table
# --------------------------------------------------------------------------

def run_once(path, sessions, size_kib, count, keep):
    """Sends COUNT messages of SIZE_KIB through PATH with smtp-source."""
    sink = path.sink
    base, sink_sessions = sink.count, sink.sessions
    argv = ["smtp-source", "-s", str(sessions), "-m", str(count), "-l", str(size_kib * 1024),
            "-f", SENDER, "-t", RECIPIENT, "-M", CLIENT_HELO, "-S", "bench"]
    argv += ["-d"] if keep else []
    user0, kernel0 = cpu_seconds(path.pids())
    with MemorySampler(path.pids) as mem:
        start = time.monotonic()
        p = subprocess.run(argv + ["127.0.0.1:%d" % path.port], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        accepted = time.monotonic() - start
        reached = sink.wait_count(base + count, 120 + count / 20)
        time.sleep(0.5)     # the removal of the last queue entries is part of the cost
        user1, kernel1 = cpu_seconds(path.pids())
    if p.returncode != 0 or p.stderr.strip():
        note("  smtp-source exited with %d: %s" % (p.returncode, p.stderr.strip()[:300]))
    if reached is None:
        note("  only %d of %d messages reached the sink" % (sink.count - base, count))
    return {
        "accepted": count / accepted,
        "delivered": count / (reached - start) if reached else 0.0,
        "cpu": (user1 + kernel1 - user0 - kernel0) * 1000 / count,
        "kernel": (kernel1 - kernel0) * 1000 / count,
        "rss": mem.rss / 1024,
        "pss": mem.pss / 1024,
        "procs": mem.procs,
        "sink_sessions": sink.sessions - sink_sessions,
    }


def message_count(sessions, size_kib, scale):
    base = COUNTS.get(sessions, max(600, sessions * 60))
    if size_kib >= 100:
        base //= 2
    return max(sessions, int(base * scale))


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def ratios(cell, name="Relais", base="Postfix"):
    out = {}
    for key in ("accepted", "delivered", "cpu", "rss", "pss"):
        p = median(cell[base], key)
        out[key] = median(cell[name], key) / p if p else float("nan")
    return out


def row(*cells):
    print("| " + " | ".join(cells) + " |")


def print_table(results, args):
    print()
    print("Relais vs Postfix: medians of %d runs per cell; %s; %d CPUs."
          % (args.runs, "every session's messages over one connection" if args.keep_connections
             else "one message per connection", os.cpu_count()))
    print()
    row("sessions × size", "server", "accepted/s", "delivered/s", "CPU s/1000 msg (kernel)",
        "peak RSS MB", "peak PSS MB", "processes")
    row("---", "---", "---:", "---:", "---:", "---:", "---:", "---:")
    for (sessions, size), cell in results.items():
        label = "%d × %d KiB" % (sessions, size)
        names = [n for n in ("Postfix", "Relais", "Relais B") if n in cell]
        for name in names:
            runs = cell[name]
            row(label if name == "Postfix" else "", name,
                "%.0f" % median(runs, "accepted"), "%.0f" % median(runs, "delivered"),
                "%.2f (%.2f)" % (median(runs, "cpu"), median(runs, "kernel")),
                "%.1f" % median(runs, "rss"), "%.1f" % median(runs, "pss"),
                "%d" % round(median(runs, "procs")))
        for name, base in (("Relais", "Postfix"), ("Relais B", "Postfix"), ("Relais B", "Relais")):
            if name not in cell:
                continue
            r = ratios(cell, name, base)
            row("", "**%s/%s**" % (name, base), "**%.2f×**" % r["accepted"], "**%.2f×**" % r["delivered"],
                "**%.2f×**" % r["cpu"], "%.2f×" % r["rss"], "%.2f×" % r["pss"], "")
        row("", "ceiling (no MTA)", "%.0f" % median(cell["ceiling"], "accepted"),
            "%.0f" % median(cell["ceiling"], "delivered"), "", "", "", "")
    if (10, 10) in results:
        r = ratios(results[(10, 10)])
        print()
        print("Issue 9's targets at 10 sessions × 10 KiB:")
        for what, value, ok in (("accepted ≥ 3× Postfix", r["accepted"], r["accepted"] >= 3),
                                ("delivered ≥ 2.5× Postfix", r["delivered"], r["delivered"] >= 2.5),
                                ("CPU per message ≤ ⅓ of Postfix's", r["cpu"], r["cpu"] <= 1 / 3)):
            print("- %s: %.2f×, %s" % (what, value, "holds" if ok else "does not hold"))


def profile_run(relais, args, tool, path):
    """One more Relais run of the 10 × 10 KiB cell (else the first cell)
    under perf record -g or strace -f -c -w (the wall time of each system
    call, fsync's waits included); not counted in the table."""
    sessions, size = (10, 10) if 10 in args.sessions and 10 in args.sizes \
        else (args.sessions[0], args.sizes[0])
    path = os.path.abspath(path)
    pid = str(relais.pids()[0])
    argv = (["perf", "record", "--call-graph", os.environ.get("RELAIS_PERF_CALLGRAPH", "fp"), "-q", "-o", path, "-p", pid] if tool == "perf"
            else ["strace", "-f", "-c", "-w", "-o", path, "-p", pid])
    tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    run_once(relais, sessions, size, message_count(sessions, size, args.scale), args.keep_connections)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(60)
    note("%s of relaisd at %d × %d KiB: %s" % (
        tool, sessions, size, "perf report -i %s --no-children" % path if tool == "perf" else path))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--relaisd", help="the relaisd binary (default: build-release/daemon/relaisd, "
                    "else build/daemon/relaisd)")
    ap.add_argument("--relaisd-b", metavar="PATH",
                    help="a second relaisd (another build, say) run in the same rotation: a row "
                    "'Relais B' and its ratios to Postfix and to the first, where noise between "
                    "separate invocations would hide a small difference (the two share the "
                    "binary's pages, which lowers both PSS figures)")
    ap.add_argument("--quick", action="store_true",
                    help="only 1 and 10 sessions × 10 KiB, a quarter of the messages")
    ap.add_argument("--runs", type=int, default=3,
                    help="rounds per cell (default 3; 0: no table, only --perf or --strace)")
    ap.add_argument("--sessions", default="1,10,50", help="parallel sessions, comma-separated")
    ap.add_argument("--sizes", default="1,10,100", help="message sizes in KiB, comma-separated")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the messages per run")
    ap.add_argument("--keep-connections", action="store_true",
                    help="send all the messages of a session over one connection (smtp-source -d)")
    ap.add_argument("--perf", metavar="FILE",
                    help="after the table, record a perf profile of relaisd into FILE (call "
                    "graphs by frame pointers, or as RELAIS_PERF_CALLGRAPH says, e.g. dwarf,16384)")
    ap.add_argument("--strace", metavar="FILE",
                    help="after the table, count relaisd's system calls (strace -c -w) into FILE")
    ap.add_argument("--no-netns", action="store_true",
                    help="do not run inside build-aux/with-test-net")
    args = ap.parse_args()
    if args.quick:
        args.sessions, args.sizes, args.scale = "1,10", "10", args.scale / 4
    args.sessions = [int(x) for x in args.sessions.split(",")]
    args.sizes = [int(x) for x in args.sizes.split(",")]
    if args.relaisd is None:
        for build in ("build-release", "build"):
            args.relaisd = os.path.join(ROOT, build, "daemon", "relaisd")
            if os.access(args.relaisd, os.X_OK):
                break
    args.relaisd = os.path.abspath(args.relaisd)
    for path in (args.relaisd, args.relaisd_b):
        if path is not None and not os.access(path, os.X_OK):
            sys.exit("no relaisd at %s: build it or pass --relaisd" % path)
    if args.relaisd_b is not None:
        args.relaisd_b = os.path.abspath(args.relaisd_b)
    return args


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: apt-get, Postfix's privilege separation, a network namespace")
    if os.environ.get("RELAIS_TEST_NET") != "1" and not args.no_netns:
        ensure_postfix()    # out here: apt-get needs the network
        argv = [os.path.join(ROOT, "build-aux", "with-test-net"), "--", sys.executable,
                os.path.abspath(__file__)] + sys.argv[1:]
        os.execv(argv[0], argv)
    ensure_postfix()
    os.environ["RELAISD"] = args.relaisd
    import relais_helpers as H

    tmp = tempfile.mkdtemp(prefix="relais-vs-postfix-")
    os.chmod(tmp, 0o755)    # Postfix's unprivileged processes walk through it
    stoppable = []
    try:
        *sink_ports, postfix_port = H.free_ports(5)
        sinks = [Sink(port) for port in sink_ports]
        stoppable += sinks
        postfix = Postfix(os.path.join(tmp, "postfix"), postfix_port, sinks[1])
        stoppable.insert(0, postfix)
        postfix.start()
        relais = Relais(os.path.join(tmp, "relais"), sinks[2], args.relaisd)
        stoppable.insert(0, relais)
        relais.start()
        others = []
        if args.relaisd_b:
            others.append(Relais(os.path.join(tmp, "relais-b"), sinks[3], args.relaisd_b, "Relais B"))
            stoppable.insert(0, others[-1])
            others[-1].start()
        H.wait_tcp("127.0.0.1", postfix.port, 20)
        paths = (Ceiling(sinks[0]), postfix, relais, *others)
        note("Postfix %s (master %d) on 127.0.0.1:%d; relaisd %s (pid %d) on 127.0.0.1:%d"
             % (postfix.version, postfix.master, postfix.port, args.relaisd, relais.pids()[0],
                relais.port))
        note(DURABILITY)
        for path in paths[1:]:     # warm up: first processes, connections, database pages
            run_once(path, 2, 1, 50, args.keep_connections)

        results = {}
        for sessions in args.sessions:
            for size in args.sizes:
                count = message_count(sessions, size, args.scale)
                cell = results[(sessions, size)] = {path.name: [] for path in paths}
                for r in range(args.runs):
                    for path in paths:
                        run = run_once(path, sessions, size, count, args.keep_connections)
                        cell[path.name].append(run)
                        note("%2d × %3d KiB run %d %-7s %5d msgs: accepted %6.0f/s delivered %6.0f/s "
                             "CPU %.2f s/1000 (kernel %.2f) RSS %6.1f MB PSS %6.1f MB procs %3d "
                             "sink sessions %d"
                             % (sessions, size, r + 1, path.name, count, run["accepted"],
                                run["delivered"], run["cpu"], run["kernel"], run["rss"], run["pss"],
                                run["procs"], run["sink_sessions"]))
                        time.sleep(1)
        if args.runs > 0:
            print_table(results, args)
        if args.perf:
            profile_run(relais, args, "perf", args.perf)
        if args.strace:
            profile_run(relais, args, "strace", args.strace)
    finally:
        for s in stoppable:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
