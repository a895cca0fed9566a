/* SPDX-License-Identifier: GPL-3.0-or-later
 * Entry point of relais-settings: locale and gettext set-up, the
 * AdwApplication subclass and its app-wide actions (quit).
 * RELAIS_LOCALEDIR overrides the installed locale directory, so tests and
 * screenshots can run from the build tree (<builddir>/po). */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "relais-application.h"
#include "relais-test-hook.h"
#include "relais-window.h"

struct _RelaisApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (RelaisApplication, relais_application, ADW_TYPE_APPLICATION)

static void
quit_activated_cb (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = quit_activated_cb },
};

static void
relais_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };

  G_APPLICATION_CLASS (relais_application_parent_class)->startup (app);

  /* the installed hicolor icon (data/icons), for windows and dialogs */
  gtk_window_set_default_icon_name ("org.relais.Settings");

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
}

static void
relais_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (relais_window_new (ADW_APPLICATION (app)));
  gtk_window_present (window);
}

/* The test hook lives on the app's own connection (RELAIS_SETTINGS_TEST_HOOK=1). */
static gboolean
relais_application_dbus_register (GApplication *app, GDBusConnection *connection,
                                  const char *object_path, GError **error)
{
  if (!G_APPLICATION_CLASS (relais_application_parent_class)->dbus_register (app, connection, object_path, error))
    return FALSE;
  return relais_test_hook_export (connection, error);
}

static void
relais_application_dbus_unregister (GApplication *app, GDBusConnection *connection, const char *object_path)
{
  relais_test_hook_unexport (connection);
  G_APPLICATION_CLASS (relais_application_parent_class)->dbus_unregister (app, connection, object_path);
}

static void
relais_application_class_init (RelaisApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->dbus_register = relais_application_dbus_register;
  app_class->dbus_unregister = relais_application_dbus_unregister;
  app_class->startup = relais_application_startup;
  app_class->activate = relais_application_activate;
}

static void
relais_application_init (RelaisApplication *self)
{
}

RelaisApplication *
relais_application_new (void)
{
  return g_object_new (RELAIS_TYPE_APPLICATION,
                       "application-id", "org.relais.Settings",
                       "resource-base-path", "/org/relais/Settings",
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       NULL);
}

int
main (int argc, char *argv[])
{
  g_autoptr(RelaisApplication) app = NULL;
  const char *localedir = g_getenv ("RELAIS_LOCALEDIR");

  /* The default text domain also serves GtkBuilder's translatable strings. */
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Relais Settings"));

  app = relais_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
