/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Security: the Security page's settings (SPEC §4.3-4.5)
 * and the black/white rules (SPEC §4.1). Every method is authorized, then
 * edits the snapshot current at that moment (all or nothing), writes the
 * settings or the whole rule list to the store in one transaction, and only
 * then publishes the new snapshot. Runtime state: ListBlocked (open) and
 * Unblock (authorized) show and lift the nonexistent-account blocks of the
 * per-client counters (relais-anvil.h). */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include "relais-anvil.h"
#include "relais-clock.h"
#include "relais-error.h"
#include "relais-networks.h"

/* The rule set last copied into the Rules property, kept referenced: rule
 * sets are immutable and shared between snapshots, so the same pointer means
 * the same rules and a publish of another page costs nothing here. */
#define SYNCED_RULES_KEY "relais-synced-rules"

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
