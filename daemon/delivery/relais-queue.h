/* SPDX-License-Identifier: GPL-3.0-or-later
 * The durable queue: spool files under STATE/spool plus rows in the store's
 * messages/recipients tables. A message is accepted in two steps:
 *   1. relais_queue_begin() opens a file in STATE/spool/msg (a spare one, or
 *      a new one named by the id); the session streams the message (Received
 *      header first, line ends already CRLF, dots unstuffed) through
 *      relais_spool_writer_write();
 *   2. relais_queue_commit_async() has the file fsynced by a sync thread, then
 *      the commit thread inserts the rows (naming the file when it is not the
 *      id), after one directory fsync if the batch has new files, batching
 *      every request that is waiting into one transaction (group commit).
 *      Only when the callback reports success may the session answer 250.
 * At start relais_queue_recover() re-queues every row and takes the files no
 * row names for spares.
 * All functions are for the main thread. */
#pragma once

#include <gio/gio.h>

#include "relais-config.h"
#include "relais-dsn.h"
#include "relais-stats.h"
#include "relais-store.h"

G_BEGIN_DECLS

typedef struct _RelaisQueue RelaisQueue;
typedef struct _RelaisSpoolWriter RelaisSpoolWriter;

typedef struct {
  char *sender;             /* MAIL FROM address, "" for the null reverse path */
  GPtrArray *recipients;    /* of char*: RCPT TO addresses in order, as accepted */
  char *client_address;     /* "IP" of the client */
  char *helo;               /* EHLO/HELO name */
  char *session_id;         /* for logs */
  gboolean smtputf8;        /* SMTPUTF8 was given on MAIL */
  gboolean body_8bit;       /* BODY=8BITMIME was given on MAIL */
  RelaisDsnRet dsn_ret;     /* RET= on MAIL (RFC 3461) */
  char *dsn_envid;          /* ENVID= on MAIL, decoded; NULL when absent */
  GArray *dsn_notify;       /* of guint (RelaisDsnNotify flags), parallel to RECIPIENTS;
                             * missing entries are RELAIS_DSN_NOTIFY_UNSET */
  GPtrArray *dsn_orcpts;    /* of RelaisDsnOrcpt* (NULL: no ORCPT), parallel to RECIPIENTS;
                             * missing entries are NULL */
} RelaisEnvelope;

/* messages.flags */
enum {
  RELAIS_MESSAGE_FLAG_SMTPUTF8 = 1,   /* SMTPUTF8 was given on MAIL */
  RELAIS_MESSAGE_FLAG_8BITMIME = 2,   /* BODY=8BITMIME was given on MAIL */
};

/* Names of the empty files made in spool/msg ahead of the receptions (a
 * spare may also be a delivered message's file, under its old name: see
 * relais_queue_recycle_spool()). */
#define QUEUE_SPARE_PREFIX "spare-"

RelaisEnvelope *relais_envelope_new (void);
void            relais_envelope_free (RelaisEnvelope *envelope);

/* STATE_DIR/spool is created if needed. STORE and STATS are borrowed and must outlive the queue. */
RelaisQueue *relais_queue_new (RelaisStore *store, RelaisStats *stats, const char *state_dir, GError **error);
void         relais_queue_free (RelaisQueue *queue);

/* Takes back the files of interrupted receptions for reuse, counts the queue, and returns
 * how many messages are waiting for delivery. */
gboolean     relais_queue_recover (RelaisQueue *queue, guint *n_messages, GError **error);

RelaisSpoolWriter *relais_queue_begin (RelaisQueue *queue, GError **error);
const char  *relais_spool_writer_get_id (RelaisSpoolWriter *writer);   /* queue id, also used in logs */
gboolean     relais_spool_writer_write (RelaisSpoolWriter *writer, const void *data, gsize len, GError **error);
goffset      relais_spool_writer_get_size (RelaisSpoolWriter *writer);
/* Writes out what is buffered and returns the spool file's path, for a check
 * that reads the message (antivirus, DKIM); NULL + error after a write error. */
const char  *relais_spool_writer_sync (RelaisSpoolWriter *writer, GError **error);
/* Replaces the whole message with HEAD then DATA (header fields added or
 * removed by the content checks). Only while nothing else writes: the caller
 * waits for it. */
gboolean     relais_spool_writer_replace (RelaisSpoolWriter *writer, const void *head, gsize head_len,
                                          const void *data, gsize len, GError **error);
/* Drops a message that will not be accepted (size exceeded, too many hops, client gone). */
void         relais_spool_writer_abort (RelaisSpoolWriter *writer);

/* Free space the spool's file system must keep besides the messages, for
 * the database, its WAL and the logs. */
#define RELAIS_QUEUE_MIN_FREE (4 * 1024 * 1024)
/* Whether a message of SIZE octets (0: not announced) may be accepted: the
 * spool's file system has 1.5 times SIZE free on top of RELAIS_QUEUE_MIN_FREE
 * (TRUE when it cannot tell). */
gboolean     relais_queue_has_room (RelaisQueue *queue, guint64 size);
/* Whether ERROR (from the queue or the store) means the file system is full. */
gboolean     relais_queue_error_is_no_space (const GError *error);

/* Takes ownership of WRITER and ENVELOPE. CONFIG is the transaction's snapshot
 * (used to route recipients and expand forwarding addresses). */
void         relais_queue_commit_async (RelaisQueue *queue, RelaisSpoolWriter *writer,
                                        RelaisEnvelope *envelope, RelaisConfig *config,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean     relais_queue_commit_finish (RelaisQueue *queue, GAsyncResult *result, GError **error);

/* recipients.route */
enum {
  RELAIS_ROUTE_LOCAL = 0,     /* to a Maildir of this server */
  RELAIS_ROUTE_REMOTE = 1,    /* over SMTP */
};

/* One recipients row of a message just committed, position its index. */
typedef struct {
  char *address;
  char *original;             /* the RCPT TO it comes from, before aliases and forwards */
  gint route;                 /* RELAIS_ROUTE_LOCAL or RELAIS_ROUTE_REMOTE */
  char *mailbox;              /* login, local rows only */
  guint dsn_notify;           /* of the RCPT TO this row comes from */
  char *dsn_orcpt;            /* "type;address" of that RCPT TO, or NULL */
} RelaisQueuedRecipient;

/* A message just committed, as its rows say (not held, nothing tried yet). */
typedef struct {
  const char *id;
  const char *sender;
  gint64 received_usec;
  int flags;                  /* RELAIS_MESSAGE_FLAG_* */
  RelaisDsnRet dsn_ret;
  const char *dsn_envid;      /* or NULL */
  GPtrArray *recipients;      /* of RelaisQueuedRecipient* */
} RelaisQueuedMessage;

typedef void (*RelaisQueueCommittedFunc) (const RelaisQueuedMessage *message, gpointer user_data);

/* Called after each successful commit, so the scheduler can start delivering
 * at once without reading the rows back; MESSAGE is valid during the call,
 * which comes after the commit callback. */
void         relais_queue_set_committed_func (RelaisQueue *queue, RelaisQueueCommittedFunc func,
                                              gpointer user_data);

/* Whether a message to RECIPIENTS (RCPT TO addresses as accepted) would leave
 * the server under CONFIG: one of the rows it would be queued as is remote
 * (another domain, a forward, a remote external administrator). */
gboolean     relais_queue_routes_remote (const RelaisConfig *config, GPtrArray *recipients);

/* Path of queued message ID's spool file (for delivery): spool/msg/ID, or
 * the reused file its row names. */
char        *relais_queue_spool_path (RelaisQueue *queue, const char *id);

/* Drops a message for good: its rows (one transaction), then its spool file,
 * and counts it out of RELAIS_STAT_QUEUE_LENGTH. For the Queue D-Bus
 * "delete"; the scheduler uses the _async form, which never waits for the
 * disk on the main thread, once no delivery of the message is under way (its
 * file is recycled, see relais_queue_recycle_spool()).
 * RELAIS_ERROR_NOT_FOUND when it is not queued. */
gboolean     relais_queue_remove (RelaisQueue *queue, const char *id, GError **error);
void         relais_queue_remove_async (RelaisQueue *queue, const char *id,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean     relais_queue_remove_finish (RelaisQueue *queue, GAsyncResult *result, GError **error);

/* A write of the delivery side (outcomes, removals) done by the commit thread
 * in its next group transaction, in a savepoint of its own: FUNC runs there
 * with the database handle (the store's lock held) and DATA; AFTER (may be
 * NULL) runs there too once the transaction is durable, without the lock
 * (e.g. to unlink a spool file). DESTROY frees DATA. CALLBACK runs in the
 * main context; relais_queue_write_finish() returns FUNC's error, or the
 * transaction's. Writes are done in the order they are asked for. A
 * write waits up to 5 ms for messages to share its transaction and
 * fdatasync (until then other connections do not see it); AFTER and
 * CALLBACK run once it is durable. */
typedef gboolean (*RelaisQueueWriteFunc) (sqlite3 *db, gpointer data, GError **error);
typedef void     (*RelaisQueueAfterFunc) (RelaisQueue *queue, gpointer data);
void         relais_queue_write_async (RelaisQueue *queue, RelaisQueueWriteFunc func, RelaisQueueAfterFunc after,
                                       gpointer data, GDestroyNotify destroy,
                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean     relais_queue_write_finish (RelaisQueue *queue, GAsyncResult *result, GError **error);

/* For a write that ends a message itself (the scheduler's outcome record):
 * in its FUNC, relais_queue_drop_if_done() deletes the rows of message ID
 * when every recipient is delivered and none waits for a success notice
 * (*DROPPED tells); then, as relais_queue_remove_async() does, its AFTER
 * calls relais_queue_recycle_spool() (any thread: the file stays in
 * spool/msg as it is, for a later reception to reuse, or is deleted; only
 * once nothing reads it any more) and its callback relais_queue_count_removed()
 * (main thread: the queue counters; QueueOldest, a scan of the table, follows
 * within a second, once for however many removals). */
gboolean     relais_queue_drop_if_done (sqlite3 *db, const char *id, gboolean *dropped, GError **error);
void         relais_queue_recycle_spool (RelaisQueue *queue, const char *id);
void         relais_queue_count_removed (RelaisQueue *queue);

/* ---- administration (the Queue D-Bus interface) -------------------------
 * Main thread, through the store's lock like the rest. Every function taking
 * an ID fails with RELAIS_ERROR_INVALID_ARGUMENT when it is not a queue id and
 * RELAIS_ERROR_NOT_FOUND ("No message ID in the queue") when no such message
 * is queued. */

typedef enum {
  RELAIS_RECIPIENT_PENDING = 0,
  RELAIS_RECIPIENT_DELIVERED = 1,
  RELAIS_RECIPIENT_FAILED = 2,
} RelaisRecipientState;

typedef struct {
  char *address;            /* where it goes (after aliases and forwards) */
  char *original;           /* the RCPT TO it came from */
  RelaisRecipientState state;
  guint attempts;
  gint64 next_attempt;      /* Unix seconds; 0: never tried */
  char *last_reply;         /* "" before the first attempt */
} RelaisQueueRecipient;

typedef struct {
  char *id;
  char *sender;             /* "" for the null reverse path */
  guint64 size;             /* spool file bytes */
  gint64 received_at;       /* Unix seconds */
  char *client_address;     /* "" for our own notifications */
  char *helo;
  gboolean held;
  GPtrArray *pending;       /* of char*: addresses of the pending recipients */
  guint attempts;           /* the most attempts of any recipient */
  char *last_error;         /* the last reply of a recipient not delivered
                             * (pending ones first, then the most tried), "" */
  gint64 next_attempt;      /* the earliest attempt due for a pending recipient,
                             * never before received_at; 0 when held or none pending */
  GPtrArray *recipients;    /* of RelaisQueueRecipient*, by position: relais_queue_show() only */
  GBytes *headers;          /* header section, CRLF, at most RELAIS_QUEUE_MAX_HEADERS: show only */
} RelaisQueueEntry;

#define RELAIS_QUEUE_MAX_HEADERS (64 * 1024)

void              relais_queue_entry_free (RelaisQueueEntry *entry);

/* TRUE when ID has the form of a queue id (16 of 0-9 A-Z). */
gboolean          relais_queue_id_is_valid (const char *id);

/* Every queued message, oldest first: GPtrArray of RelaisQueueEntry*. */
GPtrArray        *relais_queue_list (RelaisQueue *queue, GError **error);
/* One message with its recipients and header section (read from the spool
 * file: if that fails the entry comes without headers, and a message says why). */
RelaisQueueEntry *relais_queue_show (RelaisQueue *queue, const char *id, GError **error);
/* The scheduler picks none of its recipients until it is released; a delivery
 * already under way finishes. Holding a held message changes nothing. */
gboolean          relais_queue_hold (RelaisQueue *queue, const char *id, GError **error);
/* Not held any more, and every pending recipient due at once (also for a
 * message that was not held). The caller kicks the scheduler. */
gboolean          relais_queue_release (RelaisQueue *queue, const char *id, GError **error);
/* Every pending recipient due at once. A held message is refused with
 * RELAIS_ERROR_FAILED: release it (which also retries it). The caller kicks
 * the scheduler. */
gboolean          relais_queue_retry_now (RelaisQueue *queue, const char *id, GError **error);
/* relais_queue_remove() for an administrator: no bounce is sent; logged. */
gboolean          relais_queue_delete (RelaisQueue *queue, const char *id, GError **error);

/* Bumped whenever a message enters or leaves the queue or changes state, so
 * that a reader can tell cheaply whether to look again. The scheduler calls
 * relais_queue_changed() after it records a delivery outcome. */
guint64           relais_queue_get_generation (RelaisQueue *queue);
void              relais_queue_changed (RelaisQueue *queue);

/* How many group commits (batches) the commit thread has run: for tests. */
guint        relais_queue_get_batch_count (RelaisQueue *queue);
/* How many new messages' files were synced and handed on to the commit
 * thread so far (for tests). */
guint        relais_queue_get_synced_count (RelaisQueue *queue);
/* Commits and writes asked for and not yet reported back to the main context. */
guint        relais_queue_get_outstanding (RelaisQueue *queue);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisEnvelope, relais_envelope_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisQueueEntry, relais_queue_entry_free)

G_END_DECLS
