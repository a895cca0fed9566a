/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Security page (SPEC §4): the black/white rules, what a whitelist
 * match skips, the sender and connection policies, the DNS blocklists, the
 * sender authentication (SPF, DKIM, DMARC) and antivirus checks, the DKIM
 * signing keys, the advanced settings, and the addresses blocked now.
 *
 * The settings are fields of one form on org.relais.Relais1.Security (each
 * number, and the antivirus socket and fallback, is insensitive while its
 * on/off switch is off). The table of what a whitelist match skips is
 * built from the daemon's WhitelistSkips property. The rules are a
 * GListStore of small RelaisRuleItem objects shown by a GtkColumnView
 * through a filter (search text on name and value, and which list), so
 * tens of thousands of rules cost no widgets beyond the visible rows; when
 * the daemon's Rules property changes only the part that differs is
 * spliced into the store. Rules are added and edited in a
 * RelaisSecurityRuleDialog, removed after a confirmation and moved with
 * MoveRule, each with its own call. The blocked addresses come from
 * ListBlocked when the page is shown and on demand. The DKIM signing keys
 * are a row each, rebuilt from DkimKeys whenever the proxy notifies it; a
 * key is made in a RelaisDkimKeyDialog, which also shows the DNS record of
 * an existing key, and removed after a confirmation. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-gui-util.h"
#include "relais-page-security.h"

#include "relais-dkim-key-dialog.h"
#include "relais-string-list.h"
#include "relais-security-rule-dialog.h"
#include "relais-test-hook.h"

#define SECURITY_INTERFACE "org.relais.Relais1.Security"

/* ------------------------------------------------------------ rule items */

#define RELAIS_TYPE_RULE_ITEM (relais_rule_item_get_type ())
G_DECLARE_FINAL_TYPE (RelaisRuleItem, relais_rule_item, RELAIS, RULE_ITEM, GObject)

/* One rule as the daemon sends it, and what the search looks in. */
struct _RelaisRuleItem
{
  GObject parent_instance;

  char *field[5];             /* name, list, type, value, action */
  char *key;                  /* casefolded "name\nvalue" */
};

enum { RULE_NAME, RULE_LIST, RULE_TYPE, RULE_VALUE, RULE_ACTION, N_RULE_FIELDS };

G_DEFINE_FINAL_TYPE (RelaisRuleItem, relais_rule_item, G_TYPE_OBJECT)

static void
relais_rule_item_finalize (GObject *object)
{
  RelaisRuleItem *self = RELAIS_RULE_ITEM (object);

  for (guint i = 0; i < N_RULE_FIELDS; i++)
    g_free (self->field[i]);
  g_free (self->key);
  G_OBJECT_CLASS (relais_rule_item_parent_class)->finalize (object);
}

static void
relais_rule_item_class_init (RelaisRuleItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = relais_rule_item_finalize;
}

static void
relais_rule_item_init (RelaisRuleItem *self)
{
}

static RelaisRuleItem *
relais_rule_item_new (const char *const *field)
{
  RelaisRuleItem *self = g_object_new (RELAIS_TYPE_RULE_ITEM, NULL);
  g_autofree char *key = g_strconcat (field[RULE_NAME], "\n", field[RULE_VALUE], NULL);

  for (guint i = 0; i < N_RULE_FIELDS; i++)
    self->field[i] = g_strdup (field[i]);
  self->key = g_utf8_casefold (key, -1);
  return self;
}

static gboolean
relais_rule_item_equal (RelaisRuleItem *self, const char *const *field)
{
  for (guint i = 0; i < N_RULE_FIELDS; i++)
    if (!g_str_equal (self->field[i], field[i]))
      return FALSE;
  return TRUE;
}

/* The label of a rule type ("ip", "subnet", ...): the rules' Type column
 * and the rows of the whitelist table; an unknown type as it is. */
static const char *
type_label (const char *type)
{
  if (g_str_equal (type, "ip"))
    return _("IP");
  if (g_str_equal (type, "subnet"))
    return _("IP/subnet");
  if (g_str_equal (type, "sender"))
    return _("Sender");
  if (g_str_equal (type, "recipient"))
    return _("Recipient");
  if (g_str_equal (type, "domain"))
    return _("Domain");
  return type;
}

/* What column COLUMN shows of ITEM. */
static const char *
rule_text (RelaisRuleItem *item, guint column)
{
  const char *value = item->field[column];

  switch (column)
    {
    case RULE_LIST:
      /* TRANSLATORS: the List column of the rules: the rule is on the blacklist or the whitelist */
      return g_str_equal (value, "white") ? C_("list", "White") : C_("list", "Black");
    case RULE_TYPE:
      return type_label (value);
    case RULE_ACTION:
      if (g_str_equal (value, "reject"))
        return _("Reject");
      if (g_str_equal (value, "discard"))
        return _("Discard");
      return value;
    default:
      return value;
    }
}

/* ------------------------------------------------------------------ page */

struct _RelaisPageSecurity
{
  RelaisPage parent_instance;

  AdwActionRow *reject_nonfqdn_sender_row;
  GtkSwitch *reject_nonfqdn_sender_switch;
  AdwActionRow *reject_unknown_sender_domain_row;
  GtkSwitch *reject_unknown_sender_domain_switch;
  AdwActionRow *reject_unknown_client_row;
  GtkSwitch *reject_unknown_client_switch;
  AdwActionRow *limit_connections_row;
  GtkSwitch *limit_connections_switch;
  AdwActionRow *max_connections_row;
  GtkSpinButton *max_connections_spin;
  AdwActionRow *limit_message_rate_row;
  GtkSwitch *limit_message_rate_switch;
  AdwActionRow *max_messages_row;
  GtkSpinButton *max_messages_spin;
  AdwActionRow *limit_connection_rate_row;
  GtkSwitch *limit_connection_rate_switch;
  AdwActionRow *max_connection_rate_row;
  GtkSpinButton *max_connection_rate_spin;
  AdwActionRow *reject_pipelining_row;
  GtkSwitch *reject_pipelining_switch;
  AdwActionRow *reject_nonfqdn_helo_row;
  GtkSwitch *reject_nonfqdn_helo_switch;
  AdwActionRow *reject_unknown_helo_row;
  GtkSwitch *reject_unknown_helo_switch;
  AdwActionRow *block_nonexistent_row;
  GtkSwitch *block_nonexistent_switch;
  AdwActionRow *max_nonexistent_row;
  GtkSpinButton *max_nonexistent_spin;
  AdwActionRow *max_junk_row;
  GtkSpinButton *max_junk_spin;
  AdwActionRow *dnsbl_row;
  GtkSwitch *dnsbl_switch;
  RelaisStringList *dnsbl_zones_list;
  AdwPreferencesGroup *authentication_group;
  AdwActionRow *spf_row;
  GtkSwitch *spf_switch;
  AdwActionRow *dkim_row;
  GtkSwitch *dkim_switch;
  AdwActionRow *dmarc_row;
  GtkSwitch *dmarc_switch;
  AdwPreferencesGroup *dkim_signing_group;
  AdwActionRow *dkim_signing_row;
  GtkSwitch *dkim_signing_switch;
  GtkButton *dkim_add_button;
  GtkListBox *dkim_keys_list;
  AdwActionRow *antivirus_row;
  GtkSwitch *antivirus_switch;
  AdwEntryRow *antivirus_socket_row;
  AdwComboRow *antivirus_unreachable_row;

  GtkSearchEntry *search_entry;
  GtkDropDown *list_filter;
  GtkColumnView *rules_view;
  GtkLabel *count_label;
  GtkButton *up_button;
  GtkButton *down_button;
  GtkButton *remove_button;
  GtkButton *edit_button;
  GtkButton *add_button;
  GtkGrid *skips_grid;
  GtkButton *refresh_button;
  GtkListBox *blocked_list;

  GListStore *rules;          /* RelaisRuleItem, in the daemon's order */
  GtkCustomFilter *filter;
  GtkFilterListModel *shown;  /* the rules the filter lets through */
  GtkSingleSelection *selection;
  char *needle;               /* casefolded search text, "" for none */
  char *select_after;         /* the rule to select once Rules has changed (a move) */
  guint row_widgets;          /* list items the view has made (visible rows and a few more) */

  GDBusProxy *proxy;
  GCancellable *blocked_cancellable;
  RelaisSecurityRuleDialog *dialog;   /* weak: the add/edit dialog now open */
  AdwMessageDialog *confirm;          /* weak: the removal being confirmed */
  RelaisDkimKeyDialog *dkim_dialog;   /* weak: the DKIM key dialog now open */
};

G_DEFINE_FINAL_TYPE (RelaisPageSecurity, relais_page_security, RELAIS_TYPE_PAGE)

static const char *const list_filter_values[] = { "all", "black", "white", NULL };
/* AntivirusUnreachable, in the order of its combo row's items */
static const char *const unreachable_values[] = { "defer", "accept", NULL };

/* --------------------------------------------------------------- filter */

static gboolean
rule_visible (gpointer item, gpointer user_data)
{
  RelaisPageSecurity *self = user_data;
  RelaisRuleItem *rule = item;
  guint which = gtk_drop_down_get_selected (self->list_filter);

  if (which == 1 && !g_str_equal (rule->field[RULE_LIST], "black"))
    return FALSE;
  if (which == 2 && !g_str_equal (rule->field[RULE_LIST], "white"))
    return FALSE;
  return *self->needle == '\0' || strstr (rule->key, self->needle) != NULL;
}

static void
update_count (RelaisPageSecurity *self)
{
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->rules));
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->shown));
  g_autofree char *text = NULL;

  if (shown == total)
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u rule", "%u rules", total), total);
  else
    /* TRANSLATORS: "3 of 10000 rules shown" while a search or a list choice hides some */
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u of %u rule shown", "%u of %u rules shown", total),
                            shown, total);
  gtk_label_set_text (self->count_label, text);
}

static void
refilter (RelaisPageSecurity *self)
{
  g_autofree char *needle = g_utf8_casefold (gtk_editable_get_text (GTK_EDITABLE (self->search_entry)), -1);

  g_free (self->needle);
  self->needle = g_strstrip (g_steal_pointer (&needle));
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
}

static void
search_changed_cb (RelaisPageSecurity *self)
{
  refilter (self);
}

static void
list_filter_changed_cb (RelaisPageSecurity *self)
{
  refilter (self);
}

/* ---------------------------------------------------------- rules view */

static RelaisRuleItem *
selected_rule (RelaisPageSecurity *self)
{
  return gtk_single_selection_get_selected_item (self->selection);
}

/* The place of RULE among all rules (not only the shown ones). */
static guint
rule_index (RelaisPageSecurity *self, RelaisRuleItem *rule)
{
  guint position = G_MAXUINT;

  if (rule == NULL || !g_list_store_find (self->rules, rule, &position))
    return G_MAXUINT;
  return position;
}

static void
update_buttons (RelaisPageSecurity *self)
{
  gboolean can_edit = relais_client_can_edit (relais_page_get_client (RELAIS_PAGE (self))) && self->proxy != NULL;
  RelaisRuleItem *rule = selected_rule (self);
  guint index = rule_index (self, rule);
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->rules));

  gtk_widget_set_sensitive (GTK_WIDGET (self->add_button), can_edit);
  gtk_widget_set_sensitive (GTK_WIDGET (self->edit_button), can_edit && rule != NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->remove_button), can_edit && rule != NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->up_button), can_edit && rule != NULL && index > 0 && index != G_MAXUINT);
  gtk_widget_set_sensitive (GTK_WIDGET (self->down_button), can_edit && rule != NULL && index + 1 < total);
}

static void
select_rule_named (RelaisPageSecurity *self, const char *name)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->shown));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RelaisRuleItem) rule = g_list_model_get_item (G_LIST_MODEL (self->shown), i);
      if (g_str_equal (rule->field[RULE_NAME], name))
        {
          gtk_single_selection_set_selected (self->selection, i);
          return;
        }
    }
}

/* Shows the daemon's rules (a(sssss), or NULL while not connected): only
 * the run of rules between the unchanged head and tail is replaced, so an
 * added, edited or moved rule touches a few items, and a whole new list
 * costs one items-changed. */
static void
show_rules (RelaisPageSecurity *self, GVariant *value)
{
  GListModel *model = G_LIST_MODEL (self->rules);
  guint n_old = g_list_model_get_n_items (model);
  gsize n_new = 0;
  guint head = 0, tail = 0;
  g_autoptr(GPtrArray) added = NULL;
  const char *field[N_RULE_FIELDS];

  if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE ("a(sssss)")))
    n_new = g_variant_n_children (value);

  while (head < n_old && head < n_new)
    {
      g_autoptr(RelaisRuleItem) rule = g_list_model_get_item (model, head);
      g_variant_get_child (value, head, "(&s&s&s&s&s)", &field[0], &field[1], &field[2], &field[3], &field[4]);
      if (!relais_rule_item_equal (rule, field))
        break;
      head++;
    }
  while (tail < n_old - head && tail < n_new - head)
    {
      g_autoptr(RelaisRuleItem) rule = g_list_model_get_item (model, n_old - 1 - tail);
      g_variant_get_child (value, n_new - 1 - tail, "(&s&s&s&s&s)",
                           &field[0], &field[1], &field[2], &field[3], &field[4]);
      if (!relais_rule_item_equal (rule, field))
        break;
      tail++;
    }
  if (head == n_old && head == n_new)
    return;

  added = g_ptr_array_new_full (n_new - head - tail, g_object_unref);
  for (gsize i = head; i < n_new - tail; i++)
    {
      g_variant_get_child (value, i, "(&s&s&s&s&s)", &field[0], &field[1], &field[2], &field[3], &field[4]);
      g_ptr_array_add (added, relais_rule_item_new (field));
    }
  g_list_store_splice (self->rules, head, n_old - head - tail, added->pdata, added->len);

  if (self->select_after != NULL)
    {
      select_rule_named (self, self->select_after);
      g_clear_pointer (&self->select_after, g_free);
    }
  update_buttons (self);
}

static void
load_rules (RelaisPageSecurity *self)
{
  g_autoptr(GVariant) value = NULL;

  if (self->proxy != NULL)
    value = g_dbus_proxy_get_cached_property (self->proxy, "Rules");
  show_rules (self, value);
}

static void show_skips (RelaisPageSecurity *self, GVariant *skips);

static void
properties_changed_cb (RelaisPageSecurity *self, GVariant *changed, const char *const *invalidated)
{
  g_autoptr(GVariant) rules = g_variant_lookup_value (changed, "Rules", G_VARIANT_TYPE ("a(sssss)"));
  g_autoptr(GVariant) skips = g_variant_lookup_value (changed, "WhitelistSkips", G_VARIANT_TYPE ("a(sas)"));

  if (rules != NULL)
    show_rules (self, rules);
  if (skips != NULL)
    show_skips (self, skips);
}

static void
cell_setup_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item, RelaisPageSecurity *self)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_list_item_set_child (list_item, label);
  if (GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (factory), "column")) == RULE_NAME)
    self->row_widgets++;
}

static void
cell_teardown_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item, RelaisPageSecurity *self)
{
  if (GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (factory), "column")) == RULE_NAME)
    self->row_widgets--;
}

static void
cell_bind_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item, RelaisPageSecurity *self)
{
  guint column = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (factory), "column"));
  RelaisRuleItem *rule = gtk_list_item_get_item (list_item);
  GtkLabel *label = GTK_LABEL (gtk_list_item_get_child (list_item));

  gtk_label_set_text (label, rule_text (rule, column));
  /* the whole text, where a narrow column cuts it */
  gtk_widget_set_tooltip_text (GTK_WIDGET (label), rule_text (rule, column));
}

static void
add_columns (RelaisPageSecurity *self)
{
  const char *titles[N_RULE_FIELDS] = {
    _("Name"), _("List"), _("Type"), _("Value"), _("Action"),
  };
  const int widths[N_RULE_FIELDS] = { 140, 75, 105, -1, 90 };

  for (guint i = 0; i < N_RULE_FIELDS; i++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkColumnViewColumn *column;

      g_object_set_data (G_OBJECT (factory), "column", GUINT_TO_POINTER (i));
      g_signal_connect (factory, "setup", G_CALLBACK (cell_setup_cb), self);
      g_signal_connect (factory, "teardown", G_CALLBACK (cell_teardown_cb), self);
      g_signal_connect (factory, "bind", G_CALLBACK (cell_bind_cb), self);
      column = gtk_column_view_column_new (titles[i], factory);
      gtk_column_view_column_set_resizable (column, TRUE);
      if (widths[i] > 0)
        gtk_column_view_column_set_fixed_width (column, widths[i]);
      else
        gtk_column_view_column_set_expand (column, TRUE);
      gtk_column_view_append_column (self->rules_view, column);
      g_object_unref (column);
    }
}

/* ------------------------------------------------------ rule dialogs */

static GtkWindow *
parent_window (RelaisPageSecurity *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

static void
open_dialog (RelaisPageSecurity *self, RelaisRuleItem *rule)
{
  RelaisSecurityRuleDialog *dialog;

  if (rule != NULL)
    dialog = relais_security_rule_dialog_new (parent_window (self), relais_page_get_client (RELAIS_PAGE (self)),
                                              rule->field[RULE_NAME], rule->field[RULE_LIST],
                                              rule->field[RULE_TYPE], rule->field[RULE_VALUE],
                                              rule->field[RULE_ACTION]);
  else
    dialog = relais_security_rule_dialog_new (parent_window (self), relais_page_get_client (RELAIS_PAGE (self)),
                                              NULL, "black", "ip", NULL, "reject");
  g_set_weak_pointer (&self->dialog, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
add_clicked_cb (RelaisPageSecurity *self)
{
  open_dialog (self, NULL);
}

static void
edit_clicked_cb (RelaisPageSecurity *self)
{
  if (selected_rule (self) != NULL)
    open_dialog (self, selected_rule (self));
}

static void
rule_activated_cb (RelaisPageSecurity *self, guint position)
{
  gtk_single_selection_set_selected (self->selection, position);
  if (gtk_widget_is_sensitive (GTK_WIDGET (self->edit_button)))
    edit_clicked_cb (self);
}

typedef struct {
  RelaisPageSecurity *page;
  const char *failure;        /* translated, static */
  gboolean refresh_blocked;   /* list the blocked addresses again afterwards */
} Call;

static void refresh_blocked (RelaisPageSecurity *self);

static void
call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr(RelaisPageSecurity) self = call->page;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    relais_gui_toast_error (GTK_WIDGET (self), call->failure, error);
  if (call->refresh_blocked)
    refresh_blocked (self);
  g_free (call);
}

/* Calls METHOD with PARAMETERS (floating); on failure shows FAILURE and
 * the daemon's reason as a toast. */
static void
call_security (RelaisPageSecurity *self, const char *method, GVariant *parameters, const char *failure,
               gboolean then_refresh_blocked)
{
  Call *call;

  if (self->proxy == NULL)
    {
      g_variant_unref (g_variant_ref_sink (parameters));
      relais_gui_toast (GTK_WIDGET (self), _("The mail server (relaisd) cannot be reached."));
      return;
    }
  call = g_new0 (Call, 1);
  call->page = g_object_ref (self);
  call->failure = failure;
  call->refresh_blocked = then_refresh_blocked;
  /* interactive: polkit may ask for a password, so no short timeout */
  g_dbus_proxy_call (self->proxy, method, parameters, G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, G_MAXINT,
                     NULL, call_done_cb, call);
}

static void
confirm_response_cb (AdwMessageDialog *dialog, const char *response, RelaisPageSecurity *self)
{
  const char *name = g_object_get_data (G_OBJECT (dialog), "name");

  if (g_str_equal (response, "remove"))
    call_security (self, "RemoveRule", g_variant_new ("(sb)", name, TRUE), _("The rule was not removed"), FALSE);
}

static void
remove_clicked_cb (RelaisPageSecurity *self)
{
  RelaisRuleItem *rule = selected_rule (self);
  AdwMessageDialog *dialog;

  if (rule == NULL)
    return;
  dialog = relais_gui_confirm_dialog (GTK_WIDGET (self), NULL, NULL, "remove", _("_Remove"));
  /* TRANSLATORS: %s is the name of a black/white rule */
  adw_message_dialog_format_heading (dialog, _("Remove the rule “%s”?"), rule->field[RULE_NAME]);
  adw_message_dialog_format_body (dialog, "%s: %s", rule_text (rule, RULE_TYPE), rule->field[RULE_VALUE]);
  g_object_set_data_full (G_OBJECT (dialog), "name", g_strdup (rule->field[RULE_NAME]), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (confirm_response_cb), self, 0);
  g_set_weak_pointer (&self->confirm, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
move_selected (RelaisPageSecurity *self, int delta)
{
  RelaisRuleItem *rule = selected_rule (self);
  guint index = rule_index (self, rule);

  if (index == G_MAXUINT || (delta < 0 && index == 0))
    return;
  g_free (self->select_after);
  self->select_after = g_strdup (rule->field[RULE_NAME]);
  call_security (self, "MoveRule", g_variant_new ("(sub)", rule->field[RULE_NAME], index + delta, TRUE),
                 _("The rule was not moved"), FALSE);
}

static void
up_clicked_cb (RelaisPageSecurity *self)
{
  move_selected (self, -1);
}

static void
down_clicked_cb (RelaisPageSecurity *self)
{
  move_selected (self, 1);
}

/* ------------------------------------------------ whitelist skip table */

/* The checks a whitelist match may skip (WhitelistSkips), in the order of
 * the table's columns; a check the daemon names that this version does not
 * know gets a column of its own after these. */
static const char *const known_checks[] = { "dnsbl", "spf", "antivirus", "dkim", "dmarc", NULL };

static const char *
check_label (const char *check)
{
  if (g_str_equal (check, "dnsbl"))
    /* TRANSLATORS: the columns of the table of checks a whitelist match skips */
    return _("DNSBL");
  if (g_str_equal (check, "spf"))
    return _("SPF");
  if (g_str_equal (check, "antivirus"))
    return _("Antivirus");
  if (g_str_equal (check, "dkim"))
    return _("DKIM");
  if (g_str_equal (check, "dmarc"))
    return _("DMARC");
  return check;
}

static GtkWidget *
grid_label (const char *text, gboolean heading, float xalign)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), xalign);
  if (heading)
    gtk_widget_add_css_class (label, "heading");
  return label;
}

/* Shows SKIPS (a(sas), or NULL while not connected): a row per rule type
 * in the daemon's order, a column per check, a mark where it is skipped. */
static void
show_skips (RelaisPageSecurity *self, GVariant *skips)
{
  g_autoptr(GPtrArray) checks = g_ptr_array_new ();
  GtkWidget *child;
  gsize n_types = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->skips_grid))) != NULL)
    gtk_grid_remove (self->skips_grid, child);
  if (skips != NULL && g_variant_is_of_type (skips, G_VARIANT_TYPE ("a(sas)")))
    n_types = g_variant_n_children (skips);

  for (guint i = 0; known_checks[i] != NULL; i++)
    g_ptr_array_add (checks, (gpointer) known_checks[i]);
  for (gsize r = 0; r < n_types; r++)
    {
      g_autofree const char **skipped = NULL;

      g_variant_get_child (skips, r, "(&s^a&s)", NULL, &skipped);
      for (guint i = 0; skipped[i] != NULL; i++)
        if (!g_ptr_array_find_with_equal_func (checks, skipped[i], g_str_equal, NULL))
          g_ptr_array_add (checks, (gpointer) skipped[i]);
    }

  gtk_grid_attach (self->skips_grid, grid_label (_("Whitelist type"), TRUE, 0), 0, 0, 1, 1);
  for (guint c = 0; c < checks->len; c++)
    gtk_grid_attach (self->skips_grid, grid_label (check_label (checks->pdata[c]), TRUE, 0.5), c + 1, 0, 1, 1);

  for (gsize r = 0; r < n_types; r++)
    {
      g_autofree const char **skipped = NULL;
      const char *type;
      GtkWidget *label;

      g_variant_get_child (skips, r, "(&s^a&s)", &type, &skipped);
      label = grid_label (type_label (type), FALSE, 0);
      gtk_widget_set_hexpand (label, TRUE);
      gtk_grid_attach (self->skips_grid, label, 0, r + 1, 1, 1);
      for (guint c = 0; c < checks->len; c++)
        {
          gboolean skip = g_strv_contains (skipped, checks->pdata[c]);
          GtkWidget *cell = skip ? gtk_image_new_from_icon_name ("object-select-symbolic") : grid_label ("–", FALSE, 0.5);

          /* for screen readers and the test hook: what the cell means */
          gtk_widget_set_tooltip_text (cell, skip ? _("Skipped") : _("Checked"));
          if (!skip)
            gtk_widget_add_css_class (cell, "dim-label");
          gtk_grid_attach (self->skips_grid, cell, c + 1, r + 1, 1, 1);
        }
    }
}

static void
load_skips (RelaisPageSecurity *self)
{
  g_autoptr(GVariant) value = NULL;

  if (self->proxy != NULL)
    value = g_dbus_proxy_get_cached_property (self->proxy, "WhitelistSkips");
  show_skips (self, value);
}

/* ------------------------------------------------------ blocked list */

static void
unblock_clicked_cb (GtkWidget *button, RelaisPageSecurity *self)
{
  const char *address = g_object_get_data (G_OBJECT (button), "address");

  call_security (self, "Unblock", g_variant_new ("(sb)", address, TRUE), _("The address was not unblocked"), TRUE);
}

static void
show_blocked (RelaisPageSecurity *self, GVariant *blocked)
{
  gboolean can_edit = relais_client_can_edit (relais_page_get_client (RELAIS_PAGE (self)));
  GtkWidget *child;
  GVariantIter iter;
  const char *address;
  gint64 until;

  /* the placeholder is a child too: remove the rows only */
  for (child = gtk_widget_get_first_child (GTK_WIDGET (self->blocked_list)); child != NULL;)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);
      if (GTK_IS_LIST_BOX_ROW (child))
        gtk_list_box_remove (self->blocked_list, child);
      child = next;
    }
  if (blocked == NULL)
    return;

  g_variant_iter_init (&iter, blocked);
  while (g_variant_iter_next (&iter, "(&sx)", &address, &until))
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button = gtk_button_new_with_mnemonic (_("_Unblock"));
      g_autoptr(GDateTime) end = g_date_time_new_from_unix_local (until);
      g_autofree char *when = end != NULL ? g_date_time_format (end, "%c") : g_strdup ("?");
      /* TRANSLATORS: %s is a date and time, the end of an address's block */
      g_autofree char *subtitle = g_strdup_printf (_("Refused until %s"), when);

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), address);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_set_sensitive (button, can_edit);
      g_object_set_data_full (G_OBJECT (button), "address", g_strdup (address), g_free);
      g_signal_connect_object (button, "clicked", G_CALLBACK (unblock_clicked_cb), self, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
      g_object_set_data (G_OBJECT (row), "unblock-button", button);
      g_object_set_data_full (G_OBJECT (row), "address", g_strdup (address), g_free);
      g_object_set_data_full (G_OBJECT (row), "until-value", g_memdup2 (&until, sizeof until), g_free);
      gtk_list_box_append (self->blocked_list, row);
    }
}

static void
list_blocked_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RelaisPageSecurity) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  g_autoptr(GVariant) blocked = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->blocked_cancellable);
  if (reply == NULL)
    {
      relais_gui_toast_error (GTK_WIDGET (self), _("The blocked addresses could not be read"), error);
      return;
    }
  blocked = g_variant_get_child_value (reply, 0);
  show_blocked (self, blocked);
}

static void
refresh_blocked (RelaisPageSecurity *self)
{
  if (self->blocked_cancellable != NULL)
    g_cancellable_cancel (self->blocked_cancellable);
  g_clear_object (&self->blocked_cancellable);
  if (self->proxy == NULL)
    {
      show_blocked (self, NULL);
      return;
    }
  self->blocked_cancellable = g_cancellable_new ();
  g_dbus_proxy_call (self->proxy, "ListBlocked", NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->blocked_cancellable,
                     list_blocked_done_cb, g_object_ref (self));
}

static void
refresh_clicked_cb (RelaisPageSecurity *self)
{
  refresh_blocked (self);
}

/* ---------------------------------------------------- DKIM signing keys */

static const char *
dkim_algorithm_label (const char *algorithm)
{
  if (g_str_equal (algorithm, "rsa-2048"))
    /* TRANSLATORS: DKIM key types */
    return _("RSA 2048");
  if (g_str_equal (algorithm, "ed25519"))
    return _("Ed25519");
  return algorithm;
}

static void
open_dkim_dialog (RelaisPageSecurity *self, RelaisDkimKeyDialog *dialog)
{
  if (self->dkim_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dkim_dialog));
  g_set_weak_pointer (&self->dkim_dialog, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
dkim_add_clicked_cb (RelaisPageSecurity *self)
{
  RelaisClient *client = relais_page_get_client (RELAIS_PAGE (self));

  open_dkim_dialog (self, relais_dkim_key_dialog_new (parent_window (self), client));
}

static void
dkim_record_clicked_cb (GtkWidget *button, RelaisPageSecurity *self)
{
  GtkWidget *row = gtk_widget_get_ancestor (button, ADW_TYPE_ACTION_ROW);

  open_dkim_dialog (self, relais_dkim_key_dialog_new_record (parent_window (self),
                                                             g_object_get_data (G_OBJECT (row), "domain"),
                                                             g_object_get_data (G_OBJECT (row), "selector"),
                                                             g_object_get_data (G_OBJECT (row), "record")));
}

static void
dkim_confirm_response_cb (AdwMessageDialog *dialog, const char *response, RelaisPageSecurity *self)
{
  const char *domain = g_object_get_data (G_OBJECT (dialog), "domain");

  if (g_str_equal (response, "remove"))
    call_security (self, "RemoveDkimKey", g_variant_new ("(sb)", domain, TRUE), _("The DKIM key was not removed"),
                   FALSE);
}

static void
dkim_remove_clicked_cb (GtkWidget *button, RelaisPageSecurity *self)
{
  GtkWidget *row = gtk_widget_get_ancestor (button, ADW_TYPE_ACTION_ROW);
  const char *domain = g_object_get_data (G_OBJECT (row), "domain");
  const char *selector = g_object_get_data (G_OBJECT (row), "selector");
  g_autofree char *name = g_strdup_printf ("%s._domainkey.%s", selector, domain);
  AdwMessageDialog *dialog = relais_gui_confirm_dialog (GTK_WIDGET (self), NULL, NULL, "remove", _("_Remove"));

  /* TRANSLATORS: %s is a mail domain */
  adw_message_dialog_format_heading (dialog, _("Remove the DKIM key of %s?"), domain);
  /* TRANSLATORS: %1$s is a mail domain, %2$s the name of its DKIM record in the DNS */
  adw_message_dialog_format_body (dialog, _("Mail from %1$s is no longer signed. Remove the DNS record %2$s a few "
                                            "days later, once the mail already signed with the key has been "
                                            "delivered."),
                                  domain, name);
  g_object_set_data_full (G_OBJECT (dialog), "domain", g_strdup (domain), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (dkim_confirm_response_cb), self, 0);
  g_set_weak_pointer (&self->confirm, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
update_dkim_sensitive (RelaisPageSecurity *self)
{
  gboolean can_edit = relais_client_can_edit (relais_page_get_client (RELAIS_PAGE (self))) && self->proxy != NULL;

  gtk_widget_set_sensitive (GTK_WIDGET (self->dkim_add_button), can_edit);
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->dkim_keys_list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      GtkWidget *button = g_object_get_data (G_OBJECT (row), "remove-button");
      if (button != NULL)
        gtk_widget_set_sensitive (button, can_edit);
    }
}

/* A row per key of DkimKeys (a(ssss), sorted by domain), or none while not
 * connected: the domain, its selector and algorithm, a button that shows
 * its DNS record (a read: open to everyone) and one that removes it. */
static void
show_dkim_keys (RelaisPageSecurity *self)
{
  GVariant *keys = self->proxy != NULL ? relais_security_get_dkim_keys (RELAIS_SECURITY (self->proxy)) : NULL;
  GtkWidget *child;
  GVariantIter iter;
  const char *domain, *selector, *algorithm, *record;

  /* the placeholder is a child too: remove the rows only */
  for (child = gtk_widget_get_first_child (GTK_WIDGET (self->dkim_keys_list)); child != NULL;)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);
      if (GTK_IS_LIST_BOX_ROW (child))
        gtk_list_box_remove (self->dkim_keys_list, child);
      child = next;
    }
  if (keys == NULL || !g_variant_is_of_type (keys, G_VARIANT_TYPE ("a(ssss)")))
    return;

  g_variant_iter_init (&iter, keys);
  while (g_variant_iter_next (&iter, "(&s&s&s&s)", &domain, &selector, &algorithm, &record))
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *show = gtk_button_new_with_mnemonic (_("DNS _Record"));
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
      /* TRANSLATORS: the subtitle of a DKIM key's row: its selector and its key type ("RSA 2048") */
      g_autofree char *subtitle = g_strdup_printf (_("Selector %s · %s"), selector, dkim_algorithm_label (algorithm));

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), domain);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_widget_set_valign (show, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (show, _("Show the DNS record to publish"));
      g_signal_connect_object (show, "clicked", G_CALLBACK (dkim_record_clicked_cb), self, 0);
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (remove, _("Remove the key"));
      gtk_widget_add_css_class (remove, "flat");
      g_signal_connect_object (remove, "clicked", G_CALLBACK (dkim_remove_clicked_cb), self, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), show);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), show);
      g_object_set_data_full (G_OBJECT (row), "domain", g_strdup (domain), g_free);
      g_object_set_data_full (G_OBJECT (row), "selector", g_strdup (selector), g_free);
      g_object_set_data_full (G_OBJECT (row), "record", g_strdup (record), g_free);
      g_object_set_data (G_OBJECT (row), "record-button", show);
      g_object_set_data (G_OBJECT (row), "remove-button", remove);
      gtk_list_box_append (self->dkim_keys_list, row);
    }
  update_dkim_sensitive (self);
}

/* ------------------------------------------------ client and permission */

/* The socket and the fallback are editable only while the antivirus is on.
 * The form makes these rows sensitive when the client can edit and no
 * apply is on its way; this runs after it (its handlers were connected
 * first) and adds the switch. */
static void
update_antivirus_sensitive (RelaisPageSecurity *self)
{
  RelaisForm *form = relais_page_get_form (RELAIS_PAGE (self));
  gboolean sensitive = relais_client_can_edit (relais_page_get_client (RELAIS_PAGE (self))) &&
                       form != NULL && !relais_form_get_busy (form) &&
                       gtk_switch_get_active (self->antivirus_switch);

  gtk_widget_set_sensitive (GTK_WIDGET (self->antivirus_socket_row), sensitive);
  gtk_widget_set_sensitive (GTK_WIDGET (self->antivirus_unreachable_row), sensitive);
}

static void
update_sensitive (RelaisPageSecurity *self)
{
  gboolean can_edit = relais_client_can_edit (relais_page_get_client (RELAIS_PAGE (self)));

  update_antivirus_sensitive (self);
  update_buttons (self);
  update_dkim_sensitive (self);
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->blocked_list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      GtkWidget *button = g_object_get_data (G_OBJECT (row), "unblock-button");
      if (button != NULL)
        gtk_widget_set_sensitive (button, can_edit);
    }
}

static void
client_changed_cb (RelaisPageSecurity *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (relais_page_get_client (RELAIS_PAGE (self)), SECURITY_INTERFACE);

  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_set_object (&self->proxy, proxy);
  if (proxy != NULL)
    {
      g_signal_connect_object (proxy, "g-properties-changed", G_CALLBACK (properties_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (proxy, "notify::dkim-keys", G_CALLBACK (show_dkim_keys), self, G_CONNECT_SWAPPED);
    }
  load_rules (self);
  load_skips (self);
  show_dkim_keys (self);
  update_sensitive (self);
  if (gtk_widget_get_mapped (GTK_WIDGET (self)) || proxy == NULL)
    refresh_blocked (self);
}

/* ------------------------------------------------------------ test hook */

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

static gboolean
hook_select (RelaisPageSecurity *self, const char *name, GError **error)
{
  select_rule_named (self, name);
  if (selected_rule (self) == NULL || !g_str_equal (selected_rule (self)->field[RULE_NAME], name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no rule named \"%s\" is shown", name);
      return FALSE;
    }
  return TRUE;
}

/* (uu): all rules, and those shown after filtering. */
static GVariant *
probe_rules_count (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;

  *sensitive = TRUE;
  *message = g_strdup (gtk_label_get_text (self->count_label));
  return g_variant_new ("(uu)", g_list_model_get_n_items (G_LIST_MODEL (self->rules)),
                        g_list_model_get_n_items (G_LIST_MODEL (self->shown)));
}

/* u: list items the view has made; stays near the visible rows. */
static GVariant *
probe_row_widgets (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;

  *sensitive = TRUE;
  return g_variant_new_uint32 (self->row_widgets);
}

/* s: the search text, set as a user types it. */
static GVariant *
probe_filter_get (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;

  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->search_entry));
  return g_variant_new_string (gtk_editable_get_text (GTK_EDITABLE (self->search_entry)));
}

static gboolean
probe_filter_set (gpointer data, GVariant *value, GError **error)
{
  RelaisPageSecurity *self = data;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "the filter is a string");
      return FALSE;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), g_variant_get_string (value, NULL));
  refilter (self);   /* at once, not after the entry's typing delay */
  return TRUE;
}

/* s: "all", "black" or "white". */
static GVariant *
probe_list_filter_get (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;
  guint selected = gtk_drop_down_get_selected (self->list_filter);

  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->list_filter));
  return g_variant_new_string (list_filter_values[MIN (selected, 2u)]);
}

static gboolean
probe_list_filter_set (gpointer data, GVariant *value, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *which = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ? g_variant_get_string (value, NULL) : "";

  for (guint i = 0; list_filter_values[i] != NULL; i++)
    if (g_str_equal (which, list_filter_values[i]))
      {
        gtk_drop_down_set_selected (self->list_filter, i);
        return TRUE;
      }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "the list filter is all, black or white");
  return FALSE;
}

/* u INDEX among the shown rules -> a{sv}: the rule's fields, "labels" (as)
 * the texts of its columns, "selected" (b). */
static GVariant *
hook_rule_row (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  guint index = g_variant_is_of_type (argument, G_VARIANT_TYPE_UINT32) ? g_variant_get_uint32 (argument) : G_MAXUINT;
  g_autoptr(RelaisRuleItem) rule = NULL;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const char *keys[N_RULE_FIELDS] = { "name", "list", "type", "value", "action" };
  const char *labels[N_RULE_FIELDS + 1] = { NULL };

  if (index >= g_list_model_get_n_items (G_LIST_MODEL (self->shown)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no shown rule at index %u", index);
      return NULL;
    }
  rule = g_list_model_get_item (G_LIST_MODEL (self->shown), index);
  for (guint i = 0; i < N_RULE_FIELDS; i++)
    {
      g_variant_dict_insert (&dict, keys[i], "s", rule->field[i]);
      labels[i] = rule_text (rule, i);
    }
  g_variant_dict_insert_value (&dict, "labels", g_variant_new_strv (labels, -1));
  g_variant_dict_insert (&dict, "selected", "b", gtk_single_selection_get_selected (self->selection) == index);
  return g_variant_dict_end (&dict);
}

/* a{sb}: whether each rule button can be pressed now. */
static GVariant *
probe_rule_buttons (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&dict, "add", "b", gtk_widget_is_sensitive (GTK_WIDGET (self->add_button)));
  g_variant_dict_insert (&dict, "edit", "b", gtk_widget_is_sensitive (GTK_WIDGET (self->edit_button)));
  g_variant_dict_insert (&dict, "remove", "b", gtk_widget_is_sensitive (GTK_WIDGET (self->remove_button)));
  g_variant_dict_insert (&dict, "up", "b", gtk_widget_is_sensitive (GTK_WIDGET (self->up_button)));
  g_variant_dict_insert (&dict, "down", "b", gtk_widget_is_sensitive (GTK_WIDGET (self->down_button)));
  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->add_button));
  return g_variant_dict_end (&dict);
}

/* s NAME: selects the shown rule NAME as a click on its row would. */
static GVariant *
hook_select_rule (gpointer data, GVariant *argument, GError **error)
{
  if (!hook_select (data, g_variant_get_string (argument, NULL), error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* (sssss) name, list, type, value, action: Add…, the dialog filled in, OK. */
static GVariant *
hook_add_rule (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *f[N_RULE_FIELDS];

  g_variant_get (argument, "(&s&s&s&s&s)", &f[0], &f[1], &f[2], &f[3], &f[4]);
  if (!hook_click (GTK_WIDGET (self->add_button), error))
    return NULL;
  relais_security_rule_dialog_set_rule (self->dialog, f[0], f[1], f[2], f[3], f[4]);
  relais_security_rule_dialog_press_ok (self->dialog);
  return g_variant_new_boolean (TRUE);
}

/* (ssssss) name, then the new name, list, type, value, action: the rule
 * selected, Edit, the dialog changed, OK. */
static GVariant *
hook_edit_rule (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *name, *f[N_RULE_FIELDS];

  g_variant_get (argument, "(&s&s&s&s&s&s)", &name, &f[0], &f[1], &f[2], &f[3], &f[4]);
  if (!hook_select (self, name, error) || !hook_click (GTK_WIDGET (self->edit_button), error))
    return NULL;
  relais_security_rule_dialog_set_rule (self->dialog, f[0], f[1], f[2], f[3], f[4]);
  relais_security_rule_dialog_press_ok (self->dialog);
  return g_variant_new_boolean (TRUE);
}

/* (ss) name, response ("remove" or "cancel"): the rule selected, Remove,
 * RESPONSE in the confirmation; returns its heading. */
static GVariant *
hook_remove_rule (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *name, *response;
  g_autofree char *heading = NULL;

  g_variant_get (argument, "(&s&s)", &name, &response);
  if (!hook_select (self, name, error) || !hook_click (GTK_WIDGET (self->remove_button), error))
    return NULL;
  heading = g_strdup (adw_message_dialog_get_heading (self->confirm));
  adw_message_dialog_response (self->confirm, response);
  return g_variant_new_string (heading);
}

/* (ss) name, "up" or "down": the rule selected, the move button. */
static GVariant *
hook_move_rule (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *name, *direction;

  g_variant_get (argument, "(&s&s)", &name, &direction);
  if (!hook_select (self, name, error) ||
      !hook_click (GTK_WIDGET (g_str_equal (direction, "up") ? self->up_button : self->down_button), error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* The dialog now open: a{sv} with "open" (b) and what it shows. */
static GVariant *
probe_dialog (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  if (self->dialog != NULL)
    g_variant_dict_init (&dict, relais_security_rule_dialog_describe (self->dialog));
  g_variant_dict_insert (&dict, "open", "b",
                         self->dialog != NULL && gtk_widget_get_visible (GTK_WIDGET (self->dialog)));
  *sensitive = TRUE;
  return g_variant_dict_end (&dict);
}

/* (sssss): the open dialog's fields changed, then OK. */
static GVariant *
hook_dialog_fill (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *f[N_RULE_FIELDS];

  if (self->dialog == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no rule dialog is open");
      return NULL;
    }
  g_variant_get (argument, "(&s&s&s&s&s)", &f[0], &f[1], &f[2], &f[3], &f[4]);
  relais_security_rule_dialog_set_rule (self->dialog, f[0], f[1], f[2], f[3], f[4]);
  relais_security_rule_dialog_press_ok (self->dialog);
  return g_variant_new_boolean (TRUE);
}

static GVariant *
hook_dialog_close (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (self->dialog != NULL)
    gtk_window_close (GTK_WINDOW (self->dialog));
  return g_variant_new_boolean (TRUE);
}

/* a(sxsb): the blocked addresses shown: address, end, the row's subtitle,
 * whether its Unblock button can be pressed. */
static GVariant *
probe_blocked (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sxsb)"));
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->blocked_list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (ADW_IS_ACTION_ROW (row))
      g_variant_builder_add (&builder, "(sxsb)", (const char *) g_object_get_data (G_OBJECT (row), "address"),
                             *(gint64 *) g_object_get_data (G_OBJECT (row), "until-value"),
                             adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                             gtk_widget_is_sensitive (g_object_get_data (G_OBJECT (row), "unblock-button")));
  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->refresh_button));
  return g_variant_builder_end (&builder);
}

static GVariant *
hook_refresh_blocked (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (!hook_click (GTK_WIDGET (self->refresh_button), error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* s ADDRESS: the Unblock button of its row. */
static GVariant *
hook_unblock (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *address = g_variant_get_string (argument, NULL);

  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->blocked_list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (g_strcmp0 (g_object_get_data (G_OBJECT (row), "address"), address) == 0)
      {
        if (!hook_click (g_object_get_data (G_OBJECT (row), "unblock-button"), error))
          return NULL;
        return g_variant_new_boolean (TRUE);
      }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no blocked address %s is shown", address);
  return NULL;
}

/* aas: the whitelist table as shown, a row of texts per line ("✓" where
 * the check is skipped). */
static GVariant *
probe_skips (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;
  GVariantBuilder rows;
  int columns = 0;

  while (gtk_grid_get_child_at (self->skips_grid, columns, 0) != NULL)
    columns++;
  g_variant_builder_init (&rows, G_VARIANT_TYPE ("aas"));
  for (int r = 0; gtk_grid_get_child_at (self->skips_grid, 0, r) != NULL; r++)
    {
      GVariantBuilder cells;

      g_variant_builder_init (&cells, G_VARIANT_TYPE ("as"));
      for (int c = 0; c < columns; c++)
        {
          GtkWidget *cell = gtk_grid_get_child_at (self->skips_grid, c, r);
          if (GTK_IS_IMAGE (cell))
            g_variant_builder_add (&cells, "s", "✓");
          else if (GTK_IS_LABEL (cell) && gtk_widget_has_css_class (cell, "dim-label"))
            g_variant_builder_add (&cells, "s", "");
          else
            g_variant_builder_add (&cells, "s", cell != NULL ? gtk_label_get_text (GTK_LABEL (cell)) : "");
        }
      g_variant_builder_add (&rows, "as", &cells);
    }
  *sensitive = TRUE;
  return g_variant_builder_end (&rows);
}

/* Scrolls the page so that WIDGET is at the top of the view, or to the
 * end for NULL (for screenshots). */
static gboolean
scroll_to (RelaisPageSecurity *self, GtkWidget *widget, GError **error)
{
  GtkWidget *scrolled = gtk_widget_get_ancestor (GTK_WIDGET (self->blocked_list), GTK_TYPE_SCROLLED_WINDOW);
  GtkAdjustment *adjustment;
  double x = 0, y = 0;

  if (scrolled == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "the page does not scroll");
      return FALSE;
    }
  adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  if (widget == NULL)
    y = gtk_adjustment_get_upper (adjustment);
  else if (gtk_widget_translate_coordinates (widget, scrolled, 0, 0, &x, &y))
    y += gtk_adjustment_get_value (adjustment) - 12;   /* a little room above */
  /* the adjustment keeps the value within the page */
  gtk_adjustment_set_value (adjustment, y);
  return TRUE;
}

static GVariant *
hook_show_blocked (gpointer data, GVariant *argument, GError **error)
{
  if (!scroll_to (data, NULL, error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* The sender authentication and antivirus groups at the top of the view. */
static GVariant *
hook_show_checks (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (!scroll_to (self, GTK_WIDGET (self->authentication_group), error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* The DKIM signing group at the top of the view. */
static GVariant *
hook_show_dkim (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (!scroll_to (self, GTK_WIDGET (self->dkim_signing_group), error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

static GtkWidget *
dkim_row (RelaisPageSecurity *self, const char *domain, GError **error)
{
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->dkim_keys_list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (g_strcmp0 (g_object_get_data (G_OBJECT (row), "domain"), domain) == 0)
      return row;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no DKIM key of %s is shown", domain);
  return NULL;
}

/* a(sssbb): the keys shown: title, subtitle, record, whether the record
 * and the remove buttons can be pressed; sensitive: Add Key…. */
static GVariant *
probe_dkim_keys (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageSecurity *self = data;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sssbb)"));
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->dkim_keys_list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (ADW_IS_ACTION_ROW (row))
      g_variant_builder_add (&builder, "(sssbb)", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                             adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                             (const char *) g_object_get_data (G_OBJECT (row), "record"),
                             gtk_widget_is_sensitive (g_object_get_data (G_OBJECT (row), "record-button")),
                             gtk_widget_is_sensitive (g_object_get_data (G_OBJECT (row), "remove-button")));
  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->dkim_add_button));
  return g_variant_builder_end (&builder);
}

static GVariant *
dkim_dialog_state (RelaisPageSecurity *self)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  if (self->dkim_dialog != NULL)
    g_variant_dict_init (&dict, relais_dkim_key_dialog_describe (self->dkim_dialog));
  g_variant_dict_insert (&dict, "open", "b",
                         self->dkim_dialog != NULL && gtk_widget_get_visible (GTK_WIDGET (self->dkim_dialog)));
  return g_variant_dict_end (&dict);
}

/* The DKIM key dialog now open: a{sv} with "open" (b) and what it shows. */
static GVariant *
probe_dkim_dialog (gpointer data, gboolean *sensitive, char **message)
{
  *sensitive = TRUE;
  return dkim_dialog_state (data);
}

static gboolean
dkim_dialog_open (RelaisPageSecurity *self, GError **error)
{
  if (self->dkim_dialog == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no DKIM key dialog is open");
  return self->dkim_dialog != NULL;
}

/* Fills the open dialog from (sss) domain, selector, algorithm ("" keeps
 * what it shows) and presses Generate; answers what it shows just after. */
static GVariant *
dkim_dialog_fill (RelaisPageSecurity *self, GVariant *argument)
{
  const char *f[3];

  g_variant_get (argument, "(&s&s&s)", &f[0], &f[1], &f[2]);
  relais_dkim_key_dialog_set_fields (self->dkim_dialog, *f[0] ? f[0] : NULL, *f[1] ? f[1] : NULL,
                                     *f[2] ? f[2] : NULL);
  relais_dkim_key_dialog_press_ok (self->dkim_dialog);
  return dkim_dialog_state (self);
}

/* (sss): Add Key…, the dialog filled in, Generate. */
static GVariant *
hook_add_dkim_key (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (!hook_click (GTK_WIDGET (self->dkim_add_button), error) || !dkim_dialog_open (self, error))
    return NULL;
  return dkim_dialog_fill (self, argument);
}

/* (sss): the open dialog's fields changed, then Generate. */
static GVariant *
hook_dkim_dialog_fill (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (!dkim_dialog_open (self, error))
    return NULL;
  return dkim_dialog_fill (self, argument);
}

/* s "replace" or "cancel": the answer to "replace the current key?". */
static GVariant *
hook_dkim_dialog_answer (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (!dkim_dialog_open (self, error))
    return NULL;
  if (!relais_dkim_key_dialog_answer (self->dkim_dialog, g_variant_get_string (argument, NULL)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "the dialog asks nothing now");
      return NULL;
    }
  return dkim_dialog_state (self);
}

/* s "name", "value" or "zone": its Copy button; answers the clipboard's text. */
static GVariant *
hook_dkim_dialog_copy (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  GdkContentProvider *content;
  g_auto(GValue) value = G_VALUE_INIT;

  if (!dkim_dialog_open (self, error))
    return NULL;
  if (!relais_dkim_key_dialog_copy (self->dkim_dialog, g_variant_get_string (argument, NULL)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no Copy button for that is shown");
      return NULL;
    }
  content = gdk_clipboard_get_content (gtk_widget_get_clipboard (GTK_WIDGET (self->dkim_dialog)));
  g_value_init (&value, G_TYPE_STRING);
  if (content == NULL || !gdk_content_provider_get_value (content, &value, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the clipboard holds nothing of this app");
      return NULL;
    }
  return g_variant_new_string (g_value_get_string (&value));
}

static GVariant *
hook_dkim_dialog_close (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;

  if (self->dkim_dialog != NULL)
    gtk_window_close (GTK_WINDOW (self->dkim_dialog));
  return g_variant_new_boolean (TRUE);
}

/* s PATH: the open dialog as a PNG; (ii) its size. */
static GVariant *
hook_dkim_dialog_screenshot (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  int width = 0, height = 0;

  if (!dkim_dialog_open (self, error) ||
      !relais_gui_save_screenshot (GTK_WIDGET (self->dkim_dialog), g_variant_get_string (argument, NULL), &width,
                                   &height, error))
    return NULL;
  return g_variant_new ("(ii)", width, height);
}

/* s DOMAIN: the DNS Record button of its row. */
static GVariant *
hook_show_dkim_record (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  GtkWidget *row = dkim_row (self, g_variant_get_string (argument, NULL), error);

  if (row == NULL || !hook_click (g_object_get_data (G_OBJECT (row), "record-button"), error) ||
      !dkim_dialog_open (self, error))
    return NULL;
  return dkim_dialog_state (self);
}

/* (ss) domain, response ("remove" or "cancel"): the remove button of its
 * row, RESPONSE in the confirmation; returns its heading and body. */
static GVariant *
hook_remove_dkim_key (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  const char *domain, *response;
  GtkWidget *row;
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;

  g_variant_get (argument, "(&s&s)", &domain, &response);
  row = dkim_row (self, domain, error);
  if (row == NULL || !hook_click (g_object_get_data (G_OBJECT (row), "remove-button"), error))
    return NULL;
  heading = g_strdup (adw_message_dialog_get_heading (self->confirm));
  body = g_strdup (adw_message_dialog_get_body (self->confirm));
  adw_message_dialog_response (self->confirm, response);
  return g_variant_new ("(ss)", heading, body);
}

/* Types a zone ("zone" or "zone=filter") into the zones' entry row and adds
 * it, as the user does; answers the list's strings. */
static GVariant *
hook_add_dnsbl_zone (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageSecurity *self = data;
  g_auto (GStrv) items = NULL;

  relais_string_list_set_pending (self->dnsbl_zones_list, g_variant_get_string (argument, NULL));
  relais_string_list_take_pending (self->dnsbl_zones_list);
  items = relais_string_list_get_items (self->dnsbl_zones_list);
  return g_variant_new_strv ((const char *const *) items, -1);
}

static void
register_hooks (RelaisPageSecurity *self)
{
  GObject *owner = G_OBJECT (self);

  if (!relais_test_hook_enabled ())
    return;
  relais_test_hook_add_probe ("Security.rules-count", owner, probe_rules_count, NULL, self);
  relais_test_hook_add_probe ("Security.row-widgets", owner, probe_row_widgets, NULL, self);
  relais_test_hook_add_probe ("Security.filter", owner, probe_filter_get, probe_filter_set, self);
  relais_test_hook_add_probe ("Security.list-filter", owner, probe_list_filter_get, probe_list_filter_set, self);
  relais_test_hook_add_probe ("Security.rule-buttons", owner, probe_rule_buttons, NULL, self);
  relais_test_hook_add_probe ("Security.dialog", owner, probe_dialog, NULL, self);
  relais_test_hook_add_probe ("Security.blocked", owner, probe_blocked, NULL, self);
  relais_test_hook_add_probe ("Security.whitelist-skips", owner, probe_skips, NULL, self);
  relais_test_hook_add_action ("Security.rule-row", owner, hook_rule_row, self);
  relais_test_hook_add_action ("Security.add-dnsbl-zone", owner, hook_add_dnsbl_zone, self);
  relais_test_hook_add_action ("Security.select-rule", owner, hook_select_rule, self);
  relais_test_hook_add_action ("Security.add-rule", owner, hook_add_rule, self);
  relais_test_hook_add_action ("Security.edit-rule", owner, hook_edit_rule, self);
  relais_test_hook_add_action ("Security.remove-rule", owner, hook_remove_rule, self);
  relais_test_hook_add_action ("Security.move-rule", owner, hook_move_rule, self);
  relais_test_hook_add_action ("Security.dialog-fill", owner, hook_dialog_fill, self);
  relais_test_hook_add_action ("Security.dialog-close", owner, hook_dialog_close, self);
  relais_test_hook_add_action ("Security.refresh-blocked", owner, hook_refresh_blocked, self);
  relais_test_hook_add_action ("Security.unblock", owner, hook_unblock, self);
  relais_test_hook_add_action ("Security.show-blocked", owner, hook_show_blocked, self);
  relais_test_hook_add_action ("Security.show-checks", owner, hook_show_checks, self);
  relais_test_hook_add_probe ("Security.dkim-keys", owner, probe_dkim_keys, NULL, self);
  relais_test_hook_add_probe ("Security.dkim-dialog", owner, probe_dkim_dialog, NULL, self);
  relais_test_hook_add_action ("Security.show-dkim", owner, hook_show_dkim, self);
  relais_test_hook_add_action ("Security.add-dkim-key", owner, hook_add_dkim_key, self);
  relais_test_hook_add_action ("Security.dkim-dialog-fill", owner, hook_dkim_dialog_fill, self);
  relais_test_hook_add_action ("Security.dkim-dialog-answer", owner, hook_dkim_dialog_answer, self);
  relais_test_hook_add_action ("Security.dkim-dialog-copy", owner, hook_dkim_dialog_copy, self);
  relais_test_hook_add_action ("Security.dkim-dialog-close", owner, hook_dkim_dialog_close, self);
  relais_test_hook_add_action ("Security.dkim-dialog-screenshot", owner, hook_dkim_dialog_screenshot, self);
  relais_test_hook_add_action ("Security.show-dkim-record", owner, hook_show_dkim_record, self);
  relais_test_hook_add_action ("Security.remove-dkim-key", owner, hook_remove_dkim_key, self);
}

/* ---------------------------------------------------------- DNSBL zones */

/* DnsblZones (a(ss): zone, answer filter) edited as one string per zone:
 * "zone", or "zone=filter" for a zone whose filter is not empty. The daemon
 * validates both parts and names DnsblZones when one is wrong. */
static GVariant *
dnsbl_zones_get_value (GtkWidget *control)
{
  g_auto (GStrv) items = relais_string_list_get_items (RELAIS_STRING_LIST (control));
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ss)"));
  for (guint i = 0; items[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (items[i], "=", 2);

      g_variant_builder_add (&builder, "(ss)", g_strstrip (parts[0]), parts[1] != NULL ? g_strstrip (parts[1]) : "");
    }
  return g_variant_builder_end (&builder);
}

static void
dnsbl_zones_set_value (GtkWidget *control, GVariant *value)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) items = NULL;
  GVariantIter iter;
  const char *zone, *filter;

  if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE ("a(ss)")))
    {
      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "(&s&s)", &zone, &filter))
        {
          g_autofree char *item = *filter != '\0' ? g_strconcat (zone, "=", filter, NULL) : g_strdup (zone);

          g_strv_builder_add (builder, item);
        }
    }
  items = g_strv_builder_end (builder);
  relais_string_list_set_items (RELAIS_STRING_LIST (control), (const char *const *) items);
}

/* ---------------------------------------------------------- the class */

/* A number is editable only while its on/off switch is on: the number's
 * row follows the switch, and the form makes the spin button itself
 * insensitive while the client cannot edit. */
static void
add_limit (RelaisForm *form, const char *switch_property, GtkSwitch *control, AdwActionRow *row,
           const char *number_property, GtkSpinButton *spin, AdwActionRow *number_row)
{
  relais_form_add_switch (form, switch_property, control, GTK_WIDGET (row));
  relais_form_add_spin (form, number_property, spin, GTK_WIDGET (spin));
  g_object_bind_property (control, "active", number_row, "sensitive", G_BINDING_SYNC_CREATE);
}

static void
relais_page_security_constructed (GObject *object)
{
  RelaisPageSecurity *self = RELAIS_PAGE_SECURITY (object);
  RelaisClient *client;
  RelaisForm *form;

  G_OBJECT_CLASS (relais_page_security_parent_class)->constructed (object);
  client = relais_page_get_client (RELAIS_PAGE (self));

  form = relais_page_add_form (RELAIS_PAGE (self), SECURITY_INTERFACE);
#define SWITCH(property, name) \
  relais_form_add_switch (form, property, self->name##_switch, GTK_WIDGET (self->name##_row))
  SWITCH ("RejectNonFqdnSender", reject_nonfqdn_sender);
  SWITCH ("RejectUnknownSenderDomain", reject_unknown_sender_domain);
  SWITCH ("RejectUnknownClientHostname", reject_unknown_client);
  add_limit (form, "LimitConnections", self->limit_connections_switch, self->limit_connections_row,
             "MaxConnections", self->max_connections_spin, self->max_connections_row);
  add_limit (form, "LimitMessageRate", self->limit_message_rate_switch, self->limit_message_rate_row,
             "MaxMessagesPerMinute", self->max_messages_spin, self->max_messages_row);
  add_limit (form, "LimitConnectionRate", self->limit_connection_rate_switch, self->limit_connection_rate_row,
             "MaxConnectionsPerMinute", self->max_connection_rate_spin, self->max_connection_rate_row);
  SWITCH ("RejectUnauthorizedPipelining", reject_pipelining);
  SWITCH ("RejectNonFqdnHelo", reject_nonfqdn_helo);
  SWITCH ("RejectUnknownHelo", reject_unknown_helo);
  add_limit (form, "BlockNonexistentRecipients", self->block_nonexistent_switch, self->block_nonexistent_row,
             "MaxNonexistentRecipients", self->max_nonexistent_spin, self->max_nonexistent_row);
  relais_form_add_spin (form, "MaxJunkCommands", self->max_junk_spin, GTK_WIDGET (self->max_junk_row));
  SWITCH ("Dnsbl", dnsbl);
  relais_form_add_custom (form, "DnsblZones", GTK_WIDGET (self->dnsbl_zones_list), GTK_WIDGET (self->dnsbl_zones_list),
                          dnsbl_zones_get_value, dnsbl_zones_set_value, "changed");
  SWITCH ("Spf", spf);
  SWITCH ("Dkim", dkim);
  SWITCH ("Dmarc", dmarc);
  SWITCH ("DkimSigning", dkim_signing);
  SWITCH ("Antivirus", antivirus);
  relais_form_add_text (form, "AntivirusSocket", GTK_EDITABLE (self->antivirus_socket_row),
                        GTK_WIDGET (self->antivirus_socket_row));
  relais_form_add_choice (form, "AntivirusUnreachable", self->antivirus_unreachable_row, unreachable_values);
#undef SWITCH
  /* after the form's own handlers: its rows' sensitivity, then the switch's */
  g_signal_connect_object (self->antivirus_switch, "notify::active", G_CALLBACK (update_antivirus_sensitive), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (form, "notify::busy", G_CALLBACK (update_antivirus_sensitive), self, G_CONNECT_SWAPPED);

  g_signal_connect_object (client, "changed", G_CALLBACK (client_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::can-edit", G_CALLBACK (update_sensitive), self, G_CONNECT_SWAPPED);
  g_signal_connect (self, "map", G_CALLBACK (refresh_blocked), NULL);
  update_sensitive (self);
  client_changed_cb (self);
  register_hooks (self);
}

static void
relais_page_security_dispose (GObject *object)
{
  RelaisPageSecurity *self = RELAIS_PAGE_SECURITY (object);

  g_cancellable_cancel (self->blocked_cancellable);
  g_clear_object (&self->blocked_cancellable);
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));
  g_clear_weak_pointer (&self->dialog);
  if (self->dkim_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dkim_dialog));
  g_clear_weak_pointer (&self->dkim_dialog);
  g_clear_weak_pointer (&self->confirm);
  if (self->proxy != NULL)
    g_signal_handlers_disconnect_by_data (self->proxy, self);
  g_clear_object (&self->proxy);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_PAGE_SECURITY);
  g_clear_object (&self->selection);
  g_clear_object (&self->shown);
  g_clear_object (&self->filter);
  g_clear_object (&self->rules);
  G_OBJECT_CLASS (relais_page_security_parent_class)->dispose (object);
}

static void
relais_page_security_finalize (GObject *object)
{
  RelaisPageSecurity *self = RELAIS_PAGE_SECURITY (object);

  g_free (self->needle);
  g_free (self->select_after);
  G_OBJECT_CLASS (relais_page_security_parent_class)->finalize (object);
}

static void
relais_page_security_class_init (RelaisPageSecurityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = relais_page_security_constructed;
  object_class->dispose = relais_page_security_dispose;
  object_class->finalize = relais_page_security_finalize;

  g_type_ensure (RELAIS_TYPE_STRING_LIST);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-page-security.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisPageSecurity, name)
#define ROW(name) CHILD (name##_row)
  ROW (reject_nonfqdn_sender); CHILD (reject_nonfqdn_sender_switch);
  ROW (reject_unknown_sender_domain); CHILD (reject_unknown_sender_domain_switch);
  ROW (reject_unknown_client); CHILD (reject_unknown_client_switch);
  ROW (limit_connections); CHILD (limit_connections_switch);
  ROW (max_connections); CHILD (max_connections_spin);
  ROW (limit_message_rate); CHILD (limit_message_rate_switch);
  ROW (max_messages); CHILD (max_messages_spin);
  ROW (limit_connection_rate); CHILD (limit_connection_rate_switch);
  ROW (max_connection_rate); CHILD (max_connection_rate_spin);
  ROW (reject_pipelining); CHILD (reject_pipelining_switch);
  ROW (reject_nonfqdn_helo); CHILD (reject_nonfqdn_helo_switch);
  ROW (reject_unknown_helo); CHILD (reject_unknown_helo_switch);
  ROW (block_nonexistent); CHILD (block_nonexistent_switch);
  ROW (max_nonexistent); CHILD (max_nonexistent_spin);
  ROW (max_junk); CHILD (max_junk_spin);
  ROW (dnsbl); CHILD (dnsbl_switch); CHILD (dnsbl_zones_list);
  CHILD (authentication_group);
  ROW (spf); CHILD (spf_switch);
  ROW (dkim); CHILD (dkim_switch);
  ROW (dmarc); CHILD (dmarc_switch);
  CHILD (dkim_signing_group);
  ROW (dkim_signing); CHILD (dkim_signing_switch);
  CHILD (dkim_add_button);
  CHILD (dkim_keys_list);
  ROW (antivirus); CHILD (antivirus_switch);
  ROW (antivirus_socket);
  ROW (antivirus_unreachable);
  CHILD (search_entry);
  CHILD (list_filter);
  CHILD (rules_view);
  CHILD (count_label);
  CHILD (up_button);
  CHILD (down_button);
  CHILD (remove_button);
  CHILD (edit_button);
  CHILD (add_button);
  CHILD (skips_grid);
  CHILD (refresh_button);
  CHILD (blocked_list);
#undef ROW
#undef CHILD
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, list_filter_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, rule_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, edit_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, remove_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, up_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, down_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, refresh_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, dkim_add_clicked_cb);
}

static void
relais_page_security_init (RelaisPageSecurity *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->needle = g_strdup ("");
  self->rules = g_list_store_new (RELAIS_TYPE_RULE_ITEM);
  self->filter = gtk_custom_filter_new (rule_visible, self, NULL);
  self->shown = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->rules)),
                                           GTK_FILTER (g_object_ref (self->filter)));
  self->selection = gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->shown)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  g_signal_connect_object (self->selection, "notify::selected", G_CALLBACK (update_buttons), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->shown, "items-changed", G_CALLBACK (update_count), self, G_CONNECT_SWAPPED);
  gtk_column_view_set_model (self->rules_view, GTK_SELECTION_MODEL (self->selection));
  add_columns (self);
  show_skips (self, NULL);
  update_count (self);
}

GtkWidget *
relais_page_security_new (RelaisClient *client)
{
  return g_object_new (RELAIS_TYPE_PAGE_SECURITY, "client", client, NULL);
}
