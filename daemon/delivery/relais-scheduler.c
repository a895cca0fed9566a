/* SPDX-License-Identifier: GPL-3.0-or-later
 * Delivery scheduler, main thread. Each second (and on relais_scheduler_kick())
 * it selects the due pending recipients of messages not held, never one that
 * is already in flight. Local ones run relais_maildir_deliver() in a worker
 * thread, at most SCHEDULER_MAX_RUNNING at once. Remote ones are gathered per
 * message and destination (relais-remote.c: a relay host, or the domain's MX)
 * and each group goes over one SMTP connection, at most SCHEDULER_MAX_REMOTE
 * at once. Each outcome is written to the recipients rows, on the main thread,
 * in one transaction per attempt, before those recipients can be picked again;
 * a message with no pending recipient left leaves the queue, after the
 * notification (relais-bounce.c) for its failed recipients, and for the
 * delivered ones that asked for it (NOTIFY=SUCCESS, RFC 3461), is committed.
 * NOTIFY=DELAY is not implemented: no delay notification is sent. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-scheduler.h"

#include "relais-bounce.h"
#include "relais-dkim-outbound.h"
#include "relais-error.h"
#include "relais-log.h"
#include "relais-maildir.h"
#include "relais-remote.h"

#define SCHEDULER_MAX_RUNNING    4        /* local deliveries in worker threads */
#define SCHEDULER_MAX_REMOTE     16       /* outbound SMTP connections at once */
#define SCHEDULER_SELECT_LIMIT   64       /* rows looked at per pass */
#define SCHEDULER_BACKOFF_FIRST  300      /* seconds: 5 min, doubling... */
#define SCHEDULER_BACKOFF_MAX    3600     /* ...to 1 h */
#define SCHEDULER_MAX_AGE        (5 * 24 * 3600)  /* then give up */

typedef sqlite3_stmt RelaisSchedulerStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisSchedulerStmt, sqlite3_finalize)

enum {
  RECIPIENT_PENDING = 0,
  RECIPIENT_DELIVERED = 1,
  RECIPIENT_FAILED = 2,
};

struct _RelaisScheduler {
  RelaisServices *services;
  RelaisStore *store;
  char *state_dir;
  guint timer_id;
  guint kick_id;
  gboolean started;
  gboolean stopping;
  GHashTable *in_flight;     /* "ID/POSITION" of recipients being delivered */
  gboolean backlog;          /* a pass left due work for want of room: the next delivery's end runs one */
  guint n_running;           /* deliveries in worker threads */
  guint n_remote;            /* outbound SMTP connections under way */
  GCancellable *cancellable; /* cancelled when the daemon stops */
  GHashTable *ending;        /* ids of messages whose bounce or removal is being committed */
  guint n_bouncing;          /* bounce commits under way */
  guint n_writes;            /* outcome records and removals under way (relais_queue_write_async()) */
  GQueue unrecorded;         /* of RecordRequest*: outcomes the store refused, written again later */
  guint rewrite_id;
  gint64 backoff_first;      /* seconds, SCHEDULER_BACKOFF_FIRST unless a test shortens it */
  gint64 backoff_max;
  gint64 max_age;
};

typedef struct {
  RelaisScheduler *scheduler;
  char *key;
  char *message_id;
  gint position;
  char *address;
  char *original;            /* the recipient as received (before aliases and forwards) */
  gint route;
  char *mailbox;
  char *sender;
  gint64 received_at;        /* unix seconds */
  gint64 received_usec;      /* unix microseconds: the delay's start */
  gint attempts;
  /* for the worker thread */
  char *state_dir;
  char *spool_path;
  RelaisConfig *config;
  /* outcome */
  RelaisDeliveryStatus status;
  char *reason;
  char *via;                 /* remote: the server that gave the outcome, "host[ip]:port", for the log */
  char *rcpt_params;         /* remote: DSN parameters to pass on */
  gboolean dsn_relayed;      /* see scheduler_job_relayed() */
} DeliveryJob;

static void
delivery_job_free (DeliveryJob *job)
{
  g_free (job->key);
  g_free (job->message_id);
  g_free (job->address);
  g_free (job->original);
  g_free (job->mailbox);
  g_free (job->sender);
  g_free (job->state_dir);
  g_free (job->spool_path);
  g_clear_pointer (&job->config, relais_config_unref);
  g_free (job->reason);
  g_free (job->via);
  g_free (job->rcpt_params);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DeliveryJob, delivery_job_free)

static void scheduler_room_made (RelaisScheduler *self);

/* From the message's row: RECEIVED_USEC is 0 for a message queued before
 * the column existed (schema 9), whose whole second is all there is. */
static void
job_set_received (DeliveryJob *job, gint64 received_at, gint64 received_usec)
{
  job->received_at = received_at;
  job->received_usec = received_usec > 0 ? received_usec : received_at * G_USEC_PER_SEC;
}

/* A job for recipient POSITION of message ID, with what every route needs. */
static DeliveryJob *
delivery_job_new (RelaisScheduler *self, const char *id, gint position, gint route, const char *address,
                  const char *original, const char *sender, gint attempts, gint64 received_at,
                  gint64 received_usec)
{
  DeliveryJob *job = g_new0 (DeliveryJob, 1);

  job->scheduler = self;
  job->key = g_strdup_printf ("%s/%d", id, position);
  job->message_id = g_strdup (id);
  job->position = position;
  job->route = route;
  job->address = g_strdup (address);
  job->original = g_strdup (original);
  job->sender = g_strdup (sender);
  job->attempts = attempts;
  job_set_received (job, received_at, received_usec);
  return job;
}

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static void
stats_add (RelaisScheduler *self, RelaisStat stat)
{
  if (self->services->stats != NULL)
    relais_stats_add (self->services->stats, stat, 1);
}

/* Seconds to wait after the ATTEMPTS-th failed attempt (1-based). */
static gint64
backoff_seconds (RelaisScheduler *self, gint attempts)
{
  gint64 delay = self->backoff_first;

  for (gint i = 1; i < attempts && delay < self->backoff_max; i++)
    delay *= 2;
  return MIN (delay, self->backoff_max);
}

/* Tests shorten the intervals through the environment: the first back-off
 * (the rest keeps its ratios: doubling up to 12 times the first) and the
 * maximum age. Logged, so a production daemon never runs with them unseen. */
static gint64
test_override (const char *variable, gint64 fallback)
{
  const char *value = g_getenv (variable);
  guint64 n;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 1, G_MAXINT32, &n, NULL))
    return fallback;
  g_warning ("%s=%" G_GUINT64_FORMAT " is set: delivery timing is shortened for tests", variable, n);
  return (gint64) n;
}

RelaisScheduler *
relais_scheduler_new (RelaisServices *services, RelaisStore *store, const char *state_dir)
{
  RelaisScheduler *self;

  g_return_val_if_fail (services != NULL, NULL);
  g_return_val_if_fail (services->queue != NULL, NULL);
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (state_dir != NULL, NULL);

  self = g_new0 (RelaisScheduler, 1);
  self->services = services;
  self->store = store;
  self->state_dir = g_strdup (state_dir);
  self->in_flight = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->ending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
  self->backoff_first = test_override ("RELAIS_TEST_BACKOFF_SECONDS", SCHEDULER_BACKOFF_FIRST);
  self->backoff_max = self->backoff_first * (SCHEDULER_BACKOFF_MAX / SCHEDULER_BACKOFF_FIRST);
  self->max_age = test_override ("RELAIS_TEST_MAX_AGE_SECONDS", SCHEDULER_MAX_AGE);
  return self;
}

static void unrecorded_clear (RelaisScheduler *self);

void
relais_scheduler_free (RelaisScheduler *scheduler)
{
  if (scheduler == NULL)
    return;

  /* Let the deliveries under way finish and record their outcome. */
  scheduler->stopping = TRUE;
  g_clear_handle_id (&scheduler->timer_id, g_source_remove);
  g_cancellable_cancel (scheduler->cancellable);
  while (scheduler->n_running > 0 || scheduler->n_remote > 0 || scheduler->n_bouncing > 0 ||
         scheduler->n_writes > 0)
    g_main_context_iteration (NULL, TRUE);
  g_clear_handle_id (&scheduler->kick_id, g_source_remove);
  unrecorded_clear (scheduler);
  relais_smtp_client_drop_kept ();

  g_hash_table_unref (scheduler->in_flight);
  g_hash_table_unref (scheduler->ending);
  g_clear_object (&scheduler->cancellable);
  g_free (scheduler->state_dir);
  g_free (scheduler);
}

/* ---- end of a message --------------------------------------------------- */

/* A recipient the notification reports on: failed, or delivered/relayed with NOTIFY=SUCCESS. */
typedef struct {
  char *address;
  char *original;
  char *reason;
  char *orcpt;               /* "type;address" or NULL */
  RelaisBounceAction action;
} DsnRecipient;

static void
dsn_recipient_free (DsnRecipient *r)
{
  g_free (r->address);
  g_free (r->original);
  g_free (r->reason);
  g_free (r->orcpt);
  g_free (r);
}

/* What scheduler_bounce() did. */
typedef enum {
  BOUNCE_NONE,        /* nothing to queue (or a notification lost on purpose): remove now */
  BOUNCE_PENDING,     /* a DSN commit is under way: its callback removes the message */
  BOUNCE_KEEP,        /* could not queue one: keep the message */
} BounceOutcome;

/* Our own notifications are marked by an empty client address (a network
 * client always has one) and one of these HELO names. */
#define BOUNCE_HELO         "relais-bounce"
#define BOUNCE_HELO_DOUBLE  "relais-double-bounce"

typedef struct {
  RelaisScheduler *scheduler;
  char *id;                /* the original message */
  char *dsn_id;
  char *to;                /* "<a>, <b>" for the log */
  guint n_failed;          /* recipients reported on */
} BounceRequest;

static void
bounce_request_free (BounceRequest *request)
{
  g_free (request->id);
  g_free (request->dsn_id);
  g_free (request->to);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BounceRequest, bounce_request_free)

typedef struct {
  RelaisScheduler *scheduler;
  char *id;
  guint n_failed;
} RemoveRequest;

static void
removed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RemoveRequest *request = user_data;
  RelaisScheduler *self = request->scheduler;
  g_autoptr(GError) error = NULL;

  self->n_writes--;
  g_hash_table_remove (self->ending, request->id);
  if (relais_queue_remove_finish (self->services->queue, result, &error))
    relais_log_queue (G_LOG_LEVEL_MESSAGE, request->id, "removed from the queue (%u failed recipients)",
                      request->n_failed);
  else if (g_error_matches (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND))
    relais_log_queue (G_LOG_LEVEL_MESSAGE, request->id, "already deleted from the queue");
  else
    relais_log_queue (G_LOG_LEVEL_WARNING, request->id, "cannot remove the message from the queue: %s",
                      error->message);
  g_free (request->id);
  g_free (request);
}

/* Message ID is done (delivered, bounced): its row and file go, through the
 * commit thread, while it is marked as ending so that nothing else ends it
 * twice meanwhile. */
static void
scheduler_remove (RelaisScheduler *self, const char *id, guint n_failed)
{
  RemoveRequest *request = g_new0 (RemoveRequest, 1);

  request->scheduler = self;
  request->id = g_strdup (id);
  request->n_failed = n_failed;
  self->n_writes++;
  g_hash_table_add (self->ending, g_strdup (id));
  relais_queue_remove_async (self->services->queue, id, removed_cb, request);
}

/* The DSN is durable: now, and only now, the original may go. If the commit
 * failed the original stays in the queue with no pending recipient; the next
 * start (scheduler_finish_done_messages()) tries its bounce again. That is the
 * simplest safe choice: a commit only fails when the spool or the database
 * does, and retrying at once would most likely fail the same way. */
static void
bounce_committed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(BounceRequest) request = user_data;
  RelaisScheduler *self = request->scheduler;
  g_autoptr(GError) error = NULL;

  self->n_bouncing--;
  g_hash_table_remove (self->ending, request->id);
  if (!relais_queue_commit_finish (self->services->queue, result, &error))
    {
      relais_log_queue (G_LOG_LEVEL_WARNING, request->id,
                        "cannot queue the bounce for %u recipient(s) to %s: %s; the message stays queued until "
                        "the next start", request->n_failed, request->to, error->message);
      return;
    }
  relais_log_queue (G_LOG_LEVEL_MESSAGE, request->id, "bounce %s sent to %s for %u recipient(s)",
                    request->dsn_id, request->to, request->n_failed);
  scheduler_remove (self, request->id, request->n_failed);
}

/* Queues the delivery status notification (RFC 3464) for message ID about
 * the recipients of FAILED (DsnRecipient*: those that failed for good, and
 * those delivered or relayed that asked for it): to SENDER, or when SENDER is
 * the null reverse path a double bounce to the external administrators (SPEC
 * §2; FAILED then holds failures only). A notification never causes another
 * one without end: a failed bounce gets a double bounce, a failed double
 * bounce (or one with no administrator to go to) is logged with g_warning and
 * dropped. RET=FULL returns the whole message with a failure when it is at
 * most RELAIS_BOUNCE_MAX_FULL, else its headers. */
static BounceOutcome
scheduler_bounce (RelaisScheduler *self, const char *id, const char *sender, GPtrArray *failed)
{
  g_autoptr(RelaisConfig) config = relais_services_get_config (self->services);
  g_autoptr(GArray) recipients = g_array_sized_new (FALSE, TRUE, sizeof (RelaisBounceRecipient), failed->len);
  g_autoptr(GPtrArray) to = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) to_log = g_string_new (NULL);
  g_autoptr(GString) reasons = g_string_new (NULL);
  g_autoptr(GBytes) headers = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) dsn = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisEnvelope) envelope = NULL;
  g_autofree char *spool_path = NULL;
  g_autofree char *client_address = NULL;
  g_autofree char *helo = NULL;
  g_autofree char *envid = NULL;
  RelaisDsnRet ret = RELAIS_DSN_RET_UNSET;
  gboolean any_failure = FALSE;
  gboolean too_big = FALSE;
  gint64 received_at = 0;
  gint64 now = now_seconds ();
  gboolean ours;
  RelaisBounceInfo info = { 0 };
  RelaisSpoolWriter *writer;
  BounceRequest *request;
  const void *data;
  gsize len;

  {
    g_autoptr(RelaisSchedulerStmt) stmt = NULL;
    sqlite3 *db = relais_store_lock (self->store);

    if (sqlite3_prepare_v2 (db, "SELECT received_at, client_address, helo, dsn_ret, dsn_envid "
                            "FROM messages WHERE id = ?", -1, &stmt, NULL) == SQLITE_OK)
      {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) == SQLITE_ROW)
          {
            received_at = sqlite3_column_int64 (stmt, 0);
            client_address = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
            helo = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
            ret = (RelaisDsnRet) sqlite3_column_int (stmt, 3);
            envid = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
          }
      }
    g_clear_pointer (&stmt, sqlite3_finalize);
    relais_store_unlock (self->store);
  }
  ours = g_strcmp0 (client_address, "") == 0;

  for (guint i = 0; i < failed->len; i++)
    {
      DsnRecipient *f = g_ptr_array_index (failed, i);
      RelaisBounceRecipient r = { f->address, f->original, f->reason, now, f->action, f->orcpt };

      g_array_append_val (recipients, r);
      g_string_append_printf (reasons, "%s<%s>: %s", i > 0 ? "; " : "", f->address, f->reason);
      any_failure = any_failure || f->action == RELAIS_BOUNCE_ACTION_FAILED;
    }

  if (sender != NULL && sender[0] != '\0')
    g_ptr_array_add (to, g_strdup (sender));
  else if (ours && g_strcmp0 (helo, BOUNCE_HELO_DOUBLE) == 0)
    {
      relais_log_queue (G_LOG_LEVEL_WARNING, id, "double bounce lost: it failed for %u recipient(s): %s",
                        failed->len, reasons->str);
      return BOUNCE_NONE;
    }
  else if (config->external_administrators == NULL || config->external_administrators[0] == NULL)
    {
      relais_log_queue (G_LOG_LEVEL_WARNING, id,
                        "message from the null sender lost: it failed for %u recipient(s) and no external "
                        "administrator is set for a double bounce: %s", failed->len, reasons->str);
      return BOUNCE_NONE;
    }
  else
    for (guint i = 0; config->external_administrators[i] != NULL; i++)
      g_ptr_array_add (to, g_strdup (config->external_administrators[i]));
  g_ptr_array_add (to, NULL);

  spool_path = relais_queue_spool_path (self->services->queue, id);
  if (ret == RELAIS_DSN_RET_FULL && any_failure)
    {
      message = relais_bounce_read_message (spool_path, RELAIS_BOUNCE_MAX_FULL, &too_big, &error);
      if (too_big)
        relais_log_queue (G_LOG_LEVEL_MESSAGE, id,
                          "RET=FULL, but the message is over %u octets: the bounce returns its headers only",
                          RELAIS_BOUNCE_MAX_FULL);
      else if (message == NULL)
        {
          relais_log_queue (G_LOG_LEVEL_MESSAGE, id, "the bounce goes without the original message: %s",
                            error->message);
          g_clear_error (&error);
        }
    }
  if (message == NULL)
    {
      headers = relais_bounce_read_headers (spool_path, RELAIS_BOUNCE_MAX_HEADERS, &error);
      if (headers == NULL)
        {
          relais_log_queue (G_LOG_LEVEL_MESSAGE, id, "the bounce goes without the original headers: %s",
                            error->message);
          g_clear_error (&error);
        }
    }

  info.hostname = config->hostname;
  info.queue_id = id;
  info.to = (const char *const *) to->pdata;
  info.arrival_date = received_at;
  info.recipients = (const RelaisBounceRecipient *) (gpointer) recipients->data;
  info.n_recipients = recipients->len;
  info.original_headers = headers;
  info.original_message = message;
  info.message_too_big = too_big;
  info.envid = envid;
  info.now = now;
  dsn = relais_bounce_build (&info);

  writer = relais_queue_begin (self->services->queue, &error);
  if (writer == NULL)
    {
      relais_log_queue (G_LOG_LEVEL_WARNING, id,
                        "cannot queue a bounce: %s; the message stays queued until the next start",
                        error->message);
      return BOUNCE_KEEP;
    }
  data = g_bytes_get_data (dsn, &len);
  if (!relais_spool_writer_write (writer, data, len, &error))
    {
      relais_spool_writer_abort (writer);
      relais_log_queue (G_LOG_LEVEL_WARNING, id,
                        "cannot queue a bounce: %s; the message stays queued until the next start",
                        error->message);
      return BOUNCE_KEEP;
    }

  envelope = relais_envelope_new ();
  envelope->sender = g_strdup ("");
  for (guint i = 0; to->pdata[i] != NULL; i++)
    {
      g_ptr_array_add (envelope->recipients, g_strdup (to->pdata[i]));
      g_string_append_printf (to_log, "%s<%s>", i > 0 ? ", " : "", (const char *) to->pdata[i]);
    }
  envelope->client_address = g_strdup ("");
  envelope->helo = g_strdup (sender != NULL && sender[0] != '\0' ? BOUNCE_HELO : BOUNCE_HELO_DOUBLE);
  envelope->session_id = g_strdup (id);
  envelope->body_8bit = relais_bounce_has_8bit (dsn);

  request = g_new0 (BounceRequest, 1);
  request->scheduler = self;
  request->id = g_strdup (id);
  request->dsn_id = g_strdup (relais_spool_writer_get_id (writer));
  request->to = g_strdup (to_log->str);
  request->n_failed = failed->len;
  self->n_bouncing++;
  g_hash_table_add (self->ending, g_strdup (id));
  relais_queue_commit_async (self->services->queue, writer, g_steal_pointer (&envelope), config,
                             bounce_committed_cb, request);
  return BOUNCE_PENDING;
}

/* Removes message ID once no recipient is pending, after its bounce. */
static void
scheduler_finish_message (RelaisScheduler *self, const char *id)
{
  g_autoptr(GPtrArray) failed = g_ptr_array_new_with_free_func ((GDestroyNotify) dsn_recipient_free);
  guint n_failed = 0;
  g_autoptr(GError) error = NULL;
  g_autofree char *sender = NULL;
  sqlite3 *db;
  gint64 n_pending = -1;

  if (g_hash_table_contains (self->ending, id))
    return;   /* its bounce or its removal is being committed */
  db = relais_store_lock (self->store);
  {
    g_autoptr(RelaisSchedulerStmt) stmt = NULL;

    if (sqlite3_prepare_v2 (db,
                            "SELECT m.sender, (SELECT COUNT(*) FROM recipients r "
                            "WHERE r.message_id = m.id AND r.state = 0) "
                            "FROM messages m WHERE m.id = ?", -1, &stmt, NULL) == SQLITE_OK)
      {
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) == SQLITE_ROW)
          {
            sender = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
            n_pending = sqlite3_column_int64 (stmt, 1);
          }
      }
  }
  if (n_pending != 0)
    {
      relais_store_unlock (self->store);
      return;
    }
  {
    g_autoptr(RelaisSchedulerStmt) stmt = NULL;

    if (sqlite3_prepare_v2 (db,
                            "SELECT address, original, last_reply, state, dsn_notify, dsn_orcpt, dsn_action "
                            "FROM recipients WHERE message_id = ? AND (state = 2 OR (state = 1 AND dsn_action != 0)) "
                            "ORDER BY position", -1, &stmt, NULL) != SQLITE_OK)
      {
        relais_store_set_error (db, "Cannot read failed recipients", &error);
        relais_store_unlock (self->store);
        relais_log_queue (G_LOG_LEVEL_WARNING, id, "%s", error->message);
        return;
      }
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    while (sqlite3_step (stmt) == SQLITE_ROW)
      {
        const char *address = (const char *) sqlite3_column_text (stmt, 0);
        gboolean is_failure = sqlite3_column_int (stmt, 3) == 2;
        guint notify = (guint) sqlite3_column_int (stmt, 4);
        DsnRecipient *f;

        if (is_failure)
          n_failed++;
        if (is_failure && !relais_dsn_notify_wants (notify, RELAIS_DSN_NOTIFY_FAILURE))
          {
            g_autofree char *flags = relais_dsn_notify_to_string (notify);

            relais_log_queue (G_LOG_LEVEL_MESSAGE, id,
                              "no failure notification for <%s>: the sender asked NOTIFY=%s", address, flags);
            continue;
          }
        /* Success is never reported to the null sender: nothing could read it. */
        if (!is_failure && (sender == NULL || sender[0] == '\0' ||
                            !relais_dsn_notify_wants (notify, RELAIS_DSN_NOTIFY_SUCCESS)))
          continue;
        f = g_new0 (DsnRecipient, 1);
        f->address = g_strdup (address);
        f->original = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
        f->reason = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
        f->orcpt = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
        f->action = is_failure ? RELAIS_BOUNCE_ACTION_FAILED : (RelaisBounceAction) sqlite3_column_int (stmt, 6);
        g_ptr_array_add (failed, f);
      }
  }
  relais_store_unlock (self->store);

  if (failed->len > 0)
    switch (scheduler_bounce (self, id, sender, failed))
      {
      case BOUNCE_NONE:
        break;
      case BOUNCE_PENDING:   /* bounce_committed_cb() goes on */
      case BOUNCE_KEEP:
      default:
        return;
      }
  scheduler_remove (self, id, n_failed);
}

/* ---- outcomes ----------------------------------------------------------- */

/* The row state, next attempt and reply for JOB's outcome; logs it (the
 * delivery line, relais-log.h) and counts it. */
static gint
scheduler_outcome (RelaisScheduler *self, DeliveryJob *job, gint64 now, gint64 *next_attempt, char **reply)
{
  RelaisLogDelivery line = { 0 };
  gint state;

  *next_attempt = 0;
  *reply = g_strdup (job->reason != NULL ? job->reason : "");
  switch (job->status)
    {
    case RELAIS_DELIVERY_OK:
      stats_add (self, job->route == RELAIS_ROUTE_LOCAL ? RELAIS_STAT_DELIVERED_LOCAL : RELAIS_STAT_DELIVERED_REMOTE);
      line.status = RELAIS_LOG_SENT;
      state = RECIPIENT_DELIVERED;
      break;
    case RELAIS_DELIVERY_TEMPFAIL:
      stats_add (self, RELAIS_STAT_DEFERRED);
      if (now >= job->received_at + self->max_age)
        {
          g_autofree char *last = g_steal_pointer (reply);

          *reply = g_strdup_printf ("%s (gave up after %" G_GINT64_FORMAT " %s in the queue)", last,
                                    self->max_age >= 24 * 3600 ? self->max_age / (24 * 3600) : self->max_age,
                                    self->max_age >= 24 * 3600 ? "days" : "seconds");
          stats_add (self, RELAIS_STAT_BOUNCED);
          line.status = RELAIS_LOG_BOUNCED;
          state = RECIPIENT_FAILED;
          break;
        }
      *next_attempt = now + backoff_seconds (self, job->attempts + 1);
      line.status = RELAIS_LOG_DEFERRED;
      line.retry_in = *next_attempt - now;
      state = RECIPIENT_PENDING;
      break;
    case RELAIS_DELIVERY_PERMFAIL:
    default:
      stats_add (self, RELAIS_STAT_BOUNCED);
      line.status = RELAIS_LOG_BOUNCED;
      state = RECIPIENT_FAILED;
      break;
    }
  line.queue_id = job->message_id;
  line.to = job->address;
  line.orig_to = job->original;
  line.relay = job->route == RELAIS_ROUTE_LOCAL ? "local" : job->via;
  line.delay_usec = g_get_real_time () - job->received_usec;
  if (state == RECIPIENT_DELIVERED && self->services->stats != NULL)
    relais_stats_observe_delivery (self->services->stats, (double) line.delay_usec / G_USEC_PER_SEC);
  line.attempt = job->attempts + 1;
  line.reply = *reply;
  relais_log_delivery (&line);
  return state;
}

/* One recipient's outcome, as scheduler_record() writes it. */
typedef struct {
  gint position;
  gint state;
  gint attempts;
  gint64 next_attempt;
  char *reply;
  gint dsn_action;
  char *address;              /* for the log */
  char *key;                  /* in self->in_flight */
} OutcomeRow;

typedef struct {
  RelaisScheduler *scheduler;
  char *message_id;
  GArray *rows;               /* of OutcomeRow */
  gboolean dropped;           /* the message was done and its rows went with this write */
} RecordRequest;

static void
outcome_row_clear (OutcomeRow *row)
{
  g_free (row->reply);
  g_free (row->address);
  g_free (row->key);
}

static void
record_request_free (RecordRequest *request)
{
  g_free (request->message_id);
  g_array_unref (request->rows);
  g_free (request);
}

/* Commit thread: the rows of REQUEST. A row deleted meanwhile (Queue.Delete)
 * is simply not there to update. */
static gboolean
record_write (sqlite3 *db, gpointer data, GError **error)
{
  RecordRequest *request = data;
  g_autoptr(RelaisCachedStmt) stmt = relais_store_cached (db,
    "UPDATE recipients SET state = ?, attempts = ?, next_attempt = ?, "
    "last_reply = ?, dsn_action = CASE WHEN dsn_notify & ? THEN ? ELSE 0 END "
    "WHERE message_id = ? AND position = ?", error);

  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < request->rows->len; i++)
    {
      OutcomeRow *row = &g_array_index (request->rows, OutcomeRow, i);

      sqlite3_reset (stmt);
      sqlite3_bind_int (stmt, 1, row->state);
      sqlite3_bind_int (stmt, 2, row->attempts);
      sqlite3_bind_int64 (stmt, 3, row->next_attempt);
      sqlite3_bind_text (stmt, 4, row->reply, -1, SQLITE_STATIC);
      sqlite3_bind_int (stmt, 5, RELAIS_DSN_NOTIFY_SUCCESS);
      sqlite3_bind_int (stmt, 6, row->dsn_action);
      sqlite3_bind_text (stmt, 7, request->message_id, -1, SQLITE_STATIC);
      sqlite3_bind_int (stmt, 8, row->position);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          relais_store_set_error (db, "Cannot record a delivery outcome", error);
          return FALSE;
        }
      if (sqlite3_changes (db) == 0)
        relais_log_queue (G_LOG_LEVEL_MESSAGE, request->message_id,
                          "<%s>: the message was deleted during the delivery; its outcome is not recorded",
                          row->address);
    }
  /* The common end, delivered to all and nothing to notify, in the same
   * transaction; anything else is for scheduler_finish_message(). */
  return relais_queue_drop_if_done (db, request->message_id, &request->dropped, error);
}

/* Commit thread, once the record is durable. */
static void
record_after (RelaisQueue *queue, gpointer data)
{
  RecordRequest *request = data;

  if (request->dropped)
    relais_queue_recycle_spool (queue, request->message_id);
}

/* At the end: what could not be written is tried again after the next start. */
static void
unrecorded_clear (RelaisScheduler *self)
{
  g_clear_handle_id (&self->rewrite_id, g_source_remove);
  if (self->unrecorded.length > 0)
    g_warning ("%u delivery outcome(s) could not be written; their recipients will be tried again "
               "at the next start", self->unrecorded.length);
  g_queue_clear_full (&self->unrecorded, (GDestroyNotify) record_request_free);
}

/* Seconds before outcomes the store refused (a full disk) are written again. */
#define SCHEDULER_REWRITE_DELAY 10

static void record_submit (RelaisScheduler *self, RecordRequest *request);

static gboolean
rewrite_cb (gpointer user_data)
{
  RelaisScheduler *self = user_data;
  RecordRequest *request;

  self->rewrite_id = 0;
  while ((request = g_queue_pop_head (&self->unrecorded)) != NULL)
    record_submit (self, request);
  return G_SOURCE_REMOVE;
}

static void
recorded_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RecordRequest *request = user_data;
  RelaisScheduler *self = request->scheduler;
  g_autoptr(GError) error = NULL;

  self->n_writes--;
  if (!relais_queue_write_finish (self->services->queue, result, &error))
    {
      /* The recipients stay in flight, so they are not tried again blindly
       * (a repeat is better than a loss, but none is better still): the
       * outcome is written again a little later, until the store takes it. */
      relais_log_queue (G_LOG_LEVEL_WARNING, request->message_id,
                        "%s; the outcome of %u recipient(s) will be written again in %d s", error->message,
                        request->rows->len, SCHEDULER_REWRITE_DELAY);
      g_queue_push_tail (&self->unrecorded, request);
      if (self->rewrite_id == 0 && !self->stopping)
        self->rewrite_id = g_timeout_add_seconds (SCHEDULER_REWRITE_DELAY, rewrite_cb, self);
      return;
    }
  else
    {
      for (guint i = 0; i < request->rows->len; i++)
        g_hash_table_remove (self->in_flight, g_array_index (request->rows, OutcomeRow, i).key);
      relais_queue_changed (self->services->queue);
      if (request->dropped)
        {
          relais_queue_count_removed (self->services->queue);
          relais_log_queue (G_LOG_LEVEL_MESSAGE, request->message_id, "removed from the queue (0 failed recipients)");
        }
      else
        scheduler_finish_message (self, request->message_id);
    }
  record_request_free (request);
}

/* Logs and counts the outcome of every job in JOBS (of one message), has it
 * written to the rows by the commit thread (one savepoint of its next group
 * transaction: the main loop never waits for the disk), then takes the jobs
 * out of flight and ends the message if nothing is pending any more. */
static void
scheduler_record (RelaisScheduler *self, DeliveryJob *const *jobs, guint n_jobs)
{
  RecordRequest *request = g_new0 (RecordRequest, 1);
  gint64 now = now_seconds ();

  g_return_if_fail (n_jobs > 0);

  request->scheduler = self;
  request->message_id = g_strdup (jobs[0]->message_id);
  request->rows = g_array_sized_new (FALSE, TRUE, sizeof (OutcomeRow), n_jobs);
  g_array_set_clear_func (request->rows, (GDestroyNotify) outcome_row_clear);
  for (guint i = 0; i < n_jobs; i++)
    {
      DeliveryJob *job = jobs[i];
      OutcomeRow row = { 0 };

      g_warn_if_fail (g_str_equal (job->message_id, request->message_id));
      row.position = job->position;
      row.state = scheduler_outcome (self, job, now, &row.next_attempt, &row.reply);
      row.attempts = job->attempts + 1;
      /* What a success notification will say, if the recipient asked for one. */
      if (row.state == RECIPIENT_DELIVERED)
        row.dsn_action = job->route == RELAIS_ROUTE_LOCAL ? RELAIS_BOUNCE_ACTION_DELIVERED
                       : job->dsn_relayed ? RELAIS_BOUNCE_ACTION_RELAYED : 0;
      row.address = g_strdup (job->address);
      row.key = g_strdup (job->key);
      g_array_append_val (request->rows, row);
    }
  record_submit (self, request);
}

static void
record_submit (RelaisScheduler *self, RecordRequest *request)
{
  self->n_writes++;
  relais_queue_write_async (self->services->queue, record_write, record_after, request, NULL, recorded_cb, request);
}

/* For remote delivery: JOB's recipient was accepted by a next hop that did
 * not advertise DSN, so the NOTIFY request cannot travel on (RFC 3461
 * §6.2.1(b)): if it asked for NOTIFY=SUCCESS its sender gets an "Action:
 * relayed" notification when the message is done. Call it before
 * scheduler_complete() with a RELAIS_DELIVERY_OK outcome. A hop that does
 * DSN gets the parameters (relais_dsn_rcpt_params()) and reports itself. */
static void
scheduler_job_relayed (DeliveryJob *job)
{
  job->dsn_relayed = TRUE;
}

static void
scheduler_complete (RelaisScheduler *self, DeliveryJob *job)
{
  scheduler_record (self, &job, 1);
}

static void
deliver_local_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  DeliveryJob *job = task_data;

  job->status = relais_maildir_deliver (job->state_dir, job->config, job->mailbox, job->sender,
                                        job->address, job->spool_path, &job->reason, NULL);
  g_task_return_boolean (task, TRUE);
}

static void
deliver_local_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(DeliveryJob) job = user_data;
  RelaisScheduler *self = job->scheduler;

  self->n_running--;
  scheduler_complete (self, job);
  scheduler_room_made (self);
}

/* Takes JOB, a local recipient. */
static void
scheduler_dispatch_local (RelaisScheduler *self, DeliveryJob *job)
{
  g_autoptr(GTask) task = NULL;

  g_hash_table_add (self->in_flight, g_strdup (job->key));
  if (job->mailbox == NULL)
    {
      job->status = RELAIS_DELIVERY_PERMFAIL;
      job->reason = g_strdup_printf ("5.1.1 <%s>: no such account", job->address);
      scheduler_complete (self, job);
      delivery_job_free (job);
      return;
    }

  job->state_dir = g_strdup (self->state_dir);
  job->spool_path = relais_queue_spool_path (self->services->queue, job->message_id);
  job->config = relais_services_get_config (self->services);
  self->n_running++;
  task = g_task_new (NULL, NULL, deliver_local_done_cb, job);
  g_task_set_source_tag (task, scheduler_dispatch_local);
  g_task_set_task_data (task, job, NULL);
  g_task_run_in_thread (task, deliver_local_thread);
}

/* ---- remote delivery ---------------------------------------------------- */

/* The recipients of one message that go to one destination: one connection. */
typedef struct {
  RelaisScheduler *scheduler;
  char *message_id;
  char *destination;
  GPtrArray *jobs;                 /* DeliveryJob*, in the order of delivery->recipients */
  RelaisSmtpDelivery *delivery;
  RelaisConfig *config;
} RemoteBatch;

static void
remote_batch_free (RemoteBatch *batch)
{
  g_free (batch->message_id);
  g_free (batch->destination);
  g_ptr_array_unref (batch->jobs);
  g_clear_pointer (&batch->delivery, relais_smtp_delivery_free);
  g_clear_pointer (&batch->config, relais_config_unref);
  g_free (batch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RemoteBatch, remote_batch_free)

/* The attempt of BATCH (taken) ended: OK FALSE with ERROR for a local error. */
static void
remote_finished (RemoteBatch *batch_, gboolean ok, const GError *error)
{
  g_autoptr(RemoteBatch) batch = batch_;
  RelaisScheduler *self = batch->scheduler;
  RelaisSmtpDelivery *delivery = batch->delivery;
  gboolean any_delivered = FALSE;

  self->n_remote--;
  if (!ok && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* The daemon is stopping: this attempt did not happen. The rows stay
       * as they were, due, and the next start tries them again. */
      for (guint i = 0; i < batch->jobs->len; i++)
        {
          DeliveryJob *job = g_ptr_array_index (batch->jobs, i);

          relais_log_queue (G_LOG_LEVEL_MESSAGE, job->message_id,
                            "delivery to <%s> interrupted by the shutdown; it is tried again at the next start",
                            job->address);
          g_hash_table_remove (self->in_flight, job->key);
        }
      return;
    }
  for (guint i = 0; i < batch->jobs->len; i++)
    {
      DeliveryJob *job = g_ptr_array_index (batch->jobs, i);
      RelaisSmtpRecipient *r = g_ptr_array_index (delivery->recipients, i);

      if (!ok)
        {
          job->status = RELAIS_DELIVERY_TEMPFAIL;
          job->reason = g_strdup_printf ("4.3.0 %s", error->message);
        }
      else
        {
          job->status = r->status;
          job->reason = g_strdup (r->reply != NULL ? r->reply : "4.3.0 no outcome reported");
        }
      job->via = g_strdup (delivery->connected_host);
      if (job->status == RELAIS_DELIVERY_OK)
        {
          any_delivered = TRUE;
          if (!delivery->dsn)
            scheduler_job_relayed (job);
        }
    }
  if (any_delivered && self->services->stats != NULL)
    relais_stats_add (self->services->stats, RELAIS_STAT_BYTES_SENT, (guint64) delivery->bytes_sent);
  scheduler_record (self, (DeliveryJob *const *) batch->jobs->pdata, batch->jobs->len);
  scheduler_room_made (self);
}

static void
remote_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = relais_remote_deliver_finish (result, &error);

  remote_finished (user_data, ok, error);
}

/* The message is signed (or not, or signing failed: then it goes unsigned,
 * never held back): now the delivery itself. */
static void
remote_signed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RemoteBatch *batch = user_data;
  RelaisScheduler *self = batch->scheduler;
  RelaisSmtpDelivery *delivery = batch->delivery;
  g_autoptr(GError) error = NULL;
  g_autofree char *domain = NULL;
  g_autofree char *selector = NULL;

  delivery->header_prefix = relais_dkim_outbound_sign_file_finish (result, &domain, &selector, &error);
  if (delivery->header_prefix != NULL)
    {
      relais_log_queue (G_LOG_LEVEL_INFO, batch->message_id, "DKIM-signed for %s with selector %s (to %s)",
                        domain, selector, batch->destination);
      if (self->services->stats != NULL)
        relais_stats_check_result (self->services->stats, "dkim-sign", "signed");
    }
  else if (error != NULL)
    {
      relais_log_queue (G_LOG_LEVEL_WARNING, batch->message_id,
                        "DKIM signing for %s failed, the message is sent unsigned: %s",
                        domain != NULL ? domain : "its domain", error->message);
      if (self->services->stats != NULL)
        relais_stats_check_result (self->services->stats, "dkim-sign", "error");
    }
  if (g_cancellable_is_cancelled (self->cancellable))
    {
      g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");

      remote_finished (batch, FALSE, cancelled);
      return;
    }
  relais_remote_deliver_async (batch->config, batch->destination, delivery, self->cancellable,
                               remote_done_cb, batch);
}

/* What a remote batch needs of its message. */
typedef struct {
  char *sender;
  int flags;
  char *mail_params;       /* RET and ENVID to pass on (RFC 3461 §6.2), "" for none */
} RemoteMessage;

/* Starts BATCH: takes it. */
static void
scheduler_dispatch_remote (RelaisScheduler *self, RemoteBatch *batch, const RemoteMessage *message)
{
  RelaisSmtpDelivery *delivery = relais_smtp_delivery_new ();

  batch->delivery = delivery;
  delivery->helo_name = g_strdup (batch->config->hostname);
  delivery->queue_id = g_strdup (batch->message_id);
  g_free (delivery->sender);
  delivery->sender = g_strdup (message->sender);
  delivery->mail_params = g_strdup (message->mail_params);
  delivery->smtputf8 = (message->flags & RELAIS_MESSAGE_FLAG_SMTPUTF8) != 0;
  delivery->body_8bit = (message->flags & RELAIS_MESSAGE_FLAG_8BITMIME) != 0;
  delivery->message_path = relais_queue_spool_path (self->services->queue, batch->message_id);
  /* the next message to the same place goes over the same connection */
  delivery->reuse_connection = TRUE;
  for (guint i = 0; i < batch->jobs->len; i++)
    {
      DeliveryJob *job = g_ptr_array_index (batch->jobs, i);

      g_ptr_array_add (delivery->recipients, relais_smtp_recipient_new (job->address, job->rcpt_params));
      g_hash_table_add (self->in_flight, g_strdup (job->key));
    }
  self->n_remote++;
  /* Outgoing mail is signed at each attempt, off the main loop (issue 7). */
  if (relais_dkim_outbound_enabled (batch->config))
    {
      /* not cancellable: it is short, and a shutdown is noticed once it is done */
      relais_dkim_outbound_sign_file_async (batch->config, delivery->message_path, delivery->sender,
                                            NULL, remote_signed_cb, batch);
      return;
    }
  relais_remote_deliver_async (batch->config, batch->destination, delivery, self->cancellable,
                               remote_done_cb, batch);
}

/* Adds JOB (taken), a remote recipient of the message being gathered, to the
 * batch of its destination in BY_DESTINATION, a new one appended to BATCHES. */
static void
remote_batches_add (RelaisScheduler *self, RelaisConfig *config, GHashTable *by_destination, GPtrArray *batches,
                    DeliveryJob *job)
{
  g_autofree char *destination = relais_remote_destination (config, job->sender, job->address);
  RemoteBatch *batch = g_hash_table_lookup (by_destination, destination);

  if (batch == NULL)
    {
      batch = g_new0 (RemoteBatch, 1);
      batch->scheduler = self;
      batch->message_id = g_strdup (job->message_id);
      batch->destination = g_steal_pointer (&destination);
      batch->jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) delivery_job_free);
      batch->config = relais_config_ref (config);
      g_hash_table_insert (by_destination, batch->destination, batch);
      g_ptr_array_add (batches, batch);
    }
  g_ptr_array_add (batch->jobs, job);
}

/* Starts each of BATCHES (taken) there is room for; the others are left to a pass. */
static void
remote_batches_dispatch (RelaisScheduler *self, GPtrArray *batches, const RemoteMessage *message)
{
  for (guint i = 0; i < batches->len; i++)
    {
      RemoteBatch *batch = g_ptr_array_index (batches, i);

      if (self->n_remote >= SCHEDULER_MAX_REMOTE)
        {
          remote_batch_free (batch);   /* the next pass takes it */
          self->backlog = TRUE;
        }
      else
        scheduler_dispatch_remote (self, batch, message);
    }
  g_ptr_array_set_size (batches, 0);
}

/* Starts one connection per destination for the due remote recipients of
 * message ID that are not in flight, while there is room. */
static void
scheduler_start_remote (RelaisScheduler *self, const char *id)
{
  sqlite3_stmt *stmt;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) batches = g_ptr_array_new ();   /* RemoteBatch*, in first-recipient order */
  g_autoptr(GHashTable) by_destination = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(RelaisConfig) config = relais_services_get_config (self->services);
  RemoteMessage message = { NULL, 0, NULL };
  sqlite3 *db;

  db = relais_store_lock (self->store);
  stmt = relais_store_cached (db,
                              "SELECT r.position, r.address, r.attempts, m.sender, m.received_at, m.flags, "
                              "m.dsn_ret, m.dsn_envid, r.dsn_notify, r.dsn_orcpt, r.original, m.received_usec "
                              "FROM recipients r JOIN messages m ON m.id = r.message_id "
                              "WHERE r.message_id = ? AND r.state = 0 AND r.route = 1 "
                              "AND r.next_attempt <= ? AND m.held = 0 ORDER BY r.position", &error);
  if (stmt == NULL)
    {
      relais_store_unlock (self->store);
      relais_log_queue (G_LOG_LEVEL_WARNING, id, "%s", error->message);
      return;
    }
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, now_seconds ());
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint position = sqlite3_column_int (stmt, 0);
      g_autoptr(RelaisDsnOrcpt) orcpt = NULL;
      DeliveryJob *job;

      if (message.sender == NULL)
        {
          message.sender = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
          message.flags = sqlite3_column_int (stmt, 5);
          message.mail_params = relais_dsn_mail_params ((RelaisDsnRet) sqlite3_column_int (stmt, 6),
                                                        (const char *) sqlite3_column_text (stmt, 7));
        }
      job = delivery_job_new (self, id, position, RELAIS_ROUTE_REMOTE, (const char *) sqlite3_column_text (stmt, 1),
                              (const char *) sqlite3_column_text (stmt, 10), message.sender,
                              sqlite3_column_int (stmt, 2), sqlite3_column_int64 (stmt, 4),
                              sqlite3_column_int64 (stmt, 11));
      if (g_hash_table_contains (self->in_flight, job->key))
        {
          delivery_job_free (job);
          continue;
        }
      orcpt = relais_dsn_orcpt_from_string ((const char *) sqlite3_column_text (stmt, 9));
      job->rcpt_params = relais_dsn_rcpt_params ((guint) sqlite3_column_int (stmt, 8), orcpt);
      remote_batches_add (self, config, by_destination, batches, job);
    }
  relais_cached_stmt_release (stmt);
  relais_store_unlock (self->store);

  remote_batches_dispatch (self, batches, &message);
  g_free (message.sender);
  g_free (message.mail_params);
}

/* One pass over the queue: starts every due delivery there is room for. */
static void
scheduler_run_due (RelaisScheduler *self)
{
  g_autoptr(GPtrArray) jobs = g_ptr_array_new ();
  g_autoptr(GPtrArray) remote_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) remote_seen = g_hash_table_new (g_str_hash, g_str_equal);
  sqlite3_stmt *stmt;
  g_autoptr(GError) error = NULL;
  guint n_rows = 0;
  guint n_local = 0;
  guint limit = SCHEDULER_SELECT_LIMIT + g_hash_table_size (self->in_flight);
  sqlite3 *db;

  self->backlog = FALSE;
  db = relais_store_lock (self->store);
  stmt = relais_store_cached (db,
                              "SELECT r.message_id, r.position, r.address, r.route, r.mailbox, "
                              "r.attempts, m.sender, m.received_at, r.original, m.received_usec "
                              "FROM recipients r JOIN messages m ON m.id = r.message_id "
                              "WHERE r.state = 0 AND r.next_attempt <= ?1 AND m.held = 0 "
                              "ORDER BY r.next_attempt, r.message_id, r.position LIMIT ?2", &error);
  if (stmt == NULL)
    {
      relais_store_unlock (self->store);
      g_warning ("%s", error->message);
      return;
    }
  sqlite3_bind_int64 (stmt, 1, now_seconds ());
  sqlite3_bind_int (stmt, 2, (int) limit);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *id = (const char *) sqlite3_column_text (stmt, 0);
      gint position = sqlite3_column_int (stmt, 1);
      gint route = sqlite3_column_int (stmt, 3);
      g_autofree char *key = g_strdup_printf ("%s/%d", id, position);
      DeliveryJob *job;

      n_rows++;
      if (g_hash_table_contains (self->in_flight, key))
        continue;
      if (route == RELAIS_ROUTE_REMOTE)
        {
          /* All the message's remote recipients are gathered per destination below. */
          if (!g_hash_table_contains (remote_seen, id))
            {
              char *copy = g_strdup (id);

              g_ptr_array_add (remote_ids, copy);
              g_hash_table_add (remote_seen, copy);
            }
          continue;
        }
      if (self->n_running + n_local >= SCHEDULER_MAX_RUNNING)
        {
          self->backlog = TRUE;
          continue;
        }
      n_local++;

      job = delivery_job_new (self, id, position, route, (const char *) sqlite3_column_text (stmt, 2),
                              (const char *) sqlite3_column_text (stmt, 8),
                              (const char *) sqlite3_column_text (stmt, 6), sqlite3_column_int (stmt, 5),
                              sqlite3_column_int64 (stmt, 7), sqlite3_column_int64 (stmt, 9));
      job->mailbox = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
      g_ptr_array_add (jobs, job);
    }
  relais_cached_stmt_release (stmt);
  relais_store_unlock (self->store);

  for (guint i = 0; i < jobs->len; i++)
    scheduler_dispatch_local (self, g_ptr_array_index (jobs, i));
  for (guint i = 0; i < remote_ids->len; i++)
    if (self->n_remote < SCHEDULER_MAX_REMOTE)
      scheduler_start_remote (self, g_ptr_array_index (remote_ids, i));
    else
      self->backlog = TRUE;

  /* More due rows than one pass looks at: go on at the next idle. */
  if (n_rows == limit)
    {
      self->backlog = TRUE;
      if (remote_ids->len > 0 && self->n_remote < SCHEDULER_MAX_REMOTE)
        relais_scheduler_kick (self);
    }
}

/* A delivery ended: room for another, which only a whole pass can find if
 * an earlier one left some (a new message is started on its own, see
 * relais_scheduler_message_queued(); retries come due with the timer). */
static void
scheduler_room_made (RelaisScheduler *self)
{
  if (!self->stopping && self->backlog)
    relais_scheduler_kick (self);
}

void
relais_scheduler_message_queued (RelaisScheduler *scheduler, const RelaisQueuedMessage *message)
{
  g_autoptr(GPtrArray) batches = g_ptr_array_new ();   /* RemoteBatch*, in first-recipient order */
  g_autoptr(GHashTable) by_destination = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(RelaisConfig) config = NULL;
  RemoteMessage remote = { NULL, 0, NULL };
  gint64 received_at = message->received_usec / G_USEC_PER_SEC;

  g_return_if_fail (scheduler != NULL);
  g_return_if_fail (message != NULL && message->id != NULL);

  if (!scheduler->started || scheduler->stopping)
    return;
  /* What scheduler_run_due() and scheduler_start_remote() would read back
   * from the rows just committed, without the store. */
  for (guint i = 0; i < message->recipients->len; i++)
    {
      const RelaisQueuedRecipient *r = g_ptr_array_index (message->recipients, i);
      DeliveryJob *job = delivery_job_new (scheduler, message->id, (gint) i, r->route, r->address, r->original,
                                           message->sender, 0, received_at, message->received_usec);

      /* a pass may have seen the rows between the commit and this call */
      if (g_hash_table_contains (scheduler->in_flight, job->key))
        delivery_job_free (job);
      else if (r->route == RELAIS_ROUTE_REMOTE)
        {
          g_autoptr(RelaisDsnOrcpt) orcpt = relais_dsn_orcpt_from_string (r->dsn_orcpt);

          if (config == NULL)
            {
              config = relais_services_get_config (scheduler->services);
              remote.sender = g_strdup (message->sender);
              remote.flags = message->flags;
              remote.mail_params = relais_dsn_mail_params (message->dsn_ret, message->dsn_envid);
            }
          job->rcpt_params = relais_dsn_rcpt_params (r->dsn_notify, orcpt);
          remote_batches_add (scheduler, config, by_destination, batches, job);
        }
      else if (scheduler->n_running >= SCHEDULER_MAX_RUNNING)
        {
          delivery_job_free (job);     /* the next pass takes it */
          scheduler->backlog = TRUE;
        }
      else
        {
          job->mailbox = g_strdup (r->mailbox);
          scheduler_dispatch_local (scheduler, job);
        }
    }
  remote_batches_dispatch (scheduler, batches, &remote);
  g_free (remote.sender);
  g_free (remote.mail_params);
}

/* Messages whose recipients were all done before a restart (or marked failed
 * by recovery) still need their end. */
static void
scheduler_finish_done_messages (RelaisScheduler *self)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(RelaisSchedulerStmt) stmt = NULL;
  sqlite3 *db = relais_store_lock (self->store);

  if (sqlite3_prepare_v2 (db,
                          "SELECT id FROM messages m WHERE NOT EXISTS "
                          "(SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.state = 0)",
                          -1, &stmt, NULL) == SQLITE_OK)
    while (sqlite3_step (stmt) == SQLITE_ROW)
      g_ptr_array_add (ids, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (self->store);

  for (guint i = 0; i < ids->len; i++)
    scheduler_finish_message (self, g_ptr_array_index (ids, i));
}

static gboolean
scheduler_timer_cb (gpointer user_data)
{
  scheduler_run_due (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
scheduler_kick_cb (gpointer user_data)
{
  RelaisScheduler *self = user_data;

  self->kick_id = 0;
  scheduler_run_due (self);
  return G_SOURCE_REMOVE;
}

void
relais_scheduler_start (RelaisScheduler *scheduler)
{
  g_return_if_fail (scheduler != NULL);
  g_return_if_fail (!scheduler->started);

  scheduler->started = TRUE;
  scheduler_finish_done_messages (scheduler);
  scheduler->timer_id = g_timeout_add_seconds (1, scheduler_timer_cb, scheduler);
  relais_scheduler_kick (scheduler);
}

void
relais_scheduler_kick (RelaisScheduler *scheduler)
{
  g_return_if_fail (scheduler != NULL);

  if (!scheduler->started || scheduler->stopping || scheduler->kick_id != 0)
    return;
  scheduler->kick_id = g_idle_add (scheduler_kick_cb, scheduler);
}
