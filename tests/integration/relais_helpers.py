# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the integration tests: private buses, the daemon under
test, D-Bus clients (Gio, busctl, gdbus), a raw SMTP client, polling."""

import email.utils
import os
import select
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
import uuid

import pytest

import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = "org.relais.Relais1"
OBJ_PATH = "/org/relais/Relais1"
IFACE_GENERAL = "org.relais.Relais1.General"
IFACE_ACCOUNTS = "org.relais.Relais1.Accounts"
IFACE_STATS = "org.relais.Relais1.Statistics"
IFACE_SECURITY = "org.relais.Relais1.Security"
ERR = "org.relais.Relais1.Error."

TEST_DOMAIN = "relais.test"
TEST_LOGIN = "alice"
TEST_PASSWORD = "correct-horse-battery"
CLIENT_HELO = "client.example.net"
SENDER = "sender@example.net"

# name -> log file path; a failing test prints every registered log
LOGS = {}


def register_log(name, path):
    LOGS[name] = path


def unregister_log(name):
    LOGS.pop(name, None)


# --------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """N distinct TCP ports on 127.0.0.1 that nobody listens on right now
    (all sockets are held open until every port is chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def open_file_limits(pid):
    """(soft, hard) "Max open files" of process PID, from /proc/PID/limits
    ("unlimited" stays a string)."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return tuple(int(v) if v.isdigit() else v for v in line.split()[3:5])
    raise AssertionError("no 'Max open files' line in /proc/%d/limits" % pid)


def wait_for(predicate, timeout, what, interval=0.05, details=None):
    """Poll predicate() until it returns a true value; fail the test after
    timeout seconds. Returns the predicate's value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if details:
                msg += ": " + details()
            pytest.fail(msg)
        time.sleep(interval)


def wait_tcp(host, port, timeout):
    def connectable():
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False
    wait_for(connectable, timeout, "TCP %s:%d to accept connections" % (host, port))


def require_tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip("%s is not installed" % name)
    return path


def source_root():
    root = os.environ.get("RELAIS_SOURCE_ROOT")
    if root:
        return root
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def relaisd_path():
    path = os.environ.get("RELAISD")
    if not path:
        root = os.environ.get("RELAIS_BUILD_ROOT")
        if root:
            path = os.path.join(root, "daemon", "relaisd")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("RELAISD is not set or not executable: %r "
                    "(run through meson test, or export RELAISD=build/daemon/relaisd)" % path)
    return path


def make_message(subject=None, body="Hello.\n", to="alice@relais.test", sender=SENDER,
                 extra_headers=(), msgid=None):
    """An RFC 5322 message with CRLF line ends, as bytes."""
    subject = subject or "test " + uuid.uuid4().hex
    msgid = msgid or "<%s@example.net>" % uuid.uuid4().hex
    lines = list(extra_headers) + [
        "From: <%s>" % sender,
        "To: <%s>" % to,
        "Subject: %s" % subject,
        "Date: %s" % email.utils.formatdate(),
        "Message-ID: %s" % msgid,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
    ]
    text = "\r\n".join(lines) + "\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")
    return text.encode("utf-8")


def split_message(raw):
    """(headers as list of (name, value) unfolded, body bytes) of a stored
    message; accepts LF or CRLF."""
    data = raw.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    headers = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip().decode("utf-8", "replace"))
        elif b":" in line:
            name, value = line.split(b":", 1)
            headers.append((name.decode("utf-8", "replace").strip(),
                            value.strip().decode("utf-8", "replace")))
    return headers, body


def header_values(raw, name):
    headers, _ = split_message(raw)
    return [v for (n, v) in headers if n.lower() == name.lower()]


def no_verify_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --------------------------------------------------------------------------
# Private message buses
# --------------------------------------------------------------------------

def _read_line_with_timeout(fd, timeout):
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return buf.decode() if buf else None
        buf += chunk
    return buf.decode()


class SettableClock:
    """The daemon's test clock (RELAIS_TEST_CLOCK_FILE, daemon/policy/relais-clock.h):
    a file holding "now" in unix seconds, read again at each call. It is
    replaced atomically: the daemon reads it at any moment (its flush timer
    every second), and a half-written file would mean the real time."""

    def __init__(self, path, now):
        self.path = path
        self.set(now)

    def set(self, now):
        self.now = now
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            f.write("%d\n" % now)
        os.replace(tmp, self.path)

    def advance(self, seconds):
        self.set(self.now + seconds)


class MessageBus:
    """A dbus-daemon we started; stop() ends it."""

    def __init__(self, proc, address, log_path, config=None):
        self.proc = proc
        self.address = address
        self.log_path = log_path
        self.config = config

    @classmethod
    def start(cls, directory, config_file=None):
        require_tool("dbus-daemon")
        log_path = os.path.join(directory, "dbus-daemon.log")
        log = open(log_path, "ab")
        argv = ["dbus-daemon", "--nofork", "--print-address=1"]
        argv += ["--config-file=" + config_file] if config_file else ["--session"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL)
        log.close()
        line = _read_line_with_timeout(proc.stdout.fileno(), 10)
        if not line or not line.strip():
            proc.kill()
            proc.wait(5)
            with open(log_path, errors="replace") as f:
                pytest.fail("dbus-daemon did not print its address: " + f.read())
        return cls(proc, line.strip(), log_path, config_file)

    @classmethod
    def start_session(cls, directory):
        return cls.start(directory)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()


# --------------------------------------------------------------------------
# D-Bus client (Gio)
# --------------------------------------------------------------------------

class DBusCallError(Exception):
    """A D-Bus error reply: .name is the remote error name, .message its text."""

    def __init__(self, name, message):
        super().__init__("%s: %s" % (name, message))
        self.name = name
        self.message = message


def _to_dbus_error(e):
    if Gio.DBusError.is_remote_error(e):
        name = Gio.DBusError.get_remote_error(e)
        msg = e.message
        prefix = "GDBus.Error:%s: " % name
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
        return DBusCallError(name, msg)
    return DBusCallError("(local) " + str(e.domain), e.message)


def guess_variant(value):
    """A GLib.Variant for a plain Python value (bool -> b, int -> u, str -> s,
    list of str -> as); pass a GLib.Variant through."""
    if isinstance(value, GLib.Variant):
        return value
    if isinstance(value, bool):
        return GLib.Variant("b", value)
    if isinstance(value, int):
        return GLib.Variant("u", value)
    if isinstance(value, str):
        return GLib.Variant("s", value)
    if isinstance(value, (list, tuple)):
        return GLib.Variant("as", list(value))
    raise TypeError("cannot guess a D-Bus type for %r" % (value,))


class DBusClient:
    """A connection of our own to a private bus."""

    def __init__(self, address):
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                 | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.address = address
        self.conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)

    def close(self):
        try:
            self.conn.close_sync(None)
        except GLib.Error:
            pass

    def raw_call(self, dest, path, iface, method, params, reply_type=None, timeout_ms=10000):
        try:
            ret = self.conn.call_sync(dest, path, iface, method, params,
                                      GLib.VariantType(reply_type) if reply_type else None,
                                      Gio.DBusCallFlags.NONE, timeout_ms, None)
        except GLib.Error as e:
            raise _to_dbus_error(e) from None
        return ret.unpack() if ret is not None else None

    def call(self, iface, method, signature=None, args=None, timeout_ms=10000):
        params = GLib.Variant(signature, args) if signature else None
        return self.raw_call(BUS_NAME, OBJ_PATH, iface, method, params, timeout_ms=timeout_ms)

    def get_all(self, iface):
        return self.raw_call(BUS_NAME, OBJ_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                             GLib.Variant("(s)", (iface,)))[0]

    def get(self, iface, prop):
        return self.raw_call(BUS_NAME, OBJ_PATH, "org.freedesktop.DBus.Properties", "Get",
                             GLib.Variant("(ss)", (iface, prop)))[0]

    def update(self, changes, interactive=False):
        d = {k: guess_variant(v) for k, v in changes.items()}
        return self.call(IFACE_GENERAL, "Update", "(a{sv}b)", (d, interactive))

    def name_owner_pid(self, name):
        try:
            owner = self.raw_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                  "org.freedesktop.DBus", "GetNameOwner",
                                  GLib.Variant("(s)", (name,)))[0]
            return self.raw_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                 GLib.Variant("(s)", (owner,)))[0]
        except DBusCallError as e:
            if e.name == "org.freedesktop.DBus.Error.NameHasNoOwner":
                return None
            raise

    def introspect(self):
        return self.raw_call(BUS_NAME, OBJ_PATH, "org.freedesktop.DBus.Introspectable",
                             "Introspect", None)[0]


def iterate_until(predicate, timeout):
    """Run the default main context until predicate() or timeout; returns the
    predicate's last value."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        while ctx.pending():
            ctx.iteration(False)
        if predicate():
            break
        time.sleep(0.01)
    return predicate()


# --------------------------------------------------------------------------
# D-Bus command-line clients
# --------------------------------------------------------------------------

def busctl(address, *args, check=True, timeout=20):
    require_tool("busctl")
    argv = ["busctl", "--address=" + address] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        pytest.fail("%s failed (%d): %s%s" % (argv, p.returncode, p.stdout, p.stderr))
    return p


def busctl_update(address, *triples, check=True):
    """busctl call ... General Update 'a{sv}b' N name type value ... false"""
    args = ["call", BUS_NAME, OBJ_PATH, IFACE_GENERAL, "Update", "a{sv}b", len(triples)]
    for name, typ, value in triples:
        args += [name, typ, value]
    args.append("false")
    return busctl(address, *args, check=check)


def gdbus_call(address, method, *args, check=False, timeout=20):
    """gdbus call --address ADDR -d BUS -o OBJ -m IFACE.METHOD ARGS...; gdbus prints
    the D-Bus error name on failure (busctl does not)."""
    require_tool("gdbus")
    argv = ["gdbus", "call", "--address", address, "-d", BUS_NAME, "-o", OBJ_PATH,
            "-m", method] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        pytest.fail("%s failed (%d): %s%s" % (argv, p.returncode, p.stdout, p.stderr))
    return p


# --------------------------------------------------------------------------
# A raw SMTP client for what smtplib cannot do (pipelining, BDAT, injection)
# --------------------------------------------------------------------------

class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines            # text after "NNN-" / "NNN "

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


def shrink_peer_send_buffer(pid, sock, size):
    """Sets SO_SNDBUF to SIZE on process PID's end of the loopback TCP
    connection SOCK (ours), through a copy of its descriptor
    (pidfd_getfd(2), root): what the kernel would otherwise let a server
    queue (megabytes, tuned as it goes) no longer hides whether its writes
    wait for room."""
    import ctypes
    local_ip, local_port = sock.getsockname()[:2]
    inode = None
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == local_port and int(fields[1].split(":")[1], 16) == sock.getpeername()[1]:
                inode = fields[9]
    assert inode is not None, "no server end of %s:%d in /proc/net/tcp" % (local_ip, local_port)
    target = None
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, name)) == "socket:[%s]" % inode:
                target = int(name)
        except OSError:
            pass
    assert target is not None, "process %d does not hold socket %s" % (pid, inode)
    pidfd = os.pidfd_open(pid)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(438, pidfd, target, 0)    # SYS_pidfd_getfd
        assert fd >= 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(pidfd)
    peer = socket.socket(fileno=fd)
    try:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    finally:
        peer.close()


class RawSMTP:
    def __init__(self, host, port, timeout=10.0, source=None, rcvbuf=None):
        """source: a loopback address to connect from (e.g. "127.0.0.61");
        rcvbuf: a receive buffer this small (bytes), set before connecting so
        that the window the server sees is that small too."""
        if rcvbuf is None:
            self.sock = socket.create_connection((host, port), timeout=timeout,
                                                 source_address=(source, 0) if source else None)
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            if source:
                self.sock.bind((source, 0))
            self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server; unread: %r" % self.buf)
        self.buf += chunk

    def readline(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete reply line within %.1fs; have %r"
                                   % (timeout, self.buf))
            self._fill(left)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self, timeout=None):
        lines = []
        code = None
        while True:
            line = self.readline(timeout)
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError("malformed reply line %r" % line)
            c = int(line[:3])
            if code is not None and c != code:
                raise AssertionError("reply code changed inside a multi-line reply: %r" % line)
            code = c
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return Reply(code, lines)
            if line[3] != "-":
                raise AssertionError("malformed reply line %r" % line)

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def greeting(self):
        r = self.reply()
        assert r.code == 220, r
        return r

    def ehlo(self, name=CLIENT_HELO):
        r = self.cmd("EHLO " + name)
        assert r.code == 250, r
        return r

    def pending(self, wait=0.3):
        """Bytes the server sent that we have not read (waits up to `wait`)."""
        try:
            self.sock.settimeout(wait)
            chunk = self.sock.recv(65536)
            self.buf += chunk
        except (socket.timeout, BlockingIOError):
            pass
        return self.buf

    def starttls(self, context=None):
        """Wrap the socket in TLS (after a 220 to STARTTLS). Unread plaintext
        is an error: the server must not send anything after its 220."""
        assert self.buf == b"", "plaintext after the 220 to STARTTLS: %r" % self.buf
        ctx = context or no_verify_context()
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=None)
        return self.sock

    def closed_by_peer(self, timeout=5.0):
        """True if the server closes the connection within timeout (after any
        pending data, which is kept in buf)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, ssl.SSLError, OSError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False


# --------------------------------------------------------------------------
# The daemon under test
# --------------------------------------------------------------------------

class Daemon:
    """One relaisd on a state dir; can be stopped, killed and started again on
    the same state dir and ports."""

    def __init__(self, bus_address, state_dir, log_path, session=True,
                 extra_env=None, submission=True, smtps=True, extra_args=()):
        self.binary = relaisd_path()
        self.bus_address = bus_address
        self.state_dir = state_dir
        self.log_path = log_path
        self.session = session
        self.extra_env = dict(extra_env or {})
        self.extra_args = list(extra_args)     # more relaisd options, e.g. --http-listen
        self.host = "127.0.0.1"
        # three distinct ports: one at a time, the kernel may hand out the same one twice
        self.port, submission_port, smtps_port = free_ports(3)
        self.submission_port = submission_port if submission else None
        self.smtps_port = smtps_port if smtps else None
        self.proc = None
        self.starts = 0
        self._dbus = None
        # a command that execs relaisd with its arguments (e.g. systemd-cat)
        self.launcher = []

    # -- process control --------------------------------------------------
    def argv(self):
        argv = [self.binary]
        if self.session:
            argv.append("--session")
        argv += ["--state-dir", self.state_dir,
                 "--listen", "%s:%d" % (self.host, self.port)]
        if self.submission_port:
            argv += ["--submission-listen", "%s:%d" % (self.host, self.submission_port)]
        if self.smtps_port:
            argv += ["--smtps-listen", "%s:%d" % (self.host, self.smtps_port)]
        return argv + self.extra_args

    def env(self):
        env = dict(os.environ)
        # never let the daemon reach an outer bus
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        env.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        if self.session:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        else:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus_address
        env.setdefault("G_MESSAGES_DEBUG", "all")
        env.setdefault("G_SLICE", "always-malloc")    # as relaisd.service runs it
        env.update(self.extra_env)
        return env

    def start(self, timeout=20.0):
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(("\n===== relaisd start #%d: %s =====\n"
                   % (self.starts, " ".join(self.argv()))).encode())
        log.flush()
        self.proc = subprocess.Popen(self.launcher + self.argv(), env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        bus = self.dbus()

        def owned_by_us():
            if self.proc.poll() is not None:
                pytest.fail("relaisd exited with status %s before it was ready "
                            "(see its log below)" % self.proc.returncode)
            pid = bus.name_owner_pid(BUS_NAME)
            return pid == self.proc.pid

        wait_for(owned_by_us, max(0.1, deadline - time.monotonic()),
                 "relaisd to own %s on the private bus" % BUS_NAME)
        for port in (self.port, self.submission_port, self.smtps_port):
            if port:
                if self.proc.poll() is not None:
                    pytest.fail("relaisd exited with status %s" % self.proc.returncode)
                wait_tcp(self.host, port, max(0.1, deadline - time.monotonic()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=40.0):
        """SIGTERM; returns the exit status. The bound is above the daemon's
        graceful stop (20 s for a message being received, then 5 s)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail("relaisd did not exit within %ss of SIGTERM" % timeout)
        self._wait_name_released()
        return rc

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._wait_name_released()

    def restart(self, hard=True):
        if hard:
            self.kill9()
        else:
            self.stop()
        self.start()

    def _wait_name_released(self):
        bus = self.dbus()
        wait_for(lambda: bus.name_owner_pid(BUS_NAME) is None, 10,
                 "%s to be released" % BUS_NAME)

    # -- D-Bus -----------------------------------------------------------
    def dbus(self):
        if self._dbus is None:
            self._dbus = DBusClient(self.bus_address)
        return self._dbus

    def general(self):
        return self.dbus().get_all(IFACE_GENERAL)

    def accounts(self):
        return self.dbus().get_all(IFACE_ACCOUNTS)

    def stats(self):
        return self.dbus().get_all(IFACE_STATS)

    def update(self, **changes):
        return self.dbus().update(changes)

    def update_security(self, **changes):
        """Security.Update with the changes given as Python values."""
        d = {k: guess_variant(v) for k, v in changes.items()}
        self.dbus().call(IFACE_SECURITY, "Update", "(a{sv}b)", (d, False))

    def add_rule(self, name, lst, typ, value, action=""):
        self.dbus().call(IFACE_SECURITY, "AddRule", "(sssssb)", (name, lst, typ, value, action, False))

    def remove_rule(self, name):
        self.dbus().call(IFACE_SECURITY, "RemoveRule", "(sb)", (name, False))

    def add_domain(self, domain=TEST_DOMAIN):
        self.dbus().call(IFACE_ACCOUNTS, "AddLocalDomain", "(sb)", (domain, False))

    def add_account(self, login=TEST_LOGIN, password=TEST_PASSWORD, aliases=(), forwards=()):
        self.dbus().call(IFACE_ACCOUNTS, "AddAccount", "(ssasasb)",
                         (login, password, list(aliases), list(forwards), False))

    def setup_mailbox(self, login=TEST_LOGIN, domain=TEST_DOMAIN, aliases=()):
        """A local domain and one account in it; returns the account's address."""
        if domain not in self.accounts().get("LocalDomains", []):
            self.add_domain(domain)
        self.add_account(login, aliases=aliases)
        return "%s@%s" % (login, domain)

    # -- files -----------------------------------------------------------
    def spool_path(self, qid):
        """The spool file of queued message QID: spool/msg/QID, or the reused
        file its row names (None when it is not queued)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.state_dir, "relais.db"),
                             uri=True, timeout=10)
        try:
            row = db.execute("SELECT ifnull(spool_file, id) FROM messages WHERE id = ?", (qid,)).fetchone()
        finally:
            db.close()
        return os.path.join(self.state_dir, "spool", "msg", row[0]) if row else None

    def maildir(self, login=TEST_LOGIN):
        return os.path.join(self.state_dir, "mail", login, "Maildir")

    def messages(self, login=TEST_LOGIN):
        """Paths of the delivered messages (new/ and cur/), oldest first."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(login), sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            out += [os.path.join(d, n) for n in names if not n.startswith(".")]
        out.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        return out

    def wait_messages(self, n, login=TEST_LOGIN, timeout=15.0):
        """Wait until the account's Maildir holds at least n messages; returns
        their contents (bytes)."""
        msgs = []

        def enough():
            nonlocal msgs
            msgs = self.messages(login)
            return len(msgs) >= n

        wait_for(enough, timeout,
                 "%d message(s) in %s (have %d)" % (n, self.maildir(login), len(msgs)),
                 details=lambda: "have %d: %s" % (len(msgs), msgs))
        contents = []
        for p in msgs:
            with open(p, "rb") as f:
                contents.append(f.read())
        return contents


def make_daemon(request, tmp_path, bus_address, session=True, state=None, **kw):
    """STATE: an existing state folder (default: a new TMP_PATH/state)."""
    if state is None:
        state = tmp_path / "state"
        state.mkdir()
    log_path = str(tmp_path / "relaisd.log")
    d = Daemon(bus_address, str(state), log_path, session=session, **kw)
    register_log("relaisd", log_path)

    def fin():
        try:
            if d.alive():
                rc = d.stop()
                # SIGTERM must end the daemon cleanly
                if rc not in (0, -signal.SIGTERM):
                    print("relaisd exited with status %s on SIGTERM" % rc)
        finally:
            if d.alive():
                d.proc.kill()
            if d._dbus is not None:
                d._dbus.close()
            unregister_log("relaisd")

    request.addfinalizer(fin)
    return d


