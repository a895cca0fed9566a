# SPDX-License-Identifier: GPL-3.0-or-later
"""SPEC §4.2 DNSBL over real SMTP: the real relaisd, clients from loopback
addresses that dnsmasq lists (tests/dns/test.conf: bl.test lists 127.0.0.71
with 127.0.0.2 and 127.0.0.72 with 127.0.0.20, not 127.0.0.73; lookups in
failbl.test fail). The reply, the answer filter, the 4xx on a temporary DNS
failure, the whitelist rows of SPEC §4.1 (IP and IP/subnet skip it, sender
does not), the exemption of trusted networks, the hit
counters, Policy.Explain's step, and the settings kept across a restart."""

import os

import pytest

import relais_helpers as H
from relais_helpers import IFACE_STATS, SENDER, TEST_DOMAIN, DBusCallError, RawSMTP, wait_for

IFACE_SECURITY = "org.relais.Relais1.Security"
IFACE_POLICY = "org.relais.Relais1.Policy"
IFACE_RELAY_CONTROL = "org.relais.Relais1.RelayControl"
ALICE = "alice@" + TEST_DOMAIN
LISTED = "127.0.0.71"         # answer 127.0.0.2
LISTED_20 = "127.0.0.72"      # answer 127.0.0.20
CLEAN = "127.0.0.73"

pytestmark = pytest.mark.skipif(os.environ.get("RELAIS_TEST_NET") != "1",
                                reason="needs build-aux/with-test-net --dnsmasq (the test DNS zone)")


@pytest.fixture
def daemon(request, tmp_path, session_bus):
    d = H.make_daemon(request, tmp_path, session_bus.address)
    d.start()
    d.setup_mailbox()
    return d



def zones(daemon, *pairs):
    from gi.repository import GLib
    daemon.dbus().call(IFACE_SECURITY, "Update", "(a{sv}b)",
                       ({"Dnsbl": GLib.Variant("b", True), "DnsblZones": GLib.Variant("a(ss)", list(pairs))},
                        False))



def hits(daemon):
    return dict(daemon.dbus().get(IFACE_STATS, "RuleHits"))


def rcpt(daemon, source, sender=SENDER, recipient=ALICE):
    with RawSMTP(daemon.host, daemon.port, source=source) as c:
        assert c.greeting().code == 220
        c.ehlo("client.example.net")
        r = c.cmd("MAIL FROM:<%s>" % sender)
        assert r.code == 250, r
        return c.cmd("RCPT TO:<%s>" % recipient, timeout=30)


def blocked(source, zone):
    return "5.7.1 Service unavailable; client [%s] blocked using %s" % (source, zone)


def test_off_by_default(daemon):
    props = daemon.dbus().get_all(IFACE_SECURITY)
    assert props["Dnsbl"] is False and props["DnsblZones"] == []
    daemon.dbus().call(IFACE_SECURITY, "Update", "(a{sv}b)",
                       ({"DnsblZones": H.GLib.Variant("a(ss)", [("bl.test", "")])}, False))
    assert rcpt(daemon, LISTED).code == 250


def test_listed_client_refused_with_spec_reply(daemon):
    zones(daemon, ("bl.test", ""))
    r = rcpt(daemon, LISTED)
    assert (r.code, r.text) == (554, blocked(LISTED, "bl.test")), r
    assert rcpt(daemon, CLEAN).code == 250
    # any answer in 127.0.0.0/8 counts without a filter
    r = rcpt(daemon, LISTED_20)
    assert (r.code, r.text) == (554, blocked(LISTED_20, "bl.test")), r
    wait_for(lambda: hits(daemon).get("dnsbl:bl.test") == 2, 5, "dnsbl:bl.test counted twice",
             details=lambda: str(hits(daemon)))


def test_filter_excludes_other_answers(daemon):
    zones(daemon, ("nothere.test", ""), ("BL.test.", "127.0.0.2-127.0.0.11"))
    assert daemon.dbus().get(IFACE_SECURITY, "DnsblZones") == [("nothere.test", ""),
                                                              ("bl.test", "127.0.0.2-127.0.0.11")]
    r = rcpt(daemon, LISTED)
    assert (r.code, r.text) == (554, blocked(LISTED, "bl.test")), r
    assert rcpt(daemon, LISTED_20).code == 250      # 127.0.0.20 is outside the filter
    assert rcpt(daemon, CLEAN).code == 250


def test_temporary_failure_is_451(daemon):
    zones(daemon, ("failbl.test", ""))
    r = rcpt(daemon, CLEAN)
    assert r.code == 451 and r.text.startswith("4.7.1 "), r
    assert "failbl.test" in r.text
    with open(daemon.log_path, errors="replace") as f:
        assert "failbl.test" in f.read()
    # a listing in another zone still refuses for good
    zones(daemon, ("failbl.test", ""), ("bl.test", ""))
    r = rcpt(daemon, LISTED)
    assert (r.code, r.text) == (554, blocked(LISTED, "bl.test")), r


def test_ip_and_subnet_whitelist_skip_it_sender_does_not(daemon):
    zones(daemon, ("bl.test", ""))
    daemon.add_rule("by-sender", "white", "sender", SENDER)
    r = rcpt(daemon, LISTED)
    assert (r.code, r.text) == (554, blocked(LISTED, "bl.test")), r
    daemon.add_rule("partner", "white", "ip", LISTED)
    assert rcpt(daemon, LISTED).code == 250
    daemon.add_rule("partners", "white", "subnet", "127.0.0.72/32")
    assert rcpt(daemon, LISTED_20).code == 250
    # the refusal counted once; the skipped checks count the whitelist rule that matched first
    wait_for(lambda: hits(daemon).get("whitelist:by-sender") == 2, 5, "whitelist:by-sender counted",
             details=lambda: str(hits(daemon)))
    assert hits(daemon).get("dnsbl:bl.test") == 1


def test_trusted_network_is_not_checked(daemon):
    zones(daemon, ("bl.test", ""))
    daemon.dbus().call(IFACE_RELAY_CONTROL, "AddTrustedNetwork", "(ssb)", ("tests", LISTED + "/32", False))
    assert rcpt(daemon, LISTED).code == 250


def test_invalid_settings_name_the_setting(daemon):
    for pairs in ([("not a zone", "")], [("bl.test", "127.0.0.300")], [("bl.test", ""), ("bl.test", "")]):
        with pytest.raises(DBusCallError) as e:
            daemon.dbus().call(IFACE_SECURITY, "Update", "(a{sv}b)",
                               ({"DnsblZones": H.GLib.Variant("a(ss)", pairs)}, False))
        assert e.value.name.endswith("InvalidArgument") and "DnsblZones" in str(e.value), e.value
    assert daemon.dbus().get(IFACE_SECURITY, "DnsblZones") == []


def test_explain_shows_the_step_and_settings_persist(daemon):
    zones(daemon, ("bl.test", "127.0.0.2"))
    env = {"ClientAddress": H.GLib.Variant("s", LISTED), "Helo": H.GLib.Variant("s", "client.example.net"),
           "Sender": H.GLib.Variant("s", SENDER), "Recipients": H.GLib.Variant("as", [ALICE])}
    r = daemon.dbus().call(IFACE_POLICY, "Explain", "(a{sv})", (env,), timeout_ms=30000)[0]
    steps = [(c, a, d) for (_s, c, a, d) in r["Steps"] if c == "dnsbl"]
    assert steps == [("dnsbl", "[%s] listed in bl.test" % LISTED, True)], r["Steps"]
    assert r["DecidedBy"] == "dnsbl:bl.test", r
    assert blocked(LISTED, "bl.test") in r["Reply"], r
    daemon.restart(hard=True)
    assert daemon.dbus().get(IFACE_SECURITY, "Dnsbl") is True
    assert daemon.dbus().get(IFACE_SECURITY, "DnsblZones") == [("bl.test", "127.0.0.2")]
    r = rcpt(daemon, LISTED)
    assert (r.code, r.text) == (554, blocked(LISTED, "bl.test")), r
