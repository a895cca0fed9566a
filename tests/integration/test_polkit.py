# SPDX-License-Identifier: GPL-3.0-or-later
"""relaisd on a private system-type bus: every write is checked with polkit
(python-dbusmock's polkitd template), reads are open."""

import os
import smtplib
import subprocess

import pytest
from gi.repository import GLib

from relais_helpers import (
    CLIENT_HELO, ERR, IFACE_ACCOUNTS, IFACE_GENERAL, SENDER, TEST_DOMAIN, DBusCallError,
    DBusClient, MessageBus, make_daemon, make_message, register_log, require_tool, source_root,
    unregister_log, wait_for,
)

ACTION_CONFIGURE = "org.relais.relais1.configure"
ACTION_ACCOUNTS = "org.relais.relais1.manage-accounts"
ACTION_QUEUE = "org.relais.relais1.manage-queue"
IFACE_QUEUE = "org.relais.Relais1.Queue"
POLKIT_NAME = "org.freedesktop.PolicyKit1"
POLKIT_PATH = "/org/freedesktop/PolicyKit1/Authority"
MOCK_IFACE = "org.freedesktop.DBus.Mock"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- the default-deny policy of Debian's system bus -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <!-- the polkit mock, standing in for polkitd -->
  <policy user="root"><allow own="org.freedesktop.PolicyKit1"/></policy>
  <policy context="default"><allow send_destination="org.freedesktop.PolicyKit1"/></policy>
  <!-- the project's policy, as installed -->
  <include>{project_policy}</include>
</busconfig>
"""


def project_policy_file():
    for rel in ("data/org.relais.Relais1.conf", "dbus/org.relais.Relais1.conf"):
        p = os.path.join(source_root(), rel)
        if os.path.exists(p):
            return p
    pytest.fail("the project's D-Bus policy data/org.relais.Relais1.conf is missing")


@pytest.fixture(scope="module")
def system_bus(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root: the project policy lets only root own org.relais.Relais1")
    require_tool("dbus-daemon")
    d = tmp_path_factory.mktemp("sysbus")
    conf = d / "system.conf"
    conf.write_text(BUS_CONFIG.format(socket=d / "system_bus_socket",
                                      project_policy=project_policy_file()))
    bus = MessageBus.start(str(d), str(conf))
    register_log("system dbus-daemon", bus.log_path)
    yield bus
    unregister_log("system dbus-daemon")
    bus.stop()


@pytest.fixture(scope="module")
def polkit_mock(system_bus, tmp_path_factory):
    try:
        import dbusmock  # noqa: F401
    except ImportError:
        pytest.skip("python3-dbusmock is not installed")
    d = tmp_path_factory.mktemp("polkit")
    log_path = str(d / "polkitd-mock.log")
    env = dict(os.environ)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env["DBUS_SYSTEM_BUS_ADDRESS"] = system_bus.address
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["/usr/bin/python3", "-m", "dbusmock", "--template", "polkitd"],
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    register_log("polkitd mock", log_path)
    client = DBusClient(system_bus.address)

    def up():
        if proc.poll() is not None:
            pytest.fail("the polkitd mock exited: %s" % open(log_path).read())
        return client.name_owner_pid(POLKIT_NAME) == proc.pid

    wait_for(up, 15, "the polkitd mock to own " + POLKIT_NAME)
    yield client
    client.close()
    unregister_log("polkitd mock")
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def set_allowed(mock, actions):
    mock.raw_call(POLKIT_NAME, POLKIT_PATH, MOCK_IFACE, "SetAllowed",
                  GLib.Variant("(as)", (list(actions),)))


def checked_actions(mock):
    calls = mock.raw_call(POLKIT_NAME, POLKIT_PATH, MOCK_IFACE, "GetMethodCalls",
                          GLib.Variant("(s)", ("CheckAuthorization",)))[0]
    # each call: (timestamp, [subject, action_id, details, flags, cancellation_id])
    return [args[1] for (_ts, args) in calls]


def clear_calls(mock):
    mock.raw_call(POLKIT_NAME, POLKIT_PATH, MOCK_IFACE, "ClearCalls", None)


@pytest.fixture
def sysdaemon(request, tmp_path, system_bus, polkit_mock):
    set_allowed(polkit_mock, [])
    clear_calls(polkit_mock)
    d = make_daemon(request, tmp_path, system_bus.address, session=False,
                    submission=False, smtps=False)
    d.start()
    return d


def test_update_denied_without_authorization(sysdaemon, polkit_mock):
    before = sysdaemon.general()
    with pytest.raises(DBusCallError) as e:
        sysdaemon.update(MaxRecipients=5)
    assert e.value.name == ERR + "PermissionDenied", e.value
    assert sysdaemon.general() == before
    assert ACTION_CONFIGURE in checked_actions(polkit_mock)


def test_update_allowed_with_configure(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    sysdaemon.update(MaxRecipients=5, Banner="Polkit said yes")
    g = sysdaemon.general()
    assert (g["MaxRecipients"], g["Banner"]) == (5, "Polkit said yes")
    assert checked_actions(polkit_mock) == [ACTION_CONFIGURE]
    # and the authorization is asked again for every call, not cached forever
    set_allowed(polkit_mock, [])
    with pytest.raises(DBusCallError) as e:
        sysdaemon.update(MaxRecipients=6)
    assert e.value.name == ERR + "PermissionDenied", e.value
    assert sysdaemon.general()["MaxRecipients"] == 5


def test_domains_need_configure(sysdaemon, polkit_mock):
    with pytest.raises(DBusCallError) as e:
        sysdaemon.add_domain(TEST_DOMAIN)
    assert e.value.name == ERR + "PermissionDenied", e.value
    assert sysdaemon.accounts()["LocalDomains"] == []
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    sysdaemon.add_domain(TEST_DOMAIN)
    assert sysdaemon.accounts()["LocalDomains"] == [TEST_DOMAIN]


def test_accounts_need_manage_accounts(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    sysdaemon.add_domain(TEST_DOMAIN)
    clear_calls(polkit_mock)
    with pytest.raises(DBusCallError) as e:
        sysdaemon.add_account("alice")
    assert e.value.name == ERR + "PermissionDenied", e.value
    assert sysdaemon.accounts()["Accounts"] == []
    assert ACTION_ACCOUNTS in checked_actions(polkit_mock)

    set_allowed(polkit_mock, [ACTION_ACCOUNTS])
    sysdaemon.add_account("alice")
    assert [a[0] for a in sysdaemon.accounts()["Accounts"]] == ["alice"]
    # manage-accounts alone does not allow General changes
    with pytest.raises(DBusCallError) as e:
        sysdaemon.update(MaxHops=7)
    assert e.value.name == ERR + "PermissionDenied", e.value
    with pytest.raises(DBusCallError) as e:
        sysdaemon.dbus().call(IFACE_ACCOUNTS, "RemoveLocalDomain", "(sb)", (TEST_DOMAIN, False))
    assert e.value.name == ERR + "PermissionDenied", e.value
    sysdaemon.dbus().call(IFACE_ACCOUNTS, "RemoveAccount", "(sb)", ("alice", False))
    assert sysdaemon.accounts()["Accounts"] == []


def test_reads_need_no_authorization(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [])
    clear_calls(polkit_mock)
    g = sysdaemon.general()
    assert g["MaxRecipients"] == 100
    assert "LocalDomains" in sysdaemon.accounts()
    assert "MessagesReceived" in sysdaemon.stats()
    assert IFACE_GENERAL in sysdaemon.dbus().introspect()
    assert checked_actions(polkit_mock) == [], "polkit asked for a read"


def test_invalid_value_with_permission_is_invalid_argument(sysdaemon, polkit_mock):
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    with pytest.raises(DBusCallError) as e:
        sysdaemon.update(MaxRecipients=0)
    assert e.value.name == ERR + "InvalidArgument", e.value


def queued_message(sysdaemon, polkit_mock):
    """One message queued for a remote administrator (under .invalid, so it
    stays queued); returns its id. Leaves polkit allowing nothing."""
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    sysdaemon.add_domain(TEST_DOMAIN)
    sysdaemon.update(ExternalAdministrators=["admin@relais-polkit.invalid"])
    set_allowed(polkit_mock, [])
    with smtplib.SMTP(sysdaemon.host, sysdaemon.port, local_hostname=CLIENT_HELO, timeout=15) as s:
        s.sendmail(SENDER, ["postmaster@" + TEST_DOMAIN],
                   make_message(to="postmaster@" + TEST_DOMAIN))
    rows = wait_for(lambda: sysdaemon.dbus().call(IFACE_QUEUE, "List")[0], 10,
                    "the message in Queue.List")
    clear_calls(polkit_mock)
    return rows[0][0]


def queue_change(sysdaemon, method, qid):
    sysdaemon.dbus().call(IFACE_QUEUE, method, "(sb)", (qid, False))


def test_queue_changes_denied_without_manage_queue(sysdaemon, polkit_mock):
    qid = queued_message(sysdaemon, polkit_mock)
    # reads are open
    assert sysdaemon.dbus().call(IFACE_QUEUE, "Show", "(s)", (qid,))[0]["Id"] == qid
    assert checked_actions(polkit_mock) == [], "polkit asked for a read"
    # configure and manage-accounts do not allow queue changes
    set_allowed(polkit_mock, [ACTION_CONFIGURE, ACTION_ACCOUNTS])
    for method in ("Hold", "Release", "RetryNow", "Delete"):
        with pytest.raises(DBusCallError) as e:
            queue_change(sysdaemon, method, qid)
        assert e.value.name == ERR + "PermissionDenied", (method, e.value)
    assert checked_actions(polkit_mock) == [ACTION_QUEUE] * 4
    # nothing changed
    (row,) = sysdaemon.dbus().call(IFACE_QUEUE, "List")[0]
    assert row[0] == qid and row[-1] is False, row
    # an unknown id is refused the same way: no answer about the queue before polkit's
    with pytest.raises(DBusCallError) as e:
        queue_change(sysdaemon, "Delete", "0000000000000000")
    assert e.value.name == ERR + "PermissionDenied", e.value


def test_queue_changes_allowed_with_manage_queue(sysdaemon, polkit_mock):
    qid = queued_message(sysdaemon, polkit_mock)
    set_allowed(polkit_mock, [ACTION_QUEUE])
    queue_change(sysdaemon, "Hold", qid)
    assert sysdaemon.dbus().call(IFACE_QUEUE, "List")[0][0][-1] is True
    with pytest.raises(DBusCallError) as e:
        queue_change(sysdaemon, "RetryNow", qid)
    assert e.value.name == ERR + "Failed", e.value
    queue_change(sysdaemon, "Release", qid)
    queue_change(sysdaemon, "RetryNow", qid)
    queue_change(sysdaemon, "Delete", qid)
    assert sysdaemon.dbus().call(IFACE_QUEUE, "List")[0] == []
    assert checked_actions(polkit_mock) == [ACTION_QUEUE] * 5
    with pytest.raises(DBusCallError) as e:
        queue_change(sysdaemon, "Delete", qid)
    assert e.value.name == ERR + "NotFound", e.value


def test_reset_rule_hits_needs_configure(sysdaemon, polkit_mock):
    iface = "org.relais.Relais1.Statistics"
    with pytest.raises(DBusCallError) as e:
        sysdaemon.dbus().call(iface, "ResetRuleHits", "(b)", (False,))
    assert e.value.name == ERR + "PermissionDenied", e.value
    assert checked_actions(polkit_mock) == [ACTION_CONFIGURE]
    set_allowed(polkit_mock, [ACTION_CONFIGURE])
    sysdaemon.dbus().call(iface, "ResetRuleHits", "(b)", (False,))


def test_statistics_history_needs_no_polkit(sysdaemon, polkit_mock):
    # polkit allows nothing here: reading the history must not ask it
    points = sysdaemon.dbus().call("org.relais.Relais1.Statistics", "History", "(sxu)",
                                   ("MessagesReceived", 0, 3600))[0]
    assert 168 <= len(points) <= 169, len(points)   # the last 7 days, hour by hour
    assert all(start % 3600 == 0 and value == 0 for start, value in points), points
    assert checked_actions(polkit_mock) == []
