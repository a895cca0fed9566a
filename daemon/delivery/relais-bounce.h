/* SPDX-License-Identifier: GPL-3.0-or-later
 * Delivery status notifications (RFC 3464 multipart/report): builds the whole
 * message, CRLF line ends, no line over 998 octets, every input stripped of
 * control characters so that no address or reply can add a header or a line.
 * Pure functions apart from the clock and random ids; the scheduler queues the
 * result with the null reverse path (SPEC §2). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Cap on the original header section copied into the DSN. */
#define RELAIS_BOUNCE_MAX_HEADERS (64 * 1024)

typedef struct {
  const char *address;      /* final recipient */
  const char *original;     /* RCPT TO as given; NULL or equal to ADDRESS: not reported */
  const char *reason;       /* last reply or our own reason, e.g. "5.1.1 <a@b>: no such account" */
  gint64 last_attempt;      /* Unix seconds, 0: unknown */
} RelaisBounceRecipient;

typedef struct {
  const char *hostname;          /* reporting MTA, From: MAILER-DAEMON@HOSTNAME */
  const char *queue_id;          /* of the original message, named in the text */
  const char *const *to;         /* addresses for the To: header (the original sender, or the administrators) */
  gint64 arrival_date;           /* Unix seconds, 0: not reported */
  const RelaisBounceRecipient *recipients;
  guint n_recipients;
  GBytes *original_headers;      /* header section (CRLF), NULL: no third part */
  gint64 now;                    /* Unix seconds: Date:, 0 for the clock */
} RelaisBounceInfo;

/* The whole DSN, ready for relais_spool_writer_write(). */
GBytes  *relais_bounce_build (const RelaisBounceInfo *info);

/* The header section of the spool file at PATH (up to and without the first
 * empty line), at most MAX_LEN octets cut at a line end, line ends made CRLF. */
GBytes  *relais_bounce_read_headers (const char *path, gsize max_len, GError **error);

/* "x.y.z" from a reason or reply ("5.1.1 ...", "550 5.1.1 ...", "550-5.1.1 ..."),
 * with class 4 turned into 5 (the recipient failed for good); "5.0.0" if none. */
char    *relais_bounce_status_code (const char *reason);

G_END_DECLS
