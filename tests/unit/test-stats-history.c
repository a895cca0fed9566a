/* SPDX-License-Identifier: GPL-3.0-or-later
 * The per-minute statistics history on a real database: counter names,
 * counting by minute from memory, buckets of several minutes aligned to the
 * epoch, gauges (their highest value, idle minutes included), flushing and
 * reading back from a new history on the same database, a partial minute
 * written twice, pruning of what is older than the kept week, the argument
 * errors, a failed write that loses nothing, the migration from version 5,
 * and RelaisStats passing its changes on at the test clock's time. */
#include "config.h"

#include <glib/gstdio.h>

#include "relais-clock.h"
#include "relais-error.h"
#include "relais-stats-history.h"
#include "relais-stats.h"
#include "relais-store.h"
#include "relais-test-util.h"

/* 2026-01-01 00:00:00 UTC: a multiple of 3600 (and of 60, 300). */
#define T ((gint64) 1767225600)
#define WEEK_MINUTES RELAIS_STATS_HISTORY_MINUTES

typedef struct {
  char *dir;
  char *path;
  RelaisStore *store;
  RelaisStatsHistory *history;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("relais-history-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "relais.db", NULL);
  f->store = relais_store_open (f->path, &error);
  g_assert_no_error (error);
  f->history = relais_stats_history_new (f->store);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  relais_stats_history_free (f->history);
  relais_store_free (f->store);
  relais_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* The points as "start:value" words, e.g. "1767225600:3 1767225660:0". */
static char *
query (RelaisStatsHistory *history, const char *counter, gint64 since, gint64 until, guint step, gint64 now)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) points = relais_stats_history_query (history, counter, since, until, step, now, &error);
  g_autoptr (GString) text = g_string_new (NULL);
  GVariantIter iter;
  gint64 start;
  guint64 value;

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (points, G_VARIANT_TYPE ("a(xt)")));
  g_variant_iter_init (&iter, points);
  while (g_variant_iter_next (&iter, "(xt)", &start, &value))
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT ":%" G_GUINT64_FORMAT, text->len ? " " : "",
                            start - T, value);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* The rows of COUNTER in the table as "minute:value" words, minute - T. */
static char *
table_rows (RelaisStore *store, const char *counter)
{
  g_autoptr (GString) text = g_string_new (NULL);
  sqlite3 *db = relais_store_lock (store);
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT minute, value FROM stats_minutes WHERE counter = ?1"
                                           " ORDER BY minute", -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, counter, -1, SQLITE_STATIC);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, text->len ? " " : "",
                            (gint64) sqlite3_column_int64 (stmt, 0) - T, (gint64) sqlite3_column_int64 (stmt, 1));
  sqlite3_finalize (stmt);
  relais_store_unlock (store);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
db_exec (RelaisStore *store, const char *sql)
{
  g_assert_cmpint (sqlite3_exec (relais_store_lock (store), sql, NULL, NULL, NULL), ==, SQLITE_OK);
  relais_store_unlock (store);
}

/* Up to now, as History() asks. */
#define assert_query(h, counter, since, step, now, expected)          \
  assert_range ((h), (counter), (since), G_MAXINT64, (step), (now), (expected))

#define assert_range(h, counter, since, until, step, now, expected)   \
  G_STMT_START {                                                       \
    g_autofree char *got_ = query ((h), (counter), (since), (until), (step), (now)); \
    g_assert_cmpstr (got_, ==, (expected));                            \
  } G_STMT_END

#define assert_rows(store, counter, expected)                          \
  G_STMT_START {                                                       \
    g_autofree char *got_ = table_rows ((store), (counter));           \
    g_assert_cmpstr (got_, ==, (expected));                            \
  } G_STMT_END

static void
test_names (void)
{
  RelaisStat stat;
  guint named = 0;

  for (guint i = 0; i < RELAIS_STAT_N; i++)
    {
      const char *name = relais_stats_history_counter_name ((RelaisStat) i);

      if (name == NULL)
        continue;
      named++;
      g_assert_true (relais_stats_history_counter_lookup (name, &stat));
      g_assert_cmpint (stat, ==, i);
    }
  g_assert_cmpuint (named, ==, 15);
  g_assert_cmpstr (relais_stats_history_counter_name (RELAIS_STAT_BYTES_IN), ==, "BytesReceived");
  g_assert_null (relais_stats_history_counter_name (RELAIS_STAT_QUEUE_OLDEST));
  g_assert_false (relais_stats_history_counter_lookup ("QueueOldestAge", &stat));
  g_assert_false (relais_stats_history_counter_lookup ("messagesreceived", &stat));
  g_assert_false (relais_stats_history_counter_lookup ("", &stat));
  g_assert_false (relais_stats_history_counter_lookup (NULL, &stat));
  g_assert_true (relais_stat_is_gauge (RELAIS_STAT_SESSIONS_OPEN));
  g_assert_true (relais_stat_is_gauge (RELAIS_STAT_QUEUE_LENGTH));
  g_assert_false (relais_stat_is_gauge (RELAIS_STAT_CONNECTIONS));
}

static void
test_current_minute (Fixture *f, gconstpointer data)
{
  relais_stats_history_note (f->history, RELAIS_STAT_MESSAGES_RECEIVED, T + 5, 1, 1);
  relais_stats_history_note (f->history, RELAIS_STAT_MESSAGES_RECEIVED, T + 30, 2, 3);
  relais_stats_history_note (f->history, RELAIS_STAT_BYTES_IN, T + 30, 1000, 1000);
  /* a negative change of an event counter is no event */
  relais_stats_history_note (f->history, RELAIS_STAT_MESSAGES_RECEIVED, T + 31, -1, 2);

  assert_query (f->history, "MessagesReceived", T - 120, 60, T + 40, "-120:0 -60:0 0:3");
  assert_query (f->history, "BytesReceived", T - 1, 60, T + 40, "-60:0 0:1000");
  assert_query (f->history, "Connections", T, 60, T + 59, "0:0");
  /* since in the future: nothing to draw */
  assert_query (f->history, "MessagesReceived", T + 60, 60, T + 40, "");
  /* nothing written yet */
  assert_rows (f->store, "MessagesReceived", "");
}

static void
test_buckets (Fixture *f, gconstpointer data)
{
  /* minutes 0, 1, 4, 5, 9 after T */
  static const int minutes[] = { 0, 1, 4, 5, 9 };

  for (guint i = 0; i < G_N_ELEMENTS (minutes); i++)
    relais_stats_history_note (f->history, RELAIS_STAT_CONNECTIONS, T + minutes[i] * 60 + 7, i + 1, 0);

  /* the closed minutes, not written yet, count as much as the current one */
  assert_query (f->history, "Connections", T, 60, T + 9 * 60 + 8,
                "0:1 60:2 120:0 180:0 240:3 300:4 360:0 420:0 480:0 540:5");
  /* 5-minute buckets aligned to the epoch, since in the middle of one */
  assert_query (f->history, "Connections", T + 61, 300, T + 9 * 60 + 8, "0:6 300:9");
  g_assert_true (relais_stats_history_flush (f->history, T + 9 * 60 + 9, FALSE, NULL));
  assert_rows (f->store, "Connections", "0:1 60:2 240:3 300:4");
  /* the same from the table and memory together */
  assert_query (f->history, "Connections", T - 300, 300, T + 9 * 60 + 10, "-300:0 0:6 300:9");
  assert_query (f->history, "Connections", T, 3600, T + 9 * 60 + 10, "0:15");
}

/* GetHistory(): a window that ends before now. */
static void
test_range (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) points = NULL;
  static const int minutes[] = { 0, 1, 4, 5, 9 };

  for (guint i = 0; i < G_N_ELEMENTS (minutes); i++)
    relais_stats_history_note (f->history, RELAIS_STAT_CONNECTIONS, T + minutes[i] * 60 + 7, i + 1, 0);
  g_assert_true (relais_stats_history_flush (f->history, T + 9 * 60 + 9, FALSE, NULL));

  /* the bucket holding UNTIL is the last, whole: minutes 1 to 5 */
  assert_range (f->history, "Connections", T + 60, T + 5 * 60 + 30, 60, T + 9 * 60 + 10, "60:2 120:0 180:0 240:3 300:4");
  assert_range (f->history, "Connections", T + 60, T + 60, 60, T + 9 * 60 + 10, "60:2");
  /* 5-minute buckets: UNTIL in the first one gives it all (minutes 0 to 4) */
  assert_range (f->history, "Connections", T, T + 1, 300, T + 9 * 60 + 10, "0:6");
  /* past the current minute: up to now, the memory included */
  assert_range (f->history, "Connections", T + 8 * 60, T + 3600, 60, T + 9 * 60 + 10, "480:0 540:5");
  /* before the kept week: nothing */
  assert_range (f->history, "Connections", 0, 3600, 60, T, "");

  points = relais_stats_history_query (f->history, "Connections", T + 60, T, 60, T + 600, &error);
  g_assert_null (points);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "to: "));
  g_assert_nonnull (strstr (error->message, "is before from"));
}

static void
test_gauges (Fixture *f, gconstpointer data)
{
  relais_stats_history_note (f->history, RELAIS_STAT_SESSIONS_OPEN, T + 1, 1, 3);
  relais_stats_history_note (f->history, RELAIS_STAT_SESSIONS_OPEN, T + 2, -2, 1);
  relais_stats_history_note (f->history, RELAIS_STAT_QUEUE_LENGTH, T + 3, 1, 2);
  relais_stats_history_note (f->history, RELAIS_STAT_QUEUE_LENGTH, T + 4, -1, 1);
  relais_stats_history_note (f->history, RELAIS_STAT_QUEUE_LENGTH, T + 5, -1, 0);

  /* minutes 1 and 2 saw no change: the session still open counts there */
  assert_query (f->history, "SessionsOpen", T, 60, T + 185, "0:3 60:1 120:1 180:1");
  assert_query (f->history, "SessionsOpen", T, 120, T + 185, "0:3 120:1");
  assert_query (f->history, "QueueLength", T, 60, T + 185, "0:2 60:0 120:0 180:0");
  g_assert_true (relais_stats_history_flush (f->history, T + 185, FALSE, NULL));
  assert_rows (f->store, "SessionsOpen", "0:3 60:1 120:1");
  assert_rows (f->store, "QueueLength", "0:2");

  /* back to 0: no more rows */
  relais_stats_history_note (f->history, RELAIS_STAT_SESSIONS_OPEN, T + 200, -1, 0);
  g_assert_true (relais_stats_history_flush (f->history, T + 400, FALSE, NULL));
  assert_rows (f->store, "SessionsOpen", "0:3 60:1 120:1 180:1");
}

static void
test_persist (Fixture *f, gconstpointer data)
{
  g_autoptr (RelaisStatsHistory) again = NULL;

  relais_stats_history_note (f->history, RELAIS_STAT_DELIVERED_LOCAL, T + 10, 1, 0);
  relais_stats_history_note (f->history, RELAIS_STAT_DELIVERED_LOCAL, T + 70, 4, 0);
  relais_stats_history_note (f->history, RELAIS_STAT_QUEUE_LENGTH, T + 75, 1, 5);
  /* the shutdown flush keeps the partial minute */
  g_assert_true (relais_stats_history_flush (f->history, T + 80, TRUE, NULL));
  assert_rows (f->store, "DeliveredLocal", "0:1 60:4");
  assert_rows (f->store, "QueueLength", "60:5");
  /* more in the same minute is added to the row, not counted twice */
  relais_stats_history_note (f->history, RELAIS_STAT_DELIVERED_LOCAL, T + 90, 2, 0);
  assert_query (f->history, "DeliveredLocal", T, 60, T + 91, "0:1 60:6");
  g_assert_true (relais_stats_history_flush (f->history, T + 95, TRUE, NULL));
  assert_rows (f->store, "DeliveredLocal", "0:1 60:6");
  assert_rows (f->store, "QueueLength", "60:5");
  assert_query (f->history, "DeliveredLocal", T, 60, T + 96, "0:1 60:6");

  /* a restart within the same minute: a new history on the same database */
  again = relais_stats_history_new (f->store);
  assert_query (again, "DeliveredLocal", T, 60, T + 100, "0:1 60:6");
  relais_stats_history_note (again, RELAIS_STAT_DELIVERED_LOCAL, T + 101, 1, 0);
  assert_query (again, "DeliveredLocal", T, 60, T + 102, "0:1 60:7");
  g_assert_true (relais_stats_history_flush (again, T + 130, FALSE, NULL));
  assert_rows (f->store, "DeliveredLocal", "0:1 60:7");
  assert_query (again, "DeliveredLocal", T, 60, T + 130, "0:1 60:7 120:0");
}

static void
test_prune (Fixture *f, gconstpointer data)
{
  gint64 now = T + 30;
  gint64 oldest = T - (WEEK_MINUTES - 1) * 60;
  g_autofree char *sql = g_strdup_printf ("INSERT INTO stats_minutes VALUES"
                                          " ('Bounced', %" G_GINT64_FORMAT ", 7),"
                                          " ('Bounced', %" G_GINT64_FORMAT ", 8),"
                                          " ('Deferred', %" G_GINT64_FORMAT ", 9)",
                                          oldest - 60, oldest, oldest - 3600);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) points = NULL;
  gint64 start;
  guint64 value;

  db_exec (f->store, sql);
  /* a week of minutes at most, whatever since says; 8 days ago is not read */
  points = relais_stats_history_query (f->history, "Bounced", 0, G_MAXINT64, 60, now, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (points), ==, WEEK_MINUTES);
  g_variant_get_child (points, 0, "(xt)", &start, &value);
  g_assert_cmpint (start, ==, oldest);
  g_assert_cmpuint (value, ==, 8);
  g_variant_get_child (points, WEEK_MINUTES - 1, "(xt)", &start, &value);
  g_assert_cmpint (start, ==, T);
  g_assert_cmpuint (value, ==, 0);
  g_clear_pointer (&points, g_variant_unref);

  g_assert_true (relais_stats_history_flush (f->history, now, FALSE, &error));
  g_assert_no_error (error);
  assert_rows (f->store, "Bounced", "-604740:8");
  assert_rows (f->store, "Deferred", "");
  /* a minute later, the oldest minute left the week too */
  g_assert_true (relais_stats_history_flush (f->history, now + 60, FALSE, &error));
  assert_rows (f->store, "Bounced", "");
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  static const guint bad_steps[] = { 0, 1, 59, 90, 61 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) points = NULL;

  points = relais_stats_history_query (f->history, "Messages", T, T, 60, T, &error);
  g_assert_null (points);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "counter: 'Messages'"));
  g_assert_nonnull (strstr (error->message, "Connections, SessionsOpen, MessagesReceived"));
  g_assert_nonnull (strstr (error->message, "QueueLength"));
  g_assert_null (strstr (error->message, "QueueOldest"));
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (bad_steps); i++)
    {
      points = relais_stats_history_query (f->history, "Connections", T, T, bad_steps[i], T, &error);
      g_assert_null (points);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, "step: "));
      g_assert_nonnull (strstr (error->message, "multiple of 60"));
      g_clear_error (&error);
    }
  /* the largest steps are fine: one point */
  assert_query (f->history, "Connections", T, 7 * 24 * 3600, T, "0:0");
  assert_query (f->history, "Connections", T, G_MAXUINT32 / 60 * 60, T, "-1767225600:0");
}

/* A write that fails loses nothing: the minutes wait for the next flush. */
static void
test_write_error (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  relais_stats_history_note (f->history, RELAIS_STAT_REJECTED, T + 1, 2, 2);
  relais_stats_history_note (f->history, RELAIS_STAT_REJECTED, T + 61, 3, 5);
  db_exec (f->store, "ALTER TABLE stats_minutes RENAME TO elsewhere");
  g_assert_false (relais_stats_history_flush (f->history, T + 125, TRUE, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "stats_minutes"));
  g_clear_error (&error);
  /* reading fails the same way, as an error, not a crash */
  g_assert_null (relais_stats_history_query (f->history, "Rejected", T, G_MAXINT64, 60, T + 125, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  g_clear_error (&error);

  db_exec (f->store, "ALTER TABLE elsewhere RENAME TO stats_minutes");
  relais_stats_history_note (f->history, RELAIS_STAT_REJECTED, T + 130, 1, 6);
  g_assert_true (relais_stats_history_flush (f->history, T + 190, FALSE, &error));
  g_assert_no_error (error);
  assert_rows (f->store, "Rejected", "0:2 60:3 120:1");
}

static void
test_migration_from_v5 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStatsHistory) history = NULL;

  g_clear_pointer (&f->history, relais_stats_history_free);
  db_exec (f->store, "DROP TABLE stats_minutes; DROP TABLE dkim_keys; DROP TABLE audit; ALTER TABLE messages DROP COLUMN received_usec; ALTER TABLE messages DROP COLUMN spool_file; PRAGMA user_version = 5;");
  g_clear_pointer (&f->store, relais_store_free);

  f->store = relais_store_open (f->path, &error);
  g_assert_no_error (error);
  history = relais_stats_history_new (f->store);
  relais_stats_history_note (history, RELAIS_STAT_TLS_SESSIONS, T, 1, 1);
  g_assert_true (relais_stats_history_flush (history, T + 60, FALSE, &error));
  g_assert_no_error (error);
  assert_rows (f->store, "TlsSessions", "0:1");
  g_assert_cmpint (RELAIS_STORE_SCHEMA_VERSION, >=, 6);
}

/* RelaisStats passes every change on, at the clock's time. */
static void
test_stats_forward (Fixture *f, gconstpointer data)
{
  g_autofree char *clock = g_build_filename (f->dir, "clock", NULL);
  g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, T + 15);
  g_autofree char *later = g_strdup_printf ("%" G_GINT64_FORMAT, T + 75);
  g_autoptr (RelaisStats) stats = relais_stats_new ();

  g_assert_true (g_file_set_contents (clock, now, -1, NULL));
  g_setenv (RELAIS_TEST_CLOCK_ENV, clock, TRUE);

  relais_stats_add (stats, RELAIS_STAT_QUEUE_LENGTH, 4);        /* before: no history */
  relais_stats_set_history (stats, f->history);                 /* the gauge is noted at once */
  relais_stats_add (stats, RELAIS_STAT_MESSAGES_RECEIVED, 1);
  relais_stats_reject (stats, "syntax");
  relais_stats_set (stats, RELAIS_STAT_QUEUE_OLDEST, T);        /* no history: ignored */
  g_assert_true (g_file_set_contents (clock, later, -1, NULL));
  relais_stats_add (stats, RELAIS_STAT_MESSAGES_RECEIVED, 2);
  relais_stats_add (stats, RELAIS_STAT_QUEUE_LENGTH, -1);

  assert_query (f->history, "MessagesReceived", T, 60, T + 80, "0:1 60:2");
  assert_query (f->history, "Rejected", T, 60, T + 80, "0:1 60:0");
  assert_query (f->history, "QueueLength", T, 60, T + 80, "0:4 60:4");
  relais_stats_set_history (stats, NULL);
  relais_stats_add (stats, RELAIS_STAT_MESSAGES_RECEIVED, 5);
  assert_query (f->history, "MessagesReceived", T, 60, T + 80, "0:1 60:2");
  g_unsetenv (RELAIS_TEST_CLOCK_ENV);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/stats-history/names", test_names);
  g_test_add ("/relais/stats-history/current-minute", Fixture, NULL, setup, test_current_minute, teardown);
  g_test_add ("/relais/stats-history/buckets", Fixture, NULL, setup, test_buckets, teardown);
  g_test_add ("/relais/stats-history/range", Fixture, NULL, setup, test_range, teardown);
  g_test_add ("/relais/stats-history/gauges", Fixture, NULL, setup, test_gauges, teardown);
  g_test_add ("/relais/stats-history/persist", Fixture, NULL, setup, test_persist, teardown);
  g_test_add ("/relais/stats-history/prune", Fixture, NULL, setup, test_prune, teardown);
  g_test_add ("/relais/stats-history/errors", Fixture, NULL, setup, test_errors, teardown);
  g_test_add ("/relais/stats-history/write-error", Fixture, NULL, setup, test_write_error, teardown);
  g_test_add ("/relais/stats-history/migration-from-v5", Fixture, NULL, setup, test_migration_from_v5, teardown);
  g_test_add ("/relais/stats-history/stats-forward", Fixture, NULL, setup, test_stats_forward, teardown);
  return g_test_run ();
}
