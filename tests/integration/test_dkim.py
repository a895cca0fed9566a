# SPDX-License-Identifier: GPL-3.0-or-later
"""DKIM verification (RFC 6376, RFC 8463) of received mail over real SMTP:
messages signed here by Debian's dkimpy with known keys (RFC 8463's ed25519
key under brisbane._domainkey.football.dkim.test and a 2048-bit RSA key of
ours, tests/data/dkim-rsa2048.pem, under rsa2048._domainkey, both published
by dnsmasq from tests/dns/test.conf) verify as dkim=pass in the
Authentication-Results field relaisd adds on top; a tampered copy gives
dkim=fail; such fields already in the message that claim our host name are
removed, others are kept; the whitelist rows of SPEC §4.1 that skip DKIM do,
the others do not; results are counted."""

import os
import smtplib

import pytest

import relais_helpers as H
from relais_helpers import IFACE_STATS, TEST_DOMAIN, wait_for

dkim = pytest.importorskip("dkim")

ALICE = "alice@" + TEST_DOMAIN
HOSTNAME = "mx.relais.test"
DOMAIN = b"football.dkim.test"
ED25519_SEED = b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="   # RFC 8463 Appendix A
SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]

pytestmark = pytest.mark.skipif(os.environ.get("RELAIS_TEST_NET") != "1",
                                reason="needs build-aux/with-test-net --dnsmasq (the test DNS zone)")


@pytest.fixture
def daemon(request, tmp_path, session_bus):
    d = H.make_daemon(request, tmp_path, session_bus.address)
    d.start()
    d.setup_mailbox()
    d.update(Hostname=HOSTNAME)
    d.update_security(Dkim=True)
    return d



def rsa_key():
    with open(os.path.join(H.source_root(), "tests", "data", "dkim-rsa2048.pem"), "rb") as f:
        return f.read()


def sign_ed25519(message, domain=DOMAIN):
    """MESSAGE signed with RFC 8463's ed25519 key, published by the test DNS
    at brisbane._domainkey of football.dkim.test and dmarc-reject.test."""
    return dkim.sign(message, b"brisbane", domain, ED25519_SEED, signature_algorithm=b"ed25519-sha256",
                     include_headers=SIGNED_HEADERS) + message


def sign_rsa(message, canonicalize=(b"relaxed", b"relaxed")):
    return dkim.sign(message, b"rsa2048", DOMAIN, rsa_key(), canonicalize=canonicalize,
                     include_headers=SIGNED_HEADERS) + message


def message(sender="joe@football.dkim.test", body="Is dinner ready?\n", extra=(), subject=None):
    return H.make_message(sender=sender, to=ALICE, body=body, extra_headers=extra, subject=subject)


def send(daemon, raw, sender="joe@football.dkim.test"):
    with smtplib.SMTP(daemon.host, daemon.port, timeout=30) as s:
        s.ehlo("client.example.net")
        assert s.sendmail(sender, [ALICE], raw) == {}


def results(raw):
    return H.header_values(raw, "Authentication-Results")


def by_subject(msgs):
    """The delivered messages by Subject (deliveries may end in any order)."""
    return {H.header_values(raw, "Subject")[0]: raw for raw in msgs}


def test_signed_messages_pass_and_tampered_copies_fail(daemon):
    ed = sign_ed25519(message(subject="both"))
    both = sign_rsa(ed)
    simple = sign_rsa(message(subject="simple"), canonicalize=(b"simple", b"simple"))
    send(daemon, both)
    send(daemon, simple)
    send(daemon, both.replace(b"Is dinner ready?", b"Is dinner ready!").replace(b"Subject: both",
                                                                                 b"Subject: tampered"))
    msgs = by_subject(daemon.wait_messages(3))

    headers, _ = H.split_message(msgs["both"])
    names = [n.lower() for (n, _v) in headers]
    # on top, above our Received (local delivery adds Return-Path and Delivered-To)
    assert names[:4] == ["return-path", "delivered-to", "authentication-results", "received"], names
    ar = results(msgs["both"])
    assert len(ar) == 1, ar
    assert ar[0].startswith(HOSTNAME + "; "), ar
    # the RSA signature was added last, so it is the first field
    assert "dkim=pass header.d=football.dkim.test header.s=rsa2048" in ar[0], ar
    assert "dkim=pass header.d=football.dkim.test header.s=brisbane" in ar[0], ar

    ar = results(msgs["simple"])
    assert "dkim=pass header.d=football.dkim.test header.s=rsa2048" in ar[0], ar

    # the Subject is signed too: both signatures fail, the body hash first
    ar = results(msgs["tampered"])
    assert ar[0].count("dkim=fail") == 2 and "body hash" in ar[0], ar
    counted = lambda: daemon.dbus().get(IFACE_STATS, "CheckResults")  # noqa: E731
    wait_for(lambda: counted() == {"dkim:pass": 3, "dkim:fail": 2}, 20, "DKIM results counted",
             details=lambda: str(counted()))


def test_unsigned_message_is_dkim_none(daemon):
    send(daemon, message())
    ar = results(daemon.wait_messages(1)[0])
    assert ar == [HOSTNAME + "; dkim=none"], ar


def test_forged_results_claiming_our_name_are_removed(daemon):
    forged = ["Authentication-Results: %s; dkim=pass header.d=bank.example" % HOSTNAME.upper(),
              "Authentication-Results: (comment) %s;" % HOSTNAME,
              "\tspf=pass smtp.mailfrom=bank.example",
              "Authentication-Results: other.example; dkim=fail"]
    send(daemon, sign_ed25519(message(extra=forged)))
    raw = daemon.wait_messages(1)[0]
    ar = results(raw)
    assert len(ar) == 2, ar
    assert ar[0].startswith(HOSTNAME + "; dkim=pass header.d=football.dkim.test header.s=brisbane"), ar
    assert ar[1] == "other.example; dkim=fail", ar
    assert b"bank.example" not in raw


def test_off_adds_nothing(daemon):
    daemon.update_security(Dkim=False)
    send(daemon, sign_ed25519(message()))
    assert results(daemon.wait_messages(1)[0]) == []


def test_whitelist_rows_that_skip_dkim(daemon):
    def add(name, typ, value):
        daemon.add_rule(name, "white", typ, value)

    def remove(name):
        daemon.remove_rule(name)

    # sender and recipient rules do not skip DKIM
    add("joe", "sender", "joe@football.dkim.test")
    add("alice", "recipient", ALICE)
    send(daemon, sign_ed25519(message()))
    assert "dkim=pass" in results(daemon.wait_messages(1)[0])[0]
    remove("joe")
    remove("alice")
    # IP, IP/subnet and domain rules do
    for n, (typ, value) in enumerate((("ip", "127.0.0.1"), ("subnet", "127.0.0.0/8"),
                                      ("domain", "football.dkim.test")), start=2):
        add("skip", typ, value)
        send(daemon, sign_ed25519(message()))
        assert results(daemon.wait_messages(n)[-1]) == [], typ
        remove("skip")
