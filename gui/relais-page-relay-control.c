/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Relay Control page (SPEC §3): the trusted list (clients that may
 * relay without authentication) and the domain list (domains whose mail is
 * accepted from anyone and forwarded). Both follow the daemon's
 * TrustedNetworks and RelayDomains properties live; entries are added and
 * edited in a RelaisRelayEntryDialog and removed after a confirmation, each
 * with its own call (there is nothing for the Apply bar here). */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-gui-util.h"
#include "relais-page-relay-control.h"
#include "relais-relay-entry-dialog.h"
#include "relais-test-hook.h"

#define RELAY_CONTROL_INTERFACE "org.relais.Relais1.RelayControl"

typedef struct {
  RelaisRelayList kind;
  const char *property;       /* "TrustedNetworks" */
  const char *hook_name;      /* "trusted": the test hook's name of the list */
  const char *remove_method;
  GtkListBox *box;
  GtkButton *add_button;
  GVariant *shown;            /* a(ss) as the rows show it */
} EntryList;

struct _RelaisPageRelayControl
{
  RelaisPage parent_instance;

  GtkListBox *trusted_list;
  GtkButton *trusted_add_button;
  GtkListBox *domains_list;
  GtkButton *domains_add_button;

  EntryList lists[2];
  GDBusProxy *proxy;
  RelaisRelayEntryDialog *dialog;   /* weak: the add/edit dialog now open */
  AdwMessageDialog *confirm;        /* weak: the removal being confirmed */
};

G_DEFINE_FINAL_TYPE (RelaisPageRelayControl, relais_page_relay_control, RELAIS_TYPE_PAGE)

static void open_dialog (EntryList *list, const char *name, const char *value);
static void confirm_remove (EntryList *list, const char *name);

static RelaisPageRelayControl *
list_page (EntryList *list)
{
  return RELAIS_PAGE_RELAY_CONTROL (gtk_widget_get_ancestor (GTK_WIDGET (list->box),
                                                             RELAIS_TYPE_PAGE_RELAY_CONTROL));
}

static void
edit_clicked_cb (GtkWidget *button, EntryList *list)
{
  GtkWidget *row = gtk_widget_get_ancestor (button, ADW_TYPE_ACTION_ROW);

  open_dialog (list, g_object_get_data (G_OBJECT (row), "name"), g_object_get_data (G_OBJECT (row), "value"));
}

static void
row_activated_cb (GtkListBox *box, GtkListBoxRow *row, EntryList *list)
{
  GtkWidget *edit = g_object_get_data (G_OBJECT (row), "edit-button");

  if (edit != NULL)
    g_signal_emit_by_name (edit, "clicked");
}

static void
remove_clicked_cb (GtkWidget *button, EntryList *list)
{
  GtkWidget *row = gtk_widget_get_ancestor (button, ADW_TYPE_ACTION_ROW);

  confirm_remove (list, g_object_get_data (G_OBJECT (row), "name"));
}

static GtkWidget *
make_row (EntryList *list, const char *name, const char *value)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *edit = gtk_button_new_from_icon_name ("document-edit-symbolic");
  GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), value);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data_full (G_OBJECT (row), "name", g_strdup (name), g_free);
  g_object_set_data_full (G_OBJECT (row), "value", g_strdup (value), g_free);

  gtk_widget_set_valign (edit, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (edit, "flat");
  /* TRANSLATORS: tooltip of the button editing one entry of a list */
  gtk_widget_set_tooltip_text (edit, _("Edit"));
  g_signal_connect (edit, "clicked", G_CALLBACK (edit_clicked_cb), list);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), edit);
  g_object_set_data (G_OBJECT (row), "edit-button", edit);

  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (remove, "flat");
  /* TRANSLATORS: tooltip of the button removing one entry of a list */
  gtk_widget_set_tooltip_text (remove, _("Remove"));
  g_signal_connect (remove, "clicked", G_CALLBACK (remove_clicked_cb), list);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
  g_object_set_data (G_OBJECT (row), "remove-button", remove);
  return row;
}

/* Shows the daemon's list (a(ss), or NULL while not connected). */
static void
show_list (EntryList *list, GVariant *value)
{
  GtkWidget *child;
  GVariantIter iter;
  const char *name, *item;

  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE ("a(ss)")))
    value = g_variant_new ("a(ss)", NULL);
  g_variant_ref_sink (value);
  if (list->shown != NULL && g_variant_equal (list->shown, value))
    {
      g_variant_unref (value);
      return;
    }
  g_clear_pointer (&list->shown, g_variant_unref);
  list->shown = value;

  /* the placeholder is a child too: remove the rows only */
  for (child = gtk_widget_get_first_child (GTK_WIDGET (list->box)); child != NULL;)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);
      if (GTK_IS_LIST_BOX_ROW (child))
        gtk_list_box_remove (list->box, child);
      child = next;
    }
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&s)", &name, &item))
    gtk_list_box_append (list->box, make_row (list, name, item));
}

static void
load_lists (RelaisPageRelayControl *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->lists); i++)
    {
      g_autoptr(GVariant) value = NULL;

      if (self->proxy != NULL)
        value = g_dbus_proxy_get_cached_property (self->proxy, self->lists[i].property);
      show_list (&self->lists[i], value);
    }
}

static void
update_sensitive (RelaisPageRelayControl *self)
{
  gboolean can_edit = relais_client_can_edit (relais_page_get_client (RELAIS_PAGE (self)));

  for (guint i = 0; i < G_N_ELEMENTS (self->lists); i++)
    {
      gtk_widget_set_sensitive (GTK_WIDGET (self->lists[i].box), can_edit);
      gtk_widget_set_sensitive (GTK_WIDGET (self->lists[i].add_button), can_edit);
    }
}

static void
client_changed_cb (RelaisPageRelayControl *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (relais_page_get_client (RELAIS_PAGE (self)),
                                               RELAY_CONTROL_INTERFACE);

  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_set_object (&self->proxy, proxy);
  if (proxy != NULL)
    g_signal_connect_object (proxy, "g-properties-changed", G_CALLBACK (load_lists), self, G_CONNECT_SWAPPED);
  load_lists (self);
  update_sensitive (self);
}

static void
open_dialog (EntryList *list, const char *name, const char *value)
{
  RelaisPageRelayControl *self = list_page (list);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  RelaisRelayEntryDialog *dialog =
    relais_relay_entry_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   relais_page_get_client (RELAIS_PAGE (self)), list->kind, name, value);

  g_set_weak_pointer (&self->dialog, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
trusted_add_clicked_cb (RelaisPageRelayControl *self)
{
  open_dialog (&self->lists[RELAIS_RELAY_LIST_TRUSTED], NULL, NULL);
}

static void
domains_add_clicked_cb (RelaisPageRelayControl *self)
{
  open_dialog (&self->lists[RELAIS_RELAY_LIST_DOMAINS], NULL, NULL);
}

static void
remove_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GtkWidget) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    relais_gui_toast_error (self, _("The entry was not removed"), error);
}

static void
confirm_response_cb (AdwMessageDialog *dialog, const char *response, EntryList *list)
{
  RelaisPageRelayControl *self = list_page (list);
  const char *name = g_object_get_data (G_OBJECT (dialog), "name");

  if (!g_str_equal (response, "remove"))
    return;
  if (self->proxy == NULL)
    {
      relais_gui_toast (GTK_WIDGET (self), _("The mail server (relaisd) cannot be reached."));
      return;
    }
  g_dbus_proxy_call (self->proxy, list->remove_method, g_variant_new ("(sb)", name, TRUE),
                     G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, G_MAXINT, NULL, remove_done_cb,
                     g_object_ref (self));
}

static void
confirm_remove (EntryList *list, const char *name)
{
  RelaisPageRelayControl *self = list_page (list);
  AdwMessageDialog *dialog;
  const char *body;

  if (list->kind == RELAIS_RELAY_LIST_TRUSTED)
    body = _("Clients in this network will have to authenticate to relay mail.");
  else
    body = _("Mail for this domain will no longer be accepted for relay.");
  dialog = relais_gui_confirm_dialog (GTK_WIDGET (self), NULL, body, "remove", _("_Remove"));
  /* TRANSLATORS: %s is the name of a trusted network or relay domain entry */
  adw_message_dialog_format_heading (dialog, _("Remove “%s”?"), name);
  g_object_set_data_full (G_OBJECT (dialog), "name", g_strdup (name), g_free);
  g_signal_connect (dialog, "response", G_CALLBACK (confirm_response_cb), list);
  g_set_weak_pointer (&self->confirm, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Test hook. */
static EntryList *
hook_list (RelaisPageRelayControl *self, const char *name, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->lists); i++)
    if (g_strcmp0 (self->lists[i].hook_name, name) == 0)
      return &self->lists[i];
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no list \"%s\" (trusted or domains)", name);
  return NULL;
}

static GtkWidget *
hook_row (EntryList *list, const char *name, GError **error)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (list->box)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (g_strcmp0 (g_object_get_data (G_OBJECT (child), "name"), name) == 0)
      return child;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no row named \"%s\" in the %s list", name, list->hook_name);
  return NULL;
}

static gboolean
hook_click (GtkWidget *button, GError **error)
{
  if (!gtk_widget_is_sensitive (button))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "the button is not sensitive");
      return FALSE;
    }
  g_signal_emit_by_name (button, "clicked");
  return TRUE;
}

/* The rows as shown: a(ss). */
static GVariant *
probe_rows (gpointer data, gboolean *sensitive, char **message)
{
  EntryList *list = data;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ss)"));
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (list->box)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (ADW_IS_ACTION_ROW (child))
      g_variant_builder_add (&builder, "(ss)", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (child)),
                             adw_action_row_get_subtitle (ADW_ACTION_ROW (child)));
  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (list->box)) &&
               gtk_widget_is_sensitive (GTK_WIDGET (list->add_button));
  return g_variant_builder_end (&builder);
}

/* The dialog now open: a{sv} with "open" (b) and what it shows. */
static GVariant *
probe_dialog (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageRelayControl *self = data;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  if (self->dialog != NULL)
    {
      g_autoptr(GVariant) shown = g_variant_ref_sink (relais_relay_entry_dialog_describe (self->dialog));
      g_variant_dict_init (&dict, shown);
    }
  g_variant_dict_insert (&dict, "open", "b", self->dialog != NULL && gtk_widget_get_visible (GTK_WIDGET (self->dialog)));
  *sensitive = TRUE;
  return g_variant_dict_end (&dict);
}

/* (list, name, value): the add button, the dialog filled in, OK. */
static GVariant *
hook_add (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageRelayControl *self = data;
  const char *which, *name, *value;
  EntryList *list;

  g_variant_get (argument, "(&s&s&s)", &which, &name, &value);
  if ((list = hook_list (self, which, error)) == NULL || !hook_click (GTK_WIDGET (list->add_button), error))
    return NULL;
  relais_relay_entry_dialog_set_entry (self->dialog, name, value);
  relais_relay_entry_dialog_press_ok (self->dialog);
  return g_variant_new_boolean (TRUE);
}

/* (list, name, new name, new value): the row's edit button, the dialog changed, OK. */
static GVariant *
hook_edit (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageRelayControl *self = data;
  const char *which, *name, *new_name, *new_value;
  EntryList *list;
  GtkWidget *row;

  g_variant_get (argument, "(&s&s&s&s)", &which, &name, &new_name, &new_value);
  if ((list = hook_list (self, which, error)) == NULL || (row = hook_row (list, name, error)) == NULL ||
      !hook_click (g_object_get_data (G_OBJECT (row), "edit-button"), error))
    return NULL;
  relais_relay_entry_dialog_set_entry (self->dialog, new_name, new_value);
  relais_relay_entry_dialog_press_ok (self->dialog);
  return g_variant_new_boolean (TRUE);
}

/* (list, name, response): the row's remove button, then RESPONSE ("remove"
 * or "cancel") in the confirmation. */
static GVariant *
hook_remove (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageRelayControl *self = data;
  const char *which, *name, *response;
  EntryList *list;
  GtkWidget *row;
  g_autofree char *heading = NULL;

  g_variant_get (argument, "(&s&s&s)", &which, &name, &response);
  if ((list = hook_list (self, which, error)) == NULL || (row = hook_row (list, name, error)) == NULL ||
      !hook_click (g_object_get_data (G_OBJECT (row), "remove-button"), error))
    return NULL;
  heading = g_strdup (adw_message_dialog_get_heading (self->confirm));
  adw_message_dialog_response (self->confirm, response);
  return g_variant_new_string (heading);
}

/* (name, value): the open dialog's fields changed, then OK. */
static GVariant *
hook_dialog_fill (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageRelayControl *self = data;
  const char *name, *value;

  if (self->dialog == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no dialog is open");
      return NULL;
    }
  g_variant_get (argument, "(&s&s)", &name, &value);
  relais_relay_entry_dialog_set_entry (self->dialog, name, value);
  relais_relay_entry_dialog_press_ok (self->dialog);
  return g_variant_new_boolean (TRUE);
}

static GVariant *
hook_dialog_close (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageRelayControl *self = data;

  if (self->dialog != NULL)
    gtk_window_close (GTK_WINDOW (self->dialog));
  return g_variant_new_boolean (TRUE);
}

static GVariant *
hook_dialog_screenshot (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageRelayControl *self = data;
  int width, height;

  if (self->dialog == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no dialog is open");
      return NULL;
    }
  if (!relais_gui_save_screenshot (GTK_WIDGET (self->dialog), g_variant_get_string (argument, NULL), &width,
                                   &height, error))
    return NULL;
  return g_variant_new ("(ii)", width, height);
}

static void
relais_page_relay_control_constructed (GObject *object)
{
  RelaisPageRelayControl *self = RELAIS_PAGE_RELAY_CONTROL (object);
  RelaisClient *client;

  G_OBJECT_CLASS (relais_page_relay_control_parent_class)->constructed (object);

  client = relais_page_get_client (RELAIS_PAGE (self));
  g_signal_connect_object (client, "changed", G_CALLBACK (client_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::can-edit", G_CALLBACK (update_sensitive), self, G_CONNECT_SWAPPED);
  update_sensitive (self);
  client_changed_cb (self);

  relais_test_hook_add_probe ("RelayControl.trusted", object, probe_rows, NULL, &self->lists[0]);
  relais_test_hook_add_probe ("RelayControl.domains", object, probe_rows, NULL, &self->lists[1]);
  relais_test_hook_add_probe ("RelayControl.dialog", object, probe_dialog, NULL, self);
  relais_test_hook_add_action ("RelayControl.add", object, hook_add, self);
  relais_test_hook_add_action ("RelayControl.edit", object, hook_edit, self);
  relais_test_hook_add_action ("RelayControl.remove", object, hook_remove, self);
  relais_test_hook_add_action ("RelayControl.dialog-fill", object, hook_dialog_fill, self);
  relais_test_hook_add_action ("RelayControl.dialog-close", object, hook_dialog_close, self);
  relais_test_hook_add_action ("RelayControl.dialog-screenshot", object, hook_dialog_screenshot, self);
}

static void
relais_page_relay_control_dispose (GObject *object)
{
  RelaisPageRelayControl *self = RELAIS_PAGE_RELAY_CONTROL (object);

  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_clear_object (&self->proxy);
  g_clear_weak_pointer (&self->dialog);
  g_clear_weak_pointer (&self->confirm);
  for (guint i = 0; i < G_N_ELEMENTS (self->lists); i++)
    g_clear_pointer (&self->lists[i].shown, g_variant_unref);
  G_OBJECT_CLASS (relais_page_relay_control_parent_class)->dispose (object);
}

static void
relais_page_relay_control_class_init (RelaisPageRelayControlClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = relais_page_relay_control_constructed;
  object_class->dispose = relais_page_relay_control_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-page-relay-control.ui");
  gtk_widget_class_bind_template_child (widget_class, RelaisPageRelayControl, trusted_list);
  gtk_widget_class_bind_template_child (widget_class, RelaisPageRelayControl, trusted_add_button);
  gtk_widget_class_bind_template_child (widget_class, RelaisPageRelayControl, domains_list);
  gtk_widget_class_bind_template_child (widget_class, RelaisPageRelayControl, domains_add_button);
  gtk_widget_class_bind_template_callback (widget_class, trusted_add_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, domains_add_clicked_cb);
}

static void
setup_list (EntryList *list, RelaisRelayList kind, GtkListBox *box, GtkButton *add_button, const char *empty_text)
{
  GtkWidget *placeholder = gtk_label_new (empty_text);

  list->kind = kind;
  list->property = kind == RELAIS_RELAY_LIST_TRUSTED ? "TrustedNetworks" : "RelayDomains";
  list->hook_name = kind == RELAIS_RELAY_LIST_TRUSTED ? "trusted" : "domains";
  list->remove_method = kind == RELAIS_RELAY_LIST_TRUSTED ? "RemoveTrustedNetwork" : "RemoveRelayDomain";
  list->box = box;
  list->add_button = add_button;
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_widget_set_margin_top (placeholder, 12);
  gtk_widget_set_margin_bottom (placeholder, 12);
  gtk_list_box_set_placeholder (box, placeholder);
  g_signal_connect (box, "row-activated", G_CALLBACK (row_activated_cb), list);
}

static void
relais_page_relay_control_init (RelaisPageRelayControl *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  setup_list (&self->lists[RELAIS_RELAY_LIST_TRUSTED], RELAIS_RELAY_LIST_TRUSTED, self->trusted_list,
              self->trusted_add_button, _("No trusted networks"));
  setup_list (&self->lists[RELAIS_RELAY_LIST_DOMAINS], RELAIS_RELAY_LIST_DOMAINS, self->domains_list,
              self->domains_add_button, _("No relay domains"));
}

GtkWidget *
relais_page_relay_control_new (RelaisClient *client)
{
  return g_object_new (RELAIS_TYPE_PAGE_RELAY_CONTROL, "client", client, NULL);
}
