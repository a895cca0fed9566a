/* SPDX-License-Identifier: GPL-3.0-or-later
 * Per-client-address counters: every counter, the calendar minute boundary,
 * the local-midnight reset and block expiry (TZ set here), listing and
 * lifting blocks, the sweep of idle addresses, the cap, and IPv4/IPv6 keys. */
#include <glib.h>
#include <stdlib.h>
#include <time.h>

#include "relais-anvil.h"
#include "relais-clock.h"

/* 2023-11-14 22:14:00 UTC: the start of a minute */
#define T0 G_GINT64_CONSTANT (1700000040)

static void
set_tz (const char *tz)
{
  g_setenv ("TZ", tz, TRUE);
  tzset ();
}

static void
test_connections (void)
{
  g_autoptr(RelaisAnvil) anvil = relais_anvil_new (0);
  RelaisAnvilCounts counts;
  guint now_n = 0, minute_n = 0;

  relais_anvil_connect (anvil, "192.0.2.1", T0, &now_n, &minute_n);
  g_assert_cmpuint (now_n, ==, 1);
  g_assert_cmpuint (minute_n, ==, 1);
  relais_anvil_connect (anvil, "192.0.2.1", T0 + 10, &now_n, &minute_n);
  g_assert_cmpuint (now_n, ==, 2);
  g_assert_cmpuint (minute_n, ==, 2);
  /* another address counts apart */
  relais_anvil_connect (anvil, "192.0.2.2", T0 + 10, &now_n, &minute_n);
  g_assert_cmpuint (now_n, ==, 1);
  g_assert_cmpuint (minute_n, ==, 1);

  relais_anvil_disconnect (anvil, "192.0.2.1");
  relais_anvil_peek (anvil, "192.0.2.1", T0 + 20, &counts);
  g_assert_cmpuint (counts.connections_now, ==, 2);           /* one open, plus the next */
  g_assert_cmpuint (counts.connections_this_minute, ==, 3);   /* two this minute, plus the next */
  relais_anvil_connect (anvil, "192.0.2.1", T0 + 20, &now_n, &minute_n);
  g_assert_cmpuint (now_n, ==, 2);
  g_assert_cmpuint (minute_n, ==, 3);

  /* a disconnect never goes below zero, nor creates anything */
  relais_anvil_disconnect (anvil, "192.0.2.2");
  relais_anvil_disconnect (anvil, "192.0.2.2");
  relais_anvil_disconnect (anvil, "192.0.2.77");
  relais_anvil_peek (anvil, "192.0.2.2", T0 + 20, &counts);
  g_assert_cmpuint (counts.connections_now, ==, 1);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 2);

  /* either out may be NULL */
  relais_anvil_connect (anvil, "192.0.2.1", T0 + 21, NULL, NULL);
  relais_anvil_peek (anvil, "192.0.2.1", T0 + 21, &counts);
  g_assert_cmpuint (counts.connections_now, ==, 4);
}

static void
test_minute_boundary (void)
{
  g_autoptr(RelaisAnvil) anvil = relais_anvil_new (0);
  RelaisAnvilCounts counts;
  guint now_n = 0, minute_n = 0;

  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.1", T0 + i * 10), ==, i + 1);
  relais_anvil_connect (anvil, "192.0.2.1", T0, &now_n, &minute_n);
  relais_anvil_connect (anvil, "192.0.2.1", T0 + 59, &now_n, &minute_n);
  g_assert_cmpuint (minute_n, ==, 2);
  g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.1", T0 + 59), ==, 6);

  /* hh:mm:59 -> hh:mm+1:00: a new minute, the open connections stay */
  relais_anvil_peek (anvil, "192.0.2.1", T0 + 60, &counts);
  g_assert_cmpuint (counts.messages_this_minute, ==, 1);
  g_assert_cmpuint (counts.connections_this_minute, ==, 1);
  g_assert_cmpuint (counts.connections_now, ==, 3);
  g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.1", T0 + 60), ==, 1);
  relais_anvil_connect (anvil, "192.0.2.1", T0 + 61, &now_n, &minute_n);
  g_assert_cmpuint (now_n, ==, 3);
  g_assert_cmpuint (minute_n, ==, 1);

  /* windows are calendar minutes, not sliding: 30 s later in the next minute is a new count */
  g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.1", T0 + 119), ==, 2);
  g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.1", T0 + 120), ==, 1);
  /* several minutes later */
  g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.1", T0 + 3600 + 7), ==, 1);
}

static void
check_nonexistent_day (gint64 morning, gint64 midnight)
{
  g_autoptr(RelaisAnvil) anvil = relais_anvil_new (0);
  RelaisAnvilCounts counts;

  g_assert_cmpuint (relais_anvil_nonexistent (anvil, "198.51.100.7", morning), ==, 1);
  g_assert_cmpuint (relais_anvil_nonexistent (anvil, "198.51.100.7", morning + 3600), ==, 2);
  /* not reset by the minute, nor forgotten by the sweep */
  g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.99", midnight - 1), ==, 1);
  g_assert_cmpuint (relais_anvil_nonexistent (anvil, "198.51.100.7", midnight - 1), ==, 3);
  relais_anvil_peek (anvil, "198.51.100.7", midnight - 1, &counts);
  g_assert_cmpuint (counts.nonexistent_recipients, ==, 4);
  /* local midnight: a new day */
  relais_anvil_peek (anvil, "198.51.100.7", midnight, &counts);
  g_assert_cmpuint (counts.nonexistent_recipients, ==, 1);
  g_assert_cmpuint (relais_anvil_nonexistent (anvil, "198.51.100.7", midnight), ==, 1);
  g_assert_cmpuint (relais_anvil_nonexistent (anvil, "198.51.100.7", midnight + 5), ==, 2);
}

static void
test_nonexistent_midnight (void)
{
  set_tz ("UTC");
  /* 2023-11-14 22:14 UTC, midnight 2023-11-15 00:00 UTC */
  check_nonexistent_day (T0, 1700006400);

  if (!g_file_test ("/usr/share/zoneinfo/Europe/Paris", G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("no time zone data for Europe/Paris: the DST day is not checked");
      return;
    }
  set_tz ("Europe/Paris");
  /* 2023-11-14 13:14 CET: midnight is 2023-11-14 23:00 UTC */
  check_nonexistent_day (T0 - 10 * 3600, 1700002800);
  /* 2024-03-31 (23 hours) 00:00 CET -> 2024-04-01 00:00 CEST */
  check_nonexistent_day (1711839600, 1711922400);
}

static void
test_block (void)
{
  g_autoptr(RelaisAnvil) anvil = relais_anvil_new (0);
  g_autoptr(GPtrArray) blocks = NULL;
  RelaisAnvilCounts counts;
  gint64 midnight;

  set_tz ("UTC");
  midnight = relais_clock_next_local_midnight (T0);
  g_assert_cmpint (midnight, ==, 1700006400);

  g_assert_cmpint (relais_anvil_blocked_until (anvil, "192.0.2.10", T0), ==, 0);
  for (guint i = 0; i < 3; i++)
    relais_anvil_nonexistent (anvil, "192.0.2.10", T0);
  relais_anvil_block (anvil, "192.0.2.10", midnight);
  relais_anvil_block (anvil, "192.0.2.9", midnight);
  relais_anvil_block (anvil, "2001:DB8::1", midnight + 100);
  relais_anvil_block (anvil, "10.0.0.1", midnight);
  relais_anvil_block (anvil, "192.0.2.200", T0 + 30);   /* a short one */
  relais_anvil_block (anvil, "192.0.2.201", 0);         /* no end: no block */
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "192.0.2.201", T0), ==, 0);

  g_assert_cmpint (relais_anvil_blocked_until (anvil, "192.0.2.10", T0), ==, midnight);
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "2001:db8:0::1", T0), ==, midnight + 100);
  relais_anvil_peek (anvil, "192.0.2.10", T0, &counts);
  g_assert_cmpint (counts.blocked_until, ==, midnight);
  g_assert_cmpuint (counts.nonexistent_recipients, ==, 4);

  blocks = relais_anvil_list_blocked (anvil, T0);
  g_assert_cmpuint (blocks->len, ==, 5);
  {
    static const char *const order[] = { "10.0.0.1", "192.0.2.9", "192.0.2.10", "192.0.2.200", "2001:db8::1" };

    for (guint i = 0; i < G_N_ELEMENTS (order); i++)
      {
        RelaisAnvilBlock *block = g_ptr_array_index (blocks, i);

        g_assert_cmpstr (block->address, ==, order[i]);
        g_assert_cmpint (block->until, ==, g_str_equal (order[i], "2001:db8::1") ? midnight + 100 :
                                           g_str_equal (order[i], "192.0.2.200") ? T0 + 30 : midnight);
      }
  }
  g_clear_pointer (&blocks, g_ptr_array_unref);

  /* the short block ends: gone from the list */
  blocks = relais_anvil_list_blocked (anvil, T0 + 30);
  g_assert_cmpuint (blocks->len, ==, 4);
  g_clear_pointer (&blocks, g_ptr_array_unref);
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "192.0.2.200", T0 + 30), ==, 0);

  /* unblock: TRUE once, clears the nonexistent count */
  g_assert_true (relais_anvil_unblock (anvil, "192.0.2.10", T0 + 40));
  g_assert_false (relais_anvil_unblock (anvil, "192.0.2.10", T0 + 40));
  g_assert_false (relais_anvil_unblock (anvil, "203.0.113.1", T0 + 40));
  g_assert_false (relais_anvil_unblock (anvil, "192.0.2.200", T0 + 40));   /* ended */
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "192.0.2.10", T0 + 40), ==, 0);
  g_assert_cmpuint (relais_anvil_nonexistent (anvil, "192.0.2.10", T0 + 41), ==, 1);

  /* midnight: the remaining blocks end, except the one that goes past it */
  blocks = relais_anvil_list_blocked (anvil, midnight);
  g_assert_cmpuint (blocks->len, ==, 1);
  g_assert_cmpstr (((RelaisAnvilBlock *) g_ptr_array_index (blocks, 0))->address, ==, "2001:db8::1");
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "10.0.0.1", midnight), ==, 0);
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "2001:db8::1", midnight + 99), ==, midnight + 100);
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "2001:db8::1", midnight + 100), ==, 0);
  /* ...and ended blocks are forgotten by the next sweep */
  relais_anvil_message (anvil, "192.0.2.1", midnight + 200);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 1);
}

static void
test_keys (void)
{
  g_autoptr(RelaisAnvil) anvil = relais_anvil_new (0);
  guint now_n = 0;

  /* IPv4-mapped IPv6 is the IPv4 address; IPv6 in any spelling is one key */
  relais_anvil_connect (anvil, "192.0.2.1", T0, &now_n, NULL);
  relais_anvil_connect (anvil, "::ffff:192.0.2.1", T0, &now_n, NULL);
  g_assert_cmpuint (now_n, ==, 2);
  relais_anvil_connect (anvil, "2001:DB8:0:0::5", T0, &now_n, NULL);
  relais_anvil_connect (anvil, "2001:db8::5", T0, &now_n, NULL);
  g_assert_cmpuint (now_n, ==, 2);
  relais_anvil_connect (anvil, "2001:db8::6", T0, &now_n, NULL);
  g_assert_cmpuint (now_n, ==, 1);
  relais_anvil_connect (anvil, "::1", T0, &now_n, NULL);
  g_assert_cmpuint (now_n, ==, 1);
  /* text that is no address is a key as it is */
  relais_anvil_connect (anvil, "unix", T0, &now_n, NULL);
  relais_anvil_connect (anvil, "unix", T0, &now_n, NULL);
  g_assert_cmpuint (now_n, ==, 2);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 5);

  relais_anvil_disconnect (anvil, "::FFFF:192.0.2.1");
  relais_anvil_connect (anvil, "192.0.2.1", T0, &now_n, NULL);
  g_assert_cmpuint (now_n, ==, 2);
}

static void
test_sweep (void)
{
  g_autoptr(RelaisAnvil) anvil = relais_anvil_new (0);
  RelaisAnvilCounts counts;

  set_tz ("UTC");
  relais_anvil_message (anvil, "192.0.2.1", T0);           /* idle after this minute */
  relais_anvil_connect (anvil, "192.0.2.2", T0, NULL, NULL); /* open */
  relais_anvil_nonexistent (anvil, "192.0.2.3", T0);       /* counts until midnight */
  relais_anvil_block (anvil, "192.0.2.4", T0 + 3600);      /* blocked */
  relais_anvil_connect (anvil, "192.0.2.5", T0, NULL, NULL);
  relais_anvil_disconnect (anvil, "192.0.2.5");            /* idle after this minute */
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 5);

  /* a peek counts nothing and remembers nothing */
  relais_anvil_peek (anvil, "192.0.2.77", T0 + 1, &counts);
  g_assert_cmpuint (counts.connections_now, ==, 1);
  g_assert_cmpuint (counts.connections_this_minute, ==, 1);
  g_assert_cmpuint (counts.messages_this_minute, ==, 1);
  g_assert_cmpuint (counts.nonexistent_recipients, ==, 1);
  g_assert_cmpint (counts.blocked_until, ==, 0);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 5);

  /* same minute: nothing forgotten */
  relais_anvil_message (anvil, "192.0.2.9", T0 + 59);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 6);
  /* next minute: .1, .5 and .9 go, the others stay with their counts */
  relais_anvil_peek (anvil, "192.0.2.2", T0 + 60, &counts);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 3);
  g_assert_cmpuint (counts.connections_now, ==, 2);
  relais_anvil_peek (anvil, "192.0.2.3", T0 + 60, &counts);
  g_assert_cmpuint (counts.nonexistent_recipients, ==, 2);
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "192.0.2.4", T0 + 60), ==, T0 + 3600);

  /* the block ends, the connection closes, midnight passes: all gone */
  relais_anvil_disconnect (anvil, "192.0.2.2");
  relais_anvil_peek (anvil, "192.0.2.4", 1700006400, &counts);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 0);
}

static void
test_cap (void)
{
  g_autoptr(RelaisAnvil) anvil = relais_anvil_new (3);
  g_autoptr(RelaisAnvil) big = NULL;
  RelaisAnvilCounts counts;

  relais_anvil_connect (anvil, "192.0.2.1", T0, NULL, NULL);    /* open: kept */
  relais_anvil_block (anvil, "192.0.2.2", T0 + 3600);           /* blocked: kept */
  relais_anvil_message (anvil, "192.0.2.3", T0);
  relais_anvil_message (anvil, "192.0.2.3", T0);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 3);

  /* a fourth address: .3, the least recently seen unpinned one, is forgotten */
  g_assert_cmpuint (relais_anvil_message (anvil, "192.0.2.4", T0), ==, 1);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 3);
  relais_anvil_peek (anvil, "192.0.2.3", T0, &counts);
  g_assert_cmpuint (counts.messages_this_minute, ==, 1);
  relais_anvil_peek (anvil, "192.0.2.1", T0, &counts);
  g_assert_cmpuint (counts.connections_now, ==, 2);
  g_assert_cmpint (relais_anvil_blocked_until (anvil, "192.0.2.2", T0), ==, T0 + 3600);

  /* recently seen beats older: .4 used again, then .5 and .6 come */
  relais_anvil_connect (anvil, "192.0.2.5", T0, NULL, NULL);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 3);
  relais_anvil_peek (anvil, "192.0.2.4", T0, &counts);
  g_assert_cmpuint (counts.messages_this_minute, ==, 1);   /* .4 was forgotten for .5 */

  /* every address pinned: the table grows past the cap rather than drop one */
  relais_anvil_connect (anvil, "192.0.2.6", T0, NULL, NULL);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 4);
  relais_anvil_peek (anvil, "192.0.2.5", T0, &counts);
  g_assert_cmpuint (counts.connections_now, ==, 2);
  relais_anvil_peek (anvil, "192.0.2.6", T0, &counts);
  g_assert_cmpuint (counts.connections_now, ==, 2);

  /* once one closes, the next new address takes its place */
  relais_anvil_disconnect (anvil, "192.0.2.5");
  relais_anvil_message (anvil, "192.0.2.7", T0);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 4);
  relais_anvil_peek (anvil, "192.0.2.5", T0, &counts);
  g_assert_cmpuint (counts.connections_this_minute, ==, 1);

  /* the default cap, with 150,000 addresses in one minute */
  big = relais_anvil_new (0);
  for (guint i = 0; i < 150000; i++)
    {
      char text[64];

      g_snprintf (text, sizeof text, "2001:db8::%x:%x", i >> 16, i & 0xffff);
      relais_anvil_message (big, text, T0 + 5);
    }
  g_assert_cmpuint (relais_anvil_get_size (big), ==, RELAIS_ANVIL_DEFAULT_MAX_ADDRESSES);
  relais_anvil_peek (big, "2001:db8::1:5f8f", T0 + 5, &counts);   /* 0x15f8f = 89999: kept */
  g_assert_cmpuint (counts.messages_this_minute, ==, 2);
  relais_anvil_peek (big, "2001:db8::0:0", T0 + 5, &counts);      /* the first: forgotten */
  g_assert_cmpuint (counts.messages_this_minute, ==, 1);
}

static void
test_ref (void)
{
  RelaisAnvil *anvil = relais_anvil_new (0);

  g_assert_true (relais_anvil_ref (anvil) == anvil);
  relais_anvil_connect (anvil, "192.0.2.1", T0, NULL, NULL);
  relais_anvil_unref (anvil);
  g_assert_cmpuint (relais_anvil_get_size (anvil), ==, 1);
  relais_anvil_unref (anvil);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/anvil/connections", test_connections);
  g_test_add_func ("/anvil/minute-boundary", test_minute_boundary);
  g_test_add_func ("/anvil/nonexistent-midnight", test_nonexistent_midnight);
  g_test_add_func ("/anvil/block", test_block);
  g_test_add_func ("/anvil/keys", test_keys);
  g_test_add_func ("/anvil/sweep", test_sweep);
  g_test_add_func ("/anvil/cap", test_cap);
  g_test_add_func ("/anvil/ref", test_ref);
  return g_test_run ();
}
