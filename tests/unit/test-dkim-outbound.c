/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM signing of outgoing mail: the signing domain from the single From
 * address (display names, comments, quoted strings, folding, several From
 * fields or addresses, the envelope sender as fallback), the key lookup by
 * exact domain, DkimSigning off, and the signature of a spool file made in a
 * worker thread, verified with our own verifier. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "relais-dkim-outbound.h"
#include "relais-dkim.h"
#include "relais-error.h"
#include "relais-test-util.h"

static void
assert_domain (const char *message, const char *sender, const char *expected)
{
  g_autofree char *domain = relais_dkim_outbound_domain (message, strlen (message), sender);

  g_assert_cmpstr (domain, ==, expected);
}

static void
test_domain (void)
{
  const char *body = "\r\nFrom: body@not.example\r\n";
  g_autofree char *with_body = g_strconcat ("Subject: x\r\n", body, NULL);

  assert_domain ("From: alice@Example.ORG\r\n\r\nhi\r\n", "s@env.example", "example.org");
  assert_domain ("From: Alice <alice@a.example>\r\n\r\n", "s@env.example", "a.example");
  assert_domain ("from : alice@b.example (Alice at <home@x.example>)\n\n", "", "b.example");
  assert_domain ("From: \"Smith, John @ c.example\" <john@d.example>\r\n\r\n", "", "d.example");
  assert_domain ("From: \"odd@local\"@e.example\r\n\r\n", "", "e.example");
  assert_domain ("Subject: s\r\nFrom: Alice\r\n\t<alice@f.example>\r\nTo: b@g.example\r\n\r\n", "", "f.example");
  assert_domain ("From: =?utf-8?q?Zo=C3=A9?= <zoe@h.example>\r\n\r\n", "", "h.example");
  /* no single From address: the envelope sender's domain */
  assert_domain ("From: a@x.example\r\nFrom: b@y.example\r\n\r\n", "s@Env.Example", "env.example");
  assert_domain ("From: a@x.example, b@y.example\r\n\r\n", "s@env.example", "env.example");
  assert_domain ("From: friends: a@x.example;\r\n\r\n", "s@env.example", "env.example");
  assert_domain ("From: <a@x.example> <b@y.example>\r\n\r\n", "s@env.example", "env.example");
  assert_domain ("From: nobody\r\n\r\n", "s@env.example", "env.example");
  assert_domain ("Fromage: a@x.example\r\n\r\n", "s@env.example", "env.example");
  assert_domain (with_body, "s@env.example", "env.example");
  assert_domain ("Subject: none\r\n\r\n", "", NULL);
  assert_domain ("", NULL, NULL);
}

static RelaisDkimKeyStatus
record_lookup (const char *domain, const char *selector, char **record, gpointer user_data)
{
  const RelaisDkimSigningKey *key = user_data;

  if (g_strcmp0 (domain, key->domain) != 0 || g_strcmp0 (selector, key->selector) != 0)
    return RELAIS_DKIM_KEY_NOT_FOUND;
  *record = g_strdup (key->record);
  return RELAIS_DKIM_KEY_FOUND;
}

/* "dkim=..." of FIELD on top of MESSAGE, checked with KEY's record. */
static char *
verify (const char *field, const char *message, const RelaisDkimSigningKey *key)
{
  g_autofree char *signed_message = g_strconcat (field, message, NULL);
  g_autoptr (RelaisDkimMessage) m = relais_dkim_message_new (signed_message, strlen (signed_message));
  g_autoptr (GPtrArray) verdicts = relais_dkim_verify (m, g_get_real_time () / G_USEC_PER_SEC, record_lookup,
                                                       (gpointer) key);

  return relais_dkim_format_results (verdicts);
}

static RelaisConfig *
config_with_key (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autofree char *pem = NULL;
  g_autofree char *record = NULL;
  RelaisDkimSigningKey *key;

  g_assert_true (relais_dkim_key_generate (RELAIS_DKIM_ED25519_SHA256, &pem, &record, &error));
  key = relais_dkim_signing_key_new ("example.org", "s1", pem, 0, &error);
  g_assert_no_error (error);
  return relais_config_put_dkim_key (base, key);
}

#define MESSAGE "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello.\r\n"

static void
test_sign (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) config = config_with_key ();
  g_autoptr (RelaisConfig) off = NULL;
  const RelaisDkimSigningKey *key = config->dkim_keys->pdata[0];
  g_autofree char *field = NULL;
  g_autofree char *domain = NULL;
  g_autofree char *selector = NULL;
  g_autofree char *result = NULL;
  g_autofree char *tampered = NULL;
  char *none;

  g_assert_true (relais_dkim_outbound_enabled (config));
  field = relais_dkim_outbound_sign (config, MESSAGE, strlen (MESSAGE), "x@other.example", 1767225600, &domain,
                                     &selector, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (field, "DKIM-Signature: v=1; a=ed25519-sha256;"));
  g_assert_cmpstr (domain, ==, "example.org");
  g_assert_cmpstr (selector, ==, "s1");
  result = verify (field, MESSAGE, key);
  g_assert_true (g_str_has_prefix (result, "dkim=pass header.d=example.org header.s=s1"));
  tampered = verify (field, "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHellO.\r\n",
                     key);
  g_assert_true (g_str_has_prefix (tampered, "dkim=fail"));

  /* another domain, a subdomain, or signing off: nothing, and no error */
  none = relais_dkim_outbound_sign (config, "From: a@example.com\r\n\r\nx\r\n", 26, "a@example.org", 0, NULL, NULL,
                                    &error);
  g_assert_no_error (error);
  g_assert_null (none);
  none = relais_dkim_outbound_sign (config, "From: a@sub.example.org\r\n\r\nx\r\n", 30, "", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (none);
  off = relais_config_apply_security (config, g_variant_new_parsed ("{'DkimSigning': <false>}"), &error);
  g_assert_no_error (error);
  g_assert_false (relais_dkim_outbound_enabled (off));
  none = relais_dkim_outbound_sign (off, MESSAGE, strlen (MESSAGE), "", 0, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (none);
}

static void
signed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
test_sign_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) config = config_with_key ();
  g_autofree char *dir = g_dir_make_tmp ("relais-dkim-outbound-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "spool", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *field = NULL;
  g_autofree char *domain = NULL;
  g_autofree char *selector = NULL;
  g_autofree char *verdict = NULL;
  g_autofree char *after = NULL;

  g_assert_true (g_file_set_contents (path, MESSAGE, -1, &error));
  relais_dkim_outbound_sign_file_async (config, path, "", NULL, signed_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  field = relais_dkim_outbound_sign_file_finish (result, &domain, &selector, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (domain, ==, "example.org");
  verdict = verify (field, MESSAGE, config->dkim_keys->pdata[0]);
  g_assert_true (g_str_has_prefix (verdict, "dkim=pass"));
  /* the spool file is not changed */
  g_assert_true (g_file_get_contents (path, &after, NULL, &error));
  g_assert_cmpstr (after, ==, MESSAGE);

  /* an unreadable spool file is an error (the message then goes unsigned) */
  g_clear_object (&result);
  g_clear_pointer (&field, g_free);
  relais_dkim_outbound_sign_file_async (config, missing, "", NULL, signed_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  field = relais_dkim_outbound_sign_file_finish (result, NULL, NULL, &error);
  g_assert_null (field);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  relais_test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/dkim-outbound/domain", test_domain);
  g_test_add_func ("/relais/dkim-outbound/sign", test_sign);
  g_test_add_func ("/relais/dkim-outbound/sign-file", test_sign_file);
  return g_test_run ();
}
