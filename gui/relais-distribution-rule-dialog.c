/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisDistributionRuleDialog: adds or edits one rule of the "several
 * relay hosts" mode (SPEC §2): recipient or sender, the relay host, and the
 * addresses and domains it matches. The daemon judges the patterns; a
 * refusal ("Patterns: reason") is shown on the field it names and the
 * dialog stays open. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-distribution-rule-dialog.h"
#include "relais-gui-util.h"
#include "relais-string-list.h"

/* The kinds in the order of the kind row's items. */
static const char *const kinds[] = { "recipient", "sender", NULL };

struct _RelaisDistributionRuleDialog
{
  AdwWindow parent_instance;

  AdwWindowTitle *window_title;
  GtkButton *cancel_button;
  GtkButton *ok_button;
  GtkLabel *error_label;
  AdwComboRow *kind_row;
  AdwComboRow *host_row;
  RelaisStringList *patterns_list;

  GDBusProxy *proxy;
  GtkStringList *hosts;
  gboolean editing;
  guint32 id;                 /* the rule edited */
  GCancellable *cancellable;  /* the call on its way */
  GtkWidget *error_row;
  char *error_field;
};

G_DEFINE_FINAL_TYPE (RelaisDistributionRuleDialog, relais_distribution_rule_dialog, ADW_TYPE_WINDOW)

/* Shows the daemon's MESSAGE (NULL: none); "Field: reason" marks that field's row. */
static void
show_error (RelaisDistributionRuleDialog *self, const char *message)
{
  const RelaisErrorField fields[] = {
    { "Kind", GTK_WIDGET (self->kind_row) },
    { "Host", GTK_WIDGET (self->host_row) },
    { "Patterns", GTK_WIDGET (self->patterns_list) },
  };
  int culprit = relais_gui_show_field_error (self->error_label, fields, G_N_ELEMENTS (fields), message, NULL);

  self->error_row = culprit >= 0 ? fields[culprit].row : NULL;
  g_free (self->error_field);
  self->error_field = culprit >= 0 ? g_strdup (fields[culprit].key) : NULL;
}

static void
clear_error (RelaisDistributionRuleDialog *self)
{
  show_error (self, NULL);
}

static void
set_busy (RelaisDistributionRuleDialog *self, GCancellable *cancellable)
{
  g_set_object (&self->cancellable, cancellable);
  gtk_widget_set_sensitive (GTK_WIDGET (self->ok_button), cancellable == NULL);
}

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RelaisDistributionRuleDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  g_autofree char *message = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, NULL);
  if (reply != NULL)
    {
      gtk_window_destroy (GTK_WINDOW (self));
      return;
    }
  message = relais_gui_error_message (error);
  show_error (self, message);
}

static const char *
selected_host (RelaisDistributionRuleDialog *self)
{
  guint selected = adw_combo_row_get_selected (self->host_row);

  if (selected == GTK_INVALID_LIST_POSITION || selected >= g_list_model_get_n_items (G_LIST_MODEL (self->hosts)))
    return "";
  return gtk_string_list_get_string (self->hosts, selected);
}

void
relais_distribution_rule_dialog_ok (RelaisDistributionRuleDialog *self)
{
  g_auto(GStrv) patterns = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  guint selected;
  const char *kind;
  const char *host;
  GVariant *parameters;

  g_return_if_fail (RELAIS_IS_DISTRIBUTION_RULE_DIALOG (self));
  if (self->cancellable != NULL)
    return;

  selected = adw_combo_row_get_selected (self->kind_row);
  kind = selected < G_N_ELEMENTS (kinds) - 1 ? kinds[selected] : "";
  host = selected_host (self);
  relais_string_list_take_pending (self->patterns_list);
  patterns = relais_string_list_get_items (self->patterns_list);
  if (!self->editing)
    parameters = g_variant_new ("(ss^asb)", kind, host, patterns, TRUE);
  else
    {
      g_auto(GVariantDict) changes = G_VARIANT_DICT_INIT (NULL);

      g_variant_dict_insert (&changes, "Kind", "s", kind);
      g_variant_dict_insert (&changes, "Host", "s", host);
      g_variant_dict_insert (&changes, "Patterns", "^as", patterns);
      parameters = g_variant_new ("(u@a{sv}b)", self->id, g_variant_dict_end (&changes), TRUE);
    }

  clear_error (self);
  cancellable = g_cancellable_new ();
  set_busy (self, cancellable);
  g_dbus_proxy_call (self->proxy, self->editing ? "UpdateRule" : "AddRule", parameters,
                     G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, -1, cancellable, call_done_cb,
                     g_object_ref (self));
}

static void
field_changed_cb (RelaisDistributionRuleDialog *self, GParamSpec *pspec, GtkWidget *row)
{
  if (row == self->error_row)
    clear_error (self);
}

static void
patterns_changed_cb (RelaisDistributionRuleDialog *self)
{
  if (self->error_row == GTK_WIDGET (self->patterns_list))
    clear_error (self);
}

static void
relais_distribution_rule_dialog_dispose (GObject *object)
{
  RelaisDistributionRuleDialog *self = RELAIS_DISTRIBUTION_RULE_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->proxy);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_DISTRIBUTION_RULE_DIALOG);
  g_clear_object (&self->hosts);
  G_OBJECT_CLASS (relais_distribution_rule_dialog_parent_class)->dispose (object);
}

static void
relais_distribution_rule_dialog_finalize (GObject *object)
{
  RelaisDistributionRuleDialog *self = RELAIS_DISTRIBUTION_RULE_DIALOG (object);

  g_free (self->error_field);
  G_OBJECT_CLASS (relais_distribution_rule_dialog_parent_class)->finalize (object);
}

static void
relais_distribution_rule_dialog_class_init (RelaisDistributionRuleDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_distribution_rule_dialog_dispose;
  object_class->finalize = relais_distribution_rule_dialog_finalize;

  g_type_ensure (RELAIS_TYPE_STRING_LIST);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/relais/Settings/relais-distribution-rule-dialog.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisDistributionRuleDialog, name)
  CHILD (window_title);
  CHILD (cancel_button);
  CHILD (ok_button);
  CHILD (error_label);
  CHILD (kind_row);
  CHILD (host_row);
  CHILD (patterns_list);
#undef CHILD
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
relais_distribution_rule_dialog_init (RelaisDistributionRuleDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (gtk_window_destroy), self);
  g_signal_connect_swapped (self->ok_button, "clicked", G_CALLBACK (relais_distribution_rule_dialog_ok), self);
  g_signal_connect_swapped (self->kind_row, "notify::selected", G_CALLBACK (field_changed_cb), self);
  g_signal_connect_swapped (self->host_row, "notify::selected", G_CALLBACK (field_changed_cb), self);
  g_signal_connect_swapped (self->patterns_list, "changed", G_CALLBACK (patterns_changed_cb), self);
}

static void
select_host (RelaisDistributionRuleDialog *self, const char *host)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->hosts));

  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (self->hosts, i), host) == 0)
      {
        adw_combo_row_set_selected (self->host_row, i);
        return;
      }
  /* a host renamed or removed meanwhile: show it, the daemon will judge */
  gtk_string_list_append (self->hosts, host);
  adw_combo_row_set_selected (self->host_row, n);
}

static void
select_kind (RelaisDistributionRuleDialog *self, const char *kind)
{
  for (guint i = 0; kinds[i] != NULL; i++)
    if (g_str_equal (kinds[i], kind))
      adw_combo_row_set_selected (self->kind_row, i);
}

RelaisDistributionRuleDialog *
relais_distribution_rule_dialog_new (GtkWindow *parent, GDBusProxy *proxy, const char *const *hosts,
                                     GVariant *rule)
{
  RelaisDistributionRuleDialog *self;

  g_return_val_if_fail (G_IS_DBUS_PROXY (proxy), NULL);
  g_return_val_if_fail (rule == NULL || g_variant_is_of_type (rule, G_VARIANT_TYPE ("(ussas)")), NULL);

  self = g_object_new (RELAIS_TYPE_DISTRIBUTION_RULE_DIALOG, "transient-for", parent, NULL);
  self->proxy = g_object_ref (proxy);
  self->hosts = gtk_string_list_new (hosts);
  adw_combo_row_set_model (self->host_row, G_LIST_MODEL (self->hosts));
  if (rule == NULL)
    {
      gtk_window_set_title (GTK_WINDOW (self), _("Add a Rule"));
      gtk_button_set_label (self->ok_button, _("Add"));
    }
  else
    {
      const char *kind, *host;
      g_autofree const char **patterns = NULL;

      g_variant_get (rule, "(u&s&s^a&s)", &self->id, &kind, &host, &patterns);
      self->editing = TRUE;
      gtk_window_set_title (GTK_WINDOW (self), _("Edit the Rule"));
      gtk_button_set_label (self->ok_button, _("Save"));
      select_kind (self, kind);
      select_host (self, host);
      relais_string_list_set_items (self->patterns_list, patterns);
    }
  adw_window_title_set_title (self->window_title, gtk_window_get_title (GTK_WINDOW (self)));
  return self;
}

void
relais_distribution_rule_dialog_fill (RelaisDistributionRuleDialog *self, GVariant *fields)
{
  const char *text;
  g_autofree const char **patterns = NULL;

  g_return_if_fail (RELAIS_IS_DISTRIBUTION_RULE_DIALOG (self));
  if (g_variant_lookup (fields, "Kind", "&s", &text))
    select_kind (self, text);
  if (g_variant_lookup (fields, "Host", "&s", &text))
    select_host (self, text);
  if (g_variant_lookup (fields, "Patterns", "^a&s", &patterns))
    {
      relais_string_list_set_items (self->patterns_list, patterns);
      patterns_changed_cb (self);
    }
  /* typed in the "add" entry, not yet added: OK must still take it */
  if (g_variant_lookup (fields, "PendingPattern", "&s", &text))
    relais_string_list_set_pending (self->patterns_list, text);
}

GVariant *
relais_distribution_rule_dialog_get_state (RelaisDistributionRuleDialog *self)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_return_val_if_fail (RELAIS_IS_DISTRIBUTION_RULE_DIALOG (self), NULL);
  g_variant_dict_insert (&dict, "error-field", "s", self->error_field != NULL ? self->error_field : "");
  g_variant_dict_insert (&dict, "error", "s", gtk_label_get_text (self->error_label));
  g_variant_dict_insert (&dict, "busy", "b", self->cancellable != NULL);
  return g_variant_dict_end (&dict);
}
