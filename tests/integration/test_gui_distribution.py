# SPDX-License-Identifier: GPL-3.0-or-later
"""relais-settings' Distribution page against a real relaisd on a private
bus, in a real window under Xvfb: the mode and the single relay host through
the Apply bar, the write-only password, the relay hosts and rules edited
through their dialogs and followed live, the daemon's refusals on the field
they name, and the Test button against a real aiosmtpd peer on loopback."""

import os
import time

import pytest

import gui_helpers as G
import relais_helpers as H
from smtp_peers import Peer

IFACE = "org.relais.Relais1.Distribution"


def props(daemon):
    return daemon.dbus().get_all(IFACE)


def bctl(daemon, *args):
    return H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, *args)


def bget(daemon, *names):
    out = H.busctl(daemon.bus_address, "get-property", H.BUS_NAME, H.OBJ_PATH, IFACE, *names).stdout
    return out.strip().split("\n")


def update(daemon, **changes):
    """Distribution.Update over busctl from str/bool/int values."""
    args = ["Update", "a{sv}b", len(changes)]
    for name, value in changes.items():
        if isinstance(value, bool):
            args += [name, "b", "true" if value else "false"]
        elif isinstance(value, int):
            args += [name, "u", value]
        else:
            args += [name, "s", value]
    bctl(daemon, *(args + ["false"]))


def fields(**values):
    """An a{sv} for the dialogs from Python values."""
    return {k: H.guess_variant(v) for k, v in values.items()}


def dialog(app):
    return app.value("Distribution.dialog")


def wait_dialog_closed(app):
    H.wait_for(lambda: not dialog(app)["open"], 5, "the dialog to close",
               details=lambda: repr(dialog(app)))


def wait_dialog_error(app):
    H.wait_for(lambda: dialog(app).get("error", "") != "", 5, "the dialog to show the daemon's refusal",
               details=lambda: repr(dialog(app)))
    return dialog(app)


def apply(app):
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"] and not app.state()["busy"], 5, "the page to be applied")


@pytest.fixture
def page(app):
    app.show_page("distribution")
    return app


@pytest.fixture
def peer():
    p = Peer("127.0.0.1", port=H.free_port()).start()
    yield p
    p.stop()


def two_hosts_and_a_rule(daemon):
    bctl(daemon, "AddRelayHost", "sa{sv}b", "zurich", 2, "Server", "s", "mx.zurich.example",
         "Port", "u", 2525, "false")
    bctl(daemon, "AddRelayHost", "sa{sv}b", "brussels", 6, "Server", "s", "198.51.100.7",
         "Port", "u", 465, "AlwaysTls", "b", "true", "Authentication", "b", "true",
         "Username", "s", "bx", "Password", "s", "bx-secret", "false")
    bctl(daemon, "AddRule", "ssasb", "recipient", "zurich", 2, "example.org", "boss@example.net", "false")
    update(daemon, Mode="relay-hosts")


# ---------------------------------------------------------------- live

def test_the_page_shows_the_daemon_values_and_the_mode_chooses_the_fields(daemon, page):
    assert page.value("Distribution.Mode") == "direct"
    assert page.value("Distribution.visible-groups") == ["direct"]
    for prop in ("RelayServer", "RelayPort", "RelayAlwaysTls", "RelayAuthentication", "RelayUsername"):
        value, sensitive, error = page.get("Distribution." + prop)
        assert value == props(daemon)[prop], prop
        assert sensitive and error == "", prop
    assert page.value("Distribution.relay-hosts") == []
    assert page.value("Distribution.password-title") == "Password (none stored)"
    # choosing a mode shows its fields before anything is applied
    page.set("Distribution.Mode", "relay-host")
    assert page.value("Distribution.visible-groups") == ["relay-host"]
    page.set("Distribution.Mode", "relay-hosts")
    assert page.value("Distribution.visible-groups") == ["relay-hosts", "rules"]
    assert page.state()["dirty"]
    page.action("win.revert")
    assert page.value("Distribution.visible-groups") == ["direct"]


def test_busctl_changes_show_at_once(daemon, page):
    update(daemon, Mode="relay-host", RelayServer="smtp.isp.example", RelayPort=587)
    page.wait_value("Distribution.Mode", "relay-host")
    page.wait_value("Distribution.RelayServer", "smtp.isp.example")
    assert page.value("Distribution.RelayPort") == 587
    assert page.value("Distribution.visible-groups") == ["relay-host"]

    bctl(daemon, "AddRelayHost", "sa{sv}b", "zurich", 2, "Server", "s", "mx.zurich.example",
         "Port", "u", 2525, "false")
    page.wait_value("Distribution.relay-hosts", [("zurich", "mx.zurich.example, port 2525")])
    bctl(daemon, "AddRule", "ssasb", "sender", "zurich", 1, "example.com", "false")
    page.wait_value("Distribution.rules", [("Mail from example.com", "Through zurich")])
    update(daemon, Mode="relay-hosts")
    page.wait_value("Distribution.visible-groups", ["relay-hosts", "rules"])
    # a rename over busctl carries the rule along, in the app too
    bctl(daemon, "UpdateRelayHost", "sa{sv}b", "zurich", 1, "Name", "s", "geneva", "false")
    page.wait_value("Distribution.rules", [("Mail from example.com", "Through geneva")])
    assert [r[0] for r in page.value("Distribution.relay-hosts")] == ["geneva"]


# ---------------------------------------------------------------- the form

def test_apply_of_mode_server_and_port_reaches_the_daemon(daemon, page):
    page.set("Distribution.Mode", "relay-host")
    page.set("Distribution.RelayServer", "smtp.gui.example")
    page.set("Distribution.RelayPort", 587, "u")
    page.set("Distribution.RelayAlwaysTls", True)
    apply(page)
    assert bget(daemon, "Mode", "RelayServer", "RelayPort", "RelayAlwaysTls") == \
        ['s "relay-host"', 's "smtp.gui.example"', "u 587", "b true"]


def test_the_password_reaches_the_daemon_and_is_never_shown(daemon, page):
    secret = "gui-s3cret-pass"
    page.set("Distribution.Mode", "relay-host")
    page.set("Distribution.RelayServer", "smtp.gui.example")
    page.set("Distribution.RelayAuthentication", True)
    page.set("Distribution.RelayUsername", "relais")
    page.set("Distribution.RelayPassword", secret)
    apply(page)
    assert bget(daemon, "RelayPasswordSet", "RelayUsername") == ["b true", 's "relais"']
    # the entry is emptied and says a password is stored
    assert page.value("Distribution.RelayPassword") == ""
    page.wait_value("Distribution.password-title", "A password is stored; type a new one to replace it")
    # nothing the page shows holds the password
    for name in page.names():
        if name.startswith("Distribution.") and "-" in name.split(".", 1)[1] or \
                name.startswith("Distribution.Relay") or name == "Distribution.Mode":
            if name in ("Distribution.add-relay-host", "Distribution.edit-relay-host", "Distribution.add-rule",
                        "Distribution.edit-rule", "Distribution.click", "Distribution.close-dialog"):
                continue
            assert secret not in repr(page.get(name)), name
    # an apply of another field keeps the stored password
    page.set("Distribution.RelayPort", 2525, "u")
    apply(page)
    assert bget(daemon, "RelayPasswordSet", "RelayPort") == ["b true", "u 2525"]


def test_an_invalid_server_is_marked_with_the_daemon_message(daemon, page):
    page.set("Distribution.Mode", "relay-host")
    page.set("Distribution.RelayServer", "not a host!")
    page.action("win.apply")
    H.wait_for(lambda: page.get("Distribution.RelayServer")[2] != "", 5, "the error on the server row")
    error = page.get("Distribution.RelayServer")[2]
    assert "neither a host name nor an IP address" in error, error
    assert page.get("Distribution.Mode")[2] == ""
    assert props(daemon)["Mode"] == "direct"      # all or nothing
    # relay-host mode without a server: the daemon names RelayServer too
    page.set("Distribution.RelayServer", "")
    page.action("win.apply")
    H.wait_for(lambda: page.get("Distribution.RelayServer")[2] != "", 5, "the error on the server row")
    assert "needs a relay server" in page.get("Distribution.RelayServer")[2]
    # several relay hosts without any: the mode row says why
    page.action("win.revert")
    page.set("Distribution.Mode", "relay-hosts")
    page.action("win.apply")
    H.wait_for(lambda: page.get("Distribution.Mode")[2] != "", 5, "the error on the mode row")
    assert "at least one relay host" in page.get("Distribution.Mode")[2]
    assert props(daemon)["Mode"] == "direct"


# ---------------------------------------------------------------- relay hosts

def test_a_relay_host_added_edited_and_removed_through_the_dialog(daemon, page):
    page.set("Distribution.Mode", "relay-hosts")     # shows the list; not applied
    page.call("Distribution.add-relay-host",
              fields(Name="office", Server="Mail.Office.example", Port=465, AlwaysTls=True,
                     Authentication=True, Username="bx", Password="dialog-secret"), "a{sv}")
    wait_dialog_closed(page)
    assert props(daemon)["RelayHosts"] == [("office", "mail.office.example", 465, True, True, "bx", True)]
    page.wait_value("Distribution.relay-hosts",
                    [("office", "mail.office.example, port 465 · always TLS · logs in as bx")])

    # edit: rename and another port; the stored password is kept
    page.call("Distribution.edit-relay-host", ("office", fields(Name="head office", Port=587)), "(sa{sv})")
    wait_dialog_closed(page)
    assert props(daemon)["RelayHosts"] == [("head office", "mail.office.example", 587, True, True, "bx", True)]
    page.wait_value("Distribution.relay-hosts",
                    [("head office", "mail.office.example, port 587 · always TLS · logs in as bx")])

    # the dialog never shows the stored password; a refusal keeps it open
    page.call("Distribution.edit-relay-host", ("head office", fields(Server="bad server!")), "(sa{sv})")
    state = wait_dialog_error(page)
    assert state["open"] and state["kind"] == "relay-host"
    assert state["error-field"] == "Server"
    assert "neither a host name nor an IP address" in state["error"], state
    assert state["password"] == ""
    assert state["password-title"] == "A password is stored; type a new one to replace it"
    assert props(daemon)["RelayHosts"][0][1] == "mail.office.example"
    page.call("Distribution.close-dialog")
    wait_dialog_closed(page)

    # remove, from the row's button, after a question (cancel keeps it)
    page.call("Distribution.click", ("remove", "head office"), "(ss)")
    assert page.call("Distribution.confirm", "cancel") == "Remove the relay host “head office”?"
    assert [h[0] for h in props(daemon)["RelayHosts"]] == ["head office"]
    page.call("Distribution.click", ("remove", "head office"), "(ss)")
    page.call("Distribution.confirm", "remove")
    H.wait_for(lambda: props(daemon)["RelayHosts"] == [], 5, "the host to be removed")
    page.wait_value("Distribution.relay-hosts", [])


def test_the_host_dialog_marks_the_field_the_daemon_refuses(daemon, page):
    page.set("Distribution.Mode", "relay-hosts")
    page.call("Distribution.add-relay-host", fields(Name="", Server="smtp.example.net"), "a{sv}")
    state = wait_dialog_error(page)
    assert state["error-field"] == "Name" and "1 to 64 characters" in state["error"], state
    page.call("Distribution.close-dialog")
    wait_dialog_closed(page)

    page.call("Distribution.add-relay-host",
              fields(Name="isp", Server="smtp.example.net", Authentication=True, Username="u"), "a{sv}")
    state = wait_dialog_error(page)
    assert state["error-field"] == "Password" and "password is needed" in state["error"], state
    page.call("Distribution.close-dialog")

    bctl(daemon, "AddRelayHost", "sa{sv}b", "isp", 1, "Server", "s", "smtp.example.net", "false")
    page.call("Distribution.add-relay-host", fields(Name="ISP", Server="other.example.net"), "a{sv}")
    state = wait_dialog_error(page)
    assert state["error-field"] == "Name" and "already exists" in state["error"], state
    page.call("Distribution.close-dialog")
    assert [h[0] for h in props(daemon)["RelayHosts"]] == ["isp"]


def test_rules_through_the_dialog(daemon, page):
    two_hosts = [("zurich", "mx.zurich.example"), ("brussels", "198.51.100.7")]
    for name, server in two_hosts:
        bctl(daemon, "AddRelayHost", "sa{sv}b", name, 1, "Server", "s", server, "false")
    page.wait_value("Distribution.relay-hosts", [("brussels", "198.51.100.7, port 25"),
                                                 ("zurich", "mx.zurich.example, port 25")])
    page.set("Distribution.Mode", "relay-hosts")
    page.call("Distribution.add-rule",
              fields(Kind="recipient", Host="zurich", Patterns=["example.org", "boss@example.net"]), "a{sv}")
    wait_dialog_closed(page)
    # the last pattern is typed but not added with its own button: OK takes it
    page.call("Distribution.add-rule", fields(Kind="sender", Host="brussels", Patterns=[],
                                              PendingPattern="example.com"), "a{sv}")
    wait_dialog_closed(page)
    assert props(daemon)["Rules"] == [(1, "recipient", "zurich", ["example.org", "boss@example.net"]),
                                      (2, "sender", "brussels", ["example.com"])]
    page.wait_value("Distribution.rules", [("Mail to example.org, boss@example.net", "Through zurich"),
                                           ("Mail from example.com", "Through brussels")])

    # a refused pattern is marked, nothing changes
    page.call("Distribution.edit-rule", (1, fields(Patterns=["not an address"])), "(ua{sv})")
    state = wait_dialog_error(page)
    assert state["kind"] == "rule" and state["error-field"] == "Patterns", state
    assert "not an address" in state["error"], state
    page.call("Distribution.close-dialog")
    wait_dialog_closed(page)
    assert props(daemon)["Rules"][0][3] == ["example.org", "boss@example.net"]

    page.call("Distribution.edit-rule", (1, fields(Kind="sender", Host="brussels")), "(ua{sv})")
    wait_dialog_closed(page)
    assert props(daemon)["Rules"][0] == (1, "sender", "brussels", ["example.org", "boss@example.net"])

    # order: rule 2 first, then remove rule 1
    page.call("Distribution.click", ("up", "2"), "(ss)")
    H.wait_for(lambda: [r[0] for r in props(daemon)["Rules"]] == [2, 1], 5, "rule 2 to move up")
    page.wait_value("Distribution.rules", [("Mail from example.com", "Through brussels"),
                                           ("Mail from example.org, boss@example.net", "Through brussels")])
    page.call("Distribution.click", ("remove", "1"), "(ss)")
    assert page.call("Distribution.confirm", "remove") == "Remove this rule?"
    H.wait_for(lambda: [r[0] for r in props(daemon)["Rules"]] == [2], 5, "rule 1 to go")

    # a host in use cannot go: the daemon's reason, nothing removed
    page.call("Distribution.click", ("remove", "brussels"), "(ss)")
    page.call("Distribution.confirm", "remove")
    page.call("Distribution.click", ("remove", "zurich"), "(ss)")
    page.call("Distribution.confirm", "remove")
    H.wait_for(lambda: [h[0] for h in props(daemon)["RelayHosts"]] == ["brussels"], 5, "zurich to go")


def test_the_lists_cannot_be_edited_while_the_daemon_is_away(daemon, page):
    two_hosts_and_a_rule(daemon)
    page.wait_value("Distribution.visible-groups", ["relay-hosts", "rules"])
    assert page.get("Distribution.relay-hosts")[1] and page.get("Distribution.rules")[1]
    daemon.stop()
    H.wait_for(lambda: page.state()["banner"], 5, "the banner")
    assert page.get("Distribution.relay-hosts") == ([], False, "")
    assert not page.get("Distribution.rules")[1]
    with pytest.raises(H.DBusCallError):
        page.call("Distribution.add-relay-host", fields(Name="x", Server="smtp.example.net"), "a{sv}")
    assert not dialog(page)["open"]
    daemon.start()
    H.wait_for(lambda: page.state()["connected"], 10, "the app to reconnect")
    page.wait_value("Distribution.rules", [("Mail to example.org, boss@example.net", "Through zurich")])
    assert [r[0] for r in page.value("Distribution.relay-hosts")] == ["brussels", "zurich"]
    assert page.get("Distribution.relay-hosts")[1]


# ---------------------------------------------------------------- Test

def test_the_test_button_shows_success_and_failure(daemon, page, peer):
    update(daemon, Mode="relay-host", RelayServer="127.0.0.1", RelayPort=peer.port)
    page.wait_value("Distribution.RelayPort", peer.port)
    page.call("Distribution.click", ("test", ""), "(ss)")
    H.wait_for(lambda: page.value("Distribution.test-result")["state"] not in ("", "running"), 40,
               "the test to finish", details=lambda: repr(page.value("Distribution.test-result")))
    result = page.value("Distribution.test-result")
    assert result["state"] == "ok" and result["visible"], result
    assert result["title"] == "The relay host accepted the connection"
    assert "Server: [127.0.0.1]:%d" % peer.port in result["details"], result
    assert peer.received == []      # no mail sent

    # nothing listening: the daemon's reason in the page
    closed = H.free_port()
    update(daemon, RelayPort=closed)
    page.wait_value("Distribution.RelayPort", closed)
    page.call("Distribution.click", ("test", ""), "(ss)")
    H.wait_for(lambda: page.value("Distribution.test-result")["state"] not in ("", "running", "ok"), 40,
               "the test to fail", details=lambda: repr(page.value("Distribution.test-result")))
    result = page.value("Distribution.test-result")
    assert result["state"] == "failed" and result["title"] == "The test failed", result
    assert str(closed) in result["details"] and len(result["details"].split("\n")) >= 2, result

    # the test uses the applied settings: not while an edit waits
    page.set("Distribution.RelayPort", peer.port, "u")
    assert not page.get("Distribution.test-result")[1]


def test_a_named_relay_host_is_tested_from_its_row(daemon, page, peer):
    bctl(daemon, "AddRelayHost", "sa{sv}b", "local", 2, "Server", "s", "127.0.0.1", "Port", "u", peer.port,
         "false")
    update(daemon, Mode="relay-hosts")
    page.wait_value("Distribution.visible-groups", ["relay-hosts", "rules"])
    page.call("Distribution.click", ("test", "local"), "(ss)")
    H.wait_for(lambda: page.value("Distribution.test-result")["state"] not in ("", "running"), 40,
               "the test to finish", details=lambda: repr(page.value("Distribution.test-result")))
    result = page.value("Distribution.test-result")
    assert result["state"] == "ok" and result["name"] == "local" and result["visible"], result


# ---------------------------------------------------------------- screenshots

def test_screenshot_distribution_en(daemon, page):
    two_hosts_and_a_rule(daemon)
    page.wait_value("Distribution.visible-groups", ["relay-hosts", "rules"])
    page.wait_value("Distribution.rules", [("Mail to example.org, boss@example.net", "Through zurich")])
    page.screenshot("distribution")


def test_screenshot_distribution_fr(daemon, app_fr):
    two_hosts_and_a_rule(daemon)
    app_fr.wait_value("Distribution.Mode", "relay-hosts")
    H.wait_for(lambda: len(app_fr.value("Distribution.rules")) == 1, 5, "the rule")
    assert app_fr.value("Distribution.password-title") == "Mot de passe (aucun enregistré)"
    app_fr.screenshot("distribution")


def test_screenshot_distribution_relay_host_with_a_test_result_en(daemon, page, peer):
    update(daemon, Mode="relay-host", RelayServer="127.0.0.1", RelayPort=peer.port, RelayUsername="relais",
           RelayPassword="shot-secret")
    page.wait_value("Distribution.RelayPort", peer.port)
    page.call("Distribution.click", ("test", ""), "(ss)")
    H.wait_for(lambda: page.value("Distribution.test-result")["state"] not in ("", "running"), 40,
               "the test to finish")
    page.call("window.resize", (900, 1000), "(ii)")
    time.sleep(0.3)
    path = os.path.join(G.screenshot_dir(page.lang), "distribution-relay-host.png")
    width, height = page.call("window.screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000
