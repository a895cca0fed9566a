/* SPDX-License-Identifier: GPL-3.0-or-later
 * SMTP replies as data and their wire form (RFC 5321 §4.2, RFC 3463). */
#define G_LOG_DOMAIN "relais"

#include "relais-reply.h"

#include <stdarg.h>
#include <string.h>

RelaisReply *
relais_reply_new (guint code, const char *enhanced, const char *format, ...)
{
  RelaisReply *reply;
  va_list ap;

  g_return_val_if_fail (code >= 200 && code <= 599, NULL);
  g_return_val_if_fail (format != NULL, NULL);

  reply = g_new0 (RelaisReply, 1);
  reply->code = code;
  reply->enhanced = g_strdup (enhanced);
  va_start (ap, format);
  reply->text = g_strdup_vprintf (format, ap);
  va_end (ap);
  return reply;
}

RelaisReply *
relais_reply_storage (gboolean no_space)
{
  if (no_space)
    return relais_reply_new (452, "4.3.1", "Insufficient system storage");
  return relais_reply_new (451, "4.3.0", "Error: queue file write error");
}

void
relais_reply_free (RelaisReply *reply)
{
  if (reply == NULL)
    return;
  g_free (reply->enhanced);
  g_free (reply->text);
  g_free (reply);
}

static void
append_line (GString *out, guint code, char sep, const char *enhanced, const char *line, gsize len)
{
  g_string_append_printf (out, "%03u%c", code, sep);
  if (enhanced != NULL)
    {
      g_string_append (out, enhanced);
      if (len > 0)
        g_string_append_c (out, ' ');
    }
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) line[i];
      /* No CR, LF, NUL or other control byte may reach the client. */
      g_string_append_c (out, (c < 0x20 || c == 0x7f) ? '?' : (char) c);
    }
  g_string_append (out, "\r\n");
}

void
relais_reply_append (GString *out, guint code, const char *enhanced, const char *text)
{
  const char *line;

  g_return_if_fail (out != NULL);
  g_return_if_fail (code >= 200 && code <= 599);

  if (text == NULL)
    text = "";
  line = text;
  for (;;)
    {
      const char *nl = strchr (line, '\n');

      if (nl == NULL)
        {
          append_line (out, code, ' ', enhanced, line, strlen (line));
          break;
        }
      append_line (out, code, '-', enhanced, line, (gsize) (nl - line));
      line = nl + 1;
    }
}

void
relais_reply_appendf (GString *out, guint code, const char *enhanced, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  relais_reply_append (out, code, enhanced, text);
}

void
relais_reply_format (const RelaisReply *reply, GString *out)
{
  g_return_if_fail (reply != NULL);
  relais_reply_append (out, reply->code, reply->enhanced, reply->text);
}
