# SPDX-License-Identifier: GPL-3.0-or-later
"""The outbound SMTP client (daemon/delivery/relais-smtp-client.c) through
its test tool RELAIS_SMTP_SEND, against real aiosmtpd servers and raw socket
servers on their own 127.0.0.x addresses: envelope and parameters, dot
stuffing, pipelining, STARTTLS, implicit TLS, AUTH, per-recipient replies,
fallback between targets, required TLS, timeouts, bad replies, the probe."""

import asyncio
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

import relais_helpers as H

from gi.repository import GLib  # noqa: E402  (relais_helpers selected the version)

HELO = "client.relais.test"
USER = "relay-user"
PASSWORD = "relay-secret"

# One address per server: tests never share a listening socket.
PLAIN_IP = "127.0.0.21"        # records mail, PIPELINING + DSN
SEQUENTIAL_IP = "127.0.0.22"   # records mail, no PIPELINING
AUTH_IP = "127.0.0.23"         # STARTTLS + AUTH required
IMPLICIT_IP = "127.0.0.24"     # TLS from the first byte, port 465
GREYLIST_IP = "127.0.0.25"     # 451 to the first RCPT of each address, then 250
REFUSED_IP = "127.0.0.26"      # nobody listens
SILENT_IP = "127.0.0.27"       # accepts and never says a word
GARBAGE_IP = "127.0.0.28"      # raw: answers EHLO with HTTP
OVERLONG_IP = "127.0.0.32"     # raw: a 5000-byte reply line
REFUSING_IP = "127.0.0.33"     # raw: 554 greeting
NO_SENDER_IP = "127.0.0.34"    # raw: refuses MAIL
MINI_IP = "127.0.0.35"         # raw: a minimal SMTP server with odd EHLO / STARTTLS answers
NAMELESS_IP = "127.0.0.29"     # STARTTLS with a certificate that does not name it
SLOW_DATA_IP = "127.0.0.30"    # never answers the final dot in time
RCPT_IP = "127.0.0.31"         # 550 / 452 / multi-line per recipient

if os.geteuid() != 0:
    pytest.skip("the servers listen on port 25 and 465 (run as root)", allow_module_level=True)


def tool():
    path = os.environ.get("RELAIS_SMTP_SEND")
    if not path:
        root = os.environ.get("RELAIS_BUILD_ROOT")
        path = os.path.join(root, "tests", "relais-smtp-send") if root else None
    if not path or not os.access(path, os.X_OK):
        pytest.fail("RELAIS_SMTP_SEND is not set or not executable: %r" % path)
    return path


class Result:
    def __init__(self, proc, elapsed):
        self.proc = proc
        self.elapsed = elapsed
        self.recipients = {}
        self.session = {}
        self.probe = None
        out = proc.stdout
        if out.startswith("{"):
            text, _, out = out.partition("\n")
            self.probe = GLib.Variant.parse(None, text, None, None).unpack()
        for line in out.splitlines():
            if line.startswith("session "):
                self.session = dict(kv.split("=", 1) for kv in line.split()[1:])
            elif line.startswith("tls-description "):
                self.session["description"] = line.split(" ", 1)[1]
            elif line:
                address, status, reply = (line.split(" ", 2) + [""])[:3]
                self.recipients[address] = (status, reply)

    def status(self, address):
        return self.recipients[address][0]

    def reply(self, address):
        return self.recipients[address][1]


def send(*args, targets=(), to=(), message=None, sender="sender@client.relais.test",
         timeout=10, check=True, debug=False):
    argv = [tool(), "--helo", HELO, "--from", sender]
    for t in targets:
        argv += ["--target", t]
    for r in to:
        argv += ["--to", r]
    if message is not None:
        argv += ["--message", message]
    argv += ["--timeout", str(timeout)] + list(args)
    env = dict(os.environ, G_MESSAGES_DEBUG="relais" if debug else "")
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    result = Result(proc, time.monotonic() - start)
    if check:
        assert proc.returncode == 0, "relais-smtp-send failed:\n%s\n%s" % (proc.stdout, proc.stderr)
    return result


def probe(*args, targets=()):
    r = send("--probe", *args, targets=targets)
    assert r.probe is not None, r.proc.stdout
    return r.probe


# --------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------

class Recorder:
    """aiosmtpd handler: records each message with its envelope and session
    facts, answers RCPT per recipient from a table, optionally greylists."""

    def __init__(self, extensions=("PIPELINING", "DSN"), rcpt_replies=None, greylist=False,
                 data_delay=0):
        self.extensions = extensions
        self.rcpt_replies = rcpt_replies or {}
        self.greylist = greylist
        self.greylisted = set()
        self.data_delay = data_delay
        self.messages = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-%s" % e for e in self.extensions] + responses[-1:]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.greylist and address not in self.greylisted:
            self.greylisted.add(address)
            return "451 4.7.1 <%s>: greylisted, try again later" % address
        reply = self.rcpt_replies.get(address.split("@")[0])
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.messages.append({
            "helo": session.host_name,
            "peer": session.peer[0],
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": getattr(session, "relais_login", None),
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "content": envelope.original_content,
        })
        return "250 2.0.0 Ok: queued as REL%d" % len(self.messages)


class DsnSMTP(SMTP):
    """aiosmtpd refuses parameters it does not know; ours advertises DSN
    (RFC 3461), so let RET/ENVID/NOTIFY/ORCPT through (they stay in
    mail_options / rcpt_options for the test to check)."""

    def _getparams(self, params):
        result = super()._getparams(params)
        if result is not None:
            for key in ("RET", "ENVID", "NOTIFY", "ORCPT"):
                result.pop(key, None)
        return result


class RecorderController(Controller):
    def factory(self):
        return DsnSMTP(self.handler, **self.SMTP_kwargs)


def start_server(handler, ip, port=25, **kwargs):
    kwargs.setdefault("data_size_limit", 100000)
    kwargs.setdefault("enable_SMTPUTF8", False)
    controller = RecorderController(handler, hostname=ip, port=port,
                                    server_hostname="mx.relais.test", **kwargs)
    controller.start()
    return controller


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A test CA and a server certificate for mx.relais.test and the TLS
    servers' addresses (not NAMELESS_IP), made with certtool."""
    H.require_tool("certtool")
    d = tmp_path_factory.mktemp("certs")
    (d / "ca.cfg").write_text('cn = "Relais Test CA"\nca\ncert_signing_key\nexpiration_days = 3650\n')
    (d / "server.cfg").write_text(
        'organization = "Relais tests"\ncn = "mx.relais.test"\ndns_name = "mx.relais.test"\n'
        'ip_address = "%s"\nip_address = "%s"\ntls_www_server\nsigning_key\nencryption_key\n'
        'expiration_days = 365\n' % (AUTH_IP, IMPLICIT_IP))

    def certtool(*args):
        subprocess.run(["certtool"] + list(args), cwd=d, check=True, capture_output=True)

    certtool("--generate-privkey", "--key-type=rsa", "--bits=2048", "--no-text", "--outfile", "ca-key.pem")
    certtool("--generate-self-signed", "--load-privkey", "ca-key.pem", "--template", "ca.cfg",
             "--no-text", "--outfile", "ca.pem")
    certtool("--generate-privkey", "--key-type=rsa", "--bits=2048", "--no-text", "--outfile", "server-key.pem")
    certtool("--generate-certificate", "--load-privkey", "server-key.pem", "--load-ca-certificate", "ca.pem",
             "--load-ca-privkey", "ca-key.pem", "--template", "server.cfg", "--no-text",
             "--outfile", "server.pem")
    return d


def server_context(certs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(certs / "server.pem"), str(certs / "server-key.pem"))
    return ctx


@pytest.fixture(scope="module")
def plain():
    handler = Recorder()
    controller = start_server(handler, PLAIN_IP)
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def sequential():
    handler = Recorder(extensions=())
    controller = start_server(handler, SEQUENTIAL_IP)
    yield handler
    controller.stop()


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    if ok:
        session.relais_login = (mechanism, auth_data.login.decode())
    return AuthResult(success=ok, handled=False)   # handled=False: aiosmtpd sends the 535


@pytest.fixture(scope="module")
def auth_server(certs):
    handler = Recorder()
    controller = start_server(handler, AUTH_IP, tls_context=server_context(certs), require_starttls=True,
                              auth_required=True, auth_require_tls=True, authenticator=authenticator)
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def implicit(certs):
    handler = Recorder()
    controller = start_server(handler, IMPLICIT_IP, port=465, ssl_context=server_context(certs))
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def nameless(certs):
    handler = Recorder()
    controller = start_server(handler, NAMELESS_IP, tls_context=server_context(certs))
    yield handler
    controller.stop()


class RawServer:
    """A TCP server on IP:25 that runs SCRIPT(conn) for each connection in a
    thread: for replies no real server would send."""

    def __init__(self, ip, script):
        self.script = script
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 25))
        self.sock.listen(8)
        self.received = []
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        with conn:
            conn.settimeout(30)
            try:
                self.script(self, conn)
            except OSError:
                pass

    def read_line(self, conn):
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = conn.recv(1)
            if not chunk:
                break
            data += chunk
        self.received.append(data)
        return data

    def stop(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)     # wakes the accept() in run()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def raw_server():
    servers = []

    def start(ip, script):
        s = RawServer(ip, script)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def message(tmp_path):
    def make(body="Hello.\r\n", size=None):
        path = tmp_path / ("msg%d.eml" % len(list(tmp_path.iterdir())))
        data = H.make_message(body=body, to="rcpt@relais.test")
        if size is not None:
            data += b"x" * 70 + b"\r\n"
            while len(data) < size:
                data += b"y" * 70 + b"\r\n"
        path.write_bytes(data)
        return str(path)
    return make


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------

def test_plain_delivery_envelope_and_dot_stuffing(plain, message):
    body = ".leading dot\r\n.\r\n..two dots\r\nmiddle . dot\r\nlast line without CRLF."
    path = message(body=body)
    before = len(plain.messages)
    r = send("--mail-params", "RET=HDRS ENVID=xyz42", "--rcpt-params", "NOTIFY=FAILURE ORCPT=rfc822;a@b.test",
             "--8bit", targets=["%s:25" % PLAIN_IP], to=["a@relais.test", "b@relais.test"], message=path,
             debug=True)
    assert r.status("a@relais.test") == "ok" and r.status("b@relais.test") == "ok"
    assert r.reply("a@relais.test") == "250 2.0.0 Ok: queued as REL%d" % (before + 1)
    assert r.session == {"host": "[%s]:25" % PLAIN_IP, "tls": "no", "auth": "no",
                         "bytes": str(os.path.getsize(path))}
    assert len(plain.messages) == before + 1
    m = plain.messages[-1]
    assert m["helo"] == HELO
    assert m["from"] == "sender@client.relais.test"
    assert m["to"] == ["a@relais.test", "b@relais.test"]
    # the client stuffed, the server unstuffed: the content is the file, with
    # CRLF added before the final dot because the file did not end with one
    with open(path, "rb") as f:
        assert m["content"] == f.read() + b"\r\n"
    assert "SIZE=%d" % os.path.getsize(path) in m["mail_options"]
    assert "BODY=8BITMIME" in m["mail_options"]
    assert "RET=HDRS" in m["mail_options"] and "ENVID=XYZ42" in m["mail_options"]
    assert m["rcpt_options"].count("NOTIFY=FAILURE") == 2
    # PIPELINING (RFC 2920): MAIL, both RCPT and DATA went out before the first reply
    log = [line for line in r.proc.stderr.splitlines() if ": > " in line or ": < " in line]
    sent = [i for i, line in enumerate(log) if ": > MAIL" in line or ": > RCPT" in line or ": > DATA" in line]
    first_reply_after_mail = next(i for i, line in enumerate(log) if i > sent[0] and ": < " in line)
    assert len(sent) == 4 and sent[-1] < first_reply_after_mail, "\n".join(log)


def test_without_pipelining_or_dsn(sequential, message):
    path = message()
    r = send("--mail-params", "RET=FULL", "--rcpt-params", "NOTIFY=NEVER", targets=["%s:25" % SEQUENTIAL_IP],
             to=["a@relais.test", "b@relais.test"], message=path, debug=True)
    assert r.status("a@relais.test") == "ok" and r.status("b@relais.test") == "ok"
    m = sequential.messages[-1]
    assert m["to"] == ["a@relais.test", "b@relais.test"]
    # no DSN offered: no DSN parameters; SIZE is offered
    assert m["mail_options"] == ["SIZE=%d" % os.path.getsize(path)]
    assert m["rcpt_options"] == []
    log = [line.split("]:25: ", 1)[1] for line in r.proc.stderr.splitlines() if ": > " in line or ": < " in line]
    i = log.index("> RCPT TO:<a@relais.test>")
    assert log[i + 1].startswith("< 250") and log[i + 2] == "> RCPT TO:<b@relais.test>", log


def test_message_over_the_advertised_size(plain, message):
    path = message(size=150000)      # the server says SIZE 100000
    before = len(plain.messages)
    r = send(targets=["%s:25" % PLAIN_IP], to=["a@relais.test"], message=path)
    assert r.status("a@relais.test") == "permfail"
    assert r.reply("a@relais.test").startswith("5.3.4 ")
    assert "100000" in r.reply("a@relais.test")
    assert len(plain.messages) == before


def test_smtputf8_not_offered(plain, message):
    r = send("--smtputf8", targets=["%s:25" % PLAIN_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "permfail"
    assert r.reply("a@relais.test").startswith("5.6.7 ")
    assert "SMTPUTF8" in r.reply("a@relais.test")


def test_per_recipient_replies(message):
    handler = Recorder(rcpt_replies={
        "nobody": "550 5.1.1 <nobody@relais.test>: no such user",
        "full": "452 4.2.2 <full@relais.test>: mailbox full",
        "multi": "550-5.7.1 first line\r\n550 5.7.1 second line",
    })
    controller = start_server(handler, RCPT_IP)
    try:
        to = ["good@relais.test", "nobody@relais.test", "full@relais.test", "multi@relais.test"]
        r = send(targets=["%s:25" % RCPT_IP], to=to, message=message())
        assert r.status("good@relais.test") == "ok"
        assert r.status("nobody@relais.test") == "permfail"
        assert r.reply("nobody@relais.test") == "550 5.1.1 <nobody@relais.test>: no such user"
        assert r.status("full@relais.test") == "tempfail"
        assert r.reply("full@relais.test") == "452 4.2.2 <full@relais.test>: mailbox full"
        assert r.status("multi@relais.test") == "permfail"
        assert r.reply("multi@relais.test") == "550 5.7.1 first line; 5.7.1 second line"
        assert len(handler.messages) == 1 and handler.messages[0]["to"] == ["good@relais.test"]

        # every recipient refused: no DATA, nothing delivered
        r = send(targets=["%s:25" % RCPT_IP], to=["nobody@relais.test", "full@relais.test"], message=message())
        assert r.status("nobody@relais.test") == "permfail" and r.status("full@relais.test") == "tempfail"
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_tempfail_then_success(message):
    handler = Recorder(greylist=True)
    controller = start_server(handler, GREYLIST_IP)
    try:
        path = message()
        r = send(targets=["%s:25" % GREYLIST_IP], to=["a@relais.test"], message=path)
        assert r.status("a@relais.test") == "tempfail"
        assert r.reply("a@relais.test") == "451 4.7.1 <a@relais.test>: greylisted, try again later"
        assert handler.messages == []
        r = send(targets=["%s:25" % GREYLIST_IP], to=["a@relais.test"], message=path)
        assert r.status("a@relais.test") == "ok"
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_starttls_and_auth(auth_server, certs, message):
    before = len(auth_server.messages)
    r = send("--tls", "required", "--user", USER, "--password", PASSWORD, "--ca-file", str(certs / "ca.pem"),
             targets=["%s:25" % AUTH_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok", r.recipients
    assert r.session["tls"] == "yes" and r.session["auth"] == "yes"
    assert r.session["description"].startswith("TLS 1.")
    m = auth_server.messages[before]
    assert m["tls"] is True
    assert m["login"][1] == USER and m["login"][0] in ("PLAIN", "LOGIN")


def test_auth_wrong_password(auth_server, certs, message):
    before = len(auth_server.messages)
    r = send("--user", USER, "--password", "wrong", "--ca-file", str(certs / "ca.pem"),
             targets=["%s:25" % AUTH_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert r.reply("a@relais.test").startswith("4.7.8 relay host refused our credentials: 535"), r.recipients
    assert r.session["tls"] == "yes" and r.session["auth"] == "no"
    assert len(auth_server.messages) == before


def test_opportunistic_tls_accepts_an_unverified_certificate(nameless, message):
    r = send(targets=["%s:25" % NAMELESS_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok"
    assert r.session["tls"] == "yes"
    assert nameless.messages[-1]["tls"] is True


def test_verified_tls_refuses_a_wrong_name(nameless, certs, message):
    before = len(nameless.messages)
    r = send("--ca-file", str(certs / "ca.pem"), targets=["%s:25" % NAMELESS_IP], to=["a@relais.test"],
             message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert r.reply("a@relais.test").startswith("4.7.5 ")
    assert "bad-identity" in r.reply("a@relais.test")
    assert len(nameless.messages) == before


def test_implicit_tls(implicit, certs, message):
    r = send("--tls", "implicit", "--ca-file", str(certs / "ca.pem"), targets=["%s:465" % IMPLICIT_IP],
             to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok", r.recipients
    assert r.session["tls"] == "yes"
    assert implicit.messages[-1]["tls"] is True


def test_fallback_after_a_refused_port(plain, message):
    before = len(plain.messages)
    r = send(targets=["%s:25" % REFUSED_IP, "%s:25" % PLAIN_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok"
    assert r.session["host"] == "[%s]:25" % PLAIN_IP
    assert len(plain.messages) == before + 1


def test_every_target_refused(message):
    r = send(targets=["%s:25" % REFUSED_IP, "%s:2525" % REFUSED_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert r.reply("a@relais.test").startswith("4.4.1 [%s]:2525: cannot connect" % REFUSED_IP)


def test_name_resolved_through_the_resolver(message):
    """'localhost' comes from /etc/hosts through GResolver: no DNS traffic."""
    handler = Recorder()
    port = H.free_port()
    controller = start_server(handler, "127.0.0.1", port=port)
    try:
        r = send(targets=["localhost:%d" % port], to=["a@relais.test"], message=message())
        assert r.status("a@relais.test") == "ok", r.recipients
        assert r.session["host"].startswith("localhost[")
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_required_tls_without_starttls(plain, message):
    before = len(plain.messages)
    r = send("--tls", "required", targets=["%s:25" % PLAIN_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert r.reply("a@relais.test").startswith("4.7.10 ")
    assert "STARTTLS" in r.reply("a@relais.test")
    assert len(plain.messages) == before


def test_server_that_never_answers(raw_server, message):
    raw_server(SILENT_IP, lambda server, conn: time.sleep(20))
    r = send(targets=["%s:25" % SILENT_IP], to=["a@relais.test"], message=message(), timeout=2)
    assert r.status("a@relais.test") == "tempfail"
    assert r.reply("a@relais.test") == \
        "4.4.2 [%s]:25: timed out waiting for the reply to greeting" % SILENT_IP
    assert r.elapsed < 10


def test_no_reply_to_the_final_dot(message):
    handler = Recorder(data_delay=6)
    controller = start_server(handler, SLOW_DATA_IP)
    try:
        r = send(targets=["%s:25" % SLOW_DATA_IP], to=["a@relais.test"], message=message(), timeout=2)
        assert r.status("a@relais.test") == "tempfail"
        assert "timed out waiting for the reply to end of data" in r.reply("a@relais.test")
        assert r.reply("a@relais.test").startswith("4.4.2 ")
    finally:
        controller.stop()


def greeting_then(reply_to_commands):
    def script(server, conn):
        conn.sendall(b"220 raw.relais.test ESMTP\r\n")
        while True:
            line = server.read_line(conn)
            if not line:
                return
            conn.sendall(reply_to_commands(line))
            if line.upper().startswith(b"QUIT"):
                return
    return script


def test_garbage_reply(raw_server, message):
    raw_server(GARBAGE_IP, greeting_then(lambda line: b"HTTP/1.1 400 Bad Request\r\n"))
    r = send(targets=["%s:25" % GARBAGE_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert r.reply("a@relais.test").startswith("4.5.0 [%s]:25: bad reply to EHLO: not an SMTP reply"
                                               % GARBAGE_IP)


def test_overlong_reply_line(raw_server, message):
    raw_server(OVERLONG_IP, greeting_then(lambda line: b"250-" + b"x" * 5000 + b"\r\n250 ok\r\n"))
    r = send(targets=["%s:25" % OVERLONG_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert "reply line longer than 1000 bytes" in r.reply("a@relais.test")


def test_permanent_greeting_on_every_target(raw_server, message):
    def script(server, conn):
        conn.sendall(b"554 5.7.1 raw.relais.test does not want your mail\r\n")
        if server.read_line(conn).upper().startswith(b"QUIT"):
            conn.sendall(b"221 bye\r\n")
    raw_server(REFUSING_IP, script)
    r = send(targets=["%s:25" % REFUSING_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "permfail"
    assert r.reply("a@relais.test") == "554 5.7.1 raw.relais.test does not want your mail"
    # one refused target among them: only a temporary failure
    r = send(targets=["%s:25" % REFUSING_IP, "%s:25" % REFUSED_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"


def test_mail_refused_applies_to_all(raw_server, message):
    def reply(line):
        if line.upper().startswith(b"EHLO"):
            return b"250-raw.relais.test\r\n250 SIZE 1000000\r\n"
        if line.upper().startswith(b"MAIL"):
            return b"553 5.7.1 sender refused\r\n"
        return b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"503 5.5.1 bad sequence\r\n"
    server = raw_server(NO_SENDER_IP, greeting_then(reply))
    r = send(targets=["%s:25" % NO_SENDER_IP], to=["a@relais.test", "b@relais.test"], message=message())
    assert r.status("a@relais.test") == "permfail" and r.status("b@relais.test") == "permfail"
    assert r.reply("b@relais.test") == "553 5.7.1 sender refused"
    assert not any(line.upper().startswith(b"RCPT") for line in server.received)
    assert server.received[-1] == b"QUIT\r\n"


def test_probe_auth_server(auth_server, certs):
    p = probe("--tls", "required", "--user", USER, "--password", PASSWORD, "--ca-file", str(certs / "ca.pem"),
              targets=["%s:25" % AUTH_IP])
    assert p["Ok"] is True, p
    assert p["Tls"] is True and p["Authenticated"] is True
    assert p["Error"] == ""
    assert p["Server"] == "[%s]:25" % AUTH_IP
    assert p["Greeting"].startswith("220 mx.relais.test")
    assert any(e.startswith("AUTH ") and "PLAIN" in e for e in p["Extensions"])
    assert p["CertificateErrors"] == []
    assert p["TlsDescription"].startswith("TLS 1.")


def test_probe_wrong_password(auth_server):
    p = probe("--user", USER, "--password", "wrong", targets=["%s:25" % AUTH_IP])
    assert p["Ok"] is False
    assert p["Tls"] is True and p["Authenticated"] is False
    assert p["Error"].startswith("AUTH: 4.7.8 relay host refused our credentials: 535"), p["Error"]
    # no CA given: the test CA is unknown, which opportunistic TLS accepts and reports
    assert "unknown-ca" in p["CertificateErrors"]


def test_probe_refused():
    p = probe(targets=["%s:25" % REFUSED_IP])
    assert p["Ok"] is False and p["Tls"] is False
    assert p["Error"].startswith("connect: 4.4.1 ")


def mini_smtp(ehlo=b"250-mini.relais.test\r\n250 STARTTLS\r\n", starttls=b"454 4.7.0 TLS not available\r\n",
              pause=0.3):
    """A small scripted SMTP server: EHLO and STARTTLS answer as given (a
    STARTTLS answer of 220 is followed, after PAUSE seconds, by bytes that are
    no TLS handshake), the rest accepts one message into server.messages."""
    def script(server, conn):
        conn.sendall(b"220 mini.relais.test ESMTP\r\n")
        while True:
            line = server.read_line(conn)
            verb = line[:4].upper()
            if not line:
                return
            if verb == b"EHLO":
                conn.sendall(ehlo)
            elif verb == b"STAR":
                if not starttls.startswith(b"220"):
                    conn.sendall(starttls)
                    continue
                garbage = b"this is not a TLS server hello\r\n"
                if pause:
                    conn.sendall(starttls)
                    time.sleep(pause)
                    conn.sendall(garbage)
                else:
                    conn.sendall(starttls + garbage)      # one segment
                return
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                server.messages.append(data)
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")
    return script


def start_mini(raw_server, **kwargs):
    server = raw_server(MINI_IP, mini_smtp(**kwargs))
    server.messages = []
    return server


def test_empty_ehlo_line(raw_server, message):
    # Postfix's smtp-sink ends its EHLO reply with an empty "250 " line: it
    # names no extension (it used to reach a GLib-CRITICAL and turn PIPELINING on)
    start_mini(raw_server, ehlo=b"250-mini.relais.test\r\n250-8BITMIME\r\n250 \r\n")
    p = send("--probe", targets=["%s:25" % MINI_IP])
    assert p.probe["Ok"] is True, p.proc.stdout
    assert p.probe["Extensions"] == ["8BITMIME"], p.probe
    r = send(targets=["%s:25" % MINI_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok", r.recipients
    for out in (p.proc.stderr, r.proc.stderr):
        assert "CRITICAL" not in out, out


def test_helo_fallback(raw_server, message):
    server = start_mini(raw_server, ehlo=b"502 5.5.1 EHLO not implemented\r\n")
    r = send(targets=["%s:25" % MINI_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok", r.recipients
    assert b"HELO %s\r\n" % HELO.encode() in server.received
    # HELO: no extensions, so no SIZE on MAIL
    assert b"MAIL FROM:<sender@client.relais.test>\r\n" in server.received
    assert len(server.messages) == 1


def test_opportunistic_starttls_refused(raw_server, message):
    server = start_mini(raw_server)
    r = send(targets=["%s:25" % MINI_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok", r.recipients
    assert r.session["tls"] == "no"
    assert b"STARTTLS\r\n" in server.received and len(server.messages) == 1


def test_opportunistic_handshake_failure_retries_in_plain_text(raw_server, message):
    server = start_mini(raw_server, starttls=b"220 2.0.0 go ahead\r\n")
    r = send(targets=["%s:25" % MINI_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "ok", r.recipients
    assert r.session["tls"] == "no"
    # first connection: STARTTLS, failed handshake; second: no STARTTLS, the message
    assert server.received.count(b"STARTTLS\r\n") == 1
    assert server.received.count(b"EHLO %s\r\n" % HELO.encode()) == 2
    assert len(server.messages) == 1


def test_required_tls_handshake_failure(raw_server, message):
    server = start_mini(raw_server, starttls=b"220 2.0.0 go ahead\r\n")
    r = send("--tls", "required", targets=["%s:25" % MINI_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert r.reply("a@relais.test").startswith("4.7.5 [%s]:25: TLS handshake failed" % MINI_IP)
    assert server.messages == []
    assert not any(line.startswith(b"MAIL") for line in server.received)


def test_bytes_after_the_starttls_reply(raw_server, message):
    """RFC 3207 §5: plain-text bytes behind the 220 must never be read as TLS
    session data: the client drops the connection."""
    server = start_mini(raw_server, starttls=b"220 2.0.0 go ahead\r\n", pause=0)
    r = send("--tls", "required", targets=["%s:25" % MINI_IP], to=["a@relais.test"], message=message())
    assert r.status("a@relais.test") == "tempfail"
    assert "unexpected bytes after its reply to STARTTLS" in r.reply("a@relais.test")
    assert server.messages == []
