/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Accounts: local domains and accounts. Passwords are
 * write-only: hashed with yescrypt in a worker thread (it is slow on purpose),
 * stored only as the hash, never returned. Each call is authorized, validated
 * against the snapshot current when it completes, stored, then published. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include <string.h>

#include "relais-error.h"

#define MIN_PASSWORD 8
#define MAX_PASSWORD 1024

typedef struct {
  RelaisDaemon *daemon;
  RelaisAccounts *skeleton;
  GDBusMethodInvocation *invocation;   /* set once authorized */
  char *name;                          /* domain or login */
  char *password;                      /* cleared after hashing */
  char *password_hash;
  GStrv aliases;                       /* NULL: unchanged (UpdateAccount) */
  GStrv forwards;
  GVariant *changes;
} Call;

static void
call_free (gpointer data)
{
  Call *call = data;

  g_clear_object (&call->skeleton);
  g_free (call->name);
  if (call->password)
    explicit_bzero (call->password, strlen (call->password));
  g_free (call->password);
  g_free (call->password_hash);
  g_strfreev (call->aliases);
  g_strfreev (call->forwards);
  g_clear_pointer (&call->changes, g_variant_unref);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

/* Moves CALL's contents into a new Call (for work that outlives the caller's copy). */
static Call *
call_steal (Call *call)
{
  Call *moved = g_new (Call, 1);

  *moved = *call;
  memset (call, 0, sizeof *call);
  return moved;
}

static Call *
call_new (RelaisAccounts *skeleton, gpointer daemon, const char *name)
{
  Call *call = g_new0 (Call, 1);

  call->daemon = daemon;
  call->skeleton = g_object_ref (skeleton);
  call->name = g_strdup (name);
  return call;
}

/* Stores and publishes NEXT (NULL: ERROR explains) and answers INVOCATION. */
static void
finish (Call *call, GDBusMethodInvocation *invocation, RelaisConfig *next,
        gboolean (*save) (Call *call, RelaisConfig *next, GError **error), GError *error)
{
  g_autoptr (GError) local_error = error;
  g_autoptr (RelaisConfig) config = next;

  if (config && !save (call, config, &local_error))
    g_clear_pointer (&config, relais_config_unref);
  if (config == NULL)
    {
      g_info ("Accounts.%s(%s) from %s refused: %s", g_dbus_method_invocation_get_method_name (invocation),
              call->name, g_dbus_method_invocation_get_sender (invocation), local_error->message);
      g_dbus_method_invocation_return_gerror (invocation, local_error);
      return;
    }
  g_message ("Accounts.%s(%s) by %s", g_dbus_method_invocation_get_method_name (invocation), call->name,
             g_dbus_method_invocation_get_sender (invocation));
  relais_daemon_publish_change (call->daemon, invocation, g_steal_pointer (&config));
  g_dbus_method_invocation_return_value (invocation, NULL);
}

/* ---------------------------------------------------------------- domains */

static gboolean
save_domain_added (Call *call, RelaisConfig *next, GError **error)
{
  return relais_store_add_local_domain (relais_daemon_get_store (call->daemon), call->name, error);
}

static gboolean
save_domain_removed (Call *call, RelaisConfig *next, GError **error)
{
  return relais_store_remove_local_domain (relais_daemon_get_store (call->daemon), call->name, error);
}

static void
add_domain_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  Call *call = user_data;
  GError *error = NULL;
  RelaisConfig *next =
    relais_config_add_local_domain (relais_daemon_get_config (call->daemon), call->name, &error);

  finish (call, invocation, next, save_domain_added, error);
}

static void
remove_domain_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  Call *call = user_data;
  GError *error = NULL;
  RelaisConfig *next =
    relais_config_remove_local_domain (relais_daemon_get_config (call->daemon), call->name, &error);

  finish (call, invocation, next, save_domain_removed, error);
}

static gboolean
handle_add_domain_cb (RelaisAccounts *skeleton, GDBusMethodInvocation *invocation, const char *domain,
                      gboolean interactive, gpointer daemon)
{
  /* Domains are stored lower case; the name in the call keeps it for the store. */
  g_autofree char *lower = g_ascii_strdown (domain, -1);

  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive,
                          add_domain_authorized, call_new (skeleton, daemon, lower), call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_remove_domain_cb (RelaisAccounts *skeleton, GDBusMethodInvocation *invocation,
                         const char *domain, gboolean interactive, gpointer daemon)
{
  g_autofree char *lower = g_ascii_strdown (domain, -1);

  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive,
                          remove_domain_authorized, call_new (skeleton, daemon, lower), call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---------------------------------------------------------------- accounts */

static gboolean
check_password (const char *password, GError **error)
{
  gsize len = strlen (password);

  if (!g_utf8_validate (password, len, NULL) || len < MIN_PASSWORD || len > MAX_PASSWORD)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "password: must be %d to %d characters of valid UTF-8", MIN_PASSWORD, MAX_PASSWORD);
      return FALSE;
    }
  return TRUE;
}

static gboolean
save_account (Call *call, RelaisConfig *next, GError **error)
{
  const RelaisAccount *account = relais_config_lookup_login (next, call->name);
  return relais_store_save_account (relais_daemon_get_store (call->daemon), account, error);
}

static gboolean
save_account_removed (Call *call, RelaisConfig *next, GError **error)
{
  return relais_store_remove_account (relais_daemon_get_store (call->daemon), call->name, error);
}

/* The hash is done; build the account from the current snapshot (it may have
 * changed while we hashed) and apply it. */
static void
put_account (Call *call, gboolean must_be_new)
{
  RelaisConfig *current = relais_daemon_get_config (call->daemon);
  const RelaisAccount *existing = relais_config_lookup_login (current, call->name);
  RelaisAccount account = { 0 };
  GError *error = NULL;
  RelaisConfig *next;

  account.login = call->name;
  account.password_hash = call->password_hash ? call->password_hash
                          : existing         ? existing->password_hash
                                             : NULL;
  account.aliases = call->aliases ? call->aliases : existing ? existing->aliases : NULL;
  account.forwards = call->forwards ? call->forwards : existing ? existing->forwards : NULL;
  next = relais_config_put_account (current, &account, must_be_new, &error);
  finish (call, call->invocation, next, save_account, error);
}

static void
hash_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Call *call = task_data;
  GError *error = NULL;
  char *hash = relais_password_hash (call->password, &error);

  explicit_bzero (call->password, strlen (call->password));
  if (hash)
    g_task_return_pointer (task, hash, g_free);
  else
    g_task_return_error (task, error);
}

static void
hash_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = G_TASK (result);
  Call *call = g_task_get_task_data (task);
  GError *error = NULL;

  call->password_hash = g_task_propagate_pointer (task, &error);
  if (call->password_hash == NULL)
    {
      g_dbus_method_invocation_take_error (call->invocation, error);
      return;
    }
  put_account (call, GPOINTER_TO_INT (user_data));
}

/* Hashes the password if there is one (off the main thread), then puts the account. */
static void
hash_then_put (GDBusMethodInvocation *invocation, Call *call, gboolean must_be_new)
{
  g_autoptr (GTask) task = NULL;

  call->invocation = invocation;
  if (call->password == NULL)
    {
      put_account (call, must_be_new);
      return;
    }
  task = g_task_new (NULL, NULL, hash_done_cb, GINT_TO_POINTER (must_be_new));
  g_task_set_task_data (task, call_steal (call), call_free);
  g_task_run_in_thread (task, hash_thread);
}

static void
add_account_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  hash_then_put (invocation, user_data, TRUE);
}

static void
update_account_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  hash_then_put (invocation, user_data, FALSE);
}

static gboolean
handle_add_account_cb (RelaisAccounts *skeleton, GDBusMethodInvocation *invocation, const char *login,
                       const char *password, const char *const *aliases, const char *const *forwards,
                       gboolean interactive, gpointer daemon)
{
  g_autoptr (Call) call = call_new (skeleton, daemon, login);
  GError *error = NULL;

  if (!check_password (password, &error))
    {
      g_dbus_method_invocation_take_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  call->password = g_strdup (password);
  call->aliases = g_strdupv ((GStrv) aliases);
  call->forwards = g_strdupv ((GStrv) forwards);
  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive,
                          add_account_authorized, g_steal_pointer (&call), call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_update_account_cb (RelaisAccounts *skeleton, GDBusMethodInvocation *invocation,
                          const char *login, GVariant *changes, gboolean interactive, gpointer daemon)
{
  g_autoptr (Call) call = call_new (skeleton, daemon, login);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, changes);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      GError *error = NULL;
      GStrv *list = g_str_equal (key, "Aliases") ? &call->aliases
                    : g_str_equal (key, "Forwards") ? &call->forwards
                                                    : NULL;

      if (g_str_equal (key, "Password") && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        {
          if (!check_password (g_variant_get_string (value, NULL), &error))
            {
              g_dbus_method_invocation_take_error (invocation, error);
              g_variant_unref (value);
              return G_DBUS_METHOD_INVOCATION_HANDLED;
            }
          g_free (call->password);
          call->password = g_variant_dup_string (value, NULL);
        }
      else if (list && g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
        {
          g_strfreev (*list);
          *list = g_variant_dup_strv (value, NULL);
        }
      else
        {
          g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                                 "%s: %s", key,
                                                 list || g_str_equal (key, "Password")
                                                   ? "wrong type (Password is s, Aliases and Forwards are as)"
                                                   : "no such account field (use Password, Aliases or Forwards)");
          g_variant_unref (value);
          return G_DBUS_METHOD_INVOCATION_HANDLED;
        }
    }
  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive,
                          update_account_authorized, g_steal_pointer (&call), call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
remove_account_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  Call *call = user_data;
  GError *error = NULL;
  RelaisConfig *next =
    relais_config_remove_account (relais_daemon_get_config (call->daemon), call->name, &error);

  finish (call, invocation, next, save_account_removed, error);
}

static gboolean
handle_remove_account_cb (RelaisAccounts *skeleton, GDBusMethodInvocation *invocation,
                          const char *login, gboolean interactive, gpointer daemon)
{
  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive,
                          remove_account_authorized, call_new (skeleton, daemon, login), call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---------------------------------------------------------------- object */

RelaisAccounts *
relais_dbus_accounts_new (RelaisDaemon *daemon)
{
  RelaisAccounts *skeleton = relais_accounts_skeleton_new ();

  g_signal_connect (skeleton, "handle-add-local-domain", G_CALLBACK (handle_add_domain_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-local-domain", G_CALLBACK (handle_remove_domain_cb), daemon);
  g_signal_connect (skeleton, "handle-add-account", G_CALLBACK (handle_add_account_cb), daemon);
  g_signal_connect (skeleton, "handle-update-account", G_CALLBACK (handle_update_account_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-account", G_CALLBACK (handle_remove_account_cb), daemon);
  relais_dbus_accounts_sync (skeleton, relais_daemon_get_config (daemon));
  return skeleton;
}

void
relais_dbus_accounts_sync (RelaisAccounts *skeleton, const RelaisConfig *config)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sasas)"));
  g_autoptr (GVariant) accounts = NULL;
  GVariant *old;

  relais_accounts_set_local_domains (skeleton, (const char *const *) config->local_domains);
  for (guint i = 0; i < config->accounts->len; i++)
    {
      RelaisAccount *account = config->accounts->pdata[i];
      g_variant_builder_add (&builder, "(s^as^as)", account->login, account->aliases, account->forwards);
    }
  accounts = g_variant_ref_sink (g_variant_builder_end (&builder));
  /* Setting an equal GVariant still notifies: only set when it differs. */
  old = relais_accounts_get_accounts (skeleton);
  if (old == NULL || !g_variant_equal (old, accounts))
    relais_accounts_set_accounts (skeleton, accounts);
}
