# SPDX-License-Identifier: GPL-3.0-or-later
"""org.relais.Relais1.Distribution on the real relaisd: the three modes, relay
hosts and rules through busctl and gdbus, validation errors that name the
field, write-only passwords, persistence across a restart, PropertiesChanged,
and polkit on the system-like bus."""

import uuid

import pytest
from gi.repository import Gio, GLib

from relais_helpers import (
    BUS_NAME, ERR, OBJ_PATH, DBusCallError, DBusClient, busctl, gdbus_call, iterate_until,
)
# The system-like bus with the polkit mock, shared with test_polkit.py.
from test_polkit import (  # noqa: F401  (pytest fixtures)
    ACTION_CONFIGURE, checked_actions, polkit_mock, set_allowed, sysdaemon, system_bus,
)

IFACE = "org.relais.Relais1.Distribution"

DEFAULTS = {
    "Mode": "direct",
    "RelayServer": "",
    "RelayPort": 25,
    "RelayAlwaysTls": False,
    "RelayAuthentication": False,
    "RelayUsername": "",
    "RelayPasswordSet": False,
    "RelayHosts": [],
    "Rules": [],
}


def props(daemon):
    return daemon.dbus().get_all(IFACE)


def bctl(daemon, *args, check=True):
    """busctl call on the Distribution interface; returns busctl's result."""
    return busctl(daemon.bus_address, "call", BUS_NAME, OBJ_PATH, IFACE, *args, check=check)


def bget(daemon, prop):
    return busctl(daemon.bus_address, "get-property", BUS_NAME, OBJ_PATH, IFACE,
                  prop).stdout.strip()


def update(daemon, **changes):
    """Distribution.Update through busctl: a{sv} from str/bool/int values."""
    args = ["Update", "a{sv}b", len(changes)]
    for name, value in changes.items():
        if isinstance(value, bool):
            args += [name, "b", "true" if value else "false"]
        elif isinstance(value, int):
            args += [name, "u", value]
        else:
            args += [name, "s", value]
    return bctl(daemon, *(args + ["false"]))


def add_host(daemon, name, server, **fields):
    v = {"Server": GLib.Variant("s", server)}
    for k, val in fields.items():
        v[k] = GLib.Variant("b" if isinstance(val, bool) else "u" if isinstance(val, int) else "s", val)
    daemon.dbus().call(IFACE, "AddRelayHost", "(sa{sv}b)", (name, v, False))


def add_rule(daemon, kind, host, patterns):
    return daemon.dbus().call(IFACE, "AddRule", "(ssasb)", (kind, host, patterns, False))[0]


def call_error(daemon, method, signature, args):
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE, method, signature, args)
    return e.value


# ---------------------------------------------------------------- modes

def test_defaults(daemon):
    assert props(daemon) == DEFAULTS
    assert IFACE in daemon.dbus().introspect()


def test_each_mode(daemon):
    # one relay host
    update(daemon, Mode="relay-host", RelayServer="SMTP.ISP.example", RelayPort=587,
           RelayAlwaysTls=True, RelayAuthentication=True, RelayUsername="relais",
           RelayPassword="pw-" + uuid.uuid4().hex)
    assert bget(daemon, "Mode") == 's "relay-host"'
    assert bget(daemon, "RelayServer") == 's "smtp.isp.example"'
    assert bget(daemon, "RelayPort") == "u 587"
    assert bget(daemon, "RelayPasswordSet") == "b true"
    p = props(daemon)
    assert (p["RelayAlwaysTls"], p["RelayAuthentication"], p["RelayUsername"]) == \
        (True, True, "relais")

    # several relay hosts: needs a host first
    e = call_error(daemon, "Update", "(a{sv}b)", ({"Mode": GLib.Variant("s", "relay-hosts")}, False))
    assert e.name == ERR + "InvalidArgument" and "Mode" in e.message, e
    add_host(daemon, "office", "192.0.2.10", Port=465, AlwaysTls=True)
    update(daemon, Mode="relay-hosts")
    assert bget(daemon, "Mode") == 's "relay-hosts"'

    # direct again; the single host's settings are kept
    update(daemon, Mode="direct")
    p = props(daemon)
    assert p["Mode"] == "direct" and p["RelayServer"] == "smtp.isp.example", p


def test_relay_hosts_and_rules(daemon):
    bctl(daemon, "AddRelayHost", "sa{sv}b", "zurich", 2, "Server", "s", "mx.zurich.example",
         "Port", "u", 2525, "false")
    bctl(daemon, "AddRelayHost", "sa{sv}b", "Brussels ISP", 6, "Server", "s", "198.51.100.7",
         "Port", "u", 465, "AlwaysTls", "b", "true", "Authentication", "b", "true",
         "Username", "s", "bx", "Password", "s", "bx-secret", "false")
    assert props(daemon)["RelayHosts"] == [
        ("Brussels ISP", "198.51.100.7", 465, True, True, "bx", True),
        ("zurich", "mx.zurich.example", 2525, False, False, "", False),
    ]
    r1 = bctl(daemon, "AddRule", "ssasb", "recipient", "zurich", 2, "Example.ORG",
              "Boss@Example.NET", "false").stdout.strip()
    assert r1 == "u 1", r1
    r2 = add_rule(daemon, "sender", "Brussels ISP", ["example.com"])
    assert r2 == 2
    assert props(daemon)["Rules"] == [
        (1, "recipient", "zurich", ["example.org", "Boss@example.net"]),
        (2, "sender", "Brussels ISP", ["example.com"]),
    ]

    bctl(daemon, "MoveRule", "uub", 2, 0, "false")
    assert [r[0] for r in props(daemon)["Rules"]] == [2, 1]
    bctl(daemon, "UpdateRule", "ua{sv}b", 1, 2, "Kind", "s", "sender",
         "Patterns", "as", 1, "partner.example", "false")
    assert props(daemon)["Rules"][1] == (1, "sender", "zurich", ["partner.example"])

    # a rename carries the rules along; the stored password is kept
    bctl(daemon, "UpdateRelayHost", "sa{sv}b", "Brussels ISP", 2, "Name", "s", "brussels",
         "Port", "u", 587, "false")
    p = props(daemon)
    assert p["RelayHosts"][0] == ("brussels", "198.51.100.7", 587, True, True, "bx", True)
    assert p["Rules"][0] == (2, "sender", "brussels", ["example.com"])

    # a host in use cannot go; the error names the rule
    e = call_error(daemon, "RemoveRelayHost", "(sb)", ("brussels", False))
    assert e.name == ERR + "InvalidArgument" and "rule 2" in e.message, e
    bctl(daemon, "RemoveRule", "ub", 2, "false")
    bctl(daemon, "RemoveRelayHost", "sb", "brussels", "false")
    p = props(daemon)
    assert [h[0] for h in p["RelayHosts"]] == ["zurich"]
    assert [r[0] for r in p["Rules"]] == [1]

    for method, sig, args in [("RemoveRule", "(ub)", (2, False)),
                              ("UpdateRule", "(ua{sv}b)", (9, {}, False)),
                              ("MoveRule", "(uub)", (9, 0, False)),
                              ("RemoveRelayHost", "(sb)", ("brussels", False)),
                              ("UpdateRelayHost", "(sa{sv}b)", ("brussels", {}, False))]:
        e = call_error(daemon, method, sig, args)
        assert e.name == ERR + "NotFound", (method, e)
    e = call_error(daemon, "AddRelayHost", "(sa{sv}b)",
                   ("ZURICH", {"Server": GLib.Variant("s", "x.example")}, False))
    assert e.name == ERR + "AlreadyExists", e


# ---------------------------------------------------------------- validation

S = lambda v: GLib.Variant("s", v)  # noqa: E731
U = lambda v: GLib.Variant("u", v)  # noqa: E731
B = lambda v: GLib.Variant("b", v)  # noqa: E731


@pytest.mark.parametrize("method,signature,args,field", [
    ("Update", "(a{sv}b)", ({"Mode": S("smart")}, False), "Mode"),
    ("Update", "(a{sv}b)", ({"Mode": S("relay-host")}, False), "RelayServer"),
    ("Update", "(a{sv}b)", ({"RelayServer": S("bad_host.example")}, False), "RelayServer"),
    ("Update", "(a{sv}b)", ({"RelayPort": U(0)}, False), "RelayPort"),
    ("Update", "(a{sv}b)", ({"RelayPort": U(65536)}, False), "RelayPort"),
    ("Update", "(a{sv}b)", ({"RelayPort": S("25")}, False), "RelayPort"),
    ("Update", "(a{sv}b)", ({"RelayAuthentication": B(True)}, False), "RelayUsername"),
    ("Update", "(a{sv}b)", ({"RelayAuthentication": B(True), "RelayUsername": S("u")}, False),
     "RelayPassword"),
    ("Update", "(a{sv}b)", ({"RelayPasswordSet": B(True)}, False), "RelayPasswordSet"),
    ("Update", "(a{sv}b)", ({"RelayPort": U(587), "Frobnicate": B(True)}, False), "Frobnicate"),
    ("AddRelayHost", "(sa{sv}b)", ("", {"Server": S("a.example")}, False), "Name"),
    ("AddRelayHost", "(sa{sv}b)", ("x" * 65, {"Server": S("a.example")}, False), "Name"),
    ("AddRelayHost", "(sa{sv}b)", ("new", {}, False), "Server"),
    ("AddRelayHost", "(sa{sv}b)", ("new", {"Server": S("a.example"), "Port": U(0)}, False), "Port"),
    ("AddRelayHost", "(sa{sv}b)", ("new", {"Server": S("a.example"), "Colour": S("red")}, False),
     "Colour"),
    ("AddRelayHost", "(sa{sv}b)", ("new", {"Server": S("a.example"), "Authentication": B(True),
                                           "Username": S("u")}, False), "Password"),
    ("UpdateRelayHost", "(sa{sv}b)", ("office", {"Server": S("")}, False), "Server"),
    ("UpdateRelayHost", "(sa{sv}b)", ("office", {"Name": S("")}, False), "Name"),
    ("AddRule", "(ssasb)", ("both", "office", ["example.org"], False), "Kind"),
    ("AddRule", "(ssasb)", ("recipient", "nowhere", ["example.org"], False), "Host"),
    ("AddRule", "(ssasb)", ("recipient", "office", [], False), "Patterns"),
    ("AddRule", "(ssasb)", ("recipient", "office", ["not an address"], False), "Patterns"),
    ("UpdateRule", "(ua{sv}b)", (1, {"Patterns": S("example.org")}, False), "Patterns"),
    ("UpdateRule", "(ua{sv}b)", (1, {"Host": S("nowhere")}, False), "Host"),
    ("MoveRule", "(uub)", (1, 5, False), "position"),
])
def test_invalid_values(daemon, method, signature, args, field):
    add_host(daemon, "office", "smtp.office.example")
    add_rule(daemon, "recipient", "office", ["example.org"])
    before = props(daemon)
    e = call_error(daemon, method, signature, args)
    assert e.name == ERR + "InvalidArgument", e
    assert e.message.startswith(field + ":"), "message does not name %s: %r" % (field, e.message)
    assert props(daemon) == before, "a refused call changed something"


def test_error_name_from_gdbus(daemon):
    """What an administrator sees on the command line."""
    p = gdbus_call(daemon.bus_address, IFACE + ".Update", "{'RelayPort': <uint32 0>}", "false")
    assert p.returncode != 0
    assert "org.relais.Relais1.Error.InvalidArgument" in p.stderr, p.stderr
    assert "RelayPort: 0 is out of range" in p.stderr, p.stderr
    p = busctl(daemon.bus_address, "call", BUS_NAME, OBJ_PATH, IFACE, "Update", "a{sv}b", 1,
               "Mode", "s", "smart", "false", check=False)
    assert p.returncode != 0 and "Mode: 'smart' is not a mode" in p.stderr, p.stderr


# ---------------------------------------------------------------- secrets, persistence, signals

def test_password_never_readable(daemon):
    single = "single-" + uuid.uuid4().hex
    listed = "listed-" + uuid.uuid4().hex
    update(daemon, RelayServer="smtp.isp.example", RelayAuthentication=True,
           RelayUsername="relais", RelayPassword=single)
    add_host(daemon, "office", "192.0.2.10", Authentication=True, Username="me", Password=listed)
    bctl(daemon, "UpdateRelayHost", "sa{sv}b", "office", 1, "Password", "s", listed + "2", "false")

    p = props(daemon)
    assert p["RelayPasswordSet"] is True
    assert p["RelayHosts"][0][6] is True
    dump = repr(p)
    dump += busctl(daemon.bus_address, "introspect", BUS_NAME, OBJ_PATH, IFACE).stdout
    dump += busctl(daemon.bus_address, "introspect", BUS_NAME, OBJ_PATH).stdout
    dump += daemon.dbus().introspect()
    for prop in DEFAULTS:
        dump += bget(daemon, prop)
    with open(daemon.log_path, errors="replace") as f:
        dump += f.read()
    for secret in (single, listed):
        assert secret not in dump, "a relay password is readable"

    # clearing the password with authentication on is refused; with it off, allowed
    e = call_error(daemon, "Update", "(a{sv}b)", ({"RelayPassword": S("")}, False))
    assert e.name == ERR + "InvalidArgument" and e.message.startswith("RelayPassword:"), e
    update(daemon, RelayAuthentication=False, RelayPassword="")
    assert props(daemon)["RelayPasswordSet"] is False


def test_settings_survive_restart(daemon):
    update(daemon, RelayServer="smtp.isp.example", RelayPort=465, RelayAlwaysTls=True,
           RelayAuthentication=True, RelayUsername="relais", RelayPassword="kept-secret")
    add_host(daemon, "office", "192.0.2.10", Port=587)
    add_host(daemon, "backup", "backup.example", Authentication=True, Username="b", Password="p")
    add_rule(daemon, "recipient", "office", ["example.org"])
    add_rule(daemon, "sender", "backup", ["Boss@example.com", "example.net"])
    bctl(daemon, "MoveRule", "uub", 2, 0, "false")
    update(daemon, Mode="relay-hosts")
    before = props(daemon)

    daemon.restart(hard=False)
    assert props(daemon) == before
    daemon.restart(hard=True)
    after = props(daemon)
    assert after == before
    assert after["RelayPasswordSet"] is True and after["Mode"] == "relay-hosts"
    # ids go on after the restart
    assert add_rule(daemon, "recipient", "office", ["example.info"]) == 3


def test_properties_changed(daemon):
    client = DBusClient(daemon.bus_address)
    try:
        proxy = Gio.DBusProxy.new_sync(client.conn, Gio.DBusProxyFlags.NONE, None,
                                       BUS_NAME, OBJ_PATH, IFACE, None)
        assert proxy.get_cached_property("Mode").unpack() == "direct"
        seen = {}
        proxy.connect("g-properties-changed",
                      lambda _p, changed, _inval: seen.update(changed.unpack()))

        add_host(daemon, "office", "192.0.2.10")
        assert iterate_until(lambda: "RelayHosts" in seen, 5), "no PropertiesChanged: %r" % seen
        assert seen["RelayHosts"] == [("office", "192.0.2.10", 25, False, False, "", False)]

        add_rule(daemon, "sender", "office", ["example.org"])
        update(daemon, Mode="relay-hosts", RelayPassword="x")
        assert iterate_until(lambda: seen.get("Mode") == "relay-hosts" and "Rules" in seen
                             and seen.get("RelayPasswordSet") is True, 5), seen
        assert seen["Rules"] == [(1, "sender", "office", ["example.org"])]
        assert proxy.get_cached_property("Mode").unpack() == "relay-hosts"
        # a refused call changes nothing and signals nothing
        seen.clear()
        call_error(daemon, "Update", "(a{sv}b)", ({"RelayPort": U(0)}, False))
        iterate_until(lambda: bool(seen), 0.5)
        assert seen == {}
    finally:
        client.close()


# ---------------------------------------------------------------- polkit

def test_distribution_needs_configure(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [])
    calls = [
        ("Update", "(a{sv}b)", ({"RelayPort": U(587)}, False)),
        ("AddRelayHost", "(sa{sv}b)", ("office", {"Server": S("a.example")}, False)),
        ("UpdateRelayHost", "(sa{sv}b)", ("office", {}, False)),
        ("AddRule", "(ssasb)", ("sender", "office", ["example.org"], False)),
        ("UpdateRule", "(ua{sv}b)", (1, {}, False)),
        ("MoveRule", "(uub)", (1, 0, False)),
        ("RemoveRule", "(ub)", (1, False)),
        ("RemoveRelayHost", "(sb)", ("office", False)),
    ]
    for method, sig, args in calls:
        e = call_error(sysdaemon, method, sig, args)
        assert e.name == ERR + "PermissionDenied", (method, e)
    assert checked_actions(polkit_mock).count(ACTION_CONFIGURE) == len(calls)
    assert props(sysdaemon) == DEFAULTS

    # TestRelayHost uses the stored password: the same action
    e = call_error(sysdaemon, "TestRelayHost", "(sb)", ("", False))
    assert e.name == ERR + "PermissionDenied", e

    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    for method, sig, args in calls:
        sysdaemon.dbus().call(IFACE, method, sig, args)
    p = props(sysdaemon)
    assert (p["RelayPort"], p["RelayHosts"], p["Rules"]) == (587, [], [])
    e = call_error(sysdaemon, "TestRelayHost", "(sb)", ("", False))
    assert e.name == ERR + "InvalidArgument" and "RelayServer" in e.message, e
    e = call_error(sysdaemon, "TestRelayHost", "(sb)", ("nowhere", False))
    assert e.name == ERR + "NotFound", e
