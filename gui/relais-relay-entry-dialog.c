/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisRelayEntryDialog: adds or edits one entry of a Relay Control list
 * (SPEC §3): a name and a network (trusted list) or a domain (domain
 * list). OK sends AddTrustedNetwork / UpdateTrustedNetwork (or the
 * RelayDomain methods) and closes once the daemon has accepted; a refusal
 * keeps the dialog open with the daemon's message on the field it names
 * ("Name: …", "Network: …", "Domain: …"), for the administrator to fix. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-gui-util.h"
#include "relais-relay-entry-dialog.h"

#define RELAY_CONTROL_INTERFACE "org.relais.Relais1.RelayControl"

struct _RelaisRelayEntryDialog
{
  AdwWindow parent_instance;

  GtkButton *cancel_button;
  GtkButton *ok_button;
  AdwPreferencesGroup *group;
  AdwEntryRow *name_row;
  AdwEntryRow *value_row;
  GtkLabel *error_label;

  RelaisClient *client;
  RelaisRelayList list;
  char *old_name;             /* the entry edited; NULL when adding */
  char *old_value;
  GCancellable *cancellable;  /* the call on its way */
  char *error;                /* the daemon's last refusal */
  const char *error_field;    /* "name", "value" or "" */
};

G_DEFINE_FINAL_TYPE (RelaisRelayEntryDialog, relais_relay_entry_dialog, ADW_TYPE_WINDOW)

/* The daemon's key for the value of an entry of LIST. */
static const char *
value_key (RelaisRelayList list)
{
  return list == RELAIS_RELAY_LIST_TRUSTED ? "Network" : "Domain";
}

static void
update_buttons (RelaisRelayEntryDialog *self)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  g_autofree char *value = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->value_row))));
  gboolean busy = self->cancellable != NULL;

  gtk_widget_set_sensitive (GTK_WIDGET (self->ok_button),
                            !busy && *name != '\0' && *value != '\0' && relais_client_can_edit (self->client));
  gtk_widget_set_sensitive (GTK_WIDGET (self->group), !busy);
}

static void
show_error (RelaisRelayEntryDialog *self, const char *message)
{
  static const char *const field_names[] = { "name", "value" };
  const RelaisErrorField fields[] = {
    { "Name", GTK_WIDGET (self->name_row) },
    { value_key (self->list), GTK_WIDGET (self->value_row) },
  };
  const char *reason = NULL;
  int culprit = relais_gui_show_field_error (self->error_label, fields, G_N_ELEMENTS (fields), message, &reason);

  g_free (self->error);
  self->error = g_strdup (reason);
  self->error_field = culprit >= 0 ? field_names[culprit] : "";
}

static void
field_changed_cb (RelaisRelayEntryDialog *self)
{
  update_buttons (self);
}

static void
cancel_clicked_cb (RelaisRelayEntryDialog *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RelaisRelayEntryDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the dialog was closed meanwhile */
  g_clear_object (&self->cancellable);
  update_buttons (self);
  if (reply == NULL)
    {
      g_autofree char *message = relais_gui_error_message (error);
      show_error (self, message);
      return;
    }
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
ok_clicked_cb (RelaisRelayEntryDialog *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (self->client, RELAY_CONTROL_INTERFACE);
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  g_autofree char *value = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->value_row))));
  gboolean trusted = self->list == RELAIS_RELAY_LIST_TRUSTED;
  const char *method;
  GVariant *parameters;

  if (!gtk_widget_is_sensitive (GTK_WIDGET (self->ok_button)))
    return;
  if (proxy == NULL)
    {
      show_error (self, _("The mail server (relaisd) cannot be reached."));
      return;
    }
  if (self->old_name == NULL)
    {
      method = trusted ? "AddTrustedNetwork" : "AddRelayDomain";
      parameters = g_variant_new ("(ssb)", name, value, TRUE);
    }
  else
    {
      g_auto(GVariantDict) changes = G_VARIANT_DICT_INIT (NULL);

      if (!g_str_equal (name, self->old_name))
        g_variant_dict_insert (&changes, "Name", "s", name);
      if (!g_str_equal (value, self->old_value))
        g_variant_dict_insert (&changes, value_key (self->list), "s", value);
      method = trusted ? "UpdateTrustedNetwork" : "UpdateRelayDomain";
      parameters = g_variant_new ("(s@a{sv}b)", self->old_name, g_variant_dict_end (&changes), TRUE);
    }

  show_error (self, NULL);
  self->cancellable = g_cancellable_new ();
  update_buttons (self);
  /* interactive: polkit may ask for a password, so no short timeout */
  g_dbus_proxy_call (proxy, method, parameters, G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, G_MAXINT,
                     self->cancellable, call_done_cb, g_object_ref (self));
}

static void
relais_relay_entry_dialog_dispose (GObject *object)
{
  RelaisRelayEntryDialog *self = RELAIS_RELAY_ENTRY_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_RELAY_ENTRY_DIALOG);
  G_OBJECT_CLASS (relais_relay_entry_dialog_parent_class)->dispose (object);
}

static void
relais_relay_entry_dialog_finalize (GObject *object)
{
  RelaisRelayEntryDialog *self = RELAIS_RELAY_ENTRY_DIALOG (object);

  g_free (self->old_name);
  g_free (self->old_value);
  g_free (self->error);
  G_OBJECT_CLASS (relais_relay_entry_dialog_parent_class)->finalize (object);
}

static void
relais_relay_entry_dialog_class_init (RelaisRelayEntryDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_relay_entry_dialog_dispose;
  object_class->finalize = relais_relay_entry_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-relay-entry-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, RelaisRelayEntryDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RelaisRelayEntryDialog, ok_button);
  gtk_widget_class_bind_template_child (widget_class, RelaisRelayEntryDialog, group);
  gtk_widget_class_bind_template_child (widget_class, RelaisRelayEntryDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, RelaisRelayEntryDialog, value_row);
  gtk_widget_class_bind_template_child (widget_class, RelaisRelayEntryDialog, error_label);
  gtk_widget_class_bind_template_callback (widget_class, field_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, ok_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
relais_relay_entry_dialog_init (RelaisRelayEntryDialog *self)
{
  self->error_field = "";
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_window_set_default_widget (GTK_WINDOW (self), GTK_WIDGET (self->ok_button));
}

RelaisRelayEntryDialog *
relais_relay_entry_dialog_new (GtkWindow *parent, RelaisClient *client, RelaisRelayList list, const char *name,
                               const char *value)
{
  RelaisRelayEntryDialog *self;
  gboolean trusted = list == RELAIS_RELAY_LIST_TRUSTED;

  g_return_val_if_fail (RELAIS_IS_CLIENT (client), NULL);

  self = g_object_new (RELAIS_TYPE_RELAY_ENTRY_DIALOG, "transient-for", parent, NULL);
  self->client = g_object_ref (client);
  self->list = list;
  self->old_name = g_strdup (name);
  self->old_value = g_strdup (name != NULL && value != NULL ? value : "");

  if (trusted)
    {
      gtk_window_set_title (GTK_WINDOW (self), name == NULL ? _("Add a Trusted Network") : _("Edit Trusted Network"));
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->value_row), _("Address or subnet"));
      adw_preferences_group_set_description (self->group,
        _("An IPv4 or IPv6 address (192.0.2.7) or a subnet written with its network address "
          "(192.0.2.0/24, 2001:db8::/32). Clients there may relay without authentication."));
    }
  else
    {
      gtk_window_set_title (GTK_WINDOW (self), name == NULL ? _("Add a Relay Domain") : _("Edit Relay Domain"));
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->value_row), _("Domain"));
      adw_preferences_group_set_description (self->group,
        _("Mail for this domain (not its subdomains) is accepted from anyone and forwarded to the "
          "domain’s own mail server, found by MX lookup."));
    }
  /* TRANSLATORS: the OK button of the dialog adding an entry (_Add) or changing one (_Save) */
  gtk_button_set_label (self->ok_button, name == NULL ? _("_Add") : _("_Save"));
  relais_relay_entry_dialog_set_entry (self, name, self->old_value);
  return self;
}

void
relais_relay_entry_dialog_set_entry (RelaisRelayEntryDialog *self, const char *name, const char *value)
{
  g_return_if_fail (RELAIS_IS_RELAY_ENTRY_DIALOG (self));
  gtk_editable_set_text (GTK_EDITABLE (self->name_row), name != NULL ? name : "");
  gtk_editable_set_text (GTK_EDITABLE (self->value_row), value != NULL ? value : "");
  update_buttons (self);
}

void
relais_relay_entry_dialog_press_ok (RelaisRelayEntryDialog *self)
{
  g_return_if_fail (RELAIS_IS_RELAY_ENTRY_DIALOG (self));
  g_signal_emit_by_name (self->ok_button, "clicked");
}

GVariant *
relais_relay_entry_dialog_describe (RelaisRelayEntryDialog *self)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_return_val_if_fail (RELAIS_IS_RELAY_ENTRY_DIALOG (self), NULL);
  g_variant_dict_insert (&dict, "title", "s", gtk_window_get_title (GTK_WINDOW (self)));
  g_variant_dict_insert (&dict, "name", "s", gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
  g_variant_dict_insert (&dict, "value", "s", gtk_editable_get_text (GTK_EDITABLE (self->value_row)));
  g_variant_dict_insert (&dict, "error", "s", self->error != NULL ? self->error : "");
  g_variant_dict_insert (&dict, "error-field", "s", self->error_field);
  g_variant_dict_insert (&dict, "error-shown", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label))
                           ? gtk_label_get_text (self->error_label) : "");
  g_variant_dict_insert (&dict, "busy", "b", self->cancellable != NULL);
  g_variant_dict_insert (&dict, "can-save", "b", gtk_widget_get_sensitive (GTK_WIDGET (self->ok_button)));
  return g_variant_dict_end (&dict);
}
