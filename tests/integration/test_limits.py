# SPDX-License-Identifier: GPL-3.0-or-later
"""General limits changed over D-Bus (busctl, gdbus) take effect on the next
SMTP transaction without a restart; invalid changes are refused whole."""

import re
import smtplib
import uuid

import pytest

from relais_helpers import (
    BUS_NAME, CLIENT_HELO, ERR, IFACE_ACCOUNTS, IFACE_GENERAL, IFACE_STATS, OBJ_PATH, SENDER,
    TEST_DOMAIN, RawSMTP, busctl, busctl_update, gdbus_call, make_message, wait_for,
)


def raw(daemon):
    c = RawSMTP(daemon.host, daemon.port)
    c.greeting()
    return c


def test_introspect_lists_interfaces(daemon):
    p = busctl(daemon.bus_address, "introspect", BUS_NAME, OBJ_PATH)
    for iface in (IFACE_GENERAL, IFACE_ACCOUNTS, IFACE_STATS):
        assert iface in p.stdout, p.stdout
    assert ".Update" in p.stdout and "MaxRecipients" in p.stdout


def test_busctl_get_property(daemon):
    p = busctl(daemon.bus_address, "get-property", BUS_NAME, OBJ_PATH, IFACE_GENERAL,
               "MaxRecipients")
    assert p.stdout.strip() == "u 100"


def test_max_recipients(daemon, mailbox):
    daemon.add_account("bob")
    daemon.add_account("carol")
    busctl_update(daemon.bus_address, ("MaxRecipients", "u", 2))
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<alice@%s>" % TEST_DOMAIN).code == 250
        assert c.cmd("RCPT TO:<bob@%s>" % TEST_DOMAIN).code == 250
        r = c.cmd("RCPT TO:<carol@%s>" % TEST_DOMAIN)
        assert r.code == 452 and r.lines[0].startswith("4.5.3"), r
        assert c.cmd("DATA").code == 354
        c.send(make_message("two of three", to="alice@" + TEST_DOMAIN) + b".\r\n")
        assert c.reply().code == 250
    daemon.wait_messages(1, "alice")
    daemon.wait_messages(1, "bob")
    assert daemon.messages("carol") == []


def test_transaction_under_way_keeps_old_limit(daemon, mailbox):
    daemon.add_account("bob")
    daemon.add_account("carol")
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        busctl_update(daemon.bus_address, ("MaxRecipients", "u", 2))
        for who in ("alice", "bob", "carol"):
            r = c.cmd("RCPT TO:<%s@%s>" % (who, TEST_DOMAIN))
            assert r.code == 250, "transaction started with MaxRecipients 100: %s -> %r" % (who, r)
        assert c.cmd("RSET").code == 250
        # the next transaction sees the new value
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<alice@%s>" % TEST_DOMAIN).code == 250
        assert c.cmd("RCPT TO:<bob@%s>" % TEST_DOMAIN).code == 250
        r = c.cmd("RCPT TO:<carol@%s>" % TEST_DOMAIN)
        assert r.code == 452, r


def test_max_message_size(daemon, mailbox):
    busctl_update(daemon.bus_address, ("MaxMessageSizeMB", "u", 1))
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=30) as s:
        s.ehlo()
        assert s.esmtp_features.get("size") == "1048576", s.esmtp_features
        code, msg = s.mail(SENDER, ["SIZE=2000000"])
        assert code == 552 and msg.startswith(b"5.3.4"), (code, msg)
        s.rset()
        # no SIZE= announced: the message grows past the limit during DATA
        s.mail(SENDER)
        assert s.rcpt(mailbox)[0] == 250
        big = make_message("too big", "x" * 78 + "\n", to=mailbox) + \
            (("y" * 78 + "\r\n") * 20000).encode()          # ~1.6 MB
        # smtplib's data() returns the final reply instead of raising
        code, msg = s.data(big)
        assert code == 552 and msg.startswith(b"5.3.4"), (code, msg)
        # the daemon read the message to its end: the session is still in step
        assert s.noop()[0] == 250
        # a message under the limit still goes through
        s.sendmail(SENDER, [mailbox], make_message("small enough", "ok\n", to=mailbox))
    (msg,) = daemon.wait_messages(1)
    assert b"small enough" in msg


def _with_received(n, mailbox, subject):
    hdrs = ["Received: from hop%d.example.net by hop%d.example.net; Mon, 1 Jan 2024 00:00:%02d +0000"
            % (i, i + 1, i) for i in range(n)]
    return make_message(subject, "hops\n", to=mailbox, extra_headers=hdrs)


def test_max_hops(daemon, mailbox):
    busctl_update(daemon.bus_address, ("MaxHops", "u", 3))
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=15) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(SENDER, [mailbox], _with_received(4, mailbox, "four hops"))
        assert e.value.smtp_code == 554 and e.value.smtp_error.startswith(b"5.4.6"), e.value
        s.sendmail(SENDER, [mailbox], _with_received(3, mailbox, "three hops"))
    (msg,) = daemon.wait_messages(1)
    assert b"three hops" in msg


def test_hostname_and_banner(daemon):
    busctl_update(daemon.bus_address, ("Hostname", "s", "mx2.relais.test"),
                  ("Banner", "s", "Custom banner here"))
    with RawSMTP(daemon.host, daemon.port) as c:
        r = c.greeting()
        assert r.lines[0] == "mx2.relais.test Custom banner here", r
        r = c.ehlo()
        assert r.lines[0].startswith("mx2.relais.test"), r


def _invalid(daemon, changes_text, prop):
    before = daemon.general()
    p = gdbus_call(daemon.bus_address, IFACE_GENERAL + ".Update", changes_text, "false")
    assert p.returncode != 0, "accepted invalid change %s: %s" % (changes_text, p.stdout)
    assert ERR + "InvalidArgument" in p.stderr, p.stderr
    assert prop in p.stderr.split("InvalidArgument", 1)[1], \
        "error message does not name %s: %s" % (prop, p.stderr)
    assert daemon.general() == before, "something changed after a refused Update"


@pytest.mark.parametrize("changes,prop", [
    ("{'MaxRecipients': <uint32 0>}", "MaxRecipients"),
    ("{'MaxHops': <uint32 0>}", "MaxHops"),
    ("{'MaxMessageSizeMB': <uint32 0>}", "MaxMessageSizeMB"),
    ("{'IdleTimeout': <uint32 1>}", "IdleTimeout"),
    ("{'MaxSessions': <uint32 0>}", "MaxSessions"),
    ("{'Hostname': <'not a fqdn'>}", "Hostname"),
    ("{'Banner': <'two\\r\\nlines'>}", "Banner"),
    ("{'MaxRecipients': <'ten'>}", "MaxRecipients"),
    ("{'NoSuchSetting': <uint32 1>}", "NoSuchSetting"),
    ("{'MaxRecipients': <uint32 7>, 'MaxHops': <uint32 0>}", "MaxHops"),
    ("{'Banner': <'fine banner'>, 'Hostname': <'bad host!'>}", "Hostname"),
])
def test_invalid_update_refused_whole(daemon, changes, prop):
    _invalid(daemon, changes, prop)


def test_busctl_invalid_update_fails(daemon):
    before = daemon.general()
    p = busctl_update(daemon.bus_address, ("MaxRecipients", "u", 7), ("MaxHops", "u", 0),
                      check=False)
    assert p.returncode != 0, p.stdout
    assert "MaxHops" in p.stderr, p.stderr
    after = daemon.general()
    assert after == before
    assert after["MaxRecipients"] == 100


def test_valid_batch_applied_together(daemon):
    p = gdbus_call(daemon.bus_address, IFACE_GENERAL + ".Update",
                   "{'MaxRecipients': <uint32 7>, 'MaxHops': <uint32 9>, "
                   "'ExternalAdministrators': <['admin@example.net']>}", "false")
    assert p.returncode == 0, p.stderr
    g = daemon.general()
    assert (g["MaxRecipients"], g["MaxHops"], g["ExternalAdministrators"]) == \
        (7, 9, ["admin@example.net"])
    p = busctl(daemon.bus_address, "get-property", BUS_NAME, OBJ_PATH, IFACE_GENERAL, "MaxHops")
    assert p.stdout.strip() == "u 9"


def _send_auto_forwarded(daemon, rcpt, header="Auto-Submitted: auto-forwarded"):
    with raw(daemon) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % rcpt).code == 250
        assert c.cmd("DATA").code == 354
        c.send(make_message("auto-forwarded", to=rcpt, extra_headers=(header,)) + b".\r\n")
        return c.reply()


def test_disable_auto_forward_refuses_outgoing(daemon, mailbox):
    # postmaster@ goes to a remote administrator: that message would leave the server.
    daemon.update(ExternalAdministrators=["admin@remote.example"])
    postmaster = "postmaster@" + TEST_DOMAIN
    s0 = daemon.stats()
    r = _send_auto_forwarded(daemon, postmaster, "Auto-Submitted: Auto-Forwarded (sieve); owner=x")
    assert r.code == 250, r          # setting off: accepted
    busctl_update(daemon.bus_address, ("DisableAutoForward", "b", True))
    r = _send_auto_forwarded(daemon, postmaster, "Auto-Submitted: Auto-Forwarded (sieve); owner=x")
    assert (r.code, r.text) == (550, "5.7.1 Auto-forwarding is disabled"), r
    r = _send_auto_forwarded(daemon, postmaster, "Auto-Submitted:\r\n auto-forwarded")
    assert r.code == 550, r
    before = dict(s0["RejectedByReason"]).get("auto-forward", 0)
    wait_for(lambda: dict(daemon.stats()["RejectedByReason"]).get("auto-forward", 0) == before + 2, 5,
             "two rejections counted under auto-forward", details=lambda: repr(daemon.stats()))
    with open(daemon.log_path, errors="replace") as f:
        log = f.read()
    assert re.search(r"reject END-OF-DATA from \S+\[127\.0\.0\.1\]: 550 5\.7\.1 .* helo=<%s> "
                     r"reason=auto-forward rule=auto-forward" % re.escape(CLIENT_HELO), log), log
    # Other Auto-Submitted keywords, and local-only messages, still pass.
    assert _send_auto_forwarded(daemon, postmaster, "Auto-Submitted: auto-generated").code == 250
    assert _send_auto_forwarded(daemon, mailbox).code == 250
    msgs = daemon.wait_messages(1, "alice")
    assert any(b"Auto-Submitted: auto-forwarded" in m for m in msgs)
