/* SPDX-License-Identifier: GPL-3.0-or-later
 * The settable clock: the test clock file (set, moved, missing, invalid) and
 * the next local midnight in UTC and across daylight saving changes (skipped
 * where the system has no time zone data). */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <time.h>

#include "relais-clock.h"

static void
set_tz (const char *tz)
{
  g_setenv ("TZ", tz, TRUE);
  tzset ();
}

static gboolean
have_zone (const char *name)
{
  g_autofree char *path = g_build_filename ("/usr/share/zoneinfo", name, NULL);

  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static void
test_clock_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("relais-clock-XXXXXX", &error);
  g_autofree char *path = NULL;
  gint64 real;

  g_assert_no_error (error);
  path = g_build_filename (dir, "now", NULL);
  g_setenv (RELAIS_TEST_CLOCK_ENV, path, TRUE);

  /* missing file: real time */
  real = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_cmpint (ABS (relais_clock_now () - real), <=, 2);

  g_assert_true (g_file_set_contents (path, "1234567890\n", -1, NULL));
  g_assert_cmpint (relais_clock_now (), ==, 1234567890);
  /* read again at each call: the test moves time */
  g_assert_true (g_file_set_contents (path, " 1234567959 ", -1, NULL));
  g_assert_cmpint (relais_clock_now (), ==, 1234567959);

  /* not a number: real time */
  for (guint i = 0; i < 4; i++)
    {
      static const char *const bad[] = { "", "soon", "12x", "-5" };

      g_assert_true (g_file_set_contents (path, bad[i], -1, NULL));
      real = g_get_real_time () / G_USEC_PER_SEC;
      g_assert_cmpint (ABS (relais_clock_now () - real), <=, 2);
    }

  g_unsetenv (RELAIS_TEST_CLOCK_ENV);
  g_assert_true (g_file_set_contents (path, "1234567890", -1, NULL));
  real = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_cmpint (ABS (relais_clock_now () - real), <=, 2);

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_midnight_utc (void)
{
  set_tz ("UTC");
  /* 2023-11-14 22:13:20 UTC */
  g_assert_cmpint (relais_clock_next_local_midnight (1700000000), ==, 1700006400);
  /* exactly midnight: the next one */
  g_assert_cmpint (relais_clock_next_local_midnight (1700006400), ==, 1700006400 + 86400);
  g_assert_cmpint (relais_clock_next_local_midnight (1700006399), ==, 1700006400);
  /* 2024-02-28 -> 29 (leap year) -> 2024-03-01 */
  g_assert_cmpint (relais_clock_next_local_midnight (1709121600), ==, 1709164800);
  g_assert_cmpint (relais_clock_next_local_midnight (1709164800), ==, 1709251200);
}

static void
test_midnight_dst (void)
{
  if (!have_zone ("Europe/Paris"))
    {
      g_test_skip ("no time zone data for Europe/Paris");
      return;
    }
  set_tz ("Europe/Paris");
  /* 2024-03-30 12:00 CET -> 2024-03-31 00:00 CET */
  g_assert_cmpint (relais_clock_next_local_midnight (1711796400), ==, 1711839600);
  /* 2024-03-31 lasts 23 hours: 10:00 CEST -> 2024-04-01 00:00 CEST */
  g_assert_cmpint (relais_clock_next_local_midnight (1711839600), ==, 1711922400);
  g_assert_cmpint (relais_clock_next_local_midnight (1711872000), ==, 1711922400);
  g_assert_cmpint (1711922400 - 1711839600, ==, 23 * 3600);
  /* 2024-10-27 lasts 25 hours */
  g_assert_cmpint (relais_clock_next_local_midnight (1729936800), ==, 1729980000);
  g_assert_cmpint (relais_clock_next_local_midnight (1729980000), ==, 1730070000);
  g_assert_cmpint (relais_clock_next_local_midnight (1730019600), ==, 1730070000);
  g_assert_cmpint (1730070000 - 1729980000, ==, 25 * 3600);
}

static void
test_midnight_skipped (void)
{
  if (!have_zone ("America/Santiago"))
    {
      g_test_skip ("no time zone data for America/Santiago");
      return;
    }
  /* On 2024-09-08 Chile's clocks went from 00:00 straight to 01:00: the day
   * starts at 01:00 -03. */
  set_tz ("America/Santiago");
  g_assert_cmpint (relais_clock_next_local_midnight (1725724800), ==, 1725768000);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clock/file", test_clock_file);
  g_test_add_func ("/clock/midnight-utc", test_midnight_utc);
  g_test_add_func ("/clock/midnight-dst", test_midnight_dst);
  g_test_add_func ("/clock/midnight-skipped", test_midnight_skipped);
  return g_test_run ();
}
