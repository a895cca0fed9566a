/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisExplainDialog, the "Why?" tool (issue 6, SPEC §6): the
 * administrator describes what a client would send and the dialog shows
 * what the server would answer, which rule or check decided, every check
 * consulted (grouped by SMTP stage) and the answer for each recipient, from
 * org.relais.Relais1.Policy.Explain. A refused envelope marks the field the
 * daemon names ("ClientAddress: …", "Recipients[1]: …"). */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-explain-dialog.h"
#include "relais-gui-util.h"
#include "relais-test-hook.h"

#define POLICY_INTERFACE "org.relais.Relais1.Policy"

typedef enum { FIELD_CLIENT, FIELD_HELO, FIELD_SENDER, FIELD_RECIPIENTS, FIELD_LOGIN, N_FIELDS } FieldId;

/* The envelope keys of Explain, in the order of the fields. */
static const char *const field_keys[N_FIELDS] = { "ClientAddress", "Helo", "Sender", "Recipients", "Login" };

typedef struct {
  RelaisExplainDialog *dialog;
  AdwEntryRow *row;
  const char *key;
  char *error;
} Field;

struct _RelaisExplainDialog
{
  AdwWindow parent_instance;

  AdwEntryRow *client_row;
  AdwEntryRow *helo_row;
  AdwEntryRow *sender_row;
  AdwEntryRow *recipients_row;
  AdwEntryRow *login_row;
  GtkButton *explain_button;
  GtkLabel *error_label;
  AdwPreferencesGroup *envelope_group;
  AdwPreferencesGroup *result_group;
  AdwActionRow *decision_row;
  GtkLabel *decision_label;
  AdwActionRow *reply_row;
  AdwActionRow *decided_row;
  AdwPreferencesGroup *recipients_group;
  GtkListBox *recipients_list;
  GtkBox *steps_box;

  RelaisClient *client;
  Field fields[N_FIELDS];
  GCancellable *cancellable;  /* the Explain on its way */
  GVariant *result;           /* the last answer shown (a{sv}) */
  char *error;                /* the last error shown */
};

G_DEFINE_FINAL_TYPE (RelaisExplainDialog, relais_explain_dialog, ADW_TYPE_WINDOW)

static const char *
decision_text (const char *decision)
{
  if (g_str_equal (decision, "accept"))
    return _("Accepted");
  if (g_str_equal (decision, "reject"))
    return _("Refused");
  if (g_str_equal (decision, "defer"))
    return _("Refused for now (the client may try again later)");
  if (g_str_equal (decision, "discard"))
    return _("Accepted, then discarded");
  if (g_str_equal (decision, "close"))
    return _("Refused, and the connection is closed");
  return decision;
}

/* The title of a stage of the trace: "connect", "helo", "mail", "rcpt ADDRESS". */
static char *
stage_title (const char *stage)
{
  if (g_str_equal (stage, "connect"))
    return g_strdup (_("Connection"));
  if (g_str_equal (stage, "helo"))
    return g_strdup (_("HELO / EHLO"));
  if (g_str_equal (stage, "mail"))
    return g_strdup (_("MAIL FROM"));
  if (g_str_has_prefix (stage, "rcpt "))
    /* TRANSLATORS: the checks of one recipient; %s is its address */
    return g_strdup_printf (_("RCPT TO %s"), stage + strlen ("rcpt "));
  return g_strdup (stage);
}

static void
clear_box (GtkWidget *box, gboolean rows_only)
{
  GtkWidget *child = gtk_widget_get_first_child (box);

  while (child != NULL)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);
      if (GTK_IS_LIST_BOX (box))
        {
          if (!rows_only || GTK_IS_LIST_BOX_ROW (child))
            gtk_list_box_remove (GTK_LIST_BOX (box), child);
        }
      else
        gtk_box_remove (GTK_BOX (box), child);
      child = next;
    }
}

static void
show_error (RelaisExplainDialog *self, const char *message)
{
  RelaisErrorField fields[N_FIELDS];
  const char *reason = NULL;
  int culprit;

  for (guint i = 0; i < N_FIELDS; i++)
    {
      fields[i].key = self->fields[i].key;
      fields[i].row = GTK_WIDGET (self->fields[i].row);
      g_clear_pointer (&self->fields[i].error, g_free);
    }
  /* "Key: reason", or "Recipients[2]: reason" for one of several */
  culprit = relais_gui_show_field_error (self->error_label, fields, N_FIELDS, message, &reason);
  g_free (self->error);
  self->error = g_strdup (reason);
  if (culprit >= 0)
    self->fields[culprit].error = g_strdup (reason);
}

static GtkWidget *
make_row (const char *title, const char *subtitle)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  return row;
}

static void
show_result (RelaisExplainDialog *self, GVariant *result)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (result);
  const char *decision = "", *reply = "", *decided_by = "";
  g_autoptr(GVariant) steps = NULL;
  g_autoptr(GVariant) recipients = NULL;
  GVariantIter iter;
  const char *stage, *check, *answer, *address, *rcpt_decision, *rcpt_rule, *rcpt_reply;
  gboolean decided;
  g_autofree char *last_stage = NULL;
  GtkListBox *stage_list = NULL;

  g_clear_pointer (&self->result, g_variant_unref);
  self->result = g_variant_ref (result);
  g_variant_dict_lookup (&dict, "Decision", "&s", &decision);
  g_variant_dict_lookup (&dict, "Reply", "&s", &reply);
  g_variant_dict_lookup (&dict, "DecidedBy", "&s", &decided_by);
  steps = g_variant_dict_lookup_value (&dict, "Steps", G_VARIANT_TYPE ("a(sssb)"));
  recipients = g_variant_dict_lookup_value (&dict, "Recipients", G_VARIANT_TYPE ("a(ssss)"));

  gtk_label_set_text (self->decision_label, decision_text (decision));
  gtk_widget_remove_css_class (GTK_WIDGET (self->decision_label), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->decision_label), "error");
  gtk_widget_add_css_class (GTK_WIDGET (self->decision_label),
                            g_str_equal (decision, "accept") ? "success" : "error");
  adw_action_row_set_subtitle (self->reply_row, reply);
  /* TRANSLATORS: "Decided by" when no rule decided (e.g. no recipient given) */
  adw_action_row_set_subtitle (self->decided_row, *decided_by != '\0' ? decided_by : _("(nothing refused)"));
  gtk_widget_set_visible (GTK_WIDGET (self->result_group), TRUE);

  clear_box (GTK_WIDGET (self->recipients_list), TRUE);
  if (recipients != NULL)
    {
      g_variant_iter_init (&iter, recipients);
      while (g_variant_iter_next (&iter, "(&s&s&s&s)", &address, &rcpt_decision, &rcpt_rule, &rcpt_reply))
        {
          GtkWidget *row = make_row (address, rcpt_reply);
          GtkWidget *label = gtk_label_new (decision_text (rcpt_decision));
          GtkWidget *rule = gtk_label_new (rcpt_rule);
          GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);

          gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
          gtk_label_set_xalign (GTK_LABEL (label), 1);
          gtk_label_set_xalign (GTK_LABEL (rule), 1);
          gtk_widget_add_css_class (label, g_str_equal (rcpt_decision, "accept") ? "success" : "error");
          gtk_widget_add_css_class (rule, "dim-label");
          gtk_widget_add_css_class (rule, "caption");
          gtk_box_append (GTK_BOX (box), label);
          gtk_box_append (GTK_BOX (box), rule);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), box);
          g_object_set_data_full (G_OBJECT (row), "recipient",
                                  g_variant_ref_sink (g_variant_new ("(ssss)", address, rcpt_decision, rcpt_rule,
                                                                     rcpt_reply)),
                                  (GDestroyNotify) g_variant_unref);
          gtk_list_box_append (self->recipients_list, row);
        }
    }
  gtk_widget_set_visible (GTK_WIDGET (self->recipients_group),
                          recipients != NULL && g_variant_n_children (recipients) > 0);

  /* One group per stage, a row per check: the check, its answer, and a
   * mark on the one that decided. */
  clear_box (GTK_WIDGET (self->steps_box), FALSE);
  if (steps == NULL)
    return;
  g_variant_iter_init (&iter, steps);
  while (g_variant_iter_next (&iter, "(&s&s&sb)", &stage, &check, &answer, &decided))
    {
      GtkWidget *row = make_row (check, answer);

      if (stage_list == NULL || g_strcmp0 (stage, last_stage) != 0)
        {
          GtkWidget *group = adw_preferences_group_new ();
          g_autofree char *title = stage_title (stage);

          adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), title);
          stage_list = GTK_LIST_BOX (gtk_list_box_new ());
          gtk_list_box_set_selection_mode (stage_list, GTK_SELECTION_NONE);
          gtk_widget_add_css_class (GTK_WIDGET (stage_list), "boxed-list");
          adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (stage_list));
          gtk_box_append (self->steps_box, group);
          g_free (last_stage);
          last_stage = g_strdup (stage);
        }
      if (decided)
        {
          /* TRANSLATORS: marks the check that gave its stage's answer */
          GtkWidget *mark = gtk_label_new (_("Decided"));
          GtkWidget *icon = gtk_image_new_from_icon_name ("emblem-ok-symbolic");

          gtk_widget_add_css_class (mark, "accent");
          gtk_widget_add_css_class (icon, "accent");
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), mark);
          adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
        }
      g_object_set_data_full (G_OBJECT (row), "step",
                              g_variant_ref_sink (g_variant_new ("(sssb)", stage, check, answer, decided)),
                              (GDestroyNotify) g_variant_unref);
      gtk_list_box_append (stage_list, row);
    }
}

static void
update_busy (RelaisExplainDialog *self)
{
  gboolean busy = self->cancellable != NULL;

  gtk_widget_set_sensitive (GTK_WIDGET (self->explain_button), !busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->envelope_group), !busy);
}

static void
explain_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(RelaisExplainDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), res, &error);
  g_autoptr(GVariant) result = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the dialog was closed meanwhile */
  g_clear_object (&self->cancellable);
  update_busy (self);
  if (reply == NULL)
    {
      g_autofree char *message = relais_gui_error_message (error);
      show_error (self, message);
      return;
    }
  g_variant_get (reply, "(@a{sv})", &result);
  show_result (self, result);
}

static char *
field_text (RelaisExplainDialog *self, FieldId id)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->fields[id].row))));
}

static void
explain_clicked_cb (RelaisExplainDialog *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (self->client, POLICY_INTERFACE);
  g_auto(GVariantDict) envelope = G_VARIANT_DICT_INIT (NULL);
  g_autofree char *client = field_text (self, FIELD_CLIENT);
  g_autofree char *helo = field_text (self, FIELD_HELO);
  g_autofree char *sender = field_text (self, FIELD_SENDER);
  g_autofree char *recipients_text = field_text (self, FIELD_RECIPIENTS);
  g_autofree char *login = field_text (self, FIELD_LOGIN);
  g_auto(GStrv) words = g_regex_split_simple ("[\\s,;]+", recipients_text, 0, 0);
  g_autoptr(GPtrArray) recipients = g_ptr_array_new ();

  if (!gtk_widget_is_sensitive (GTK_WIDGET (self->explain_button)))
    return;
  if (proxy == NULL)
    {
      show_error (self, _("The mail server (relaisd) cannot be reached."));
      return;
    }
  for (guint i = 0; words[i] != NULL; i++)
    if (*words[i] != '\0')
      g_ptr_array_add (recipients, words[i]);

  /* Empty fields are left out, as a client that does not get that far;
   * with recipients the sender is always sent ("" is the null sender <>). */
  g_variant_dict_insert (&envelope, "ClientAddress", "s", client);
  if (*helo != '\0')
    g_variant_dict_insert (&envelope, "Helo", "s", helo);
  if (*login != '\0')
    g_variant_dict_insert (&envelope, "Login", "s", login);
  if (*sender != '\0' || recipients->len > 0)
    g_variant_dict_insert (&envelope, "Sender", "s", sender);
  if (recipients->len > 0)
    g_variant_dict_insert_value (&envelope, "Recipients",
                                 g_variant_new_strv ((const char *const *) recipients->pdata, recipients->len));

  show_error (self, NULL);
  self->cancellable = g_cancellable_new ();
  update_busy (self);
  /* DNS-based checks may take a while: as long as the daemon needs */
  g_dbus_proxy_call (proxy, "Explain", g_variant_new ("(@a{sv})", g_variant_dict_end (&envelope)),
                     G_DBUS_CALL_FLAGS_NONE, 60000, self->cancellable, explain_done_cb, g_object_ref (self));
}

/* Test hook: the fields as probes ("Explain.Sender"), the result, and actions. */
static GVariant *
probe_field_get (gpointer data, gboolean *sensitive, char **message)
{
  Field *field = data;

  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (field->row));
  *message = g_strdup (field->error);
  return g_variant_new_string (gtk_editable_get_text (GTK_EDITABLE (field->row)));
}

static gboolean
probe_field_set (gpointer data, GVariant *value, GError **error)
{
  Field *field = data;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s takes a string", field->key);
      return FALSE;
    }
  gtk_editable_set_text (GTK_EDITABLE (field->row), g_variant_get_string (value, NULL));
  return TRUE;
}

static void
add_shown (GVariantBuilder *builder, GtkWidget *widget, const char *key)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GVariant *value = g_object_get_data (G_OBJECT (child), key);
      if (value != NULL)
        g_variant_builder_add_value (builder, value);
      else if (!ADW_IS_ACTION_ROW (child))
        add_shown (builder, child, key);
    }
}

/* What the dialog shows: busy, error, decision (the daemon's word) and
 * decision-text (what is shown), reply, decided-by, steps a(sssb) and
 * recipients a(ssss) as the rows show them. */
static GVariant *
probe_result (gpointer data, gboolean *sensitive, char **message)
{
  RelaisExplainDialog *self = data;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  GVariantBuilder steps, recipients;
  const char *decision = "";
  gboolean shown = gtk_widget_get_visible (GTK_WIDGET (self->result_group));

  if (self->result != NULL)
    g_variant_lookup (self->result, "Decision", "&s", &decision);
  g_variant_builder_init (&steps, G_VARIANT_TYPE ("a(sssb)"));
  add_shown (&steps, GTK_WIDGET (self->steps_box), "step");
  g_variant_builder_init (&recipients, G_VARIANT_TYPE ("a(ssss)"));
  add_shown (&recipients, GTK_WIDGET (self->recipients_list), "recipient");

  g_variant_dict_insert (&dict, "busy", "b", self->cancellable != NULL);
  g_variant_dict_insert (&dict, "error", "s", self->error != NULL ? self->error : "");
  g_variant_dict_insert (&dict, "error-shown", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->error_label))
                           ? gtk_label_get_text (self->error_label) : "");
  g_variant_dict_insert (&dict, "shown", "b", shown);
  g_variant_dict_insert (&dict, "decision", "s", shown ? decision : "");
  g_variant_dict_insert (&dict, "decision-text", "s", shown ? gtk_label_get_text (self->decision_label) : "");
  g_variant_dict_insert (&dict, "reply", "s", shown ? adw_action_row_get_subtitle (self->reply_row) : "");
  g_variant_dict_insert (&dict, "decided-by", "s", shown ? adw_action_row_get_subtitle (self->decided_row) : "");
  g_variant_dict_insert_value (&dict, "steps", g_variant_builder_end (&steps));
  g_variant_dict_insert_value (&dict, "recipients", g_variant_builder_end (&recipients));
  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->explain_button));
  return g_variant_dict_end (&dict);
}

static GVariant *
hook_run (gpointer data, GVariant *argument, GError **error)
{
  RelaisExplainDialog *self = data;

  if (!gtk_widget_is_sensitive (GTK_WIDGET (self->explain_button)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "an explanation is on its way");
      return NULL;
    }
  g_signal_emit_by_name (self->explain_button, "clicked");
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
hook_close (gpointer data, GVariant *argument, GError **error)
{
  gtk_window_close (GTK_WINDOW (data));
  return g_variant_new_boolean (TRUE);
}

static void
relais_explain_dialog_dispose (GObject *object)
{
  RelaisExplainDialog *self = RELAIS_EXPLAIN_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->client);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_EXPLAIN_DIALOG);
  G_OBJECT_CLASS (relais_explain_dialog_parent_class)->dispose (object);
}

static void
relais_explain_dialog_finalize (GObject *object)
{
  RelaisExplainDialog *self = RELAIS_EXPLAIN_DIALOG (object);

  for (guint i = 0; i < N_FIELDS; i++)
    g_free (self->fields[i].error);
  g_clear_pointer (&self->result, g_variant_unref);
  g_free (self->error);
  G_OBJECT_CLASS (relais_explain_dialog_parent_class)->finalize (object);
}

static void
relais_explain_dialog_class_init (RelaisExplainDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_explain_dialog_dispose;
  object_class->finalize = relais_explain_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-explain-dialog.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisExplainDialog, name)
  CHILD (client_row);
  CHILD (helo_row);
  CHILD (sender_row);
  CHILD (recipients_row);
  CHILD (login_row);
  CHILD (explain_button);
  CHILD (error_label);
  CHILD (envelope_group);
  CHILD (result_group);
  CHILD (decision_row);
  CHILD (decision_label);
  CHILD (reply_row);
  CHILD (decided_row);
  CHILD (recipients_group);
  CHILD (recipients_list);
  CHILD (steps_box);
#undef CHILD
  gtk_widget_class_bind_template_callback (widget_class, explain_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
relais_explain_dialog_init (RelaisExplainDialog *self)
{
  AdwEntryRow *rows[N_FIELDS];

  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_window_set_default_widget (GTK_WINDOW (self), GTK_WIDGET (self->explain_button));

  rows[FIELD_CLIENT] = self->client_row;
  rows[FIELD_HELO] = self->helo_row;
  rows[FIELD_SENDER] = self->sender_row;
  rows[FIELD_RECIPIENTS] = self->recipients_row;
  rows[FIELD_LOGIN] = self->login_row;
  for (guint i = 0; i < N_FIELDS; i++)
    {
      g_autofree char *probe = g_strconcat ("Explain.", field_keys[i], NULL);

      self->fields[i].dialog = self;
      self->fields[i].row = rows[i];
      self->fields[i].key = field_keys[i];
      relais_test_hook_add_probe (probe, G_OBJECT (self), probe_field_get, probe_field_set, &self->fields[i]);
    }
  relais_test_hook_add_probe ("Explain.result", G_OBJECT (self), probe_result, NULL, self);
  relais_test_hook_add_action ("Explain.run", G_OBJECT (self), hook_run, self);
  relais_test_hook_add_action ("Explain.screenshot", G_OBJECT (self), hook_screenshot, self);
  relais_test_hook_add_action ("Explain.close", G_OBJECT (self), hook_close, self);
}

void
relais_explain_dialog_present (GtkWidget *parent_widget, RelaisClient *client)
{
  GtkRoot *root;
  RelaisExplainDialog *self;

  g_return_if_fail (GTK_IS_WIDGET (parent_widget));
  g_return_if_fail (RELAIS_IS_CLIENT (client));

  root = gtk_widget_get_root (parent_widget);
  self = g_object_new (RELAIS_TYPE_EXPLAIN_DIALOG, "transient-for", GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                       NULL);
  self->client = g_object_ref (client);
  gtk_window_present (GTK_WINDOW (self));
}
