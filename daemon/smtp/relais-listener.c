/* SPDX-License-Identifier: GPL-3.0-or-later
 * SMTP endpoints: one GSocketService per endpoint kind, each configured
 * address added to it. Accepted connections become RelaisSessions, which the
 * listener owns (one reference each) until they report that they closed; the
 * open-session count feeds RELAIS_STAT_SESSIONS_OPEN. A graceful stop closes
 * the sockets, drains the sessions (relais_session_drain: SOON, after the
 * grace period NOW, a few seconds later closed outright) and reports when
 * none is left. */
#define G_LOG_DOMAIN "relais"

#include "relais-listener.h"

#include <string.h>

#include "relais-error.h"
#include "relais-session.h"

#define N_KINDS 3
/* After the 421 at once (DRAIN_NOW), what is still open (a commit, a client
 * that does not read its replies) is closed outright this much later. */
#define DRAIN_LAST_SECONDS 5
/* Connections the kernel completes before we accept them (GLib's default is
 * 10: a burst of clients past it waits for SYN-ACK retransmissions, seconds).
 * The kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096

struct _RelaisListener {
  RelaisServices *services;
  GSocketService *services_by_kind[N_KINDS];
  GHashTable *sessions;     /* RelaisSession* (owned) set */
  gboolean started;

  /* graceful stop */
  gboolean stopping;
  guint drain_id;
  RelaisSessionDrain drain_step;
  GSourceFunc stopped_func;
  gpointer stopped_data;
};

typedef struct {
  RelaisListener *listener;
  RelaisEndpointKind kind;
} IncomingData;

static void
update_gauge (RelaisListener *listener)
{
  relais_stats_set (listener->services->stats, RELAIS_STAT_SESSIONS_OPEN,
                    g_hash_table_size (listener->sessions));
}

static void
stopped (RelaisListener *listener)
{
  GSourceFunc func = listener->stopped_func;

  g_clear_handle_id (&listener->drain_id, g_source_remove);
  listener->stopped_func = NULL;
  if (func != NULL)
    func (listener->stopped_data);
}

static void
session_closed_cb (RelaisSession *session, gpointer user_data)
{
  RelaisListener *listener = user_data;

  g_hash_table_remove (listener->sessions, session);
  update_gauge (listener);
  if (listener->stopping && g_hash_table_size (listener->sessions) == 0)
    stopped (listener);
}

static void
close_sockets (RelaisListener *listener)
{
  for (guint i = 0; i < N_KINDS; i++)
    {
      if (listener->services_by_kind[i] == NULL)
        continue;
      g_socket_service_stop (listener->services_by_kind[i]);
      g_socket_listener_close (G_SOCKET_LISTENER (listener->services_by_kind[i]));
      g_clear_object (&listener->services_by_kind[i]);
    }
}

/* Tells every session the next step; sessions may close (and leave the table)
 * while this runs, so it walks a copy holding references. */
static void
drain_all (RelaisListener *listener, RelaisSessionDrain how)
{
  g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_session_unref);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, listener->sessions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (sessions, relais_session_ref (key));
  for (guint i = 0; i < sessions->len; i++)
    relais_session_drain (sessions->pdata[i], how);
}

/* Closes every session now, without its closed callback, and forgets it. */
static void
shutdown_sessions (RelaisListener *listener)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, listener->sessions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    relais_session_shutdown (key);
  g_hash_table_remove_all (listener->sessions);
}

static gboolean
drain_step_cb (gpointer user_data)
{
  RelaisListener *listener = user_data;

  listener->drain_id = 0;
  if (listener->drain_step == RELAIS_SESSION_DRAIN_SOON)
    {
      g_message ("shutdown grace period over: closing %u session(s) now",
                 g_hash_table_size (listener->sessions));
      listener->drain_step = RELAIS_SESSION_DRAIN_NOW;
      listener->drain_id = g_timeout_add_seconds (DRAIN_LAST_SECONDS, drain_step_cb, listener);
      drain_all (listener, RELAIS_SESSION_DRAIN_NOW);
      return G_SOURCE_REMOVE;
    }
  g_warning ("closing %u session(s) that did not end after their 421", g_hash_table_size (listener->sessions));
  shutdown_sessions (listener);
  update_gauge (listener);
  stopped (listener);
  return G_SOURCE_REMOVE;
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source_object,
             gpointer user_data)
{
  IncomingData *data = user_data;
  RelaisListener *listener = data->listener;
  RelaisSession *session;

  relais_stats_add (listener->services->stats, RELAIS_STAT_CONNECTIONS, 1);
  session = relais_session_new (listener->services, connection, data->kind, session_closed_cb, listener);
  g_hash_table_add (listener->sessions, session);
  update_gauge (listener);
  relais_session_start (session);
  return TRUE;
}

RelaisListener *
relais_listener_new (RelaisServices *services)
{
  RelaisListener *listener;

  g_return_val_if_fail (services != NULL, NULL);

  listener = g_new0 (RelaisListener, 1);
  listener->services = services;
  listener->sessions = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                              (GDestroyNotify) relais_session_unref, NULL);
  return listener;
}

void
relais_listener_free (RelaisListener *listener)
{
  if (listener == NULL)
    return;
  listener->stopped_func = NULL;
  g_clear_handle_id (&listener->drain_id, g_source_remove);
  close_sockets (listener);
  shutdown_sessions (listener);
  g_hash_table_unref (listener->sessions);
  g_free (listener);
}

/* "IP:PORT", "[IPv6]:PORT" or ":PORT". *HOST is NULL for ":PORT". */
static gboolean
split_address (const char *address, char **host, guint16 *port)
{
  const char *port_str;
  g_autofree char *h = NULL;
  guint64 value;
  char *end = NULL;

  if (address[0] == '[')
    {
      const char *close = strchr (address, ']');

      if (close == NULL || close[1] != ':')
        return FALSE;
      h = g_strndup (address + 1, (gsize) (close - address - 1));
      if (strchr (h, ':') == NULL)
        return FALSE;
      port_str = close + 2;
    }
  else
    {
      const char *colon = strrchr (address, ':');

      if (colon == NULL || memchr (address, ':', (gsize) (colon - address)) != NULL)
        return FALSE;
      if (colon != address)
        h = g_strndup (address, (gsize) (colon - address));
      port_str = colon + 1;
    }
  if (!g_ascii_isdigit (*port_str))
    return FALSE;
  value = g_ascii_strtoull (port_str, &end, 10);
  if (*end != '\0' || value > 65535)
    return FALSE;
  if (h != NULL && !g_hostname_is_ip_address (h))
    return FALSE;
  *host = g_steal_pointer (&h);
  *port = (guint16) value;
  return TRUE;
}

gboolean
relais_listener_parse_address (const char *address, char **host, guint16 *port, GError **error)
{
  if (split_address (address, host, port))
    return TRUE;
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
               "invalid address “%s”: expected IP:PORT, [IPv6]:PORT or :PORT", address);
  return FALSE;
}

gboolean
relais_listener_add (RelaisListener *listener, RelaisEndpointKind kind, const char *address,
                     GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  GSocketService *service;

  g_return_val_if_fail (listener != NULL, FALSE);
  g_return_val_if_fail ((guint) kind < N_KINDS, FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  if (!relais_listener_parse_address (address, &host, &port, error))
    return FALSE;
  if (kind == RELAIS_ENDPOINT_SMTPS && listener->services->tls_certificate == NULL)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "Cannot listen for SMTPS on %s: no TLS certificate", address);
      return FALSE;
    }

  service = listener->services_by_kind[kind];
  if (service == NULL)
    {
      IncomingData *data = g_new0 (IncomingData, 1);

      data->listener = listener;
      data->kind = kind;
      service = g_socket_service_new ();
      g_socket_service_stop (service);   /* started by relais_listener_start() */
      g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), LISTEN_BACKLOG);
      g_signal_connect_data (service, "incoming", G_CALLBACK (incoming_cb), data,
                             (GClosureNotify) (void (*) (void)) g_free, 0);
      listener->services_by_kind[kind] = service;
    }

  if (host == NULL)
    {
      if (!g_socket_listener_add_inet_port (G_SOCKET_LISTENER (service), port, NULL, error))
        {
          g_prefix_error (error, "Cannot listen on %s: ", address);
          return FALSE;
        }
    }
  else
    {
      g_autoptr(GSocketAddress) sockaddr = g_inet_socket_address_new_from_string (host, port);

      if (sockaddr == NULL)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "Invalid listen address “%s”", address);
          return FALSE;
        }
      if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), sockaddr, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, NULL, NULL, error))
        {
          g_prefix_error (error, "Cannot listen on %s: ", address);
          return FALSE;
        }
    }
  g_message ("listening on %s (%s)", address,
             kind == RELAIS_ENDPOINT_SMTP ? "smtp" : kind == RELAIS_ENDPOINT_SUBMISSION ? "submission" : "smtps");
  if (listener->started)
    g_socket_service_start (service);
  return TRUE;
}

void
relais_listener_start (RelaisListener *listener)
{
  g_return_if_fail (listener != NULL);

  listener->started = TRUE;
  for (guint i = 0; i < N_KINDS; i++)
    if (listener->services_by_kind[i] != NULL)
      g_socket_service_start (listener->services_by_kind[i]);
}

gboolean
relais_listener_is_listening (RelaisListener *listener)
{
  g_return_val_if_fail (listener != NULL, FALSE);

  if (listener->stopping)   /* the sockets are closed: no endpoint is left to ask */
    return FALSE;
  for (guint i = 0; i < N_KINDS; i++)
    if (listener->services_by_kind[i] != NULL && !g_socket_service_is_active (listener->services_by_kind[i]))
      return FALSE;
  return TRUE;
}

void
relais_listener_stop (RelaisListener *listener, guint grace_seconds, GSourceFunc stopped_func,
                      gpointer user_data)
{
  g_return_if_fail (listener != NULL);
  g_return_if_fail (!listener->stopping);

  listener->stopping = TRUE;
  listener->stopped_func = stopped_func;
  listener->stopped_data = user_data;
  close_sockets (listener);
  if (g_hash_table_size (listener->sessions) == 0)
    {
      stopped (listener);
      return;
    }
  g_message ("no longer accepting connections; ending %u session(s) (grace period %u s)",
             g_hash_table_size (listener->sessions), grace_seconds);
  listener->drain_step = RELAIS_SESSION_DRAIN_SOON;
  listener->drain_id = g_timeout_add_seconds (grace_seconds, drain_step_cb, listener);
  drain_all (listener, RELAIS_SESSION_DRAIN_SOON);
}

guint
relais_listener_get_n_sessions (RelaisListener *listener)
{
  g_return_val_if_fail (listener != NULL, 0);
  return g_hash_table_size (listener->sessions);
}
