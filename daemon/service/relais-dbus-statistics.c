/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Statistics: counters since start as read-only properties.
 * The counters move on every SMTP command; the properties follow them from a
 * one-second timer, so PropertiesChanged goes out at most once a second
 * (each second while the queue is not empty: QueueOldestAge grows).
 * History reads the per-minute history (relais-stats-history.h); open, like
 * the properties. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include "relais-clock.h"

typedef struct {
  RelaisStatistics *skeleton;   /* weak */
  RelaisStats *stats;
  guint64 seen_generation;
} Poller;

static gboolean
poll_cb (gpointer user_data)
{
  Poller *poller = user_data;
  guint64 generation = relais_stats_generation (poller->stats);

  /* QueueOldestAge grows by itself while anything is queued. */
  if (generation != poller->seen_generation || relais_stats_get (poller->stats, RELAIS_STAT_QUEUE_OLDEST) != 0)
    {
      poller->seen_generation = generation;
      relais_dbus_statistics_sync (poller->skeleton, poller->stats);
    }
  return G_SOURCE_CONTINUE;
}

static void
skeleton_gone (gpointer data, GObject *where_the_object_was)
{
  g_source_remove (GPOINTER_TO_UINT (data));
}

typedef struct {
  RelaisDaemon *daemon;
  RelaisStatistics *skeleton;
} ResetCall;

static void
reset_call_free (gpointer data)
{
  ResetCall *call = data;

  g_object_unref (call->skeleton);
  g_free (call);
}

static void
reset_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  ResetCall *call = user_data;
  RelaisStats *stats = relais_daemon_get_stats (call->daemon);
  g_autoptr (GVariant) hits = g_variant_ref_sink (relais_stats_rule_hits (stats));
  g_autofree char *before = g_variant_print (hits, FALSE);

  relais_stats_reset_rule_hits (stats);
  g_message ("Rule hit counters reset by %s", g_dbus_method_invocation_get_sender (invocation));
  relais_audit_record (relais_daemon_get_audit (call->daemon), invocation, "RuleHits", before, "{}");
  relais_dbus_statistics_sync (call->skeleton, stats);
  relais_statistics_complete_reset_rule_hits (call->skeleton, invocation);
}

static gboolean
handle_reset_rule_hits_cb (RelaisStatistics *skeleton, GDBusMethodInvocation *invocation, gboolean interactive,
                           gpointer user_data)
{
  ResetCall *call = g_new0 (ResetCall, 1);

  call->daemon = user_data;
  call->skeleton = g_object_ref (skeleton);
  relais_authority_check (relais_daemon_get_authority (call->daemon), invocation, interactive,
                          reset_authorized, call, reset_call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* The points, or NULL with INVOCATION answered with the error. */
static GVariant *
query_history (RelaisDaemon *daemon, GDBusMethodInvocation *invocation, const char *counter, gint64 from,
               gint64 to, guint step)
{
  g_autoptr (GError) error = NULL;
  GVariant *points = relais_stats_history_query (relais_daemon_get_stats_history (daemon), counter, from, to,
                                                 step, relais_clock_now (), &error);

  if (points == NULL)
    g_dbus_method_invocation_return_gerror (invocation, error);
  return points;
}

static gboolean
handle_history_cb (RelaisStatistics *skeleton, GDBusMethodInvocation *invocation, const char *counter,
                   gint64 since, guint step, gpointer user_data)
{
  GVariant *points = query_history (user_data, invocation, counter, since, G_MAXINT64, step);

  if (points != NULL)
    relais_statistics_complete_history (skeleton, invocation, points);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_history_cb (RelaisStatistics *skeleton, GDBusMethodInvocation *invocation, const char *counter,
                       gint64 from, gint64 to, guint step, gpointer user_data)
{
  GVariant *points = query_history (user_data, invocation, counter, from, to, step);

  if (points != NULL)
    relais_statistics_complete_get_history (skeleton, invocation, points);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

RelaisStatistics *
relais_dbus_statistics_new (RelaisDaemon *daemon)
{
  RelaisStatistics *skeleton = relais_statistics_skeleton_new ();
  Poller *poller = g_new0 (Poller, 1);
  guint id;

  poller->skeleton = skeleton;
  poller->stats = relais_daemon_get_stats (daemon);
  poller->seen_generation = relais_stats_generation (poller->stats);
  relais_statistics_set_start_time (skeleton, relais_stats_get_start_time (poller->stats));
  g_signal_connect (skeleton, "handle-reset-rule-hits", G_CALLBACK (handle_reset_rule_hits_cb), daemon);
  g_signal_connect (skeleton, "handle-history", G_CALLBACK (handle_history_cb), daemon);
  g_signal_connect (skeleton, "handle-get-history", G_CALLBACK (handle_get_history_cb), daemon);
  relais_dbus_statistics_sync (skeleton, poller->stats);
  id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, 1, poll_cb, poller, g_free);
  g_object_weak_ref (G_OBJECT (skeleton), skeleton_gone, GUINT_TO_POINTER (id));
  return skeleton;
}

void
relais_dbus_statistics_sync (RelaisStatistics *s, RelaisStats *stats)
{
  relais_statistics_set_connections (s, relais_stats_get (stats, RELAIS_STAT_CONNECTIONS));
  relais_statistics_set_sessions_open (s, relais_stats_get (stats, RELAIS_STAT_SESSIONS_OPEN));
  relais_statistics_set_messages_received (s, relais_stats_get (stats, RELAIS_STAT_MESSAGES_RECEIVED));
  relais_statistics_set_delivered_local (s, relais_stats_get (stats, RELAIS_STAT_DELIVERED_LOCAL));
  relais_statistics_set_delivered_remote (s, relais_stats_get (stats, RELAIS_STAT_DELIVERED_REMOTE));
  relais_statistics_set_deferred (s, relais_stats_get (stats, RELAIS_STAT_DEFERRED));
  relais_statistics_set_bounced (s, relais_stats_get (stats, RELAIS_STAT_BOUNCED));
  relais_statistics_set_rejected (s, relais_stats_get (stats, RELAIS_STAT_REJECTED));
  relais_statistics_set_rejected_by_reason (s, relais_stats_rejections (stats));
  relais_statistics_set_bytes_received (s, relais_stats_get (stats, RELAIS_STAT_BYTES_IN));
  relais_statistics_set_tls_sessions (s, relais_stats_get (stats, RELAIS_STAT_TLS_SESSIONS));
  relais_statistics_set_queue_length (s, relais_stats_get (stats, RELAIS_STAT_QUEUE_LENGTH));
  relais_statistics_set_queue_oldest_age (s, relais_stats_queue_oldest_age (stats,
                                                                           g_get_real_time () / G_USEC_PER_SEC));
  relais_statistics_set_bytes_sent (s, relais_stats_get (stats, RELAIS_STAT_BYTES_SENT));
  relais_statistics_set_auth_successes (s, relais_stats_get (stats, RELAIS_STAT_AUTH_SUCCESSES));
  relais_statistics_set_auth_failures (s, relais_stats_get (stats, RELAIS_STAT_AUTH_FAILURES));
  relais_statistics_set_discarded (s, relais_stats_get (stats, RELAIS_STAT_DISCARDED));
  relais_statistics_set_rule_hits (s, relais_stats_rule_hits (stats));
  relais_statistics_set_check_results (s, relais_stats_check_results (stats));
}
