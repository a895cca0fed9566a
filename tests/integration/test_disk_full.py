# SPDX-License-Identifier: GPL-3.0-or-later
"""A full disk (issue 10): relaisd's state folder on a small tmpfs. MAIL is
answered 452 4.3.1 when there is no room (with SIZE, for the size announced),
a message whose spool file or queue row cannot be written is answered 452
4.3.1 and leaves nothing behind, nothing half-written is ever delivered, the
daemon keeps running, and mail flows again by itself once space is back."""

import os
import sqlite3
import subprocess
import time

import pytest

from relais_helpers import SENDER, RawSMTP, make_daemon, make_message, wait_for

SIZE_MB = 12


@pytest.fixture
def small_state(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % SIZE_MB, "tmpfs", str(state)],
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % p.stderr.strip())
    yield state
    subprocess.run(["umount", "-l", str(state)])


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def leave_free(path, leave):
    """Grows or shrinks PATH/filler until PATH's file system has about LEAVE
    bytes free; returns the filler's path."""
    filler = os.path.join(path, "filler")
    with open(filler, "ab") as f:
        chunk = b"\0" * (64 * 1024)
        while free_bytes(path) > leave + len(chunk):
            f.write(chunk)
            f.flush()
    size = os.path.getsize(filler) + free_bytes(path) - leave
    os.truncate(filler, max(0, size))
    if free_bytes(path) > leave:      # the last few blocks, written for real
        with open(filler, "ab") as f:
            try:
                f.write(b"\0" * (free_bytes(path) - leave))
            except OSError:
                pass
    return filler


def spool_files(state):
    """Every file under the spool (queued messages' and spares')."""
    return [os.path.join(d, n) for d in (os.path.join(state, "spool", sub) for sub in ("tmp", "msg"))
            for n in os.listdir(d)]


def queued_ids(state):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "relais.db"), uri=True, timeout=10)
    try:
        return [row[0] for row in db.execute("SELECT id FROM messages")]
    finally:
        db.close()


def send(daemon, mailbox, subject, size=None):
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        assert c.cmd("EHLO full.example.net").code == 250
        r = c.cmd("MAIL FROM:<%s>%s" % (SENDER, " SIZE=%d" % size if size else ""))
        if r.code != 250:
            return r
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        assert c.cmd("DATA").code == 354
        c.send(make_message(subject, "hello\n", to=mailbox) + b".\r\n")
        return c.reply(timeout=30)


def test_disk_full(request, tmp_path, session_bus, small_state):
    d = make_daemon(request, tmp_path, session_bus.address, state=small_state, submission=False, smtps=False)
    d.start()
    mailbox = d.setup_mailbox()
    d.update(MaxMessageSizeMB=1)
    assert send(d, mailbox, "before").code == 250
    d.wait_messages(1)

    # Less than the reserve left: MAIL is refused, with SIZE or without.
    leave_free(str(small_state), 2 * 1024 * 1024)
    r = send(d, mailbox, "refused")
    assert (r.code, r.lines[0]) == (452, "4.3.1 Insufficient system storage"), r
    r = send(d, mailbox, "refused", size=1000)
    assert (r.code, r.lines[0]) == (452, "4.3.1 Insufficient system storage"), r

    # Room for the reserve (4 MiB), not for 1.5 times a message announced as
    # 900 KB on top of it: that one is refused, a smaller one is not.
    leave_free(str(small_state), 4 * 1024 * 1024 + 900 * 1024)
    r = send(d, mailbox, "announced too big", size=900 * 1000)
    assert (r.code, r.lines[0]) == (452, "4.3.1 Insufficient system storage"), r
    assert send(d, mailbox, "announced small", size=2000).code == 250
    assert send(d, mailbox, "not announced").code == 250
    d.wait_messages(3)

    # The disk fills up while a message is coming in: 452 4.3.1 at its end,
    # nothing delivered, nothing left in the spool.
    filler = leave_free(str(small_state), 8 * 1024 * 1024)
    with RawSMTP(d.host, d.port) as c:
        c.greeting()
        assert c.cmd("EHLO full.example.net").code == 250
        assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
        assert c.cmd("RCPT TO:<%s>" % mailbox).code == 250
        assert c.cmd("DATA").code == 354
        c.send("Subject: cut short\r\n\r\n")
        leave_free(str(small_state), 0)
        c.send(("z" * 76 + "\r\n") * 8000)        # 600 KB: more than is left
        r = c.cmd(".", timeout=30)
        assert (r.code, r.lines[0]) == (452, "4.3.1 Insufficient system storage"), r
        assert c.cmd("NOOP").code == 250          # the session goes on
    assert d.alive()
    # (the last message delivered leaves the queue a moment after its delivery;
    # the files of the others stay in the spool, for the next ones to reuse,
    # but not the one the disk was too full for)
    wait_for(lambda: queued_ids(str(small_state)) == [], 10, "an empty queue",
             details=lambda: str(queued_ids(str(small_state))))
    assert sum(os.path.getsize(p) for p in spool_files(str(small_state))) < 100 * 1024
    assert not any(b"cut short" in open(p, "rb").read() for p in spool_files(str(small_state)))
    assert not any(b"cut short" in open(p, "rb").read() for p in d.messages())

    # Space is back: mail flows again, by itself.
    os.unlink(filler)
    assert send(d, mailbox, "after").code == 250
    msgs = d.wait_messages(4)
    assert not any(b"cut short" in m for m in msgs)
    assert any(b"Subject: after" in m for m in msgs)
    log = open(d.log_path, errors="replace").read()
    assert "Insufficient system storage" in log or "no-space" in log
    assert "CRITICAL" not in log and "AddressSanitizer" not in log


def test_outcome_written_again_when_the_store_refused_it(daemon):
    """A delivery done whose outcome the store refuses (as a full disk would:
    here a trigger) is neither lost nor delivered again: its recipient stays
    in flight and the outcome is written again until the store takes it."""
    from relais_helpers import free_ports, guess_variant as v, wait_for as wait
    from smtp_peers import Peer

    port, = free_ports(1)
    peer = Peer("127.0.0.1", port=port).start()
    try:
        daemon.dbus().call("org.relais.Relais1.Distribution", "Update", "(a{sv}b)",
                           ({"Mode": v("relay-host"), "RelayServer": v("127.0.0.1"),
                             "RelayPort": v(port)}, False))
        daemon.dbus().call("org.relais.Relais1.RelayControl", "AddTrustedNetwork", "(ssb)",
                           ("loopback", "127.0.0.0/8", False))
        db = sqlite3.connect(os.path.join(daemon.state_dir, "relais.db"), timeout=10)
        db.execute("CREATE TRIGGER refuse_outcomes BEFORE UPDATE OF state ON recipients "
                   "BEGIN SELECT RAISE(FAIL, 'database or disk is full (test)'); END")
        db.commit()
        with RawSMTP(daemon.host, daemon.port) as c:
            c.greeting()
            assert c.cmd("EHLO full.example.net").code == 250
            assert c.cmd("MAIL FROM:<%s>" % SENDER).code == 250
            assert c.cmd("RCPT TO:<someone@remote.example>").code == 250
            assert c.cmd("DATA").code == 354
            r = c.cmd("Subject: outcome\r\n\r\nhello\r\n.")
            assert r.code == 250, r
        wait(lambda: len(peer.received) == 1, 20, "the delivery")
        wait(lambda: "will be written again" in open(daemon.log_path, errors="replace").read(), 20,
             "the refused outcome to be logged")
        time.sleep(1)
        assert len(daemon.dbus().call("org.relais.Relais1.Queue", "List")[0]) == 1
        db.execute("DROP TRIGGER refuse_outcomes")
        db.commit()
        db.close()
        wait(lambda: len(daemon.dbus().call("org.relais.Relais1.Queue", "List")[0]) == 0, 30,
             "the outcome to be written and the message removed")
        time.sleep(1)
        assert len(peer.received) == 1, "delivered again"
        assert daemon.alive()
    finally:
        peer.stop()
