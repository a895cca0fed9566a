/* SPDX-License-Identifier: GPL-3.0-or-later
 * Remote delivery (SPEC §2): where a remote recipient goes, and one attempt
 * for every recipient of a message that goes to the same place, over one
 * connection. The destination is a relay host of the configuration, or the
 * recipient domain's mail exchangers (relais-mx.c) on port 25. Main thread. */
#pragma once

#include <gio/gio.h>

#include "relais-config.h"
#include "relais-smtp-client.h"

G_BEGIN_DECLS

/* The destination key of a remote recipient: recipients of one message with
 * the same key share one connection. "relay:NAME" for a relay host ("relay:"
 * for the single one), "mx:DOMAIN" for direct delivery. A recipient in a
 * relay domain (SPEC §3) always gets "mx:DOMAIN" (lower case), whatever the
 * Distribution mode. */
char    *relais_remote_destination (const RelaisConfig *config, const char *sender, const char *recipient);

/* Fills DELIVERY's targets, TLS mode and credentials for DESTINATION (a key
 * from relais_remote_destination() under CONFIG), resolving the MX hosts for
 * direct delivery, then runs the SMTP client. DELIVERY's helo_name, sender,
 * message and recipients are the caller's. When the destination cannot be
 * reached at all (null MX, no such domain, DNS failure, a relay host that no
 * longer exists) every recipient gets its outcome here and no connection is
 * made. FALSE from finish is a local error: the recipients are then untouched. */
void     relais_remote_deliver_async (RelaisConfig *config, const char *destination,
                                      RelaisSmtpDelivery *delivery, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean relais_remote_deliver_finish (GAsyncResult *result, GError **error);

/* The TLS mode for a relay host (SPEC §2: "always use TLS" means implicit TLS
 * on port 465, STARTTLS required on any other port). */
RelaisSmtpTlsMode relais_remote_relay_tls_mode (const RelaisRelayHost *relay);

G_END_DECLS
