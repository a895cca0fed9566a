/* SPDX-License-Identifier: GPL-3.0-or-later
 * relaisd: options, locale, signals, the open-file limit and the main loop.
 * Everything else is wired by the root object (service/relais-daemon.c). */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <inttypes.h>
#include <locale.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>

#include "relais-daemon.h"
#include "relais-log.h"

/* Signals are caught from the start but handled once the main loop runs,
 * when the daemon (USER_DATA points to it) exists. */

/* SIGTERM, SIGINT: graceful stop (a second one stops at once). */
static gboolean
stop_cb (gpointer user_data)
{
  RelaisDaemon **daemon = user_data;

  if (*daemon != NULL)
    relais_daemon_stop (*daemon);
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: read the TLS certificate again. */
static gboolean
reload_cb (gpointer user_data)
{
  RelaisDaemon **daemon = user_data;

  if (*daemon != NULL)
    {
      g_message ("reloading on SIGHUP");
      relais_daemon_reload (*daemon);
    }
  return G_SOURCE_CONTINUE;
}

/* systemd gives StateDirectory= as STATE_DIRECTORY (colon-separated if several). */
static char *
default_state_dir (void)
{
  const char *env = g_getenv ("STATE_DIRECTORY");

  if (env && *env)
    {
      g_auto (GStrv) dirs = g_strsplit (env, ":", 2);
      return g_strdup (dirs[0]);
    }
  return g_strdup (RELAIS_DEFAULT_STATE_DIR);
}

/* Every SMTP session holds a socket: the usual soft open-file limit (1024)
 * would refuse clients long before memory runs short, so take the hard limit
 * (the unit sets both with LimitNOFILE=; GLib polls, never select()s). */
static void
raise_open_file_limit (void)
{
  struct rlimit limit;
  rlim_t soft;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      g_warning ("cannot read the open-file limit: %s", g_strerror (errno));
      return;
    }
  if (limit.rlim_cur >= limit.rlim_max)
    {
      g_info ("open-file limit: %" PRIuMAX, (uintmax_t) limit.rlim_cur);
      return;
    }
  soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    g_warning ("cannot raise the open-file limit from %" PRIuMAX " to %" PRIuMAX ": %s", (uintmax_t) soft,
               (uintmax_t) limit.rlim_max, g_strerror (errno));
  else
    g_message ("open-file limit raised from %" PRIuMAX " to %" PRIuMAX, (uintmax_t) soft,
               (uintmax_t) limit.rlim_max);
}

/* glibc gives freed memory at the top of the heap back to the system past
 * 128 KiB, and the next session's buffers take it again: brk() and page
 * faults at every message. Keeping a few MiB costs less than that churn. */
static void
tune_malloc (void)
{
  mallopt (M_TOP_PAD, 1024 * 1024);
  mallopt (M_TRIM_THRESHOLD, 8 * 1024 * 1024);
  mallopt (M_MMAP_THRESHOLD, 1024 * 1024);
}

/* TLS 1.2 and 1.3 only, GnuTLS's ciphers otherwise (no SSL 3, TLS 1.0 or 1.1). */
#define RELAIS_DEFAULT_TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* GLib's GnuTLS backend reads G_TLS_GNUTLS_PRIORITY when it first makes a
 * TLS connection, for every connection of the process (SMTP server and
 * client, HTTPS): set it now, checked. --tls-priority wins, then a value
 * already in the environment, then ours. */
static gboolean
set_tls_priority (const char *option, GError **error)
{
  const char *priority = option != NULL ? option : g_getenv ("G_TLS_GNUTLS_PRIORITY");
  gnutls_priority_t cache;
  const char *error_pos = NULL;
  int rc;

  if (priority == NULL || *priority == '\0')
    priority = RELAIS_DEFAULT_TLS_PRIORITY;
  rc = gnutls_priority_init (&cache, priority, &error_pos);
  if (rc != GNUTLS_E_SUCCESS)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: '%s' is not a GnuTLS priority string (%s%s%s)",
                   option != NULL ? "--tls-priority" : "G_TLS_GNUTLS_PRIORITY", priority, gnutls_strerror (rc),
                   error_pos != NULL ? ", at: " : "", error_pos != NULL ? error_pos : "");
      return FALSE;
    }
  gnutls_priority_deinit (cache);
  g_setenv ("G_TLS_GNUTLS_PRIORITY", priority, TRUE);
  g_info ("TLS priority: %s", priority);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_auto (RelaisDaemonOptions) options = { 0 };
  gboolean version = FALSE, verbose = FALSE;
  g_autofree char *tls_priority = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisDaemon) daemon = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &options.session_bus,
      "Own org.relais.Relais1 on the session bus instead of the system bus (development, tests)", NULL },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &options.state_dir,
      "Database, spool, mailboxes and certificates (default: $STATE_DIRECTORY, else " RELAIS_DEFAULT_STATE_DIR ")",
      "DIR" },
    { "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.listen,
      "SMTP endpoint, repeatable (default :25, all addresses)", "ADDR:PORT" },
    { "submission-listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.submission_listen,
      "Submission endpoint (STARTTLS, authentication required), repeatable", "ADDR:PORT" },
    { "smtps-listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.smtps_listen,
      "Submission endpoint with implicit TLS, repeatable", "ADDR:PORT" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &options.tls_cert,
      "PEM certificate chain (default: STATE/tls/cert.pem, self-signed at first start)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &options.tls_key, "PEM private key of --tls-cert", "FILE" },
    { "tls-priority", 0, 0, G_OPTION_ARG_STRING, &tls_priority,
      "GnuTLS priority string for every TLS connection (default: " RELAIS_DEFAULT_TLS_PRIORITY ")", "STRING" },
    { "http-listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options.http.listen,
      "HTTP endpoint for /metrics and /healthz, repeatable (default: none; loopback unless --http-token-file)",
      "ADDR:PORT" },
    { "http-tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &options.http.tls_cert,
      "PEM certificate chain: serve HTTPS on --http-listen", "FILE" },
    { "http-tls-key", 0, 0, G_OPTION_ARG_FILENAME, &options.http.tls_key, "PEM private key of --http-tls-cert",
      "FILE" },
    { "http-token-file", 0, 0, G_OPTION_ARG_FILENAME, &options.http.token_file,
      "File holding the bearer token every HTTP request must present", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  g_log_set_writer_func (relais_log_writer, NULL, NULL);

  context = g_option_context_new ("- the Relais mail transfer agent");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
                                "Receives mail over SMTP, queues it durably and delivers it.\n"
                                "Configured live over D-Bus (org.relais.Relais1); see relaisd(8).");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("relaisd: %s\nTry 'relaisd --help'.\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr ("relaisd: unexpected argument '%s'\nTry 'relaisd --help'.\n", argv[1]);
      return 2;
    }
  if (version)
    {
      g_print ("relaisd %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (verbose)
    g_log_set_debug_enabled (TRUE);
  if ((options.tls_cert == NULL) != (options.tls_key == NULL))
    {
      g_printerr ("relaisd: --tls-cert and --tls-key go together\n");
      return 2;
    }
  if (!relais_http_options_check (&options.http, &error) || !set_tls_priority (tls_priority, &error))
    {
      g_printerr ("relaisd: %s\n", error->message);
      return 2;
    }
  /* Every file it makes is the daemon's alone (the database holds password
   * hashes and DKIM keys, the spool and mailboxes mail). */
  umask (077);
  if (options.state_dir == NULL)
    options.state_dir = default_state_dir ();
  tune_malloc ();
  raise_open_file_limit ();

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, stop_cb, &daemon);
  g_unix_signal_add (SIGINT, stop_cb, &daemon);
  g_unix_signal_add (SIGHUP, reload_cb, &daemon);

  daemon = relais_daemon_new (&options, &error);
  if (daemon == NULL || !relais_daemon_start (daemon, loop, &error))
    {
      g_printerr ("relaisd: %s\n", error->message);
      return 1;
    }
  relais_log_batch_start (NULL);
  g_main_loop_run (loop);
  relais_log_batch_stop ();
  return 0;
}
