/* SPDX-License-Identifier: GPL-3.0-or-later
 * MX resolution: the ordering rules on hand-made records, then real lookups
 * through GIO's resolver against dnsmasq serving tests/dns/test.conf, inside
 * build-aux/with-test-net (the lookups are skipped outside it). */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "relais-mx.h"

static GPtrArray *
records (const char *spec)
{
  /* "10 a.test, 20 b.test" */
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_mx_host_free);
  g_auto(GStrv) items = g_strsplit (spec, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_strstrip (items[i]), " ", 2);

      g_ptr_array_add (out, relais_mx_host_new (parts[1], (guint16) atoi (parts[0]), FALSE));
    }
  return out;
}

/* "a.test b.test" */
static char *
joined (GPtrArray *hosts)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < hosts->len; i++)
    {
      RelaisMxHost *mx = g_ptr_array_index (hosts, i);

      g_string_append_printf (s, "%s%s", i > 0 ? " " : "", mx->host);
    }
  return g_string_free (s, FALSE);
}

static void
test_order_by_preference (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hosts = relais_mx_order (records ("30 c.test, 10 A.test., 20 b.test"),
                                                "x.test", "relais.example.org", NULL, &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  text = joined (hosts);
  g_assert_cmpstr (text, ==, "a.test b.test c.test");   /* lower case, trailing dot gone */

  /* a host listed twice: once, at its best preference */
  g_clear_pointer (&hosts, g_ptr_array_unref);
  g_clear_pointer (&text, g_free);
  hosts = relais_mx_order (records ("30 twice.test, 20 b.test, 10 TWICE.test"), "x.test", NULL, NULL, &error);
  g_assert_no_error (error);
  text = joined (hosts);
  g_assert_cmpstr (text, ==, "twice.test b.test");
}

static void
test_order_shuffles_equal_preferences (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autoptr(GHashTable) firsts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* With a fixed seed this is deterministic; all three must come first at least once. */
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) hosts = relais_mx_order (records ("10 a.test, 10 b.test, 10 c.test, 5 best.test"),
                                                    "x.test", NULL, rand, &error);
      RelaisMxHost *first, *second;

      g_assert_no_error (error);
      g_assert_cmpuint (hosts->len, ==, 4);
      first = g_ptr_array_index (hosts, 0);
      second = g_ptr_array_index (hosts, 1);
      g_assert_cmpstr (first->host, ==, "best.test");
      g_hash_table_add (firsts, g_strdup (second->host));
    }
  g_assert_cmpuint (g_hash_table_size (firsts), ==, 3);
}

static void
test_order_null_mx (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hosts = relais_mx_order (records ("0 ."), "nullmx.test", NULL, NULL, &error);

  g_assert_null (hosts);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_NULL_MX);
  g_assert_true (g_str_has_prefix (error->message, "5.1.10 "));
  g_clear_error (&error);

  /* A null MX beside real ones is ignored. */
  {
    g_autoptr(GPtrArray) mixed = relais_mx_order (records ("0 ., 10 mx.test"), "x.test", NULL, NULL, &error);
    g_autofree char *text = NULL;

    g_assert_no_error (error);
    text = joined (mixed);
    g_assert_cmpstr (text, ==, "mx.test");
  }
}

static void
test_order_prunes_ourselves (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hosts = relais_mx_order (records ("10 better.test, 20 ME.example.org., 20 peer.test, 30 worse.test"),
                                                "x.test", "me.example.org", NULL, &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  text = joined (hosts);
  g_assert_cmpstr (text, ==, "better.test");

  g_clear_pointer (&hosts, g_ptr_array_unref);
  hosts = relais_mx_order (records ("10 me.example.org, 20 other.test"), "loop.test", "me.example.org.",
                           NULL, &error);
  g_assert_null (hosts);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_LOOP);
  g_assert_true (g_str_has_prefix (error->message, "5.4.6 "));
}

/* ---- real lookups ------------------------------------------------------- */

typedef struct {
  GPtrArray *hosts;
  GError *error;
  gboolean done;
} Result;

static void
resolved_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Result *result = user_data;

  result->hosts = relais_mx_resolve_finish (res, &result->error);
  result->done = TRUE;
}

/* Resolves DOMAIN with our name mx.self.test; returns the hosts joined, or
 * NULL with *ERROR set. */
static char *
resolve (const char *domain, GError **error)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  Result result = { 0 };
  char *text = NULL;

  relais_mx_resolve_async (resolver, domain, "mx.self.test", NULL, resolved_cb, &result);
  while (!result.done)
    g_main_context_iteration (NULL, TRUE);
  if (result.hosts != NULL)
    {
      text = joined (result.hosts);
      g_ptr_array_unref (result.hosts);
    }
  else
    g_propagate_error (error, result.error);
  return text;
}

static gboolean
need_test_net (void)
{
  if (g_strcmp0 (g_getenv ("RELAIS_TEST_NET"), "1") == 0)
    return TRUE;
  g_test_skip ("needs build-aux/with-test-net --dnsmasq tests/dns/test.conf");
  return FALSE;
}

static void
test_resolve_mx (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *direct = NULL;
  g_autofree char *equal = NULL;

  if (!need_test_net ())
    return;
  direct = resolve ("direct.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (direct, ==, "mx1.direct.test mx2.direct.test");
  equal = resolve ("EQUAL.test", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (equal), ==, strlen ("e1.equal.test e2.equal.test e3.equal.test"));
}

static void
test_resolve_implicit_and_none (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *implicit = NULL;
  g_autofree char *none = NULL;
  g_autofree char *nx = NULL;

  if (!need_test_net ())
    return;
  implicit = resolve ("implicit.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (implicit, ==, "implicit.test");

  none = resolve ("noaddr.test", &error);
  g_assert_null (none);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_NO_MAIL_HOST);
  g_assert_true (g_str_has_prefix (error->message, "5.1.2 "));
  g_clear_error (&error);

  nx = resolve ("no-such-domain.test", &error);
  g_assert_null (nx);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_NO_MAIL_HOST);
}

static void
test_resolve_null_self_loop_broken (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *null_mx = NULL;
  g_autofree char *self = NULL;
  g_autofree char *loop = NULL;
  g_autofree char *broken = NULL;

  if (!need_test_net ())
    return;
  null_mx = resolve ("nullmx.test", &error);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_NULL_MX);
  g_clear_error (&error);

  self = resolve ("self.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (self, ==, "better.self.test");

  loop = resolve ("loop.test", &error);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_LOOP);
  g_clear_error (&error);

  broken = resolve ("broken.test", &error);
  g_assert_null (broken);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_TEMPORARY);
  g_assert_true (g_str_has_prefix (error->message, "4.4.3 "));
}

static void
test_resolve_literals (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *v4 = resolve ("[192.0.2.7]", &error);
  g_autofree char *v6 = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *bad_name = NULL;

  /* no DNS involved: runs everywhere */
  g_assert_no_error (error);
  g_assert_cmpstr (v4, ==, "192.0.2.7");
  v6 = resolve ("[IPv6:2001:DB8::1]", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v6, ==, "2001:db8::1");
  bad = resolve ("[IPv6:192.0.2.7]", &error);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_INVALID);
  g_clear_error (&error);
  bad_name = resolve ("192.0.2.7", &error);
  g_assert_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/mx/order/preference", test_order_by_preference);
  g_test_add_func ("/relais/mx/order/shuffle", test_order_shuffles_equal_preferences);
  g_test_add_func ("/relais/mx/order/null-mx", test_order_null_mx);
  g_test_add_func ("/relais/mx/order/self", test_order_prunes_ourselves);
  g_test_add_func ("/relais/mx/resolve/mx", test_resolve_mx);
  g_test_add_func ("/relais/mx/resolve/implicit", test_resolve_implicit_and_none);
  g_test_add_func ("/relais/mx/resolve/null-self-loop-broken", test_resolve_null_self_loop_broken);
  g_test_add_func ("/relais/mx/resolve/literals", test_resolve_literals);
  return g_test_run ();
}
