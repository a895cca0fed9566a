/* SPDX-License-Identifier: GPL-3.0-or-later
 * Server certificate: the files given, or STATE/tls/{cert,key}.pem, created at
 * first start as a self-signed RSA 2048 certificate for the hostname (CN and
 * DNS SAN, valid 10 years). The key is written first, 0600, atomically; the
 * certificate last, so a crash in between leaves no certificate and the next
 * start generates both again. A certificate without its key is an error
 * (never overwrite what an administrator may have put there). A certificate
 * is only taken when GnuTLS accepts the pair (the key matches the first
 * certificate of the chain): relaisd's SIGHUP reload relies on that to keep
 * the old certificate when the new files are wrong. */
#define G_LOG_DOMAIN "relais"

#include "relais-tls.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/crypto.h>

#include "relais-error.h"

/* GnuTLS handles are pointer typedefs: g_auto() with these frees them. */
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)

static void
relais_gnutls_datum_clear (gnutls_datum_t *datum)
{
  if (datum->data != NULL)
    {
      /* May hold a private key. */
      gnutls_memset (datum->data, 0, datum->size);
      gnutls_free (datum->data);
    }
  datum->data = NULL;
  datum->size = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (gnutls_datum_t, relais_gnutls_datum_clear)

#define RELAIS_TLS_VALIDITY_DAYS 3650

static gboolean
gnutls_check (int ret, const char *what, GError **error)
{
  if (ret >= 0)
    return TRUE;
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "Cannot create the TLS certificate: %s: %s",
               what, gnutls_strerror (ret));
  return FALSE;
}

static gboolean
generate (const char *cert_path, const char *key_path, const char *hostname, GError **error)
{
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_auto(gnutls_datum_t) key_pem = { NULL, 0 };
  g_auto(gnutls_datum_t) crt_pem = { NULL, 0 };
  guint8 serial[16];
  time_t now = time (NULL);

  if (!gnutls_check (gnutls_x509_privkey_init (&key), "key init", error) ||
      !gnutls_check (gnutls_x509_privkey_generate (key, GNUTLS_PK_RSA, 2048, 0), "key generation", error) ||
      !gnutls_check (gnutls_x509_crt_init (&crt), "certificate init", error) ||
      !gnutls_check (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial), "serial", error))
    return FALSE;
  serial[0] &= 0x7f;   /* a positive INTEGER */
  serial[0] |= 0x01;   /* and without a leading zero octet */

  if (!gnutls_check (gnutls_x509_crt_set_version (crt, 3), "version", error) ||
      !gnutls_check (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), "serial", error) ||
      !gnutls_check (gnutls_x509_crt_set_activation_time (crt, now - 3600), "activation time", error) ||
      !gnutls_check (gnutls_x509_crt_set_expiration_time (crt, now + (time_t) RELAIS_TLS_VALIDITY_DAYS * 86400),
                     "expiration time", error) ||
      !gnutls_check (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                                    hostname, (unsigned) strlen (hostname)), "common name", error) ||
      !gnutls_check (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, hostname,
                                                           (unsigned) strlen (hostname), GNUTLS_FSAN_SET),
                     "subject alternative name", error) ||
      !gnutls_check (gnutls_x509_crt_set_key (crt, key), "public key", error) ||
      !gnutls_check (gnutls_x509_crt_set_basic_constraints (crt, 0, -1), "basic constraints", error) ||
      !gnutls_check (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT),
                     "key usage", error) ||
      !gnutls_check (gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0), "key purpose", error) ||
      !gnutls_check (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0), "signature", error) ||
      !gnutls_check (gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &key_pem),
                     "key export", error) ||
      !gnutls_check (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &crt_pem), "certificate export", error))
    return FALSE;

  /* Temporary file, fsync, rename: never a half-written key or certificate. */
  if (!g_file_set_contents_full (key_path, (const char *) key_pem.data, key_pem.size,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, error) ||
      !g_file_set_contents_full (cert_path, (const char *) crt_pem.data, crt_pem.size,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644, error))
    return FALSE;
  g_message ("Generated a self-signed TLS certificate for %s in %s", hostname, cert_path);
  return TRUE;
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_certificate_credentials_t, gnutls_certificate_free_credentials, NULL)

static GTlsCertificate *
load (const char *cert_path, const char *key_path, GError **error)
{
  g_auto(gnutls_certificate_credentials_t) credentials = NULL;
  GTlsCertificate *cert = NULL;
  int ret;

  ret = gnutls_certificate_allocate_credentials (&credentials);
  if (ret >= 0)
    ret = gnutls_certificate_set_x509_key_file2 (credentials, cert_path, key_path, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (ret < 0)
    g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "%s", gnutls_strerror (ret));
  else
    cert = g_tls_certificate_new_from_files (cert_path, key_path, error);
  if (cert == NULL)
    g_prefix_error (error, "Cannot load the TLS certificate %s with key %s: ", cert_path, key_path);
  return cert;
}

GTlsCertificate *
relais_tls_load_or_create (const char *state_dir, const char *cert_file, const char *key_file,
                           const char *hostname, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *cert_path = NULL;
  g_autofree char *key_path = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (cert_file != NULL || key_file != NULL)
    {
      if (cert_file == NULL || key_file == NULL)
        {
          g_set_error_literal (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                               "A TLS certificate needs both a certificate file and a key file");
          return NULL;
        }
      return load (cert_file, key_file, error);
    }

  g_return_val_if_fail (state_dir != NULL, NULL);
  if (hostname == NULL || *hostname == '\0')
    hostname = "localhost";

  dir = g_build_filename (state_dir, "tls", NULL);
  cert_path = g_build_filename (dir, "cert.pem", NULL);
  key_path = g_build_filename (dir, "key.pem", NULL);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Cannot create %s: %s",
                   dir, g_strerror (saved));
      return NULL;
    }

  if (!g_file_test (cert_path, G_FILE_TEST_EXISTS))
    {
      if (!generate (cert_path, key_path, hostname, error))
        return NULL;
    }
  else if (!g_file_test (key_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED,
                   "%s exists but its key %s is missing", cert_path, key_path);
      return NULL;
    }
  return load (cert_path, key_path, error);
}
