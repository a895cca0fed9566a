/* SPDX-License-Identifier: GPL-3.0-or-later
 * Counters since start (SPEC §5). Modules bump them from the main thread; the
 * D-Bus Statistics interface and HTTP /metrics read them. Rejections are counted by reason, a
 * short stable key such as "max-recipients" or "unknown-recipient", which the
 * statistics expose as is. Cheap: plain integers, no locking (main thread only). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RELAIS_STAT_CONNECTIONS,          /* accepted TCP connections */
  RELAIS_STAT_SESSIONS_OPEN,        /* gauge: sessions now open */
  RELAIS_STAT_MESSAGES_RECEIVED,    /* messages accepted with 250 */
  RELAIS_STAT_DELIVERED_LOCAL,      /* recipient deliveries to a Maildir */
  RELAIS_STAT_DELIVERED_REMOTE,     /* recipient deliveries to another MTA */
  RELAIS_STAT_DEFERRED,             /* delivery attempts that failed temporarily */
  RELAIS_STAT_BOUNCED,              /* recipients that failed permanently */
  RELAIS_STAT_REJECTED,             /* SMTP rejections, all reasons */
  RELAIS_STAT_BYTES_IN,             /* message bytes accepted */
  RELAIS_STAT_BYTES_SENT,           /* message bytes delivered to other MTAs */
  RELAIS_STAT_TLS_SESSIONS,         /* successful STARTTLS / implicit TLS handshakes */
  RELAIS_STAT_QUEUE_LENGTH,         /* gauge: messages in the queue */
  RELAIS_STAT_QUEUE_OLDEST,         /* gauge: received_at (Unix seconds) of the oldest queued message, 0 if none */
  RELAIS_STAT_AUTH_SUCCESSES,       /* SMTP AUTH exchanges that succeeded */
  RELAIS_STAT_AUTH_FAILURES,        /* SMTP AUTH failures, locked-out attempts included */
  RELAIS_STAT_DISCARDED,            /* messages accepted with 250 and dropped by a blacklist "discard" rule */
  RELAIS_STAT_N
} RelaisStat;

typedef struct _RelaisStats RelaisStats;
struct _RelaisStatsHistory;

RelaisStats *relais_stats_new (void);
void         relais_stats_free (RelaisStats *stats);

void         relais_stats_add (RelaisStats *stats, RelaisStat stat, gint64 delta);
void         relais_stats_set (RelaisStats *stats, RelaisStat stat, gint64 value);
guint64      relais_stats_get (RelaisStats *stats, RelaisStat stat);
/* Counts one rejection under REASON (and in RELAIS_STAT_REJECTED). */
void         relais_stats_reject (RelaisStats *stats, const char *reason);
/* a{st}: reason -> count */
GVariant    *relais_stats_rejections (RelaisStats *stats);
/* Counts one hit of RULE ("blacklist:NAME", "whitelist:NAME", "policy:CHECK",
 * "limit:NAME"): SPEC §5 gives every rule, policy and limit its own counter.
 * Rule hits are kept until relais_stats_reset_rule_hits(), never otherwise. */
void         relais_stats_hit (RelaisStats *stats, const char *rule);
/* a{st}: rule -> hits */
GVariant    *relais_stats_rule_hits (RelaisStats *stats);
void         relais_stats_reset_rule_hits (RelaisStats *stats);
/* Counts one answer of a content or sender check (issue 7) under
 * "CHECK:RESULT": "spf:pass", "dkim:fail", "dmarc:quarantine",
 * "antivirus:virus", "antivirus:unreachable", ... */
void         relais_stats_check_result (RelaisStats *stats, const char *check, const char *result);
/* a{st}: "check:result" -> count */
GVariant    *relais_stats_check_results (RelaisStats *stats);
/* From now on, every change of a counter is also noted in HISTORY
 * (relais-stats-history.h), at relais_clock_now(); the gauges' current values
 * are noted at once. HISTORY is borrowed: detach it (NULL) before freeing it. */
void         relais_stats_set_history (RelaisStats *stats, struct _RelaisStatsHistory *history);
/* When the counters started (relais_stats_new()), microseconds since the
 * Unix epoch: Statistics.StartTime. */
gint64       relais_stats_get_start_time (RelaisStats *stats);
/* Seconds since the oldest queued message was received, at NOW (Unix
 * seconds); 0 when the queue is empty: Statistics.QueueOldestAge. */
guint64      relais_stats_queue_oldest_age (RelaisStats *stats, gint64 now);

/* The delivery latency histogram: one observation per recipient delivered
 * (locally or remotely), SECONDS from its message's queueing to the delivery. */
#define RELAIS_STATS_DELIVERY_N_BOUNDS 16
typedef struct {
  const double *bounds;     /* RELAIS_STATS_DELIVERY_N_BOUNDS upper bounds, ascending; +Inf implied */
  const guint64 *counts;    /* per bound: observations <= it (cumulative) */
  guint64 count;            /* every observation: the +Inf bucket */
  double sum;               /* seconds */
} RelaisStatsHistogram;

void         relais_stats_observe_delivery (RelaisStats *stats, double seconds);
/* Borrowed; valid until the next observation. */
const RelaisStatsHistogram *relais_stats_delivery_histogram (RelaisStats *stats);

/* Bumped on every change; the D-Bus side compares it to coalesce signals. */
guint64      relais_stats_generation (RelaisStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisStats, relais_stats_free)

G_END_DECLS
