# SPDX-License-Identifier: GPL-3.0-or-later
"""The DKIM signing keys on the Security page of relais-settings, against a
real relaisd on a private bus in a real window under Xvfb: keys (Ed25519 and
RSA 2048) are made through the page's dialog, which is busy while the
daemon generates, then shows the record the daemon answered (the zone-file
line built by the page for an existing key is the daemon's own); a domain
with a key is replaced only once confirmed; a selector the daemon refuses
is marked on its field with the daemon's message and the dialog stays open;
a key made over D-Bus shows at once; a key is removed through its row after
a confirmation; the DkimSigning switch reaches the daemon with the Apply
bar and follows busctl. Screenshots of the group and of the record dialog
in English and French."""

import os
import re
import time

import gui_helpers as G
import relais_helpers as H

IFACE = "org.relais.Relais1.Security"
LOCAL = "relais.test"


def keys(daemon):
    return [tuple(k) for k in daemon.dbus().get(IFACE, "DkimKeys")]


def generate(daemon, domain, selector, algorithm):
    return tuple(daemon.dbus().call(IFACE, "GenerateDkimKey", "(sssb)", (domain, selector, algorithm, False),
                                    timeout_ms=30000))


def add_local_domain(daemon, domain=LOCAL):
    daemon.dbus().call("org.relais.Relais1.Accounts", "AddLocalDomain", "(sb)", (domain, False))


def dialog(app):
    return app.value("Security.dkim-dialog")


def wait_record(app):
    """Waits for the dialog to show the record of the key it made."""
    H.wait_for(lambda: not dialog(app)["busy"], 30, "the daemon to make the key",
               details=lambda: repr(dialog(app)))
    state = dialog(app)
    assert state["page"] == "record", state
    return state


def wait_closed(app):
    H.wait_for(lambda: not dialog(app)["open"], 20, "the DKIM key dialog to close",
               details=lambda: repr(dialog(app)))


def shown_keys(app):
    return [tuple(row[:3]) for row in app.value("Security.dkim-keys")]


def expected_rows(daemon_keys, lang="en"):
    labels = {"en": ("Selector %s · %s", {"rsa-2048": "RSA 2048", "ed25519": "Ed25519"}),
              "fr": ("Sélecteur %s · %s", {"rsa-2048": "RSA 2048", "ed25519": "Ed25519"})}[lang]
    return [(domain, labels[0] % (selector, labels[1][algorithm]), record)
            for domain, selector, algorithm, record in daemon_keys]


def wait_rows(app, daemon, lang="en"):
    H.wait_for(lambda: shown_keys(app) == expected_rows(keys(daemon), lang), 20,
               "the page to show the daemon's DKIM keys", details=lambda: repr(app.value("Security.dkim-keys")))


def zone_strings(zone):
    """The quoted strings of a zone-file line, unescaped."""
    return [re.sub(r"\\(.)", r"\1", s) for s in re.findall(r'"((?:[^"\\]|\\.)*)"', zone)]


def check_zone(zone, name, record):
    assert zone.startswith(name + ". IN TXT ( ") and zone.endswith(" )"), zone
    strings = zone_strings(zone)
    assert "".join(strings) == record
    assert all(len(s.encode()) <= 255 for s in strings), [len(s) for s in strings]
    assert strings[-1].startswith("p=") or any(s.startswith("p=") for s in strings)


def test_keys_made_through_the_dialog(daemon, app):
    add_local_domain(daemon)
    app.show_page("security")
    assert app.get("Security.dkim-keys")[:2] == ([], True)

    # the dialog suggests the local domain and a dated selector; generating is asynchronous
    before = time.strftime("relais%Y%m")
    state = app.call("Security.add-dkim-key", ("", "", "ed25519"), "(sss)")
    selector = state["selector"]
    assert selector in (before, time.strftime("relais%Y%m")), state    # the month may turn meanwhile
    assert (state["open"], state["domain"], state["algorithm"]) == (True, LOCAL, "ed25519")
    assert state["busy"] and state["spinning"] and not state["can-generate"], state
    state = wait_record(app)
    name = "%s._domainkey.%s" % (selector, LOCAL)
    [(domain, sel, algorithm, record)] = keys(daemon)
    assert (domain, sel, algorithm) == (LOCAL, selector, "ed25519")
    assert record.startswith("v=DKIM1; k=ed25519; p=")
    assert (state["name"], state["value"]) == (name, record)
    check_zone(state["zone"], name, record)
    assert not state["spinning"] and state["error"] == ""
    assert app.call("Security.dkim-dialog-copy", "zone") == state["zone"]
    assert app.call("Security.dkim-dialog-copy", "value") == record
    app.call("Security.dkim-dialog-close")
    wait_closed(app)
    wait_rows(app, daemon)

    # RSA 2048 for another domain: the record is long, in strings of at most 255 bytes
    state = app.call("Security.add-dkim-key", ("Example.ORG", "mail2026", "rsa-2048"), "(sss)")
    assert state["busy"] and state["spinning"] and not state["can-generate"], state
    made = wait_record(app)
    daemon_keys = keys(daemon)
    assert [k[:3] for k in daemon_keys] == [("example.org", "mail2026", "rsa-2048"), (LOCAL, selector, "ed25519")]
    rsa_record = daemon_keys[0][3]
    assert rsa_record.startswith("v=DKIM1; k=rsa; p=") and len(rsa_record) > 255
    assert (made["name"], made["value"]) == ("mail2026._domainkey.example.org", rsa_record)
    check_zone(made["zone"], made["name"], rsa_record)
    assert len(zone_strings(made["zone"])) >= 3
    app.call("Security.dkim-dialog-close")
    wait_closed(app)
    wait_rows(app, daemon)

    # the record of an existing key: the page's zone-file line is the daemon's one
    shown = app.call("Security.show-dkim-record", "example.org")
    assert (shown["page"], shown["name"], shown["value"], shown["zone"]) == \
        ("record", made["name"], rsa_record, made["zone"])
    assert not shown["can-generate"]
    app.call("Security.dkim-dialog-close")
    wait_closed(app)

    # a domain with a key: nothing happens before the replacement is confirmed
    state = app.call("Security.add-dkim-key", (LOCAL, "relais2", "rsa-2048"), "(sss)")
    assert state["question"] == "Replace the DKIM key of %s?" % LOCAL
    assert not state["busy"] and not state["can-generate"]
    state = app.call("Security.dkim-dialog-answer", "cancel", "s")
    assert (state["open"], state["page"], state["question"], state["busy"]) == (True, "form", "", False)
    assert keys(daemon) == daemon_keys
    state = app.call("Security.dkim-dialog-fill", ("", "", ""), "(sss)")
    assert state["question"] != ""
    state = app.call("Security.dkim-dialog-answer", "replace", "s")
    assert state["busy"] and state["spinning"]
    state = wait_record(app)
    replaced = keys(daemon)
    assert [k[:3] for k in replaced] == [("example.org", "mail2026", "rsa-2048"), (LOCAL, "relais2", "rsa-2048")]
    assert state["name"] == "relais2._domainkey." + LOCAL and state["value"] == replaced[1][3]
    app.call("Security.dkim-dialog-close")
    wait_closed(app)
    wait_rows(app, daemon)


def test_a_refused_selector_keeps_the_dialog_open(daemon, app):
    app.show_page("security")
    try:
        generate(daemon, "example.org", "bad selector!", "ed25519")
        raise AssertionError("the daemon accepted a bad selector")
    except H.DBusCallError as e:
        refusal = e.message
    assert refusal.startswith("Selector: ")
    reason = refusal[len("Selector: "):]

    state = app.call("Security.add-dkim-key", ("example.org", "bad selector!", "ed25519"), "(sss)")
    H.wait_for(lambda: dialog(app)["error"] != "", 10, "the refusal", details=lambda: repr(dialog(app)))
    state = dialog(app)
    assert (state["open"], state["page"], state["busy"]) == (True, "form", False)
    assert (state["error-field"], state["error"]) == ("selector", reason)
    assert state["error-shown"] == "Selector: " + reason
    assert state["can-generate"], "the user fixes the field and tries again"
    assert keys(daemon) == []

    # fixed in place, the key is made
    app.call("Security.dkim-dialog-fill", ("", "good", ""), "(sss)")
    state = wait_record(app)
    assert state["error"] == "" and state["name"] == "good._domainkey.example.org"
    assert [k[:3] for k in keys(daemon)] == [("example.org", "good", "ed25519")]


def test_keys_follow_the_daemon(daemon, app):
    app.show_page("security")
    assert shown_keys(app) == []
    name, record, zone = generate(daemon, "example.net", "s1", "ed25519")
    wait_rows(app, daemon)
    assert shown_keys(app) == [("example.net", "Selector s1 · Ed25519", record)]
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "GenerateDkimKey", "sssb",
             "example.com", "s2", "rsa-2048", "false")
    wait_rows(app, daemon)
    assert [r[0] for r in shown_keys(app)] == ["example.com", "example.net"]
    rows = app.value("Security.dkim-keys")
    assert all(r[3] and r[4] for r in rows), "record and remove buttons can be pressed"
    daemon.dbus().call(IFACE, "RemoveDkimKey", "(sb)", ("example.net", False))
    wait_rows(app, daemon)

    # the record of a key made elsewhere: the page builds the zone line as the daemon does
    name, record, zone = generate(daemon, "example.net", "s3", "rsa-2048")
    wait_rows(app, daemon)
    shown = app.call("Security.show-dkim-record", "example.net")
    assert (shown["name"], shown["value"], shown["zone"]) == (name, record, zone)
    app.call("Security.dkim-dialog-close")
    wait_closed(app)

    # nothing to edit while the daemon is gone
    daemon.stop()
    H.wait_for(lambda: not app.state()["connected"], 20, "the app to see the daemon go")
    assert app.get("Security.dkim-keys")[:2] == ([], False)
    daemon.start()
    H.wait_for(lambda: app.state()["connected"], 10, "the app to reconnect")
    wait_rows(app, daemon)
    assert app.get("Security.dkim-keys")[1]


def test_remove_through_the_row(daemon, app):
    generate(daemon, "example.org", "s1", "ed25519")
    generate(daemon, "example.net", "s2", "ed25519")
    app.show_page("security")
    wait_rows(app, daemon)

    heading, body = app.call("Security.remove-dkim-key", ("example.org", "cancel"), "(ss)")
    assert heading == "Remove the DKIM key of example.org?"
    assert "s1._domainkey.example.org" in body
    time.sleep(0.3)
    assert [k[0] for k in keys(daemon)] == ["example.net", "example.org"]

    app.call("Security.remove-dkim-key", ("example.org", "remove"), "(ss)")
    H.wait_for(lambda: [k[0] for k in keys(daemon)] == ["example.net"], 20, "the key to go")
    wait_rows(app, daemon)
    assert [r[0] for r in shown_keys(app)] == ["example.net"]


def test_signing_switch_reaches_the_daemon(daemon, app):
    app.show_page("security")
    assert daemon.dbus().get(IFACE, "DkimSigning") is True
    assert app.get("Security.DkimSigning") == (True, True, "")
    app.set("Security.DkimSigning", False)
    assert app.state()["dirty"]
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"] and not app.state()["busy"], 20, "the page to be applied")
    assert daemon.dbus().get(IFACE, "DkimSigning") is False
    assert daemon.dbus().get(IFACE, "Dkim") is False, "verification is another setting"

    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "Update", "a{sv}b", "1",
             "DkimSigning", "b", "true", "false")
    app.wait_value("Security.DkimSigning", True)
    assert not app.state()["dirty"]


def screenshots(daemon, app, lang):
    add_local_domain(daemon)
    generate(daemon, LOCAL, "relais202611", "ed25519")
    generate(daemon, "example.org", "mail2026", "rsa-2048")
    app.show_page("security")
    wait_rows(app, daemon, lang)
    app.call("window.resize", (900, 1000), "(ii)")
    time.sleep(0.3)   # let the page lay out before it scrolls
    assert app.call("Security.show-dkim")
    time.sleep(0.3)   # let the page scroll and draw
    path = os.path.join(G.screenshot_dir(lang), "security-dkim.png")
    width, height = app.call("window.screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000

    app.call("Security.show-dkim-record", "example.org")
    time.sleep(0.5)   # let the dialog map and draw
    path = os.path.join(G.screenshot_dir(lang), "security-dkim-record.png")
    width, height = app.call("Security.dkim-dialog-screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000
    app.call("Security.dkim-dialog-close")
    wait_closed(app)

    # the form, with the daemon's refusal on the selector
    app.call("Security.add-dkim-key", ("example.net", "bad selector!", "ed25519"), "(sss)")
    H.wait_for(lambda: dialog(app)["error-field"] == "selector", 10, "the refusal",
               details=lambda: repr(dialog(app)))
    time.sleep(0.3)   # let the dialog draw the error
    path = os.path.join(G.screenshot_dir(lang), "security-dkim-dialog-error.png")
    width, height = app.call("Security.dkim-dialog-screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000
    app.call("Security.dkim-dialog-close")
    wait_closed(app)


def test_screenshots(daemon, app):
    screenshots(daemon, app, "en")


def test_screenshots_fr(daemon, app_fr):
    screenshots(daemon, app_fr, "fr")
