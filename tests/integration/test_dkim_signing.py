# SPDX-License-Identifier: GPL-3.0-or-later
"""DKIM signing of outgoing mail (issue 7) on the real relaisd: keys generated
over D-Bus (Security.GenerateDkimKey, rsa-2048 and ed25519, with busctl too),
the record and zone-file line returned, DkimKeys and its PropertiesChanged,
persistence across a restart, the private key never shown, the errors that
name the field, RemoveDkimKey, polkit on the system-like bus; then mail
relayed to an aiosmtpd peer (the MX of direct.test in tests/dns/test.conf)
whose signature verifies with our own verifier (tests/tools/relais-dkim-verify)
and with Debian's dkimpy, a tampered copy failing, mail from another domain and
mail with DkimSigning off going unsigned.

Runs inside build-aux/with-test-net --dnsmasq tests/dns/test.conf."""

import json
import os
import re
import smtplib
import sqlite3
import stat
import subprocess

import dkim
import pytest
from gi.repository import Gio, GLib

import relais_helpers as H
from relais_helpers import BUS_NAME, ERR, OBJ_PATH, DBusCallError, DBusClient, busctl, iterate_until
from smtp_peers import Peer
# The system-like bus with the polkit mock, shared with test_polkit.py.
from test_polkit import (  # noqa: F401  (pytest fixtures)
    ACTION_CONFIGURE, checked_actions, polkit_mock, set_allowed, sysdaemon, system_bus,
)

IFACE = "org.relais.Relais1.Security"
IFACE_STATS = "org.relais.Relais1.Statistics"
MX1 = "127.0.0.21"          # mx1.direct.test, MX 10 of direct.test


def generate(daemon, domain, selector, algorithm):
    return daemon.dbus().call(IFACE, "GenerateDkimKey", "(sssb)", (domain, selector, algorithm, False),
                              timeout_ms=60000)


def dkim_keys(daemon):
    return daemon.dbus().get(IFACE, "DkimKeys")


def call_error(daemon, method, signature, args):
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE, method, signature, args, timeout_ms=60000)
    return e.value


def check_zone(name, record, zone):
    """The zone-file line: NAME. IN TXT ( "..." ... ), strings of at most 255
    bytes that join into RECORD."""
    m = re.fullmatch(r'(\S+)\. IN TXT \( ((?:"[^"\\]*" ?)+)\)', zone)
    assert m, zone
    assert m.group(1) == name
    strings = re.findall(r'"([^"\\]*)"', m.group(2))
    assert all(len(s.encode()) <= 255 for s in strings), [len(s) for s in strings]
    assert "".join(strings) == record
    return strings


def private_keys(daemon):
    with sqlite3.connect(os.path.join(daemon.state_dir, "relais.db")) as db:
        return dict(db.execute("SELECT domain, private_pem FROM dkim_keys").fetchall())


# ---------------------------------------------------------------- D-Bus

def test_generate_keys(daemon):
    client = DBusClient(daemon.bus_address)
    try:
        proxy = Gio.DBusProxy.new_sync(client.conn, Gio.DBusProxyFlags.NONE, None,
                                       BUS_NAME, OBJ_PATH, IFACE, None)
        assert proxy.get_cached_property("DkimKeys").unpack() == []
        assert proxy.get_cached_property("DkimSigning").unpack() is True
        seen = []
        proxy.connect("g-properties-changed",
                      lambda _p, changed, _inval: seen.append(changed.unpack()))

        name, record, zone = generate(daemon, "Example.ORG", "s2026", "rsa-2048")
        assert name == "s2026._domainkey.example.org"
        assert record.startswith("v=DKIM1; k=rsa; p=MIIB"), record
        strings = check_zone(name, record, zone)
        assert len(strings) >= 2 and strings[0] == "v=DKIM1; k=rsa; "
        assert iterate_until(lambda: any("DkimKeys" in c for c in seen), 5), seen
        changed = [c["DkimKeys"] for c in seen if "DkimKeys" in c]
        assert changed[-1] == [("example.org", "s2026", "rsa-2048", record)]
    finally:
        client.close()

    # busctl, with ed25519 (RFC 8463): a 32-byte key, one short string
    p = busctl(daemon.bus_address, "--json=short", "call", BUS_NAME, OBJ_PATH, IFACE, "GenerateDkimKey",
               "sssb", "a.example.net", "ed-1", "ed25519", "false", timeout=60)
    ed_name, ed_record, ed_zone = json.loads(p.stdout)["data"]
    assert ed_name == "ed-1._domainkey.a.example.net"
    assert re.fullmatch(r"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=", ed_record), ed_record
    check_zone(ed_name, ed_record, ed_zone)

    # sorted by domain
    assert dkim_keys(daemon) == [("a.example.net", "ed-1", "ed25519", ed_record),
                                 ("example.org", "s2026", "rsa-2048", record)]

    # a new key for a domain replaces its key
    name2, record2, _ = generate(daemon, "example.org", "s2027", "ed25519")
    assert record2 != record
    assert dkim_keys(daemon)[1] == ("example.org", "s2027", "ed25519", record2)
    assert len(dkim_keys(daemon)) == 2


def test_keys_persist_and_stay_private(daemon):
    _, rsa_record, _ = generate(daemon, "example.org", "s1", "rsa-2048")
    _, ed_record, _ = generate(daemon, "b.example", "s2", "ed25519")
    before = dkim_keys(daemon)
    pems = private_keys(daemon)
    assert set(pems) == {"example.org", "b.example"}
    assert all(p.startswith("-----BEGIN PRIVATE KEY-----") for p in pems.values())
    # the database is the daemon's alone
    db = os.path.join(daemon.state_dir, "relais.db")
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600

    daemon.restart(hard=False)
    assert dkim_keys(daemon) == before

    # the private keys appear in no property of any interface
    xml = daemon.dbus().introspect()
    ifaces = re.findall(r'<interface name="(org\.relais\.Relais1\.[A-Za-z]+)"', xml)
    assert IFACE in ifaces
    shown = "".join(repr(daemon.dbus().get_all(i)) for i in ifaces)
    assert rsa_record in shown and ed_record in shown
    assert "PRIVATE KEY" not in shown
    for pem in pems.values():
        for line in pem.splitlines()[1:-1]:
            assert line not in shown
    # nor in the log
    with open(daemon.log_path, errors="replace") as f:
        log = f.read()
    assert "PRIVATE KEY" not in log
    for pem in pems.values():
        assert pem.splitlines()[1] not in log


def test_errors(daemon):
    cases = [
        (("localhost", "s1", "rsa-2048"), "Domain: 'localhost' is not a fully qualified domain name"),
        (("", "s1", "ed25519"), "Domain: "),
        (("exa mple.org", "s1", "ed25519"), "Domain: "),
        (("example.org", "bad_selector", "ed25519"), "Selector: DKIM selector \"bad_selector\" is not valid"),
        (("example.org", "", "ed25519"), "Selector: "),
        (("example.org", "s1", "dsa"), "Algorithm: DKIM key type \"dsa\" is not known: use rsa-2048 or ed25519"),
    ]
    for args, message in cases:
        e = call_error(daemon, "GenerateDkimKey", "(sssb)", args + (False,))
        assert e.name == ERR + "InvalidArgument", (args, e)
        assert e.message.startswith(message), (args, e.message)
    assert dkim_keys(daemon) == []

    e = call_error(daemon, "RemoveDkimKey", "(sb)", ("nokey.example", False))
    assert e.name == ERR + "NotFound", e
    assert e.message == "domain: no DKIM key for 'nokey.example'"

    generate(daemon, "example.org", "s1", "ed25519")
    daemon.dbus().call(IFACE, "RemoveDkimKey", "(sb)", ("EXAMPLE.org", False))
    assert dkim_keys(daemon) == []
    assert private_keys(daemon) == {}


def test_dkim_needs_configure(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [])
    calls = [
        ("GenerateDkimKey", "(sssb)", ("example.org", "s1", "ed25519", False)),
        ("RemoveDkimKey", "(sb)", ("example.org", False)),
    ]
    for method, sig, args in calls:
        e = call_error(sysdaemon, method, sig, args)
        assert e.name == ERR + "PermissionDenied", (method, e)
    assert checked_actions(polkit_mock).count(ACTION_CONFIGURE) == len(calls)
    assert dkim_keys(sysdaemon) == []

    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    generate(sysdaemon, "example.org", "s1", "ed25519")
    assert [k[0] for k in dkim_keys(sysdaemon)] == ["example.org"]
    sysdaemon.dbus().call(IFACE, "RemoveDkimKey", "(sb)", ("example.org", False))
    assert dkim_keys(sysdaemon) == []


# ---------------------------------------------------------------- signing

pytestmark_net = pytest.mark.skipif(os.environ.get("RELAIS_TEST_NET") != "1",
                                    reason="needs build-aux/with-test-net (root, private network namespace)")


@pytest.fixture
def peer():
    p = Peer(MX1).start()
    yield p
    p.stop()


def send(daemon, sender, to, subject, body="Hello from the signing test.\n"):
    msg = H.make_message(subject=subject, sender=sender, to=to, body=body)
    with smtplib.SMTP(daemon.host, daemon.port, timeout=10) as s:
        s.sendmail(sender, [to], msg)


def our_verify(tmp_path, content, domain, selector, record):
    path = tmp_path / "message.eml"
    path.write_bytes(content)
    p = subprocess.run([os.environ["RELAIS_DKIM_VERIFY"], str(path), domain, selector, record],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def dkimpy_verify(content, record):
    return dkim.verify(content, dnsfunc=lambda name, timeout=5: record.encode())


def check_results(daemon):
    return daemon.dbus().get(IFACE_STATS, "CheckResults")


@pytestmark_net
def test_outgoing_mail_is_signed(daemon, peer, tmp_path):
    # loopback is a local network: let it relay, as a LAN's mail clients would
    daemon.update(Hostname="relais.relais.test", SkipAuthForLocalNetworks=True)
    _, rsa_record, _ = generate(daemon, "signed.test", "s2026", "rsa-2048")
    _, ed_record, _ = generate(daemon, "ed.test", "e1", "ed25519")

    send(daemon, "carol@Signed.TEST", "dave@direct.test", "rsa signed")
    send(daemon, "erin@ed.test", "dave@direct.test", "ed25519 signed")
    send(daemon, "frank@other.test", "dave@direct.test", "not signed")
    got = {m.content.split(b"Subject: ")[1].split(b"\r\n")[0].decode(): m.content
           for m in peer.wait_received(3)}
    assert set(got) == {"rsa signed", "ed25519 signed", "not signed"}

    rsa = got["rsa signed"]
    assert rsa.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;"), rsa[:200]
    assert b"\r\n" in rsa and b"\n" not in rsa.replace(b"\r\n", b"")
    result = our_verify(tmp_path, rsa, "signed.test", "s2026", rsa_record)
    assert result.startswith("dkim=pass header.d=signed.test header.s=s2026"), result
    assert dkimpy_verify(rsa, rsa_record)
    tampered = rsa.replace(b"Hello from the signing test.", b"Hello from the signing TEST.")
    assert tampered != rsa
    assert our_verify(tmp_path, tampered, "signed.test", "s2026", rsa_record).startswith("dkim=fail")
    assert not dkimpy_verify(tampered, rsa_record)

    ed = got["ed25519 signed"]
    assert ed.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256;"), ed[:200]
    result = our_verify(tmp_path, ed, "ed.test", "e1", ed_record)
    assert result.startswith("dkim=pass header.d=ed.test header.s=e1"), result
    assert dkimpy_verify(ed, ed_record)

    assert b"DKIM-Signature" not in got["not signed"]
    assert our_verify(tmp_path, got["not signed"], "other.test", "s1", rsa_record) == "dkim=none"

    H.wait_for(lambda: check_results(daemon).get("dkim-sign:signed") == 2, 20, "two signatures counted",
               details=lambda: repr(check_results(daemon)))
    assert "dkim-sign:error" not in check_results(daemon)
    with open(daemon.log_path, errors="replace") as f:
        log = f.read()
    assert "DKIM-signed for signed.test with selector s2026" in log
    assert "DKIM-signed for ed.test with selector e1" in log

    # DkimSigning off: nothing is signed, the keys stay
    daemon.dbus().call(IFACE, "Update", "(a{sv}b)", ({"DkimSigning": GLib.Variant("b", False)}, False))
    send(daemon, "carol@signed.test", "dave@direct.test", "signing off")
    last = peer.wait_received(4)[3].content
    assert b"Subject: signing off" in last
    assert b"DKIM-Signature" not in last
    assert len(dkim_keys(daemon)) == 2
