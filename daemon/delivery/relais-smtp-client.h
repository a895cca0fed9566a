/* SPDX-License-Identifier: GPL-3.0-or-later
 * The outbound SMTP client: one delivery of one message to an ordered list of
 * targets (MX hosts or a relay host), async on the main loop. It resolves and
 * tries each address in turn until a server accepts MAIL, then the outcome is
 * final for that attempt: every recipient comes back OK / TEMPFAIL / PERMFAIL
 * with the server's reply or our own description (RFC 5321, 3207, 4954, 2920,
 * 1870, 6152, 6531, 3461). The probe runs the same session up to AUTH for
 * TestRelayHost. Callers: the delivery scheduler, tests/tools/relais-smtp-send. */
#pragma once

#include <gio/gio.h>

#include "relais-maildir.h"

G_BEGIN_DECLS

typedef enum {
  RELAIS_SMTP_TLS_OPPORTUNISTIC,     /* STARTTLS when offered; any certificate accepted (flags logged) */
  RELAIS_SMTP_TLS_STARTTLS_REQUIRED, /* no STARTTLS or failed handshake: temporary failure, nothing sent */
  RELAIS_SMTP_TLS_IMPLICIT,          /* TLS from the first byte (port 465) */
} RelaisSmtpTlsMode;

typedef struct {
  char *host;                        /* DNS name or IP literal (brackets allowed) */
  guint16 port;
} RelaisSmtpTarget;

/* Seconds to wait, RFC 5321 §4.5.3.2; 0 means the default. */
typedef struct {
  guint connect;       /* TCP connect: 30 */
  guint greeting;      /* the 220 greeting (and an implicit TLS handshake): 300 */
  guint command;       /* EHLO, STARTTLS, AUTH, MAIL, RCPT: 300 */
  guint data;          /* the reply to DATA: 120 */
  guint data_block;    /* each write of message content: 180 */
  guint final_dot;     /* the reply to the final dot: 600 */
} RelaisSmtpTimeouts;

typedef struct {
  char *address;                     /* RCPT TO */
  char *rcpt_params;                 /* "NOTIFY=FAILURE ORCPT=rfc822;a@b" or NULL: sent only if the server offers DSN */
  RelaisDeliveryStatus status;       /* out */
  char *reply;                       /* out: the server's reply "550 5.1.1 <a@b>: no such user" (lines
                                      * joined with "; "), or our own "4.4.1 ..." description */
} RelaisSmtpRecipient;

typedef struct {
  char *helo_name;                   /* our FQDN for EHLO/HELO */
  GPtrArray *targets;                /* RelaisSmtpTarget*, tried in order (owned) */
  RelaisSmtpTlsMode tls_mode;
  char *username, *password;         /* both set: AUTH PLAIN/LOGIN over TLS is required */
  GTlsDatabase *tls_database;        /* optional (owned) */
  gboolean verify_certificate;       /* certificate errors fail the handshake instead of being logged */
  char *sender;                      /* "" = null reverse path */
  char *mail_params;                 /* "RET=HDRS ENVID=xyz" or NULL: sent only if the server offers DSN */
  gboolean smtputf8, body_8bit;
  char *message_path;                /* spool file: CRLF line ends, dots not stuffed */
  char *header_prefix;               /* or NULL: header fields sent before the spool file's content
                                      * (a DKIM-Signature), CRLF line ends, counted in SIZE */
  GPtrArray *recipients;             /* RelaisSmtpRecipient* (owned), outcomes filled in */
  RelaisSmtpTimeouts timeouts;       /* from relais_smtp_timeouts_default() */
  char *queue_id;                    /* the message's queue id for log lines (RELAIS_QUEUE_ID), or NULL */
  gboolean reuse_connection;         /* keep the connection after the transaction for the next delivery
                                      * to the same targets, and take a kept one */
  /* out, for logs, statistics and the TestRelayHost report */
  char *connected_host;              /* "mx.example.org[192.0.2.1]:25" ("[192.0.2.1]:25" for an address): the last server talked to */
  gboolean tls, authenticated;
  gboolean dsn;                      /* the server that got MAIL offered DSN (RFC 3461): it reports on its own */
  char *tls_description;             /* "TLS 1.3 TLS_AES_256_GCM_SHA384", NULL without TLS */
  goffset bytes_sent;                /* message bytes */
} RelaisSmtpDelivery;

RelaisSmtpTimeouts   relais_smtp_timeouts_default (void);

RelaisSmtpTarget    *relais_smtp_target_new (const char *host, guint16 port);
void                 relais_smtp_target_free (RelaisSmtpTarget *target);
RelaisSmtpRecipient *relais_smtp_recipient_new (const char *address, const char *rcpt_params);
void                 relais_smtp_recipient_free (RelaisSmtpRecipient *recipient);

RelaisSmtpDelivery *relais_smtp_delivery_new (void);
void                relais_smtp_delivery_free (RelaisSmtpDelivery *d);

/* D must stay alive until the callback has run. */
void     relais_smtp_client_deliver_async (RelaisSmtpDelivery *d, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
/* FALSE only for local errors (cannot read the spool file, cancelled); the
 * recipients then carry a TEMPFAIL too. Remote outcomes are in d->recipients. */
gboolean relais_smtp_client_deliver_finish (GAsyncResult *result, GError **error);
/* Closes (QUIT, without waiting) every connection kept for reuse: at shutdown. */
void     relais_smtp_client_drop_kept (void);

/* TestRelayHost: connect, EHLO, STARTTLS / implicit TLS, AUTH, QUIT; no mail.
 * Uses d's targets, tls_mode, credentials, TLS database and helo_name. */
void      relais_smtp_client_probe_async (RelaisSmtpDelivery *d, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
/* a{sv}: "Ok" b, "Server" s, "Greeting" s, "Extensions" as (EHLO lines after
 * the first: "SIZE 1000", "AUTH PLAIN LOGIN"), "Tls" b, "TlsDescription" s,
 * "CertificateErrors" as ("unknown-ca", "bad-identity", "expired", ...),
 * "Authenticated" b, "Error" s ("AUTH: 535 5.7.8 ...", empty when Ok). */
GVariant *relais_smtp_client_probe_finish (GAsyncResult *result, GError **error);

/* ---- pure parts, exposed for the unit tests ---------------------------- */

#define RELAIS_SMTP_REPLY_LINE_MAX  1000   /* bytes, without CRLF (RFC 5321 says 512) */
#define RELAIS_SMTP_REPLY_LINES_MAX 100

typedef struct {
  guint code;          /* 0 until the first line was read */
  GPtrArray *lines;    /* char*: each line's text after "NNN-" / "NNN ", made printable UTF-8 */
} RelaisSmtpReply;

typedef enum {
  RELAIS_SMTP_REPLY_MORE,   /* a continuation line: read the next one */
  RELAIS_SMTP_REPLY_DONE,   /* the last line: the reply is complete */
  RELAIS_SMTP_REPLY_BAD,    /* not an SMTP reply line; *error says why */
} RelaisSmtpReplyStatus;

RelaisSmtpReply      *relais_smtp_reply_new (void);
void                  relais_smtp_reply_free (RelaisSmtpReply *reply);
/* Adds one line (without its CRLF) to REPLY. */
RelaisSmtpReplyStatus relais_smtp_reply_add_line (RelaisSmtpReply *reply, const char *line, gsize len,
                                                  char **error);
/* "550 5.1.1 <a@b>: no such user; second line" */
char                 *relais_smtp_reply_to_string (const RelaisSmtpReply *reply);

/* Appends LEN bytes of message content to OUT with RFC 5321 §4.5.2
 * transparency (a line starting with '.' gets one more). *AT_LINE_START
 * carries the state from one call to the next: TRUE before the first byte. */
void relais_smtp_dot_stuff (const char *data, gsize len, gboolean *at_line_start, GString *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisSmtpReply, relais_smtp_reply_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisSmtpDelivery, relais_smtp_delivery_free)

G_END_DECLS
