/* SPDX-License-Identifier: GPL-3.0-or-later
 * SMTP endpoints: a listening socket per configured address, watched in the
 * poller the sessions use (a GSocketService would make a GTask and a GLib
 * source for every connection). Accepted connections become RelaisSessions, which the
 * listener owns (one reference each) until they report that they closed; the
 * open-session count feeds RELAIS_STAT_SESSIONS_OPEN. A graceful stop closes
 * the sockets, drains the sessions (relais_session_drain: SOON, after the
 * grace period NOW, a few seconds later closed outright) and reports when
 * none is left. */
#define G_LOG_DOMAIN "relais"

#include "relais-listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "relais-error.h"
#include "relais-poller.h"
#include "relais-session.h"

#define N_KINDS 3
/* After the 421 at once (DRAIN_NOW), what is still open (a commit, a client
 * that does not read its replies) is closed outright this much later. */
#define DRAIN_LAST_SECONDS 5
/* Connections the kernel completes before we accept them (GLib's default is
 * 10: a burst of clients past it waits for SYN-ACK retransmissions, seconds).
 * The kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG 4096
/* Connections accepted in a row from one socket before the others (and the
 * sessions) get their turn. */
#define ACCEPT_BURST 32
/* After accept() failed for another reason than an empty backlog (no
 * descriptor left, no memory): the next try, not a busy loop. */
#define ACCEPT_RETRY_MS 100

typedef struct {
  RelaisListener *listener;
  RelaisEndpointKind kind;
  GSocket *socket;
  RelaisPollWatch *watch;
  char *address;            /* as configured, for the log */
  guint retry_id;
} Endpoint;

struct _RelaisListener {
  RelaisServices *services;
  GPtrArray *endpoints;     /* of Endpoint* */
  GHashTable *sessions;     /* RelaisSession* (owned) set */
  gboolean started;

  /* graceful stop */
  gboolean stopping;
  guint drain_id;
  RelaisSessionDrain drain_step;
  GSourceFunc stopped_func;
  gpointer stopped_data;
};

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
endpoint_free (Endpoint *e)
{
  g_clear_handle_id (&e->retry_id, g_source_remove);
  g_clear_pointer (&e->watch, relais_poll_watch_free);   /* before its descriptor closes */
  if (e->socket != NULL)
    g_socket_close (e->socket, NULL);
  g_clear_object (&e->socket);
  g_free (e->address);
  g_free (e);
}

static void
close_sockets (RelaisListener *listener)
{
  g_ptr_array_set_size (listener->endpoints, 0);
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

static void
incoming (RelaisListener *listener, GSocketConnection *connection, RelaisEndpointKind kind)
{
  RelaisSession *session;

  relais_stats_add (listener->services->stats, RELAIS_STAT_CONNECTIONS, 1);
  session = relais_session_new (listener->services, connection, kind, session_closed_cb, listener);
  g_hash_table_add (listener->sessions, session);
  update_gauge (listener);
  relais_session_start (session);
}

static void endpoint_arm (Endpoint *e);

static gboolean
endpoint_retry_cb (gpointer user_data)
{
  Endpoint *e = user_data;

  e->retry_id = 0;
  endpoint_arm (e);
  return G_SOURCE_REMOVE;
}

/* The listening socket is readable: what its backlog holds, up to
 * ACCEPT_BURST connections, then the watch again. */
static void
endpoint_readable (gpointer user_data)
{
  Endpoint *e = user_data;
  RelaisListener *listener = e->listener;

  for (guint i = 0; i < ACCEPT_BURST; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) socket = g_socket_accept (e->socket, NULL, &error);
      g_autoptr(GSocketConnection) connection = NULL;

      if (socket == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          g_warning ("cannot accept a connection on %s: %s", e->address, error->message);
          e->retry_id = g_timeout_add (ACCEPT_RETRY_MS, endpoint_retry_cb, e);
          return;
        }
      connection = g_socket_connection_factory_create_connection (socket);
      incoming (listener, connection, e->kind);
      /* a session's start may have stopped the listener */
      if (!listener->started || listener->stopping)
        return;
    }
  endpoint_arm (e);
}

static void
endpoint_arm (Endpoint *e)
{
  g_autoptr(GError) error = NULL;

  if (e->retry_id != 0 || relais_poll_watch_is_armed (e->watch))
    return;
  if (!relais_poll_watch_arm (e->watch, G_IO_IN, endpoint_readable, e, &error))
    {
      g_warning ("cannot watch %s for connections: %s", e->address, error->message);
      e->retry_id = g_timeout_add (ACCEPT_RETRY_MS, endpoint_retry_cb, e);
    }
}

RelaisListener *
relais_listener_new (RelaisServices *services)
{
  RelaisListener *listener;

  g_return_val_if_fail (services != NULL, NULL);

  listener = g_new0 (RelaisListener, 1);
  listener->services = services;
  listener->endpoints = g_ptr_array_new_with_free_func ((GDestroyNotify) endpoint_free);
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
  g_ptr_array_unref (listener->endpoints);
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

/* A listening socket on ADDRESS (SO_REUSEADDR, as GIO's), not blocking. */
static GSocket *
listen_on (GSocketAddress *address, gboolean dual_stack, GError **error)
{
  g_autoptr(GSocket) socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return NULL;
  if (dual_stack)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 0, NULL);
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

gboolean
relais_listener_add (RelaisListener *listener, RelaisEndpointKind kind, const char *address,
                     GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr(GSocketAddress) sockaddr = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;
  Endpoint *e;

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

  if (host == NULL)
    {
      /* every address: IPv6 and IPv4 on one socket, else IPv4 alone */
      g_autoptr(GInetAddress) any6 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
      g_autoptr(GInetAddress) any4 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);

      sockaddr = g_inet_socket_address_new (any6, port);
      socket = listen_on (sockaddr, TRUE, &local_error);
      if (socket == NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        {
          g_clear_error (&local_error);
          g_clear_object (&sockaddr);
          sockaddr = g_inet_socket_address_new (any4, port);
          socket = listen_on (sockaddr, FALSE, &local_error);
        }
    }
  else
    {
      sockaddr = g_inet_socket_address_new_from_string (host, port);
      if (sockaddr == NULL)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "Invalid listen address “%s”", address);
          return FALSE;
        }
      socket = listen_on (sockaddr, FALSE, &local_error);
    }
  if (socket == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "Cannot listen on %s: ", address);
      return FALSE;
    }

  e = g_new0 (Endpoint, 1);
  e->listener = listener;
  e->kind = kind;
  e->address = g_strdup (address);
  e->socket = g_steal_pointer (&socket);
  e->watch = relais_poll_watch_new (g_socket_get_fd (e->socket), error);
  if (e->watch == NULL)
    {
      g_prefix_error (error, "Cannot listen on %s: ", address);
      endpoint_free (e);
      return FALSE;
    }
  g_ptr_array_add (listener->endpoints, e);
  g_message ("listening on %s (%s)", address,
             kind == RELAIS_ENDPOINT_SMTP ? "smtp" : kind == RELAIS_ENDPOINT_SUBMISSION ? "submission" : "smtps");
  if (listener->started)
    endpoint_arm (e);
  return TRUE;
}

void
relais_listener_start (RelaisListener *listener)
{
  g_return_if_fail (listener != NULL);

  listener->started = TRUE;
  for (guint i = 0; i < listener->endpoints->len; i++)
    endpoint_arm (listener->endpoints->pdata[i]);
}

gboolean
relais_listener_is_listening (RelaisListener *listener)
{
  g_return_val_if_fail (listener != NULL, FALSE);

  /* stopping: the sockets are closed */
  return listener->started && !listener->stopping;
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
