# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Why?" tool of relais-settings (RelaisExplainDialog, opened by
win.explain) against a real relaisd on a private bus, under Xvfb: the
dialog shows what Policy.Explain answers (decision, SMTP reply, deciding
rule, every check by stage, each recipient), marks the field of a refused
envelope with the daemon's message, and is saved as a screenshot in English
and French."""

import os
import time

import gui_helpers as G
import relais_helpers as H

IFACE_POLICY = "org.relais.Relais1.Policy"
IFACE_SECURITY = "org.relais.Relais1.Security"
FOREIGN = "127.0.0.66"          # in no trusted network
ALICE = "alice@" + H.TEST_DOMAIN
REMOTE = "bob@relay-target.invalid"


def add_rule(daemon, name, lst, typ, value, action=""):
    # over busctl, as an administrator would
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE_SECURITY, "AddRule", "sssssb",
             name, lst, typ, value, action, "false")


def daemon_explain(daemon, **envelope):
    env = {k: H.guess_variant(v) for k, v in envelope.items()}
    return daemon.dbus().call(IFACE_POLICY, "Explain", "(a{sv})", (env,), timeout_ms=30000)[0]


def open_dialog(app):
    app.action("win.explain")
    H.wait_for(lambda: "Explain.run" in app.names(), 5, "the Why? dialog to open")


def fill(app, client="", helo="", sender="", recipients="", login=""):
    app.set("Explain.ClientAddress", client)
    app.set("Explain.Helo", helo)
    app.set("Explain.Sender", sender)
    app.set("Explain.Recipients", recipients)
    app.set("Explain.Login", login)


def run(app):
    app.call("Explain.run")
    H.wait_for(lambda: not app.value("Explain.result")["busy"], 30, "the explanation")
    return app.value("Explain.result")


def steps(result):
    return [tuple(s) for s in result]


def test_a_blacklisted_sender_is_explained(daemon, app):
    daemon.setup_mailbox()
    add_rule(daemon, "spammers", "black", "sender", "spam@bad.example", "reject")
    open_dialog(app)
    fill(app, FOREIGN, H.CLIENT_HELO, "spam@bad.example", ALICE)
    shown = run(app)
    assert shown["error"] == "" and shown["shown"]
    assert shown["decision"] == "reject" and shown["decision-text"] == "Refused"
    assert shown["reply"] == "554 5.7.1 Access denied"
    assert shown["decided-by"] == "blacklist:spammers"
    # the steps and recipients are the daemon's, every one, in order
    expected = daemon_explain(daemon, ClientAddress=FOREIGN, Helo=H.CLIENT_HELO, Sender="spam@bad.example",
                              Recipients=[ALICE])
    assert steps(shown["steps"]) == steps(expected["Steps"])
    assert [tuple(r) for r in shown["recipients"]] == [(ALICE, "reject", "blacklist:spammers",
                                                         "554 5.7.1 Access denied")]
    decided = [(s, c) for (s, c, _a, d) in shown["steps"] if d]
    assert decided == [("rcpt " + ALICE, "blacklist")]
    checks = {c for (_s, c, _a, _d) in shown["steps"]}
    assert {"connection-limit", "non-fqdn-helo", "auth-required", "recipient", "blacklist"} <= checks


def test_several_recipients_each_with_its_answer(daemon, app):
    daemon.setup_mailbox()
    open_dialog(app)
    fill(app, FOREIGN, H.CLIENT_HELO, H.SENDER, "%s, %s" % (ALICE, REMOTE))
    shown = run(app)
    expected = daemon_explain(daemon, ClientAddress=FOREIGN, Helo=H.CLIENT_HELO, Sender=H.SENDER,
                              Recipients=[ALICE, REMOTE])
    recipients = [tuple(r) for r in shown["recipients"]]
    assert recipients == [tuple(r) for r in expected["Recipients"]]
    assert recipients[0][:3] == (ALICE, "accept", "local-account")
    assert recipients[1][0] == REMOTE and recipients[1][2] == "relay-denied"
    assert "Relay access denied" in recipients[1][3]
    # the outcome is the first refusal: the remote recipient's
    assert shown["decided-by"] == "relay-denied" and shown["reply"] == recipients[1][3]
    assert shown["decision"] in ("reject", "defer")

    # the same client, authenticated as alice, may relay
    fill(app, FOREIGN, H.CLIENT_HELO, ALICE, REMOTE, login=H.TEST_LOGIN)
    shown = run(app)
    assert (shown["decision"], shown["decided-by"], shown["reply"]) == ("accept", "authenticated", "250 2.1.5 Ok")
    assert shown["decision-text"] == "Accepted"


def test_a_bad_envelope_is_marked_on_its_field(daemon, app):
    open_dialog(app)
    fill(app, "999.1.2.3", H.CLIENT_HELO, H.SENDER, ALICE)
    shown = run(app)
    assert not shown["shown"] and shown["steps"] == []
    assert "999.1.2.3" in shown["error"] and "IPv4" in shown["error"], shown
    assert shown["error-shown"].startswith("Client IP address: ")
    value, sensitive, error = app.get("Explain.ClientAddress")
    assert value == "999.1.2.3" and sensitive and error == shown["error"]
    assert app.get("Explain.Sender")[2] == ""

    # a login that is not an account, then a fix: the mark goes and the result shows
    fill(app, FOREIGN, "", H.SENDER, ALICE, login="nobody")
    shown = run(app)
    assert "nobody" in app.get("Explain.Login")[2] and app.get("Explain.ClientAddress")[2] == ""
    fill(app, FOREIGN)
    shown = run(app)
    assert shown["error"] == "" and shown["error-shown"] == "" and shown["shown"]
    assert app.get("Explain.Login")[2] == ""
    # only a client address: the trace stops after the connection and EHLO
    assert shown["decision"] == "accept" and shown["reply"].startswith("220 ")
    assert {s for (s, _c, _a, _d) in shown["steps"]} <= {"connect", "helo"}


def screenshot(app, lang):
    explain_for_screenshot(app)
    time.sleep(1.0)   # let the rows finish their animations
    path = os.path.join(G.screenshot_dir(lang), "explain-dialog.png")
    width, height = app.call("Explain.screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000


def explain_for_screenshot(app):
    app.call("window.resize", (900, 1000), "(ii)")
    open_dialog(app)
    fill(app, FOREIGN, H.CLIENT_HELO, "spam@bad.example", "%s %s" % (ALICE, REMOTE))
    shown = run(app)
    assert shown["decided-by"] == "blacklist:spammers"


def test_screenshot_explain_en(daemon, app):
    daemon.setup_mailbox()
    add_rule(daemon, "spammers", "black", "sender", "spam@bad.example", "reject")
    screenshot(app, "en")


def test_screenshot_explain_fr(daemon, app_fr):
    daemon.setup_mailbox()
    add_rule(daemon, "spammers", "black", "sender", "spam@bad.example", "reject")
    screenshot(app_fr, "fr")
    shown = app_fr.value("Explain.result")
    assert shown["decision-text"] != "Refused"    # translated
    assert shown["decision"] == "reject"

