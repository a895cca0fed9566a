/* SPDX-License-Identifier: GPL-3.0-or-later
 * The /metrics text and the HTTP options, without a server: label values
 * escaped (a line feed cannot come from the bus, so only here), numbers in C
 * notation whatever the locale, the delivery histogram's cumulative buckets,
 * and the option checks (addresses, pairs, a token off loopback). */
#include <glib.h>
#include <locale.h>
#include <string.h>

#include "relais-http.h"

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
  g_assert_nonnull (strstr (text, "\nrelais_delivery_duration_seconds_bucket{le=\"1\"} 2\n"
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

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http/metrics-escape", test_metrics_escape);
  g_test_add_func ("/http/metrics-histogram", test_metrics_histogram);
  g_test_add_func ("/http/metrics-queue-age", test_metrics_queue_age);
  g_test_add_func ("/http/options", test_options);
  return g_test_run ();
}
