/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM signing of outgoing remote mail (issue 7): which domain signs a
 * message (the domain of its single RFC 5322 From address, else the envelope
 * sender's), and the DKIM-Signature field made with that domain's key from the
 * configuration snapshot. The spool file is read and signed in a worker
 * thread; it is never changed: the field is sent on top of it
 * (RelaisSmtpDelivery.header_prefix), made again at each attempt. Caller: the
 * scheduler, before each remote delivery. */
#pragma once

#include <gio/gio.h>

#include "relais-config.h"

G_BEGIN_DECLS

/* The signing domain of MESSAGE (LENGTH bytes, header fields first): the
 * domain of the address of its From field when there is exactly one From
 * field holding exactly one address; otherwise the domain of SENDER (the
 * envelope sender, "" for the null sender). Lower case; NULL when there is
 * none. */
char    *relais_dkim_outbound_domain (const char *message, gsize length, const char *sender);

/* Whether CONFIG would sign anything at all (DkimSigning on and a key). */
gboolean relais_dkim_outbound_enabled (const RelaisConfig *config);

/* Signs MESSAGE for CONFIG at NOW: the DKIM-Signature field (CRLF-terminated),
 * and the key's domain and selector in *DOMAIN and *SELECTOR; NULL without an
 * error when the message's domain has no key (or DkimSigning is off); NULL +
 * error when signing failed. Thread-safe. */
char    *relais_dkim_outbound_sign (const RelaisConfig *config, const char *message, gsize length,
                                    const char *sender, gint64 now, char **domain, char **selector,
                                    GError **error);

/* The same for the spool file PATH, read and signed in a worker thread.
 * CONFIG is referenced until the callback. */
void     relais_dkim_outbound_sign_file_async (RelaisConfig *config, const char *path, const char *sender,
                                               GCancellable *cancellable, GAsyncReadyCallback callback,
                                               gpointer user_data);
char    *relais_dkim_outbound_sign_file_finish (GAsyncResult *result, char **domain, char **selector,
                                                GError **error);

G_END_DECLS
