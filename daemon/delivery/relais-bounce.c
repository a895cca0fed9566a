/* SPDX-License-Identifier: GPL-3.0-or-later
 * Builds RFC 3464 delivery status notifications: a text/plain explanation, the
 * message/delivery-status fields, and the original header section as
 * text/rfc822-headers, or the whole message as message/rfc822 when a failure
 * is reported and RET=FULL asked for it (RFC 3461 §4.3). Every string from outside (addresses, replies, host
 * name) goes through bounce_clean(): control characters become spaces and
 * 8-bit octets '?', and each is length-capped, so the output is 7-bit, CRLF
 * only, and no line exceeds 998 octets. Called by the scheduler. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-bounce.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "relais-error.h"

#define BOUNCE_MAX_ADDRESS    400   /* octets kept of an address */
#define BOUNCE_MAX_REASON     900   /* octets kept of a reply or reason */
#define BOUNCE_MAX_LINE       998   /* RFC 5322 §2.1.1, without CRLF */
#define BOUNCE_FOLD_AT        76    /* preferred line length when folding */

/* A copy of S (NULL: "") fit for one header line: CR, LF and other controls
 * become spaces, 8-bit octets '?', runs of spaces collapse, ends trimmed, and
 * at most MAX_LEN octets are kept ("..." marks a cut). */
static char *
bounce_clean (const char *s, gsize max_len)
{
  GString *out = g_string_new (NULL);

  for (const char *p = s != NULL ? s : ""; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c < 0x20 || c == 0x7f)
        c = ' ';
      else if (c >= 0x80)
        c = '?';
      if (c == ' ' && (out->len == 0 || out->str[out->len - 1] == ' '))
        continue;
      g_string_append_c (out, (char) c);
    }
  while (out->len > 0 && out->str[out->len - 1] == ' ')
    g_string_truncate (out, out->len - 1);
  if (out->len > max_len)
    {
      g_string_truncate (out, max_len - 3);
      g_string_append (out, "...");
    }
  return g_string_free (out, FALSE);
}

/* Appends "NAME: VALUE" CRLF, VALUE (already clean) folded at spaces near
 * BOUNCE_FOLD_AT; a word too long to fold stays whole (VALUE is capped, so the
 * line is still far below 998 octets). */
static void
append_folded (GString *out, const char *name, const char *value)
{
  gsize line_len = strlen (name) + 1;
  g_auto(GStrv) words = g_strsplit (value, " ", -1);

  gboolean first = TRUE;

  g_string_append_printf (out, "%s:", name);
  for (guint i = 0; words[i] != NULL; i++)
    {
      gsize word_len = strlen (words[i]);

      if (word_len == 0)
        continue;
      if (!first && line_len + 1 + word_len > BOUNCE_FOLD_AT)
        {
          g_string_append (out, "\r\n");
          line_len = 0;
        }
      g_string_append_c (out, ' ');
      g_string_append (out, words[i]);
      line_len += 1 + word_len;
      first = FALSE;
    }
  g_string_append (out, "\r\n");
}

/* RFC 5322 date-time, English names whatever the locale. */
static char *
bounce_format_date (gint64 when)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (when);
  g_autofree char *zone = NULL;

  if (dt == NULL)
    dt = g_date_time_new_from_unix_utc (0);
  zone = g_date_time_format (dt, "%z");
  return g_strdup_printf ("%s, %d %s %d %02d:%02d:%02d %s",
                          days[g_date_time_get_day_of_week (dt) - 1],
                          g_date_time_get_day_of_month (dt),
                          months[g_date_time_get_month (dt) - 1],
                          g_date_time_get_year (dt),
                          g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                          g_date_time_get_second (dt), zone);
}

/* Length of the enhanced status code "x.y.z" at P (class 2, 4 or 5, subject
 * up to 3 digits, detail up to 3 digits), followed by a space or the end; 0 if none. */
static gsize
enhanced_code_len (const char *p)
{
  const char *q = p;
  guint n;

  if (*q != '2' && *q != '4' && *q != '5')
    return 0;
  q++;
  for (guint part = 0; part < 2; part++)
    {
      if (*q++ != '.')
        return 0;
      for (n = 0; g_ascii_isdigit (*q) && n < 3; n++)
        q++;
      if (n == 0)
        return 0;
    }
  if (*q != '\0' && *q != ' ')
    return 0;
  return (gsize) (q - p);
}

char *
relais_bounce_status_code (const char *reason)
{
  const char *p = reason != NULL ? reason : "";
  char *code;
  gsize len;

  while (*p == ' ')
    p++;
  /* An SMTP reply code first: "550 5.1.1 ..." or "550-5.1.1 ...". */
  if (g_ascii_isdigit (p[0]) && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2]) &&
      (p[3] == ' ' || p[3] == '-'))
    p += 4;
  len = enhanced_code_len (p);
  if (len == 0)
    return g_strdup ("5.0.0");
  code = g_strndup (p, len);
  if (code[0] != '5')
    code[0] = '5';   /* Action: failed. 2.x.x or 4.x.x here means we gave up. */
  return code;
}

/* The reason if it is an SMTP reply (it starts with a reply code). */
static gboolean
is_smtp_reply (const char *reason)
{
  return reason != NULL && (reason[0] == '2' || reason[0] == '4' || reason[0] == '5') &&
         g_ascii_isdigit (reason[1]) && g_ascii_isdigit (reason[2]) &&
         (reason[3] == ' ' || reason[3] == '-' || reason[3] == '\0');
}

/* Appends the header section HEADERS (CRLF lines), making sure of CRLF line
 * ends and line lengths, and of 7 bits: NUL and 8-bit octets become '?' (the
 * DSN declares 7bit; raw UTF-8 headers would need message/global-headers). */
static void
append_header_section (GString *out, GBytes *headers)
{
  gsize len;
  const char *data = g_bytes_get_data (headers, &len);
  gsize line_len = 0;

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (c == '\r')
        continue;
      if (c == '\n')
        {
          g_string_append (out, "\r\n");
          line_len = 0;
          continue;
        }
      if (c == '\0' || (guchar) c >= 0x80)
        c = '?';
      if (line_len >= BOUNCE_MAX_LINE)
        continue;
      g_string_append_c (out, c);
      line_len++;
    }
  if (line_len > 0)
    g_string_append (out, "\r\n");
}

gboolean
relais_bounce_has_8bit (GBytes *data)
{
  gsize len;
  const guchar *p;

  if (data == NULL)
    return FALSE;
  p = g_bytes_get_data (data, &len);
  for (gsize i = 0; i < len; i++)
    if (p[i] >= 0x80)
      return TRUE;
  return FALSE;
}

static const char *
action_name (RelaisBounceAction action)
{
  switch (action)
    {
    case RELAIS_BOUNCE_ACTION_DELIVERED:
      return "delivered";
    case RELAIS_BOUNCE_ACTION_RELAYED:
      return "relayed";
    case RELAIS_BOUNCE_ACTION_FAILED:
    default:
      return "failed";
    }
}

/* The explanation of one recipient's fate in the text part. */
static const char *
action_text (RelaisBounceAction action)
{
  switch (action)
    {
    case RELAIS_BOUNCE_ACTION_DELIVERED:
      return "delivered to the mailbox";
    case RELAIS_BOUNCE_ACTION_RELAYED:
      return "relayed to a mail server that does not send delivery notifications: "
             "no further notification will follow";
    case RELAIS_BOUNCE_ACTION_FAILED:
    default:
      return "delivery failed";
    }
}

GBytes *
relais_bounce_build (const RelaisBounceInfo *info)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) to = g_string_new (NULL);
  g_autofree char *hostname = NULL;
  g_autofree char *queue_id = NULL;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *boundary = NULL;
  g_autofree char *date = NULL;
  g_autofree char *envid = NULL;
  guint n_failed = 0;
  gboolean full, eightbit;
  gint64 now;

  g_return_val_if_fail (info != NULL, NULL);
  g_return_val_if_fail (info->n_recipients == 0 || info->recipients != NULL, NULL);

  now = info->now != 0 ? info->now : g_get_real_time () / G_USEC_PER_SEC;
  hostname = bounce_clean (info->hostname != NULL && info->hostname[0] != '\0' ? info->hostname : "localhost",
                           BOUNCE_MAX_ADDRESS);
  g_strdelimit (hostname, " <>", '-');
  queue_id = bounce_clean (info->queue_id, 64);
  boundary = g_strdup_printf ("=_relais-%s", uuid);
  date = bounce_format_date (now);
  envid = info->envid != NULL ? bounce_clean (info->envid, 200) : NULL;
  for (guint i = 0; i < info->n_recipients; i++)
    if (info->recipients[i].action == RELAIS_BOUNCE_ACTION_FAILED)
      n_failed++;
  /* RFC 3461 §4.3: the content goes back only with a failure. */
  full = info->original_message != NULL && n_failed > 0;
  eightbit = full && relais_bounce_has_8bit (info->original_message);

  for (guint i = 0; info->to != NULL && info->to[i] != NULL; i++)
    {
      g_autofree char *address = bounce_clean (info->to[i], BOUNCE_MAX_ADDRESS);

      g_strdelimit (address, "<>", '?');
      g_string_append_printf (to, "%s<%s>", to->len > 0 ? ", " : "", address);
    }

  /* The message header. */
  g_string_append_printf (out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", hostname);
  if (to->len > 0)
    append_folded (out, "To", to->str);
  else
    g_string_append (out, "To: undisclosed-recipients:;\r\n");
  if (n_failed == info->n_recipients)
    g_string_append (out, "Subject: Undelivered Mail Returned to Sender\r\n");
  else if (n_failed == 0)
    g_string_append (out, "Subject: Successful Mail Delivery Report\r\n");
  else
    g_string_append (out, "Subject: Delivery Status Notification\r\n");
  g_string_append_printf (out, "Date: %s\r\n", date);
  g_string_append_printf (out, "Message-ID: <%s@%s>\r\n", uuid, hostname);
  g_string_append (out, "Auto-Submitted: auto-replied\r\n");
  g_string_append (out, "MIME-Version: 1.0\r\n");
  g_string_append_printf (out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                               "\tboundary=\"%s\"\r\n", boundary);
  g_string_append_printf (out, "Content-Transfer-Encoding: %s\r\n", eightbit ? "8bit" : "7bit");
  g_string_append (out, "\r\n");
  g_string_append (out, "This is a MIME-encapsulated message.\r\n\r\n");

  /* 1. For people. */
  g_string_append_printf (out, "--%s\r\n", boundary);
  g_string_append (out, "Content-Description: Notification\r\n"
                        "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
  g_string_append_printf (out, "This is the mail system at host %s.\r\n\r\n", hostname);
  if (n_failed > 0)
    g_string_append (out, "Your message could not be delivered to one or more of its recipients.\r\n"
                          "This is a permanent failure: the mail system will not try again.\r\n"
                          "The failed recipients are listed below with the reason given.\r\n\r\n");
  if (n_failed < info->n_recipients)
    g_string_append (out, "As you asked, this reports the successful delivery of your message\r\n"
                          "to the recipients listed below.\r\n\r\n");
  for (guint i = 0; i < info->n_recipients; i++)
    {
      const RelaisBounceRecipient *r = &info->recipients[i];
      g_autofree char *address = bounce_clean (r->address, BOUNCE_MAX_ADDRESS);
      g_autofree char *original = bounce_clean (r->original, BOUNCE_MAX_ADDRESS);
      g_autofree char *reason = bounce_clean (r->reason, BOUNCE_MAX_REASON);
      g_autofree char *line = NULL;

      if (r->original != NULL && r->original[0] != '\0' && g_strcmp0 (r->original, r->address) != 0)
        line = g_strdup_printf ("<%s> (sent to <%s>):", address, original);
      else
        line = g_strdup_printf ("<%s>:", address);
      g_string_append_printf (out, "%s\r\n", line);
      if (r->action == RELAIS_BOUNCE_ACTION_FAILED)
        g_string_append_printf (out, "    %s\r\n\r\n", reason[0] != '\0' ? reason : "delivery failed");
      else
        g_string_append_printf (out, "    %s\r\n\r\n", action_text (r->action));
    }
  if (info->message_too_big && n_failed > 0)
    g_string_append_printf (out, "Your message is larger than %u KiB: only its headers are returned.\r\n\r\n",
                            RELAIS_BOUNCE_MAX_FULL / 1024);
  if (queue_id[0] != '\0')
    g_string_append_printf (out, "Queue id of your message: %s\r\n\r\n", queue_id);

  /* 2. For programs: RFC 3464 §2.2 and §2.3. */
  g_string_append_printf (out, "--%s\r\n", boundary);
  g_string_append (out, "Content-Description: Delivery report\r\n"
                        "Content-Type: message/delivery-status\r\n\r\n");
  if (envid != NULL && envid[0] != '\0')
    g_string_append_printf (out, "Original-Envelope-Id: %s\r\n", envid);
  g_string_append_printf (out, "Reporting-MTA: dns; %s\r\n", hostname);
  if (queue_id[0] != '\0')
    g_string_append_printf (out, "X-Relais-Queue-ID: %s\r\n", queue_id);
  if (info->arrival_date > 0)
    {
      g_autofree char *arrival = bounce_format_date (info->arrival_date);

      g_string_append_printf (out, "Arrival-Date: %s\r\n", arrival);
    }
  for (guint i = 0; i < info->n_recipients; i++)
    {
      const RelaisBounceRecipient *r = &info->recipients[i];
      g_autofree char *address = bounce_clean (r->address, BOUNCE_MAX_ADDRESS);
      g_autofree char *reason = bounce_clean (r->reason, BOUNCE_MAX_REASON);
      gboolean failed = r->action == RELAIS_BOUNCE_ACTION_FAILED;
      g_autofree char *status = failed ? relais_bounce_status_code (reason) : g_strdup ("2.0.0");
      g_autoptr(RelaisDsnOrcpt) orcpt = relais_dsn_orcpt_from_string (r->orcpt);

      g_string_append (out, "\r\n");
      g_string_append_printf (out, "Final-Recipient: rfc822; %s\r\n", address);
      if (orcpt != NULL)
        {
          g_autofree char *field = relais_dsn_orcpt_to_field (orcpt);
          g_autofree char *value = bounce_clean (field, BOUNCE_MAX_REASON);

          g_string_append_printf (out, "Original-Recipient: %s\r\n", value);
        }
      else if (r->original != NULL && r->original[0] != '\0' && g_strcmp0 (r->original, r->address) != 0)
        {
          g_autofree char *original = bounce_clean (r->original, BOUNCE_MAX_ADDRESS);

          g_string_append_printf (out, "Original-Recipient: rfc822; %s\r\n", original);
        }
      g_string_append_printf (out, "Action: %s\r\n", action_name (r->action));
      g_string_append_printf (out, "Status: %s\r\n", status);
      if (reason[0] != '\0' && (failed || is_smtp_reply (reason)))
        {
          g_autofree char *value = g_strdup_printf ("%s; %s", is_smtp_reply (reason) ? "smtp" : "X-Relais",
                                                    reason);

          append_folded (out, "Diagnostic-Code", value);
        }
      if (r->last_attempt > 0)
        {
          g_autofree char *last = bounce_format_date (r->last_attempt);

          g_string_append_printf (out, "Last-Attempt-Date: %s\r\n", last);
        }
    }
  g_string_append (out, "\r\n");

  /* 3. The original message, or its header section. */
  if (full)
    {
      gsize len;
      const char *data = g_bytes_get_data (info->original_message, &len);

      g_string_append_printf (out, "--%s\r\n", boundary);
      g_string_append (out, "Content-Description: Undelivered Message\r\n"
                            "Content-Type: message/rfc822\r\n");
      if (eightbit)
        g_string_append (out, "Content-Transfer-Encoding: 8bit\r\n");
      g_string_append (out, "\r\n");
      /* The spool holds CRLF lines already (the session wrote them). */
      g_string_append_len (out, data, (gssize) len);
      if (len < 2 || data[len - 2] != '\r' || data[len - 1] != '\n')
        g_string_append (out, "\r\n");
      g_string_append (out, "\r\n");
    }
  else if (info->original_headers != NULL)
    {
      g_string_append_printf (out, "--%s\r\n", boundary);
      g_string_append_printf (out, "Content-Description: %s\r\n"
                                   "Content-Type: text/rfc822-headers\r\n\r\n",
                              n_failed > 0 ? "Undelivered Message Headers" : "Message Headers");
      append_header_section (out, info->original_headers);
      g_string_append (out, "\r\n");
    }
  g_string_append_printf (out, "--%s--\r\n", boundary);

  return g_string_free_to_bytes (g_steal_pointer (&out));
}

typedef FILE RelaisBounceFile;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisBounceFile, fclose)

GBytes *
relais_bounce_read_headers (const char *path, gsize max_len, GError **error)
{
  g_autoptr(RelaisBounceFile) file = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) line = g_string_new (NULL);
  gboolean truncated = FALSE;
  int c;

  g_return_val_if_fail (path != NULL, NULL);

  file = g_fopen (path, "rb");
  if (file == NULL)
    {
      int errsv = errno;

      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "Cannot open %s: %s", path, g_strerror (errsv));
      return NULL;
    }

  /* One line at a time; a line is only kept whole. */
  while (!truncated && (c = getc (file)) != EOF)
    {
      if (c == '\r')
        continue;
      if (c != '\n')
        {
          if (line->len < BOUNCE_MAX_LINE)
            g_string_append_c (line, (char) c);
          continue;
        }
      if (line->len == 0)
        break;              /* the end of the header section */
      if (out->len + line->len + 2 > max_len)
        truncated = TRUE;
      else
        {
          g_string_append_len (out, line->str, (gssize) line->len);
          g_string_append (out, "\r\n");
        }
      g_string_truncate (line, 0);
    }
  if (ferror (file))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "Cannot read %s", path);
      return NULL;
    }
  /* A last line without its end (a message that is all header). */
  if (!truncated && line->len > 0 && out->len + line->len + 2 <= max_len)
    {
      g_string_append_len (out, line->str, (gssize) line->len);
      g_string_append (out, "\r\n");
    }
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

GBytes *
relais_bounce_read_message (const char *path, gsize max_len, gboolean *too_big, GError **error)
{
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  if (too_big != NULL)
    *too_big = FALSE;
  file = g_mapped_file_new (path, FALSE, &local_error);
  if (file == NULL)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "Cannot read %s: %s", path, local_error->message);
      return NULL;
    }
  if (g_mapped_file_get_length (file) > max_len)
    {
      if (too_big != NULL)
        *too_big = TRUE;
      return NULL;
    }
  return g_mapped_file_get_bytes (file);
}
