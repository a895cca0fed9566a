/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM signing: keys generated here (RSA 2048 and Ed25519) and their records,
 * messages signed with them and checked by the verifier (relais-dkim.c), and
 * tampered copies; over-signing of From; what relaxed canonicalization lets
 * change; folding; the zone-file form of a record; bad domains, selectors and
 * keys; signing from several threads; and the RFC 8463 Appendix A key, whose
 * signature here must have the RFC's body hash and verify with its record. */
#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

#include "dkim-rfc8463.h"
#include "relais-dkim-sign.h"
#include "relais-dkim.h"
#include "relais-error.h"

/* Keys generated once for the whole run (RSA takes a moment). */
static struct {
  char *rsa_pem, *rsa_record;
  char *ed_pem, *ed_record;
} keys;

#define NOW G_GINT64_CONSTANT (1795000000)

#define HEADERS                                        \
  "Received: from client.example by mail.example.com\r\n" \
  "From: Alice <alice@example.com>\r\n"                \
  "To: Bob <bob@example.net>,\r\n"                     \
  "  Carol <carol@example.net>\r\n"                    \
  "Cc: dave@example.org\r\n"                           \
  "Subject:  Quarterly  report \r\n"                   \
  "\tfor the board\r\n"                                \
  "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n"          \
  "Message-ID: <1234@example.com>\r\n"                 \
  "MIME-Version: 1.0\r\n"                              \
  "Content-Type: text/plain; charset=utf-8\r\n"        \
  "List-Id: <board.example.com>\r\n"                   \
  "X-Mailer: none of your business\r\n"

#define BODY "Hello Bob,  \r\n\r\nthe  report\tis attached.\r\n\r\n\r\n"

#define MESSAGE HEADERS "\r\n" BODY

/* ---- helpers ---- */

typedef struct {
  const char *domain;
  const char *selector;
  const char *record;
} OneKey;

/* The injected lookup: RECORD at SELECTOR._domainkey.DOMAIN only. */
static RelaisDkimKeyStatus
one_key_lookup (const char *domain, const char *selector, char **record, gpointer user_data)
{
  const OneKey *key = user_data;

  if (g_ascii_strcasecmp (domain, key->domain) != 0 || strcmp (selector, key->selector) != 0)
    return RELAIS_DKIM_KEY_NOT_FOUND;
  *record = g_strdup (key->record);
  return RELAIS_DKIM_KEY_FOUND;
}

static GPtrArray *
verify_all (const char *text, const OneKey *key)
{
  g_autoptr(RelaisDkimMessage) message = relais_dkim_message_new (text, strlen (text));

  return relais_dkim_verify (message, NOW + 60, one_key_lookup, (gpointer) key);
}

/* The verdict on the first (top) signature of TEXT, its reason in *REASON. */
static RelaisDkimResult
verify_top (const char *text, const OneKey *key, char **reason)
{
  g_autoptr(GPtrArray) verdicts = verify_all (text, key);
  RelaisDkimVerdict *verdict;

  g_assert_cmpuint (verdicts->len, >=, 1);
  verdict = g_ptr_array_index (verdicts, 0);
  if (reason)
    *reason = g_strdup (verdict->reason);
  else if (verdict->reason)
    g_test_message ("verdict: %s", verdict->reason);
  return verdict->result;
}

static void
assert_verifies (const char *text, const OneKey *key, RelaisDkimResult expected, const char *expected_reason)
{
  g_autofree char *reason = NULL;
  RelaisDkimResult result = verify_top (text, key, &reason);

  g_assert_cmpstr (reason, ==, expected_reason);
  g_assert_cmpint (result, ==, expected);
}

static char *
replace (const char *text, const char *from, const char *to)
{
  const char *at = strstr (text, from);

  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - text), text, to, at + strlen (from));
}

static char *
sign_text (RelaisDkimSigner *signer, const char *text, gint64 now)
{
  g_autoptr(GError) error = NULL;
  char *field = relais_dkim_signer_sign (signer, text, strlen (text), now, &error);

  g_assert_no_error (error);
  g_assert_nonnull (field);
  return field;
}

/* The field's value (after "DKIM-Signature:") parsed. */
static RelaisDkimSignature *
parse_field (const char *field)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = NULL;
  RelaisDkimSignature *sig;

  g_assert_true (g_str_has_prefix (field, "DKIM-Signature: "));
  g_assert_true (g_str_has_suffix (field, "\r\n"));
  value = g_strndup (field + strlen ("DKIM-Signature:"), strlen (field) - strlen ("DKIM-Signature:") - 2);
  sig = relais_dkim_signature_parse (value, &error);
  g_assert_no_error (error);
  return sig;
}

/* Every line of FIELD ends with CRLF, has fewer than 78 characters, and any
 * but the first starts with a tab; no bare CR or LF. */
static void
assert_folded (const char *field)
{
  g_auto(GStrv) lines = g_strsplit (field, "\r\n", -1);
  guint n = g_strv_length (lines);

  g_assert_cmpuint (n, >=, 3);
  g_assert_cmpstr (lines[n - 1], ==, "");
  for (guint i = 0; i + 1 < n; i++)
    {
      g_assert_cmpuint (strlen (lines[i]), <, 78);
      g_assert_cmpuint (strlen (lines[i]), >, 1);
      g_assert_null (strpbrk (lines[i], "\r\n"));
      if (i > 0)
        g_assert_cmpint (lines[i][0], ==, '\t');
    }
}

static RelaisDkimSigner *
make_signer (const char *domain, const char *selector, const char *pem)
{
  g_autoptr(GError) error = NULL;
  RelaisDkimSigner *signer = relais_dkim_signer_new (domain, selector, pem, &error);

  g_assert_no_error (error);
  g_assert_nonnull (signer);
  return signer;
}

/* ---- names ---- */

static void
test_algorithm_names (void)
{
  static const struct {
    const char *name;
    RelaisDkimAlgorithm algorithm;
  } good[] = {
    { "rsa-2048", RELAIS_DKIM_RSA_SHA256 },
    { "RSA", RELAIS_DKIM_RSA_SHA256 },
    { "rsa-sha256", RELAIS_DKIM_RSA_SHA256 },
    { "ed25519", RELAIS_DKIM_ED25519_SHA256 },
    { "Ed25519-SHA256", RELAIS_DKIM_ED25519_SHA256 },
  };
  static const char *const bad[] = { "", "rsa-1024", "dsa", "ed448", "rsa-2048 " };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      RelaisDkimAlgorithm algorithm = 99;

      g_assert_true (relais_dkim_algorithm_parse (good[i].name, &algorithm, &error));
      g_assert_no_error (error);
      g_assert_cmpint (algorithm, ==, good[i].algorithm);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      RelaisDkimAlgorithm algorithm = RELAIS_DKIM_ED25519_SHA256;

      g_assert_false (relais_dkim_algorithm_parse (bad[i], &algorithm, &error));
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "use rsa-2048 or ed25519"));
      g_assert_cmpint (algorithm, ==, RELAIS_DKIM_ED25519_SHA256);
    }
  {
    g_autoptr(GError) error = NULL;
    RelaisDkimAlgorithm algorithm;

    g_assert_false (relais_dkim_algorithm_parse ("bad\nname", &algorithm, &error));
    g_assert_nonnull (strstr (error->message, "\"bad\\nname\""));
  }
  g_assert_cmpstr (relais_dkim_algorithm_to_string (RELAIS_DKIM_RSA_SHA256), ==, "rsa-2048");
  g_assert_cmpstr (relais_dkim_algorithm_to_string (RELAIS_DKIM_ED25519_SHA256), ==, "ed25519");

  {
    g_autofree char *name = relais_dkim_record_name ("mail2026", "example.com");

    g_assert_cmpstr (name, ==, "mail2026._domainkey.example.com");
  }
}

/* ---- key generation ---- */

static void
check_generated (RelaisDkimAlgorithm algorithm, const char *pem, const char *record)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisDkimKey) key = relais_dkim_key_parse (record, &error);
  g_autoptr(RelaisDkimSigner) signer = NULL;
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN PRIVATE KEY-----\n"));
  g_assert_true (g_str_has_suffix (pem, "-----END PRIVATE KEY-----\n"));
  g_assert_cmpint (key->algorithm, ==, algorithm);
  g_assert_nonnull (key->key);
  g_assert_false (key->testing);

  if (algorithm == RELAIS_DKIM_RSA_SHA256)
    {
      gnutls_pubkey_t pub;
      gnutls_datum_t der;
      gsize size;
      unsigned int bits = 0;

      g_assert_true (g_str_has_prefix (record, "v=DKIM1; k=rsa; p=MII"));
      der.data = (unsigned char *) g_bytes_get_data (key->key, &size);
      der.size = (unsigned int) size;
      g_assert_cmpint (gnutls_pubkey_init (&pub), ==, 0);
      g_assert_cmpint (gnutls_pubkey_import (pub, &der, GNUTLS_X509_FMT_DER), ==, 0);
      g_assert_cmpint (gnutls_pubkey_get_pk_algorithm (pub, &bits), ==, GNUTLS_PK_RSA);
      g_assert_cmpuint (bits, ==, 2048);
      gnutls_pubkey_deinit (pub);
    }
  else
    {
      g_assert_true (g_str_has_prefix (record, "v=DKIM1; k=ed25519; p="));
      g_assert_cmpuint (g_bytes_get_size (key->key), ==, 32);
      g_assert_cmpuint (strlen (record), ==, strlen ("v=DKIM1; k=ed25519; p=") + 44);
    }

  /* the PEM loads, as the right type, and gives the same record */
  signer = make_signer ("example.com", "sel", pem);
  g_assert_cmpint (relais_dkim_signer_get_algorithm (signer), ==, algorithm);
  again = relais_dkim_signer_get_public_record (signer);
  g_assert_cmpstr (again, ==, record);
}

static void
test_generate (void)
{
  g_autofree char *pem2 = NULL;
  g_autofree char *record2 = NULL;
  g_autoptr(GError) error = NULL;

  check_generated (RELAIS_DKIM_RSA_SHA256, keys.rsa_pem, keys.rsa_record);
  check_generated (RELAIS_DKIM_ED25519_SHA256, keys.ed_pem, keys.ed_record);

  /* a new key each time */
  g_assert_true (relais_dkim_key_generate (RELAIS_DKIM_ED25519_SHA256, &pem2, &record2, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pem2, !=, keys.ed_pem);
  g_assert_cmpstr (record2, !=, keys.ed_record);
}

/* ---- signing and verifying ---- */

static void
sign_and_verify (RelaisDkimAlgorithm algorithm, const char *pem, const char *record)
{
  g_autoptr(RelaisDkimSigner) signer = make_signer ("Example.COM", "mail2026", pem);
  OneKey key = { "example.com", "mail2026", record };
  g_autofree char *field = sign_text (signer, MESSAGE, NOW);
  g_autofree char *signed_text = g_strconcat (field, MESSAGE, NULL);
  g_autoptr(RelaisDkimSignature) sig = parse_field (field);
  g_autofree char *h = g_strjoinv (":", sig->headers);
  g_autofree char *body_tampered = replace (signed_text, "report\tis", "report\twas");
  g_autofree char *subject_tampered = replace (signed_text, "Quarterly", "Annual");
  g_autofree char *from_above = replace (signed_text, "Received:", "From: Mallory <boss@example.com>\r\nReceived:");
  g_autofree char *from_below = replace (signed_text, "X-Mailer:", "From: Mallory <boss@example.com>\r\nX-Mailer:");
  g_autofree char *received = replace (signed_text, "Received:", "Received: from relay.example.net\r\nReceived:");
  g_autofree char *unsigned_field = replace (signed_text, "X-Mailer: none", "X-Mailer: changed");

  g_test_message ("%s", field);
  assert_folded (field);
  g_assert_cmpint (sig->algorithm, ==, algorithm);
  g_assert_cmpint (sig->header_canon, ==, RELAIS_DKIM_RELAXED);
  g_assert_cmpint (sig->body_canon, ==, RELAIS_DKIM_RELAXED);
  g_assert_cmpstr (sig->domain, ==, "example.com");
  g_assert_cmpstr (sig->selector, ==, "mail2026");
  g_assert_cmpint (sig->timestamp, ==, NOW);
  g_assert_cmpint (sig->expiration, ==, -1);
  g_assert_cmpint (sig->length, ==, -1);
  /* the fields present from the list, From over-signed; not Received or X-Mailer */
  g_assert_cmpstr (h, ==, "from:from:subject:date:message-id:to:cc:mime-version:content-type:list-id");
  g_assert_true (g_str_has_prefix (field, algorithm == RELAIS_DKIM_RSA_SHA256
                                   ? "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;"
                                   : "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;"));
  g_assert_nonnull (strstr (field, "\r\n\tb="));

  assert_verifies (signed_text, &key, RELAIS_DKIM_PASS, NULL);
  assert_verifies (body_tampered, &key, RELAIS_DKIM_FAIL, "body hash mismatch");
  assert_verifies (subject_tampered, &key, RELAIS_DKIM_FAIL, "signature invalid");
  /* over-signing: no From may be added, above or below */
  assert_verifies (from_above, &key, RELAIS_DKIM_FAIL, "signature invalid");
  assert_verifies (from_below, &key, RELAIS_DKIM_FAIL, "signature invalid");
  /* fields outside h= may be added or changed */
  assert_verifies (received, &key, RELAIS_DKIM_PASS, NULL);
  assert_verifies (unsigned_field, &key, RELAIS_DKIM_PASS, NULL);
}

static void
test_sign_rsa (void)
{
  sign_and_verify (RELAIS_DKIM_RSA_SHA256, keys.rsa_pem, keys.rsa_record);
}

static void
test_sign_ed25519 (void)
{
  sign_and_verify (RELAIS_DKIM_ED25519_SHA256, keys.ed_pem, keys.ed_record);
}

/* A key record of another key or another type does not verify. */
static void
test_sign_wrong_key (void)
{
  g_autoptr(RelaisDkimSigner) signer = make_signer ("example.com", "sel", keys.ed_pem);
  g_autofree char *field = sign_text (signer, MESSAGE, NOW);
  g_autofree char *signed_text = g_strconcat (field, MESSAGE, NULL);
  g_autofree char *other_pem = NULL;
  g_autofree char *other_record = NULL;
  g_autoptr(GError) error = NULL;
  OneKey other = { "example.com", "sel", NULL };
  OneKey rsa = { "example.com", "sel", keys.rsa_record };

  g_assert_true (relais_dkim_key_generate (RELAIS_DKIM_ED25519_SHA256, &other_pem, &other_record, &error));
  other.record = other_record;
  assert_verifies (signed_text, &other, RELAIS_DKIM_FAIL, "signature invalid");
  assert_verifies (signed_text, &rsa, RELAIS_DKIM_PERMERROR, "the key type does not match the signature algorithm");
}

/* Changes relaxed canonicalization ignores. */
static void
test_sign_relaxed (void)
{
  g_autoptr(RelaisDkimSigner) signer = make_signer ("example.com", "sel", keys.rsa_pem);
  OneKey key = { "example.com", "sel", keys.rsa_record };
  g_autofree char *field = sign_text (signer, MESSAGE, NOW);
  g_autofree char *signed_text = g_strconcat (field, MESSAGE, NULL);
  g_autofree char *a = replace (signed_text, "Subject:  Quarterly  report \r\n\tfor the board",
                                "SUBJECT :Quarterly report\r\n  for    the\r\n board  ");
  g_autofree char *b = replace (a, "To: Bob <bob@example.net>,\r\n  Carol", "to:   Bob <bob@example.net>, Carol");
  g_autofree char *c = replace (b, "the  report\tis attached.", "the report is attached.   ");
  g_autofree char *d = replace (c, "attached.   \r\n\r\n\r\n", "attached.   \r\n \r\n\t\r\n\r\n");
  g_autofree char *lf = NULL;
  GString *bare = g_string_new (NULL);

  assert_verifies (signed_text, &key, RELAIS_DKIM_PASS, NULL);
  assert_verifies (a, &key, RELAIS_DKIM_PASS, NULL);
  assert_verifies (b, &key, RELAIS_DKIM_PASS, NULL);
  assert_verifies (c, &key, RELAIS_DKIM_PASS, NULL);
  assert_verifies (d, &key, RELAIS_DKIM_PASS, NULL);

  /* the signature field itself refolded */
  {
    g_autofree char *refolded = replace (signed_text, "; c=relaxed/relaxed;", ";\r\n c=relaxed/relaxed;  ");

    assert_verifies (refolded, &key, RELAIS_DKIM_PASS, NULL);
  }

  /* a message given with bare LF is signed as sent with CRLF */
  for (const char *p = MESSAGE; *p; p++)
    if (*p != '\r')
      g_string_append_c (bare, *p);
  lf = g_string_free (bare, FALSE);
  {
    g_autofree char *lf_field = sign_text (signer, lf, NOW);
    g_autofree char *crlf_text = g_strconcat (lf_field, MESSAGE, NULL);

    g_assert_null (strstr (lf_field, "\n\n"));
    assert_folded (lf_field);
    assert_verifies (crlf_text, &key, RELAIS_DKIM_PASS, NULL);
  }
}

/* A message already signed by someone else keeps that signature. */
static void
test_sign_over_existing (void)
{
  g_autoptr(RelaisDkimSigner) signer = make_signer ("example.com", "sel", keys.ed_pem);
  g_autoptr(RelaisDkimSigner) list_signer = make_signer ("lists.example.org", "l1", keys.rsa_pem);
  g_autofree char *first = sign_text (signer, MESSAGE, NOW);
  g_autofree char *once = g_strconcat (first, MESSAGE, NULL);
  g_autofree char *second = sign_text (list_signer, once, NOW + 5);
  g_autofree char *twice = g_strconcat (second, once, NULL);
  OneKey ours = { "example.com", "sel", keys.ed_record };
  OneKey list = { "lists.example.org", "l1", keys.rsa_record };
  g_autoptr(GPtrArray) by_list = verify_all (twice, &list);
  g_autoptr(GPtrArray) by_ours = verify_all (twice, &ours);

  g_assert_cmpuint (by_list->len, ==, 2);
  g_assert_cmpint (((RelaisDkimVerdict *) by_list->pdata[0])->result, ==, RELAIS_DKIM_PASS);
  g_assert_cmpuint (by_ours->len, ==, 2);
  g_assert_cmpint (((RelaisDkimVerdict *) by_ours->pdata[1])->result, ==, RELAIS_DKIM_PASS);
}

/* Odd messages still get a signature that verifies. */
static void
test_sign_edge_messages (void)
{
  static const char *const messages[] = {
    "From: a@example.com\r\nSubject: no body\r\n",
    "From: a@example.com\r\n\r\n",
    "Subject: no From at all\r\n\r\nbody\r\n",
    "From: a@example.com\r\nTo: b@example.net\r\nTo: c@example.net\r\n\r\nlast line without CRLF",
    "",
  };
  g_autoptr(RelaisDkimSigner) signer = make_signer ("example.com", "sel", keys.ed_pem);
  OneKey key = { "example.com", "sel", keys.ed_record };

  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autofree char *field = sign_text (signer, messages[i], NOW);
      g_autofree char *text = g_strconcat (field, messages[i], NULL);
      g_autoptr(RelaisDkimSignature) sig = parse_field (field);

      g_test_message ("message %u", i);
      assert_folded (field);
      assert_verifies (text, &key, RELAIS_DKIM_PASS, NULL);
      g_assert_cmpstr (sig->headers[0], ==, "from");
      if (i == 3)
        {
          g_autofree char *h = g_strjoinv (":", sig->headers);

          g_assert_cmpstr (h, ==, "from:from:to:to");
        }
    }
}

/* A long domain and many fields fold too. */
static void
test_sign_folding (void)
{
  const char *domain = "a-rather-long-subdomain-name-for-folding.mail.department.example.com";
  g_autoptr(RelaisDkimSigner) signer = make_signer (domain, "selector-2026-11", keys.rsa_pem);
  OneKey key = { domain, "selector-2026-11", keys.rsa_record };
  GString *text = g_string_new ("From: a@example.com\r\n");
  g_autofree char *message = NULL;
  g_autofree char *field = NULL;
  g_autofree char *signed_text = NULL;
  g_autoptr(RelaisDkimSignature) sig = NULL;

  for (guint i = 0; i < 20; i++)
    g_string_append_printf (text, "Resent-Message-ID: <%u@example.com>\r\nList-Unsubscribe-Post: x\r\n", i);
  g_string_append (text, "\r\nbody\r\n");
  message = g_string_free (text, FALSE);
  field = sign_text (signer, message, NOW);
  signed_text = g_strconcat (field, message, NULL);
  sig = parse_field (field);
  g_test_message ("%s", field);
  assert_folded (field);
  g_assert_cmpuint (g_strv_length (sig->headers), ==, 42);
  assert_verifies (signed_text, &key, RELAIS_DKIM_PASS, NULL);
}

typedef struct {
  RelaisDkimSigner *signer;
  const OneKey *key;
  guint index;
} ThreadJob;

static gpointer
sign_in_thread (gpointer data)
{
  ThreadJob *job = data;

  for (guint n = 0; n < 5; n++)
    {
      g_autofree char *message = g_strdup_printf ("From: a@example.com\r\nSubject: thread %u try %u\r\n\r\n"
                                                  "body %u\r\n", job->index, n, n);
      g_autoptr(GError) error = NULL;
      g_autofree char *field = relais_dkim_signer_sign (job->signer, message, strlen (message), NOW, &error);
      g_autofree char *text = NULL;
      g_autofree char *reason = NULL;

      if (!field || verify_top ((text = g_strconcat (field, message, NULL)), job->key, &reason) != RELAIS_DKIM_PASS)
        return GINT_TO_POINTER (FALSE);
    }
  return GINT_TO_POINTER (TRUE);
}

/* One signer shared by threads. */
static void
test_sign_threads (void)
{
  const char *pems[] = { keys.rsa_pem, keys.ed_pem };
  const char *records[] = { keys.rsa_record, keys.ed_record };

  for (guint k = 0; k < 2; k++)
    {
      g_autoptr(RelaisDkimSigner) signer = make_signer ("example.com", "sel", pems[k]);
      OneKey key = { "example.com", "sel", records[k] };
      ThreadJob jobs[4];
      GThread *threads[4];

      for (guint i = 0; i < 4; i++)
        {
          jobs[i] = (ThreadJob) { relais_dkim_signer_ref (signer), &key, i };
          threads[i] = g_thread_new ("dkim-sign", sign_in_thread, &jobs[i]);
        }
      for (guint i = 0; i < 4; i++)
        {
          g_assert_true (GPOINTER_TO_INT (g_thread_join (threads[i])));
          relais_dkim_signer_unref (jobs[i].signer);
        }
    }
}

/* ---- bad input ---- */

static char *
export_key (gnutls_x509_privkey_t x509, gboolean pkcs8, const char *password)
{
  gnutls_datum_t out;
  char *pem;

  if (pkcs8)
    g_assert_cmpint (gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_PEM, password,
                                                        password ? GNUTLS_PKCS_PBES2_AES_256 : GNUTLS_PKCS_PLAIN,
                                                        &out), ==, 0);
  else
    g_assert_cmpint (gnutls_x509_privkey_export2 (x509, GNUTLS_X509_FMT_PEM, &out), ==, 0);
  pem = g_strndup ((char *) out.data, out.size);
  gnutls_free (out.data);
  return pem;
}

static char *
generated_pem (gnutls_pk_algorithm_t pk, unsigned int bits, gboolean pkcs8, const char *password)
{
  gnutls_x509_privkey_t x509;
  char *pem;

  g_assert_cmpint (gnutls_x509_privkey_init (&x509), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (x509, pk, bits, 0), ==, 0);
  pem = export_key (x509, pkcs8, password);
  gnutls_x509_privkey_deinit (x509);
  return pem;
}

static void
expect_signer_error (const char *domain, const char *selector, const char *pem, const char *part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisDkimSigner) signer = relais_dkim_signer_new (domain, selector, pem, &error);

  g_assert_null (signer);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  if (!strstr (error->message, part))
    g_error ("\"%s\" lacks \"%s\"", error->message, part);
}

static void
test_bad_domain_selector (void)
{
  static const char *const domains[] = {
    "", "exa mple.com", "-bad.example.com", "bad-.example.com", "example.com.", ".example.com",
    "ex@mple.com", "192.0.2.1", "bücher.example", "a..example.com", "x\r\nBcc: evil@example.com",
  };
  static const char *const selectors[] = {
    "", "sel_1", "sel.", ".sel", "s l", "-sel", "sél", "sel;x",
    "a-single-label-of-sixty-four-characters-is-one-too-long-for-dns1",
  };
  g_autofree char *long_selector = NULL;
  GString *labels = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (domains); i++)
    {
      g_test_message ("domain %u", i);
      expect_signer_error (domains[i], "sel", keys.ed_pem, "is not a valid host name");
    }
  expect_signer_error (NULL, "sel", keys.ed_pem, "is not a valid host name");
  expect_signer_error ("x\r\nBcc: evil@example.com", "sel", keys.ed_pem, "\"x\\r\\nBcc: evil@example.com\"");
  for (guint i = 0; i < G_N_ELEMENTS (selectors); i++)
    {
      g_test_message ("selector %u", i);
      expect_signer_error ("example.com", selectors[i], keys.ed_pem, "DKIM selector");
      expect_signer_error ("example.com", selectors[i], keys.ed_pem, "is not valid: use letters, digits");
    }
  expect_signer_error ("example.com", NULL, keys.ed_pem, "DKIM selector \"\" is not valid");

  /* valid labels, but the record name would be too long */
  for (guint i = 0; i < 4; i++)
    g_string_append_printf (labels, "%s%.60s", i ? "." : "", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij");
  long_selector = g_string_free (labels, FALSE);
  g_assert_true (relais_dkim_selector_validate (long_selector, NULL, NULL));
  expect_signer_error ("example.com", long_selector, keys.ed_pem, "would exceed 253 characters");

  /* these are fine */
  g_assert_true (relais_dkim_selector_validate ("mail-2026.eu", "example.com", NULL));
  g_assert_true (relais_dkim_selector_validate ("2026", NULL, NULL));
  {
    g_autoptr(RelaisDkimSigner) idn = make_signer ("xn--bcher-kva.example", "s1", keys.ed_pem);
    g_autoptr(RelaisDkimSigner) upper = make_signer ("MAIL.Example.COM", "Sel", keys.ed_pem);

    g_assert_cmpstr (relais_dkim_signer_get_domain (upper), ==, "mail.example.com");
    g_assert_cmpstr (relais_dkim_signer_get_selector (upper), ==, "Sel");
  }
}

static void
test_bad_keys (void)
{
  g_autofree char *encrypted = generated_pem (GNUTLS_PK_EDDSA_ED25519,
                                              GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_ED25519), TRUE, "secret");
  g_autofree char *small = generated_pem (GNUTLS_PK_RSA, 768, TRUE, NULL);
  g_autofree char *ecdsa = generated_pem (GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                          TRUE, NULL);
  g_autofree char *pkcs1 = generated_pem (GNUTLS_PK_RSA, 2048, FALSE, NULL);
  g_autofree char *truncated = g_strndup (keys.rsa_pem, strlen (keys.rsa_pem) / 2);
  g_autofree char *corrupted = replace (keys.ed_pem, "\n", "\n!!!!");

  g_assert_true (g_str_has_prefix (encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  g_assert_true (g_str_has_prefix (pkcs1, "-----BEGIN RSA PRIVATE KEY-----"));

  expect_signer_error ("example.com", "sel", NULL, "is not in PEM form");
  expect_signer_error ("example.com", "sel", "", "is not in PEM form");
  expect_signer_error ("example.com", "sel", "not a key", "is not in PEM form");
  expect_signer_error ("example.com", "sel", keys.ed_record, "is not in PEM form");
  expect_signer_error ("example.com", "sel", truncated, "cannot be read");
  expect_signer_error ("example.com", "sel", corrupted, "cannot be read");
  expect_signer_error ("example.com", "sel", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                       "cannot be read");
  expect_signer_error ("example.com", "sel", encrypted, "it must be an unencrypted PKCS#8 or PKCS#1 PEM key");
  expect_signer_error ("example.com", "sel", small, "has 768 bits: at least 1024 are needed");
  expect_signer_error ("example.com", "sel", ecdsa, "only RSA and Ed25519 keys can sign");

  /* PKCS#1 is read too, and signs */
  {
    g_autoptr(RelaisDkimSigner) signer = make_signer ("example.com", "sel", pkcs1);
    g_autofree char *record = relais_dkim_signer_get_public_record (signer);
    g_autofree char *field = sign_text (signer, MESSAGE, NOW);
    g_autofree char *text = g_strconcat (field, MESSAGE, NULL);
    OneKey key = { "example.com", "sel", record };

    g_assert_cmpint (relais_dkim_signer_get_algorithm (signer), ==, RELAIS_DKIM_RSA_SHA256);
    assert_verifies (text, &key, RELAIS_DKIM_PASS, NULL);
  }
}

/* ---- zone text ---- */

/* ZONE's strings unquoted and joined. */
static char *
zone_join (const char *zone, guint *count)
{
  GString *out = g_string_new (NULL);
  const char *p = zone;

  *count = 0;
  while (*p)
    {
      gsize length = 0;

      g_assert_cmpint (*p, ==, '"');
      for (p++; *p != '"'; p++, length++)
        {
          g_assert_cmpint (*p, !=, '\0');
          if (*p == '\\')
            p++;
          g_string_append_c (out, *p);
        }
      g_assert_cmpuint (length, <=, 255);
      (*count)++;
      p++;
      if (*p)
        {
          g_assert_cmpint (*p, ==, ' ');
          p++;
        }
    }
  return g_string_free (out, FALSE);
}

static void
test_zone_text (void)
{
  g_autofree char *rsa = relais_dkim_record_zone_text (keys.rsa_record);
  g_autofree char *ed = relais_dkim_record_zone_text (keys.ed_record);
  g_autofree char *rsa_joined = NULL;
  g_autofree char *ed_joined = NULL;
  g_autofree char *expected_ed = NULL;
  g_autofree char *quoted = relais_dkim_record_zone_text ("v=DKIM1; n=\"a\\b\"; p=AAAA");
  g_autofree char *no_p = relais_dkim_record_zone_text ("v=DKIM1; k=rsa");
  g_autofree char *empty = relais_dkim_record_zone_text ("");
  g_autofree char *p_only = relais_dkim_record_zone_text ("p=AAAA");
  g_autofree char *long_text = NULL;
  g_autofree char *long_zone = NULL;
  g_autofree char *long_joined = NULL;
  guint count;

  g_test_message ("%s", rsa);
  g_assert_true (g_str_has_prefix (rsa, "\"v=DKIM1; k=rsa; \" \"p=MII"));
  rsa_joined = zone_join (rsa, &count);
  g_assert_cmpstr (rsa_joined, ==, keys.rsa_record);
  g_assert_cmpuint (count, ==, 3);  /* the tags, then p= (about 394 bytes) in two */

  expected_ed = g_strdup_printf ("\"v=DKIM1; k=ed25519; \" \"%s\"", strstr (keys.ed_record, "p="));
  g_assert_cmpstr (ed, ==, expected_ed);
  ed_joined = zone_join (ed, &count);
  g_assert_cmpstr (ed_joined, ==, keys.ed_record);

  g_assert_cmpstr (quoted, ==, "\"v=DKIM1; n=\\\"a\\\\b\\\"; \" \"p=AAAA\"");
  g_assert_cmpstr (no_p, ==, "\"v=DKIM1; k=rsa\"");
  g_assert_cmpstr (empty, ==, "\"\"");
  g_assert_cmpstr (p_only, ==, "\"p=AAAA\"");

  /* 600 bytes without p=: 255 + 255 + 90 */
  long_text = g_strnfill (600, 'x');
  long_zone = relais_dkim_record_zone_text (long_text);
  long_joined = zone_join (long_zone, &count);
  g_assert_cmpstr (long_joined, ==, long_text);
  g_assert_cmpuint (count, ==, 3);
}

/* ---- RFC 8463 Appendix A ---- */

/* The RFC's Ed25519 seed as PKCS#8 PEM (RFC 8410 §7: fixed prefix, seed). */
static char *
rfc8463_pem (void)
{
  static const guchar prefix[] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                   0x04, 0x22, 0x04, 0x20 };
  gsize seed_len;
  g_autofree guchar *seed = g_base64_decode (RFC8463_ED25519_PRIVATE, &seed_len);
  g_autoptr(GByteArray) der = g_byte_array_new ();
  g_autofree char *base64 = NULL;

  g_assert_cmpuint (seed_len, ==, 32);
  g_byte_array_append (der, prefix, sizeof prefix);
  g_byte_array_append (der, seed, (guint) seed_len);
  base64 = g_base64_encode (der->data, der->len);
  return g_strdup_printf ("-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", base64);
}

static void
test_rfc8463_key (void)
{
  g_autofree char *pem = rfc8463_pem ();
  g_autoptr(RelaisDkimSigner) signer = make_signer ("football.example.com", "brisbane", pem);
  g_autofree char *record = relais_dkim_signer_get_public_record (signer);
  const char *unsigned_text = RFC8463_HEADERS "\r\n" RFC8463_BODY;
  g_autofree char *field = NULL;
  g_autofree char *again = NULL;
  g_autofree char *signed_text = NULL;
  g_autofree char *resigned = NULL;
  g_autofree char *rfc_field = NULL;
  g_autoptr(RelaisDkimSignature) ours = NULL;
  g_autoptr(RelaisDkimSignature) theirs = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *bh = NULL;
  g_autofree char *h = NULL;
  OneKey key = { "football.example.com", "brisbane", RFC8463_ED25519_RECORD };

  /* the public half of the RFC's private key is the RFC's record */
  g_assert_cmpstr (record, ==, RFC8463_ED25519_RECORD);

  field = sign_text (signer, unsigned_text, RFC8463_TIME);
  g_test_message ("%s", field);
  ours = parse_field (field);
  /* the RFC's body hash, from the RFC's first signature */
  rfc_field = g_strndup (RFC8463_MESSAGE, strstr (RFC8463_MESSAGE, "\r\nDKIM-Signature:") - RFC8463_MESSAGE);
  theirs = relais_dkim_signature_parse (strchr (rfc_field, ':') + 1, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (ours->body_hash, theirs->body_hash));
  bh = g_base64_encode (g_bytes_get_data (ours->body_hash, NULL), g_bytes_get_size (ours->body_hash));
  g_assert_cmpstr (bh, ==, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
  h = g_strjoinv (":", ours->headers);
  g_assert_cmpstr (h, ==, "from:from:subject:date:message-id:to");
  g_assert_cmpint (ours->timestamp, ==, RFC8463_TIME);

  /* verified with the RFC's record, ours alone and on top of the RFC's two */
  signed_text = g_strconcat (field, unsigned_text, NULL);
  assert_verifies (signed_text, &key, RELAIS_DKIM_PASS, NULL);
  resigned = g_strconcat (field, RFC8463_MESSAGE, NULL);
  {
    g_autoptr(GPtrArray) verdicts = verify_all (resigned, &key);

    g_assert_cmpuint (verdicts->len, ==, 3);
    g_assert_cmpint (((RelaisDkimVerdict *) verdicts->pdata[0])->result, ==, RELAIS_DKIM_PASS);
    g_assert_cmpint (((RelaisDkimVerdict *) verdicts->pdata[1])->result, ==, RELAIS_DKIM_PASS);
    /* the RFC's RSA signature: its key (selector "test") is not in this lookup */
    g_assert_cmpint (((RelaisDkimVerdict *) verdicts->pdata[2])->result, ==, RELAIS_DKIM_PERMERROR);
  }

  /* Ed25519 is deterministic: the same message, time and key, the same field */
  again = sign_text (signer, unsigned_text, RFC8463_TIME);
  g_assert_cmpstr (again, ==, field);
}

/* The helpers added to the verifier for the signer. */
static void
test_verifier_helpers (void)
{
  g_autoptr(RelaisDkimMessage) with = relais_dkim_message_new (RFC8463_MESSAGE, strlen (RFC8463_MESSAGE));
  const char *plain = RFC8463_HEADERS "\r\n" RFC8463_BODY;
  g_autoptr(RelaisDkimMessage) without = relais_dkim_message_new (plain, strlen (plain));
  const char *first_end = strstr (RFC8463_MESSAGE, "\r\nDKIM-Signature:");
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisDkimSignature) sig = NULL;
  g_autoptr(GBytes) in_message = NULL;
  g_autoptr(GBytes) outside = NULL;
  g_autofree char *field = g_strndup (RFC8463_MESSAGE, first_end - RFC8463_MESSAGE);

  sig = relais_dkim_signature_parse (strchr (field, ':') + 1, &error);
  g_assert_no_error (error);
  /* the data of the RFC's first signature, from the message that has it and
   * from the message without it and the field given apart */
  in_message = relais_dkim_signed_data (with, sig, 0);
  outside = relais_dkim_signed_data_for_field (without, sig, field, strlen (field));
  g_assert_nonnull (in_message);
  g_assert_true (g_bytes_equal (in_message, outside));

  g_assert_cmpuint (relais_dkim_message_count_fields (with, "dkim-signature"), ==, 2);
  g_assert_cmpuint (relais_dkim_message_count_fields (with, "FROM"), ==, 1);
  g_assert_cmpuint (relais_dkim_message_count_fields (with, "cc"), ==, 0);
  g_assert_cmpuint (relais_dkim_message_count_fields (without, "DKIM-Signature"), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (!relais_dkim_key_generate (RELAIS_DKIM_RSA_SHA256, &keys.rsa_pem, &keys.rsa_record, &error) ||
      !relais_dkim_key_generate (RELAIS_DKIM_ED25519_SHA256, &keys.ed_pem, &keys.ed_record, &error))
    g_error ("key generation: %s", error->message);

  g_test_add_func ("/dkim-sign/names", test_algorithm_names);
  g_test_add_func ("/dkim-sign/generate", test_generate);
  g_test_add_func ("/dkim-sign/sign/rsa", test_sign_rsa);
  g_test_add_func ("/dkim-sign/sign/ed25519", test_sign_ed25519);
  g_test_add_func ("/dkim-sign/sign/wrong-key", test_sign_wrong_key);
  g_test_add_func ("/dkim-sign/sign/relaxed", test_sign_relaxed);
  g_test_add_func ("/dkim-sign/sign/over-existing", test_sign_over_existing);
  g_test_add_func ("/dkim-sign/sign/edge-messages", test_sign_edge_messages);
  g_test_add_func ("/dkim-sign/sign/folding", test_sign_folding);
  g_test_add_func ("/dkim-sign/sign/threads", test_sign_threads);
  g_test_add_func ("/dkim-sign/bad/domain-selector", test_bad_domain_selector);
  g_test_add_func ("/dkim-sign/bad/keys", test_bad_keys);
  g_test_add_func ("/dkim-sign/zone-text", test_zone_text);
  g_test_add_func ("/dkim-sign/rfc8463", test_rfc8463_key);
  g_test_add_func ("/dkim-sign/verifier-helpers", test_verifier_helpers);
  ret = g_test_run ();
  g_free (keys.rsa_pem);
  g_free (keys.rsa_record);
  g_free (keys.ed_pem);
  g_free (keys.ed_record);
  return ret;
}
