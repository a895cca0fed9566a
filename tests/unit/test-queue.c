/* SPDX-License-Identifier: GPL-3.0-or-later
 * The durable queue and the scheduler: spool files and rows after a commit,
 * abort, group commit, a failing message alone in its batch, recovery after a
 * crash, routing (local, forwards, postmaster), delivery outcomes
 * (delivered, deferred with back-off, given up, permanent failure), and the
 * administration functions (list, show, hold, release, retry now, delete,
 * also while a delivery is under way). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "relais-error.h"
#include "relais-maildir.h"
#include "relais-queue.h"
#include "relais-scheduler.h"
#include "relais-services.h"
#include "relais-store.h"
#include "relais-test-util.h"

typedef sqlite3_stmt TestStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestStmt, sqlite3_finalize)

typedef struct {
  char *state_dir;
  char *tmp_dir;
  char *msg_dir;
  RelaisStore *store;
  RelaisStats *stats;
  RelaisQueue *queue;
  RelaisConfig *config;
  GPtrArray *committed_ids;     /* from the committed func */
} Fixture;

typedef struct {
  guint n_pending;
  guint n_ok;
  guint n_failed;
  GError *last_error;
} CommitWait;

/* Set while a test expects the "queue file is missing" warning. */
static guint expected_lost_warnings;

static GLogWriterOutput
test_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & G_LOG_LEVEL_WARNING) && expected_lost_warnings > 0)
    {
      for (gsize i = 0; i < n_fields; i++)
        if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
            strstr (fields[i].value, "is missing from") != NULL)
          {
            expected_lost_warnings--;
            return G_LOG_WRITER_HANDLED;
          }
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static guint
count_files (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  const char *name;

  if (dir == NULL)
    return 0;
  /* files kept for reuse (empty, or a delivered message's) are not messages */
  while ((name = g_dir_read_name (dir)) != NULL)
    if (!g_str_has_prefix (name, QUEUE_SPARE_PREFIX))
      n++;
  return n;
}

static void
committed_cb (const RelaisQueuedMessage *message, gpointer user_data)
{
  Fixture *fixture = user_data;

  g_ptr_array_add (fixture->committed_ids, g_strdup (message->id));
}

static void
open_queue (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;

  fixture->queue = relais_queue_new (fixture->store, fixture->stats, fixture->state_dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->queue);
  relais_queue_set_committed_func (fixture->queue, committed_cb, fixture);
}

static RelaisConfig *
make_config (gboolean disable_auto_forward, const char *const *administrators)
{
  g_autoptr(RelaisConfig) base = relais_config_new_default ();
  g_autoptr(RelaisConfig) with_domain = NULL;
  g_autoptr(RelaisConfig) with_alice = NULL;
  g_autoptr(RelaisConfig) with_bob = NULL;
  g_autoptr(GError) error = NULL;
  const char *alice_forwards[] = { "alice@elsewhere.org", "bob@example.com", NULL };
  const char *bob_aliases[] = { "robert@example.com", NULL };
  RelaisAccount alice = { (char *) "alice", (char *) "$6$salt$hash", NULL, (GStrv) alice_forwards };
  RelaisAccount bob = { (char *) "bob", (char *) "$6$salt$hash", (GStrv) bob_aliases, NULL };
  g_autoptr(GVariant) general = NULL;
  GVariantBuilder changes;

  with_domain = relais_config_add_local_domain (base, "example.com", &error);
  g_assert_no_error (error);
  with_alice = relais_config_put_account (with_domain, &alice, TRUE, &error);
  g_assert_no_error (error);
  with_bob = relais_config_put_account (with_alice, &bob, TRUE, &error);
  g_assert_no_error (error);

  g_variant_builder_init (&changes, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changes, "{sv}", "DisableAutoForward", g_variant_new_boolean (disable_auto_forward));
  g_variant_builder_add (&changes, "{sv}", "ExternalAdministrators",
                         g_variant_new_strv (administrators, -1));
  general = g_variant_ref_sink (g_variant_builder_end (&changes));
  return relais_config_apply_general (with_bob, general, &error);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *db_path = NULL;
  const char *no_admins[] = { NULL };

  fixture->state_dir = g_dir_make_tmp ("relais-queue-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->tmp_dir = g_build_filename (fixture->state_dir, "spool", "tmp", NULL);
  fixture->msg_dir = g_build_filename (fixture->state_dir, "spool", "msg", NULL);
  db_path = g_build_filename (fixture->state_dir, "relais.db", NULL);
  fixture->store = relais_store_open (db_path, &error);
  g_assert_no_error (error);
  fixture->stats = relais_stats_new ();
  fixture->committed_ids = g_ptr_array_new_with_free_func (g_free);
  fixture->config = make_config (FALSE, no_admins);
  g_assert_nonnull (fixture->config);
  open_queue (fixture);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_clear_pointer (&fixture->queue, relais_queue_free);
  g_clear_pointer (&fixture->store, relais_store_free);
  g_clear_pointer (&fixture->stats, relais_stats_free);
  g_clear_pointer (&fixture->config, relais_config_unref);
  g_ptr_array_unref (fixture->committed_ids);
  relais_test_remove_tree (fixture->state_dir);
  g_free (fixture->state_dir);
  g_free (fixture->tmp_dir);
  g_free (fixture->msg_dir);
}

static void
commit_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CommitWait *wait = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_null (source);
  if (relais_queue_commit_finish (NULL, result, &error))
    wait->n_ok++;
  else
    {
      wait->n_failed++;
      g_clear_error (&wait->last_error);
      wait->last_error = g_steal_pointer (&error);
    }
  wait->n_pending--;
}

static void
wait_for_commits (CommitWait *wait)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (wait->n_pending > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static RelaisEnvelope *
make_envelope (const char *sender, const char *const *recipients)
{
  RelaisEnvelope *envelope = relais_envelope_new ();

  envelope->sender = g_strdup (sender);
  for (guint i = 0; recipients[i] != NULL; i++)
    g_ptr_array_add (envelope->recipients, g_strdup (recipients[i]));
  envelope->client_address = g_strdup ("192.0.2.7");
  envelope->helo = g_strdup ("client.example.net");
  envelope->session_id = g_strdup ("S1");
  return envelope;
}

/* Starts one commit (the main loop has not run it yet); returns the queue id. */
static char *
start_commit (Fixture *fixture, RelaisConfig *config, const char *const *recipients,
              const char *body, CommitWait *wait)
{
  g_autoptr(GError) error = NULL;
  RelaisSpoolWriter *writer = relais_queue_begin (fixture->queue, &error);
  char *id;

  g_assert_no_error (error);
  g_assert_nonnull (writer);
  id = g_strdup (relais_spool_writer_get_id (writer));
  relais_spool_writer_write (writer, body, strlen (body), &error);
  g_assert_no_error (error);
  wait->n_pending++;
  relais_queue_commit_async (fixture->queue, writer, make_envelope ("sender@example.org", recipients),
                             config, commit_done_cb, wait);
  return id;
}

static char *
commit_one (Fixture *fixture, RelaisConfig *config, const char *const *recipients)
{
  CommitWait wait = { 0 };
  char *id = start_commit (fixture, config, recipients, "Subject: test\r\n\r\nbody\r\n", &wait);

  wait_for_commits (&wait);
  g_assert_no_error (wait.last_error);
  g_assert_cmpuint (wait.n_ok, ==, 1);
  return id;
}

static gint64
query_int (Fixture *fixture, const char *sql, const char *id)
{
  g_autoptr(TestStmt) stmt = NULL;
  sqlite3 *db = relais_store_lock (fixture->store);
  gint64 value;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (id != NULL)
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (fixture->store);
  return value;
}

static void
exec_sql (Fixture *fixture, const char *sql)
{
  sqlite3 *db = relais_store_lock (fixture->store);

  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  relais_store_unlock (fixture->store);
}

/* Runs SQL with its "?" bound to ID. */
static void
exec_sql_for (Fixture *fixture, const char *sql, const char *id)
{
  g_autoptr(TestStmt) stmt = NULL;
  sqlite3 *db = relais_store_lock (fixture->store);

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (fixture->store);
}

/* "address original route mailbox state" of each recipient row, "; "-joined. */
static char *
recipient_rows (Fixture *fixture, const char *id)
{
  g_autoptr(TestStmt) stmt = NULL;
  g_autoptr(GString) rows = g_string_new (NULL);
  sqlite3 *db = relais_store_lock (fixture->store);

  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT address, original, route, mailbox, state FROM recipients "
                                       "WHERE message_id = ? ORDER BY position", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *mailbox = (const char *) sqlite3_column_text (stmt, 3);

      g_string_append_printf (rows, "%s%s %s %s %s %d", rows->len > 0 ? "; " : "",
                              sqlite3_column_text (stmt, 0), sqlite3_column_text (stmt, 1),
                              sqlite3_column_int (stmt, 2) == 0 ? "local" : "remote",
                              mailbox != NULL ? mailbox : "-", sqlite3_column_int (stmt, 4));
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (fixture->store);
  return g_strdup (rows->str);
}

static gboolean
is_queue_id (const char *id)
{
  if (strlen (id) != 16)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

static void
test_commit (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "alice@example.com", "someone@example.org", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) body = g_string_new ("Received: from client\r\nSubject: big\r\n\r\n");
  g_autofree char *id = NULL;
  g_autofree char *msg_path = NULL;
  g_autofree char *content = NULL;
  g_autofree char *rows = NULL;
  g_autoptr(TestStmt) stmt = NULL;
  CommitWait wait = { 0 };
  RelaisSpoolWriter *writer;
  RelaisEnvelope *envelope;
  gint64 before, after;
  gsize len;
  sqlite3 *db;

  /* Bigger than the writer's buffer, written in uneven pieces. */
  while (body->len < 200 * 1024)
    g_string_append (body, "0123456789 abcdefghijklmnopqrstuvwxyz\r\n");

  writer = relais_queue_begin (fixture->queue, &error);
  g_assert_no_error (error);
  id = g_strdup (relais_spool_writer_get_id (writer));
  g_assert_true (is_queue_id (id));
  /* A new queue has no spare file yet: one is made, named by the id. */
  msg_path = g_build_filename (fixture->msg_dir, id, NULL);
  g_assert_true (g_file_test (msg_path, G_FILE_TEST_IS_REGULAR));
  for (gsize off = 0; off < body->len;)
    {
      gsize n = MIN (body->len - off, 1000 + off % 7777);

      g_assert_true (relais_spool_writer_write (writer, body->str + off, n, &error));
      g_assert_no_error (error);
      off += n;
    }
  g_assert_cmpint (relais_spool_writer_get_size (writer), ==, (goffset) body->len);

  envelope = make_envelope ("sender@example.org", recipients);
  envelope->smtputf8 = TRUE;
  envelope->body_8bit = TRUE;
  wait.n_pending = 1;
  before = g_get_real_time ();
  relais_queue_commit_async (fixture->queue, writer, envelope, fixture->config, commit_done_cb, &wait);
  wait_for_commits (&wait);
  after = g_get_real_time ();
  g_assert_no_error (wait.last_error);
  g_assert_cmpuint (wait.n_ok, ==, 1);

  /* The message's file, whole, where delivery looks for it. */
  {
    g_autofree char *path = relais_queue_spool_path (fixture->queue, id);

    g_assert_cmpstr (path, ==, msg_path);
  }
  g_file_get_contents (msg_path, &content, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, body->len);
  g_assert_true (memcmp (content, body->str, len) == 0);

  /* The rows. */
  db = relais_store_lock (fixture->store);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT sender, size, received_at, client_address, helo, flags, held, "
                                       "received_usec FROM messages WHERE id = ?", -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "sender@example.org");
  g_assert_cmpint (sqlite3_column_int64 (stmt, 1), ==, (gint64) body->len);
  /* the arrival to the microsecond (the delivery delay starts there), and its second */
  g_assert_cmpint (sqlite3_column_int64 (stmt, 7), >=, before);
  g_assert_cmpint (sqlite3_column_int64 (stmt, 7), <=, after);
  g_assert_cmpint (sqlite3_column_int64 (stmt, 2), ==, sqlite3_column_int64 (stmt, 7) / G_USEC_PER_SEC);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 3), ==, "192.0.2.7");
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 4), ==, "client.example.net");
  g_assert_cmpint (sqlite3_column_int (stmt, 5), ==, 3);
  g_assert_cmpint (sqlite3_column_int (stmt, 6), ==, 0);
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (fixture->store);

  rows = recipient_rows (fixture, id);
  g_assert_cmpstr (rows, ==,
                   "alice@example.com alice@example.com local alice 0; "
                   "alice@elsewhere.org alice@example.com remote - 0; "
                   "bob@example.com alice@example.com local bob 0; "
                   "someone@example.org someone@example.org remote - 0");

  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);
  g_assert_cmpuint (fixture->committed_ids->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->committed_ids, 0), ==, id);

  /* And it leaves the queue whole. */
  g_assert_true (relais_queue_remove (fixture->queue, id, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (msg_path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM recipients", NULL), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
  g_assert_false (relais_queue_remove (fixture->queue, id, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
}

static void
test_abort (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "alice@example.com", NULL };
  g_autoptr(GError) error = NULL;
  RelaisSpoolWriter *writer = relais_queue_begin (fixture->queue, &error);
  g_autofree char *spare_path = NULL;
  g_autofree char *id = NULL;
  const char *path;

  /* A file made for the reception (a new queue has no spare yet): it goes. */
  g_assert_no_error (error);
  g_assert_cmpuint (count_files (fixture->msg_dir), ==, 1);
  g_assert_true (relais_spool_writer_write (writer, "Subject: x\r\n\r\n", 14, &error));
  relais_spool_writer_abort (writer);

  g_assert_cmpuint (count_files (fixture->msg_dir), ==, 0);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages", NULL), ==, 0);
  g_assert_cmpuint (fixture->committed_ids->len, ==, 0);

  /* A spare (a delivered message's file) goes back for the next reception,
   * which has none of the aborted one's content. */
  id = commit_one (fixture, fixture->config, recipients);
  spare_path = relais_queue_spool_path (fixture->queue, id);
  exec_sql_for (fixture, "DELETE FROM messages WHERE id = ?", id);    /* as a delivery's record does */
  relais_queue_recycle_spool (fixture->queue, id);

  writer = relais_queue_begin (fixture->queue, &error);
  g_assert_no_error (error);
  g_assert_true (relais_spool_writer_write (writer, "Subject: aborted and longer\r\n\r\n", 31, &error));
  path = relais_spool_writer_sync (writer, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, spare_path);
  relais_spool_writer_abort (writer);
  g_assert_true (g_file_test (spare_path, G_FILE_TEST_IS_REGULAR));

  writer = relais_queue_begin (fixture->queue, &error);
  g_assert_no_error (error);
  g_assert_true (relais_spool_writer_write (writer, "X\r\n", 3, &error));
  path = relais_spool_writer_sync (writer, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, spare_path);
  {
    g_autofree char *content = NULL;

    g_assert_true (g_file_get_contents (path, &content, NULL, NULL));
    g_assert_cmpstr (content, ==, "X\r\n");
  }
  relais_spool_writer_abort (writer);
}

static void
test_group_commit (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "alice@example.com", NULL };
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  CommitWait wait = { 0 };
  const guint n = 25;
  sqlite3 *db;

  /* Every commit is requested before the main loop runs once. A write
   * transaction held meanwhile on the main connection makes the batching
   * deterministic: the commit thread (a connection of its own) waits for
   * it with whatever it took first, and the rest piles up once the sync
   * threads have made their files durable and handed them on. */
  db = relais_store_lock (fixture->store);

  g_assert_cmpint (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (ids, start_commit (fixture, fixture->config, recipients, "Subject: x\r\n\r\ny\r\n", &wait));
  for (guint tries = 0; tries < 1000 && relais_queue_get_synced_count (fixture->queue) < n; tries++)
    g_usleep (10000);
  g_assert_cmpuint (relais_queue_get_synced_count (fixture->queue), ==, n);
  g_usleep (200000);
  g_assert_cmpint (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  relais_store_unlock (fixture->store);
  wait_for_commits (&wait);

  g_assert_no_error (wait.last_error);
  g_assert_cmpuint (wait.n_ok, ==, n);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages", NULL), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = relais_queue_spool_path (fixture->queue, g_ptr_array_index (ids, i));

      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, n);
  g_assert_cmpuint (fixture->committed_ids->len, ==, n);

  /* They shared fsyncs and transactions. */
  g_test_message ("%u commits in %u batches", n, relais_queue_get_batch_count (fixture->queue));
  g_assert_cmpuint (relais_queue_get_batch_count (fixture->queue), >=, 1);
  g_assert_cmpuint (relais_queue_get_batch_count (fixture->queue), <=, 2);

  /* Ids are unique and sort in the order of reception. */
  for (guint i = 1; i < n; i++)
    g_assert_cmpstr (g_ptr_array_index (ids, i - 1), <, g_ptr_array_index (ids, i));
}

static void
test_one_fails_alone (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "bob@example.com", NULL };
  g_autofree char *bad_sql = NULL;
  g_autofree char *good_id = NULL;
  g_autofree char *bad_id = NULL;
  g_autofree char *good_path = NULL;
  g_autofree char *bad_path = NULL;
  g_autoptr(GError) error = NULL;
  CommitWait wait = { 0 };
  RelaisSpoolWriter *bad;

  /* The second message's id is already taken in the table: its insert fails. */
  bad = relais_queue_begin (fixture->queue, &error);
  g_assert_no_error (error);
  bad_id = g_strdup (relais_spool_writer_get_id (bad));
  bad_path = g_strdup (relais_spool_writer_sync (bad, &error));
  g_assert_no_error (error);
  bad_sql = g_strdup_printf ("INSERT INTO messages (id, sender, size, received_at) VALUES ('%s', 'x', 1, 1)",
                             bad_id);
  exec_sql (fixture, bad_sql);

  good_id = start_commit (fixture, fixture->config, recipients, "Subject: good\r\n\r\n", &wait);
  wait.n_pending++;
  relais_queue_commit_async (fixture->queue, bad, make_envelope ("s@example.org", recipients),
                             fixture->config, commit_done_cb, &wait);
  wait_for_commits (&wait);

  g_assert_cmpuint (wait.n_ok, ==, 1);
  g_assert_cmpuint (wait.n_failed, ==, 1);
  g_assert_error (wait.last_error, RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  g_clear_error (&wait.last_error);

  good_path = relais_queue_spool_path (fixture->queue, good_id);
  g_assert_true (g_file_test (good_path, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (bad_path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM recipients WHERE message_id = ?", good_id), ==, 1);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM recipients WHERE message_id = ?", bad_id), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);
  g_assert_cmpuint (fixture->committed_ids->len, ==, 1);
}

static void
test_recover (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "alice@example.com", NULL };
  g_autofree char *done_id = commit_one (fixture, fixture->config, recipients);
  g_autofree char *done_path = relais_queue_spool_path (fixture->queue, done_id);
  g_autofree char *kept_id = NULL;
  g_autofree char *lost_id = NULL;
  g_autofree char *kept_path = NULL;
  g_autofree char *lost_path = NULL;
  g_autofree char *kept_content = NULL;
  g_autofree char *orphan_path = g_build_filename (fixture->msg_dir, "0000000000ORPHAN", NULL);
  g_autofree char *tmp_leftover = g_build_filename (fixture->tmp_dir, "0000000000TMPLFT", NULL);
  g_autofree char *last_reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TestStmt) stmt = NULL;
  guint n_messages = 0;
  gboolean orphan_reused = FALSE;
  sqlite3 *db;

  /* The kept message reuses a delivered one's file, named by the row. */
  exec_sql_for (fixture, "DELETE FROM messages WHERE id = ?", done_id);
  relais_queue_recycle_spool (fixture->queue, done_id);
  kept_id = commit_one (fixture, fixture->config, recipients);
  kept_path = relais_queue_spool_path (fixture->queue, kept_id);
  g_assert_cmpstr (kept_path, ==, done_path);
  lost_id = commit_one (fixture, fixture->config, recipients);
  lost_path = relais_queue_spool_path (fixture->queue, lost_id);

  /* A crash: a file that never got its row (a reception half done), a row
   * whose file is gone, a file of an earlier version's spool/tmp. */
  g_file_set_contents (tmp_leftover, "partial", -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (orphan_path, "no row", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (lost_path), ==, 0);
  g_clear_pointer (&fixture->queue, relais_queue_free);
  relais_stats_set (fixture->stats, RELAIS_STAT_QUEUE_LENGTH, 0);

  open_queue (fixture);
  expected_lost_warnings = 1;
  g_assert_true (relais_queue_recover (fixture->queue, &n_messages, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (expected_lost_warnings, ==, 0);

  g_assert_cmpuint (n_messages, ==, 2);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 2);
  g_assert_false (g_file_test (tmp_leftover, G_FILE_TEST_EXISTS));
  {
    g_autofree char *path = relais_queue_spool_path (fixture->queue, kept_id);

    g_assert_cmpstr (path, ==, kept_path);
    g_assert_true (g_file_get_contents (path, &kept_content, NULL, NULL));
    g_assert_cmpstr (kept_content, ==, "Subject: test\r\n\r\nbody\r\n");
  }

  /* The file without a row is reused; never the kept message's. */
  {
    g_autoptr(GPtrArray) writers = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_spool_writer_abort);

    for (guint i = 0; i < 100 && !orphan_reused; i++)
      {
        RelaisSpoolWriter *writer = relais_queue_begin (fixture->queue, &error);
        const char *path;

        g_assert_no_error (error);
        g_ptr_array_add (writers, writer);
        path = relais_spool_writer_sync (writer, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (path, !=, kept_path);
        orphan_reused = g_str_equal (path, orphan_path);
      }
    g_assert_true (orphan_reused);
  }

  /* The kept message is still pending; the lost one's recipients failed. */
  g_assert_cmpint (query_int (fixture, "SELECT state FROM recipients WHERE message_id = ?", kept_id), ==, 0);
  g_assert_cmpint (query_int (fixture, "SELECT state FROM recipients WHERE message_id = ?", lost_id), ==, 2);
  db = relais_store_lock (fixture->store);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT last_reply FROM recipients WHERE message_id = ?", -1,
                                       &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, lost_id, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  last_reply = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (fixture->store);
  g_assert_true (g_str_has_prefix (last_reply, "4.3.0 "));

  /* A message queued "later" than now (the clock was set back since): a new
   * id comes after it, and never replaces its file. */
  {
    const char *future = "Z000000000FUTURE";
    g_autofree char *future_path = g_build_filename (fixture->msg_dir, future, NULL);
    RelaisSpoolWriter *writer;

    exec_sql_for (fixture, "INSERT INTO messages (id, sender, size, received_at) VALUES (?, '', 6, 0)", future);
    g_file_set_contents (future_path, "future", -1, &error);
    g_assert_no_error (error);
    g_clear_pointer (&fixture->queue, relais_queue_free);
    open_queue (fixture);
    expected_lost_warnings = 1;     /* the lost one again */
    g_assert_true (relais_queue_recover (fixture->queue, &n_messages, &error));
    g_assert_no_error (error);
    writer = relais_queue_begin (fixture->queue, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (relais_spool_writer_get_id (writer), >, future);
    relais_spool_writer_abort (writer);
    g_assert_true (g_file_test (future_path, G_FILE_TEST_IS_REGULAR));
  }
}

typedef struct {
  gboolean disable_auto_forward;
  const char *administrators[3];
  const char *recipients[4];
  const char *expected;
} RouteCase;

static const RouteCase route_cases[] = {
  /* an account: its mailbox, then its forwards (a local forward goes to that mailbox) */
  { FALSE, { NULL }, { "alice@example.com", NULL },
    "alice@example.com alice@example.com local alice 0; "
    "alice@elsewhere.org alice@example.com remote - 0; "
    "bob@example.com alice@example.com local bob 0" },
  /* forwards off: the mailbox only */
  { TRUE, { NULL }, { "alice@example.com", NULL },
    "alice@example.com alice@example.com local alice 0" },
  /* an alias, in any case; two addresses of one mailbox deliver once */
  { FALSE, { NULL }, { "Robert@EXAMPLE.com", "bob@example.com", NULL },
    "Robert@EXAMPLE.com Robert@EXAMPLE.com local bob 0" },
  /* elsewhere */
  { FALSE, { NULL }, { "someone@example.org", "postmaster@example.org", NULL },
    "someone@example.org someone@example.org remote - 0; "
    "postmaster@example.org postmaster@example.org remote - 0" },
  /* postmaster and mailer-daemon of a local domain go to the external administrators */
  { TRUE, { "admin@example.net", "robert@example.com", NULL }, { "postmaster@example.com", NULL },
    "admin@example.net postmaster@example.com remote - 0; "
    "robert@example.com postmaster@example.com local bob 0" },
  { TRUE, { "admin@example.net", NULL }, { "MAILER-DAEMON@example.com", "Postmaster", NULL },
    "admin@example.net MAILER-DAEMON@example.com remote - 0" },
  { TRUE, { "admin@example.net", NULL }, { "Postmaster", NULL },
    "admin@example.net Postmaster remote - 0" },
  /* no administrators, no account: a local row without mailbox (fails, never loops out) */
  { FALSE, { NULL }, { "postmaster@example.com", "nobody@example.com", NULL },
    "postmaster@example.com postmaster@example.com local - 0; "
    "nobody@example.com nobody@example.com local - 0" },
};

static void
test_routing (Fixture *fixture, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (route_cases); i++)
    {
      const RouteCase *c = &route_cases[i];
      g_autoptr(RelaisConfig) config = make_config (c->disable_auto_forward, c->administrators);
      g_autofree char *id = commit_one (fixture, config, c->recipients);
      g_autofree char *rows = recipient_rows (fixture, id);
      g_autoptr(GPtrArray) recipients = g_ptr_array_new ();

      g_test_message ("case %u: %s", i, rows);
      g_assert_cmpstr (rows, ==, c->expected);
      /* The auto-forwarding check asks the same routing whether mail leaves. */
      for (guint j = 0; c->recipients[j] != NULL; j++)
        g_ptr_array_add (recipients, (gpointer) c->recipients[j]);
      g_assert_cmpint (relais_queue_routes_remote (config, recipients), ==, strstr (rows, " remote ") != NULL);
    }
}

/* DSN requests (RFC 3461): RET/ENVID on the message, NOTIFY/ORCPT on each
 * row, inherited by the rows a recipient expands to (forwards). */
static void
test_dsn_storage (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "alice@example.com", "someone@example.org", "bob@example.com", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(TestStmt) stmt = NULL;
  g_autoptr(GString) rows = g_string_new (NULL);
  RelaisEnvelope *envelope = make_envelope ("sender@example.org", recipients);
  RelaisSpoolWriter *writer = relais_queue_begin (fixture->queue, &error);
  CommitWait wait = { 0 };
  g_autofree char *id = NULL;
  guint notify[] = { RELAIS_DSN_NOTIFY_SUCCESS | RELAIS_DSN_NOTIFY_FAILURE, RELAIS_DSN_NOTIFY_NEVER };
  sqlite3 *db;

  g_assert_no_error (error);
  id = g_strdup (relais_spool_writer_get_id (writer));
  {
    const char *text = "Subject: dsn\r\n\r\nbody\r\n";

    relais_spool_writer_write (writer, text, strlen (text), &error);
  }
  g_assert_no_error (error);
  envelope->dsn_ret = RELAIS_DSN_RET_FULL;
  envelope->dsn_envid = g_strdup ("QQ314159");
  /* Only two entries for three recipients: the third has no request at all. */
  g_array_append_vals (envelope->dsn_notify, notify, 2);
  g_ptr_array_add (envelope->dsn_orcpts, relais_dsn_orcpt_new ("rfc822", "Alice+x@example.com"));
  wait.n_pending++;
  relais_queue_commit_async (fixture->queue, writer, envelope, fixture->config, commit_done_cb, &wait);
  wait_for_commits (&wait);
  g_assert_no_error (wait.last_error);

  g_assert_cmpint (query_int (fixture, "SELECT dsn_ret FROM messages WHERE id = ?", id), ==, RELAIS_DSN_RET_FULL);
  db = relais_store_lock (fixture->store);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT dsn_envid FROM messages WHERE id = ?", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "QQ314159");
  g_clear_pointer (&stmt, sqlite3_finalize);

  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT address, dsn_notify, dsn_orcpt FROM recipients "
                                       "WHERE message_id = ? ORDER BY position", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *orcpt = (const char *) sqlite3_column_text (stmt, 2);

      g_string_append_printf (rows, "%s%s %d %s", rows->len > 0 ? "; " : "",
                              sqlite3_column_text (stmt, 0), sqlite3_column_int (stmt, 1),
                              orcpt != NULL ? orcpt : "-");
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (fixture->store);
  /* alice's two forwards carry her request; bob's local copy was already
   * there (alice forwards to him), so his own RCPT adds no row. */
  g_assert_cmpstr (rows->str, ==,
                   "alice@example.com 6 rfc822;Alice+x@example.com; "
                   "alice@elsewhere.org 6 rfc822;Alice+x@example.com; "
                   "bob@example.com 6 rfc822;Alice+x@example.com; "
                   "someone@example.org 1 -");
}

/* ---- writes of the delivery side ---------------------------------------- */

typedef struct {
  guint n_done;
  char *order;                /* the callbacks' tags, in the order they ran */
  GError *errors[5];
} WriteWait;

/* UPDATE recipients SET ASSIGNMENT for message ID. */
static void
update_recipients (sqlite3 *db, const char *assignment, const char *id)
{
  g_autofree char *sql = g_strdup_printf ("UPDATE recipients SET %s WHERE message_id = '%s'", assignment, id);

  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

static gboolean
write_attempts_seven (sqlite3 *db, gpointer data, GError **error)
{
  update_recipients (db, "attempts = 7", data);
  return TRUE;
}

/* Changes a row, then fails: the change must not stay. */
static gboolean
write_then_fail (sqlite3 *db, gpointer data, GError **error)
{
  write_attempts_seven (db, data, NULL);
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "refused on purpose");
  return FALSE;
}

static void
written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  WriteWait *wait = user_data;
  guint i = wait->n_done++;
  char *old = wait->order;

  g_assert_cmpuint (i, <, G_N_ELEMENTS (wait->errors));
  if (g_task_get_source_tag (G_TASK (result)) == relais_queue_remove_async)
    relais_queue_remove_finish (NULL, result, &wait->errors[i]);
  else
    relais_queue_write_finish (NULL, result, &wait->errors[i]);
  wait->order = g_strdup_printf ("%s%u", old != NULL ? old : "", i);
  g_free (old);
}

static void
test_write_async (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "someone@example.org", NULL };
  g_autofree char *big = g_strnfill (20000, 'x');
  g_autofree char *body = g_strdup_printf ("Subject: big\r\n\r\n%s\r\n", big);
  const char *small = "Subject: small\r\n\r\nbody\r\n";
  CommitWait commits = { 0 };
  WriteWait wait = { 0 };
  g_autofree char *first = start_commit (fixture, fixture->config, recipients, body, &commits);
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *third_path = NULL;
  g_autofree char *content = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_autofree char *first_path = relais_queue_spool_path (fixture->queue, first);
  struct stat first_stat, third_stat;
  gsize len;

  second = start_commit (fixture, fixture->config, recipients, small, &commits);
  wait_for_commits (&commits);
  g_assert_cmpuint (commits.n_ok, ==, 2);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 2);
  g_assert_cmpint (stat (first_path, &first_stat), ==, 0);

  /* Asked for at once: done in order, a failing one alone rolled back. */
  relais_queue_write_async (fixture->queue, write_attempts_seven, NULL, g_strdup (second), g_free,
                            written_cb, &wait);
  relais_queue_write_async (fixture->queue, write_then_fail, NULL, g_strdup (first), g_free, written_cb, &wait);
  relais_queue_remove_async (fixture->queue, first, written_cb, &wait);
  while (wait.n_done < 3)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpstr (wait.order, ==, "012");
  g_assert_no_error (wait.errors[0]);
  g_assert_error (wait.errors[1], RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  g_assert_cmpstr (wait.errors[1]->message, ==, "refused on purpose");
  g_assert_no_error (wait.errors[2]);
  g_assert_cmpint (query_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", second), ==, 7);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages WHERE id = ?", first), ==, 0);
  {
    g_autofree char *second_path = relais_queue_spool_path (fixture->queue, second);

    g_assert_true (g_file_test (second_path, G_FILE_TEST_IS_REGULAR));
  }
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);

  /* A removal of a message that is not there. */
  relais_queue_remove_async (fixture->queue, first, written_cb, &wait);
  while (wait.n_done < 4)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_error (wait.errors[3], RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);

  /* The removed message's file is reused: the new message is all there is in it. */
  third = commit_one (fixture, fixture->config, recipients);
  third_path = relais_queue_spool_path (fixture->queue, third);
  g_assert_cmpint (stat (third_path, &third_stat), ==, 0);
  g_assert_cmpuint (third_stat.st_ino, ==, first_stat.st_ino);
  g_assert_true (g_file_get_contents (third_path, &content, &len, NULL));
  g_assert_cmpuint (len, ==, strlen ("Subject: test\r\n\r\nbody\r\n"));
  g_assert_cmpstr (content, ==, "Subject: test\r\n\r\nbody\r\n");

  /* Reused again, and read before the commit (as the content checks do):
   * what was written, nothing of the file's old content after it. */
  relais_queue_remove_async (fixture->queue, third, written_cb, &wait);
  while (wait.n_done < 5)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_no_error (wait.errors[4]);
  {
    g_autoptr(GError) error = NULL;
    RelaisSpoolWriter *writer = relais_queue_begin (fixture->queue, &error);
    const char *tmp_path;
    g_autofree char *read_back = NULL;
    struct stat tmp_stat;

    g_assert_no_error (error);
    g_assert_true (relais_spool_writer_write (writer, "X\r\n", 3, &error));
    tmp_path = relais_spool_writer_sync (writer, &error);
    g_assert_no_error (error);
    g_assert_cmpint (stat (tmp_path, &tmp_stat), ==, 0);
    g_assert_cmpuint (tmp_stat.st_ino, ==, third_stat.st_ino);
    g_assert_true (g_file_get_contents (tmp_path, &read_back, &len, NULL));
    g_assert_cmpuint (len, ==, 3);
    g_assert_cmpstr (read_back, ==, "X\r\n");
    relais_spool_writer_abort (writer);
  }

  for (guint i = 0; i < G_N_ELEMENTS (wait.errors); i++)
    g_clear_error (&wait.errors[i]);
  g_free (wait.order);
}

/* Writes alone wait up to 5 ms for messages to share their transaction and
 * its fdatasync: still reported before a message asked for after them, and
 * none is left unreported when the queue stops. */
typedef struct {
  GString *order;
  guint n_pending;
} PairWait;

static gboolean
write_attempt_more (sqlite3 *db, gpointer data, GError **error)
{
  update_recipients (db, "attempts = attempts + 1", data);
  return TRUE;
}

/* A write ('w') or a message's commit ('m') reported. */
static void
pair_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PairWait *wait = user_data;
  gboolean commit = g_task_get_source_tag (G_TASK (result)) == relais_queue_commit_async;

  g_assert_true (commit ? relais_queue_commit_finish (NULL, result, NULL)
                        : relais_queue_write_finish (NULL, result, NULL));
  g_string_append_c (wait->order, commit ? 'm' : 'w');
  wait->n_pending--;
}

static void
test_write_unsynced (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "someone@example.org", NULL };
  g_autofree char *id = commit_one (fixture, fixture->config, recipients);
  PairWait wait = { g_string_new (NULL), 0 };
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GError) error = NULL;
      RelaisSpoolWriter *writer;

      relais_queue_write_async (fixture->queue, write_attempt_more, NULL, g_strdup (id), g_free,
                                pair_done_cb, &wait);
      writer = relais_queue_begin (fixture->queue, &error);
      g_assert_no_error (error);
      g_assert_true (relais_spool_writer_write (writer, "Subject: x\r\n\r\nx\r\n", 17, &error));
      relais_queue_commit_async (fixture->queue, writer, make_envelope ("sender@example.org", recipients),
                                 fixture->config, pair_done_cb, &wait);
      wait.n_pending += 2;
    }
  while (wait.n_pending > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  /* a message goes through the sync threads first, so later writes may pass
   * it; never may it pass a write asked for before it */
  for (guint i = 0, n_w = 0, n_m = 0; i < wait.order->len; i++)
    {
      n_w += wait.order->str[i] == 'w';
      n_m += wait.order->str[i] == 'm';
      g_assert_cmpuint (n_m, <=, n_w);
    }
  g_assert_cmpuint (wait.order->len, ==, 10);
  g_assert_cmpint (query_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id), ==, 5);

  /* the last write, then the queue stops at once: reported on the way */
  relais_queue_write_async (fixture->queue, write_attempt_more, NULL, g_strdup (id), g_free, pair_done_cb, &wait);
  wait.n_pending++;
  g_clear_pointer (&fixture->queue, relais_queue_free);
  g_assert_cmpuint (wait.n_pending, ==, 0);
  g_assert_cmpint (query_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id), ==, 6);
  open_queue (fixture);
  g_string_free (wait.order, TRUE);
}

/* ---- scheduler ---------------------------------------------------------- */

static void
wait_until_int (Fixture *fixture, const char *sql, const char *id, gint64 expected)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (query_int (fixture, sql, id) != expected)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  /* The rows are visible once committed; what follows a commit (the file of
   * a removed message unlinked, the counters) is done once reported back. */
  while (relais_queue_get_outstanding (fixture->queue) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
kick_cb (const RelaisQueuedMessage *message, gpointer user_data)
{
  relais_scheduler_kick (user_data);
}

static RelaisScheduler *
start_scheduler (Fixture *fixture, RelaisServices *services)
{
  RelaisScheduler *scheduler;

  services->config = fixture->config;
  services->stats = fixture->stats;
  services->queue = fixture->queue;
  scheduler = relais_scheduler_new (services, fixture->store, fixture->state_dir);
  relais_queue_set_committed_func (fixture->queue, kick_cb, scheduler);
  relais_scheduler_start (scheduler);
  return scheduler;
}

static void
queued_cb (const RelaisQueuedMessage *message, gpointer user_data)
{
  relais_scheduler_message_queued (user_data, message);
}

/* As the daemon does: each new message is started on its own, and the ones
 * there was no room for (more than the local workers) by the passes that
 * the ends of deliveries run. */
static void
test_scheduler_message_queued (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "bob@example.com", NULL };
  RelaisServices services = { 0 };
  g_autoptr(RelaisScheduler) scheduler = start_scheduler (fixture, &services);
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "bob");
  g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
  CommitWait wait = { 0 };
  const guint n = 12;

  relais_queue_set_committed_func (fixture->queue, queued_cb, scheduler);
  for (guint i = 0; i < n; i++)
    g_free (start_commit (fixture, fixture->config, recipients, "Subject: one of many\r\n\r\nbody\r\n", &wait));
  wait_for_commits (&wait);
  g_assert_cmpuint (wait.n_ok, ==, n);
  wait_until_int (fixture, "SELECT COUNT(*) FROM messages", NULL, 0);
  g_assert_cmpuint (count_files (new_dir), ==, n);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_DELIVERED_LOCAL), ==, n);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
}

static void scheduler_local_body (Fixture *fixture);

/* Its remote recipient is looked up for real: only inside
 * build-aux/with-test-net, where no DNS server answers. */
static void
test_scheduler_local (Fixture *fixture, gconstpointer data)
{
  if (g_strcmp0 (g_getenv ("RELAIS_TEST_NET"), "1") != 0)
    {
      g_test_skip ("needs build-aux/with-test-net (a remote recipient is looked up)");
      return;
    }
  scheduler_local_body (fixture);
}

static void
scheduler_local_body (Fixture *fixture)
{
  const char *recipients[] = { "Robert@example.com", "someone@example.org", "nobody@example.com", NULL };
  RelaisServices services = { 0 };
  g_autoptr(RelaisScheduler) scheduler = start_scheduler (fixture, &services);
  g_autofree char *id = commit_one (fixture, fixture->config, recipients);
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "bob");
  g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
  g_autofree char *spool_path = relais_queue_spool_path (fixture->queue, id);
  gint64 now;

  /* Local: delivered; unknown local: failed; remote: deferred, with back-off
   * (the test namespace has no DNS server: a temporary failure). */
  wait_until_int (fixture, "SELECT COUNT(*) FROM recipients WHERE message_id = ? AND state = 0 "
                  "AND attempts = 0", id, 0);
  wait_until_int (fixture, "SELECT state FROM recipients WHERE message_id = ? AND position = 0", id, 1);
  g_assert_cmpuint (count_files (new_dir), ==, 1);
  g_assert_cmpint (query_int (fixture, "SELECT state FROM recipients WHERE message_id = ? AND position = 2",
                              id), ==, 2);
  now = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_cmpint (query_int (fixture, "SELECT state FROM recipients WHERE message_id = ? AND position = 1",
                              id), ==, 0);
  g_assert_cmpint (query_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ? AND position = 1",
                              id), ==, 1);
  g_assert_cmpint (query_int (fixture, "SELECT last_reply LIKE '4.4.3 %' FROM recipients "
                              "WHERE message_id = ? AND position = 1", id), ==, 1);
  g_assert_cmpint (ABS (query_int (fixture, "SELECT next_attempt FROM recipients WHERE message_id = ? "
                                   "AND position = 1", id) - (now + 300)), <=, 5);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_DELIVERED_LOCAL), ==, 1);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_DEFERRED), ==, 1);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_BOUNCED), ==, 1);
  g_assert_true (g_file_test (spool_path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);

  /* Once the last one is done the message leaves the queue. */
  exec_sql (fixture, "UPDATE recipients SET state = 1 WHERE position = 1");
  relais_scheduler_free (g_steal_pointer (&scheduler));
  scheduler = start_scheduler (fixture, &services);
  wait_until_int (fixture, "SELECT COUNT(*) FROM messages WHERE id = ?", id, 0);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM recipients WHERE message_id = ?", id), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);  /* its bounce */
}

static void
test_scheduler_tempfail (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "alice@example.com", NULL };
  RelaisServices services = { 0 };
  g_autoptr(RelaisScheduler) scheduler = NULL;
  g_autoptr(RelaisConfig) config = make_config (TRUE, (const char *[]) { NULL });
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "alice");
  g_autofree char *new_path = g_build_filename (maildir, "new", NULL);
  g_autofree char *id = NULL;
  g_autofree char *spool_path = NULL;
  g_autoptr(GError) error = NULL;

  /* alice's Maildir is broken (new/ is a file): a temporary failure. */
  g_assert_cmpint (g_mkdir_with_parents (maildir, 0700), ==, 0);
  g_file_set_contents (new_path, "", 0, &error);
  g_assert_no_error (error);

  scheduler = start_scheduler (fixture, &services);
  id = commit_one (fixture, config, recipients);
  spool_path = relais_queue_spool_path (fixture->queue, id);
  wait_until_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id, 1);
  g_assert_cmpint (query_int (fixture, "SELECT state FROM recipients WHERE message_id = ?", id), ==, 0);
  g_assert_cmpint (query_int (fixture, "SELECT next_attempt - strftime('%s', 'now') FROM recipients "
                              "WHERE message_id = ?", id), >=, 295);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_DEFERRED), ==, 1);

  /* Later attempts back off further, capped at one hour. */
  exec_sql (fixture, "UPDATE recipients SET next_attempt = 0, attempts = 7");
  wait_until_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id, 8);
  g_assert_cmpint (query_int (fixture, "SELECT next_attempt - strftime('%s', 'now') FROM recipients "
                              "WHERE message_id = ?", id), <=, 3600);
  g_assert_cmpint (query_int (fixture, "SELECT next_attempt - strftime('%s', 'now') FROM recipients "
                              "WHERE message_id = ?", id), >=, 3595);

  /* Five days after reception it fails for good and the message leaves. */
  exec_sql (fixture, "UPDATE recipients SET next_attempt = 0");
  exec_sql (fixture, "UPDATE messages SET received_at = strftime('%s', 'now') - 5 * 86400 - 10");
  wait_until_int (fixture, "SELECT COUNT(*) FROM messages WHERE id = ?", id, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_BOUNCED), ==, 1);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);  /* its bounce */
}

static void
test_scheduler_held (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "bob@example.com", NULL };
  RelaisServices services = { 0 };
  g_autoptr(RelaisScheduler) scheduler = NULL;
  g_autofree char *id = commit_one (fixture, fixture->config, recipients);
  g_autofree char *update = g_strdup_printf ("UPDATE messages SET held = 1 WHERE id = '%s'", id);
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "bob");
  gint64 end;

  exec_sql (fixture, update);
  scheduler = start_scheduler (fixture, &services);
  end = g_get_monotonic_time () + 1500 * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (query_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id), ==, 0);
  g_assert_false (g_file_test (maildir, G_FILE_TEST_EXISTS));

  exec_sql (fixture, "UPDATE messages SET held = 0");
  relais_scheduler_kick (scheduler);
  wait_until_int (fixture, "SELECT COUNT(*) FROM messages", NULL, 0);
  g_assert_true (g_file_test (maildir, G_FILE_TEST_IS_DIR));
}

/* ---- administration (Queue D-Bus interface) ----------------------------- */

static RelaisQueueEntry *
find_entry (GPtrArray *entries, const char *id)
{
  for (guint i = 0; i < entries->len; i++)
    {
      RelaisQueueEntry *entry = g_ptr_array_index (entries, i);

      if (g_str_equal (entry->id, id))
        return entry;
    }
  g_error ("no queue entry %s", id);   /* does not return: the test fails here */
}

static char *
joined (GPtrArray *strings)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < strings->len; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? " " : "", (const char *) g_ptr_array_index (strings, i));
  return g_strdup (out->str);
}

static void
test_admin_list_show (Fixture *fixture, gconstpointer data)
{
  const char *first_rcpts[] = { "alice@example.com", NULL };
  const char *second_rcpts[] = { "someone@example.org", NULL };
  g_autofree char *first = commit_one (fixture, fixture->config, first_rcpts);
  g_autofree char *second = commit_one (fixture, fixture->config, second_rcpts);
  g_autofree char *pending = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(RelaisQueueEntry) shown = NULL;
  g_autoptr(GError) error = NULL;
  RelaisQueueEntry *e;
  RelaisQueueRecipient *r;
  gint64 received;

  /* The second arrived first. */
  exec_sql_for (fixture, "UPDATE messages SET received_at = received_at - 100 WHERE id = ?", second);
  received = query_int (fixture, "SELECT received_at FROM messages WHERE id = ?", first);
  /* alice's three rows: delivered, deferred three times, failed. */
  exec_sql_for (fixture, "UPDATE recipients SET state = 1, attempts = 1, last_reply = '2.0.0 Delivered' "
                "WHERE message_id = ? AND position = 0", first);
  exec_sql_for (fixture, "UPDATE recipients SET attempts = 3, next_attempt = 4000000000, "
                "last_reply = '4.4.1 Connection refused' WHERE message_id = ? AND position = 1", first);
  exec_sql_for (fixture, "UPDATE recipients SET state = 2, attempts = 1, last_reply = '5.1.1 No such user' "
                "WHERE message_id = ? AND position = 2", first);

  entries = relais_queue_list (fixture->queue, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 2);
  g_assert_cmpstr (((RelaisQueueEntry *) g_ptr_array_index (entries, 0))->id, ==, second);

  e = find_entry (entries, second);
  pending = joined (e->pending);
  g_assert_cmpstr (pending, ==, "someone@example.org");
  g_assert_cmpstr (e->sender, ==, "sender@example.org");
  g_assert_cmpuint (e->size, ==, strlen ("Subject: test\r\n\r\nbody\r\n"));
  g_assert_cmpuint (e->attempts, ==, 0);
  g_assert_cmpstr (e->last_error, ==, "");
  g_assert_cmpint (e->next_attempt, ==, e->received_at);   /* never tried: due since reception */
  g_assert_false (e->held);
  g_assert_null (e->recipients);
  g_assert_null (e->headers);

  e = find_entry (entries, first);
  g_clear_pointer (&pending, g_free);
  pending = joined (e->pending);
  g_assert_cmpstr (pending, ==, "alice@elsewhere.org");
  g_assert_cmpint (e->received_at, ==, received);
  g_assert_cmpuint (e->attempts, ==, 3);
  g_assert_cmpstr (e->last_error, ==, "4.4.1 Connection refused");   /* the pending one wins */
  g_assert_cmpint (e->next_attempt, ==, 4000000000);

  /* Show: every recipient, the envelope and the headers. */
  shown = relais_queue_show (fixture->queue, first, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (shown->id, ==, first);
  g_assert_cmpstr (shown->client_address, ==, "192.0.2.7");
  g_assert_cmpstr (shown->helo, ==, "client.example.net");
  g_assert_cmpuint (shown->attempts, ==, 3);
  g_assert_cmpuint (shown->recipients->len, ==, 3);
  r = g_ptr_array_index (shown->recipients, 0);
  g_assert_cmpstr (r->address, ==, "alice@example.com");
  g_assert_cmpint (r->state, ==, RELAIS_RECIPIENT_DELIVERED);
  g_assert_cmpstr (r->last_reply, ==, "2.0.0 Delivered");
  r = g_ptr_array_index (shown->recipients, 1);
  g_assert_cmpstr (r->address, ==, "alice@elsewhere.org");
  g_assert_cmpstr (r->original, ==, "alice@example.com");
  g_assert_cmpint (r->state, ==, RELAIS_RECIPIENT_PENDING);
  g_assert_cmpuint (r->attempts, ==, 3);
  g_assert_cmpint (r->next_attempt, ==, 4000000000);
  r = g_ptr_array_index (shown->recipients, 2);
  g_assert_cmpstr (r->address, ==, "bob@example.com");
  g_assert_cmpint (r->state, ==, RELAIS_RECIPIENT_FAILED);
  g_assert_nonnull (shown->headers);
  g_assert_cmpmem (g_bytes_get_data (shown->headers, NULL), g_bytes_get_size (shown->headers),
                   "Subject: test\r\n", strlen ("Subject: test\r\n"));

  /* Without its spool file the rows still show, without headers. */
  {
    g_autofree char *path = relais_queue_spool_path (fixture->queue, second);
    g_autoptr(RelaisQueueEntry) lost = NULL;

    g_assert_cmpint (g_unlink (path), ==, 0);
    lost = relais_queue_show (fixture->queue, second, &error);
    g_assert_no_error (error);
    g_assert_null (lost->headers);
    g_assert_cmpuint (lost->recipients->len, ==, 1);
  }

  /* Held: not scheduled. */
  g_assert_true (relais_queue_hold (fixture->queue, first, &error));
  g_clear_pointer (&entries, g_ptr_array_unref);
  entries = relais_queue_list (fixture->queue, &error);
  g_assert_no_error (error);
  e = find_entry (entries, first);
  g_assert_true (e->held);
  g_assert_cmpint (e->next_attempt, ==, 0);
}

static void
test_admin_errors (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "someone@example.org", NULL };
  g_autofree char *id = commit_one (fixture, fixture->config, recipients);
  const char *absent = "0000000000ABSENT";
  const char *bad_ids[] = { "", "abc", "0000000000absent", "../../../etc/pw", "0000000000ABSENT1",
                            "0000000000ABS NT" };
  gboolean (*changers[]) (RelaisQueue *, const char *, GError **) = {
    relais_queue_hold, relais_queue_release, relais_queue_retry_now, relais_queue_delete,
  };

  for (guint i = 0; i < G_N_ELEMENTS (changers); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *expected = g_strdup_printf ("No message %s in the queue", absent);

      g_assert_false (changers[i] (fixture->queue, absent, &error));
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
      g_assert_cmpstr (error->message, ==, expected);
      for (guint j = 0; j < G_N_ELEMENTS (bad_ids); j++)
        {
          g_clear_error (&error);
          g_assert_false (changers[i] (fixture->queue, bad_ids[j], &error));
          g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
        }
    }
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *long_id = g_strnfill (100000, 'A');

    /* A long bad id is quoted back shortened. */
    g_assert_false (relais_queue_hold (fixture->queue, long_id, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_assert_cmpuint (strlen (error->message), <, 200);
    g_clear_error (&error);

    g_assert_null (relais_queue_show (fixture->queue, absent, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_null (relais_queue_show (fixture->queue, "x", &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  }

  /* Nothing happened to the real one. */
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages WHERE id = ? AND held = 0", id), ==, 1);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);
}

static void
test_admin_hold_release (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "bob@example.com", NULL };
  RelaisServices services = { 0 };
  g_autoptr(RelaisScheduler) scheduler = NULL;
  g_autofree char *id = commit_one (fixture, fixture->config, recipients);
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "bob");
  g_autoptr(GError) error = NULL;
  guint64 generation;
  gint64 end;

  generation = relais_queue_get_generation (fixture->queue);
  g_assert_true (relais_queue_hold (fixture->queue, id, &error));
  g_assert_no_error (error);
  g_assert_true (relais_queue_hold (fixture->queue, id, &error));   /* again: no change, no error */
  g_assert_cmpuint (relais_queue_get_generation (fixture->queue), >, generation);
  g_assert_cmpint (query_int (fixture, "SELECT held FROM messages WHERE id = ?", id), ==, 1);

  /* Held and due: never picked. */
  scheduler = start_scheduler (fixture, &services);
  end = g_get_monotonic_time () + 1500 * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (query_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id), ==, 0);
  g_assert_false (g_file_test (maildir, G_FILE_TEST_EXISTS));

  /* Retry now is refused while held, and changes nothing. */
  g_assert_false (relais_queue_retry_now (fixture->queue, id, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "release it first"));
  g_clear_error (&error);
  g_assert_cmpint (query_int (fixture, "SELECT held FROM messages WHERE id = ?", id), ==, 1);

  /* Released: due at once, delivered, gone. */
  generation = relais_queue_get_generation (fixture->queue);
  g_assert_true (relais_queue_release (fixture->queue, id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (relais_queue_get_generation (fixture->queue), >, generation);
  relais_scheduler_kick (scheduler);
  wait_until_int (fixture, "SELECT COUNT(*) FROM messages WHERE id = ?", id, 0);
  g_assert_true (g_file_test (maildir, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_DELIVERED_LOCAL), ==, 1);
}

static void
test_admin_retry_now (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "someone@example.org", NULL };
  RelaisServices services = { 0 };
  g_autoptr(RelaisScheduler) scheduler = start_scheduler (fixture, &services);
  g_autofree char *id = commit_one (fixture, fixture->config, recipients);
  g_autoptr(GError) error = NULL;
  guint64 generation;

  /* Remote: deferred for 5 minutes. */
  wait_until_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id, 1);
  g_assert_cmpint (query_int (fixture, "SELECT next_attempt - strftime('%s', 'now') FROM recipients "
                              "WHERE message_id = ?", id), >=, 295);

  generation = relais_queue_get_generation (fixture->queue);
  g_assert_true (relais_queue_retry_now (fixture->queue, id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (relais_queue_get_generation (fixture->queue), >, generation);
  relais_scheduler_kick (scheduler);
  wait_until_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id, 2);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages WHERE id = ?", id), ==, 1);

  /* Release of a message that is not held retries it too. */
  g_assert_true (relais_queue_release (fixture->queue, id, &error));
  g_assert_no_error (error);
  relais_scheduler_kick (scheduler);
  wait_until_int (fixture, "SELECT attempts FROM recipients WHERE message_id = ?", id, 3);
}

/* Deliveries remove messages by the thousand: QueueOldest (a scan of the
 * messages table) is looked up again once after a burst of them, not for
 * each, and ends right. */
static void
test_oldest_after_removals (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "someone@example.org", NULL };
  g_autofree char *first = commit_one (fixture, fixture->config, recipients);
  g_autofree char *second = commit_one (fixture, fixture->config, recipients);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  WriteWait wait = { 0 };

  exec_sql_for (fixture, "UPDATE messages SET received_at = 1000 WHERE id = ?", first);
  exec_sql_for (fixture, "UPDATE messages SET received_at = 2000 WHERE id = ?", second);
  relais_stats_set (fixture->stats, RELAIS_STAT_QUEUE_OLDEST, 1000);

  relais_queue_remove_async (fixture->queue, first, written_cb, &wait);
  while (wait.n_done < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_no_error (wait.errors[0]);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);
  /* not yet: a timer of its own, after the callback's iteration */
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_OLDEST), ==, 1000);
  while (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_OLDEST) != 2000)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }

  relais_queue_remove_async (fixture->queue, second, written_cb, &wait);
  while (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_OLDEST) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (wait.n_done, ==, 2);
  g_assert_no_error (wait.errors[1]);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
  g_free (wait.order);
}

static void
test_admin_delete (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "someone@example.org", NULL };
  g_autofree char *first = commit_one (fixture, fixture->config, recipients);
  g_autofree char *second = commit_one (fixture, fixture->config, recipients);
  g_autofree char *first_path = relais_queue_spool_path (fixture->queue, first);
  g_autofree char *second_path = relais_queue_spool_path (fixture->queue, second);
  g_autoptr(GError) error = NULL;
  guint64 generation;

  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_OLDEST), ==,
                    query_int (fixture, "SELECT MIN(received_at) FROM messages", NULL));
  exec_sql_for (fixture, "UPDATE messages SET received_at = 1000 WHERE id = ?", second);

  generation = relais_queue_get_generation (fixture->queue);
  g_assert_true (relais_queue_delete (fixture->queue, first, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (relais_queue_get_generation (fixture->queue), >, generation);
  g_assert_false (g_file_test (first_path, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (second_path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM recipients WHERE message_id = ?", first), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 1);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_OLDEST), ==, 1000);

  g_assert_false (relais_queue_delete (fixture->queue, first, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (relais_queue_delete (fixture->queue, second, &error));
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages", NULL), ==, 0);
  g_assert_cmpuint (count_files (fixture->msg_dir), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_OLDEST), ==, 0);
}

/* The spool file is replaced by a FIFO, so the delivery's worker thread
 * blocks reading it until the test writes: the message is deleted while the
 * delivery is under way, which then completes into the Maildir. */
static void
test_admin_delete_during_delivery (Fixture *fixture, gconstpointer data)
{
  const char *recipients[] = { "bob@example.com", NULL };
  const char *content = "Subject: in flight\r\n\r\nbody\r\n";
  RelaisServices services = { 0 };
  g_autoptr(RelaisScheduler) scheduler = NULL;
  g_autofree char *id = commit_one (fixture, fixture->config, recipients);
  g_autofree char *spool_path = relais_queue_spool_path (fixture->queue, id);
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "bob");
  g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
  g_autofree char *next = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline;
  int fd = -1;

  g_assert_cmpint (g_unlink (spool_path), ==, 0);
  g_assert_cmpint (mkfifo (spool_path, 0600), ==, 0);
  scheduler = start_scheduler (fixture, &services);

  /* The writer end opens once the worker has opened the reading end. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while ((fd = open (spool_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
    {
      g_assert_cmpint (errno, ==, ENXIO);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }

  g_assert_true (relais_queue_delete (fixture->queue, id, &error));
  g_assert_no_error (error);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages", NULL), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);

  g_assert_cmpint (write (fd, content, strlen (content)), ==, (gssize) strlen (content));
  close (fd);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (count_files (new_dir) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  /* Let the outcome be recorded: on rows that are gone, which it must not bring back. */
  deadline = g_get_monotonic_time () + 1000 * 1000;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM messages", NULL), ==, 0);
  g_assert_cmpint (query_int (fixture, "SELECT COUNT(*) FROM recipients", NULL), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);

  /* The scheduler goes on: the next message for the same mailbox is delivered. */
  next = commit_one (fixture, fixture->config, recipients);
  wait_until_int (fixture, "SELECT COUNT(*) FROM messages WHERE id = ?", next, 0);
  g_assert_cmpuint (count_files (new_dir), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (test_log_writer, NULL, NULL);

#define ADD(path, func) \
  g_test_add ("/relais/queue/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("commit", test_commit);
  ADD ("abort", test_abort);
  ADD ("group-commit", test_group_commit);
  ADD ("one-fails-alone", test_one_fails_alone);
  ADD ("recover", test_recover);
  ADD ("routing", test_routing);
  ADD ("dsn-storage", test_dsn_storage);
  ADD ("write-async", test_write_async);
  ADD ("oldest-after-removals", test_oldest_after_removals);
  ADD ("write-unsynced", test_write_unsynced);
  ADD ("scheduler-local", test_scheduler_local);
  ADD ("scheduler-message-queued", test_scheduler_message_queued);
  ADD ("scheduler-tempfail", test_scheduler_tempfail);
  ADD ("scheduler-held", test_scheduler_held);
  ADD ("admin-list-show", test_admin_list_show);
  ADD ("admin-errors", test_admin_errors);
  ADD ("admin-hold-release", test_admin_hold_release);
  ADD ("admin-retry-now", test_admin_retry_now);
  ADD ("admin-delete", test_admin_delete);
  ADD ("admin-delete-during-delivery", test_admin_delete_during_delivery);
#undef ADD

  return g_test_run ();
}
