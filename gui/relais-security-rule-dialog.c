/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisSecurityRuleDialog: adds or edits one black/white rule of the
 * Security page (SPEC §4.1): name, list, type, value and, on the blacklist,
 * the action. OK sends AddRule, or UpdateRule with only the fields that
 * changed, and closes once the daemon has accepted; a refusal ("Value: …",
 * "Action: …") keeps the dialog open with the daemon's message on the field
 * it names, for the administrator to fix. The daemon is the only judge of a
 * rule: the dialog checks nothing itself beyond non-empty fields. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-gui-util.h"
#include "relais-security-rule-dialog.h"

#define SECURITY_INTERFACE "org.relais.Relais1.Security"

/* The daemon's words for the items of the combo rows, in their order. */
static const char *const list_values[] = { "black", "white", NULL };
static const char *const type_values[] = { "ip", "subnet", "sender", "recipient", "domain", NULL };
static const char *const action_values[] = { "reject", "discard", NULL };

struct _RelaisSecurityRuleDialog
{
  AdwWindow parent_instance;

  GtkButton *cancel_button;
  GtkButton *ok_button;
  AdwPreferencesGroup *group;
  AdwEntryRow *name_row;
  AdwComboRow *list_row;
  AdwComboRow *type_row;
  AdwEntryRow *value_row;
  AdwComboRow *action_row;
  GtkLabel *error_label;

  RelaisClient *client;
  char *old[5];               /* name, list, type, value, action of the rule edited; NULL when adding */
  GCancellable *cancellable;  /* the call on its way */
  char *error;                /* the daemon's last refusal */
  const char *error_field;    /* "name", "list", "type", "value", "action" or "" */
};

G_DEFINE_FINAL_TYPE (RelaisSecurityRuleDialog, relais_security_rule_dialog, ADW_TYPE_WINDOW)

static const char *
combo_value (AdwComboRow *row, const char *const *values)
{
  guint selected = adw_combo_row_get_selected (row);

  return selected < g_strv_length ((char **) values) ? values[selected] : values[0];
}

static void
combo_select (AdwComboRow *row, const char *const *values, const char *value)
{
  for (guint i = 0; values[i] != NULL; i++)
    if (g_strcmp0 (values[i], value) == 0)
      {
        adw_combo_row_set_selected (row, i);
        return;
      }
}

static gboolean
is_white (RelaisSecurityRuleDialog *self)
{
  return g_str_equal (combo_value (self->list_row, list_values), "white");
}

static char *
entry_text (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

static void
update_buttons (RelaisSecurityRuleDialog *self)
{
  g_autofree char *name = entry_text (self->name_row);
  g_autofree char *value = entry_text (self->value_row);
  gboolean busy = self->cancellable != NULL;

  gtk_widget_set_sensitive (GTK_WIDGET (self->ok_button),
                            !busy && *name != '\0' && *value != '\0' && relais_client_can_edit (self->client));
  gtk_widget_set_sensitive (GTK_WIDGET (self->group), !busy);
}

/* What the value row expects for the chosen type. */
static void
update_hint (RelaisSecurityRuleDialog *self)
{
  const char *type = combo_value (self->type_row, type_values);
  const char *hint;

  if (g_str_equal (type, "ip"))
    hint = _("One IPv4 or IPv6 address of a client, e.g. 192.0.2.7 or 2001:db8::7.");
  else if (g_str_equal (type, "subnet"))
    hint = _("Client addresses as a network address with a prefix length (192.0.2.0/24, 2001:db8::/32) "
             "or a netmask (192.0.2.0/255.255.255.0); the host bits must be zero.");
  else if (g_str_equal (type, "sender"))
    hint = _("An e-mail address compared with the envelope sender (MAIL FROM).");
  else if (g_str_equal (type, "recipient"))
    hint = _("An e-mail address compared with each envelope recipient (RCPT TO).");
  else
    hint = _("A domain compared with the sender’s domain; whitelist only.");
  adw_preferences_group_set_description (self->group, hint);
  gtk_widget_set_visible (GTK_WIDGET (self->action_row), !is_white (self));
}

static void
show_error (RelaisSecurityRuleDialog *self, const char *message)
{
  static const char *const field_names[] = { "name", "list", "type", "value", "action" };
  const RelaisErrorField fields[] = {
    { "Name", GTK_WIDGET (self->name_row) },
    { "List", GTK_WIDGET (self->list_row) },
    { "Type", GTK_WIDGET (self->type_row) },
    { "Value", GTK_WIDGET (self->value_row) },
    { "Action", GTK_WIDGET (self->action_row) },
  };
  const char *reason = NULL;
  int culprit = relais_gui_show_field_error (self->error_label, fields, G_N_ELEMENTS (fields), message, &reason);

  g_free (self->error);
  self->error = g_strdup (reason);
  self->error_field = culprit >= 0 ? field_names[culprit] : "";
}

static void
field_changed_cb (RelaisSecurityRuleDialog *self)
{
  update_buttons (self);
}

static void
choice_changed_cb (RelaisSecurityRuleDialog *self)
{
  update_hint (self);
}

static void
cancel_clicked_cb (RelaisSecurityRuleDialog *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RelaisSecurityRuleDialog) self = user_data;
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
ok_clicked_cb (RelaisSecurityRuleDialog *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (self->client, SECURITY_INTERFACE);
  g_autofree char *name = entry_text (self->name_row);
  g_autofree char *value = entry_text (self->value_row);
  const char *list = combo_value (self->list_row, list_values);
  const char *type = combo_value (self->type_row, type_values);
  const char *action = is_white (self) ? "" : combo_value (self->action_row, action_values);
  const char *method;
  GVariant *parameters;

  if (!gtk_widget_is_sensitive (GTK_WIDGET (self->ok_button)))
    return;
  if (proxy == NULL)
    {
      show_error (self, _("The mail server (relaisd) cannot be reached."));
      return;
    }
  if (self->old[0] == NULL)
    {
      method = "AddRule";
      parameters = g_variant_new ("(sssssb)", name, list, type, value, action, TRUE);
    }
  else
    {
      g_auto(GVariantDict) changes = G_VARIANT_DICT_INIT (NULL);

      if (!g_str_equal (name, self->old[0]))
        g_variant_dict_insert (&changes, "Name", "s", name);
      if (!g_str_equal (list, self->old[1]))
        g_variant_dict_insert (&changes, "List", "s", list);
      if (!g_str_equal (type, self->old[2]))
        g_variant_dict_insert (&changes, "Type", "s", type);
      if (!g_str_equal (value, self->old[3]))
        g_variant_dict_insert (&changes, "Value", "s", value);
      /* to the whitelist: the daemon drops the action by itself */
      if (*action != '\0' && !g_str_equal (action, self->old[4]))
        g_variant_dict_insert (&changes, "Action", "s", action);
      method = "UpdateRule";
      parameters = g_variant_new ("(s@a{sv}b)", self->old[0], g_variant_dict_end (&changes), TRUE);
    }

  show_error (self, NULL);
  self->cancellable = g_cancellable_new ();
  update_buttons (self);
  /* interactive: polkit may ask for a password, so no short timeout */
  g_dbus_proxy_call (proxy, method, parameters, G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, G_MAXINT,
                     self->cancellable, call_done_cb, g_object_ref (self));
}

static void
relais_security_rule_dialog_dispose (GObject *object)
{
  RelaisSecurityRuleDialog *self = RELAIS_SECURITY_RULE_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_SECURITY_RULE_DIALOG);
  G_OBJECT_CLASS (relais_security_rule_dialog_parent_class)->dispose (object);
}

static void
relais_security_rule_dialog_finalize (GObject *object)
{
  RelaisSecurityRuleDialog *self = RELAIS_SECURITY_RULE_DIALOG (object);

  for (guint i = 0; i < G_N_ELEMENTS (self->old); i++)
    g_free (self->old[i]);
  g_free (self->error);
  G_OBJECT_CLASS (relais_security_rule_dialog_parent_class)->finalize (object);
}

static void
relais_security_rule_dialog_class_init (RelaisSecurityRuleDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_security_rule_dialog_dispose;
  object_class->finalize = relais_security_rule_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/relais/Settings/relais-security-rule-dialog.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisSecurityRuleDialog, name)
  CHILD (cancel_button);
  CHILD (ok_button);
  CHILD (group);
  CHILD (name_row);
  CHILD (list_row);
  CHILD (type_row);
  CHILD (value_row);
  CHILD (action_row);
  CHILD (error_label);
#undef CHILD
  gtk_widget_class_bind_template_callback (widget_class, field_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, choice_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, ok_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
relais_security_rule_dialog_init (RelaisSecurityRuleDialog *self)
{
  self->error_field = "";
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_window_set_default_widget (GTK_WINDOW (self), GTK_WIDGET (self->ok_button));
}

RelaisSecurityRuleDialog *
relais_security_rule_dialog_new (GtkWindow *parent, RelaisClient *client, const char *name, const char *list,
                                 const char *type, const char *value, const char *action)
{
  RelaisSecurityRuleDialog *self;

  g_return_val_if_fail (RELAIS_IS_CLIENT (client), NULL);

  self = g_object_new (RELAIS_TYPE_SECURITY_RULE_DIALOG, "transient-for", parent, NULL);
  self->client = g_object_ref (client);
  if (name != NULL)
    {
      self->old[0] = g_strdup (name);
      self->old[1] = g_strdup (list != NULL ? list : "black");
      self->old[2] = g_strdup (type != NULL ? type : "ip");
      self->old[3] = g_strdup (value != NULL ? value : "");
      self->old[4] = g_strdup (action != NULL ? action : "");
    }
  gtk_window_set_title (GTK_WINDOW (self), name == NULL ? _("Add a Black/White Rule") : _("Edit Black/White Rule"));
  /* TRANSLATORS: the OK button of the dialog adding a rule (_Add) or changing one (_Save) */
  gtk_button_set_label (self->ok_button, name == NULL ? _("_Add") : _("_Save"));
  relais_security_rule_dialog_set_rule (self, name, list, type, value, action);
  return self;
}

void
relais_security_rule_dialog_set_rule (RelaisSecurityRuleDialog *self, const char *name, const char *list,
                                      const char *type, const char *value, const char *action)
{
  g_return_if_fail (RELAIS_IS_SECURITY_RULE_DIALOG (self));
  gtk_editable_set_text (GTK_EDITABLE (self->name_row), name != NULL ? name : "");
  combo_select (self->list_row, list_values, list);
  combo_select (self->type_row, type_values, type);
  gtk_editable_set_text (GTK_EDITABLE (self->value_row), value != NULL ? value : "");
  if (action != NULL && *action != '\0')
    combo_select (self->action_row, action_values, action);
  update_hint (self);
  update_buttons (self);
}

void
relais_security_rule_dialog_press_ok (RelaisSecurityRuleDialog *self)
{
  g_return_if_fail (RELAIS_IS_SECURITY_RULE_DIALOG (self));
  g_signal_emit_by_name (self->ok_button, "clicked");
}

GVariant *
relais_security_rule_dialog_describe (RelaisSecurityRuleDialog *self)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_return_val_if_fail (RELAIS_IS_SECURITY_RULE_DIALOG (self), NULL);
  g_variant_dict_insert (&dict, "title", "s", gtk_window_get_title (GTK_WINDOW (self)));
  g_variant_dict_insert (&dict, "name", "s", gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
  g_variant_dict_insert (&dict, "list", "s", combo_value (self->list_row, list_values));
  g_variant_dict_insert (&dict, "type", "s", combo_value (self->type_row, type_values));
  g_variant_dict_insert (&dict, "value", "s", gtk_editable_get_text (GTK_EDITABLE (self->value_row)));
  g_variant_dict_insert (&dict, "action", "s", combo_value (self->action_row, action_values));
  g_variant_dict_insert (&dict, "action-visible", "b", gtk_widget_get_visible (GTK_WIDGET (self->action_row)));
  g_variant_dict_insert (&dict, "error", "s", self->error != NULL ? self->error : "");
  g_variant_dict_insert (&dict, "error-field", "s", self->error_field);
  g_variant_dict_insert (&dict, "error-shown", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label))
                           ? gtk_label_get_text (self->error_label) : "");
  g_variant_dict_insert (&dict, "busy", "b", self->cancellable != NULL);
  g_variant_dict_insert (&dict, "can-save", "b", gtk_widget_get_sensitive (GTK_WIDGET (self->ok_button)));
  return g_variant_dict_end (&dict);
}
