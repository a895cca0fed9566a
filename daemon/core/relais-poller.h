/* SPDX-License-Identifier: GPL-3.0-or-later
 * Waits for many descriptors through one epoll set, itself one source of the
 * thread's main context: GLib's main loop looks at every source and polls
 * every descriptor at each iteration, which with thousands of SMTP sessions
 * (slow clients waking it a thousand times a second) costs more than the
 * sessions themselves. A watch is armed for one event at a time. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RelaisPollWatch RelaisPollWatch;

/* Called once per arming, in the main context, when the descriptor is ready. */
typedef void (*RelaisPollFunc) (gpointer user_data);

/* A watch of FD (not armed yet), in the thread-default main context's poller
 * (made on first use); NULL with ERROR when epoll refuses the descriptor. */
RelaisPollWatch *relais_poll_watch_new    (int fd, GError **error);
/* Calls FUNC(USER_DATA) once when FD can be read (G_IO_IN, hang-ups and
 * errors included) or written (G_IO_OUT). FALSE with ERROR when epoll says no. */
gboolean         relais_poll_watch_arm    (RelaisPollWatch *watch, GIOCondition condition,
                                           RelaisPollFunc func, gpointer user_data, GError **error);
/* The armed call will not happen; TRUE if one was armed (FALSE for NULL). */
gboolean         relais_poll_watch_disarm (RelaisPollWatch *watch);
gboolean         relais_poll_watch_is_armed (RelaisPollWatch *watch);
/* Stops watching (before the descriptor is closed) and frees WATCH. */
void             relais_poll_watch_free   (RelaisPollWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisPollWatch, relais_poll_watch_free)

G_END_DECLS
