/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisDkimKeyDialog: makes a DKIM signing key of the Security page
 * (issue 7) and shows the DNS record to publish for it, or shows the record
 * of a key that exists.
 *
 * The form asks for the domain (the first local domain without a key is
 * suggested), the selector and the algorithm. The selector suggested is
 * "relais" and the year and month ("relais202611"): a new key made in a
 * later month gets a name of its own, so the record of the key it replaces
 * can stay published for the mail still on its way. RSA 2048 comes first,
 * since every verifier understands it. Generate sends GenerateDkimKey (the
 * daemon needs up to a second for an RSA key: the call is asynchronous, the
 * form insensitive and a spinner turns meanwhile); a domain that has a key
 * already is confirmed first, since the new key replaces it at once. A
 * refusal ("Domain: …", "Selector: …", "Algorithm: …") keeps the form open
 * with the daemon's message on the field it names; once the daemon
 * accepts, the dialog shows the record's name, its TXT value and a
 * zone-file line, each selectable and with a Copy button. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "relais-dkim-key-dialog.h"

#include "relais-dkim-record.h"
#include "relais-gui-util.h"

#define SECURITY_INTERFACE "org.relais.Relais1.Security"

/* The daemon's words for the items of the algorithm row, in their order. */
static const char *const algorithm_values[] = { "rsa-2048", "ed25519", NULL };

struct _RelaisDkimKeyDialog
{
  AdwWindow parent_instance;

  GtkButton *cancel_button;
  GtkButton *ok_button;
  GtkSpinner *spinner;
  GtkButton *close_button;
  GtkStack *stack;
  AdwPreferencesGroup *form_group;
  AdwEntryRow *domain_row;
  AdwEntryRow *selector_row;
  AdwComboRow *algorithm_row;
  GtkLabel *error_label;
  AdwPreferencesGroup *record_group;
  GtkLabel *name_label;
  GtkLabel *value_label;
  GtkLabel *zone_label;
  GtkButton *copy_name_button;
  GtkButton *copy_value_button;
  GtkButton *copy_zone_button;

  RelaisClient *client;       /* NULL for a record shown only */
  GCancellable *cancellable;  /* the call on its way */
  char *error;                /* the daemon's last refusal */
  const char *error_field;    /* "domain", "selector", "algorithm" or "" */
  AdwMessageDialog *question; /* weak: "replace the current key?" asked now */
};

G_DEFINE_FINAL_TYPE (RelaisDkimKeyDialog, relais_dkim_key_dialog, ADW_TYPE_WINDOW)

/* ------------------------------------------------------------- the form */

static const char *
algorithm_value (RelaisDkimKeyDialog *self)
{
  guint selected = adw_combo_row_get_selected (self->algorithm_row);

  return selected < G_N_ELEMENTS (algorithm_values) - 1 ? algorithm_values[selected] : algorithm_values[0];
}

static char *
entry_text (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

static gboolean
is_busy (RelaisDkimKeyDialog *self)
{
  return self->cancellable != NULL || self->question != NULL;
}

static void
update_buttons (RelaisDkimKeyDialog *self)
{
  g_autofree char *domain = entry_text (self->domain_row);
  g_autofree char *selector = entry_text (self->selector_row);
  gboolean can_edit = self->client != NULL && relais_client_can_edit (self->client);

  gtk_widget_set_sensitive (GTK_WIDGET (self->ok_button),
                            !is_busy (self) && can_edit && *domain != '\0' && *selector != '\0');
  gtk_widget_set_sensitive (GTK_WIDGET (self->form_group), !is_busy (self));
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), self->cancellable != NULL);
  gtk_spinner_set_spinning (self->spinner, self->cancellable != NULL);
}

static void
show_error (RelaisDkimKeyDialog *self, const char *message)
{
  static const char *const field_names[] = { "domain", "selector", "algorithm" };
  const RelaisErrorField fields[] = {
    { "Domain", GTK_WIDGET (self->domain_row) },
    { "Selector", GTK_WIDGET (self->selector_row) },
    { "Algorithm", GTK_WIDGET (self->algorithm_row) },
  };
  const char *reason = NULL;
  int culprit = relais_gui_show_field_error (self->error_label, fields, G_N_ELEMENTS (fields), message, &reason);

  g_free (self->error);
  self->error = g_strdup (reason);
  self->error_field = culprit >= 0 ? field_names[culprit] : "";
}

/* The page that shows the record NAME = RECORD of DOMAIN's key; ZONE NULL
 * builds the zone-file line here. */
static void
show_record (RelaisDkimKeyDialog *self, const char *domain, const char *name, const char *record, const char *zone)
{
  g_autofree char *built = zone == NULL ? relais_dkim_record_zone_line (name, record) : NULL;
  g_autofree char *description = NULL;
  g_autofree char *title = NULL;

  /* TRANSLATORS: %s is a mail domain */
  description = g_strdup_printf (_("Add this TXT record to the DNS zone of %s: verifiers look for the key "
                                   "there. Mail from the domain is signed as long as the key exists."), domain);
  /* TRANSLATORS: the title of the dialog showing the DNS record of a DKIM key; %s is its domain */
  title = g_strdup_printf (_("DKIM Key of %s"), domain);
  adw_preferences_group_set_description (self->record_group, description);
  gtk_window_set_title (GTK_WINDOW (self), title);
  gtk_label_set_text (self->name_label, name);
  gtk_label_set_text (self->value_label, record);
  gtk_label_set_text (self->zone_label, zone != NULL ? zone : built);
  gtk_stack_set_visible_child_name (self->stack, "record");
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->ok_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->close_button), TRUE);
  gtk_window_set_default_widget (GTK_WINDOW (self), GTK_WIDGET (self->close_button));
  gtk_widget_grab_focus (GTK_WIDGET (self->close_button));
}

static void
field_changed_cb (RelaisDkimKeyDialog *self)
{
  update_buttons (self);
}

static void
close_clicked_cb (RelaisDkimKeyDialog *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
copy_clicked_cb (GtkButton *button, RelaisDkimKeyDialog *self)
{
  GtkButton *buttons[] = { self->copy_name_button, self->copy_value_button, self->copy_zone_button };
  GtkLabel *labels[] = { self->name_label, self->value_label, self->zone_label };

  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    {
      gboolean copied = buttons[i] == button;

      if (copied)
        gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), gtk_label_get_text (labels[i]));
      /* the mark shows which text is on the clipboard now */
      gtk_button_set_icon_name (buttons[i], copied ? "object-select-symbolic" : "edit-copy-symbolic");
    }
}

static void
generate_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RelaisDkimKeyDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  g_autofree char *domain = NULL;
  const char *name, *record, *zone;

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
  g_variant_get (reply, "(&s&s&s)", &name, &record, &zone);
  domain = g_ascii_strdown (gtk_editable_get_text (GTK_EDITABLE (self->domain_row)), -1);
  show_record (self, g_strstrip (domain), name, record, zone);
}

static void
generate (RelaisDkimKeyDialog *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (self->client, SECURITY_INTERFACE);
  g_autofree char *domain = entry_text (self->domain_row);
  g_autofree char *selector = entry_text (self->selector_row);

  if (proxy == NULL)
    {
      show_error (self, _("The mail server (relaisd) cannot be reached."));
      return;
    }
  show_error (self, NULL);
  self->cancellable = g_cancellable_new ();
  update_buttons (self);
  /* interactive: polkit may ask for a password, so no short timeout */
  g_dbus_proxy_call (proxy, "GenerateDkimKey", g_variant_new ("(sssb)", domain, selector, algorithm_value (self), TRUE),
                     G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, G_MAXINT, self->cancellable,
                     generate_done_cb, g_object_ref (self));
}

static void
question_response_cb (AdwMessageDialog *question, const char *response, RelaisDkimKeyDialog *self)
{
  g_clear_weak_pointer (&self->question);
  update_buttons (self);
  if (g_str_equal (response, "replace"))
    generate (self);
}

/* The selector of DOMAIN's key in Security.DkimKeys, or NULL when it has none. */
static char *
current_selector (RelaisDkimKeyDialog *self, const char *domain)
{
  RelaisSecurity *security = relais_client_get_security (self->client);
  GVariant *keys = security != NULL ? relais_security_get_dkim_keys (security) : NULL;
  GVariantIter iter;
  const char *key_domain, *selector;

  if (keys == NULL || !g_variant_is_of_type (keys, G_VARIANT_TYPE ("a(ssss)")))
    return NULL;
  g_variant_iter_init (&iter, keys);
  while (g_variant_iter_next (&iter, "(&s&s&s&s)", &key_domain, &selector, NULL, NULL))
    if (g_ascii_strcasecmp (key_domain, domain) == 0)
      return g_strdup (selector);
  return NULL;
}

static void
ok_clicked_cb (RelaisDkimKeyDialog *self)
{
  g_autofree char *domain = entry_text (self->domain_row);
  g_autofree char *selector = NULL;
  AdwMessageDialog *question;

  if (!gtk_widget_is_sensitive (GTK_WIDGET (self->ok_button)) ||
      !gtk_widget_get_visible (GTK_WIDGET (self->ok_button)))
    return;
  selector = current_selector (self, domain);
  if (selector == NULL)
    {
      generate (self);
      return;
    }
  question = relais_gui_confirm_dialog (GTK_WIDGET (self), NULL, NULL, "replace", _("_Replace"));
  /* TRANSLATORS: %s is a mail domain that has a DKIM key already */
  adw_message_dialog_format_heading (question, _("Replace the DKIM key of %s?"), domain);
  /* TRANSLATORS: %1$s is a mail domain, %2$s the selector of its current DKIM key */
  adw_message_dialog_format_body (question, _("The current key of %1$s (selector %2$s) will be replaced at once. "
                                              "Mail signed with the new key fails verification until the new "
                                              "selector’s record is published and seen: publish it right away, "
                                              "and keep the old record for a few days for mail still on its way."),
                                  domain, selector);
  g_signal_connect_object (question, "response", G_CALLBACK (question_response_cb), self, 0);
  g_set_weak_pointer (&self->question, question);
  update_buttons (self);
  gtk_window_present (GTK_WINDOW (question));
}

/* ------------------------------------------------------------ the class */

static void
relais_dkim_key_dialog_dispose (GObject *object)
{
  RelaisDkimKeyDialog *self = RELAIS_DKIM_KEY_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->question != NULL)
    gtk_window_destroy (GTK_WINDOW (self->question));
  g_clear_weak_pointer (&self->question);
  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_DKIM_KEY_DIALOG);
  G_OBJECT_CLASS (relais_dkim_key_dialog_parent_class)->dispose (object);
}

static void
relais_dkim_key_dialog_finalize (GObject *object)
{
  RelaisDkimKeyDialog *self = RELAIS_DKIM_KEY_DIALOG (object);

  g_free (self->error);
  G_OBJECT_CLASS (relais_dkim_key_dialog_parent_class)->finalize (object);
}

static void
relais_dkim_key_dialog_class_init (RelaisDkimKeyDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_dkim_key_dialog_dispose;
  object_class->finalize = relais_dkim_key_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-dkim-key-dialog.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisDkimKeyDialog, name)
  CHILD (cancel_button);
  CHILD (ok_button);
  CHILD (spinner);
  CHILD (close_button);
  CHILD (stack);
  CHILD (form_group);
  CHILD (domain_row);
  CHILD (selector_row);
  CHILD (algorithm_row);
  CHILD (error_label);
  CHILD (record_group);
  CHILD (name_label);
  CHILD (value_label);
  CHILD (zone_label);
  CHILD (copy_name_button);
  CHILD (copy_value_button);
  CHILD (copy_zone_button);
#undef CHILD
  gtk_widget_class_bind_template_callback (widget_class, field_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, close_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, copy_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, ok_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
relais_dkim_key_dialog_init (RelaisDkimKeyDialog *self)
{
  g_autoptr(PangoAttrList) attributes = pango_attr_list_new ();

  self->error_field = "";
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_window_set_default_widget (GTK_WINDOW (self), GTK_WIDGET (self->ok_button));
  /* a key wrapped across lines must not look as if it had hyphens in it */
  pango_attr_list_insert (attributes, pango_attr_insert_hyphens_new (FALSE));
  gtk_label_set_attributes (self->name_label, attributes);
  gtk_label_set_attributes (self->value_label, attributes);
  gtk_label_set_attributes (self->zone_label, attributes);
}

/* The local domain to suggest: the first without a key, else the first. */
static const char *
suggested_domain (RelaisDkimKeyDialog *self)
{
  RelaisAccounts *accounts = relais_client_get_accounts (self->client);
  const char *const *domains = accounts != NULL ? relais_accounts_get_local_domains (accounts) : NULL;

  if (domains == NULL || domains[0] == NULL)
    return NULL;
  for (guint i = 0; domains[i] != NULL; i++)
    {
      g_autofree char *selector = current_selector (self, domains[i]);

      if (selector == NULL)
        return domains[i];
    }
  return domains[0];
}

RelaisDkimKeyDialog *
relais_dkim_key_dialog_new (GtkWindow *parent, RelaisClient *client)
{
  RelaisDkimKeyDialog *self;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *selector = g_date_time_format (now, "relais%Y%m");

  g_return_val_if_fail (RELAIS_IS_CLIENT (client), NULL);

  self = g_object_new (RELAIS_TYPE_DKIM_KEY_DIALOG, "transient-for", parent, NULL);
  self->client = g_object_ref (client);
  g_signal_connect_object (client, "notify::can-edit", G_CALLBACK (update_buttons), self, G_CONNECT_SWAPPED);
  gtk_window_set_title (GTK_WINDOW (self), _("New DKIM Signing Key"));
  relais_dkim_key_dialog_set_fields (self, suggested_domain (self), selector, "rsa-2048");
  return self;
}

RelaisDkimKeyDialog *
relais_dkim_key_dialog_new_record (GtkWindow *parent, const char *domain, const char *selector, const char *record)
{
  RelaisDkimKeyDialog *self;
  g_autofree char *name = NULL;

  g_return_val_if_fail (domain != NULL && selector != NULL && record != NULL, NULL);

  self = g_object_new (RELAIS_TYPE_DKIM_KEY_DIALOG, "transient-for", parent, NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->domain_row), domain);
  gtk_editable_set_text (GTK_EDITABLE (self->selector_row), selector);
  name = g_strdup_printf ("%s._domainkey.%s", selector, domain);
  show_record (self, domain, name, record, NULL);
  return self;
}

void
relais_dkim_key_dialog_set_fields (RelaisDkimKeyDialog *self, const char *domain, const char *selector,
                                   const char *algorithm)
{
  g_return_if_fail (RELAIS_IS_DKIM_KEY_DIALOG (self));
  if (domain != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->domain_row), domain);
  if (selector != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->selector_row), selector);
  for (guint i = 0; algorithm != NULL && algorithm_values[i] != NULL; i++)
    if (g_str_equal (algorithm, algorithm_values[i]))
      adw_combo_row_set_selected (self->algorithm_row, i);
  update_buttons (self);
}

void
relais_dkim_key_dialog_press_ok (RelaisDkimKeyDialog *self)
{
  g_return_if_fail (RELAIS_IS_DKIM_KEY_DIALOG (self));
  g_signal_emit_by_name (self->ok_button, "clicked");
}

gboolean
relais_dkim_key_dialog_answer (RelaisDkimKeyDialog *self, const char *response)
{
  g_return_val_if_fail (RELAIS_IS_DKIM_KEY_DIALOG (self), FALSE);
  if (self->question == NULL)
    return FALSE;
  adw_message_dialog_response (self->question, response);
  return TRUE;
}

gboolean
relais_dkim_key_dialog_copy (RelaisDkimKeyDialog *self, const char *which)
{
  GtkButton *button = NULL;

  g_return_val_if_fail (RELAIS_IS_DKIM_KEY_DIALOG (self), FALSE);
  if (g_strcmp0 (which, "name") == 0)
    button = self->copy_name_button;
  else if (g_strcmp0 (which, "value") == 0)
    button = self->copy_value_button;
  else if (g_strcmp0 (which, "zone") == 0)
    button = self->copy_zone_button;
  if (button == NULL || !gtk_widget_is_visible (GTK_WIDGET (button)))
    return FALSE;
  g_signal_emit_by_name (button, "clicked");
  return TRUE;
}

GVariant *
relais_dkim_key_dialog_describe (RelaisDkimKeyDialog *self)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_return_val_if_fail (RELAIS_IS_DKIM_KEY_DIALOG (self), NULL);
  g_variant_dict_insert (&dict, "title", "s", gtk_window_get_title (GTK_WINDOW (self)));
  g_variant_dict_insert (&dict, "page", "s", gtk_stack_get_visible_child_name (self->stack));
  g_variant_dict_insert (&dict, "domain", "s", gtk_editable_get_text (GTK_EDITABLE (self->domain_row)));
  g_variant_dict_insert (&dict, "selector", "s", gtk_editable_get_text (GTK_EDITABLE (self->selector_row)));
  g_variant_dict_insert (&dict, "algorithm", "s", algorithm_value (self));
  g_variant_dict_insert (&dict, "error", "s", self->error != NULL ? self->error : "");
  g_variant_dict_insert (&dict, "error-field", "s", self->error_field);
  g_variant_dict_insert (&dict, "error-shown", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label))
                           ? gtk_label_get_text (self->error_label) : "");
  g_variant_dict_insert (&dict, "busy", "b", self->cancellable != NULL);
  g_variant_dict_insert (&dict, "spinning", "b",
                         gtk_widget_get_visible (GTK_WIDGET (self->spinner)) &&
                         gtk_spinner_get_spinning (self->spinner));
  g_variant_dict_insert (&dict, "can-generate", "b",
                         gtk_widget_get_visible (GTK_WIDGET (self->ok_button)) &&
                         gtk_widget_get_sensitive (GTK_WIDGET (self->ok_button)));
  g_variant_dict_insert (&dict, "question", "s",
                         self->question != NULL ? adw_message_dialog_get_heading (self->question) : "");
  g_variant_dict_insert (&dict, "name", "s", gtk_label_get_text (self->name_label));
  g_variant_dict_insert (&dict, "value", "s", gtk_label_get_text (self->value_label));
  g_variant_dict_insert (&dict, "zone", "s", gtk_label_get_text (self->zone_label));
  return g_variant_dict_end (&dict);
}
