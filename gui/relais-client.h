/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "relais-dbus-generated.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_CLIENT (relais_client_get_type ())
G_DECLARE_FINAL_TYPE (RelaisClient, relais_client, RELAIS, CLIENT, GObject)

/* Finds relaisd (system bus first, else session bus; RELAIS_SETTINGS_BUS=
 * system|session forces one), keeps one proxy per interface while it runs,
 * and follows it going away and coming back. */
RelaisClient        *relais_client_new                (void);

/* TRUE once every proxy is ready; "changed" is emitted whenever the proxies
 * are made (daemon found) or dropped (daemon gone). */
gboolean             relais_client_is_connected       (RelaisClient *self);
/* "system", "session", or NULL while not connected. */
const char          *relais_client_get_bus_name       (RelaisClient *self);

/* The proxy for "org.relais.Relais1.NAME", NULL while not connected
 * (transfer none: valid until the next "changed"). */
GDBusProxy          *relais_client_get_proxy          (RelaisClient *self, const char *interface_name);
RelaisGeneral       *relais_client_get_general        (RelaisClient *self);
RelaisDistribution  *relais_client_get_distribution   (RelaisClient *self);
RelaisRelayControl  *relais_client_get_relay_control  (RelaisClient *self);
RelaisSecurity      *relais_client_get_security       (RelaisClient *self);
RelaisAccounts      *relais_client_get_accounts       (RelaisClient *self);
RelaisMailQueue     *relais_client_get_queue          (RelaisClient *self);
RelaisStatistics    *relais_client_get_statistics     (RelaisClient *self);
RelaisPolicy        *relais_client_get_policy         (RelaisClient *self);

/* Whether this user may change the settings: polkit's
 * org.relais.relais1.configure on the system bus, always allowed on the
 * session bus (the daemon does not ask polkit there), never while not
 * connected. Never NULL; replaced (notify::permission) when the bus changes. */
GPermission         *relais_client_get_permission     (RelaisClient *self);
/* Connected and the permission is allowed; "notify::can-edit" follows the
 * connection, the permission and its "allowed" together. */
gboolean             relais_client_can_edit           (RelaisClient *self);
/* The same for org.relais.relais1.manage-queue (hold, release, retry,
 * delete queued mail); "notify::queue-permission", "notify::can-manage-queue". */
GPermission         *relais_client_get_queue_permission (RelaisClient *self);
gboolean             relais_client_can_manage_queue   (RelaisClient *self);

G_END_DECLS
