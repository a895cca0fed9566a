/* SPDX-License-Identifier: GPL-3.0-or-later
 * The single owner of the SQLite database (WAL, synchronous=FULL) and its schema
 * version and migrations. Settings, local domains and accounts are read into a
 * RelaisConfig at start and written back one change at a time, each in one
 * transaction. Other modules (the queue) run their statements through
 * relais_store_lock()/unlock(): the handle is shared between the main thread and
 * the queue's commit thread, and the lock serializes them.
 * The database file is created 0600: it holds password hashes and the relay
 * hosts' passwords in clear (the daemon must present them) and the DKIM
 * private keys. */
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include "relais-config.h"

G_BEGIN_DECLS

typedef struct _RelaisStore RelaisStore;

#define RELAIS_STORE_SCHEMA_VERSION 11

RelaisStore  *relais_store_open (const char *path, GError **error);
void          relais_store_free (RelaisStore *store);

/* Loads settings, domains and accounts; missing settings take their defaults
 * (DEFAULT_HOSTNAME for the hostname). A stored value that fails validation is
 * reported and replaced by its default, never fatal. */
RelaisConfig *relais_store_load_config (RelaisStore *store, const char *default_hostname, GError **error);

/* Writes the whole of the General group, the local domains, one account, or
 * drops one, each in one transaction. */
gboolean      relais_store_save_general (RelaisStore *store, const RelaisConfig *config, GError **error);
gboolean      relais_store_add_local_domain (RelaisStore *store, const char *domain, GError **error);
gboolean      relais_store_remove_local_domain (RelaisStore *store, const char *domain, GError **error);
gboolean      relais_store_save_account (RelaisStore *store, const RelaisAccount *account, GError **error);
gboolean      relais_store_remove_account (RelaisStore *store, const char *login, GError **error);
/* Writes the whole Distribution page (mode, single relay host, relay hosts,
 * rules) in one transaction: a host rename touches the rules too, and the
 * page is small enough to rewrite at every change. */
gboolean      relais_store_save_distribution (RelaisStore *store, const RelaisConfig *config, GError **error);
/* Writes the Relay Control lists (trusted networks, relay domains) whole, in
 * one transaction. */
gboolean      relais_store_save_relay_control (RelaisStore *store, const RelaisConfig *config, GError **error);
/* Writes the Security settings (SPEC §4.3-4.5), or the whole black/white
 * rule list in its order, each in one transaction. */
gboolean      relais_store_save_security (RelaisStore *store, const RelaisConfig *config, GError **error);
gboolean      relais_store_save_security_rules (RelaisStore *store, const RelaisConfig *config, GError **error);
/* Writes the DKIM signing keys (domain, selector, algorithm, private key,
 * creation time) whole, in one transaction. */
gboolean      relais_store_save_dkim_keys (RelaisStore *store, const RelaisConfig *config, GError **error);

/* One row of the audit trail (relais-audit.h): what changed, when, by whom. */
typedef struct {
  gint64 time;          /* unix seconds */
  guint32 uid;          /* the caller's unix user */
  char *sender;         /* the caller's unique bus name */
  char *interface;
  char *member;
  char *name;           /* the setting or item */
  char *old_value;      /* "" when there was none */
  char *new_value;      /* "" when there is none now */
} RelaisAuditEntry;

void          relais_audit_entry_free (RelaisAuditEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAuditEntry, relais_audit_entry_free)

/* Appends ENTRIES (of RelaisAuditEntry*) to the audit table and, in the same
 * transaction, drops the rows older than OLDEST (unix seconds) and all but
 * the newest MAX_ROWS. */
gboolean      relais_store_add_audit (RelaisStore *store, GPtrArray *entries, gint64 oldest, guint max_rows,
                                      GError **error);
/* The newest MAX_ENTRIES rows made at or after SINCE, oldest first, as a
 * GPtrArray of RelaisAuditEntry* (owning). */
GPtrArray    *relais_store_list_audit (RelaisStore *store, gint64 since, guint max_entries, GError **error);

/* For modules with tables of their own (queue): the handle, held under the lock. */
sqlite3      *relais_store_lock (RelaisStore *store);
void          relais_store_unlock (RelaisStore *store);
/* A connection of its own to STORE's database for one thread that syncs the
 * WAL itself after its commits (the queue's commit thread): synchronous=NORMAL
 * for good, so no PRAGMA per transaction, and no lock shared with the main
 * thread (WAL: readers go on while it writes). NULL with ERROR when the
 * database has no file of its own. Close it with relais_store_close_writer()
 * in the same thread. */
sqlite3      *relais_store_open_writer (RelaisStore *store, GError **error);
void          relais_store_close_writer (sqlite3 *db);
/* Sets ERROR (RELAIS_ERROR_STORAGE) from the handle's last error, prefixed by WHAT. */
void          relais_store_set_error (sqlite3 *db, const char *what, GError **error);

/* The statements run at every message, prepared once per handle and kept
 * (parsing them again each time was a tenth of the main loop). SQL must be a
 * string constant: its address is the key. Call it and use the statement
 * under the store's lock; never finalize it: g_autoptr(RelaisCachedStmt)
 * resets it and clears its bindings at the end of the scope (which must end
 * before the lock is let go, or call relais_cached_stmt_release() first).
 * NULL with ERROR set when it cannot be prepared. */
typedef sqlite3_stmt RelaisCachedStmt;
sqlite3_stmt *relais_store_cached (sqlite3 *db, const char *sql, GError **error);
void          relais_cached_stmt_release (sqlite3_stmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisCachedStmt, relais_cached_stmt_release)
/* Runs SQL, a kept statement that returns no row (BEGIN, COMMIT, SAVEPOINT, PRAGMA ... = ...). */
gboolean      relais_store_exec_cached (sqlite3 *db, const char *sql, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisStore, relais_store_free)

G_END_DECLS
