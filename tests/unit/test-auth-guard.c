/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SMTP AUTH brute-force guard with a hand-driven clock: growing delays,
 * lockout after the limit within the window, expiry, reset on success, the
 * bound on tracked addresses. */
#include <glib.h>
#include <string.h>

#include "relais-auth-guard.h"

#define SEC G_USEC_PER_SEC

static guint override_warnings;

/* The overrides warn (a production daemon must show them): count those. */
static GLogWriterOutput
test_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & G_LOG_LEVEL_WARNING)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
          strstr (fields[i].value, "changed for tests") != NULL)
        {
          override_warnings++;
          return G_LOG_WRITER_HANDLED;
        }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

typedef struct {
  gint64 now;
  RelaisAuthGuard *guard;
} Fixture;

static gint64
fake_clock (gpointer user_data)
{
  return ((Fixture *) user_data)->now;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->now = 1000 * SEC;
  f->guard = relais_auth_guard_new (data, fake_clock, f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  relais_auth_guard_free (f->guard);
}

static void
test_defaults (void)
{
  RelaisAuthGuardLimits limits;

  relais_auth_guard_limits_init (&limits);
  g_assert_cmpuint (limits.max_failures, ==, 10);
  g_assert_cmpint (limits.window, ==, 15 * 60 * SEC);
  g_assert_cmpint (limits.lockout, ==, 15 * 60 * SEC);
  g_assert_cmpint (limits.first_delay, ==, 1 * SEC);
  g_assert_cmpint (limits.max_delay, ==, 16 * SEC);
  g_assert_cmpuint (limits.max_tracked, >, 0);
}

static void
test_growing_delay (Fixture *f, gconstpointer data)
{
  static const gint64 expected[] = { 1, 2, 4, 8, 16, 16, 16, 16, 16 };
  gboolean locked;

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_false (relais_auth_guard_is_locked (f->guard, "192.0.2.1", NULL));
      g_assert_cmpint (relais_auth_guard_failure (f->guard, "192.0.2.1", &locked), ==, expected[i] * SEC);
      g_assert_false (locked);
      g_assert_cmpuint (relais_auth_guard_failures (f->guard, "192.0.2.1"), ==, i + 1);
      f->now += 20 * SEC;
    }
  /* Another address has its own count. */
  g_assert_cmpint (relais_auth_guard_failure (f->guard, "2001:db8::1", NULL), ==, 1 * SEC);
}

static void
test_lockout (Fixture *f, gconstpointer data)
{
  gboolean locked = TRUE;
  gint64 remaining;

  for (guint i = 0; i < 9; i++)
    {
      relais_auth_guard_failure (f->guard, "192.0.2.1", &locked);
      g_assert_false (locked);
      f->now += 60 * SEC;
    }
  g_assert_false (relais_auth_guard_is_locked (f->guard, "192.0.2.1", &remaining));
  g_assert_cmpint (remaining, ==, 0);
  /* The tenth failure within 15 minutes (9 minutes after the first) locks. */
  relais_auth_guard_failure (f->guard, "192.0.2.1", &locked);
  g_assert_true (locked);
  g_assert_true (relais_auth_guard_is_locked (f->guard, "192.0.2.1", &remaining));
  g_assert_cmpint (remaining, ==, 15 * 60 * SEC);
  g_assert_false (relais_auth_guard_is_locked (f->guard, "192.0.2.2", NULL));

  f->now += 15 * 60 * SEC - 1;
  g_assert_true (relais_auth_guard_is_locked (f->guard, "192.0.2.1", &remaining));
  g_assert_cmpint (remaining, ==, 1);
  f->now += 1;
  g_assert_false (relais_auth_guard_is_locked (f->guard, "192.0.2.1", NULL));
  /* After the lockout the count starts again. */
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "192.0.2.1"), ==, 0);
  g_assert_cmpint (relais_auth_guard_failure (f->guard, "192.0.2.1", &locked), ==, 1 * SEC);
  g_assert_false (locked);
}

static void
test_window_slides (Fixture *f, gconstpointer data)
{
  gboolean locked;

  /* One failure every 100 s: the oldest always leaves the 15-minute window
   * before the tenth arrives, so no lockout ever. */
  for (guint i = 0; i < 30; i++)
    {
      relais_auth_guard_failure (f->guard, "192.0.2.1", &locked);
      g_assert_false (locked);
      g_assert_cmpuint (relais_auth_guard_failures (f->guard, "192.0.2.1"), <=, 9);
      f->now += 100 * SEC;
    }
  /* Failures that left the window no longer grow the delay. */
  f->now += 15 * 60 * SEC;
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "192.0.2.1"), ==, 0);
  g_assert_cmpint (relais_auth_guard_failure (f->guard, "192.0.2.1", NULL), ==, 1 * SEC);
}

static void
test_success_resets (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 5; i++)
    relais_auth_guard_failure (f->guard, "192.0.2.1", NULL);
  g_assert_cmpuint (relais_auth_guard_size (f->guard), ==, 1);
  relais_auth_guard_success (f->guard, "192.0.2.1");
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "192.0.2.1"), ==, 0);
  g_assert_cmpuint (relais_auth_guard_size (f->guard), ==, 0);
  g_assert_cmpint (relais_auth_guard_failure (f->guard, "192.0.2.1", NULL), ==, 1 * SEC);
  /* A success of an unknown address is harmless. */
  relais_auth_guard_success (f->guard, "192.0.2.99");
}

static const RelaisAuthGuardLimits small = {
  .max_failures = 3, .window = 60 * SEC, .lockout = 30 * SEC,
  .first_delay = SEC / 5, .max_delay = SEC / 2, .max_tracked = 4,
};

static void
test_bounded (Fixture *f, gconstpointer data)
{
  char address[32];

  for (guint i = 0; i < 1000; i++)
    {
      g_snprintf (address, sizeof address, "10.0.%u.%u", i / 256, i % 256);
      relais_auth_guard_failure (f->guard, address, NULL);
      f->now += 1;
      g_assert_cmpuint (relais_auth_guard_size (f->guard), <=, small.max_tracked);
    }
  /* The least recently seen went first: the last four remain. */
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "10.0.3.231"), ==, 1);
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "10.0.3.228"), ==, 1);
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "10.0.3.227"), ==, 0);

  /* Using an address keeps it: 10.0.3.228 is touched, then two new ones come. */
  relais_auth_guard_failure (f->guard, "10.0.3.228", NULL);
  relais_auth_guard_failure (f->guard, "192.0.2.1", NULL);
  relais_auth_guard_failure (f->guard, "192.0.2.2", NULL);
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "10.0.3.228"), ==, 2);
  g_assert_cmpuint (relais_auth_guard_failures (f->guard, "10.0.3.229"), ==, 0);
}

static void
test_small_limits (Fixture *f, gconstpointer data)
{
  gboolean locked;

  g_assert_cmpint (relais_auth_guard_failure (f->guard, "::1", &locked), ==, SEC / 5);
  g_assert_cmpint (relais_auth_guard_failure (f->guard, "::1", &locked), ==, 2 * SEC / 5);
  g_assert_false (locked);
  g_assert_cmpint (relais_auth_guard_failure (f->guard, "::1", &locked), ==, SEC / 2);
  g_assert_true (locked);
  g_assert_true (relais_auth_guard_is_locked (f->guard, "::1", NULL));
  f->now += 30 * SEC;
  g_assert_false (relais_auth_guard_is_locked (f->guard, "::1", NULL));
}

static void
test_env_overrides (void)
{
  RelaisAuthGuardLimits limits;

  relais_auth_guard_limits_init (&limits);
  g_setenv ("RELAIS_TEST_AUTH_MAX_FAILURES", "3", TRUE);
  g_setenv ("RELAIS_TEST_AUTH_DELAY_MS", "250", TRUE);
  g_setenv ("RELAIS_TEST_AUTH_LOCKOUT_SECONDS", "not a number", TRUE);
  override_warnings = 0;
  relais_auth_guard_limits_from_test_env (&limits);
  g_assert_cmpuint (override_warnings, ==, 2);
  g_assert_cmpuint (limits.max_failures, ==, 3);
  g_assert_cmpint (limits.first_delay, ==, SEC / 4);
  g_assert_cmpint (limits.max_delay, ==, 4 * SEC);
  g_assert_cmpint (limits.lockout, ==, 15 * 60 * SEC);   /* unusable value: ignored */
  g_unsetenv ("RELAIS_TEST_AUTH_MAX_FAILURES");
  g_unsetenv ("RELAIS_TEST_AUTH_DELAY_MS");
  g_unsetenv ("RELAIS_TEST_AUTH_LOCKOUT_SECONDS");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (test_log_writer, NULL, NULL);
  g_test_add_func ("/relais/auth-guard/defaults", test_defaults);
  g_test_add ("/relais/auth-guard/growing-delay", Fixture, NULL, fixture_setup, test_growing_delay, fixture_teardown);
  g_test_add ("/relais/auth-guard/lockout", Fixture, NULL, fixture_setup, test_lockout, fixture_teardown);
  g_test_add ("/relais/auth-guard/window-slides", Fixture, NULL, fixture_setup, test_window_slides, fixture_teardown);
  g_test_add ("/relais/auth-guard/success-resets", Fixture, NULL, fixture_setup, test_success_resets, fixture_teardown);
  g_test_add ("/relais/auth-guard/bounded", Fixture, &small, fixture_setup, test_bounded, fixture_teardown);
  g_test_add ("/relais/auth-guard/small-limits", Fixture, &small, fixture_setup, test_small_limits, fixture_teardown);
  g_test_add_func ("/relais/auth-guard/env-overrides", test_env_overrides);
  return g_test_run ();
}
