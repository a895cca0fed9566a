/* SPDX-License-Identifier: GPL-3.0-or-later
 * Log records with the fields that follow a session and a message
 * (journalctl RELAIS_QUEUE_ID=...), the delivery line, and relaisd's log
 * writer. See relais-log.h. */
#define G_LOG_DOMAIN "relais"

#include "relais-log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIELD_PREFIX "RELAIS_"

/* syslog(3) priorities, as GLib gives them to journald */
static const char *
level_priority (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "3";
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return "4";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "5";
  if (level & G_LOG_LEVEL_INFO)
    return "6";
  return "7";
}

static void
add_field (GLogField *fields, gsize *n, const char *key, const char *value)
{
  if (value == NULL)
    return;
  fields[*n].key = key;
  fields[*n].value = value;
  fields[*n].length = -1;
  (*n)++;
}

gboolean
relais_log_would_drop (GLogLevelFlags level)
{
  return (level & G_LOG_LEVEL_DEBUG) != 0 && g_log_writer_default_would_drop (level, G_LOG_DOMAIN);
}

void
relais_log_full (const char *file, const char *line, const char *func, GLogLevelFlags level,
                 const RelaisLogIds *ids, const char *format, ...)
{
  static const RelaisLogIds none = { 0 };
  g_autofree char *text = NULL;
  g_autofree char *message = NULL;
  const char *prefix;
  GLogField fields[11];
  gsize n = 0;
  va_list ap;

  if (relais_log_would_drop (level))
    return;
  if (ids == NULL)
    ids = &none;
  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  prefix = ids->session != NULL ? ids->session : ids->queue_id;
  message = prefix != NULL ? g_strconcat (prefix, ": ", text, NULL) : g_steal_pointer (&text);

  add_field (fields, &n, "GLIB_DOMAIN", G_LOG_DOMAIN);
  add_field (fields, &n, "PRIORITY", level_priority (level));
  add_field (fields, &n, "CODE_FILE", file);
  add_field (fields, &n, "CODE_LINE", line);
  add_field (fields, &n, "CODE_FUNC", func);
  add_field (fields, &n, "MESSAGE", message);
  add_field (fields, &n, "RELAIS_SESSION", ids->session);
  add_field (fields, &n, "RELAIS_QUEUE_ID", ids->queue_id);
  add_field (fields, &n, "RELAIS_CLIENT", ids->client);
  add_field (fields, &n, "RELAIS_RULE", ids->rule);
  g_log_structured_array (level, fields, n);
}

/* ---- the delivery line --------------------------------------------------- */

static const char *const status_names[] = { "sent", "deferred", "bounced" };

/* The length of the enhanced status code "C.S.D" at P (RFC 3463), 0 if none. */
static gsize
enhanced_code_length (const char *p)
{
  const char *q = p;

  if (*q != '2' && *q != '4' && *q != '5')
    return 0;
  q++;
  for (guint part = 0; part < 2; part++)
    {
      gsize digits;

      if (*q != '.')
        return 0;
      q++;
      digits = strspn (q, "0123456789");
      if (digits < 1 || digits > 3)
        return 0;
      q += digits;
    }
  return *q == '\0' || *q == ' ' ? (gsize) (q - p) : 0;
}

char *
relais_log_dsn (const char *reply, RelaisLogStatus status)
{
  const char *p = reply != NULL ? reply : "";
  gsize len;

  /* "550 5.1.1 text": skip the reply code */
  if (g_ascii_isdigit (p[0]) && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2]) && p[3] == ' ')
    p += 4;
  len = enhanced_code_length (p);
  if (len > 0)
    {
      char *dsn = g_strndup (p, len);

      /* given up after temporary failures: it failed for good */
      if (status == RELAIS_LOG_BOUNCED && dsn[0] == '4')
        dsn[0] = '5';
      return dsn;
    }
  return g_strdup (status == RELAIS_LOG_SENT ? "2.0.0" : status == RELAIS_LOG_DEFERRED ? "4.0.0" : "5.0.0");
}

/* "[192.0.2.1]:25" (a server given by its address) becomes "192.0.2.1[192.0.2.1]:25". */
static char *
relay_name (const char *relay)
{
  const char *end;

  if (relay == NULL || relay[0] == '\0')
    return g_strdup ("none");
  if (relay[0] == '[' && (end = strchr (relay, ']')) != NULL)
    return g_strdup_printf ("%.*s%s", (int) (end - relay - 1), relay + 1, relay);
  return g_strdup (relay);
}

char *
relais_log_delivery_text (const RelaisLogDelivery *d)
{
  g_autoptr(GString) line = g_string_new (NULL);
  g_autofree char *relay = relay_name (d->relay);
  g_autofree char *dsn = relais_log_dsn (d->reply, d->status);
  char delay[G_ASCII_DTOSTR_BUF_SIZE];

  /* one decimal, with a point whatever the locale */
  g_ascii_formatd (delay, sizeof delay, "%.1f", (double) MAX (d->delay_usec, 0) / G_USEC_PER_SEC);
  g_string_append_printf (line, "to=<%s>, ", d->to);
  if (d->orig_to != NULL && g_strcmp0 (d->orig_to, d->to) != 0)
    g_string_append_printf (line, "orig_to=<%s>, ", d->orig_to);
  g_string_append_printf (line, "relay=%s, delay=%s, attempt=%d, ", relay, delay, d->attempt);
  if (d->status == RELAIS_LOG_DEFERRED)
    g_string_append_printf (line, "retry_in=%" G_GINT64_FORMAT ", ", d->retry_in);
  g_string_append_printf (line, "dsn=%s, status=%s (%s)", dsn, status_names[d->status],
                          d->reply != NULL ? d->reply : "");
  return g_string_free (g_steal_pointer (&line), FALSE);
}

void
relais_log_delivery (const RelaisLogDelivery *delivery)
{
  g_autofree char *text = relais_log_delivery_text (delivery);

  relais_log_queue (G_LOG_LEVEL_MESSAGE, delivery->queue_id, "%s", text);
}

/* ---- the writer ----------------------------------------------------------- */

char *
relais_log_fields_suffix (const GLogField *fields, gsize n_fields)
{
  g_autoptr(GString) suffix = g_string_new (NULL);

  for (gsize i = 0; i < n_fields; i++)
    {
      if (!g_str_has_prefix (fields[i].key, FIELD_PREFIX) || fields[i].value == NULL)
        continue;
      g_string_append (suffix, suffix->len == 0 ? " [" : " ");
      g_string_append_printf (suffix, "%s=", fields[i].key);
      if (fields[i].length < 0)
        g_string_append (suffix, fields[i].value);
      else
        g_string_append_len (suffix, fields[i].value, fields[i].length);
    }
  if (suffix->len > 0)
    g_string_append_c (suffix, ']');
  return g_string_free (g_steal_pointer (&suffix), FALSE);
}

static gboolean
is_our_domain (const GLogField *fields, gsize n_fields)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
      return fields[i].length < 0 && g_str_equal (fields[i].value, G_LOG_DOMAIN);
  return FALSE;
}

/* What a line goes to, decided once: our own formatting for plain streams
 * (GLib's asks the terminal, the time zone file and the socket type again at
 * every line, several system calls per line and several lines per message). */
typedef enum {
  SINK_PLAIN = 1,    /* stdout/stderr are files or pipes: relais_log_plain() */
  SINK_JOURNAL,      /* stderr is the journal's stream: its native protocol */
  SINK_GLIB,         /* a terminal (colours): GLib's own writer */
} LogSink;

static LogSink
log_sink (void)
{
  static gsize sink = 0;

  if (g_once_init_enter (&sink))
    {
      LogSink found = SINK_PLAIN;

      if (g_log_writer_is_journald (fileno (stderr)))
        found = SINK_JOURNAL;
      else if (g_log_writer_supports_color (fileno (stderr)) || g_log_writer_supports_color (fileno (stdout)))
        found = SINK_GLIB;
      g_once_init_leave (&sink, found);
    }
  return (LogSink) sink;
}

/* ---- lines held until the main loop waits ---------------------------------
 * Several lines a message would be as many write()s: the main thread's plain
 * lines wait in a buffer until its main loop is about to wait (the prepare
 * of a source of its own, at every iteration), then go out in one write per
 * stream. Other threads, and the main thread outside the loop, write at
 * once; a record that does not take the plain way (a warning, the journal)
 * writes what waits first, so that a stream keeps its order. */

#define BATCH_MAX (64 * 1024)

static GString *batch[2];               /* for stdout, stderr; main thread only */
static gboolean batch_one_file;         /* stdout and stderr are one file: one buffer, one order */
static __thread gboolean batching;      /* this thread holds its lines back */
static GSource *batch_source;

static gboolean
write_all (int fd, const char *p, gsize left)
{
  while (left > 0)
    {
      gssize n = write (fd, p, left);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      left -= (gsize) n;
    }
  return TRUE;
}

void
relais_log_flush (void)
{
  if (!batching)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    if (batch[i]->len > 0)
      {
        write_all (i == 0 ? STDOUT_FILENO : STDERR_FILENO, batch[i]->str, batch[i]->len);
        g_string_truncate (batch[i], 0);
      }
}

static gboolean
batch_prepare (GSource *source, gint *timeout)
{
  relais_log_flush ();
  *timeout = -1;
  return FALSE;
}

static GSourceFuncs batch_funcs = {
  .prepare = batch_prepare,
};

static void
batch_at_exit (void)
{
  relais_log_flush ();
}

void
relais_log_batch_start (GMainContext *context)
{
  struct stat out, err;

  g_return_if_fail (!batching && batch_source == NULL);

  batch_one_file = fstat (STDOUT_FILENO, &out) == 0 && fstat (STDERR_FILENO, &err) == 0 &&
                   out.st_dev == err.st_dev && out.st_ino == err.st_ino;
  for (guint i = 0; i < G_N_ELEMENTS (batch); i++)
    if (batch[i] == NULL)
      batch[i] = g_string_sized_new (4096);
  batch_source = g_source_new (&batch_funcs, sizeof (GSource));
  g_source_set_static_name (batch_source, "[relais] log lines");
  g_source_attach (batch_source, context);
  batching = TRUE;
  atexit (batch_at_exit);
}

void
relais_log_batch_stop (void)
{
  relais_log_flush ();
  batching = FALSE;
  if (batch_source != NULL)
    {
      g_source_destroy (batch_source);
      g_clear_pointer (&batch_source, g_source_unref);
    }
}

/* "relais-Message: 16:42:37.104: TEXT\n" as GLib writes it for INFO and
 * MESSAGE (to stdout and stderr as GLib does), in one write, or held back
 * (see relais_log_batch_start()). */
static GLogWriterOutput
relais_log_plain (GLogLevelFlags level, const GLogField *fields, gsize n_fields)
{
  static __thread gint64 cached_second = -1;
  static __thread char clock_text[16];
  gint64 now = g_get_real_time ();
  gint64 second = now / G_USEC_PER_SEC;
  const GLogField *message = NULL;
  g_autoptr(GString) line = NULL;
  int fd = (level & G_LOG_LEVEL_MESSAGE) != 0 ? STDERR_FILENO : STDOUT_FILENO;

  for (gsize i = 0; i < n_fields && message == NULL; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      message = &fields[i];
  if (second != cached_second)
    {
      time_t t = (time_t) second;
      struct tm tm;

      if (localtime_r (&t, &tm) == NULL || strftime (clock_text, sizeof clock_text, "%H:%M:%S", &tm) == 0)
        g_strlcpy (clock_text, "??:??:??", sizeof clock_text);
      cached_second = second;
    }
  line = g_string_sized_new (160);
  g_string_append_printf (line, "%s-%s: %s.%03d: ", G_LOG_DOMAIN,
                          (level & G_LOG_LEVEL_MESSAGE) != 0 ? "Message" : "INFO", clock_text,
                          (int) ((now / 1000) % 1000));
  if (message != NULL && message->length < 0)
    g_string_append (line, message->value);
  else if (message != NULL)
    g_string_append_len (line, message->value, message->length);
  g_string_append_c (line, '\n');
  if (batching)
    {
      GString *held = batch[batch_one_file || fd == STDERR_FILENO];

      g_string_append_len (held, line->str, line->len);
      if (held->len >= BATCH_MAX)
        relais_log_flush ();
      return G_LOG_WRITER_HANDLED;
    }
  return write_all (fd, line->str, line->len) ? G_LOG_WRITER_HANDLED : G_LOG_WRITER_UNHANDLED;
}

GLogWriterOutput
relais_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  static gsize append_fields = 0;   /* 1: no, 2: yes */
  g_autofree char *message = NULL;
  GLogField *copy = g_newa (GLogField, n_fields + 1);
  gboolean has_identifier = FALSE;
  gsize n = 0;

  if (g_once_init_enter (&append_fields))
    g_once_init_leave (&append_fields, g_strcmp0 (g_getenv ("RELAIS_LOG_FIELDS"), "1") == 0 &&
                                         !g_log_writer_is_journald (fileno (stderr)) ? 2 : 1);
  for (gsize i = 0; i < n_fields; i++)
    {
      copy[n] = fields[i];
      if (g_str_equal (fields[i].key, "SYSLOG_IDENTIFIER"))
        has_identifier = TRUE;
      else if (append_fields == 2 && message == NULL && g_str_equal (fields[i].key, "MESSAGE"))
        {
          g_autofree char *suffix = relais_log_fields_suffix (fields, n_fields);
          g_autofree char *text = fields[i].length < 0 ? g_strdup (fields[i].value)
                                                        : g_strndup (fields[i].value, fields[i].length);

          message = g_strconcat (text, suffix, NULL);
          copy[n].value = message;
          copy[n].length = -1;
        }
      n++;
    }
  if (!has_identifier)
    add_field (copy, &n, "SYSLOG_IDENTIFIER", "relaisd");
  /* GLib's default writer drops info unless G_MESSAGES_DEBUG names the
   * domain; ours is what an administrator reads (from=, to=, TLS, DKIM), so
   * it goes out as the default writer would send it, debug alone stays off.
   * Our info and messages (several per mail) take the short way. */
  if ((level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE)) != 0 && (level & G_LOG_FLAG_FATAL) == 0 &&
      is_our_domain (fields, n_fields))
    switch (log_sink ())
      {
      case SINK_JOURNAL:
        if (g_log_writer_journald (level, copy, n, user_data) == G_LOG_WRITER_HANDLED)
          return G_LOG_WRITER_HANDLED;
        return relais_log_plain (level, copy, n);   /* the journal refused it: the stream, as before */
      case SINK_PLAIN:
        return relais_log_plain (level, copy, n);
      case SINK_GLIB:
      default:
        if ((level & G_LOG_LEVEL_INFO) != 0 && g_log_writer_default_would_drop (level, G_LOG_DOMAIN))
          return g_log_writer_standard_streams (level, copy, n, user_data);
        break;
      }
  relais_log_flush ();    /* the lines before it first */
  return g_log_writer_default (level, copy, n, user_data);
}
