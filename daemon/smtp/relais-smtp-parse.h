/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pure SMTP parsing, no I/O: command verbs, MAIL FROM / RCPT TO paths with
 * ESMTP parameters (RFC 5321 §4.1, RFC 1870, RFC 6152, RFC 6531, RFC 3461), BDAT
 * arguments (RFC 3030), and the two byte-stream filters of message content:
 * the DATA decoder (end marker, dot-unstuffing, line ends to CRLF) and the
 * header scan (Received: count, Auto-Submitted, NUL bytes). The address grammar is in
 * core/relais-address.c; the session maps the results to replies. Inputs are never trusted: every function copes
 * with any bytes. Callers: relais-session.c, tests, tests/fuzz. */
#pragma once

#include <glib.h>

#include "relais-address.h"
#include "relais-dsn.h"

G_BEGIN_DECLS

/* RFC 5321 §4.5.3.1 */
#define RELAIS_SMTP_MAX_LOCAL_PART RELAIS_ADDRESS_MAX_LOCAL_PART
#define RELAIS_SMTP_MAX_DOMAIN     RELAIS_ADDRESS_MAX_DOMAIN
#define RELAIS_SMTP_MAX_PATH       256
#define RELAIS_SMTP_MAX_LINE       512   /* command line, CRLF included */

typedef enum {
  RELAIS_SMTP_CMD_UNKNOWN,
  RELAIS_SMTP_CMD_EHLO,
  RELAIS_SMTP_CMD_HELO,
  RELAIS_SMTP_CMD_MAIL,
  RELAIS_SMTP_CMD_RCPT,
  RELAIS_SMTP_CMD_DATA,
  RELAIS_SMTP_CMD_BDAT,
  RELAIS_SMTP_CMD_RSET,
  RELAIS_SMTP_CMD_NOOP,
  RELAIS_SMTP_CMD_QUIT,
  RELAIS_SMTP_CMD_VRFY,
  RELAIS_SMTP_CMD_EXPN,
  RELAIS_SMTP_CMD_HELP,
  RELAIS_SMTP_CMD_STARTTLS,
  RELAIS_SMTP_CMD_AUTH,
} RelaisSmtpCommand;

/* LINE is one command line without its CRLF (LEN octets, may hold any byte).
 * Returns the verb (case-insensitive) and points *ARG at what follows the
 * verb and its separating spaces ("" when nothing follows; trailing spaces
 * removed by the caller's copy, see relais_smtp_parse_arg_dup). A verb glued to
 * other characters ("NOOPX") is UNKNOWN. */
RelaisSmtpCommand relais_smtp_parse_command (const char *line, const char **arg);
const char       *relais_smtp_command_name (RelaisSmtpCommand command);

typedef enum {
  RELAIS_SMTP_PATH_OK,
  RELAIS_SMTP_PATH_SYNTAX,         /* bad path: 501 5.1.7 (MAIL) / 501 5.1.3 (RCPT) */
  RELAIS_SMTP_PATH_TOO_LONG,       /* local part / domain / path over the limits: same codes */
  RELAIS_SMTP_PATH_BAD_PARAMETER,  /* known parameter, bad value or repeated: 501 5.5.4 */
  RELAIS_SMTP_PATH_UNKNOWN_PARAMETER, /* 555 5.5.4 */
  RELAIS_SMTP_PATH_NON_ASCII,      /* 8-bit address without SMTPUTF8: 553 5.6.7 */
} RelaisSmtpPathResult;

typedef enum {
  RELAIS_SMTP_BODY_UNSPECIFIED,
  RELAIS_SMTP_BODY_7BIT,
  RELAIS_SMTP_BODY_8BITMIME,
} RelaisSmtpBody;

typedef struct {
  char *address;        /* "user@domain" (source route stripped), "" for <>, "postmaster" for <postmaster> */
  char *local_part;     /* as sent (quotes kept); NULL for <> and <postmaster> */
  char *domain;         /* as sent; NULL for <> and <postmaster> */
  gboolean is_null;     /* MAIL FROM:<> */
  gboolean is_postmaster; /* RCPT TO:<postmaster> */
  gint64 size;          /* SIZE=, -1 when absent */
  RelaisSmtpBody body;
  gboolean smtputf8;
  RelaisDsnRet ret;     /* MAIL RET= */
  char *envid;          /* MAIL ENVID=, decoded; NULL when absent */
  guint notify;         /* RCPT NOTIFY=, RelaisDsnNotify flags; UNSET when absent */
  RelaisDsnOrcpt *orcpt; /* RCPT ORCPT=; NULL when absent */
  char *auth;           /* MAIL AUTH= (RFC 4954 §5), decoded; "" for AUTH=<>; NULL when absent */
  const char *detail;   /* on error: a short static explanation for the reply */
} RelaisSmtpPath;

void relais_smtp_path_clear (RelaisSmtpPath *path);
/* Whether PATH carries a DSN parameter (RET, ENVID, NOTIFY, ORCPT): the
 * session refuses them after HELO, where DSN was not advertised. */
gboolean relais_smtp_path_has_dsn (const RelaisSmtpPath *path);

/* ARG is what follows the verb ("FROM:<a@b> SIZE=10"). "FROM:" / "TO:" is
 * case-insensitive; spaces after the colon are tolerated. On error PATH->detail
 * says why; PATH is always cleared with relais_smtp_path_clear(). */
RelaisSmtpPathResult relais_smtp_parse_mail (const char *arg, RelaisSmtpPath *path);
/* SMTPUTF8: the transaction's MAIL had SMTPUTF8, so 8-bit addresses are allowed. */
RelaisSmtpPathResult relais_smtp_parse_rcpt (const char *arg, gboolean smtputf8, RelaisSmtpPath *path);

/* The reply to a MAIL (IS_MAIL) or RCPT path that did not parse: R is not
 * OK, PATH->detail the parser's explanation. Sets *CODE and *ENHANCED (static)
 * and returns the text. For the session and Policy.CanRelay alike. */
char *relais_smtp_path_error_reply (RelaisSmtpPathResult r, const RelaisSmtpPath *path, gboolean is_mail,
                                    guint *code, const char **enhanced);

/* "BDAT 1000 LAST": SIZE digits only (at most 18), then optional "LAST". */
gboolean relais_smtp_parse_bdat (const char *arg, guint64 *size, gboolean *last);

/* EHLO/HELO argument: first word, printable ASCII or valid UTF-8, non-empty.
 * Returns a copy or NULL when unusable. */
char    *relais_smtp_parse_helo (const char *arg);

/* SMTP AUTH (RFC 4954) with the SASL mechanisms PLAIN (RFC 4616) and LOGIN. */
typedef enum {
  RELAIS_SASL_PLAIN,
  RELAIS_SASL_LOGIN,
} RelaisSaslMechanism;

typedef enum {
  RELAIS_SMTP_AUTH_OK,
  RELAIS_SMTP_AUTH_SYNTAX,             /* 501 5.5.4 */
  RELAIS_SMTP_AUTH_UNKNOWN_MECHANISM,  /* 504 5.5.4 */
} RelaisSmtpAuthResult;

/* ARG is what follows "AUTH": a mechanism name, optionally one space-separated
 * initial response (RFC 4954 §4), which *INITIAL_RESPONSE then points at
 * (inside ARG, not decoded; NULL when absent). */
RelaisSmtpAuthResult relais_smtp_parse_auth (const char *arg, RelaisSaslMechanism *mechanism,
                                             const char **initial_response);

typedef enum {
  RELAIS_SASL_DATA_OK,
  RELAIS_SASL_DATA_CANCELLED,   /* the client sent "*": 501 5.0.0 */
  RELAIS_SASL_DATA_BAD_BASE64,  /* 501 5.5.2 */
} RelaisSaslDataResult;

/* A client's SASL response: a continuation line, or the initial response
 * (INITIAL) where "=" stands for an empty one. Strict base64 only (RFC 4648
 * §4, padded). *DATA gets the decoded octets plus a NUL, *LEN their number;
 * free it with relais_sasl_wipe() (it may hold a password). */
RelaisSaslDataResult relais_sasl_decode_response (const char *text, gboolean initial,
                                                  char **data, gsize *len);
/* Overwrites LEN octets of DATA, then frees it. NULL is fine. */
void     relais_sasl_wipe (char *data, gsize len);
/* A PLAIN message (RFC 4616 §2): [authzid] NUL authcid NUL passwd, each part
 * UTF-8 of at most 255 octets, authcid and passwd not empty. Copies of the
 * three parts on success (wipe the password after use). */
gboolean relais_sasl_plain_split (const char *data, gsize len, char **authzid, char **authcid,
                                  char **password);

/* The DATA decoder: raw bytes after "354" in, message bytes out. Only
 * <CRLF>.<CRLF> (raw bytes, the CRLF before the dot being a real one; DATA's
 * own CRLF counts) ends the message: a bare CR or LF never does (no SMTP
 * smuggling). A bare CR or LF is stored as CRLF. A line starting with a dot
 * and holding more loses its first dot (RFC 5321 §4.5.2). Works across any
 * buffer boundaries. */
typedef struct {
  /*< private >*/
  guint state;
  gboolean after_crlf;
} RelaisDataDecoder;

void  relais_data_decoder_init (RelaisDataDecoder *decoder);
/* Decodes up to LEN bytes of IN into OUT, which must have room for 2*LEN+3
 * bytes. Returns how many input bytes were consumed (fewer than LEN only when
 * the end marker was reached: *DONE is then TRUE and the rest belongs to the
 * next command); *OUT_LEN gets the number of bytes written. */
gsize relais_data_decoder_feed (RelaisDataDecoder *decoder, const guint8 *in, gsize len,
                                guint8 *out, gsize *out_len, gboolean *done);

/* Scan of stored message bytes: counts Received: fields in the header section
 * (up to the first empty line), notices an Auto-Submitted: field whose keyword
 * is auto-forwarded (RFC 5436 §2.1 / RFC 3834 §5; case-insensitive, comments
 * and parameters ignored, folded lines followed), NUL bytes, counts bytes. */
#define RELAIS_CONTENT_SCAN_VALUE 128   /* octets of an Auto-Submitted value looked at */

typedef struct {
  guint64 size;
  guint received;
  gboolean auto_forwarded;
  gboolean nul;
  /*< private >*/
  gboolean in_body;
  gboolean line_empty;
  gboolean in_auto_submitted;   /* inside an Auto-Submitted field */
  guint prefix_len;
  char prefix[15];
  guint value_len;
  char value[RELAIS_CONTENT_SCAN_VALUE];
} RelaisContentScan;

void relais_content_scan_init (RelaisContentScan *scan);
void relais_content_scan_feed (RelaisContentScan *scan, const guint8 *data, gsize len);

G_END_DECLS
