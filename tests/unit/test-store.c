/* SPDX-License-Identifier: GPL-3.0-or-later
 * Store: schema creation and version, settings/domains/accounts round trip,
 * a bad stored value falls back to its default, file mode 0600, a newer schema
 * is refused; the Distribution page round trip, its migration from a
 * version-2 database and its bad stored values; the same for Relay Control
 * (trusted networks, relay domains) from a version-3 database, and for
 * Security (settings, black/white rules) from a version-4 database; the DKIM
 * signing keys round trip, their migration from a version-6 database, a bad
 * stored key skipped, and the database and its WAL files kept 0600 (they hold
 * the private keys), even for a file that was created readable by others; the
 * audit trail: its migration from a version-7 database, rows written and
 * listed (since, max_entries, order), and trimmed by age and by count. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relais-error.h"
#include "relais-test-util.h"
#include "relais-store.h"

/* Warnings the daemon logs (structured logging bypasses g_test_expect_message). */
static GPtrArray *warnings;

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & G_LOG_LEVEL_WARNING)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE"))
        g_ptr_array_add (warnings, g_strdup (fields[i].value));
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return g_log_writer_default (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static gboolean
warned (const char *pattern)
{
  for (guint i = 0; i < warnings->len; i++)
    if (g_pattern_match_simple (pattern, warnings->pdata[i]))
      return TRUE;
  return FALSE;
}

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("relais-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "relais.db", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  relais_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static void
test_create (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) config = NULL;
  struct stat st;
  sqlite3 *db;
  sqlite3_stmt *stmt;

  g_assert_no_error (error);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  db = relais_store_lock (store);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, RELAIS_STORE_SCHEMA_VERSION);
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "wal");
  sqlite3_finalize (stmt);
  relais_store_unlock (store);

  config = relais_store_load_config (store, "mx.example.org", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->hostname, ==, "mx.example.org");
  g_assert_cmpuint (config->max_recipients, ==, 100);

  /* a non-FQDN default is not used */
  g_clear_pointer (&config, relais_config_unref);
  config = relais_store_load_config (store, "bare", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (config->hostname, !=, "bare");
}

static void
test_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) loaded = NULL;
  g_autoptr (RelaisConfig) c0 = relais_config_new_default ();
  g_autoptr (RelaisConfig) c1 = NULL;
  g_autoptr (RelaisConfig) c2 = NULL;
  g_autoptr (RelaisConfig) c3 = NULL;
  const char *aliases[] = { "al@example.org", NULL };
  const char *forwards[] = { "b@example.com", "a@example.com", NULL };
  RelaisAccount alice = { "alice", "$y$j9T$abc$def", (GStrv) aliases, (GStrv) forwards };

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    c1 = relais_config_apply_general (
      c0, g_variant_new_parsed ("{'MaxRecipients': <uint32 7>, 'Banner': <'Hello'>, "
                                "'ExternalAdministrators': <['root@example.org']>}"),
      &error);
    g_assert_no_error (error);
    g_assert_true (relais_store_save_general (store, c1, &error));
    c2 = relais_config_add_local_domain (c1, "example.org", &error);
    g_assert_no_error (error);
    g_assert_true (relais_store_add_local_domain (store, "example.org", &error));
    g_assert_true (relais_store_add_local_domain (store, "example.net", &error));
    g_assert_true (relais_store_remove_local_domain (store, "example.net", &error));
    c3 = relais_config_put_account (c2, &alice, TRUE, &error);
    g_assert_no_error (error);
    g_assert_true (relais_store_save_account (store, relais_config_lookup_login (c3, "alice"), &error));
    /* saving twice replaces, never duplicates */
    g_assert_true (relais_store_save_account (store, relais_config_lookup_login (c3, "alice"), &error));
    g_assert_no_error (error);
  }

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    const RelaisAccount *a;

    g_assert_no_error (error);
    loaded = relais_store_load_config (store, "mx.example.org", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (loaded->max_recipients, ==, 7);
    g_assert_cmpstr (loaded->banner, ==, "Hello");
    g_assert_cmpstr (loaded->external_administrators[0], ==, "root@example.org");
    g_assert_cmpuint (g_strv_length (loaded->local_domains), ==, 1);
    g_assert_cmpstr (loaded->local_domains[0], ==, "example.org");
    a = relais_config_lookup_address (loaded, "al@example.org");
    g_assert_nonnull (a);
    g_assert_cmpstr (a->login, ==, "alice");
    g_assert_cmpstr (a->password_hash, ==, "$y$j9T$abc$def");
    g_assert_cmpuint (g_strv_length (a->forwards), ==, 2);
    g_assert_cmpstr (a->forwards[0], ==, "b@example.com");   /* order kept */

    g_assert_true (relais_store_remove_account (store, "alice", &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (loaded->accounts->len, ==, 0);
  }
}

static void
test_bad_value (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) config = NULL;
  sqlite3 *db;

  g_assert_no_error (error);
  db = relais_store_lock (store);
  g_assert_cmpint (sqlite3_exec (db,
                                 "INSERT INTO settings VALUES ('MaxRecipients', 'uint32 0');"
                                 "INSERT INTO settings VALUES ('MaxHops', 'garbage(');"
                                 "INSERT INTO settings VALUES ('Banner', '''kept''');",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  relais_store_unlock (store);

  g_ptr_array_set_size (warnings, 0);
  config = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 2);
  g_assert_true (warned ("*MaxRecipients*out of range*"));
  g_assert_true (warned ("*MaxHops*unreadable*"));
  g_assert_cmpuint (config->max_recipients, ==, 100);
  g_assert_cmpuint (config->max_hops, ==, 50);
  g_assert_cmpstr (config->banner, ==, "kept");
}

static void
test_newer_schema (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store), "PRAGMA user_version = 99", NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  g_assert_null (relais_store_open (f->path, &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "newer"));
}

static RelaisConfig *
take (RelaisConfig *next, GError *error)
{
  g_assert_no_error (error);
  g_assert_nonnull (next);
  return next;
}

/* The first column of the first row of SQL, or FALSE when there is no row. */
static gboolean
db_query_text (RelaisStore *store, const char *sql, char **out)
{
  sqlite3 *db = relais_store_lock (store);
  sqlite3_stmt *stmt = NULL;
  gboolean found;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  found = sqlite3_step (stmt) == SQLITE_ROW;
  if (found && out)
    *out = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  relais_store_unlock (store);
  return found;
}

static void
step (RelaisConfig **config, RelaisConfig *next, GError *error)
{
  take (next, error);
  relais_config_unref (*config);
  *config = next;
}

/* A Distribution page with every kind of value: single host with a password,
 * two hosts, two rules (moved), mode relay-hosts. */
static RelaisConfig *
distribution_config (void)
{
  GError *error = NULL;
  RelaisConfig *c = relais_config_new_default ();

  step (&c, relais_config_apply_distribution (
              c, g_variant_new_parsed ("{'RelayServer': <'smtp.isp.example'>, 'RelayPort': <uint32 587>, "
                                       "'RelayAlwaysTls': <true>, 'RelayAuthentication': <true>, "
                                       "'RelayUsername': <'relais'>, 'RelayPassword': <'single-secret'>}"),
              &error),
        error);
  step (&c, relais_config_add_relay_host (
              c, "office", g_variant_new_parsed ("{'Server': <'192.0.2.10'>, 'Port': <uint32 465>, "
                                                 "'AlwaysTls': <true>, 'Authentication': <true>, "
                                                 "'Username': <'me'>, 'Password': <'office-secret'>}"),
              &error),
        error);
  step (&c, relais_config_add_relay_host (c, "backup", g_variant_new_parsed ("{'Server': <'backup.example'>}"),
                                          &error),
        error);
  step (&c, relais_config_add_relay_rule (c, 0, "recipient", "office",
                                          (const char *[]){ "example.org", "Boss@example.net", NULL }, NULL,
                                          &error),
        error);
  step (&c, relais_config_add_relay_rule (c, 0, "sender", "backup", (const char *[]){ "example.com", NULL },
                                          NULL, &error),
        error);
  step (&c, relais_config_move_relay_rule (c, 2, 0, &error), error);
  step (&c, relais_config_apply_distribution (c, g_variant_new_parsed ("{'Mode': <'relay-hosts'>}"), &error),
        error);
  return c;
}

static void
assert_same_distribution (const RelaisConfig *a, const RelaisConfig *b)
{
  g_autoptr (GVariant) va = relais_config_distribution_to_variant (a);
  g_autoptr (GVariant) vb = relais_config_distribution_to_variant (b);

  g_assert_true (g_variant_equal (va, vb));
  g_assert_cmpuint (a->relay_hosts->len, ==, b->relay_hosts->len);
  for (guint i = 0; i < a->relay_hosts->len; i++)
    {
      const RelaisRelayHost *x = a->relay_hosts->pdata[i], *y = b->relay_hosts->pdata[i];
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpstr (x->server, ==, y->server);
      g_assert_cmpuint (x->port, ==, y->port);
      g_assert_cmpint (x->always_tls, ==, y->always_tls);
      g_assert_cmpint (x->authentication, ==, y->authentication);
      g_assert_cmpstr (x->username, ==, y->username);
      g_assert_cmpstr (x->password, ==, y->password);
    }
  g_assert_cmpuint (a->relay_rules->len, ==, b->relay_rules->len);
  for (guint i = 0; i < a->relay_rules->len; i++)
    {
      const RelaisRelayRule *x = a->relay_rules->pdata[i], *y = b->relay_rules->pdata[i];
      g_assert_cmpuint (x->id, ==, y->id);
      g_assert_cmpint (x->kind, ==, y->kind);
      g_assert_cmpstr (x->host, ==, y->host);
      g_assert_true (g_strv_equal ((const char *const *) x->patterns, (const char *const *) y->patterns));
    }
}

static void
test_distribution_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) saved = distribution_config ();
  g_autoptr (RelaisConfig) loaded = NULL;
  g_autoptr (RelaisConfig) renamed = NULL;
  g_autofree char *password = NULL;

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_true (relais_store_save_general (store, saved, &error));
    g_assert_true (relais_store_save_distribution (store, saved, &error));
    /* saving twice replaces, never duplicates */
    g_assert_true (relais_store_save_distribution (store, saved, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_ptr_array_set_size (warnings, 0);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    /* General and Distribution settings share the table without confusing each other */
    g_assert_cmpuint (warnings->len, ==, 0);
    assert_same_distribution (saved, loaded);
    g_assert_cmpint (loaded->distribution_mode, ==, RELAIS_DISTRIBUTION_RELAY_HOSTS);
    g_assert_cmpuint (((RelaisRelayRule *) loaded->relay_rules->pdata[0])->id, ==, 2);
    g_assert_cmpstr (loaded->relay_host->password, ==, "single-secret");
    g_assert_cmpstr (relais_config_lookup_relay_host (loaded, "office")->password, ==, "office-secret");
    /* the relay passwords are stored as given: the daemon must present them */
    g_assert_true (db_query_text (store, "SELECT password FROM relay_hosts WHERE name = 'office'", &password));
    g_assert_cmpstr (password, ==, "office-secret");

    /* a rename is stored with the rules that follow it */
    renamed = relais_config_update_relay_host (loaded, "office",
                                               g_variant_new_parsed ("{'Name': <'head office'>}"), &error);
    g_assert_no_error (error);
    g_assert_true (relais_store_save_distribution (store, renamed, &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    assert_same_distribution (renamed, loaded);
    g_assert_cmpstr (((RelaisRelayRule *) loaded->relay_rules->pdata[1])->host, ==, "head office");
    g_assert_false (db_query_text (store, "SELECT 1 FROM relay_rules WHERE host = 'office'", NULL));
  }
}

static void
test_migration_from_v2 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) loaded = NULL;

  /* A version-2 database: version 3 less the Distribution tables, with older data. */
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "DROP TABLE relay_rule_patterns; DROP TABLE relay_rules;"
                                   "DROP TABLE relay_hosts; DROP TABLE trusted_networks;"
                                   "DROP TABLE relay_domains; DROP TABLE security_rules; DROP TABLE stats_minutes; DROP TABLE dkim_keys; DROP TABLE audit;"
                                   "ALTER TABLE messages DROP COLUMN received_usec; ALTER TABLE messages DROP COLUMN spool_file;"
                                   "PRAGMA user_version = 2;"
                                   "INSERT INTO settings VALUES ('MaxRecipients', 'uint32 9');"
                                   "INSERT INTO local_domains VALUES ('example.org');",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autofree char *version = NULL;
    g_autoptr (RelaisConfig) saved = distribution_config ();

    g_assert_no_error (error);
    g_assert_true (db_query_text (store, "PRAGMA user_version", &version));
    g_assert_cmpint (atoi (version), ==, RELAIS_STORE_SCHEMA_VERSION);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (loaded->max_recipients, ==, 9);
    g_assert_cmpstr (loaded->local_domains[0], ==, "example.org");
    g_assert_cmpint (loaded->distribution_mode, ==, RELAIS_DISTRIBUTION_DIRECT);
    g_assert_cmpuint (loaded->relay_hosts->len, ==, 0);
    g_assert_cmpuint (loaded->relay_rules->len, ==, 0);

    /* the new tables work */
    g_assert_true (relais_store_save_distribution (store, saved, &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    assert_same_distribution (saved, loaded);
  }
}

static void
test_distribution_bad_values (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) config = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                 "INSERT INTO settings VALUES ('Mode', '''relay-host''');"
                                 "INSERT INTO settings VALUES ('RelayServer', '''bad host''');"
                                 "INSERT INTO settings VALUES ('RelayPort', 'uint32 2525');"
                                 "INSERT INTO settings VALUES ('RelayAuthentication', 'true');"
                                 "INSERT INTO relay_hosts VALUES ('good', 'good.example', 25, 0, 0, '', '');"
                                 "INSERT INTO relay_hosts VALUES ('broken', 'bad host', 25, 0, 0, '', '');"
                                 "INSERT INTO relay_hosts VALUES ('far', 'far.example', 99999, 0, 0, '', '');"
                                 "INSERT INTO relay_rules VALUES (4, 0, 'recipient', 'good');"
                                 "INSERT INTO relay_rule_patterns VALUES (4, 0, 'example.org');"
                                 "INSERT INTO relay_rules VALUES (5, 1, 'recipient', 'broken');"
                                 "INSERT INTO relay_rule_patterns VALUES (5, 0, 'example.net');"
                                 "INSERT INTO relay_rules VALUES (6, 2, 'both', 'good');"
                                 "INSERT INTO relay_rule_patterns VALUES (6, 0, 'example.com');"
                                 "INSERT INTO relay_rules VALUES (7, 3, 'sender', 'good');",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  relais_store_unlock (store);

  g_ptr_array_set_size (warnings, 0);
  config = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < warnings->len; i++)
    g_test_message ("warning: %s", (char *) warnings->pdata[i]);
  g_assert_true (warned ("*RelayServer*bad host*"));
  g_assert_true (warned ("*RelayAuthentication is on, so a user name is needed*"));
  g_assert_true (warned ("*relay host 'broken' ignored*Server*bad host*"));
  g_assert_true (warned ("*relay host 'far' ignored*Port*99999*"));
  g_assert_true (warned ("*relay rule 5 ignored*Host*broken*"));
  g_assert_true (warned ("*relay rule 6 ignored*Kind*both*"));
  g_assert_true (warned ("*relay rule 7 ignored*Patterns*"));
  g_assert_true (warned ("*Mode 'relay-host' needs a relay server*"));
  g_assert_cmpuint (warnings->len, ==, 8);

  /* what was valid is kept, the rest takes its default */
  g_assert_cmpint (config->distribution_mode, ==, RELAIS_DISTRIBUTION_DIRECT);
  g_assert_cmpstr (config->relay_host->server, ==, "");
  g_assert_cmpuint (config->relay_host->port, ==, 2525);
  g_assert_false (config->relay_host->authentication);
  g_assert_cmpuint (config->relay_hosts->len, ==, 1);
  g_assert_nonnull (relais_config_lookup_relay_host (config, "good"));
  g_assert_cmpuint (config->relay_rules->len, ==, 1);
  g_assert_nonnull (relais_config_lookup_relay_rule (config, 4));
}

/* Relay Control with both lists, next to a local domain. */
static RelaisConfig *
relay_control_config (void)
{
  GError *error = NULL;
  RelaisConfig *c = relais_config_new_default ();

  step (&c, relais_config_add_local_domain (c, "example.org", &error), error);
  step (&c, relais_config_add_trusted_network (c, "office lan", "192.0.2.0/24", &error), error);
  step (&c, relais_config_add_trusted_network (c, "Branch v6", "2001:db8::/32", &error), error);
  step (&c, relais_config_add_trusted_network (c, "printer", "198.51.100.7", &error), error);
  step (&c, relais_config_add_relay_domain (c, "zurich", "zurich.example.net", &error), error);
  step (&c, relais_config_add_relay_domain (c, "Branch", "branch.example.org", &error), error);
  return c;
}

static void
assert_same_relay_control (const RelaisConfig *a, const RelaisConfig *b)
{
  g_assert_cmpuint (a->trusted_networks->len, ==, b->trusted_networks->len);
  for (guint i = 0; i < a->trusted_networks->len; i++)
    {
      const RelaisTrustedNetwork *x = a->trusted_networks->pdata[i], *y = b->trusted_networks->pdata[i];
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpstr (x->network, ==, y->network);
      g_assert_true (g_inet_address_mask_equal (x->mask, y->mask));
    }
  g_assert_cmpuint (a->relay_domains->len, ==, b->relay_domains->len);
  for (guint i = 0; i < a->relay_domains->len; i++)
    {
      const RelaisRelayDomain *x = a->relay_domains->pdata[i], *y = b->relay_domains->pdata[i];
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpstr (x->domain, ==, y->domain);
    }
}

static void
test_relay_control_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) saved = relay_control_config ();
  g_autoptr (RelaisConfig) loaded = NULL;
  g_autoptr (RelaisConfig) edited = NULL;
  g_autofree char *network = NULL;

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_true (relais_store_add_local_domain (store, "example.org", &error));
    g_assert_true (relais_store_save_relay_control (store, saved, &error));
    /* saving twice replaces, never duplicates */
    g_assert_true (relais_store_save_relay_control (store, saved, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_ptr_array_set_size (warnings, 0);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (warnings->len, ==, 0);
    assert_same_relay_control (saved, loaded);
    g_assert_cmpstr (((RelaisTrustedNetwork *) loaded->trusted_networks->pdata[0])->name, ==, "Branch v6");
    g_assert_true (db_query_text (store, "SELECT network FROM trusted_networks WHERE name = 'printer'", &network));
    g_assert_cmpstr (network, ==, "198.51.100.7");

    /* a rename, a change and a removal are stored as such */
    edited = relais_config_update_trusted_network (loaded, "printer",
                                                   g_variant_new_parsed ("{'Name': <'scanner'>, "
                                                                         "'Network': <'198.51.100.8'>}"),
                                                   &error);
    g_assert_no_error (error);
    step (&edited, relais_config_remove_relay_domain (edited, "zurich", &error), error);
    g_assert_true (relais_store_save_relay_control (store, edited, &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    assert_same_relay_control (edited, loaded);
    g_assert_false (db_query_text (store, "SELECT 1 FROM trusted_networks WHERE name = 'printer'", NULL));
    g_assert_false (db_query_text (store, "SELECT 1 FROM relay_domains WHERE name = 'zurich'", NULL));
    g_assert_cmpuint (loaded->relay_domains->len, ==, 1);
  }
}

static void
test_migration_from_v3 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) loaded = NULL;

  /* A version-3 database: version 4 less the Relay Control tables, with older data. */
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "DROP TABLE trusted_networks; DROP TABLE relay_domains;"
                                   "DROP TABLE security_rules; DROP TABLE stats_minutes; DROP TABLE dkim_keys; DROP TABLE audit; ALTER TABLE messages DROP COLUMN received_usec; ALTER TABLE messages DROP COLUMN spool_file; PRAGMA user_version = 3;"
                                   "INSERT INTO settings VALUES ('MaxHops', 'uint32 12');"
                                   "INSERT INTO local_domains VALUES ('example.org');"
                                   "INSERT INTO relay_hosts VALUES ('office', 'smtp.office.example', 587,"
                                   "  1, 0, '', '');",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autofree char *version = NULL;
    g_autoptr (RelaisConfig) saved = relay_control_config ();

    g_assert_no_error (error);
    g_assert_true (db_query_text (store, "PRAGMA user_version", &version));
    g_assert_cmpint (atoi (version), ==, RELAIS_STORE_SCHEMA_VERSION);
    g_ptr_array_set_size (warnings, 0);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (warnings->len, ==, 0);
    g_assert_cmpuint (loaded->max_hops, ==, 12);
    g_assert_cmpstr (loaded->local_domains[0], ==, "example.org");
    g_assert_cmpuint (relais_config_lookup_relay_host (loaded, "office")->port, ==, 587);
    g_assert_cmpuint (loaded->trusted_networks->len, ==, 0);
    g_assert_cmpuint (loaded->relay_domains->len, ==, 0);

    /* the new tables work */
    g_assert_true (relais_store_save_relay_control (store, saved, &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    assert_same_relay_control (saved, loaded);
  }
}

static void
test_relay_control_bad_values (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) config = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                 "INSERT INTO local_domains VALUES ('example.org');"
                                 "INSERT INTO trusted_networks VALUES ('lan', '192.0.2.0/24');"
                                 "INSERT INTO trusted_networks VALUES ('wide', '10.0.0.1/8');"
                                 "INSERT INTO trusted_networks VALUES ('same', '198.51.100.2/32');"
                                 "INSERT INTO trusted_networks VALUES (' padded', '198.51.100.1');"
                                 "INSERT INTO trusted_networks VALUES ('LAN', '198.51.100.2');"
                                 "INSERT INTO trusted_networks VALUES (NULL, '198.51.100.3');"
                                 "INSERT INTO trusted_networks VALUES (CAST(x'ff41' AS TEXT), '198.51.100.4');"
                                 "INSERT INTO relay_domains VALUES ('branch', 'branch.example.net');"
                                 "INSERT INTO relay_domains VALUES ('home', 'example.org');"
                                 "INSERT INTO relay_domains VALUES ('broken', 'bad_domain.example');",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  relais_store_unlock (store);

  g_ptr_array_set_size (warnings, 0);
  config = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < warnings->len; i++)
    g_test_message ("warning: %s", (char *) warnings->pdata[i]);
  g_assert_true (warned ("*trusted network 'wide' ignored: Network: '10.0.0.1/8' has host bits set*"));
  g_assert_true (warned ("*trusted network 'same' ignored: Network: 198.51.100.2 is already trusted, as 'LAN'*"));
  g_assert_true (warned ("*trusted network ' padded' ignored: Name*"));
  g_assert_true (warned ("*trusted network 'lan' ignored: Name: a trusted network named 'LAN' already exists*"));
  g_assert_true (warned ("*relay domain 'home' ignored: Domain: example.org is a local domain*"));
  g_assert_true (warned ("*relay domain 'broken' ignored: Domain*bad_domain.example*"));
  g_assert_true (warned ("*trusted network '' ignored: Name: a trusted network name must be 1 to 64*"));
  g_assert_true (warned ("*a stored row of trusted networks ignored: it is not valid UTF-8*"));
  g_assert_cmpuint (warnings->len, ==, 8);

  /* what was valid is kept */
  g_assert_cmpuint (config->trusted_networks->len, ==, 1);
  g_assert_cmpstr (((RelaisTrustedNetwork *) config->trusted_networks->pdata[0])->name, ==, "LAN");
  g_assert_cmpuint (config->relay_domains->len, ==, 1);
  g_assert_nonnull (relais_config_match_relay_domain (config, "branch.example.net"));
}

/* Security settings changed from their defaults and rules of every kind, in
 * an order that is not sorted. */
static RelaisConfig *
security_config (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  GError *error = NULL;
  RelaisConfig *c;

  c = relais_config_apply_security (base,
                                    g_variant_new_parsed ("{'RejectNonFqdnSender': <false>, "
                                                          "'RejectUnknownHelo': <true>, "
                                                          "'LimitMessageRate': <true>, "
                                                          "'MaxMessagesPerMinute': <uint32 7>, "
                                                          "'MaxJunkCommands': <uint32 12>}"),
                                    &error);
  take (c, error);
  step (&c, relais_config_replace_security_rules (
          c, g_variant_new_parsed ("[('zz net', 'white', 'subnet', '2001:db8::/32', ''),"
                                   " ('Spammer', 'black', 'ip', '192.0.2.7', 'discard'),"
                                   " ('partner', 'white', 'domain', 'partner.example', ''),"
                                   " ('junk', 'black', 'sender', 'junk@spam.example', 'reject'),"
                                   " ('élan', 'white', 'recipient', 'postmaster@example.org', '')]"),
          &error),
        error);
  return c;
}

static void
assert_same_security (const RelaisConfig *a, const RelaisConfig *b)
{
  g_autoptr (GVariant) settings_a = relais_config_security_to_variant (a);
  g_autoptr (GVariant) settings_b = relais_config_security_to_variant (b);
  g_autoptr (GVariant) rules_a = relais_config_security_rules_to_variant (a);
  g_autoptr (GVariant) rules_b = relais_config_security_rules_to_variant (b);

  g_assert_true (g_variant_equal (settings_a, settings_b));
  g_assert_true (g_variant_equal (rules_a, rules_b));
}

static void
test_security_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) saved = security_config ();
  g_autoptr (RelaisConfig) loaded = NULL;
  g_autoptr (RelaisConfig) edited = NULL;
  g_autofree char *text = NULL;

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autoptr (RelaisConfig) defaults = NULL;

    g_assert_no_error (error);
    /* nothing stored: the defaults of SPEC §4.6 */
    defaults = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (defaults->reject_non_fqdn_sender);
    g_assert_cmpuint (defaults->max_connections, ==, 50);
    g_assert_cmpuint (relais_rule_set_get_length (defaults->security_rules), ==, 0);

    g_assert_true (relais_store_save_security (store, saved, &error));
    g_assert_true (relais_store_save_security_rules (store, saved, &error));
    /* saving twice replaces, never duplicates */
    g_assert_true (relais_store_save_security_rules (store, saved, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_ptr_array_set_size (warnings, 0);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (warnings->len, ==, 0);
    assert_same_security (saved, loaded);
    g_assert_false (loaded->reject_non_fqdn_sender);
    g_assert_cmpuint (loaded->max_messages_per_minute, ==, 7);
    g_assert_cmpstr (relais_rule_set_get (loaded->security_rules, 0)->name, ==, "zz net");
    g_assert_true (db_query_text (store, "SELECT value FROM settings WHERE key = 'MaxJunkCommands'", &text));
    g_assert_cmpstr (text, ==, "uint32 12");
    g_clear_pointer (&text, g_free);
    g_assert_true (db_query_text (store, "SELECT action FROM security_rules WHERE name = 'partner'", &text));
    g_assert_cmpstr (text, ==, "");

    /* a move and a removal are stored as such; the settings stay */
    edited = relais_config_move_security_rule (loaded, "junk", 0, &error);
    g_assert_no_error (error);
    step (&edited, relais_config_remove_security_rule (edited, "Spammer", &error), error);
    g_assert_true (relais_store_save_security_rules (store, edited, &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    assert_same_security (edited, loaded);
    g_assert_cmpstr (relais_rule_set_get (loaded->security_rules, 0)->name, ==, "junk");
    g_assert_cmpuint (relais_rule_set_get_length (loaded->security_rules), ==, 4);
  }
}

static void
test_migration_from_v4 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) loaded = NULL;

  /* A version-4 database: version 5 less the rule table, with older data. */
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "DROP TABLE security_rules; DROP TABLE stats_minutes; DROP TABLE dkim_keys; DROP TABLE audit; ALTER TABLE messages DROP COLUMN received_usec; ALTER TABLE messages DROP COLUMN spool_file; PRAGMA user_version = 4;"
                                   "INSERT INTO settings VALUES ('MaxHops', 'uint32 12');"
                                   "INSERT INTO trusted_networks VALUES ('lan', '192.0.2.0/24');",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autofree char *version = NULL;
    g_autoptr (RelaisConfig) saved = security_config ();

    g_assert_no_error (error);
    g_assert_true (db_query_text (store, "PRAGMA user_version", &version));
    g_assert_cmpint (atoi (version), ==, RELAIS_STORE_SCHEMA_VERSION);
    g_ptr_array_set_size (warnings, 0);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (warnings->len, ==, 0);
    g_assert_cmpuint (loaded->max_hops, ==, 12);
    g_assert_cmpuint (loaded->trusted_networks->len, ==, 1);
    g_assert_cmpuint (relais_rule_set_get_length (loaded->security_rules), ==, 0);
    g_assert_cmpuint (loaded->max_junk_commands, ==, 100);

    /* the new table works */
    g_assert_true (relais_store_save_security (store, saved, &error));
    g_assert_true (relais_store_save_security_rules (store, saved, &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    assert_same_security (saved, loaded);
  }
}

static void
test_security_bad_values (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) config = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                 "INSERT INTO settings VALUES ('MaxConnections', 'uint32 0');"
                                 "INSERT INTO settings VALUES ('RejectUnknownHelo', '\"yes\"');"
                                 "INSERT INTO settings VALUES ('LimitConnectionRate', 'not a variant');"
                                 "INSERT INTO settings VALUES ('MaxJunkCommands', 'uint32 30');"
                                 "INSERT INTO security_rules VALUES (1, 'ok', 'black', 'ip', '192.0.2.1', 'reject');"
                                 "INSERT INTO security_rules VALUES (2, 'wide', 'black', 'subnet', '10.0.0.1/8',"
                                 "  'reject');"
                                 "INSERT INTO security_rules VALUES (3, 'OK', 'white', 'ip', '192.0.2.2', '');"
                                 "INSERT INTO security_rules VALUES (4, 'grey', 'grey', 'ip', '192.0.2.3', '');"
                                 "INSERT INTO security_rules VALUES (5, 'domain', 'black', 'domain', 'x.example',"
                                 "  'reject');"
                                 "INSERT INTO security_rules VALUES (6, CAST(x'ff41' AS TEXT), 'white', 'ip',"
                                 "  '192.0.2.4', '');"
                                 "INSERT INTO security_rules VALUES (7, 'partner', 'white', 'domain',"
                                 "  'partner.example', '');"
                                 "INSERT INTO security_rules VALUES (0, 'first', 'white', 'ip', '::1', '');",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  relais_store_unlock (store);

  g_ptr_array_set_size (warnings, 0);
  config = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < warnings->len; i++)
    g_test_message ("warning: %s", (char *) warnings->pdata[i]);
  g_assert_true (warned ("stored setting ignored: MaxConnections: 0 is out of range*"));
  g_assert_true (warned ("stored setting ignored: RejectUnknownHelo: expected a value of type 'b'*"));
  g_assert_true (warned ("stored setting LimitConnectionRate is unreadable*"));
  g_assert_true (warned ("stored black/white rule ignored: rules[2] 'wide': Value: '10.0.0.1/8' has host bits set*"));
  g_assert_true (warned ("stored black/white rule ignored: rules[3] 'OK': Name: the name is already used by "
                         "rules[1] 'ok'*"));
  g_assert_true (warned ("stored black/white rule ignored: rules[4] 'grey': List: 'grey' is not a list*"));
  g_assert_true (warned ("stored black/white rule ignored: rules[5] 'domain': Type: domain rules exist on the "
                         "whitelist only*"));
  g_assert_true (warned ("a stored black/white rule ignored: it is not valid UTF-8"));
  g_assert_cmpuint (warnings->len, ==, 8);

  /* what was valid is kept, in order; bad settings keep their defaults */
  g_assert_cmpuint (config->max_connections, ==, 50);
  g_assert_false (config->reject_unknown_helo);
  g_assert_false (config->limit_connection_rate);
  g_assert_cmpuint (config->max_junk_commands, ==, 30);
  g_assert_cmpuint (relais_rule_set_get_length (config->security_rules), ==, 3);
  g_assert_cmpstr (relais_rule_set_get (config->security_rules, 0)->name, ==, "first");
  g_assert_cmpstr (relais_rule_set_get (config->security_rules, 1)->name, ==, "ok");
  g_assert_cmpstr (relais_rule_set_get (config->security_rules, 2)->name, ==, "partner");
}

/* 100,000 rules (the benchmark's size) are saved in about a second and read back whole. */
static void
test_security_many_rules (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (RelaisConfig) many = NULL;
  g_autoptr (RelaisConfig) loaded = NULL;
  GVariantBuilder b;
  gint64 start;
  double seconds;

  g_assert_no_error (error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sssss)"));
  for (guint i = 0; i < RELAIS_CONFIG_MAX_SECURITY_RULES; i++)
    {
      g_autofree char *name = g_strdup_printf ("rule %u", i);
      g_autofree char *value = g_strdup_printf ("s%u@spam.example", i);

      g_variant_builder_add (&b, "(sssss)", name, i % 2 ? "black" : "white", "sender", value,
                             i % 2 ? "discard" : "");
    }
  many = relais_config_replace_security_rules (base, g_variant_builder_end (&b), &error);
  g_assert_no_error (error);

  start = g_get_monotonic_time ();
  g_assert_true (relais_store_save_security_rules (store, many, &error));
  g_assert_no_error (error);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  /* a figure, not a check: speed is the benchmarks' (tests/bench) */
  g_test_message ("saved 100000 rules in %.3f s", seconds);

  start = g_get_monotonic_time ();
  loaded = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("loaded 100000 rules in %.3f s", (g_get_monotonic_time () - start) / 1e6);
  assert_same_security (many, loaded);
}

/* ---------------------------------------------------------------- DKIM keys */

static RelaisDkimSigningKey *
make_key (const char *domain, const char *selector, RelaisDkimAlgorithm algorithm)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *pem = NULL;
  g_autofree char *record = NULL;
  RelaisDkimSigningKey *key;

  g_assert_true (relais_dkim_key_generate (algorithm, &pem, &record, &error));
  g_assert_no_error (error);
  key = relais_dkim_signing_key_new (domain, selector, pem, 1767225600, &error);
  g_assert_no_error (error);
  g_assert_nonnull (key);
  g_assert_cmpstr (key->record, ==, record);
  return key;
}

static RelaisConfig *
dkim_config (void)
{
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (RelaisConfig) one = relais_config_put_dkim_key (base, make_key ("Example.ORG", "mail2026",
                                                                             RELAIS_DKIM_ED25519_SHA256));
  g_autoptr (GVariant) off = g_variant_new_parsed ("{'DkimSigning': <false>}");

  /* the RSA key from the tests' data: generating one takes a while */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *path = g_build_filename (RELAIS_TEST_SOURCE_DIR, "data", "dkim-rsa2048.pem", NULL);
    g_autofree char *pem = NULL;
    RelaisDkimSigningKey *rsa;
    RelaisConfig *two;

    g_assert_true (g_file_get_contents (path, &pem, NULL, &error));
    rsa = relais_dkim_signing_key_new ("a.example.net", "s1", pem, 1767225601, &error);
    g_assert_no_error (error);
    two = relais_config_put_dkim_key (one, rsa);
    relais_config_unref (one);
    one = two;
  }
  return relais_config_apply_security (one, g_steal_pointer (&off), NULL);
}

static void
assert_same_dkim_keys (const RelaisConfig *a, const RelaisConfig *b)
{
  g_assert_cmpint (a->dkim_signing, ==, b->dkim_signing);
  g_assert_cmpuint (a->dkim_keys->len, ==, b->dkim_keys->len);
  for (guint i = 0; i < a->dkim_keys->len; i++)
    {
      const RelaisDkimSigningKey *x = a->dkim_keys->pdata[i], *y = b->dkim_keys->pdata[i];

      g_assert_cmpstr (x->domain, ==, y->domain);
      g_assert_cmpstr (x->selector, ==, y->selector);
      g_assert_cmpint (x->algorithm, ==, y->algorithm);
      g_assert_cmpstr (x->private_pem, ==, y->private_pem);
      g_assert_cmpint (x->created, ==, y->created);
      g_assert_cmpstr (x->record, ==, y->record);
      g_assert_nonnull (y->signer);
    }
}

static void
test_dkim_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) saved = dkim_config ();
  g_autoptr (RelaisConfig) loaded = NULL;
  g_autoptr (RelaisConfig) fewer = NULL;
  g_autofree char *algorithm = NULL;

  g_assert_no_error (error);
  /* sorted by domain, lower case */
  g_assert_cmpuint (saved->dkim_keys->len, ==, 2);
  g_assert_cmpstr (((RelaisDkimSigningKey *) saved->dkim_keys->pdata[0])->domain, ==, "a.example.net");
  g_assert_cmpstr (((RelaisDkimSigningKey *) saved->dkim_keys->pdata[1])->domain, ==, "example.org");

  g_assert_true (relais_store_save_security (store, saved, &error));
  g_assert_true (relais_store_save_dkim_keys (store, saved, &error));
  g_assert_no_error (error);
  g_assert_true (db_query_text (store, "SELECT algorithm FROM dkim_keys WHERE domain = 'a.example.net'",
                                &algorithm));
  g_assert_cmpstr (algorithm, ==, "rsa-2048");
  g_ptr_array_set_size (warnings, 0);
  loaded = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 0);
  assert_same_dkim_keys (saved, loaded);

  /* removing rewrites the table */
  fewer = relais_config_remove_dkim_key (loaded, "EXAMPLE.org", &error);
  g_assert_no_error (error);
  g_assert_true (relais_store_save_dkim_keys (store, fewer, &error));
  g_clear_pointer (&loaded, relais_config_unref);
  loaded = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  assert_same_dkim_keys (fewer, loaded);
  g_assert_cmpuint (loaded->dkim_keys->len, ==, 1);
}

static void
test_migration_from_v6 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) loaded = NULL;

  /* A version-6 database: version 7 less the DKIM key table, with older data. */
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "DROP TABLE dkim_keys; DROP TABLE audit; ALTER TABLE messages DROP COLUMN received_usec; ALTER TABLE messages DROP COLUMN spool_file; PRAGMA user_version = 6;"
                                   "INSERT INTO settings VALUES ('MaxHops', 'uint32 12');"
                                   "INSERT INTO stats_minutes VALUES ('MessagesReceived', 60, 3);",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autofree char *version = NULL;
    g_autofree char *minutes = NULL;
    g_autoptr (RelaisConfig) saved = dkim_config ();

    g_assert_no_error (error);
    g_assert_true (db_query_text (store, "PRAGMA user_version", &version));
    g_assert_cmpint (atoi (version), ==, RELAIS_STORE_SCHEMA_VERSION);
    g_assert_true (db_query_text (store, "SELECT value FROM stats_minutes", &minutes));
    g_assert_cmpstr (minutes, ==, "3");
    g_ptr_array_set_size (warnings, 0);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (warnings->len, ==, 0);
    g_assert_cmpuint (loaded->max_hops, ==, 12);
    g_assert_cmpuint (loaded->dkim_keys->len, ==, 0);
    g_assert_true (loaded->dkim_signing);   /* the default */

    /* the new table works */
    g_assert_true (relais_store_save_security (store, saved, &error));
    g_assert_true (relais_store_save_dkim_keys (store, saved, &error));
    g_clear_pointer (&loaded, relais_config_unref);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    assert_same_dkim_keys (saved, loaded);
  }
}

static void
test_dkim_bad_rows (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autoptr (RelaisConfig) saved = dkim_config ();
  g_autoptr (RelaisConfig) loaded = NULL;

  g_assert_no_error (error);
  g_assert_true (relais_store_save_security (store, saved, &error));
  g_assert_true (relais_store_save_dkim_keys (store, saved, &error));
  g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                 "INSERT INTO dkim_keys VALUES ('broken.example', 's1', 'rsa-2048',"
                                 "  '-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n', 0);"
                                 "INSERT INTO dkim_keys VALUES ('bad selector.example', 's1', 'ed25519', 'x', 0);"
                                 "INSERT INTO dkim_keys VALUES ('c.example', 'no_underscores', 'ed25519', 'x', 0);",
                                 NULL, NULL, NULL),
                   ==, SQLITE_OK);
  relais_store_unlock (store);
  g_ptr_array_set_size (warnings, 0);
  loaded = relais_store_load_config (store, NULL, &error);
  g_assert_no_error (error);
  assert_same_dkim_keys (saved, loaded);
  g_assert_cmpuint (warnings->len, ==, 3);
  g_assert_true (warned ("stored DKIM key of broken.example ignored: Key: *"));
  g_assert_true (warned ("stored DKIM key of bad selector.example ignored: Domain: *"));
  g_assert_true (warned ("stored DKIM key of c.example ignored: Selector: *"));
  /* never the key itself */
  for (guint i = 0; i < warnings->len; i++)
    g_assert_null (strstr (warnings->pdata[i], "c2VjcmV0"));
}

/* The database, its WAL and shared-memory files are the daemon's alone, even
 * when the file existed with a looser mode and the umask is permissive. */
static void
test_file_modes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) saved = dkim_config ();
  const char *suffixes[] = { "", "-wal", "-shm" };
  mode_t old_umask = umask (0);

  g_assert_true (g_file_set_contents (f->path, "", 0, &error));
  g_assert_cmpint (g_chmod (f->path, 0644), ==, 0);
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);

    g_assert_no_error (error);
    g_assert_true (relais_store_save_dkim_keys (store, saved, &error));
    for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
      {
        g_autofree char *path = g_strconcat (f->path, suffixes[i], NULL);
        struct stat st;

        g_assert_cmpint (g_stat (path, &st), ==, 0);
        g_assert_cmpint (st.st_mode & 0777, ==, 0600);
      }
  }
  umask (old_umask);
}

static RelaisAuditEntry *
audit_entry (gint64 time, const char *name, const char *old_value, const char *new_value)
{
  RelaisAuditEntry *e = g_new0 (RelaisAuditEntry, 1);

  e->time = time;
  e->uid = 1000;
  e->sender = g_strdup (":1.7");
  e->interface = g_strdup ("org.relais.Relais1.General");
  e->member = g_strdup ("Update");
  e->name = g_strdup (name);
  e->old_value = g_strdup (old_value);
  e->new_value = g_strdup (new_value);
  return e;
}

/* Adds one entry per time in TIMES (named "N<time>"), keeping what OLDEST and MAX_ROWS allow. */
static void
add_audit (RelaisStore *store, const gint64 *times, guint n, gint64 oldest, guint max_rows)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_audit_entry_free);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("N%" G_GINT64_FORMAT, times[i]);

      g_ptr_array_add (entries, audit_entry (times[i], name, "100", "50"));
    }
  g_assert_true (relais_store_add_audit (store, entries, oldest, max_rows, &error));
  g_assert_no_error (error);
}

/* The names listed from SINCE, at most MAX, joined by spaces. */
static char *
list_audit_names (RelaisStore *store, gint64 since, guint max)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = relais_store_list_audit (store, since, max, &error);
  g_autoptr (GString) names = g_string_new ("");

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  for (guint i = 0; i < rows->len; i++)
    {
      const RelaisAuditEntry *e = rows->pdata[i];
      g_string_append_printf (names, "%s%s", i > 0 ? " " : "", e->name);
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static void
test_audit_roundtrip (Fixture *f, gconstpointer data)
{
  static const gint64 times[] = { 100, 200, 200, 300 };
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_audit_entry_free);

    g_assert_no_error (error);
    add_audit (store, times, G_N_ELEMENTS (times), 0, 10);
    /* an item added: no old value */
    g_ptr_array_add (entries, audit_entry (400, "Rules[1]", "", "(1, 'recipient', 'backup', ['example.org'])"));
    g_assert_true (relais_store_add_audit (store, entries, 0, 10, &error));
  }
  {
    /* kept across a reopen */
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autoptr (GPtrArray) rows = NULL;
    const RelaisAuditEntry *e;
    g_autofree char *all = NULL;
    g_autofree char *since_200 = NULL;
    g_autofree char *newest_two = NULL;
    g_autofree char *future = NULL;

    g_assert_no_error (error);
    all = list_audit_names (store, 0, 100);
    g_assert_cmpstr (all, ==, "N100 N200 N200 N300 Rules[1]");
    since_200 = list_audit_names (store, 200, 100);
    g_assert_cmpstr (since_200, ==, "N200 N200 N300 Rules[1]");
    newest_two = list_audit_names (store, 0, 2);    /* the newest, still oldest first */
    g_assert_cmpstr (newest_two, ==, "N300 Rules[1]");
    future = list_audit_names (store, 401, 100);
    g_assert_cmpstr (future, ==, "");

    rows = relais_store_list_audit (store, 400, 1, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, 1);
    e = rows->pdata[0];
    g_assert_cmpint (e->time, ==, 400);
    g_assert_cmpuint (e->uid, ==, 1000);
    g_assert_cmpstr (e->sender, ==, ":1.7");
    g_assert_cmpstr (e->interface, ==, "org.relais.Relais1.General");
    g_assert_cmpstr (e->member, ==, "Update");
    g_assert_cmpstr (e->name, ==, "Rules[1]");
    g_assert_cmpstr (e->old_value, ==, "");
    g_assert_cmpstr (e->new_value, ==, "(1, 'recipient', 'backup', ['example.org'])");
  }
}

static void
test_audit_trim (Fixture *f, gconstpointer data)
{
  static const gint64 first[] = { 100, 200, 300 };
  static const gint64 second[] = { 400, 500 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  g_autofree char *by_age = NULL;
  g_autofree char *by_count = NULL;

  g_assert_no_error (error);
  add_audit (store, first, G_N_ELEMENTS (first), 0, 10);
  /* older than 250: gone, in the same write */
  add_audit (store, second, G_N_ELEMENTS (second), 250, 10);
  by_age = list_audit_names (store, 0, 100);
  g_assert_cmpstr (by_age, ==, "N300 N400 N500");
  /* beyond 2 rows: the oldest go */
  add_audit (store, second, 1, 0, 2);
  by_count = list_audit_names (store, 0, 100);
  g_assert_cmpstr (by_count, ==, "N500 N400");
}

static void
test_migration_from_v7 (Fixture *f, gconstpointer data)
{
  static const gint64 times[] = { 1767222000 };
  g_autoptr (GError) error = NULL;

  /* A version-7 database: version 8 less the audit table, with older data. */
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "DROP TABLE audit; ALTER TABLE messages DROP COLUMN received_usec; ALTER TABLE messages DROP COLUMN spool_file; PRAGMA user_version = 7;"
                                   "INSERT INTO settings VALUES ('MaxHops', 'uint32 12');",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autoptr (RelaisConfig) loaded = NULL;
    g_autofree char *version = NULL;
    g_autofree char *none = NULL;
    g_autofree char *one = NULL;

    g_assert_no_error (error);
    g_assert_true (db_query_text (store, "PRAGMA user_version", &version));
    g_assert_cmpint (atoi (version), ==, RELAIS_STORE_SCHEMA_VERSION);
    loaded = relais_store_load_config (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (loaded->max_hops, ==, 12);
    none = list_audit_names (store, 0, 100);
    g_assert_cmpstr (none, ==, "");
    /* the new table works */
    add_audit (store, times, 1, 0, 10);
    one = list_audit_names (store, 0, 100);
    g_assert_cmpstr (one, ==, "N1767222000");
  }
}

/* 8 -> 9: a queued message keeps its row; its arrival to the microsecond is
 * unknown (0) and new rows can give it. */
static void
test_migration_from_v8 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "ALTER TABLE messages DROP COLUMN received_usec; ALTER TABLE messages DROP COLUMN spool_file; PRAGMA user_version = 8;"
                                   "INSERT INTO messages (id, sender, size, received_at) "
                                   "VALUES ('OLD', 'a@example.org', 10, 1767222000);",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autofree char *version = NULL;
    g_autofree char *old = NULL;
    g_autofree char *new = NULL;

    g_assert_no_error (error);
    g_assert_true (db_query_text (store, "PRAGMA user_version", &version));
    g_assert_cmpint (atoi (version), ==, RELAIS_STORE_SCHEMA_VERSION);
    g_assert_cmpint (RELAIS_STORE_SCHEMA_VERSION, >=, 9);
    g_assert_true (db_query_text (store, "SELECT received_at || ' ' || received_usec FROM messages", &old));
    g_assert_cmpstr (old, ==, "1767222000 0");
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "INSERT INTO messages (id, sender, size, received_at, received_usec) "
                                   "VALUES ('NEW', 'a@example.org', 10, 1767222001, 1767222001250000);",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
    g_assert_true (db_query_text (store, "SELECT received_usec FROM messages WHERE id = 'NEW'", &new));
    g_assert_cmpstr (new, ==, "1767222001250000");
  }
}

/* Kept statements: prepared once per handle, reset and unbound after use. */
static void
test_cached_statements (Fixture *f, gconstpointer data)
{
  static const char *const sql = "SELECT ?1 || 'x'";
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
  sqlite3 *db;
  sqlite3_stmt *first;

  g_assert_no_error (error);
  db = relais_store_lock (store);
  {
    g_autoptr (RelaisCachedStmt) stmt = relais_store_cached (db, sql, &error);

    g_assert_no_error (error);
    first = stmt;
    sqlite3_bind_text (stmt, 1, "a", -1, SQLITE_STATIC);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ax");
    /* left in the middle of its rows: the end of the scope resets it */
  }
  {
    g_autoptr (RelaisCachedStmt) stmt = relais_store_cached (db, sql, &error);

    g_assert_true (stmt == first);
    g_assert_false (sqlite3_stmt_busy (stmt));
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_type (stmt, 0), ==, SQLITE_NULL);   /* the binding went */
  }
  g_assert_true (relais_store_exec_cached (db, "PRAGMA synchronous = FULL", &error));
  g_assert_no_error (error);
  g_assert_null (relais_store_cached (db, "SELECT FROM nowhere", &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  relais_store_unlock (store);
}

/* 9 -> 10: an index on the arrival time, for the oldest message; 10 -> 11:
 * the name of a reused spool file. */
static void
test_migration_from_v9 (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_exec (relais_store_lock (store),
                                   "DROP INDEX messages_received_at; DROP INDEX recipients_due;"
                                   "CREATE INDEX recipients_due ON recipients (state, next_attempt);"
                                   "ALTER TABLE messages DROP COLUMN spool_file;"
                                   "PRAGMA user_version = 9;"
                                   "INSERT INTO messages (id, sender, size, received_at) "
                                   "VALUES ('OLD', 'a@example.org', 10, 1767222000);",
                                   NULL, NULL, NULL),
                     ==, SQLITE_OK);
    relais_store_unlock (store);
  }
  {
    g_autoptr (RelaisStore) store = relais_store_open (f->path, &error);
    g_autofree char *version = NULL;
    g_autofree char *plan = NULL;
    g_autofree char *old = NULL;

    g_assert_no_error (error);
    g_assert_true (db_query_text (store, "PRAGMA user_version", &version));
    g_assert_cmpint (atoi (version), ==, RELAIS_STORE_SCHEMA_VERSION);
    g_assert_cmpint (RELAIS_STORE_SCHEMA_VERSION, ==, 11);
    g_assert_true (db_query_text (store, "SELECT id FROM messages", &old));
    g_assert_cmpstr (old, ==, "OLD");
    /* 10 -> 11: its file is named by its id */
    g_clear_pointer (&old, g_free);
    g_assert_true (db_query_text (store, "SELECT ifnull(spool_file, 'by id') FROM messages", &old));
    g_assert_cmpstr (old, ==, "by id");
    g_assert_true (db_query_text (store, "SELECT sql FROM sqlite_master WHERE name = 'messages_received_at'",
                                  &plan));
    g_assert_nonnull (strstr (plan, "ON messages (received_at)"));
    g_clear_pointer (&plan, g_free);
    g_assert_true (db_query_text (store, "SELECT sql FROM sqlite_master WHERE name = 'recipients_due'", &plan));
    g_assert_nonnull (strstr (plan, "(state, next_attempt, message_id, position)"));
  }
}

int
main (int argc, char **argv)
{
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relais/store/create", Fixture, NULL, setup, test_create, teardown);
  g_test_add ("/relais/store/roundtrip", Fixture, NULL, setup, test_roundtrip, teardown);
  g_test_add ("/relais/store/bad-value", Fixture, NULL, setup, test_bad_value, teardown);
  g_test_add ("/relais/store/newer-schema", Fixture, NULL, setup, test_newer_schema, teardown);
  g_test_add ("/relais/store/distribution-roundtrip", Fixture, NULL, setup, test_distribution_roundtrip,
              teardown);
  g_test_add ("/relais/store/migration-from-v2", Fixture, NULL, setup, test_migration_from_v2, teardown);
  g_test_add ("/relais/store/distribution-bad-values", Fixture, NULL, setup, test_distribution_bad_values,
              teardown);
  g_test_add ("/relais/store/relay-control-roundtrip", Fixture, NULL, setup, test_relay_control_roundtrip,
              teardown);
  g_test_add ("/relais/store/migration-from-v3", Fixture, NULL, setup, test_migration_from_v3, teardown);
  g_test_add ("/relais/store/relay-control-bad-values", Fixture, NULL, setup, test_relay_control_bad_values,
              teardown);
  g_test_add ("/relais/store/security-roundtrip", Fixture, NULL, setup, test_security_roundtrip, teardown);
  g_test_add ("/relais/store/migration-from-v4", Fixture, NULL, setup, test_migration_from_v4, teardown);
  g_test_add ("/relais/store/security-bad-values", Fixture, NULL, setup, test_security_bad_values, teardown);
  g_test_add ("/relais/store/security-many-rules", Fixture, NULL, setup, test_security_many_rules, teardown);
  g_test_add ("/relais/store/dkim-roundtrip", Fixture, NULL, setup, test_dkim_roundtrip, teardown);
  g_test_add ("/relais/store/migration-from-v6", Fixture, NULL, setup, test_migration_from_v6, teardown);
  g_test_add ("/relais/store/dkim-bad-rows", Fixture, NULL, setup, test_dkim_bad_rows, teardown);
  g_test_add ("/relais/store/file-modes", Fixture, NULL, setup, test_file_modes, teardown);
  g_test_add ("/relais/store/audit-roundtrip", Fixture, NULL, setup, test_audit_roundtrip, teardown);
  g_test_add ("/relais/store/audit-trim", Fixture, NULL, setup, test_audit_trim, teardown);
  g_test_add ("/relais/store/migration-from-v7", Fixture, NULL, setup, test_migration_from_v7, teardown);
  g_test_add ("/relais/store/migration-from-v8", Fixture, NULL, setup, test_migration_from_v8, teardown);
  g_test_add ("/relais/store/migration-from-v9", Fixture, NULL, setup, test_migration_from_v9, teardown);
  g_test_add ("/relais/store/cached-statements", Fixture, NULL, setup, test_cached_statements, teardown);
  return g_test_run ();
}
