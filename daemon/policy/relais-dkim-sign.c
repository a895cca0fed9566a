/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM signing. See relais-dkim-sign.h.
 *
 * The message is split and canonicalized by the verifier's code
 * (relais-dkim.c), so what is signed here is by construction what the
 * verifier checks: the body hash with relais_dkim_body_hash(), the header data
 * with relais_dkim_signed_data_for_field() over the field as it will be
 * written, folding included, with an empty b=. The field is folded before it
 * is signed (relaxed canonicalization would make the folding irrelevant, but
 * the field hashed and the field sent are then the same bytes anyway). */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-dkim-sign.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

#include "relais-address.h"
#include "relais-config.h"
#include "relais-error.h"

#define RSA_BITS 2048
#define RSA_MIN_BITS 1024       /* as the verifier requires */
#define ED25519_KEY_LEN 32
#define SHA256_LEN 32
#define LINE_MAX_CHARS 76       /* a folded line, without its CRLF */
#define DNS_NAME_MAX 253

/* ---- names ---- */

gboolean
relais_dkim_algorithm_parse (const char *name, RelaisDkimAlgorithm *algorithm, GError **error)
{
  static const struct {
    const char *name;
    RelaisDkimAlgorithm algorithm;
  } names[] = {
    { "rsa-2048", RELAIS_DKIM_RSA_SHA256 },
    { "rsa", RELAIS_DKIM_RSA_SHA256 },
    { "rsa-sha256", RELAIS_DKIM_RSA_SHA256 },
    { "ed25519", RELAIS_DKIM_ED25519_SHA256 },
    { "ed25519-sha256", RELAIS_DKIM_ED25519_SHA256 },
  };

  g_return_val_if_fail (algorithm != NULL, FALSE);
  for (guint i = 0; name && i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (name, names[i].name) == 0)
      {
        *algorithm = names[i].algorithm;
        return TRUE;
      }
  {
    g_autofree char *shown = g_strescape (name ? name : "", NULL);

    g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                 "DKIM key type \"%s\" is not known: use rsa-2048 or ed25519", shown);
  }
  return FALSE;
}

const char *
relais_dkim_algorithm_to_string (RelaisDkimAlgorithm algorithm)
{
  return algorithm == RELAIS_DKIM_ED25519_SHA256 ? "ed25519" : "rsa-2048";
}

/* The a= value. */
static const char *
signature_algorithm_name (RelaisDkimAlgorithm algorithm)
{
  return algorithm == RELAIS_DKIM_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

gboolean
relais_dkim_selector_validate (const char *selector, const char *domain, GError **error)
{
  g_autofree char *shown = g_strescape (selector ? selector : "", NULL);

  if (!selector || !relais_address_is_valid_domain (selector, FALSE))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "DKIM selector \"%s\" is not valid: use letters, digits and hyphens "
                   "(dot-separated labels of at most 63 characters, e.g. \"mail2026\")", shown);
      return FALSE;
    }
  if (domain && strlen (selector) + strlen ("._domainkey.") + strlen (domain) > DNS_NAME_MAX)
    {
      g_autofree char *shown_domain = g_strescape (domain, NULL);

      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "DKIM selector \"%s\" is too long: %s._domainkey.%s would exceed %d characters",
                   shown, shown, shown_domain, DNS_NAME_MAX);
      return FALSE;
    }
  return TRUE;
}

static gboolean
domain_validate (const char *domain, GError **error)
{
  if (!domain || !relais_is_valid_domain (domain))
    {
      g_autofree char *shown = g_strescape (domain ? domain : "", NULL);

      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "DKIM signing domain \"%s\" is not a valid host name "
                   "(an internationalized name must be given in its xn-- form)", shown);
      return FALSE;
    }
  return TRUE;
}

const char *const *
relais_dkim_signed_header_names (void)
{
  /* From first; Received, Return-Path and trace fields are never signed:
   * relays add and rewrite them. */
  static const char *const names[] = {
    "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
    "in-reply-to", "references", "mime-version", "content-type", "content-transfer-encoding",
    "content-id", "content-description", "content-disposition",
    "resent-date", "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-message-id",
    "list-id", "list-help", "list-unsubscribe", "list-unsubscribe-post", "list-subscribe",
    "list-post", "list-owner", "list-archive",
    NULL
  };

  return names;
}

/* ---- keys ---- */

static void
datum_clear_secret (gnutls_datum_t *datum)
{
  if (datum->data)
    {
      memset (datum->data, 0, datum->size);
      gnutls_free (datum->data);
    }
  datum->data = NULL;
  datum->size = 0;
}

static GError *
gnutls_error (const char *what, int code)
{
  return g_error_new (RELAIS_ERROR, RELAIS_ERROR_FAILED, "%s: %s", what, gnutls_strerror (code));
}

/* The key record of KEY's public half. */
static char *
public_record (gnutls_privkey_t key, RelaisDkimAlgorithm algorithm, GError **error)
{
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t data = { NULL, 0 };
  gnutls_ecc_curve_t curve;
  g_autofree char *base64 = NULL;
  int ret;

  if ((ret = gnutls_pubkey_init (&pub)) < 0 || (ret = gnutls_pubkey_import_privkey (pub, key, 0, 0)) < 0)
    {
      g_propagate_error (error, gnutls_error ("cannot derive the DKIM public key", ret));
      if (pub)
        gnutls_pubkey_deinit (pub);
      return NULL;
    }
  if (algorithm == RELAIS_DKIM_RSA_SHA256)
    ret = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_DER, &data);
  else
    ret = gnutls_pubkey_export_ecc_raw (pub, &curve, &data, NULL);
  gnutls_pubkey_deinit (pub);
  if (ret < 0)
    {
      g_propagate_error (error, gnutls_error ("cannot export the DKIM public key", ret));
      return NULL;
    }
  if (algorithm == RELAIS_DKIM_ED25519_SHA256 && data.size != ED25519_KEY_LEN)
    {
      gnutls_free (data.data);
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED,
                   "the Ed25519 public key has %u bytes, not %d", data.size, ED25519_KEY_LEN);
      return NULL;
    }
  base64 = g_base64_encode (data.data, data.size);
  gnutls_free (data.data);
  return g_strdup_printf ("v=DKIM1; k=%s; p=%s",
                          algorithm == RELAIS_DKIM_RSA_SHA256 ? "rsa" : "ed25519", base64);
}

gboolean
relais_dkim_key_generate (RelaisDkimAlgorithm algorithm, char **private_pem, char **public_record_out,
                          GError **error)
{
  gnutls_x509_privkey_t x509 = NULL;
  gnutls_privkey_t key = NULL;
  gnutls_datum_t pem = { NULL, 0 };
  g_autofree char *record = NULL;
  gboolean ok = FALSE;
  int ret;

  g_return_val_if_fail (private_pem != NULL && public_record_out != NULL, FALSE);
  if ((ret = gnutls_x509_privkey_init (&x509)) < 0)
    {
      g_propagate_error (error, gnutls_error ("cannot set up a DKIM key", ret));
      return FALSE;
    }
  if (algorithm == RELAIS_DKIM_RSA_SHA256)
    ret = gnutls_x509_privkey_generate (x509, GNUTLS_PK_RSA, RSA_BITS, 0);
  else
    ret = gnutls_x509_privkey_generate (x509, GNUTLS_PK_EDDSA_ED25519,
                                        GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_ED25519), 0);
  if (ret < 0)
    {
      g_propagate_error (error, gnutls_error ("cannot generate the DKIM key", ret));
      goto out;
    }
  if ((ret = gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem)) < 0)
    {
      g_propagate_error (error, gnutls_error ("cannot export the DKIM private key", ret));
      goto out;
    }
  if ((ret = gnutls_privkey_init (&key)) < 0 ||
      (ret = gnutls_privkey_import_x509 (key, x509, GNUTLS_PRIVKEY_IMPORT_COPY)) < 0)
    {
      g_propagate_error (error, gnutls_error ("cannot use the generated DKIM key", ret));
      goto out;
    }
  if (!(record = public_record (key, algorithm, error)))
    goto out;

  *private_pem = g_strndup ((const char *) pem.data, pem.size);
  *public_record_out = g_steal_pointer (&record);
  ok = TRUE;

out:
  datum_clear_secret (&pem);
  if (key)
    gnutls_privkey_deinit (key);
  gnutls_x509_privkey_deinit (x509);
  return ok;
}

/* ---- zone-file text ---- */


/* ---- the signer ---- */

struct _RelaisDkimSigner {
  gatomicrefcount ref;
  GMutex lock;             /* around the use of key */
  char *domain;
  char *selector;
  RelaisDkimAlgorithm algorithm;
  gnutls_privkey_t key;
};

RelaisDkimSigner *
relais_dkim_signer_new (const char *domain, const char *selector, const char *private_pem, GError **error)
{
  g_autoptr(RelaisDkimSigner) signer = NULL;
  gnutls_datum_t pem;
  unsigned int bits = 0;
  int pk, ret;

  if (!domain_validate (domain, error) || !relais_dkim_selector_validate (selector, domain, error))
    return NULL;
  if (!private_pem || !strstr (private_pem, "-----BEGIN "))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "the DKIM private key for %s is not in PEM form (\"-----BEGIN PRIVATE KEY-----\")", domain);
      return NULL;
    }

  signer = g_new0 (RelaisDkimSigner, 1);
  g_atomic_ref_count_init (&signer->ref);
  g_mutex_init (&signer->lock);
  signer->domain = g_ascii_strdown (domain, -1);
  signer->selector = g_strdup (selector);

  if ((ret = gnutls_privkey_init (&signer->key)) < 0)
    {
      g_propagate_error (error, gnutls_error ("cannot set up a DKIM key", ret));
      return NULL;
    }
  pem.data = (unsigned char *) private_pem;
  pem.size = (unsigned int) strlen (private_pem);
  if ((ret = gnutls_privkey_import_x509_raw (signer->key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "the DKIM private key for %s cannot be read (it must be an unencrypted PKCS#8 "
                   "or PKCS#1 PEM key): %s", domain, gnutls_strerror (ret));
      return NULL;
    }
  pk = gnutls_privkey_get_pk_algorithm (signer->key, &bits);
  if (pk == GNUTLS_PK_RSA)
    {
      if (bits < RSA_MIN_BITS)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "the DKIM RSA key for %s has %u bits: at least %d are needed (generate a new key)",
                       domain, bits, RSA_MIN_BITS);
          return NULL;
        }
      signer->algorithm = RELAIS_DKIM_RSA_SHA256;
    }
  else if (pk == GNUTLS_PK_EDDSA_ED25519)
    signer->algorithm = RELAIS_DKIM_ED25519_SHA256;
  else
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "the DKIM private key for %s is a %s key: only RSA and Ed25519 keys can sign",
                   domain, pk < 0 ? "unknown" : gnutls_pk_get_name ((gnutls_pk_algorithm_t) pk));
      return NULL;
    }
  return g_steal_pointer (&signer);
}

RelaisDkimSigner *
relais_dkim_signer_ref (RelaisDkimSigner *signer)
{
  g_return_val_if_fail (signer != NULL, NULL);
  g_atomic_ref_count_inc (&signer->ref);
  return signer;
}

void
relais_dkim_signer_unref (RelaisDkimSigner *signer)
{
  if (!signer || !g_atomic_ref_count_dec (&signer->ref))
    return;
  if (signer->key)
    gnutls_privkey_deinit (signer->key);
  g_mutex_clear (&signer->lock);
  g_free (signer->domain);
  g_free (signer->selector);
  g_free (signer);
}

const char *
relais_dkim_signer_get_domain (RelaisDkimSigner *signer)
{
  g_return_val_if_fail (signer != NULL, NULL);
  return signer->domain;
}

const char *
relais_dkim_signer_get_selector (RelaisDkimSigner *signer)
{
  g_return_val_if_fail (signer != NULL, NULL);
  return signer->selector;
}

RelaisDkimAlgorithm
relais_dkim_signer_get_algorithm (RelaisDkimSigner *signer)
{
  g_return_val_if_fail (signer != NULL, RELAIS_DKIM_RSA_SHA256);
  return signer->algorithm;
}

char *
relais_dkim_signer_get_public_record (RelaisDkimSigner *signer)
{
  g_autoptr(GError) error = NULL;
  char *record;

  g_return_val_if_fail (signer != NULL, NULL);
  g_mutex_lock (&signer->lock);
  record = public_record (signer->key, signer->algorithm, &error);
  g_mutex_unlock (&signer->lock);
  if (!record)
    g_warning ("DKIM key of %s: %s", signer->domain, error->message);
  return record;
}

/* Folding: tokens are appended to OUT after SEPARATOR when the line has room
 * for both, else on a new line starting with a tab. */
typedef struct {
  GString *out;
  gsize line;  /* characters on the current line */
} Folder;

static void
fold_append (Folder *folder, const char *separator, const char *token)
{
  gsize need = strlen (separator) + strlen (token);

  if (folder->line + need > LINE_MAX_CHARS)
    {
      g_string_append (folder->out, "\r\n\t");
      folder->line = 1;
    }
  else
    {
      g_string_append (folder->out, separator);
      folder->line += strlen (separator);
    }
  g_string_append (folder->out, token);
  folder->line += strlen (token);
}

/* The names for h=: each listed name as often as it appears, From once more. */
static GPtrArray *
names_to_sign (const RelaisDkimMessage *message)
{
  GPtrArray *names = g_ptr_array_new ();
  const char *const *list = relais_dkim_signed_header_names ();

  for (guint i = 0; list[i]; i++)
    {
      guint count = relais_dkim_message_count_fields (message, list[i]);

      if (strcmp (list[i], "from") == 0)
        count++;
      for (guint n = 0; n < count; n++)
        g_ptr_array_add (names, (gpointer) list[i]);
    }
  g_ptr_array_add (names, NULL);
  return names;
}

static gboolean
sign_bytes (RelaisDkimSigner *signer, GBytes *data, gnutls_datum_t *signature, GError **error)
{
  gsize size;
  gnutls_datum_t input;
  guchar digest[SHA256_LEN];
  int ret;

  input.data = (unsigned char *) g_bytes_get_data (data, &size);
  input.size = (unsigned int) size;
  if (signer->algorithm == RELAIS_DKIM_ED25519_SHA256)
    {
      /* RFC 8463 §3: Ed25519 signs the SHA-256 of the header data */
      if ((ret = gnutls_hash_fast (GNUTLS_DIG_SHA256, input.data, input.size, digest)) < 0)
        {
          g_propagate_error (error, gnutls_error ("cannot hash the DKIM header data", ret));
          return FALSE;
        }
      input.data = digest;
      input.size = sizeof digest;
    }
  g_mutex_lock (&signer->lock);
  ret = gnutls_privkey_sign_data2 (signer->key,
                                   signer->algorithm == RELAIS_DKIM_ED25519_SHA256 ? GNUTLS_SIGN_EDDSA_ED25519
                                                                                   : GNUTLS_SIGN_RSA_SHA256,
                                   0, &input, signature);
  g_mutex_unlock (&signer->lock);
  if (ret < 0)
    {
      g_propagate_error (error, gnutls_error ("DKIM signing failed", ret));
      return FALSE;
    }
  return TRUE;
}

char *
relais_dkim_signer_sign (RelaisDkimSigner *signer, const char *message, gsize length, gint64 now,
                         GError **error)
{
  g_autoptr(RelaisDkimMessage) parsed = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GBytes) body_hash = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GString) field = NULL;
  g_autofree char *bh = NULL;
  g_autofree char *b = NULL;
  RelaisDkimSignature template = { 0 };
  gnutls_datum_t signature = { NULL, 0 };
  Folder folder;
  char token[64];
  gsize pos, b_len;

  g_return_val_if_fail (signer != NULL && (message != NULL || length == 0), NULL);
  parsed = relais_dkim_message_new (message ? message : "", length);
  names = names_to_sign (parsed);
  template.algorithm = signer->algorithm;
  template.header_canon = RELAIS_DKIM_RELAXED;
  template.body_canon = RELAIS_DKIM_RELAXED;
  template.headers = (char **) names->pdata;
  template.length = -1;
  template.timestamp = now;
  template.expiration = -1;
  if (!(body_hash = relais_dkim_body_hash (parsed, &template, error)))
    return NULL;
  bh = g_base64_encode (g_bytes_get_data (body_hash, NULL), g_bytes_get_size (body_hash));

  field = g_string_new ("DKIM-Signature:");
  folder.out = field;
  folder.line = field->len;
  fold_append (&folder, " ", "v=1;");
  g_snprintf (token, sizeof token, "a=%s;", signature_algorithm_name (signer->algorithm));
  fold_append (&folder, " ", token);
  fold_append (&folder, " ", "c=relaxed/relaxed;");
  {
    g_autofree char *d = g_strdup_printf ("d=%s;", signer->domain);
    g_autofree char *s = g_strdup_printf ("s=%s;", signer->selector);

    fold_append (&folder, " ", d);
    fold_append (&folder, " ", s);
  }
  g_snprintf (token, sizeof token, "t=%" G_GINT64_FORMAT ";", now);
  fold_append (&folder, " ", token);
  for (guint i = 0; i + 1 < names->len; i++)
    {
      gboolean last = i + 2 == names->len;
      g_autofree char *name = g_strconcat (i == 0 ? "h=" : "", (char *) names->pdata[i], last ? ";" : ":", NULL);

      fold_append (&folder, i == 0 ? " " : "", name);
    }
  {
    g_autofree char *bh_tag = g_strdup_printf ("bh=%s;", bh);

    fold_append (&folder, " ", bh_tag);
  }
  /* b= on a line of its own: the data signed ends with "b=" */
  g_string_append (field, "\r\n\tb=");
  folder.line = 3;

  data = relais_dkim_signed_data_for_field (parsed, &template, field->str, field->len);
  if (!sign_bytes (signer, data, &signature, error))
    return NULL;
  b = g_base64_encode (signature.data, signature.size);
  gnutls_free (signature.data);

  b_len = strlen (b);
  for (pos = 0; pos < b_len;)
    {
      gsize room = LINE_MAX_CHARS - folder.line;
      gsize chunk = MIN (room, b_len - pos);

      g_string_append_len (field, b + pos, chunk);
      pos += chunk;
      if (pos < b_len)
        {
          g_string_append (field, "\r\n\t");
          folder.line = 1;
        }
    }
  g_string_append (field, "\r\n");
  return g_string_free (g_steal_pointer (&field), FALSE);
}
