/* SPDX-License-Identifier: GPL-3.0-or-later
 * Store: schema creation and version, settings/domains/accounts round trip,
 * a bad stored value falls back to its default, file mode 0600, a newer schema
 * is refused. */
#include "config.h"

#include <glib/gstdio.h>
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
  return g_test_run ();
}
