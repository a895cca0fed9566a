/* SPDX-License-Identifier: GPL-3.0-or-later
 * SMTP endpoints: one GSocketService per kind, each address:port added to it.
 * Every accepted connection becomes a RelaisSession (relais-session.h). */
#pragma once

#include <gio/gio.h>

#include "relais-services.h"

G_BEGIN_DECLS

typedef enum {
  RELAIS_ENDPOINT_SMTP,        /* port 25: MX reception */
  RELAIS_ENDPOINT_SUBMISSION,  /* port 587: STARTTLS + AUTH required */
  RELAIS_ENDPOINT_SMTPS,       /* port 465: implicit TLS, AUTH required */
} RelaisEndpointKind;

typedef struct _RelaisListener RelaisListener;

RelaisListener *relais_listener_new (RelaisServices *services);
void            relais_listener_free (RelaisListener *listener);
/* Splits a listen address, "IP:PORT", "[IPv6]:PORT" or ":PORT" (all
 * addresses: *HOST NULL); RELAIS_ERROR_INVALID_ARGUMENT naming it otherwise.
 * Used for --http-listen too. */
gboolean        relais_listener_parse_address (const char *address, char **host, guint16 *port,
                                               GError **error);
/* ADDRESS as relais_listener_parse_address() takes it. */
gboolean        relais_listener_add (RelaisListener *listener, RelaisEndpointKind kind,
                                     const char *address, GError **error);
void            relais_listener_start (RelaisListener *listener);
/* Whether every endpoint added accepts connections (started, and no
 * graceful stop begun): for the HTTP /healthz check. */
gboolean        relais_listener_is_listening (RelaisListener *listener);
/* Graceful stop: closes the listening sockets and tells every session 421
 * (relais_session_drain: a message being received has GRACE_SECONDS to end);
 * STOPPED_FUNC (its return value ignored) runs once no session is left, at
 * most a few seconds after the grace period. */
void            relais_listener_stop (RelaisListener *listener, guint grace_seconds,
                                      GSourceFunc stopped_func, gpointer user_data);
/* Sessions still open. */
guint           relais_listener_get_n_sessions (RelaisListener *listener);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisListener, relais_listener_free)

G_END_DECLS
