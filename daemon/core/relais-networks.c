/* SPDX-License-Identifier: GPL-3.0-or-later
 * Local networks: getifaddrs() snapshots and a netlink watch (see
 * relais-networks.h).
 *
 * Why netlink and not GNetworkMonitor: GIO's Linux monitor follows the routing
 * table and coalesces its "network-changed" signal, and when NetworkManager's
 * implementation is picked it reports connectivity, not addresses; neither says
 * "an address was added to an interface". The kernel announces exactly that on
 * the RTNLGRP_IPV4_IFADDR / RTNLGRP_IPV6_IFADDR multicast groups of a
 * NETLINK_ROUTE socket, which needs no privilege and works in a container or a
 * private network namespace. We only use the messages as a signal: on any of
 * them (or on a lost message, ENOBUFS) the addresses are read again with
 * getifaddrs() after a short pause that gathers a burst of changes into one. */
#define G_LOG_DOMAIN "relais"

#include "relais-networks.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "relais-error.h"

#define RELOAD_DELAY_MS 200

struct _RelaisNetworks {
  gint ref_count;
  GPtrArray *masks;     /* of GInetAddressMask*, sorted by text, unique */
  GPtrArray *texts;     /* of char*, parallel to MASKS */
};

/* ---- addresses --------------------------------------------------------- */

GInetAddress *
relais_client_address_normalize (GInetAddress *address)
{
  static const guint8 mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  const guint8 *bytes;

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_object_ref (address);
  bytes = g_inet_address_to_bytes (address);
  if (memcmp (bytes, mapped_prefix, sizeof mapped_prefix) != 0)
    return g_object_ref (address);
  return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
}

GInetAddress *
relais_client_address_parse (const char *text)
{
  g_autoptr(GInetAddress) address = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  address = g_inet_address_new_from_string (text);
  if (address == NULL)
    return NULL;
  return relais_client_address_normalize (address);
}

/* ---- snapshots --------------------------------------------------------- */

static gint
compare_text (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static void
add_mask (GPtrArray *texts, GHashTable *by_text, GInetAddressMask *mask)
{
  char *text = g_inet_address_mask_to_string (mask);

  if (g_hash_table_contains (by_text, text))
    {
      g_free (text);
      return;
    }
  g_hash_table_insert (by_text, text, g_object_ref (mask));
  g_ptr_array_add (texts, text);
}

static GInetAddressMask *
mask_from_string (const char *text)
{
  return g_inet_address_mask_new_from_string (text, NULL);
}

RelaisNetworks *
relais_networks_new (GInetAddressMask *const *masks, guint n_masks)
{
  static const char *const loopback[] = { "127.0.0.0/8", "::1/128" };
  g_autoptr(GHashTable) by_text = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  g_autoptr(GPtrArray) texts = g_ptr_array_new ();
  RelaisNetworks *networks;

  for (guint i = 0; i < G_N_ELEMENTS (loopback); i++)
    {
      g_autoptr(GInetAddressMask) mask = mask_from_string (loopback[i]);

      add_mask (texts, by_text, mask);
    }
  for (guint i = 0; i < n_masks; i++)
    {
      g_return_val_if_fail (G_IS_INET_ADDRESS_MASK (masks[i]), NULL);
      add_mask (texts, by_text, masks[i]);
    }
  g_ptr_array_sort (texts, compare_text);

  networks = g_new0 (RelaisNetworks, 1);
  networks->ref_count = 1;
  networks->masks = g_ptr_array_new_full (texts->len, g_object_unref);
  networks->texts = g_ptr_array_new_full (texts->len, g_free);
  for (guint i = 0; i < texts->len; i++)
    {
      char *text = texts->pdata[i];

      g_ptr_array_add (networks->masks, g_object_ref (g_hash_table_lookup (by_text, text)));
      g_ptr_array_add (networks->texts, text);   /* the table frees only the masks */
    }
  return networks;
}

RelaisNetworks *
relais_networks_ref (RelaisNetworks *networks)
{
  g_return_val_if_fail (networks != NULL, NULL);
  g_atomic_int_inc (&networks->ref_count);
  return networks;
}

void
relais_networks_unref (RelaisNetworks *networks)
{
  if (networks == NULL || !g_atomic_int_dec_and_test (&networks->ref_count))
    return;
  g_ptr_array_unref (networks->masks);
  g_ptr_array_unref (networks->texts);
  g_free (networks);
}

gboolean
relais_networks_contains (const RelaisNetworks *networks, GInetAddress *address)
{
  g_autoptr(GInetAddress) normal = NULL;

  g_return_val_if_fail (networks != NULL && G_IS_INET_ADDRESS (address), FALSE);

  normal = relais_client_address_normalize (address);
  for (guint i = 0; i < networks->masks->len; i++)
    if (g_inet_address_mask_matches (networks->masks->pdata[i], normal))
      return TRUE;
  return FALSE;
}

guint
relais_networks_get_length (const RelaisNetworks *networks)
{
  g_return_val_if_fail (networks != NULL, 0);
  return networks->masks->len;
}

GInetAddressMask *
relais_networks_get (const RelaisNetworks *networks, guint index)
{
  g_return_val_if_fail (networks != NULL && index < networks->masks->len, NULL);
  return networks->masks->pdata[index];
}

char *
relais_networks_to_string (const RelaisNetworks *networks)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_return_val_if_fail (networks != NULL, NULL);

  for (guint i = 0; i < networks->texts->len; i++)
    g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", (const char *) networks->texts->pdata[i]);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

gboolean
relais_networks_equal (const RelaisNetworks *a, const RelaisNetworks *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  if (a->texts->len != b->texts->len)
    return FALSE;
  for (guint i = 0; i < a->texts->len; i++)
    if (strcmp (a->texts->pdata[i], b->texts->pdata[i]) != 0)
      return FALSE;
  return TRUE;
}

/* The subnet of one interface address: ADDRESS with the host bits of NETMASK
 * cleared, and the number of leading one bits of NETMASK as its length. */
static GInetAddressMask *
subnet_of (const struct sockaddr *address, const struct sockaddr *netmask)
{
  guint8 bytes[16];
  const guint8 *mask_bytes = NULL;
  gsize size;
  GSocketFamily family;
  guint length = 0;
  g_autoptr(GInetAddress) network = NULL;

  if (address->sa_family == AF_INET)
    {
      family = G_SOCKET_FAMILY_IPV4;
      size = 4;
      memcpy (bytes, &((const struct sockaddr_in *) address)->sin_addr, size);
      if (netmask != NULL && netmask->sa_family == AF_INET)
        mask_bytes = (const guint8 *) &((const struct sockaddr_in *) netmask)->sin_addr;
    }
  else if (address->sa_family == AF_INET6)
    {
      family = G_SOCKET_FAMILY_IPV6;
      size = 16;
      memcpy (bytes, &((const struct sockaddr_in6 *) address)->sin6_addr, size);
      if (netmask != NULL && netmask->sa_family == AF_INET6)
        mask_bytes = (const guint8 *) &((const struct sockaddr_in6 *) netmask)->sin6_addr;
    }
  else
    return NULL;

  /* No mask given: the address alone. A mask with holes stops at the first 0 bit. */
  if (mask_bytes == NULL)
    length = (guint) size * 8;
  else
    for (guint i = 0; i < size * 8 && (mask_bytes[i / 8] & (0x80 >> (i % 8))) != 0; i++)
      length++;
  for (guint i = length; i < size * 8; i++)
    bytes[i / 8] &= (guint8) ~(0x80 >> (i % 8));

  network = g_inet_address_new_from_bytes (bytes, family);
  return g_inet_address_mask_new (network, length, NULL);
}

RelaisNetworks *
relais_networks_read_host (GError **error)
{
  struct ifaddrs *list = NULL;
  g_autoptr(GPtrArray) masks = g_ptr_array_new_with_free_func (g_object_unref);

  if (getifaddrs (&list) != 0)
    {
      int saved = errno;

      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED,
                   "cannot read the network interfaces' addresses (getifaddrs): %s", g_strerror (saved));
      return NULL;
    }
  for (struct ifaddrs *ifa = list; ifa != NULL; ifa = ifa->ifa_next)
    {
      GInetAddressMask *mask;

      if (ifa->ifa_addr == NULL || (ifa->ifa_flags & IFF_UP) == 0)
        continue;
      mask = subnet_of (ifa->ifa_addr, ifa->ifa_netmask);
      if (mask != NULL)
        g_ptr_array_add (masks, mask);
    }
  freeifaddrs (list);
  return relais_networks_new ((GInetAddressMask *const *) masks->pdata, masks->len);
}

/* ---- monitor ----------------------------------------------------------- */

struct _RelaisNetworksMonitor {
  RelaisNetworks *current;
  RelaisNetworksChangedFunc changed_func;
  gpointer user_data;
  int fd;                 /* netlink socket, -1 when not watching */
  guint watch_id;
  guint reload_id;
};

static gboolean
reload_cb (gpointer user_data)
{
  RelaisNetworksMonitor *monitor = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisNetworks) fresh = NULL;
  g_autofree char *text = NULL;

  monitor->reload_id = 0;
  fresh = relais_networks_read_host (&error);
  if (fresh == NULL)
    {
      g_warning ("local networks unchanged: %s", error->message);
      return G_SOURCE_REMOVE;
    }
  if (relais_networks_equal (fresh, monitor->current))
    return G_SOURCE_REMOVE;
  text = relais_networks_to_string (fresh);
  g_message ("local networks changed: %s", text);
  relais_networks_unref (monitor->current);
  monitor->current = g_steal_pointer (&fresh);
  if (monitor->changed_func != NULL)
    monitor->changed_func (monitor->current, monitor->user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
netlink_cb (int fd, GIOCondition condition, gpointer user_data)
{
  RelaisNetworksMonitor *monitor = user_data;
  guint8 buffer[8192];

  /* Drain: the content does not matter, only that something changed. */
  for (;;)
    {
      ssize_t n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);

      if (n > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS)))
        continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        {
          int saved = errno;

          g_warning ("stopped watching the network interfaces: %s; local networks stay %s",
                     g_strerror (saved), "as last read");
          monitor->watch_id = 0;
          return G_SOURCE_REMOVE;
        }
      break;
    }
  if (monitor->reload_id == 0)
    monitor->reload_id = g_timeout_add (RELOAD_DELAY_MS, reload_cb, monitor);
  return G_SOURCE_CONTINUE;
}

static int
open_netlink (GError **error)
{
  struct sockaddr_nl sa = { 0 };
  int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "netlink socket: %s", g_strerror (saved));
      return -1;
    }
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_LINK;
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    {
      int saved = errno;

      close (fd);
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "netlink bind: %s", g_strerror (saved));
      return -1;
    }
  return fd;
}

RelaisNetworksMonitor *
relais_networks_monitor_new (RelaisNetworksChangedFunc changed_func, gpointer user_data)
{
  RelaisNetworksMonitor *monitor = g_new0 (RelaisNetworksMonitor, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  monitor->changed_func = changed_func;
  monitor->user_data = user_data;
  monitor->fd = -1;
  /* Watch first, then read: a change in between is then not missed. */
  monitor->fd = open_netlink (&error);
  if (monitor->fd < 0)
    g_warning ("cannot watch the network interfaces (%s): local networks are read only now, at start",
               error->message);
  else
    monitor->watch_id = g_unix_fd_add (monitor->fd, G_IO_IN, netlink_cb, monitor);
  g_clear_error (&error);

  monitor->current = relais_networks_read_host (&error);
  if (monitor->current == NULL)
    {
      g_warning ("%s; only loopback counts as a local network", error->message);
      monitor->current = relais_networks_new (NULL, 0);
    }
  text = relais_networks_to_string (monitor->current);
  g_message ("local networks: %s", text);
  return monitor;
}

RelaisNetworks *
relais_networks_monitor_get (RelaisNetworksMonitor *monitor)
{
  g_return_val_if_fail (monitor != NULL, NULL);
  return monitor->current;
}

void
relais_networks_monitor_free (RelaisNetworksMonitor *monitor)
{
  if (monitor == NULL)
    return;
  g_clear_handle_id (&monitor->watch_id, g_source_remove);
  g_clear_handle_id (&monitor->reload_id, g_source_remove);
  if (monitor->fd >= 0)
    close (monitor->fd);
  relais_networks_unref (monitor->current);
  g_free (monitor);
}
