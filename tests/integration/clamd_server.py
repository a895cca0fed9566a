# SPDX-License-Identifier: GPL-3.0-or-later
"""A real clamd for the antivirus tests, with a signature database of our own
(no ClamAV database is installed or downloaded): one .ndb signature that
finds the EICAR test string anywhere in a stream.

    with ClamdServer(tmpdir) as clamd:
        clamd.unix_socket    # "/…/clamd.sock"
        clamd.tcp_address    # "127.0.0.1:PORT"

Standard library only, so tests/tools/with-clamd can use it without pytest.
"""

import os
import signal
import socket
import subprocess
import time

CLAMD = os.environ.get("RELAIS_CLAMD", "/usr/sbin/clamd")

# The EICAR anti-virus test string (68 bytes), built from two halves so this
# file is not itself a "virus" to a scanner.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" +
         b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
SIGNATURE = "Relais-Test-EICAR"
# clamd reports signatures outside the official database with this suffix
SIGNATURE_NAME = SIGNATURE + ".UNOFFICIAL"
# StreamMaxLength: a larger INSTREAM gets "INSTREAM size limit exceeded. ERROR"
STREAM_MAX_LENGTH = 1024 * 1024

START_TIMEOUT = 120  # seconds; clamd with one signature starts in well under one


class ClamdError(Exception):
    pass


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(address, name, timeout=10):
    """Sends z-command NAME (e.g. "PING") to ADDRESS (a Unix socket path or a
    (host, port) pair); returns the reply without its NUL."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(address)
        s.sendall(b"z" + name.encode() + b"\0")
        reply = b""
        while not reply.endswith(b"\0"):
            data = s.recv(4096)
            if not data:
                break
            reply += data
    return reply.rstrip(b"\0").decode(errors="replace")


class ClamdServer:
    def __init__(self, directory, stream_max_length=STREAM_MAX_LENGTH):
        self.directory = os.path.abspath(directory)
        self.unix_socket = os.path.join(self.directory, "clamd.sock")
        self.port = None
        self.tcp_address = None
        self.log_path = os.path.join(self.directory, "clamd.log")
        self.stream_max_length = stream_max_length
        self.process = None
        self._output = None

    # -- configuration --------------------------------------------------

    def _write_files(self):
        db = os.path.join(self.directory, "db")
        tmp = os.path.join(self.directory, "tmp")
        os.makedirs(db, exist_ok=True)
        os.makedirs(tmp, exist_ok=True)
        # .ndb: Name:TargetType:Offset:HexSignature (type 0: any file, "*": anywhere)
        with open(os.path.join(db, "relais-test.ndb"), "w") as f:
            f.write("%s:0:*:%s\n" % (SIGNATURE, EICAR.hex()))
        self.port = _free_port()
        self.tcp_address = "127.0.0.1:%d" % self.port
        self.config_path = os.path.join(self.directory, "clamd.conf")
        with open(self.config_path, "w") as f:
            f.write("\n".join([
                "Foreground yes",
                "LocalSocket %s" % self.unix_socket,
                "TCPSocket %d" % self.port,
                "TCPAddr 127.0.0.1",
                "DatabaseDirectory %s" % db,
                "PidFile %s" % os.path.join(self.directory, "clamd.pid"),
                "TemporaryDirectory %s" % tmp,
                "LogFile %s" % self.log_path,
                "LogTime yes",
                "LogVerbose yes",
                "StreamMaxLength %d" % self.stream_max_length,
                "SelfCheck 0",
                "",
            ]))

    # -- life -----------------------------------------------------------

    def log(self):
        """clamd's log file and its own output, for a failure message."""
        text = ""
        for path in (self.log_path, self._output_path()):
            try:
                with open(path, errors="replace") as f:
                    text += "---- %s ----\n%s" % (path, f.read())
            except OSError as e:
                text += "---- %s: %s ----\n" % (path, e)
        return text

    def _output_path(self):
        return os.path.join(self.directory, "clamd.out")

    def _answers_ping(self, address):
        try:
            return command(address, "PING", timeout=5) == "PONG"
        except OSError:
            return False

    def _bind_failed(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return "Cannot bind" in f.read()
        except OSError:
            return False

    def _wait_ready(self):
        """True once clamd answers PING on both sockets; False when its TCP
        port was taken meanwhile (it then keeps running without it)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                status = self.process.returncode
                log = self.log()
                self.stop()
                raise ClamdError("clamd exited with status %d while starting\n%s" % (status, log))
            if self._bind_failed():
                return False
            if (self._answers_ping(self.unix_socket)
                    and self._answers_ping(("127.0.0.1", self.port))):
                return True
            if time.monotonic() > deadline:
                log = self.log()
                self.stop()
                raise ClamdError("clamd did not answer PING within %d s\n%s" % (START_TIMEOUT, log))
            time.sleep(0.1)

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        for _ in range(5):
            self._write_files()
            for path in (self.log_path, self._output_path()):
                if os.path.exists(path):
                    os.unlink(path)
            self._output = open(self._output_path(), "w")
            self.process = subprocess.Popen([CLAMD, "--config-file=" + self.config_path],
                                            stdin=subprocess.DEVNULL, stdout=self._output,
                                            stderr=subprocess.STDOUT)
            if self._wait_ready():
                return self
            self.stop()  # another process took the port: try another one
        raise ClamdError("clamd could not bind a TCP port on 127.0.0.1 in 5 attempts\n%s" % self.log())

    def stop(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
