# SPDX-License-Identifier: GPL-3.0-or-later
"""Real receiving MTAs for the outbound tests: aiosmtpd servers on loopback
addresses, each recording what it received and answering as a test asks
(STARTTLS, implicit TLS, AUTH, 4xx/5xx replies, a slow final reply)."""

import os
import ssl
import subprocess
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import relais_helpers as H


def make_certificates(directory, names=("mx.relais.test", "localhost"), ips=("127.0.0.1",)):
    """A test CA and a server certificate signed by it (GnuTLS certtool).
    Returns (ca_path, cert_path, key_path), absolute."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    ca_key = os.path.join(directory, "ca-key.pem")
    ca = os.path.join(directory, "ca.pem")
    key = os.path.join(directory, "server-key.pem")
    cert = os.path.join(directory, "server.pem")
    if os.path.exists(cert):
        return ca, cert, key
    with open(os.path.join(directory, "ca.cfg"), "w") as f:
        f.write('cn = "Relais Test CA"\nca\ncert_signing_key\nexpiration_days = 30\n')
    with open(os.path.join(directory, "server.cfg"), "w") as f:
        f.write('organization = "Relais tests"\ncn = "%s"\n' % names[0])
        for n in names:
            f.write('dns_name = "%s"\n' % n)
        for ip in ips:
            f.write('ip_address = "%s"\n' % ip)
        f.write("tls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n")

    def certtool(*args):
        subprocess.run(["certtool", *args], check=True, cwd=directory,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    certtool("--generate-privkey", "--key-type=rsa", "--bits=2048", "--no-text", "--outfile", ca_key)
    certtool("--generate-self-signed", "--load-privkey", ca_key, "--template", "ca.cfg",
             "--no-text", "--outfile", ca)
    certtool("--generate-privkey", "--key-type=rsa", "--bits=2048", "--no-text", "--outfile", key)
    certtool("--generate-certificate", "--load-privkey", key, "--load-ca-certificate", ca,
             "--load-ca-privkey", ca_key, "--template", "server.cfg", "--no-text", "--outfile", cert)
    return ca, cert, key


def server_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class Received:
    """One message as a peer saw it."""

    def __init__(self, server, session, envelope, when):
        self.mail_from = envelope.mail_from
        self.mail_options = list(envelope.mail_options)
        self.rcpt_tos = list(envelope.rcpt_tos)
        self.rcpt_options = list(envelope.rcpt_options)
        self.content = envelope.original_content or envelope.content
        # STARTTLS sets session.ssl; implicit TLS shows only on the transport
        self.tls = (session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None)
        self.auth_login = session.auth_data if session.authenticated else None
        self.peer = session.peer
        self.connection = id(session)
        self.when = when

    def __repr__(self):
        return "<Received from=%r to=%r tls=%r auth=%r>" % (
            self.mail_from, self.rcpt_tos, self.tls, self.auth_login)


class _Handler:
    def __init__(self, peer):
        self.peer = peer

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.peer.sessions.add(id(session))
        self.peer.mail_attempts.append(time.time())
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.peer.rcpt_replies.get(address.lower())
        if reply is not None and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.peer.lock:
            replies = self.peer.data_replies
            reply = replies.pop(0) if replies else "250 2.0.0 Queued"
        if self.peer.data_delay:
            import asyncio
            await asyncio.sleep(self.peer.data_delay)
        self.peer.data_attempts.append(time.time())
        if reply.startswith("2"):
            self.peer.received.append(Received(server, session, envelope, time.time()))
        return reply


class Peer:
    """An aiosmtpd server on HOST:PORT.
    tls: None, "starttls" (offered), "required" (offered and required before
    MAIL), or "implicit" (TLS from the first byte). auth: (login, password)
    required before MAIL (auth_mechanisms: the ones offered, default PLAIN and
    LOGIN). rcpt_replies: address -> reply for that RCPT.
    data_replies: replies to the end of DATA, used in turn, then 250."""

    def __init__(self, host, port=25, tls=None, certs=None, auth=None, auth_mechanisms=None,
                 rcpt_replies=None, data_replies=None, data_delay=0):
        self.host, self.port = host, port
        self.received = []
        self.sessions = set()
        self.mail_attempts = []
        self.data_attempts = []
        self.auth_attempts = []
        self.rcpt_replies = {k.lower(): v for k, v in (rcpt_replies or {}).items()}
        self.data_replies = list(data_replies or [])
        self.data_delay = data_delay
        self.lock = threading.Lock()
        kwargs = {"ready_timeout": 10.0}
        smtp_kwargs = {"decode_data": False, "enable_SMTPUTF8": True}
        if tls in ("starttls", "required"):
            smtp_kwargs["tls_context"] = server_context(certs[1], certs[2])
            smtp_kwargs["require_starttls"] = tls == "required"
        elif tls == "implicit":
            kwargs["ssl_context"] = server_context(certs[1], certs[2])
        if auth is not None:
            smtp_kwargs["authenticator"] = self._authenticate
            smtp_kwargs["auth_required"] = True
            smtp_kwargs["auth_require_tls"] = True
            if auth_mechanisms is not None:   # offer only these
                smtp_kwargs["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN")
                                                         if m not in auth_mechanisms]
            self.auth = auth
        self.controller = Controller(_Handler(self), hostname=host, port=port,
                                     **kwargs, **smtp_kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = auth_data.password
        password = password.decode() if isinstance(password, bytes) else password
        self.auth_attempts.append((mechanism, login))
        ok = (login, password) == self.auth
        # handled=False: aiosmtpd itself answers 535 to a failure
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        try:
            self.controller.stop()
        except Exception:  # noqa: BLE001 - a peer that failed to start
            pass

    def wait_received(self, n, timeout=20.0):
        H.wait_for(lambda: len(self.received) >= n, timeout,
                   "%d message(s) at %s:%d" % (n, self.host, self.port),
                   details=lambda: "received %r" % (self.received,))
        return self.received
