/* SPDX-License-Identifier: GPL-3.0-or-later
 * Benchmark of the black/white rule set (SPEC §4.1): builds sets of 10,
 * 10,000 and 100,000 rules of mixed types (IP, subnet, sender, recipient,
 * domain) and prints the lookups per second of each over about one second
 * (client, sender and recipient lookups in turn), then the ratio of the
 * 100,000 figure to the 10 figure. Not part of the test suite. */
#include <gio/gio.h>

#include "relais-rules.h"

#define N_QUERIES 4096

static GInetAddress *
random_client (GRand *rand)
{
  guint8 bytes[16] = { 0x20, 0x01, 0x0d, 0xb8 };

  if (g_rand_boolean (rand))
    {
      guint32 v4 = g_rand_int (rand);
      return g_inet_address_new_from_bytes ((guint8 *) &v4, G_SOCKET_FAMILY_IPV4);
    }
  for (guint i = 4; i < 16; i++)
    bytes[i] = (guint8) g_rand_int_range (rand, 0, 256);
  return g_inet_address_new_from_bytes (bytes, G_SOCKET_FAMILY_IPV6);
}

static char *
random_address (GRand *rand)
{
  return g_strdup_printf ("user%u@d%u.example", g_rand_int_range (rand, 0, 1000000), g_rand_int_range (rand, 0, 5000));
}

static RelaisRuleSet *
build_set (GRand *rand, guint n)
{
  g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_security_rule_free);

  while (rules->len < n)
    {
      RelaisRuleList list = g_rand_boolean (rand) ? RELAIS_RULE_LIST_BLACK : RELAIS_RULE_LIST_WHITE;
      RelaisRuleType type = (RelaisRuleType) g_rand_int_range (rand, 0, 5);
      g_autofree char *name = g_strdup_printf ("rule%u", rules->len);
      g_autofree char *value = NULL;
      g_autoptr(GError) error = NULL;
      RelaisSecurityRule *r;

      if (type == RELAIS_RULE_TYPE_DOMAIN)
        {
          list = RELAIS_RULE_LIST_WHITE;
          value = g_strdup_printf ("d%u.example", g_rand_int_range (rand, 0, 5000));
        }
      else if (type == RELAIS_RULE_TYPE_SENDER || type == RELAIS_RULE_TYPE_RECIPIENT)
        value = random_address (rand);
      else
        {
          g_autoptr(GInetAddress) client = random_client (rand);
          gsize size = g_inet_address_get_native_size (client);
          guint length = size * 8;
          guint8 bytes[16];
          g_autoptr(GInetAddress) network = NULL;
          g_autofree char *text = NULL;

          if (type == RELAIS_RULE_TYPE_SUBNET)
            length = size == 4 ? (guint) g_rand_int_range (rand, 8, 33) : (guint) g_rand_int_range (rand, 32, 65);
          memcpy (bytes, g_inet_address_to_bytes (client), size);
          for (guint b = length; b < size * 8; b++)
            bytes[b / 8] &= (guint8) ~(0x80 >> (b % 8));
          network = g_inet_address_new_from_bytes (bytes, size == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
          text = g_inet_address_to_string (network);
          value = type == RELAIS_RULE_TYPE_SUBNET ? g_strdup_printf ("%s/%u", text, length) : g_strdup (text);
        }
      r = relais_security_rule_new (name, list, type, value, RELAIS_RULE_ACTION_REJECT, &error);
      g_assert_no_error (error);
      g_ptr_array_add (rules, r);
    }
  return relais_rule_set_new (rules);
}

static double
measure (guint n)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (n);
  g_autoptr(RelaisRuleSet) set = build_set (rand, n);
  GInetAddress *clients[N_QUERIES];
  char *addresses[N_QUERIES];
  guint64 lookups = 0, hits = 0;
  gint64 start, elapsed;

  for (guint i = 0; i < N_QUERIES; i++)
    {
      clients[i] = random_client (rand);
      addresses[i] = random_address (rand);
    }
  start = g_get_monotonic_time ();
  do
    {
      for (guint i = 0; i < N_QUERIES; i++)
        {
          RelaisRuleList list = (i & 1) ? RELAIS_RULE_LIST_WHITE : RELAIS_RULE_LIST_BLACK;

          hits += relais_rule_set_match_client (set, list, clients[i]) != NULL;
          hits += relais_rule_set_match_sender (set, list, addresses[i]) != NULL;
          hits += relais_rule_set_match_recipient (set, list, addresses[(i + 1) % N_QUERIES]) != NULL;
        }
      lookups += 3 * N_QUERIES;
      elapsed = g_get_monotonic_time () - start;
    }
  while (elapsed < G_USEC_PER_SEC);
  for (guint i = 0; i < N_QUERIES; i++)
    {
      g_object_unref (clients[i]);
      g_free (addresses[i]);
    }
  g_print ("%u rules: %.0f lookups/s (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " matched)\n",
           n, lookups * (double) G_USEC_PER_SEC / elapsed, hits, lookups);
  return lookups * (double) G_USEC_PER_SEC / elapsed;
}

int
main (void)
{
  double small = measure (10);
  double mid = measure (10000);
  double large = measure (100000);

  (void) mid;
  g_print ("100000/10 ratio: %.2f (1.00 = no slowdown; at least 0.50 expected)\n", large / small);
  return 0;
}
