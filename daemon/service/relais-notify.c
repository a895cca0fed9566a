/* SPDX-License-Identifier: GPL-3.0-or-later
 * sd_notify(3) for relaisd: readiness, status, watchdog, reload and stop
 * (see relais-notify.h). The status is polled once a second and sent only
 * when its text changed, which both keeps it current and rate-limits it. */
#define G_LOG_DOMAIN "relais"

#include "relais-notify.h"

#include <inttypes.h>
#include <systemd/sd-daemon.h>

#define STATUS_INTERVAL_MS 1000

struct _RelaisNotifier {
  RelaisNotifierStatusFunc status_func;
  gpointer status_data;
  char *status;          /* last sent */
  guint status_id;
  guint watchdog_id;
};

static void
notify (const char *state)
{
  int ret = sd_notify (0, state);

  if (ret < 0)
    g_debug ("sd_notify failed: %s", g_strerror (-ret));
}

/* Sends PREFIX (may be NULL) with the current status. */
static void
send_status (RelaisNotifier *notifier, const char *prefix)
{
  g_autofree char *status = notifier->status_func (notifier->status_data);
  g_autofree char *message = NULL;

  if (prefix == NULL && g_strcmp0 (status, notifier->status) == 0)
    return;
  message = g_strdup_printf ("%s%sSTATUS=%s", prefix ? prefix : "", prefix ? "\n" : "", status);
  notify (message);
  g_free (notifier->status);
  notifier->status = g_steal_pointer (&status);
}

static gboolean
status_cb (gpointer user_data)
{
  send_status (user_data, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
watchdog_cb (gpointer user_data)
{
  notify ("WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

RelaisNotifier *
relais_notifier_new (RelaisNotifierStatusFunc status_func, gpointer user_data)
{
  RelaisNotifier *notifier = g_new0 (RelaisNotifier, 1);
  uint64_t usec = 0;

  g_return_val_if_fail (status_func != NULL, NULL);
  notifier->status_func = status_func;
  notifier->status_data = user_data;
  if (sd_watchdog_enabled (0, &usec) > 0 && usec > 0)
    {
      guint interval_ms = (guint) MIN (usec / 2000, (uint64_t) G_MAXUINT);

      g_message ("the service manager asks for a watchdog ping every %" PRIu64 " ms: pinging every %u ms",
                 usec / 1000, MAX (interval_ms, 1));
      notifier->watchdog_id = g_timeout_add (MAX (interval_ms, 1), watchdog_cb, notifier);
      notify ("WATCHDOG=1");
    }
  return notifier;
}

void
relais_notifier_free (RelaisNotifier *notifier)
{
  if (notifier == NULL)
    return;
  g_clear_handle_id (&notifier->status_id, g_source_remove);
  g_clear_handle_id (&notifier->watchdog_id, g_source_remove);
  g_free (notifier->status);
  g_free (notifier);
}

void
relais_notifier_ready (RelaisNotifier *notifier)
{
  send_status (notifier, "READY=1");
  /* no service manager listening: no status to keep current, no wake-ups */
  if (notifier->status_id == 0 && g_getenv ("NOTIFY_SOCKET") != NULL)
    notifier->status_id = g_timeout_add (STATUS_INTERVAL_MS, status_cb, notifier);
}

void
relais_notifier_reloading (RelaisNotifier *notifier)
{
  g_autofree char *message =
    g_strdup_printf ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());

  notify (message);
}

void
relais_notifier_stopping (RelaisNotifier *notifier)
{
  send_status (notifier, "STOPPING=1");
}
