/* SPDX-License-Identifier: GPL-3.0-or-later
 * Brute-force protection of SMTP AUTH: failed attempts counted per client IP
 * address. Each failure earns a growing delay before the 535 reply (first_delay,
 * doubling, capped at max_delay); max_failures failures within `window` lock
 * the address out for `lockout` (AUTH then gets 454 without a password check);
 * a success forgets the address. At most max_tracked addresses are kept: the
 * least recently seen one is forgotten first. Pure: no I/O, no timers, the
 * clock is injected (tests drive it by hand). Main thread only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint max_failures;     /* failures within WINDOW that lock the address out */
  gint64 window;          /* microseconds */
  gint64 lockout;         /* microseconds */
  gint64 first_delay;     /* microseconds: delay after the first failure */
  gint64 max_delay;       /* microseconds: the doubling stops here */
  guint max_tracked;      /* addresses remembered at most */
} RelaisAuthGuardLimits;

#define RELAIS_AUTH_GUARD_MAX_FAILURES 10
#define RELAIS_AUTH_GUARD_WINDOW       (15 * 60 * G_USEC_PER_SEC)
#define RELAIS_AUTH_GUARD_LOCKOUT      (15 * 60 * G_USEC_PER_SEC)
#define RELAIS_AUTH_GUARD_FIRST_DELAY  (1 * G_USEC_PER_SEC)
#define RELAIS_AUTH_GUARD_MAX_DELAY    (16 * G_USEC_PER_SEC)
#define RELAIS_AUTH_GUARD_MAX_TRACKED  4096

/* Monotonic time in microseconds (g_get_monotonic_time when NULL is given). */
typedef gint64 (*RelaisAuthGuardClock) (gpointer user_data);

typedef struct _RelaisAuthGuard RelaisAuthGuard;

/* The defaults above. */
void             relais_auth_guard_limits_init (RelaisAuthGuardLimits *limits);
/* Tests shorten the limits through the environment (each one warned about):
 * RELAIS_TEST_AUTH_MAX_FAILURES, RELAIS_TEST_AUTH_DELAY_MS (first delay; the
 * cap stays 16 times it), RELAIS_TEST_AUTH_LOCKOUT_SECONDS. */
void             relais_auth_guard_limits_from_test_env (RelaisAuthGuardLimits *limits);

/* LIMITS NULL: the defaults. CLOCK NULL: g_get_monotonic_time(). */
RelaisAuthGuard *relais_auth_guard_new (const RelaisAuthGuardLimits *limits,
                                        RelaisAuthGuardClock clock, gpointer clock_data);
void             relais_auth_guard_free (RelaisAuthGuard *guard);

/* Whether ADDRESS is locked out now; *REMAINING (may be NULL) gets the
 * microseconds left. */
gboolean         relais_auth_guard_is_locked (RelaisAuthGuard *guard, const char *address,
                                              gint64 *remaining);
/* Counts a failure of ADDRESS; returns the delay (microseconds) to wait before
 * the failure reply. *LOCKED (may be NULL) tells whether this failure locked
 * the address out. */
gint64           relais_auth_guard_failure (RelaisAuthGuard *guard, const char *address,
                                            gboolean *locked);
/* A success: ADDRESS starts afresh. */
void             relais_auth_guard_success (RelaisAuthGuard *guard, const char *address);
/* Failures of ADDRESS counted in the current window (0 when unknown). */
guint            relais_auth_guard_failures (RelaisAuthGuard *guard, const char *address);
/* Addresses tracked now. */
guint            relais_auth_guard_size (RelaisAuthGuard *guard);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAuthGuard, relais_auth_guard_free)

G_END_DECLS
