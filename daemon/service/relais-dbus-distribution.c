/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Distribution: the mode, the single relay host, the named
 * relay hosts and the rules (SPEC §2). Every method is authorized, then edits
 * the snapshot current at that moment (all or nothing), writes the whole page
 * to the store in one transaction, and only then publishes the new snapshot.
 * Relay passwords are write-only: properties carry only "password set". */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include "relais-error.h"
#include "relais-remote.h"
#include "relais-smtp-client.h"

/* TestRelayHost should answer within the D-Bus default timeout (25 s). */
#define PROBE_CONNECT_TIMEOUT  8
#define PROBE_STEP_TIMEOUT     15

/* Every method but TestRelayHost changes the page: relais_daemon_edit_config()
 * with the whole page saved in one transaction. The parameters are not
 * logged: they may hold a password. */
static gboolean
authorize (GDBusMethodInvocation *invocation, gboolean interactive, gpointer daemon, RelaisConfigEditFunc edit)
{
  return relais_daemon_edit_config (daemon, invocation, interactive, "Distribution", edit,
                                    relais_store_save_distribution, FALSE);
}

/* ---------------------------------------------------------------- edits */

static RelaisConfig *
edit_update (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) changes = g_variant_get_child_value (parameters, 0);
  return relais_config_apply_distribution (base, changes, error);
}

static RelaisConfig *
edit_add_host (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) fields = NULL;
  const char *name;

  g_variant_get (parameters, "(&s@a{sv}b)", &name, &fields, NULL);
  return relais_config_add_relay_host (base, name, fields, error);
}

static RelaisConfig *
edit_update_host (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) changes = NULL;
  const char *name;

  g_variant_get (parameters, "(&s@a{sv}b)", &name, &changes, NULL);
  return relais_config_update_relay_host (base, name, changes, error);
}

static RelaisConfig *
edit_remove_host (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name;

  g_variant_get (parameters, "(&sb)", &name, NULL);
  return relais_config_remove_relay_host (base, name, error);
}

static RelaisConfig *
edit_add_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autofree const char **patterns = NULL;
  const char *kind, *host;

  RelaisConfig *next;
  guint id = 0;

  g_variant_get (parameters, "(&s&s^a&sb)", &kind, &host, &patterns, NULL);
  next = relais_config_add_relay_rule (base, 0, kind, host, patterns, &id, error);
  if (next != NULL)
    *reply = g_variant_new ("(u)", id);
  return next;
}

static RelaisConfig *
edit_update_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) changes = NULL;
  guint32 rule;

  g_variant_get (parameters, "(u@a{sv}b)", &rule, &changes, NULL);
  return relais_config_update_relay_rule (base, rule, changes, error);
}

static RelaisConfig *
edit_remove_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  guint32 rule;

  g_variant_get (parameters, "(ub)", &rule, NULL);
  return relais_config_remove_relay_rule (base, rule, error);
}

static RelaisConfig *
edit_move_rule (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  guint32 rule, position;

  g_variant_get (parameters, "(uub)", &rule, &position, NULL);
  return relais_config_move_relay_rule (base, rule, position, error);
}

/* ---------------------------------------------------------------- handlers */

static gboolean
handle_update_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation, GVariant *changes,
                  gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_update);
}

static gboolean
handle_add_host_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation, const char *name,
                    GVariant *fields, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_add_host);
}

static gboolean
handle_update_host_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation,
                       const char *name, GVariant *changes, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_update_host);
}

static gboolean
handle_remove_host_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation,
                       const char *name, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_remove_host);
}

static gboolean
handle_add_rule_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation, const char *kind,
                    const char *host, const char *const *patterns, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_add_rule);
}

static gboolean
handle_update_rule_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation, guint id,
                       GVariant *changes, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_update_rule);
}

static gboolean
handle_remove_rule_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation, guint id,
                       gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_remove_rule);
}

static gboolean
handle_move_rule_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation, guint id,
                     guint position, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_move_rule);
}

/* ---------------------------------------------------------------- object */

/* ------------------------------------------------------- TestRelayHost */

static void
probe_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GDBusMethodInvocation *invocation = user_data;
  RelaisSmtpDelivery *delivery = g_object_get_data (G_OBJECT (invocation), "relais-probe");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) report = relais_smtp_client_probe_finish (result, &error);

  if (report == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      g_object_unref (invocation);
      return;
    }
  g_message ("Distribution.TestRelayHost: %s", delivery->connected_host != NULL ? delivery->connected_host : "?");
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@a{sv})", report));
  g_object_unref (invocation);
}

static void
test_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  RelaisDaemon *daemon = user_data;
  RelaisConfig *config = relais_daemon_get_config (daemon);
  const char *name = NULL;
  const RelaisRelayHost *relay;
  RelaisSmtpDelivery *delivery;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(&sb)", &name, NULL);
  relay = name[0] == '\0' ? config->relay_host : relais_config_lookup_relay_host (config, name);
  if (relay == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND,
                                             "name: no relay host named '%s'", name);
      return;
    }
  if (relay->server == NULL || relay->server[0] == '\0')
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                             "%s: no server is set for this relay host",
                                             name[0] == '\0' ? "RelayServer" : "Server");
      return;
    }

  delivery = relais_smtp_delivery_new ();
  delivery->helo_name = g_strdup (config->hostname);
  g_ptr_array_add (delivery->targets, relais_smtp_target_new (relay->server, (guint16) relay->port));
  delivery->tls_mode = relais_remote_relay_tls_mode (relay);
  if (relay->authentication)
    {
      delivery->username = g_strdup (relay->username);
      delivery->password = g_strdup (relay->password);
    }
  delivery->timeouts.connect = PROBE_CONNECT_TIMEOUT;
  delivery->timeouts.greeting = PROBE_STEP_TIMEOUT;
  delivery->timeouts.command = PROBE_STEP_TIMEOUT;
  /* The delivery lives as long as the invocation, which the callback holds. */
  g_object_set_data_full (G_OBJECT (invocation), "relais-probe", delivery,
                          (GDestroyNotify) relais_smtp_delivery_free);
  relais_smtp_client_probe_async (delivery, NULL, probe_done_cb, g_object_ref (invocation));
}

static gboolean
handle_test_host_cb (RelaisDistribution *skeleton, GDBusMethodInvocation *invocation, const char *name,
                     gboolean interactive, gpointer daemon)
{
  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive, test_authorized,
                          daemon, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}


RelaisDistribution *
relais_dbus_distribution_new (RelaisDaemon *daemon)
{
  RelaisDistribution *skeleton = relais_distribution_skeleton_new ();

  g_signal_connect (skeleton, "handle-update", G_CALLBACK (handle_update_cb), daemon);
  g_signal_connect (skeleton, "handle-add-relay-host", G_CALLBACK (handle_add_host_cb), daemon);
  g_signal_connect (skeleton, "handle-update-relay-host", G_CALLBACK (handle_update_host_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-relay-host", G_CALLBACK (handle_remove_host_cb), daemon);
  g_signal_connect (skeleton, "handle-add-rule", G_CALLBACK (handle_add_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-update-rule", G_CALLBACK (handle_update_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-rule", G_CALLBACK (handle_remove_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-move-rule", G_CALLBACK (handle_move_rule_cb), daemon);
  g_signal_connect (skeleton, "handle-test-relay-host", G_CALLBACK (handle_test_host_cb), daemon);
  relais_dbus_distribution_sync (skeleton, relais_daemon_get_config (daemon));
  return skeleton;
}

void
relais_dbus_distribution_sync (RelaisDistribution *skeleton, const RelaisConfig *c)
{
  const RelaisRelayHost *single = c->relay_host;
  g_auto (GVariantBuilder) hosts_builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ssubbsb)"));
  g_auto (GVariantBuilder) rules_builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ussas)"));
  g_autoptr (GVariant) hosts = NULL;
  g_autoptr (GVariant) rules = NULL;
  GVariant *old;

  /* The generated setters only emit PropertiesChanged when a value differs. */
  relais_distribution_set_mode (skeleton, relais_distribution_mode_to_string (c->distribution_mode));
  relais_distribution_set_relay_server (skeleton, single->server);
  relais_distribution_set_relay_port (skeleton, single->port);
  relais_distribution_set_relay_always_tls (skeleton, single->always_tls);
  relais_distribution_set_relay_authentication (skeleton, single->authentication);
  relais_distribution_set_relay_username (skeleton, single->username);
  relais_distribution_set_relay_password_set (skeleton, single->password[0] != '\0');

  for (guint i = 0; i < c->relay_hosts->len; i++)
    {
      const RelaisRelayHost *h = c->relay_hosts->pdata[i];
      g_variant_builder_add (&hosts_builder, "(ssubbsb)", h->name, h->server, h->port, h->always_tls,
                             h->authentication, h->username, h->password[0] != '\0');
    }
  for (guint i = 0; i < c->relay_rules->len; i++)
    {
      const RelaisRelayRule *r = c->relay_rules->pdata[i];
      g_variant_builder_add (&rules_builder, "(uss^as)", r->id, relais_rule_kind_to_string (r->kind),
                             r->host, r->patterns);
    }
  hosts = g_variant_ref_sink (g_variant_builder_end (&hosts_builder));
  rules = g_variant_ref_sink (g_variant_builder_end (&rules_builder));
  /* Setting an equal GVariant still notifies: only set when it differs. */
  old = relais_distribution_get_relay_hosts (skeleton);
  if (old == NULL || !g_variant_equal (old, hosts))
    relais_distribution_set_relay_hosts (skeleton, hosts);
  old = relais_distribution_get_rules (skeleton);
  if (old == NULL || !g_variant_equal (old, rules))
    relais_distribution_set_rules (skeleton, rules);
}
