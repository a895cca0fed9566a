/* SPDX-License-Identifier: GPL-3.0-or-later
 * The durable queue: spool files under STATE/spool plus rows in the store's
 * messages/recipients tables. A message is accepted in two steps:
 *   1. relais_queue_begin() opens STATE/spool/tmp/ID; the session streams the
 *      message (Received header first, line ends already CRLF, dots unstuffed)
 *      through relais_spool_writer_write();
 *   2. relais_queue_commit_async() moves it to the commit thread, which fsyncs
 *      the file, renames it to STATE/spool/msg/ID, fsyncs the directory and
 *      inserts the rows, batching every request that is waiting into one
 *      transaction (group commit). Only when the callback reports success may
 *      the session answer 250.
 * At start relais_queue_recover() removes tmp files and re-queues every row.
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

RelaisEnvelope *relais_envelope_new (void);
void            relais_envelope_free (RelaisEnvelope *envelope);

/* STATE_DIR/spool is created if needed. STORE and STATS are borrowed and must outlive the queue. */
RelaisQueue *relais_queue_new (RelaisStore *store, RelaisStats *stats, const char *state_dir, GError **error);
void         relais_queue_free (RelaisQueue *queue);

/* Deletes leftovers of interrupted receptions, counts the queue, and returns
 * how many messages are waiting for delivery. */
gboolean     relais_queue_recover (RelaisQueue *queue, guint *n_messages, GError **error);

RelaisSpoolWriter *relais_queue_begin (RelaisQueue *queue, GError **error);
const char  *relais_spool_writer_get_id (RelaisSpoolWriter *writer);   /* queue id, also used in logs */
gboolean     relais_spool_writer_write (RelaisSpoolWriter *writer, const void *data, gsize len, GError **error);
goffset      relais_spool_writer_get_size (RelaisSpoolWriter *writer);
/* Drops a message that will not be accepted (size exceeded, too many hops, client gone). */
void         relais_spool_writer_abort (RelaisSpoolWriter *writer);

/* Takes ownership of WRITER and ENVELOPE. CONFIG is the transaction's snapshot
 * (used to route recipients and expand forwarding addresses). */
void         relais_queue_commit_async (RelaisQueue *queue, RelaisSpoolWriter *writer,
                                        RelaisEnvelope *envelope, RelaisConfig *config,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean     relais_queue_commit_finish (RelaisQueue *queue, GAsyncResult *result, GError **error);

/* Emitted (via the callback set here) after each successful commit, so the
 * scheduler can start delivering at once. FUNC's first argument is the queue
 * id (const char *), valid during the call; it runs after the commit callback. */
void         relais_queue_set_committed_func (RelaisQueue *queue, GFunc func, gpointer user_data);

/* Whether a message to RECIPIENTS (RCPT TO addresses as accepted) would leave
 * the server under CONFIG: one of the rows it would be queued as is remote
 * (another domain, a forward, a remote external administrator). */
gboolean     relais_queue_routes_remote (const RelaisConfig *config, GPtrArray *recipients);

/* Path of a message's spool file (for delivery). */
char        *relais_queue_spool_path (RelaisQueue *queue, const char *id);

/* Drops a message for good: its rows (one transaction), then its spool file,
 * and counts it out of RELAIS_STAT_QUEUE_LENGTH. For the scheduler once every
 * recipient is done, and for the Queue D-Bus "delete". */
gboolean     relais_queue_remove (RelaisQueue *queue, const char *id, GError **error);

/* How many group commits (batches) the commit thread has run: for tests. */
guint        relais_queue_get_batch_count (RelaisQueue *queue);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisEnvelope, relais_envelope_free)

G_END_DECLS
