# SPDX-License-Identifier: GPL-3.0-or-later
"""The Status page of relais-settings against a real relaisd: the counters
follow the traffic sent with smtplib, the queue list follows Queue.List and
its hold / release / retry / delete reach the daemon, the chart draws
Statistics.History, and screenshots in English and French.

Messages stay queued as in test_queue_dbus.py: mail to postmaster@ the local
domain goes to an external administrator under .invalid, which never
resolves, so the message waits for its next attempt."""

import datetime
import smtplib
import time
import uuid

import pytest
from gi.repository import GLib

import relais_helpers as H

IFACE_QUEUE = "org.relais.Relais1.Queue"
REMOTE_ADMIN = "admin@relais-queue.invalid"
POSTMASTER = "postmaster@" + H.TEST_DOMAIN


def send(daemon, rcpt, n=1):
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=H.CLIENT_HELO, timeout=15) as s:
        for _ in range(n):
            s.sendmail(H.SENDER, [rcpt], H.make_message("status " + uuid.uuid4().hex, "Hello.\n", to=rcpt))


def queue_list(daemon):
    fields = ("id", "sender", "pending", "size", "received_at", "attempts", "next_attempt",
              "last_error", "held")
    return [dict(zip(fields, row)) for row in daemon.dbus().call(IFACE_QUEUE, "List")[0]]


def queue_remote(daemon):
    """Queues one message for the remote administrator; returns its id."""
    if H.TEST_DOMAIN not in daemon.accounts()["LocalDomains"]:
        daemon.add_domain()
    daemon.update(ExternalAdministrators=[REMOTE_ADMIN])
    before = {e["id"] for e in queue_list(daemon)}
    send(daemon, POSTMASTER)
    new = H.wait_for(lambda: [e for e in queue_list(daemon) if e["id"] not in before], 10,
                     "the message to show in Queue.List")
    return new[0]["id"]


def shown_row(app, qid):
    for row in app.value("Status.queue"):
        if row["id"] == qid:
            return row
    return None


def has_history(daemon):
    return 'name="History"' in daemon.dbus().introspect()


def history_or_skip(daemon, app):
    """Without Statistics.History (an older relaisd) the chart stays empty
    with a note; then the rest of the test is skipped."""
    if has_history(daemon):
        return
    app.show_page("status")
    H.wait_for(lambda: app.value("Status.chart-axes")["note"] != "", 5, "the note under the chart")
    assert "history" in app.value("Status.chart-axes")["note"]
    assert app.value("Status.chart-points") == []
    pytest.skip("this relaisd has no Statistics.History (branch feat-history not merged yet)")


# ---------------------------------------------------------------- counters

def test_counters_follow_the_traffic(daemon, mailbox, app):
    app.show_page("status")
    app.wait_value("Status.counter:MessagesReceived", "0")
    assert app.value("Status.counter:QueueOldestAge") == "—"
    assert app.value("Status.counter:Uptime") != "—"
    start = time.monotonic()
    send(daemon, mailbox, n=3)
    app.wait_value("Status.counter:MessagesReceived", "3", timeout=3)
    assert time.monotonic() - start < 3
    app.wait_value("Status.counter:DeliveredLocal", "3", timeout=5)
    stats = daemon.stats()
    assert app.value("Status.counter:Connections") == str(stats["Connections"])
    # bytes are shown the GLib way ("1.2 kB")
    app.wait_value("Status.counter:BytesReceived", GLib.format_size(daemon.stats()["BytesReceived"]))
    assert app.value("Status.counter:BytesSent") == GLib.format_size(0)
    assert app.value("Status.counter:Rejected") == "0"


def test_a_rejected_recipient_counts(daemon, mailbox, app):
    app.show_page("status")
    with smtplib.SMTP(daemon.host, daemon.port, local_hostname=H.CLIENT_HELO, timeout=15) as s:
        s.ehlo(H.CLIENT_HELO)
        s.mail(H.SENDER)
        code, _ = s.rcpt("nobody@" + H.TEST_DOMAIN)
        assert code == 550
    H.wait_for(lambda: daemon.stats()["Rejected"] >= 1, 5, "the daemon to count the rejection")
    app.wait_value("Status.counter:Rejected", str(daemon.stats()["Rejected"]), timeout=3)


def test_counters_while_the_daemon_is_away(daemon, mailbox, app):
    send(daemon, mailbox)
    app.wait_value("Status.counter:MessagesReceived", "1", timeout=3)
    daemon.stop()
    H.wait_for(lambda: not app.state()["connected"], 5, "the app to see relaisd go")
    app.wait_value("Status.counter:MessagesReceived", "—")
    assert app.value("Status.counter:Uptime") == "—"
    assert app.value("Status.queue") == []
    daemon.start()
    H.wait_for(lambda: app.state()["connected"], 10, "the app to reconnect")
    # the counters start again with the new daemon
    app.wait_value("Status.counter:MessagesReceived", "0")


# ---------------------------------------------------------------- queue

def test_the_queue_lists_the_queued_message(daemon, app):
    app.show_page("status")
    qid = queue_remote(daemon)
    H.wait_for(lambda: shown_row(app, qid) is not None, 3, "the app to list %s" % qid,
               details=lambda: repr(app.value("Status.queue")))
    row = shown_row(app, qid)
    assert row["sender"] == H.SENDER
    assert row["recipients"] == REMOTE_ADMIN
    assert row["held"] is False
    assert row["size"] == GLib.format_size(queue_list(daemon)[0]["size"])
    app.wait_value("Status.counter:QueueLength", "1", timeout=3)
    value, sensitive, _ = app.get("Status.queue")
    assert sensitive


def test_hold_release_and_retry_from_the_app(daemon, app):
    app.show_page("status")
    qid = queue_remote(daemon)
    H.wait_for(lambda: shown_row(app, qid) is not None, 3, "the app to list %s" % qid)

    app.call("Status.queue-hold", qid)
    H.wait_for(lambda: queue_list(daemon)[0]["held"], 5, "the daemon to hold %s" % qid)
    H.wait_for(lambda: shown_row(app, qid)["held"], 3, "the app to show %s held" % qid)
    assert shown_row(app, qid)["state"] == "Held"

    # the daemon refuses RetryNow on a held message: the user is told why
    app.call("Status.queue-retry", qid)
    H.wait_for(lambda: app.value("Status.last-error") != "", 5, "the error of RetryNow")
    error = app.value("Status.last-error")
    assert error.startswith("Cannot retry the message: ") and "release" in error.lower(), error
    assert queue_list(daemon)[0]["held"]

    app.call("Status.queue-release", qid)
    H.wait_for(lambda: not queue_list(daemon)[0]["held"], 5, "the daemon to release %s" % qid)
    H.wait_for(lambda: not shown_row(app, qid)["held"], 3, "the app to show %s released" % qid)
    attempts = queue_list(daemon)[0]["attempts"]
    app.call("Status.queue-retry", qid)
    H.wait_for(lambda: queue_list(daemon)[0]["attempts"] > attempts, 10, "another attempt after Retry now")


def test_delete_asks_then_deletes(daemon, app):
    app.show_page("status")
    qid = queue_remote(daemon)
    H.wait_for(lambda: shown_row(app, qid) is not None, 3, "the app to list %s" % qid)
    asked = app.call("Status.queue-delete", qid)
    assert "Delete this message?" in asked and qid in asked and H.SENDER in asked, asked
    H.wait_for(lambda: queue_list(daemon) == [], 5, "the daemon to delete %s" % qid)
    H.wait_for(lambda: app.value("Status.queue") == [], 3, "the app to drop %s" % qid)
    with pytest.raises(H.DBusCallError):
        app.call("Status.queue-hold", qid)      # not listed any more


def test_a_change_over_busctl_shows_in_the_list(daemon, app):
    app.show_page("status")
    qid = queue_remote(daemon)
    H.wait_for(lambda: shown_row(app, qid) is not None, 3, "the app to list %s" % qid)
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE_QUEUE, "Hold", "sb", qid, "false")
    H.wait_for(lambda: shown_row(app, qid)["held"], 3, "the app to show the hold made with busctl")
    H.busctl(daemon.bus_address, "call", H.BUS_NAME, H.OBJ_PATH, IFACE_QUEUE, "Delete", "sb", qid, "false")
    H.wait_for(lambda: app.value("Status.queue") == [], 3, "the app to drop the message deleted with busctl")


# ---------------------------------------------------------------- chart

def test_the_chart_draws_given_points(daemon, app):
    """The chart widget on its own: points given through the hook go through
    the same code as History's answer."""
    app.show_page("status")
    now = int(time.time())
    since = now - 3600 + 60
    first = since - since % 60
    points = [(first + 60 * i, (i * 7) % 23) for i in range(60)]
    app.call("Status.chart-load", ("hour", since, points), "(sxa(xt))")
    shown = app.value("Status.chart-points")
    assert [(t, v) for t, v in shown] == [(t, float(v)) for t, v in points]
    axes = app.value("Status.chart-axes")
    assert axes["y-labels"] == ["0", "10", "20", "30"], axes      # at most 4 round steps above 22
    assert 3 <= len(axes["x-labels"]) <= 7 and all(":" in x for x in axes["x-labels"]), axes
    assert axes["caption"] == "Messages received per minute, last hour"
    assert app.value("Status.chart-range") == "hour"

    # a day: 20-minute buckets shown as a per-minute rate
    since = now - 86400 + 1200
    first = since - since % 1200
    app.call("Status.chart-load", ("day", since, [(first, 40), (first + 1200, 10)]), "(sxa(xt))")
    assert app.value("Status.chart-points") == [(first, 2.0), (first + 1200, 0.5)]
    axes = app.value("Status.chart-axes")
    assert axes["y-labels"][-1] == "2.0" and axes["y-labels"][0] == "0.0", axes
    assert "20-minute" in axes["caption"]

    # no points: the axes stay, nothing fails
    app.call("Status.chart-load", ("week", now - 7 * 86400, []), "(sxa(xt))")
    assert app.value("Status.chart-points") == []
    axes = app.value("Status.chart-axes")
    assert axes["y-labels"] == ["0", "1", "2", "3", "4"], axes
    # one a day: every local midnight from the start of the first 2-hour bucket
    # to the end of the current one (7 or 8 of them, depending on the hour)
    since = now - 7 * 86400
    start, end = since - since % 7200, now - now % 7200 + 7200
    day = datetime.datetime.fromtimestamp(start).replace(hour=0, minute=0, second=0)
    midnights = []
    while day.timestamp() <= end:
        if day.timestamp() >= start:
            midnights.append(day.strftime("%a ") + str(day.day).rjust(2))
        day = (day + datetime.timedelta(days=1, hours=12)).replace(hour=0)
    assert axes["x-labels"] == midnights, axes
    assert app.value("Status.chart-range") == "week"


def test_the_chart_shows_the_messages_of_this_minute(daemon, mailbox, app):
    history_or_skip(daemon, app)
    app.show_page("status")
    app.set("Status.chart-range", "hour")
    send(daemon, mailbox, n=4)
    minute = int(time.time()) // 60 * 60

    def this_minute():
        points = dict(app.value("Status.chart-points"))
        # the minute may have turned between the mail and the check
        return points.get(minute, 0) + points.get(minute + 60, 0)

    H.wait_for(lambda: this_minute() == 4.0, 8, "the chart to show 4 messages in this minute",
               details=lambda: repr(app.value("Status.chart-points")[-3:]))
    points = app.value("Status.chart-points")
    assert 60 <= len(points) <= 61
    assert sum(v for _, v in points) == 4.0
    assert app.value("Status.chart-axes")["note"] == ""

    # the day view: the same 4 messages in one 20-minute bar, 4/20 a minute
    app.set("Status.chart-range", "day")
    H.wait_for(lambda: app.value("Status.chart-axes")["caption"].find("24 hours") >= 0
               and sum(v for _, v in app.value("Status.chart-points")) == pytest.approx(0.2), 5,
               "the day chart", details=lambda: repr(app.value("Status.chart-points")[-3:]))
    assert 72 <= len(app.value("Status.chart-points")) <= 73


# ---------------------------------------------------------------- screenshots

def some_traffic(daemon):
    daemon.setup_mailbox()
    send(daemon, "alice@" + H.TEST_DOMAIN, n=5)
    qid = queue_remote(daemon)
    return qid


def screenshot_with_traffic(daemon, app):
    qid = some_traffic(daemon)
    H.wait_for(lambda: shown_row(app, qid) is not None, 3, "the app to list %s" % qid)
    app.wait_value("Status.counter:MessagesReceived", "6", timeout=3)
    if has_history(daemon):
        H.wait_for(lambda: sum(v for _, v in app.value("Status.chart-points")) == 6.0, 8,
                   "the chart to show the 6 messages")
    app.screenshot("status")


def test_screenshot_status_en(daemon, app):
    screenshot_with_traffic(daemon, app)


def test_screenshot_status_fr(daemon, app_fr):
    screenshot_with_traffic(daemon, app_fr)
    assert app_fr.value("Status.chart-axes")["caption"] == "Messages reçus par minute, dernière heure"
    assert app_fr.value("Status.queue")[0]["state"].startswith("Prochain essai à ")
