# SPDX-License-Identifier: GPL-3.0-or-later
"""The antivirus (SPEC §4.2) with a real clamd from Debian's clamav-daemon,
started here with a one-signature database of its own (clamd_server.py): a
message carrying the EICAR test string is refused with 554 5.7.0 naming the
signature, over the Unix and the TCP socket; a clean one is delivered; clamd
unreachable (or answering ERROR, as past its size limit) gives 451 4.7.1, or
delivery when AntivirusUnreachable is "accept", logged and counted either
way; the whitelist rows of SPEC §4.1 that skip the antivirus (IP, sender,
recipient, domain) do, the subnet row does not, and one whitelisted
recipient does not carry a virus to the others."""

import smtplib

import pytest

import relais_helpers as H
from clamd_server import EICAR, SIGNATURE_NAME, STREAM_MAX_LENGTH, ClamdServer
from relais_helpers import IFACE_STATS, TEST_DOMAIN, wait_for

ALICE = "alice@" + TEST_DOMAIN
BOB = "bob@" + TEST_DOMAIN


@pytest.fixture(scope="module")
def clamd(tmp_path_factory):
    with ClamdServer(str(tmp_path_factory.mktemp("clamd"))) as c:
        yield c


@pytest.fixture
def daemon(request, tmp_path, session_bus, clamd):
    d = H.make_daemon(request, tmp_path, session_bus.address)
    d.start()
    d.setup_mailbox()
    d.add_account("bob")
    d.update_security(Antivirus=True, AntivirusSocket=clamd.unix_socket)
    return d



def infected(sender="joe@elsewhere.example"):
    return H.make_message(sender=sender, to=ALICE, body="Attached.\n" + EICAR.decode() + "\n")


def send(daemon, raw, sender="joe@elsewhere.example", recipients=(ALICE,)):
    """The reply to the end of DATA: (code, text)."""
    with smtplib.SMTP(daemon.host, daemon.port, timeout=90) as s:
        s.ehlo("client.example.net")
        s.mail(sender)
        for r in recipients:
            assert s.rcpt(r)[0] == 250
        code, text = s.data(raw)
        return code, text.decode()


def check_results(daemon):
    return daemon.dbus().get(IFACE_STATS, "CheckResults")


def test_virus_refused_clean_delivered(daemon, clamd):
    code, text = send(daemon, infected())
    assert (code, text) == (554, "5.7.0 Message content rejected: virus found: " + SIGNATURE_NAME)
    assert send(daemon, H.make_message(to=ALICE))[0] == 250
    daemon.update_security(AntivirusSocket=clamd.tcp_address)
    assert send(daemon, infected())[0] == 554
    assert len(daemon.wait_messages(1)) == 1
    wait_for(lambda: check_results(daemon) == {"antivirus:virus": 2, "antivirus:clean": 1}, 20,
             "scans counted", details=lambda: str(check_results(daemon)))
    stats = daemon.dbus().get_all(IFACE_STATS)
    assert stats["RuleHits"].get("antivirus:virus") == 2
    assert stats["RejectedByReason"].get("antivirus") == 2


def test_unreachable_defers_or_accepts_per_setting(daemon, tmp_path):
    daemon.update_security(AntivirusSocket=str(tmp_path / "no-clamd.sock"))
    code, text = send(daemon, infected())
    assert (code, text) == (451, "4.7.1 Virus scanner unavailable, try again later")
    daemon.update_security(AntivirusUnreachable="accept")
    assert send(daemon, H.make_message(to=ALICE))[0] == 250
    daemon.wait_messages(1)
    wait_for(lambda: check_results(daemon).get("antivirus:unreachable") == 2, 20, "unreachable counted twice",
             details=lambda: str(check_results(daemon)))
    with open(daemon.log_path, errors="replace") as f:
        log = f.read()
    assert "could not be scanned for viruses" in log and "no-clamd.sock" in log
    assert "accepting it unscanned" in log


def test_clamd_error_past_its_size_limit_defers(daemon):
    big = H.make_message(to=ALICE, body=("x" * 76 + "\n") * (STREAM_MAX_LENGTH // 77 + 100))
    code, text = send(daemon, big)
    assert (code, text[:6]) == (451, "4.7.1 "), text
    wait_for(lambda: check_results(daemon).get("antivirus:error") == 1, 20, "clamd's ERROR counted",
             details=lambda: str(check_results(daemon)))


def test_whitelist_rows_that_skip_the_antivirus(daemon):
    def add(name, typ, value):
        daemon.add_rule(name, "white", typ, value)

    def remove(name):
        daemon.remove_rule(name)

    add("lan", "subnet", "127.0.0.0/8")          # IP/subnet rules do not skip it
    assert send(daemon, infected())[0] == 554
    remove("lan")
    delivered = 0
    for typ, value in (("ip", "127.0.0.1"), ("sender", "joe@elsewhere.example"), ("recipient", ALICE),
                       ("domain", "elsewhere.example")):
        add("skip", typ, value)
        code, text = send(daemon, infected())
        assert code == 250, (typ, text)
        delivered += 1
        assert EICAR in daemon.wait_messages(delivered)[-1]
        remove("skip")
    # a recipient rule for alice does not let the virus through to bob as well
    add("alice", "recipient", ALICE)
    assert send(daemon, infected(), recipients=(ALICE, BOB))[0] == 554
