/* SPDX-License-Identifier: GPL-3.0-or-later
 * The HTTP endpoint: a SoupServer on the main loop. Once the headers are in,
 * the bearer token (when one is configured) and the method (GET, HEAD) are
 * checked; request bodies are dropped unread; then the path (/metrics,
 * /healthz). /metrics reads RelaisStats at the moment of
 * the request, the very values the D-Bus Statistics properties are made of;
 * /healthz queries the store, creates and removes a file in the spool and
 * asks the SMTP listener, and names each problem on a line of its own. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-http.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "relais-error.h"
#include "relais-tls.h"

#define TOKEN_DIGEST_LENGTH 32   /* SHA-256 */
#define TEXT_PLAIN          "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT     "text/plain; version=0.0.4; charset=utf-8"

struct _RelaisHttp {
  SoupServer *server;
  RelaisStats *stats;
  RelaisStore *store;
  RelaisListener *listener;
  char *spool_tmp;           /* where receptions write: the probe goes there */
  char *spool_msg;
  gboolean has_token;
  guint8 token_digest[TOKEN_DIGEST_LENGTH];
};

/* ---- options ------------------------------------------------------------ */

void
relais_http_options_clear (RelaisHttpOptions *options)
{
  g_clear_pointer (&options->listen, g_strfreev);
  g_clear_pointer (&options->tls_cert, g_free);
  g_clear_pointer (&options->tls_key, g_free);
  g_clear_pointer (&options->token_file, g_free);
}

/* As --listen (relais_listener_parse_address(): *HOST NULL for every
 * address), but a port of 0 is no use here. */
static gboolean
parse_address (const char *text, char **host, guint16 *port, GError **error)
{
  if (!relais_listener_parse_address (text, host, port, error))
    {
      g_prefix_error (error, "--http-listen: ");
      return FALSE;
    }
  if (*port == 0)
    {
      g_clear_pointer (host, g_free);
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "--http-listen: invalid address “%s”: the port must be from 1 to 65535", text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_loopback (const char *host)
{
  g_autoptr (GInetAddress) address = host != NULL ? g_inet_address_new_from_string (host) : NULL;

  return address != NULL && g_inet_address_get_is_loopback (address);
}

gboolean
relais_http_options_check (const RelaisHttpOptions *options, GError **error)
{
  if (options->listen == NULL || options->listen[0] == NULL)
    {
      if (options->tls_cert != NULL || options->tls_key != NULL || options->token_file != NULL)
        {
          g_set_error_literal (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                               "--http-tls-cert, --http-tls-key and --http-token-file need --http-listen");
          return FALSE;
        }
      return TRUE;
    }
  if ((options->tls_cert == NULL) != (options->tls_key == NULL))
    {
      g_set_error_literal (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "--http-tls-cert and --http-tls-key go together");
      return FALSE;
    }
  for (guint i = 0; options->listen[i] != NULL; i++)
    {
      g_autofree char *host = NULL;
      guint16 port;

      if (!parse_address (options->listen[i], &host, &port, error))
        return FALSE;
      if (options->token_file == NULL && !is_loopback (host))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "--http-listen %s is not a loopback address: the statistics would be open to "
                       "anyone who can reach it; give --http-token-file FILE (a bearer token) or listen "
                       "on 127.0.0.1 or [::1]",
                       options->listen[i]);
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- the bearer token --------------------------------------------------- */

static void
token_digest (const char *token, gsize len, guint8 digest[TOKEN_DIGEST_LENGTH])
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize digest_len = TOKEN_DIGEST_LENGTH;

  g_checksum_update (checksum, (const guchar *) token, (gssize) len);
  g_checksum_get_digest (checksum, digest, &digest_len);
}

/* A token68 (RFC 7235): what may follow "Bearer " in the header. */
static gboolean
is_token68 (const char *token)
{
  gsize len = strspn (token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");

  return len > 0 && strspn (token + len, "=") == strlen (token + len);
}

static gboolean
load_token (RelaisHttp *self, const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  char *token = NULL;

  if (!g_file_get_contents (path, &contents, &length, error))
    {
      g_prefix_error (error, "--http-token-file: ");
      return FALSE;
    }
  /* A NUL inside would hide what follows it from is_token68(). */
  if (memchr (contents, '\0', length) != NULL || !is_token68 (token = g_strstrip (contents)))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "--http-token-file %s: the file must hold one token of letters, digits and "
                   "-._~+/ (then = signs only), on one line",
                   path);
      return FALSE;
    }
  token_digest (token, strlen (token), self->token_digest);
  self->has_token = TRUE;
  explicit_bzero (contents, length);
  return TRUE;
}

/* Compares digests, not the tokens, in a time that depends on neither. */
static gboolean
token_matches (RelaisHttp *self, const char *token)
{
  guint8 digest[TOKEN_DIGEST_LENGTH];
  guint8 diff = 0;

  token_digest (token, strlen (token), digest);
  for (guint i = 0; i < TOKEN_DIGEST_LENGTH; i++)
    diff |= digest[i] ^ self->token_digest[i];
  return diff == 0;
}

/* NULL when the request may go on, else the WWW-Authenticate value of the 401. */
static const char *
check_authorization (RelaisHttp *self, SoupServerMessage *msg)
{
  const char *value = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                    "Authorization");

  if (!self->has_token)
    return NULL;
  if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", 7) != 0)
    return "Bearer realm=\"relaisd\"";
  value += 7;
  while (*value == ' ')
    value++;
  if (!token_matches (self, value))
    return "Bearer realm=\"relaisd\", error=\"invalid_token\"";
  return NULL;
}

/* ---- /metrics ------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *type;
  const char *help;          /* no backslash, no line break */
  const char *labels;        /* NULL, or the sample's labels */
  RelaisStat stat;
} Metric;

/* Samples of one family follow each other; the family's first row has its help. */
static const Metric metrics[] = {
  { "relais_connections_total", "counter", "SMTP connections accepted (Statistics.Connections).", NULL,
    RELAIS_STAT_CONNECTIONS },
  { "relais_sessions_open", "gauge", "SMTP sessions open now (Statistics.SessionsOpen).", NULL,
    RELAIS_STAT_SESSIONS_OPEN },
  { "relais_messages_received_total", "counter",
    "Messages accepted, each 250 after DATA or BDAT LAST (Statistics.MessagesReceived).", NULL,
    RELAIS_STAT_MESSAGES_RECEIVED },
  { "relais_delivered_total", "counter",
    "Recipient deliveries by route: local into a Maildir (Statistics.DeliveredLocal), remote to "
    "another MTA (Statistics.DeliveredRemote).",
    "route=\"local\"", RELAIS_STAT_DELIVERED_LOCAL },
  { "relais_delivered_total", NULL, NULL, "route=\"remote\"", RELAIS_STAT_DELIVERED_REMOTE },
  { "relais_deferred_total", "counter",
    "Delivery attempts that failed temporarily and will be retried (Statistics.Deferred).", NULL,
    RELAIS_STAT_DEFERRED },
  { "relais_bounced_total", "counter", "Recipients that failed permanently (Statistics.Bounced).", NULL,
    RELAIS_STAT_BOUNCED },
  { "relais_discarded_total", "counter",
    "Messages accepted and dropped by a blacklist rule with the action discard (Statistics.Discarded).",
    NULL, RELAIS_STAT_DISCARDED },
  { "relais_rejected_total", "counter",
    "SMTP commands or messages refused, all reasons together (Statistics.Rejected).", NULL,
    RELAIS_STAT_REJECTED },
  { "relais_received_bytes_total", "counter", "Message bytes accepted (Statistics.BytesReceived).", NULL,
    RELAIS_STAT_BYTES_IN },
  { "relais_sent_bytes_total", "counter", "Message bytes delivered to other MTAs (Statistics.BytesSent).",
    NULL, RELAIS_STAT_BYTES_SENT },
  { "relais_tls_sessions_total", "counter",
    "Successful TLS handshakes, STARTTLS or implicit TLS (Statistics.TlsSessions).", NULL,
    RELAIS_STAT_TLS_SESSIONS },
  { "relais_auth_successes_total", "counter", "SMTP AUTH exchanges that succeeded (Statistics.AuthSuccesses).",
    NULL, RELAIS_STAT_AUTH_SUCCESSES },
  { "relais_auth_failures_total", "counter",
    "SMTP AUTH attempts that failed or were refused during a lockout (Statistics.AuthFailures).", NULL,
    RELAIS_STAT_AUTH_FAILURES },
  { "relais_queue_length", "gauge", "Messages in the queue now (Statistics.QueueLength).", NULL,
    RELAIS_STAT_QUEUE_LENGTH },
};

static void
append_family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format wants: backslash, quote, line feed. */
static void
append_label (GString *out, const char *name, const char *value)
{
  g_string_append_printf (out, "%s=\"", name);
  for (const char *p = value; *p != '\0'; p++)
    switch (*p)
      {
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      default:
        g_string_append_c (out, *p);
      }
  g_string_append_c (out, '"');
}

/* Numbers the C locale's way, whatever LC_NUMERIC says. */
static void
append_double (GString *out, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  /* The shortest of 15 or 17 significant digits that reads back as VALUE:
   * 0.1 is "0.1", not "0.10000000000000001", and a start time keeps its
   * microseconds; the C locale's point whatever LC_NUMERIC. */
  g_ascii_formatd (buffer, sizeof buffer, "%.15g", value);
  if (g_ascii_strtod (buffer, NULL) != value)
    g_ascii_formatd (buffer, sizeof buffer, "%.17g", value);
  g_string_append (out, buffer);
}

typedef struct {
  const char *key;
  guint64 value;
} Entry;

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Entry *) a)->key, ((const Entry *) b)->key);
}

/* TABLE (a{st}, floating) as the samples of NAME, sorted by key, the key as
 * the label LABEL; with SECOND_LABEL, keys are "FIRST:SECOND" split at the
 * first colon. */
static void
append_table (GString *out, const char *name, const char *help, GVariant *table, const char *label,
              const char *second_label)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (table);
  g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  GVariantIter iter;
  Entry entry;

  append_family (out, name, "counter", help);
  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&st}", &entry.key, &entry.value))
    g_array_append_val (entries, entry);
  g_array_sort (entries, compare_entries);
  for (guint i = 0; i < entries->len; i++)
    {
      const Entry *e = &g_array_index (entries, Entry, i);
      const char *colon = second_label != NULL ? strchr (e->key, ':') : NULL;

      g_string_append_printf (out, "%s{", name);
      if (second_label == NULL)
        append_label (out, label, e->key);
      else
        {
          g_autofree char *first = g_strndup (e->key, colon != NULL ? (gsize) (colon - e->key) : strlen (e->key));

          append_label (out, label, first);
          g_string_append_c (out, ',');
          append_label (out, second_label, colon != NULL ? colon + 1 : "");
        }
      g_string_append_printf (out, "} %" G_GUINT64_FORMAT "\n", e->value);
    }
}

static void
append_histogram (GString *out, const char *name, const char *help, const RelaisStatsHistogram *histogram)
{
  append_family (out, name, "histogram", help);
  for (guint i = 0; i < RELAIS_STATS_DELIVERY_N_BOUNDS; i++)
    {
      g_string_append_printf (out, "%s_bucket{le=\"", name);
      append_double (out, histogram->bounds[i]);
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", histogram->counts[i]);
    }
  g_string_append_printf (out, "%s_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n%s_sum ", name, histogram->count,
                          name);
  append_double (out, histogram->sum);
  g_string_append_printf (out, "\n%s_count %" G_GUINT64_FORMAT "\n", name, histogram->count);
}

char *
relais_http_metrics_text (RelaisStats *stats, gint64 now)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (metrics); i++)
    {
      const Metric *m = &metrics[i];

      if (m->help != NULL)
        append_family (out, m->name, m->type, m->help);
      g_string_append_printf (out, "%s%s%s%s %" G_GUINT64_FORMAT "\n", m->name, m->labels != NULL ? "{" : "",
                              m->labels != NULL ? m->labels : "", m->labels != NULL ? "}" : "",
                              relais_stats_get (stats, m->stat));
    }
  append_family (out, "relais_queue_oldest_age_seconds", "gauge",
                 "Seconds since the oldest queued message was received, 0 when the queue is empty "
                 "(Statistics.QueueOldestAge).");
  g_string_append_printf (out, "relais_queue_oldest_age_seconds %" G_GUINT64_FORMAT "\n",
                          relais_stats_queue_oldest_age (stats, now));
  append_family (out, "relais_start_time_seconds", "gauge",
                 "When the daemon started, seconds since the Unix epoch (Statistics.StartTime).");
  g_string_append (out, "relais_start_time_seconds ");
  append_double (out, (double) relais_stats_get_start_time (stats) / G_USEC_PER_SEC);
  g_string_append_c (out, '\n');

  append_table (out, "relais_rejected_by_reason_total",
                "SMTP refusals by reason key (Statistics.RejectedByReason).",
                relais_stats_rejections (stats), "reason", NULL);
  append_table (out, "relais_rule_hits_total",
                "Hits of each rule, check and limit, until ResetRuleHits (Statistics.RuleHits).",
                relais_stats_rule_hits (stats), "rule", NULL);
  append_table (out, "relais_check_results_total",
                "Answers of the sender and content checks (Statistics.CheckResults).",
                relais_stats_check_results (stats), "check", "result");
  append_histogram (out, "relais_delivery_duration_seconds",
                    "Time from queueing to the successful delivery of a recipient, local or remote.",
                    relais_stats_delivery_histogram (stats));
  return g_string_free (out, FALSE);
}

/* ---- /healthz ----------------------------------------------------------- */

static void
check_store (RelaisHttp *self, GString *problems)
{
  sqlite3 *db = relais_store_lock (self->store);
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, "SELECT 1 FROM messages LIMIT 1", -1, &stmt, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      g_autoptr (GError) error = NULL;

      relais_store_set_error (db, "store", &error);
      g_string_append_printf (problems, "%s\n", error->message);
    }
  sqlite3_finalize (stmt);
  relais_store_unlock (self->store);
}

/* 0 when PATH is a directory this process may create files in, else an errno. */
static int
writable_dir (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return errno;
  if (!S_ISDIR (st.st_mode))
    return ENOTDIR;
  return g_access (path, W_OK | X_OK) == 0 ? 0 : errno;
}

static void
check_spool (RelaisHttp *self, GString *problems)
{
  g_autofree char *probe = g_build_filename (self->spool_tmp, ".healthz-XXXXXX", NULL);
  int fd = g_mkstemp_full (probe, O_WRONLY | O_CLOEXEC, 0600);
  int err;

  /* root may write where the permissions say no: only a real file tells. */
  if (fd < 0)
    {
      err = errno;
      g_string_append_printf (problems, "spool: %s: %s\n", self->spool_tmp, g_strerror (err));
      return;
    }
  close (fd);
  g_unlink (probe);
  err = writable_dir (self->spool_msg);
  if (err != 0)
    g_string_append_printf (problems, "spool: %s: %s\n", self->spool_msg, g_strerror (err));
}

static char *
health_problems (RelaisHttp *self)
{
  GString *problems = g_string_new (NULL);

  check_store (self, problems);
  check_spool (self, problems);
  if (!relais_listener_is_listening (self->listener))
    g_string_append (problems, "smtp: not accepting connections (not started yet, or shutting down)\n");
  return g_string_free (problems, problems->len == 0);
}

/* ---- requests ----------------------------------------------------------- */

static void
respond (SoupServerMessage *msg, guint status, const char *content_type, char *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body, strlen (body));
}

/* Once the headers are in. No request body is ever needed: none is kept in
 * memory (a client without the token cannot fill it), and a request refused
 * on its headers alone (token, method) is answered without the handler. */
static void
early_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer user_data)
{
  RelaisHttp *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *challenge = check_authorization (self, msg);

  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  if (challenge != NULL)
    {
      g_info ("HTTP %s %s from %s: refused, %s bearer token", method, path,
              soup_server_message_get_remote_host (msg), strstr (challenge, "invalid_token") ? "wrong" : "no");
      soup_message_headers_replace (headers, "WWW-Authenticate", challenge);
      respond (msg, SOUP_STATUS_UNAUTHORIZED, TEXT_PLAIN, g_strdup ("unauthorized: a bearer token is needed\n"));
    }
  else if (strcmp (method, SOUP_METHOD_GET) != 0 && strcmp (method, SOUP_METHOD_HEAD) != 0)
    {
      soup_message_headers_replace (headers, "Allow", "GET, HEAD");
      respond (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, TEXT_PLAIN, g_strdup ("method not allowed: use GET or HEAD\n"));
    }
}

/* An authorized GET or HEAD (early_cb() answered the others). */
static void
request_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer user_data)
{
  RelaisHttp *self = user_data;

  if (strcmp (path, "/metrics") == 0)
    respond (msg, SOUP_STATUS_OK, PROMETHEUS_TEXT,
             relais_http_metrics_text (self->stats, g_get_real_time () / G_USEC_PER_SEC));
  else if (strcmp (path, "/healthz") == 0)
    {
      char *problems = health_problems (self);

      if (problems == NULL)
        respond (msg, SOUP_STATUS_OK, TEXT_PLAIN, g_strdup ("ok\n"));
      else
        {
          g_autofree char *line = g_strdelimit (g_strdup (problems), "\n", ' ');

          g_warning ("health check failed: %s", g_strchomp (line));
          respond (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, TEXT_PLAIN, problems);
        }
    }
  else
    respond (msg, SOUP_STATUS_NOT_FOUND, TEXT_PLAIN, g_strdup ("not found: try /metrics or /healthz\n"));
}

/* ---- the endpoint ------------------------------------------------------- */

static gboolean
listen_on (RelaisHttp *self, const char *text, gboolean https, GError **error)
{
  SoupServerListenOptions flags = https ? SOUP_SERVER_LISTEN_HTTPS : 0;
  g_autofree char *host = NULL;
  guint16 port;
  gboolean ok;

  if (!parse_address (text, &host, &port, error))
    return FALSE;
  if (host == NULL)
    ok = soup_server_listen_all (self->server, port, flags, error);
  else
    {
      g_autoptr (GSocketAddress) address = g_inet_socket_address_new_from_string (host, port);

      ok = soup_server_listen (self->server, address, flags, error);
    }
  if (!ok)
    {
      g_prefix_error (error, "Cannot listen for HTTP on %s: ", text);
      return FALSE;
    }
  if (self->has_token && !https && !is_loopback (host))
    g_warning ("HTTP on %s: the bearer token travels in clear; give --http-tls-cert and --http-tls-key", text);
  g_message ("listening on %s (%s)", text, https ? "https" : "http");
  return TRUE;
}

RelaisHttp *
relais_http_new (const RelaisHttpOptions *options, RelaisStats *stats, RelaisStore *store,
                 RelaisListener *listener, const char *state_dir, GError **error)
{
  g_autoptr (RelaisHttp) self = g_new0 (RelaisHttp, 1);
  g_autoptr (GTlsCertificate) certificate = NULL;

  g_return_val_if_fail (options->listen != NULL && options->listen[0] != NULL, NULL);

  self->stats = stats;
  self->store = store;
  self->listener = listener;
  self->spool_tmp = g_build_filename (state_dir, "spool", "tmp", NULL);
  self->spool_msg = g_build_filename (state_dir, "spool", "msg", NULL);
  if (options->token_file != NULL && !load_token (self, options->token_file, error))
    return NULL;
  if (options->tls_cert != NULL)
    {
      certificate = relais_tls_load_or_create (NULL, options->tls_cert, options->tls_key, NULL, error);
      if (certificate == NULL)
        {
          g_prefix_error (error, "--http-tls-cert/--http-tls-key: ");
          return NULL;
        }
    }
  self->server = soup_server_new ("server-header", "relaisd", "tls-certificate", certificate, NULL);
  soup_server_add_early_handler (self->server, NULL, early_cb, self, NULL);
  soup_server_add_handler (self->server, NULL, request_cb, self, NULL);
  for (guint i = 0; options->listen[i] != NULL; i++)
    if (!listen_on (self, options->listen[i], certificate != NULL, error))
      return NULL;
  return g_steal_pointer (&self);
}

void
relais_http_free (RelaisHttp *http)
{
  if (http == NULL)
    return;
  if (http->server != NULL)
    {
      soup_server_disconnect (http->server);
      g_object_unref (http->server);
    }
  g_free (http->spool_tmp);
  g_free (http->spool_msg);
  explicit_bzero (http->token_digest, sizeof http->token_digest);
  g_free (http);
}
