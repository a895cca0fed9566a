# SPDX-License-Identifier: GPL-3.0-or-later
"""org.relais.Relais1.Security on the real relaisd: the defaults of SPEC §4.6,
Update (all or nothing, PropertiesChanged, persisted across restarts), the
black/white rules (add, update, remove, move, replace) with errors that name
the field, 100,000 rules imported and read back after a restart, and polkit
on the system-like bus."""

import time

import pytest
from gi.repository import Gio, GLib

from relais_helpers import (
    BUS_NAME, ERR, OBJ_PATH, DBusCallError, DBusClient, busctl, gdbus_call, iterate_until,
)
# The system-like bus with the polkit mock, shared with test_polkit.py.
from test_polkit import (  # noqa: F401  (pytest fixtures)
    ACTION_CONFIGURE, checked_actions, polkit_mock, set_allowed, sysdaemon, system_bus,
)

IFACE = "org.relais.Relais1.Security"

DEFAULT_SETTINGS = {
    "RejectNonFqdnSender": True,
    "RejectUnknownSenderDomain": False,
    "RejectUnknownClientHostname": False,
    "LimitConnections": True,
    "MaxConnections": 50,
    "LimitMessageRate": False,
    "MaxMessagesPerMinute": 60,
    "LimitConnectionRate": False,
    "MaxConnectionsPerMinute": 60,
    "RejectUnauthorizedPipelining": True,
    "RejectNonFqdnHelo": False,
    "RejectUnknownHelo": False,
    "BlockNonexistentRecipients": False,
    "MaxNonexistentRecipients": 20,
    "MaxJunkCommands": 100,
    "Dnsbl": False,
    "DnsblZones": [],
    "Spf": False,
    "Dkim": False,
    "Dmarc": False,
    "Antivirus": False,
    "AntivirusSocket": "/run/clamav/clamd.ctl",
    "AntivirusUnreachable": "defer",
    "DkimSigning": True,
}
# SPEC §4.1's table of the checks each whitelist type skips (a constant).
WHITELIST_SKIPS = [
    ("ip", ["dnsbl", "spf", "antivirus", "dkim", "dmarc"]),
    ("subnet", ["dnsbl", "spf", "dkim", "dmarc"]),
    ("sender", ["spf", "antivirus"]),
    ("recipient", ["spf", "antivirus"]),
    ("domain", ["spf", "antivirus", "dkim", "dmarc"]),
]
DEFAULTS = dict(DEFAULT_SETTINGS, Rules=[], WhitelistSkips=WHITELIST_SKIPS, DkimKeys=[])

S = lambda v: GLib.Variant("s", v)  # noqa: E731
U = lambda v: GLib.Variant("u", v)  # noqa: E731
B = lambda v: GLib.Variant("b", v)  # noqa: E731


def props(daemon):
    return daemon.dbus().get_all(IFACE)


def rules(daemon):
    return props(daemon)["Rules"]


def update(daemon, changes, timeout_ms=10000):
    daemon.dbus().call(IFACE, "Update", "(a{sv}b)", (changes, False), timeout_ms=timeout_ms)


def add_rule(daemon, name, lst, typ, value, action=""):
    daemon.dbus().call(IFACE, "AddRule", "(sssssb)", (name, lst, typ, value, action, False))


def call_error(daemon, method, signature, args):
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE, method, signature, args)
    return e.value


def add_sample_rules(daemon):
    add_rule(daemon, "spammer", "black", "ip", "192.0.2.7", "reject")
    add_rule(daemon, "partner net", "white", "subnet", "198.51.100.0/255.255.255.0")
    add_rule(daemon, "Partner", "white", "domain", "Partner.EXAMPLE")
    add_rule(daemon, "junk", "black", "sender", "Junk@Spam.Example", "discard")


SAMPLE_RULES = [
    ("spammer", "black", "ip", "192.0.2.7", "reject"),
    ("partner net", "white", "subnet", "198.51.100.0/24", ""),
    ("Partner", "white", "domain", "partner.example", ""),
    ("junk", "black", "sender", "Junk@spam.example", "discard"),
]


# ---------------------------------------------------------------- settings

def test_defaults(daemon):
    assert props(daemon) == DEFAULTS
    assert IFACE in daemon.dbus().introspect()
    p = busctl(daemon.bus_address, "get-property", BUS_NAME, OBJ_PATH, IFACE, "MaxConnections")
    assert p.stdout.strip() == "u 50"
    p = busctl(daemon.bus_address, "get-property", BUS_NAME, OBJ_PATH, IFACE, "Rules")
    assert p.stdout.strip() == "a(sssss) 0"


def test_update_persists_and_signals(daemon):
    client = DBusClient(daemon.bus_address)
    try:
        proxy = Gio.DBusProxy.new_sync(client.conn, Gio.DBusProxyFlags.NONE, None,
                                       BUS_NAME, OBJ_PATH, IFACE, None)
        assert proxy.get_cached_property("LimitMessageRate").unpack() is False
        seen = {}
        proxy.connect("g-properties-changed",
                      lambda _p, changed, _inval: seen.update(changed.unpack()))

        update(daemon, {"LimitMessageRate": B(True), "MaxMessagesPerMinute": U(30),
                        "RejectNonFqdnSender": B(False), "MaxJunkCommands": U(7)})
        assert iterate_until(lambda: "MaxJunkCommands" in seen, 5), \
            "no PropertiesChanged: %r" % seen
        assert seen == {"LimitMessageRate": True, "MaxMessagesPerMinute": 30,
                        "RejectNonFqdnSender": False, "MaxJunkCommands": 7}
        # a setting given its current value signals nothing
        seen.clear()
        update(daemon, {"MaxConnections": U(50), "RejectUnknownHelo": B(True)})
        assert iterate_until(lambda: "RejectUnknownHelo" in seen, 5), seen
        assert seen == {"RejectUnknownHelo": True}
        # the content checks (issue 7)
        seen.clear()
        content = {"Spf": True, "Dkim": True, "Dmarc": True, "Antivirus": True,
                   "AntivirusSocket": "127.0.0.1:3310", "AntivirusUnreachable": "accept"}
        update(daemon, {k: (B(v) if isinstance(v, bool) else S(v)) for k, v in content.items()})
        assert iterate_until(lambda: "AntivirusUnreachable" in seen, 5), seen
        assert seen == content
    finally:
        client.close()

    expected = dict(DEFAULTS, LimitMessageRate=True, MaxMessagesPerMinute=30,
                    RejectNonFqdnSender=False, MaxJunkCommands=7, RejectUnknownHelo=True,
                    **content)
    assert props(daemon) == expected
    daemon.restart(hard=False)
    assert props(daemon) == expected
    daemon.restart(hard=True)
    assert props(daemon) == expected


@pytest.mark.parametrize("changes,prefix", [
    ({"MaxConnections": U(0)}, "MaxConnections: 0 is out of range: it must be between 1 and 10000"),
    ({"MaxConnections": U(10001)}, "MaxConnections: 10001 is out of range"),
    ({"MaxMessagesPerMinute": U(0)}, "MaxMessagesPerMinute: 0 is out of range"),
    ({"MaxConnectionsPerMinute": U(100001)}, "MaxConnectionsPerMinute: 100001 is out of range"),
    ({"MaxNonexistentRecipients": U(0)}, "MaxNonexistentRecipients: 0 is out of range"),
    ({"MaxJunkCommands": U(0)}, "MaxJunkCommands: 0 is out of range"),
    ({"MaxJunkCommands": GLib.Variant("i", 5)}, "MaxJunkCommands: expected a value of type 'u'"),
    ({"RejectNonFqdnSender": S("yes")}, "RejectNonFqdnSender: expected a value of type 'b'"),
    ({"LimitConnections": U(1)}, "LimitConnections: expected a value of type 'b'"),
    ({"Rules": GLib.Variant("a(sssss)", [])}, "Rules: no such setting"),
    ({"Colour": S("red")}, "Colour: no such setting in org.relais.Relais1.Security"),
    ({"AntivirusSocket": S("clamd")},
     "AntivirusSocket: 'clamd' is neither an absolute Unix socket path nor HOST:PORT"),
    ({"AntivirusSocket": S("localhost:0")}, "AntivirusSocket: '0' in 'localhost:0' is not a port number"),
    ({"AntivirusSocket": S("/" + "x" * 120)}, "AntivirusSocket: the Unix socket path '/xxx"),
    ({"AntivirusUnreachable": S("drop")},
     "AntivirusUnreachable: 'drop' is neither \"defer\" nor \"accept\""),
    ({"Spf": S("on")}, "Spf: expected a value of type 'b'"),
    ({"WhitelistSkips": GLib.Variant("a(sas)", [])}, "WhitelistSkips: no such setting"),
    # all or nothing: the good change is not applied either
    ({"LimitMessageRate": B(True), "MaxMessagesPerMinute": U(0)}, "MaxMessagesPerMinute:"),
])
def test_update_invalid(daemon, changes, prefix):
    e = call_error(daemon, "Update", "(a{sv}b)", (changes, False))
    assert e.name == ERR + "InvalidArgument", e
    assert e.message.startswith(prefix), "expected %r, got %r" % (prefix, e.message)
    assert props(daemon) == DEFAULTS, "a refused Update changed something"


def test_update_error_on_the_command_line(daemon):
    p = busctl(daemon.bus_address, "call", BUS_NAME, OBJ_PATH, IFACE, "Update", "a{sv}b", "1",
               "MaxConnections", "u", "0", "false", check=False)
    assert p.returncode != 0
    assert "MaxConnections: 0 is out of range" in p.stderr, p.stderr
    assert props(daemon) == DEFAULTS


# ---------------------------------------------------------------- rules

def test_rule_edits(daemon):
    add_sample_rules(daemon)
    assert rules(daemon) == SAMPLE_RULES

    # rename and change the value in one call: the rule keeps its place
    daemon.dbus().call(IFACE, "UpdateRule", "(sa{sv}b)",
                       ("partner net", {"Name": S("Partner LAN"), "Value": S("2001:DB8::/32")}, False))
    assert rules(daemon)[1] == ("Partner LAN", "white", "subnet", "2001:db8::/32", "")
    # to the whitelist: the action goes
    daemon.dbus().call(IFACE, "UpdateRule", "(sa{sv}b)", ("spammer", {"List": S("white")}, False))
    assert rules(daemon)[0] == ("spammer", "white", "ip", "192.0.2.7", "")
    daemon.dbus().call(IFACE, "UpdateRule", "(sa{sv}b)",
                       ("spammer", {"List": S("black"), "Action": S("discard")}, False))
    assert rules(daemon)[0] == ("spammer", "black", "ip", "192.0.2.7", "discard")

    # move: first, past the end (last), middle
    daemon.dbus().call(IFACE, "MoveRule", "(sub)", ("junk", 0, False))
    assert [r[0] for r in rules(daemon)] == ["junk", "spammer", "Partner LAN", "Partner"]
    daemon.dbus().call(IFACE, "MoveRule", "(sub)", ("junk", 4000000000, False))
    assert [r[0] for r in rules(daemon)] == ["spammer", "Partner LAN", "Partner", "junk"]
    busctl(daemon.bus_address, "call", BUS_NAME, OBJ_PATH, IFACE, "MoveRule", "sub", "junk", "1",
           "false")
    assert [r[0] for r in rules(daemon)] == ["spammer", "junk", "Partner LAN", "Partner"]

    daemon.dbus().call(IFACE, "RemoveRule", "(sb)", ("Partner LAN", False))
    assert [r[0] for r in rules(daemon)] == ["spammer", "junk", "Partner"]

    for method, sig, args in [("RemoveRule", "(sb)", ("Partner LAN", False)),
                              ("RemoveRule", "(sb)", ("SPAMMER", False)),
                              ("UpdateRule", "(sa{sv}b)", ("nobody", {}, False)),
                              ("MoveRule", "(sub)", ("nobody", 0, False))]:
        e = call_error(daemon, method, sig, args)
        assert e.name == ERR + "NotFound", (method, e)
        assert e.message.startswith("name: no black/white rule named"), e

    before = props(daemon)
    daemon.restart(hard=False)
    assert props(daemon) == before
    daemon.restart(hard=True)
    assert props(daemon) == before
    # the stored names are still unique after the restart
    e = call_error(daemon, "AddRule", "(sssssb)", ("JUNK", "white", "ip", "192.0.2.9", "", False))
    assert e.name == ERR + "AlreadyExists", e


@pytest.mark.parametrize("method,signature,args,error,prefix", [
    ("AddRule", "(sssssb)", ("x", "black", "subnet", "10.0.0.1/8", "reject", False), "InvalidArgument",
     "Value: '10.0.0.1/8' has host bits set after the prefix: write the network address, 10.0.0.0/8"),
    ("AddRule", "(sssssb)", ("x", "black", "subnet", "10.0.0.0/33", "reject", False),
     "InvalidArgument", "Value: '10.0.0.0/33': the prefix length after '/' must be a number"),
    ("AddRule", "(sssssb)", ("x", "black", "subnet", "192.0.2.0/255.0.255.0", "reject", False),
     "InvalidArgument", "Value: '192.0.2.0/255.0.255.0': the netmask 255.0.255.0 is not contiguous"),
    ("AddRule", "(sssssb)", ("x", "black", "ip", "300.1.2.3", "reject", False), "InvalidArgument",
     "Value: '300.1.2.3' is not one IPv4 or IPv6 address"),
    ("AddRule", "(sssssb)", ("x", "black", "ip", "192.0.2.0/24", "reject", False), "InvalidArgument",
     "Value: '192.0.2.0/24' is not one IPv4 or IPv6 address (use a subnet rule"),
    ("AddRule", "(sssssb)", ("x", "black", "sender", "nobody", "reject", False), "InvalidArgument",
     "Value: 'nobody' is not a valid e-mail address"),
    ("AddRule", "(sssssb)", ("x", "white", "domain", "bad_domain.example", "", False),
     "InvalidArgument", "Value: 'bad_domain.example' is not a valid domain name"),
    ("AddRule", "(sssssb)", ("x", "black", "ip", "", "reject", False), "InvalidArgument",
     "Value: the value is empty"),
    ("AddRule", "(sssssb)", ("x", "black", "domain", "spam.example", "reject", False),
     "InvalidArgument", "Type: domain rules exist on the whitelist only"),
    ("AddRule", "(sssssb)", ("x", "white", "ip", "192.0.2.9", "reject", False), "InvalidArgument",
     "Action: only blacklist rules have an action"),
    ("AddRule", "(sssssb)", ("x", "black", "ip", "192.0.2.9", "", False), "InvalidArgument",
     "Action: a blacklist rule needs an action: reject or discard"),
    ("AddRule", "(sssssb)", ("x", "black", "ip", "192.0.2.9", "bounce", False), "InvalidArgument",
     "Action: 'bounce' is not an action: use reject or discard"),
    ("AddRule", "(sssssb)", ("x", "grey", "ip", "192.0.2.9", "", False), "InvalidArgument",
     "List: 'grey' is not a list: use black or white"),
    ("AddRule", "(sssssb)", ("x", "black", "helo", "a.example", "reject", False), "InvalidArgument",
     "Type: 'helo' is not a rule type: use ip, subnet, sender, recipient or domain"),
    ("AddRule", "(sssssb)", ("", "black", "ip", "192.0.2.9", "reject", False), "InvalidArgument",
     "Name: a black/white rule name must be 1 to 64 characters long"),
    ("AddRule", "(sssssb)", ("x" * 65, "black", "ip", "192.0.2.9", "reject", False),
     "InvalidArgument", "Name: a black/white rule name must be 1 to 64 characters long"),
    ("AddRule", "(sssssb)", ("spam ", "black", "ip", "192.0.2.9", "reject", False),
     "InvalidArgument", "Name: 'spam ' must not begin or end with a space"),
    ("AddRule", "(sssssb)", ("SPAMMER", "black", "ip", "192.0.2.9", "reject", False),
     "AlreadyExists", "Name: a black/white rule named 'spammer' already exists"),
    ("AddRule", "(sssssb)", ("partner", "white", "ip", "192.0.2.9", "", False),
     "AlreadyExists", "Name: a black/white rule named 'Partner' already exists"),
    ("UpdateRule", "(sa{sv}b)", ("spammer", {"Value": S("10.0.0.1/8")}, False), "InvalidArgument",
     "Value: '10.0.0.1/8' is not one IPv4 or IPv6 address"),
    ("UpdateRule", "(sa{sv}b)", ("spammer", {"Type": S("subnet"), "Value": S("10.0.0.1/8")},
                                 False), "InvalidArgument", "Value: '10.0.0.1/8' has host bits set"),
    ("UpdateRule", "(sa{sv}b)", ("Partner", {"List": S("black"), "Action": S("reject")}, False),
     "InvalidArgument", "Type: domain rules exist on the whitelist only"),
    ("UpdateRule", "(sa{sv}b)", ("spammer", {"List": S("white"), "Action": S("reject")}, False),
     "InvalidArgument", "Action: only blacklist rules have an action"),
    ("UpdateRule", "(sa{sv}b)", ("spammer", {"Name": S("JUNK")}, False), "AlreadyExists",
     "Name: a black/white rule named 'junk' already exists"),
    ("UpdateRule", "(sa{sv}b)", ("spammer", {"Value": U(1)}, False), "InvalidArgument",
     "Value: expected a value of type 's'"),
    ("UpdateRule", "(sa{sv}b)", ("spammer", {"Colour": S("red")}, False), "InvalidArgument",
     "Colour: no such black/white rule field (use Name, List, Type, Value or Action)"),
    ("ReplaceRules", "(a(sssss)b)", ([("ok", "black", "ip", "192.0.2.1", "reject"),
                                      ("bad net", "white", "subnet", "10.0.0.1/8", "")], False),
     "InvalidArgument", "rules[1] 'bad net': Value: '10.0.0.1/8' has host bits set"),
    ("ReplaceRules", "(a(sssss)b)", ([("One", "black", "ip", "192.0.2.1", "reject"),
                                      ("one", "white", "ip", "192.0.2.2", "")], False),
     "AlreadyExists", "rules[1] 'one': Name: the name is already used by rules[0] 'One'"),
    ("ReplaceRules", "(a(sssss)b)", ([("w", "white", "sender", "a@b.example", "discard")], False),
     "InvalidArgument", "rules[0] 'w': Action: only blacklist rules have an action"),
    ("ReplaceRules", "(a(sssss)b)", ([("d", "black", "domain", "b.example", "reject")], False),
     "InvalidArgument", "rules[0] 'd': Type: domain rules exist on the whitelist only"),
])
def test_rule_errors(daemon, method, signature, args, error, prefix):
    add_sample_rules(daemon)
    before = props(daemon)
    e = call_error(daemon, method, signature, args)
    assert e.name == ERR + error, e
    assert e.message.startswith(prefix), "expected %r, got %r" % (prefix, e.message)
    assert props(daemon) == before, "a refused call changed something"


def test_rule_error_on_the_command_line(daemon):
    """What an administrator sees with gdbus."""
    p = gdbus_call(daemon.bus_address, IFACE + ".AddRule", "lan", "black", "subnet", "10.0.0.1/8",
                   "reject", "false")
    assert p.returncode != 0
    assert "org.relais.Relais1.Error.InvalidArgument" in p.stderr, p.stderr
    assert "Value: '10.0.0.1/8' has host bits set" in p.stderr, p.stderr
    assert rules(daemon) == []


def test_rules_properties_changed(daemon):
    client = DBusClient(daemon.bus_address)
    try:
        proxy = Gio.DBusProxy.new_sync(client.conn, Gio.DBusProxyFlags.NONE, None,
                                       BUS_NAME, OBJ_PATH, IFACE, None)
        seen = {}
        proxy.connect("g-properties-changed",
                      lambda _p, changed, _inval: seen.update(changed.unpack()))
        add_rule(daemon, "spammer", "black", "ip", "192.0.2.7", "reject")
        assert iterate_until(lambda: "Rules" in seen, 5), "no PropertiesChanged: %r" % seen
        assert seen == {"Rules": [("spammer", "black", "ip", "192.0.2.7", "reject")]}

        # another page's change does not signal the rules again
        seen.clear()
        daemon.dbus().update({"MaxHops": 20})
        update(daemon, {"MaxJunkCommands": U(10)})
        assert iterate_until(lambda: "MaxJunkCommands" in seen, 5), seen
        assert "Rules" not in seen, seen

        # a refused call signals nothing
        seen.clear()
        call_error(daemon, "AddRule", "(sssssb)", ("x", "black", "ip", "300.1.2.3", "reject", False))
        iterate_until(lambda: bool(seen), 0.5)
        assert seen == {}
    finally:
        client.close()


def test_replace_rules(daemon):
    add_sample_rules(daemon)
    new = [("b", "white", "ip", "2001:DB8::1", ""), ("a", "black", "recipient", "x@Y.example", "reject")]
    daemon.dbus().call(IFACE, "ReplaceRules", "(a(sssss)b)", (new, False))
    assert rules(daemon) == [("b", "white", "ip", "2001:db8::1", ""),
                             ("a", "black", "recipient", "x@y.example", "reject")]
    daemon.restart(hard=True)
    assert rules(daemon) == [("b", "white", "ip", "2001:db8::1", ""),
                             ("a", "black", "recipient", "x@y.example", "reject")]
    daemon.dbus().call(IFACE, "ReplaceRules", "(a(sssss)b)", ([], False))
    assert rules(daemon) == []


def test_replace_100000_rules(daemon):
    """The benchmark's size: imported in one call, kept across a restart."""
    many = []
    for i in range(100000):
        if i % 2:
            many.append(("rule %d" % i, "black", "ip",
                         "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255), "discard"))
        else:
            many.append(("rule %d" % i, "white", "sender", "s%d@partner.example" % i, ""))
    start = time.monotonic()
    daemon.dbus().call(IFACE, "ReplaceRules", "(a(sssss)b)", (many, False), timeout_ms=120000)
    took = time.monotonic() - start
    got = daemon.dbus().get(IFACE, "Rules")
    assert len(got) == 100000
    assert got[0] == many[0] and got[-1] == many[-1]
    # one more is refused, naming the limit
    e = call_error(daemon, "AddRule", "(sssssb)", ("one more", "white", "ip", "192.0.2.1", "", False))
    assert e.name == ERR + "InvalidArgument", e
    assert e.message.startswith("Name: at most 100000 black/white rules are allowed"), e
    # a single edit on the big list is still quick (the whole list is rebuilt and saved once)
    start = time.monotonic()
    daemon.dbus().call(IFACE, "RemoveRule", "(sb)", ("rule 0", False), timeout_ms=60000)
    edit_took = time.monotonic() - start
    print("ReplaceRules(100000) took %.2f s, RemoveRule on it %.2f s" % (took, edit_took))
    assert edit_took < 10, edit_took

    daemon.stop()
    start = time.monotonic()
    daemon.start(timeout=60)
    print("restart with 99999 rules took %.2f s" % (time.monotonic() - start))
    got = daemon.dbus().get(IFACE, "Rules")
    assert len(got) == 99999
    assert got[0] == many[1] and got[-1] == many[-1]


# ---------------------------------------------------------------- polkit

def test_security_needs_configure(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [])
    calls = [
        ("Update", "(a{sv}b)", ({"MaxJunkCommands": U(5)}, False)),
        ("AddRule", "(sssssb)", ("spammer", "black", "ip", "192.0.2.7", "reject", False)),
        ("AddRule", "(sssssb)", ("lan", "white", "subnet", "192.0.2.0/24", "", False)),
        ("UpdateRule", "(sa{sv}b)", ("spammer", {"Action": S("discard")}, False)),
        ("MoveRule", "(sub)", ("lan", 0, False)),
        ("RemoveRule", "(sb)", ("spammer", False)),
        ("ReplaceRules", "(a(sssss)b)", ([("only", "white", "domain", "a.example", "")], False)),
    ]
    for method, sig, args in calls:
        e = call_error(sysdaemon, method, sig, args)
        assert e.name == ERR + "PermissionDenied", (method, e)
    assert checked_actions(polkit_mock).count(ACTION_CONFIGURE) == len(calls)
    # reads are open, and nothing changed
    assert props(sysdaemon) == DEFAULTS

    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    seen = []
    for method, sig, args in calls:
        sysdaemon.dbus().call(IFACE, method, sig, args)
        seen.append(props(sysdaemon))
    assert seen[0]["MaxJunkCommands"] == 5
    assert seen[3]["Rules"] == [("spammer", "black", "ip", "192.0.2.7", "discard"),
                                ("lan", "white", "subnet", "192.0.2.0/24", "")]
    assert [r[0] for r in seen[4]["Rules"]] == ["lan", "spammer"]
    assert seen[5]["Rules"] == [("lan", "white", "subnet", "192.0.2.0/24", "")]
    assert seen[6]["Rules"] == [("only", "white", "domain", "a.example", "")]
