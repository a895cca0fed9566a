/* SPDX-License-Identifier: GPL-3.0-or-later
 * Small helpers shared by the pages: toasts, error texts and screenshots. */
#include "config.h"

#include <string.h>

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

/* Does MESSAGE name KEY ("Key: ..." or "Key[2]: ...")? */
static gboolean
names_field (const char *message, const char *key)
{
  gsize len = strlen (key);

  return strncmp (message, key, len) == 0 && (message[len] == ':' || message[len] == '[');
}

int
relais_gui_show_field_error (GtkLabel *label, const RelaisErrorField *fields, guint n_fields,
                             const char *message, const char **reason)
{
  const char *colon = message != NULL ? strstr (message, ": ") : NULL;
  const char *why = colon != NULL ? colon + 2 : message;
  int culprit = -1;

  for (guint i = 0; i < n_fields; i++)
    {
      gtk_widget_remove_css_class (fields[i].row, "error");
      gtk_widget_set_tooltip_text (fields[i].row, NULL);
      if (colon != NULL && culprit < 0 && names_field (message, fields[i].key))
        culprit = (int) i;
    }
  if (reason != NULL)
    *reason = culprit >= 0 ? why : message;
  gtk_widget_set_visible (GTK_WIDGET (label), message != NULL);
  if (message == NULL)
    {
      gtk_label_set_text (label, "");
      return -1;
    }

  if (culprit >= 0)
    {
      GtkWidget *row = fields[culprit].row;
      g_autofree char *text = NULL;

      if (ADW_IS_PREFERENCES_ROW (row))
        /* TRANSLATORS: a field of a dialog ("Server") and the daemon's reason for refusing its value */
        text = g_strdup_printf (_("%s: %s"), adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), why);
      gtk_widget_add_css_class (row, "error");
      gtk_widget_set_tooltip_text (row, why);
      gtk_label_set_text (label, text != NULL ? text : why);
      gtk_widget_grab_focus (row);
    }
  else
    gtk_label_set_text (label, message);
  return culprit;
}

AdwMessageDialog *
relais_gui_confirm_dialog (GtkWidget *widget, const char *heading, const char *body,
                           const char *action_id, const char *action_label)
{
  GtkRoot *root = gtk_widget_get_root (widget);
  AdwMessageDialog *dialog =
    ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, heading, body));

  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), action_id, action_label, NULL);
  adw_message_dialog_set_response_appearance (dialog, action_id, ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  gtk_window_set_modal (GTK_WINDOW (dialog), TRUE);
  return dialog;
}
