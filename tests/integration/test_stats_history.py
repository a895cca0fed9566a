# SPDX-License-Identifier: GPL-3.0-or-later
"""SPEC §5: the counters kept per minute for 7 days in SQLite, read with
org.relais.Relais1.Statistics.History(s counter, x since, u step) -> a(xt),
against the real relaisd on a private session bus. Time is the test clock
(RELAIS_TEST_CLOCK_FILE): the daemon counts each event in the minute the
clock says, so moving the clock ends a minute. RELAIS_TEST_STATS_FLUSH_SECONDS=1
makes the daemon write the ended minutes every second instead of at each real
minute boundary; a clean stop also writes the current, partial minute."""

import calendar
import os
import smtplib
import sqlite3

import pytest

import relais_helpers as H
from relais_helpers import (
    CLIENT_HELO, ERR, IFACE_STATS, SENDER, DBusCallError, RawSMTP, gdbus_call, make_message,
    wait_for,
)

# 2026-03-02 10:00:10 UTC: ten seconds into a minute (and an hour).
MINUTE = calendar.timegm((2026, 3, 2, 10, 0, 0, 0, 0, 0))
CLOCK_START = MINUTE + 10
WEEK_MINUTES = 7 * 24 * 60
DAY = 86400


@pytest.fixture
def clock(tmp_path):
    return H.SettableClock(str(tmp_path / "clock"), CLOCK_START)


@pytest.fixture
def daemon(request, tmp_path, session_bus, clock):
    d = H.make_daemon(request, tmp_path, session_bus.address,
                      extra_env={"RELAIS_TEST_CLOCK_FILE": clock.path,
                                 "RELAIS_TEST_STATS_FLUSH_SECONDS": "1"})
    d.start()
    d.setup_mailbox()
    return d


def history(daemon, counter, since, step=60):
    """[(bucket start, value), ...]"""
    return [tuple(p) for p in daemon.dbus().call(IFACE_STATS, "History", "(sxu)",
                                                  (counter, since, step))[0]]


def send(daemon, n=1, rcpt="alice@relais.test"):
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=CLIENT_HELO, timeout=15) as s:
        for _ in range(n):
            s.sendmail(SENDER, [rcpt], make_message(to=rcpt))


def db_path(daemon):
    return os.path.join(daemon.state_dir, "relais.db")


def rows(daemon, counter):
    """The stored (minute, value) rows of COUNTER, oldest first."""
    con = sqlite3.connect(db_path(daemon), timeout=10)
    try:
        return con.execute("SELECT minute, value FROM stats_minutes WHERE counter = ? ORDER BY minute",
                           (counter,)).fetchall()
    finally:
        con.close()


def test_the_current_minute_shows_at_once(daemon):
    send(daemon, 2)
    # counted before the 250, so already there: no waiting
    assert history(daemon, "MessagesReceived", MINUTE - 120) == [
        (MINUTE - 120, 0), (MINUTE - 60, 0), (MINUTE, 2)]
    # everything happened in this minute of the test clock: the history and
    # the counters since start agree (the properties follow within a second)
    wait_for(lambda: daemon.stats()["MessagesReceived"] == 2, 5, "the properties to follow")
    stats = daemon.stats()
    for counter in ("Connections", "MessagesReceived", "BytesReceived"):
        assert history(daemon, counter, MINUTE) == [(MINUTE, stats[counter])], counter
    assert stats["BytesReceived"] > 0
    # the start-up probes of the ports may overlap: at least our session
    assert history(daemon, "SessionsOpen", MINUTE)[0][1] >= 1
    wait_for(lambda: daemon.stats()["DeliveredLocal"] == 2, 15, "two local deliveries")
    assert history(daemon, "DeliveredLocal", MINUTE) == [(MINUTE, 2)]
    assert history(daemon, "Bounced", MINUTE - 60) == [(MINUTE - 60, 0), (MINUTE, 0)]
    # the minute is not over: nothing written yet
    assert rows(daemon, "MessagesReceived") == []

    # the command-line client sees the same, signature a(xt)
    p = gdbus_call(daemon.bus_address, IFACE_STATS + ".History", "MessagesReceived",
                   str(MINUTE - 60), "60")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "([(int64 %d, uint64 0), (%d, 2)],)" % (MINUTE - 60, MINUTE), p.stdout


def test_ended_minutes_are_written_and_survive_a_restart(daemon, clock):
    send(daemon, 2)
    clock.advance(60)                          # 10:01:10
    send(daemon, 1)
    assert history(daemon, "MessagesReceived", MINUTE) == [(MINUTE, 2), (MINUTE + 60, 1)]
    # the ended minute is written by the flush timer, the daemon still running
    wait_for(lambda: rows(daemon, "MessagesReceived") == [(MINUTE, 2)], 10,
             "minute 10:00 written to stats_minutes",
             details=lambda: str(rows(daemon, "MessagesReceived")))

    # a clean stop writes the partial minute too
    assert daemon.stop() == 0
    assert rows(daemon, "MessagesReceived") == [(MINUTE, 2), (MINUTE + 60, 1)]
    assert rows(daemon, "Connections")[0][0] == MINUTE

    daemon.start()
    assert history(daemon, "MessagesReceived", MINUTE - 60) == [
        (MINUTE - 60, 0), (MINUTE, 2), (MINUTE + 60, 1)]
    # hour buckets, aligned to the epoch
    assert history(daemon, "MessagesReceived", MINUTE - 3600, 3600) == [(MINUTE - 3600, 0), (MINUTE, 3)]
    # more in the same minute after the restart adds to the stored minute
    send(daemon, 1)
    assert history(daemon, "MessagesReceived", MINUTE + 60) == [(MINUTE + 60, 2)]
    assert daemon.stop() == 0
    assert rows(daemon, "MessagesReceived") == [(MINUTE, 2), (MINUTE + 60, 2)]


def test_get_history_over_a_window_that_ended(daemon, clock):
    send(daemon, 2)
    clock.advance(60)                          # 10:01:10
    send(daemon, 1)
    clock.advance(120)                         # 10:03:10

    def window(frm, to, step=60):
        return [tuple(p) for p in daemon.dbus().call(IFACE_STATS, "GetHistory", "(sxxu)",
                                                      ("MessagesReceived", frm, to, step))[0]]

    assert window(MINUTE, MINUTE + 59) == [(MINUTE, 2)]
    assert window(MINUTE, MINUTE + 60) == [(MINUTE, 2), (MINUTE + 60, 1)]
    assert window(MINUTE - 60, MINUTE + 3600) == history(daemon, "MessagesReceived", MINUTE - 60)
    assert window(MINUTE, MINUTE + 60, 3600) == [(MINUTE, 3)]
    assert window(MINUTE + 3600, MINUTE + 7200) == []
    with pytest.raises(DBusCallError) as e:
        window(MINUTE + 60, MINUTE)
    assert e.value.name == ERR + "InvalidArgument"
    assert "is before from" in e.value.message, e.value.message

    p = gdbus_call(daemon.bus_address, IFACE_STATS + ".GetHistory", "MessagesReceived",
                   str(MINUTE), str(MINUTE + 60), "60")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "([(int64 %d, uint64 2), (%d, 1)],)" % (MINUTE, MINUTE + 60), p.stdout


def test_a_gauge_keeps_its_value_in_quiet_minutes(daemon, clock):
    wait_for(lambda: daemon.stats()["SessionsOpen"] == 0, 5, "no session open")
    clock.advance(60)                          # 10:01:10
    m = MINUTE + 60
    with RawSMTP(daemon.host, daemon.port) as c:
        c.greeting()
        c.ehlo()
        wait_for(lambda: daemon.stats()["SessionsOpen"] == 1, 5, "one session open")
        clock.advance(120)                     # 10:03:10, nothing happened meanwhile
        assert history(daemon, "SessionsOpen", m) == [(m, 1), (m + 60, 1), (m + 120, 1)]
        assert c.cmd("QUIT").code == 221
    wait_for(lambda: daemon.stats()["SessionsOpen"] == 0, 5, "the session closed")
    clock.advance(60)                          # 10:04:10
    # the highest value in a minute counts: 10:03 still saw the session
    assert history(daemon, "SessionsOpen", m) == [(m, 1), (m + 60, 1), (m + 120, 1), (m + 180, 0)]
    # two-minute buckets: 10:02-10:03 saw it, 10:04 not
    assert history(daemon, "SessionsOpen", m + 60, 120) == [(m + 60, 1), (m + 180, 0)]
    wait_for(lambda: [r for r in rows(daemon, "SessionsOpen") if r[0] >= m] == [(m, 1), (m + 60, 1), (m + 120, 1)],
             10, "the gauge's minutes written",
             details=lambda: str(rows(daemon, "SessionsOpen")))


@pytest.mark.parametrize("counter, step, words", [
    ("Messages", 60, ["counter: 'Messages'", "MessagesReceived", "QueueLength", "Connections"]),
    ("QueueOldestAge", 60, ["counter: 'QueueOldestAge'"]),
    ("", 60, ["counter: ''"]),
    ("MessagesReceived", 0, ["step: 0", "multiple of 60"]),
    ("MessagesReceived", 59, ["step: 59", "multiple of 60"]),
    ("MessagesReceived", 90, ["step: 90", "multiple of 60"]),
])
def test_bad_arguments(daemon, counter, step, words):
    with pytest.raises(DBusCallError) as e:
        history(daemon, counter, MINUTE, step)
    assert e.value.name == ERR + "InvalidArgument"
    for word in words:
        assert word in e.value.message, e.value.message


def test_bad_counter_with_gdbus(daemon):
    p = gdbus_call(daemon.bus_address, IFACE_STATS + ".History", "Mails", str(MINUTE), "60")
    assert p.returncode != 0
    assert "GDBus.Error:org.relais.Relais1.Error.InvalidArgument" in p.stderr, p.stderr
    assert "MessagesReceived" in p.stderr


def test_rows_older_than_a_week_are_deleted(daemon, clock):
    assert daemon.stop() == 0
    oldest = MINUTE - (WEEK_MINUTES - 1) * 60
    con = sqlite3.connect(db_path(daemon))
    with con:
        con.executemany("INSERT INTO stats_minutes (counter, minute, value) VALUES (?, ?, ?)", [
            ("Bounced", MINUTE - 8 * DAY, 5),
            ("Bounced", oldest - 60, 6),
            ("Bounced", MINUTE - 6 * DAY, 7),
            ("Deferred", MINUTE - 30 * DAY, 1),
        ])
    con.close()

    daemon.start()                             # a start drops what left the week
    assert rows(daemon, "Bounced") == [(MINUTE - 6 * DAY, 7)]
    assert rows(daemon, "Deferred") == []

    # since is clamped to the kept week: a week of minutes at most
    points = history(daemon, "Bounced", 0)
    assert len(points) == WEEK_MINUTES
    assert points[0] == (oldest, 0)
    assert points[-1] == (MINUTE, 0)
    assert (MINUTE - 6 * DAY, 7) in points
    assert sum(v for _, v in points) == 7
    assert history(daemon, "Bounced", MINUTE - 10 * DAY, DAY) == [
        (MINUTE - 7 * DAY - 10 * 3600, 0), (MINUTE - 6 * DAY - 10 * 3600, 7)] + [
        (MINUTE - d * DAY - 10 * 3600, 0) for d in range(5, -1, -1)]

    # a day later the 6-day-old minute is 7 days old: the next flush deletes it
    clock.advance(DAY)
    wait_for(lambda: rows(daemon, "Bounced") == [], 10, "the 7-day-old row deleted",
             details=lambda: str(rows(daemon, "Bounced")))
    assert sum(v for _, v in history(daemon, "Bounced", 0, 3600)) == 0
