/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Security: the Security page's settings (SPEC §4.3-4.5)
 * and the black/white rules (SPEC §4.1). Every method is authorized, then
 * edits the snapshot current at that moment (all or nothing), writes the
 * settings or the whole rule list to the store in one transaction, and only
 * then publishes the new snapshot. Runtime state: ListBlocked (open) and
 * Unblock (authorized) show and lift the nonexistent-account blocks of the
 * per-client counters (relais-anvil.h). DKIM signing keys: GenerateDkimKey
 * makes the key pair in a worker thread (RSA takes a while), then stores and
 * publishes it like any edit; the private key goes to the store only, never
 * to a property, a reply or the log. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include <string.h>

#include "relais-anvil.h"
#include "relais-clock.h"
#include "relais-dkim-sign.h"
#include "relais-error.h"
#include "relais-networks.h"

/* The rule set last copied into the Rules property, kept referenced: rule
 * sets are immutable and shared between snapshots, so the same pointer means
 * the same rules and a publish of another page costs nothing here. */
#define SYNCED_RULES_KEY "relais-synced-rules"
/* The same for the DKIM key list (immutable and shared too). */
#define SYNCED_DKIM_KEYS_KEY "relais-synced-dkim-keys"

static gboolean
authorize (GDBusMethodInvocation *invocation, gboolean interactive, gpointer daemon, RelaisConfigEditFunc edit,
           RelaisConfigSaveFunc save, gboolean log_parameters)
{
  return relais_daemon_edit_config (daemon, invocation, interactive, "Security", edit, save, log_parameters);
}

/* Rule edits: nothing secret, so the parameters are logged (but not a whole imported list). */
static gboolean
authorize_rules (GDBusMethodInvocation *invocation, gboolean interactive, gpointer daemon,
                 RelaisConfigEditFunc edit)
{
  return authorize (invocation, interactive, daemon, edit, relais_store_save_security_rules, TRUE);
}

/* ---------------------------------------------------------------- edits */

static RelaisConfig *
edit_update (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) changes = g_variant_get_child_value (parameters, 0);

  return relais_config_apply_security (base, changes, error);
}

static RelaisConfig *
edit_add_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name, *list, *type, *value, *action;

  g_variant_get (parameters, "(&s&s&s&s&sb)", &name, &list, &type, &value, &action, NULL);
  return relais_config_add_security_rule (base, name, list, type, value, action, error);
}

static RelaisConfig *
edit_update_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) changes = NULL;
  const char *name;

  g_variant_get (parameters, "(&s@a{sv}b)", &name, &changes, NULL);
  return relais_config_update_security_rule (base, name, changes, error);
}

static RelaisConfig *
edit_remove_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name;

  g_variant_get (parameters, "(&sb)", &name, NULL);
  return relais_config_remove_security_rule (base, name, error);
}

static RelaisConfig *
edit_move_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name;
  guint32 position;

  g_variant_get (parameters, "(&sub)", &name, &position, NULL);
  return relais_config_move_security_rule (base, name, position, error);
}

static RelaisConfig *
edit_replace_rules (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) rules = g_variant_get_child_value (parameters, 0);

  return relais_config_replace_security_rules (base, rules, error);
}

/* ---------------------------------------------------------------- handlers */

static gboolean
handle_update_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, GVariant *changes,
                  gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_update, relais_store_save_security, TRUE);
}

static gboolean
handle_add_rule_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, const char *name,
                    const char *list, const char *type, const char *value, const char *action,
                    gboolean interactive, gpointer daemon)
{
  return authorize_rules (invocation, interactive, daemon, edit_add_rule);
}

static gboolean
handle_update_rule_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, const char *name,
                       GVariant *changes, gboolean interactive, gpointer daemon)
{
  return authorize_rules (invocation, interactive, daemon, edit_update_rule);
}

static gboolean
handle_remove_rule_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, const char *name,
                       gboolean interactive, gpointer daemon)
{
  return authorize_rules (invocation, interactive, daemon, edit_remove_rule);
}

static gboolean
handle_move_rule_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, const char *name,
                     guint position, gboolean interactive, gpointer daemon)
{
  return authorize_rules (invocation, interactive, daemon, edit_move_rule);
}

static gboolean
handle_replace_rules_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, GVariant *rules,
                         gboolean interactive, gpointer daemon)
{
  /* up to 100,000 rules: not for the log */
  return authorize (invocation, interactive, daemon, edit_replace_rules, relais_store_save_security_rules, FALSE);
}

static RelaisConfig *
edit_remove_dkim_key (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *domain;

  g_variant_get (parameters, "(&sb)", &domain, NULL);
  return relais_config_remove_dkim_key (base, domain, error);
}

static gboolean
handle_remove_dkim_key_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, const char *domain,
                           gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_remove_dkim_key, relais_store_save_dkim_keys, TRUE);
}

/* ---------------------------------------------------------------- DKIM key generation */

typedef struct {
  RelaisDaemon *daemon;
  GDBusMethodInvocation *invocation;
  char *domain;                 /* lower case */
  char *selector;
  RelaisDkimAlgorithm algorithm;
} GenerateCall;

static void
generate_call_free (GenerateCall *call)
{
  g_object_unref (call->invocation);
  g_free (call->domain);
  g_free (call->selector);
  g_free (call);
}

/* Worker thread: the key pair, checked and made ready to sign. */
static void
generate_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GenerateCall *call = task_data;
  g_autofree char *pem = NULL;
  g_autofree char *record = NULL;
  RelaisDkimSigningKey *key;
  GError *error = NULL;

  if (!relais_dkim_key_generate (call->algorithm, &pem, &record, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  key = relais_dkim_signing_key_new (call->domain, call->selector, pem, relais_clock_now (), &error);
  memset (pem, 0, strlen (pem));
  if (key == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, key, (GDestroyNotify) relais_dkim_signing_key_free);
}

/* Main thread: store the new key, publish it, answer. */
static void
generated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GenerateCall *call = g_task_get_task_data (G_TASK (result));
  GDBusMethodInvocation *invocation = call->invocation;
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) next = NULL;
  RelaisDkimSigningKey *key = g_task_propagate_pointer (G_TASK (result), &error);
  g_autofree char *name = NULL;
  g_autofree char *zone = NULL;
  g_autofree char *record = NULL;

  if (key != NULL)
    {
      name = relais_dkim_record_name (key->selector, key->domain);
      record = g_strdup (key->record);
      /* takes KEY; the snapshot current now, not the one at the call */
      next = relais_config_put_dkim_key (relais_daemon_get_config (call->daemon), key);
    }
  if (next == NULL || !relais_store_save_dkim_keys (relais_daemon_get_store (call->daemon), next, &error))
    {
      g_warning ("Security.GenerateDkimKey for %s from %s failed: %s", call->domain, sender, error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_message ("Security.GenerateDkimKey(%s, %s, %s) by %s: publish the TXT record %s", call->domain,
             call->selector, relais_dkim_algorithm_to_string (call->algorithm), sender, name);
  relais_daemon_publish_change (call->daemon, invocation, g_steal_pointer (&next));
  zone = relais_dkim_record_zone_line (name, record);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(sss)", name, record, zone));
}

static void
generate_authorized (GDBusMethodInvocation *invocation, gpointer daemon)
{
  const char *domain, *selector, *algorithm_name;
  g_autoptr (GError) error = NULL;
  g_autoptr (GTask) task = NULL;
  RelaisDkimAlgorithm algorithm;
  GenerateCall *call;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&s&s&sb)", &domain, &selector,
                 &algorithm_name, NULL);
  if (!relais_dkim_signing_domain_validate (domain, &error))
    ;
  else if (!relais_dkim_selector_validate (selector, domain, &error))
    g_prefix_error (&error, "Selector: ");
  else if (!relais_dkim_algorithm_parse (algorithm_name, &algorithm, &error))
    g_prefix_error (&error, "Algorithm: ");
  if (error != NULL)
    {
      g_info ("Security.GenerateDkimKey from %s refused: %s", g_dbus_method_invocation_get_sender (invocation),
              error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  call = g_new0 (GenerateCall, 1);
  call->daemon = daemon;
  call->invocation = g_object_ref (invocation);
  call->domain = g_ascii_strdown (domain, -1);
  call->selector = g_strdup (selector);
  call->algorithm = algorithm;
  task = g_task_new (NULL, NULL, generated_cb, NULL);
  g_task_set_source_tag (task, generate_authorized);
  g_task_set_task_data (task, call, (GDestroyNotify) generate_call_free);
  g_task_run_in_thread (task, generate_thread);
}

static gboolean
handle_generate_dkim_key_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, const char *domain,
                             const char *selector, const char *algorithm, gboolean interactive, gpointer daemon)
{
  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive, generate_authorized,
                          daemon, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---------------------------------------------------------------- runtime */

static gboolean
handle_list_blocked_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, gpointer daemon)
{
  RelaisAnvil *anvil = relais_daemon_get_services (daemon)->anvil;
  g_autoptr(GPtrArray) blocks = anvil != NULL ? relais_anvil_list_blocked (anvil, relais_clock_now ()) : NULL;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sx)"));
  for (guint i = 0; blocks != NULL && i < blocks->len; i++)
    {
      const RelaisAnvilBlock *block = g_ptr_array_index (blocks, i);

      g_variant_builder_add (&builder, "(sx)", block->address, block->until);
    }
  relais_security_complete_list_blocked (skeleton, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
unblock_authorized (GDBusMethodInvocation *invocation, gpointer daemon)
{
  RelaisAnvil *anvil = relais_daemon_get_services (daemon)->anvil;
  const char *text;
  g_autoptr(GInetAddress) address = NULL;
  g_autofree char *normalized = NULL;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&sb)", &text, NULL);
  address = relais_client_address_parse (text);
  if (address == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                             "address: '%s' is not an IPv4 or IPv6 address such as "
                                             "192.0.2.7 or 2001:db8::7", text);
      return;
    }
  normalized = g_inet_address_to_string (address);
  if (anvil == NULL || !relais_anvil_unblock (anvil, normalized, relais_clock_now ()))
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND,
                                             "address: %s is not blocked", normalized);
      return;
    }
  g_message ("Security.Unblock(%s) by %s: the nonexistent-account block is lifted", normalized,
             g_dbus_method_invocation_get_sender (invocation));
  relais_audit_record (relais_daemon_get_audit (daemon), invocation, normalized, "blocked", NULL);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static gboolean
handle_unblock_cb (RelaisSecurity *skeleton, GDBusMethodInvocation *invocation, const char *address,
                   gboolean interactive, gpointer daemon)
{
  /* polkit first: nothing is said about the blocks before it agreed. */
  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive, unblock_authorized,
                          daemon, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---------------------------------------------------------------- object */

RelaisSecurity *
relais_dbus_security_new (RelaisDaemon *daemon)
{
  RelaisSecurity *skeleton = relais_security_skeleton_new ();

  g_signal_connect (skeleton, "handle-update", G_CALLBACK (handle_update_cb), daemon);
  g_signal_connect (skeleton, "handle-add-rule", G_CALLBACK (handle_add_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-update-rule", G_CALLBACK (handle_update_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-rule", G_CALLBACK (handle_remove_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-move-rule", G_CALLBACK (handle_move_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-replace-rules", G_CALLBACK (handle_replace_rules_cb), daemon);
  g_signal_connect (skeleton, "handle-list-blocked", G_CALLBACK (handle_list_blocked_cb), daemon);
  g_signal_connect (skeleton, "handle-unblock", G_CALLBACK (handle_unblock_cb), daemon);
  g_signal_connect (skeleton, "handle-generate-dkim-key", G_CALLBACK (handle_generate_dkim_key_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-dkim-key", G_CALLBACK (handle_remove_dkim_key_cb), daemon);
  relais_security_set_whitelist_skips (skeleton, relais_whitelist_skips_to_variant ());
  relais_dbus_security_sync (skeleton, relais_daemon_get_config (daemon));
  return skeleton;
}

void
relais_dbus_security_sync (RelaisSecurity *skeleton, const RelaisConfig *c)
{
  /* The generated setters only emit PropertiesChanged when a value differs. */
  relais_security_set_reject_non_fqdn_sender (skeleton, c->reject_non_fqdn_sender);
  relais_security_set_reject_unknown_sender_domain (skeleton, c->reject_unknown_sender_domain);
  relais_security_set_reject_unknown_client_hostname (skeleton, c->reject_unknown_client_hostname);
  relais_security_set_limit_connections (skeleton, c->limit_connections);
  relais_security_set_max_connections (skeleton, c->max_connections);
  relais_security_set_limit_message_rate (skeleton, c->limit_message_rate);
  relais_security_set_max_messages_per_minute (skeleton, c->max_messages_per_minute);
  relais_security_set_limit_connection_rate (skeleton, c->limit_connection_rate);
  relais_security_set_max_connections_per_minute (skeleton, c->max_connections_per_minute);
  relais_security_set_reject_unauthorized_pipelining (skeleton, c->reject_unauthorized_pipelining);
  relais_security_set_reject_non_fqdn_helo (skeleton, c->reject_non_fqdn_helo);
  relais_security_set_reject_unknown_helo (skeleton, c->reject_unknown_helo);
  relais_security_set_block_nonexistent_recipients (skeleton, c->block_nonexistent_recipients);
  relais_security_set_max_nonexistent_recipients (skeleton, c->max_nonexistent_recipients);
  relais_security_set_max_junk_commands (skeleton, c->max_junk_commands);
  relais_security_set_dnsbl (skeleton, c->dnsbl);
  {
    g_autoptr (GVariant) all = relais_config_security_to_variant (c);
    g_autoptr (GVariant) zones = g_variant_lookup_value (all, "DnsblZones", G_VARIANT_TYPE ("a(ss)"));
    GVariant *old = relais_security_get_dnsbl_zones (skeleton);

    if (old == NULL || !g_variant_equal (old, zones))
      relais_security_set_dnsbl_zones (skeleton, zones);
  }
  relais_security_set_spf (skeleton, c->spf);
  relais_security_set_dkim (skeleton, c->dkim);
  relais_security_set_dmarc (skeleton, c->dmarc);
  relais_security_set_antivirus (skeleton, c->antivirus);
  relais_security_set_antivirus_socket (skeleton, c->antivirus_socket);
  relais_security_set_antivirus_unreachable (skeleton,
                                             c->antivirus_unreachable == RELAIS_ANTIVIRUS_ACCEPT ? "accept" : "defer");

  relais_security_set_dkim_signing (skeleton, c->dkim_signing);
  if (g_object_get_data (G_OBJECT (skeleton), SYNCED_DKIM_KEYS_KEY) != c->dkim_keys)
    {
      g_autoptr (GVariant) keys = relais_config_dkim_keys_to_variant (c);
      GVariant *old = relais_security_get_dkim_keys (skeleton);

      if (old == NULL || !g_variant_equal (old, keys))
        relais_security_set_dkim_keys (skeleton, keys);
      g_object_set_data_full (G_OBJECT (skeleton), SYNCED_DKIM_KEYS_KEY, g_ptr_array_ref (c->dkim_keys),
                              (GDestroyNotify) g_ptr_array_unref);
    }

  if (g_object_get_data (G_OBJECT (skeleton), SYNCED_RULES_KEY) != c->security_rules)
    {
      g_autoptr (GVariant) rules = relais_config_security_rules_to_variant (c);
      GVariant *old = relais_security_get_rules (skeleton);

      /* Setting an equal GVariant still notifies: only set when it differs. */
      if (old == NULL || !g_variant_equal (old, rules))
        relais_security_set_rules (skeleton, rules);
      g_object_set_data_full (G_OBJECT (skeleton), SYNCED_RULES_KEY, relais_rule_set_ref (c->security_rules),
                              (GDestroyNotify) relais_rule_set_unref);
    }
}
