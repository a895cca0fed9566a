/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM verification (RFC 6376) of rsa-sha256 and ed25519-sha256 (RFC 8463)
 * signatures with GnuTLS: the DKIM-Signature tag list, the simple and relaxed
 * canonicalizations of headers and body (with l=), the body hash, the key
 * record ("v=DKIM1; k=...; p=..."), the signature over the selected headers,
 * and one verdict per signature, formatted as an Authentication-Results
 * (RFC 8601) dkim= clause.
 *
 * Keys are fetched through a RelaisDkimKeyLookupFunc the caller gives, so the
 * verifier itself does no I/O: relais_dkim_verify() is synchronous and may run
 * in a worker thread when the lookup function blocks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RELAIS_DKIM_NONE,       /* no signature at all (only for the formatted clause) */
  RELAIS_DKIM_PASS,
  RELAIS_DKIM_FAIL,       /* body hash mismatch, signature invalid, key revoked, expired */
  RELAIS_DKIM_NEUTRAL,    /* failed, but the key says the domain is testing (t=y) */
  RELAIS_DKIM_TEMPERROR,  /* the key could not be fetched for now */
  RELAIS_DKIM_PERMERROR,  /* bad tags, unknown algorithm, no key, unusable key */
} RelaisDkimResult;

typedef enum {
  RELAIS_DKIM_RSA_SHA256,
  RELAIS_DKIM_ED25519_SHA256,
} RelaisDkimAlgorithm;

typedef enum {
  RELAIS_DKIM_SIMPLE,
  RELAIS_DKIM_RELAXED,
} RelaisDkimCanon;

/* One parsed DKIM-Signature field. */
typedef struct {
  RelaisDkimAlgorithm algorithm;
  RelaisDkimCanon header_canon;
  RelaisDkimCanon body_canon;
  char *domain;          /* d=, lower case */
  char *selector;        /* s= */
  char *identity;        /* i=, or "@" d= when absent */
  char **headers;        /* h=, lower case, in order */
  GBytes *signature;     /* b=, decoded */
  char *signature_text;  /* b=, base64 without white space */
  GBytes *body_hash;     /* bh=, decoded */
  gint64 length;         /* l=, -1 when absent */
  gint64 timestamp;      /* t=, -1 when absent */
  gint64 expiration;     /* x=, -1 when absent */
} RelaisDkimSignature;

/* Parses the value of a DKIM-Signature field (after the colon, folding and
 * all). Errors (RELAIS_ERROR_INVALID_ARGUMENT) say which tag is wrong. */
RelaisDkimSignature *relais_dkim_signature_parse (const char *value, GError **error);
void                 relais_dkim_signature_free (RelaisDkimSignature *signature);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDkimSignature, relais_dkim_signature_free)

/* One key record. An empty p= (revoked key) gives a record with key NULL. */
typedef struct {
  RelaisDkimAlgorithm algorithm;  /* from k=, rsa by default */
  GBytes *key;                    /* p=, decoded; NULL when revoked */
  gboolean testing;               /* t=y */
  gboolean strict_identity;       /* t=s: i= must be d= exactly */
} RelaisDkimKey;

RelaisDkimKey *relais_dkim_key_parse (const char *record, GError **error);
void           relais_dkim_key_free (RelaisDkimKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDkimKey, relais_dkim_key_free)

/* A message split into header fields and body. DATA is the message as
 * received (CRLF line ends; bare LF is taken as CRLF), without the SMTP
 * dot-stuffing. */
typedef struct _RelaisDkimMessage RelaisDkimMessage;

RelaisDkimMessage *relais_dkim_message_new (const char *data, gsize length);
void               relais_dkim_message_free (RelaisDkimMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDkimMessage, relais_dkim_message_free)

/* Canonicalization (RFC 6376 §3.4). A header field is given raw, name,
 * colon, value and folding, without its final CRLF; the result ends with
 * CRLF. The body result is the whole canonical body (l= is applied when
 * hashing). */
char    *relais_dkim_canon_header (RelaisDkimCanon canon, const char *field, gsize length);
GString *relais_dkim_canon_body (RelaisDkimCanon canon, const char *body, gsize length);

/* The SHA-256 of the canonical body, cut at SIGNATURE's l= (NULL with
 * RELAIS_ERROR_INVALID_ARGUMENT when the body is shorter than l=). */
GBytes *relais_dkim_body_hash (const RelaisDkimMessage *message, const RelaisDkimSignature *signature,
                               GError **error);

/* The data the signature covers: the header fields of h= (bottom-up for a
 * repeated name; a name with no field left adds nothing), each canonical with
 * its CRLF, then the DKIM-Signature field number SIGNATURE_FIELD (an index
 * among the message's DKIM-Signature fields, top first) with the value of b=
 * emptied and no final CRLF. rsa-sha256 signs these bytes; ed25519-sha256
 * signs their SHA-256 (RFC 8463 §3). NULL when there is no such field. */
GBytes *relais_dkim_signed_data (const RelaisDkimMessage *message, const RelaisDkimSignature *signature,
                                 guint signature_field);

/* For a signer: the data a new DKIM-Signature FIELD (raw, "DKIM-Signature:"
 * and folding, no final CRLF), not in MESSAGE but to be put on top of it,
 * covers: the same bytes relais_dkim_signed_data() gives once it is there. */
GBytes *relais_dkim_signed_data_for_field (const RelaisDkimMessage *message,
                                           const RelaisDkimSignature *signature,
                                           const char *field, gsize length);

/* The number of header fields named NAME (ASCII case ignored) in MESSAGE. */
guint relais_dkim_message_count_fields (const RelaisDkimMessage *message, const char *name);

/* Key lookup: the TXT record at SELECTOR._domainkey.DOMAIN, its strings
 * joined, in *RECORD. */
typedef enum {
  RELAIS_DKIM_KEY_FOUND,
  RELAIS_DKIM_KEY_NOT_FOUND,  /* no such name or no TXT record */
  RELAIS_DKIM_KEY_TEMPFAIL,   /* SERVFAIL, timeout, no server */
} RelaisDkimKeyStatus;

typedef RelaisDkimKeyStatus (*RelaisDkimKeyLookupFunc) (const char *domain, const char *selector,
                                                        char **record, gpointer user_data);

/* The lookup through the system resolver (relais_dns_lookup_txt): blocking,
 * so relais_dkim_verify() with it runs in a worker thread. USER_DATA unused.
 * Of several TXT records the first starting "v=DKIM1" is taken. */
RelaisDkimKeyStatus relais_dkim_dns_lookup (const char *domain, const char *selector, char **record,
                                            gpointer user_data);

/* The verdict on one signature. */
typedef struct {
  RelaisDkimResult result;
  char *reason;          /* why, for anything but pass; NULL on pass */
  char *domain;          /* d=, NULL when the signature did not parse that far */
  char *selector;        /* s= */
  char *identity;        /* i= */
  char *signature_text;  /* b= (base64) */
} RelaisDkimVerdict;

void relais_dkim_verdict_free (RelaisDkimVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDkimVerdict, relais_dkim_verdict_free)

/* The most signatures verified in one message; later ones are ignored. */
#define RELAIS_DKIM_MAX_SIGNATURES 10

/* Verifies every DKIM-Signature field of MESSAGE (top first) at time NOW
 * (seconds since the epoch, for x=), fetching keys with LOOKUP. Returns the
 * verdicts (RelaisDkimVerdict), one per signature, empty when the message has
 * none. */
GPtrArray *relais_dkim_verify (const RelaisDkimMessage *message, gint64 now,
                               RelaisDkimKeyLookupFunc lookup, gpointer user_data);

/* "pass", "fail", "neutral", "temperror", "permerror", "none". */
const char *relais_dkim_result_to_string (RelaisDkimResult result);

/* The Authentication-Results clause of one verdict, e.g.
 * `dkim=pass header.d=example.com header.s=brisbane header.b=abcdefgh` or
 * `dkim=fail reason="body hash mismatch" header.d=...`. */
char *relais_dkim_verdict_format (const RelaisDkimVerdict *verdict);

/* The clauses of all VERDICTS joined with ";\r\n\t" ("dkim=none" when empty),
 * to follow the authserv-id of an Authentication-Results field. */
char *relais_dkim_format_results (GPtrArray *verdicts);

G_END_DECLS
