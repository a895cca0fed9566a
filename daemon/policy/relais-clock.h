/* SPDX-License-Identifier: GPL-3.0-or-later
 * The wall clock the per-client counters and blocks read (relais-anvil.h),
 * with a hook so integration tests can set and move "now": when the
 * environment variable RELAIS_TEST_CLOCK_FILE names a file holding a decimal
 * unix time, that is now. The file is read again at each call, so a test
 * moves time by rewriting it; a missing or unreadable file, or one that does
 * not hold a number, means the real time. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RELAIS_TEST_CLOCK_ENV "RELAIS_TEST_CLOCK_FILE"

/* Now, in unix seconds. */
gint64 relais_clock_now (void);

/* The first local midnight strictly after NOW (unix seconds), in the local
 * time zone (TZ honoured). Days are counted on the local calendar, so a day
 * with a daylight saving change lasts 23 or 25 hours. */
gint64 relais_clock_next_local_midnight (gint64 now);

G_END_DECLS
