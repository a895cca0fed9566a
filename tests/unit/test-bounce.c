/* SPDX-License-Identifier: GPL-3.0-or-later
 * Delivery status notifications: the structure of what relais_bounce_build()
 * writes (parsed back: boundary, the three parts in order, per-recipient
 * fields, CRLF only, no header injection), the status code extraction, the
 * header section cap, the DSN extension's fields (ENVID, ORCPT, RET=FULL,
 * success reports), and the scheduler's bounces: to a local sender, double
 * bounce to the administrators, loss (never a loop) with the null sender, and
 * what NOTIFY asks for (nothing, or a "delivered" report). */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "relais-bounce.h"
#include "relais-error.h"
#include "relais-maildir.h"
#include "relais-queue.h"
#include "relais-scheduler.h"
#include "relais-services.h"
#include "relais-store.h"
#include "relais-test-util.h"

typedef sqlite3_stmt TestStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestStmt, sqlite3_finalize)

/* A warning a test expects (substring), and how many times. */
static const char *expected_warning;
static guint expected_warnings;

static GLogWriterOutput
test_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & G_LOG_LEVEL_WARNING) && expected_warnings > 0 && expected_warning != NULL)
    {
      for (gsize i = 0; i < n_fields; i++)
        if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
            strstr (fields[i].value, expected_warning) != NULL)
          {
            expected_warnings--;
            return G_LOG_WRITER_HANDLED;
          }
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* ---- parsing helpers ---------------------------------------------------- */

/* Every LF is preceded by CR, every CR followed by LF, no line over 998. */
static void
assert_crlf_lines (const char *text, gsize len)
{
  gsize line_len = 0;

  for (gsize i = 0; i < len; i++)
    {
      if (text[i] == '\n')
        {
          g_assert_true (i > 0 && text[i - 1] == '\r');
          line_len = 0;
          continue;
        }
      if (text[i] == '\r')
        {
          g_assert_true (i + 1 < len && text[i + 1] == '\n');
          continue;
        }
      line_len++;
      g_assert_cmpuint (line_len, <=, 998);
    }
}

/* The value of header NAME in the header section of TEXT (unfolded), or NULL. */
static char *
header_value (const char *text, const char *name, const char *eol)
{
  g_autofree char *needle = g_strdup_printf ("%s%s:", eol, name);
  g_autofree char *section = NULL;
  g_autoptr(GString) value = g_string_new (NULL);
  g_autofree char *blank = g_strdup_printf ("%s%s", eol, eol);
  g_autofree char *head = NULL;
  const char *end;
  const char *p;

  end = strstr (text, blank);
  head = end != NULL ? g_strndup (text, (gsize) (end - text)) : g_strdup (text);
  section = g_strconcat (eol, head, eol, NULL);
  p = strstr (section, needle);
  if (p == NULL)
    return NULL;
  p += strlen (needle);
  for (;;)
    {
      const char *line_end = strstr (p, eol);

      g_string_append_len (value, p, line_end - p);
      p = line_end + strlen (eol);
      if (*p != ' ' && *p != '\t')
        break;
    }
  return g_strdup (g_strstrip (value->str));
}

static guint
count_occurrences (const char *haystack, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* Splits the multipart body of DSN (EOL line ends) into its parts, checking the
 * boundary. Returns the parts (without the preamble), each "headers EOL EOL body". */
static GStrv
split_report (const char *dsn, const char *eol)
{
  g_autofree char *content_type = header_value (dsn, "Content-Type", eol);
  g_autofree char *boundary = NULL;
  g_autofree char *delimiter = NULL;
  g_autofree char *close = NULL;
  g_autofree char *blank = g_strdup_printf ("%s%s", eol, eol);
  const char *b;
  const char *body;
  const char *end;
  g_auto(GStrv) pieces = NULL;
  GPtrArray *parts = g_ptr_array_new ();

  g_assert_nonnull (content_type);
  g_assert_true (g_str_has_prefix (content_type, "multipart/report;"));
  g_assert_nonnull (strstr (content_type, "report-type=delivery-status"));
  b = strstr (content_type, "boundary=\"");
  g_assert_nonnull (b);
  b += strlen ("boundary=\"");
  boundary = g_strndup (b, (gsize) (strchr (b, '"') - b));
  g_assert_cmpuint (strlen (boundary), >, 10);

  body = strstr (dsn, blank);
  g_assert_nonnull (body);
  body += strlen (blank);
  delimiter = g_strdup_printf ("%s--%s%s", eol, boundary, eol);
  close = g_strdup_printf ("%s--%s--%s", eol, boundary, eol);
  end = strstr (body, close);
  g_assert_nonnull (end);
  g_assert_cmpstr (end + strlen (close), ==, "");    /* the close delimiter ends the message */
  {
    g_autofree char *inner = g_strndup (body, (gsize) (end - body));

    pieces = g_strsplit (inner, delimiter, -1);
  }
  for (guint i = 1; pieces[i] != NULL; i++)     /* pieces[0] is the preamble */
    g_ptr_array_add (parts, g_strdup (pieces[i]));
  g_ptr_array_add (parts, NULL);
  return (GStrv) g_ptr_array_free (parts, FALSE);
}

/* ---- the builder -------------------------------------------------------- */

static void
test_status_code (void)
{
  static const struct { const char *reason; const char *status; } cases[] = {
    { "5.1.1 <bob@example.com>: no such account", "5.1.1" },
    { "550 5.7.1 Relaying denied", "5.7.1" },
    { "552-5.2.2 Mailbox full", "5.2.2" },
    { "4.4.1 Connection timed out (gave up after 5 days in the queue)", "5.4.1" },
    { "5.3.0", "5.3.0" },
    { "550 Go away", "5.0.0" },
    { "5.1.1x nonsense", "5.0.0" },
    { "", "5.0.0" },
    { NULL, "5.0.0" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *status = relais_bounce_status_code (cases[i].reason);

      g_assert_cmpstr (status, ==, cases[i].status);
    }
}

static void
test_structure (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("relais-bounce-XXXXXX", &error);
  g_autofree char *spool = NULL;
  g_autoptr(GBytes) headers = NULL;
  g_autoptr(GBytes) dsn = NULL;
  g_autoptr(GString) long_reason = g_string_new ("550 5.7.1 Denied\r\nBcc: victim@evil.example\r\n");
  g_autofree char *text = NULL;
  g_autofree char *value = NULL;
  g_auto(GStrv) parts = NULL;
  const char *to[] = { "sender@example.org", NULL };
  RelaisBounceRecipient recipients[2] = {
    { "bob@example.com", "Robert@example.com", "5.1.1 <bob@example.com>: no such account", 1700000000 },
    { "x@example.org", "x@example.org", NULL, 1700000000 },
  };
  RelaisBounceInfo info = { 0 };
  gsize len;

  g_assert_no_error (error);
  while (long_reason->len < 3000)
    g_string_append (long_reason, "blah ");
  recipients[1].reason = long_reason->str;

  spool = g_build_filename (dir, "spool", NULL);
  g_file_set_contents (spool,
                       "Received: from client.example.net\r\n\tby mx.example.com\r\n"
                       "Subject: Hello there\r\nFrom: <sender@example.org>\r\n\r\n"
                       "BODY-SECRET\r\nSubject: not a header\r\n", -1, &error);
  g_assert_no_error (error);
  headers = relais_bounce_read_headers (spool, RELAIS_BOUNCE_MAX_HEADERS, &error);
  g_assert_no_error (error);

  info.hostname = "mx.example.com";
  info.queue_id = "0123456789ABCDEF";
  info.to = to;
  info.arrival_date = 1699990000;
  info.recipients = recipients;
  info.n_recipients = 2;
  info.original_headers = headers;
  info.now = 1700000100;
  dsn = relais_bounce_build (&info);
  text = g_strndup (g_bytes_get_data (dsn, &len), g_bytes_get_size (dsn));
  g_assert_cmpuint (strlen (text), ==, len);
  assert_crlf_lines (text, len);

  /* The message header. */
  value = header_value (text, "From", "\r\n");
  g_assert_cmpstr (value, ==, "Mail Delivery System <MAILER-DAEMON@mx.example.com>");
  g_clear_pointer (&value, g_free);
  value = header_value (text, "To", "\r\n");
  g_assert_cmpstr (value, ==, "<sender@example.org>");
  g_clear_pointer (&value, g_free);
  value = header_value (text, "Subject", "\r\n");
  g_assert_cmpstr (value, ==, "Undelivered Mail Returned to Sender");
  g_clear_pointer (&value, g_free);
  value = header_value (text, "Auto-Submitted", "\r\n");
  g_assert_cmpstr (value, ==, "auto-replied");
  g_clear_pointer (&value, g_free);
  value = header_value (text, "MIME-Version", "\r\n");
  g_assert_cmpstr (value, ==, "1.0");
  g_clear_pointer (&value, g_free);
  value = header_value (text, "Message-ID", "\r\n");
  g_assert_true (g_str_has_prefix (value, "<") && g_str_has_suffix (value, "@mx.example.com>"));
  g_clear_pointer (&value, g_free);
  value = header_value (text, "Date", "\r\n");
  g_assert_true (g_regex_match_simple ("^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} "
                                       "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 2023 "
                                       "[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$", value, 0, 0));
  g_clear_pointer (&value, g_free);

  /* The three parts, in order. */
  parts = split_report (text, "\r\n");
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  value = header_value (parts[0], "Content-Type", "\r\n");
  g_assert_true (g_str_has_prefix (value, "text/plain"));
  g_clear_pointer (&value, g_free);
  g_assert_nonnull (strstr (parts[0], "<bob@example.com> (sent to <Robert@example.com>):"));
  g_assert_nonnull (strstr (parts[0], "5.1.1 <bob@example.com>: no such account"));

  value = header_value (parts[1], "Content-Type", "\r\n");
  g_assert_cmpstr (value, ==, "message/delivery-status");
  g_clear_pointer (&value, g_free);
  g_assert_nonnull (strstr (parts[1], "\r\n\r\nReporting-MTA: dns; mx.example.com\r\n"));
  g_assert_nonnull (strstr (parts[1], "\r\nArrival-Date: "));
  g_assert_nonnull (strstr (parts[1], "\r\n\r\nFinal-Recipient: rfc822; bob@example.com\r\n"
                                      "Original-Recipient: rfc822; Robert@example.com\r\n"
                                      "Action: failed\r\nStatus: 5.1.1\r\n"
                                      "Diagnostic-Code: X-Relais; 5.1.1 <bob@example.com>: no such account\r\n"
                                      "Last-Attempt-Date: "));
  g_assert_nonnull (strstr (parts[1], "\r\n\r\nFinal-Recipient: rfc822; x@example.org\r\n"
                                      "Action: failed\r\nStatus: 5.7.1\r\n"
                                      "Diagnostic-Code: smtp; 550 5.7.1 Denied Bcc: victim@evil.example blah"));
  g_assert_cmpuint (count_occurrences (parts[1], "Original-Recipient:"), ==, 1);
  /* The injected line stayed inside the diagnostic (and was cut short). */
  g_assert_null (strstr (text, "\nBcc:"));
  g_assert_cmpuint (count_occurrences (text, "Bcc: victim"), ==, 2);
  g_assert_nonnull (strstr (parts[1], "...\r\n"));
  g_assert_cmpuint (strlen (parts[1]), <, 2200);   /* the 3000-octet reason was cut */

  value = header_value (parts[2], "Content-Type", "\r\n");
  g_assert_cmpstr (value, ==, "text/rfc822-headers");
  g_clear_pointer (&value, g_free);
  g_assert_nonnull (strstr (parts[2], "\r\n\r\nReceived: from client.example.net\r\n\tby mx.example.com\r\n"
                                      "Subject: Hello there\r\nFrom: <sender@example.org>\r\n"));
  g_assert_null (strstr (text, "BODY-SECRET"));
  g_assert_null (strstr (text, "not a header"));

  relais_test_remove_tree (dir);
}

static void
test_header_cap (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("relais-bounce-XXXXXX", &error);
  g_autofree char *spool = g_build_filename (dir, "spool", NULL);
  g_autoptr(GString) content = g_string_new (NULL);
  g_autoptr(GBytes) headers = NULL;
  const char *data;
  gsize len;

  for (guint i = 0; content->len < 200 * 1024; i++)
    g_string_append_printf (content, "X-Filler-%u: %0900u\r\n", i, i);
  g_string_append (content, "\r\nbody\r\n");
  g_file_set_contents (spool, content->str, (gssize) content->len, &error);
  g_assert_no_error (error);

  headers = relais_bounce_read_headers (spool, RELAIS_BOUNCE_MAX_HEADERS, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (headers, &len);
  g_assert_cmpuint (len, <=, RELAIS_BOUNCE_MAX_HEADERS);
  g_assert_cmpuint (len, >, RELAIS_BOUNCE_MAX_HEADERS - 1000);
  g_assert_true (memcmp (data, content->str, len) == 0);       /* whole lines, cut at a line end */
  g_assert_true (data[len - 2] == '\r' && data[len - 1] == '\n');

  g_assert_null (relais_bounce_read_headers ("/nonexistent/relais/spool", 100, &error));
  g_assert_nonnull (error);
  relais_test_remove_tree (dir);
}

/* RFC 3461 §6: Original-Envelope-Id, Original-Recipient from ORCPT, success
 * actions, and RET=FULL (the whole message, only with a failure). */
static void
test_dsn_fields (void)
{
  const char *message = "Received: from client\r\nSubject: Caf\xc3\xa9\r\n\r\nFULL-BODY\r\n";
  g_autoptr(GBytes) full = g_bytes_new_static (message, strlen (message));
  g_autoptr(GBytes) headers = g_bytes_new_static ("Subject: x\r\n", 13);
  const char *to[] = { "sender@example.org", NULL };
  RelaisBounceRecipient recipients[3] = {
    { "alice@example.com", "alice@example.com", "5.1.1 <alice@example.com>: no such account", 1700000000,
      RELAIS_BOUNCE_ACTION_FAILED, "rfc822;Alice+x@example.com" },
    { "bob@example.com", "bob@example.com", "", 1700000000, RELAIS_BOUNCE_ACTION_DELIVERED, NULL },
    { "c@example.org", "c@example.org", "250 2.0.0 Ok", 1700000000, RELAIS_BOUNCE_ACTION_RELAYED,
      "utf-8;j\xc3\xa9@example.org" },
  };
  RelaisBounceInfo info = { 0 };

  info.hostname = "mx.example.com";
  info.to = to;
  info.recipients = recipients;
  info.n_recipients = 3;
  info.original_headers = headers;
  info.original_message = full;
  info.envid = "QQ314159\r\nBcc: x";
  info.now = 1700000100;

  /* A failure and two successes, RET=FULL: the whole message, 8-bit declared. */
  {
    g_autoptr(GBytes) dsn = relais_bounce_build (&info);
    g_autofree char *text = g_strndup (g_bytes_get_data (dsn, NULL), g_bytes_get_size (dsn));
    g_autofree char *value = header_value (text, "Subject", "\r\n");
    g_auto(GStrv) parts = split_report (text, "\r\n");

    assert_crlf_lines (text, strlen (text));
    g_assert_cmpstr (value, ==, "Delivery Status Notification");
    g_clear_pointer (&value, g_free);
    value = header_value (text, "Content-Transfer-Encoding", "\r\n");
    g_assert_cmpstr (value, ==, "8bit");
    g_assert_true (relais_bounce_has_8bit (dsn));
    g_assert_cmpuint (g_strv_length (parts), ==, 3);
    g_assert_nonnull (strstr (parts[0], "<bob@example.com>:\r\n    delivered to the mailbox\r\n"));
    g_assert_nonnull (strstr (parts[1], "\r\n\r\nOriginal-Envelope-Id: QQ314159 Bcc: x\r\n"
                                        "Reporting-MTA: dns; mx.example.com\r\n"));
    g_assert_nonnull (strstr (parts[1], "Final-Recipient: rfc822; alice@example.com\r\n"
                                        "Original-Recipient: rfc822;Alice+x@example.com\r\n"
                                        "Action: failed\r\nStatus: 5.1.1\r\n"));
    g_assert_nonnull (strstr (parts[1], "Final-Recipient: rfc822; bob@example.com\r\n"
                                        "Action: delivered\r\nStatus: 2.0.0\r\nLast-Attempt-Date: "));
    g_assert_nonnull (strstr (parts[1], "Final-Recipient: rfc822; c@example.org\r\n"
                                        "Original-Recipient: utf-8;j\\x{E9}@example.org\r\n"
                                        "Action: relayed\r\nStatus: 2.0.0\r\n"
                                        "Diagnostic-Code: smtp; 250 2.0.0 Ok\r\n"));
    g_assert_null (strstr (text, "\nBcc:"));
    g_clear_pointer (&value, g_free);
    value = header_value (parts[2], "Content-Type", "\r\n");
    g_assert_cmpstr (value, ==, "message/rfc822");
    g_assert_nonnull (strstr (parts[2], "\r\n\r\nReceived: from client\r\nSubject: Caf\xc3\xa9\r\n"
                                        "\r\nFULL-BODY\r\n"));
  }

  /* Successes only: no content, whatever RET says; headers only. */
  info.recipients = recipients + 1;
  info.n_recipients = 2;
  {
    g_autoptr(GBytes) dsn = relais_bounce_build (&info);
    g_autofree char *text = g_strndup (g_bytes_get_data (dsn, NULL), g_bytes_get_size (dsn));
    g_autofree char *value = header_value (text, "Subject", "\r\n");
    g_auto(GStrv) parts = split_report (text, "\r\n");

    g_assert_cmpstr (value, ==, "Successful Mail Delivery Report");
    g_assert_null (strstr (text, "FULL-BODY"));
    g_assert_false (relais_bounce_has_8bit (dsn));
    g_assert_null (strstr (parts[0], "could not be delivered"));
    g_clear_pointer (&value, g_free);
    value = header_value (parts[2], "Content-Type", "\r\n");
    g_assert_cmpstr (value, ==, "text/rfc822-headers");
  }

  /* A failure with a message too big for RET=FULL: headers and a note. */
  info.recipients = recipients;
  info.n_recipients = 1;
  info.original_message = NULL;
  info.message_too_big = TRUE;
  {
    g_autoptr(GBytes) dsn = relais_bounce_build (&info);
    g_autofree char *text = g_strndup (g_bytes_get_data (dsn, NULL), g_bytes_get_size (dsn));
    g_autofree char *value = header_value (text, "Subject", "\r\n");

    g_assert_cmpstr (value, ==, "Undelivered Mail Returned to Sender");
    g_assert_nonnull (strstr (text, "Your message is larger than 1024 KiB: only its headers are returned."));
    g_assert_nonnull (strstr (text, "Content-Type: text/rfc822-headers"));
    g_assert_null (strstr (text, "FULL-BODY"));
  }
}

static void
test_read_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("relais-bounce-XXXXXX", &error);
  g_autofree char *spool = g_build_filename (dir, "spool", NULL);
  g_autoptr(GBytes) bytes = NULL;
  gboolean too_big = TRUE;

  g_file_set_contents (spool, "Subject: x\r\n\r\nbody\r\n", -1, &error);
  g_assert_no_error (error);
  bytes = relais_bounce_read_message (spool, 100, &too_big, &error);
  g_assert_no_error (error);
  g_assert_false (too_big);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 20);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = relais_bounce_read_message (spool, 19, &too_big, &error);
  g_assert_no_error (error);
  g_assert_null (bytes);
  g_assert_true (too_big);
  g_assert_null (relais_bounce_read_message ("/nonexistent/relais/spool", 100, &too_big, &error));
  g_assert_false (too_big);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  relais_test_remove_tree (dir);
}

/* ---- through the scheduler ---------------------------------------------- */

typedef struct {
  char *state_dir;
  RelaisStore *store;
  RelaisStats *stats;
  RelaisQueue *queue;
  RelaisConfig *config;          /* alice and bob */
  RelaisServices services;
  RelaisScheduler *scheduler;
} Fixture;

static RelaisConfig *
make_config (const char *const *administrators, gboolean with_alice)
{
  g_autoptr(RelaisConfig) base = relais_config_new_default ();
  g_autoptr(RelaisConfig) with_domain = NULL;
  g_autoptr(RelaisConfig) with_bob = NULL;
  g_autoptr(RelaisConfig) general_done = NULL;
  g_autoptr(GError) error = NULL;
  RelaisAccount alice = { (char *) "alice", (char *) "$6$salt$hash", NULL, NULL };
  RelaisAccount bob = { (char *) "bob", (char *) "$6$salt$hash", NULL, NULL };
  g_autoptr(GVariant) general = NULL;
  GVariantBuilder changes;

  with_domain = relais_config_add_local_domain (base, "example.com", &error);
  g_assert_no_error (error);
  with_bob = relais_config_put_account (with_domain, &bob, TRUE, &error);
  g_assert_no_error (error);
  g_variant_builder_init (&changes, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changes, "{sv}", "Hostname", g_variant_new_string ("mx.example.com"));
  g_variant_builder_add (&changes, "{sv}", "ExternalAdministrators",
                         g_variant_new_strv (administrators, -1));
  general = g_variant_ref_sink (g_variant_builder_end (&changes));
  general_done = relais_config_apply_general (with_bob, general, &error);
  g_assert_no_error (error);
  if (!with_alice)
    return g_steal_pointer (&general_done);
  return relais_config_put_account (general_done, &alice, TRUE, &error);
}

static void
kick_cb (const RelaisQueuedMessage *message, gpointer user_data)
{
  relais_scheduler_kick (user_data);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *db_path = NULL;

  fixture->state_dir = g_dir_make_tmp ("relais-bounce-XXXXXX", &error);
  g_assert_no_error (error);
  db_path = g_build_filename (fixture->state_dir, "relais.db", NULL);
  fixture->store = relais_store_open (db_path, &error);
  g_assert_no_error (error);
  fixture->stats = relais_stats_new ();
  fixture->queue = relais_queue_new (fixture->store, fixture->stats, fixture->state_dir, &error);
  g_assert_no_error (error);
  fixture->config = make_config ((const char *[]) { NULL }, TRUE);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_clear_pointer (&fixture->scheduler, relais_scheduler_free);
  g_clear_pointer (&fixture->services.config, relais_config_unref);
  g_clear_pointer (&fixture->queue, relais_queue_free);
  g_clear_pointer (&fixture->store, relais_store_free);
  g_clear_pointer (&fixture->stats, relais_stats_free);
  g_clear_pointer (&fixture->config, relais_config_unref);
  relais_test_remove_tree (fixture->state_dir);
  g_free (fixture->state_dir);
  g_assert_cmpuint (expected_warnings, ==, 0);
  expected_warning = NULL;
}

/* Runs the scheduler with CURRENT (taken) as the live configuration. */
static void
start_scheduler (Fixture *fixture, RelaisConfig *current)
{
  fixture->services.config = current;
  fixture->services.stats = fixture->stats;
  fixture->services.queue = fixture->queue;
  fixture->scheduler = relais_scheduler_new (&fixture->services, fixture->store, fixture->state_dir);
  relais_queue_set_committed_func (fixture->queue, kick_cb, fixture->scheduler);
  relais_scheduler_start (fixture->scheduler);
}

static void
commit_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gint *state = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (relais_queue_commit_finish (NULL, result, &error));
  g_assert_no_error (error);
  *state = 1;
}

/* Queues a message from SENDER to RCPT with a DSN request, routed with the
 * fixture's full config. */
static char *
commit_dsn (Fixture *fixture, const char *sender, const char *rcpt, guint notify, const char *orcpt,
            RelaisDsnRet ret, const char *envid)
{
  const char *body = "Received: from client\r\nSubject: Original subject\r\n"
                     "Message-ID: <orig@example.org>\r\n\r\nsecret body line\r\n";
  g_autoptr(GError) error = NULL;
  RelaisSpoolWriter *writer = relais_queue_begin (fixture->queue, &error);
  RelaisEnvelope *envelope = relais_envelope_new ();
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gint done = 0;
  char *id;

  g_assert_no_error (error);
  id = g_strdup (relais_spool_writer_get_id (writer));
  g_assert_true (relais_spool_writer_write (writer, body, strlen (body), &error));
  envelope->sender = g_strdup (sender);
  g_ptr_array_add (envelope->recipients, g_strdup (rcpt));
  envelope->client_address = g_strdup ("192.0.2.7");
  envelope->helo = g_strdup ("client.example.net");
  envelope->session_id = g_strdup ("S1");
  envelope->dsn_ret = ret;
  envelope->dsn_envid = g_strdup (envid);
  g_array_append_val (envelope->dsn_notify, notify);
  g_ptr_array_add (envelope->dsn_orcpts, relais_dsn_orcpt_from_string (orcpt));
  relais_queue_commit_async (fixture->queue, writer, envelope, fixture->config, commit_done_cb, &done);
  while (!done)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  return id;
}

static char *
commit_one (Fixture *fixture, const char *sender, const char *rcpt)
{
  return commit_dsn (fixture, sender, rcpt, RELAIS_DSN_NOTIFY_UNSET, NULL, RELAIS_DSN_RET_UNSET, NULL);
}

static gint64
count_messages (Fixture *fixture)
{
  g_autoptr(TestStmt) stmt = NULL;
  sqlite3 *db = relais_store_lock (fixture->store);
  gint64 n;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT COUNT(*) FROM messages", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = sqlite3_column_int64 (stmt, 0);
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (fixture->store);
  return n;
}

static guint
count_files (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Waits until the queue is empty and LOGIN's new/ holds one message; returns it. */
static char *
wait_for_mail (Fixture *fixture, const char *login)
{
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, login);
  g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  char *content = NULL;

  /* Rows are gone once committed; the files and counters follow when the
   * commit is reported back. */
  while (count_messages (fixture) != 0 || count_files (new_dir) == 0 ||
         relais_queue_get_outstanding (fixture->queue) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (count_files (new_dir), ==, 1);
  dir = g_dir_open (new_dir, 0, &error);
  g_assert_no_error (error);
  path = g_build_filename (new_dir, g_dir_read_name (dir), NULL);
  g_file_get_contents (path, &content, NULL, &error);
  g_assert_no_error (error);
  return content;
}

/* Runs the main loop for MS milliseconds. */
static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

/* The DSN as delivered (LF line ends in a Maildir), checked for real content. */
static void
assert_dsn (const char *mail, const char *to, const char *failed)
{
  g_autofree char *value = NULL;
  g_autofree char *final = g_strdup_printf ("\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n", failed);
  g_auto(GStrv) parts = NULL;

  g_assert_true (g_str_has_prefix (mail, "Return-Path: <>\n"));
  value = header_value (mail, "To", "\n");
  g_assert_cmpstr (value, ==, to);
  g_clear_pointer (&value, g_free);
  value = header_value (mail, "From", "\n");
  g_assert_cmpstr (value, ==, "Mail Delivery System <MAILER-DAEMON@mx.example.com>");
  parts = split_report (mail, "\n");
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  g_assert_nonnull (strstr (parts[0], "no such account"));
  g_assert_nonnull (strstr (parts[1], final));
  g_assert_nonnull (strstr (parts[2], "\nSubject: Original subject\n"));
  g_assert_null (strstr (mail, "secret body line"));
}

static void
test_scheduler_bounce (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *mail = NULL;

  /* alice's account is gone by the time of delivery: 5.1.1, bounced to bob. */
  start_scheduler (fixture, make_config ((const char *[]) { NULL }, FALSE));
  id = commit_one (fixture, "bob@example.com", "alice@example.com");
  mail = wait_for_mail (fixture, "bob");
  assert_dsn (mail, "<bob@example.com>", "alice@example.com");
  /* removed: no row left */
  g_assert_cmpint (count_messages (fixture), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_BOUNCED), ==, 1);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_DELIVERED_LOCAL), ==, 1);
}

static void
test_scheduler_double_bounce (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *mail = NULL;

  /* The null sender: the failure goes to the external administrator. */
  start_scheduler (fixture, make_config ((const char *[]) { "bob@example.com", NULL }, FALSE));
  id = commit_one (fixture, "", "alice@example.com");
  mail = wait_for_mail (fixture, "bob");
  assert_dsn (mail, "<bob@example.com>", "alice@example.com");
  g_assert_nonnull (strstr (mail, id));
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
}

static void
test_scheduler_null_sender_lost (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *mail_root = g_build_filename (fixture->state_dir, "mail", NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  /* No administrator: logged loudly and dropped, nothing queued instead. */
  expected_warning = "message from the null sender lost";
  expected_warnings = 1;
  start_scheduler (fixture, make_config ((const char *[]) { NULL }, FALSE));
  id = commit_one (fixture, "", "alice@example.com");
  while (count_messages (fixture) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  run_for (1500);
  g_assert_cmpuint (expected_warnings, ==, 0);
  g_assert_cmpint (count_messages (fixture), ==, 0);
  g_assert_cmpuint (count_files (mail_root), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_BOUNCED), ==, 1);
}

static void
test_scheduler_no_loop (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *mail_root = g_build_filename (fixture->state_dir, "mail", NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  /* The sender and the administrator are unknown local addresses too: the
   * bounce fails, its double bounce fails, and that one is dropped. */
  expected_warning = "double bounce lost";
  expected_warnings = 1;
  start_scheduler (fixture, make_config ((const char *[]) { "ghost-admin@example.com", NULL }, FALSE));
  id = commit_one (fixture, "ghost@example.com", "alice@example.com");
  while (expected_warnings > 0 || count_messages (fixture) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  run_for (1500);
  g_assert_cmpint (count_messages (fixture), ==, 0);
  g_assert_cmpuint (count_files (mail_root), ==, 0);
  /* The original, the bounce and the double bounce each failed once. */
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_BOUNCED), ==, 3);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
}

/* NOTIFY=NEVER, or NOTIFY without FAILURE: the failure is logged, no DSN. */
static void
test_scheduler_notify_never (Fixture *fixture, gconstpointer data)
{
  static const guint notifies[] = { RELAIS_DSN_NOTIFY_NEVER, RELAIS_DSN_NOTIFY_SUCCESS | RELAIS_DSN_NOTIFY_DELAY };
  g_autofree char *mail_root = g_build_filename (fixture->state_dir, "mail", NULL);

  start_scheduler (fixture, make_config ((const char *[]) { NULL }, FALSE));
  for (guint i = 0; i < G_N_ELEMENTS (notifies); i++)
    {
      g_autofree char *id = commit_dsn (fixture, "bob@example.com", "alice@example.com", notifies[i],
                                        NULL, RELAIS_DSN_RET_FULL, NULL);
      gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

      while (count_messages (fixture) != 0)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_main_context_iteration (NULL, TRUE);
        }
    }
  run_for (1500);
  g_assert_cmpint (count_messages (fixture), ==, 0);
  g_assert_cmpuint (count_files (mail_root), ==, 0);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_BOUNCED), ==, 2);
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_QUEUE_LENGTH), ==, 0);
}

/* RET=FULL, ENVID and ORCPT reach the bounce the sender gets. */
static void
test_scheduler_ret_full (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *mail = NULL;
  g_auto(GStrv) parts = NULL;

  start_scheduler (fixture, make_config ((const char *[]) { NULL }, FALSE));
  id = commit_dsn (fixture, "bob@example.com", "alice@example.com",
                   RELAIS_DSN_NOTIFY_FAILURE | RELAIS_DSN_NOTIFY_SUCCESS, "rfc822;Alice@Example.com",
                   RELAIS_DSN_RET_FULL, "ENV-1");
  mail = wait_for_mail (fixture, "bob");
  parts = split_report (mail, "\n");
  g_assert_cmpuint (g_strv_length (parts), ==, 3);
  g_assert_nonnull (strstr (parts[1], "\nOriginal-Envelope-Id: ENV-1\n"));
  g_assert_nonnull (strstr (parts[1], "\nFinal-Recipient: rfc822; alice@example.com\n"
                                      "Original-Recipient: rfc822;Alice@Example.com\n"
                                      "Action: failed\nStatus: 5.1.1\n"));
  g_assert_nonnull (strstr (parts[2], "Content-Type: message/rfc822\n"));
  g_assert_nonnull (strstr (parts[2], "\nsecret body line\n"));
}

/* NOTIFY=SUCCESS and a local delivery: a "delivered" report, never to <>. */
static void
test_scheduler_success (Fixture *fixture, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *id2 = NULL;
  g_autofree char *mail = NULL;
  g_autofree char *alice = NULL;
  g_autofree char *value = NULL;
  g_auto(GStrv) parts = NULL;

  start_scheduler (fixture, make_config ((const char *[]) { NULL }, TRUE));
  id = commit_dsn (fixture, "bob@example.com", "alice@example.com", RELAIS_DSN_NOTIFY_SUCCESS,
                   NULL, RELAIS_DSN_RET_FULL, "ENV-2");
  mail = wait_for_mail (fixture, "bob");
  alice = wait_for_mail (fixture, "alice");
  g_assert_nonnull (strstr (alice, "secret body line"));
  value = header_value (mail, "Subject", "\n");
  g_assert_cmpstr (value, ==, "Successful Mail Delivery Report");
  parts = split_report (mail, "\n");
  g_assert_nonnull (strstr (parts[1], "\nOriginal-Envelope-Id: ENV-2\n"));
  g_assert_nonnull (strstr (parts[1], "\nFinal-Recipient: rfc822; alice@example.com\n"
                                      "Action: delivered\nStatus: 2.0.0\n"));
  g_assert_nonnull (strstr (parts[2], "Content-Type: text/rfc822-headers\n"));
  g_assert_null (strstr (mail, "secret body line"));
  g_assert_cmpuint (relais_stats_get (fixture->stats, RELAIS_STAT_BOUNCED), ==, 0);

  /* The null sender gets none: alice gets the message, bob nothing more. */
  id2 = commit_dsn (fixture, "", "alice@example.com", RELAIS_DSN_NOTIFY_SUCCESS, NULL, RELAIS_DSN_RET_UNSET, NULL);
  {
    g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "alice");
    g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
    g_autofree char *bob_maildir = relais_maildir_path (fixture->state_dir, "bob");
    g_autofree char *bob_new = g_build_filename (bob_maildir, "new", NULL);
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (count_messages (fixture) != 0 || count_files (new_dir) < 2)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, TRUE);
      }
    run_for (1000);
    g_assert_cmpuint (count_files (bob_new), ==, 1);
    g_assert_cmpint (count_messages (fixture), ==, 0);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (test_log_writer, NULL, NULL);

  g_test_add_func ("/relais/bounce/status-code", test_status_code);
  g_test_add_func ("/relais/bounce/structure", test_structure);
  g_test_add_func ("/relais/bounce/header-cap", test_header_cap);
  g_test_add_func ("/relais/bounce/dsn-fields", test_dsn_fields);
  g_test_add_func ("/relais/bounce/read-message", test_read_message);
#define ADD(path, func) \
  g_test_add ("/relais/bounce/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("scheduler-bounce", test_scheduler_bounce);
  ADD ("scheduler-double-bounce", test_scheduler_double_bounce);
  ADD ("scheduler-null-sender-lost", test_scheduler_null_sender_lost);
  ADD ("scheduler-no-loop", test_scheduler_no_loop);
  ADD ("scheduler-notify-never", test_scheduler_notify_never);
  ADD ("scheduler-ret-full", test_scheduler_ret_full);
  ADD ("scheduler-success", test_scheduler_success);
#undef ADD

  return g_test_run ();
}
