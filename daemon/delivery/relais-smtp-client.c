/* SPDX-License-Identifier: GPL-3.0-or-later
 * The outbound SMTP client, an async state machine on the main loop (no
 * thread). Invariants:
 * - one operation at a time (resolve, connect, handshake, write, read, spool
 *   read), each under its own RFC 5321 §4.5.3.2 timeout; a timeout cancels the
 *   operation and the connection is dropped without QUIT;
 * - replies go through one fixed buffer: a line longer than
 *   RELAIS_SMTP_REPLY_LINE_MAX or anything that is not a reply line ends the
 *   connection with a temporary failure, never a crash or unbounded memory;
 * - until MAIL is accepted (or refused) any failure moves on to the next
 *   address / target; from then on the outcome is final for this attempt and
 *   every recipient without an outcome gets the failure as TEMPFAIL;
 * - credentials are only sent over TLS and never logged;
 * - a recipient's outcome is set once: reply != NULL means decided. */
#define _GNU_SOURCE             /* preadv2(), RWF_NOWAIT */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-smtp-client.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <gio/gunixinputstream.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "relais-error.h"
#include "relais-log.h"
#include "relais-poller.h"

#define IN_BUFFER_SIZE 4096          /* > RELAIS_SMTP_REPLY_LINE_MAX + 2 */
#define SPOOL_CHUNK    65536
#define QUIT_TIMEOUT   10            /* seconds: the outcome is known, do not wait long */

typedef enum {
  STEP_RESOLVE,
  STEP_CONNECT,
  STEP_HANDSHAKE,
  STEP_GREETING,
  STEP_EHLO,
  STEP_HELO,
  STEP_STARTTLS,
  STEP_AUTH,
  STEP_MAIL,
  STEP_RCPT,
  STEP_DATA,
  STEP_CONTENT,
  STEP_DOT,
  STEP_QUIT,
} Step;

static const char *const step_names[] = {
  "resolve", "connect", "TLS handshake", "greeting", "EHLO", "HELO", "STARTTLS", "AUTH",
  "MAIL", "RCPT", "DATA", "message content", "end of data", "QUIT",
};

typedef struct _Client Client;
typedef void (*ReplyFunc) (Client *c, const RelaisSmtpReply *reply);
typedef void (*NextFunc) (Client *c);

struct _Client {
  RelaisSmtpDelivery *d;
  GTask *task;
  gboolean probe;
  RelaisSmtpTimeouts t;
  GCancellable *user_cancellable;
  gulong cancel_handler;
  int spool_fd;              /* read from the page cache (spool_read_cached()), -1 when not open */
  GInputStream *spool;       /* on SPOOL_FD, made for a read that needs the disk (in GIO's thread) */
  goffset spool_size;
  gboolean spool_moved;       /* read from since it was opened or rewound */
  GError *local_error;          /* the task fails with it */

  /* targets and addresses */
  guint target_index;
  const RelaisSmtpTarget *target;
  char *target_host;            /* without brackets */
  GList *addresses;             /* GInetAddress*, not yet tried, of the current target */
  GInetAddress *address;        /* being tried */
  gboolean plain_only;          /* retrying ADDRESS without STARTTLS after a failed handshake */
  gboolean retry_plain;
  guint attempts;
  char *problem;                /* the last failure, "4.x.x ..." */
  char *permanent_problem;      /* the last 5xx reply to the greeting or EHLO/HELO */
  gboolean all_permanent;       /* every attempt so far ended with such a 5xx */
  char *probe_error;            /* "STEP: problem" */
  gboolean probe_ok;

  /* the current connection */
  GCancellable *cancellable;    /* cancelled by a timeout or by the caller */
  GSocketConnection *connection;
  GIOStream *stream;            /* CONNECTION or the TLS connection over it */
  GTlsConnection *tls;
  RelaisPollWatch *watch;       /* a plain connection's reads wait here, not in a GIO source */
  guint timeout_id;
  gboolean timed_out;
  Step step;
  char *host;                   /* "name[ip]:port" */
  char in[IN_BUFFER_SIZE];
  gsize in_len;
  GString *out;
  RelaisSmtpReply *reply;       /* being read */
  ReplyFunc on_reply;
  guint reply_timeout;
  NextFunc on_written;
  NextFunc after_tls;
  NextFunc after_quit;
  GTlsCertificateFlags cert_errors;
  gint64 since;                 /* monotonic time the connection was made */
  guint uses;                   /* transactions before this one on it (a kept connection) */
  gboolean reused;              /* a kept connection, not yet answered MAIL */

  /* what the server said and offered (after the last EHLO) */
  char *greeting;
  GPtrArray *extensions;        /* char*, EHLO lines after the first */
  gboolean pipelining, starttls, dsn, eightbit, smtputf8, auth_plain, auth_login, has_size;
  guint64 max_size;
  gboolean starttls_refused;

  /* the transaction */
  gboolean in_transaction;      /* MAIL was answered: the outcome is final */
  gboolean mail_failed;
  guint8 *accepted;             /* per recipient */
  guint n_accepted;
  guint rcpt_index;             /* next RCPT reply to read */
  guint auth_step;
  gboolean at_line_start;
  guint8 *chunk;
};

static void next_target (Client *c);
static void next_address (Client *c);
static void finish (Client *c);
static void send_ehlo (Client *c);
static void after_ehlo (Client *c);
static void begin_transaction (Client *c);
static void unpark_failed (Client *c);
static void read_chunk (Client *c);

/* ---- pure parts -------------------------------------------------------- */

RelaisSmtpTimeouts
relais_smtp_timeouts_default (void)
{
  RelaisSmtpTimeouts t = { 30, 300, 300, 120, 180, 600 };

  return t;
}

RelaisSmtpReply *
relais_smtp_reply_new (void)
{
  RelaisSmtpReply *reply = g_new0 (RelaisSmtpReply, 1);

  reply->lines = g_ptr_array_new_with_free_func (g_free);
  return reply;
}

void
relais_smtp_reply_free (RelaisSmtpReply *reply)
{
  if (reply == NULL)
    return;
  g_ptr_array_unref (reply->lines);
  g_free (reply);
}

/* LEN bytes as valid UTF-8 without control characters (each becomes '?'). */
static char *
printable (const char *text, gsize len)
{
  g_autofree char *valid = g_utf8_make_valid (text, (gssize) len);

  for (char *p = valid; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = '?';
  return g_steal_pointer (&valid);
}

RelaisSmtpReplyStatus
relais_smtp_reply_add_line (RelaisSmtpReply *reply, const char *line, gsize len, char **error)
{
  guint code;

  g_return_val_if_fail (reply != NULL && line != NULL && error != NULL, RELAIS_SMTP_REPLY_BAD);

  if (len > RELAIS_SMTP_REPLY_LINE_MAX)
    {
      *error = g_strdup_printf ("reply line longer than %d bytes", RELAIS_SMTP_REPLY_LINE_MAX);
      return RELAIS_SMTP_REPLY_BAD;
    }
  /* RFC 5321 §4.2: three digits (2-5, 0-5, 0-9), then SP, '-' or the end. */
  if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
      !g_ascii_isdigit (line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
    {
      g_autofree char *shown = printable (line, MIN (len, 60));

      *error = g_strdup_printf ("not an SMTP reply: \"%s\"", shown);
      return RELAIS_SMTP_REPLY_BAD;
    }
  code = (guint) ((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
  if (reply->code != 0 && code != reply->code)
    {
      *error = g_strdup_printf ("reply code changed from %u to %u inside a multi-line reply",
                                reply->code, code);
      return RELAIS_SMTP_REPLY_BAD;
    }
  if (reply->lines->len >= RELAIS_SMTP_REPLY_LINES_MAX)
    {
      *error = g_strdup_printf ("reply longer than %d lines", RELAIS_SMTP_REPLY_LINES_MAX);
      return RELAIS_SMTP_REPLY_BAD;
    }
  reply->code = code;
  g_ptr_array_add (reply->lines, len > 4 ? printable (line + 4, len - 4) : g_strdup (""));
  return len > 3 && line[3] == '-' ? RELAIS_SMTP_REPLY_MORE : RELAIS_SMTP_REPLY_DONE;
}

char *
relais_smtp_reply_to_string (const RelaisSmtpReply *reply)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "%03u", reply->code);
  for (guint i = 0; i < reply->lines->len; i++)
    {
      const char *text = reply->lines->pdata[i];

      if (*text == '\0')
        continue;
      g_string_append (s, i == 0 || s->len == 3 ? " " : "; ");
      g_string_append (s, text);
    }
  return g_string_free (s, FALSE);
}

void
relais_smtp_dot_stuff (const char *data, gsize len, gboolean *at_line_start, GString *out)
{
  gsize start = 0, i = 0;

  while (i < len)
    {
      const char *lf;

      if (*at_line_start && data[i] == '.')
        {
          g_string_append_len (out, data + start, (gssize) (i - start));
          g_string_append_c (out, '.');
          start = i;       /* the dot itself is copied with the next run */
        }
      lf = memchr (data + i, '\n', len - i);
      if (lf == NULL)
        {
          *at_line_start = FALSE;
          break;
        }
      i = (gsize) (lf - data) + 1;
      *at_line_start = TRUE;
    }
  g_string_append_len (out, data + start, (gssize) (len - start));
}

/* ---- the public structures --------------------------------------------- */

RelaisSmtpTarget *
relais_smtp_target_new (const char *host, guint16 port)
{
  RelaisSmtpTarget *target = g_new0 (RelaisSmtpTarget, 1);

  target->host = g_strdup (host);
  target->port = port;
  return target;
}

void
relais_smtp_target_free (RelaisSmtpTarget *target)
{
  if (target == NULL)
    return;
  g_free (target->host);
  g_free (target);
}

RelaisSmtpRecipient *
relais_smtp_recipient_new (const char *address, const char *rcpt_params)
{
  RelaisSmtpRecipient *r = g_new0 (RelaisSmtpRecipient, 1);

  r->address = g_strdup (address);
  r->rcpt_params = g_strdup (rcpt_params);
  r->status = RELAIS_DELIVERY_TEMPFAIL;
  return r;
}

void
relais_smtp_recipient_free (RelaisSmtpRecipient *r)
{
  if (r == NULL)
    return;
  g_free (r->address);
  g_free (r->rcpt_params);
  g_free (r->reply);
  g_free (r);
}

RelaisSmtpDelivery *
relais_smtp_delivery_new (void)
{
  RelaisSmtpDelivery *d = g_new0 (RelaisSmtpDelivery, 1);

  d->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_smtp_target_free);
  d->recipients = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_smtp_recipient_free);
  d->tls_mode = RELAIS_SMTP_TLS_OPPORTUNISTIC;
  d->sender = g_strdup ("");
  d->timeouts = relais_smtp_timeouts_default ();
  return d;
}

void
relais_smtp_delivery_free (RelaisSmtpDelivery *d)
{
  if (d == NULL)
    return;
  g_free (d->helo_name);
  g_ptr_array_unref (d->targets);
  g_free (d->username);
  g_free (d->password);
  g_clear_object (&d->tls_database);
  g_free (d->sender);
  g_free (d->mail_params);
  g_free (d->message_path);
  g_free (d->header_prefix);
  g_ptr_array_unref (d->recipients);
  g_free (d->queue_id);
  g_free (d->connected_host);
  g_free (d->tls_description);
  g_free (d);
}

/* ---- client lifetime --------------------------------------------------- */

static void
client_free (Client *c)
{
  g_assert (c->timeout_id == 0);
  g_clear_object (&c->spool);
  if (c->spool_fd >= 0)
    close (c->spool_fd);
  g_clear_error (&c->local_error);
  g_free (c->target_host);
  g_list_free_full (c->addresses, g_object_unref);
  g_clear_object (&c->address);
  g_free (c->problem);
  g_free (c->permanent_problem);
  g_free (c->probe_error);
  g_clear_object (&c->cancellable);
  g_clear_pointer (&c->watch, relais_poll_watch_free);
  g_clear_object (&c->tls);
  g_clear_object (&c->stream);
  g_clear_object (&c->connection);
  g_free (c->host);
  g_string_free (c->out, TRUE);
  relais_smtp_reply_free (c->reply);
  g_free (c->greeting);
  g_ptr_array_unref (c->extensions);
  g_free (c->accepted);
  g_free (c->chunk);
  g_free (c);
}

static void disarm (Client *c);
static gboolean cancelled_wait_cb (gpointer user_data);

static void
user_cancelled_cb (GCancellable *cancellable G_GNUC_UNUSED, gpointer user_data)
{
  Client *c = user_data;

  if (c->cancellable != NULL)
    g_cancellable_cancel (c->cancellable);
  if (relais_poll_watch_disarm (c->watch))
    {
      disarm (c);
      c->timeout_id = g_idle_add (cancelled_wait_cb, c);
    }
}

static gboolean
user_cancelled (Client *c)
{
  return c->user_cancellable != NULL && g_cancellable_is_cancelled (c->user_cancellable);
}

static const char *
host_label (Client *c)
{
  return c->host != NULL ? c->host : c->target_host;
}

/* ---- recipients -------------------------------------------------------- */

static RelaisSmtpRecipient *
recipient (Client *c, guint i)
{
  return c->d->recipients->pdata[i];
}

static void
set_outcome (RelaisSmtpRecipient *r, RelaisDeliveryStatus status, const char *reply)
{
  r->status = status;
  g_free (r->reply);
  r->reply = g_strdup (reply);
}

static RelaisDeliveryStatus
status_of_code (guint code)
{
  if (code >= 200 && code < 300)
    return RELAIS_DELIVERY_OK;
  return code >= 500 ? RELAIS_DELIVERY_PERMFAIL : RELAIS_DELIVERY_TEMPFAIL;
}

/* Every recipient without an outcome yet gets this one. */
static void
set_pending (Client *c, RelaisDeliveryStatus status, const char *reply)
{
  for (guint i = 0; i < c->d->recipients->len; i++)
    if (recipient (c, i)->reply == NULL)
      set_outcome (recipient (c, i), status, reply);
}

/* ---- timeouts and I/O -------------------------------------------------- */

static void
disarm (Client *c)
{
  if (c->timeout_id != 0)
    g_source_remove (c->timeout_id);
  c->timeout_id = 0;
}

static void wait_failed (Client *c, const GError *error);

static gboolean
timeout_cb (gpointer user_data)
{
  Client *c = user_data;

  c->timeout_id = 0;
  c->timed_out = TRUE;
  g_cancellable_cancel (c->cancellable);
  if (relais_poll_watch_disarm (c->watch))
    wait_failed (c, NULL);
  return G_SOURCE_REMOVE;
}

/* A read waiting in the poller when the caller cancelled: it fails in a
 * turn of the main loop of its own, as a GIO read would. */
static gboolean
cancelled_wait_cb (gpointer user_data)
{
  Client *c = user_data;

  c->timeout_id = 0;
  wait_failed (c, NULL);
  return G_SOURCE_REMOVE;
}

static void
arm (Client *c, guint seconds)
{
  disarm (c);
  c->timeout_id = g_timeout_add_seconds (seconds, timeout_cb, c);
}

/* Drops the connection at once (no QUIT). The socket is closed directly,
 * without a TLS close_notify: that write could hang forever on a peer that
 * stopped reading. What was learnt about the server stays for the probe. */
static void
close_connection (Client *c)
{
  disarm (c);
  g_clear_pointer (&c->watch, relais_poll_watch_free);   /* before its descriptor closes */
  if (c->connection != NULL)
    g_io_stream_close (G_IO_STREAM (c->connection), NULL, NULL);
  g_clear_object (&c->tls);
  g_clear_object (&c->stream);
  g_clear_object (&c->connection);
  c->in_len = 0;
}

static void quit_cb (Client *c, const RelaisSmtpReply *reply);
static void send_command (Client *c, Step step, guint timeout, ReplyFunc func, const char *format, ...)
  G_GNUC_PRINTF (5, 6);

/* Ends the connection, with QUIT when the dialogue is still in step, then THEN. */
static void
end_connection (Client *c, gboolean send_quit, NextFunc then)
{
  if (send_quit && c->stream != NULL && !user_cancelled (c))
    {
      c->after_quit = then;
      send_command (c, STEP_QUIT, MIN (QUIT_TIMEOUT, c->t.command), quit_cb, "QUIT");
      return;
    }
  close_connection (c);
  then (c);
}

static void
quit_cb (Client *c, const RelaisSmtpReply *reply G_GNUC_UNUSED)
{
  close_connection (c);
  c->after_quit (c);
}

/* The current connection cannot go on. Before MAIL was answered the next
 * address is tried; after it, recipients without an outcome get PROBLEM.
 * IN_SYNC: the dialogue is in step, so QUIT can be sent. PERMANENT_REPLY: a
 * 5xx reply to the greeting or EHLO/HELO. */
static void
attempt_failed (Client *c, gboolean in_sync, const char *permanent_reply, char *problem)
{
  g_autofree char *owned = problem;

  if (c->step == STEP_QUIT)
    {
      /* The outcome is already known: a lost QUIT changes nothing. */
      relais_log_queue (G_LOG_LEVEL_DEBUG, c->d->queue_id, "%s: no reply to QUIT: %s", host_label (c), problem);
      close_connection (c);
      c->after_quit (c);
      return;
    }
  if (c->reused && !c->in_transaction && !user_cancelled (c))
    {
      /* A kept connection the server has meanwhile closed: not an attempt. */
      relais_log_queue (G_LOG_LEVEL_INFO, c->d->queue_id, "%s: kept connection unusable, connecting afresh: %s",
                        host_label (c), problem);
      unpark_failed (c);
      return;
    }
  relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id, "%s: %s failed: %s", host_label (c),
                    step_names[c->step], problem);
  g_free (c->probe_error);
  c->probe_error = g_strdup_printf ("%s: %s", step_names[c->step], problem);
  if (user_cancelled (c))
    {
      close_connection (c);
      finish (c);
      return;
    }
  if (c->in_transaction)
    {
      set_pending (c, RELAIS_DELIVERY_TEMPFAIL, problem);
      end_connection (c, in_sync, finish);
      return;
    }
  if (permanent_reply != NULL)
    {
      g_free (c->permanent_problem);
      c->permanent_problem = g_strdup (permanent_reply);
    }
  else
    c->all_permanent = FALSE;
  g_free (c->problem);
  c->problem = g_steal_pointer (&owned);
  end_connection (c, in_sync, next_address);
}

G_GNUC_PRINTF (4, 5)
static void
attempt_failedf (Client *c, gboolean in_sync, const char *permanent_reply, const char *format, ...)
{
  va_list ap;
  char *problem;

  va_start (ap, format);
  problem = g_strdup_vprintf (format, ap);
  va_end (ap);
  attempt_failed (c, in_sync, permanent_reply, problem);
}

/* A read or write failed: timeout, connection lost, cancelled. */
static void
io_failed (Client *c, const char *doing, const GError *error)
{
  if (user_cancelled (c))
    attempt_failedf (c, FALSE, NULL, "4.3.0 %s: delivery cancelled while %s", host_label (c), doing);
  else if (c->timed_out)
    attempt_failedf (c, FALSE, NULL, "4.4.2 %s: timed out %s", host_label (c), doing);
  else if (error == NULL)
    attempt_failedf (c, FALSE, NULL, "4.4.2 %s: connection closed by the server while %s",
                     host_label (c), doing);
  else
    attempt_failedf (c, FALSE, NULL, "4.4.2 %s: connection lost while %s: %s", host_label (c), doing,
                     error->message);
}

static void parse_input (Client *c);

/* Replies and writes that complete at once go on at once, a call deeper:
 * past this depth, what follows waits for a turn of the main loop (a long
 * run of pipelined replies, one delivery after another on a fast server). */
#define IO_DEPTH_MAX 16
static guint io_depth;   /* main thread */

/* The read of a reply ended without one (ERROR: why; NULL: end of stream,
 * or the timeout / the caller's cancellation, which the client knows). */
static void
wait_failed (Client *c, const GError *error)
{
  g_autofree char *doing = g_strdup_printf ("waiting for the reply to %s", step_names[c->step]);

  disarm (c);
  io_failed (c, doing, error);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n > 0)
    {
      c->in_len += (gsize) n;
      parse_input (c);
      return;
    }
  wait_failed (c, error);
}

static void
readable_cb (gpointer user_data)
{
  parse_input (user_data);
}

/* More of the reply into C->in: TRUE when some came; FALSE when the wait is
 * under way (in the poller for a plain connection, else GIO's read) or the
 * attempt failed. */
static gboolean
read_more (Client *c)
{
  g_autoptr(GError) error = NULL;

  if (c->tls == NULL && c->watch == NULL)
    c->watch = relais_poll_watch_new (g_socket_get_fd (g_socket_connection_get_socket (c->connection)), NULL);
  if (c->tls == NULL && c->watch != NULL)
    {
      gssize n = -1;

      if (io_depth < IO_DEPTH_MAX)
        n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (c->stream)),
                                                      c->in + c->in_len, sizeof c->in - c->in_len, NULL, &error);
      if (n > 0)
        {
          c->in_len += (gsize) n;
          return TRUE;
        }
      if (n == 0 || (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
        {
          wait_failed (c, error);
          return FALSE;
        }
      g_clear_error (&error);
      if (relais_poll_watch_arm (c->watch, G_IO_IN, readable_cb, c, NULL))
        return FALSE;
    }
  g_input_stream_read_async (g_io_stream_get_input_stream (c->stream), c->in + c->in_len,
                             sizeof c->in - c->in_len, G_PRIORITY_DEFAULT, c->cancellable, read_cb, c);
  return FALSE;
}

/* Takes complete lines from the input buffer into c->reply; calls
 * c->on_reply once the reply is complete, else reads more. */
static void
parse_input (Client *c)
{
  for (;;)
    {
      char *nl = memchr (c->in, '\n', c->in_len);
      gsize line_len, used;
      g_autofree char *error = NULL;
      RelaisSmtpReplyStatus status;

      if (nl == NULL)
        {
          if (c->in_len > RELAIS_SMTP_REPLY_LINE_MAX + 1)
            {
              disarm (c);
              attempt_failedf (c, FALSE, NULL, "4.5.0 %s: bad reply to %s: reply line longer than %d bytes",
                               host_label (c), step_names[c->step], RELAIS_SMTP_REPLY_LINE_MAX);
              return;
            }
          if (!read_more (c))
            return;
          continue;
        }
      used = (gsize) (nl - c->in) + 1;
      line_len = used - 1;
      if (line_len > 0 && c->in[line_len - 1] == '\r')
        line_len--;
      status = relais_smtp_reply_add_line (c->reply, c->in, line_len, &error);
      memmove (c->in, c->in + used, c->in_len - used);
      c->in_len -= used;
      if (status == RELAIS_SMTP_REPLY_BAD)
        {
          disarm (c);
          attempt_failedf (c, FALSE, NULL, "4.5.0 %s: bad reply to %s: %s", host_label (c),
                           step_names[c->step], error);
          return;
        }
      if (status == RELAIS_SMTP_REPLY_DONE)
        {
          g_autoptr(RelaisSmtpReply) reply = g_steal_pointer (&c->reply);
          g_autofree char *text = relais_smtp_reply_to_string (reply);

          disarm (c);
          relais_log_queue (G_LOG_LEVEL_DEBUG, c->d->queue_id, "%s: < %s", host_label (c), text);
          io_depth++;
          c->on_reply (c, reply);
          io_depth--;
          return;
        }
    }
}

static void
read_reply (Client *c, Step step, guint timeout, ReplyFunc func)
{
  c->step = step;
  c->on_reply = func;
  relais_smtp_reply_free (c->reply);
  c->reply = relais_smtp_reply_new ();
  c->timed_out = FALSE;
  arm (c, timeout);
  parse_input (c);
}

static void
write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *doing = NULL;

  disarm (c);
  if (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      c->on_written (c);
      return;
    }
  doing = g_strdup_printf ("sending %s", step_names[c->step]);
  io_failed (c, doing, error);
}

/* Writes c->out, then THEN: on a plain connection at once when the socket
 * takes it all (a command, a block of the message), else through GIO. */
static void
write_out (Client *c, Step step, guint timeout, NextFunc then)
{
  gsize written = 0;

  c->step = step;
  c->on_written = then;
  c->timed_out = FALSE;
  if (c->tls == NULL && io_depth < IO_DEPTH_MAX)
    {
      GPollableOutputStream *out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (c->stream));

      while (written < c->out->len)
        {
          gssize n = g_pollable_output_stream_write_nonblocking (out, c->out->str + written,
                                                                 c->out->len - written, NULL, NULL);

          if (n <= 0)
            break;      /* no room, or an error that GIO's write below reports */
          written += (gsize) n;
        }
      if (written == c->out->len)
        {
          disarm (c);
          io_depth++;
          then (c);
          io_depth--;
          return;
        }
    }
  arm (c, timeout);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (c->stream), c->out->str + written,
                                   c->out->len - written, G_PRIORITY_DEFAULT, c->cancellable, write_cb, c);
}

static void
read_after_write (Client *c)
{
  read_reply (c, c->step, c->reply_timeout, c->on_reply);
}

static void
log_command (Client *c, const char *line)
{
  if (g_ascii_strncasecmp (line, "AUTH ", 5) == 0 || c->step == STEP_AUTH)
    relais_log_queue (G_LOG_LEVEL_DEBUG, c->d->queue_id, "%s: > AUTH (credentials not logged)", host_label (c));
  else
    relais_log_queue (G_LOG_LEVEL_DEBUG, c->d->queue_id, "%s: > %s", host_label (c), line);
}

static void
send_command (Client *c, Step step, guint timeout, ReplyFunc func, const char *format, ...)
{
  va_list ap;

  g_string_truncate (c->out, 0);
  va_start (ap, format);
  g_string_append_vprintf (c->out, format, ap);
  va_end (ap);
  c->step = step;
  log_command (c, c->out->str);
  g_string_append (c->out, "\r\n");
  c->on_reply = func;
  c->reply_timeout = timeout;
  write_out (c, step, c->t.command, read_after_write);
}

/* A reply that ends this attempt: 5xx to the greeting or EHLO/HELO counts
 * toward a permanent failure of the whole delivery. */
static void
reply_failed (Client *c, const RelaisSmtpReply *reply, gboolean may_be_permanent)
{
  g_autofree char *text = relais_smtp_reply_to_string (reply);

  attempt_failedf (c, TRUE, may_be_permanent && reply->code >= 500 ? text : NULL,
                   "4.4.0 %s answered %s with: %s", host_label (c), step_names[c->step], text);
}

/* ---- TLS --------------------------------------------------------------- */

static const struct {
  GTlsCertificateFlags flag;
  const char *name;
} cert_flag_names[] = {
  { G_TLS_CERTIFICATE_UNKNOWN_CA, "unknown-ca" },
  { G_TLS_CERTIFICATE_BAD_IDENTITY, "bad-identity" },
  { G_TLS_CERTIFICATE_NOT_ACTIVATED, "not-activated" },
  { G_TLS_CERTIFICATE_EXPIRED, "expired" },
  { G_TLS_CERTIFICATE_REVOKED, "revoked" },
  { G_TLS_CERTIFICATE_INSECURE, "insecure" },
  { G_TLS_CERTIFICATE_GENERIC_ERROR, "generic-error" },
};

static char *
cert_errors_string (GTlsCertificateFlags flags)
{
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cert_flag_names); i++)
    if (flags & cert_flag_names[i].flag)
      g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", cert_flag_names[i].name);
  return g_string_free (s, FALSE);
}

static const char *
protocol_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSL 3.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLS 1.0";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLS 1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default: return "TLS";
    }
}

static gboolean
accept_certificate_cb (GTlsConnection *conn G_GNUC_UNUSED, GTlsCertificate *peer G_GNUC_UNUSED,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  Client *c = user_data;
  g_autofree char *names = cert_errors_string (errors);

  c->cert_errors = errors;
  if (c->d->verify_certificate)
    return FALSE;
  relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id,
                    "%s: accepting a certificate that does not verify (%s)", host_label (c), names);
  return TRUE;
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *c = user_data;
  GTlsConnection *tls = G_TLS_CONNECTION (source);
  g_autoptr(GError) error = NULL;
  g_autofree char *cipher = NULL;
  g_autofree char *names = NULL;
  NextFunc then = c->after_tls;

  disarm (c);
  if (!g_tls_connection_handshake_finish (tls, result, &error))
    {
      g_object_unref (tls);
      if (c->timed_out || user_cancelled (c))
        {
          io_failed (c, "doing the TLS handshake", error);
          return;
        }
      names = cert_errors_string (c->cert_errors);
      /* Opportunistic STARTTLS: try this address again in plain text,
       * unless the certificate had to verify (plain text would bypass it). */
      if (c->d->tls_mode == RELAIS_SMTP_TLS_OPPORTUNISTIC && !c->d->verify_certificate)
        c->retry_plain = TRUE;
      attempt_failedf (c, FALSE, NULL, "4.7.5 %s: TLS handshake failed: %s%s%s%s", host_label (c),
                       error->message, *names != '\0' ? " (" : "", names, *names != '\0' ? ")" : "");
      return;
    }

  c->tls = tls;
  g_clear_pointer (&c->watch, relais_poll_watch_free);   /* TLS reads through GIO */
  g_clear_object (&c->stream);
  c->stream = G_IO_STREAM (g_object_ref (tls));
  c->cert_errors = g_tls_connection_get_peer_certificate_errors (tls);
  cipher = g_tls_connection_get_ciphersuite_name (tls);
  c->d->tls = TRUE;
  g_free (c->d->tls_description);
  c->d->tls_description = g_strdup_printf ("%s %s",
                                           protocol_name (g_tls_connection_get_protocol_version (tls)),
                                           cipher != NULL ? cipher : "unknown cipher");
  names = cert_errors_string (c->cert_errors);
  relais_log_queue (G_LOG_LEVEL_INFO, c->d->queue_id, "%s: TLS established: %s, certificate %s", host_label (c),
                    c->d->tls_description, *names != '\0' ? names : "verified");
  then (c);
}

/* Starts TLS on the connection, then THEN. */
static void
start_tls (Client *c, guint timeout, NextFunc then)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnectable) identity = g_network_address_new (c->target_host, c->target->port);
  GIOStream *tls;

  c->step = STEP_HANDSHAKE;
  tls = g_tls_client_connection_new (G_IO_STREAM (c->connection), identity, &error);
  if (tls == NULL)
    {
      attempt_failedf (c, FALSE, NULL, "4.7.5 %s: cannot start TLS: %s", host_label (c), error->message);
      return;
    }
  if (c->d->tls_database != NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (tls), c->d->tls_database);
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), c);
  c->after_tls = then;
  c->timed_out = FALSE;
  arm (c, timeout);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, c->cancellable,
                                    handshake_cb, c);
}

/* ---- greeting, EHLO, STARTTLS, AUTH ------------------------------------ */

static void
forget_extensions (Client *c)
{
  g_ptr_array_set_size (c->extensions, 0);
  c->pipelining = c->starttls = c->dsn = c->eightbit = c->smtputf8 = FALSE;
  c->auth_plain = c->auth_login = c->has_size = FALSE;
  c->max_size = 0;
}

static void
parse_extensions (Client *c, const RelaisSmtpReply *reply)
{
  forget_extensions (c);
  for (guint i = 1; i < reply->lines->len; i++)
    {
      const char *line = reply->lines->pdata[i];
      g_auto(GStrv) words = g_strsplit_set (line, " =", -1);
      const char *keyword = words[0];

      /* an empty line ("250 " last, as Postfix's smtp-sink sends) names nothing */
      if (keyword == NULL || *keyword == '\0')
        continue;
      g_ptr_array_add (c->extensions, g_strdup (line));
      if (g_ascii_strcasecmp (keyword, "PIPELINING") == 0)
        c->pipelining = TRUE;
      else if (g_ascii_strcasecmp (keyword, "STARTTLS") == 0)
        c->starttls = TRUE;
      else if (g_ascii_strcasecmp (keyword, "DSN") == 0)
        c->dsn = TRUE;
      else if (g_ascii_strcasecmp (keyword, "8BITMIME") == 0)
        c->eightbit = TRUE;
      else if (g_ascii_strcasecmp (keyword, "SMTPUTF8") == 0)
        c->smtputf8 = TRUE;
      else if (g_ascii_strcasecmp (keyword, "SIZE") == 0)
        {
          c->has_size = TRUE;
          if (words[1] != NULL && !g_ascii_string_to_unsigned (words[1], 10, 0, G_MAXUINT64,
                                                                &c->max_size, NULL))
            c->max_size = 0;
        }
      else if (g_ascii_strcasecmp (keyword, "AUTH") == 0)
        for (guint j = 1; words[j] != NULL; j++)
          {
            if (g_ascii_strcasecmp (words[j], "PLAIN") == 0)
              c->auth_plain = TRUE;
            else if (g_ascii_strcasecmp (words[j], "LOGIN") == 0)
              c->auth_login = TRUE;
          }
    }
}

static void
helo_cb (Client *c, const RelaisSmtpReply *reply)
{
  if (reply->code / 100 != 2)
    {
      reply_failed (c, reply, TRUE);
      return;
    }
  forget_extensions (c);         /* HELO: plain RFC 821 SMTP */
  after_ehlo (c);
}

static void
ehlo_cb (Client *c, const RelaisSmtpReply *reply)
{
  if (reply->code >= 500 && c->tls == NULL)
    {
      send_command (c, STEP_HELO, c->t.command, helo_cb, "HELO %s", c->d->helo_name);
      return;
    }
  if (reply->code / 100 != 2)
    {
      reply_failed (c, reply, TRUE);
      return;
    }
  parse_extensions (c, reply);
  after_ehlo (c);
}

static void
send_ehlo (Client *c)
{
  send_command (c, STEP_EHLO, c->t.command, ehlo_cb, "EHLO %s", c->d->helo_name);
}

static void
greeting_cb (Client *c, const RelaisSmtpReply *reply)
{
  g_free (c->greeting);
  c->greeting = relais_smtp_reply_to_string (reply);
  if (reply->code / 100 != 2)
    {
      reply_failed (c, reply, TRUE);
      return;
    }
  send_ehlo (c);
}

static void
read_greeting (Client *c)
{
  read_reply (c, STEP_GREETING, c->t.greeting, greeting_cb);
}

static void
starttls_cb (Client *c, const RelaisSmtpReply *reply)
{
  if (reply->code != 220)
    {
      g_autofree char *text = relais_smtp_reply_to_string (reply);

      if (c->d->tls_mode == RELAIS_SMTP_TLS_STARTTLS_REQUIRED)
        {
          attempt_failedf (c, TRUE, NULL, "4.7.5 %s refused STARTTLS, and TLS is required: %s",
                           host_label (c), text);
          return;
        }
      relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id, "%s: STARTTLS refused, going on without TLS: %s",
                        host_label (c), text);
      c->starttls_refused = TRUE;
      after_ehlo (c);
      return;
    }
  /* RFC 3207 §5: nothing sent before the handshake may count after it. */
  if (c->in_len > 0)
    {
      attempt_failedf (c, FALSE, NULL, "4.5.0 %s sent %" G_GSIZE_FORMAT " unexpected bytes after "
                       "its reply to STARTTLS", host_label (c), c->in_len);
      return;
    }
  start_tls (c, c->t.command, send_ehlo);
}

static void
auth_failed (Client *c, const RelaisSmtpReply *reply)
{
  g_autofree char *text = relais_smtp_reply_to_string (reply);

  attempt_failedf (c, TRUE, NULL, "4.7.8 relay host refused our credentials: %s (%s)",
                   text, host_label (c));
}

static void
auth_cb (Client *c, const RelaisSmtpReply *reply)
{
  g_autofree char *encoded = NULL;

  /* AUTH LOGIN: two 334 challenges (user name, password), then 235. */
  if (reply->code == 334 && c->auth_step < 2 && !c->auth_plain)
    {
      const char *value = c->auth_step == 0 ? c->d->username : c->d->password;

      c->auth_step++;
      encoded = g_base64_encode ((const guchar *) value, strlen (value));
      send_command (c, STEP_AUTH, c->t.command, auth_cb, "%s", encoded);
      return;
    }
  if (reply->code != 235)
    {
      auth_failed (c, reply);
      return;
    }
  c->d->authenticated = TRUE;
  relais_log_queue (G_LOG_LEVEL_INFO, c->d->queue_id, "%s: authenticated as %s", host_label (c),
                    c->d->username);
  if (c->probe)
    {
      c->probe_ok = TRUE;
      end_connection (c, TRUE, finish);
      return;
    }
  begin_transaction (c);
}

static void
start_auth (Client *c)
{
  c->auth_step = 0;
  if (c->auth_plain)
    {
      gsize ulen = strlen (c->d->username), plen = strlen (c->d->password);
      g_autofree guchar *token = g_malloc (ulen + plen + 2);
      g_autofree char *encoded = NULL;

      /* RFC 4616: authzid (empty) NUL authcid NUL password */
      token[0] = '\0';
      memcpy (token + 1, c->d->username, ulen);
      token[ulen + 1] = '\0';
      memcpy (token + ulen + 2, c->d->password, plen);
      encoded = g_base64_encode (token, ulen + plen + 2);
      memset (token, 0, ulen + plen + 2);
      send_command (c, STEP_AUTH, c->t.command, auth_cb, "AUTH PLAIN %s", encoded);
      return;
    }
  send_command (c, STEP_AUTH, c->t.command, auth_cb, "AUTH LOGIN");
}

static void
after_ehlo (Client *c)
{
  gboolean want_tls = c->d->tls_mode != RELAIS_SMTP_TLS_IMPLICIT && !c->plain_only;

  if (c->tls == NULL && want_tls && c->starttls && !c->starttls_refused)
    {
      send_command (c, STEP_STARTTLS, c->t.command, starttls_cb, "STARTTLS");
      return;
    }
  if (c->tls == NULL && c->d->tls_mode == RELAIS_SMTP_TLS_STARTTLS_REQUIRED)
    {
      attempt_failedf (c, TRUE, NULL, "4.7.10 %s does not offer STARTTLS, and TLS is required",
                       host_label (c));
      return;
    }
  if (c->d->username != NULL && c->d->password != NULL)
    {
      c->step = STEP_AUTH;
      if (c->tls == NULL)
        attempt_failedf (c, TRUE, NULL, "4.7.10 %s: the session is not encrypted, so our credentials "
                         "cannot be sent", host_label (c));
      else if (!c->auth_plain && !c->auth_login)
        attempt_failedf (c, TRUE, NULL, "4.7.8 %s does not offer AUTH PLAIN or LOGIN, and "
                         "authentication is required", host_label (c));
      else
        start_auth (c);
      return;
    }
  if (c->probe)
    {
      c->probe_ok = TRUE;
      end_connection (c, TRUE, finish);
      return;
    }
  begin_transaction (c);
}

/* ---- kept connections -------------------------------------------------- *
 * With RelaisSmtpDelivery.reuse_connection, a connection whose transaction
 * ended in step is kept (no QUIT) for the next delivery to the same targets
 * with the same TLS mode, credentials and HELO name, for PARK_IDLE seconds;
 * that delivery goes straight to MAIL (the last transaction ended in step)
 * and, if the server has closed it or answers 421, starts afresh with no
 * attempt counted. Main thread only. */

#define PARK_IDLE      2             /* seconds a kept connection waits for the next message */
#define PARK_MAX_AGE   300           /* seconds a connection is reused for at most */
#define PARK_MAX_USES  100           /* messages per connection at most */
#define PARK_MAX       64            /* kept connections in all */

/* What the server offered after the last EHLO, kept with the connection. */
#define SERVER_OFFERS(X) \
  X (pipelining) X (starttls) X (dsn) X (eightbit) X (smtputf8) X (auth_plain) X (auth_login) \
  X (has_size) X (max_size)

typedef struct {
  char *key;
  GSocketConnection *connection;
  GIOStream *stream;
  GTlsConnection *tls;
  RelaisPollWatch *watch;
  char *host;
  char *greeting;
  GPtrArray *extensions;
  gboolean pipelining, starttls, dsn, eightbit, smtputf8, auth_plain, auth_login, has_size;
  guint64 max_size;
  gboolean tls_used, authenticated;
  char *tls_description;
  gint64 since;                      /* monotonic time of the connection */
  guint uses;
  guint idle_id;
} Parked;

static GQueue parked = G_QUEUE_INIT;   /* of Parked*, the newest last */

static void
parked_free (Parked *p)
{
  if (p->idle_id != 0)
    g_source_remove (p->idle_id);
  g_clear_pointer (&p->watch, relais_poll_watch_free);
  if (p->connection != NULL)
    {
      GOutputStream *out = g_io_stream_get_output_stream (p->stream);

      /* best effort, never blocking: the dialogue is in step */
      if (G_IS_POLLABLE_OUTPUT_STREAM (out))
        g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), "QUIT\r\n", 6, NULL, NULL);
      g_io_stream_close (G_IO_STREAM (p->connection), NULL, NULL);
    }
  g_clear_object (&p->tls);
  g_clear_object (&p->stream);
  g_clear_object (&p->connection);
  g_free (p->key);
  g_free (p->host);
  g_free (p->greeting);
  g_clear_pointer (&p->extensions, g_ptr_array_unref);
  g_free (p->tls_description);
  g_free (p);
}

static gboolean
parked_idle_cb (gpointer user_data)
{
  Parked *p = user_data;

  p->idle_id = 0;
  g_queue_remove (&parked, p);
  parked_free (p);
  return G_SOURCE_REMOVE;
}

void
relais_smtp_client_drop_kept (void)
{
  Parked *p;

  while ((p = g_queue_pop_head (&parked)) != NULL)
    parked_free (p);
}

/* What a kept connection must match: everything that shapes the session
 * before MAIL. The password only as a digest. */
static char *
park_key (const RelaisSmtpDelivery *d)
{
  g_autoptr(GString) key = g_string_new (NULL);
  g_autofree char *secret = d->password != NULL
                              ? g_compute_checksum_for_string (G_CHECKSUM_SHA256, d->password, -1) : NULL;

  g_string_append_printf (key, "%s\n%d\n%d\n%p\n%s\n%s", d->helo_name, (int) d->tls_mode,
                          d->verify_certificate, (gpointer) d->tls_database,
                          d->username != NULL ? d->username : "", secret != NULL ? secret : "");
  for (guint i = 0; i < d->targets->len; i++)
    {
      const RelaisSmtpTarget *t = d->targets->pdata[i];

      g_string_append_printf (key, "\n%s:%u", t->host != NULL ? t->host : "", t->port);
    }
  return g_string_free (g_steal_pointer (&key), FALSE);
}

/* After a transaction ended in step: keeps C's connection if it may be
 * reused; TRUE when it was (C has no connection any more). */
static gboolean
park (Client *c)
{
  Parked *p;

  if (!c->d->reuse_connection || c->probe || c->stream == NULL || user_cancelled (c) ||
      c->uses + 1 >= PARK_MAX_USES || g_get_monotonic_time () - c->since > PARK_MAX_AGE * G_USEC_PER_SEC ||
      c->in_len != 0)
    return FALSE;
  disarm (c);
  if (parked.length >= PARK_MAX)
    parked_free (g_queue_pop_head (&parked));
  p = g_new0 (Parked, 1);
  p->key = park_key (c->d);
  p->connection = g_steal_pointer (&c->connection);
  p->stream = g_steal_pointer (&c->stream);
  p->tls = g_steal_pointer (&c->tls);
  p->watch = g_steal_pointer (&c->watch);
  p->host = g_strdup (c->host);
  p->greeting = g_strdup (c->greeting);
  p->extensions = g_ptr_array_ref (c->extensions);
#define KEEP(field) p->field = c->field;
  SERVER_OFFERS (KEEP)
#undef KEEP
  p->tls_used = c->d->tls;
  p->authenticated = c->d->authenticated;
  p->tls_description = g_strdup (c->d->tls_description);
  p->since = c->since;
  p->uses = c->uses + 1;
  p->idle_id = g_timeout_add_seconds (PARK_IDLE, parked_idle_cb, p);
  g_queue_push_tail (&parked, p);
  return TRUE;
}

/* The kept connection C took is no good (closed, or 421 as the first reply):
 * the delivery starts afresh, as if it had not been taken. */
static void
unpark_failed (Client *c)
{
  c->reused = FALSE;
  c->attempts--;
  close_connection (c);
  next_target (c);
}

/* Takes the newest kept connection for C's delivery and begins the
 * transaction on it (the last one ended in step: no RSET needed, RFC 5321
 * §3.3); FALSE when there is none. */
static gboolean
unpark (Client *c)
{
  g_autofree char *key = NULL;
  Parked *p = NULL;

  if (!c->d->reuse_connection || parked.length == 0)
    return FALSE;
  key = park_key (c->d);
  for (GList *l = parked.tail; l != NULL; l = l->prev)
    if (g_str_equal (((Parked *) l->data)->key, key))
      {
        p = l->data;
        g_queue_delete_link (&parked, l);
        break;
      }
  if (p == NULL)
    return FALSE;
  c->connection = g_steal_pointer (&p->connection);
  c->stream = g_steal_pointer (&p->stream);
  c->tls = g_steal_pointer (&p->tls);
  c->watch = g_steal_pointer (&p->watch);
  g_free (c->host);
  c->host = g_strdup (p->host);
  g_free (c->greeting);
  c->greeting = g_strdup (p->greeting);
  g_ptr_array_unref (c->extensions);
  c->extensions = g_ptr_array_ref (p->extensions);
#define TAKE(field) c->field = p->field;
  SERVER_OFFERS (TAKE)
#undef TAKE
  c->d->tls = p->tls_used;
  c->d->authenticated = p->authenticated;
  c->d->tls_description = g_strdup (p->tls_description);
  g_free (c->d->connected_host);
  c->d->connected_host = g_strdup (p->host);
  c->since = p->since;
  c->uses = p->uses;
  c->in_len = 0;
  c->timed_out = FALSE;
  c->reused = TRUE;
  c->attempts++;
  parked_free (p);
  begin_transaction (c);
  return TRUE;
}

/* ---- the transaction --------------------------------------------------- */

static void
final_for_all (Client *c, RelaisDeliveryStatus status, const char *reply)
{
  relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id, "%s: not sending the message: %s", host_label (c),
                    reply);
  c->in_transaction = TRUE;
  set_pending (c, status, reply);
  end_connection (c, TRUE, finish);
}

static void
dot_cb (Client *c, const RelaisSmtpReply *reply)
{
  g_autofree char *text = relais_smtp_reply_to_string (reply);
  g_autofree char *unexpected = NULL;
  RelaisDeliveryStatus status = status_of_code (reply->code);

  if (reply->code < 200 || (reply->code >= 300 && reply->code < 400))
    {
      unexpected = g_strdup_printf ("4.5.0 %s: unexpected reply to the end of data: %s",
                                    host_label (c), text);
      status = RELAIS_DELIVERY_TEMPFAIL;
    }
  relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id,
                    "%s: message sent, %u recipient(s), %" G_GOFFSET_FORMAT " bytes: %s", host_label (c),
                    c->n_accepted, c->d->bytes_sent, text);
  set_pending (c, status, unexpected != NULL ? unexpected : text);
  if (unexpected == NULL && park (c))
    {
      finish (c);
      return;
    }
  end_connection (c, TRUE, finish);
}

static void
content_written (Client *c)
{
  read_chunk (c);
}

/* N bytes of the spool file read into C->chunk, or ERROR. */
static void
spool_chunk_read (Client *c, gssize n, GError *error)
{
  if (n < 0)
    {
      if (user_cancelled (c))
        {
          attempt_failedf (c, FALSE, NULL, "4.3.0 delivery cancelled");
          return;
        }
      /* Drop the connection without the final dot: the server discards it. */
      g_set_error (&c->local_error, RELAIS_ERROR, RELAIS_ERROR_STORAGE,
                   "Cannot read the spool file %s: %s", c->d->message_path, error->message);
      attempt_failedf (c, FALSE, NULL, "4.3.0 cannot read the spool file: %s", error->message);
      return;
    }
  g_string_truncate (c->out, 0);
  c->d->bytes_sent += n;
  c->spool_moved = TRUE;
  relais_smtp_dot_stuff ((const char *) c->chunk, (gsize) n, &c->at_line_start, c->out);
  /* At the end of the file (its size is known: a queued file never
   * changes), the final dot goes in the same write as the last bytes. */
  if (n == 0 || c->d->bytes_sent >= c->spool_size)
    {
      if (!c->at_line_start)
        g_string_append (c->out, "\r\n");
      g_string_append (c->out, ".\r\n");
      c->on_reply = dot_cb;
      c->reply_timeout = c->t.final_dot;
      c->step = STEP_DOT;
      write_out (c, STEP_DOT, c->t.data_block, read_after_write);
      return;
    }
  write_out (c, STEP_CONTENT, c->t.data_block, content_written);
}

static void
spool_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  spool_chunk_read (user_data, n, error);
}

/* What the page cache holds of the spool file at its position, read without
 * waiting for the disk (RWF_NOWAIT); -1 when the disk would be needed (or
 * the file system cannot say), for a read in a thread instead. A message
 * is usually delivered moments after it was written: no thread then. */
static gssize
spool_read_cached (Client *c)
{
  struct iovec iov = { c->chunk, SPOOL_CHUNK };
  gssize n;

  do
    n = preadv2 (c->spool_fd, &iov, 1, -1, RWF_NOWAIT);
  while (n < 0 && errno == EINTR);
  return n;
}

static void
read_chunk (Client *c)
{
  gssize n;

  c->step = STEP_CONTENT;
  if ((n = spool_read_cached (c)) >= 0)
    {
      spool_chunk_read (c, n, NULL);
      return;
    }
  /* Made only now: a GUnixInputStream asks epoll whether it can poll its
   * file (three system calls), and most deliveries never need one. It reads
   * at the descriptor's position, and never buffers. */
  if (c->spool == NULL)
    c->spool = g_unix_input_stream_new (c->spool_fd, FALSE);
  g_input_stream_read_async (c->spool, c->chunk, SPOOL_CHUNK, G_PRIORITY_DEFAULT, c->cancellable,
                             spool_read_cb, c);
}

static void
data_cb (Client *c, const RelaisSmtpReply *reply)
{
  g_autofree char *text = relais_smtp_reply_to_string (reply);

  if (c->mail_failed || c->n_accepted == 0)
    {
      /* Pipelined DATA after a refused MAIL or every RCPT refused: a 354
       * here cannot be answered safely, so drop the connection. */
      end_connection (c, reply->code != 354, finish);
      return;
    }
  if (reply->code != 354)
    {
      g_autofree char *unexpected = NULL;

      if (reply->code < 400)
        unexpected = g_strdup_printf ("4.5.0 %s: unexpected reply to DATA: %s", host_label (c), text);
      set_pending (c, unexpected != NULL ? RELAIS_DELIVERY_TEMPFAIL : status_of_code (reply->code),
                   unexpected != NULL ? unexpected : text);
      end_connection (c, TRUE, finish);
      return;
    }
  c->at_line_start = TRUE;
  c->d->bytes_sent = 0;
  if (c->spool_moved)
    {
      if (lseek (c->spool_fd, 0, SEEK_SET) < 0)
        relais_log_queue (G_LOG_LEVEL_DEBUG, c->d->queue_id, "%s: spool file not rewound", host_label (c));
      c->spool_moved = FALSE;
    }
  if (c->d->header_prefix != NULL && c->d->header_prefix[0] != '\0')
    {
      /* Header fields put on top of the message (a DKIM-Signature), then the spool file. */
      gsize len = strlen (c->d->header_prefix);

      g_string_truncate (c->out, 0);
      c->d->bytes_sent += (goffset) len;
      relais_smtp_dot_stuff (c->d->header_prefix, len, &c->at_line_start, c->out);
      write_out (c, STEP_CONTENT, c->t.data_block, content_written);
      return;
    }
  read_chunk (c);
}

static void
send_data (Client *c)
{
  send_command (c, STEP_DATA, c->t.data, data_cb, "DATA");
}

static void send_rcpt (Client *c, guint i);

static void
rcpt_cb (Client *c, const RelaisSmtpReply *reply)
{
  guint i = c->rcpt_index++;
  RelaisSmtpRecipient *r = recipient (c, i);

  if (!c->mail_failed)
    {
      if (reply->code / 100 == 2)
        {
          c->accepted[i] = TRUE;
          c->n_accepted++;
        }
      else
        {
          g_autofree char *text = relais_smtp_reply_to_string (reply);

          if (reply->code / 100 == 3)
            {
              g_free (text);
              text = g_strdup_printf ("4.5.0 %s: unexpected reply to RCPT: %03u", host_label (c),
                                      reply->code);
            }
          set_outcome (r, reply->code >= 500 ? RELAIS_DELIVERY_PERMFAIL : RELAIS_DELIVERY_TEMPFAIL, text);
        }
    }
  if (c->rcpt_index < c->d->recipients->len)
    {
      if (c->pipelining)
        read_reply (c, STEP_RCPT, c->t.command, rcpt_cb);
      else
        send_rcpt (c, c->rcpt_index);
      return;
    }
  if (c->pipelining)
    {
      read_reply (c, STEP_DATA, c->t.data, data_cb);
      return;
    }
  if (c->n_accepted == 0)
    {
      relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id,
                        "%s: every recipient was refused, not sending the message", host_label (c));
      end_connection (c, TRUE, finish);
      return;
    }
  send_data (c);
}

static void
append_rcpt (Client *c, guint i, GString *out)
{
  RelaisSmtpRecipient *r = recipient (c, i);

  g_string_append_printf (out, "RCPT TO:<%s>", r->address);
  if (c->dsn && r->rcpt_params != NULL && *r->rcpt_params != '\0')
    g_string_append_printf (out, " %s", r->rcpt_params);
}

static void
send_rcpt (Client *c, guint i)
{
  g_autoptr(GString) line = g_string_new (NULL);

  append_rcpt (c, i, line);
  send_command (c, STEP_RCPT, c->t.command, rcpt_cb, "%s", line->str);
}

static void
mail_cb (Client *c, const RelaisSmtpReply *reply)
{
  if (c->reused && reply->code == 421)
    {
      relais_log_queue (G_LOG_LEVEL_INFO, c->d->queue_id,
                        "%s: kept connection closing (421), connecting afresh", host_label (c));
      unpark_failed (c);
      return;
    }
  c->reused = FALSE;     /* it answered: from here on, an ordinary attempt */
  c->in_transaction = TRUE;
  if (reply->code / 100 != 2)
    {
      g_autofree char *text = relais_smtp_reply_to_string (reply);

      c->mail_failed = TRUE;
      relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id, "%s: MAIL refused: %s", host_label (c), text);
      set_pending (c, reply->code >= 500 ? RELAIS_DELIVERY_PERMFAIL : RELAIS_DELIVERY_TEMPFAIL, text);
      if (!c->pipelining)
        {
          end_connection (c, TRUE, finish);
          return;
        }
    }
  if (c->pipelining)
    read_reply (c, STEP_RCPT, c->t.command, rcpt_cb);
  else
    send_rcpt (c, 0);
}

static void
pipeline_written (Client *c)
{
  read_reply (c, STEP_MAIL, c->t.command, mail_cb);
}

static void
begin_transaction (Client *c)
{
  RelaisSmtpDelivery *d = c->d;
  g_autofree char *reply = NULL;

  if (d->smtputf8 && !c->smtputf8)
    {
      reply = g_strdup_printf ("5.6.7 %s does not support SMTPUTF8, which this message needs",
                               host_label (c));
      final_for_all (c, RELAIS_DELIVERY_PERMFAIL, reply);
      return;
    }
  if (c->has_size && c->max_size > 0 && (guint64) c->spool_size > c->max_size)
    {
      reply = g_strdup_printf ("5.3.4 message size %" G_GOFFSET_FORMAT " exceeds the limit of %s: "
                               "%" G_GUINT64_FORMAT " bytes", c->spool_size, host_label (c), c->max_size);
      final_for_all (c, RELAIS_DELIVERY_PERMFAIL, reply);
      return;
    }
  if (d->body_8bit && !c->eightbit)
    relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id,
                      "%s does not offer 8BITMIME; sending the 8-bit message anyway", host_label (c));

  g_string_truncate (c->out, 0);
  g_string_append_printf (c->out, "MAIL FROM:<%s>", d->sender);
  if (c->has_size)
    g_string_append_printf (c->out, " SIZE=%" G_GOFFSET_FORMAT, c->spool_size);
  if (d->body_8bit && c->eightbit)
    g_string_append (c->out, " BODY=8BITMIME");
  if (d->smtputf8)
    g_string_append (c->out, " SMTPUTF8");
  if (c->dsn && d->mail_params != NULL && *d->mail_params != '\0')
    g_string_append_printf (c->out, " %s", d->mail_params);
  d->dsn = c->dsn;

  c->rcpt_index = 0;
  c->n_accepted = 0;
  if (!c->pipelining)
    {
      g_autofree char *line = g_strdup (c->out->str);

      send_command (c, STEP_MAIL, c->t.command, mail_cb, "%s", line);
      return;
    }
  /* RFC 2920: MAIL, every RCPT and DATA in one write, replies read in order. */
  c->step = STEP_MAIL;
  log_command (c, c->out->str);
  g_string_append (c->out, "\r\n");
  for (guint i = 0; i < d->recipients->len; i++)
    {
      gsize start = c->out->len;

      append_rcpt (c, i, c->out);
      log_command (c, c->out->str + start);
      g_string_append (c->out, "\r\n");
    }
  log_command (c, "DATA");
  g_string_append (c->out, "DATA\r\n");
  write_out (c, STEP_MAIL, c->t.command, pipeline_written);
}

/* ---- targets and connections ------------------------------------------- */

static void
connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;

  disarm (c);
  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      if (c->timed_out)
        attempt_failedf (c, FALSE, NULL, "4.4.1 %s: connection timed out after %u s", c->host,
                         c->t.connect);
      else
        attempt_failedf (c, FALSE, NULL, "4.4.1 %s: cannot connect: %s", c->host, error->message);
      return;
    }
  c->connection = connection;
  c->stream = G_IO_STREAM (g_object_ref (connection));
  /* Every write is a whole command or a large block: Nagle's delay would
   * only hold up a command behind a delayed acknowledgement. */
  g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  relais_log_queue (G_LOG_LEVEL_DEBUG, c->d->queue_id, "%s: connected", c->host);
  if (c->d->tls_mode == RELAIS_SMTP_TLS_IMPLICIT)
    start_tls (c, c->t.greeting, read_greeting);
  else
    read_greeting (c);
}

static void
connect_address (Client *c)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (c->address, c->target->port);
  g_autofree char *ip = g_inet_address_to_string (c->address);

  /* Forget the previous connection's server. */
  g_clear_pointer (&c->greeting, g_free);
  forget_extensions (c);
  c->starttls_refused = FALSE;
  c->cert_errors = 0;
  c->d->tls = c->d->authenticated = FALSE;
  g_clear_pointer (&c->d->tls_description, g_free);

  g_free (c->host);
  /* "mx.example.org[192.0.2.1]:25", or "[192.0.2.1]:25" for a target given as an address */
  c->host = g_strcmp0 (c->target_host, ip) == 0
              ? g_strdup_printf ("[%s]:%u", ip, c->target->port)
              : g_strdup_printf ("%s[%s]:%u", c->target_host, ip, c->target->port);
  g_free (c->d->connected_host);
  c->d->connected_host = g_strdup (c->host);
  c->attempts++;
  c->since = g_get_monotonic_time ();
  c->uses = 0;
  c->step = STEP_CONNECT;
  g_socket_client_set_enable_proxy (client, FALSE);
  c->timed_out = FALSE;
  arm (c, c->t.connect);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (sa), c->cancellable, connect_cb, c);
}

static void
new_cancellable (Client *c)
{
  g_clear_object (&c->cancellable);
  c->cancellable = g_cancellable_new ();
  if (user_cancelled (c))
    g_cancellable_cancel (c->cancellable);
}

static void
next_address (Client *c)
{
  if (user_cancelled (c))
    {
      finish (c);
      return;
    }
  new_cancellable (c);
  c->plain_only = c->retry_plain;
  c->retry_plain = FALSE;
  if (c->plain_only && c->address != NULL)
    {
      relais_log_queue (G_LOG_LEVEL_MESSAGE, c->d->queue_id, "%s: trying again without TLS", host_label (c));
      connect_address (c);
      return;
    }
  g_clear_object (&c->address);
  if (c->addresses == NULL)
    {
      next_target (c);
      return;
    }
  c->address = c->addresses->data;
  c->addresses = g_list_delete_link (c->addresses, c->addresses);
  connect_address (c);
}

static void
resolve_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *c = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

  if (addresses == NULL)
    {
      c->step = STEP_RESOLVE;
      attempt_failedf (c, FALSE, NULL, "4.4.3 cannot resolve %s: %s", c->target_host, error->message);
      return;
    }
  c->addresses = addresses;
  next_address (c);
}

static void
next_target (Client *c)
{
  const char *host;
  GInetAddress *literal;

  if (c->target_index >= c->d->targets->len)
    {
      finish (c);
      return;
    }
  c->target = c->d->targets->pdata[c->target_index++];
  host = c->target->host != NULL ? c->target->host : "";
  g_free (c->target_host);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    c->target_host = g_strndup (host + 1, strlen (host) - 2);
  else
    c->target_host = g_strdup (host);
  g_clear_pointer (&c->host, g_free);

  literal = g_inet_address_new_from_string (c->target_host);
  if (literal != NULL)
    {
      c->addresses = g_list_append (NULL, literal);
      next_address (c);
      return;
    }
  c->step = STEP_RESOLVE;
  g_resolver_lookup_by_name_async (g_resolver_get_default (), c->target_host, c->cancellable,
                                   resolve_cb, c);
}

/* ---- start and finish -------------------------------------------------- */

static void
finish (Client *c)
{
  GTask *task = g_steal_pointer (&c->task);

  close_connection (c);
  if (c->cancel_handler != 0)
    g_cancellable_disconnect (c->user_cancellable, c->cancel_handler);
  c->cancel_handler = 0;

  if (c->local_error == NULL && user_cancelled (c))
    g_set_error (&c->local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Delivery cancelled");

  if (!c->probe)
    {
      if (c->local_error != NULL)
        {
          g_autofree char *text = g_strdup_printf ("4.3.0 %s", c->local_error->message);

          set_pending (c, RELAIS_DELIVERY_TEMPFAIL, text);
        }
      else if (!c->in_transaction && c->attempts > 0 && c->all_permanent && c->permanent_problem != NULL)
        set_pending (c, RELAIS_DELIVERY_PERMFAIL, c->permanent_problem);
      /* Not tried, or nothing final: a temporary failure with the last problem. */
      set_pending (c, RELAIS_DELIVERY_TEMPFAIL,
                   c->problem != NULL ? c->problem : "4.4.1 no target host to deliver to");
    }

  if (c->local_error != NULL)
    g_task_return_error (task, g_steal_pointer (&c->local_error));
  else if (!c->probe)
    g_task_return_boolean (task, TRUE);
  else
    {
      GVariantBuilder b, ext, certs;
      const char *error = c->probe_ok ? "" : c->probe_error != NULL ? c->probe_error
                                           : "no target host to test";

      g_variant_builder_init (&ext, G_VARIANT_TYPE_STRING_ARRAY);
      for (guint i = 0; i < c->extensions->len; i++)
        g_variant_builder_add (&ext, "s", (const char *) c->extensions->pdata[i]);
      g_variant_builder_init (&certs, G_VARIANT_TYPE_STRING_ARRAY);
      for (gsize i = 0; i < G_N_ELEMENTS (cert_flag_names); i++)
        if (c->cert_errors & cert_flag_names[i].flag)
          g_variant_builder_add (&certs, "s", cert_flag_names[i].name);
      g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&b, "{sv}", "Ok", g_variant_new_boolean (c->probe_ok));
      g_variant_builder_add (&b, "{sv}", "Server",
                             g_variant_new_take_string (g_utf8_make_valid (c->d->connected_host != NULL
                                                                           ? c->d->connected_host : "", -1)));
      g_variant_builder_add (&b, "{sv}", "Greeting", g_variant_new_string (c->greeting != NULL ? c->greeting : ""));
      g_variant_builder_add (&b, "{sv}", "Extensions", g_variant_builder_end (&ext));
      g_variant_builder_add (&b, "{sv}", "Tls", g_variant_new_boolean (c->d->tls));
      g_variant_builder_add (&b, "{sv}", "TlsDescription",
                             g_variant_new_string (c->d->tls_description != NULL ? c->d->tls_description : ""));
      g_variant_builder_add (&b, "{sv}", "CertificateErrors", g_variant_builder_end (&certs));
      g_variant_builder_add (&b, "{sv}", "Authenticated", g_variant_new_boolean (c->d->authenticated));
      g_variant_builder_add (&b, "{sv}", "Error",
                             g_variant_new_take_string (g_utf8_make_valid (error, -1)));
      g_task_return_pointer (task, g_variant_ref_sink (g_variant_builder_end (&b)),
                             (GDestroyNotify) g_variant_unref);
    }
  g_object_unref (task);
}

/* Text that goes into a command line must not carry a line break. */
static gboolean
one_line (const char *text)
{
  return text == NULL || strpbrk (text, "\r\n") == NULL;
}

static gboolean
check_delivery (RelaisSmtpDelivery *d, gboolean probe, GError **error)
{
  if (d->helo_name == NULL || *d->helo_name == '\0' || !one_line (d->helo_name) ||
      !one_line (d->username) || !one_line (d->password))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "The HELO name or the credentials are empty or contain a line break");
      return FALSE;
    }
  if (probe)
    return TRUE;
  if (d->sender == NULL || !one_line (d->sender) || !one_line (d->mail_params) || d->message_path == NULL)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "The sender, its parameters or the spool file path are missing or invalid");
      return FALSE;
    }
  for (guint i = 0; i < d->recipients->len; i++)
    {
      RelaisSmtpRecipient *r = d->recipients->pdata[i];

      if (r->address == NULL || !one_line (r->address) || !one_line (r->rcpt_params))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "Recipient %u has no address or contains a line break", i + 1);
          return FALSE;
        }
    }
  return TRUE;
}

static void
normalize_timeouts (RelaisSmtpTimeouts *t)
{
  RelaisSmtpTimeouts def = relais_smtp_timeouts_default ();

  if (t->connect == 0) t->connect = def.connect;
  if (t->greeting == 0) t->greeting = def.greeting;
  if (t->command == 0) t->command = def.command;
  if (t->data == 0) t->data = def.data;
  if (t->data_block == 0) t->data_block = def.data_block;
  if (t->final_dot == 0) t->final_dot = def.final_dot;
}

static void
client_start (RelaisSmtpDelivery *d, gboolean probe, GCancellable *cancellable,
              GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
  Client *c = g_new0 (Client, 1);
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, c, (GDestroyNotify) client_free);
  c->d = d;
  c->task = task;
  c->spool_fd = -1;
  c->probe = probe;
  c->t = d->timeouts;
  normalize_timeouts (&c->t);
  c->all_permanent = TRUE;
  c->out = g_string_new (NULL);
  c->extensions = g_ptr_array_new_with_free_func (g_free);
  c->accepted = g_new0 (guint8, d->recipients->len + 1);
  c->chunk = g_malloc (SPOOL_CHUNK);
  c->cancellable = g_cancellable_new ();

  g_clear_pointer (&d->connected_host, g_free);
  g_clear_pointer (&d->tls_description, g_free);
  d->tls = d->authenticated = d->dsn = FALSE;
  d->bytes_sent = 0;
  for (guint i = 0; i < d->recipients->len; i++)
    {
      RelaisSmtpRecipient *r = d->recipients->pdata[i];

      r->status = RELAIS_DELIVERY_TEMPFAIL;
      g_clear_pointer (&r->reply, g_free);
    }

  if (cancellable != NULL)
    {
      c->user_cancellable = cancellable;
      c->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (user_cancelled_cb), c, NULL);
    }
  if (!check_delivery (d, probe, &c->local_error))
    {
      finish (c);
      return;
    }
  if (!probe)
    {
      /* Not a GFile: its stream costs two statx() and a GFileInfo more. */
      int fd = open (d->message_path, O_RDONLY | O_CLOEXEC);
      struct stat st;

      if (fd < 0 || fstat (fd, &st) < 0)
        {
          int errsv = errno;

          if (fd >= 0)
            close (fd);
          g_set_error (&c->local_error, RELAIS_ERROR, RELAIS_ERROR_STORAGE,
                       "Cannot read the spool file %s: %s", d->message_path, g_strerror (errsv));
          finish (c);
          return;
        }
      c->spool_fd = fd;
      c->spool_size = st.st_size;
      if (d->header_prefix != NULL)
        c->spool_size += (goffset) strlen (d->header_prefix);
      if (d->recipients->len == 0)
        {
          finish (c);
          return;
        }
      if (unpark (c))
        return;
    }
  next_target (c);
}

void
relais_smtp_client_deliver_async (RelaisSmtpDelivery *d, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (d != NULL);
  client_start (d, FALSE, cancellable, callback, user_data, relais_smtp_client_deliver_async);
}

gboolean
relais_smtp_client_deliver_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_smtp_client_deliver_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
relais_smtp_client_probe_async (RelaisSmtpDelivery *d, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (d != NULL);
  client_start (d, TRUE, cancellable, callback, user_data, relais_smtp_client_probe_async);
}

GVariant *
relais_smtp_client_probe_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_smtp_client_probe_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
