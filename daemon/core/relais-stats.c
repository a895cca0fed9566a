/* SPDX-License-Identifier: GPL-3.0-or-later
 * Counters since start. Main thread only: plain integers and one hash table of
 * rejection reasons. The generation number lets readers (the D-Bus side) tell
 * cheaply whether anything moved since they last looked. Each change is also
 * passed on to the per-minute history, when there is one. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-stats.h"

#include "relais-clock.h"
#include "relais-stats-history.h"

struct _RelaisStats {
  gint64 values[RELAIS_STAT_N];
  GHashTable *rejections;   /* reason (owned) -> guint64* count (owned) */
  GHashTable *rule_hits;    /* rule (owned) -> guint64* count (owned) */
  GHashTable *check_results; /* "check:result" (owned) -> guint64* count (owned) */
  guint64 generation;
  RelaisStatsHistory *history;   /* borrowed, may be NULL */
  gint64 start_time;
  guint64 delivery_counts[RELAIS_STATS_DELIVERY_N_BOUNDS];
  RelaisStatsHistogram delivery;
};

/* From a local delivery (well under a second, but counted from a whole-second
 * received_at) to retries that last days (the queue keeps a message 5 days). */
static const double delivery_bounds[RELAIS_STATS_DELIVERY_N_BOUNDS] = {
  /* a local delivery takes milliseconds, a remote one seconds, a retried
   * one up to the queue's 5 days */
  0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600,
};

RelaisStats *
relais_stats_new (void)
{
  RelaisStats *stats = g_new0 (RelaisStats, 1);

  stats->rejections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  stats->rule_hits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  stats->check_results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  stats->start_time = g_get_real_time ();
  stats->delivery.bounds = delivery_bounds;
  stats->delivery.counts = stats->delivery_counts;
  return stats;
}

void
relais_stats_free (RelaisStats *stats)
{
  if (stats == NULL)
    return;
  g_hash_table_unref (stats->rejections);
  g_hash_table_unref (stats->rule_hits);
  g_hash_table_unref (stats->check_results);
  g_free (stats);
}

void
relais_stats_add (RelaisStats *stats, RelaisStat stat, gint64 delta)
{
  g_return_if_fail (stat < RELAIS_STAT_N);
  stats->values[stat] += delta;
  if (stats->values[stat] < 0)   /* a gauge never goes below zero */
    stats->values[stat] = 0;
  stats->generation++;
  if (stats->history != NULL)
    relais_stats_history_note (stats->history, stat, relais_clock_now (), delta, stats->values[stat]);
}

void
relais_stats_set (RelaisStats *stats, RelaisStat stat, gint64 value)
{
  g_return_if_fail (stat < RELAIS_STAT_N);
  if (stats->values[stat] == MAX (value, 0))
    return;
  stats->values[stat] = MAX (value, 0);
  stats->generation++;
  if (stats->history != NULL)
    relais_stats_history_note (stats->history, stat, relais_clock_now (), 0, stats->values[stat]);
}

void
relais_stats_set_history (RelaisStats *stats, RelaisStatsHistory *history)
{
  stats->history = history;
  if (history == NULL)
    return;
  for (guint i = 0; i < RELAIS_STAT_N; i++)
    if (relais_stat_is_gauge ((RelaisStat) i))
      relais_stats_history_note (history, (RelaisStat) i, relais_clock_now (), 0, stats->values[i]);
}

guint64
relais_stats_get (RelaisStats *stats, RelaisStat stat)
{
  g_return_val_if_fail (stat < RELAIS_STAT_N, 0);
  return (guint64) stats->values[stat];
}

static void
count_key (GHashTable *table, const char *key)
{
  guint64 *count = g_hash_table_lookup (table, key);

  if (count == NULL)
    {
      count = g_new0 (guint64, 1);
      g_hash_table_insert (table, g_strdup (key), count);
    }
  (*count)++;
}

static GVariant *
table_to_variant (GHashTable *table)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a{st}"));
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_variant_builder_add (&builder, "{st}", (const char *) key, *(guint64 *) value);
  return g_variant_builder_end (&builder);
}

void
relais_stats_reject (RelaisStats *stats, const char *reason)
{
  g_return_if_fail (reason != NULL);
  count_key (stats->rejections, reason);
  relais_stats_add (stats, RELAIS_STAT_REJECTED, 1);
}

GVariant *
relais_stats_rejections (RelaisStats *stats)
{
  return table_to_variant (stats->rejections);
}

void
relais_stats_hit (RelaisStats *stats, const char *rule)
{
  g_return_if_fail (rule != NULL);
  count_key (stats->rule_hits, rule);
  stats->generation++;
}

GVariant *
relais_stats_rule_hits (RelaisStats *stats)
{
  return table_to_variant (stats->rule_hits);
}

void
relais_stats_check_result (RelaisStats *stats, const char *check, const char *result)
{
  g_autofree char *key = NULL;

  g_return_if_fail (check != NULL && result != NULL);
  key = g_strconcat (check, ":", result, NULL);
  count_key (stats->check_results, key);
  stats->generation++;
}

GVariant *
relais_stats_check_results (RelaisStats *stats)
{
  return table_to_variant (stats->check_results);
}

void
relais_stats_reset_rule_hits (RelaisStats *stats)
{
  g_hash_table_remove_all (stats->rule_hits);
  stats->generation++;
}

gint64
relais_stats_get_start_time (RelaisStats *stats)
{
  return stats->start_time;
}

guint64
relais_stats_queue_oldest_age (RelaisStats *stats, gint64 now)
{
  gint64 oldest = stats->values[RELAIS_STAT_QUEUE_OLDEST];

  return oldest != 0 && now > oldest ? (guint64) (now - oldest) : 0;
}

void
relais_stats_observe_delivery (RelaisStats *stats, double seconds)
{
  seconds = MAX (seconds, 0);
  for (guint i = 0; i < RELAIS_STATS_DELIVERY_N_BOUNDS; i++)
    if (seconds <= delivery_bounds[i])
      stats->delivery_counts[i]++;
  stats->delivery.count++;
  stats->delivery.sum += seconds;
}

const RelaisStatsHistogram *
relais_stats_delivery_histogram (RelaisStats *stats)
{
  return &stats->delivery;
}

guint64
relais_stats_generation (RelaisStats *stats)
{
  return stats->generation;
}
