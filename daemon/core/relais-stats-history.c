/* SPDX-License-Identifier: GPL-3.0-or-later
 * The per-minute history of the counters (see relais-stats-history.h). In
 * memory: the current minute, and the closed minutes not yet written, each a
 * full row of RELAIS_STAT_N values. In SQLite: stats_minutes, one row per
 * counter and minute that was not 0, written with an upsert that adds (event
 * counters) or keeps the larger (gauges), so a minute written twice (at
 * shutdown, then again after a restart within the same minute) stays right. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-stats-history.h"

#include <sqlite3.h>
#include <string.h>

#include "relais-clock.h"
#include "relais-error.h"

typedef struct {
  gint64 minute;                  /* unix time of its first second */
  gint64 values[RELAIS_STAT_N];   /* growth, or a gauge's highest value */
} Minute;

struct _RelaisStatsHistory {
  RelaisStore *store;             /* borrowed */
  gboolean started;               /* current holds a minute */
  Minute current;
  gint64 gauges[RELAIS_STAT_N];   /* each gauge's value now */
  GArray *closed;                 /* of Minute, oldest first, not yet written */
  guint timer;
  guint test_interval;            /* seconds; 0: at each minute boundary */
};

static const char *const counter_names[RELAIS_STAT_N] = {
  [RELAIS_STAT_CONNECTIONS] = "Connections",
  [RELAIS_STAT_SESSIONS_OPEN] = "SessionsOpen",
  [RELAIS_STAT_MESSAGES_RECEIVED] = "MessagesReceived",
  [RELAIS_STAT_DELIVERED_LOCAL] = "DeliveredLocal",
  [RELAIS_STAT_DELIVERED_REMOTE] = "DeliveredRemote",
  [RELAIS_STAT_DEFERRED] = "Deferred",
  [RELAIS_STAT_BOUNCED] = "Bounced",
  [RELAIS_STAT_REJECTED] = "Rejected",
  [RELAIS_STAT_BYTES_IN] = "BytesReceived",
  [RELAIS_STAT_BYTES_SENT] = "BytesSent",
  [RELAIS_STAT_TLS_SESSIONS] = "TlsSessions",
  [RELAIS_STAT_QUEUE_LENGTH] = "QueueLength",
  [RELAIS_STAT_QUEUE_OLDEST] = NULL,   /* an age: its maximum per minute would say little */
  [RELAIS_STAT_AUTH_SUCCESSES] = "AuthSuccesses",
  [RELAIS_STAT_AUTH_FAILURES] = "AuthFailures",
  [RELAIS_STAT_DISCARDED] = "Discarded",
};

const char *
relais_stats_history_counter_name (RelaisStat stat)
{
  return stat < RELAIS_STAT_N ? counter_names[stat] : NULL;
}

gboolean
relais_stats_history_counter_lookup (const char *name, RelaisStat *stat)
{
  for (guint i = 0; name != NULL && i < RELAIS_STAT_N; i++)
    if (counter_names[i] != NULL && g_str_equal (counter_names[i], name))
      {
        *stat = (RelaisStat) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
relais_stat_is_gauge (RelaisStat stat)
{
  return stat == RELAIS_STAT_SESSIONS_OPEN || stat == RELAIS_STAT_QUEUE_LENGTH ||
         stat == RELAIS_STAT_QUEUE_OLDEST;
}

/* T rounded down to a multiple of UNIT, negative times included. */
static gint64
floor_to (gint64 t, gint64 unit)
{
  gint64 r = t % unit;

  return r < 0 ? t - r - unit : t - r;
}

/* The first minute still kept at NOW. */
static gint64
oldest_kept (gint64 now)
{
  return floor_to (now, 60) - (RELAIS_STATS_HISTORY_MINUTES - 1) * 60;
}

static gint64
combine (RelaisStat stat, gint64 a, gint64 b)
{
  return relais_stat_is_gauge (stat) ? MAX (a, b) : a + b;
}

RelaisStatsHistory *
relais_stats_history_new (RelaisStore *store)
{
  RelaisStatsHistory *history = g_new0 (RelaisStatsHistory, 1);

  history->store = store;
  history->closed = g_array_new (FALSE, FALSE, sizeof (Minute));
  return history;
}

void
relais_stats_history_free (RelaisStatsHistory *history)
{
  if (history == NULL)
    return;
  g_clear_handle_id (&history->timer, g_source_remove);
  g_array_unref (history->closed);
  g_free (history);
}

/* A minute where nothing happened yet: the gauges keep their values. */
static void
minute_init (RelaisStatsHistory *history, Minute *minute, gint64 start)
{
  memset (minute, 0, sizeof *minute);
  minute->minute = start;
  for (guint i = 0; i < RELAIS_STAT_N; i++)
    if (relais_stat_is_gauge ((RelaisStat) i))
      minute->values[i] = history->gauges[i];
}

static gboolean
minute_is_empty (const Minute *minute)
{
  for (guint i = 0; i < RELAIS_STAT_N; i++)
    if (counter_names[i] != NULL && minute->values[i] != 0)
      return FALSE;
  return TRUE;
}

/* Drops the closed minutes that left the kept week (only a store failing for
 * a long time lets them get that old). */
static void
forget_old (RelaisStatsHistory *history, gint64 now)
{
  gint64 oldest = oldest_kept (now);
  guint n = 0;

  while (n < history->closed->len && g_array_index (history->closed, Minute, n).minute < oldest)
    n++;
  if (n > 0)
    g_array_remove_range (history->closed, 0, n);
}

/* Makes NOW's minute the current one, closing the one before. Minutes skipped
 * without any event (the timer is late, the machine slept, a test moved the
 * clock) get the gauges' values, within the kept week. A clock going back
 * keeps counting into the current minute. */
static void
roll (RelaisStatsHistory *history, gint64 now)
{
  gint64 start = floor_to (now, 60);
  Minute idle;

  if (!history->started)
    {
      minute_init (history, &history->current, start);
      history->started = TRUE;
      return;
    }
  if (start <= history->current.minute)
    return;
  if (!minute_is_empty (&history->current))
    g_array_append_val (history->closed, history->current);
  minute_init (history, &idle, MAX (history->current.minute + 60, oldest_kept (now)));
  if (!minute_is_empty (&idle))
    for (; idle.minute < start; idle.minute += 60)
      g_array_append_val (history->closed, idle);
  minute_init (history, &history->current, start);
  forget_old (history, now);
}

void
relais_stats_history_note (RelaisStatsHistory *history, RelaisStat stat, gint64 now, gint64 delta, gint64 value)
{
  if (stat >= RELAIS_STAT_N || counter_names[stat] == NULL)
    return;
  roll (history, now);
  if (relais_stat_is_gauge (stat))
    {
      history->gauges[stat] = MAX (value, 0);
      history->current.values[stat] = MAX (history->current.values[stat], history->gauges[stat]);
    }
  else if (delta > 0)
    history->current.values[stat] += delta;
}

/* ---------------------------------------------------------------- SQLite */

static gboolean
exec (sqlite3 *db, const char *sql, GError **error)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "statistics history", error);
      return FALSE;
    }
  return TRUE;
}

static sqlite3_stmt *
prepare (sqlite3 *db, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "statistics history: cannot prepare a statement", error);
      return NULL;
    }
  return stmt;
}

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *add;     /* event counters */
  sqlite3_stmt *peak;    /* gauges */
  sqlite3_stmt *prune;
} Writer;

static void
writer_clear (Writer *w)
{
  sqlite3_finalize (w->add);
  sqlite3_finalize (w->peak);
  sqlite3_finalize (w->prune);
}

static gboolean
run (sqlite3 *db, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "statistics history: cannot write to the database", error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_minute (Writer *w, const Minute *minute, GError **error)
{
  for (guint i = 0; i < RELAIS_STAT_N; i++)
    {
      sqlite3_stmt *stmt = relais_stat_is_gauge ((RelaisStat) i) ? w->peak : w->add;

      if (counter_names[i] == NULL || minute->values[i] == 0)
        continue;
      sqlite3_bind_text (stmt, 1, counter_names[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, minute->minute);
      sqlite3_bind_int64 (stmt, 3, minute->values[i]);
      if (!run (w->db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
write_all (Writer *w, RelaisStatsHistory *history, gboolean with_current, gint64 oldest, GError **error)
{
  for (guint i = 0; i < history->closed->len; i++)
    if (!write_minute (w, &g_array_index (history->closed, Minute, i), error))
      return FALSE;
  if (with_current && history->started && !write_minute (w, &history->current, error))
    return FALSE;
  /* One indexed range per counter rather than a scan of the whole table. */
  for (guint i = 0; i < RELAIS_STAT_N; i++)
    {
      if (counter_names[i] == NULL)
        continue;
      sqlite3_bind_text (w->prune, 1, counter_names[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (w->prune, 2, oldest);
      if (!run (w->db, w->prune, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
relais_stats_history_flush (RelaisStatsHistory *history, gint64 now, gboolean with_current, GError **error)
{
  Writer w = { 0 };
  gboolean ok;

  roll (history, now);
  forget_old (history, now);

  w.db = relais_store_lock (history->store);
  ok = (w.add = prepare (w.db,
                         "INSERT INTO stats_minutes (counter, minute, value) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT (counter, minute) DO UPDATE SET value = value + excluded.value",
                         error)) != NULL &&
       (w.peak = prepare (w.db,
                          "INSERT INTO stats_minutes (counter, minute, value) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT (counter, minute) DO UPDATE SET value = MAX (value, excluded.value)",
                          error)) != NULL &&
       (w.prune = prepare (w.db, "DELETE FROM stats_minutes WHERE counter = ?1 AND minute < ?2", error)) != NULL &&
       exec (w.db, "BEGIN IMMEDIATE", error);
  if (ok)
    {
      ok = write_all (&w, history, with_current, oldest_kept (now), error) && exec (w.db, "COMMIT", error);
      if (!ok)
        sqlite3_exec (w.db, "ROLLBACK", NULL, NULL, NULL);
    }
  writer_clear (&w);
  relais_store_unlock (history->store);
  if (!ok)
    return FALSE;

  g_array_set_size (history->closed, 0);
  /* What was written of the current minute is in the table now; the events
   * still to come in it will be added to the row. */
  if (with_current && history->started)
    minute_init (history, &history->current, history->current.minute);
  return TRUE;
}

/* ---------------------------------------------------------------- query */

static char *
counter_list (void)
{
  g_autoptr (GString) list = g_string_new (NULL);

  for (guint i = 0; i < RELAIS_STAT_N; i++)
    if (counter_names[i] != NULL)
      g_string_append_printf (list, "%s%s", list->len ? ", " : "", counter_names[i]);
  return g_string_free (g_steal_pointer (&list), FALSE);
}

/* Adds the table's minutes of STAT from FROM to TO (included) into VALUES,
 * whose bucket 0 starts at FIRST. */
static gboolean
read_table (RelaisStatsHistory *history, RelaisStat stat, gint64 from, gint64 to, gint64 first, guint step,
            gint64 *values, GError **error)
{
  sqlite3 *db = relais_store_lock (history->store);
  sqlite3_stmt *stmt = prepare (db,
                                "SELECT minute, value FROM stats_minutes"
                                " WHERE counter = ?1 AND minute >= ?2 AND minute <= ?3",
                                error);
  int rc = SQLITE_DONE;

  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, counter_names[stat], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, from);
      sqlite3_bind_int64 (stmt, 3, to);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          gint64 i = (sqlite3_column_int64 (stmt, 0) - first) / step;

          values[i] = combine (stat, values[i], MAX (sqlite3_column_int64 (stmt, 1), 0));
        }
      if (rc != SQLITE_DONE)
        relais_store_set_error (db, "statistics history: cannot read the database", error);
      sqlite3_finalize (stmt);
    }
  relais_store_unlock (history->store);
  return stmt != NULL && rc == SQLITE_DONE;
}

static void
add_memory (const Minute *minute, RelaisStat stat, gint64 from, gint64 to, gint64 first, guint step,
            gint64 *values)
{
  gint64 i;

  if (minute->minute < from || minute->minute > to)
    return;
  i = (minute->minute - first) / step;
  values[i] = combine (stat, values[i], minute->values[stat]);
}

GVariant *
relais_stats_history_query (RelaisStatsHistory *history, const char *counter, gint64 since, gint64 until,
                            guint step, gint64 now, GError **error)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(xt)"));
  g_autofree gint64 *values = NULL;
  gint64 oldest = oldest_kept (now);
  gint64 current = floor_to (now, 60);
  gint64 first, last, n, from, to;
  RelaisStat stat;

  if (!relais_stats_history_counter_lookup (counter, &stat))
    {
      g_autofree char *list = counter_list ();

      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "counter: '%s' is not a counter with a history; use one of %s", counter, list);
      return NULL;
    }
  if (step < 60 || step % 60 != 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "step: %u seconds is not allowed; use a multiple of 60 seconds, at least 60 "
                   "(the history is kept per minute)",
                   step);
      return NULL;
    }

  if (until < since)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "to: %" G_GINT64_FORMAT " is before from: %" G_GINT64_FORMAT "; give the earlier instant first",
                   until, since);
      return NULL;
    }

  since = MAX (since, oldest);
  first = floor_to (since, step);
  last = floor_to (MIN (until, current), step);
  if (first > last)   /* SINCE is in the future, or UNTIL before the kept week */
    return g_variant_builder_end (&builder);
  /* the last minute counted: the end of UNTIL's bucket, or the current one */
  to = MIN (last + step - 60, current);
  n = (last - first) / step + 1;
  /* The week clamp keeps N within a week of minutes; this guards the
   * allocation should the kept period ever change. */
  if (n > RELAIS_STATS_HISTORY_MAX_POINTS)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "step: %u seconds from since gives %" G_GINT64_FORMAT " points, more than %d; "
                   "use a larger step",
                   step, n, RELAIS_STATS_HISTORY_MAX_POINTS);
      return NULL;
    }

  /* Bring the current minute to NOW first: a gauge that did not move in
   * minutes still has its value now. */
  roll (history, now);
  values = g_new0 (gint64, n);
  from = MAX (first, oldest);   /* the whole first bucket, as far as it is kept */
  if (!read_table (history, stat, from, to, first, step, values, error))
    return NULL;
  for (guint i = 0; i < history->closed->len; i++)
    add_memory (&g_array_index (history->closed, Minute, i), stat, from, to, first, step, values);
  if (history->started)
    add_memory (&history->current, stat, from, to, first, step, values);

  for (gint64 i = 0; i < n; i++)
    g_variant_builder_add (&builder, "(xt)", first + i * step, (guint64) values[i]);
  return g_variant_builder_end (&builder);
}

/* ---------------------------------------------------------------- timer */

static void schedule (RelaisStatsHistory *history);

static gboolean
minute_cb (gpointer user_data)
{
  RelaisStatsHistory *history = user_data;
  g_autoptr (GError) error = NULL;

  history->timer = 0;
  if (!relais_stats_history_flush (history, relais_clock_now (), FALSE, &error))
    g_warning ("The per-minute statistics could not be saved (they are kept in memory and retried "
               "in a minute): %s",
               error->message);
  schedule (history);
  return G_SOURCE_REMOVE;
}

static void
schedule (RelaisStatsHistory *history)
{
  const gint64 minute_us = 60 * G_USEC_PER_SEC;
  gint64 now_us = g_get_real_time ();
  /* A little after the boundary, so the timer never fires just before it. */
  guint delay_ms = (guint) ((minute_us - now_us % minute_us) / 1000) + 20;

  if (history->test_interval > 0)
    delay_ms = history->test_interval * 1000;
  history->timer = g_timeout_add_full (G_PRIORITY_DEFAULT, delay_ms, minute_cb, history, NULL);
}

void
relais_stats_history_start (RelaisStatsHistory *history)
{
  const char *value = g_getenv ("RELAIS_TEST_STATS_FLUSH_SECONDS");
  guint64 n;

  g_return_if_fail (history->timer == 0);
  if (value != NULL && g_ascii_string_to_unsigned (value, 10, 1, 3600, &n, NULL))
    {
      g_warning ("RELAIS_TEST_STATS_FLUSH_SECONDS=%" G_GUINT64_FORMAT " is set: the statistics history "
                 "is written every %" G_GUINT64_FORMAT " s, for tests",
                 n, n);
      history->test_interval = (guint) n;
    }
  schedule (history);
}
