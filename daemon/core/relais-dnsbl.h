/* SPDX-License-Identifier: GPL-3.0-or-later
 * DNS blocklist zones (SPEC §4.2): a zone name and its answer filter, and the
 * name to ask for a client address (the reversed IPv4 octets or the 32 IPv6
 * nibbles, then the zone). Pure functions, no I/O: the lookups themselves are
 * relais_dns_check_dnsbl_async() (relais-dns-check.h).
 *
 * A filter says which A answers mean "listed": "" means any answer in
 * 127.0.0.0/8; otherwise a comma-separated list of IPv4 addresses and ranges
 * "FIRST-LAST" ("127.0.0.2-127.0.0.11,127.0.0.20"). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  guint32 first, last;          /* host byte order, first <= last */
} RelaisDnsblRange;

typedef struct {
  char *zone;                   /* lower case, no trailing dot */
  char *filter;                 /* as given, spaces removed */
  GArray *ranges;               /* of RelaisDnsblRange; never empty */
} RelaisDnsblZone;

/* A validated zone, or NULL + RELAIS_ERROR_INVALID_ARGUMENT naming PROPERTY. */
RelaisDnsblZone *relais_dnsbl_zone_new (const char *property, const char *zone, const char *filter,
                                        GError **error);
void             relais_dnsbl_zone_free (RelaisDnsblZone *zone);

/* The ranges of FILTER ("" = 127.0.0.0/8), or NULL + error naming PROPERTY. */
GArray          *relais_dnsbl_parse_filter (const char *property, const char *filter, GError **error);
/* Whether ANSWER (an A record) is one the zone counts. */
gboolean         relais_dnsbl_zone_matches (const RelaisDnsblZone *zone, GInetAddress *answer);
/* "4.3.2.1.ZONE" for 1.2.3.4, the 32 reversed nibbles then ZONE for IPv6
 * (an IPv4-mapped IPv6 address is asked as IPv4). */
char            *relais_dnsbl_query_name (GInetAddress *client, const char *zone);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDnsblZone, relais_dnsbl_zone_free)

G_END_DECLS
