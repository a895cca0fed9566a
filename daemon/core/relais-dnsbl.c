/* SPDX-License-Identifier: GPL-3.0-or-later
 * DNS blocklist zones and their answer filters. See relais-dnsbl.h. */
#define G_LOG_DOMAIN "relais"

#include "relais-dnsbl.h"

#include <string.h>

#include "relais-address.h"
#include "relais-error.h"
#include "relais-networks.h"

#define MAX_FILTER_RANGES 64

static gboolean
parse_ipv4 (const char *text, guint32 *out)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (text);
  const guint8 *b;

  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    return FALSE;
  b = g_inet_address_to_bytes (address);
  *out = ((guint32) b[0] << 24) | ((guint32) b[1] << 16) | ((guint32) b[2] << 8) | b[3];
  return TRUE;
}

GArray *
relais_dnsbl_parse_filter (const char *property, const char *filter, GError **error)
{
  g_autoptr (GArray) ranges = g_array_new (FALSE, FALSE, sizeof (RelaisDnsblRange));
  g_auto (GStrv) items = NULL;
  g_autofree char *trimmed = g_strstrip (g_strdup (filter != NULL ? filter : ""));

  if (*trimmed == '\0')
    {
      RelaisDnsblRange any = { 0x7f000000u, 0x7fffffffu };   /* 127.0.0.0/8 */

      g_array_append_val (ranges, any);
      return g_steal_pointer (&ranges);
    }
  items = g_strsplit (filter, ",", -1);
  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      char *dash = strchr (item, '-');
      RelaisDnsblRange range;

      if (*item == '\0')
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "%s: filter '%s' has an empty item; use addresses or ranges separated by commas",
                       property, filter);
          return NULL;
        }
      if (dash != NULL)
        *dash = '\0';
      if (!parse_ipv4 (g_strstrip (item), &range.first) ||
          !parse_ipv4 (dash != NULL ? g_strstrip (dash + 1) : item, &range.last))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "%s: '%s' in filter '%s' is not an IPv4 address or a range like 127.0.0.2-127.0.0.11",
                       property, items[i], filter);
          return NULL;
        }
      if (range.first > range.last)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "%s: range in filter '%s' ends before it starts", property, filter);
          return NULL;
        }
      if (ranges->len >= MAX_FILTER_RANGES)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "%s: filter '%s' has more than %d items", property, filter, MAX_FILTER_RANGES);
          return NULL;
        }
      g_array_append_val (ranges, range);
    }
  return g_steal_pointer (&ranges);
}

RelaisDnsblZone *
relais_dnsbl_zone_new (const char *property, const char *zone, const char *filter, GError **error)
{
  g_autofree char *name = g_ascii_strdown (zone != NULL ? zone : "", -1);
  g_autoptr (GArray) ranges = NULL;
  g_autoptr (GString) compact = NULL;
  RelaisDnsblZone *z;
  gsize len;

  g_strstrip (name);
  len = strlen (name);
  if (len > 0 && name[len - 1] == '.')
    name[--len] = '\0';
  /* The query name adds up to 64 characters (IPv6 nibbles) in front. */
  if (len == 0 || len > 180 || !g_str_is_ascii (name) || g_hostname_is_ip_address (name) ||
      !relais_address_is_valid_domain (name, FALSE) || strchr (name, '.') == NULL)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "%s: '%s' is not a DNS zone name (like zen.example.org)", property, zone != NULL ? zone : "");
      return NULL;
    }
  ranges = relais_dnsbl_parse_filter (property, filter, error);
  if (ranges == NULL)
    return NULL;
  compact = g_string_new (NULL);
  for (const char *p = filter != NULL ? filter : ""; *p; p++)
    if (!g_ascii_isspace (*p))
      g_string_append_c (compact, *p);
  z = g_new0 (RelaisDnsblZone, 1);
  z->zone = g_steal_pointer (&name);
  z->filter = g_string_free (g_steal_pointer (&compact), FALSE);
  z->ranges = g_steal_pointer (&ranges);
  return z;
}

void
relais_dnsbl_zone_free (RelaisDnsblZone *zone)
{
  if (zone == NULL)
    return;
  g_free (zone->zone);
  g_free (zone->filter);
  g_array_unref (zone->ranges);
  g_free (zone);
}

gboolean
relais_dnsbl_zone_matches (const RelaisDnsblZone *zone, GInetAddress *answer)
{
  const guint8 *b;
  guint32 value;

  if (answer == NULL || g_inet_address_get_family (answer) != G_SOCKET_FAMILY_IPV4)
    return FALSE;
  b = g_inet_address_to_bytes (answer);
  value = ((guint32) b[0] << 24) | ((guint32) b[1] << 16) | ((guint32) b[2] << 8) | b[3];
  for (guint i = 0; i < zone->ranges->len; i++)
    {
      const RelaisDnsblRange *r = &g_array_index (zone->ranges, RelaisDnsblRange, i);

      if (value >= r->first && value <= r->last)
        return TRUE;
    }
  return FALSE;
}

char *
relais_dnsbl_query_name (GInetAddress *client, const char *zone)
{
  g_autoptr (GInetAddress) address = relais_client_address_normalize (client);
  const guint8 *b = g_inet_address_to_bytes (address);
  GString *name = g_string_new (NULL);

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    g_string_printf (name, "%u.%u.%u.%u.", b[3], b[2], b[1], b[0]);
  else
    for (int i = 15; i >= 0; i--)
      g_string_append_printf (name, "%x.%x.", b[i] & 0xf, b[i] >> 4);
  g_string_append (name, zone);
  return g_string_free (name, FALSE);
}
