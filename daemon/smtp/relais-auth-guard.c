/* SPDX-License-Identifier: GPL-3.0-or-later
 * Per-address counters of failed SMTP AUTH attempts (see relais-auth-guard.h).
 * Each tracked address keeps the times of its last max_failures failures, so
 * "max_failures within window" is a sliding window; the addresses sit in a
 * hash table for lookup and in a queue by last use for eviction. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-auth-guard.h"

#include <string.h>

typedef struct {
  char *address;
  gint64 *times;          /* failure times, oldest first, N of them */
  guint n;
  gint64 locked_until;    /* 0: not locked */
  GList link;             /* in guard->by_use; data = this entry */
} Entry;

struct _RelaisAuthGuard {
  RelaisAuthGuardLimits limits;
  RelaisAuthGuardClock clock;
  gpointer clock_data;
  GHashTable *entries;    /* address -> Entry* (owned) */
  GQueue by_use;          /* least recently used first */
};

void
relais_auth_guard_limits_init (RelaisAuthGuardLimits *limits)
{
  g_return_if_fail (limits != NULL);
  limits->max_failures = RELAIS_AUTH_GUARD_MAX_FAILURES;
  limits->window = RELAIS_AUTH_GUARD_WINDOW;
  limits->lockout = RELAIS_AUTH_GUARD_LOCKOUT;
  limits->first_delay = RELAIS_AUTH_GUARD_FIRST_DELAY;
  limits->max_delay = RELAIS_AUTH_GUARD_MAX_DELAY;
  limits->max_tracked = RELAIS_AUTH_GUARD_MAX_TRACKED;
}

static gboolean
test_override (const char *variable, guint64 max, guint64 *value)
{
  const char *text = g_getenv (variable);

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 1, max, value, NULL))
    return FALSE;
  g_warning ("%s=%" G_GUINT64_FORMAT " is set: SMTP AUTH brute-force limits are changed for tests",
             variable, *value);
  return TRUE;
}

void
relais_auth_guard_limits_from_test_env (RelaisAuthGuardLimits *limits)
{
  guint64 n;

  g_return_if_fail (limits != NULL);
  if (test_override ("RELAIS_TEST_AUTH_MAX_FAILURES", 1000, &n))
    limits->max_failures = (guint) n;
  if (test_override ("RELAIS_TEST_AUTH_DELAY_MS", 60000, &n))
    {
      limits->first_delay = (gint64) n * 1000;
      limits->max_delay = limits->first_delay * (RELAIS_AUTH_GUARD_MAX_DELAY / RELAIS_AUTH_GUARD_FIRST_DELAY);
    }
  if (test_override ("RELAIS_TEST_AUTH_LOCKOUT_SECONDS", 86400, &n))
    limits->lockout = (gint64) n * G_USEC_PER_SEC;
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free (entry->address);
  g_free (entry->times);
  g_free (entry);
}

RelaisAuthGuard *
relais_auth_guard_new (const RelaisAuthGuardLimits *limits, RelaisAuthGuardClock clock,
                       gpointer clock_data)
{
  RelaisAuthGuard *guard = g_new0 (RelaisAuthGuard, 1);

  if (limits != NULL)
    guard->limits = *limits;
  else
    relais_auth_guard_limits_init (&guard->limits);
  guard->limits.max_failures = MAX (guard->limits.max_failures, 1);
  guard->limits.max_tracked = MAX (guard->limits.max_tracked, 1);
  guard->limits.first_delay = MAX (guard->limits.first_delay, 0);
  guard->limits.max_delay = MAX (guard->limits.max_delay, guard->limits.first_delay);
  guard->clock = clock;
  guard->clock_data = clock_data;
  guard->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_free);
  g_queue_init (&guard->by_use);
  return guard;
}

void
relais_auth_guard_free (RelaisAuthGuard *guard)
{
  if (guard == NULL)
    return;
  /* The queue links live inside the entries: drop them without freeing. */
  g_queue_init (&guard->by_use);
  g_hash_table_unref (guard->entries);
  g_free (guard);
}

static gint64
now (RelaisAuthGuard *guard)
{
  return guard->clock != NULL ? guard->clock (guard->clock_data) : g_get_monotonic_time ();
}

static void
forget (RelaisAuthGuard *guard, Entry *entry)
{
  g_queue_unlink (&guard->by_use, &entry->link);
  g_hash_table_remove (guard->entries, entry->address);
}

/* Drops failures that left the window and a lockout that is over. */
static void
expire (RelaisAuthGuard *guard, Entry *entry, gint64 t)
{
  guint old = 0;

  if (entry->locked_until != 0 && t >= entry->locked_until)
    {
      entry->locked_until = 0;
      entry->n = 0;
      return;
    }
  while (old < entry->n && t - entry->times[old] >= guard->limits.window)
    old++;
  if (old > 0)
    {
      memmove (entry->times, entry->times + old, (entry->n - old) * sizeof (gint64));
      entry->n -= old;
    }
}

/* The entry of ADDRESS, made (evicting the least recently used) when CREATE. */
static Entry *
lookup (RelaisAuthGuard *guard, const char *address, gboolean create)
{
  Entry *entry = g_hash_table_lookup (guard->entries, address);

  if (entry != NULL || !create)
    return entry;
  while (g_hash_table_size (guard->entries) >= guard->limits.max_tracked)
    forget (guard, guard->by_use.head->data);
  entry = g_new0 (Entry, 1);
  entry->address = g_strdup (address);
  entry->times = g_new0 (gint64, guard->limits.max_failures);
  entry->link.data = entry;
  g_hash_table_insert (guard->entries, entry->address, entry);
  g_queue_push_tail_link (&guard->by_use, &entry->link);
  return entry;
}

static void
touch (RelaisAuthGuard *guard, Entry *entry)
{
  g_queue_unlink (&guard->by_use, &entry->link);
  g_queue_push_tail_link (&guard->by_use, &entry->link);
}

gboolean
relais_auth_guard_is_locked (RelaisAuthGuard *guard, const char *address, gint64 *remaining)
{
  Entry *entry;
  gint64 t;

  g_return_val_if_fail (guard != NULL && address != NULL, FALSE);
  if (remaining != NULL)
    *remaining = 0;
  entry = lookup (guard, address, FALSE);
  if (entry == NULL)
    return FALSE;
  t = now (guard);
  expire (guard, entry, t);
  if (entry->locked_until == 0)
    return FALSE;
  if (remaining != NULL)
    *remaining = entry->locked_until - t;
  return TRUE;
}

gint64
relais_auth_guard_failure (RelaisAuthGuard *guard, const char *address, gboolean *locked)
{
  Entry *entry;
  gint64 t, delay;

  g_return_val_if_fail (guard != NULL && address != NULL, 0);
  if (locked != NULL)
    *locked = FALSE;
  t = now (guard);
  entry = lookup (guard, address, TRUE);
  expire (guard, entry, t);
  touch (guard, entry);
  if (entry->n == guard->limits.max_failures)
    {
      memmove (entry->times, entry->times + 1, (entry->n - 1) * sizeof (gint64));
      entry->n--;
    }
  entry->times[entry->n++] = t;

  delay = guard->limits.first_delay;
  for (guint i = 1; i < entry->n && delay < guard->limits.max_delay; i++)
    delay *= 2;
  delay = MIN (delay, guard->limits.max_delay);

  if (entry->n >= guard->limits.max_failures)
    {
      entry->locked_until = t + MAX (guard->limits.lockout, 1);
      if (locked != NULL)
        *locked = TRUE;
    }
  return delay;
}

void
relais_auth_guard_success (RelaisAuthGuard *guard, const char *address)
{
  Entry *entry;

  g_return_if_fail (guard != NULL && address != NULL);
  entry = lookup (guard, address, FALSE);
  if (entry != NULL)
    forget (guard, entry);
}

guint
relais_auth_guard_failures (RelaisAuthGuard *guard, const char *address)
{
  Entry *entry;

  g_return_val_if_fail (guard != NULL && address != NULL, 0);
  entry = lookup (guard, address, FALSE);
  if (entry == NULL)
    return 0;
  expire (guard, entry, now (guard));
  return entry->n;
}

guint
relais_auth_guard_size (RelaisAuthGuard *guard)
{
  g_return_val_if_fail (guard != NULL, 0);
  return g_hash_table_size (guard->entries);
}
