/* SPDX-License-Identifier: GPL-3.0-or-later
 * Remote delivery: destination keys, relay host or MX targets, one SMTP
 * client run per destination. See relais-remote.h. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-remote.h"

#include <string.h>

#include "relais-error.h"
#include "relais-mx.h"

#define DESTINATION_RELAY "relay:"
#define DESTINATION_MX    "mx:"
#define SMTP_PORT         25

char *
relais_remote_destination (const RelaisConfig *config, const char *sender, const char *recipient)
{
  const char *at = strrchr (recipient, '@');
  const char *domain = at != NULL ? at + 1 : recipient;
  const RelaisRelayHost *relay;

  /* A relay domain's mail goes to the domain's own MX hosts, whatever the
   * Distribution mode and its rules (SPEC §3); relais-mx.c skips the MX hosts
   * that are this server. */
  if (relais_config_match_relay_domain (config, domain) != NULL)
    {
      g_autofree char *lower = g_ascii_strdown (domain, -1);

      return g_strconcat (DESTINATION_MX, lower, NULL);
    }
  relay = relais_config_route_remote (config, sender, recipient);
  if (relay != NULL)
    return g_strconcat (DESTINATION_RELAY, relay->name, NULL);
  return g_strconcat (DESTINATION_MX, domain, NULL);
}

RelaisSmtpTlsMode
relais_remote_relay_tls_mode (const RelaisRelayHost *relay)
{
  if (!relay->always_tls)
    return RELAIS_SMTP_TLS_OPPORTUNISTIC;
  return relay->port == 465 ? RELAIS_SMTP_TLS_IMPLICIT : RELAIS_SMTP_TLS_STARTTLS_REQUIRED;
}

/* Every recipient of DELIVERY gets STATUS and REASON. */
static void
fail_all (RelaisSmtpDelivery *delivery, RelaisDeliveryStatus status, const char *reason)
{
  for (guint i = 0; i < delivery->recipients->len; i++)
    {
      RelaisSmtpRecipient *r = g_ptr_array_index (delivery->recipients, i);

      r->status = status;
      g_free (r->reply);
      r->reply = g_strdup (reason);
    }
}

static void
client_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!relais_smtp_client_deliver_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
mx_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RelaisSmtpDelivery *delivery = g_task_get_task_data (task);
  g_autoptr(GPtrArray) hosts = NULL;
  g_autoptr(GError) error = NULL;

  hosts = relais_mx_resolve_finish (result, &error);
  if (hosts == NULL)
    {
      gboolean temporary = g_error_matches (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_TEMPORARY);

      fail_all (delivery, temporary ? RELAIS_DELIVERY_TEMPFAIL : RELAIS_DELIVERY_PERMFAIL, error->message);
      g_task_return_boolean (task, TRUE);
      return;
    }
  for (guint i = 0; i < hosts->len; i++)
    {
      const RelaisMxHost *mx = g_ptr_array_index (hosts, i);

      g_ptr_array_add (delivery->targets, relais_smtp_target_new (mx->host, SMTP_PORT));
    }
  delivery->tls_mode = RELAIS_SMTP_TLS_OPPORTUNISTIC;
  relais_smtp_client_deliver_async (delivery, g_task_get_cancellable (task), client_done_cb,
                                    g_object_ref (task));
}

void
relais_remote_deliver_async (RelaisConfig *config, const char *destination,
                             RelaisSmtpDelivery *delivery, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, relais_remote_deliver_async);
  g_task_set_task_data (task, delivery, NULL);

  if (g_str_has_prefix (destination, DESTINATION_RELAY))
    {
      const char *name = destination + strlen (DESTINATION_RELAY);
      const RelaisRelayHost *relay = name[0] == '\0' ? config->relay_host
                                                     : relais_config_lookup_relay_host (config, name);

      if (relay == NULL || relay->server == NULL || relay->server[0] == '\0')
        {
          g_autofree char *reason = g_strdup_printf ("4.3.5 relay host \"%s\" is not configured", name);

          fail_all (delivery, RELAIS_DELIVERY_TEMPFAIL, reason);
          g_task_return_boolean (task, TRUE);
          return;
        }
      g_ptr_array_add (delivery->targets, relais_smtp_target_new (relay->server, (guint16) relay->port));
      delivery->tls_mode = relais_remote_relay_tls_mode (relay);
      if (relay->authentication)
        {
          g_free (delivery->username);
          g_free (delivery->password);
          delivery->username = g_strdup (relay->username);
          delivery->password = g_strdup (relay->password);
        }
      relais_smtp_client_deliver_async (delivery, cancellable, client_done_cb, g_steal_pointer (&task));
      return;
    }

  g_return_if_fail (g_str_has_prefix (destination, DESTINATION_MX));
  {
    g_autoptr(GResolver) resolver = g_resolver_get_default ();

    relais_mx_resolve_async (resolver, destination + strlen (DESTINATION_MX), config->hostname,
                             cancellable, mx_done_cb, g_steal_pointer (&task));
  }
}

gboolean
relais_remote_deliver_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
