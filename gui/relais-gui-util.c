/* SPDX-License-Identifier: GPL-3.0-or-later
 * Small helpers shared by the pages: toasts, error texts and screenshots. */
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

gboolean
relais_gui_save_screenshot (GtkWidget *widget, const char *path, int *width_out, int *height_out, GError **error)
{
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GtkNative *native = gtk_widget_get_native (widget);
  GskRenderer *renderer = native != NULL ? gtk_native_get_renderer (native) : NULL;
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  if (renderer == NULL || width <= 0 || height <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the window is not shown");
      return FALSE;
    }
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the window has nothing drawn yet");
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write %s", path);
      return FALSE;
    }
  if (width_out != NULL)
    *width_out = width;
  if (height_out != NULL)
    *height_out = height;
  return TRUE;
}
