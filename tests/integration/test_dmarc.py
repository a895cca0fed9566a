# SPDX-License-Identifier: GPL-3.0-or-later
"""DMARC (RFC 7489, SPEC §4.2) over real SMTP against dnsmasq's records
(tests/dns/test.conf): a message From dmarc-reject.test with neither SPF nor
DKIM aligned is refused with 550 5.7.1 at the end of DATA; an aligned DKIM
signature (made here by dkimpy with RFC 8463's ed25519 key) or an aligned SPF
pass (MAIL FROM spf.dmarc-reject.test) lets it in with dmarc=pass in
Authentication-Results; p=quarantine is delivered with X-Relais-Quarantine;
a temporary DNS failure is 451; a message without one From is a permerror,
delivered; the whitelist rows that skip DMARC do; results are counted."""

import os
import smtplib

import pytest

import relais_helpers as H
from relais_helpers import IFACE_STATS, TEST_DOMAIN, wait_for
from test_dkim import sign_ed25519

dkim = pytest.importorskip("dkim")

ALICE = "alice@" + TEST_DOMAIN
HOSTNAME = "mx.relais.test"

pytestmark = pytest.mark.skipif(os.environ.get("RELAIS_TEST_NET") != "1",
                                reason="needs build-aux/with-test-net --dnsmasq (the test DNS zone)")


@pytest.fixture
def daemon(request, tmp_path, session_bus):
    d = H.make_daemon(request, tmp_path, session_bus.address)
    d.start()
    d.setup_mailbox()
    d.update(Hostname=HOSTNAME)
    d.update_security(Dmarc=True)
    return d


def message(author, extra=()):
    return H.make_message(sender=author, to=ALICE, extra_headers=extra)


def signed(raw, domain=b"dmarc-reject.test"):
    return sign_ed25519(raw, domain)


def send(daemon, envelope_from, raw):
    """The reply to the end of DATA: (code, text)."""
    with smtplib.SMTP(daemon.host, daemon.port, timeout=60) as s:
        s.ehlo("client.example.net")
        s.mail(envelope_from)
        code, _ = s.rcpt(ALICE)
        assert code == 250
        code, text = s.data(raw)
        return code, text.decode()


def dmarc_clause(raw):
    ar = H.header_values(raw, "Authentication-Results")
    assert len(ar) == 1, ar
    return [c.strip() for c in ar[0].split(";") if c.strip().startswith("dmarc=")]


def test_reject_without_alignment(daemon):
    code, text = send(daemon, "joe@elsewhere.example", message("joe@dmarc-reject.test"))
    assert (code, text[:6]) == (550, "5.7.1 "), text
    assert "DMARC policy of dmarc-reject.test" in text
    # a DKIM signature of another domain does not align either
    code, text = send(daemon, "joe@elsewhere.example",
                      signed(message("joe@dmarc-reject.test"), domain=b"football.dkim.test"))
    assert code == 550, text
    stats = lambda: daemon.dbus().get_all(IFACE_STATS)  # noqa: E731
    wait_for(lambda: stats()["CheckResults"].get("dmarc:reject") == 2, 20, "two DMARC rejections counted",
             details=lambda: str(stats()["CheckResults"]))
    assert stats()["RuleHits"].get("dmarc:reject") == 2
    assert stats()["RejectedByReason"].get("dmarc") == 2
    assert daemon.messages() == []


def test_aligned_dkim_or_spf_passes(daemon):
    code, text = send(daemon, "joe@elsewhere.example", signed(message("joe@dmarc-reject.test")))
    assert code == 250, text
    code, text = send(daemon, "bounce@spf.dmarc-reject.test", message("joe@dmarc-reject.test"))
    assert code == 250, text
    msgs = daemon.wait_messages(2)
    assert dmarc_clause(msgs[0]) == ["dmarc=pass (p=reject dis=none) header.from=dmarc-reject.test"]
    assert dmarc_clause(msgs[1]) == ["dmarc=pass (p=reject dis=none) header.from=dmarc-reject.test"]
    # DKIM itself is off: DMARC verified it for its own use, and reports no dkim= clause
    assert "dkim=" not in H.header_values(msgs[0], "Authentication-Results")[0]


def test_quarantine_is_delivered_marked(daemon):
    code, text = send(daemon, "joe@elsewhere.example", message("joe@dmarc-quarantine.test"))
    assert code == 250, text
    raw = daemon.wait_messages(1)[0]
    assert dmarc_clause(raw) == ["dmarc=fail (p=quarantine dis=quarantine) header.from=dmarc-quarantine.test"]
    assert H.header_values(raw, "X-Relais-Quarantine") == ["DMARC policy of dmarc-quarantine.test (p=quarantine)"]
    wait_for(lambda: daemon.dbus().get(IFACE_STATS, "CheckResults").get("dmarc:quarantine") == 1, 20,
             "quarantine counted")


def test_no_policy_and_permerror_are_delivered(daemon):
    assert send(daemon, "joe@elsewhere.example", message("joe@nopolicy.test"))[0] == 250
    two_froms = message("joe@dmarc-reject.test", extra=["From: <mallory@dmarc-reject.test>"])
    assert send(daemon, "joe@elsewhere.example", two_froms)[0] == 250
    # deliveries may end in any order
    msgs = sorted(daemon.wait_messages(2), key=lambda raw: len(H.header_values(raw, "From")))
    assert dmarc_clause(msgs[0]) == ["dmarc=none header.from=nopolicy.test"]
    clause = dmarc_clause(msgs[1])[0]
    assert clause.startswith("dmarc=permerror") and "2 From fields" in clause, clause


def test_temporary_dns_failure_is_451(daemon):
    code, text = send(daemon, "joe@elsewhere.example", message("joe@x.broken.test"))
    assert (code, text[:6]) == (451, "4.7.1 "), text
    assert "x.broken.test" in text


def test_whitelist_rows_that_skip_dmarc(daemon):
    def add(name, typ, value):
        daemon.add_rule(name, "white", typ, value)

    add("joe", "sender", "joe@elsewhere.example")       # sender rules do not skip DMARC
    assert send(daemon, "joe@elsewhere.example", message("joe@dmarc-reject.test"))[0] == 550
    add("alice", "recipient", ALICE)                    # nor do recipient rules
    assert send(daemon, "joe@elsewhere.example", message("joe@dmarc-reject.test"))[0] == 550
    for n, (typ, value) in enumerate((("ip", "127.0.0.1"), ("subnet", "127.0.0.0/8"),
                                      ("domain", "elsewhere.example")), start=1):
        add("skip", typ, value)
        code, text = send(daemon, "joe@elsewhere.example", message("joe@dmarc-reject.test"))
        assert code == 250, (typ, text)
        assert H.header_values(daemon.wait_messages(n)[-1], "Authentication-Results") == []
        daemon.remove_rule("skip")
