# SPDX-License-Identifier: GPL-3.0-or-later
"""Outbound delivery (SPEC §2), end to end: the real relaisd delivers to real
aiosmtpd peers on 127.0.0.x, directly through the MX records that dnsmasq
serves (tests/dns/test.conf) to the daemon's ordinary resolver, through one
relay host, or through relay hosts chosen by rules; retries with back-off,
bounces with the remote reply, double bounces, a kill -9 in the middle.

Runs inside build-aux/with-test-net --dnsmasq tests/dns/test.conf (a private
network namespace: nothing outside can be reached). Mail leaves the server
here through forwarding addresses: relaying for clients is Relay Control's
business (a later issue)."""

import json
import os
import re
import smtplib
import time

import pytest
from gi.repository import GLib

import relais_helpers as H
from smtp_peers import Peer, make_certificates

IFACE_DIST = "org.relais.Relais1.Distribution"
IFACE_QUEUE = "org.relais.Relais1.Queue"

# tests/dns/test.conf
MX1 = "127.0.0.21"          # mx1.direct.test, MX 10 of direct.test
MX2 = "127.0.0.22"          # mx2.direct.test, MX 20 of direct.test
IMPLICIT = "127.0.0.23"     # implicit.test: no MX, an A record
RELAY_A = "127.0.0.31"
RELAY_B = "127.0.0.32"
RELAY_TLS = "127.0.0.33"
BACKOFF = 2                 # RELAIS_TEST_BACKOFF_SECONDS: 2, 4, 8, ... up to 24 s


def in_test_net():
    return os.environ.get("RELAIS_TEST_NET") == "1"


pytestmark = pytest.mark.skipif(not in_test_net(),
                                reason="needs build-aux/with-test-net (root, private network namespace)")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(str(tmp_path_factory.mktemp("certs")),
                             names=("mx.relais.test", "localhost"),
                             ips=(MX1, MX2, RELAY_A, RELAY_B, RELAY_TLS))


@pytest.fixture
def peers():
    started = []

    def start(*args, **kw):
        p = Peer(*args, **kw).start()
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def start_relay(request, tmp_path, session_bus, **env):
    env.setdefault("RELAIS_TEST_BACKOFF_SECONDS", str(BACKOFF))
    d = H.make_daemon(request, tmp_path, session_bus.address, extra_env=env)
    d.start()
    d.setup_mailbox()
    d.add_account("admin")
    d.add_account("bob")
    d.update(Hostname="relais.relais.test", ExternalAdministrators=["admin@relais.test"])
    return d


@pytest.fixture
def relay(request, tmp_path, session_bus):
    """relaisd with local domain relais.test, accounts alice (who forwards
    wherever a test says), bob and admin, the external administrator."""
    return start_relay(request, tmp_path, session_bus)


def set_forwards(d, forwards, login="alice"):
    d.dbus().call(H.IFACE_ACCOUNTS, "UpdateAccount", "(sa{sv}b)",
                  (login, {"Forwards": GLib.Variant("as", list(forwards))}, False))


def dist_update(d, **changes):
    d.dbus().call(IFACE_DIST, "Update", "(a{sv}b)",
                  ({k: H.guess_variant(v) for k, v in changes.items()}, False))


def add_relay_host(d, name, **fields):
    d.dbus().call(IFACE_DIST, "AddRelayHost", "(sa{sv}b)",
                  (name, {k: H.guess_variant(v) for k, v in fields.items()}, False))


def add_rule(d, kind, host, patterns):
    return d.dbus().call(IFACE_DIST, "AddRule", "(ssasb)", (kind, host, list(patterns), False))[0]


def send(d, sender="sender@example.net", to="alice@relais.test", subject=None, body="Hello.\n"):
    msg = H.make_message(subject=subject, sender=sender, to=to, body=body)
    with smtplib.SMTP(d.host, d.port, timeout=10) as s:
        s.sendmail(sender, [to], msg)
    return msg


def wait_stat(d, name, value, timeout=5.0):
    """Statistics are published at most once a second: wait for NAME to reach VALUE."""
    return H.wait_for(lambda: (lambda s: s if s[name] == value else None)(d.stats()), timeout,
                      "%s = %d" % (name, value), details=lambda: repr(d.stats()))


def queue_list(d):
    return d.dbus().call(IFACE_QUEUE, "List")[0]


def wait_queue_empty(d, timeout=20.0):
    H.wait_for(lambda: len(queue_list(d)) == 0, timeout, "the queue to empty",
               details=lambda: repr(queue_list(d)))


def dsn_fields(raw):
    """The per-recipient fields of the first delivery-status part."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\n ", " ")
    start = text.index("Content-Type: message/delivery-status")
    return text[start:]


# -- direct delivery ---------------------------------------------------------

def test_direct_delivery_uses_lowest_mx_one_connection(relay, peers, certs):
    mx1 = peers(MX1, tls="starttls", certs=certs)
    mx2 = peers(MX2)
    set_forwards(relay, ["bob@direct.test", "carol@DIRECT.test"])
    send(relay, subject="direct")
    got = mx1.wait_received(1)
    wait_queue_empty(relay)
    assert len(got) == 1, got
    assert sorted(r.lower() for r in got[0].rcpt_tos) == ["bob@direct.test", "carol@direct.test"]
    assert got[0].mail_from == "sender@example.net"
    assert got[0].tls, "STARTTLS was offered and not used"
    assert len(mx1.sessions) == 1, "one connection carries both recipients"
    assert mx2.received == []
    assert b"Subject: direct" in got[0].content
    stats = wait_stat(relay, "DeliveredRemote", 2)
    assert stats["BytesSent"] >= len(got[0].content)


def test_direct_delivery_falls_back_to_next_mx(relay, peers):
    mx2 = peers(MX2)            # nothing listens on mx1
    set_forwards(relay, ["bob@direct.test"])
    send(relay)
    got = mx2.wait_received(1)
    assert got[0].rcpt_tos == ["bob@direct.test"]
    wait_queue_empty(relay)


def test_implicit_mx_uses_the_domain_address(relay, peers):
    peer = peers(IMPLICIT)
    set_forwards(relay, ["dave@implicit.test"])
    send(relay)
    assert peer.wait_received(1)[0].rcpt_tos == ["dave@implicit.test"]


def test_null_mx_bounces_at_once(relay):
    set_forwards(relay, ["eve@nullmx.test"])
    send(relay, sender="bob@relais.test")
    dsn = relay.wait_messages(1, login="bob")[0]
    fields = dsn_fields(dsn)
    assert "Final-Recipient: rfc822; eve@nullmx.test" in fields
    assert "Status: 5.1.10" in fields
    wait_queue_empty(relay)


def test_permanent_failure_bounces_with_the_remote_reply(relay, peers):
    mx1 = peers(MX1, rcpt_replies={"nobody@direct.test": "550 5.1.1 <nobody@direct.test>: no such user here"})
    set_forwards(relay, ["nobody@direct.test", "bob@direct.test"])
    send(relay, sender="bob@relais.test", subject="half bounces")
    got = mx1.wait_received(1)
    assert got[0].rcpt_tos == ["bob@direct.test"]
    dsn = relay.wait_messages(1, login="bob")[0]
    fields = dsn_fields(dsn)
    assert "Final-Recipient: rfc822; nobody@direct.test" in fields
    assert "Status: 5.1.1" in fields
    assert "Diagnostic-Code: smtp; 550 5.1.1 <nobody@direct.test>: no such user here" in fields
    assert "bob@direct.test" not in fields.split("Final-Recipient: rfc822; nobody@direct.test")[1]
    head, _ = H.split_message(dsn)
    assert ("From", "MAILER-DAEMON@relais.relais.test") in [(n, v.strip("<>")) for n, v in head] \
        or any(n == "From" and "MAILER-DAEMON@relais.relais.test" in v for n, v in head)
    wait_queue_empty(relay)


def test_temporary_failure_retries_with_backoff(relay, peers):
    mx1 = peers(MX1, data_replies=["451 4.3.0 try later", "451 4.3.0 still busy"])
    set_forwards(relay, ["bob@direct.test"])
    send(relay)
    got = mx1.wait_received(1, timeout=40)
    assert len(mx1.data_attempts) == 3
    # The schedule the daemon chose: 5 min doubling, scaled to BACKOFF.
    with open(relay.log_path, errors="replace") as f:
        chosen = re.findall(r"attempt=(\d+), retry_in=(\d+), dsn=4\.3\.0, status=deferred", f.read())
    assert chosen == [("1", str(BACKOFF)), ("2", str(2 * BACKOFF))], chosen
    # and kept: next_attempt is in whole seconds, so a retry comes at most 1 s
    # early by the wall clock, never sooner (no upper bound: a loaded machine)
    first, second, third = mx1.data_attempts
    assert second - first > BACKOFF - 1, mx1.data_attempts
    assert third - second > 2 * BACKOFF - 1, mx1.data_attempts
    assert got[0].rcpt_tos == ["bob@direct.test"]
    stats = wait_stat(relay, "DeliveredRemote", 1)
    assert stats["Deferred"] == 2
    wait_queue_empty(relay)


def test_expired_message_bounces(request, tmp_path, session_bus, peers):
    d = start_relay(request, tmp_path, session_bus, RELAIS_TEST_MAX_AGE_SECONDS="5")
    peers(MX1, data_replies=["451 4.3.0 try later"] * 100)
    set_forwards(d, ["bob@direct.test"])
    send(d, sender="bob@relais.test")
    dsn = d.wait_messages(1, login="bob", timeout=30)[0]
    fields = dsn_fields(dsn)
    assert "Final-Recipient: rfc822; bob@direct.test" in fields
    assert "Status: 5.3.0" in fields
    assert "451 4.3.0 try later (gave up after 5 seconds in the queue)" in fields
    wait_queue_empty(d)


def test_deferred_message_is_listed_with_its_error(relay, peers):
    peers(MX1, data_replies=["452 4.2.2 mailbox full"] * 10)
    set_forwards(relay, ["bob@direct.test"])
    send(relay)

    def listed():
        rows = [r for r in queue_list(relay) if r[7]]
        return rows[0] if rows else None

    row = H.wait_for(listed, 15, "a deferred message in Queue.List")
    msg_id, sender, rcpts, size, received, attempts, next_try, last_error, held = row
    assert rcpts == ["bob@direct.test"]
    assert attempts >= 1
    assert "452 4.2.2 mailbox full" in last_error
    assert next_try > received and not held


def evict_from_page_cache(path):
    """Drops PATH's pages from the page cache (a synced file's are clean), so
    that a read must wait for the disk; True once a read without waiting
    (RWF_NOWAIT) says so."""
    fd = os.open(path, os.O_RDONLY)
    try:
        for _ in range(50):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            try:
                os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)
            except BlockingIOError:
                return True
            time.sleep(0.05)
        return False
    finally:
        os.close(fd)


def test_spool_file_read_back_from_the_disk(relay, peers):
    # Deliveries read a spool file from the page cache without a thread, and
    # what is not there in a thread: a message the first attempt could not
    # deliver is evicted before the second, which must send it whole.
    mx1 = peers(MX1, data_replies=["451 4.3.0 try later"])
    set_forwards(relay, ["bob@direct.test"])
    body = "".join("line %06d of a message read back from the disk\n" % i for i in range(6000))
    msg = send(relay, subject="from the disk", body=body)
    H.wait_for(lambda: len(mx1.data_attempts) == 1, 15, "the first attempt")
    queued = queue_list(relay)
    assert len(queued) == 1, queued
    assert evict_from_page_cache(relay.spool_path(queued[0][0]))
    got = mx1.wait_received(1, timeout=30)
    assert len(mx1.data_attempts) == 2
    assert got[0].content.replace(b"\r\n", b"\n").endswith(msg.replace(b"\r\n", b"\n"))
    wait_queue_empty(relay)


def test_double_bounce_reaches_the_administrators(relay, peers):
    peers(MX1, rcpt_replies={"gone@direct.test": "550 5.1.1 gone"})
    set_forwards(relay, ["gone@direct.test"])
    with smtplib.SMTP(relay.host, relay.port, timeout=10) as s:
        s.sendmail("", ["alice@relais.test"], H.make_message(sender="MAILER-DAEMON@example.net"))
    dsn = relay.wait_messages(1, login="admin")[0]
    assert "Final-Recipient: rfc822; gone@direct.test" in dsn_fields(dsn)
    wait_queue_empty(relay)


def test_restart_in_the_middle_of_a_delivery(relay, peers):
    mx1 = peers(MX1, data_delay=3)
    set_forwards(relay, ["bob@direct.test"])
    send(relay, subject="interrupted")
    H.wait_for(lambda: mx1.sessions, 15, "the delivery to start")
    relay.kill9()
    relay.start()
    got = mx1.wait_received(1, timeout=30)
    # the peer may have it twice (it accepted before the kill): never zero
    assert all(r.rcpt_tos == ["bob@direct.test"] for r in got)
    wait_queue_empty(relay, timeout=30)


def test_stop_in_the_middle_of_a_delivery(relay, peers):
    mx1 = peers(MX1, data_delay=60)
    set_forwards(relay, ["bob@direct.test"])
    send(relay, subject="stopped")
    H.wait_for(lambda: mx1.sessions, 15, "the delivery to start")
    started = time.monotonic()
    assert relay.stop() == 0
    assert time.monotonic() - started < 30, "SIGTERM waited for the slow peer (60 s)"
    mx1.data_delay = 0
    relay.start()
    got = mx1.wait_received(1, timeout=30)
    assert got[-1].rcpt_tos == ["bob@direct.test"]
    wait_queue_empty(relay, timeout=30)


# -- relay hosts ---------------------------------------------------------------

def test_one_relay_host_with_starttls_and_auth(relay, peers, certs):
    smarthost = peers(RELAY_A, port=587, tls="required", certs=certs, auth=("relayuser", "s3cret-pass"))
    dist_update(relay, Mode="relay-host", RelayServer=RELAY_A, RelayPort=587, RelayAlwaysTls=True,
                RelayAuthentication=True, RelayUsername="relayuser", RelayPassword="s3cret-pass")
    set_forwards(relay, ["bob@direct.test", "zed@elsewhere.test"])
    send(relay)
    got = smarthost.wait_received(1)
    assert sorted(got[0].rcpt_tos) == ["bob@direct.test", "zed@elsewhere.test"]
    assert got[0].tls and got[0].auth_login == "relayuser"
    wait_queue_empty(relay)


def test_relay_host_connection_is_kept_for_the_next_messages(relay, peers):
    """One connection carries message after message to the same relay host
    (straight to MAIL), and a kept connection the server has dropped is
    replaced on the spot: no delay, no deferral, no attempt counted."""
    smarthost = peers(RELAY_B, port=2527)
    dist_update(relay, Mode="relay-host", RelayServer=RELAY_B, RelayPort=2527)
    set_forwards(relay, ["bob@elsewhere.test"])
    for i in range(5):
        send(relay, subject="kept %d" % i)
        smarthost.wait_received(i + 1)
    wait_queue_empty(relay)
    assert [m.content.count(b"Subject: kept %d" % i) for i, m in enumerate(smarthost.received)] == [1] * 5
    assert len(smarthost.sessions) == 1, "one connection for the five messages"

    # The server goes away with the connection kept, another takes its place.
    smarthost.stop()
    again = peers(RELAY_B, port=2527)
    send(relay, subject="after the restart")
    got = again.wait_received(1)
    assert b"Subject: after the restart" in got[0].content
    wait_queue_empty(relay)
    stats = wait_stat(relay, "DeliveredRemote", 6)
    assert stats["Deferred"] == 0, stats
    with open(relay.log_path, errors="replace") as f:
        assert "kept connection unusable, connecting afresh" in f.read()


class ClosingRelay:
    """A raw relay host: its first connection takes one message, then answers
    the next MAIL with 421 (as a server that timed the idle connection out)
    and closes; later connections take everything."""

    def __init__(self, host, port):
        import socket
        import threading
        self.sock = socket.create_server((host, port))
        self.received = []
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rwb") as f:
                self._session(f, first=self.connections == 1)

    def _session(self, f, first):
        def say(line):
            f.write(line.encode() + b"\r\n")
            f.flush()
        say("220 closing.relay.test ESMTP")
        taken = 0
        while True:
            line = f.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                say("250-closing.relay.test")
                say("250 8BITMIME")
            elif verb == b"MAIL" and first and taken == 1:
                say("421 4.4.2 closing.relay.test idle too long, closing")
                return
            elif verb == b"DATA":
                say("354 go on")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = f.readline()
                    if not chunk:
                        return
                    data += chunk
                self.received.append(data)
                taken += 1
                say("250 2.0.0 taken")
            elif verb == b"QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")

    def stop(self):
        self.sock.close()


def test_kept_connection_answering_421_is_replaced(relay):
    closing = ClosingRelay(RELAY_B, 2528)
    try:
        dist_update(relay, Mode="relay-host", RelayServer=RELAY_B, RelayPort=2528)
        set_forwards(relay, ["bob@elsewhere.test"])
        send(relay, subject="first")
        H.wait_for(lambda: len(closing.received) == 1, 20, "the first message")
        send(relay, subject="second")
        H.wait_for(lambda: len(closing.received) == 2, 20, "the second message")
        wait_queue_empty(relay)
        assert b"Subject: second" in closing.received[1]
        assert closing.connections == 2
        stats = wait_stat(relay, "DeliveredRemote", 2)
        assert stats["Deferred"] == 0, stats
        with open(relay.log_path, errors="replace") as f:
            assert "kept connection closing (421), connecting afresh" in f.read()
    finally:
        closing.stop()


def test_relay_host_login_when_only_auth_login_is_offered(relay, peers, certs):
    smarthost = peers(RELAY_B, port=587, tls="starttls", certs=certs, auth=("relayuser", "s3cret-pass"),
                      auth_mechanisms=["LOGIN"])
    dist_update(relay, Mode="relay-host", RelayServer=RELAY_B, RelayPort=587,
                RelayAuthentication=True, RelayUsername="relayuser", RelayPassword="s3cret-pass")
    set_forwards(relay, ["bob@direct.test"])
    send(relay)
    got = smarthost.wait_received(1)
    assert got[0].tls and got[0].auth_login == "relayuser"
    assert smarthost.auth_attempts == [("LOGIN", "relayuser")]


def test_relay_host_on_port_465_uses_implicit_tls(relay, peers, certs):
    smarthost = peers(RELAY_TLS, port=465, tls="implicit", certs=certs)
    dist_update(relay, Mode="relay-host", RelayServer=RELAY_TLS, RelayPort=465, RelayAlwaysTls=True)
    set_forwards(relay, ["bob@direct.test"])
    send(relay)
    got = smarthost.wait_received(1)
    assert got[0].tls
    wait_queue_empty(relay)


def test_relay_host_without_starttls_defers_when_tls_is_required(relay, peers):
    plain = peers(RELAY_B, port=2525)
    dist_update(relay, Mode="relay-host", RelayServer=RELAY_B, RelayPort=2525, RelayAlwaysTls=True)
    set_forwards(relay, ["bob@direct.test"])
    send(relay)

    def deferred():
        rows = [r for r in queue_list(relay) if r[7]]
        return rows[0] if rows else None

    row = H.wait_for(deferred, 15, "the message to be deferred")
    assert "TLS" in row[7], row
    assert plain.received == []


def test_relay_rules_recipient_before_sender_before_direct(relay, peers):
    host_a = peers(RELAY_A, port=2525)
    host_b = peers(RELAY_B, port=2525)
    mx1 = peers(MX1)
    add_relay_host(relay, "a", Server=RELAY_A, Port=2525)
    add_relay_host(relay, "b", Server=RELAY_B, Port=2525)
    add_rule(relay, "sender", "b", ["vip@example.org"])
    add_rule(relay, "recipient", "a", ["rules.test", "one@direct.test"])
    dist_update(relay, Mode="relay-hosts")
    set_forwards(relay, ["x@rules.test", "one@direct.test", "two@direct.test"])

    # an ordinary sender: recipient rules, else direct
    send(relay, sender="someone@example.org", subject="plain sender")
    got_a = host_a.wait_received(1)
    assert sorted(got_a[0].rcpt_tos) == ["one@direct.test", "x@rules.test"]
    assert mx1.wait_received(1)[0].rcpt_tos == ["two@direct.test"]
    assert host_b.received == []

    # the sender rule's sender: recipient rules still win, the rest goes to b
    send(relay, sender="vip@example.org", subject="vip sender")
    got_a = host_a.wait_received(2)
    assert sorted(got_a[1].rcpt_tos) == ["one@direct.test", "x@rules.test"]
    assert host_b.wait_received(1)[0].rcpt_tos == ["two@direct.test"]
    assert len(mx1.received) == 1
    wait_queue_empty(relay)


# -- relay domains (SPEC §3) ----------------------------------------------------

def test_relay_domain_goes_to_its_own_mx_whatever_the_mode(relay, peers):
    mx1 = peers(MX1)
    smarthost = peers(RELAY_A, port=2525)
    relay.dbus().call("org.relais.Relais1.RelayControl", "AddRelayDomain", "(ssb)",
                      ("branch", "direct.test", False))
    dist_update(relay, Mode="relay-host", RelayServer=RELAY_A, RelayPort=2525)
    # from a foreign client: no authentication, not trusted, not local-relaying
    msg = H.make_message(to="carol@direct.test", subject="for the branch")
    with smtplib.SMTP(relay.host, relay.port, timeout=10, source_address=("127.0.0.66", 0)) as s:
        s.ehlo()
        s.mail("partner@example.org")
        code, _ = s.rcpt("someone@elsewhere.test")   # anything else is still refused
        assert code in (454, 554)
        s.rset()
        s.sendmail("partner@example.org", ["carol@direct.test"], msg)
    got = mx1.wait_received(1)
    assert got[0].rcpt_tos == ["carol@direct.test"]
    assert smarthost.received == []
    wait_queue_empty(relay)


# -- TestRelayHost ---------------------------------------------------------------

def test_relay_host_probe_reports_tls_and_auth(relay, peers, certs):
    smarthost = peers(RELAY_A, port=587, tls="required", certs=certs, auth=("relayuser", "s3cret-pass"))
    add_relay_host(relay, "isp", Server=RELAY_A, Port=587, AlwaysTls=True, Authentication=True,
                   Username="relayuser", Password="s3cret-pass")
    out = H.busctl(relay.bus_address, "--json=short", "call", H.BUS_NAME, H.OBJ_PATH,
                   IFACE_DIST, "TestRelayHost", "sb", "isp", "false").stdout
    report = {k: v["data"] for k, v in json.loads(out)["data"][0].items()}
    assert report["Ok"] is True, report
    assert report["Tls"] is True and report["Authenticated"] is True, report
    assert report["Error"] == ""
    assert report["Server"] == "[%s]:587" % RELAY_A, report
    assert any(e.startswith("AUTH") for e in report["Extensions"]), report
    assert "unknown-ca" in report["CertificateErrors"], report   # a test CA: seen, not fatal
    assert smarthost.received == [] and smarthost.auth_attempts == [("PLAIN", "relayuser")]

    # a wrong password: a report saying so, not a D-Bus error
    relay.dbus().call(IFACE_DIST, "UpdateRelayHost", "(sa{sv}b)",
                      ("isp", {"Password": GLib.Variant("s", "wrong")}, False))
    report = relay.dbus().call(IFACE_DIST, "TestRelayHost", "(sb)", ("isp", False))[0]
    assert report["Ok"] is False and report["Authenticated"] is False, report
    assert "AUTH" in report["Error"] and "535" in report["Error"], report

    # nothing listening: still a report
    dist_update(relay, RelayServer=RELAY_B, RelayPort=2526)
    report = relay.dbus().call(IFACE_DIST, "TestRelayHost", "(sb)", ("", False))[0]
    assert report["Ok"] is False and report["Error"], report
