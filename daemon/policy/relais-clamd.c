/* SPDX-License-Identifier: GPL-3.0-or-later
 * The antivirus client. See relais-clamd.h.
 *
 * One exchange is one GTask whose data is an Exchange. The spool file is
 * opened first (a missing file never reaches clamd), then the connection is
 * made and the command sent. From then on the reply is read while the file is
 * still being sent: clamd answers early when it gives up (its StreamMaxLength
 * exceeded) and closes the connection, so a failed write is not an error by
 * itself; the reply, or the end of the connection without one, decides.
 *
 * Every pending operation holds a reference to the task; the first outcome
 * (answer, error, timeout, cancellation) completes the task and cancels the
 * operations still pending, whose callbacks then only drop their reference. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-clamd.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/un.h>

#include "relais-error.h"

#define CHUNK_SIZE (64 * 1024)
#define MAX_REPLY 4096

static const char instream_command[] = "zINSTREAM";  /* sent with its NUL */
static const char ping_command[] = "zPING";

/* ---- the setting ------------------------------------------------------- */

static gboolean
parse_port (const char *text, guint16 *port)
{
  guint64 value = 0;

  if (*text == '\0' || strlen (text) > 5)
    return FALSE;
  for (const char *c = text; *c; c++)
    if (!g_ascii_isdigit (*c))
      return FALSE;
  value = g_ascii_strtoull (text, NULL, 10);
  if (value == 0 || value > 65535)
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

/* A host name as DNS can hold it: letters, digits, hyphens, dots. */
static gboolean
is_host_name (const char *host)
{
  gsize length = strlen (host);
  gboolean all_numeric = TRUE;

  if (length == 0 || length > 253 || host[0] == '.' || host[0] == '-' || strstr (host, ".."))
    return FALSE;
  for (const char *c = host; *c; c++)
    {
      if (!g_ascii_isalnum (*c) && *c != '-' && *c != '.')
        return FALSE;
      if (!g_ascii_isdigit (*c) && *c != '.')
        all_numeric = FALSE;
    }
  /* "192.0.2.300" is a mistyped address, not a name */
  return !all_numeric;
}

gboolean
relais_clamd_address_parse (const char *spec, GSocketConnectable **address, GError **error)
{
  g_autofree char *host = NULL;
  const char *port_text;
  guint16 port = 0;

  if (address)
    *address = NULL;
  if (spec == NULL || *spec == '\0')
    {
      g_set_error_literal (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "AntivirusSocket: empty; give clamd's Unix socket path or HOST:PORT");
      return FALSE;
    }
  if (!g_utf8_validate (spec, -1, NULL))
    {
      g_set_error_literal (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "AntivirusSocket: not valid UTF-8");
      return FALSE;
    }

  if (spec[0] == '/')
    {
      gsize max = sizeof (((struct sockaddr_un *) NULL)->sun_path) - 1;

      if (strlen (spec) > max)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "AntivirusSocket: the Unix socket path '%s' is too long (at most %zu bytes)", spec, max);
          return FALSE;
        }
      if (address)
        *address = G_SOCKET_CONNECTABLE (g_unix_socket_address_new (spec));
      return TRUE;
    }

  if (spec[0] == '[')
    {
      const char *close = strchr (spec, ']');

      if (close == NULL || close[1] != ':')
        goto neither;
      host = g_strndup (spec + 1, close - spec - 1);
      port_text = close + 2;
      if (!g_hostname_is_ip_address (host) || strchr (host, ':') == NULL)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "AntivirusSocket: '%s' in '%s' is not an IPv6 address", host, spec);
          return FALSE;
        }
    }
  else
    {
      const char *colon = strrchr (spec, ':');

      if (colon == NULL || colon == spec)
        goto neither;
      host = g_strndup (spec, colon - spec);
      port_text = colon + 1;
      if (strchr (host, ':'))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "AntivirusSocket: '%s': write an IPv6 address in brackets, as [::1]:3310", spec);
          return FALSE;
        }
      if (!g_hostname_is_ip_address (host) && !is_host_name (host))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "AntivirusSocket: '%s' in '%s' is neither an IPv4 address nor a host name", host, spec);
          return FALSE;
        }
    }
  if (!parse_port (port_text, &port))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "AntivirusSocket: '%s' in '%s' is not a port number (1 to 65535)", port_text, spec);
      return FALSE;
    }
  if (address)
    {
      if (g_hostname_is_ip_address (host))
        *address = G_SOCKET_CONNECTABLE (g_inet_socket_address_new_from_string (host, port));
      else
        *address = g_network_address_new (host, port);
    }
  return TRUE;

neither:
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
               "AntivirusSocket: '%s' is neither an absolute Unix socket path nor HOST:PORT", spec);
  return FALSE;
}

/* ---- answers ----------------------------------------------------------- */

void
relais_clamd_answer_free (RelaisClamdAnswer *answer)
{
  if (answer == NULL)
    return;
  g_free (answer->signature);
  g_free (answer->message);
  g_free (answer);
}

/* TEXT[0..LENGTH) with anything but printable ASCII as '?'. */
static char *
printable (const char *text, gsize length)
{
  char *copy = g_strndup (text, length);

  for (char *c = copy; *c; c++)
    if (*c < 0x20 || *c > 0x7e)
      *c = '?';
  return copy;
}

static gboolean
has_suffix (const char *text, gsize length, const char *suffix)
{
  gsize n = strlen (suffix);

  return length >= n && memcmp (text + length - n, suffix, n) == 0;
}

RelaisClamdAnswer *
relais_clamd_answer_parse (const char *reply)
{
  static const char stream_prefix[] = "stream: ";
  RelaisClamdAnswer *answer = g_new0 (RelaisClamdAnswer, 1);
  gsize length = strlen (reply);
  const char *body = reply;
  gsize body_length;

  while (length > 0 && (reply[length - 1] == '\n' || reply[length - 1] == '\r' || reply[length - 1] == ' '))
    length--;
  if (length >= strlen (stream_prefix) && memcmp (reply, stream_prefix, strlen (stream_prefix)) == 0)
    body = reply + strlen (stream_prefix);
  body_length = length - (body - reply);

  if (body != reply && body_length == 2 && memcmp (body, "OK", 2) == 0)
    {
      answer->result = RELAIS_CLAMD_CLEAN;
      return answer;
    }
  if (body != reply && has_suffix (body, body_length, " FOUND") && body_length > strlen (" FOUND"))
    {
      answer->result = RELAIS_CLAMD_VIRUS;
      answer->signature = printable (body, body_length - strlen (" FOUND"));
      return answer;
    }
  answer->result = RELAIS_CLAMD_ERROR;
  if (has_suffix (reply, length, " ERROR"))
    answer->message = printable (reply, length - strlen (" ERROR"));
  else if (length == 0)
    answer->message = g_strdup ("empty reply");
  else
    {
      g_autofree char *text = printable (reply, length);
      answer->message = g_strdup_printf ("reply not understood: %s", text);
    }
  return answer;
}

/* ---- one exchange ------------------------------------------------------ */

typedef struct {
  GTask *task;               /* until the outcome is known; NULL after */
  char *spec;
  GSocketConnectable *address;
  const char *command;       /* instream_command or ping_command */
  char *path;                /* NULL for PING */
  goffset max_bytes;
  goffset sent;
  guint timeout_ms;
  GCancellable *cancellable; /* for every operation; cancelled at the end */
  GCancellable *caller;
  gulong caller_handler;
  GSource *timeout;
  GInputStream *file;
  GSocketConnection *connection;
  guint8 *chunk;             /* 4-byte length, then up to CHUNK_SIZE bytes */
  GString *reply;
  guint8 buffer[256];
  char *write_error;         /* a failed write, for the message if no reply comes */
} Exchange;

static void
exchange_free (Exchange *x)
{
  g_assert (x->task == NULL);
  g_free (x->spec);
  g_clear_object (&x->address);
  g_free (x->path);
  g_clear_object (&x->cancellable);
  g_clear_object (&x->caller);
  g_clear_object (&x->file);
  g_clear_object (&x->connection);
  g_free (x->chunk);
  g_string_free (x->reply, TRUE);
  g_free (x->write_error);
  g_free (x);
}

static void
cancel_internal (GCancellable *caller, gpointer user_data)
{
  (void) caller;
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Ends the exchange: the first call wins. */
static gboolean
finish_begin (Exchange *x, GTask **task)
{
  if (x->task == NULL)
    return FALSE;
  *task = g_steal_pointer (&x->task);
  if (x->timeout)
    {
      g_source_destroy (x->timeout);
      g_clear_pointer (&x->timeout, g_source_unref);
    }
  if (x->caller_handler)
    g_cancellable_disconnect (x->caller, x->caller_handler);
  x->caller_handler = 0;
  g_cancellable_cancel (x->cancellable);
  return TRUE;
}

static void
finish_answer (Exchange *x, RelaisClamdAnswer *answer)
{
  GTask *task;

  if (!finish_begin (x, &task))
    {
      relais_clamd_answer_free (answer);
      return;
    }
  g_task_return_pointer (task, answer, (GDestroyNotify) relais_clamd_answer_free);
  g_object_unref (task);
}

static void
finish_error (Exchange *x, GError *error)
{
  GTask *task;

  if (!finish_begin (x, &task))
    {
      g_error_free (error);
      return;
    }
  if (x->caller && g_cancellable_is_cancelled (x->caller))
    {
      g_error_free (error);
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "the antivirus check was cancelled");
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

G_GNUC_PRINTF (3, 4) static void
finish_errorf (Exchange *x, int code, const char *format, ...)
{
  va_list args;
  GError *error;

  va_start (args, format);
  error = g_error_new_valist (RELAIS_ERROR, code, format, args);
  va_end (args);
  finish_error (x, error);
}

static gboolean
timeout_cb (gpointer user_data)
{
  Exchange *x = g_task_get_task_data (G_TASK (user_data));

  finish_errorf (x, RELAIS_ERROR_FAILED, "clamd at %s did not answer within %u ms", x->spec, x->timeout_ms);
  return G_SOURCE_REMOVE;
}

/* The exchange ended (or is ending) before the pending operation's callback. */
static gboolean
ended (Exchange *x)
{
  return x->task == NULL;
}

/* ---- the reply --------------------------------------------------------- */

static void read_reply (GTask *task);

static void
reply_complete (Exchange *x)
{
  if (x->command == ping_command)
    {
      g_autofree char *reply = g_strchomp (g_strdup (x->reply->str));
      GTask *task;

      if (strcmp (reply, "PONG") == 0)
        {
          if (finish_begin (x, &task))
            {
              g_task_return_boolean (task, TRUE);
              g_object_unref (task);
            }
        }
      else
        {
          g_autofree char *text = printable (reply, strlen (reply));
          finish_errorf (x, RELAIS_ERROR_FAILED, "clamd at %s answered '%s' to PING", x->spec, text);
        }
      return;
    }
  finish_answer (x, relais_clamd_answer_parse (x->reply->str));
}

static void
reply_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  const guint8 *nul;

  if (ended (x))
    return;
  if (n < 0)
    {
      finish_errorf (x, RELAIS_ERROR_FAILED, "lost the connection to clamd at %s: %s", x->spec, error->message);
      return;
    }
  if (n == 0)
    {
      if (x->reply->len > 0)
        reply_complete (x);
      else if (x->write_error)
        finish_errorf (x, RELAIS_ERROR_FAILED, "clamd at %s closed the connection without answering (%s)",
                       x->spec, x->write_error);
      else
        finish_errorf (x, RELAIS_ERROR_FAILED, "clamd at %s closed the connection without answering", x->spec);
      return;
    }
  nul = memchr (x->buffer, '\0', n);
  g_string_append_len (x->reply, (const char *) x->buffer, nul ? nul - x->buffer : n);
  if (nul)
    reply_complete (x);
  else if (x->reply->len > MAX_REPLY)
    finish_errorf (x, RELAIS_ERROR_FAILED, "clamd at %s sent a reply longer than %d bytes", x->spec, MAX_REPLY);
  else
    read_reply (g_steal_pointer (&task));
}

/* Takes TASK's reference. */
static void
read_reply (GTask *task)
{
  Exchange *x = g_task_get_task_data (task);
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (x->connection));

  g_input_stream_read_async (in, x->buffer, sizeof x->buffer, G_PRIORITY_DEFAULT, x->cancellable,
                             reply_read_cb, task);
}

/* ---- sending ----------------------------------------------------------- */

static void send_chunk (GTask *task);

static gboolean
write_failed (Exchange *x, GError *error)
{
  if (error == NULL)
    return FALSE;
  /* Keep waiting for the reply: clamd may have said why it stopped reading. */
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && x->write_error == NULL)
    x->write_error = g_strdup_printf ("sending failed: %s", error->message);
  return TRUE;
}

static void
chunk_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  if (ended (x) || write_failed (x, error))
    return;
  send_chunk (g_steal_pointer (&task));
}

static void
end_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  if (!ended (x))
    write_failed (x, error);
}

/* Takes TASK's reference. */
static void
write_chunk (GTask *task, gsize length)
{
  Exchange *x = g_task_get_task_data (task);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (x->connection));
  guint32 prefix = GUINT32_TO_BE ((guint32) length);

  memcpy (x->chunk, &prefix, 4);
  x->sent += length;
  /* the zero-length chunk ends the stream: then only the reply is awaited */
  g_output_stream_write_all_async (out, x->chunk, 4 + length, G_PRIORITY_DEFAULT, x->cancellable,
                                   length > 0 ? chunk_written_cb : end_written_cb, task);
}

static void
file_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (ended (x))
    return;
  if (n < 0)
    {
      finish_errorf (x, RELAIS_ERROR_STORAGE, "cannot read %s for the antivirus check: %s", x->path,
                     error->message);
      return;
    }
  write_chunk (g_steal_pointer (&task), n);
}

/* Takes TASK's reference. */
static void
send_chunk (GTask *task)
{
  Exchange *x = g_task_get_task_data (task);
  gsize want = CHUNK_SIZE;

  if (x->max_bytes > 0 && x->max_bytes - x->sent < (goffset) want)
    want = x->max_bytes - x->sent;
  if (want == 0)
    {
      write_chunk (task, 0);
      return;
    }
  g_input_stream_read_async (x->file, x->chunk + 4, want, G_PRIORITY_DEFAULT, x->cancellable, file_read_cb, task);
}

static void
command_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  if (ended (x))
    return;
  if (error)
    {
      finish_errorf (x, RELAIS_ERROR_FAILED, "cannot send to clamd at %s: %s", x->spec, error->message);
      return;
    }
  read_reply (g_object_ref (task));
  if (x->file)
    send_chunk (g_steal_pointer (&task));
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  GOutputStream *out;

  if (ended (x))
    {
      g_clear_object (&connection);
      return;
    }
  if (connection == NULL)
    {
      finish_errorf (x, RELAIS_ERROR_FAILED, "cannot connect to clamd at %s: %s", x->spec, error->message);
      return;
    }
  x->connection = connection;
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_output_stream_write_all_async (out, x->command, strlen (x->command) + 1, G_PRIORITY_DEFAULT, x->cancellable,
                                   command_written_cb, g_steal_pointer (&task));
}

/* Takes TASK's reference. */
static void
start_connect (GTask *task)
{
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GSocketClient) client = g_socket_client_new ();

  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_connect_async (client, x->address, x->cancellable, connected_cb, task);
}

static void
file_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *x = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GFileInputStream *file = g_file_read_finish (G_FILE (source), result, &error);

  if (ended (x))
    {
      g_clear_object (&file);
      return;
    }
  if (file == NULL)
    {
      finish_errorf (x, RELAIS_ERROR_STORAGE, "cannot open %s for the antivirus check: %s", x->path,
                     error->message);
      return;
    }
  x->file = G_INPUT_STREAM (file);
  start_connect (g_steal_pointer (&task));
}

static void
exchange_start (const char *spec, const char *command, const char *path, goffset max_bytes, guint timeout_ms,
                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Exchange *x = g_new0 (Exchange, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, x, (GDestroyNotify) exchange_free);
  x->task = g_object_ref (task);
  x->spec = g_strdup (spec);
  x->command = command;
  x->path = g_strdup (path);
  x->max_bytes = max_bytes;
  x->timeout_ms = timeout_ms > 0 ? timeout_ms : RELAIS_CLAMD_DEFAULT_TIMEOUT_MS;
  x->cancellable = g_cancellable_new ();
  x->reply = g_string_new (NULL);

  if (!relais_clamd_address_parse (spec, &x->address, &error))
    {
      finish_error (x, error);
      return;
    }
  if (cancellable)
    {
      x->caller = g_object_ref (cancellable);
      x->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_internal),
                                                 g_object_ref (x->cancellable), g_object_unref);
    }
  x->timeout = g_timeout_source_new (x->timeout_ms);
  g_task_attach_source (task, x->timeout, timeout_cb);

  if (path)
    {
      g_autoptr(GFile) file = g_file_new_for_path (path);

      x->chunk = g_malloc (4 + CHUNK_SIZE);
      g_file_read_async (file, G_PRIORITY_DEFAULT, x->cancellable, file_opened_cb, g_object_ref (task));
    }
  else
    start_connect (g_object_ref (task));
}

void
relais_clamd_scan_async (const char *spec, const char *path, goffset max_bytes, guint timeout_ms,
                         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (path != NULL);
  exchange_start (spec, instream_command, path, max_bytes, timeout_ms, cancellable, callback, user_data,
                  relais_clamd_scan_async);
}

RelaisClamdAnswer *
relais_clamd_scan_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_clamd_scan_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
relais_clamd_ping_async (const char *spec, guint timeout_ms, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  exchange_start (spec, ping_command, NULL, 0, timeout_ms, cancellable, callback, user_data,
                  relais_clamd_ping_async);
}

gboolean
relais_clamd_ping_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_clamd_ping_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
