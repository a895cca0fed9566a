/* SPDX-License-Identifier: GPL-3.0-or-later
 * Configuration: defaults, syntax checks, General validation (all or nothing),
 * local domains, accounts and the address index, password hashing, the
 * Distribution settings (single host, relay hosts, rules) and remote routing,
 * the Relay Control lists (trusted networks, relay domains) and their edits,
 * the Security settings and the black/white rule edits, the DKIM signing keys
 * of the snapshot (checks, replace, remove, sharing, no private key shown). */
#include "config.h"

#include <string.h>

#include "relais-config.h"
#include "relais-error.h"

/* A parsed a{sv}, a full reference (the calls given it only borrow it). */
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
  g_assert_cmpuint (c->max_sessions, ==, 5000);
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
  g_autoptr (GVariant) update =
    changes ("{'MaxRecipients': <uint32 2>, 'Hostname': <'MX.Example.ORG'>, 'Banner': <'Hi there'>, "
             "'ExternalAdministrators': <['admin@Example.ORG']>, 'DisableAutoForward': <true>, "
             "'IdleTimeout': <uint32 5>, 'MaxSessions': <uint32 20000>}");
  g_autoptr (RelaisConfig) next = relais_config_apply_general (base, update, &error);

  g_assert_no_error (error);
  g_assert_nonnull (next);
  g_assert_cmpuint (next->max_recipients, ==, 2);
  g_assert_cmpstr (next->hostname, ==, "mx.example.org");
  g_assert_cmpstr (next->banner, ==, "Hi there");
  g_assert_cmpstr (next->external_administrators[0], ==, "admin@example.org");
  g_assert_true (next->disable_auto_forward);
  g_assert_cmpuint (next->idle_timeout, ==, 5);
  g_assert_cmpuint (next->max_sessions, ==, 20000);
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
    { "{'MaxSessions': <uint32 0>}", "MaxSessions" },
    { "{'MaxSessions': <uint32 1000001>}", "MaxSessions" },
    { "{'NoSuchThing': <true>}", "NoSuchThing" },
    /* one valid, one invalid: refused whole */
    { "{'MaxHops': <uint32 7>, 'MaxRecipients': <uint32 0>}", "MaxRecipients" },
  };
  g_autoptr (RelaisConfig) base = relais_config_new_default ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) v = changes (cases[i].changes);
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
  g_assert_cmpuint (g_variant_n_children (all), ==, 13);
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

/* ---------------------------------------------------------------- distribution */

/* Asserts that NEXT is NULL and ERROR a CODE error whose message starts with PREFIX. */
static void
assert_refused (RelaisConfig *next, GError **error, int code, const char *prefix)
{
  g_assert_null (next);
  g_assert_error (*error, RELAIS_ERROR, code);
  if (!g_str_has_prefix ((*error)->message, prefix))
    g_error ("error '%s' does not start with '%s'", (*error)->message, prefix);
  g_clear_error (error);
}

/* A floating a{sv}, consumed by the call it is passed to (no text here holds a '%'). */
static GVariant *
floating (const char *text)
{
  return g_variant_new_parsed (text);
}

static RelaisConfig *
apply_dist (const RelaisConfig *base, const char *text, GError **error)
{
  return relais_config_apply_distribution (base, floating (text), error);
}

static void
test_distribution_defaults (void)
{
  g_autoptr (RelaisConfig) c = relais_config_new_default ();
  g_autoptr (GVariant) all = relais_config_distribution_to_variant (c);
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) same = relais_config_apply_distribution (c, all, &error);
  g_autoptr (GVariant) again = NULL;

  g_assert_cmpint (c->distribution_mode, ==, RELAIS_DISTRIBUTION_DIRECT);
  g_assert_cmpstr (c->relay_host->name, ==, "");
  g_assert_cmpstr (c->relay_host->server, ==, "");
  g_assert_cmpuint (c->relay_host->port, ==, 25);
  g_assert_false (c->relay_host->always_tls);
  g_assert_false (c->relay_host->authentication);
  g_assert_cmpuint (c->relay_hosts->len, ==, 0);
  g_assert_cmpuint (c->relay_rules->len, ==, 0);
  g_assert_null (relais_config_route_remote (c, "a@example.org", "b@example.net"));
  g_assert_cmpstr (relais_distribution_mode_to_string (RELAIS_DISTRIBUTION_RELAY_HOSTS), ==, "relay-hosts");
  g_assert_cmpstr (relais_rule_kind_to_string (RELAIS_RULE_SENDER), ==, "sender");

  /* the store's form reads back as the same settings */
  g_assert_no_error (error);
  again = relais_config_distribution_to_variant (same);
  g_assert_true (g_variant_equal (all, again));
  g_assert_cmpuint (g_variant_n_children (all), ==, 7);
}

static void
test_distribution_valid (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) c1 = apply_dist (
    base,
    "{'Mode': <'relay-host'>, 'RelayServer': <'SMTP.Example.ORG'>, 'RelayPort': <uint32 587>, "
    "'RelayAlwaysTls': <true>, 'RelayAuthentication': <true>, 'RelayUsername': <'relais'>, "
    "'RelayPassword': <'s3cret pass'>}",
    &error);
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  g_autoptr (RelaisConfig) c4 = NULL;
  g_autoptr (RelaisConfig) c5 = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (c1->distribution_mode, ==, RELAIS_DISTRIBUTION_RELAY_HOST);
  g_assert_cmpstr (c1->relay_host->server, ==, "smtp.example.org");
  g_assert_cmpuint (c1->relay_host->port, ==, 587);
  g_assert_true (c1->relay_host->always_tls);
  g_assert_true (c1->relay_host->authentication);
  g_assert_cmpstr (c1->relay_host->username, ==, "relais");
  g_assert_cmpstr (c1->relay_host->password, ==, "s3cret pass");
  g_assert_true (relais_config_route_remote (c1, "", "x@example.net") == c1->relay_host);
  /* the base snapshot is untouched */
  g_assert_cmpint (base->distribution_mode, ==, RELAIS_DISTRIBUTION_DIRECT);
  g_assert_cmpstr (base->relay_host->server, ==, "");

  /* the stored password is kept when authentication is turned off and on again */
  c2 = apply_dist (c1, "{'RelayAuthentication': <false>}", &error);
  g_assert_no_error (error);
  c3 = apply_dist (c2, "{'RelayAuthentication': <true>, 'RelayServer': <'192.0.2.25'>}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c3->relay_host->password, ==, "s3cret pass");
  g_assert_cmpstr (c3->relay_host->server, ==, "192.0.2.25");

  /* IPv6 literal; back to direct: the server may then be emptied */
  c4 = apply_dist (c3, "{'RelayServer': <'2001:DB8::25'>, 'Mode': <'direct'>}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c4->relay_host->server, ==, "2001:db8::25");
  g_assert_null (relais_config_route_remote (c4, "a@example.org", "b@example.net"));
  c5 = apply_dist (c4, "{'RelayServer': <''>, 'RelayAuthentication': <false>, 'RelayPassword': <''>}",
                   &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c5->relay_host->server, ==, "");
  g_assert_cmpstr (c5->relay_host->password, ==, "");
}

static void
test_distribution_invalid (void)
{
  const struct { const char *changes; const char *prefix; } cases[] = {
    { "{'Mode': <'smart'>}", "Mode" },
    { "{'Mode': <uint32 1>}", "Mode" },
    { "{'RelayServer': <'bad_host.example'>}", "RelayServer" },
    { "{'RelayServer': <'two words'>}", "RelayServer" },
    { "{'RelayPort': <uint32 0>}", "RelayPort" },
    { "{'RelayPort': <uint32 65536>}", "RelayPort" },
    { "{'RelayPort': <'25'>}", "RelayPort" },
    { "{'RelayAlwaysTls': <'yes'>}", "RelayAlwaysTls" },
    { "{'RelayUsername': <'two\\nlines'>}", "RelayUsername" },
    /* mode relay-host needs a server, relay-hosts a host */
    { "{'Mode': <'relay-host'>}", "RelayServer" },
    { "{'Mode': <'relay-hosts'>}", "Mode" },
    /* authentication needs a user name and a password */
    { "{'RelayAuthentication': <true>, 'RelayPassword': <'pw'>}", "RelayUsername" },
    { "{'RelayAuthentication': <true>, 'RelayUsername': <'u'>}", "RelayPassword" },
    /* read-only or unknown */
    { "{'RelayPasswordSet': <true>}", "RelayPasswordSet" },
    { "{'Hostname': <'mx.example.org'>}", "Hostname" },
    /* one valid, one invalid: refused whole */
    { "{'RelayPort': <uint32 587>, 'RelayServer': <'-bad'>}", "RelayServer" },
  };
  g_autoptr (RelaisConfig) base = relais_config_new_default ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].changes);
      assert_refused (apply_dist (base, cases[i].changes, &error), &error,
                      RELAIS_ERROR_INVALID_ARGUMENT, cases[i].prefix);
    }
  g_assert_cmpuint (base->relay_host->port, ==, 25);

  /* a relay-host config cannot lose its server */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (RelaisConfig) c = apply_dist (base, "{'Mode': <'relay-host'>, 'RelayServer': <'mx.isp.example'>}",
                                             &error);
    g_assert_no_error (error);
    assert_refused (apply_dist (c, "{'RelayServer': <''>}", &error), &error,
                    RELAIS_ERROR_INVALID_ARGUMENT, "RelayServer");
  }
}

static RelaisConfig *
add_host (const RelaisConfig *base, const char *name, const char *fields, GError **error)
{
  return relais_config_add_relay_host (base, name, floating (fields), error);
}

static void
test_relay_hosts (void)
{
  g_autoptr (RelaisConfig) c0 = relais_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) c1 = add_host (c0, "office", "{'Server': <'Smtp.Office.Example'>}", &error);
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  g_autoptr (RelaisConfig) c4 = NULL;
  g_autoptr (RelaisConfig) c5 = NULL;
  g_autofree char *long_name = g_strnfill (65, 'x');
  const RelaisRelayHost *h;

  g_assert_no_error (error);
  h = relais_config_lookup_relay_host (c1, "office");
  g_assert_nonnull (h);
  g_assert_cmpstr (h->server, ==, "smtp.office.example");
  g_assert_cmpuint (h->port, ==, 25);
  g_assert_false (h->authentication);
  g_assert_cmpuint (c0->relay_hosts->len, ==, 0);

  c2 = add_host (c1, "Brussels ISP",
                 "{'Server': <'198.51.100.7'>, 'Port': <uint32 465>, 'AlwaysTls': <true>, "
                 "'Authentication': <true>, 'Username': <'bx'>, 'Password': <'pw'>}",
                 &error);
  g_assert_no_error (error);
  /* sorted by name */
  g_assert_cmpstr (((RelaisRelayHost *) c2->relay_hosts->pdata[0])->name, ==, "Brussels ISP");
  g_assert_cmpstr (((RelaisRelayHost *) c2->relay_hosts->pdata[1])->name, ==, "office");
  h = relais_config_lookup_relay_host (c2, "Brussels ISP");
  g_assert_cmpuint (h->port, ==, 465);
  g_assert_true (h->always_tls);
  g_assert_cmpstr (h->password, ==, "pw");

  /* bad additions */
  assert_refused (add_host (c2, "OFFICE", "{'Server': <'a.example'>}", &error), &error,
                  RELAIS_ERROR_EXISTS, "Name");
  assert_refused (add_host (c2, "", "{'Server': <'a.example'>}", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (add_host (c2, long_name, "{'Server': <'a.example'>}", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (add_host (c2, "tab\there", "{'Server': <'a.example'>}", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (add_host (c2, " lead", "{'Server': <'a.example'>}", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (add_host (c2, "x", "@a{sv} {}", &error), &error, RELAIS_ERROR_INVALID_ARGUMENT,
                  "Server");
  assert_refused (add_host (c2, "x", "{'Server': <'a.example'>, 'Port': <uint32 70000>}", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Port");
  assert_refused (add_host (c2, "x", "{'Server': <'a.example'>, 'Authentication': <true>, "
                                     "'Username': <'u'>}", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Password");
  assert_refused (add_host (c2, "x", "{'Server': <'a.example'>, 'Name': <'y'>}", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (add_host (c2, "x", "{'Server': <'a.example'>, 'Colour': <'red'>}", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Colour");

  /* update: the password is kept, a rename carries the rules along */
  c3 = relais_config_add_relay_rule (c2, 0, "recipient", "office", (const char *[]){ "office.example", NULL },
                                     NULL, &error);
  g_assert_no_error (error);
  c4 = relais_config_update_relay_host (
    c3, "Brussels ISP", floating ("{'Name': <'brussels'>, 'Port': <uint32 587>, 'Authentication': <true>}"),
    &error);
  g_assert_no_error (error);
  g_assert_null (relais_config_lookup_relay_host (c4, "Brussels ISP"));
  h = relais_config_lookup_relay_host (c4, "brussels");
  g_assert_cmpuint (h->port, ==, 587);
  g_assert_cmpstr (h->password, ==, "pw");
  g_clear_pointer (&c4, relais_config_unref);
  c4 = relais_config_update_relay_host (c3, "office", floating ("{'Name': <'zurich'>}"), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (((RelaisRelayRule *) c4->relay_rules->pdata[0])->host, ==, "zurich");
  g_assert_cmpstr (((RelaisRelayHost *) c4->relay_hosts->pdata[1])->name, ==, "zurich");
  assert_refused (relais_config_update_relay_host (c4, "zurich", floating ("{'Name': <'BRUSSELS ISP'>}"),
                                                   &error),
                  &error, RELAIS_ERROR_EXISTS, "Name");
  assert_refused (relais_config_update_relay_host (c4, "zurich", floating ("{'Server': <''>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Server");
  assert_refused (relais_config_update_relay_host (c4, "nowhere", floating ("{'Port': <uint32 26>}"),
                                                   &error),
                  &error, RELAIS_ERROR_NOT_FOUND, "name");

  /* a host in use cannot be removed; the message names the rule */
  assert_refused (relais_config_remove_relay_host (c4, "zurich", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "name: relay host 'zurich' is used by rule 1");
  assert_refused (relais_config_remove_relay_host (c4, "nowhere", &error), &error, RELAIS_ERROR_NOT_FOUND,
                  "name");
  c5 = relais_config_remove_relay_host (c4, "Brussels ISP", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c5->relay_hosts->len, ==, 1);

  /* mode relay-hosts keeps at least one host */
  {
    g_autoptr (RelaisConfig) m = apply_dist (c1, "{'Mode': <'relay-hosts'>}", &error);
    g_assert_no_error (error);
    assert_refused (relais_config_remove_relay_host (m, "office", &error), &error,
                    RELAIS_ERROR_INVALID_ARGUMENT, "Mode");
  }
}

static void
test_relay_rules (void)
{
  g_autoptr (RelaisConfig) c0 = relais_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) c1 = add_host (c0, "a", "{'Server': <'a.example'>}", &error);
  g_autoptr (RelaisConfig) c2 = add_host (c1, "b", "{'Server': <'b.example'>}", &error);
  g_autoptr (RelaisConfig) c3 = NULL;
  g_autoptr (RelaisConfig) c4 = NULL;
  g_autoptr (RelaisConfig) c5 = NULL;
  g_autoptr (RelaisConfig) c6 = NULL;
  g_autoptr (RelaisConfig) c7 = NULL;
  const char *p1[] = { "Example.ORG", "Boss@Example.NET", NULL };
  const char *p2[] = { "example.com", NULL };
  const char *none[] = { NULL };
  const char *bad[] = { "not an address", NULL };
  const char *twice[] = { "example.org", "EXAMPLE.org", NULL };
  const RelaisRelayRule *r;
  guint id1 = 0, id2 = 0, id3 = 0;

  g_assert_no_error (error);
  c3 = relais_config_add_relay_rule (c2, 0, "recipient", "a", p1, &id1, &error);
  g_assert_no_error (error);
  c4 = relais_config_add_relay_rule (c3, 0, "sender", "b", p2, &id2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (id1, ==, 1);
  g_assert_cmpuint (id2, ==, 2);
  r = relais_config_lookup_relay_rule (c4, id1);
  g_assert_cmpint (r->kind, ==, RELAIS_RULE_RECIPIENT);
  g_assert_cmpstr (r->host, ==, "a");
  /* domains lower-cased, local parts kept */
  g_assert_cmpstr (r->patterns[0], ==, "example.org");
  g_assert_cmpstr (r->patterns[1], ==, "Boss@example.net");

  assert_refused (relais_config_add_relay_rule (c4, 0, "both", "a", p2, NULL, &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Kind");
  assert_refused (relais_config_add_relay_rule (c4, 0, "sender", "c", p2, NULL, &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Host");
  assert_refused (relais_config_add_relay_rule (c4, 0, "sender", "a", none, NULL, &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Patterns");
  assert_refused (relais_config_add_relay_rule (c4, 0, "sender", "a", bad, NULL, &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Patterns");
  assert_refused (relais_config_add_relay_rule (c4, 0, "sender", "a", twice, NULL, &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Patterns");
  assert_refused (relais_config_add_relay_rule (c4, id1, "sender", "a", p2, NULL, &error), &error,
                  RELAIS_ERROR_EXISTS, "id");

  /* update */
  c5 = relais_config_update_relay_rule (c4, id1, floating ("{'Kind': <'sender'>, 'Host': <'b'>, "
                                                          "'Patterns': <['x@example.org']>}"),
                                        &error);
  g_assert_no_error (error);
  r = relais_config_lookup_relay_rule (c5, id1);
  g_assert_cmpint (r->kind, ==, RELAIS_RULE_SENDER);
  g_assert_cmpstr (r->host, ==, "b");
  g_assert_cmpstr (r->patterns[0], ==, "x@example.org");
  g_assert_null (r->patterns[1]);
  assert_refused (relais_config_update_relay_rule (c4, id1, floating ("{'Host': <'zz'>}"), &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Host");
  assert_refused (relais_config_update_relay_rule (c4, id1, floating ("{'Patterns': <'example.org'>}"),
                                                   &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Patterns");
  assert_refused (relais_config_update_relay_rule (c4, id1, floating ("{'Patterns': <@as []>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Patterns");
  assert_refused (relais_config_update_relay_rule (c4, id1, floating ("{'Position': <uint32 0>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Position");
  assert_refused (relais_config_update_relay_rule (c4, 99, floating ("{'Kind': <'sender'>}"), &error),
                  &error, RELAIS_ERROR_NOT_FOUND, "id");

  /* move */
  c6 = relais_config_move_relay_rule (c4, id2, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (((RelaisRelayRule *) c6->relay_rules->pdata[0])->id, ==, id2);
  g_assert_cmpuint (((RelaisRelayRule *) c6->relay_rules->pdata[1])->id, ==, id1);
  g_assert_cmpuint (((RelaisRelayRule *) c4->relay_rules->pdata[0])->id, ==, id1);
  assert_refused (relais_config_move_relay_rule (c4, id2, 2, &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "position");
  assert_refused (relais_config_move_relay_rule (c4, 99, 0, &error), &error, RELAIS_ERROR_NOT_FOUND, "id");

  /* remove; ids are not reused while a higher one exists */
  c7 = relais_config_remove_relay_rule (c6, id1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c7->relay_rules->len, ==, 1);
  assert_refused (relais_config_remove_relay_rule (c7, id1, &error), &error, RELAIS_ERROR_NOT_FOUND, "id");
  {
    g_autoptr (RelaisConfig) c8 = relais_config_add_relay_rule (c7, 0, "recipient", "a", p2, &id3, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (id3, ==, 3);
    /* the last rule of the list */
    g_assert_cmpuint (((RelaisRelayRule *) c8->relay_rules->pdata[1])->id, ==, 3);
  }
}

static void
test_route_remote (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) c = relais_config_new_default ();
  const char *const hosts[] = { "rcpt-domain", "rcpt-user", "sender-domain", "sender-user", "second" };
  struct {
    const char *kind, *host;
    const char *patterns[3];
  } rules[] = {
    { "sender", "sender-user", { "Boss@corp.example", NULL } },
    { "recipient", "rcpt-user", { "Vip@partner.example", NULL } },
    { "sender", "sender-domain", { "corp.example", NULL } },
    { "recipient", "rcpt-domain", { "partner.example", "other.example" } },
    /* never reached: an earlier rule of the same kind matches first */
    { "recipient", "second", { "partner.example", NULL } },
  };
  const struct { const char *sender, *recipient, *host; } cases[] = {
    /* recipient rules win over sender rules */
    { "boss@corp.example", "vip@partner.example", "rcpt-domain" },
    { "Boss@corp.example", "Vip@partner.example", "rcpt-user" },
    { "Boss@CORP.EXAMPLE", "anyone@Partner.Example", "rcpt-domain" },
    { "Boss@corp.example", "x@other.example", "rcpt-domain" },
    /* local part exact, domain in any case */
    { "Boss@Corp.Example", "x@elsewhere.example", "sender-user" },
    { "boss@corp.example", "x@elsewhere.example", "sender-domain" },
    { "someone@corp.example", "x@elsewhere.example", "sender-domain" },
    /* a domain pattern is exactly that domain, not its subdomains */
    { "a@sub.corp.example", "x@sub.partner.example", NULL },
    { "a@corp.example.net", "x@elsewhere.example", NULL },
    /* the null sender matches no sender rule */
    { "", "x@elsewhere.example", NULL },
    { "", "x@partner.example", "rcpt-domain" },
    /* nothing matches: direct */
    { "a@home.example", "b@elsewhere.example", NULL },
    { "not-an-address", "also-not", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      g_autofree char *fields = g_strdup_printf ("{'Server': <'%s.example'>}", hosts[i]);
      RelaisConfig *next = add_host (c, hosts[i], fields, &error);
      g_assert_no_error (error);
      relais_config_unref (c);
      c = next;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      RelaisConfig *next = relais_config_add_relay_rule (c, 0, rules[i].kind, rules[i].host,
                                                         rules[i].patterns, NULL, &error);
      g_assert_no_error (error);
      relais_config_unref (c);
      c = next;
    }

  /* rules only count in mode relay-hosts */
  g_assert_null (relais_config_route_remote (c, "boss@corp.example", "vip@partner.example"));
  {
    RelaisConfig *next = apply_dist (c, "{'Mode': <'relay-hosts'>}", &error);
    g_assert_no_error (error);
    relais_config_unref (c);
    c = next;
  }
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const RelaisRelayHost *h = relais_config_route_remote (c, cases[i].sender, cases[i].recipient);

      g_test_message ("%s -> %s", cases[i].sender, cases[i].recipient);
      g_assert_cmpstr (h ? h->name : NULL, ==, cases[i].host);
    }

  /* moving a rule changes the answer */
  {
    g_autoptr (RelaisConfig) moved = relais_config_move_relay_rule (c, 5, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (relais_config_route_remote (moved, "a@b.example", "x@partner.example")->name, ==,
                     "second");
  }
}

static void
test_trusted_networks (void)
{
  g_autoptr(RelaisConfig) config = relais_config_new_default ();
  const char *good[][2] = {
    { "192.0.2.7", "192.0.2.7" }, { "192.0.2.0/24", "192.0.2.0/24" },
    { "2001:DB8::/32", "2001:db8::/32" }, { "::1", "::1" }, { "0.0.0.0/0", "0.0.0.0/0" },
  };
  const char *bad[] = { "", "192.0.2.1/24", "192.0.2.0/33", "example.org", "192.0.2", "2001:db8::/129",
                        "192.0.2.0/", "/24", "192.0.2.0/24x" };
  struct { const char *address; const char *name; } matches[] = {
    { "192.0.2.77", "lan" }, { "192.0.3.1", NULL }, { "2001:db8:1::5", "v6" }, { "2001:db9::1", NULL },
    { "198.51.100.9", "host" }, { "198.51.100.10", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaisTrustedNetwork) entry = relais_trusted_network_new ("x", good[i][0], &error);

      g_assert_no_error (error);
      g_assert_cmpstr (entry->network, ==, good[i][1]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaisTrustedNetwork) entry = relais_trusted_network_new ("x", bad[i], &error);

      g_test_message ("network '%s'", bad[i]);
      g_assert_null (entry);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, bad[i]));
    }

  g_ptr_array_add (config->trusted_networks, relais_trusted_network_new ("lan", "192.0.2.0/24", NULL));
  g_ptr_array_add (config->trusted_networks, relais_trusted_network_new ("v6", "2001:db8::/32", NULL));
  g_ptr_array_add (config->trusted_networks, relais_trusted_network_new ("host", "198.51.100.9", NULL));
  for (guint i = 0; i < G_N_ELEMENTS (matches); i++)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (matches[i].address);
      const RelaisTrustedNetwork *entry = relais_config_match_trusted (config, address);

      g_assert_cmpstr (entry != NULL ? entry->name : NULL, ==, matches[i].name);
    }

  /* copies are deep enough to outlive the original */
  {
    g_autoptr(RelaisConfig) copy = relais_config_copy (config);
    g_autoptr(GInetAddress) address = g_inet_address_new_from_string ("192.0.2.1");

    g_clear_pointer (&config, relais_config_unref);
    g_assert_cmpstr (relais_config_match_trusted (copy, address)->name, ==, "lan");
  }
}

static void
test_relay_domains_match (void)
{
  g_autoptr(RelaisConfig) config = relais_config_new_default ();

  g_ptr_array_add (config->relay_domains, relais_relay_domain_new ("branch", "Branch.Example.ORG"));
  g_assert_cmpstr (relais_config_match_relay_domain (config, "branch.example.org")->domain, ==,
                   "branch.example.org");
  g_assert_nonnull (relais_config_match_relay_domain (config, "BRANCH.example.org"));
  g_assert_null (relais_config_match_relay_domain (config, "sub.branch.example.org"));
  g_assert_null (relais_config_match_relay_domain (config, "example.org"));
}

static const char *
trusted_name (const RelaisConfig *c, guint i)
{
  return ((RelaisTrustedNetwork *) c->trusted_networks->pdata[i])->name;
}

static const char *
trusted_network (const RelaisConfig *c, guint i)
{
  return ((RelaisTrustedNetwork *) c->trusted_networks->pdata[i])->network;
}

static void
test_trusted_network_edits (void)
{
  g_autoptr (RelaisConfig) c0 = relais_config_new_default ();
  g_autoptr (RelaisConfig) c1 = NULL;
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  g_autoptr (RelaisConfig) c4 = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *long_name = g_strnfill (65, 'x');
  g_autofree char *max_name = g_strnfill (64, 'x');

  c1 = relais_config_add_trusted_network (c0, "office lan", "192.0.2.0/24", &error);
  g_assert_no_error (error);
  c2 = relais_config_add_trusted_network (c1, "Branch v6", "2001:DB8:0::/32", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c0->trusted_networks->len, ==, 0);
  /* sorted by name, networks in canonical form */
  g_assert_cmpuint (c2->trusted_networks->len, ==, 2);
  g_assert_cmpstr (trusted_name (c2, 0), ==, "Branch v6");
  g_assert_cmpstr (trusted_network (c2, 0), ==, "2001:db8::/32");
  g_assert_cmpstr (trusted_name (c2, 1), ==, "office lan");
  {
    g_autoptr (GInetAddress) inside = g_inet_address_new_from_string ("192.0.2.200");
    g_assert_cmpstr (relais_config_match_trusted (c2, inside)->name, ==, "office lan");
  }
  {
    g_autoptr (RelaisConfig) longest = relais_config_add_trusted_network (c2, max_name, "::1", &error);
    g_assert_no_error (error);
  }

  /* every refused addition names its field */
  assert_refused (relais_config_add_trusted_network (c2, "", "192.0.2.9", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: a trusted network name must be 1 to 64");
  assert_refused (relais_config_add_trusted_network (c2, long_name, "192.0.2.9", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (relais_config_add_trusted_network (c2, " lead", "192.0.2.9", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: ' lead' must not begin or end with a space");
  assert_refused (relais_config_add_trusted_network (c2, "trail ", "192.0.2.9", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (relais_config_add_trusted_network (c2, "tab\there", "192.0.2.9", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: 'tab\there' contains a character that is not printable");
  assert_refused (relais_config_add_trusted_network (c2, "OFFICE LAN", "192.0.2.9", &error), &error,
                  RELAIS_ERROR_EXISTS, "Name: a trusted network named 'office lan' already exists");
  assert_refused (relais_config_add_trusted_network (c2, "x", "10.0.0.1/8", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT,
                  "Network: '10.0.0.1/8' has host bits set after the prefix: write the network address, "
                  "10.0.0.0/8, or the single address, 10.0.0.1");
  assert_refused (relais_config_add_trusted_network (c2, "x", "2001:db8::1/32", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT,
                  "Network: '2001:db8::1/32' has host bits set after the prefix: write the network address, "
                  "2001:db8::/32");
  assert_refused (relais_config_add_trusted_network (c2, "x", "192.0.2.129/25", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Network: '192.0.2.129/25' has host bits set after the prefix: "
                  "write the network address, 192.0.2.128/25");
  assert_refused (relais_config_add_trusted_network (c2, "x", "300.1.2.3", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Network: '300.1.2.3' is not an IPv4 or IPv6 address");
  assert_refused (relais_config_add_trusted_network (c2, "x", "2001:db8::/200", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Network: '2001:db8::/200': the prefix length");
  assert_refused (relais_config_add_trusted_network (c2, "x", "", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Network: ''");
  /* the same network twice, however written: the message names the entry */
  assert_refused (relais_config_add_trusted_network (c2, "again", "2001:0db8::/32", &error), &error,
                  RELAIS_ERROR_EXISTS, "Network: 2001:db8::/32 is already trusted, as 'Branch v6'");
  assert_refused (relais_config_add_trusted_network (c2, "again", "192.0.2.0/24", &error), &error,
                  RELAIS_ERROR_EXISTS, "Network: 192.0.2.0/24 is already trusted, as 'office lan'");

  /* update: a rename re-sorts, the network alone, both together */
  c3 = relais_config_update_trusted_network (c2, "office lan", floating ("{'Name': <'Accounting'>}"), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (trusted_name (c3, 0), ==, "Accounting");
  g_assert_cmpstr (trusted_network (c3, 0), ==, "192.0.2.0/24");
  g_assert_cmpstr (trusted_name (c2, 1), ==, "office lan");  /* the base is untouched */
  c4 = relais_config_update_trusted_network (c3, "Accounting",
                                             floating ("{'Network': <'198.51.100.7/32'>, 'Name': <'accounting'>}"),
                                             &error);
  g_assert_no_error (error);
  g_assert_cmpstr (trusted_name (c4, 1), ==, "accounting");
  g_assert_cmpstr (trusted_network (c4, 1), ==, "198.51.100.7");
  {
    /* its own network and a change of case of its own name are no conflict */
    g_autoptr (RelaisConfig) same = relais_config_update_trusted_network (
      c4, "accounting", floating ("{'Network': <'198.51.100.7'>, 'Name': <'ACCOUNTING'>}"), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (trusted_name (same, 0), ==, "ACCOUNTING");
  }
  assert_refused (relais_config_update_trusted_network (c4, "accounting", floating ("{'Name': <'branch V6'>}"),
                                                        &error),
                  &error, RELAIS_ERROR_EXISTS, "Name: a trusted network named 'Branch v6' already exists");
  assert_refused (relais_config_update_trusted_network (c4, "accounting",
                                                        floating ("{'Network': <'2001:db8::/32'>}"), &error),
                  &error, RELAIS_ERROR_EXISTS, "Network: 2001:db8::/32 is already trusted, as 'Branch v6'");
  /* all or nothing: a good name with a bad network changes nothing */
  assert_refused (relais_config_update_trusted_network (c4, "accounting",
                                                        floating ("{'Name': <'new'>, 'Network': <'10.0.0.1/8'>}"),
                                                        &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Network");
  assert_refused (relais_config_update_trusted_network (c4, "accounting", floating ("{'Name': <''>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (relais_config_update_trusted_network (c4, "accounting", floating ("{'Network': <uint32 8>}"),
                                                        &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Network: expected a value of type 's'");
  assert_refused (relais_config_update_trusted_network (c4, "accounting", floating ("{'Domain': <'a.example'>}"),
                                                        &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT,
                  "Domain: no such trusted network field (use Name or Network)");
  assert_refused (relais_config_update_trusted_network (c4, "Accounting", floating ("@a{sv} {}"), &error),
                  &error, RELAIS_ERROR_NOT_FOUND, "name: no trusted network named 'Accounting'");
  assert_refused (relais_config_update_trusted_network (c4, "accounting", floating ("('Name', 'x')"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "changes");
  g_assert_cmpstr (trusted_network (c4, 1), ==, "198.51.100.7");

  /* remove */
  assert_refused (relais_config_remove_trusted_network (c4, "nowhere", &error), &error, RELAIS_ERROR_NOT_FOUND,
                  "name: no trusted network named 'nowhere'");
  g_clear_pointer (&c3, relais_config_unref);
  c3 = relais_config_remove_trusted_network (c4, "Branch v6", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c3->trusted_networks->len, ==, 1);
  g_assert_cmpstr (trusted_name (c3, 0), ==, "accounting");
  g_assert_cmpuint (c4->trusted_networks->len, ==, 2);
}

static void
test_relay_domain_edits (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (RelaisConfig) c0 = NULL;
  g_autoptr (RelaisConfig) c1 = NULL;
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  g_autoptr (GError) error = NULL;
  const RelaisRelayDomain *d;

  c0 = relais_config_add_local_domain (base, "example.org", &error);
  g_assert_no_error (error);
  c1 = relais_config_add_relay_domain (c0, "zurich", "Zurich.Example.NET", &error);
  g_assert_no_error (error);
  c2 = relais_config_add_relay_domain (c1, "Branch", "branch.example.org", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c2->relay_domains->len, ==, 2);
  d = c2->relay_domains->pdata[0];
  g_assert_cmpstr (d->name, ==, "Branch");
  g_assert_cmpstr (d->domain, ==, "branch.example.org");
  d = c2->relay_domains->pdata[1];
  g_assert_cmpstr (d->domain, ==, "zurich.example.net");
  g_assert_cmpstr (relais_config_match_relay_domain (c2, "ZURICH.example.net")->name, ==, "zurich");

  assert_refused (relais_config_add_relay_domain (c2, "", "a.example", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: a relay domain name must be 1 to 64");
  assert_refused (relais_config_add_relay_domain (c2, "x\ny", "a.example", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name");
  assert_refused (relais_config_add_relay_domain (c2, "ZURICH", "a.example", &error), &error, RELAIS_ERROR_EXISTS,
                  "Name: a relay domain named 'zurich' already exists");
  assert_refused (relais_config_add_relay_domain (c2, "x", "", &error), &error, RELAIS_ERROR_INVALID_ARGUMENT,
                  "Domain: '' is not a valid domain name");
  assert_refused (relais_config_add_relay_domain (c2, "x", "bad_domain.example", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Domain: 'bad_domain.example' is not a valid domain name");
  assert_refused (relais_config_add_relay_domain (c2, "x", "192.0.2.1", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Domain");
  assert_refused (relais_config_add_relay_domain (c2, "x", "user@a.example", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Domain");
  /* a local domain cannot be relayed, in any case */
  assert_refused (relais_config_add_relay_domain (c2, "x", "Example.ORG", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT,
                  "Domain: example.org is a local domain: its mail is delivered here");
  assert_refused (relais_config_add_relay_domain (c2, "x", "BRANCH.example.org", &error), &error,
                  RELAIS_ERROR_EXISTS, "Domain: branch.example.org is already a relay domain, as 'Branch'");
  /* ... nor a relay domain made local */
  assert_refused (relais_config_add_local_domain (c2, "Zurich.example.net", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT,
                  "domain: zurich.example.net is a relay domain (entry 'zurich' of Relay Control)");

  /* update */
  c3 = relais_config_update_relay_domain (c2, "zurich", floating ("{'Name': <'Alpha'>, 'Domain': <'Alpha.Example'>}"),
                                          &error);
  g_assert_no_error (error);
  d = c3->relay_domains->pdata[0];
  g_assert_cmpstr (d->name, ==, "Alpha");
  g_assert_cmpstr (d->domain, ==, "alpha.example");
  g_assert_null (relais_config_match_relay_domain (c3, "zurich.example.net"));
  {
    /* once not a relay domain, it may become local */
    g_autoptr (RelaisConfig) local = relais_config_add_local_domain (c3, "zurich.example.net", &error);
    g_assert_no_error (error);
  }
  assert_refused (relais_config_update_relay_domain (c3, "Alpha", floating ("{'Domain': <'example.org'>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Domain: example.org is a local domain");
  assert_refused (relais_config_update_relay_domain (c3, "Alpha", floating ("{'Domain': <'branch.example.org'>}"),
                                                     &error),
                  &error, RELAIS_ERROR_EXISTS, "Domain: branch.example.org is already a relay domain");
  assert_refused (relais_config_update_relay_domain (c3, "Alpha", floating ("{'Name': <'branch'>}"), &error),
                  &error, RELAIS_ERROR_EXISTS, "Name");
  assert_refused (relais_config_update_relay_domain (c3, "Alpha", floating ("{'Network': <'192.0.2.0/24'>}"),
                                                     &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Network: no such relay domain field (use Name or Domain)");
  assert_refused (relais_config_update_relay_domain (c3, "zurich", floating ("@a{sv} {}"), &error), &error,
                  RELAIS_ERROR_NOT_FOUND, "name: no relay domain named 'zurich'");
  {
    g_autoptr (RelaisConfig) same = relais_config_update_relay_domain (
      c3, "Alpha", floating ("{'Domain': <'ALPHA.example'>}"), &error);
    g_assert_no_error (error);
  }

  /* remove */
  assert_refused (relais_config_remove_relay_domain (c3, "zurich", &error), &error, RELAIS_ERROR_NOT_FOUND,
                  "name");
  g_clear_pointer (&c1, relais_config_unref);
  c1 = relais_config_remove_relay_domain (c3, "Branch", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c1->relay_domains->len, ==, 1);
  g_assert_null (relais_config_match_relay_domain (c1, "branch.example.org"));
}

static void
test_relay_control_limits (void)
{
  g_autoptr (RelaisConfig) c = relais_config_new_default ();
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *name = g_strdup_printf ("n%u", i);
      g_autofree char *network = g_strdup_printf ("10.%u.%u.0/24", i / 256, i % 256);
      g_autofree char *domain = g_strdup_printf ("d%u.example", i);

      g_ptr_array_add (c->trusted_networks, relais_trusted_network_new (name, network, NULL));
      g_ptr_array_add (c->relay_domains, relais_relay_domain_new (name, domain));
    }
  assert_refused (relais_config_add_trusted_network (c, "one more", "192.0.2.0/24", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: at most 1000 trusted networks are allowed");
  assert_refused (relais_config_add_relay_domain (c, "one more", "more.example", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: at most 1000 relay domains are allowed");
}

/* SPEC §4.6 defaults, and an all-or-nothing update naming the bad setting. */
static void
test_security_settings (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (RelaisConfig) next = NULL;
  g_autoptr (GVariant) dict = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder b;

  g_assert_true (base->reject_non_fqdn_sender);
  g_assert_false (base->reject_unknown_sender_domain);
  g_assert_false (base->reject_unknown_client_hostname);
  g_assert_true (base->limit_connections);
  g_assert_cmpuint (base->max_connections, ==, 50);
  g_assert_false (base->limit_message_rate);
  g_assert_cmpuint (base->max_messages_per_minute, ==, 60);
  g_assert_false (base->limit_connection_rate);
  g_assert_cmpuint (base->max_connections_per_minute, ==, 60);
  g_assert_true (base->reject_unauthorized_pipelining);
  g_assert_false (base->reject_non_fqdn_helo);
  g_assert_false (base->reject_unknown_helo);
  g_assert_false (base->block_nonexistent_recipients);
  g_assert_cmpuint (base->max_nonexistent_recipients, ==, 20);
  g_assert_cmpuint (base->max_junk_commands, ==, 100);
  g_assert_cmpuint (relais_rule_set_get_length (base->security_rules), ==, 0);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "LimitMessageRate", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "MaxMessagesPerMinute", g_variant_new_uint32 (5));
  next = relais_config_apply_security (base, g_variant_builder_end (&b), &error);
  g_assert_no_error (error);
  g_assert_true (next->limit_message_rate);
  g_assert_cmpuint (next->max_messages_per_minute, ==, 5);
  g_assert_false (base->limit_message_rate);

  dict = relais_config_security_to_variant (next);
  {
    g_autoptr (GVariant) limit = g_variant_lookup_value (dict, "LimitMessageRate", NULL);

    g_assert_nonnull (limit);
  }
  {
    guint n = 0;
    g_assert_true (g_variant_lookup (dict, "MaxMessagesPerMinute", "u", &n));
    g_assert_cmpuint (n, ==, 5);
  }
  g_clear_pointer (&next, relais_config_unref);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "RejectUnknownHelo", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "MaxJunkCommands", g_variant_new_uint32 (0));
  next = relais_config_apply_security (base, g_variant_builder_end (&b), &error);
  g_assert_null (next);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "MaxJunkCommands"));
  g_clear_error (&error);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "RejectNonFqdnSender", g_variant_new_string ("yes"));
  next = relais_config_apply_security (base, g_variant_builder_end (&b), &error);
  g_assert_null (next);
  g_assert_nonnull (strstr (error->message, "RejectNonFqdnSender"));
  g_clear_error (&error);

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "NoSuchThing", g_variant_new_boolean (TRUE));
  next = relais_config_apply_security (base, g_variant_builder_end (&b), &error);
  g_assert_null (next);
  g_assert_nonnull (strstr (error->message, "NoSuchThing"));
}

/* The rules of C as text: [('name', 'list', 'type', 'value', 'action'), ...]. */
static char *
rules_text (const RelaisConfig *c)
{
  g_autoptr (GVariant) rules = relais_config_security_rules_to_variant (c);

  return g_variant_print (rules, FALSE);
}

static void
assert_rules (const RelaisConfig *c, const char *expected)
{
  g_autofree char *text = rules_text (c);

  g_assert_cmpstr (text, ==, expected);
}

static RelaisConfig *
add_rule (const RelaisConfig *base, const char *name, const char *list, const char *type, const char *value,
          const char *action)
{
  g_autoptr (GError) error = NULL;
  RelaisConfig *next = relais_config_add_security_rule (base, name, list, type, value, action, &error);

  g_assert_no_error (error);
  g_assert_nonnull (next);
  return next;
}

/* Five rules, one of each type, in the order given. */
static RelaisConfig *
five_rules (void)
{
  g_autoptr (RelaisConfig) c0 = relais_config_new_default ();
  g_autoptr (RelaisConfig) c1 = add_rule (c0, "spammer", "black", "ip", "192.0.2.7", "reject");
  g_autoptr (RelaisConfig) c2 = add_rule (c1, "partner net", "white", "subnet", "198.51.100.0/255.255.255.0", "");
  g_autoptr (RelaisConfig) c3 = add_rule (c2, "Partner", "white", "domain", "Partner.EXAMPLE", "");
  g_autoptr (RelaisConfig) c4 = add_rule (c3, "junk sender", "black", "sender", "Junk@Spam.Example", "discard");

  return add_rule (c4, "élan", "black", "recipient", "old@example.org", "reject");
}

#define FIVE_RULES \
  "[('spammer', 'black', 'ip', '192.0.2.7', 'reject'), " \
  "('partner net', 'white', 'subnet', '198.51.100.0/24', ''), " \
  "('Partner', 'white', 'domain', 'partner.example', ''), " \
  "('junk sender', 'black', 'sender', 'Junk@spam.example', 'discard'), " \
  "('élan', 'black', 'recipient', 'old@example.org', 'reject')]"

static void
test_security_rule_add (void)
{
  g_autoptr (RelaisConfig) empty = relais_config_new_default ();
  g_autoptr (RelaisConfig) c = five_rules ();
  g_autoptr (GError) error = NULL;
  g_autofree char *long_name = g_strnfill (65, 'x');
  g_autofree char *max_name = g_strnfill (64, 'x');
  GInetAddress *client = g_inet_address_new_from_string ("198.51.100.20");

  assert_rules (empty, "[]");
  assert_rules (c, FIVE_RULES);
  /* the rule set matches with the new rules */
  g_assert_cmpstr (relais_rule_set_match_client (c->security_rules, RELAIS_RULE_LIST_WHITE, client)->name, ==,
                   "partner net");
  g_object_unref (client);
  g_assert_cmpstr (relais_rule_set_match_sender (c->security_rules, RELAIS_RULE_LIST_WHITE, "a@partner.example")->name,
                   ==, "Partner");
  {
    g_autoptr (RelaisConfig) longest = add_rule (c, max_name, "black", "ip", "::1", "reject");
    g_assert_cmpuint (relais_rule_set_get_length (longest->security_rules), ==, 6);
  }

  /* every field is checked, and named */
  assert_refused (relais_config_add_security_rule (c, "", "black", "ip", "192.0.2.1", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: a black/white rule name must be 1 to 64 characters long");
  assert_refused (relais_config_add_security_rule (c, long_name, "black", "ip", "192.0.2.1", "reject", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Name: a black/white rule name must be 1 to 64");
  assert_refused (relais_config_add_security_rule (c, "lead ", "black", "ip", "192.0.2.1", "reject", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Name: 'lead ' must not begin or end with a space");
  assert_refused (relais_config_add_security_rule (c, "x\ty", "black", "ip", "192.0.2.1", "reject", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Name: 'x\ty' contains a character that is not printable");
  assert_refused (relais_config_add_security_rule (c, "SPAMMER", "black", "ip", "192.0.2.1", "reject", &error),
                  &error, RELAIS_ERROR_EXISTS, "Name: a black/white rule named 'spammer' already exists");
  assert_refused (relais_config_add_security_rule (c, "ÉLAN", "white", "ip", "192.0.2.1", "", &error),
                  &error, RELAIS_ERROR_EXISTS, "Name: a black/white rule named 'élan' already exists");
  assert_refused (relais_config_add_security_rule (c, "x", "grey", "ip", "192.0.2.1", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "List: 'grey' is not a list: use black or white");
  assert_refused (relais_config_add_security_rule (c, "x", "Black", "ip", "192.0.2.1", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "List:");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "host", "192.0.2.1", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT,
                  "Type: 'host' is not a rule type: use ip, subnet, sender, recipient or domain");
  assert_refused (relais_config_add_security_rule (c, "x", "white", "ip", "192.0.2.1", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Action: only blacklist rules have an action");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "ip", "192.0.2.1", "", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Action: a blacklist rule needs an action: reject or discard");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "ip", "192.0.2.1", "drop", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Action: 'drop' is not an action: use reject or discard");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "domain", "spam.example", "reject", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Type: domain rules exist on the whitelist only");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "subnet", "10.0.0.1/8", "reject", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT,
                  "Value: '10.0.0.1/8' has host bits set after the prefix: write the network address, 10.0.0.0/8");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "subnet", "10.0.0.0/33", "reject", &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Value: '10.0.0.0/33': the prefix length");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "ip", "300.1.2.3", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Value: '300.1.2.3' is not one IPv4 or IPv6 address");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "sender", "nobody", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Value: 'nobody' is not a valid e-mail address");
  assert_refused (relais_config_add_security_rule (c, "x", "white", "domain", "bad..example", "", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Value: 'bad..example' is not a valid domain name");
  assert_refused (relais_config_add_security_rule (c, "x", "black", "ip", "", "reject", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Value: the value is empty");
  assert_refused (relais_config_add_security_rule (c, "x", NULL, NULL, NULL, NULL, &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "List: '' is not a list");
  /* nothing changed by the refusals */
  assert_rules (c, FIVE_RULES);
  assert_rules (empty, "[]");
}

static void
test_security_rule_update (void)
{
  g_autoptr (RelaisConfig) c = five_rules ();
  g_autoptr (RelaisConfig) c1 = NULL;
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  g_autoptr (GError) error = NULL;

  /* rename and change the value in one call; the place stays */
  c1 = relais_config_update_security_rule (c, "partner net",
                                           floating ("{'Name': <'Partner LAN'>, 'Value': <'2001:DB8::/32'>}"), &error);
  g_assert_no_error (error);
  {
    g_autoptr (GVariant) rules = relais_config_security_rules_to_variant (c1);
    g_autoptr (GVariant) rule = g_variant_get_child_value (rules, 1);
    g_autofree char *second = g_variant_print (rule, FALSE);
    g_assert_cmpstr (second, ==, "('Partner LAN', 'white', 'subnet', '2001:db8::/32', '')");
  }
  /* a new case of its own name is fine */
  c2 = relais_config_update_security_rule (c1, "spammer", floating ("{'Name': <'SPAMMER'>}"), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (relais_rule_set_get (c2->security_rules, 0)->name, ==, "SPAMMER");
  /* to the whitelist: the action goes unless one is given */
  c3 = relais_config_update_security_rule (c2, "SPAMMER", floating ("{'List': <'white'>}"), &error);
  g_assert_no_error (error);
  {
    g_autoptr (GVariant) rules = relais_config_security_rules_to_variant (c3);
    g_autoptr (GVariant) rule = g_variant_get_child_value (rules, 0);
    g_autofree char *first = g_variant_print (rule, FALSE);
    g_assert_cmpstr (first, ==, "('SPAMMER', 'white', 'ip', '192.0.2.7', '')");
  }
  {
    GInetAddress *client = g_inet_address_new_from_string ("192.0.2.7");

    g_assert_nonnull (relais_rule_set_match_client (c3->security_rules, RELAIS_RULE_LIST_WHITE, client));
    g_assert_null (relais_rule_set_match_client (c3->security_rules, RELAIS_RULE_LIST_BLACK, client));
    g_assert_nonnull (relais_rule_set_match_client (c2->security_rules, RELAIS_RULE_LIST_BLACK, client));
    g_object_unref (client);
  }

  assert_refused (relais_config_update_security_rule (c2, "SPAMMER",
                                                      floating ("{'List': <'white'>, 'Action': <'reject'>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Action: only blacklist rules have an action");
  assert_refused (relais_config_update_security_rule (c2, "Partner",
                                                      floating ("{'List': <'black'>, 'Action': <'reject'>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Type: domain rules exist on the whitelist only");
  assert_refused (relais_config_update_security_rule (c2, "Partner LAN", floating ("{'List': <'black'>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Action: a blacklist rule needs an action");
  assert_refused (relais_config_update_security_rule (c2, "Partner LAN", floating ("{'Name': <'élan'>}"), &error),
                  &error, RELAIS_ERROR_EXISTS, "Name: a black/white rule named 'élan' already exists");
  assert_refused (relais_config_update_security_rule (c2, "Partner LAN", floating ("{'Name': <''>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Name:");
  assert_refused (relais_config_update_security_rule (c2, "Partner LAN", floating ("{'Type': <'ip'>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Value: '2001:db8::/32' is not one IPv4 or IPv6 address");
  assert_refused (relais_config_update_security_rule (c2, "Partner LAN", floating ("{'Value': <'10.0.0.1/8'>}"),
                                                      &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Value: '10.0.0.1/8' has host bits set");
  assert_refused (relais_config_update_security_rule (c2, "Partner LAN", floating ("{'Value': <uint32 8>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "Value: expected a value of type 's'");
  assert_refused (relais_config_update_security_rule (c2, "Partner LAN", floating ("{'Colour': <'red'>}"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT,
                  "Colour: no such black/white rule field (use Name, List, Type, Value or Action)");
  assert_refused (relais_config_update_security_rule (c2, "spammer", floating ("@a{sv} {}"), &error), &error,
                  RELAIS_ERROR_NOT_FOUND, "name: no black/white rule named 'spammer'");
  assert_refused (relais_config_update_security_rule (c2, "SPAMMER", floating ("('Name', 'x')"), &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "changes");
  /* the snapshots refused from are as they were */
  assert_rules (c, FIVE_RULES);
  g_assert_cmpstr (relais_rule_set_get (c2->security_rules, 0)->name, ==, "SPAMMER");
  g_assert_cmpint (relais_rule_set_get (c2->security_rules, 0)->list, ==, RELAIS_RULE_LIST_BLACK);
}

static const char *
rule_name (const RelaisConfig *c, guint i)
{
  return relais_rule_set_get (c->security_rules, i)->name;
}

static void
test_security_rule_remove_move (void)
{
  g_autoptr (RelaisConfig) c = five_rules ();
  g_autoptr (GError) error = NULL;
  const char *order[][5] = {
    /* move "Partner" (index 2) to 0, to 4, past the end, to 1 */
    { "Partner", "spammer", "partner net", "junk sender", "élan" },
    { "spammer", "partner net", "junk sender", "élan", "Partner" },
    { "spammer", "partner net", "junk sender", "élan", "Partner" },
    { "spammer", "Partner", "partner net", "junk sender", "élan" },
  };
  const guint positions[] = { 0, 4, 1000, 1 };

  for (guint k = 0; k < G_N_ELEMENTS (positions); k++)
    {
      g_autoptr (RelaisConfig) moved = relais_config_move_security_rule (c, "Partner", positions[k], &error);

      g_assert_no_error (error);
      for (guint i = 0; i < 5; i++)
        g_assert_cmpstr (rule_name (moved, i), ==, order[k][i]);
    }
  {
    /* the first matching rule follows the order */
    g_autoptr (RelaisConfig) a = add_rule (c, "net", "black", "subnet", "192.0.2.0/24", "discard");
    g_autoptr (RelaisConfig) b = relais_config_move_security_rule (a, "net", 0, &error);
    GInetAddress *client = g_inet_address_new_from_string ("192.0.2.7");

    g_assert_no_error (error);
    g_assert_cmpstr (relais_rule_set_match_client (a->security_rules, RELAIS_RULE_LIST_BLACK, client)->name, ==,
                     "spammer");
    g_assert_cmpstr (relais_rule_set_match_client (b->security_rules, RELAIS_RULE_LIST_BLACK, client)->name, ==,
                     "net");
    g_object_unref (client);
  }
  assert_refused (relais_config_move_security_rule (c, "partner", 0, &error), &error, RELAIS_ERROR_NOT_FOUND,
                  "name: no black/white rule named 'partner'");

  assert_refused (relais_config_remove_security_rule (c, "nothing", &error), &error, RELAIS_ERROR_NOT_FOUND,
                  "name: no black/white rule named 'nothing'");
  {
    g_autoptr (RelaisConfig) removed = relais_config_remove_security_rule (c, "partner net", &error);
    GInetAddress *client = g_inet_address_new_from_string ("198.51.100.20");

    g_assert_no_error (error);
    g_assert_cmpuint (relais_rule_set_get_length (removed->security_rules), ==, 4);
    g_assert_cmpstr (rule_name (removed, 1), ==, "Partner");
    g_assert_null (relais_rule_set_match_client (removed->security_rules, RELAIS_RULE_LIST_WHITE, client));
    g_object_unref (client);
  }
  assert_rules (c, FIVE_RULES);
}

static void
test_security_rule_replace (void)
{
  g_autoptr (RelaisConfig) c = five_rules ();
  g_autoptr (RelaisConfig) replaced = NULL;
  g_autoptr (RelaisConfig) cleared = NULL;
  g_autoptr (GError) error = NULL;

  replaced = relais_config_replace_security_rules (
    c, floating ("[('b', 'white', 'ip', '2001:DB8::1', ''), ('a', 'black', 'subnet', '10.0.0.0/8', 'discard')]"),
    &error);
  g_assert_no_error (error);
  assert_rules (replaced,
                "[('b', 'white', 'ip', '2001:db8::1', ''), ('a', 'black', 'subnet', '10.0.0.0/8', 'discard')]");
  cleared = relais_config_replace_security_rules (c, floating ("@a(sssss) []"), &error);
  g_assert_no_error (error);
  assert_rules (cleared, "[]");

  /* all or nothing; the error names the rule's index and name */
  assert_refused (relais_config_replace_security_rules (
                    c, floating ("[('ok', 'black', 'ip', '192.0.2.1', 'reject'),"
                                 " ('bad net', 'black', 'subnet', '10.0.0.1/8', 'reject')]"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT,
                  "rules[1] 'bad net': Value: '10.0.0.1/8' has host bits set");
  assert_refused (relais_config_replace_security_rules (
                    c, floating ("[('One', 'black', 'ip', '192.0.2.1', 'reject'),"
                                 " ('two', 'white', 'ip', '192.0.2.2', ''),"
                                 " ('ONE', 'white', 'ip', '192.0.2.3', '')]"), &error),
                  &error, RELAIS_ERROR_EXISTS, "rules[2] 'ONE': Name: the name is already used by rules[0] 'One'");
  assert_refused (relais_config_replace_security_rules (
                    c, floating ("[('w', 'white', 'sender', 'a@b.example', 'discard')]"), &error),
                  &error, RELAIS_ERROR_INVALID_ARGUMENT, "rules[0] 'w': Action: only blacklist rules have an action");
  assert_refused (relais_config_replace_security_rules (c, floating ("[('a', 'b')]"), &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "rules: expected a value of type 'a(sssss)'");
  assert_rules (c, FIVE_RULES);
}

/* The store's load: bad stored rules are skipped with a reason, never fatal. */
static void
test_security_rule_load (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (RelaisConfig) loaded = NULL;
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  loaded = relais_config_load_security_rules (
    base, floating ("[('a', 'black', 'ip', '192.0.2.1', 'reject'), ('b', 'black', 'domain', 'x.example', 'reject'),"
                    " ('A', 'white', 'ip', '192.0.2.2', ''), ('c', 'white', 'domain', 'x.example', '')]"),
    problems);
  assert_rules (loaded, "[('a', 'black', 'ip', '192.0.2.1', 'reject'), ('c', 'white', 'domain', 'x.example', '')]");
  g_assert_cmpuint (problems->len, ==, 2);
  g_assert_true (g_str_has_prefix (problems->pdata[0], "rules[1] 'b': Type: domain rules exist on the whitelist"));
  g_assert_true (g_str_has_prefix (problems->pdata[1], "rules[2] 'A': Name: the name is already used"));
}

/* 100,000 rules (the benchmark's size) are allowed, one more is not. */
static void
test_security_rule_limit (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (RelaisConfig) full = NULL;
  g_autoptr (RelaisConfig) fewer = NULL;
  g_autoptr (RelaisConfig) again = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sssss)"));
  for (guint i = 0; i < RELAIS_CONFIG_MAX_SECURITY_RULES; i++)
    {
      g_autofree char *name = g_strdup_printf ("rule %u", i);
      g_autofree char *value = g_strdup_printf ("10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);

      g_variant_builder_add (&b, "(sssss)", name, "black", "ip", value, "reject");
    }
  full = relais_config_replace_security_rules (base, g_variant_builder_end (&b), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (relais_rule_set_get_length (full->security_rules), ==, 100000);
  assert_refused (relais_config_add_security_rule (full, "one more", "white", "ip", "192.0.2.1", "", &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "Name: at most 100000 black/white rules are allowed");
  assert_refused (relais_config_add_security_rule (full, "RULE 99999", "white", "ip", "192.0.2.1", "", &error),
                  &error, RELAIS_ERROR_EXISTS, "Name: a black/white rule named 'rule 99999' already exists");
  fewer = relais_config_remove_security_rule (full, "rule 0", &error);
  g_assert_no_error (error);
  again = add_rule (fewer, "last", "white", "ip", "192.0.2.1", "");
  g_assert_cmpstr (rule_name (again, 99999), ==, "last");
  {
    GInetAddress *client = g_inet_address_new_from_string ("10.1.134.159");   /* rule 100000 - 1 */

    g_assert_cmpstr (relais_rule_set_match_client (again->security_rules, RELAIS_RULE_LIST_BLACK, client)->name, ==,
                     "rule 99999");
    g_object_unref (client);
  }

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sssss)"));
  for (guint i = 0; i <= RELAIS_CONFIG_MAX_SECURITY_RULES; i++)
    g_variant_builder_add (&b, "(sssss)", "x", "black", "ip", "192.0.2.1", "reject");
  assert_refused (relais_config_replace_security_rules (base, g_variant_builder_end (&b), &error), &error,
                  RELAIS_ERROR_INVALID_ARGUMENT, "rules: 100001 rules given: at most 100000");
}

static void
test_security_rule_strings (void)
{
  RelaisRuleList list;
  RelaisRuleType type;
  RelaisRuleAction action;

  for (guint i = RELAIS_RULE_TYPE_IP; i <= RELAIS_RULE_TYPE_DOMAIN; i++)
    {
      g_assert_true (relais_rule_type_from_string (relais_rule_type_to_string (i), &type));
      g_assert_cmpint (type, ==, i);
    }
  g_assert_true (relais_rule_list_from_string ("white", &list));
  g_assert_cmpint (list, ==, RELAIS_RULE_LIST_WHITE);
  g_assert_cmpstr (relais_rule_list_to_string (RELAIS_RULE_LIST_BLACK), ==, "black");
  g_assert_true (relais_rule_action_from_string ("discard", &action));
  g_assert_cmpint (action, ==, RELAIS_RULE_ACTION_DISCARD);
  g_assert_cmpstr (relais_rule_action_to_string (RELAIS_RULE_ACTION_REJECT), ==, "reject");
  g_assert_false (relais_rule_list_from_string (NULL, &list));
  g_assert_false (relais_rule_type_from_string ("IP", &type));
  g_assert_false (relais_rule_action_from_string ("", &action));
  g_assert_cmpstr (relais_rule_type_to_string (42), ==, "");
}

/* ---------------------------------------------------------------- DKIM keys */

static char *
read_test_pem (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (RELAIS_TEST_SOURCE_DIR, "data", "dkim-rsa2048.pem", NULL);
  char *pem = NULL;

  g_assert_true (g_file_get_contents (path, &pem, NULL, &error));
  g_assert_no_error (error);
  return pem;
}

static void
assert_key_error (const char *domain, const char *selector, const char *pem, const char *pattern)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisDkimSigningKey) key = relais_dkim_signing_key_new (domain, selector, pem, 0, &error);

  g_assert_null (key);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  if (!g_pattern_match_simple (pattern, error->message))
    g_error ("'%s' does not match '%s'", error->message, pattern);
}

static void
test_dkim_key_checks (void)
{
  g_autofree char *pem = read_test_pem ();

  assert_key_error ("", "s1", pem, "Domain: give the sending domain*");
  assert_key_error ("localhost", "s1", pem, "Domain: 'localhost' is not a fully qualified domain name*");
  assert_key_error ("exa mple.org", "s1", pem, "Domain: *not a fully qualified*");
  assert_key_error ("bücher.example", "s1", pem, "Domain: *xn-- form*");
  assert_key_error ("example.org", "", pem, "Selector: *");
  assert_key_error ("example.org", "bad_selector", pem, "Selector: DKIM selector \"bad_selector\" is not valid*");
  assert_key_error ("example.org", "s1", "not a key", "Key: *PEM*");
}

static void
test_dkim_keys (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *pem = read_test_pem ();
  g_autoptr (RelaisConfig) c0 = relais_config_new_default ();
  g_autoptr (RelaisConfig) c1 = NULL;
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  g_autoptr (RelaisConfig) c4 = NULL;
  g_autoptr (RelaisConfig) c5 = NULL;
  g_autoptr (GVariant) shown = NULL;
  g_autoptr (GVariant) dkim_off = NULL;
  g_autofree char *text = NULL;
  const RelaisDkimSigningKey *key;
  RelaisDkimSigningKey *k;

  g_assert_true (c0->dkim_signing);
  g_assert_cmpuint (c0->dkim_keys->len, ==, 0);

  k = relais_dkim_signing_key_new ("Mail.Example.ORG", "s2026", pem, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (k->domain, ==, "mail.example.org");
  g_assert_cmpint (k->algorithm, ==, RELAIS_DKIM_RSA_SHA256);
  g_assert_true (g_str_has_prefix (k->record, "v=DKIM1; k=rsa; p=MIIB"));
  g_assert_nonnull (k->signer);
  c1 = relais_config_put_dkim_key (c0, k);
  g_assert_cmpuint (c0->dkim_keys->len, ==, 0);   /* the base is untouched */

  k = relais_dkim_signing_key_new ("a.example", "s1", pem, 101, &error);
  g_assert_no_error (error);
  c2 = relais_config_put_dkim_key (c1, k);
  g_assert_cmpuint (c2->dkim_keys->len, ==, 2);
  g_assert_cmpstr (((RelaisDkimSigningKey *) c2->dkim_keys->pdata[0])->domain, ==, "a.example");

  /* exact domain match, any case; no parent or subdomain match */
  key = relais_config_lookup_dkim_key (c2, "MAIL.example.org");
  g_assert_nonnull (key);
  g_assert_cmpstr (key->selector, ==, "s2026");
  g_assert_null (relais_config_lookup_dkim_key (c2, "example.org"));
  g_assert_null (relais_config_lookup_dkim_key (c2, "sub.mail.example.org"));
  g_assert_null (relais_config_lookup_dkim_key (c2, NULL));

  /* a new key for a domain replaces the old one; the signer is shared with
   * the snapshots the key list is copied to */
  k = relais_dkim_signing_key_new ("mail.example.org", "s2027", pem, 102, &error);
  g_assert_no_error (error);
  c3 = relais_config_put_dkim_key (c2, k);
  g_assert_cmpuint (c3->dkim_keys->len, ==, 2);
  g_assert_cmpstr (relais_config_lookup_dkim_key (c3, "mail.example.org")->selector, ==, "s2027");
  g_assert_cmpstr (relais_config_lookup_dkim_key (c2, "mail.example.org")->selector, ==, "s2026");
  g_assert_true (relais_config_lookup_dkim_key (c3, "a.example")->signer ==
                 relais_config_lookup_dkim_key (c2, "a.example")->signer);

  /* other edits share the list itself */
  dkim_off = changes ("{'DkimSigning': <false>}");
  c4 = relais_config_apply_security (c3, dkim_off, &error);
  g_assert_no_error (error);
  g_assert_false (c4->dkim_signing);
  g_assert_true (c4->dkim_keys == c3->dkim_keys);

  /* shown without the private key */
  shown = relais_config_dkim_keys_to_variant (c4);
  text = g_variant_print (shown, FALSE);
  g_assert_true (g_variant_is_of_type (shown, G_VARIANT_TYPE ("a(ssss)")));
  g_assert_true (g_str_has_prefix (text, "[('a.example', 's1', 'rsa-2048', 'v=DKIM1; k=rsa; p=MIIB"));
  g_assert_null (strstr (text, "PRIVATE"));
  g_assert_null (strstr (text, "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCQRTH273aNm"));

  /* remove */
  c5 = relais_config_remove_dkim_key (c4, "A.EXAMPLE", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c5->dkim_keys->len, ==, 1);
  g_assert_null (relais_config_remove_dkim_key (c5, "a.example", &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "domain: no DKIM key for 'a.example'");
  g_assert_cmpuint (c4->dkim_keys->len, ==, 2);
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
  g_test_add_func ("/relais/config/distribution-defaults", test_distribution_defaults);
  g_test_add_func ("/relais/config/distribution-valid", test_distribution_valid);
  g_test_add_func ("/relais/config/distribution-invalid", test_distribution_invalid);
  g_test_add_func ("/relais/config/relay-hosts", test_relay_hosts);
  g_test_add_func ("/relais/config/relay-rules", test_relay_rules);
  g_test_add_func ("/relais/config/route-remote", test_route_remote);
  g_test_add_func ("/relais/config/trusted-networks", test_trusted_networks);
  g_test_add_func ("/relais/config/relay-domains-match", test_relay_domains_match);
  g_test_add_func ("/relais/config/trusted-network-edits", test_trusted_network_edits);
  g_test_add_func ("/relais/config/relay-domain-edits", test_relay_domain_edits);
  g_test_add_func ("/relais/config/relay-control-limits", test_relay_control_limits);
  g_test_add_func ("/relais/config/security-settings", test_security_settings);
  g_test_add_func ("/relais/config/security-rule-add", test_security_rule_add);
  g_test_add_func ("/relais/config/security-rule-update", test_security_rule_update);
  g_test_add_func ("/relais/config/security-rule-remove-move", test_security_rule_remove_move);
  g_test_add_func ("/relais/config/security-rule-replace", test_security_rule_replace);
  g_test_add_func ("/relais/config/security-rule-load", test_security_rule_load);
  g_test_add_func ("/relais/config/security-rule-limit", test_security_rule_limit);
  g_test_add_func ("/relais/config/security-rule-strings", test_security_rule_strings);
  g_test_add_func ("/relais/config/dkim-key-checks", test_dkim_key_checks);
  g_test_add_func ("/relais/config/dkim-keys", test_dkim_keys);
  return g_test_run ();
}
