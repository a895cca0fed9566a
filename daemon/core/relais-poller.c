/* SPDX-License-Identifier: GPL-3.0-or-later
 * One epoll set as one GSource. See relais-poller.h. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-poller.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>

#include "relais-error.h"

#define POLLER_BATCH 256

typedef struct {
  GSource source;
  int epfd;
  gpointer tag;
  GPtrArray *dead;            /* watches freed during a dispatch, freed after it */
  gboolean dispatching;
} Poller;

struct _RelaisPollWatch {
  Poller *poller;
  int fd;
  gboolean armed;
  gboolean dead;
  RelaisPollFunc func;
  gpointer user_data;
};

static GPrivate poller_key;   /* the thread's Poller, for its default context */

static gboolean
poller_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  Poller *poller = (Poller *) source;
  struct epoll_event events[POLLER_BATCH];
  int n;

  n = epoll_wait (poller->epfd, events, POLLER_BATCH, 0);
  if (n < 0)
    {
      if (errno != EINTR)
        g_warning ("epoll_wait: %s", g_strerror (errno));
      return G_SOURCE_CONTINUE;
    }
  poller->dispatching = TRUE;
  for (int i = 0; i < n; i++)
    {
      RelaisPollWatch *watch = events[i].data.ptr;

      /* disarmed, or freed (kept in DEAD until the end of this loop) by an
       * earlier call of this batch */
      if (watch->dead || !watch->armed)
        continue;
      watch->armed = FALSE;         /* EPOLLONESHOT: the kernel disarmed it too */
      watch->func (watch->user_data);
    }
  poller->dispatching = FALSE;
  g_ptr_array_set_size (poller->dead, 0);
  return G_SOURCE_CONTINUE;
}

static void
poller_finalize (GSource *source)
{
  Poller *poller = (Poller *) source;

  close (poller->epfd);
  g_ptr_array_unref (poller->dead);
}

static GSourceFuncs poller_funcs = {
  .dispatch = poller_dispatch,
  .finalize = poller_finalize,
};

static Poller *
poller_get (GError **error)
{
  Poller *poller = g_private_get (&poller_key);
  int epfd;

  if (poller != NULL)
    return poller;
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "epoll_create1: %s", g_strerror (errno));
      return NULL;
    }
  poller = (Poller *) g_source_new (&poller_funcs, sizeof (Poller));
  g_source_set_static_name ((GSource *) poller, "relais-poller");
  poller->epfd = epfd;
  poller->dead = g_ptr_array_new_with_free_func (g_free);
  poller->tag = g_source_add_unix_fd ((GSource *) poller, epfd, G_IO_IN);
  g_source_attach ((GSource *) poller, g_main_context_get_thread_default ());
  /* lives as long as the thread: sessions come and go */
  g_private_set (&poller_key, poller);
  return poller;
}

RelaisPollWatch *
relais_poll_watch_new (int fd, GError **error)
{
  Poller *poller = poller_get (error);
  RelaisPollWatch *watch;
  struct epoll_event event = { 0 };

  if (poller == NULL)
    return NULL;
  watch = g_new0 (RelaisPollWatch, 1);
  watch->poller = poller;
  watch->fd = fd;
  /* Nothing until armed: epoll reports hang-ups and errors whatever one asks
   * for, so a watch not armed is a one-shot too, spent by the first of them
   * (else a closed peer would wake the loop at every iteration). */
  event.events = EPOLLONESHOT;
  event.data.ptr = watch;
  if (epoll_ctl (poller->epfd, EPOLL_CTL_ADD, fd, &event) < 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "epoll_ctl: %s", g_strerror (errno));
      g_free (watch);
      return NULL;
    }
  return watch;
}

gboolean
relais_poll_watch_arm (RelaisPollWatch *watch, GIOCondition condition, RelaisPollFunc func,
                       gpointer user_data, GError **error)
{
  struct epoll_event event = { 0 };

  g_return_val_if_fail (watch != NULL && !watch->dead && func != NULL, FALSE);

  event.events = EPOLLONESHOT | ((condition & G_IO_IN) ? EPOLLIN | EPOLLRDHUP : 0) |
                 ((condition & G_IO_OUT) ? EPOLLOUT : 0);
  event.data.ptr = watch;
  if (epoll_ctl (watch->poller->epfd, EPOLL_CTL_MOD, watch->fd, &event) < 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "epoll_ctl: %s", g_strerror (errno));
      return FALSE;
    }
  watch->func = func;
  watch->user_data = user_data;
  watch->armed = TRUE;
  return TRUE;
}

gboolean
relais_poll_watch_disarm (RelaisPollWatch *watch)
{
  struct epoll_event event = { 0 };
  gboolean was_armed;

  if (watch == NULL)
    return FALSE;
  was_armed = watch->armed;
  if (was_armed)
    {
      event.events = EPOLLONESHOT;     /* see relais_poll_watch_new() */
      event.data.ptr = watch;
      epoll_ctl (watch->poller->epfd, EPOLL_CTL_MOD, watch->fd, &event);
    }
  watch->armed = FALSE;
  return was_armed;
}

gboolean
relais_poll_watch_is_armed (RelaisPollWatch *watch)
{
  return watch != NULL && watch->armed;
}

void
relais_poll_watch_free (RelaisPollWatch *watch)
{
  Poller *poller;

  if (watch == NULL)
    return;
  poller = watch->poller;
  epoll_ctl (poller->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  watch->armed = FALSE;
  watch->dead = TRUE;
  if (poller->dispatching)
    g_ptr_array_add (poller->dead, watch);   /* an event of this batch may still name it */
  else
    g_free (watch);
}
