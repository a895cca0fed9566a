# SPDX-License-Identifier: GPL-3.0-or-later
"""The Security page of relais-settings against a real relaisd on a private
bus, in a real window under Xvfb: the settings follow busctl and the Apply
bar reaches the daemon; the black/white rules follow the Rules property
(10,000 of them through ReplaceRules, with the view making widgets for the
visible rows only), filter by name, value and list, and are added, edited,
moved and removed through the page's own buttons and dialog; a refused rule
keeps the dialog open with the daemon's message; the whitelist table is
SPEC §4.1's; a client blocked for real by the nonexistent-account block is
listed and its Unblock button lifts the block. Screenshots in English and
French."""

import os
import time

import gui_helpers as G
import relais_helpers as H

IFACE = "org.relais.Relais1.Security"
BLOCKED = "127.0.0.5"            # a loopback address of its own for the blocked client

SAMPLE_RULES = [
    ("spammer-host", "black", "ip", "192.0.2.66", "reject"),
    ("bulk-network", "black", "subnet", "198.51.100.0/24", "reject"),
    ("newsletter", "black", "sender", "news@spam.example", "discard"),
    ("old-alias", "black", "recipient", "former@relais.test", "reject"),
    ("office", "white", "ip", "203.0.113.10", ""),
    ("branch-v6", "white", "subnet", "2001:db8:42::/48", ""),
    ("partner", "white", "sender", "billing@partner.example", ""),
    ("postmaster", "white", "recipient", "postmaster@relais.test", ""),
    ("partner-domain", "white", "domain", "partner.example", ""),
]


def security(daemon):
    return daemon.dbus().get_all(IFACE)


def rules(daemon):
    return [tuple(r) for r in security(daemon)["Rules"]]


def replace_rules(daemon, new_rules):
    daemon.dbus().call(IFACE, "ReplaceRules", "(a(sssss)b)", (new_rules, False), timeout_ms=60000)


def update(daemon, **changes):
    d = {k: H.guess_variant(v) for k, v in changes.items()}
    daemon.dbus().call(IFACE, "Update", "(a{sv}b)", (d, False))


def shown_rules(app):
    total, shown = app.value("Security.rules-count")
    return [tuple(app.call("Security.rule-row", i, "u")[k]
                  for k in ("name", "list", "type", "value", "action"))
            for i in range(shown)]


def rule_row(app, index):
    return app.call("Security.rule-row", index, "u")


def wait_rules(app, daemon_rules, timeout=5):
    H.wait_for(lambda: shown_rules(app) == daemon_rules, timeout, "the page to show the daemon's rules",
               details=lambda: repr(shown_rules(app)))


def wait_dialog_closed(app):
    H.wait_for(lambda: not app.value("Security.dialog")["open"], 5, "the rule dialog to close",
               details=lambda: repr(app.value("Security.dialog")))


def block_client(daemon, address=BLOCKED):
    """Block ADDRESS for real: BlockNonexistentRecipients with a limit of 1,
    then two RCPT TO nonexistent local accounts (550, then 421)."""
    update(daemon, BlockNonexistentRecipients=True, MaxNonexistentRecipients=1)
    with H.RawSMTP(daemon.host, daemon.port, source=address) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % H.SENDER).code == 250
        assert c.cmd("RCPT TO:<nobody1@%s>" % H.TEST_DOMAIN).code == 550
        assert c.cmd("RCPT TO:<nobody2@%s>" % H.TEST_DOMAIN).code == 421
    blocked = daemon.dbus().call(IFACE, "ListBlocked")[0]
    assert [a for a, _ in blocked] == [address]
    return blocked[0][1]


def test_settings_show_the_daemon_values_and_follow_busctl(daemon, app):
    values = security(daemon)
    for prop in ("RejectNonFqdnSender", "RejectUnknownSenderDomain", "RejectUnknownClientHostname",
                 "LimitConnections", "MaxConnections", "LimitMessageRate", "MaxMessagesPerMinute",
                 "LimitConnectionRate", "MaxConnectionsPerMinute", "RejectUnauthorizedPipelining",
                 "RejectNonFqdnHelo", "RejectUnknownHelo", "BlockNonexistentRecipients",
                 "MaxNonexistentRecipients", "MaxJunkCommands"):
        value, sensitive, error = app.get("Security." + prop)
        assert value == values[prop], prop
        assert error == "", prop
    # a number is editable only while its switch is on (defaults: connections on, rate off)
    assert app.get("Security.MaxConnections")[1]
    assert not app.get("Security.MaxMessagesPerMinute")[1]
    assert not app.get("Security.MaxNonexistentRecipients")[1]
    assert app.get("Security.MaxJunkCommands")[1]

    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "Update", "a{sv}b", "3",
             "LimitMessageRate", "b", "true", "MaxMessagesPerMinute", "u", "25",
             "RejectNonFqdnHelo", "b", "true", "false")
    app.wait_value("Security.MaxMessagesPerMinute", 25)
    app.wait_value("Security.LimitMessageRate", True)
    app.wait_value("Security.RejectNonFqdnHelo", True)
    assert app.get("Security.MaxMessagesPerMinute")[1], "sensitive once its switch is on"
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "Update", "a{sv}b", "1",
             "LimitConnections", "b", "false", "false")
    app.wait_value("Security.LimitConnections", False)
    assert not app.get("Security.MaxConnections")[1]


def test_apply_reaches_the_daemon(daemon, app):
    app.show_page("security")
    app.set("Security.BlockNonexistentRecipients", True)
    app.set("Security.MaxNonexistentRecipients", 7, "u")
    app.set("Security.RejectUnauthorizedPipelining", False)
    app.set("Security.MaxJunkCommands", 15, "u")
    assert app.state()["dirty"]
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"], 5, "the page to be applied")
    values = security(daemon)
    assert values["BlockNonexistentRecipients"] is True
    assert values["MaxNonexistentRecipients"] == 7
    assert values["RejectUnauthorizedPipelining"] is False
    assert values["MaxJunkCommands"] == 15
    assert values["MaxConnections"] == 50, "untouched settings stay"


def test_dnsbl_rows_follow_busctl_and_apply(daemon, app):
    assert app.get("Security.Dnsbl")[0] is False
    assert app.get("Security.DnsblZones")[0] == []
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "Update", "a{sv}b", "2",
             "Dnsbl", "b", "true",
             "DnsblZones", "a(ss)", "2", "zen.example.org", "", "bl.example.net", "127.0.0.2-127.0.0.11",
             "false")
    app.wait_value("Security.Dnsbl", True)
    app.wait_value("Security.DnsblZones", [("zen.example.org", ""), ("bl.example.net", "127.0.0.2-127.0.0.11")])
    app.show_page("security")
    # typed as the user does: "zone" or "zone=filter", one string per zone
    shown = app.call("Security.add-dnsbl-zone", "dnsbl.example.com=127.0.0.2, 127.0.0.4")
    assert shown == ["zen.example.org", "bl.example.net=127.0.0.2-127.0.0.11",
                     "dnsbl.example.com=127.0.0.2, 127.0.0.4"]
    app.set("Security.Dnsbl", False)
    assert app.state()["dirty"]
    app.action("win.apply")
    H.wait_for(lambda: not app.state()["dirty"], 5, "the page to be applied")
    values = security(daemon)
    assert values["Dnsbl"] is False
    assert [tuple(z) for z in values["DnsblZones"]] == [
        ("zen.example.org", ""), ("bl.example.net", "127.0.0.2-127.0.0.11"),
        ("dnsbl.example.com", "127.0.0.2,127.0.0.4")]


def test_a_rule_added_over_busctl_appears(daemon, app):
    assert app.value("Security.rules-count") == (0, 0)
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE, "AddRule", "sssssb",
             "busctl-rule", "black", "subnet", "192.0.2.0/255.255.255.0", "discard", "false")
    app.wait_value("Security.rules-count", (1, 1))
    row = rule_row(app, 0)
    assert (row["name"], row["list"], row["type"], row["value"], row["action"]) == \
        ("busctl-rule", "black", "subnet", "192.0.2.0/24", "discard")
    assert row["labels"] == ["busctl-rule", "Black", "IP/subnet", "192.0.2.0/24", "Discard"]


def test_ten_thousand_rules_show_and_filter(daemon, app):
    app.show_page("security")
    many = [("host-%05d" % i, "black" if i % 2 else "white", "ip",
             "10.%d.%d.%d" % (i // 65536, (i // 256) % 256, i % 256), "reject" if i % 2 else "")
            for i in range(10000)]
    replace_rules(daemon, many)
    app.wait_value("Security.rules-count", (10000, 10000), timeout=20)
    assert rule_row(app, 0)["name"] == "host-00000"
    assert rule_row(app, 9999)["value"] == "10.0.39.15"
    # the view makes widgets for the visible rows only, not for 10,000
    assert 0 < app.value("Security.row-widgets") < 300, app.value("Security.row-widgets")

    # by value: one rule
    app.set("Security.filter", "10.0.30.57")
    app.wait_value("Security.rules-count", (10000, 1))
    assert rule_row(app, 0)["name"] == "host-%05d" % (30 * 256 + 57)
    assert "1 of 10000" in app.get("Security.rules-count")[2]
    # by name, case-insensitive, and by list
    app.set("Security.filter", "HOST-0012")
    app.wait_value("Security.rules-count", (10000, 10))
    app.set("Security.list-filter", "white")
    app.wait_value("Security.rules-count", (10000, 5))
    assert all(rule_row(app, i)["list"] == "white" for i in range(5))
    app.set("Security.filter", "")
    app.wait_value("Security.rules-count", (10000, 5000))
    app.set("Security.list-filter", "all")
    app.wait_value("Security.rules-count", (10000, 10000))

    # one more rule over D-Bus while 10,000 are shown
    daemon.dbus().call(IFACE, "AddRule", "(sssssb)", ("late", "white", "domain", "late.example", "", False))
    app.wait_value("Security.rules-count", (10001, 10001))
    assert rule_row(app, 10000)["name"] == "late"
    assert app.value("Security.row-widgets") < 300


def test_add_edit_move_remove_through_the_page(daemon, app):
    app.show_page("security")
    assert app.value("Security.rule-buttons") == {"add": True, "edit": False, "remove": False,
                                                  "up": False, "down": False}
    app.call("Security.add-rule", ("office", "white", "subnet", "192.0.2.0/255.255.255.0", ""), "(sssss)")
    wait_dialog_closed(app)
    assert rules(daemon) == [("office", "white", "subnet", "192.0.2.0/24", "")]
    app.call("Security.add-rule", ("spam", "black", "sender", "Bulk@Spam.EXAMPLE", "discard"), "(sssss)")
    wait_dialog_closed(app)
    wait_rules(app, [("office", "white", "subnet", "192.0.2.0/24", ""),
                     ("spam", "black", "sender", "Bulk@spam.example", "discard")])

    # edit: rename, to the blacklist, reject
    app.call("Security.edit-rule", ("office", "office-net", "black", "subnet", "192.0.2.0/24", "reject"),
             "(ssssss)")
    wait_dialog_closed(app)
    assert rules(daemon)[0] == ("office-net", "black", "subnet", "192.0.2.0/24", "reject")
    # back to the whitelist: the daemon drops the action
    app.call("Security.edit-rule", ("office-net", "office-net", "white", "ip", "192.0.2.9", "reject"),
             "(ssssss)")
    wait_dialog_closed(app)
    assert rules(daemon)[0] == ("office-net", "white", "ip", "192.0.2.9", "")

    # move down then up; the moved rule stays selected
    app.call("Security.move-rule", ("office-net", "down"), "(ss)")
    H.wait_for(lambda: [r[0] for r in rules(daemon)] == ["spam", "office-net"], 5, "the move down")
    wait_rules(app, rules(daemon))
    H.wait_for(lambda: rule_row(app, 1)["selected"], 5, "the moved rule to stay selected")
    assert app.value("Security.rule-buttons")["down"] is False
    app.call("Security.move-rule", ("office-net", "up"), "(ss)")
    H.wait_for(lambda: [r[0] for r in rules(daemon)] == ["office-net", "spam"], 5, "the move up")

    # remove asks first: cancel keeps it, remove removes it
    heading = app.call("Security.remove-rule", ("spam", "cancel"), "(ss)")
    assert "spam" in heading
    assert len(rules(daemon)) == 2
    app.call("Security.remove-rule", ("spam", "remove"), "(ss)")
    H.wait_for(lambda: [r[0] for r in rules(daemon)] == ["office-net"], 5, "the removal")
    app.wait_value("Security.rules-count", (1, 1))


def test_a_refused_rule_keeps_the_dialog_open_with_the_daemon_message(daemon, app):
    app.show_page("security")
    app.call("Security.add-rule", ("bad-subnet", "black", "subnet", "192.0.2.1/24", "reject"), "(sssss)")
    H.wait_for(lambda: app.value("Security.dialog")["error"] != "", 5, "the daemon's refusal in the dialog")
    d = app.value("Security.dialog")
    assert d["open"] and d["error-field"] == "value" and not d["busy"]
    assert "host bits" in d["error"], d
    assert d["error-shown"].startswith("Value: ") and d["error"] in d["error-shown"]
    assert rules(daemon) == []

    # a domain rule on the blacklist: refused too, the message names the list
    app.call("Security.dialog-fill", ("bad-domain", "black", "domain", "spam.example", "reject"), "(sssss)")
    H.wait_for(lambda: app.value("Security.dialog")["name"] == "bad-domain"
               and app.value("Security.dialog")["error"] != "" and not app.value("Security.dialog")["busy"],
               5, "the second refusal")
    d = app.value("Security.dialog")
    assert d["open"] and d["error-field"] in ("type", "list"), d
    assert "whitelist" in d["error"], d
    assert rules(daemon) == []

    # fixed in place: saved and closed
    app.call("Security.dialog-fill", ("good-domain", "white", "domain", "Partner.EXAMPLE", ""), "(sssss)")
    wait_dialog_closed(app)
    assert rules(daemon) == [("good-domain", "white", "domain", "partner.example", "")]


def test_nothing_is_editable_while_the_daemon_is_away(daemon, mailbox, app):
    app.show_page("security")
    replace_rules(daemon, SAMPLE_RULES[:2])
    app.wait_value("Security.rules-count", (2, 2))
    app.call("Security.select-rule", "spammer-host")
    assert app.value("Security.rule-buttons")["edit"]
    daemon.stop()
    H.wait_for(lambda: not app.state()["connected"], 5, "the app to see the daemon go")
    assert app.value("Security.rule-buttons") == {"add": False, "edit": False, "remove": False,
                                                  "up": False, "down": False}
    assert not app.get("Security.MaxJunkCommands")[1]
    assert not app.get("Security.MaxConnections")[1]
    assert not app.get("Security.LimitConnections")[1]
    assert app.value("Security.rules-count") == (0, 0)
    daemon.start()
    H.wait_for(lambda: app.state()["connected"], 10, "the app to reconnect")
    app.wait_value("Security.rules-count", (2, 2))
    assert app.value("Security.rule-buttons")["add"]
    assert app.get("Security.MaxConnections")[1]


def test_whitelist_table_is_the_spec_one(daemon, app):
    table = app.value("Security.whitelist-skips")
    assert table == [
        ["Whitelist type", "DNSBL", "SPF", "Antivirus", "DKIM", "DMARC"],
        ["IP", "✓", "✓", "✓", "✓", "✓"],
        ["IP/subnet", "✓", "✓", "", "✓", "✓"],
        ["Sender", "", "✓", "✓", "", ""],
        ["Recipient", "", "✓", "✓", "", ""],
        ["Domain", "", "✓", "✓", "✓", "✓"],
    ]


def test_a_blocked_address_is_listed_and_unblocked(daemon, mailbox, app):
    app.show_page("security")
    assert app.value("Security.blocked") == []
    until = block_client(daemon)
    app.call("Security.refresh-blocked")
    H.wait_for(lambda: len(app.value("Security.blocked")) == 1, 5, "the blocked address to show")
    address, shown_until, subtitle, can_unblock = app.value("Security.blocked")[0]
    assert (address, shown_until, can_unblock) == (BLOCKED, until, True)
    assert subtitle.startswith("Refused until ")

    app.call("Security.unblock", BLOCKED)
    H.wait_for(lambda: daemon.dbus().call(IFACE, "ListBlocked")[0] == [], 5, "the daemon to lift the block")
    H.wait_for(lambda: app.value("Security.blocked") == [], 5, "the row to go")
    with H.RawSMTP(daemon.host, daemon.port, source=BLOCKED) as c:
        assert c.greeting().code == 220


def test_the_blocked_list_is_read_when_the_page_is_shown(daemon, mailbox, app):
    app.show_page("general")
    block_client(daemon)
    app.show_page("security")
    H.wait_for(lambda: [b[0] for b in app.value("Security.blocked")] == [BLOCKED], 5,
               "the blocked address to show with the page")


def screenshot_state(daemon):
    replace_rules(daemon, SAMPLE_RULES)
    update(daemon, RejectUnknownSenderDomain=True, LimitMessageRate=True, MaxMessagesPerMinute=30,
           MaxConnections=20, RejectNonFqdnHelo=True, Dnsbl=True)
    daemon.dbus().call(IFACE, "Update", "(a{sv}b)", ({"DnsblZones": H.GLib.Variant(
        "a(ss)", [("zen.example.org", ""), ("bl.example.net", "127.0.0.2-127.0.0.11")])}, False))
    block_client(daemon)


def take_screenshots(app):
    """security.png (the rules) and security-blocked.png (the page scrolled
    down to the policies and the blocked address)."""
    app.wait_value("Security.rules-count", (len(SAMPLE_RULES), len(SAMPLE_RULES)))
    app.call("Security.select-rule", "newsletter")
    app.screenshot("security")
    H.wait_for(lambda: [b[0] for b in app.value("Security.blocked")] == [BLOCKED], 5, "the blocked address")
    assert app.call("Security.show-blocked")
    time.sleep(0.3)   # let the page scroll and draw
    path = os.path.join(G.screenshot_dir(app.lang), "security-blocked.png")
    width, height = app.call("window.screenshot", path)
    assert width > 0 and height > 0 and os.path.getsize(path) > 1000


def test_screenshots(daemon, mailbox, app):
    screenshot_state(daemon)
    take_screenshots(app)


def test_screenshots_fr(daemon, mailbox, app_fr):
    screenshot_state(daemon)
    app_fr.wait_value("Security.rules-count", (len(SAMPLE_RULES), len(SAMPLE_RULES)))
    assert rule_row(app_fr, 0)["labels"][1:3] == ["Noire", "IP"], "the list names are translated"
    take_screenshots(app_fr)
