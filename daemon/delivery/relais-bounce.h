/* SPDX-License-Identifier: GPL-3.0-or-later
 * Delivery status notifications (RFC 3464 multipart/report) for failed,
 * delivered and relayed recipients, with the DSN extension's fields (RFC 3461
 * §6: Original-Envelope-Id, Original-Recipient, RET): builds the whole
 * message, CRLF line ends, no line over 998 octets, every input stripped of
 * control characters so that no address or reply can add a header or a line.
 * Pure functions apart from the clock and random ids; the scheduler queues the
 * result with the null reverse path (SPEC §2). */
#pragma once

#include <glib.h>

#include "relais-dsn.h"

G_BEGIN_DECLS

/* Cap on the original header section copied into the DSN. */
#define RELAIS_BOUNCE_MAX_HEADERS (64 * 1024)
/* RET=FULL returns messages up to this size whole; larger ones only their headers. */
#define RELAIS_BOUNCE_MAX_FULL    (1024 * 1024)

/* The Action of a recipient's report (RFC 3464 §2.3.3). The numbers are
 * stored (recipients.dsn_action: 0 means "nothing to report"). */
typedef enum {
  RELAIS_BOUNCE_ACTION_FAILED = 0,
  RELAIS_BOUNCE_ACTION_DELIVERED = 1,  /* into a local mailbox */
  RELAIS_BOUNCE_ACTION_RELAYED = 2,    /* to a next hop that does not do DSN */
} RelaisBounceAction;

typedef struct {
  const char *address;      /* final recipient */
  const char *original;     /* RCPT TO as given; NULL or equal to ADDRESS: not reported */
  const char *reason;       /* last reply or our own reason, e.g. "5.1.1 <a@b>: no such account" */
  gint64 last_attempt;      /* Unix seconds, 0: unknown */
  RelaisBounceAction action;
  const char *orcpt;        /* ORCPT as "type;address" (decoded): Original-Recipient; NULL: ORIGINAL is used */
} RelaisBounceRecipient;

typedef struct {
  const char *hostname;          /* reporting MTA, From: MAILER-DAEMON@HOSTNAME */
  const char *queue_id;          /* of the original message, named in the text */
  const char *const *to;         /* addresses for the To: header (the original sender, or the administrators) */
  gint64 arrival_date;           /* Unix seconds, 0: not reported */
  const RelaisBounceRecipient *recipients;
  guint n_recipients;
  GBytes *original_headers;      /* header section (CRLF), NULL: no third part */
  GBytes *original_message;      /* the whole message (RET=FULL): returned as message/rfc822
                                  * instead of ORIGINAL_HEADERS; NULL: headers only */
  gboolean message_too_big;      /* RET=FULL was asked for a message over RELAIS_BOUNCE_MAX_FULL:
                                  * the text says only the headers are returned */
  const char *envid;             /* ENVID (decoded): Original-Envelope-Id; NULL: none */
  gint64 now;                    /* Unix seconds: Date:, 0 for the clock */
} RelaisBounceInfo;

/* The whole DSN, ready for relais_spool_writer_write(). Its Content-Transfer-
 * Encoding is 8bit when a returned message holds 8-bit octets, else 7bit. */
GBytes  *relais_bounce_build (const RelaisBounceInfo *info);

/* Whether DATA holds an octet over 127 (the DSN then needs BODY=8BITMIME). */
gboolean relais_bounce_has_8bit (GBytes *data);

/* The whole spool file at PATH if it is at most MAX_LEN octets; NULL with
 * *TOO_BIG set when it is larger, NULL with ERROR set when it cannot be read. */
GBytes  *relais_bounce_read_message (const char *path, gsize max_len, gboolean *too_big, GError **error);

/* The header section of the spool file at PATH (up to and without the first
 * empty line), at most MAX_LEN octets cut at a line end, line ends made CRLF. */
GBytes  *relais_bounce_read_headers (const char *path, gsize max_len, GError **error);

/* "x.y.z" from a reason or reply ("5.1.1 ...", "550 5.1.1 ...", "550-5.1.1 ..."),
 * with class 4 turned into 5 (the recipient failed for good); "5.0.0" if none. */
char    *relais_bounce_status_code (const char *reason);

G_END_DECLS
