# SPDX-License-Identifier: GPL-3.0-or-later
"""The D-Bus API (session bus, no polkit): defaults, signals, persistence,
accounts, statistics."""

import smtplib
import threading
import time
import uuid

import pytest
from gi.repository import Gio, GLib

from relais_helpers import (
    BUS_NAME, CLIENT_HELO, ERR, IFACE_ACCOUNTS, IFACE_GENERAL, IFACE_STATS, OBJ_PATH, SENDER,
    TEST_DOMAIN, TEST_LOGIN, TEST_PASSWORD, DBusCallError, DBusClient, RawSMTP,
    header_values, iterate_until, make_message, wait_for,
)


def send(daemon, rcpt, subject=None, body="hello\n"):
    subject = subject or "msg " + uuid.uuid4().hex
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=15) as s:
        s.sendmail(SENDER, [rcpt], make_message(subject, body, to=rcpt))
    return subject


def rcpt_reply(daemon, rcpt):
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        return c.cmd("RCPT TO:<%s>" % rcpt)


# ---------------------------------------------------------------- General

def test_general_defaults(daemon):
    g = daemon.general()
    expected = {
        "SmtpAuthentication": True,
        "SkipAuthForLocalNetworks": False,
        "VerifySenderLogin": False,
        "SkipSenderCheckForTrusted": False,
        "DisableAutoForward": False,
        "Banner": "ESMTP Relais",
        "MaxRecipients": 100,
        "MaxHops": 50,
        "MaxMessageSizeMB": 10,
        "ExternalAdministrators": [],
        "IdleTimeout": 300,
        "MaxSessions": 5000,
    }
    for k, v in expected.items():
        assert k in g, "GetAll General lacks %s: %r" % (k, g)
        assert g[k] == v, "%s = %r, SPEC default %r" % (k, g[k], v)
    assert isinstance(g["Hostname"], str) and g["Hostname"], g


def test_properties_changed_on_update(daemon):
    client = DBusClient(daemon.bus_address)
    try:
        proxy = Gio.DBusProxy.new_sync(client.conn, Gio.DBusProxyFlags.NONE, None,
                                       BUS_NAME, OBJ_PATH, IFACE_GENERAL, None)
        assert proxy.get_cached_property("MaxRecipients").unpack() == 100
        seen = []
        proxy.connect("g-properties-changed",
                      lambda _p, changed, _inval: seen.append(changed.unpack()))
        daemon.update(MaxRecipients=42, Banner="Signal test")

        def got():
            merged = {}
            for c in seen:
                merged.update(c)
            return merged.get("MaxRecipients") == 42 and merged.get("Banner") == "Signal test"

        assert iterate_until(got, 5), "no PropertiesChanged for the Update: %r" % seen
        assert proxy.get_cached_property("MaxRecipients").unpack() == 42
    finally:
        client.close()


def test_settings_persist_across_restart(daemon):
    daemon.update(MaxRecipients=33, Hostname="mx.persist.test", Banner="Persisted",
                  ExternalAdministrators=["boss@example.net"])
    daemon.add_domain("persist.test")
    daemon.add_account("dora", aliases=["info@persist.test"])
    daemon.restart(hard=False)
    g = daemon.general()
    assert (g["MaxRecipients"], g["Hostname"], g["Banner"], g["ExternalAdministrators"]) == \
        (33, "mx.persist.test", "Persisted", ["boss@example.net"])
    a = daemon.accounts()
    assert "persist.test" in a["LocalDomains"]
    assert ("dora", ["info@persist.test"], []) in [tuple(x) for x in a["Accounts"]]
    with RawSMTP(daemon.host, daemon.port) as c:
        assert c.greeting().lines[0] == "mx.persist.test Persisted"


def test_settings_persist_across_kill9(daemon):
    daemon.update(MaxHops=12)
    daemon.restart(hard=True)
    assert daemon.general()["MaxHops"] == 12


# ---------------------------------------------------------------- Accounts

def test_local_domains(daemon):
    daemon.add_domain("Relais.TEST")
    daemon.add_domain("another.test")
    assert daemon.accounts()["LocalDomains"] == ["another.test", "relais.test"]
    with pytest.raises(DBusCallError) as e:
        daemon.add_domain("relais.test")
    assert e.value.name == ERR + "AlreadyExists", e.value
    daemon.dbus().call(IFACE_ACCOUNTS, "RemoveLocalDomain", "(sb)", ("another.test", False))
    assert daemon.accounts()["LocalDomains"] == ["relais.test"]
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE_ACCOUNTS, "RemoveLocalDomain", "(sb)", ("another.test", False))
    assert e.value.name == ERR + "NotFound", e.value


def test_add_account_password_never_returned(daemon):
    daemon.add_domain()
    secret = "Zq9-unique-secret-" + uuid.uuid4().hex[:8]
    daemon.add_account(TEST_LOGIN, password=secret, aliases=["sales@" + TEST_DOMAIN],
                       forwards=["elsewhere@example.org"])
    accts = [tuple(x) for x in daemon.accounts()["Accounts"]]
    assert accts == [(TEST_LOGIN, ["sales@" + TEST_DOMAIN], ["elsewhere@example.org"])], accts
    dump = ""
    for iface in (IFACE_GENERAL, IFACE_ACCOUNTS, IFACE_STATS):
        dump += repr(daemon.dbus().get_all(iface))
    dump += daemon.dbus().introspect()
    assert secret not in dump
    # nor stored in clear in the state dir
    import os
    for root, _dirs, files in os.walk(daemon.state_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert secret.encode() not in fh.read(), "password in clear in %s" % f


def test_duplicate_account(daemon):
    daemon.setup_mailbox()
    with pytest.raises(DBusCallError) as e:
        daemon.add_account(TEST_LOGIN)
    assert e.value.name == ERR + "AlreadyExists", e.value


@pytest.mark.parametrize("login,password,aliases,field", [
    ("Bad Login!", TEST_PASSWORD, [], "login"),
    ("", TEST_PASSWORD, [], "login"),
    ("-dash", TEST_PASSWORD, [], "login"),
    ("x" * 65, TEST_PASSWORD, [], "login"),
    ("shortpw", "short", [], "password"),
    ("bob", TEST_PASSWORD, ["not-an-address"], "alias"),
    ("bob", TEST_PASSWORD, ["bob@not-local.example.org"], "alias"),
])
def test_invalid_account(daemon, login, password, aliases, field):
    daemon.add_domain()
    with pytest.raises(DBusCallError) as e:
        daemon.add_account(login, password=password, aliases=aliases)
    assert e.value.name == ERR + "InvalidArgument", e.value
    assert field in e.value.message.lower(), "message does not name the %s: %r" % (field, e.value)
    assert daemon.accounts()["Accounts"] == []


def test_update_account_aliases_routes_mail(daemon, mailbox):
    alias = "sales@" + TEST_DOMAIN
    r = rcpt_reply(daemon, alias)
    assert r.code == 550, r
    daemon.dbus().call(IFACE_ACCOUNTS, "UpdateAccount", "(sa{sv}b)",
                       (TEST_LOGIN, {"Aliases": GLib.Variant("as", [alias])}, False))
    assert [tuple(x) for x in daemon.accounts()["Accounts"]] == [(TEST_LOGIN, [alias], [])]
    subject = send(daemon, alias)
    (msg,) = daemon.wait_messages(1)
    assert header_values(msg, "Subject") == [subject]
    assert alias in " ".join(header_values(msg, "Delivered-To"))
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE_ACCOUNTS, "UpdateAccount", "(sa{sv}b)",
                           ("nobody", {"Aliases": GLib.Variant("as", [])}, False))
    assert e.value.name == ERR + "NotFound", e.value


def test_remove_account(daemon, mailbox):
    assert rcpt_reply(daemon, mailbox).code == 250
    daemon.dbus().call(IFACE_ACCOUNTS, "RemoveAccount", "(sb)", (TEST_LOGIN, False))
    assert daemon.accounts()["Accounts"] == []
    r = rcpt_reply(daemon, mailbox)
    assert r.code == 550 and r.lines[0].startswith("5.1.1"), r
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE_ACCOUNTS, "RemoveAccount", "(sb)", (TEST_LOGIN, False))
    assert e.value.name == ERR + "NotFound", e.value


def test_unknown_general_property_update(daemon):
    with pytest.raises(DBusCallError) as e:
        daemon.update(Frobnicate=1)
    assert e.value.name == ERR + "InvalidArgument"
    assert "Frobnicate" in e.value.message


# ---------------------------------------------------------------- Statistics

def test_statistics_count(daemon, mailbox):
    s0 = daemon.stats()
    for k in ("Connections", "SessionsOpen", "MessagesReceived", "DeliveredLocal", "Rejected",
              "RejectedByReason", "QueueLength"):
        assert k in s0, "Statistics lacks %s: %r" % (k, s0)
    send(daemon, mailbox)
    send(daemon, mailbox)
    daemon.wait_messages(2)
    r = rcpt_reply(daemon, "ghost@" + TEST_DOMAIN)
    assert r.code == 550

    def moved():
        s = daemon.stats()
        return (s["MessagesReceived"] >= s0["MessagesReceived"] + 2
                and s["DeliveredLocal"] >= s0["DeliveredLocal"] + 2
                and s["Connections"] >= s0["Connections"] + 3
                and s["Rejected"] >= s0["Rejected"] + 1) and s

    s1 = wait_for(moved, 5, "statistics to count 3 connections, 2 messages, 1 rejection",
                  details=lambda: repr(daemon.stats()))
    assert s1["MessagesReceived"] == s0["MessagesReceived"] + 2
    assert s1["DeliveredLocal"] == s0["DeliveredLocal"] + 2
    assert s1["Rejected"] == s0["Rejected"] + 1
    before = dict(s0["RejectedByReason"])
    after = dict(s1["RejectedByReason"])
    assert sum(after.values()) == sum(before.values()) + 1, (before, after)
    assert after.get("unknown-recipient", 0) == before.get("unknown-recipient", 0) + 1, after
    wait_for(lambda: daemon.stats()["SessionsOpen"] == 0, 5, "SessionsOpen back to 0")


def test_statistics_signal_rate(daemon, mailbox):
    client = DBusClient(daemon.bus_address)
    signals = []

    def on_signal(_conn, _sender, _path, _iface, _member, params):
        iface, changed, _inval = params.unpack()
        if iface == IFACE_STATS:
            signals.append((time.monotonic(), changed))

    sub = client.conn.signal_subscribe(BUS_NAME, "org.freedesktop.DBus.Properties",
                                       "PropertiesChanged", OBJ_PATH, IFACE_STATS,
                                       Gio.DBusSignalFlags.NONE, on_signal)
    stop = threading.Event()
    sent = []
    errors = []

    def sender():
        try:
            with smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO,
                              timeout=15) as s:
                while not stop.is_set():
                    s.sendmail(SENDER, [mailbox], make_message(None, "rate\n", to=mailbox))
                    sent.append(1)
        except Exception as e:      # reported below
            errors.append(e)

    t = threading.Thread(target=sender, daemon=True)
    try:
        t.start()
        # let the first signal arrive, then count over a 3 s window
        assert iterate_until(lambda: len(signals) > 0, 5), "no Statistics PropertiesChanged"
        start = time.monotonic()
        iterate_until(lambda: time.monotonic() - start >= 3.0, 4)
        in_window = [s for s in signals if start <= s[0] < start + 3.0]
    finally:
        stop.set()
        t.join(20)
        client.conn.signal_unsubscribe(sub)
        client.close()
    assert not errors, errors
    assert len(sent) >= 10, "only %d messages sent in the window" % len(sent)
    assert 1 <= len(in_window) <= 4, \
        "%d Statistics PropertiesChanged in 3 s while sending %d messages" % (len(in_window), len(sent))
