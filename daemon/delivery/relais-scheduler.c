/* SPDX-License-Identifier: GPL-3.0-or-later
 * Delivery scheduler, main thread. Each second (and on relais_scheduler_kick())
 * it selects the due pending recipients of messages not held, never one that
 * is already in flight, at most SCHEDULER_MAX_RUNNING deliveries at once; local
 * ones run relais_maildir_deliver() in a worker thread. Each outcome is written
 * to the recipients row, on the main thread, before that recipient can be
 * picked again; a message with no pending recipient left leaves the queue,
 * after the notification (relais-bounce.c) for its failed recipients, and for
 * the delivered ones that asked for it (NOTIFY=SUCCESS, RFC 3461), is
 * committed. NOTIFY=DELAY is not implemented: no delay notification is sent. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-scheduler.h"

#include "relais-bounce.h"
#include "relais-error.h"
#include "relais-maildir.h"

#define SCHEDULER_MAX_RUNNING    4        /* local deliveries in worker threads */
#define SCHEDULER_SELECT_LIMIT   64       /* rows looked at per pass */
#define SCHEDULER_BACKOFF_FIRST  300      /* seconds: 5 min, doubling... */
#define SCHEDULER_BACKOFF_MAX    3600     /* ...to 1 h */
#define SCHEDULER_MAX_AGE        (5 * 24 * 3600)  /* then give up */

#define REMOTE_NOT_AVAILABLE "4.4.1 Remote delivery is not available yet"

typedef sqlite3_stmt RelaisSchedulerStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisSchedulerStmt, sqlite3_finalize)

enum {
  RECIPIENT_PENDING = 0,
  RECIPIENT_DELIVERED = 1,
  RECIPIENT_FAILED = 2,
};

enum {
  ROUTE_LOCAL = 0,
  ROUTE_REMOTE = 1,
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
  guint n_running;           /* deliveries in worker threads */
  GHashTable *bouncing;      /* ids of messages whose bounce is being committed */
  guint n_bouncing;          /* bounce commits under way */
};

typedef struct {
  RelaisScheduler *scheduler;
  char *key;
  char *message_id;
  gint position;
  char *address;
  gint route;
  char *mailbox;
  char *sender;
  gint64 received_at;
  gint attempts;
  /* for the worker thread */
  char *state_dir;
  char *spool_path;
  RelaisConfig *config;
  /* outcome */
  RelaisDeliveryStatus status;
  char *reason;
  gboolean never_expires;    /* a failure that is ours, not the destination's */
  gboolean dsn_relayed;      /* see scheduler_job_relayed() */
} DeliveryJob;

static void
delivery_job_free (DeliveryJob *job)
{
  g_free (job->key);
  g_free (job->message_id);
  g_free (job->address);
  g_free (job->mailbox);
  g_free (job->sender);
  g_free (job->state_dir);
  g_free (job->spool_path);
  g_clear_pointer (&job->config, relais_config_unref);
  g_free (job->reason);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DeliveryJob, delivery_job_free)

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
backoff_seconds (gint attempts)
{
  gint64 delay = SCHEDULER_BACKOFF_FIRST;

  for (gint i = 1; i < attempts && delay < SCHEDULER_BACKOFF_MAX; i++)
    delay *= 2;
  return MIN (delay, SCHEDULER_BACKOFF_MAX);
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
  self->bouncing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return self;
}

void
relais_scheduler_free (RelaisScheduler *scheduler)
{
  if (scheduler == NULL)
    return;

  /* Let the deliveries under way finish and record their outcome. */
  scheduler->stopping = TRUE;
  g_clear_handle_id (&scheduler->timer_id, g_source_remove);
  while (scheduler->n_running > 0 || scheduler->n_bouncing > 0)
    g_main_context_iteration (NULL, TRUE);
  g_clear_handle_id (&scheduler->kick_id, g_source_remove);

  g_hash_table_unref (scheduler->in_flight);
  g_hash_table_unref (scheduler->bouncing);
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
  g_hash_table_remove (self->bouncing, request->id);
  if (!relais_queue_commit_finish (self->services->queue, result, &error))
    {
      g_warning ("%s: cannot queue the bounce for %u recipient(s) to %s: %s; "
                 "the message stays queued until the next start",
                 request->id, request->n_failed, request->to, error->message);
      return;
    }
  g_message ("%s: bounce %s sent to %s for %u recipient(s)", request->id, request->dsn_id,
             request->to, request->n_failed);
  if (!relais_queue_remove (self->services->queue, request->id, &error))
    {
      if (g_error_matches (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND))
        g_message ("%s: already deleted from the queue", request->id);
      else
        g_warning ("%s: cannot remove the message from the queue: %s", request->id, error->message);
      return;
    }
  g_message ("%s: removed from the queue (%u failed recipients)", request->id, request->n_failed);
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
      g_warning ("%s: double bounce lost: it failed for %u recipient(s): %s",
                 id, failed->len, reasons->str);
      return BOUNCE_NONE;
    }
  else if (config->external_administrators == NULL || config->external_administrators[0] == NULL)
    {
      g_warning ("%s: message from the null sender lost: it failed for %u recipient(s) and no "
                 "external administrator is set for a double bounce: %s", id, failed->len, reasons->str);
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
        g_message ("%s: RET=FULL, but the message is over %u octets: the bounce returns its headers only",
                   id, RELAIS_BOUNCE_MAX_FULL);
      else if (message == NULL)
        {
          g_message ("%s: the bounce goes without the original message: %s", id, error->message);
          g_clear_error (&error);
        }
    }
  if (message == NULL)
    {
      headers = relais_bounce_read_headers (spool_path, RELAIS_BOUNCE_MAX_HEADERS, &error);
      if (headers == NULL)
        {
          g_message ("%s: the bounce goes without the original headers: %s", id, error->message);
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
      g_warning ("%s: cannot queue a bounce: %s; the message stays queued until the next start",
                 id, error->message);
      return BOUNCE_KEEP;
    }
  data = g_bytes_get_data (dsn, &len);
  if (!relais_spool_writer_write (writer, data, len, &error))
    {
      relais_spool_writer_abort (writer);
      g_warning ("%s: cannot queue a bounce: %s; the message stays queued until the next start",
                 id, error->message);
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
  g_hash_table_add (self->bouncing, g_strdup (id));
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

  if (g_hash_table_contains (self->bouncing, id))
    return;   /* its bounce is being committed */
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
        g_warning ("%s: %s", id, error->message);
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

            g_message ("%s: no failure notification for <%s>: the sender asked NOTIFY=%s",
                       id, address, flags);
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
  if (!relais_queue_remove (self->services->queue, id, &error))
    {
      g_warning ("%s: cannot remove the message from the queue: %s", id, error->message);
      return;
    }
  g_message ("%s: removed from the queue (%u failed recipients)", id, n_failed);
}

/* ---- outcomes ----------------------------------------------------------- */

/* Writes JOB's outcome to its row. Returns FALSE if that failed: the caller
 * then keeps the recipient in flight so it is not tried again blindly. */
static gboolean
scheduler_record (RelaisScheduler *self, DeliveryJob *job)
{
  g_autoptr(RelaisSchedulerStmt) stmt = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = g_strdup (job->reason != NULL ? job->reason : "");
  gint64 now = now_seconds ();
  gint attempts = job->attempts + 1;
  gint state = RECIPIENT_PENDING;
  gint64 next_attempt = 0;
  gint dsn_action = 0;
  sqlite3 *db;
  gboolean ok;

  switch (job->status)
    {
    case RELAIS_DELIVERY_OK:
      state = RECIPIENT_DELIVERED;
      stats_add (self, job->route == ROUTE_LOCAL ? RELAIS_STAT_DELIVERED_LOCAL : RELAIS_STAT_DELIVERED_REMOTE);
      g_message ("%s: delivered to <%s>%s%s: %s", job->message_id, job->address,
              job->mailbox != NULL ? " in mailbox " : "", job->mailbox != NULL ? job->mailbox : "", reply);
      break;
    case RELAIS_DELIVERY_TEMPFAIL:
      stats_add (self, RELAIS_STAT_DEFERRED);
      if (!job->never_expires && now >= job->received_at + SCHEDULER_MAX_AGE)
        {
          state = RECIPIENT_FAILED;
          g_free (reply);
          reply = g_strdup_printf ("%s (gave up after %d days in the queue)",
                                   job->reason, SCHEDULER_MAX_AGE / (24 * 3600));
          stats_add (self, RELAIS_STAT_BOUNCED);
          g_message ("%s: delivery to <%s> failed for good: %s", job->message_id, job->address, reply);
        }
      else
        {
          next_attempt = now + backoff_seconds (attempts);
          g_message ("%s: delivery to <%s> deferred (attempt %d, next in %" G_GINT64_FORMAT " s): %s",
                  job->message_id, job->address, attempts, next_attempt - now, reply);
        }
      break;
    case RELAIS_DELIVERY_PERMFAIL:
    default:
      state = RECIPIENT_FAILED;
      stats_add (self, RELAIS_STAT_BOUNCED);
      g_message ("%s: delivery to <%s> failed: %s", job->message_id, job->address, reply);
      break;
    }

  /* What a success notification will say, if the recipient asked for one. */
  if (state == RECIPIENT_DELIVERED)
    dsn_action = job->route == ROUTE_LOCAL ? RELAIS_BOUNCE_ACTION_DELIVERED
               : job->dsn_relayed ? RELAIS_BOUNCE_ACTION_RELAYED : 0;

  db = relais_store_lock (self->store);
  ok = sqlite3_prepare_v2 (db,
                           "UPDATE recipients SET state = ?, attempts = ?, next_attempt = ?, "
                           "last_reply = ?, dsn_action = CASE WHEN dsn_notify & ? THEN ? ELSE 0 END "
                           "WHERE message_id = ? AND position = ?", -1, &stmt,
                           NULL) == SQLITE_OK;
  if (ok)
    {
      sqlite3_bind_int (stmt, 1, state);
      sqlite3_bind_int (stmt, 2, attempts);
      sqlite3_bind_int64 (stmt, 3, state == RECIPIENT_PENDING ? next_attempt : 0);
      sqlite3_bind_text (stmt, 4, reply, -1, SQLITE_STATIC);
      sqlite3_bind_int (stmt, 5, RELAIS_DSN_NOTIFY_SUCCESS);
      sqlite3_bind_int (stmt, 6, dsn_action);
      sqlite3_bind_text (stmt, 7, job->message_id, -1, SQLITE_STATIC);
      sqlite3_bind_int (stmt, 8, job->position);
      ok = sqlite3_step (stmt) == SQLITE_DONE;
      /* Deleted over D-Bus while it was being delivered: nothing to record,
       * and the UPDATE creates no row. */
      if (ok && sqlite3_changes (db) == 0)
        g_message ("%s: <%s>: the message was deleted during the delivery; its outcome is not recorded",
                   job->message_id, job->address);
    }
  if (!ok)
    relais_store_set_error (db, "Cannot record a delivery outcome", &error);
  relais_store_unlock (self->store);
  relais_queue_changed (self->services->queue);

  if (!ok)
    {
      g_warning ("%s: <%s>: %s; the recipient will not be tried again before a restart",
                 job->message_id, job->address, error->message);
      return FALSE;
    }
  return TRUE;
}

/* For remote delivery: JOB's recipient was accepted by a next hop that did
 * not advertise DSN, so the NOTIFY request cannot travel on (RFC 3461
 * §6.2.1(b)): if it asked for NOTIFY=SUCCESS its sender gets an "Action:
 * relayed" notification when the message is done. Call it before
 * scheduler_complete() with a RELAIS_DELIVERY_OK outcome. A hop that does
 * DSN gets the parameters (relais_dsn_rcpt_params()) and reports itself. */
G_GNUC_UNUSED static void
scheduler_job_relayed (DeliveryJob *job)
{
  job->dsn_relayed = TRUE;
}

static void
scheduler_complete (RelaisScheduler *self, DeliveryJob *job)
{
  if (scheduler_record (self, job))
    g_hash_table_remove (self->in_flight, job->key);
  scheduler_finish_message (self, job->message_id);
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
  if (!self->stopping)
    relais_scheduler_kick (self);
}

/* Takes JOB. */
static void
scheduler_dispatch (RelaisScheduler *self, DeliveryJob *job)
{
  g_autoptr(GTask) task = NULL;

  g_hash_table_add (self->in_flight, g_strdup (job->key));

  if (job->route == ROUTE_REMOTE)
    {
      /* No outbound SMTP client yet: keep the recipient queued with the
       * normal back-off. Our own missing feature is no reason to give up on
       * it after 5 days. */
      job->status = RELAIS_DELIVERY_TEMPFAIL;
      job->reason = g_strdup (REMOTE_NOT_AVAILABLE);
      job->never_expires = TRUE;
      scheduler_complete (self, job);
      delivery_job_free (job);
      return;
    }
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
  g_task_set_source_tag (task, scheduler_dispatch);
  g_task_set_task_data (task, job, NULL);
  g_task_run_in_thread (task, deliver_local_thread);
}

/* One pass: starts every due delivery there is room for. */
static void
scheduler_run_due (RelaisScheduler *self)
{
  g_autoptr(GPtrArray) jobs = g_ptr_array_new ();
  g_autoptr(RelaisSchedulerStmt) stmt = NULL;
  g_autoptr(GError) error = NULL;
  guint n_rows = 0;
  guint n_remote = 0;
  guint n_local = 0;
  guint limit = SCHEDULER_SELECT_LIMIT + g_hash_table_size (self->in_flight);
  sqlite3 *db;

  db = relais_store_lock (self->store);
  if (sqlite3_prepare_v2 (db,
                          "SELECT r.message_id, r.position, r.address, r.route, r.mailbox, "
                          "r.attempts, m.sender, m.received_at "
                          "FROM recipients r JOIN messages m ON m.id = r.message_id "
                          "WHERE r.state = 0 AND r.next_attempt <= ? AND m.held = 0 "
                          "ORDER BY r.next_attempt, r.message_id, r.position LIMIT ?",
                          -1, &stmt, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "Cannot read the queue", &error);
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
      if (route != ROUTE_REMOTE)
        {
          if (self->n_running + n_local >= SCHEDULER_MAX_RUNNING)
            continue;
          n_local++;
        }
      else
        n_remote++;

      job = g_new0 (DeliveryJob, 1);
      job->scheduler = self;
      job->key = g_steal_pointer (&key);
      job->message_id = g_strdup (id);
      job->position = position;
      job->address = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      job->route = route;
      job->mailbox = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
      job->attempts = sqlite3_column_int (stmt, 5);
      job->sender = g_strdup ((const char *) sqlite3_column_text (stmt, 6));
      job->received_at = sqlite3_column_int64 (stmt, 7);
      g_ptr_array_add (jobs, job);
    }
  g_clear_pointer (&stmt, sqlite3_finalize);
  relais_store_unlock (self->store);

  for (guint i = 0; i < jobs->len; i++)
    scheduler_dispatch (self, g_ptr_array_index (jobs, i));

  /* More due rows than one pass looks at: go on at the next idle. */
  if (n_rows == limit && n_remote > 0)
    relais_scheduler_kick (self);
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
