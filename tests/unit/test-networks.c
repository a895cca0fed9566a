/* SPDX-License-Identifier: GPL-3.0-or-later
 * Local networks: snapshots from an injected list, client address
 * normalization, the host's own interfaces, and the netlink watch (inside the
 * test network namespace, where adding an address to lo is allowed as root). */
#include <gio/gio.h>
#include <unistd.h>

#include "relais-networks.h"

static GInetAddressMask *
mask (const char *text)
{
  g_autoptr(GError) error = NULL;
  GInetAddressMask *m = g_inet_address_mask_new_from_string (text, &error);

  g_assert_no_error (error);
  return m;
}

static gboolean
contains (const RelaisNetworks *networks, const char *text)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (text);

  g_assert_nonnull (address);
  return relais_networks_contains (networks, address);
}

static void
test_injected (void)
{
  GInetAddressMask *masks[] = { mask ("192.0.2.0/24"), mask ("2001:db8:1::/48"), mask ("192.0.2.0/24"),
                                mask ("10.1.2.3/32") };
  g_autoptr(RelaisNetworks) networks = relais_networks_new (masks, G_N_ELEMENTS (masks));
  g_autofree char *text = relais_networks_to_string (networks);
  static const struct {
    const char *address;
    gboolean inside;
  } cases[] = {
    { "192.0.2.1", TRUE },
    { "192.0.2.255", TRUE },
    { "192.0.3.1", FALSE },
    { "::ffff:192.0.2.7", TRUE },        /* IPv4-mapped: its IPv4 network */
    { "::ffff:198.51.100.7", FALSE },
    { "::192.0.2.7", FALSE },            /* IPv4-compatible (deprecated) is not mapped */
    { "2001:db8:1:ffff::1", TRUE },
    { "2001:db8:2::1", FALSE },
    { "10.1.2.3", TRUE },
    { "10.1.2.4", FALSE },
    { "127.0.0.1", TRUE },               /* loopback always */
    { "127.255.0.9", TRUE },
    { "::ffff:127.0.0.5", TRUE },
    { "::1", TRUE },
    { "::2", FALSE },
    { "0.0.0.0", FALSE },
  };

  /* The duplicate is dropped; loopback added; sorted text. */
  g_assert_cmpuint (relais_networks_get_length (networks), ==, 5);
  g_assert_cmpstr (text, ==, "10.1.2.3, 127.0.0.0/8, 192.0.2.0/24, 2001:db8:1::/48, ::1");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].address);
      g_assert_cmpint (contains (networks, cases[i].address), ==, cases[i].inside);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (masks); i++)
    g_object_unref (masks[i]);
}

static void
test_equal (void)
{
  GInetAddressMask *a[] = { mask ("192.0.2.0/24"), mask ("198.51.100.0/24") };
  GInetAddressMask *b[] = { mask ("198.51.100.0/24"), mask ("192.0.2.0/24") };
  g_autoptr(RelaisNetworks) one = relais_networks_new (a, 2);
  g_autoptr(RelaisNetworks) two = relais_networks_new (b, 2);
  g_autoptr(RelaisNetworks) three = relais_networks_new (a, 1);
  g_autoptr(RelaisNetworks) only_loopback = relais_networks_new (NULL, 0);

  g_assert_true (relais_networks_equal (one, two));
  g_assert_false (relais_networks_equal (one, three));
  g_assert_cmpuint (relais_networks_get_length (only_loopback), ==, 2);
  g_assert_true (contains (only_loopback, "127.0.0.1"));
  g_assert_false (contains (only_loopback, "192.0.2.1"));
  for (guint i = 0; i < 2; i++)
    {
      g_object_unref (a[i]);
      g_object_unref (b[i]);
    }
}

static void
test_normalize (void)
{
  static const struct {
    const char *in;
    const char *out;   /* NULL: not an address */
  } cases[] = {
    { "::ffff:192.0.2.1", "192.0.2.1" },
    { "::FFFF:10.0.0.1", "10.0.0.1" },
    { "192.0.2.1", "192.0.2.1" },
    { "2001:db8::1", "2001:db8::1" },
    { "::ffff:0:192.0.2.1", "::ffff:0:c000:201" },  /* IPv4-translated: not mapped */
    { "::1", "::1" },
    { "", NULL },
    { "192.0.2", NULL },
    { "192.0.2.1/24", NULL },
    { "example.com", NULL },
    { "[192.0.2.1]", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) address = relais_client_address_parse (cases[i].in);
      g_autofree char *text = address != NULL ? g_inet_address_to_string (address) : NULL;

      g_test_message ("%s", cases[i].in);
      g_assert_cmpstr (text, ==, cases[i].out);
    }
}

static void
test_host (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisNetworks) networks = relais_networks_read_host (&error);

  g_assert_no_error (error);
  g_assert_true (contains (networks, "127.0.0.1"));
  g_assert_true (contains (networks, "::1"));
  g_assert_false (contains (networks, "192.0.2.77"));
}

typedef struct {
  GMainLoop *loop;
  guint changes;
  gboolean seen;
  const char *wanted;   /* an address that must become local (or stop being local) */
  gboolean wanted_inside;
  guint timeout_id;
} Watch;

static void
changed_cb (RelaisNetworks *networks, gpointer user_data)
{
  Watch *w = user_data;

  w->changes++;
  if (contains (networks, w->wanted) == w->wanted_inside)
    {
      w->seen = TRUE;
      g_main_loop_quit (w->loop);
    }
}

static gboolean
timeout_cb (gpointer user_data)
{
  Watch *w = user_data;

  w->timeout_id = 0;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

/* Runs the loop until the wanted change was seen, at most 10 s. */
static void
wait_for_change (Watch *w)
{
  w->timeout_id = g_timeout_add_seconds (10, timeout_cb, w);
  g_main_loop_run (w->loop);
  g_clear_handle_id (&w->timeout_id, g_source_remove);
}

static int
ip (const char *args)
{
  g_autofree char *command = g_strdup_printf ("ip %s", args);
  int status = -1;

  g_spawn_command_line_sync (command, NULL, NULL, &status, NULL);
  return status;
}

/* An address added to lo is seen as a local network by the monitor, and its
 * removal too, without restarting anything. */
static void
test_monitor (void)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Watch w = { loop, 0, FALSE, "198.18.7.9", TRUE, 0 };
  g_autoptr(RelaisNetworksMonitor) monitor = NULL;

  if (g_getenv ("RELAIS_TEST_NET") == NULL || getuid () != 0)
    {
      g_test_skip ("needs root in the private test network namespace (build-aux/with-test-net)");
      return;
    }
  monitor = relais_networks_monitor_new (changed_cb, &w);
  g_assert_false (contains (relais_networks_monitor_get (monitor), "198.18.7.9"));

  g_assert_cmpint (ip ("addr add 198.18.7.1/24 dev lo"), ==, 0);
  wait_for_change (&w);
  g_assert_true (w.seen);
  g_assert_true (contains (relais_networks_monitor_get (monitor), "198.18.7.9"));
  g_assert_false (contains (relais_networks_monitor_get (monitor), "198.18.8.1"));

  w.seen = FALSE;
  w.wanted_inside = FALSE;
  g_assert_cmpint (ip ("addr del 198.18.7.1/24 dev lo"), ==, 0);
  wait_for_change (&w);
  g_assert_true (w.seen);
  g_assert_cmpuint (w.changes, ==, 2);
  g_assert_false (contains (relais_networks_monitor_get (monitor), "198.18.7.9"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/networks/injected", test_injected);
  g_test_add_func ("/relais/networks/equal", test_equal);
  g_test_add_func ("/relais/networks/normalize", test_normalize);
  g_test_add_func ("/relais/networks/host", test_host);
  g_test_add_func ("/relais/networks/monitor", test_monitor);
  return g_test_run ();
}
