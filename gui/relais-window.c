/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisWindow: the pages in a view stack, the lock button for polkit, a
 * banner while relaisd cannot be reached (the client reconnects by itself
 * when it comes back), toasts for the pages ("win.toast"), and the Apply
 * bar, which sends the visible page's edited settings ("win.apply") or puts
 * the daemon's values back ("win.revert"). */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-client.h"
#include "relais-explain-dialog.h"
#include "relais-gui-util.h"
#include "relais-page.h"
#include "relais-page-distribution.h"
#include "relais-page-general.h"
#include "relais-page-relay-control.h"
#include "relais-page-security.h"
#include "relais-page-status.h"
#include "relais-test-hook.h"
#include "relais-window.h"

struct _RelaisWindow
{
  AdwApplicationWindow parent_instance;

  AdwViewSwitcherTitle *switcher_title;
  GtkLockButton *lock_button;
  GtkRevealer *banner_revealer;
  GtkLabel *banner_label;
  AdwToastOverlay *toast_overlay;
  AdwViewStack *stack;
  GtkRevealer *apply_revealer;

  RelaisClient *client;
  RelaisForm *form;           /* the visible page's, if it has one */
  gulong dirty_id;
  gulong busy_id;
};

G_DEFINE_FINAL_TYPE (RelaisWindow, relais_window, ADW_TYPE_APPLICATION_WINDOW)

/* The pages in the order of the switcher. */
static const struct {
  GtkWidget *(*create) (RelaisClient *client);
} page_table[] = {
  { relais_page_general_new },
  { relais_page_distribution_new },
  { relais_page_relay_control_new },
  { relais_page_security_new },
  { relais_page_status_new },
};

static void
update_apply_bar (RelaisWindow *self)
{
  gboolean dirty = self->form != NULL && relais_form_get_dirty (self->form);
  gboolean busy = self->form != NULL && relais_form_get_busy (self->form);
  gboolean can_edit = relais_client_can_edit (self->client);

  gtk_revealer_set_reveal_child (self->apply_revealer, dirty);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.apply", dirty && !busy && can_edit);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.revert", dirty && !busy);
}

static void
visible_page_cb (RelaisWindow *self)
{
  GtkWidget *page = adw_view_stack_get_visible_child (self->stack);
  RelaisForm *form = RELAIS_IS_PAGE (page) ? relais_page_get_form (RELAIS_PAGE (page)) : NULL;

  if (self->form != NULL)
    {
      g_clear_signal_handler (&self->dirty_id, self->form);
      g_clear_signal_handler (&self->busy_id, self->form);
    }
  g_set_object (&self->form, form);
  if (form != NULL)
    {
      self->dirty_id = g_signal_connect_object (form, "notify::dirty", G_CALLBACK (update_apply_bar), self,
                                                G_CONNECT_SWAPPED);
      self->busy_id = g_signal_connect_object (form, "notify::busy", G_CALLBACK (update_apply_bar), self,
                                               G_CONNECT_SWAPPED);
    }
  update_apply_bar (self);
}

static void
update_connection (RelaisWindow *self)
{
  const char *bus = relais_client_get_bus_name (self->client);
  GPermission *permission = relais_client_get_permission (self->client);

  if (bus == NULL)
    {
      gtk_label_set_text (self->banner_label,
                          _("The mail server (relaisd) is not running or cannot be reached. "
                            "The settings come back as soon as it is running again."));
      adw_view_switcher_title_set_subtitle (self->switcher_title, _("Not connected"));
    }
  else
    adw_view_switcher_title_set_subtitle (self->switcher_title,
                                          g_str_equal (bus, "system") ? _("relaisd on the system bus")
                                                                      : _("relaisd on the session bus"));
  gtk_revealer_set_reveal_child (self->banner_revealer, bus == NULL);

  /* The lock only means something where polkit decides (the system bus). */
  gtk_lock_button_set_permission (self->lock_button, permission);
  gtk_widget_set_visible (GTK_WIDGET (self->lock_button), bus != NULL && g_str_equal (bus, "system"));
  update_apply_bar (self);
}

static void
toast_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RelaisWindow *self = RELAIS_WINDOW (widget);
  AdwToast *toast = adw_toast_new (g_variant_get_string (parameter, NULL));

  adw_toast_set_timeout (toast, 6);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
apply_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RelaisWindow *self = RELAIS_WINDOW (widget);

  if (self->form != NULL)
    relais_form_apply (self->form);
}

static void
revert_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RelaisWindow *self = RELAIS_WINDOW (widget);

  if (self->form != NULL)
    relais_form_revert (self->form);
}

static void
show_page_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RelaisWindow *self = RELAIS_WINDOW (widget);

  adw_view_stack_set_visible_child_name (self->stack, g_variant_get_string (parameter, NULL));
}

static void
explain_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  relais_explain_dialog_present (widget, RELAIS_WINDOW (widget)->client);
}

/* Test hook actions. */
static GVariant *
hook_state (gpointer data, GVariant *argument, GError **error)
{
  RelaisWindow *self = data;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const char *bus = relais_client_get_bus_name (self->client);

  g_variant_dict_insert (&dict, "page", "s", adw_view_stack_get_visible_child_name (self->stack));
  g_variant_dict_insert (&dict, "connected", "b", relais_client_is_connected (self->client));
  g_variant_dict_insert (&dict, "bus", "s", bus != NULL ? bus : "");
  g_variant_dict_insert (&dict, "can-edit", "b", relais_client_can_edit (self->client));
  g_variant_dict_insert (&dict, "banner", "b", gtk_revealer_get_reveal_child (self->banner_revealer));
  g_variant_dict_insert (&dict, "banner-text", "s", gtk_label_get_text (self->banner_label));
  g_variant_dict_insert (&dict, "dirty", "b", self->form != NULL && relais_form_get_dirty (self->form));
  g_variant_dict_insert (&dict, "busy", "b", self->form != NULL && relais_form_get_busy (self->form));
  g_variant_dict_insert (&dict, "lock-visible", "b", gtk_widget_get_visible (GTK_WIDGET (self->lock_button)));
  g_variant_dict_insert (&dict, "icon-name", "s",
                         gtk_window_get_default_icon_name () != NULL ? gtk_window_get_default_icon_name () : "");
  return g_variant_dict_end (&dict);
}

static GVariant *
hook_run_action (gpointer data, GVariant *argument, GError **error)
{
  GtkWidget *self = data;
  const char *action = g_variant_get_string (argument, NULL);
  GVariant *target = NULL;
  g_auto(GStrv) parts = g_strsplit (action, ":", 2);   /* "win.show-page:security" */

  if (parts[1] != NULL)
    target = g_variant_new_string (parts[1]);
  if (!gtk_widget_activate_action_variant (self, parts[0], target))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no enabled action %s", parts[0]);
      return NULL;
    }
  return g_variant_new_boolean (TRUE);
}

static GVariant *
hook_screenshot (gpointer data, GVariant *argument, GError **error)
{
  int width, height;

  if (!relais_gui_save_screenshot (GTK_WIDGET (data), g_variant_get_string (argument, NULL), &width, &height, error))
    return NULL;
  return g_variant_new ("(ii)", width, height);
}

static GVariant *
hook_resize (gpointer data, GVariant *argument, GError **error)
{
  int width, height;

  g_variant_get (argument, "(ii)", &width, &height);
  gtk_window_set_default_size (GTK_WINDOW (data), width, height);
  return g_variant_new_boolean (TRUE);
}

static void
relais_window_dispose (GObject *object)
{
  RelaisWindow *self = RELAIS_WINDOW (object);

  if (self->form != NULL)
    {
      g_clear_signal_handler (&self->dirty_id, self->form);
      g_clear_signal_handler (&self->busy_id, self->form);
    }
  g_clear_object (&self->form);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_WINDOW);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (relais_window_parent_class)->dispose (object);
}

static void
relais_window_class_init (RelaisWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-window.ui");
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, lock_button);
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, RelaisWindow, apply_revealer);

  gtk_widget_class_install_action (widget_class, "win.toast", "s", toast_activated);
  gtk_widget_class_install_action (widget_class, "win.apply", NULL, apply_activated);
  gtk_widget_class_install_action (widget_class, "win.revert", NULL, revert_activated);
  gtk_widget_class_install_action (widget_class, "win.show-page", "s", show_page_activated);
  gtk_widget_class_install_action (widget_class, "win.explain", NULL, explain_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, GDK_CONTROL_MASK, "win.apply", NULL);
}

static void
relais_window_init (RelaisWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->client = relais_client_new ();
  for (guint i = 0; i < G_N_ELEMENTS (page_table); i++)
    {
      GtkWidget *page = page_table[i].create (self->client);
      AdwViewStackPage *stack_page =
        adw_view_stack_add_titled (self->stack, page, adw_preferences_page_get_name (ADW_PREFERENCES_PAGE (page)),
                                   adw_preferences_page_get_title (ADW_PREFERENCES_PAGE (page)));
      adw_view_stack_page_set_icon_name (stack_page,
                                         adw_preferences_page_get_icon_name (ADW_PREFERENCES_PAGE (page)));
    }

  g_signal_connect_object (self->stack, "notify::visible-child", G_CALLBACK (visible_page_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "changed", G_CALLBACK (update_connection), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "notify::permission", G_CALLBACK (update_connection), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client, "notify::can-edit", G_CALLBACK (update_apply_bar), self,
                           G_CONNECT_SWAPPED);
  update_connection (self);
  visible_page_cb (self);

  relais_test_hook_add_action ("window.state", G_OBJECT (self), hook_state, self);
  relais_test_hook_add_action ("window.action", G_OBJECT (self), hook_run_action, self);
  relais_test_hook_add_action ("window.screenshot", G_OBJECT (self), hook_screenshot, self);
  relais_test_hook_add_action ("window.resize", G_OBJECT (self), hook_resize, self);
}

RelaisWindow *
relais_window_new (AdwApplication *app)
{
  return g_object_new (RELAIS_TYPE_WINDOW, "application", app, NULL);
}

RelaisClient *
relais_window_get_client (RelaisWindow *self)
{
  g_return_val_if_fail (RELAIS_IS_WINDOW (self), NULL);
  return self->client;
}
