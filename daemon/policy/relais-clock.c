/* SPDX-License-Identifier: GPL-3.0-or-later
 * The wall clock, settable by tests. See relais-clock.h. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-clock.h"

static gboolean
read_test_clock (gint64 *now)
{
  const char *path = g_getenv (RELAIS_TEST_CLOCK_ENV);
  g_autofree char *contents = NULL;
  gint64 value;

  if (path == NULL || path[0] == '\0')
    return FALSE;
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  g_strstrip (contents);
  if (!g_ascii_string_to_signed (contents, 10, 0, G_MAXINT64 / G_USEC_PER_SEC, &value, NULL))
    return FALSE;
  *now = value;
  return TRUE;
}

gint64
relais_clock_now (void)
{
  gint64 now;

  if (read_test_clock (&now))
    return now;
  return g_get_real_time () / G_USEC_PER_SEC;
}

gint64
relais_clock_next_local_midnight (gint64 now)
{
  g_autoptr(GTimeZone) zone = g_time_zone_new_local ();
  g_autoptr(GDateTime) local = g_date_time_new_from_unix_local (now);
  g_autoptr(GDateTime) midnight = NULL;
  GDate date;
  gint64 next;

  if (local == NULL)   /* out of GDateTime's range */
    return now + 24 * 3600;

  /* Tomorrow on the local calendar, then its first instant. Where midnight
   * itself is skipped by a daylight saving change, GLib moves to the first
   * time that exists. */
  g_date_clear (&date, 1);
  g_date_set_dmy (&date, (GDateDay) g_date_time_get_day_of_month (local),
                  (GDateMonth) g_date_time_get_month (local),
                  (GDateYear) g_date_time_get_year (local));
  g_date_add_days (&date, 1);
  midnight = g_date_time_new (zone, g_date_get_year (&date), g_date_get_month (&date),
                              g_date_get_day (&date), 0, 0, 0);
  if (midnight == NULL)
    return now + 24 * 3600;
  next = g_date_time_to_unix (midnight);
  return next > now ? next : now + 24 * 3600;
}
