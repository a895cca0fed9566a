/* SPDX-License-Identifier: GPL-3.0-or-later
 * The epoll poller (daemon/core/relais-poller.c): one call per arming, none
 * once disarmed, end of stream wakes a read watch, and a watch freed by an
 * earlier call of the same batch is never called. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "relais-poller.h"

typedef struct {
  int fds[2];
  RelaisPollWatch *watch;
  guint calls;
  RelaisPollWatch **to_free;   /* freed by the call, if set */
} Pair;

static void
pair_init (Pair *p)
{
  g_autoptr(GError) error = NULL;

  memset (p, 0, sizeof *p);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fds), ==, 0);
  p->watch = relais_poll_watch_new (p->fds[0], &error);
  g_assert_no_error (error);
  g_assert_nonnull (p->watch);
}

static void
pair_clear (Pair *p)
{
  g_clear_pointer (&p->watch, relais_poll_watch_free);
  close (p->fds[0]);
  close (p->fds[1]);
}

static void
called_cb (gpointer data)
{
  Pair *p = data;

  p->calls++;
  if (p->to_free != NULL)
    g_clear_pointer (p->to_free, relais_poll_watch_free);
}

/* Runs the main context for about MS milliseconds. */
static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

static void
test_once_per_arming (void)
{
  Pair p;
  g_autoptr(GError) error = NULL;

  pair_init (&p);
  g_assert_true (relais_poll_watch_arm (p.watch, G_IO_IN, called_cb, &p, &error));
  g_assert_no_error (error);
  spin (50);
  g_assert_cmpuint (p.calls, ==, 0);          /* nothing to read yet */
  g_assert_cmpint (write (p.fds[1], "x", 1), ==, 1);
  spin (50);
  g_assert_cmpuint (p.calls, ==, 1);
  g_assert_false (relais_poll_watch_is_armed (p.watch));
  spin (50);
  g_assert_cmpuint (p.calls, ==, 1);          /* still readable, but not armed again */
  g_assert_true (relais_poll_watch_arm (p.watch, G_IO_IN, called_cb, &p, NULL));
  spin (50);
  g_assert_cmpuint (p.calls, ==, 2);          /* level: the byte is still there */
  pair_clear (&p);
}

static void
test_disarm (void)
{
  Pair p;

  pair_init (&p);
  g_assert_false (relais_poll_watch_disarm (p.watch));
  g_assert_false (relais_poll_watch_disarm (NULL));
  g_assert_true (relais_poll_watch_arm (p.watch, G_IO_IN, called_cb, &p, NULL));
  g_assert_true (relais_poll_watch_disarm (p.watch));
  g_assert_cmpint (write (p.fds[1], "x", 1), ==, 1);
  spin (50);
  g_assert_cmpuint (p.calls, ==, 0);
  pair_clear (&p);
}

static void
test_end_of_stream (void)
{
  Pair p;

  pair_init (&p);
  g_assert_true (relais_poll_watch_arm (p.watch, G_IO_IN, called_cb, &p, NULL));
  close (p.fds[1]);
  p.fds[1] = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);    /* for pair_clear() */
  spin (50);
  g_assert_cmpuint (p.calls, ==, 1);
  pair_clear (&p);
}

/* A peer gone while the watch is not armed wakes the loop once at most, not
 * at every iteration (epoll reports hang-ups unasked). */
static void
test_hangup_while_disarmed (void)
{
  Pair p;
  guint busy = 0;

  pair_init (&p);
  g_assert_true (relais_poll_watch_arm (p.watch, G_IO_IN, called_cb, &p, NULL));
  g_assert_true (relais_poll_watch_disarm (p.watch));
  close (p.fds[1]);
  p.fds[1] = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);    /* for pair_clear() */
  for (guint i = 0; i < 100; i++)
    busy += g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (busy, <=, 1);
  g_assert_cmpuint (p.calls, ==, 0);
  /* armed again, the end of the stream is seen */
  g_assert_true (relais_poll_watch_arm (p.watch, G_IO_IN, called_cb, &p, NULL));
  spin (50);
  g_assert_cmpuint (p.calls, ==, 1);
  pair_clear (&p);
}

static void
test_freed_by_an_earlier_call (void)
{
  Pair a, b;

  pair_init (&a);
  pair_init (&b);
  /* whichever is called first frees the other: exactly one call */
  a.to_free = &b.watch;
  b.to_free = &a.watch;
  g_assert_true (relais_poll_watch_arm (a.watch, G_IO_IN, called_cb, &a, NULL));
  g_assert_true (relais_poll_watch_arm (b.watch, G_IO_IN, called_cb, &b, NULL));
  g_assert_cmpint (write (a.fds[1], "x", 1), ==, 1);
  g_assert_cmpint (write (b.fds[1], "x", 1), ==, 1);
  spin (50);
  g_assert_cmpuint (a.calls + b.calls, ==, 1);
  pair_clear (&a);
  pair_clear (&b);
}

static void
test_write_ready (void)
{
  Pair p;

  pair_init (&p);
  g_assert_true (relais_poll_watch_arm (p.watch, G_IO_OUT, called_cb, &p, NULL));
  spin (50);
  g_assert_cmpuint (p.calls, ==, 1);
  pair_clear (&p);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/poller/once-per-arming", test_once_per_arming);
  g_test_add_func ("/relais/poller/disarm", test_disarm);
  g_test_add_func ("/relais/poller/end-of-stream", test_end_of_stream);
  g_test_add_func ("/relais/poller/hangup-while-disarmed", test_hangup_while_disarmed);
  g_test_add_func ("/relais/poller/freed-by-an-earlier-call", test_freed_by_an_earlier_call);
  g_test_add_func ("/relais/poller/write-ready", test_write_ready);
  return g_test_run ();
}
