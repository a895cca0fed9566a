# SPDX-License-Identifier: GPL-3.0-or-later
"""org.relais.Relais1.Audit: every change made over D-Bus is logged and kept,
with the caller's uid, its old and new value, and never a secret; List reads
it (since, max_entries, InvalidArgument), across a restart, and on a
system-type bus only with polkit's org.relais.relais1.read-audit."""

import json
import os
import sqlite3
import time

import pytest

import relais_helpers as H
from relais_helpers import (
    BUS_NAME, ERR, IFACE_ACCOUNTS, IFACE_GENERAL, IFACE_SECURITY, OBJ_PATH, TEST_DOMAIN, DBusCallError,
    busctl, gdbus_call,
)
# the polkit mock on a system-type bus, and a queued message, as the tests of those parts set them up
from test_polkit import (  # noqa: F401  (fixtures)
    ACTION_CONFIGURE, checked_actions, clear_calls, polkit_mock, set_allowed, sysdaemon, system_bus,
)
from test_queue_dbus import queue_remote

IFACE_AUDIT = "org.relais.Relais1.Audit"
IFACE_DISTRIBUTION = "org.relais.Relais1.Distribution"
IFACE_QUEUE = "org.relais.Relais1.Queue"
ACTION_READ_AUDIT = "org.relais.relais1.read-audit"
FIELDS = ("time", "uid", "sender", "interface", "member", "name", "old", "new")
# distinctive, so finding them anywhere is no coincidence
FIRST_PASSWORD = "Audit-first-9f3c51e2"
SECOND_PASSWORD = "Audit-second-4b7d08a6"
RELAY_PASSWORD = "Audit-relay-c2e95f17"


@pytest.fixture
def clock(tmp_path):
    return H.SettableClock(str(tmp_path / "clock"), int(time.time()))


@pytest.fixture
def daemon(request, tmp_path, session_bus, clock):
    d = H.make_daemon(request, tmp_path, session_bus.address,
                      extra_env={"RELAIS_TEST_CLOCK_FILE": clock.path})
    d.start()
    return d


def audit_list(daemon, since=0, max_entries=10000):
    rows = daemon.dbus().call(IFACE_AUDIT, "List", "(xub)", (since, max_entries, False))[0]
    return [dict(zip(FIELDS, row)) for row in rows]


def entries_of(entries, member, name=None):
    return [e for e in entries if e["member"] == member and (name is None or e["name"] == name)]


def the_entry(entries, member, name):
    found = entries_of(entries, member, name)
    assert len(found) == 1, "one %s entry for %s expected in %r" % (member, name, entries)
    return found[0]


def read_log(daemon):
    with open(daemon.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def private_key_lines(daemon, domain):
    """The base64 lines of DOMAIN's DKIM private key, from the daemon's database."""
    db = sqlite3.connect(os.path.join(daemon.state_dir, "relais.db"))
    try:
        pem = db.execute("SELECT private_pem FROM dkim_keys WHERE domain = ?", (domain,)).fetchone()[0]
    finally:
        db.close()
    lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    assert lines, pem
    return lines


def test_changes_are_audited(daemon, clock):
    start = clock.now
    dbus = daemon.dbus()
    assert audit_list(daemon) == []

    # a General setting: only what changed (Banner is given as it is)
    banner = daemon.general()["Banner"]
    daemon.update(MaxRecipients=50, Banner=banner)
    # a relay host and a rule, added and removed
    dbus.call(IFACE_DISTRIBUTION, "AddRelayHost", "(sa{sv}b)",
              ("backup", {"Server": H.GLib.Variant("s", "relay.relais.test")}, False))
    dbus.call(IFACE_DISTRIBUTION, "UpdateRelayHost", "(sa{sv}b)",
              ("backup", {"Authentication": H.GLib.Variant("b", True), "Username": H.GLib.Variant("s", "relay"),
                          "Password": H.GLib.Variant("s", RELAY_PASSWORD)}, False))
    (rule_id,) = dbus.call(IFACE_DISTRIBUTION, "AddRule", "(ssasb)",
                           ("recipient", "backup", ["example.org"], False))
    dbus.call(IFACE_DISTRIBUTION, "RemoveRule", "(ub)", (rule_id, False))
    # an account, then its password changed
    daemon.add_domain()
    daemon.add_account("alice", password=FIRST_PASSWORD)
    dbus.call(IFACE_ACCOUNTS, "UpdateAccount", "(sa{sv}b)",
              ("alice", {"Password": H.GLib.Variant("s", SECOND_PASSWORD)}, False))
    # a DKIM key
    dbus.call(IFACE_SECURITY, "GenerateDkimKey", "(sssb)", (TEST_DOMAIN, "mail2026", "ed25519", False),
              timeout_ms=20000)
    # a queued message held
    qid, _ = queue_remote(daemon)
    dbus.call(IFACE_QUEUE, "Hold", "(sb)", (qid, False))

    entries = audit_list(daemon)
    for e in entries:
        assert e["uid"] == os.getuid(), e
        assert e["sender"].startswith(":"), e
        assert start <= e["time"] <= start + 5, e   # the daemon's test clock, which stood still
        assert e["interface"].startswith("org.relais.Relais1."), e

    e = the_entry(entries, "Update", "MaxRecipients")
    assert (e["interface"], e["old"], e["new"]) == (IFACE_GENERAL, "100", "50"), e
    assert entries_of(entries, "Update", "Banner") == []

    e = the_entry(entries, "AddRelayHost", "RelayHosts[backup]")
    assert (e["old"], e["new"]) == ("", "('backup', 'relay.relais.test', 25, false, false, '', false)"), e
    e = the_entry(entries, "UpdateRelayHost", "RelayHosts[backup]")
    assert e["new"] == "('backup', 'relay.relais.test', 25, false, true, 'relay', true)", e
    e = the_entry(entries, "UpdateRelayHost", "RelayHosts[backup].Password")
    assert (e["old"], e["new"]) == ("", "changed"), e
    added = the_entry(entries, "AddRule", "Rules[%d]" % rule_id)
    assert added["interface"] == IFACE_DISTRIBUTION
    assert (added["old"], added["new"]) == ("", "(%d, 'recipient', 'backup', ['example.org'])" % rule_id), added
    removed = the_entry(entries, "RemoveRule", "Rules[%d]" % rule_id)
    assert (removed["old"], removed["new"]) == (added["new"], ""), removed

    e = the_entry(entries, "AddLocalDomain", "LocalDomains")
    assert (e["old"], e["new"]) == ("[]", "['%s']" % TEST_DOMAIN), e
    e = the_entry(entries, "AddAccount", "Accounts[alice]")
    assert (e["old"], e["new"]) == ("", "('alice', [], [])"), e
    e = the_entry(entries, "AddAccount", "Accounts[alice].Password")
    assert (e["old"], e["new"]) == ("", "changed"), e
    e = the_entry(entries, "UpdateAccount", "Accounts[alice].Password")
    assert (e["interface"], e["old"], e["new"]) == (IFACE_ACCOUNTS, "(hidden)", "changed"), e
    assert entries_of(entries, "UpdateAccount", "Accounts[alice]") == []   # aliases, forwards unchanged

    e = the_entry(entries, "GenerateDkimKey", "DkimKeys[%s]" % TEST_DOMAIN)
    assert e["interface"] == IFACE_SECURITY and e["old"] == "", e
    assert "'mail2026'" in e["new"] and "'ed25519'" in e["new"] and "v=DKIM1" in e["new"], e

    e = the_entry(entries, "Hold", qid)
    assert (e["interface"], e["old"], e["new"]) == (IFACE_QUEUE, "queued", "held"), e

    # no secret anywhere: not in the trail, not in the log
    secrets = [FIRST_PASSWORD, SECOND_PASSWORD, RELAY_PASSWORD] + private_key_lines(daemon, TEST_DOMAIN)
    text = "\n".join(str(v) for e in entries for v in e.values())
    log = read_log(daemon)
    for secret in secrets:
        assert secret not in text, "a secret in the audit trail"
        assert secret not in log, "a secret in the daemon's log"
    # each entry was logged, one line, old -> new
    assert "org.relais.Relais1.General.Update MaxRecipients: 100 -> 50" in log, log[-3000:]
    assert "Accounts[alice].Password: (hidden) -> changed" in log

    # since: only what came after
    clock.advance(100)
    daemon.update(MaxRecipients=60)
    later = audit_list(daemon, since=clock.now)
    assert [(e["name"], e["old"], e["new"], e["time"]) for e in later] == \
        [("MaxRecipients", "50", "60", clock.now)], later
    # max_entries: the newest, oldest first
    newest = audit_list(daemon, max_entries=2)
    assert newest == audit_list(daemon)[-2:] and newest[-1] == later[0], newest

    # kept across a restart
    before = audit_list(daemon)
    daemon.restart(hard=False)
    assert audit_list(daemon) == before


def test_refused_changes_are_not_audited(daemon):
    with pytest.raises(DBusCallError) as e:
        daemon.update(MaxRecipients=0)
    assert e.value.name == ERR + "InvalidArgument"
    with pytest.raises(DBusCallError):
        daemon.dbus().call(IFACE_DISTRIBUTION, "RemoveRule", "(ub)", (77, False))
    assert audit_list(daemon) == []


def test_order_change_and_removal(daemon):
    dbus = daemon.dbus()
    daemon.add_rule("first", "black", "ip", "192.0.2.1", "reject")
    daemon.add_rule("second", "black", "ip", "192.0.2.2", "reject")
    dbus.call(IFACE_SECURITY, "MoveRule", "(sub)", ("second", 0, False))
    daemon.remove_rule("first")
    entries = audit_list(daemon)
    e = the_entry(entries, "MoveRule", "Rules")
    assert (e["old"], e["new"]) == ("[first, second]", "[second, first]"), e
    e = the_entry(entries, "RemoveRule", "Rules[first]")
    assert e["old"] == "('first', 'black', 'ip', '192.0.2.1', 'reject')" and e["new"] == "", e


def test_many_items_and_counters(daemon):
    dbus = daemon.dbus()
    rules = [("r%02d" % i, "black", "ip", "192.0.2.%d" % i, "reject") for i in range(1, 26)]
    dbus.call(IFACE_SECURITY, "ReplaceRules", "(a(sssss)b)", (rules, False))
    dbus.call(H.IFACE_STATS, "ResetRuleHits", "(b)", (False,))
    entries = audit_list(daemon)
    # 25 rules at once: one entry with the counts, not 25
    e = the_entry(entries, "ReplaceRules", "Rules")
    assert (e["old"], e["new"]) == ("0 items", "25 items (25 added, removed or changed)"), e
    assert len(entries_of(entries, "ReplaceRules")) == 1
    e = the_entry(entries, "ResetRuleHits", "RuleHits")
    assert (e["interface"], e["new"]) == ("org.relais.Relais1.Statistics", "{}"), e


def test_unblock(daemon):
    blocked = "127.0.0.5"
    daemon.add_domain()
    daemon.update_security(BlockNonexistentRecipients=True, MaxNonexistentRecipients=2)
    with H.RawSMTP(daemon.host, daemon.port, source=blocked) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % H.SENDER).code == 250
        for i in range(3):
            reply = c.cmd("RCPT TO:<nobody%d@%s>" % (i, TEST_DOMAIN))
        assert reply.code == 421, reply
    daemon.dbus().call(IFACE_SECURITY, "Unblock", "(sb)", ("::ffff:" + blocked, False))
    e = the_entry(audit_list(daemon), "Unblock", blocked)
    assert (e["interface"], e["old"], e["new"]) == (IFACE_SECURITY, "blocked", ""), e


def test_bad_arguments(daemon):
    for since, max_entries, word in ((-1, 10, "since"), (0, 0, "max_entries"), (0, 10001, "max_entries")):
        with pytest.raises(DBusCallError) as e:
            audit_list(daemon, since, max_entries)
        assert e.value.name == ERR + "InvalidArgument", e.value
        assert e.value.message.startswith(word + ":"), e.value.message
    # the same as a person would see it
    p = gdbus_call(daemon.bus_address, IFACE_AUDIT + ".List", "0", "0", "false")
    assert p.returncode != 0 and ERR + "InvalidArgument" in p.stderr, p.stderr
    assert "1 to 10000" in p.stderr, p.stderr


def test_busctl_as_a_user_would(daemon):
    daemon.update(Hostname="mx.audit.relais.test")
    p = busctl(daemon.bus_address, "--json=short", "call", BUS_NAME, OBJ_PATH, IFACE_AUDIT, "List",
               "xub", "0", "50", "false")
    rows = json.loads(p.stdout)["data"][0]
    entries = [dict(zip(FIELDS, row)) for row in rows]
    e = the_entry(entries, "Update", "Hostname")
    assert e["new"] == "'mx.audit.relais.test'" and e["uid"] == os.getuid(), e


# ---------------------------------------------------------------- polkit

def test_list_needs_read_audit(sysdaemon, polkit_mock):  # noqa: F811
    with pytest.raises(DBusCallError) as e:
        audit_list(sysdaemon)
    assert e.value.name == ERR + "PermissionDenied", e.value
    assert checked_actions(polkit_mock) == [ACTION_READ_AUDIT]

    # configure does not let one read the trail, but what it changes is there
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    sysdaemon.update(MaxHops=7)
    with pytest.raises(DBusCallError) as e:
        audit_list(sysdaemon)
    assert e.value.name == ERR + "PermissionDenied", e.value

    set_allowed(polkit_mock, [ACTION_READ_AUDIT])
    clear_calls(polkit_mock)
    entries = audit_list(sysdaemon)
    assert checked_actions(polkit_mock) == [ACTION_READ_AUDIT]
    e = the_entry(entries, "Update", "MaxHops")
    assert (e["uid"], e["old"], e["new"]) == (os.getuid(), "50", "7"), e
