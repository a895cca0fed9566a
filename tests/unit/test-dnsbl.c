/* SPDX-License-Identifier: GPL-3.0-or-later
 * DNSBL zones (SPEC §4.2): the query name of IPv4, IPv6 and IPv4-mapped
 * clients, zone name validation, answer filter parsing and matching, and the
 * Dnsbl / DnsblZones settings through relais_config_apply_security(). */
#include <gio/gio.h>
#include <string.h>

#include "relais-config.h"
#include "relais-dnsbl.h"
#include "relais-error.h"

static void
test_query_name (void)
{
  static const struct { const char *client, *expected; } cases[] = {
    { "127.0.0.2", "2.0.0.127.bl.test" },
    { "192.0.2.10", "10.2.0.192.bl.test" },
    { "::ffff:198.51.100.7", "7.100.51.198.bl.test" },
    { "2001:db8::1",
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test" },
    { "2001:db8:abcd:12::ff00:42",
      "2.4.0.0.0.0.f.f.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.bl.test" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GInetAddress) address = g_inet_address_new_from_string (cases[i].client);
      g_autofree char *name = relais_dnsbl_query_name (address, "bl.test");

      g_assert_cmpstr (name, ==, cases[i].expected);
    }
}

static gboolean
matches (const RelaisDnsblZone *zone, const char *answer)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (answer);

  return relais_dnsbl_zone_matches (zone, address);
}

static void
test_filter (void)
{
  static const struct {
    const char *filter;
    const char *yes[4];
    const char *no[4];
  } cases[] = {
    { "", { "127.0.0.2", "127.0.0.20", "127.255.255.255", NULL }, { "126.255.255.255", "128.0.0.0", "10.0.0.2", NULL } },
    { "127.0.0.2", { "127.0.0.2", NULL }, { "127.0.0.3", "127.0.0.1", NULL } },
    { "127.0.0.2-127.0.0.11", { "127.0.0.2", "127.0.0.11", "127.0.0.5", NULL }, { "127.0.0.1", "127.0.0.12", "127.0.0.20", NULL } },
    { " 127.0.0.2 - 127.0.0.3 , 127.0.0.20", { "127.0.0.3", "127.0.0.20", NULL }, { "127.0.0.4", "127.0.0.21", NULL } },
  };
  static const char *const bad[] = {
    "127.0.0.2,", ",127.0.0.2", "127.0.0.300", "127.0.0.11-127.0.0.2", "::1", "127.0.0.2-", "-127.0.0.2",
    "any", "127.0.0.0/8", "127.0.0.2;127.0.0.3",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RelaisDnsblZone) zone = relais_dnsbl_zone_new ("DnsblZones", "bl.test", cases[i].filter, &error);

      g_assert_no_error (error);
      for (guint k = 0; cases[i].yes[k] != NULL; k++)
        g_assert_true (matches (zone, cases[i].yes[k]));
      for (guint k = 0; cases[i].no[k] != NULL; k++)
        g_assert_false (matches (zone, cases[i].no[k]));
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RelaisDnsblZone) zone = relais_dnsbl_zone_new ("DnsblZones", "bl.test", bad[i], &error);

      g_assert_null (zone);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, "DnsblZones: "));
    }
}

static void
test_zone_names (void)
{
  static const char *const good[][2] = {
    { "bl.test", "bl.test" }, { "ZEN.Example.ORG.", "zen.example.org" }, { "b-l.x1.test", "b-l.x1.test" },
  };
  static const char *const bad[] = { "", ".", "test", "a..b", "127.0.0.1", "bl test.org", "-bl.test",
                                     "zone.exämple.org", "[127.0.0.1]" };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RelaisDnsblZone) zone = relais_dnsbl_zone_new ("DnsblZones", good[i][0], "", &error);

      g_assert_no_error (error);
      g_assert_cmpstr (zone->zone, ==, good[i][1]);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RelaisDnsblZone) zone = relais_dnsbl_zone_new ("DnsblZones", bad[i], "", &error);

      g_assert_null (zone);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_settings (void)
{
  g_autoptr (GError) error = NULL;
  RelaisConfig *base = relais_config_new_default ();
  RelaisConfig *next;
  g_autoptr (GVariant) all = NULL;
  g_autoptr (GVariant) zones = NULL;

  g_assert_false (base->dnsbl);   /* SPEC §4.6 */
  g_assert_cmpuint (base->dnsbl_zones->len, ==, 0);

  next = relais_config_apply_security (base, g_variant_new_parsed (
      "{'Dnsbl': <true>, 'DnsblZones': <[('BL.test.', ' 127.0.0.2-127.0.0.11'), ('other.test', '')]>}"), &error);
  g_assert_no_error (error);
  g_assert_true (next->dnsbl);
  all = relais_config_security_to_variant (next);
  zones = g_variant_lookup_value (all, "DnsblZones", G_VARIANT_TYPE ("a(ss)"));
  g_assert_nonnull (zones);
  {
    g_autofree char *text = g_variant_print (zones, FALSE);
    g_assert_cmpstr (text, ==, "[('bl.test', '127.0.0.2-127.0.0.11'), ('other.test', '')]");
  }

  /* refused: all or nothing, the error names the setting */
  g_assert_null (relais_config_apply_security (next, g_variant_new_parsed (
      "{'Dnsbl': <false>, 'DnsblZones': <[('bl.test', 'x')]>}"), &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_assert_true (strstr (error->message, "DnsblZones") != NULL);
  g_clear_error (&error);
  g_assert_null (relais_config_apply_security (next, g_variant_new_parsed (
      "{'DnsblZones': <[('bl.test', ''), ('BL.TEST', '')]>}"), &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (relais_config_apply_security (next, g_variant_new_parsed ("{'DnsblZones': <['bl.test']>}"), &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "DnsblZones"));
  g_assert_true (next->dnsbl);

  relais_config_unref (next);
  relais_config_unref (base);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dnsbl/query-name", test_query_name);
  g_test_add_func ("/dnsbl/filter", test_filter);
  g_test_add_func ("/dnsbl/zone-names", test_zone_names);
  g_test_add_func ("/dnsbl/settings", test_settings);
  return g_test_run ();
}
