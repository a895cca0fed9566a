/* SPDX-License-Identifier: GPL-3.0-or-later
 * Where remote recipients go: relay hosts and rules of the Distribution modes,
 * and relay domains, which always go to their own MX hosts (SPEC §3). */
#include <gio/gio.h>

#include "relais-config.h"
#include "relais-remote.h"

static RelaisConfig *
step (RelaisConfig *c, RelaisConfig *next, GError *error)
{
  g_assert_no_error (error);
  g_assert_nonnull (next);
  relais_config_unref (c);
  return next;
}

static RelaisConfig *
apply_distribution (RelaisConfig *c, const char *text)
{
  g_autoptr(GVariant) changes = g_variant_ref_sink (g_variant_new_parsed (text));
  GError *error = NULL;

  return step (c, relais_config_apply_distribution (c, changes, &error), error);
}

static void
test_destination (void)
{
  static const char *const all[] = { "partner.example", "elsewhere.example", NULL };
  GError *error = NULL;
  RelaisConfig *c = relais_config_new_default ();
  g_autoptr(RelaisConfig) direct = NULL;
  g_autoptr(RelaisConfig) single = NULL;
  g_autoptr(RelaisConfig) several = NULL;
  g_autoptr(GVariant) fields = g_variant_ref_sink (g_variant_new_parsed ("{'Server': <'smarthost.example'>}"));
  static const struct {
    int mode;   /* 0 direct, 1 relay-host, 2 relay-hosts */
    const char *sender, *recipient, *destination;
  } cases[] = {
    { 0, "a@home.example", "b@elsewhere.example", "mx:elsewhere.example" },
    { 0, "a@home.example", "b@partner.example", "mx:partner.example" },
    { 0, "a@home.example", "b@Partner.EXAMPLE", "mx:partner.example" },
    { 1, "a@home.example", "b@elsewhere.example", "relay:" },
    { 1, "a@home.example", "b@partner.example", "mx:partner.example" },
    { 1, "", "b@PARTNER.example", "mx:partner.example" },
    { 1, "a@home.example", "b@sub.partner.example", "relay:" },
    { 2, "a@home.example", "b@elsewhere.example", "relay:hub" },
    { 2, "a@home.example", "b@partner.example", "mx:partner.example" },
    { 2, "a@home.example", "b%elsewhere.example@partner.example", "mx:partner.example" },
    { 2, "a@home.example", "b@other.example", "mx:other.example" },
  };

  c = apply_distribution (c, "{'Mode': <'direct'>}");
  g_ptr_array_add (c->relay_domains, relais_relay_domain_new ("partner", "partner.example"));
  direct = relais_config_ref (c);
  single = apply_distribution (relais_config_ref (c), "{'Mode': <'relay-host'>, 'RelayServer': <'smarthost.example'>}");
  c = step (c, relais_config_add_relay_host (c, "hub", fields, &error), error);
  c = step (c, relais_config_add_relay_rule (c, 0, "recipient", "hub", all, NULL, &error), error);
  several = apply_distribution (c, "{'Mode': <'relay-hosts'>}");
  g_assert_cmpuint (several->relay_domains->len, ==, 1);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const RelaisConfig *configs[] = { direct, single, several };
      g_autofree char *destination =
        relais_remote_destination (configs[cases[i].mode], cases[i].sender, cases[i].recipient);

      g_test_message ("%d: %s", cases[i].mode, cases[i].recipient);
      g_assert_cmpstr (destination, ==, cases[i].destination);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/remote/destination", test_destination);
  return g_test_run ();
}
