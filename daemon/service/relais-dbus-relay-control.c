/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.RelayControl: the trusted list (networks whose clients
 * may relay without authentication) and the domain list (domains relayed to
 * their own servers), SPEC §3. Every method is authorized, then edits the
 * snapshot current at that moment (all or nothing), writes both lists to the
 * store in one transaction, and only then publishes the new snapshot. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

/* Every method goes through relais_daemon_edit_config(), both lists saved in
 * one transaction; nothing secret here, so the parameters are logged. */
static gboolean
authorize (GDBusMethodInvocation *invocation, gboolean interactive, gpointer daemon, RelaisConfigEditFunc edit)
{
  return relais_daemon_edit_config (daemon, invocation, interactive, "RelayControl", edit,
                                    relais_store_save_relay_control, TRUE);
}

/* ---------------------------------------------------------------- edits */

static RelaisConfig *
edit_add_network (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name, *network;

  g_variant_get (parameters, "(&s&sb)", &name, &network, NULL);
  return relais_config_add_trusted_network (base, name, network, error);
}

static RelaisConfig *
edit_update_network (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) changes = NULL;
  const char *name;

  g_variant_get (parameters, "(&s@a{sv}b)", &name, &changes, NULL);
  return relais_config_update_trusted_network (base, name, changes, error);
}

static RelaisConfig *
edit_remove_network (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name;

  g_variant_get (parameters, "(&sb)", &name, NULL);
  return relais_config_remove_trusted_network (base, name, error);
}

static RelaisConfig *
edit_add_domain (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name, *domain;

  g_variant_get (parameters, "(&s&sb)", &name, &domain, NULL);
  return relais_config_add_relay_domain (base, name, domain, error);
}

static RelaisConfig *
edit_update_domain (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  g_autoptr (GVariant) changes = NULL;
  const char *name;

  g_variant_get (parameters, "(&s@a{sv}b)", &name, &changes, NULL);
  return relais_config_update_relay_domain (base, name, changes, error);
}

static RelaisConfig *
edit_remove_domain (const RelaisConfig *base, GVariant *parameters, GVariant **reply, GError **error)
{
  const char *name;

  g_variant_get (parameters, "(&sb)", &name, NULL);
  return relais_config_remove_relay_domain (base, name, error);
}

/* ---------------------------------------------------------------- handlers */

static gboolean
handle_add_network_cb (RelaisRelayControl *skeleton, GDBusMethodInvocation *invocation, const char *name,
                       const char *network, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_add_network);
}

static gboolean
handle_update_network_cb (RelaisRelayControl *skeleton, GDBusMethodInvocation *invocation, const char *name,
                          GVariant *changes, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_update_network);
}

static gboolean
handle_remove_network_cb (RelaisRelayControl *skeleton, GDBusMethodInvocation *invocation, const char *name,
                          gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_remove_network);
}

static gboolean
handle_add_domain_cb (RelaisRelayControl *skeleton, GDBusMethodInvocation *invocation, const char *name,
                      const char *domain, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_add_domain);
}

static gboolean
handle_update_domain_cb (RelaisRelayControl *skeleton, GDBusMethodInvocation *invocation, const char *name,
                         GVariant *changes, gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_update_domain);
}

static gboolean
handle_remove_domain_cb (RelaisRelayControl *skeleton, GDBusMethodInvocation *invocation, const char *name,
                         gboolean interactive, gpointer daemon)
{
  return authorize (invocation, interactive, daemon, edit_remove_domain);
}

/* ---------------------------------------------------------------- object */

RelaisRelayControl *
relais_dbus_relay_control_new (RelaisDaemon *daemon)
{
  RelaisRelayControl *skeleton = relais_relay_control_skeleton_new ();

  g_signal_connect (skeleton, "handle-add-trusted-network", G_CALLBACK (handle_add_network_cb), daemon);
  g_signal_connect (skeleton, "handle-update-trusted-network", G_CALLBACK (handle_update_network_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-trusted-network", G_CALLBACK (handle_remove_network_cb), daemon);
  g_signal_connect (skeleton, "handle-add-relay-domain", G_CALLBACK (handle_add_domain_cb), daemon);
  g_signal_connect (skeleton, "handle-update-relay-domain", G_CALLBACK (handle_update_domain_cb), daemon);
  g_signal_connect (skeleton, "handle-remove-relay-domain", G_CALLBACK (handle_remove_domain_cb), daemon);
  relais_dbus_relay_control_sync (skeleton, relais_daemon_get_config (daemon));
  return skeleton;
}

void
relais_dbus_relay_control_sync (RelaisRelayControl *skeleton, const RelaisConfig *c)
{
  g_auto (GVariantBuilder) networks_builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ss)"));
  g_auto (GVariantBuilder) domains_builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ss)"));
  g_autoptr (GVariant) networks = NULL;
  g_autoptr (GVariant) domains = NULL;
  GVariant *old;

  for (guint i = 0; i < c->trusted_networks->len; i++)
    {
      const RelaisTrustedNetwork *n = c->trusted_networks->pdata[i];
      g_variant_builder_add (&networks_builder, "(ss)", n->name, n->network);
    }
  for (guint i = 0; i < c->relay_domains->len; i++)
    {
      const RelaisRelayDomain *d = c->relay_domains->pdata[i];
      g_variant_builder_add (&domains_builder, "(ss)", d->name, d->domain);
    }
  networks = g_variant_ref_sink (g_variant_builder_end (&networks_builder));
  domains = g_variant_ref_sink (g_variant_builder_end (&domains_builder));
  /* Setting an equal GVariant still notifies: only set when it differs. */
  old = relais_relay_control_get_trusted_networks (skeleton);
  if (old == NULL || !g_variant_equal (old, networks))
    relais_relay_control_set_trusted_networks (skeleton, networks);
  old = relais_relay_control_get_relay_domains (skeleton);
  if (old == NULL || !g_variant_equal (old, domains))
    relais_relay_control_set_relay_domains (skeleton, domains);
}
