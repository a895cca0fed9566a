/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisWindow: watches org.relais.Relais1 on both the system bus (the
 * installed daemon) and the session bus (relaisd --session, development) and
 * shows which one answers; the system bus wins when both do. Until both
 * watches have reported, it says it is still looking. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-window.h"

#define RELAIS_BUS_NAME "org.relais.Relais1"

typedef enum {
  BUS_UNKNOWN,   /* no answer from the watch yet */
  BUS_ABSENT,
  BUS_PRESENT,
} BusState;

struct _RelaisWindow
{
  AdwApplicationWindow parent_instance;

  AdwActionRow *daemon_row;
  GtkImage     *daemon_icon;

  guint         system_watch;
  guint         session_watch;
  BusState      on_system;
  BusState      on_session;
};

G_DEFINE_FINAL_TYPE (RelaisWindow, relais_window, ADW_TYPE_APPLICATION_WINDOW)

static void
relais_window_update_status (RelaisWindow *self)
{
  const char *text;
  const char *icon;
  const char *style = NULL;   /* libadwaita colour class for the icon */

  if (self->on_system == BUS_PRESENT)
    {
      text = _("Connected to relaisd on the system bus");
      icon = "emblem-ok-symbolic";
      style = "success";
    }
  else if (self->on_session == BUS_PRESENT)
    {
      text = _("Connected to relaisd on the session bus");
      icon = "emblem-ok-symbolic";
      style = "success";
    }
  else if (self->on_system == BUS_UNKNOWN || self->on_session == BUS_UNKNOWN)
    {
      text = _("Looking for relaisd…");
      icon = "content-loading-symbolic";
    }
  else
    {
      text = _("relaisd is not running");
      icon = "dialog-warning-symbolic";
      style = "warning";
    }

  adw_action_row_set_subtitle (self->daemon_row, text);
  gtk_image_set_from_icon_name (self->daemon_icon, icon);
  gtk_widget_remove_css_class (GTK_WIDGET (self->daemon_icon), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->daemon_icon), "warning");
  if (style != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->daemon_icon), style);
}

static void
set_state (RelaisWindow *self, GBusType bus, BusState state)
{
  if (bus == G_BUS_TYPE_SYSTEM)
    self->on_system = state;
  else
    self->on_session = state;
  relais_window_update_status (self);
}

/* Closures made with g_cclosure_new_object() die with the window, so a
 * watch reporting late can never reach a finalized window. */
static void
system_appeared_cb (GDBusConnection *connection, const char *name,
                    const char *owner, gpointer user_data)
{
  set_state (RELAIS_WINDOW (user_data), G_BUS_TYPE_SYSTEM, BUS_PRESENT);
}

static void
system_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  set_state (RELAIS_WINDOW (user_data), G_BUS_TYPE_SYSTEM, BUS_ABSENT);
}

static void
session_appeared_cb (GDBusConnection *connection, const char *name,
                     const char *owner, gpointer user_data)
{
  set_state (RELAIS_WINDOW (user_data), G_BUS_TYPE_SESSION, BUS_PRESENT);
}

static void
session_vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  set_state (RELAIS_WINDOW (user_data), G_BUS_TYPE_SESSION, BUS_ABSENT);
}

static guint
watch (RelaisWindow *self, GBusType bus, GCallback appeared, GCallback vanished)
{
  return g_bus_watch_name_with_closures (bus, RELAIS_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                         g_cclosure_new_object (appeared, G_OBJECT (self)),
                                         g_cclosure_new_object (vanished, G_OBJECT (self)));
}

static void
relais_window_dispose (GObject *object)
{
  RelaisWindow *self = RELAIS_WINDOW (object);

  g_clear_handle_id (&self->system_watch, g_bus_unwatch_name);
  g_clear_handle_id (&self->session_watch, g_bus_unwatch_name);

  G_OBJECT_CLASS (relais_window_parent_class)->dispose (object);
}

static void
relais_window_class_init (RelaisWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-window.ui");
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, daemon_row);
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, daemon_icon);
}

static void
relais_window_init (RelaisWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->on_system = BUS_UNKNOWN;
  self->on_session = BUS_UNKNOWN;
  relais_window_update_status (self);

  self->system_watch = watch (self, G_BUS_TYPE_SYSTEM,
                              G_CALLBACK (system_appeared_cb), G_CALLBACK (system_vanished_cb));
  self->session_watch = watch (self, G_BUS_TYPE_SESSION,
                               G_CALLBACK (session_appeared_cb), G_CALLBACK (session_vanished_cb));
}

RelaisWindow *
relais_window_new (AdwApplication *app)
{
  return g_object_new (RELAIS_TYPE_WINDOW, "application", app, NULL);
}
