/* SPDX-License-Identifier: GPL-3.0-or-later
 * Local delivery into a Maildir (https://cr.yp.to/proto/maildir.html).
 * The file is written under tmp/ with a name unique to this host, process and
 * call, fsynced, renamed into new/ (with the Maildir++ ",S=size" suffix), and
 * new/ is fsynced: a reader never sees a partial message, and OK means durable.
 * Runs in worker threads: no shared state but an atomic counter. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define MAILDIR_BUFFER_SIZE (64 * 1024)

static gint maildir_counter;

typedef struct {
  int fd;
  gsize len;
  goffset size;      /* bytes written to the file so far, buffer included */
  int error;         /* errno of the first failed write, 0 if none */
  char buf[MAILDIR_BUFFER_SIZE];
} MaildirOut;

static gboolean
write_all (int fd, const char *data, gsize len, int *error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *error = errno;
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
out_flush (MaildirOut *out)
{
  if (out->error != 0)
    return FALSE;
  if (out->len > 0 && !write_all (out->fd, out->buf, out->len, &out->error))
    return FALSE;
  out->len = 0;
  return TRUE;
}

static gboolean
out_write (MaildirOut *out, const char *data, gsize len)
{
  if (out->error != 0)
    return FALSE;
  out->size += (goffset) len;
  while (len > 0)
    {
      gsize room = sizeof out->buf - out->len;
      gsize n = MIN (room, len);

      memcpy (out->buf + out->len, data, n);
      out->len += n;
      data += n;
      len -= n;
      if (out->len == sizeof out->buf && !out_flush (out))
        return FALSE;
    }
  return TRUE;
}

/* Copies DATA turning each CRLF into LF. *PENDING_CR carries a CR that ended
 * the previous chunk; a CR not followed by LF is kept as is. */
static gboolean
out_write_lf (MaildirOut *out, const char *data, gsize len, gboolean *pending_cr)
{
  const char *end = data + len;

  while (data < end)
    {
      const char *cr;

      if (*pending_cr)
        {
          *pending_cr = FALSE;
          if (*data == '\n')
            {
              if (!out_write (out, "\n", 1))
                return FALSE;
              data++;
              continue;
            }
          if (!out_write (out, "\r", 1))
            return FALSE;
        }

      cr = memchr (data, '\r', (gsize) (end - data));
      if (cr == NULL)
        return out_write (out, data, (gsize) (end - data));
      if (!out_write (out, data, (gsize) (cr - data)))
        return FALSE;
      *pending_cr = TRUE;
      data = cr + 1;
    }
  return TRUE;
}

/* Envelope addresses come from the SMTP parser; never let one carry a line
 * break (or any control character) into a header. */
static char *
header_safe (const char *text)
{
  GString *s = g_string_sized_new (strlen (text));

  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p >= 0x20 && *p != 0x7f)
      g_string_append_c (s, *p);
  return g_string_free (s, FALSE);
}

/* The host name part of a Maildir file name, with '/' and ':' escaped. */
static char *
maildir_host_part (void)
{
  const char *host = g_get_host_name ();
  GString *s = g_string_new (NULL);

  for (const char *p = host; *p != '\0'; p++)
    {
      if (*p == '/')
        g_string_append (s, "\\057");
      else if (*p == ':')
        g_string_append (s, "\\072");
      else
        g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

static gboolean
fsync_dir (const char *path, int *error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ok = TRUE;

  if (fd < 0)
    {
      *error = errno;
      return FALSE;
    }
  if (fsync (fd) < 0)
    {
      *error = errno;
      ok = FALSE;
    }
  close (fd);
  return ok;
}

/* mkdir PATH 0700 if missing; when it is created, fsync PARENT so the new
 * entry is durable too. */
static gboolean
ensure_dir (const char *path, const char *parent, int *error)
{
  if (mkdir (path, 0700) == 0)
    return fsync_dir (parent, error);
  if (errno == EEXIST)
    {
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        return TRUE;
      *error = ENOTDIR;
      return FALSE;
    }
  *error = errno;
  return FALSE;
}

static RelaisDeliveryStatus
fail_errno (char **reason, int error, const char *what, const char *path)
{
  const char *code = (error == ENOSPC || error == EDQUOT) ? "4.3.1" : "4.3.0";

  /* The path goes to the log only: the reason may end up in a bounce. */
  g_debug ("Maildir delivery failed: %s %s: %s", what, path, g_strerror (error));
  if (reason != NULL)
    *reason = g_strdup_printf ("%s Maildir delivery failed: %s: %s", code, what, g_strerror (error));
  return RELAIS_DELIVERY_TEMPFAIL;
}

static gboolean
login_is_safe (const char *login)
{
  return login[0] != '\0' && login[0] != '.' && strchr (login, '/') == NULL;
}

char *
relais_maildir_path (const char *state_dir, const char *login)
{
  g_return_val_if_fail (state_dir != NULL, NULL);
  g_return_val_if_fail (login != NULL, NULL);

  return g_build_filename (state_dir, "mail", login, "Maildir", NULL);
}

/* Copies the headers and SPOOL_FD into OUT. Returns 0 or the errno of the
 * failure; *READ_FAILED tells whether it was reading the spool. */
static int
copy_message (MaildirOut *out, int spool_fd, const char *sender, const char *recipient,
              gboolean *read_failed)
{
  g_autofree char *safe_sender = header_safe (sender);
  g_autofree char *safe_recipient = header_safe (recipient);
  g_autofree char *headers = g_strdup_printf ("Return-Path: <%s>\nDelivered-To: %s\n",
                                              safe_sender, safe_recipient);
  g_autofree char *chunk = g_malloc (MAILDIR_BUFFER_SIZE);
  gboolean pending_cr = FALSE;

  *read_failed = FALSE;
  if (!out_write (out, headers, strlen (headers)))
    return out->error;

  for (;;)
    {
      ssize_t n = read (spool_fd, chunk, MAILDIR_BUFFER_SIZE);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *read_failed = TRUE;
          return errno;
        }
      if (n == 0)
        break;
      if (!out_write_lf (out, chunk, (gsize) n, &pending_cr))
        return out->error;
    }
  if (pending_cr && !out_write (out, "\r", 1))
    return out->error;
  if (!out_flush (out))
    return out->error;
  return 0;
}

RelaisDeliveryStatus
relais_maildir_deliver (const char *state_dir,
                        const RelaisConfig *config,
                        const char *login,
                        const char *sender,
                        const char *recipient,
                        const char *spool_path,
                        char **reason,
                        char **delivered_path)
{
  g_autofree char *mail_root = NULL;
  g_autofree char *user_dir = NULL;
  g_autofree char *maildir = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autofree char *new_dir = NULL;
  g_autofree char *cur_dir = NULL;
  g_autofree char *host = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree char *new_name = NULL;
  g_autofree char *new_path = NULL;
  g_autofree MaildirOut *out = NULL;
  gboolean read_failed;
  int spool_fd;
  int fd = -1;
  int error = 0;

  g_return_val_if_fail (state_dir != NULL, RELAIS_DELIVERY_TEMPFAIL);
  g_return_val_if_fail (login != NULL, RELAIS_DELIVERY_TEMPFAIL);
  g_return_val_if_fail (sender != NULL, RELAIS_DELIVERY_TEMPFAIL);
  g_return_val_if_fail (recipient != NULL, RELAIS_DELIVERY_TEMPFAIL);
  g_return_val_if_fail (spool_path != NULL, RELAIS_DELIVERY_TEMPFAIL);

  if (!login_is_safe (login) || (config != NULL && relais_config_lookup_login (config, login) == NULL))
    {
      if (reason != NULL)
        *reason = g_strdup_printf ("5.1.1 <%s>: no such account", recipient);
      return RELAIS_DELIVERY_PERMFAIL;
    }

  mail_root = g_build_filename (state_dir, "mail", NULL);
  user_dir = g_build_filename (mail_root, login, NULL);
  maildir = g_build_filename (user_dir, "Maildir", NULL);
  tmp_dir = g_build_filename (maildir, "tmp", NULL);
  new_dir = g_build_filename (maildir, "new", NULL);
  cur_dir = g_build_filename (maildir, "cur", NULL);
  if (!ensure_dir (mail_root, state_dir, &error) ||
      !ensure_dir (user_dir, mail_root, &error) ||
      !ensure_dir (maildir, user_dir, &error) ||
      !ensure_dir (tmp_dir, maildir, &error) ||
      !ensure_dir (new_dir, maildir, &error) ||
      !ensure_dir (cur_dir, maildir, &error))
    return fail_errno (reason, error, "mkdir", maildir);

  spool_fd = open (spool_path, O_RDONLY | O_CLOEXEC);
  if (spool_fd < 0)
    {
      if (errno == ENOENT)
        {
          if (reason != NULL)
            *reason = g_strdup ("5.3.0 The queue file of this message is missing");
          return RELAIS_DELIVERY_PERMFAIL;
        }
      return fail_errno (reason, errno, "open queue file", spool_path);
    }

  host = maildir_host_part ();
  for (guint tries = 0; fd < 0 && tries < 10; tries++)
    {
      gint64 now = g_get_real_time ();

      g_clear_pointer (&base, g_free);
      g_clear_pointer (&tmp_path, g_free);
      base = g_strdup_printf ("%" G_GINT64_FORMAT ".M%06" G_GINT64_FORMAT "P%ldQ%u.%s",
                              now / G_USEC_PER_SEC, now % G_USEC_PER_SEC, (long) getpid (),
                              (guint) g_atomic_int_add (&maildir_counter, 1), host);
      tmp_path = g_build_filename (tmp_dir, base, NULL);
      fd = open (tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0 && errno != EEXIST)
        break;
    }
  if (fd < 0)
    {
      error = errno;
      close (spool_fd);
      return fail_errno (reason, error, "create", tmp_path);
    }

  out = g_new0 (MaildirOut, 1);
  out->fd = fd;
  error = copy_message (out, spool_fd, sender, recipient, &read_failed);
  close (spool_fd);
  if (error == 0 && fsync (fd) < 0)
    error = errno;
  if (close (fd) < 0 && error == 0)
    error = errno;
  if (error != 0)
    {
      g_unlink (tmp_path);
      return fail_errno (reason, error, read_failed ? "read queue file" : "write", tmp_path);
    }

  new_name = g_strdup_printf ("%s,S=%" G_GOFFSET_FORMAT, base, out->size);
  new_path = g_build_filename (new_dir, new_name, NULL);
  if (rename (tmp_path, new_path) < 0)
    {
      error = errno;
      g_unlink (tmp_path);
      return fail_errno (reason, error, "rename", new_path);
    }
  if (!fsync_dir (new_dir, &error))
    {
      /* Not known to be durable: take it back so that the retry does not
       * deliver it twice. */
      g_unlink (new_path);
      return fail_errno (reason, error, "fsync", new_dir);
    }

  if (reason != NULL)
    *reason = g_strdup_printf ("2.0.0 Delivered to mailbox %s", login);
  if (delivered_path != NULL)
    *delivered_path = g_steal_pointer (&new_path);
  return RELAIS_DELIVERY_OK;
}
