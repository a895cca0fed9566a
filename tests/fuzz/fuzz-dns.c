/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz harness: our reading of DNS answers. The input is one DNS message as
 * a name server could send it; relais_dns_parse_answer
 * (policy/relais-dns-query.c: ns_initparse, ns_parserr, dn_expand, TXT
 * strings joined) reads it as the answer to an A, AAAA, MX, PTR and TXT
 * question, as relais_dns_query does for the policy's checks, DNSBL, SPF,
 * DKIM and DMARC. What we make of the records follows: A answers through
 * two DNSBL answer filters (core/relais-dnsbl.c), MX and PTR names ordered
 * for delivery (delivery/relais-mx.c, a fixed random seed). MX lookups for
 * delivery itself go through GResolver, which parses its answers in GLib. */
#include <arpa/nameser.h>
#include <string.h>

#include "relais-dns-query.h"
#include "relais-dnsbl.h"
#include "relais-fuzz.h"
#include "relais-mx.h"

static const int types[] = { ns_t_a, ns_t_aaaa, ns_t_mx, ns_t_ptr, ns_t_txt };

static void
check_dnsbl (GPtrArray *addresses)
{
  static RelaisDnsblZone *any, *ranges;

  if (any == NULL)
    {
      any = relais_dnsbl_zone_new ("DnsblZones", "bl.example.org", "", NULL);
      ranges = relais_dnsbl_zone_new ("DnsblZones", "bl.example.net", "127.0.0.2-127.0.0.11,127.0.0.20", NULL);
      g_assert (any != NULL && ranges != NULL);
    }
  for (guint i = 0; i < addresses->len; i++)
    {
      GInetAddress *address = g_ptr_array_index (addresses, i);

      /* the ranges all lie in 127.0.0.0/8 */
      if (relais_dnsbl_zone_matches (ranges, address))
        g_assert (relais_dnsbl_zone_matches (any, address));
    }
}

static void
check_mx (GPtrArray *names)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  GPtrArray *hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_mx_host_free);
  g_autoptr (GPtrArray) ordered = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (hosts, relais_mx_host_new (g_ptr_array_index (names, i), (guint16) (i % 3 * 10), FALSE));
  ordered = relais_mx_order (hosts, "example.org", "mx.example.org", rand, &error);
  g_assert ((ordered == NULL) == (error != NULL));
  for (guint i = 1; ordered != NULL && i < ordered->len; i++)
    g_assert_cmpuint (((RelaisMxHost *) ordered->pdata[i - 1])->preference, <=,
                      ((RelaisMxHost *) ordered->pdata[i])->preference);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  relais_fuzz_init ();
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      gboolean addresses = types[i] == ns_t_a || types[i] == ns_t_aaaa;
      g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func (addresses ? g_object_unref : g_free);
      RelaisDnsResult result = relais_dns_parse_answer (data, size, "example.org", types[i], records);

      g_assert (result == RELAIS_DNS_FOUND || records->len == 0);
      if (types[i] == ns_t_a)
        check_dnsbl (records);
      else if (types[i] == ns_t_mx || types[i] == ns_t_ptr)
        check_mx (records);
      else if (types[i] == ns_t_txt)
        for (guint k = 0; k < records->len; k++)
          g_assert_cmpuint (strlen (g_ptr_array_index (records, k)), <, size);
    }
  return 0;
}
