/* SPDX-License-Identifier: GPL-3.0-or-later
 * Statistics kept per minute for 7 days (SPEC §5). The counters of
 * relais-stats.h report every change here (relais_stats_set_history()); this
 * module sums them by calendar minute (UTC, aligned to the Unix epoch): for an
 * event counter how much it grew during the minute, for a gauge (SessionsOpen,
 * QueueLength) the highest value it had. Closed minutes wait in memory until
 * relais_stats_history_flush() writes them to the store's stats_minutes table
 * in one transaction, which also drops the rows that left the 7 days; the
 * daemon flushes from a timer at each minute boundary and once more at a clean
 * shutdown (with the current, partial minute). relais_stats_history_query()
 * merges the table with what is still in memory, so the current minute is
 * seen at once.
 *
 * Counters are named by their D-Bus property names (Connections,
 * MessagesReceived, ...). Main thread only; "now" is always a parameter
 * (unix seconds), so tests set it, and the daemon passes relais_clock_now(). */
#pragma once

#include <glib.h>

#include "relais-stats.h"
#include "relais-store.h"

G_BEGIN_DECLS

/* How long minutes are kept: one week, including the current minute. */
#define RELAIS_STATS_HISTORY_MINUTES     (7 * 24 * 60)
/* The most points one query returns: a week of minutes. */
#define RELAIS_STATS_HISTORY_MAX_POINTS  RELAIS_STATS_HISTORY_MINUTES

typedef struct _RelaisStatsHistory RelaisStatsHistory;

/* STORE is borrowed and must outlive the history. */
RelaisStatsHistory *relais_stats_history_new (RelaisStore *store);
void                relais_stats_history_free (RelaisStatsHistory *history);

/* The D-Bus name of STAT, or NULL for a counter without history
 * (QueueOldestAge). */
const char         *relais_stats_history_counter_name (RelaisStat stat);
/* The counter called NAME; FALSE if there is none with a history. */
gboolean            relais_stats_history_counter_lookup (const char *name, RelaisStat *stat);
/* SessionsOpen, QueueLength (and QueueOldest): values, not events. */
gboolean            relais_stat_is_gauge (RelaisStat stat);

/* At NOW, the event counter STAT grew by DELTA (ignored unless positive), or
 * the gauge STAT is now VALUE. */
void                relais_stats_history_note (RelaisStatsHistory *history, RelaisStat stat, gint64 now,
                                               gint64 delta, gint64 value);

/* Closes the minutes before NOW's and writes them, and the current one too
 * when WITH_CURRENT (at shutdown), in one transaction that also deletes the
 * rows older than the kept week. On a write error nothing is lost yet: the
 * minutes stay in memory (within the week) for the next flush. */
gboolean            relais_stats_history_flush (RelaisStatsHistory *history, gint64 now, gboolean with_current,
                                                GError **error);

/* a(xt): (bucket start, value) for every STEP-second bucket (aligned to the
 * epoch) from the one holding SINCE, clamped to the kept week, up to the one
 * holding UNTIL, or NOW's minute if earlier; event counters summed over the
 * bucket, gauges their maximum, 0 for nothing: at most
 * RELAIS_STATS_HISTORY_MAX_POINTS points. RELAIS_ERROR_INVALID_ARGUMENT for an
 * unknown COUNTER, a STEP that is not a positive multiple of 60, or UNTIL
 * before SINCE; RELAIS_ERROR_STORAGE if the table cannot be read. SINCE after
 * NOW, or UNTIL before the kept week: no points. */
GVariant           *relais_stats_history_query (RelaisStatsHistory *history, const char *counter, gint64 since,
                                                gint64 until, guint step, gint64 now, GError **error);

/* Flushes at every minute boundary of the real clock, from the default main
 * context, with relais_clock_now() as now; a failed flush is logged. For
 * tests, RELAIS_TEST_STATS_FLUSH_SECONDS=N (1 to 3600) flushes every N
 * seconds instead (minutes still close on relais_clock_now()'s). */
void                relais_stats_history_start (RelaisStatsHistory *history);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisStatsHistory, relais_stats_history_free)

G_END_DECLS
