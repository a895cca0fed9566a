/* SPDX-License-Identifier: GPL-3.0-or-later
 * The durable queue: spool files (STATE/spool/msg) and the messages/recipients
 * rows of the store. A message's file is named by its id, or, when it reuses
 * the file of a delivered message (a spare: no new inode, no rename), its row
 * names it (spool_file) and QUEUE->files maps the id to it.
 * Invariant: a message has a row only if its spool/msg file was fsynced first,
 * under a durable name, and the session may answer 250 only once the row is
 * committed. One commit thread batches every waiting request into one SQL
 * transaction (group commit), after one directory fsync when the batch has new
 * files; the delivery side's writes (outcomes, removals:
 * relais_queue_write_async()) ride in the same transaction, so the main loop
 * never waits for the disk. The WAL is fsynced by the commit thread after it
 * lets go of the store's lock (synchronous=NORMAL for its own transactions,
 * then fdatasync of the -wal file: as durable as FULL, without holding up
 * the main thread's reads meanwhile). Callers: the SMTP session, the daemon,
 * the scheduler. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-queue.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "relais-bounce.h"
#include "relais-error.h"
#include "relais-log.h"

#define SPOOL_BUFFER_SIZE (64 * 1024)
#define QUEUE_ID_LENGTH   16

/* A local name for the statement type, so that our cleanup function cannot
 * clash with one the store might declare for sqlite3_stmt. */
typedef sqlite3_stmt RelaisQueueStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisQueueStmt, sqlite3_finalize)

struct _RelaisQueue {
  RelaisStore *store;
  RelaisStats *stats;
  char *spool_dir;
  char *tmp_dir;              /* never a message: the health check's files; emptied at start */
  char *msg_dir;
  int msg_dir_fd;

  /* Files of delivered messages kept in spool/msg under their name for the
   * next receptions (spares): creating a file costs ext4 far more (its inode
   * allocator) than overwriting one, and a rename as much again. Every spare
   * has a durable name (the directory was fsynced since it was made). Any
   * thread, under SPARE_LOCK. */
  GMutex spare_lock;
  GQueue spare;               /* of char*: names in spool/msg */
  GHashTable *files;          /* queued id -> its file's name, where not the id (under SPARE_LOCK) */
  gboolean refilling;         /* a refill of SPARE is under way (under SPARE_LOCK) */
  guint n_made;               /* spare files made so far, for their names (under SPARE_LOCK) */
  GThreadPool *spare_pool;    /* makes spare files when receptions outrun deliveries */

  GAsyncQueue *requests;      /* of CommitRequest*, to the commit thread */
  GThread *thread;
  GThreadPool *sync_pool;     /* fsyncs each new message file as soon as it is complete, in parallel */
  GMainContext *context;      /* where commit callbacks run */
  guint n_outstanding;        /* commits not yet reported back (main thread) */
  gint n_batches;             /* atomic, for tests */
  gint n_synced;              /* atomic, for tests */

  gint64 last_id_time;
  guint64 generation;         /* see relais_queue_get_generation() */
  guint oldest_id;            /* RELAIS_STAT_QUEUE_OLDEST due again (main thread) */
  RelaisQueueCommittedFunc committed_func;
  gpointer committed_data;

  /* commit thread only: its connection (relais_store_open_writer(); NULL:
   * the shared one, under the store's lock), our own descriptor of the
   * database's -wal file */
  sqlite3 *writer;
  int wal_fd;
  char *wal_path;
  /* commit thread only: the requests of its next transaction, writes alone
   * so far (see commit_thread_func()) */
  GPtrArray *pending;
  gint64 pending_since;       /* monotonic time of the first of them */
};

/* How long writes alone may wait for messages to share their transaction
 * (and its fdatasync) before they have one of their own. */
#define COMMIT_WRITES_WAIT_USEC (5 * 1000)

/* How often RELAIS_STAT_QUEUE_OLDEST is looked up again while deliveries
 * remove messages (queue_count_removed()). */
#define QUEUE_OLDEST_DELAY_MS 1000

struct _RelaisSpoolWriter {
  RelaisQueue *queue;
  char *id;
  char *file;                 /* its name in spool/msg: the id, or a spare's */
  char *path;
  gboolean created;           /* made for this message: its name is not durable before the batch's directory fsync */
  int fd;
  gboolean failed;            /* a write failed: the message cannot be committed */
  goffset size;
  goffset stale_size;         /* a reused spare's old size: what lies beyond SIZE is not ours */
  gsize len;
  char *buf;                  /* SPOOL_BUFFER_SIZE */
};

/* One recipients row to insert. */
typedef RelaisQueuedRecipient QueueRoute;

typedef struct {
  RelaisQueue *queue;
  RelaisSpoolWriter *writer;
  RelaisEnvelope *envelope;
  GPtrArray *routes;          /* of QueueRoute* */
  gint64 received_usec;       /* unix time */
  GAsyncReadyCallback callback;
  gpointer user_data;
  GTask *task;
  /* or, with WRITER NULL, a write of relais_queue_write_async() */
  RelaisQueueWriteFunc write;
  RelaisQueueAfterFunc after;
  gpointer write_data;
  GDestroyNotify write_destroy;
  /* commit thread only */
  GError *error;
  gboolean staged;            /* in this batch's transaction: file synced, or a write */
} CommitRequest;

/* Pushed by relais_queue_free(): the commit thread finishes what was queued
 * before it, then exits. */
static CommitRequest stop_request;

RelaisEnvelope *
relais_envelope_new (void)
{
  RelaisEnvelope *envelope = g_new0 (RelaisEnvelope, 1);

  envelope->recipients = g_ptr_array_new_with_free_func (g_free);
  envelope->dsn_notify = g_array_new (FALSE, FALSE, sizeof (guint));
  envelope->dsn_orcpts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dsn_orcpt_free);
  return envelope;
}

void
relais_envelope_free (RelaisEnvelope *envelope)
{
  if (envelope == NULL)
    return;
  g_free (envelope->sender);
  g_clear_pointer (&envelope->recipients, g_ptr_array_unref);
  g_free (envelope->client_address);
  g_free (envelope->helo);
  g_free (envelope->session_id);
  g_free (envelope->dsn_envid);
  g_clear_pointer (&envelope->dsn_notify, g_array_unref);
  g_clear_pointer (&envelope->dsn_orcpts, g_ptr_array_unref);
  g_free (envelope);
}

/* messages.flags of ENVELOPE */
static int
message_flags (const RelaisEnvelope *envelope)
{
  return (envelope->smtputf8 ? RELAIS_MESSAGE_FLAG_SMTPUTF8 : 0) |
         (envelope->body_8bit ? RELAIS_MESSAGE_FLAG_8BITMIME : 0);
}

static void
queue_route_free (QueueRoute *route)
{
  g_free (route->address);
  g_free (route->original);
  g_free (route->mailbox);
  g_free (route->dsn_orcpt);
  g_free (route);
}

static void
spool_writer_free (RelaisSpoolWriter *writer)
{
  if (writer->fd >= 0)
    close (writer->fd);
  g_free (writer->id);
  g_free (writer->file);
  g_free (writer->path);
  g_free (writer->buf);
  g_free (writer);
}

static void
commit_request_free (CommitRequest *request)
{
  if (request->writer != NULL)
    spool_writer_free (request->writer);
  relais_envelope_free (request->envelope);
  g_clear_pointer (&request->routes, g_ptr_array_unref);
  if (request->write_destroy != NULL)
    request->write_destroy (request->write_data);
  g_clear_error (&request->error);
  g_free (request);
}

static void
set_errno_error (GError **error, int errsv, const char *what, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s %s: %s",
               what, path, g_strerror (errsv));
}

static gboolean
fsync_path (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int errsv;

  if (fd < 0)
    {
      set_errno_error (error, errno, "Cannot open", path);
      return FALSE;
    }
  if (fsync (fd) < 0)
    {
      errsv = errno;
      close (fd);
      set_errno_error (error, errsv, "Cannot fsync", path);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static void make_spares_func (gpointer data, gpointer user_data);

RelaisQueue *
relais_queue_new (RelaisStore *store, RelaisStats *stats, const char *state_dir, GError **error)
{
  g_autofree char *spool_dir = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autofree char *msg_dir = NULL;
  RelaisQueue *self;
  int fd;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (state_dir != NULL, NULL);

  spool_dir = g_build_filename (state_dir, "spool", NULL);
  tmp_dir = g_build_filename (spool_dir, "tmp", NULL);
  msg_dir = g_build_filename (spool_dir, "msg", NULL);
  if (g_mkdir_with_parents (tmp_dir, 0700) < 0)
    {
      set_errno_error (error, errno, "Cannot create", tmp_dir);
      return NULL;
    }
  if (g_mkdir_with_parents (msg_dir, 0700) < 0)
    {
      set_errno_error (error, errno, "Cannot create", msg_dir);
      return NULL;
    }
  if (!fsync_path (spool_dir, error) || !fsync_path (state_dir, error))
    return NULL;
  fd = open (msg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      set_errno_error (error, errno, "Cannot open", msg_dir);
      return NULL;
    }

  self = g_new0 (RelaisQueue, 1);
  self->store = store;
  self->stats = stats;
  self->spool_dir = g_steal_pointer (&spool_dir);
  self->tmp_dir = g_steal_pointer (&tmp_dir);
  self->msg_dir = g_steal_pointer (&msg_dir);
  self->msg_dir_fd = fd;
  g_mutex_init (&self->spare_lock);
  g_queue_init (&self->spare);
  self->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->spare_pool = g_thread_pool_new (make_spares_func, NULL, 1, FALSE, NULL);
  self->context = g_main_context_ref_thread_default ();
  self->requests = g_async_queue_new ();
  self->wal_fd = -1;
  self->pending = g_ptr_array_new ();
  return self;
}

static gpointer commit_thread_func (gpointer data);
static void sync_file_func (gpointer data, gpointer user_data);

/* Keeps up to this many spare files for reuse; when fewer than
 * QUEUE_SPARE_LOW are left, a thread makes new ones up to QUEUE_SPARE_MADE,
 * so that the main loop never waits for the file system's inode allocator. */
#define QUEUE_SPARE_FILES 1024
#define QUEUE_SPARE_LOW   16
#define QUEUE_SPARE_MADE  64
#define QUEUE_SPARE_MAX_SIZE (1024 * 1024)   /* bytes: bigger files are deleted, not kept */

/* Files are fsynced by several threads at once: the file system then makes
 * them durable together (ext4 joins concurrent fsyncs into one journal
 * commit), where one thread would wait for each in turn. */
#define QUEUE_SYNC_THREADS 16

static void
queue_ensure_thread (RelaisQueue *self)
{
  if (self->thread == NULL)
    {
      self->thread = g_thread_new ("relais-commit", commit_thread_func, self);
      self->sync_pool = g_thread_pool_new (sync_file_func, self, QUEUE_SYNC_THREADS, FALSE, NULL);
    }
}

/* The spare pool's thread: new empty files in spool/msg up to
 * QUEUE_SPARE_MADE, offered once the directory's fsync made their names
 * durable (a reception reusing one does not sync the directory again). */
static void
make_spares_func (gpointer data, gpointer user_data)
{
  RelaisQueue *self = data;
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  guint wanted;

  g_mutex_lock (&self->spare_lock);
  wanted = self->spare.length < QUEUE_SPARE_MADE ? QUEUE_SPARE_MADE - self->spare.length : 0;
  g_mutex_unlock (&self->spare_lock);

  while (made->len < wanted)
    {
      g_autofree char *name = NULL;
      int fd;

      g_mutex_lock (&self->spare_lock);
      name = g_strdup_printf (QUEUE_SPARE_PREFIX "%u", self->n_made++);
      g_mutex_unlock (&self->spare_lock);
      fd = openat (self->msg_dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0)
        break;              /* the receptions make their own files meanwhile */
      close (fd);
      g_ptr_array_add (made, g_steal_pointer (&name));
    }
  if (made->len > 0 && fsync (self->msg_dir_fd) < 0)
    {
      for (guint i = 0; i < made->len; i++)
        unlinkat (self->msg_dir_fd, g_ptr_array_index (made, i), 0);
      g_ptr_array_set_size (made, 0);
    }
  g_mutex_lock (&self->spare_lock);
  for (guint i = 0; i < made->len; i++)
    g_queue_push_tail (&self->spare, g_steal_pointer (&g_ptr_array_index (made, i)));
  self->refilling = FALSE;
  g_mutex_unlock (&self->spare_lock);
}

void
relais_queue_free (RelaisQueue *queue)
{
  if (queue == NULL)
    return;

  if (queue->thread != NULL)
    {
      /* the files being synced reach the commit thread before it stops */
      g_thread_pool_free (queue->sync_pool, FALSE, TRUE);
      g_async_queue_push (queue->requests, &stop_request);
      g_thread_join (queue->thread);
    }
  /* Every request has been answered by now: deliver those answers, so that no
   * callback is left pointing at a freed queue. */
  while (queue->n_outstanding > 0)
    g_main_context_iteration (queue->context, TRUE);

  g_async_queue_unref (queue->requests);
  if (queue->oldest_id != 0)
    g_source_destroy (g_main_context_find_source_by_id (queue->context, queue->oldest_id));
  g_main_context_unref (queue->context);
  g_thread_pool_free (queue->spare_pool, FALSE, TRUE);
  close (queue->msg_dir_fd);
  g_queue_clear_full (&queue->spare, g_free);
  g_hash_table_unref (queue->files);
  g_mutex_clear (&queue->spare_lock);
  if (queue->wal_fd >= 0)
    close (queue->wal_fd);
  g_ptr_array_unref (queue->pending);
  g_free (queue->wal_path);
  g_free (queue->spool_dir);
  g_free (queue->tmp_dir);
  g_free (queue->msg_dir);
  g_free (queue);
}

char *
relais_queue_spool_path (RelaisQueue *queue, const char *id)
{
  const char *file;
  char *path;

  g_return_val_if_fail (queue != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  g_mutex_lock (&queue->spare_lock);
  file = g_hash_table_lookup (queue->files, id);
  path = g_build_filename (queue->msg_dir, file != NULL ? file : id, NULL);
  g_mutex_unlock (&queue->spare_lock);
  return path;
}

/* The name of queued message ID's file, no longer mapped: the message is
 * gone (its file is being removed or recycled). */
static char *
queue_take_file (RelaisQueue *queue, const char *id)
{
  gpointer key = NULL;
  gpointer file = NULL;

  g_mutex_lock (&queue->spare_lock);
  if (g_hash_table_steal_extended (queue->files, id, &key, &file))
    g_free (key);
  else
    file = g_strdup (id);
  g_mutex_unlock (&queue->spare_lock);
  return file;
}

static void
queue_unlink_file (RelaisQueue *queue, const char *file)
{
  if (unlinkat (queue->msg_dir_fd, file, 0) < 0 && errno != ENOENT)
    g_info ("Cannot remove queue file %s/%s: %s", queue->msg_dir, file, g_strerror (errno));
}

/* Removes the file of queued message ID (gone from the store). */
static void
queue_unlink_spool (RelaisQueue *queue, const char *id)
{
  g_autofree char *file = queue_take_file (queue, id);

  queue_unlink_file (queue, file);
}

/* FILE, of a message no longer queued, kept as it is for a reception to
 * reuse, unless there are enough or it is big: a big one would cost the
 * reception that reuses it the freeing of its blocks (spool_writer_trim(),
 * on the main loop), so it goes here, on this thread. */
static void
queue_keep_spare (RelaisQueue *queue, const char *file)
{
  gboolean kept = FALSE;
  struct stat st;

  if (fstatat (queue->msg_dir_fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode) &&
      st.st_size <= QUEUE_SPARE_MAX_SIZE)
    {
      g_mutex_lock (&queue->spare_lock);
      if (queue->spare.length < QUEUE_SPARE_FILES)
        {
          /* first in line: its pages are the likeliest to be in memory still */
          g_queue_push_head (&queue->spare, g_strdup (file));
          kept = TRUE;
        }
      g_mutex_unlock (&queue->spare_lock);
    }
  if (!kept)
    queue_unlink_file (queue, file);
}

/* Commit thread: the messages of BATCH about to be committed in a reused
 * file are found by their id from now on (their rows name the file too). */
static void
queue_map_files (RelaisQueue *self, GPtrArray *batch)
{
  g_mutex_lock (&self->spare_lock);
  for (guint i = 0; i < batch->len; i++)
    {
      CommitRequest *request = g_ptr_array_index (batch, i);

      if (request->writer != NULL && request->staged && request->error == NULL && !request->writer->created)
        g_hash_table_insert (self->files, g_strdup (request->writer->id), g_strdup (request->writer->file));
    }
  g_mutex_unlock (&self->spare_lock);
}

void
relais_queue_set_committed_func (RelaisQueue *queue, RelaisQueueCommittedFunc func, gpointer user_data)
{
  g_return_if_fail (queue != NULL);

  queue->committed_func = func;
  queue->committed_data = user_data;
}

guint
relais_queue_get_batch_count (RelaisQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);

  return (guint) g_atomic_int_get (&queue->n_batches);
}

guint
relais_queue_get_synced_count (RelaisQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);

  return (guint) g_atomic_int_get (&queue->n_synced);
}

guint
relais_queue_get_outstanding (RelaisQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);

  return queue->n_outstanding;
}

/* ---- queue ids ---------------------------------------------------------- */

static const char id_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* 10 base-36 digits of microseconds since the epoch (enough until 2085), made
 * strictly increasing within the process, then 6 random digits: ids sort by
 * reception time and never repeat. */
static char *
queue_make_id (RelaisQueue *self)
{
  char id[QUEUE_ID_LENGTH + 1];
  gint64 now = g_get_real_time ();
  guint64 value;

  if (now <= self->last_id_time)
    now = self->last_id_time + 1;
  self->last_id_time = now;

  value = (guint64) now;
  for (int i = 9; i >= 0; i--)
    {
      id[i] = id_digits[value % 36];
      value /= 36;
    }
  for (int i = 10; i < QUEUE_ID_LENGTH; i++)
    id[i] = id_digits[g_random_int_range (0, 36)];
  id[QUEUE_ID_LENGTH] = '\0';
  return g_strdup (id);
}

/* The time ID was made at (its first ten digits, base 36), or -1. */
static gint64
queue_id_time (const char *id)
{
  guint64 value = 0;

  if (id == NULL)
    return -1;
  for (int i = 0; i < 10; i++)
    {
      const char *digit = id[i] != '\0' ? strchr (id_digits, id[i]) : NULL;

      if (digit == NULL)
        return -1;
      value = value * 36 + (guint64) (digit - id_digits);
    }
  return (gint64) MIN (value, (guint64) G_MAXINT64);
}

/* ---- spool writer ------------------------------------------------------- */

RelaisSpoolWriter *
relais_queue_begin (RelaisQueue *queue, GError **error)
{
  g_return_val_if_fail (queue != NULL, NULL);

  for (guint tries = 0; tries < 8; tries++)
    {
      g_autofree char *id = queue_make_id (queue);
      g_autofree char *file = NULL;
      g_autofree char *path = NULL;
      RelaisSpoolWriter *writer;
      goffset stale_size = 0;
      struct stat st;
      int fd = -1;

      g_mutex_lock (&queue->spare_lock);
      file = g_queue_pop_head (&queue->spare);
      if (queue->spare.length < QUEUE_SPARE_LOW && !queue->refilling && queue->spare_pool != NULL)
        {
          queue->refilling = TRUE;
          g_thread_pool_push (queue->spare_pool, queue, NULL);
        }
      g_mutex_unlock (&queue->spare_lock);
      if (file != NULL)
        {
          path = g_build_filename (queue->msg_dir, file, NULL);
          /* Only ever a regular file of ours, but never blocked on anything
           * else. Not truncated: the new message overwrites the old one's
           * blocks, which costs less than freeing them here and allocating
           * new ones; whatever is left beyond it goes before anyone reads
           * or syncs the file (spool_writer_trim()). */
          fd = open (path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
          if (fd >= 0 && (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)))
            {
              close (fd);
              fd = -1;
            }
          if (fd >= 0)
            stale_size = st.st_size;
          else
            {
              g_unlink (path);
              g_clear_pointer (&path, g_free);
              g_clear_pointer (&file, g_free);
            }
        }
      if (fd < 0)
        {
          /* No queued message has this id: ids are made from a clock that
           * only goes forward from the newest queued one
           * (relais_queue_recover()), and a spare that has it is refused. */
          path = g_build_filename (queue->msg_dir, id, NULL);
          fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
          if (fd < 0)
            {
              if (errno == EEXIST)
                continue;
              set_errno_error (error, errno, "Cannot create spool file", path);
              return NULL;
            }
        }

      writer = g_new0 (RelaisSpoolWriter, 1);
      writer->queue = queue;
      writer->created = file == NULL;
      writer->file = file != NULL ? g_steal_pointer (&file) : g_strdup (id);
      writer->id = g_steal_pointer (&id);
      writer->path = g_steal_pointer (&path);
      writer->fd = fd;
      writer->stale_size = stale_size;
      writer->buf = g_malloc (SPOOL_BUFFER_SIZE);
      return writer;
    }

  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "Cannot find a free queue id");
  return NULL;
}

const char *
relais_spool_writer_get_id (RelaisSpoolWriter *writer)
{
  g_return_val_if_fail (writer != NULL, NULL);

  return writer->id;
}

goffset
relais_spool_writer_get_size (RelaisSpoolWriter *writer)
{
  g_return_val_if_fail (writer != NULL, 0);

  return writer->size;
}

static gboolean
spool_writer_flush (RelaisSpoolWriter *writer, GError **error)
{
  const char *data = writer->buf;
  gsize len = writer->len;

  if (writer->failed)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE,
                   "Spool file %s had a write error", writer->id);
      return FALSE;
    }
  while (len > 0)
    {
      ssize_t n = write (writer->fd, data, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          writer->failed = TRUE;
          set_errno_error (error, errno, "Cannot write spool file", writer->path);
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  writer->len = 0;
  return TRUE;
}

/* Cuts a reused spare's old content beyond what was written. */
static gboolean
spool_writer_trim (RelaisSpoolWriter *writer, GError **error)
{
  if (writer->stale_size <= writer->size)
    return TRUE;
  if (ftruncate (writer->fd, writer->size) < 0)
    {
      writer->failed = TRUE;
      set_errno_error (error, errno, "Cannot truncate spool file", writer->path);
      return FALSE;
    }
  writer->stale_size = writer->size;
  return TRUE;
}

gboolean
relais_spool_writer_write (RelaisSpoolWriter *writer, const void *data, gsize len, GError **error)
{
  const char *p = data;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (writer->failed)
    return spool_writer_flush (writer, error);

  while (len > 0)
    {
      gsize n = MIN (len, SPOOL_BUFFER_SIZE - writer->len);

      memcpy (writer->buf + writer->len, p, n);
      writer->len += n;
      writer->size += (goffset) n;
      p += n;
      len -= n;
      if (writer->len == SPOOL_BUFFER_SIZE && !spool_writer_flush (writer, error))
        return FALSE;
    }
  return TRUE;
}

const char *
relais_spool_writer_sync (RelaisSpoolWriter *writer, GError **error)
{
  g_return_val_if_fail (writer != NULL, NULL);

  if (!spool_writer_flush (writer, error) || !spool_writer_trim (writer, error))
    return NULL;
  return writer->path;
}

gboolean
relais_spool_writer_replace (RelaisSpoolWriter *writer, const void *head, gsize head_len, const void *data,
                             gsize len, GError **error)
{
  g_return_val_if_fail (writer != NULL, FALSE);

  if (!spool_writer_flush (writer, error))
    return FALSE;
  if (ftruncate (writer->fd, 0) < 0 || lseek (writer->fd, 0, SEEK_SET) < 0)
    {
      int saved = errno;

      writer->failed = TRUE;
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "Cannot rewrite spool file %s: %s",
                   writer->id, g_strerror (saved));
      return FALSE;
    }
  writer->size = writer->stale_size = 0;
  return relais_spool_writer_write (writer, head, head_len, error) &&
         relais_spool_writer_write (writer, data, len, error) && spool_writer_flush (writer, error);
}

void
relais_spool_writer_abort (RelaisSpoolWriter *writer)
{
  if (writer == NULL)
    return;
  /* A spare goes back to the others, unless it holds what a write failed on
   * (the disk may be full); a new file might not keep its name through a
   * power cut. */
  if (writer->failed || writer->created)
    g_unlink (writer->path);
  else
    queue_keep_spare (writer->queue, writer->file);
  spool_writer_free (writer);
}

gboolean
relais_queue_has_room (RelaisQueue *queue, guint64 size)
{
  struct statvfs fs;

  g_return_val_if_fail (queue != NULL, TRUE);

  if (statvfs (queue->spool_dir, &fs) < 0)
    return TRUE;
  return (guint64) fs.f_bavail * fs.f_frsize >= size + size / 2 + RELAIS_QUEUE_MIN_FREE;
}

gboolean
relais_queue_error_is_no_space (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE) ||
         g_error_matches (error, RELAIS_ERROR, RELAIS_ERROR_NO_SPACE);
}

/* ---- routing ------------------------------------------------------------ */

static gboolean
route_seen (GPtrArray *routes, gint route, const char *key)
{
  for (guint i = 0; i < routes->len; i++)
    {
      QueueRoute *r = g_ptr_array_index (routes, i);

      if (r->route != route)
        continue;
      if (route == RELAIS_ROUTE_LOCAL ? g_strcmp0 (r->mailbox, key) == 0
                                      : g_ascii_strcasecmp (r->address, key) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The DSN request of one RCPT TO, which every row it leads to inherits. */
typedef struct {
  guint notify;
  const char *orcpt;          /* "type;address" or NULL */
} QueueDsn;

static void
route_add (GPtrArray *routes, gint route, const char *address, const char *original,
           const char *mailbox, const QueueDsn *dsn)
{
  QueueRoute *r;

  /* One delivery per mailbox and per remote address, however many of the
   * message's recipients lead there. */
  if (route_seen (routes, route, route == RELAIS_ROUTE_LOCAL ? mailbox : address))
    return;
  r = g_new0 (QueueRoute, 1);
  r->address = g_strdup (address);
  r->original = g_strdup (original);
  r->route = route;
  r->mailbox = g_strdup (mailbox);
  r->dsn_notify = dsn->notify;
  r->dsn_orcpt = g_strdup (dsn->orcpt);
  g_ptr_array_add (routes, r);
}

/* ADDRESS, which RCPT TO named as ORIGINAL, owned by ACCOUNT: the local copy,
 * then (unless auto-forwarding is disabled) one row per forwarding address.
 * The local copy is always kept: forwarding adds copies, it never moves the
 * mail away. A forwarding address owned by an account here is delivered to
 * that mailbox directly (not sent out to our own MX), without following its
 * forwards in turn, so forwards can never loop. */
static void
route_account (GPtrArray *routes, const RelaisConfig *config, const RelaisAccount *account,
               const char *address, const char *original, const QueueDsn *dsn)
{
  route_add (routes, RELAIS_ROUTE_LOCAL, address, original, account->login, dsn);
  if (config->disable_auto_forward || account->forwards == NULL)
    return;
  for (guint i = 0; account->forwards[i] != NULL; i++)
    {
      const char *forward = account->forwards[i];
      const RelaisAccount *target = relais_config_lookup_address (config, forward);

      if (target != NULL)
        route_add (routes, RELAIS_ROUTE_LOCAL, forward, original, target->login, dsn);
      else
        route_add (routes, RELAIS_ROUTE_REMOTE, forward, original, NULL, dsn);
    }
}

static gboolean
is_admin_local_part (const char *local_part, gsize len)
{
  return (len == strlen ("postmaster") && g_ascii_strncasecmp (local_part, "postmaster", len) == 0) ||
         (len == strlen ("mailer-daemon") && g_ascii_strncasecmp (local_part, "mailer-daemon", len) == 0);
}

/* Where each RCPT TO goes, with CONFIG the transaction's snapshot:
 *  - postmaster@ / mailer-daemon@ a local domain (or bare "postmaster"), when
 *    ExternalAdministrators is set: each administrator (a local account's
 *    mailbox if one owns the address, else remote);
 *  - an address an account owns: its mailbox, plus its forwards;
 *  - any other address in a local domain: a local row without mailbox, which
 *    the scheduler fails permanently (the session should not have accepted it);
 *  - anything else: remote. */
static GPtrArray *
queue_route_recipients (const RelaisConfig *config, const RelaisEnvelope *envelope)
{
  GPtrArray *routes = g_ptr_array_new_with_free_func ((GDestroyNotify) queue_route_free);
  GPtrArray *recipients = envelope->recipients;

  for (guint i = 0; i < recipients->len; i++)
    {
      const char *rcpt = g_ptr_array_index (recipients, i);
      const RelaisDsnOrcpt *orcpt = envelope->dsn_orcpts != NULL && i < envelope->dsn_orcpts->len
                                    ? g_ptr_array_index (envelope->dsn_orcpts, i) : NULL;
      g_autofree char *orcpt_text = orcpt != NULL ? relais_dsn_orcpt_to_string (orcpt) : NULL;
      QueueDsn dsn = {
        envelope->dsn_notify != NULL && i < envelope->dsn_notify->len
          ? g_array_index (envelope->dsn_notify, guint, i) : RELAIS_DSN_NOTIFY_UNSET,
        orcpt_text,
      };
      const char *at = strrchr (rcpt, '@');
      g_autofree char *domain = at != NULL ? g_ascii_strdown (at + 1, -1) : NULL;
      gboolean local_domain = domain != NULL && relais_config_is_local_domain (config, domain);
      gboolean admin = at != NULL ? local_domain && is_admin_local_part (rcpt, (gsize) (at - rcpt))
                                  : g_ascii_strcasecmp (rcpt, "postmaster") == 0;
      const RelaisAccount *account;

      if (admin && config->external_administrators != NULL && config->external_administrators[0] != NULL)
        {
          for (guint j = 0; config->external_administrators[j] != NULL; j++)
            {
              const char *administrator = config->external_administrators[j];
              const RelaisAccount *owner = relais_config_lookup_address (config, administrator);

              if (owner != NULL)
                route_account (routes, config, owner, administrator, rcpt, &dsn);
              else
                route_add (routes, RELAIS_ROUTE_REMOTE, administrator, rcpt, NULL, &dsn);
            }
          continue;
        }

      account = local_domain ? relais_config_lookup_address (config, rcpt) : NULL;
      if (account != NULL)
        route_account (routes, config, account, rcpt, rcpt, &dsn);
      else if (local_domain || at == NULL)
        {
          QueueRoute *r = g_new0 (QueueRoute, 1);

          r->address = g_strdup (rcpt);
          r->original = g_strdup (rcpt);
          r->route = RELAIS_ROUTE_LOCAL;
          r->dsn_notify = dsn.notify;
          r->dsn_orcpt = g_strdup (dsn.orcpt);
          g_ptr_array_add (routes, r);
        }
      else
        route_add (routes, RELAIS_ROUTE_REMOTE, rcpt, rcpt, NULL, &dsn);
    }
  return routes;
}

gboolean
relais_queue_routes_remote (const RelaisConfig *config, GPtrArray *recipients)
{
  RelaisEnvelope envelope = { 0 };
  g_autoptr(GPtrArray) routes = NULL;

  g_return_val_if_fail (config != NULL && recipients != NULL, FALSE);

  envelope.recipients = recipients;
  routes = queue_route_recipients (config, &envelope);
  for (guint i = 0; i < routes->len; i++)
    if (((QueueRoute *) g_ptr_array_index (routes, i))->route == RELAIS_ROUTE_REMOTE)
      return TRUE;
  return FALSE;
}

/* ---- commit ------------------------------------------------------------- */

/* A request whose task reports to DONE (in the main context), tagged TAG,
 * and then to CALLBACK; counted until it is reported. */
static CommitRequest *
commit_request_new (RelaisQueue *queue, GAsyncReadyCallback done, gpointer tag,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  CommitRequest *request = g_new0 (CommitRequest, 1);

  request->queue = queue;
  request->callback = callback;
  request->user_data = user_data;
  request->task = g_task_new (NULL, NULL, done, NULL);
  g_task_set_source_tag (request->task, tag);
  g_task_set_task_data (request->task, request, (GDestroyNotify) commit_request_free);
  queue->n_outstanding++;
  return request;
}

static void
commit_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CommitRequest *request = g_task_get_task_data (G_TASK (result));
  RelaisQueue *self = request->queue;
  gboolean ok = !g_task_had_error (G_TASK (result));
  g_autofree char *id = g_strdup (request->writer->id);

  g_assert (self->n_outstanding > 0);
  self->n_outstanding--;
  if (ok && self->stats != NULL)
    {
      guint64 oldest = relais_stats_get (self->stats, RELAIS_STAT_QUEUE_OLDEST);

      relais_stats_add (self->stats, RELAIS_STAT_QUEUE_LENGTH, 1);
      if (oldest == 0 || (gint64) oldest > request->received_usec / G_USEC_PER_SEC)
        relais_stats_set (self->stats, RELAIS_STAT_QUEUE_OLDEST, request->received_usec / G_USEC_PER_SEC);
    }
  if (ok)
    relais_queue_changed (self);
  if (request->callback != NULL)
    request->callback (NULL, result, request->user_data);
  if (ok && self->committed_func != NULL)
    {
      RelaisEnvelope *envelope = request->envelope;
      RelaisQueuedMessage message = {
        .id = id,
        .sender = envelope->sender,
        .received_usec = request->received_usec,
        .flags = message_flags (envelope),
        .dsn_ret = envelope->dsn_ret,
        .dsn_envid = envelope->dsn_envid,
        .recipients = request->routes,
      };

      self->committed_func (&message, self->committed_data);
    }
}

void
relais_queue_commit_async (RelaisQueue *queue, RelaisSpoolWriter *writer,
                           RelaisEnvelope *envelope, RelaisConfig *config,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  CommitRequest *request;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (queue != NULL);
  g_return_if_fail (writer != NULL);
  g_return_if_fail (envelope != NULL && envelope->sender != NULL && envelope->recipients != NULL);
  g_return_if_fail (config != NULL);

  request = commit_request_new (queue, commit_done_cb, relais_queue_commit_async, callback, user_data);
  request->writer = writer;
  request->envelope = envelope;
  request->received_usec = g_get_real_time ();
  request->routes = queue_route_recipients (config, envelope);

  if (!spool_writer_flush (writer, &error))
    {
      g_unlink (writer->path);
      g_task_return_error (request->task, g_steal_pointer (&error));
      g_clear_object (&request->task);
      return;
    }

  queue_ensure_thread (queue);
  g_thread_pool_push (queue->sync_pool, request, NULL);
}

gboolean
relais_queue_commit_finish (RelaisQueue *queue, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_queue_commit_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
write_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CommitRequest *request = g_task_get_task_data (G_TASK (result));
  RelaisQueue *self = request->queue;

  g_assert (self->n_outstanding > 0);
  self->n_outstanding--;
  if (request->callback != NULL)
    request->callback (NULL, result, request->user_data);
}

void
relais_queue_write_async (RelaisQueue *queue, RelaisQueueWriteFunc func, RelaisQueueAfterFunc after,
                          gpointer data, GDestroyNotify destroy,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  CommitRequest *request;

  g_return_if_fail (queue != NULL);
  g_return_if_fail (func != NULL);

  request = commit_request_new (queue, write_done_cb, relais_queue_write_async, callback, user_data);
  request->write = func;
  request->after = after;
  request->write_data = data;
  request->write_destroy = destroy;
  queue_ensure_thread (queue);
  g_async_queue_push (queue->requests, request);
}

gboolean
relais_queue_write_finish (RelaisQueue *queue, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_queue_write_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* A sync thread: makes the file's content durable (a new file's name is made
 * durable by the commit thread, one directory fsync for its batch). */
static gboolean
commit_sync_file (CommitRequest *request, GError **error)
{
  RelaisSpoolWriter *writer = request->writer;
  int fd = writer->fd;
  int errsv;
  /* fdatasync: the data and what it takes to read it back (size, blocks). */
  gboolean trimmed = spool_writer_trim (writer, error);

  writer->fd = -1;
  if (!trimmed)
    {
      close (fd);
      return FALSE;
    }
  if (fdatasync (fd) < 0)
    {
      errsv = errno;
      close (fd);
      set_errno_error (error, errsv, "Cannot fsync", writer->path);
      return FALSE;
    }
  if (close (fd) < 0)
    {
      set_errno_error (error, errno, "Cannot close", writer->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
exec_sql (sqlite3 *db, const char *sql, GError **error)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, sql, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
commit_insert_rows (sqlite3 *db, CommitRequest *request, GError **error)
{
  RelaisEnvelope *envelope = request->envelope;
  g_autoptr(RelaisCachedStmt) msg = NULL;
  g_autoptr(RelaisCachedStmt) rcpt = NULL;
  int flags = message_flags (envelope);

  msg = relais_store_cached (db,
                             "INSERT INTO messages (id, sender, size, received_at, client_address, helo, flags, "
                             "dsn_ret, dsn_envid, received_usec, spool_file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (msg == NULL)
    return FALSE;
  rcpt = relais_store_cached (db,
                              "INSERT INTO recipients (message_id, position, address, original, route, mailbox, "
                              "dsn_notify, dsn_orcpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (rcpt == NULL)
    return FALSE;

  sqlite3_bind_text (msg, 1, request->writer->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (msg, 2, envelope->sender, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (msg, 3, request->writer->size);
  sqlite3_bind_int64 (msg, 4, request->received_usec / G_USEC_PER_SEC);
  sqlite3_bind_text (msg, 5, envelope->client_address != NULL ? envelope->client_address : "", -1, SQLITE_STATIC);
  sqlite3_bind_text (msg, 6, envelope->helo != NULL ? envelope->helo : "", -1, SQLITE_STATIC);
  sqlite3_bind_int (msg, 7, flags);
  sqlite3_bind_int (msg, 8, (int) envelope->dsn_ret);
  if (envelope->dsn_envid != NULL)
    sqlite3_bind_text (msg, 9, envelope->dsn_envid, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (msg, 9);
  sqlite3_bind_int64 (msg, 10, request->received_usec);
  if (!request->writer->created)
    sqlite3_bind_text (msg, 11, request->writer->file, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (msg, 11);
  if (sqlite3_step (msg) != SQLITE_DONE)
    {
      relais_store_set_error (db, "Cannot insert the message", error);
      return FALSE;
    }

  for (guint i = 0; i < request->routes->len; i++)
    {
      QueueRoute *route = g_ptr_array_index (request->routes, i);

      sqlite3_reset (rcpt);
      sqlite3_bind_text (rcpt, 1, request->writer->id, -1, SQLITE_STATIC);
      sqlite3_bind_int (rcpt, 2, (int) i);
      sqlite3_bind_text (rcpt, 3, route->address, -1, SQLITE_STATIC);
      sqlite3_bind_text (rcpt, 4, route->original, -1, SQLITE_STATIC);
      sqlite3_bind_int (rcpt, 5, route->route);
      if (route->mailbox != NULL)
        sqlite3_bind_text (rcpt, 6, route->mailbox, -1, SQLITE_STATIC);
      else
        sqlite3_bind_null (rcpt, 6);
      sqlite3_bind_int (rcpt, 7, (int) route->dsn_notify);
      if (route->dsn_orcpt != NULL)
        sqlite3_bind_text (rcpt, 8, route->dsn_orcpt, -1, SQLITE_STATIC);
      else
        sqlite3_bind_null (rcpt, 8);
      if (sqlite3_step (rcpt) != SQLITE_DONE)
        {
          relais_store_set_error (db, "Cannot insert a recipient", error);
          return FALSE;
        }
    }
  return TRUE;
}

/* ERROR for every request of the batch in its transaction that has none yet;
 * only the message files when FILES_ONLY. */
static void
fail_staged (GPtrArray *batch, const GError *error, gboolean files_only)
{
  for (guint i = 0; i < batch->len; i++)
    {
      CommitRequest *request = g_ptr_array_index (batch, i);

      if (!request->staged || request->error != NULL || (files_only && request->writer == NULL))
        continue;
      request->error = g_error_copy (error);
    }
}

/* Commit thread: our descriptor of the database's -wal file, (re)opened when
 * there is none yet or the file was removed (SQLite keeps it while a
 * connection is open: an fstat() of ours says so, without a path lookup per
 * batch); -1 when it cannot be had (then the transaction runs with
 * synchronous=FULL and SQLite syncs it itself). */
static int
wal_descriptor (RelaisQueue *self, sqlite3 *db)
{
  struct stat by_fd;

  if (self->wal_path == NULL)
    {
      const char *main_path = sqlite3_db_filename (db, "main");

      if (main_path == NULL || main_path[0] == '\0')
        return -1;
      self->wal_path = g_strdup (sqlite3_filename_wal (main_path));
    }
  if (self->wal_fd >= 0 && fstat (self->wal_fd, &by_fd) == 0 && by_fd.st_nlink > 0)
    return self->wal_fd;
  if (self->wal_fd >= 0)
    close (self->wal_fd);
  self->wal_fd = open (self->wal_path, O_RDONLY | O_CLOEXEC);
  return self->wal_fd;
}

/* fdatasync of the WAL, which makes every transaction committed so far
 * durable; on failure each request of BATCH still staged gets the error. */
static void
wal_sync (RelaisQueue *self, int wal_fd, GPtrArray *batch)
{
  g_autoptr(GError) error = NULL;

  if (fdatasync (wal_fd) == 0)
    return;
  /* Committed but maybe not on the disk: the clients get an error (they
   * send again: a duplicate, never a loss), and the files stay, as their
   * rows may be there after a restart. */
  set_errno_error (&error, errno, "Cannot fsync", self->wal_path);
  for (guint i = 0; i < batch->len; i++)
    {
      CommitRequest *request = g_ptr_array_index (batch, i);

      if (request->staged && request->error == NULL)
        {
          request->error = g_error_copy (error);
          request->staged = FALSE;    /* keep the file */
        }
    }
}

/* The connection for a batch's transaction: the commit thread's own
 * (synchronous=NORMAL for good), the WAL then synced by wal_sync(); else the
 * shared one under the store's lock, switched to NORMAL for the transaction
 * when we can sync the WAL ourselves (*WAL_FD >= 0), left FULL otherwise. */
static sqlite3 *
commit_db_acquire (RelaisQueue *self, int *wal_fd)
{
  sqlite3 *db;

  if (self->writer != NULL && (*wal_fd = wal_descriptor (self, self->writer)) >= 0)
    return self->writer;
  db = relais_store_lock (self->store);
  *wal_fd = wal_descriptor (self, db);
  if (*wal_fd >= 0 && !relais_store_exec_cached (db, "PRAGMA synchronous = NORMAL", NULL))
    *wal_fd = -1;
  return db;
}

static void
commit_db_release (RelaisQueue *self, sqlite3 *db, int wal_fd)
{
  if (db == self->writer)
    return;
  if (wal_fd >= 0)
    relais_store_exec_cached (db, "PRAGMA synchronous = FULL", NULL);
  relais_store_unlock (self->store);
}

/* One transaction for every message and write of the batch, each in a
 * savepoint so that a bad one fails alone; durable when it returns, or each
 * request has its error. */
static void
commit_insert_batch (RelaisQueue *self, GPtrArray *batch)
{
  g_autoptr(GError) error = NULL;
  int wal_fd;
  sqlite3 *db = commit_db_acquire (self, &wal_fd);

  if (!relais_store_exec_cached (db, "BEGIN IMMEDIATE", &error))
    {
      commit_db_release (self, db, wal_fd);
      fail_staged (batch, error, FALSE);
      return;
    }
  for (guint i = 0; i < batch->len; i++)
    {
      CommitRequest *request = g_ptr_array_index (batch, i);
      gboolean ok;

      if (!request->staged || request->error != NULL)
        continue;
      if (!relais_store_exec_cached (db, "SAVEPOINT request", &request->error))
        continue;
      if (request->writer != NULL)
        ok = commit_insert_rows (db, request, &request->error);
      else
        ok = request->write (db, request->write_data, &request->error);
      if (!ok)
        relais_store_exec_cached (db, "ROLLBACK TO request", NULL);
      relais_store_exec_cached (db, "RELEASE request", NULL);
    }
  if (!relais_store_exec_cached (db, "COMMIT", &error))
    {
      exec_sql (db, "ROLLBACK", NULL);
      commit_db_release (self, db, wal_fd);
      fail_staged (batch, error, FALSE);
      return;
    }
  commit_db_release (self, db, wal_fd);
  if (wal_fd >= 0)            /* else synchronous=FULL: durable already */
    wal_sync (self, wal_fd, batch);
}

/* A request's outcome on its way to the main context. */
typedef struct {
  GTask *task;
  GError *error;              /* NULL: done */
} CommitOutcomeReport;

static void
commit_reports_free (GArray *reports)
{
  for (guint i = 0; i < reports->len; i++)
    {
      CommitOutcomeReport *report = &g_array_index (reports, CommitOutcomeReport, i);

      g_clear_object (&report->task);
      g_clear_error (&report->error);
    }
  g_array_unref (reports);
}

/* In the main context: each task returns at once (GTask calls back
 * synchronously from a source of its own context), in the batch's order. */
static gboolean
commit_reports_deliver (gpointer data)
{
  GArray *reports = data;

  for (guint i = 0; i < reports->len; i++)
    {
      CommitOutcomeReport *report = &g_array_index (reports, CommitOutcomeReport, i);

      if (report->error != NULL)
        g_task_return_error (report->task, g_steal_pointer (&report->error));
      else
        g_task_return_boolean (report->task, TRUE);
      g_clear_object (&report->task);
    }
  return G_SOURCE_REMOVE;
}

/* Reports each request of BATCH, durable or failed, and empties it: the
 * whole batch in one source of the main context, so one wakeup of the main
 * loop for a batch rather than one per request. */
static void
commit_report (RelaisQueue *self, GPtrArray *batch)
{
  GArray *reports;
  GSource *source;

  if (batch->len == 0)
    return;
  reports = g_array_sized_new (FALSE, FALSE, sizeof (CommitOutcomeReport), batch->len);
  for (guint i = 0; i < batch->len; i++)
    {
      CommitRequest *request = g_ptr_array_index (batch, i);
      CommitOutcomeReport report = { g_steal_pointer (&request->task), NULL };

      if (request->error != NULL)
        {
          /* Never a row without a file, and no file without a row either. */
          if (request->staged && request->writer != NULL)
            queue_unlink_spool (self, request->writer->id);
          report.error = g_steal_pointer (&request->error);
        }
      else if (request->after != NULL)
        request->after (self, request->write_data);
      g_array_append_val (reports, report);
    }
  g_ptr_array_set_size (batch, 0);
  /* not g_main_context_invoke(): it could run them here, in this thread */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[relais] queue commit reports");
  g_source_set_callback (source, commit_reports_deliver, reports, (GDestroyNotify) commit_reports_free);
  g_source_attach (source, self->context);
  g_source_unref (source);
}

/* Every request of BATCH (any order of messages and writes) in one durable
 * transaction, then reported: no message is answered before it is durable,
 * no write's AFTER runs (e.g. its spool file recycled) before then either. */
static void
commit_batch (RelaisQueue *self, GPtrArray *batch)
{
  g_autoptr(GError) dir_error = NULL;
  guint n_created = 0;
  guint n_staged = 0;

  for (guint i = 0; i < batch->len; i++)
    {
      CommitRequest *request = g_ptr_array_index (batch, i);

      if (request->writer == NULL)
        request->staged = TRUE;      /* a file is synced (sync_file_func()) or failed */
      else
        n_created += request->staged && request->writer->created;
      n_staged += request->staged;
    }

  if (n_created > 0 && fsync (self->msg_dir_fd) < 0)
    {
      set_errno_error (&dir_error, errno, "Cannot fsync", self->msg_dir);
      fail_staged (batch, dir_error, TRUE);
    }
  queue_map_files (self, batch);
  g_atomic_int_inc (&self->n_batches);
  if (n_staged > 0)
    commit_insert_batch (self, batch);
  commit_report (self, batch);
}

/* A sync thread: the file of REQUEST, then on to the commit thread. */
static void
sync_file_func (gpointer data, gpointer user_data)
{
  CommitRequest *request = data;
  RelaisQueue *self = user_data;

  if (commit_sync_file (request, &request->error))
    request->staged = TRUE;
  else
    g_unlink (request->writer->path);
  g_atomic_int_inc (&self->n_synced);
  g_async_queue_push (self->requests, request);
}

/* Takes every request waiting, as one batch. The delivery side's writes
 * alone (outcomes, removals) wait up to COMMIT_WRITES_WAIT_USEC for messages
 * to join them: under load, one transaction and one fdatasync for both
 * instead of one each; a power cut meanwhile could only have a message
 * delivered again, never lost. */
static gpointer
commit_thread_func (gpointer data)
{
  RelaisQueue *self = data;
  gboolean stop = FALSE;
  g_autoptr(GError) error = NULL;

  self->writer = relais_store_open_writer (self->store, &error);
  if (self->writer == NULL)
    g_info ("queue commits share the main connection: %s", error->message);

  while (!stop)
    {
      GPtrArray *batch = self->pending;
      gboolean messages = FALSE;
      gboolean waited = FALSE;
      CommitRequest *request;

      if (batch->len == 0)
        request = g_async_queue_pop (self->requests);
      else
        {
          gint64 wait = self->pending_since + COMMIT_WRITES_WAIT_USEC - g_get_monotonic_time ();

          request = wait > 0 ? g_async_queue_timeout_pop (self->requests, (guint64) wait) : NULL;
          waited = request == NULL;
        }
      if (batch->len == 0 && request != NULL)
        self->pending_since = g_get_monotonic_time ();
      while (request != NULL)
        {
          if (request == &stop_request)
            stop = TRUE;
          else
            {
              g_ptr_array_add (batch, request);
              messages = messages || request->writer != NULL;
            }
          request = g_async_queue_try_pop (self->requests);
        }
      if (batch->len > 0 && (messages || stop || waited ||
                             g_get_monotonic_time () >= self->pending_since + COMMIT_WRITES_WAIT_USEC))
        commit_batch (self, batch);
    }
  g_clear_pointer (&self->writer, relais_store_close_writer);
  return NULL;
}

/* ---- recovery ----------------------------------------------------------- */

static void queue_update_oldest (RelaisQueue *self);

static void
remove_all_files (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);

      /* the health check's files and earlier versions' spares, no message */
      g_unlink (path);
    }
}

gboolean
relais_queue_recover (RelaisQueue *queue, guint *n_messages, GError **error)
{
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) used = g_hash_table_new (g_str_hash, g_str_equal);   /* file names, borrowed */
  g_autoptr(GPtrArray) lost = g_ptr_array_new_with_free_func (g_free);
  guint n_spares = 0;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  sqlite3 *db;

  g_return_val_if_fail (queue != NULL, FALSE);

  remove_all_files (queue->tmp_dir);

  db = relais_store_lock (queue->store);
  {
    g_autoptr(RelaisQueueStmt) stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2 (db, "SELECT id, spool_file FROM messages", -1, &stmt, NULL) != SQLITE_OK)
      {
        relais_store_set_error (db, "Cannot read the queue", error);
        relais_store_unlock (queue->store);
        return FALSE;
      }
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      {
        const char *id = (const char *) sqlite3_column_text (stmt, 0);
        const char *file = (const char *) sqlite3_column_text (stmt, 1);
        char *key = g_strdup (id);

        g_hash_table_add (ids, key);
        /* new ids come after every queued one, even with the clock set back */
        queue->last_id_time = MAX (queue->last_id_time, queue_id_time (id));
        if (file != NULL)
          {
            file = g_strdup (file);
            g_hash_table_replace (queue->files, g_strdup (id), (char *) file);
          }
        else
          file = key;
        g_hash_table_add (used, (char *) file);
        if (faccessat (queue->msg_dir_fd, file, F_OK, 0) < 0)
          g_ptr_array_add (lost, g_strdup (id));
      }
    if (rc != SQLITE_DONE)
      {
        relais_store_set_error (db, "Cannot read the queue", error);
        relais_store_unlock (queue->store);
        return FALSE;
      }
  }

  if (lost->len > 0)
    {
      g_autoptr(RelaisQueueStmt) stmt = NULL;

      if (sqlite3_prepare_v2 (db,
                              "UPDATE recipients SET state = 2, last_reply = "
                              "'4.3.0 The queue file of this message was lost' "
                              "WHERE message_id = ? AND state = 0", -1, &stmt, NULL) != SQLITE_OK)
        {
          relais_store_set_error (db, "Cannot mark lost messages", error);
          relais_store_unlock (queue->store);
          return FALSE;
        }
      for (guint i = 0; i < lost->len; i++)
        {
          const char *id = g_ptr_array_index (lost, i);

          g_warning ("Queue file of message %s is missing from %s: the message is lost, "
                     "its recipients are marked failed", id, queue->msg_dir);
          sqlite3_reset (stmt);
          sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
          if (sqlite3_step (stmt) != SQLITE_DONE)
            {
              relais_store_set_error (db, "Cannot mark lost messages", error);
              relais_store_unlock (queue->store);
              return FALSE;
            }
        }
    }
  relais_store_unlock (queue->store);

  /* A file no row names is a spare, or held a reception that never got its
   * 250 (rows are committed before the reply: the client still has the
   * message): reused either way. Their names are made durable before any
   * reception relies on them. */
  dir = g_dir_open (queue->msg_dir, 0, error);
  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      guint64 n;

      if (g_hash_table_contains (used, name))
        continue;
      if (g_str_has_prefix (name, QUEUE_SPARE_PREFIX) &&
          g_ascii_string_to_unsigned (name + strlen (QUEUE_SPARE_PREFIX), 10, 0, G_MAXUINT - 1, &n, NULL))
        queue->n_made = MAX (queue->n_made, (guint) n + 1);
      queue_keep_spare (queue, name);
      n_spares++;
    }
  if (n_spares > 0 && fsync (queue->msg_dir_fd) < 0)
    {
      set_errno_error (error, errno, "Cannot fsync", queue->msg_dir);
      return FALSE;
    }

  if (queue->stats != NULL)
    relais_stats_set (queue->stats, RELAIS_STAT_QUEUE_LENGTH, g_hash_table_size (ids));
  queue_update_oldest (queue);
  relais_queue_changed (queue);
  if (n_messages != NULL)
    *n_messages = g_hash_table_size (ids);
  g_info ("Queue recovered: %u messages waiting", g_hash_table_size (ids));
  return TRUE;
}

/* ---- removal ------------------------------------------------------------ */

void
relais_queue_recycle_spool (RelaisQueue *queue, const char *id)
{
  g_autofree char *file = queue_take_file (queue, id);

  queue_keep_spare (queue, file);
}

gboolean
relais_queue_drop_if_done (sqlite3 *db, const char *id, gboolean *dropped, GError **error)
{
  g_autoptr(RelaisCachedStmt) stmt = relais_store_cached (db,
    "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM recipients "
    "WHERE message_id = ?1 AND (state != 1 OR dsn_action != 0))", error);

  *dropped = FALSE;
  if (stmt == NULL)
    return FALSE;
  if ((sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC), sqlite3_step (stmt)) != SQLITE_DONE)
    {
      relais_store_set_error (db, "Cannot delete the message", error);
      return FALSE;
    }
  *dropped = sqlite3_changes (db) > 0;
  return TRUE;
}

static gboolean
queue_oldest_cb (gpointer data)
{
  RelaisQueue *self = data;

  self->oldest_id = 0;
  queue_update_oldest (self);
  return G_SOURCE_REMOVE;
}

/* A message removed: the counters. RELAIS_STAT_QUEUE_OLDEST takes a scan of
 * the messages table, so after a delivery (LATER) it is done at most once
 * every QUEUE_OLDEST_DELAY_MS however many messages go meanwhile (the
 * statistics are published no more often); at once after an
 * administrator's removal. */
static void
queue_count_removed (RelaisQueue *queue, gboolean later)
{
  if (queue->stats != NULL)
    relais_stats_add (queue->stats, RELAIS_STAT_QUEUE_LENGTH, -1);
  if (!later)
    {
      g_clear_handle_id (&queue->oldest_id, g_source_remove);
      queue_update_oldest (queue);
    }
  else if (queue->oldest_id == 0 && queue->stats != NULL)
    {
      GSource *source = g_timeout_source_new (QUEUE_OLDEST_DELAY_MS);

      g_source_set_callback (source, queue_oldest_cb, queue, NULL);
      g_source_set_static_name (source, "[relais] queue oldest");
      queue->oldest_id = g_source_attach (source, queue->context);
      g_source_unref (source);
    }
  relais_queue_changed (queue);
}

void
relais_queue_count_removed (RelaisQueue *queue)
{
  queue_count_removed (queue, TRUE);
}

/* The rows of message DATA (its id), or RELAIS_ERROR_NOT_FOUND: for
 * relais_queue_remove() under the lock, and for relais_queue_remove_async() in
 * the commit thread's next transaction (the file then goes once that is
 * durable). */
static gboolean
remove_write (sqlite3 *db, gpointer data, GError **error)
{
  g_autoptr(RelaisCachedStmt) stmt = relais_store_cached (db, "DELETE FROM messages WHERE id = ?", error);
  const char *id = data;

  if (stmt == NULL)
    return FALSE;
  if ((sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC), sqlite3_step (stmt)) != SQLITE_DONE)
    {
      relais_store_set_error (db, "Cannot delete the message", error);
      return FALSE;
    }
  if (sqlite3_changes (db) == 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "No message %s in the queue", id);
      return FALSE;
    }
  return TRUE;
}

gboolean
relais_queue_remove (RelaisQueue *queue, const char *id, GError **error)
{
  sqlite3 *db;
  gboolean ok;

  g_return_val_if_fail (queue != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  /* Row first, then file: a crash in between leaves a file no row names,
   * which recovery takes for a spare, never a row whose file is gone. */
  db = relais_store_lock (queue->store);
  ok = remove_write (db, (gpointer) id, error);
  relais_store_unlock (queue->store);
  if (!ok)
    return FALSE;
  /* A delivery may still be reading it (Queue.Delete during a delivery):
   * never reused, only unlinked. */
  queue_unlink_spool (queue, id);
  queue_count_removed (queue, FALSE);
  return TRUE;
}

static void
remove_after (RelaisQueue *queue, gpointer data)
{
  relais_queue_recycle_spool (queue, data);
}

static void
remove_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RelaisQueue *queue = g_task_get_task_data (task);
  GError *error = NULL;

  if (!relais_queue_write_finish (queue, result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  relais_queue_count_removed (queue);
  g_task_return_boolean (task, TRUE);
}

void
relais_queue_remove_async (RelaisQueue *queue, const char *id, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (queue != NULL);
  g_return_if_fail (id != NULL);

  task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, relais_queue_remove_async);
  g_task_set_task_data (task, queue, NULL);
  relais_queue_write_async (queue, remove_write, remove_after, g_strdup (id), g_free, remove_written_cb, task);
}

gboolean
relais_queue_remove_finish (RelaisQueue *queue, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_queue_remove_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- administration ----------------------------------------------------- */

guint64
relais_queue_get_generation (RelaisQueue *queue)
{
  g_return_val_if_fail (queue != NULL, 0);

  return queue->generation;
}

void
relais_queue_changed (RelaisQueue *queue)
{
  g_return_if_fail (queue != NULL);

  queue->generation++;
}

/* RELAIS_STAT_QUEUE_OLDEST from the rows. A scan of the messages table (no
 * index on received_at): cheap next to the delivery that precedes a removal. */
static void
queue_update_oldest (RelaisQueue *self)
{
  sqlite3_stmt *stmt;
  sqlite3 *db;
  gint64 oldest = -1;

  if (self->stats == NULL)
    return;
  db = relais_store_lock (self->store);
  stmt = relais_store_cached (db, "SELECT COALESCE(MIN(received_at), 0) FROM messages", NULL);
  if (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    oldest = sqlite3_column_int64 (stmt, 0);
  relais_cached_stmt_release (stmt);
  relais_store_unlock (self->store);
  if (oldest >= 0)
    relais_stats_set (self->stats, RELAIS_STAT_QUEUE_OLDEST, oldest);
}

static void
queue_recipient_free (RelaisQueueRecipient *recipient)
{
  g_free (recipient->address);
  g_free (recipient->original);
  g_free (recipient->last_reply);
  g_free (recipient);
}

void
relais_queue_entry_free (RelaisQueueEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->id);
  g_free (entry->sender);
  g_free (entry->client_address);
  g_free (entry->helo);
  g_clear_pointer (&entry->pending, g_ptr_array_unref);
  g_free (entry->last_error);
  g_clear_pointer (&entry->recipients, g_ptr_array_unref);
  g_clear_pointer (&entry->headers, g_bytes_unref);
  g_free (entry);
}

gboolean
relais_queue_id_is_valid (const char *id)
{
  if (id == NULL || strlen (id) != QUEUE_ID_LENGTH)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (strchr (id_digits, *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
check_id (const char *id, GError **error)
{
  g_autofree char *valid = NULL;
  g_autofree char *shown = NULL;

  if (relais_queue_id_is_valid (id))
    return TRUE;
  /* Quoted back as valid UTF-8, and not at any length. */
  valid = g_utf8_make_valid (id != NULL ? id : "", -1);
  if (g_utf8_strlen (valid, -1) > 40)
    {
      g_autofree char *head = g_utf8_substring (valid, 0, 40);

      shown = g_strconcat (head, "…", NULL);
    }
  else
    shown = g_steal_pointer (&valid);
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
               "'%s' is not a queue id: a queue id is 16 characters, digits and capital letters", shown);
  return FALSE;
}

static void
set_not_found (GError **error, const char *id)
{
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "No message %s in the queue", id);
}

static const char *
column_text (sqlite3_stmt *stmt, int column)
{
  const char *text = (const char *) sqlite3_column_text (stmt, column);

  return text != NULL ? text : "";
}

/* Rank of a not-delivered recipient's reply for last_error: higher wins. */
typedef struct {
  gboolean pending;
  guint attempts;
  gint64 next_attempt;
} ErrorRank;

static gboolean
error_rank_higher (const ErrorRank *a, const ErrorRank *b)
{
  if (a->pending != b->pending)
    return a->pending;
  if (a->attempts != b->attempts)
    return a->attempts > b->attempts;
  return a->next_attempt >= b->next_attempt;   /* ties: the later position */
}

/* Adds one recipients row (columns 7...) to ENTRY's summary, and to its
 * recipients when it keeps them. */
static void
entry_add_recipient (RelaisQueueEntry *entry, ErrorRank *best, sqlite3_stmt *stmt)
{
  RelaisQueueRecipient *r = g_new0 (RelaisQueueRecipient, 1);
  gint state = sqlite3_column_int (stmt, 9);
  ErrorRank rank;

  r->address = g_strdup (column_text (stmt, 7));
  r->original = g_strdup (column_text (stmt, 8));
  r->state = state == RELAIS_RECIPIENT_DELIVERED || state == RELAIS_RECIPIENT_FAILED
               ? (RelaisRecipientState) state : RELAIS_RECIPIENT_PENDING;
  r->attempts = (guint) MAX (sqlite3_column_int (stmt, 10), 0);
  r->next_attempt = sqlite3_column_int64 (stmt, 11);
  r->last_reply = g_strdup (column_text (stmt, 12));

  entry->attempts = MAX (entry->attempts, r->attempts);
  if (r->state == RELAIS_RECIPIENT_PENDING)
    {
      gint64 due = MAX (r->next_attempt, entry->received_at);

      g_ptr_array_add (entry->pending, g_strdup (r->address));
      if (entry->next_attempt == 0 || due < entry->next_attempt)
        entry->next_attempt = due;
    }
  rank = (ErrorRank) { r->state == RELAIS_RECIPIENT_PENDING, r->attempts, r->next_attempt };
  if (r->state != RELAIS_RECIPIENT_DELIVERED && r->last_reply[0] != '\0' &&
      (entry->last_error[0] == '\0' || error_rank_higher (&rank, best)))
    {
      g_free (entry->last_error);
      entry->last_error = g_strdup (r->last_reply);
      *best = rank;
    }

  if (entry->recipients != NULL)
    g_ptr_array_add (entry->recipients, r);
  else
    queue_recipient_free (r);
}

/* The messages (every one, or only ID) with their recipients' summary, oldest
 * first. WITH_RECIPIENTS keeps every recipient too. */
static GPtrArray *
queue_read (RelaisQueue *self, const char *id, gboolean with_recipients, GError **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_queue_entry_free);
  g_autoptr(RelaisQueueStmt) stmt = NULL;
  g_autofree char *sql = g_strdup_printf ("SELECT m.id, m.sender, m.size, m.received_at, m.client_address, "
                                          "m.helo, m.held, r.address, r.original, r.state, r.attempts, "
                                          "r.next_attempt, r.last_reply "
                                          "FROM messages m LEFT JOIN recipients r ON r.message_id = m.id %s"
                                          "ORDER BY m.received_at, m.id, r.position",
                                          id != NULL ? "WHERE m.id = ? " : "");
  RelaisQueueEntry *entry = NULL;
  ErrorRank best = { 0 };
  sqlite3 *db;
  int rc;

  db = relais_store_lock (self->store);
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "Cannot read the queue", error);
      relais_store_unlock (self->store);
      return NULL;
    }
  if (id != NULL)
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *row_id = column_text (stmt, 0);

      if (entry == NULL || !g_str_equal (entry->id, row_id))
        {
          entry = g_new0 (RelaisQueueEntry, 1);
          entry->id = g_strdup (row_id);
          entry->sender = g_strdup (column_text (stmt, 1));
          entry->size = (guint64) MAX (sqlite3_column_int64 (stmt, 2), 0);
          entry->received_at = sqlite3_column_int64 (stmt, 3);
          entry->client_address = g_strdup (column_text (stmt, 4));
          entry->helo = g_strdup (column_text (stmt, 5));
          entry->held = sqlite3_column_int (stmt, 6) != 0;
          entry->pending = g_ptr_array_new_with_free_func (g_free);
          entry->last_error = g_strdup ("");
          if (with_recipients)
            entry->recipients = g_ptr_array_new_with_free_func ((GDestroyNotify) queue_recipient_free);
          g_ptr_array_add (entries, entry);
        }
      if (sqlite3_column_type (stmt, 7) != SQLITE_NULL)
        entry_add_recipient (entry, &best, stmt);
    }
  if (rc != SQLITE_DONE)
    {
      relais_store_set_error (db, "Cannot read the queue", error);
      relais_store_unlock (self->store);
      return NULL;
    }
  relais_store_unlock (self->store);

  for (guint i = 0; i < entries->len; i++)
    {
      RelaisQueueEntry *e = g_ptr_array_index (entries, i);

      if (e->held)
        e->next_attempt = 0;
    }
  return g_steal_pointer (&entries);
}

GPtrArray *
relais_queue_list (RelaisQueue *queue, GError **error)
{
  g_return_val_if_fail (queue != NULL, NULL);

  return queue_read (queue, NULL, FALSE, error);
}

RelaisQueueEntry *
relais_queue_show (RelaisQueue *queue, const char *id, GError **error)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = NULL;
  RelaisQueueEntry *entry;

  g_return_val_if_fail (queue != NULL, NULL);

  if (!check_id (id, error))
    return NULL;
  entries = queue_read (queue, id, TRUE, error);
  if (entries == NULL)
    return NULL;
  if (entries->len == 0)
    {
      set_not_found (error, id);
      return NULL;
    }
  entry = g_ptr_array_steal_index (entries, 0);
  path = relais_queue_spool_path (queue, id);
  entry->headers = relais_bounce_read_headers (path, RELAIS_QUEUE_MAX_HEADERS, &local_error);
  if (entry->headers == NULL)
    relais_log_queue (G_LOG_LEVEL_MESSAGE, id, "cannot read its headers: %s", local_error->message);
  return entry;
}

/* Runs SQL (whose ?1 is the id and ?2 the time now) for message ID; CHANGES
 * (optional) receives how many rows it changed. Call with the store locked. */
static gboolean
queue_exec_for (sqlite3 *db, const char *sql, const char *id, int *changes, GError **error)
{
  g_autoptr(RelaisQueueStmt) stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "Cannot change the queue", error);
      return FALSE;
    }
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  if (sqlite3_bind_parameter_count (stmt) >= 2)
    sqlite3_bind_int64 (stmt, 2, g_get_real_time () / G_USEC_PER_SEC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      relais_store_set_error (db, "Cannot change the queue", error);
      return FALSE;
    }
  if (changes != NULL)
    *changes = sqlite3_changes (db);
  return TRUE;
}

/* 1 if message ID is held, 0 if not, -1 if there is none (ERROR set) or the
 * read failed. Call with the store locked. */
static gint
queue_read_held (sqlite3 *db, const char *id, GError **error)
{
  g_autoptr(RelaisQueueStmt) stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (db, "SELECT held FROM messages WHERE id = ?", -1, &stmt, NULL) != SQLITE_OK)
    {
      relais_store_set_error (db, "Cannot read the queue", error);
      return -1;
    }
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return sqlite3_column_int (stmt, 0) != 0 ? 1 : 0;
  if (rc == SQLITE_DONE)
    set_not_found (error, id);
  else
    relais_store_set_error (db, "Cannot read the queue", error);
  return -1;
}

#define SQL_DUE_NOW "UPDATE recipients SET next_attempt = ?2 WHERE message_id = ?1 AND state = 0"

gboolean
relais_queue_hold (RelaisQueue *queue, const char *id, GError **error)
{
  sqlite3 *db;
  int changes = 0;
  gboolean ok;

  g_return_val_if_fail (queue != NULL, FALSE);

  if (!check_id (id, error))
    return FALSE;
  db = relais_store_lock (queue->store);
  ok = queue_exec_for (db, "UPDATE messages SET held = 1 WHERE id = ?1", id, &changes, error);
  relais_store_unlock (queue->store);
  if (ok && changes == 0)
    {
      set_not_found (error, id);
      return FALSE;
    }
  if (!ok)
    return FALSE;
  relais_log_queue (G_LOG_LEVEL_MESSAGE, id, "held: it is not delivered until it is released");
  relais_queue_changed (queue);
  return TRUE;
}

gboolean
relais_queue_release (RelaisQueue *queue, const char *id, GError **error)
{
  sqlite3 *db;
  int changes = 0;
  gboolean ok;

  g_return_val_if_fail (queue != NULL, FALSE);

  if (!check_id (id, error))
    return FALSE;
  db = relais_store_lock (queue->store);
  ok = exec_sql (db, "BEGIN IMMEDIATE", error);
  if (ok)
    {
      ok = queue_exec_for (db, "UPDATE messages SET held = 0 WHERE id = ?1", id, &changes, error) &&
           (changes == 0 || queue_exec_for (db, SQL_DUE_NOW, id, NULL, error));
      if (ok)
        ok = exec_sql (db, "COMMIT", error);
      if (!ok)
        exec_sql (db, "ROLLBACK", NULL);
    }
  relais_store_unlock (queue->store);
  if (!ok)
    return FALSE;
  if (changes == 0)
    {
      set_not_found (error, id);
      return FALSE;
    }
  relais_log_queue (G_LOG_LEVEL_MESSAGE, id, "released: its pending recipients are due now");
  relais_queue_changed (queue);
  return TRUE;
}

gboolean
relais_queue_retry_now (RelaisQueue *queue, const char *id, GError **error)
{
  sqlite3 *db;
  gint held;
  gboolean ok = FALSE;

  g_return_val_if_fail (queue != NULL, FALSE);

  if (!check_id (id, error))
    return FALSE;
  db = relais_store_lock (queue->store);
  held = queue_read_held (db, id, error);
  if (held == 0)
    ok = queue_exec_for (db, SQL_DUE_NOW, id, NULL, error);
  relais_store_unlock (queue->store);
  if (held == 1)
    g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED,
                 "Message %s is held: release it first (releasing also retries it at once)", id);
  if (!ok)
    return FALSE;
  relais_log_queue (G_LOG_LEVEL_MESSAGE, id, "retry now: its pending recipients are due now");
  relais_queue_changed (queue);
  return TRUE;
}

gboolean
relais_queue_delete (RelaisQueue *queue, const char *id, GError **error)
{
  g_return_val_if_fail (queue != NULL, FALSE);

  if (!check_id (id, error) || !relais_queue_remove (queue, id, error))
    return FALSE;
  relais_log_queue (G_LOG_LEVEL_MESSAGE, id, "deleted from the queue by an administrator; no bounce is sent");
  return TRUE;
}
