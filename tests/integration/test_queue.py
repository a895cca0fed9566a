# SPDX-License-Identifier: GPL-3.0-or-later
"""Durability: a message answered with 250 survives kill -9 (SPEC §6)."""

import smtplib
import threading
import time
import uuid

from relais_helpers import (
    CLIENT_HELO, SENDER, header_values, make_message, wait_for,
)


def subjects_in_maildir(daemon):
    found = {}
    for path in daemon.messages():
        with open(path, "rb") as f:
            for s in header_values(f.read(), "Subject"):
                found[s] = found.get(s, 0) + 1
    return found


def test_kill9_right_after_250(daemon, mailbox):
    subject = "durable " + uuid.uuid4().hex
    s = smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=15)
    try:
        s.ehlo()
        s.mail(SENDER)
        assert s.rcpt(mailbox)[0] == 250
        code, _ = s.data(make_message(subject, "must survive\n", to=mailbox))
        assert code == 250
        daemon.kill9()             # immediately after the reply, before QUIT
    finally:
        s.close()
    daemon.start()
    wait_for(lambda: subjects_in_maildir(daemon).get(subject), 20,
             "the accepted message to be delivered after kill -9 and restart",
             details=lambda: repr(subjects_in_maildir(daemon)))


def test_parallel_senders_kill9_no_loss(daemon, mailbox):
    n_threads = 20
    per_thread = 15
    accepted = []                  # subjects that got 250, in order
    lock = threading.Lock()
    failures = []

    def worker(i):
        try:
            s = smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=10)
        except OSError as e:
            failures.append(("connect", i, e))
            return
        try:
            for j in range(per_thread):
                subject = "par %02d-%02d %s" % (i, j, uuid.uuid4().hex[:12])
                msg = make_message(subject, "thread %d message %d\n" % (i, j), to=mailbox,
                                   msgid="<%s@par.example.net>" % uuid.uuid4().hex)
                s.sendmail(SENDER, [mailbox], msg)     # returns only after 250
                with lock:
                    accepted.append(subject)
        except (smtplib.SMTPException, OSError) as e:
            failures.append(("send", i, e))        # expected once the daemon is killed
        finally:
            try:
                s.close()
            except OSError:
                pass

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n_threads)]
    for t in threads:
        t.start()
    # kill partway through: once a good share of the messages was accepted
    total = n_threads * per_thread
    wait_for(lambda: len(accepted) >= total // 3, 30,
             "a third of %d messages to be accepted" % total,
             details=lambda: "accepted %d, failures %r" % (len(accepted), failures[:5]))
    daemon.kill9()
    with lock:
        accepted_at_kill = list(accepted)
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads), "sender threads hung after kill -9"
    final_accepted = list(accepted)
    assert len(final_accepted) < total, "every message was sent before the kill: test proves nothing"
    assert len(final_accepted) >= len(accepted_at_kill)

    daemon.start()
    want = set(final_accepted)

    def all_delivered():
        return want <= set(subjects_in_maildir(daemon))

    wait_for(all_delivered, 40, "every message answered with 250 to be delivered",
             details=lambda: "missing %d of %d: %r" % (
                 len(want - set(subjects_in_maildir(daemon))), len(want),
                 sorted(want - set(subjects_in_maildir(daemon)))[:10]))
    found = subjects_in_maildir(daemon)
    dups = {s: n for s, n in found.items() if n > 1}
    if dups:
        # tolerated (at-least-once), but worth knowing
        print("duplicates after kill -9: %d subjects: %r" % (len(dups), list(dups.items())[:10]))
    unknown = set(found) - want
    assert len(unknown) <= n_threads, "more unacknowledged deliveries than messages in flight"
    # messages that were in flight at the kill may legitimately arrive (250 lost in transit)
    print("accepted %d, delivered %d distinct (%d in flight at the kill), %d duplicates"
          % (len(want), len(found), len(unknown), len(dups)))
