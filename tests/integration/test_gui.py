# SPDX-License-Identifier: GPL-3.0-or-later
"""relais-settings against a real relaisd on a private bus, in a real
window under Xvfb: the window (connection, banner, Apply bar) and the
General page. Pages have their own test_gui_*.py modules."""

import os
import subprocess

import relais_helpers as H

IFACE = H.IFACE_GENERAL


def busctl_update(daemon, *args):
    """busctl_update(daemon, "MaxHops", "u", "20", ...): flat name/type/value triples."""
    H.busctl_update(daemon.bus_address, *[args[i:i + 3] for i in range(0, len(args), 3)])


def test_general_shows_the_daemon_values(daemon, app):
    general = daemon.general()
    for prop in ("SmtpAuthentication", "SkipAuthForLocalNetworks", "VerifySenderLogin",
                 "SkipSenderCheckForTrusted", "DisableAutoForward", "Hostname", "Banner",
                 "MaxRecipients", "MaxHops", "MaxMessageSizeMB", "IdleTimeout", "MaxSessions",
                 "ExternalAdministrators"):
        value, sensitive, error = app.get("General." + prop)
        assert value == general[prop], prop
        assert sensitive, prop       # the session bus needs no polkit
        assert error == ""
    state = app.state()
    assert state["bus"] == "session"
    assert not state["banner"] and not state["dirty"] and not state["lock-visible"]
    assert state["icon-name"] == "org.relais.Settings"     # data/icons, named in the desktop file


def test_busctl_update_shows_in_the_open_app(daemon, app):
    # How fast is measured by tests/bench/gui.py (no upper time bound here: it could flake)
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=daemon.bus_address)
    subprocess.run(["busctl", "--user", "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "Update", "a{sv}b",
                    "1", "MaxRecipients", "u", "37", "false"], env=env, check=True, timeout=20)
    app.wait_value("General.MaxRecipients", 37)
    # a list and a string too
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "Update", "a{sv}b",
             "2", "ExternalAdministrators", "as", "1", "admin@example.org",
             "Banner", "s", "ESMTP busctl", "false")
    app.wait_value("General.ExternalAdministrators", ["admin@example.org"])
    app.wait_value("General.Banner", "ESMTP busctl")


def test_apply_sends_one_update_and_the_daemon_has_it(daemon, app):
    app.set("General.MaxRecipients", 12, "u")
    app.set("General.Hostname", "mx.gui.example.org")
    app.set("General.VerifySenderLogin", True)
    assert app.state()["dirty"]
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"], 5, "the page to be applied")
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=daemon.bus_address)
    out = subprocess.run(["busctl", "--user", "get-property", H.BUS_NAME, H.OBJ_PATH, IFACE,
                          "MaxRecipients", "Hostname", "VerifySenderLogin"],
                         env=env, check=True, capture_output=True, text=True, timeout=20).stdout
    assert out.split("\n")[:3] == ["u 12", 's "mx.gui.example.org"', "b true"], out


def test_revert_puts_the_daemon_values_back(daemon, app):
    app.set("General.MaxHops", 3, "u")
    app.set("General.Banner", "changed")
    assert app.state()["dirty"]
    app.action("win.revert")
    assert not app.state()["dirty"]
    assert app.value("General.MaxHops") == 50
    assert app.value("General.Banner") == daemon.general()["Banner"]
    assert daemon.general()["MaxHops"] == 50


def test_a_refused_value_is_marked_on_its_row_and_nothing_changes(daemon, app):
    before = daemon.general()
    app.set("General.Hostname", "not-a-fqdn")
    app.set("General.MaxRecipients", 9, "u")
    app.action("win.apply")
    H.wait_for(lambda: app.get("General.Hostname")[2] != "", 5, "the error on the Hostname row")
    value, sensitive, error = app.get("General.Hostname")
    assert "not-a-fqdn" in error and "fully qualified" in error, error
    assert app.get("General.MaxRecipients")[2] == ""
    assert app.state()["dirty"]           # the edits stay, for the user to fix
    assert daemon.general() == before     # all or nothing
    # fixing the value clears the mark, and the next apply goes through
    app.set("General.Hostname", "mx.fixed.example.org")
    assert app.get("General.Hostname")[2] == ""
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"], 5, "the page to be applied")
    assert daemon.general()["Hostname"] == "mx.fixed.example.org"
    assert daemon.general()["MaxRecipients"] == 9


def test_an_edit_in_progress_is_kept_when_someone_else_changes_another_setting(daemon, app):
    app.set("General.Banner", "typing")
    busctl_update(daemon, "MaxHops", "u", "20")
    app.wait_value("General.MaxHops", 20)
    assert app.value("General.Banner") == "typing"
    assert app.state()["dirty"]


def test_banner_while_the_daemon_is_away_then_reconnect(daemon, app):
    daemon.stop()
    H.wait_for(lambda: app.state()["banner"], 5, "the banner")
    state = app.state()
    assert not state["connected"] and not state["can-edit"]
    assert "not running" in state["banner-text"]
    assert not app.get("General.MaxRecipients")[1]     # rows insensitive
    daemon.start()
    H.wait_for(lambda: app.state()["connected"], 10, "the app to reconnect")
    assert not app.state()["banner"]
    assert app.get("General.MaxRecipients")[1]
    busctl_update(daemon, "MaxRecipients", "u", "55")
    app.wait_value("General.MaxRecipients", 55)


def test_external_administrators_list_edits(daemon, app):
    app.set("General.ExternalAdministrators", ["a@example.org", "b@example.org"], "as")
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"], 5, "the page to be applied")
    assert daemon.general()["ExternalAdministrators"] == ["a@example.org", "b@example.org"]


def test_screenshot_general_en(daemon, app):
    busctl_update(daemon, "MaxRecipients", "u", "77", "Banner", "s", "ESMTP screenshot")
    app.wait_value("General.MaxRecipients", 77)
    app.screenshot("general")


def test_screenshot_general_fr(daemon, app_fr):
    busctl_update(daemon, "MaxRecipients", "u", "77")
    app_fr.wait_value("General.MaxRecipients", 77)
    app_fr.screenshot("general")
