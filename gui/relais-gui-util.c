/* SPDX-License-Identifier: GPL-3.0-or-later
 * Small helpers shared by the pages: toasts and error texts. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-gui-util.h"

void
relais_gui_toast (GtkWidget *widget, const char *message)
{
  if (!gtk_widget_activate_action (widget, "win.toast", "s", message))
    g_warning ("%s", message);   /* not in a window yet: at least keep it */
}

char *
relais_gui_error_message (const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);

  if (g_dbus_error_is_remote_error (copy))
    g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}

void
relais_gui_toast_error (GtkWidget *widget, const char *prefix, const GError *error)
{
  g_autofree char *reason = relais_gui_error_message (error);
  /* TRANSLATORS: a failed action (e.g. "Cannot apply the changes") and the daemon's reason */
  g_autofree char *text = g_strdup_printf (_("%s: %s"), prefix, reason);

  relais_gui_toast (widget, text);
}
