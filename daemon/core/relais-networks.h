/* SPDX-License-Identifier: GPL-3.0-or-later
 * The local networks (SPEC "Words used here"): the IPv4/IPv6 subnets attached
 * to this host's interfaces that are up, plus loopback (127.0.0.0/8, ::1).
 * A RelaisNetworks is an immutable, reference-counted snapshot; the monitor
 * reads a new one at start and whenever an interface address comes or goes
 * (a netlink watch, see relais-networks.c) and hands it to its owner, who swaps
 * it like the config snapshot. Client addresses are normalized once
 * (relais_client_address_normalize) before any network test, so that an IPv4
 * client of a dual-stack socket (::ffff:192.0.2.1) matches its IPv4 networks.
 * Main thread only. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RelaisNetworks RelaisNetworks;

/* A snapshot of MASKS (GInetAddressMask*, each referenced; duplicates dropped)
 * and loopback, which is always a local network. For tests and the monitor. */
RelaisNetworks *relais_networks_new (GInetAddressMask *const *masks, guint n_masks);
/* The host's networks now, read with getifaddrs(); NULL + error when that fails. */
RelaisNetworks *relais_networks_read_host (GError **error);
RelaisNetworks *relais_networks_ref (RelaisNetworks *networks);
void            relais_networks_unref (RelaisNetworks *networks);

/* Whether ADDRESS (normalized here too) is in one of the networks. */
gboolean        relais_networks_contains (const RelaisNetworks *networks, GInetAddress *address);
guint           relais_networks_get_length (const RelaisNetworks *networks);
GInetAddressMask *relais_networks_get (const RelaisNetworks *networks, guint index);  /* borrowed */
/* "127.0.0.0/8, ::1/128, 192.0.2.0/24" for logs. */
char           *relais_networks_to_string (const RelaisNetworks *networks);
gboolean        relais_networks_equal (const RelaisNetworks *a, const RelaisNetworks *b);

/* ADDRESS with an IPv4-mapped IPv6 address (::ffff:a.b.c.d) turned into the
 * IPv4 address a.b.c.d; any other address unchanged. Returns a new reference. */
GInetAddress   *relais_client_address_normalize (GInetAddress *address);
/* TEXT parsed as an IPv4 or IPv6 address and normalized, or NULL. */
GInetAddress   *relais_client_address_parse (const char *text);

/* Watches the host's interface addresses. CHANGED_FUNC is called on the main
 * loop with the new snapshot (borrowed; ref it to keep it) each time the set of
 * local networks actually changes. When the watch cannot be set up the first
 * snapshot stays, with a warning. */
typedef struct _RelaisNetworksMonitor RelaisNetworksMonitor;
typedef void (*RelaisNetworksChangedFunc) (RelaisNetworks *networks, gpointer user_data);

RelaisNetworksMonitor *relais_networks_monitor_new (RelaisNetworksChangedFunc changed_func, gpointer user_data);
RelaisNetworks        *relais_networks_monitor_get (RelaisNetworksMonitor *monitor);  /* borrowed */
void                   relais_networks_monitor_free (RelaisNetworksMonitor *monitor);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisNetworks, relais_networks_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisNetworksMonitor, relais_networks_monitor_free)

G_END_DECLS
