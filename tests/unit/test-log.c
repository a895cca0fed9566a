/* SPDX-License-Identifier: GPL-3.0-or-later
 * The log helper: the fields and message of a record, the delivery line
 * (enhanced code, relay, delay with one decimal, orig_to, retry_in), the
 * RELAIS_LOG_FIELDS suffix, and the writer on stderr in a subprocess. */
#include <fcntl.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "relais-log.h"

/* Records go here while a test captures them, else to relais_log_writer(). */
static GPtrArray *captured;   /* GHashTable* key -> value, one per record */

static GLogWriterOutput
test_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  GHashTable *record;

  if (captured == NULL)
    return relais_log_writer (level, fields, n_fields, user_data);
  record = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (gsize i = 0; i < n_fields; i++)
    g_hash_table_insert (record, g_strdup (fields[i].key),
                         fields[i].length < 0 ? g_strdup (fields[i].value)
                                              : g_strndup (fields[i].value, fields[i].length));
  g_ptr_array_add (captured, record);
  return G_LOG_WRITER_HANDLED;
}

static void
test_record (void)
{
  const RelaisLogIds ids = { "ab12cd34", "HOM4QUEUEID", "192.0.2.7", "blacklist:spam" };
  GHashTable *r;

  captured = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  g_log_set_debug_enabled (TRUE);   /* the INFO record below is not dropped */
  relais_log (G_LOG_LEVEL_MESSAGE, &ids, "reject %s from %s", "RCPT", "x");
  relais_log_queue (G_LOG_LEVEL_WARNING, "HOM4QUEUEID", "held");
  relais_log (G_LOG_LEVEL_INFO, NULL, "plain %d", 7);
  g_assert_cmpuint (captured->len, ==, 3);

  r = captured->pdata[0];
  g_assert_cmpstr (g_hash_table_lookup (r, "MESSAGE"), ==, "ab12cd34: reject RCPT from x");
  g_assert_cmpstr (g_hash_table_lookup (r, "RELAIS_SESSION"), ==, "ab12cd34");
  g_assert_cmpstr (g_hash_table_lookup (r, "RELAIS_QUEUE_ID"), ==, "HOM4QUEUEID");
  g_assert_cmpstr (g_hash_table_lookup (r, "RELAIS_CLIENT"), ==, "192.0.2.7");
  g_assert_cmpstr (g_hash_table_lookup (r, "RELAIS_RULE"), ==, "blacklist:spam");
  g_assert_cmpstr (g_hash_table_lookup (r, "PRIORITY"), ==, "5");
  g_assert_cmpstr (g_hash_table_lookup (r, "GLIB_DOMAIN"), ==, "relais");
  g_assert_nonnull (strstr (g_hash_table_lookup (r, "CODE_FILE"), "test-log.c"));
  g_assert_cmpstr (g_hash_table_lookup (r, "CODE_FUNC"), ==, "test_record");

  /* a message alone: prefixed with its queue id, no session field */
  r = captured->pdata[1];
  g_assert_cmpstr (g_hash_table_lookup (r, "MESSAGE"), ==, "HOM4QUEUEID: held");
  g_assert_cmpstr (g_hash_table_lookup (r, "RELAIS_QUEUE_ID"), ==, "HOM4QUEUEID");
  g_assert_false (g_hash_table_contains (r, "RELAIS_SESSION"));
  g_assert_cmpstr (g_hash_table_lookup (r, "PRIORITY"), ==, "4");

  /* nothing to follow: no prefix, no field */
  r = captured->pdata[2];
  g_assert_cmpstr (g_hash_table_lookup (r, "MESSAGE"), ==, "plain 7");
  g_assert_false (g_hash_table_contains (r, "RELAIS_QUEUE_ID"));
  g_assert_cmpstr (g_hash_table_lookup (r, "PRIORITY"), ==, "6");
  g_clear_pointer (&captured, g_ptr_array_unref);
  g_log_set_debug_enabled (FALSE);
}

static void
test_dsn (void)
{
  static const struct {
    const char *reply;
    RelaisLogStatus status;
    const char *dsn;
  } cases[] = {
    { "250 2.0.0 Ok: queued as X", RELAIS_LOG_SENT, "2.0.0" },
    { "550 5.1.1 <a@b>: no such user", RELAIS_LOG_BOUNCED, "5.1.1" },
    { "450 4.2.1 busy", RELAIS_LOG_DEFERRED, "4.2.1" },
    { "4.4.1 mx.example[192.0.2.1]:25: cannot connect", RELAIS_LOG_DEFERRED, "4.4.1" },
    { "2.0.0 Delivered to mailbox alice", RELAIS_LOG_SENT, "2.0.0" },
    { "5.7.26 x", RELAIS_LOG_BOUNCED, "5.7.26" },
    { "5.123.456", RELAIS_LOG_BOUNCED, "5.123.456" },
    /* given up after temporary failures: a permanent code */
    { "4.4.1 cannot connect (gave up after 5 days in the queue)", RELAIS_LOG_BOUNCED, "5.4.1" },
    /* no enhanced code: after the status */
    { "250 Ok", RELAIS_LOG_SENT, "2.0.0" },
    { "451 try later", RELAIS_LOG_DEFERRED, "4.0.0" },
    { "Host not found", RELAIS_LOG_BOUNCED, "5.0.0" },
    { "", RELAIS_LOG_DEFERRED, "4.0.0" },
    { NULL, RELAIS_LOG_SENT, "2.0.0" },
    { "3.1.1 not a class", RELAIS_LOG_BOUNCED, "5.0.0" },
    { "5.1234.1 too long", RELAIS_LOG_BOUNCED, "5.0.0" },
    { "5.1.1x glued", RELAIS_LOG_BOUNCED, "5.0.0" },
    { "5.1. half", RELAIS_LOG_BOUNCED, "5.0.0" },
    { "55 5.1.1 short code", RELAIS_LOG_BOUNCED, "5.0.0" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *dsn = relais_log_dsn (cases[i].reply, cases[i].status);

      g_assert_cmpstr (dsn, ==, cases[i].dsn);
    }
}

static void
test_delivery_text (void)
{
  RelaisLogDelivery d = {
    .queue_id = "HOM4Q", .to = "bob@direct.example", .orig_to = "ok@example.org",
    .relay = "mx1.direct.example[192.0.2.21]:25", .delay_usec = 1260000, .attempt = 1,
    .retry_in = 300, .status = RELAIS_LOG_SENT, .reply = "250 2.0.0 Queued",
  };
  g_autofree char *sent = relais_log_delivery_text (&d);
  g_autofree char *deferred = NULL;
  g_autofree char *local = NULL;
  g_autofree char *literal = NULL;
  g_autofree char *none = NULL;

  g_assert_cmpstr (sent, ==, "to=<bob@direct.example>, orig_to=<ok@example.org>, "
                   "relay=mx1.direct.example[192.0.2.21]:25, delay=1.3, attempt=1, dsn=2.0.0, "
                   "status=sent (250 2.0.0 Queued)");

  /* retry_in only when deferred */
  d.status = RELAIS_LOG_DEFERRED;
  d.reply = "450 4.2.1 busy";
  d.attempt = 3;
  d.delay_usec = (gint64) 3600 * G_USEC_PER_SEC;
  deferred = relais_log_delivery_text (&d);
  g_assert_cmpstr (deferred, ==, "to=<bob@direct.example>, orig_to=<ok@example.org>, "
                   "relay=mx1.direct.example[192.0.2.21]:25, delay=3600.0, attempt=3, retry_in=300, "
                   "dsn=4.2.1, status=deferred (450 4.2.1 busy)");

  /* orig_to only when it differs; a negative delay (the clock went back) is 0 */
  d.status = RELAIS_LOG_SENT;
  d.orig_to = d.to;
  d.relay = "local";
  d.attempt = 1;
  d.delay_usec = -5 * G_USEC_PER_SEC;
  d.reply = "2.0.0 Delivered to mailbox bob";
  local = relais_log_delivery_text (&d);
  g_assert_cmpstr (local, ==, "to=<bob@direct.example>, relay=local, delay=0.0, attempt=1, dsn=2.0.0, "
                   "status=sent (2.0.0 Delivered to mailbox bob)");

  /* a server given by its address gets its address as its name; no server: none */
  d.orig_to = NULL;
  d.relay = "[192.0.2.7]:587";
  d.delay_usec = 40000;
  literal = relais_log_delivery_text (&d);
  g_assert_nonnull (strstr (literal, ", relay=192.0.2.7[192.0.2.7]:587, delay=0.0, "));
  d.relay = "[2001:db8::1]:25";
  g_clear_pointer (&literal, g_free);
  literal = relais_log_delivery_text (&d);
  g_assert_nonnull (strstr (literal, ", relay=2001:db8::1[2001:db8::1]:25, "));
  d.relay = NULL;
  d.status = RELAIS_LOG_BOUNCED;
  d.reply = "5.1.10 null MX";
  none = relais_log_delivery_text (&d);
  g_assert_cmpstr (none, ==, "to=<bob@direct.example>, relay=none, delay=0.0, attempt=1, dsn=5.1.10, "
                   "status=bounced (5.1.10 null MX)");
}

/* The delay keeps its decimal point in a locale that writes a comma. */
static void
test_delivery_locale (void)
{
  RelaisLogDelivery d = { .queue_id = "Q", .to = "a@b", .relay = "local", .delay_usec = 2500000,
                          .attempt = 1, .status = RELAIS_LOG_SENT, .reply = "2.0.0 ok" };
  g_autofree char *old = g_strdup (setlocale (LC_NUMERIC, NULL));
  g_autofree char *text = NULL;

  if (setlocale (LC_NUMERIC, "fr_FR.UTF-8") == NULL && setlocale (LC_NUMERIC, "de_DE.UTF-8") == NULL)
    {
      g_test_skip ("no locale with a decimal comma is installed");
      return;
    }
  text = relais_log_delivery_text (&d);
  setlocale (LC_NUMERIC, old);
  g_assert_nonnull (strstr (text, "delay=2.5,"));
}

static void
test_fields_suffix (void)
{
  const GLogField fields[] = {
    { "MESSAGE", "x: hello", -1 },
    { "RELAIS_SESSION", "ab12", -1 },
    { "PRIORITY", "5", -1 },
    { "RELAIS_QUEUE_ID", "HOM4XYZ-not-this", 7 },
    { "RELAIS_RULE", NULL, -1 },
  };
  g_autofree char *suffix = relais_log_fields_suffix (fields, G_N_ELEMENTS (fields));
  g_autofree char *empty = relais_log_fields_suffix (fields, 1);

  g_assert_cmpstr (suffix, ==, " [RELAIS_SESSION=ab12 RELAIS_QUEUE_ID=HOM4XYZ]");
  g_assert_cmpstr (empty, ==, "");
}

/* The writer on stderr: with RELAIS_LOG_FIELDS=1 the fields end the line. */
static void
test_writer_fields (void)
{
  if (g_test_subprocess ())
    {
      const RelaisLogIds ids = { .session = "s1", .queue_id = "Q1" };

      g_setenv ("RELAIS_LOG_FIELDS", "1", TRUE);
      relais_log (G_LOG_LEVEL_MESSAGE, &ids, "queued %s", "Q1");
      relais_log (G_LOG_LEVEL_MESSAGE, NULL, "nothing to follow");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*s1: queued Q1 [RELAIS_SESSION=s1 RELAIS_QUEUE_ID=Q1]\n*");
  g_test_trap_assert_stderr ("*: nothing to follow\n*");
}

static void
test_writer_plain (void)
{
  if (g_test_subprocess ())
    {
      const RelaisLogIds ids = { .session = "s1", .queue_id = "Q1" };

      g_unsetenv ("RELAIS_LOG_FIELDS");
      relais_log (G_LOG_LEVEL_MESSAGE, &ids, "queued %s", "Q1");
      relais_log (G_LOG_LEVEL_INFO, &ids, "from=<%s>", "a@example.org");
      g_log_set_always_fatal (G_LOG_FATAL_MASK);    /* g_test_init() made warnings fatal */
      g_log_structured ("relais", G_LOG_LEVEL_WARNING, "MESSAGE", "a warning");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* our own formatting, GLib's layout: messages on stderr, info on stdout */
  g_test_trap_assert_stderr ("relais-Message: ??:??:??.???: s1: queued Q1\n*");
  g_test_trap_assert_stdout ("relais-INFO: ??:??:??.???: s1: from=<a@example.org>\n*");
  /* warnings as GLib writes them */
  g_test_trap_assert_stderr ("*relais-WARNING **: ??:??:??.???: a warning\n*");
  g_test_trap_assert_stderr_unmatched ("*RELAIS_*");
}

static char *
read_whole (const char *path)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* Around the main loop, the main thread's lines wait until the loop is about
 * to wait, then go out together; stdout and stderr on one file keep their
 * order, and a line that goes another way (a warning) writes them first. */
static void
test_writer_batched (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = g_dir_make_tmp ("relais-log-XXXXXX", NULL);
      g_autofree char *path = g_build_filename (dir, "log", NULL);
      int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
      const RelaisLogIds ids = { .session = "s1" };
      g_autofree char *held = NULL;
      g_autofree char *written = NULL;
      g_autofree char *warned = NULL;
      g_autofree char *stopped = NULL;

      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (dup2 (fd, STDOUT_FILENO), ==, STDOUT_FILENO);
      g_assert_cmpint (dup2 (fd, STDERR_FILENO), ==, STDERR_FILENO);
      close (fd);
      g_unsetenv ("RELAIS_LOG_FIELDS");
      g_log_set_always_fatal (G_LOG_FATAL_MASK);    /* g_test_init() made warnings fatal */

      relais_log_batch_start (NULL);
      relais_log (G_LOG_LEVEL_MESSAGE, &ids, "one");
      relais_log (G_LOG_LEVEL_INFO, &ids, "two");
      relais_log (G_LOG_LEVEL_MESSAGE, &ids, "three");
      held = read_whole (path);
      g_assert_cmpstr (held, ==, "");
      g_main_context_iteration (NULL, FALSE);
      written = read_whole (path);
      g_assert_true (g_pattern_match_simple ("relais-Message: *: s1: one\n"
                                             "relais-INFO: *: s1: two\n"
                                             "relais-Message: *: s1: three\n", written));

      relais_log (G_LOG_LEVEL_MESSAGE, &ids, "four");
      g_log_structured ("relais", G_LOG_LEVEL_WARNING, "MESSAGE", "a warning");
      warned = read_whole (path);
      g_assert_true (g_pattern_match_simple ("*: s1: three\nrelais-Message: *: s1: four\n"
                                             "*relais-WARNING **: *: a warning\n", warned));

      relais_log (G_LOG_LEVEL_INFO, &ids, "five");
      relais_log_batch_stop ();
      stopped = read_whole (path);
      g_assert_true (g_str_has_suffix (stopped, ": s1: five\n"));
      /* after the loop: at once */
      relais_log (G_LOG_LEVEL_INFO, &ids, "six");
      g_free (stopped);
      stopped = read_whole (path);
      g_assert_true (g_str_has_suffix (stopped, ": s1: six\n"));
      g_unlink (path);
      g_rmdir (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Info is what an administrator reads: written without G_MESSAGES_DEBUG
 * (GLib's own writer would drop it); debug is not. */
static void
test_writer_levels (void)
{
  if (g_test_subprocess ())
    {
      const RelaisLogIds ids = { .session = "s1" };

      g_unsetenv ("G_MESSAGES_DEBUG");
      g_unsetenv ("RELAIS_LOG_FIELDS");
      relais_log (G_LOG_LEVEL_INFO, &ids, "from=<%s>", "a@example.org");
      /* as g_info() in the daemon, whose domain is "relais" */
      g_log_structured ("relais", G_LOG_LEVEL_INFO, "MESSAGE", "database schema migrated to version %d", 9);
      g_log_structured ("relais-test", G_LOG_LEVEL_INFO, "MESSAGE", "another domain's info");
      relais_log (G_LOG_LEVEL_DEBUG, &ids, "state %s", "ready -> mail");
      g_log_structured ("relais", G_LOG_LEVEL_DEBUG, "MESSAGE", "a debug line");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*relais-INFO: *s1: from=<a@example.org>\n*");
  g_test_trap_assert_stdout ("*relais-INFO: *database schema migrated to version 9\n*");
  g_test_trap_assert_stdout_unmatched ("*ready -> mail*");
  g_test_trap_assert_stdout_unmatched ("*a debug line*");
  g_test_trap_assert_stdout_unmatched ("*another domain's info*");
  g_test_trap_assert_stderr_unmatched ("*ready -> mail*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (test_writer, NULL, NULL);

  g_test_add_func ("/relais/log/record", test_record);
  g_test_add_func ("/relais/log/dsn", test_dsn);
  g_test_add_func ("/relais/log/delivery-text", test_delivery_text);
  g_test_add_func ("/relais/log/delivery-locale", test_delivery_locale);
  g_test_add_func ("/relais/log/fields-suffix", test_fields_suffix);
  g_test_add_func ("/relais/log/writer-fields", test_writer_fields);
  g_test_add_func ("/relais/log/writer-plain", test_writer_plain);
  g_test_add_func ("/relais/log/writer-levels", test_writer_levels);
  g_test_add_func ("/relais/log/writer-batched", test_writer_batched);
  return g_test_run ();
}
