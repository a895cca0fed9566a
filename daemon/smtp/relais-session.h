/* SPDX-License-Identifier: GPL-3.0-or-later
 * One SMTP server session (RFC 5321) per accepted connection: an async state
 * machine on the main loop with bounded buffers and an idle timeout. The
 * listener creates it, keeps one reference, and is told through CLOSED_FUNC
 * when the connection is gone (then drops its reference). Main thread only. */
#pragma once

#include <gio/gio.h>

#include "relais-listener.h"
#include "relais-services.h"

G_BEGIN_DECLS

typedef struct _RelaisSession RelaisSession;
typedef void (*RelaisSessionClosedFunc) (RelaisSession *session, gpointer user_data);

/* SERVICES is borrowed and must outlive the session's connection. */
RelaisSession *relais_session_new (RelaisServices *services, GSocketConnection *connection,
                                   RelaisEndpointKind kind,
                                   RelaisSessionClosedFunc closed_func, gpointer user_data);
/* Sends the greeting (after the TLS handshake on RELAIS_ENDPOINT_SMTPS). */
void           relais_session_start (RelaisSession *session);
typedef enum {
  RELAIS_SESSION_DRAIN_NONE,
  RELAIS_SESSION_DRAIN_SOON,   /* 421 at the next command; a message being received may finish */
  RELAIS_SESSION_DRAIN_NOW,    /* 421 at once, a half-received message dropped */
} RelaisSessionDrain;

/* Graceful stop: the client is told "421 4.3.2 HOSTNAME Service shutting down"
 * (at once when the session waits for a command, else after the reply to what
 * is under way), then the session closes and CLOSED_FUNC is called. */
void           relais_session_drain (RelaisSession *session, RelaisSessionDrain how);
/* Closes the connection now, aborting any transaction; CLOSED_FUNC is not called. */
void           relais_session_shutdown (RelaisSession *session);
RelaisSession *relais_session_ref (RelaisSession *session);
void           relais_session_unref (RelaisSession *session);
const char    *relais_session_get_id (RelaisSession *session);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisSession, relais_session_unref)

G_END_DECLS
