/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SQLite database: schema, migrations, settings, local domains, accounts,
 * the audit trail.
 * One handle, opened in serialized mode and guarded by our own mutex so the
 * queue's commit thread and the main thread never interleave a transaction.
 * Settings are stored as GVariant text under their D-Bus property names, so a
 * new setting needs no migration: a missing row means "the default".
 * Collections (accounts, relay hosts, rules, trusted networks, relay domains)
 * have tables of their own. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relais-error.h"

struct _RelaisStore {
  sqlite3 *db;
  GMutex lock;
};

/* Each entry brings the schema from version i to i + 1. Never edit a shipped
 * entry: add a new one. */
static const char *const migrations[] = {
  /* 0 -> 1 */
  "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
  "CREATE TABLE local_domains (domain TEXT PRIMARY KEY);"
  "CREATE TABLE accounts (login TEXT PRIMARY KEY, password_hash TEXT NOT NULL);"
  "CREATE TABLE account_aliases (address TEXT PRIMARY KEY,"
  "  login TEXT NOT NULL REFERENCES accounts(login) ON DELETE CASCADE);"
  "CREATE TABLE account_forwards (login TEXT NOT NULL REFERENCES accounts(login) ON DELETE CASCADE,"
  "  position INTEGER NOT NULL, address TEXT NOT NULL, PRIMARY KEY (login, position));"
  "CREATE TABLE messages (id TEXT PRIMARY KEY, sender TEXT NOT NULL, size INTEGER NOT NULL,"
  "  received_at INTEGER NOT NULL, client_address TEXT NOT NULL DEFAULT '',"
  "  helo TEXT NOT NULL DEFAULT '', flags INTEGER NOT NULL DEFAULT 0,"
  "  held INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE recipients (message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
  "  position INTEGER NOT NULL, address TEXT NOT NULL, original TEXT NOT NULL,"
  "  route INTEGER NOT NULL, mailbox TEXT, state INTEGER NOT NULL DEFAULT 0,"
  "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0,"
  "  last_reply TEXT NOT NULL DEFAULT '', PRIMARY KEY (message_id, position));"
  "CREATE INDEX recipients_due ON recipients (state, next_attempt);",
  /* 1 -> 2: DSN requests (RFC 3461). dsn_ret: 0 unset, 1 FULL, 2 HDRS;
   * dsn_envid decoded; dsn_notify: RelaisDsnNotify flags, 0 unset; dsn_orcpt:
   * "type;address" decoded; dsn_action: what a success notification will
   * report, 0 nothing, 1 delivered, 2 relayed (RelaisBounceAction). */
  "ALTER TABLE messages ADD COLUMN dsn_ret INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE messages ADD COLUMN dsn_envid TEXT;"
  "ALTER TABLE recipients ADD COLUMN dsn_notify INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE recipients ADD COLUMN dsn_orcpt TEXT;"
  "ALTER TABLE recipients ADD COLUMN dsn_action INTEGER NOT NULL DEFAULT 0;",
  /* 2 -> 3: Distribution (the mode and the single relay host live in settings) */
  "CREATE TABLE relay_hosts (name TEXT PRIMARY KEY, server TEXT NOT NULL, port INTEGER NOT NULL,"
  "  always_tls INTEGER NOT NULL, authentication INTEGER NOT NULL,"
  "  username TEXT NOT NULL DEFAULT '', password TEXT NOT NULL DEFAULT '');"
  "CREATE TABLE relay_rules (id INTEGER PRIMARY KEY, position INTEGER NOT NULL, kind TEXT NOT NULL,"
  "  host TEXT NOT NULL REFERENCES relay_hosts(name) ON UPDATE CASCADE);"
  "CREATE TABLE relay_rule_patterns (rule_id INTEGER NOT NULL"
  "  REFERENCES relay_rules(id) ON DELETE CASCADE,"
  "  position INTEGER NOT NULL, pattern TEXT NOT NULL, PRIMARY KEY (rule_id, position));",
  /* 3 -> 4: Relay Control */
  "CREATE TABLE trusted_networks (name TEXT PRIMARY KEY, network TEXT NOT NULL);"
  "CREATE TABLE relay_domains (name TEXT PRIMARY KEY, domain TEXT NOT NULL UNIQUE);",
  /* 4 -> 5: Security (the settings live in settings). The black/white rules
   * in their order; list, type and action by name ("black", "ip", "reject";
   * action '' on the whitelist). Names are unique regardless of case, which
   * the loading checks. */
  "CREATE TABLE security_rules (position INTEGER PRIMARY KEY, name TEXT NOT NULL, list TEXT NOT NULL,"
  "  type TEXT NOT NULL, value TEXT NOT NULL, action TEXT NOT NULL DEFAULT '');",
  /* 5 -> 6: Statistics history (relais-stats-history.h), one row per counter
   * and calendar minute: minute is the unix time of its first second (UTC),
   * counter the D-Bus property name ("MessagesReceived"), value the growth
   * during that minute (a gauge's highest value). Rows of 0 are not stored. */
  "CREATE TABLE stats_minutes (counter TEXT NOT NULL, minute INTEGER NOT NULL,"
  "  value INTEGER NOT NULL, PRIMARY KEY (counter, minute)) WITHOUT ROWID;",
  /* 6 -> 7: DKIM signing keys, one per sending domain (lower case):
   * algorithm by its D-Bus name ("rsa-2048", "ed25519"), the private key as
   * PKCS#8 PEM (a secret: the file is 0600), created in unix time. */
  "CREATE TABLE dkim_keys (domain TEXT PRIMARY KEY, selector TEXT NOT NULL, algorithm TEXT NOT NULL,"
  "  private_pem TEXT NOT NULL, created INTEGER NOT NULL);",
  /* 7 -> 8: the audit trail of administration (relais-audit.h), one row per
   * applied change: time in unix seconds, the caller's unix uid and bus name,
   * the D-Bus interface and method, the setting or item changed, and its old
   * and new value as text ('' where there was none). Never a secret. */
  "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
  "  uid INTEGER NOT NULL, sender TEXT NOT NULL, interface TEXT NOT NULL, member TEXT NOT NULL,"
  "  name TEXT NOT NULL, old_value TEXT NOT NULL, new_value TEXT NOT NULL);"
  "CREATE INDEX audit_time ON audit (time);",
  /* 8 -> 9: when a message was queued to the microsecond (unix time), for
   * the delivery delay in the logs and the latency histogram; 0 for the
   * messages queued before, whose received_at (whole seconds) is all there is. */
  "ALTER TABLE messages ADD COLUMN received_usec INTEGER NOT NULL DEFAULT 0;",
  /* 9 -> 10: the oldest message (RELAIS_STAT_QUEUE_OLDEST, read after each
   * removal) without a scan of the whole queue; the scheduler's due
   * recipients in its order (next attempt, message, position) straight from
   * the index, where every pass sorted all the due rows (they share
   * next_attempt 0 until tried) to take the first few. */
  "CREATE INDEX IF NOT EXISTS messages_received_at ON messages (received_at);"
  "DROP INDEX IF EXISTS recipients_due;"
  "CREATE INDEX recipients_due ON recipients (state, next_attempt, message_id, position);",
  /* 10 -> 11: the name of the message's file in spool/msg when it is not
   * the id: a file of a delivered message reused as it is, without a rename
   * (relais-queue.c); NULL for a file named by the id. */
  "ALTER TABLE messages ADD COLUMN spool_file TEXT;",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == RELAIS_STORE_SCHEMA_VERSION);

typedef sqlite3_stmt RelaisStmt;
static void
relais_stmt_finalize (RelaisStmt *stmt)
{
  sqlite3_finalize (stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisStmt, relais_stmt_finalize)

void
relais_store_set_error (sqlite3 *db, const char *what, GError **error)
{
  int code = (sqlite3_extended_errcode (db) & 0xff) == SQLITE_FULL ? RELAIS_ERROR_NO_SPACE : RELAIS_ERROR_STORAGE;

  g_set_error (error, RELAIS_ERROR, code, "%s: %s", what, sqlite3_errmsg (db));
}

static gboolean
exec (sqlite3 *db, const char *sql, GError **error)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "database error", error);
      return FALSE;
    }
  return TRUE;
}

static RelaisStmt *
prepare (sqlite3 *db, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "cannot prepare a statement", error);
      return NULL;
    }
  return stmt;
}

static gboolean
step_done (sqlite3 *db, sqlite3_stmt *stmt, GError **error)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot write to the database", error);
      return FALSE;
    }
  return TRUE;
}

static int
schema_version (sqlite3 *db)
{
  g_autoptr (RelaisStmt) stmt = prepare (db, "PRAGMA user_version", NULL);

  if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
    return sqlite3_column_int (stmt, 0);
  return -1;
}

static gboolean
migrate (sqlite3 *db, GError **error)
{
  int version = schema_version (db);

  if (version < 0)
    {
      relais_store_set_error (db, "cannot read the schema version", error);
      return FALSE;
    }
  if (version > RELAIS_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE,
                   "database schema version %d is newer than this relaisd understands (%d); "
                   "use a newer relaisd or restore a backup",
                   version, RELAIS_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  for (; version < RELAIS_STORE_SCHEMA_VERSION; version++)
    {
      g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
      g_autoptr (GError) local_error = NULL;

      if (!exec (db, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!exec (db, migrations[version], &local_error) || !exec (db, bump, &local_error) ||
          !exec (db, "COMMIT", &local_error))
        {
          exec (db, "ROLLBACK", NULL);
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "migrating the database to version %d: ", version + 1);
          return FALSE;
        }
      g_info ("database schema migrated to version %d", version + 1);
    }
  return TRUE;
}

/* A connection to PATH as each of ours is: busy timeout, extended result
 * codes, foreign keys, and SYNCHRONOUS ("PRAGMA synchronous = ..."). */
static sqlite3 *
open_connection (const char *path, int flags, const char *synchronous, GError **error)
{
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | flags, NULL) != SQLITE_OK)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "cannot open database %s: %s", path,
                   db != NULL ? sqlite3_errmsg (db) : "out of memory");
      sqlite3_close_v2 (db);
      return NULL;
    }
  sqlite3_busy_timeout (db, 5000);
  sqlite3_extended_result_codes (db, 1);
  if (!exec (db, "PRAGMA journal_mode = WAL", error) || !exec (db, synchronous, error) ||
      !exec (db, "PRAGMA foreign_keys = ON", error))
    {
      g_prefix_error (error, "%s: ", path);
      sqlite3_close_v2 (db);
      return NULL;
    }
  return db;
}

static void drop_cached (sqlite3 *db);

static void
close_connection (sqlite3 *db)
{
  drop_cached (db);
  sqlite3_close_v2 (db);
}

RelaisStore *
relais_store_open (const char *path, GError **error)
{
  g_autoptr (RelaisStore) store = g_new0 (RelaisStore, 1);
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  g_mutex_init (&store->lock);

  /* Create the file 0600 ourselves: it holds password hashes. */
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "cannot open database %s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  fchmod (fd, 0600);
  close (fd);

  /* WAL + synchronous=FULL: a COMMIT is on stable storage when it returns,
   * which is what "250 only once stored" relies on. */
  store->db = open_connection (path, SQLITE_OPEN_FULLMUTEX, "PRAGMA synchronous = FULL", error);
  if (store->db == NULL)
    return NULL;
  if (!migrate (store->db, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }

  return g_steal_pointer (&store);
}

/* ---------------------------------------------------------- kept statements */

/* sqlite3* -> (SQL text address -> sqlite3_stmt*), under CACHE_LOCK; each
 * statement itself is only used under its store's lock. */
static GMutex cache_lock;
static GHashTable *cache;

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

sqlite3_stmt *
relais_store_cached (sqlite3 *db, const char *sql, GError **error)
{
  GHashTable *statements;
  sqlite3_stmt *stmt;

  g_mutex_lock (&cache_lock);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) g_hash_table_unref);
  statements = g_hash_table_lookup (cache, db);
  if (statements == NULL)
    {
      statements = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, finalize_stmt);
      g_hash_table_insert (cache, db, statements);
    }
  stmt = g_hash_table_lookup (statements, sql);
  if (stmt == NULL)
    {
      if (sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
        {
          relais_store_set_error (db, "cannot prepare a statement", error);
          sqlite3_finalize (stmt);
          g_mutex_unlock (&cache_lock);
          return NULL;
        }
      g_hash_table_insert (statements, (gpointer) sql, stmt);
    }
  g_mutex_unlock (&cache_lock);
  return stmt;
}

void
relais_cached_stmt_release (sqlite3_stmt *stmt)
{
  if (stmt == NULL)
    return;
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

gboolean
relais_store_exec_cached (sqlite3 *db, const char *sql, GError **error)
{
  g_autoptr(RelaisCachedStmt) stmt = relais_store_cached (db, sql, error);

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      relais_store_set_error (db, sql, error);
      return FALSE;
    }
  return TRUE;
}

static void
drop_cached (sqlite3 *db)
{
  g_mutex_lock (&cache_lock);
  if (cache != NULL)
    g_hash_table_remove (cache, db);
  g_mutex_unlock (&cache_lock);
}

void
relais_store_free (RelaisStore *store)
{
  if (store == NULL)
    return;
  if (store->db)
    close_connection (store->db);
  g_mutex_clear (&store->lock);
  g_free (store);
}

sqlite3 *
relais_store_open_writer (RelaisStore *store, GError **error)
{
  const char *path = sqlite3_db_filename (store->db, "main");

  if (path == NULL || path[0] == '\0')
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "the database has no file of its own");
      return NULL;
    }
  return open_connection (path, SQLITE_OPEN_NOMUTEX, "PRAGMA synchronous = NORMAL", error);
}

void
relais_store_close_writer (sqlite3 *db)
{
  if (db != NULL)
    close_connection (db);
}

sqlite3 *
relais_store_lock (RelaisStore *store)
{
  g_mutex_lock (&store->lock);
  return store->db;
}

void
relais_store_unlock (RelaisStore *store)
{
  g_mutex_unlock (&store->lock);
}

/* Runs FUNC inside one IMMEDIATE transaction under the lock; rolls back on failure. */
typedef gboolean (*TxnFunc) (sqlite3 *db, gconstpointer data, GError **error);

static gboolean
in_transaction (RelaisStore *store, TxnFunc func, gconstpointer data, GError **error)
{
  sqlite3 *db = relais_store_lock (store);
  gboolean ok = exec (db, "BEGIN IMMEDIATE", error);

  if (ok)
    {
      ok = func (db, data, error) && exec (db, "COMMIT", error);
      if (!ok)
        exec (db, "ROLLBACK", NULL);
    }
  relais_store_unlock (store);
  return ok;
}

/* ---------------------------------------------------------------- load */

static GStrv
column_list (sqlite3 *db, const char *sql, const char *key, GError **error)
{
  g_autoptr (RelaisStmt) stmt = prepare (db, sql, error);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  int rc;

  if (!stmt)
    return NULL;
  if (key)
    sqlite3_bind_text (stmt, 1, key, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_strv_builder_add (builder, (const char *) sqlite3_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot read the database", error);
      return NULL;
    }
  return g_strv_builder_end (builder);
}

/* Applies the stored General settings one by one, so that one bad stored
 * value (a hand-edited database) is reported and skipped, not fatal. The
 * Distribution settings are put in DISTRIBUTION, for load_distribution(), and
 * the Security ones in SECURITY, for load_security(). */
static RelaisConfig *
load_general (sqlite3 *db, RelaisConfig *config, GVariantDict *distribution, GVariantDict *security,
              GError **error)
{
  g_autoptr (RelaisStmt) stmt = prepare (db, "SELECT key, value FROM settings", error);
  g_autoptr (RelaisConfig) current = relais_config_ref (config);
  g_autoptr (GVariant) distribution_keys = relais_config_distribution_to_variant (config);
  g_autoptr (GVariant) security_keys = relais_config_security_to_variant (config);
  int rc;

  if (!stmt)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *key = (const char *) sqlite3_column_text (stmt, 0);
      const char *text = (const char *) sqlite3_column_text (stmt, 1);
      g_autoptr (GError) local_error = NULL;
      g_autoptr (GVariant) value = g_variant_parse (NULL, text, NULL, NULL, &local_error);
      g_auto (GVariantBuilder) changes = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
      g_autoptr (GVariant) distribution_default = g_variant_lookup_value (distribution_keys, key, NULL);
      g_autoptr (GVariant) security_default = g_variant_lookup_value (security_keys, key, NULL);
      RelaisConfig *next;

      if (value == NULL)
        {
          g_warning ("stored setting %s is unreadable (%s); using its default", key,
                     local_error->message);
          continue;
        }
      if (distribution_default != NULL)
        {
          g_variant_dict_insert_value (distribution, key, value);
          continue;
        }
      if (security_default != NULL)
        {
          g_variant_dict_insert_value (security, key, value);
          continue;
        }
      g_variant_builder_add (&changes, "{sv}", key, value);
      next = relais_config_apply_general (current, g_variant_builder_end (&changes), &local_error);
      if (next == NULL)
        {
          g_warning ("stored setting ignored: %s; using its default", local_error->message);
          continue;
        }
      relais_config_unref (current);
      current = next;
    }
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot read settings", error);
      return NULL;
    }
  return g_steal_pointer (&current);
}

static GPtrArray *
load_accounts (sqlite3 *db, GError **error)
{
  g_autoptr (RelaisStmt) stmt =
    prepare (db, "SELECT login, password_hash FROM accounts ORDER BY login", error);
  g_autoptr (GPtrArray) accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_account_free);
  int rc;

  if (!stmt)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr (RelaisAccount) account = g_new0 (RelaisAccount, 1);

      account->login = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
      account->password_hash = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      account->aliases = column_list (db,
                                      "SELECT address FROM account_aliases WHERE login = ?1 "
                                      "ORDER BY address",
                                      account->login, error);
      if (!account->aliases)
        return NULL;
      account->forwards = column_list (db,
                                       "SELECT address FROM account_forwards WHERE login = ?1 "
                                       "ORDER BY position",
                                       account->login, error);
      if (!account->forwards)
        return NULL;
      g_ptr_array_add (accounts, g_steal_pointer (&account));
    }
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot read accounts", error);
      return NULL;
    }
  return g_steal_pointer (&accounts);
}

/* Relay hosts as (name, {Server, Port, ...}), the fields AddRelayHost takes. */
static GPtrArray *
load_relay_hosts (sqlite3 *db, GError **error)
{
  g_autoptr (RelaisStmt) stmt = prepare (db,
                                         "SELECT name, server, port, always_tls, authentication, "
                                         "username, password FROM relay_hosts ORDER BY name",
                                         error);
  g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  int rc;

  if (!stmt)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_auto (GVariantBuilder) fields = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
      sqlite3_int64 port = sqlite3_column_int64 (stmt, 2);

      g_variant_builder_add (&fields, "{sv}", "Server",
                             g_variant_new_string ((const char *) sqlite3_column_text (stmt, 1)));
      /* out of range: give the validation a value it refuses, with a clear message */
      g_variant_builder_add (&fields, "{sv}", "Port",
                             g_variant_new_uint32 (port >= 0 && port <= G_MAXUINT32 ? (guint32) port : 0));
      g_variant_builder_add (&fields, "{sv}", "AlwaysTls",
                             g_variant_new_boolean (sqlite3_column_int (stmt, 3) != 0));
      g_variant_builder_add (&fields, "{sv}", "Authentication",
                             g_variant_new_boolean (sqlite3_column_int (stmt, 4) != 0));
      g_variant_builder_add (&fields, "{sv}", "Username",
                             g_variant_new_string ((const char *) sqlite3_column_text (stmt, 5)));
      g_variant_builder_add (&fields, "{sv}", "Password",
                             g_variant_new_string ((const char *) sqlite3_column_text (stmt, 6)));
      g_ptr_array_add (hosts, g_variant_ref_sink (g_variant_new ("(s@a{sv})",
                                                                 (const char *) sqlite3_column_text (stmt, 0),
                                                                 g_variant_builder_end (&fields))));
    }
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot read relay hosts", error);
      return NULL;
    }
  return g_steal_pointer (&hosts);
}

/* Rules in rule order as (id, kind, host, patterns). */
static GPtrArray *
load_relay_rules (sqlite3 *db, GError **error)
{
  g_autoptr (RelaisStmt) stmt = prepare (db,
                                         "SELECT r.id, r.kind, r.host, p.pattern FROM relay_rules r "
                                         "LEFT JOIN relay_rule_patterns p ON p.rule_id = r.id "
                                         "ORDER BY r.position, r.id, p.position",
                                         error);
  g_autoptr (GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr (GStrvBuilder) patterns = NULL;
  g_autofree char *kind = NULL;
  g_autofree char *host = NULL;
  sqlite3_int64 id = -1;
  int rc;

  if (!stmt)
    return NULL;
  for (;;)
    {
      rc = sqlite3_step (stmt);
      if (id >= 0 && (rc != SQLITE_ROW || sqlite3_column_int64 (stmt, 0) != id))
        {
          g_auto (GStrv) list = g_strv_builder_end (patterns);
          /* ids out of range become 0 and take a new id */
          g_ptr_array_add (rules, g_variant_ref_sink (g_variant_new ("(uss^as)",
                                                                     id > 0 && id <= G_MAXUINT32 ? (guint32) id : 0,
                                                                     kind, host, list)));
          id = -1;
        }
      if (rc != SQLITE_ROW)
        break;
      if (id < 0)
        {
          id = sqlite3_column_int64 (stmt, 0);
          g_free (kind);
          kind = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
          g_free (host);
          host = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
          g_clear_pointer (&patterns, g_strv_builder_unref);
          patterns = g_strv_builder_new ();
        }
      if (sqlite3_column_type (stmt, 3) != SQLITE_NULL)
        g_strv_builder_add (patterns, (const char *) sqlite3_column_text (stmt, 3));
    }
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot read relay rules", error);
      return NULL;
    }
  return g_steal_pointer (&rules);
}

/* Rows of a two-column query as (ss), in its order; SQL NULL (a hand-edited
 * row) reads as "", which validation then refuses; a row that is not UTF-8 is
 * reported and skipped. */
static GPtrArray *
load_pairs (sqlite3 *db, const char *sql, const char *what, GError **error)
{
  g_autoptr (RelaisStmt) stmt = prepare (db, sql, error);
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  int rc;

  if (!stmt)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *first = (const char *) sqlite3_column_text (stmt, 0);
      const char *second = (const char *) sqlite3_column_text (stmt, 1);

      if ((first && !g_utf8_validate (first, -1, NULL)) || (second && !g_utf8_validate (second, -1, NULL)))
        {
          g_warning ("a stored row of %s ignored: it is not valid UTF-8", what);
          continue;
        }
      g_ptr_array_add (rows, g_variant_ref_sink (g_variant_new ("(ss)", first ? first : "", second ? second : "")));
    }
  if (rc != SQLITE_DONE)
    {
      g_autofree char *message = g_strdup_printf ("cannot read %s", what);
      relais_store_set_error (db, message, error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

/* Replaces *CONFIG by NEXT, or warns with WHAT and ERROR when NEXT is NULL.
 * (ERROR is passed by address: it is set by the call that makes NEXT.) */
static void
take_or_warn (RelaisConfig **config, RelaisConfig *next, const char *what, GError **error)
{
  if (next == NULL)
    {
      g_warning ("%s ignored: %s", what, (*error)->message);
      return;
    }
  relais_config_unref (*config);
  *config = next;
}

/* Builds the Distribution settings through the same validating edits the
 * D-Bus side uses, in the order their checks need: the relay hosts, the rules
 * (they name hosts), the single host's fields (authentication after the user
 * name and password), the mode last (it needs a server or a host). A bad
 * stored value is reported and skipped. */
static void
load_distribution (RelaisConfig **config, GVariantDict *settings, GPtrArray *hosts, GPtrArray *rules)
{
  static const char *const order[] = { "RelayServer", "RelayPort", "RelayAlwaysTls", "RelayUsername",
                                       "RelayPassword", "RelayAuthentication", "Mode", NULL };

  for (guint i = 0; i < hosts->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) fields = NULL;
      g_autofree char *what = NULL;
      const char *name;

      g_variant_get (hosts->pdata[i], "(&s@a{sv})", &name, &fields);
      what = g_strdup_printf ("stored relay host '%s'", name);
      take_or_warn (config, relais_config_add_relay_host (*config, name, fields, &error), what, &error);
    }
  for (guint i = 0; i < rules->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree const char **patterns = NULL;
      g_autofree char *what = NULL;
      const char *kind, *host;
      guint32 id;

      g_variant_get (rules->pdata[i], "(u&s&s^a&s)", &id, &kind, &host, &patterns);
      what = g_strdup_printf ("stored relay rule %u", id);
      take_or_warn (config, relais_config_add_relay_rule (*config, id, kind, host, patterns, NULL, &error),
                    what, &error);
    }
  for (guint i = 0; order[i]; i++)
    {
      g_autoptr (GVariant) value = g_variant_dict_lookup_value (settings, order[i], NULL);
      g_autoptr (GError) error = NULL;
      g_auto (GVariantBuilder) changes = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

      if (value == NULL)
        continue;
      g_variant_builder_add (&changes, "{sv}", order[i], value);
      take_or_warn (config,
                    relais_config_apply_distribution (*config, g_variant_builder_end (&changes), &error),
                    "stored setting", &error);
    }
}

/* Builds the Relay Control lists through the validating edits, after the
 * local domains (a relay domain may not be one); a bad stored entry is
 * reported and skipped. */
static void
load_relay_control (RelaisConfig **config, GPtrArray *networks, GPtrArray *domains)
{
  for (guint i = 0; i < networks->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *what = NULL;
      const char *name, *network;

      g_variant_get (networks->pdata[i], "(&s&s)", &name, &network);
      what = g_strdup_printf ("stored trusted network '%s'", name);
      take_or_warn (config, relais_config_add_trusted_network (*config, name, network, &error), what, &error);
    }
  for (guint i = 0; i < domains->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *what = NULL;
      const char *name, *domain;

      g_variant_get (domains->pdata[i], "(&s&s)", &name, &domain);
      what = g_strdup_printf ("stored relay domain '%s'", name);
      take_or_warn (config, relais_config_add_relay_domain (*config, name, domain, &error), what, &error);
    }
}

/* The black/white rules in their order as a(sssss). SQL NULL reads as "",
 * which validation then refuses; a row that is not UTF-8 is reported and
 * skipped. */
static GVariant *
load_security_rules (sqlite3 *db, GError **error)
{
  g_autoptr (RelaisStmt) stmt =
    prepare (db, "SELECT name, list, type, value, action FROM security_rules ORDER BY position", error);
  g_auto (GVariantBuilder) rules = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sssss)"));
  int rc;

  if (!stmt)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *fields[5];
      gboolean valid = TRUE;

      for (int i = 0; i < 5; i++)
        {
          const char *text = (const char *) sqlite3_column_text (stmt, i);

          fields[i] = text ? text : "";
          valid = valid && g_utf8_validate (fields[i], -1, NULL);
        }
      if (!valid)
        {
          g_warning ("a stored black/white rule ignored: it is not valid UTF-8");
          continue;
        }
      g_variant_builder_add (&rules, "(sssss)", fields[0], fields[1], fields[2], fields[3], fields[4]);
    }
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot read black/white rules", error);
      return NULL;
    }
  return g_variant_ref_sink (g_variant_builder_end (&rules));
}

/* At most this many skipped stored rules are reported one by one. */
#define MAX_RULE_WARNINGS 20

/* The Security settings one by one (a bad stored value is reported and its
 * default kept), then the rules in one go (a bad stored rule is reported and
 * skipped). */
static void
load_security (RelaisConfig **config, GVariantDict *settings, GVariant *rules)
{
  g_autoptr (GVariant) all = g_variant_ref_sink (g_variant_dict_end (settings));
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  RelaisConfig *next;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, all);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr (GVariant) owned = value;
      g_autoptr (GError) error = NULL;
      g_auto (GVariantBuilder) changes = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

      g_variant_builder_add (&changes, "{sv}", key, owned);
      take_or_warn (config, relais_config_apply_security (*config, g_variant_builder_end (&changes), &error),
                    "stored setting", &error);
    }
  next = relais_config_load_security_rules (*config, rules, problems);
  relais_config_unref (*config);
  *config = next;
  for (guint i = 0; i < problems->len && i < MAX_RULE_WARNINGS; i++)
    g_warning ("stored black/white rule ignored: %s", (const char *) problems->pdata[i]);
  if (problems->len > MAX_RULE_WARNINGS)
    g_warning ("%u more stored black/white rules ignored", problems->len - MAX_RULE_WARNINGS);
}

/* The stored DKIM keys, each checked and made ready to sign; a row that does
 * not make a key (hand-edited, or a key GnuTLS no longer takes) is reported
 * (domain and reason, never the key) and skipped. FALSE on a read error. */
static gboolean
load_dkim_keys (sqlite3 *db, GPtrArray *keys, GError **error)
{
  g_autoptr (RelaisStmt) stmt =
    prepare (db, "SELECT domain, selector, algorithm, private_pem, created FROM dkim_keys ORDER BY domain", error);
  int rc;

  if (!stmt)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *domain = (const char *) sqlite3_column_text (stmt, 0);
      g_autoptr (GError) local_error = NULL;
      RelaisDkimSigningKey *key = relais_dkim_signing_key_new (domain, (const char *) sqlite3_column_text (stmt, 1),
                                                               (const char *) sqlite3_column_text (stmt, 3),
                                                               sqlite3_column_int64 (stmt, 4), &local_error);

      if (key == NULL)
        {
          g_warning ("stored DKIM key of %s ignored: %s", domain, local_error->message);
          continue;
        }
      g_ptr_array_add (keys, key);
    }
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "cannot read the DKIM keys", error);
      return FALSE;
    }
  return TRUE;
}

RelaisConfig *
relais_store_load_config (RelaisStore *store, const char *default_hostname, GError **error)
{
  g_autoptr (GPtrArray) dkim_keys = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dkim_signing_key_free);
  g_autoptr (RelaisConfig) base = relais_config_new_default ();
  g_autoptr (RelaisConfig) config = NULL;
  g_auto (GStrv) domains = NULL;
  g_autoptr (GPtrArray) accounts = NULL;
  g_autoptr (GPtrArray) relay_hosts = NULL;
  g_autoptr (GPtrArray) relay_rules = NULL;
  g_autoptr (GPtrArray) trusted_networks = NULL;
  g_autoptr (GPtrArray) relay_domains = NULL;
  g_autoptr (GVariant) security_rules = NULL;
  g_auto (GVariantDict) distribution = G_VARIANT_DICT_INIT (NULL);
  g_auto (GVariantDict) security = G_VARIANT_DICT_INIT (NULL);
  sqlite3 *db;

  if (default_hostname && relais_is_fqdn (default_hostname))
    {
      g_free (base->hostname);
      base->hostname = g_ascii_strdown (default_hostname, -1);
    }

  db = relais_store_lock (store);
  config = load_general (db, base, &distribution, &security, error);
  if (config)
    domains = column_list (db, "SELECT domain FROM local_domains ORDER BY domain", NULL, error);
  if (domains)
    accounts = load_accounts (db, error);
  if (accounts)
    relay_hosts = load_relay_hosts (db, error);
  if (relay_hosts)
    relay_rules = load_relay_rules (db, error);
  if (relay_rules)
    trusted_networks = load_pairs (db, "SELECT name, network FROM trusted_networks ORDER BY name",
                                   "trusted networks", error);
  if (trusted_networks)
    relay_domains = load_pairs (db, "SELECT name, domain FROM relay_domains ORDER BY name", "relay domains",
                                error);
  if (relay_domains)
    security_rules = load_security_rules (db, error);
  if (security_rules && !load_dkim_keys (db, dkim_keys, error))
    g_clear_pointer (&security_rules, g_variant_unref);
  relais_store_unlock (store);
  if (!security_rules)
    return NULL;

  /* Build the rest through the same validating edits the D-Bus side uses, so
   * the indexes are made in one place; a bad stored row is skipped with a warning. */
  for (guint i = 0; domains[i]; i++)
    {
      g_autoptr (GError) local_error = NULL;
      RelaisConfig *next = relais_config_add_local_domain (config, domains[i], &local_error);

      if (!next)
        {
          g_warning ("stored local domain ignored: %s", local_error->message);
          continue;
        }
      relais_config_unref (config);
      config = next;
    }
  for (guint i = 0; i < accounts->len; i++)
    {
      g_autoptr (GError) local_error = NULL;
      RelaisConfig *next = relais_config_put_account (config, accounts->pdata[i], TRUE, &local_error);

      if (!next)
        {
          g_warning ("stored account ignored: %s", local_error->message);
          continue;
        }
      relais_config_unref (config);
      config = next;
    }
  load_distribution (&config, &distribution, relay_hosts, relay_rules);
  load_relay_control (&config, trusted_networks, relay_domains);
  load_security (&config, &security, security_rules);
  while (dkim_keys->len > 0)
    {
      RelaisConfig *next = relais_config_put_dkim_key (config, g_ptr_array_steal_index (dkim_keys, 0));

      relais_config_unref (config);
      config = next;
    }
  return g_steal_pointer (&config);
}

/* ---------------------------------------------------------------- save */

/* Upserts SETTINGS (a{sv}, D-Bus property names) into the settings table. */
static gboolean
save_settings (sqlite3 *db, GVariant *settings, GError **error)
{
  g_autoptr (RelaisStmt) stmt =
    prepare (db, "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)", error);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  if (!stmt)
    return FALSE;
  g_variant_iter_init (&iter, settings);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      g_autofree char *text = g_variant_print (value, TRUE);

      sqlite3_reset (stmt);
      sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, text, -1, SQLITE_TRANSIENT);
      if (!step_done (db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
save_general_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  g_autoptr (GVariant) general = relais_config_general_to_variant (data);

  return save_settings (db, general, error);
}

gboolean
relais_store_save_general (RelaisStore *store, const RelaisConfig *config, GError **error)
{
  return in_transaction (store, save_general_txn, config, error);
}

static gboolean
run_one (sqlite3 *db, const char *sql, const char *arg, GError **error)
{
  g_autoptr (RelaisStmt) stmt = prepare (db, sql, error);

  if (!stmt)
    return FALSE;
  sqlite3_bind_text (stmt, 1, arg, -1, SQLITE_STATIC);
  return step_done (db, stmt, error);
}

static gboolean
add_domain_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  return run_one (db, "INSERT OR IGNORE INTO local_domains (domain) VALUES (?1)", data, error);
}

static gboolean
remove_domain_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  return run_one (db, "DELETE FROM local_domains WHERE domain = ?1", data, error);
}

gboolean
relais_store_add_local_domain (RelaisStore *store, const char *domain, GError **error)
{
  return in_transaction (store, add_domain_txn, domain, error);
}

gboolean
relais_store_remove_local_domain (RelaisStore *store, const char *domain, GError **error)
{
  return in_transaction (store, remove_domain_txn, domain, error);
}

static gboolean
remove_account_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  return run_one (db, "DELETE FROM accounts WHERE login = ?1", data, error);
}

static gboolean
save_account_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  const RelaisAccount *account = data;
  g_autoptr (RelaisStmt) put = NULL;
  g_autoptr (RelaisStmt) alias = NULL;
  g_autoptr (RelaisStmt) forward = NULL;

  /* Replace the account's rows as a whole: simple, and one transaction. */
  if (!run_one (db, "DELETE FROM account_aliases WHERE login = ?1", account->login, error) ||
      !run_one (db, "DELETE FROM account_forwards WHERE login = ?1", account->login, error))
    return FALSE;

  put = prepare (db,
                 "INSERT INTO accounts (login, password_hash) VALUES (?1, ?2) "
                 "ON CONFLICT (login) DO UPDATE SET password_hash = excluded.password_hash",
                 error);
  if (!put)
    return FALSE;
  sqlite3_bind_text (put, 1, account->login, -1, SQLITE_STATIC);
  sqlite3_bind_text (put, 2, account->password_hash, -1, SQLITE_STATIC);
  if (!step_done (db, put, error))
    return FALSE;

  alias = prepare (db, "INSERT INTO account_aliases (address, login) VALUES (?1, ?2)", error);
  if (!alias)
    return FALSE;
  for (guint i = 0; account->aliases && account->aliases[i]; i++)
    {
      sqlite3_reset (alias);
      sqlite3_bind_text (alias, 1, account->aliases[i], -1, SQLITE_STATIC);
      sqlite3_bind_text (alias, 2, account->login, -1, SQLITE_STATIC);
      if (!step_done (db, alias, error))
        return FALSE;
    }

  forward = prepare (db, "INSERT INTO account_forwards (login, position, address) VALUES (?1, ?2, ?3)",
                     error);
  if (!forward)
    return FALSE;
  for (guint i = 0; account->forwards && account->forwards[i]; i++)
    {
      sqlite3_reset (forward);
      sqlite3_bind_text (forward, 1, account->login, -1, SQLITE_STATIC);
      sqlite3_bind_int (forward, 2, (int) i);
      sqlite3_bind_text (forward, 3, account->forwards[i], -1, SQLITE_STATIC);
      if (!step_done (db, forward, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
relais_store_save_account (RelaisStore *store, const RelaisAccount *account, GError **error)
{
  return in_transaction (store, save_account_txn, account, error);
}

gboolean
relais_store_remove_account (RelaisStore *store, const char *login, GError **error)
{
  return in_transaction (store, remove_account_txn, login, error);
}

static gboolean
save_distribution_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  const RelaisConfig *config = data;
  g_autoptr (GVariant) settings = relais_config_distribution_to_variant (config);
  g_autoptr (RelaisStmt) setting = NULL;
  g_autoptr (RelaisStmt) host = NULL;
  g_autoptr (RelaisStmt) rule = NULL;
  g_autoptr (RelaisStmt) pattern = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  setting = prepare (db, "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)", error);
  if (!setting)
    return FALSE;
  g_variant_iter_init (&iter, settings);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      g_autofree char *text = g_variant_print (value, TRUE);

      sqlite3_reset (setting);
      sqlite3_bind_text (setting, 1, key, -1, SQLITE_STATIC);
      sqlite3_bind_text (setting, 2, text, -1, SQLITE_TRANSIENT);
      if (!step_done (db, setting, error))
        return FALSE;
    }

  /* The collections are rewritten whole (patterns go with their rules). */
  if (!exec (db, "DELETE FROM relay_rules; DELETE FROM relay_hosts;", error))
    return FALSE;
  host = prepare (db,
                  "INSERT INTO relay_hosts (name, server, port, always_tls, authentication, username, "
                  "password) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                  error);
  if (!host)
    return FALSE;
  for (guint i = 0; i < config->relay_hosts->len; i++)
    {
      const RelaisRelayHost *h = config->relay_hosts->pdata[i];

      sqlite3_reset (host);
      sqlite3_bind_text (host, 1, h->name, -1, SQLITE_STATIC);
      sqlite3_bind_text (host, 2, h->server, -1, SQLITE_STATIC);
      sqlite3_bind_int (host, 3, (int) h->port);
      sqlite3_bind_int (host, 4, h->always_tls);
      sqlite3_bind_int (host, 5, h->authentication);
      sqlite3_bind_text (host, 6, h->username, -1, SQLITE_STATIC);
      sqlite3_bind_text (host, 7, h->password, -1, SQLITE_STATIC);
      if (!step_done (db, host, error))
        return FALSE;
    }

  rule = prepare (db, "INSERT INTO relay_rules (id, position, kind, host) VALUES (?1, ?2, ?3, ?4)", error);
  pattern = prepare (db, "INSERT INTO relay_rule_patterns (rule_id, position, pattern) VALUES (?1, ?2, ?3)",
                     error);
  if (!rule || !pattern)
    return FALSE;
  for (guint i = 0; i < config->relay_rules->len; i++)
    {
      const RelaisRelayRule *r = config->relay_rules->pdata[i];

      sqlite3_reset (rule);
      sqlite3_bind_int64 (rule, 1, r->id);
      sqlite3_bind_int (rule, 2, (int) i);
      sqlite3_bind_text (rule, 3, relais_rule_kind_to_string (r->kind), -1, SQLITE_STATIC);
      sqlite3_bind_text (rule, 4, r->host, -1, SQLITE_STATIC);
      if (!step_done (db, rule, error))
        return FALSE;
      for (guint j = 0; r->patterns[j]; j++)
        {
          sqlite3_reset (pattern);
          sqlite3_bind_int64 (pattern, 1, r->id);
          sqlite3_bind_int (pattern, 2, (int) j);
          sqlite3_bind_text (pattern, 3, r->patterns[j], -1, SQLITE_STATIC);
          if (!step_done (db, pattern, error))
            return FALSE;
        }
    }
  return TRUE;
}

gboolean
relais_store_save_distribution (RelaisStore *store, const RelaisConfig *config, GError **error)
{
  return in_transaction (store, save_distribution_txn, config, error);
}

/* Rewrites TABLE (name, COLUMN) with LIST, whose entries have their name and
 * value strings at NAME_OFFSET and VALUE_OFFSET. */
static gboolean
save_pairs (sqlite3 *db, const char *table, const char *column, GPtrArray *list, gsize name_offset,
            gsize value_offset, GError **error)
{
  g_autofree char *clear = g_strdup_printf ("DELETE FROM %s", table);
  g_autofree char *insert = g_strdup_printf ("INSERT INTO %s (name, %s) VALUES (?1, ?2)", table, column);
  g_autoptr (RelaisStmt) stmt = NULL;

  if (!exec (db, clear, error))
    return FALSE;
  stmt = prepare (db, insert, error);
  if (!stmt)
    return FALSE;
  for (guint i = 0; i < list->len; i++)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_text (stmt, 1, G_STRUCT_MEMBER (const char *, list->pdata[i], name_offset), -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, G_STRUCT_MEMBER (const char *, list->pdata[i], value_offset), -1, SQLITE_STATIC);
      if (!step_done (db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
save_relay_control_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  const RelaisConfig *config = data;

  return save_pairs (db, "trusted_networks", "network", config->trusted_networks,
                     G_STRUCT_OFFSET (RelaisTrustedNetwork, name), G_STRUCT_OFFSET (RelaisTrustedNetwork, network),
                     error) &&
         save_pairs (db, "relay_domains", "domain", config->relay_domains, G_STRUCT_OFFSET (RelaisRelayDomain, name),
                     G_STRUCT_OFFSET (RelaisRelayDomain, domain), error);
}

gboolean
relais_store_save_relay_control (RelaisStore *store, const RelaisConfig *config, GError **error)
{
  return in_transaction (store, save_relay_control_txn, config, error);
}

static gboolean
save_security_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  g_autoptr (GVariant) settings = relais_config_security_to_variant (data);

  return save_settings (db, settings, error);
}

gboolean
relais_store_save_security (RelaisStore *store, const RelaisConfig *config, GError **error)
{
  return in_transaction (store, save_security_txn, config, error);
}

/* The whole list, in order, through one prepared statement: 100,000 rules
 * take well under a second. */
static gboolean
save_security_rules_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  const RelaisConfig *config = data;
  guint n = relais_rule_set_get_length (config->security_rules);
  g_autoptr (RelaisStmt) stmt = NULL;

  if (!exec (db, "DELETE FROM security_rules", error))
    return FALSE;
  stmt = prepare (db,
                  "INSERT INTO security_rules (position, name, list, type, value, action) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                  error);
  if (!stmt)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      const RelaisSecurityRule *rule = relais_rule_set_get (config->security_rules, i);

      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, i);
      sqlite3_bind_text (stmt, 2, rule->name, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 3, relais_rule_list_to_string (rule->list), -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 4, relais_rule_type_to_string (rule->type), -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 5, rule->value, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 6, rule->list == RELAIS_RULE_LIST_WHITE ? ""
                                  : relais_rule_action_to_string (rule->action), -1, SQLITE_STATIC);
      if (!step_done (db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
relais_store_save_security_rules (RelaisStore *store, const RelaisConfig *config, GError **error)
{
  return in_transaction (store, save_security_rules_txn, config, error);
}

static gboolean
save_dkim_keys_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  const RelaisConfig *config = data;
  g_autoptr (RelaisStmt) stmt = NULL;

  if (!exec (db, "DELETE FROM dkim_keys", error))
    return FALSE;
  stmt = prepare (db,
                  "INSERT INTO dkim_keys (domain, selector, algorithm, private_pem, created) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)",
                  error);
  if (!stmt)
    return FALSE;
  for (guint i = 0; i < config->dkim_keys->len; i++)
    {
      const RelaisDkimSigningKey *key = config->dkim_keys->pdata[i];

      sqlite3_reset (stmt);
      sqlite3_bind_text (stmt, 1, key->domain, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, key->selector, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 3, relais_dkim_algorithm_to_string (key->algorithm), -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 4, key->private_pem, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 5, key->created);
      if (!step_done (db, stmt, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
relais_store_save_dkim_keys (RelaisStore *store, const RelaisConfig *config, GError **error)
{
  return in_transaction (store, save_dkim_keys_txn, config, error);
}

/* ---------------------------------------------------------------- audit */

void
relais_audit_entry_free (RelaisAuditEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->sender);
  g_free (entry->interface);
  g_free (entry->member);
  g_free (entry->name);
  g_free (entry->old_value);
  g_free (entry->new_value);
  g_free (entry);
}

typedef struct {
  GPtrArray *entries;
  gint64 oldest;
  guint max_rows;
} AuditAdd;

static gboolean
add_audit_txn (sqlite3 *db, gconstpointer data, GError **error)
{
  const AuditAdd *add = data;
  g_autoptr (RelaisStmt) insert =
    prepare (db,
             "INSERT INTO audit (time, uid, sender, interface, member, name, old_value, new_value) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
             error);
  g_autoptr (RelaisStmt) by_age = NULL;
  g_autoptr (RelaisStmt) by_count = NULL;

  if (!insert)
    return FALSE;
  for (guint i = 0; i < add->entries->len; i++)
    {
      const RelaisAuditEntry *e = add->entries->pdata[i];

      sqlite3_reset (insert);
      sqlite3_bind_int64 (insert, 1, e->time);
      sqlite3_bind_int64 (insert, 2, e->uid);
      sqlite3_bind_text (insert, 3, e->sender, -1, SQLITE_STATIC);
      sqlite3_bind_text (insert, 4, e->interface, -1, SQLITE_STATIC);
      sqlite3_bind_text (insert, 5, e->member, -1, SQLITE_STATIC);
      sqlite3_bind_text (insert, 6, e->name, -1, SQLITE_STATIC);
      sqlite3_bind_text (insert, 7, e->old_value, -1, SQLITE_STATIC);
      sqlite3_bind_text (insert, 8, e->new_value, -1, SQLITE_STATIC);
      if (!step_done (db, insert, error))
        return FALSE;
    }
  by_age = prepare (db, "DELETE FROM audit WHERE time < ?1", error);
  by_count = prepare (db, "DELETE FROM audit WHERE id <= "
                          "(SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?1)", error);
  if (!by_age || !by_count)
    return FALSE;
  sqlite3_bind_int64 (by_age, 1, add->oldest);
  sqlite3_bind_int64 (by_count, 1, add->max_rows);
  return step_done (db, by_age, error) && step_done (db, by_count, error);
}

gboolean
relais_store_add_audit (RelaisStore *store, GPtrArray *entries, gint64 oldest, guint max_rows, GError **error)
{
  AuditAdd add = { entries, oldest, max_rows };

  return in_transaction (store, add_audit_txn, &add, error);
}

static char *
column_dup (sqlite3_stmt *stmt, int column)
{
  const char *text = (const char *) sqlite3_column_text (stmt, column);

  return g_strdup (text != NULL ? text : "");
}

GPtrArray *
relais_store_list_audit (RelaisStore *store, gint64 since, guint max_entries, GError **error)
{
  sqlite3 *db = relais_store_lock (store);
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_audit_entry_free);
  /* the newest MAX_ENTRIES at or after SINCE, given back oldest first */
  g_autoptr (RelaisStmt) stmt =
    prepare (db,
             "SELECT time, uid, sender, interface, member, name, old_value, new_value FROM "
             "(SELECT * FROM audit WHERE time >= ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
             error);
  int rc = SQLITE_DONE;

  if (stmt)
    {
      sqlite3_bind_int64 (stmt, 1, since);
      sqlite3_bind_int64 (stmt, 2, max_entries);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          RelaisAuditEntry *e = g_new0 (RelaisAuditEntry, 1);

          e->time = sqlite3_column_int64 (stmt, 0);
          e->uid = (guint32) sqlite3_column_int64 (stmt, 1);
          e->sender = column_dup (stmt, 2);
          e->interface = column_dup (stmt, 3);
          e->member = column_dup (stmt, 4);
          e->name = column_dup (stmt, 5);
          e->old_value = column_dup (stmt, 6);
          e->new_value = column_dup (stmt, 7);
          g_ptr_array_add (entries, e);
        }
      if (rc != SQLITE_DONE)
        relais_store_set_error (db, "cannot read the audit trail", error);
    }
  relais_store_unlock (store);
  if (stmt == NULL || rc != SQLITE_DONE)
    return NULL;
  return g_steal_pointer (&entries);
}
