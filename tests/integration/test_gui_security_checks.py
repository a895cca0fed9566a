# SPDX-License-Identifier: GPL-3.0-or-later
"""The content checks on the Security page of relais-settings, against a
real relaisd on a private bus in a real window under Xvfb: the sender
authentication switches (SPF, DKIM, DMARC) and the antivirus switch, socket
and fallback show the daemon's values, follow busctl at once and reach the
daemon with the Apply bar; the socket and fallback rows are editable only
while the antivirus is on; a socket the daemon refuses is marked on its row
with the daemon's reason and changes nothing; the whitelist table is built
from the daemon's WhitelistSkips (in English and French) and rebuilt when
the daemon comes back. Screenshots of the new groups in English and
French."""

import os
import time

import gui_helpers as G
import relais_helpers as H

IFACE = "org.relais.Relais1.Security"
CHECKS = ("Spf", "Dkim", "Dmarc", "Antivirus", "AntivirusSocket", "AntivirusUnreachable")

# the labels of the table, from the daemon's stable names
LABELS = {
    "en": {"header": "Whitelist type",
           "ip": "IP", "subnet": "IP/subnet", "sender": "Sender", "recipient": "Recipient", "domain": "Domain",
           "dnsbl": "DNSBL", "spf": "SPF", "antivirus": "Antivirus", "dkim": "DKIM", "dmarc": "DMARC"},
    "fr": {"header": "Type en liste blanche",
           "ip": "IP", "subnet": "IP/sous-réseau", "sender": "Expéditeur", "recipient": "Destinataire",
           "domain": "Domaine",
           "dnsbl": "DNSBL", "spf": "SPF", "antivirus": "Antivirus", "dkim": "DKIM", "dmarc": "DMARC"},
}
COLUMNS = ("dnsbl", "spf", "antivirus", "dkim", "dmarc")


def security(daemon):
    return daemon.dbus().get_all(IFACE)


def update(daemon, **changes):
    d = {k: H.guess_variant(v) for k, v in changes.items()}
    daemon.dbus().call(IFACE, "Update", "(a{sv}b)", (d, False))


def applied(app):
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"] and not app.state()["busy"], 20, "the page to be applied")


def expected_table(skips, lang):
    """The table the page should show for WhitelistSkips SKIPS."""
    labels = LABELS[lang]
    rows = [[labels["header"]] + [labels[c] for c in COLUMNS]]
    for rule_type, checks in skips:
        rows.append([labels[rule_type]] + ["✓" if c in checks else "" for c in COLUMNS])
    return rows


def test_rows_show_the_daemon_values_and_follow_busctl(daemon, app):
    values = security(daemon)
    for prop in CHECKS:
        value, sensitive, error = app.get("Security." + prop)
        assert value == values[prop], prop
        assert error == "", prop
    assert (values["Spf"], values["Antivirus"], values["AntivirusUnreachable"]) == (False, False, "defer")
    assert app.get("Security.Spf")[1] and app.get("Security.Antivirus")[1]
    # the socket and the fallback wait for the antivirus switch
    assert not app.get("Security.AntivirusSocket")[1]
    assert not app.get("Security.AntivirusUnreachable")[1]

    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "Update", "a{sv}b", "5",
             "Spf", "b", "true", "Dmarc", "b", "true", "Antivirus", "b", "true",
             "AntivirusSocket", "s", "127.0.0.1:3310", "AntivirusUnreachable", "s", "accept", "false")
    app.wait_value("Security.Spf", True)
    app.wait_value("Security.Dmarc", True)
    app.wait_value("Security.Antivirus", True)
    app.wait_value("Security.AntivirusSocket", "127.0.0.1:3310")
    app.wait_value("Security.AntivirusUnreachable", "accept")
    assert app.get("Security.Dkim")[0] is False
    assert app.get("Security.AntivirusSocket")[1], "editable once the antivirus is on"
    assert app.get("Security.AntivirusUnreachable")[1]
    assert not app.state()["dirty"], "a change from the daemon is not an edit"

    update(daemon, Dkim=True, Spf=False, Antivirus=False, AntivirusUnreachable="defer")
    app.wait_value("Security.Dkim", True)
    app.wait_value("Security.Spf", False)
    app.wait_value("Security.Antivirus", False)
    app.wait_value("Security.AntivirusUnreachable", "defer")
    assert not app.get("Security.AntivirusSocket")[1]
    assert not app.get("Security.AntivirusUnreachable")[1]


def test_apply_reaches_the_daemon(daemon, app):
    app.show_page("security")
    app.set("Security.Spf", True)
    app.set("Security.Dkim", True)
    app.set("Security.Dmarc", True)
    app.set("Security.Antivirus", True)
    app.set("Security.AntivirusSocket", "/run/clamav/other.ctl")
    app.set("Security.AntivirusUnreachable", "accept")
    assert app.state()["dirty"]
    applied(app)
    values = security(daemon)
    assert {p: values[p] for p in CHECKS} == {
        "Spf": True, "Dkim": True, "Dmarc": True, "Antivirus": True,
        "AntivirusSocket": "/run/clamav/other.ctl", "AntivirusUnreachable": "accept"}
    assert values["Dnsbl"] is False and values["MaxConnections"] == 50, "untouched settings stay"

    # and back: off, a TCP clamd on IPv6, defer
    app.set("Security.AntivirusSocket", "[::1]:3310")
    app.set("Security.AntivirusUnreachable", "defer")
    app.set("Security.Dkim", False)
    app.set("Security.Antivirus", False)
    assert not app.get("Security.AntivirusSocket")[1], "the socket follows the switch at once"
    applied(app)
    values = security(daemon)
    assert {p: values[p] for p in CHECKS} == {
        "Spf": True, "Dkim": False, "Dmarc": True, "Antivirus": False,
        "AntivirusSocket": "[::1]:3310", "AntivirusUnreachable": "defer"}


def test_a_refused_socket_is_marked_on_its_row_and_nothing_changes(daemon, app):
    app.show_page("security")
    before = security(daemon)
    app.set("Security.Antivirus", True)
    app.set("Security.AntivirusSocket", "clamd")
    app.set("Security.Spf", True)
    app.action("win.apply")
    H.wait_for(lambda: app.get("Security.AntivirusSocket")[2] != "", 20, "the error on the socket row",
               details=lambda: repr(app.get("Security.AntivirusSocket")))
    value, sensitive, error = app.get("Security.AntivirusSocket")
    assert error == "'clamd' is neither an absolute Unix socket path nor HOST:PORT"
    assert value == "clamd" and sensitive, "the edit stays for the user to fix"
    assert app.get("Security.Spf")[2] == "" and app.get("Security.Antivirus")[2] == ""
    assert app.state()["dirty"]
    assert security(daemon) == before, "one refused value refuses the whole update"

    # fixed in place: the mark goes as the user types, the update goes through
    app.set("Security.AntivirusSocket", "/run/clamav/clamd.sock")
    assert app.get("Security.AntivirusSocket")[2] == ""
    applied(app)
    values = security(daemon)
    assert (values["Antivirus"], values["AntivirusSocket"], values["Spf"]) == \
        (True, "/run/clamav/clamd.sock", True)


def test_the_whitelist_table_is_the_daemon_one(daemon, app):
    skips = security(daemon)["WhitelistSkips"]
    assert skips[0] == ("ip", ["dnsbl", "spf", "antivirus", "dkim", "dmarc"])
    table = app.value("Security.whitelist-skips")
    assert table == expected_table(skips, "en")
    assert len(table) == 1 + len(skips) == 6

    # rebuilt from the proxy: gone with the daemon, back with it
    daemon.stop()
    H.wait_for(lambda: not app.state()["connected"], 20, "the app to see the daemon go")
    assert app.value("Security.whitelist-skips") == [expected_table([], "en")[0]]
    daemon.start()
    H.wait_for(lambda: app.state()["connected"], 10, "the app to reconnect")
    app.wait_value("Security.whitelist-skips", expected_table(skips, "en"))


def screenshot_state(daemon):
    update(daemon, Spf=True, Dmarc=True, Antivirus=True, AntivirusSocket="127.0.0.1:3310",
           AntivirusUnreachable="accept")


def take_screenshot(app):
    """security-checks.png: the page scrolled to the sender authentication
    and antivirus groups."""
    app.wait_value("Security.AntivirusSocket", "127.0.0.1:3310")
    app.wait_value("Security.AntivirusUnreachable", "accept")
    app.show_page("security")
    app.call("window.resize", (900, 1000), "(ii)")
    time.sleep(0.3)   # let the page lay out before it scrolls
    assert app.call("Security.show-checks")
    time.sleep(0.3)   # let the page scroll and draw
    path = os.path.join(G.screenshot_dir(app.lang), "security-checks.png")
    width, height = app.call("window.screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000


def test_screenshots(daemon, app):
    screenshot_state(daemon)
    take_screenshot(app)


def test_screenshots_fr(daemon, app_fr):
    screenshot_state(daemon)
    app_fr.wait_value("Security.whitelist-skips", expected_table(security(daemon)["WhitelistSkips"], "fr"))
    take_screenshot(app_fr)
