/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM signing (RFC 6376, RFC 8463) of outgoing mail with GnuTLS: key
 * generation (RSA 2048 bits or Ed25519) giving the private key as PKCS#8 PEM
 * and the TXT record to publish at SELECTOR._domainkey.DOMAIN, that record in
 * zone-file form (strings of at most 255 bytes), and a signer per sending
 * domain and selector that returns the DKIM-Signature field to put on top of a
 * message.
 *
 * Key types have two names: the one the administrator and D-Bus use
 * ("rsa-2048", "ed25519": relais_dkim_algorithm_to_string) and the one in the
 * signature's a= ("rsa-sha256", "ed25519-sha256"); relais_dkim_algorithm_parse
 * takes both, and also "rsa".
 *
 * Signatures are always c=relaxed/relaxed over the whole body (no l=), with
 * t= and no x=; the header fields signed are those of a fixed list present in
 * the message (relais_dkim_signed_header_names), From once more than present
 * (over-signing, RFC 6376 §8.15) so that no From can be added.
 *
 * The message is signed from memory (the delivery code reads the spool file
 * into memory first): a message is small enough, and canonicalization needs
 * the header block before the body anyway. */
#pragma once

#include <glib.h>

#include "relais-dkim.h"
#include "relais-dkim-record.h"     /* the record's name and zone-file text */

G_BEGIN_DECLS

/* Accepts "rsa-2048", "rsa", "rsa-sha256", "ed25519", "ed25519-sha256"
 * (ASCII case ignored). RELAIS_ERROR_INVALID_ARGUMENT otherwise. */
gboolean    relais_dkim_algorithm_parse (const char *name, RelaisDkimAlgorithm *algorithm, GError **error);

/* "rsa-2048" or "ed25519": the key type names of the D-Bus API. */
const char *relais_dkim_algorithm_to_string (RelaisDkimAlgorithm algorithm);

/* Generates a key: RSA of 2048 bits or Ed25519. *PRIVATE_PEM is the private
 * key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----", secret: store
 * it readable by the daemon only); *PUBLIC_RECORD the TXT record to publish,
 * "v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo DER, base64>" or
 * "v=DKIM1; k=ed25519; p=<raw 32-byte public key, base64>" (RFC 8463 §4.2).
 * Blocking (an RSA key takes a fraction of a second): call it from a worker
 * thread in the daemon. */
gboolean relais_dkim_key_generate (RelaisDkimAlgorithm algorithm, char **private_pem, char **public_record,
                                   GError **error);

/* Validates SELECTOR (dot-separated labels of letters, digits and inner
 * hyphens, RFC 6376 §3.1) and, when DOMAIN is not NULL, that the record name
 * fits in 253 characters. RELAIS_ERROR_INVALID_ARGUMENT when not. */
gboolean relais_dkim_selector_validate (const char *selector, const char *domain, GError **error);

/* The header field names signed when present (lower case, NULL-terminated):
 * the originator, recipient, identification, MIME, resent and mailing-list
 * fields. */
const char *const *relais_dkim_signed_header_names (void);

/* A signer: one key for one domain (d=) and selector (s=). Immutable once
 * made and reference counted; relais_dkim_signer_sign() takes a lock, so one
 * signer may be used from several threads (calls are then serialized). */
typedef struct _RelaisDkimSigner RelaisDkimSigner;

/* DOMAIN must be an ASCII host name (an IDN in its xn-- form), SELECTOR as for
 * relais_dkim_selector_validate(); PRIVATE_PEM an unencrypted PEM private key
 * (PKCS#8 as generated, or PKCS#1 "RSA PRIVATE KEY"), RSA of 1024 bits or more
 * or Ed25519; the algorithm comes from the key. RELAIS_ERROR_INVALID_ARGUMENT
 * saying what is wrong otherwise. */
RelaisDkimSigner   *relais_dkim_signer_new (const char *domain, const char *selector, const char *private_pem,
                                            GError **error);
RelaisDkimSigner   *relais_dkim_signer_ref (RelaisDkimSigner *signer);
void                relais_dkim_signer_unref (RelaisDkimSigner *signer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDkimSigner, relais_dkim_signer_unref)

const char         *relais_dkim_signer_get_domain (RelaisDkimSigner *signer);    /* lower case */
const char         *relais_dkim_signer_get_selector (RelaisDkimSigner *signer);
RelaisDkimAlgorithm relais_dkim_signer_get_algorithm (RelaisDkimSigner *signer);

/* The TXT record of the signer's public key, as relais_dkim_key_generate()
 * gives it (to show again what to publish for a stored key). */
char *relais_dkim_signer_get_public_record (RelaisDkimSigner *signer);

/* Signs MESSAGE (LENGTH bytes, header fields, empty line, body; CRLF or bare
 * LF line ends, taken as CRLF; no SMTP dot-stuffing) at time NOW (seconds
 * since the epoch, the t= tag). Returns the whole field to put on top of the
 * message, "DKIM-Signature: v=1; a=…; …; b=…\r\n", folded into lines of fewer
 * than 78 characters (continuation lines start with a tab; only a d= or s=
 * too long for any line is left whole). The message must then be sent with
 * CRLF line ends and otherwise unchanged. The message is parsed into one
 * normalized copy: memory about twice its size for the call. NULL with
 * RELAIS_ERROR_FAILED only if GnuTLS fails to sign. */
char *relais_dkim_signer_sign (RelaisDkimSigner *signer, const char *message, gsize length, gint64 now,
                               GError **error);

G_END_DECLS
