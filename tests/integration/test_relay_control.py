# SPDX-License-Identifier: GPL-3.0-or-later
"""org.relais.Relais1.RelayControl on the real relaisd: the trusted list and the
domain list through busctl and gdbus, validation errors that name the field,
the local-domain / relay-domain conflict both ways, persistence across a
restart and a kill -9, PropertiesChanged, and polkit on the system-like bus."""

import pytest
from gi.repository import Gio, GLib

from relais_helpers import (
    BUS_NAME, ERR, IFACE_ACCOUNTS, OBJ_PATH, DBusCallError, DBusClient, busctl, gdbus_call,
    iterate_until,
)
# The system-like bus with the polkit mock, shared with test_polkit.py.
from test_polkit import (  # noqa: F401  (pytest fixtures)
    ACTION_CONFIGURE, checked_actions, polkit_mock, set_allowed, sysdaemon, system_bus,
)

IFACE = "org.relais.Relais1.RelayControl"

DEFAULTS = {"TrustedNetworks": [], "RelayDomains": []}

S = lambda v: GLib.Variant("s", v)  # noqa: E731
U = lambda v: GLib.Variant("u", v)  # noqa: E731


def props(daemon):
    return daemon.dbus().get_all(IFACE)


def bctl(daemon, *args, check=True):
    """busctl call on the RelayControl interface; returns busctl's result."""
    return busctl(daemon.bus_address, "call", BUS_NAME, OBJ_PATH, IFACE, *args, check=check)


def bget(daemon, prop):
    return busctl(daemon.bus_address, "get-property", BUS_NAME, OBJ_PATH, IFACE,
                  prop).stdout.strip()


def changes_args(changes):
    """busctl's a{sv} arguments for a dict of str values."""
    args = [len(changes)]
    for name, value in changes.items():
        args += [name, "s", value]
    return args


def call_error(daemon, method, signature, args):
    with pytest.raises(DBusCallError) as e:
        daemon.dbus().call(IFACE, method, signature, args)
    return e.value


def add_network(daemon, name, network):
    bctl(daemon, "AddTrustedNetwork", "ssb", name, network, "false")


def add_relay_domain(daemon, name, domain):
    bctl(daemon, "AddRelayDomain", "ssb", name, domain, "false")


# ---------------------------------------------------------------- lists

def test_defaults(daemon):
    assert props(daemon) == DEFAULTS
    assert IFACE in daemon.dbus().introspect()
    assert bget(daemon, "TrustedNetworks") == "a(ss) 0"


def test_trusted_networks(daemon):
    add_network(daemon, "office lan", "192.0.2.0/24")
    add_network(daemon, "Branch v6", "2001:DB8:0::/32")
    add_network(daemon, "printer", "198.51.100.7/32")
    # sorted by name; networks in canonical form (a full-length prefix is the address alone)
    assert props(daemon)["TrustedNetworks"] == [
        ("Branch v6", "2001:db8::/32"),
        ("office lan", "192.0.2.0/24"),
        ("printer", "198.51.100.7"),
    ]
    assert bget(daemon, "TrustedNetworks") == \
        'a(ss) 3 "Branch v6" "2001:db8::/32" "office lan" "192.0.2.0/24" "printer" "198.51.100.7"'

    # rename and move in one call; the list is sorted again
    bctl(daemon, "UpdateTrustedNetwork", "sa{sv}b", "printer",
         *changes_args({"Name": "Accounting", "Network": "198.51.100.0/28"}), "false")
    # the network alone
    bctl(daemon, "UpdateTrustedNetwork", "sa{sv}b", "office lan",
         *changes_args({"Network": "192.0.2.0/25"}), "false")
    assert props(daemon)["TrustedNetworks"] == [
        ("Accounting", "198.51.100.0/28"),
        ("Branch v6", "2001:db8::/32"),
        ("office lan", "192.0.2.0/25"),
    ]

    bctl(daemon, "RemoveTrustedNetwork", "sb", "Branch v6", "false")
    assert [n for n, _ in props(daemon)["TrustedNetworks"]] == ["Accounting", "office lan"]

    for method, sig, args in [("RemoveTrustedNetwork", "(sb)", ("Branch v6", False)),
                              ("UpdateTrustedNetwork", "(sa{sv}b)", ("Branch v6", {}, False)),
                              ("UpdateTrustedNetwork", "(sa{sv}b)", ("accounting", {}, False))]:
        e = call_error(daemon, method, sig, args)
        assert e.name == ERR + "NotFound", (method, e)
        assert e.message.startswith("name: no trusted network named"), e


def test_relay_domains(daemon):
    add_relay_domain(daemon, "zurich", "Zurich.Example.NET")
    add_relay_domain(daemon, "Branch", "branch.example.org")
    assert props(daemon)["RelayDomains"] == [
        ("Branch", "branch.example.org"),
        ("zurich", "zurich.example.net"),
    ]
    bctl(daemon, "UpdateRelayDomain", "sa{sv}b", "zurich",
         *changes_args({"Name": "Alpha", "Domain": "alpha.example"}), "false")
    assert props(daemon)["RelayDomains"] == [
        ("Alpha", "alpha.example"),
        ("Branch", "branch.example.org"),
    ]
    bctl(daemon, "RemoveRelayDomain", "sb", "Branch", "false")
    assert bget(daemon, "RelayDomains") == 'a(ss) 1 "Alpha" "alpha.example"'

    for method, sig, args in [("RemoveRelayDomain", "(sb)", ("Branch", False)),
                              ("UpdateRelayDomain", "(sa{sv}b)", ("zurich", {}, False))]:
        e = call_error(daemon, method, sig, args)
        assert e.name == ERR + "NotFound", (method, e)
        assert e.message.startswith("name: no relay domain named"), e


def test_local_and_relay_domains_exclude_each_other(daemon):
    daemon.add_domain("example.org")
    e = call_error(daemon, "AddRelayDomain", "(ssb)", ("home", "Example.ORG", False))
    assert e.name == ERR + "InvalidArgument", e
    assert e.message.startswith(
        "Domain: example.org is a local domain: its mail is delivered here"), e

    add_relay_domain(daemon, "branch", "branch.example.net")
    with pytest.raises(DBusCallError) as info:
        daemon.dbus().call(IFACE_ACCOUNTS, "AddLocalDomain", "(sb)", ("branch.example.net", False))
    assert info.value.name == ERR + "InvalidArgument", info.value
    assert "branch.example.net is a relay domain (entry 'branch'" in info.value.message
    assert daemon.accounts()["LocalDomains"] == ["example.org"]

    # once it is no longer relayed, it may become local
    bctl(daemon, "RemoveRelayDomain", "sb", "branch", "false")
    daemon.add_domain("branch.example.net")
    assert daemon.accounts()["LocalDomains"] == ["branch.example.net", "example.org"]


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("method,signature,args,error,prefix", [
    ("AddTrustedNetwork", "(ssb)", ("x", "10.0.0.1/8", False), "InvalidArgument",
     "Network: '10.0.0.1/8' has host bits set after the prefix: write the network address, "
     "10.0.0.0/8"),
    ("AddTrustedNetwork", "(ssb)", ("x", "300.1.2.3", False), "InvalidArgument",
     "Network: '300.1.2.3' is not an IPv4 or IPv6 address"),
    ("AddTrustedNetwork", "(ssb)", ("x", "2001:db8::/200", False), "InvalidArgument",
     "Network: '2001:db8::/200': the prefix length after '/' must be a number from 0 to 128"),
    ("AddTrustedNetwork", "(ssb)", ("x", "192.0.2.0/33", False), "InvalidArgument", "Network:"),
    ("AddTrustedNetwork", "(ssb)", ("x", "", False), "InvalidArgument", "Network: ''"),
    ("AddTrustedNetwork", "(ssb)", ("x", "lan.example", False), "InvalidArgument", "Network:"),
    ("AddTrustedNetwork", "(ssb)", ("", "192.0.2.9", False), "InvalidArgument",
     "Name: a trusted network name must be 1 to 64 characters long"),
    ("AddTrustedNetwork", "(ssb)", ("x" * 65, "192.0.2.9", False), "InvalidArgument", "Name:"),
    ("AddTrustedNetwork", "(ssb)", (" lan", "192.0.2.9", False), "InvalidArgument",
     "Name: ' lan' must not begin or end with a space"),
    ("AddTrustedNetwork", "(ssb)", ("LAN", "198.51.100.1", False), "AlreadyExists",
     "Name: a trusted network named 'lan' already exists"),
    ("AddTrustedNetwork", "(ssb)", ("again", "192.0.2.0/24", False), "AlreadyExists",
     "Network: 192.0.2.0/24 is already trusted, as 'lan'"),
    ("UpdateTrustedNetwork", "(sa{sv}b)", ("lan", {"Network": S("10.0.0.1/8")}, False),
     "InvalidArgument", "Network:"),
    ("UpdateTrustedNetwork", "(sa{sv}b)", ("lan", {"Name": S("ok"), "Network": S("300.1.2.3")},
                                           False), "InvalidArgument", "Network:"),
    ("UpdateTrustedNetwork", "(sa{sv}b)", ("lan", {"Network": U(24)}, False), "InvalidArgument",
     "Network: expected a value of type 's'"),
    ("UpdateTrustedNetwork", "(sa{sv}b)", ("lan", {"Name": S("")}, False), "InvalidArgument",
     "Name:"),
    ("UpdateTrustedNetwork", "(sa{sv}b)", ("lan", {"Colour": S("red")}, False), "InvalidArgument",
     "Colour: no such trusted network field (use Name or Network)"),
    ("AddRelayDomain", "(ssb)", ("x", "example.org", False), "InvalidArgument",
     "Domain: example.org is a local domain: its mail is delivered here"),
    ("AddRelayDomain", "(ssb)", ("x", "bad_domain.example", False), "InvalidArgument",
     "Domain: 'bad_domain.example' is not a valid domain name"),
    ("AddRelayDomain", "(ssb)", ("x", "", False), "InvalidArgument", "Domain:"),
    ("AddRelayDomain", "(ssb)", ("x", "192.0.2.1", False), "InvalidArgument", "Domain:"),
    ("AddRelayDomain", "(ssb)", ("", "a.example", False), "InvalidArgument",
     "Name: a relay domain name must be 1 to 64 characters long"),
    ("AddRelayDomain", "(ssb)", ("BRANCH", "a.example", False), "AlreadyExists",
     "Name: a relay domain named 'branch' already exists"),
    ("AddRelayDomain", "(ssb)", ("again", "Branch.Example.NET", False), "AlreadyExists",
     "Domain: branch.example.net is already a relay domain, as 'branch'"),
    ("UpdateRelayDomain", "(sa{sv}b)", ("branch", {"Domain": S("EXAMPLE.org")}, False),
     "InvalidArgument", "Domain: example.org is a local domain"),
    ("UpdateRelayDomain", "(sa{sv}b)", ("branch", {"Network": S("192.0.2.0/24")}, False),
     "InvalidArgument", "Network: no such relay domain field (use Name or Domain)"),
])
def test_invalid_values(daemon, method, signature, args, error, prefix):
    daemon.add_domain("example.org")
    add_network(daemon, "lan", "192.0.2.0/24")
    add_relay_domain(daemon, "branch", "branch.example.net")
    before = props(daemon)
    e = call_error(daemon, method, signature, args)
    assert e.name == ERR + error, e
    assert e.message.startswith(prefix), "expected %r, got %r" % (prefix, e.message)
    assert props(daemon) == before, "a refused call changed something"


def test_error_text_on_the_command_line(daemon):
    """What an administrator sees with gdbus and busctl."""
    p = gdbus_call(daemon.bus_address, IFACE + ".AddTrustedNetwork", "lan", "10.0.0.1/8", "false")
    assert p.returncode != 0
    assert "org.relais.Relais1.Error.InvalidArgument" in p.stderr, p.stderr
    assert "Network: '10.0.0.1/8' has host bits set" in p.stderr, p.stderr
    p = bctl(daemon, "AddRelayDomain", "ssb", "", "branch.example.net", "false", check=False)
    assert p.returncode != 0
    assert "Name: a relay domain name must be 1 to 64 characters long" in p.stderr, p.stderr
    assert props(daemon) == DEFAULTS


# ---------------------------------------------------------------- persistence, signals

def test_lists_survive_restart(daemon):
    daemon.add_domain("example.org")
    add_network(daemon, "lan", "192.0.2.0/24")
    add_network(daemon, "v6", "2001:db8::/48")
    add_relay_domain(daemon, "branch", "branch.example.net")
    add_relay_domain(daemon, "zurich", "zurich.example.net")
    bctl(daemon, "UpdateTrustedNetwork", "sa{sv}b", "v6", *changes_args({"Name": "Branch v6"}),
         "false")
    bctl(daemon, "RemoveRelayDomain", "sb", "zurich", "false")
    before = props(daemon)
    assert before == {
        "TrustedNetworks": [("Branch v6", "2001:db8::/48"), ("lan", "192.0.2.0/24")],
        "RelayDomains": [("branch", "branch.example.net")],
    }

    daemon.restart(hard=False)
    assert props(daemon) == before
    daemon.restart(hard=True)
    assert props(daemon) == before
    # the stored lists are still checked against each other after the restart
    e = call_error(daemon, "AddTrustedNetwork", "(ssb)", ("LAN", "198.51.100.0/24", False))
    assert e.name == ERR + "AlreadyExists", e
    e = call_error(daemon, "AddRelayDomain", "(ssb)", ("home", "example.org", False))
    assert e.name == ERR + "InvalidArgument", e


def test_properties_changed(daemon):
    client = DBusClient(daemon.bus_address)
    try:
        proxy = Gio.DBusProxy.new_sync(client.conn, Gio.DBusProxyFlags.NONE, None,
                                       BUS_NAME, OBJ_PATH, IFACE, None)
        assert proxy.get_cached_property("TrustedNetworks").unpack() == []
        seen = {}
        proxy.connect("g-properties-changed",
                      lambda _p, changed, _inval: seen.update(changed.unpack()))

        add_network(daemon, "lan", "192.0.2.0/24")
        assert iterate_until(lambda: "TrustedNetworks" in seen, 5), \
            "no PropertiesChanged: %r" % seen
        assert seen["TrustedNetworks"] == [("lan", "192.0.2.0/24")]
        assert "RelayDomains" not in seen, "an unchanged list was signalled: %r" % seen

        add_relay_domain(daemon, "branch", "branch.example.net")
        assert iterate_until(lambda: "RelayDomains" in seen, 5), seen
        assert seen["RelayDomains"] == [("branch", "branch.example.net")]
        assert proxy.get_cached_property("RelayDomains").unpack() == \
            [("branch", "branch.example.net")]

        bctl(daemon, "RemoveTrustedNetwork", "sb", "lan", "false")
        assert iterate_until(lambda: seen.get("TrustedNetworks") == [], 5), seen

        # a refused call changes nothing and signals nothing
        seen.clear()
        call_error(daemon, "AddTrustedNetwork", "(ssb)", ("x", "300.1.2.3", False))
        iterate_until(lambda: bool(seen), 0.5)
        assert seen == {}
    finally:
        client.close()


# ---------------------------------------------------------------- polkit

def test_relay_control_needs_configure(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [])
    calls = [
        ("AddTrustedNetwork", "(ssb)", ("lan", "192.0.2.0/24", False)),
        ("UpdateTrustedNetwork", "(sa{sv}b)", ("lan", {"Network": S("192.0.2.0/25")}, False)),
        ("RemoveTrustedNetwork", "(sb)", ("lan", False)),
        ("AddRelayDomain", "(ssb)", ("branch", "branch.example.net", False)),
        ("UpdateRelayDomain", "(sa{sv}b)", ("branch", {"Name": S("Branch")}, False)),
        ("RemoveRelayDomain", "(sb)", ("Branch", False)),
    ]
    for method, sig, args in calls:
        e = call_error(sysdaemon, method, sig, args)
        assert e.name == ERR + "PermissionDenied", (method, e)
    assert checked_actions(polkit_mock).count(ACTION_CONFIGURE) == len(calls)
    # reads are open
    assert props(sysdaemon) == DEFAULTS

    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    seen = []
    for method, sig, args in calls:
        sysdaemon.dbus().call(IFACE, method, sig, args)
        seen.append(props(sysdaemon))
    assert seen[1]["TrustedNetworks"] == [("lan", "192.0.2.0/25")]
    assert seen[4]["RelayDomains"] == [("Branch", "branch.example.net")]
    assert seen[-1] == DEFAULTS
