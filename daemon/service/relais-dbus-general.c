/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.General: the General settings as read-only properties and
 * Update(a{sv}, b). An update is authorized, validated whole against the
 * current snapshot, written to the store in one transaction, then published;
 * any failure leaves everything as it was. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include "relais-error.h"

typedef struct {
  RelaisDaemon *daemon;
  RelaisGeneral *skeleton;
  GVariant *changes;
} UpdateCall;

static void
update_call_free (gpointer data)
{
  UpdateCall *call = data;

  g_variant_unref (call->changes);
  g_object_unref (call->skeleton);
  g_free (call);
}

static void
update_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  UpdateCall *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisConfig) next =
    relais_config_apply_general (relais_daemon_get_config (call->daemon), call->changes, &error);

  if (next == NULL || !relais_store_save_general (relais_daemon_get_store (call->daemon), next, &error))
    {
      g_info ("General.Update from %s refused: %s", g_dbus_method_invocation_get_sender (invocation),
              error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  {
    g_autofree char *text = g_variant_print (call->changes, FALSE);
    g_message ("General settings changed by %s: %s", g_dbus_method_invocation_get_sender (invocation),
               text);
  }
  relais_daemon_publish_change (call->daemon, invocation, g_steal_pointer (&next));
  relais_general_complete_update (call->skeleton, invocation);
}

static gboolean
handle_update_cb (RelaisGeneral *skeleton, GDBusMethodInvocation *invocation, GVariant *changes,
                  gboolean interactive, gpointer user_data)
{
  UpdateCall *call = g_new0 (UpdateCall, 1);

  call->daemon = user_data;
  call->skeleton = g_object_ref (skeleton);
  call->changes = g_variant_ref (changes);
  relais_authority_check (relais_daemon_get_authority (call->daemon), invocation, interactive,
                          update_authorized, call, update_call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

RelaisGeneral *
relais_dbus_general_new (RelaisDaemon *daemon)
{
  RelaisGeneral *skeleton = relais_general_skeleton_new ();

  g_signal_connect (skeleton, "handle-update", G_CALLBACK (handle_update_cb), daemon);
  relais_dbus_general_sync (skeleton, relais_daemon_get_config (daemon));
  return skeleton;
}

void
relais_dbus_general_sync (RelaisGeneral *skeleton, const RelaisConfig *c)
{
  /* The generated setters only emit PropertiesChanged when a value differs. */
  relais_general_set_smtp_authentication (skeleton, c->smtp_authentication);
  relais_general_set_skip_auth_for_local_networks (skeleton, c->skip_auth_for_local_networks);
  relais_general_set_verify_sender_login (skeleton, c->verify_sender_login);
  relais_general_set_skip_sender_check_for_trusted (skeleton, c->skip_sender_check_for_trusted);
  relais_general_set_disable_auto_forward (skeleton, c->disable_auto_forward);
  relais_general_set_hostname (skeleton, c->hostname);
  relais_general_set_banner (skeleton, c->banner);
  relais_general_set_max_recipients (skeleton, c->max_recipients);
  relais_general_set_max_hops (skeleton, c->max_hops);
  relais_general_set_max_message_size_mb (skeleton, c->max_message_size_mb);
  relais_general_set_external_administrators (skeleton,
                                              (const char *const *) c->external_administrators);
  relais_general_set_idle_timeout (skeleton, c->idle_timeout);
  relais_general_set_max_sessions (skeleton, c->max_sessions);
}
