# SPDX-License-Identifier: GPL-3.0-or-later
"""The Relay Control page of relais-settings against a real relaisd on a
private bus, in a real window under Xvfb: the trusted list and the domain
list follow the daemon live, the add/edit/remove dialogs reach the daemon,
a refused value stays in the open dialog with the daemon's message on its
field, and screenshots in English and French."""

import os
import time

import gui_helpers as G
import relais_helpers as H

IFACE = "org.relais.Relais1.RelayControl"


def bctl(daemon, *args):
    return H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, *args)


def daemon_lists(daemon):
    props = daemon.dbus().get_all(IFACE)
    return props["TrustedNetworks"], props["RelayDomains"]


def shown(app, which):
    return [tuple(entry) for entry in app.value("RelayControl." + which)]


def wait_shown(app, which, expected, timeout=5):
    H.wait_for(lambda: shown(app, which) == expected, timeout, "the %s list to show %r" % (which, expected),
               details=lambda: repr(shown(app, which)))


def wait_dialog_closed(app):
    H.wait_for(lambda: not app.value("RelayControl.dialog")["open"], 5, "the dialog to close",
               details=lambda: repr(app.value("RelayControl.dialog")))


def wait_dialog_error(app):
    H.wait_for(lambda: app.value("RelayControl.dialog")["error"] != "", 5, "the dialog to show the refusal",
               details=lambda: repr(app.value("RelayControl.dialog")))
    return app.value("RelayControl.dialog")


def dialog_screenshot(app, lang):
    time.sleep(1.0)   # let the dialog grow to its error label and its rows finish their animation
    path = os.path.join(G.screenshot_dir(lang), "relay-control-dialog-error.png")
    width, height = app.call("RelayControl.dialog-screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000


def fill(daemon):
    bctl(daemon, "AddTrustedNetwork", "ssb", "Office LAN", "192.0.2.0/24", "false")
    bctl(daemon, "AddTrustedNetwork", "ssb", "Branch v6", "2001:db8::/32", "false")
    bctl(daemon, "AddTrustedNetwork", "ssb", "Printer", "198.51.100.7", "false")
    bctl(daemon, "AddRelayDomain", "ssb", "Branch office", "branch.example.org", "false")
    bctl(daemon, "AddRelayDomain", "ssb", "Subsidiary", "subsidiary.example.net", "false")


def test_lists_start_empty_and_editable(daemon, app):
    app.show_page("relay-control")
    for which in ("trusted", "domains"):
        value, sensitive, error = app.get("RelayControl." + which)
        assert value == [] and sensitive and error == ""
    assert not app.value("RelayControl.dialog")["open"]


def test_busctl_additions_show_at_once(daemon, app):
    bctl(daemon, "AddTrustedNetwork", "ssb", "office", "192.0.2.0/24", "false")
    wait_shown(app, "trusted", [("office", "192.0.2.0/24")])
    bctl(daemon, "AddRelayDomain", "ssb", "branch", "Branch.Example.ORG", "false")
    wait_shown(app, "domains", [("branch", "branch.example.org")])   # as the daemon stores it
    # an update and a removal over busctl too
    bctl(daemon, "UpdateTrustedNetwork", "sa{sv}b", "office", 1, "Network", "s", "192.0.2.128/25", "false")
    wait_shown(app, "trusted", [("office", "192.0.2.128/25")])
    bctl(daemon, "RemoveRelayDomain", "sb", "branch", "false")
    wait_shown(app, "domains", [])


def test_add_edit_remove_in_the_app_reach_the_daemon(daemon, app):
    app.show_page("relay-control")
    app.call("RelayControl.add", ("trusted", "Office", "10.1.0.0/16"), "(sss)")
    wait_dialog_closed(app)
    assert daemon_lists(daemon)[0] == [("Office", "10.1.0.0/16")]
    wait_shown(app, "trusted", [("Office", "10.1.0.0/16")])

    app.call("RelayControl.add", ("domains", "Branch", "branch.example.org"), "(sss)")
    wait_dialog_closed(app)
    assert daemon_lists(daemon)[1] == [("Branch", "branch.example.org")]

    # edit: rename and change the network in one go
    app.call("RelayControl.edit", ("trusted", "Office", "Head office", "10.2.0.0/16"), "(ssss)")
    wait_dialog_closed(app)
    assert daemon_lists(daemon)[0] == [("Head office", "10.2.0.0/16")]
    wait_shown(app, "trusted", [("Head office", "10.2.0.0/16")])
    # edit only the domain; the name stays
    app.call("RelayControl.edit", ("domains", "Branch", "Branch", "east.example.org"), "(ssss)")
    wait_dialog_closed(app)
    assert daemon_lists(daemon)[1] == [("Branch", "east.example.org")]

    # remove asks first: Cancel keeps the entry, Remove removes it
    heading = app.call("RelayControl.remove", ("trusted", "Head office", "cancel"), "(sss)")
    assert "Head office" in heading
    assert daemon_lists(daemon)[0] == [("Head office", "10.2.0.0/16")]
    app.call("RelayControl.remove", ("trusted", "Head office", "remove"), "(sss)")
    H.wait_for(lambda: daemon_lists(daemon)[0] == [], 5, "the trusted network to be removed")
    wait_shown(app, "trusted", [])
    app.call("RelayControl.remove", ("domains", "Branch", "remove"), "(sss)")
    H.wait_for(lambda: daemon_lists(daemon)[1] == [], 5, "the relay domain to be removed")
    wait_shown(app, "domains", [])


def test_a_refused_network_keeps_the_dialog_open_with_the_daemons_message(daemon, app):
    app.show_page("relay-control")
    bctl(daemon, "AddTrustedNetwork", "ssb", "office", "192.0.2.0/24", "false")
    before = daemon_lists(daemon)

    app.call("RelayControl.add", ("trusted", "lan", "10.0.0.1/8"), "(sss)")
    dialog = wait_dialog_error(app)
    assert dialog["open"] and dialog["error-field"] == "value"
    assert "host bits" in dialog["error"] and "10.0.0.0/8" in dialog["error"], dialog
    assert dialog["error"] in dialog["error-shown"]           # the label shows it under the fields
    assert dialog["name"] == "lan" and dialog["value"] == "10.0.0.1/8"   # the input stays, to fix
    assert daemon_lists(daemon) == before

    dialog_screenshot(app, "en")
    app.call("RelayControl.dialog-close")
    wait_dialog_closed(app)

    app.call("RelayControl.add", ("trusted", "junk", "not-an-ip"), "(sss)")
    dialog = wait_dialog_error(app)
    assert dialog["error-field"] == "value" and "not-an-ip" in dialog["error"], dialog
    app.call("RelayControl.dialog-close")
    wait_dialog_closed(app)

    # a name already taken is marked on the name field
    app.call("RelayControl.add", ("trusted", "OFFICE", "10.9.0.0/16"), "(sss)")
    dialog = wait_dialog_error(app)
    assert dialog["error-field"] == "name" and "already exists" in dialog["error"], dialog
    app.call("RelayControl.dialog-close")

    # an edit that is refused changes nothing either
    app.call("RelayControl.edit", ("trusted", "office", "office", "192.0.2.1/24"), "(ssss)")
    dialog = wait_dialog_error(app)
    assert dialog["error-field"] == "value" and "host bits" in dialog["error"], dialog
    assert daemon_lists(daemon) == before
    # correcting the value in the open dialog and pressing OK again saves it
    app.call("RelayControl.dialog-fill", ("office", "192.0.2.0/25"), "(ss)")
    wait_dialog_closed(app)
    before = daemon_lists(daemon)
    assert before[0] == [("office", "192.0.2.0/25")]
    wait_shown(app, "trusted", [("office", "192.0.2.0/25")])

    # a relay domain that is a local domain: the daemon says why, on the domain field
    daemon.add_domain("relais.test")
    app.call("RelayControl.add", ("domains", "mine", "relais.test"), "(sss)")
    dialog = wait_dialog_error(app)
    assert dialog["error-field"] == "value" and "local domain" in dialog["error"], dialog
    app.call("RelayControl.dialog-close")
    assert daemon_lists(daemon) == before


def test_rows_insensitive_while_the_daemon_is_away(daemon, app):
    bctl(daemon, "AddTrustedNetwork", "ssb", "office", "192.0.2.0/24", "false")
    wait_shown(app, "trusted", [("office", "192.0.2.0/24")])
    daemon.stop()
    H.wait_for(lambda: not app.state()["connected"], 5, "the app to notice")
    value, sensitive, _ = app.get("RelayControl.trusted")
    assert not sensitive
    daemon.start()
    H.wait_for(lambda: app.state()["connected"], 10, "the app to reconnect")
    assert app.get("RelayControl.trusted")[1]
    wait_shown(app, "trusted", [("office", "192.0.2.0/24")])   # kept across the restart


def test_screenshot_relay_control_en(daemon, app):
    fill(daemon)
    wait_shown(app, "domains", [("Branch office", "branch.example.org"),
                                ("Subsidiary", "subsidiary.example.net")])
    app.screenshot("relay-control")


def test_screenshot_relay_control_fr(daemon, app_fr):
    fill(daemon)
    wait_shown(app_fr, "trusted", [("Branch v6", "2001:db8::/32"), ("Office LAN", "192.0.2.0/24"),
                                   ("Printer", "198.51.100.7")])
    app_fr.screenshot("relay-control")
    # the add dialog with a refused value, in French
    app_fr.call("RelayControl.add", ("trusted", "lan", "10.0.0.1/8"), "(sss)")
    wait_dialog_error(app_fr)
    dialog_screenshot(app_fr, "fr")
