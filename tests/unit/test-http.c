/* SPDX-License-Identifier: GPL-3.0-or-later
 * The /metrics text and the HTTP options, without a server: label values
 * escaped (a line feed cannot come from the bus, so only here), numbers in C
 * notation whatever the locale, the delivery histogram's cumulative buckets,
 * and the option checks (addresses, pairs, a token off loopback). And one
 * server: /healthz with SMTP listeners not yet started, then started. */
#include <glib.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <locale.h>
#include <string.h>

#include "relais-http.h"
#include "relais-test-util.h"

static void
test_metrics_escape (void)
{
  g_autoptr (RelaisStats) stats = relais_stats_new ();
  g_autofree char *text = NULL;

  relais_stats_hit (stats, "blacklist:a\\b\"c\nd");
  relais_stats_hit (stats, "local-account");
  relais_stats_check_result (stats, "spf", "pass");
  relais_stats_check_result (stats, "dkim", "fail");
  relais_stats_reject (stats, "syntax");
  text = relais_http_metrics_text (stats, 1000);
  g_assert_nonnull (strstr (text, "\nrelais_rule_hits_total{rule=\"blacklist:a\\\\b\\\"c\\nd\"} 1\n"
                                  "relais_rule_hits_total{rule=\"local-account\"} 1\n"));
  g_assert_nonnull (strstr (text, "\nrelais_check_results_total{check=\"dkim\",result=\"fail\"} 1\n"
                                  "relais_check_results_total{check=\"spf\",result=\"pass\"} 1\n"));
  g_assert_nonnull (strstr (text, "\nrelais_rejected_by_reason_total{reason=\"syntax\"} 1\n"));
  g_assert_nonnull (strstr (text, "\nrelais_rejected_total 1\n"));
}

static void
test_metrics_histogram (void)
{
  g_autoptr (RelaisStats) stats = relais_stats_new ();
  g_autofree char *text = NULL;

  /* a decimal comma here must not reach the text */
  if (setlocale (LC_NUMERIC, "fr_FR.UTF-8") == NULL)
    g_test_message ("no fr_FR.UTF-8 locale: the C locale's point is checked only");
  relais_stats_observe_delivery (stats, 0.25);
  relais_stats_observe_delivery (stats, 1.5);
  relais_stats_observe_delivery (stats, 7200);
  relais_stats_observe_delivery (stats, -3);   /* a clock step back counts as 0 */
  text = relais_http_metrics_text (stats, 1000);
  setlocale (LC_NUMERIC, "C");
  g_assert_nonnull (strstr (text, "\nrelais_delivery_duration_seconds_bucket{le=\"0.1\"} 1\n"
                                  "relais_delivery_duration_seconds_bucket{le=\"0.5\"} 2\n"
                                  "relais_delivery_duration_seconds_bucket{le=\"1\"} 2\n"
                                  "relais_delivery_duration_seconds_bucket{le=\"2\"} 3\n"));
  g_assert_nonnull (strstr (text, "\nrelais_delivery_duration_seconds_bucket{le=\"3600\"} 3\n"
                                  "relais_delivery_duration_seconds_bucket{le=\"14400\"} 4\n"));
  g_assert_nonnull (strstr (text, "\nrelais_delivery_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                                  "relais_delivery_duration_seconds_sum 7201.75\n"
                                  "relais_delivery_duration_seconds_count 4\n"));
}

static void
test_metrics_queue_age (void)
{
  g_autoptr (RelaisStats) stats = relais_stats_new ();
  g_autofree char *empty = relais_http_metrics_text (stats, 1000);
  g_autofree char *queued = NULL;

  relais_stats_set (stats, RELAIS_STAT_QUEUE_OLDEST, 900);
  queued = relais_http_metrics_text (stats, 1000);
  g_assert_nonnull (strstr (empty, "\nrelais_queue_oldest_age_seconds 0\n"));
  g_assert_nonnull (strstr (queued, "\nrelais_queue_oldest_age_seconds 100\n"));
  g_assert_cmpuint (relais_stats_queue_oldest_age (stats, 1000), ==, 100);
}

static void
check_options (const char *const *listen, const char *cert, const char *key, const char *token,
               const char *expected_error)
{
  RelaisHttpOptions options = { (GStrv) listen, (char *) cert, (char *) key, (char *) token };
  g_autoptr (GError) error = NULL;
  gboolean ok = relais_http_options_check (&options, &error);

  if (expected_error == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      g_assert_nonnull (error);
      if (strstr (error->message, expected_error) == NULL)
        g_error ("“%s” does not say “%s”", error->message, expected_error);
    }
}

static void
test_options (void)
{
  const char *const loopback[] = { "127.0.0.1:9154", "[::1]:9154", "127.0.0.2:1", NULL };
  const char *const any[] = { ":9154", NULL };
  const char *const public6[] = { "[::]:9154", NULL };
  const char *const lan[] = { "127.0.0.1:9154", "192.0.2.1:9154", NULL };
  static const char *const bad_addresses[] = {
    "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "localhost:80", "::1:80", "127.0.0.1:http", "[::1]:", "",
  };

  check_options (NULL, NULL, NULL, NULL, NULL);
  check_options (loopback, NULL, NULL, NULL, NULL);
  check_options (loopback, "c.pem", "k.pem", NULL, NULL);
  check_options (any, NULL, NULL, "token", NULL);
  check_options (any, NULL, NULL, NULL, ":9154 is not a loopback address");
  check_options (public6, NULL, NULL, NULL, "[::]:9154 is not a loopback address");
  check_options (lan, NULL, NULL, NULL, "192.0.2.1:9154 is not a loopback address");
  check_options (NULL, NULL, NULL, "token", "need --http-listen");
  check_options (loopback, "c.pem", NULL, NULL, "go together");
  check_options (loopback, NULL, "k.pem", NULL, "go together");
  for (guint i = 0; i < G_N_ELEMENTS (bad_addresses); i++)
    {
      const char *const bad[] = { bad_addresses[i], NULL };

      check_options (bad, NULL, NULL, NULL, "invalid address");
    }
}

/* A port on 127.0.0.1 that nobody listens on now (the test runs in a network
 * namespace of its own). */
static guint16
free_port (void)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* The last warning logged (structured logging bypasses g_test_expect_message). */
static char *last_warning;

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & G_LOG_LEVEL_WARNING)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
        {
          g_free (last_warning);
          last_warning = g_strdup (fields[i].value);
          return G_LOG_WRITER_HANDLED;
        }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

typedef struct {
  guint status;
  char *body;
} Answer;

static void
answered_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Answer *answer = user_data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);

  answer->status = soup_message_get_status (msg);
  answer->body = body != NULL ? g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body)) : g_strdup ("");
}

/* GET URL from this thread's main loop, where the server answers too. */
static Answer
get (SoupSession *session, const char *url)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  Answer answer = { 0, NULL };

  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, answered_cb, &answer);
  while (answer.body == NULL)
    g_main_context_iteration (NULL, TRUE);
  /* the session lets go of the message in an idle callback */
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  return answer;
}

static void
test_healthz_listeners (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("relais-http-XXXXXX", &error);
  g_autofree char *db_path = g_build_filename (dir, "relais.db", NULL);
  g_autofree char *spool_tmp = g_build_filename (dir, "spool", "tmp", NULL);
  g_autofree char *spool_msg = g_build_filename (dir, "spool", "msg", NULL);
  g_autofree char *address = g_strdup_printf ("127.0.0.1:%u", free_port ());
  g_autofree char *url = g_strdup_printf ("http://%s/healthz", address);
  char *listen[] = { address, NULL };
  RelaisHttpOptions options = { listen, NULL, NULL, NULL };
  RelaisServices services = { 0 };
  g_autoptr (RelaisStore) store = NULL;
  g_autoptr (RelaisListener) listener = NULL;
  g_autoptr (RelaisHttp) http = NULL;
  g_autoptr (SoupSession) session = soup_session_new ();
  Answer answer;

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (spool_tmp, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (spool_msg, 0700), ==, 0);
  store = relais_store_open (db_path, &error);
  g_assert_no_error (error);
  services.stats = relais_stats_new ();
  listener = relais_listener_new (&services);
  g_assert_true (relais_listener_add (listener, RELAIS_ENDPOINT_SMTP, "127.0.0.1:0", &error));
  http = relais_http_new (&options, services.stats, store, listener, dir, &error);
  g_assert_no_error (error);

  answer = get (session, url);
  g_assert_cmpstr (last_warning, ==, "health check failed: smtp: not accepting connections (not started yet, or shutting down)");
  g_assert_cmpuint (answer.status, ==, 503);
  g_assert_cmpstr (answer.body, ==, "smtp: not accepting connections (not started yet, or shutting down)\n");
  g_free (answer.body);

  relais_listener_start (listener);
  answer = get (session, url);
  g_assert_cmpuint (answer.status, ==, 200);
  g_assert_cmpstr (answer.body, ==, "ok\n");
  g_free (answer.body);

  /* the session first, then the server, and what each leaves to idle callbacks */
  g_clear_object (&session);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_clear_pointer (&http, relais_http_free);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_clear_pointer (&listener, relais_listener_free);
  g_clear_pointer (&services.stats, relais_stats_free);
  relais_test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (log_writer, NULL, NULL);
  g_test_add_func ("/http/metrics-escape", test_metrics_escape);
  g_test_add_func ("/http/metrics-histogram", test_metrics_histogram);
  g_test_add_func ("/http/metrics-queue-age", test_metrics_queue_age);
  g_test_add_func ("/http/options", test_options);
  g_test_add_func ("/http/healthz-listeners", test_healthz_listeners);
  return g_test_run ();
}
