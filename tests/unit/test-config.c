/* SPDX-License-Identifier: GPL-3.0-or-later
 * Configuration: defaults, syntax checks, General validation (all or nothing),
 * local domains, accounts and the address index, password hashing. */
#include "config.h"

#include "relais-config.h"
#include "relais-error.h"

static GVariant *
changes (const char *text)
{
  g_autoptr (GError) error = NULL;
  GVariant *v = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return v;
}

static void
test_defaults (void)
{
  g_autoptr (RelaisConfig) c = relais_config_new_default ();

  g_assert_true (c->smtp_authentication);
  g_assert_false (c->skip_auth_for_local_networks);
  g_assert_false (c->verify_sender_login);
  g_assert_false (c->skip_sender_check_for_trusted);
  g_assert_false (c->disable_auto_forward);
  g_assert_cmpstr (c->banner, ==, "ESMTP Relais");
  g_assert_cmpuint (c->max_recipients, ==, 100);
  g_assert_cmpuint (c->max_hops, ==, 50);
  g_assert_cmpuint (c->max_message_size_mb, ==, 10);
  g_assert_cmpuint (relais_config_max_message_size (c), ==, 10 * 1024 * 1024);
  g_assert_cmpuint (g_strv_length (c->external_administrators), ==, 0);
  g_assert_cmpuint (c->idle_timeout, ==, 300);
  g_assert_true (relais_is_fqdn (c->hostname));
}

static void
test_syntax (void)
{
  const struct { const char *s; gboolean fqdn, domain; } names[] = {
    { "mx.example.org", TRUE, TRUE },
    { "a-b.c0.example", TRUE, TRUE },
    { "localhost", FALSE, TRUE },
    { "", FALSE, FALSE },
    { "-a.example", FALSE, FALSE },
    { "a-.example", FALSE, FALSE },
    { "a..example", FALSE, FALSE },
    { "example.org.", FALSE, FALSE },
    { "1.2.3.4", FALSE, FALSE },
    { "a_b.example", FALSE, FALSE },
    { "exa mple.org", FALSE, FALSE },
    { "0123456789012345678901234567890123456789012345678901234567890123.org", FALSE, FALSE },
  };
  const struct { const char *s; gboolean ok; } addresses[] = {
    { "user@example.org", TRUE },
    { "first.last+tag@sub.example.org", TRUE },
    { "\"quoted local\"@example.org", TRUE },
    { "élodie@example.org", TRUE },
    { "user@localhost", TRUE },
    { "user", FALSE },
    { "@example.org", FALSE },
    { "user@", FALSE },
    { ".user@example.org", FALSE },
    { "us..er@example.org", FALSE },
    { "user.@example.org", FALSE },
    { "us er@example.org", FALSE },
    { "user@exa_mple.org", FALSE },
    { "0123456789012345678901234567890123456789012345678901234567890123456789@example.org", FALSE },
  };
  const struct { const char *s; gboolean ok; } logins[] = {
    { "alice", TRUE }, { "a.b-c_d", TRUE }, { "0day", TRUE },
    { "", FALSE }, { "Alice", FALSE }, { "_x", FALSE }, { "a b", FALSE }, { "a@b", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_test_message ("name %s", names[i].s);
      g_assert_cmpint (relais_is_fqdn (names[i].s), ==, names[i].fqdn);
      g_assert_cmpint (relais_is_valid_domain (names[i].s), ==, names[i].domain);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (addresses); i++)
    {
      g_test_message ("address %s", addresses[i].s);
      g_assert_cmpint (relais_is_valid_address (addresses[i].s), ==, addresses[i].ok);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (logins); i++)
    g_assert_cmpint (relais_is_valid_login (logins[i].s), ==, logins[i].ok);
}

static void
test_general_valid (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) next = relais_config_apply_general (
    base,
    changes ("{'MaxRecipients': <uint32 2>, 'Hostname': <'MX.Example.ORG'>, 'Banner': <'Hi there'>, "
             "'ExternalAdministrators': <['admin@Example.ORG']>, 'DisableAutoForward': <true>, "
             "'IdleTimeout': <uint32 5>}"),
    &error);

  g_assert_no_error (error);
  g_assert_nonnull (next);
  g_assert_cmpuint (next->max_recipients, ==, 2);
  g_assert_cmpstr (next->hostname, ==, "mx.example.org");
  g_assert_cmpstr (next->banner, ==, "Hi there");
  g_assert_cmpstr (next->external_administrators[0], ==, "admin@example.org");
  g_assert_true (next->disable_auto_forward);
  g_assert_cmpuint (next->idle_timeout, ==, 5);
  /* the base snapshot is untouched */
  g_assert_cmpuint (base->max_recipients, ==, 100);
  g_assert_false (base->disable_auto_forward);
}

static void
test_general_invalid (void)
{
  const struct { const char *changes; const char *property; } cases[] = {
    { "{'MaxRecipients': <uint32 0>}", "MaxRecipients" },
    { "{'MaxRecipients': <'5'>}", "MaxRecipients" },
    { "{'MaxHops': <uint32 0>}", "MaxHops" },
    { "{'MaxMessageSizeMB': <uint32 0>}", "MaxMessageSizeMB" },
    { "{'MaxMessageSizeMB': <uint32 4096>}", "MaxMessageSizeMB" },
    { "{'Hostname': <'notfqdn'>}", "Hostname" },
    { "{'Hostname': <'bad_name.example'>}", "Hostname" },
    { "{'Banner': <'two\\r\\nlines'>}", "Banner" },
    { "{'Banner': <''>}", "Banner" },
    { "{'ExternalAdministrators': <['not an address']>}", "ExternalAdministrators" },
    { "{'ExternalAdministrators': <['a@example.org', 'A@EXAMPLE.org']>}", "ExternalAdministrators" },
    { "{'SmtpAuthentication': <uint32 1>}", "SmtpAuthentication" },
    { "{'IdleTimeout': <uint32 1>}", "IdleTimeout" },
    { "{'NoSuchThing': <true>}", "NoSuchThing" },
    /* one valid, one invalid: refused whole */
    { "{'MaxHops': <uint32 7>, 'MaxRecipients': <uint32 0>}", "MaxRecipients" },
  };
  g_autoptr (RelaisConfig) base = relais_config_new_default ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) v = g_variant_ref_sink (changes (cases[i].changes));
      g_autoptr (RelaisConfig) next = relais_config_apply_general (base, v, &error);

      g_test_message ("%s", cases[i].changes);
      g_assert_null (next);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, cases[i].property));
    }
  g_assert_cmpuint (base->max_hops, ==, 50);
}

static void
test_general_roundtrip (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (GVariant) all = relais_config_general_to_variant (base);
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) same = relais_config_apply_general (base, all, &error);
  g_autoptr (GVariant) again = NULL;

  g_assert_no_error (error);
  again = relais_config_general_to_variant (same);
  g_assert_true (g_variant_equal (all, again));
  g_assert_cmpuint (g_variant_n_children (all), ==, 12);
}

static RelaisConfig *
with_domains (void)
{
  g_autoptr (RelaisConfig) c0 = relais_config_new_default ();
  g_autoptr (RelaisConfig) c1 = relais_config_add_local_domain (c0, "Example.ORG", NULL);
  return relais_config_add_local_domain (c1, "example.net", NULL);
}

static void
test_domains (void)
{
  g_autoptr (RelaisConfig) c = with_domains ();
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) dup = NULL;
  g_autoptr (RelaisConfig) bad = NULL;
  g_autoptr (RelaisConfig) removed = NULL;

  g_assert_cmpstr (c->local_domains[0], ==, "example.net");
  g_assert_cmpstr (c->local_domains[1], ==, "example.org");
  g_assert_true (relais_config_is_local_domain (c, "EXAMPLE.org"));
  g_assert_false (relais_config_is_local_domain (c, "example.com"));

  dup = relais_config_add_local_domain (c, "example.org", &error);
  g_assert_null (dup);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS);
  g_clear_error (&error);
  bad = relais_config_add_local_domain (c, "not a domain", &error);
  g_assert_null (bad);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  removed = relais_config_remove_local_domain (c, "example.net", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (removed->local_domains), ==, 1);
  g_assert_null (relais_config_remove_local_domain (removed, "example.net", &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
}

static void
test_accounts (void)
{
  g_autoptr (RelaisConfig) c = with_domains ();
  g_autoptr (GError) error = NULL;
  const char *aliases[] = { "Alice.Smith@example.org", NULL };
  const char *forwards[] = { "alice@elsewhere.example", NULL };
  RelaisAccount alice = { "alice", "$y$j9T$salt$hash", (GStrv) aliases, (GStrv) forwards };
  RelaisAccount bob = { "bob", "$6$salt$hash", NULL, NULL };
  g_autoptr (RelaisConfig) c1 = relais_config_put_account (c, &alice, TRUE, &error);
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  g_auto (GStrv) owned = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (c1);
  g_assert_cmpstr (relais_config_lookup_address (c1, "alice@example.org")->login, ==, "alice");
  g_assert_cmpstr (relais_config_lookup_address (c1, "ALICE@Example.NET")->login, ==, "alice");
  g_assert_cmpstr (relais_config_lookup_address (c1, "alice.smith@example.org")->login, ==, "alice");
  g_assert_null (relais_config_lookup_address (c1, "alice@example.com"));
  g_assert_null (relais_config_lookup_address (c, "alice@example.org"));
  owned = relais_config_account_addresses (c1, relais_config_lookup_login (c1, "alice"));
  g_assert_cmpuint (g_strv_length (owned), ==, 3);

  /* duplicates and conflicts */
  g_assert_null (relais_config_put_account (c1, &alice, TRUE, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS);
  g_clear_error (&error);
  {
    const char *stolen[] = { "alice.smith@example.org", NULL };
    RelaisAccount thief = { "bob", "$6$x$y", (GStrv) stolen, NULL };
    g_assert_null (relais_config_put_account (c1, &thief, TRUE, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_assert_true (g_str_has_prefix (error->message, "aliases"));
    g_clear_error (&error);
  }
  {
    const char *outside[] = { "bob@example.com", NULL };
    RelaisAccount b = { "bob", "$6$x$y", (GStrv) outside, NULL };
    g_assert_null (relais_config_put_account (c1, &b, TRUE, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
  {
    const char *loop[] = { "bob@example.org", NULL };
    RelaisAccount b = { "bob", "$6$x$y", NULL, (GStrv) loop };
    g_assert_null (relais_config_put_account (c1, &b, TRUE, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_assert_true (g_str_has_prefix (error->message, "forwards"));
    g_clear_error (&error);
  }
  {
    RelaisAccount b = { "Bob", "$6$x$y", NULL, NULL };
    g_assert_null (relais_config_put_account (c1, &b, TRUE, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_assert_true (g_str_has_prefix (error->message, "login"));
    g_clear_error (&error);
  }
  g_assert_null (relais_config_put_account (c1, &bob, FALSE, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  c2 = relais_config_put_account (c1, &bob, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c2->accounts->len, ==, 2);
  g_assert_cmpstr (relais_config_lookup_address (c2, "bob@example.net")->login, ==, "bob");

  c3 = relais_config_remove_account (c2, "alice", &error);
  g_assert_no_error (error);
  g_assert_null (relais_config_lookup_address (c3, "alice.smith@example.org"));
  g_assert_nonnull (relais_config_lookup_login (c2, "alice"));
}

static void
test_password (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = relais_password_hash ("correct horse", &error);

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (hash, "$y$"));
  g_assert_null (strstr (hash, "correct horse"));
  g_assert_true (relais_password_verify ("correct horse", hash));
  g_assert_false (relais_password_verify ("correct hors", hash));
  g_assert_false (relais_password_verify ("correct horse", "$6$nope"));
  g_assert_false (relais_password_verify ("x", "plain"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/config/defaults", test_defaults);
  g_test_add_func ("/relais/config/syntax", test_syntax);
  g_test_add_func ("/relais/config/general-valid", test_general_valid);
  g_test_add_func ("/relais/config/general-invalid", test_general_invalid);
  g_test_add_func ("/relais/config/general-roundtrip", test_general_roundtrip);
  g_test_add_func ("/relais/config/domains", test_domains);
  g_test_add_func ("/relais/config/accounts", test_accounts);
  g_test_add_func ("/relais/config/password", test_password);
  return g_test_run ();
}
