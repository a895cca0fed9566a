/* SPDX-License-Identifier: GPL-3.0-or-later
 * The parameters of the SMTP DSN extension (RFC 3461): xtext, NOTIFY and ORCPT
 * on RCPT, RET and ENVID on MAIL, with the "utf-8" address type of RFC 6533.
 * Pure functions, no I/O; every input is untrusted and gets an answer, never an
 * assertion. Callers: the SMTP parser (reception), the queue (storage), the
 * scheduler and bounce builder (notifications), the SMTP client (relaying). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RELAIS_DSN_MAX_ENVID 100   /* RFC 3461 §4.4: ENVID, as sent (xtext) */
#define RELAIS_DSN_MAX_ORCPT 500   /* RFC 3461 §4.2: the whole ORCPT value */

/* NOTIFY (RFC 3461 §4.1): a set of flags; RELAIS_DSN_NOTIFY_UNSET when the
 * client gave none, which means "report failures" (and delays). */
typedef enum {
  RELAIS_DSN_NOTIFY_UNSET   = 0,
  RELAIS_DSN_NOTIFY_NEVER   = 1 << 0,
  RELAIS_DSN_NOTIFY_SUCCESS = 1 << 1,
  RELAIS_DSN_NOTIFY_FAILURE = 1 << 2,
  RELAIS_DSN_NOTIFY_DELAY   = 1 << 3,
} RelaisDsnNotify;

#define RELAIS_DSN_NOTIFY_ALL (RELAIS_DSN_NOTIFY_NEVER | RELAIS_DSN_NOTIFY_SUCCESS | \
                               RELAIS_DSN_NOTIFY_FAILURE | RELAIS_DSN_NOTIFY_DELAY)

/* RET (RFC 3461 §4.3). */
typedef enum {
  RELAIS_DSN_RET_UNSET = 0,
  RELAIS_DSN_RET_FULL  = 1,
  RELAIS_DSN_RET_HDRS  = 2,
} RelaisDsnRet;

/* ORCPT (RFC 3461 §4.2): the address type as sent ("rfc822", "utf-8", ...)
 * and the address, decoded (UTF-8 for "utf-8", no control characters). */
typedef struct {
  char *addr_type;
  char *address;
} RelaisDsnOrcpt;

/* xtext (RFC 3461 §4). Decoding takes LEN octets of TEXT (-1: up to the NUL)
 * and returns NULL for anything but xchar and "+" followed by two hex digits,
 * or when a NUL would come out. Encoding turns "+", "=" and every octet
 * outside "!".."~" into "+HH". */
char           *relais_dsn_xtext_decode (const char *text, gssize len);
char           *relais_dsn_xtext_encode (const char *text);

/* Parsers of the parameter values (what follows "KEYWORD="), LEN octets (-1:
 * up to the NUL). On failure they return FALSE / NULL and set *DETAIL (may be
 * NULL) to a static sentence fit for a 501 reply. */
gboolean        relais_dsn_parse_notify (const char *value, gssize len, guint *notify, const char **detail);
gboolean        relais_dsn_parse_ret (const char *value, gssize len, RelaisDsnRet *ret, const char **detail);
/* The decoded ENVID (printable US-ASCII). */
char           *relais_dsn_parse_envid (const char *value, gssize len, const char **detail);
/* "addr-type;xtext"; with addr-type "utf-8" the value is utf-8-addr-xtext
 * (RFC 6533 §3, "\x{HEX}" escapes), raw UTF-8 allowed only with SMTPUTF8. */
RelaisDsnOrcpt *relais_dsn_parse_orcpt (const char *value, gssize len, gboolean smtputf8,
                                        const char **detail);

RelaisDsnOrcpt *relais_dsn_orcpt_new (const char *addr_type, const char *address);
RelaisDsnOrcpt *relais_dsn_orcpt_copy (const RelaisDsnOrcpt *orcpt);
void            relais_dsn_orcpt_free (RelaisDsnOrcpt *orcpt);
/* "addr-type;address" (decoded): the stored form, and the value of a DSN's
 * Original-Recipient field. from_string() splits at the first ";" and returns
 * NULL for NULL or a string without one. */
char           *relais_dsn_orcpt_to_string (const RelaisDsnOrcpt *orcpt);
RelaisDsnOrcpt *relais_dsn_orcpt_from_string (const char *text);
/* The value of an Original-Recipient field in a 7-bit message/delivery-status:
 * "type;address", the address of type "utf-8" as utf-8-addr-xtext (RFC 6533 §3). */
char           *relais_dsn_orcpt_to_field (const RelaisDsnOrcpt *orcpt);

/* Whether a recipient with NOTIFY flags NOTIFY wants a notification of kind
 * WHAT (SUCCESS, FAILURE or DELAY). UNSET asks for FAILURE and DELAY. */
gboolean        relais_dsn_notify_wants (guint notify, RelaisDsnNotify what);
/* "NEVER", "SUCCESS,FAILURE", ...; "" for UNSET. */
char           *relais_dsn_notify_to_string (guint notify);

/* Parameters to pass on to a next hop that advertised DSN, without a leading
 * space; "" when there is nothing to send:
 *   relais_dsn_rcpt_params (FAILURE | DELAY, rfc822 "a+b@c") = "NOTIFY=FAILURE,DELAY ORCPT=rfc822;a+2Bb@c"
 *   relais_dsn_mail_params (RELAIS_DSN_RET_HDRS, "x y") = "RET=HDRS ENVID=x+20y" */
char           *relais_dsn_rcpt_params (guint notify, const RelaisDsnOrcpt *orcpt);
char           *relais_dsn_mail_params (RelaisDsnRet ret, const char *envid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDsnOrcpt, relais_dsn_orcpt_free)

G_END_DECLS
