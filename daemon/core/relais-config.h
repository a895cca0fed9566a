/* SPDX-License-Identifier: GPL-3.0-or-later
 * Typed settings: defaults, validation and the immutable snapshot.
 * A RelaisConfig is never modified once published: a change builds a new one
 * (relais_config_apply_general() and friends), the store writes it, and the
 * daemon swaps the current pointer. Sessions hold a reference from MAIL FROM to
 * the end of the transaction, so a live change never tears a transaction.
 * Addresses and domains are kept lower-cased (domains) / as given (local part). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *login;
  char *password_hash;   /* crypt(3) string: yescrypt ($y$) or SHA-512 ($6$) */
  GStrv aliases;         /* extra addresses owned, full user@domain */
  GStrv forwards;        /* forwarding addresses */
} RelaisAccount;

typedef struct {
  /*< private >*/
  gint ref_count;
  /*< public, read-only >*/
  /* General (SPEC §1) */
  gboolean smtp_authentication;
  gboolean skip_auth_for_local_networks;
  gboolean verify_sender_login;
  gboolean skip_sender_check_for_trusted;
  gboolean disable_auto_forward;
  char *hostname;
  char *banner;
  guint max_recipients;
  guint max_hops;
  guint max_message_size_mb;
  GStrv external_administrators;
  guint idle_timeout;            /* seconds, RFC 5321 §4.5.3.2.7 server timeout */

  /* Accounts */
  GStrv local_domains;           /* sorted, lower case */
  GPtrArray *accounts;           /* of RelaisAccount*, sorted by login */
  GHashTable *address_index;     /* lower-cased address -> RelaisAccount* (borrowed) */
} RelaisConfig;

/* Defaults from SPEC §1. */
#define RELAIS_DEFAULT_BANNER          "ESMTP Relais"
#define RELAIS_DEFAULT_MAX_RECIPIENTS  100
#define RELAIS_DEFAULT_MAX_HOPS        50
#define RELAIS_DEFAULT_MAX_SIZE_MB     10
#define RELAIS_DEFAULT_IDLE_TIMEOUT    300

RelaisConfig *relais_config_new_default (void);
RelaisConfig *relais_config_ref (RelaisConfig *config);
void          relais_config_unref (RelaisConfig *config);
RelaisConfig *relais_config_copy (const RelaisConfig *config);  /* deep, ref_count 1 */

gsize         relais_config_max_message_size (const RelaisConfig *config); /* bytes */
gboolean      relais_config_is_local_domain (const RelaisConfig *config, const char *domain);
/* The account owning ADDRESS (login@local-domain or an alias), or NULL. */
const RelaisAccount *relais_config_lookup_address (const RelaisConfig *config, const char *address);
const RelaisAccount *relais_config_lookup_login (const RelaisConfig *config, const char *login);
/* Every address an account owns: login@each local domain, then its aliases. */
GStrv         relais_config_account_addresses (const RelaisConfig *config, const RelaisAccount *account);

/* Validation helpers (also used by the SMTP parser's tests). */
gboolean      relais_is_fqdn (const char *name);
gboolean      relais_is_valid_domain (const char *name);
gboolean      relais_is_valid_address (const char *address);  /* user@domain, dot-atom or quoted local part */
gboolean      relais_is_valid_login (const char *login);

/* Builds a new snapshot from BASE with the General changes (a{sv}, D-Bus
 * property names) applied. All changes are checked together; on the first
 * invalid one returns NULL with RELAIS_ERROR_INVALID_ARGUMENT naming the
 * property and the reason, and BASE is untouched. */
RelaisConfig *relais_config_apply_general (const RelaisConfig *base, GVariant *changes, GError **error);
/* The General settings as a{sv} with D-Bus property names (for the store and the skeleton). */
GVariant     *relais_config_general_to_variant (const RelaisConfig *config);

/* Account and domain edits, each returning a new snapshot or NULL + error. */
RelaisConfig *relais_config_add_local_domain (const RelaisConfig *base, const char *domain, GError **error);
RelaisConfig *relais_config_remove_local_domain (const RelaisConfig *base, const char *domain, GError **error);
/* Takes ownership of nothing; copies ACCOUNT. PASSWORD_HASH must already be a crypt string. */
RelaisConfig *relais_config_put_account (const RelaisConfig *base, const RelaisAccount *account,
                                         gboolean must_be_new, GError **error);
RelaisConfig *relais_config_remove_account (const RelaisConfig *base, const char *login, GError **error);

/* yescrypt hash of PASSWORD (libcrypt), or NULL + error. */
char          *relais_password_hash (const char *password, GError **error);
gboolean       relais_password_verify (const char *password, const char *hash);

RelaisAccount *relais_account_copy (const RelaisAccount *account);
void           relais_account_free (RelaisAccount *account);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisConfig, relais_config_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAccount, relais_account_free)

G_END_DECLS
