/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the service manager hears from relaisd (sd_notify(3)): READY=1, a
 * STATUS= line kept current (sent when it changes, at most once a second),
 * WATCHDOG=1 from the main loop at half the interval systemd asks for (so a
 * stuck loop stops the pings), RELOADING=1 and STOPPING=1. Without
 * NOTIFY_SOCKET every message is dropped by libsystemd. Main thread only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RelaisNotifier RelaisNotifier;
/* Returns the current status text (newly allocated). */
typedef char *(*RelaisNotifierStatusFunc) (gpointer user_data);

/* Starts the watchdog pings when WATCHDOG_USEC (and WATCHDOG_PID, if set) ask for them. */
RelaisNotifier *relais_notifier_new (RelaisNotifierStatusFunc status_func, gpointer user_data);
void            relais_notifier_free (RelaisNotifier *notifier);
/* READY=1 with the status; from then on the status is kept current. */
void            relais_notifier_ready (RelaisNotifier *notifier);
/* RELOADING=1 (with MONOTONIC_USEC); relais_notifier_ready() ends the reload. */
void            relais_notifier_reloading (RelaisNotifier *notifier);
/* STOPPING=1 with the status. */
void            relais_notifier_stopping (RelaisNotifier *notifier);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisNotifier, relais_notifier_free)

G_END_DECLS
