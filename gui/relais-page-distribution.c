/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Distribution page (SPEC §2): how remote mail leaves. The mode and
 * the single relay host are fields of one form on
 * org.relais.Relais1.Distribution (applied with the window's Apply bar);
 * the named relay hosts and the rules of the "several relay hosts" mode
 * are lists that follow RelayHosts and Rules live and are edited at once
 * through dialogs. "Test" asks the daemon to try a relay host
 * (TestRelayHost) and shows its report in the page. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-distribution-rule-dialog.h"
#include "relais-gui-util.h"
#include "relais-page-distribution.h"
#include "relais-relay-host-dialog.h"
#include "relais-test-hook.h"

/* Mode values in the order of the mode row's items. */
static const char *const modes[] = { "direct", "relay-host", "relay-hosts", NULL };
enum { MODE_DIRECT, MODE_RELAY_HOST, MODE_RELAY_HOSTS };

struct _RelaisPageDistribution
{
  RelaisPage parent_instance;

  AdwComboRow *mode_row;
  AdwPreferencesGroup *direct_group;
  AdwPreferencesGroup *relay_group;
  AdwEntryRow *server_row;
  AdwActionRow *port_row;
  GtkSpinButton *port_spin;
  AdwActionRow *tls_row;
  GtkSwitch *tls_switch;
  AdwActionRow *auth_row;
  GtkSwitch *auth_switch;
  AdwEntryRow *username_row;
  AdwPasswordEntryRow *password_row;
  AdwActionRow *test_row;
  GtkSpinner *test_spinner;
  GtkButton *test_button;
  AdwActionRow *result_row;
  GtkImage *result_icon;
  AdwPreferencesGroup *hosts_group;
  GtkButton *add_host_button;
  GtkListBox *hosts_list;
  AdwActionRow *host_result_row;
  GtkImage *host_result_icon;
  AdwPreferencesGroup *rules_group;
  GtkButton *add_rule_button;
  GtkListBox *rules_list;

  GDBusProxy *proxy;          /* org.relais.Relais1.Distribution, NULL while not connected */
  gulong properties_id;
  GtkWindow *dialog;          /* the open host or rule dialog (weak) */
  AdwMessageDialog *confirm;  /* the removal being confirmed (weak) */

  GCancellable *test_cancellable;
  char *test_name;            /* the host tested: "" for the single relay host */
  char *test_state;           /* "", "running", "ok", "failed", "error" */
};

G_DEFINE_FINAL_TYPE (RelaisPageDistribution, relais_page_distribution, RELAIS_TYPE_PAGE)

static gboolean
can_edit (RelaisPageDistribution *self)
{
  return relais_client_can_edit (relais_page_get_client (RELAIS_PAGE (self))) && self->proxy != NULL;
}

static GVariant *
cached (RelaisPageDistribution *self, const char *property, const char *type)
{
  GVariant *value = self->proxy != NULL ? g_dbus_proxy_get_cached_property (self->proxy, property) : NULL;

  if (value != NULL && !g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
    g_clear_pointer (&value, g_variant_unref);
  return value;
}

static void
update_sensitive (RelaisPageDistribution *self)
{
  gboolean editable = can_edit (self);
  RelaisForm *form = relais_page_get_form (RELAIS_PAGE (self));
  gboolean dirty = form != NULL && relais_form_get_dirty (form);
  g_autoptr(GVariant) hosts = cached (self, "RelayHosts", "a(ssubbsb)");

  gtk_widget_set_sensitive (GTK_WIDGET (self->hosts_list), editable);
  gtk_widget_set_sensitive (GTK_WIDGET (self->rules_list), editable);
  gtk_widget_set_sensitive (GTK_WIDGET (self->add_host_button), editable);
  /* a rule needs a relay host to go through */
  gtk_widget_set_sensitive (GTK_WIDGET (self->add_rule_button),
                            editable && hosts != NULL && g_variant_n_children (hosts) > 0);
  /* the daemon tests the applied settings, not the ones being typed */
  gtk_widget_set_sensitive (GTK_WIDGET (self->test_button), editable && !dirty && self->test_cancellable == NULL);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->test_button),
                               dirty ? _("Apply the changes first: the test uses the applied settings") : NULL);
}

static void
update_mode (RelaisPageDistribution *self)
{
  guint mode = adw_combo_row_get_selected (self->mode_row);

  gtk_widget_set_visible (GTK_WIDGET (self->direct_group), mode == MODE_DIRECT);
  gtk_widget_set_visible (GTK_WIDGET (self->relay_group), mode == MODE_RELAY_HOST);
  gtk_widget_set_visible (GTK_WIDGET (self->hosts_group), mode == MODE_RELAY_HOSTS);
  gtk_widget_set_visible (GTK_WIDGET (self->rules_group), mode == MODE_RELAY_HOSTS);
}

static void
update_password_title (RelaisPageDistribution *self)
{
  g_autoptr(GVariant) set = cached (self, "RelayPasswordSet", "b");

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->password_row),
                                 set != NULL && g_variant_get_boolean (set)
                                 ? _("A password is stored; type a new one to replace it")
                                 : _("Password (none stored)"));
}

/* ------------------------------------------------------------ the test */

static void
show_test_result (RelaisPageDistribution *self, const char *state, const char *title, const char *details)
{
  gboolean single = self->test_name == NULL || *self->test_name == '\0';
  AdwActionRow *row = single ? self->result_row : self->host_result_row;
  GtkImage *icon = single ? self->result_icon : self->host_result_icon;
  const char *icon_name = "content-loading-symbolic";

  g_free (self->test_state);
  self->test_state = g_strdup (state);
  gtk_widget_set_visible (GTK_WIDGET (single ? self->host_result_row : self->result_row), FALSE);
  gtk_widget_remove_css_class (GTK_WIDGET (icon), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (icon), "error");
  if (g_str_equal (state, "ok"))
    {
      icon_name = "emblem-ok-symbolic";
      gtk_widget_add_css_class (GTK_WIDGET (icon), "success");
    }
  else if (!g_str_equal (state, "running"))
    {
      icon_name = "dialog-error-symbolic";
      gtk_widget_add_css_class (GTK_WIDGET (icon), "error");
    }
  gtk_image_set_from_icon_name (icon, icon_name);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (row, details);
  gtk_widget_set_visible (GTK_WIDGET (row), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->test_spinner), g_str_equal (state, "running"));
  gtk_spinner_set_spinning (self->test_spinner, g_str_equal (state, "running"));
}

/* The report of TestRelayHost, one line per step, for people. */
static char *
describe_report (GVariant *report)
{
  g_autoptr(GString) text = g_string_new (NULL);
  const char *server = "", *tls_description = "", *failure = "";
  g_autofree const char **certificate_errors = NULL;
  gboolean tls = FALSE, authenticated = FALSE;

  g_variant_lookup (report, "Server", "&s", &server);
  g_variant_lookup (report, "Tls", "b", &tls);
  g_variant_lookup (report, "TlsDescription", "&s", &tls_description);
  g_variant_lookup (report, "CertificateErrors", "^a&s", &certificate_errors);
  g_variant_lookup (report, "Authenticated", "b", &authenticated);
  g_variant_lookup (report, "Error", "&s", &failure);

  if (*server != '\0')
    g_string_append_printf (text, _("Server: %s"), server);
  if (tls)
    {
      g_string_append_c (text, '\n');
      if (*tls_description != '\0')
        /* TRANSLATORS: %s describes the TLS session, e.g. "(TLS1.3)-(ECDHE-X25519)-(AES-256-GCM)" */
        g_string_append_printf (text, _("TLS: %s"), tls_description);
      else
        g_string_append (text, _("TLS in use"));
    }
  if (certificate_errors != NULL && certificate_errors[0] != NULL)
    {
      g_autofree char *list = g_strjoinv (", ", (char **) certificate_errors);
      g_string_append_c (text, '\n');
      /* TRANSLATORS: %s lists problems such as "unknown-ca, expired" */
      g_string_append_printf (text, _("Certificate problems (not fatal): %s"), list);
    }
  if (authenticated)
    {
      g_string_append_c (text, '\n');
      g_string_append (text, _("Logged in"));
    }
  if (*failure != '\0')
    {
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append (text, failure);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
test_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RelaisPageDistribution) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->test_cancellable);
  if (reply != NULL)
    {
      g_autoptr(GVariant) report = g_variant_get_child_value (reply, 0);
      g_autofree char *details = describe_report (report);
      gboolean ok = FALSE;

      g_variant_lookup (report, "Ok", "b", &ok);
      show_test_result (self, ok ? "ok" : "failed",
                        ok ? _("The relay host accepted the connection") : _("The test failed"), details);
    }
  else
    {
      g_autofree char *message = relais_gui_error_message (error);
      show_test_result (self, "error", _("The test could not run"), message);
    }
  update_sensitive (self);
}

static void
run_test (RelaisPageDistribution *self, const char *name)
{
  g_autoptr(GCancellable) cancellable = NULL;

  if (self->proxy == NULL || self->test_cancellable != NULL)
    return;
  g_free (self->test_name);
  self->test_name = g_strdup (name);
  show_test_result (self, "running", _("Testing…"), "");
  cancellable = g_cancellable_new ();
  g_set_object (&self->test_cancellable, cancellable);
  update_sensitive (self);
  /* the daemon gives up after about 30 s */
  g_dbus_proxy_call (self->proxy, "TestRelayHost", g_variant_new ("(sb)", name, TRUE),
                     G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, 60000, cancellable, test_done_cb,
                     g_object_ref (self));
}

static void
test_clicked_cb (RelaisPageDistribution *self)
{
  run_test (self, "");
}

/* ------------------------------------------------------------ the lists */

static void
set_dialog (RelaisPageDistribution *self, GtkWindow *dialog)
{
  if (self->dialog != NULL)
    gtk_window_destroy (self->dialog);
  g_set_weak_pointer (&self->dialog, dialog);
  gtk_window_set_destroy_with_parent (dialog, TRUE);
  gtk_window_present (dialog);
}

static void
open_host_dialog (RelaisPageDistribution *self, GVariant *host)
{
  if (self->proxy == NULL)
    return;
  set_dialog (self, GTK_WINDOW (relais_relay_host_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                                              self->proxy, host)));
}

static char **
host_names (RelaisPageDistribution *self)
{
  g_autoptr(GVariant) hosts = cached (self, "RelayHosts", "a(ssubbsb)");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (gsize i = 0; hosts != NULL && i < g_variant_n_children (hosts); i++)
    {
      const char *name;

      g_variant_get_child (hosts, i, "(&s&subb&sb)", &name, NULL, NULL, NULL, NULL, NULL, NULL);
      g_strv_builder_add (builder, name);
    }
  return g_strv_builder_end (builder);
}

static void
open_rule_dialog (RelaisPageDistribution *self, GVariant *rule)
{
  g_auto(GStrv) hosts = NULL;

  if (self->proxy == NULL)
    return;
  hosts = host_names (self);
  set_dialog (self, GTK_WINDOW (relais_distribution_rule_dialog_new (
                                  GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), self->proxy,
                                  (const char *const *) hosts, rule)));
}

static void
add_host_clicked_cb (RelaisPageDistribution *self)
{
  open_host_dialog (self, NULL);
}

static void
add_rule_clicked_cb (RelaisPageDistribution *self)
{
  open_rule_dialog (self, NULL);
}

static void
list_call_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GtkWidget) widget = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    relais_gui_toast_error (widget, _("The change was not made"), error);
}

/* A call that changes a list at once; the list follows the property. */
static void
list_call (RelaisPageDistribution *self, const char *method, GVariant *parameters)
{
  if (self->proxy == NULL)
    {
      g_variant_unref (g_variant_ref_sink (parameters));
      return;
    }
  g_dbus_proxy_call (self->proxy, method, parameters, G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, -1,
                     NULL, list_call_done_cb, g_object_ref (self));
}

static GtkWidget *
row_button (GtkWidget *row, const char *icon, const char *tooltip, const char *key)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, tooltip);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  g_object_set_data (G_OBJECT (row), key, button);
  return button;
}

static void
host_row_activated_cb (AdwActionRow *row, RelaisPageDistribution *self)
{
  open_host_dialog (self, g_object_get_data (G_OBJECT (row), "host"));
}

static void
host_test_clicked_cb (GtkButton *button, RelaisPageDistribution *self)
{
  run_test (self, g_object_get_data (G_OBJECT (button), "name"));
}

static void
remove_response_cb (AdwMessageDialog *dialog, const char *response, RelaisPageDistribution *self)
{
  if (g_str_equal (response, "remove"))
    list_call (self, g_object_get_data (G_OBJECT (dialog), "method"),
               g_object_get_data (G_OBJECT (dialog), "parameters"));
}

/* Asks before METHOD (PARAMETERS) removes a host or a rule for good. */
static void
confirm_remove (RelaisPageDistribution *self, const char *heading, const char *body, const char *method,
                GVariant *parameters)
{
  AdwMessageDialog *dialog = relais_gui_confirm_dialog (GTK_WIDGET (self), heading, body, "remove", _("_Remove"));

  g_object_set_data (G_OBJECT (dialog), "method", (gpointer) method);
  g_object_set_data_full (G_OBJECT (dialog), "parameters", g_variant_ref_sink (parameters),
                          (GDestroyNotify) g_variant_unref);
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_response_cb), self, 0);
  g_set_weak_pointer (&self->confirm, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
host_remove_clicked_cb (GtkButton *button, RelaisPageDistribution *self)
{
  const char *name = g_object_get_data (G_OBJECT (button), "name");
  /* TRANSLATORS: %s is the name of a relay host */
  g_autofree char *heading = g_strdup_printf (_("Remove the relay host “%s”?"), name);

  confirm_remove (self, heading, _("A host that a rule still sends mail through cannot be removed: change or remove the rule first."),
                  "RemoveRelayHost", g_variant_new ("(sb)", name, TRUE));
}

static char *
describe_host (const char *server, guint32 port, gboolean always_tls, gboolean authentication,
               const char *username, gboolean password_set)
{
  g_autoptr(GString) text = g_string_new (NULL);

  /* TRANSLATORS: a relay host's server and TCP port, e.g. "smtp.example.net, port 587" */
  g_string_printf (text, _("%s, port %u"), server, port);
  if (always_tls)
    {
      g_string_append (text, " · ");
      g_string_append (text, _("always TLS"));
    }
  if (authentication)
    {
      g_string_append (text, " · ");
      /* TRANSLATORS: %s is the user name the relay host is logged in with */
      g_string_append_printf (text, _("logs in as %s"), username);
      if (!password_set)
        {
          g_string_append (text, " · ");
          g_string_append (text, _("no password stored"));
        }
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
rebuild_hosts (RelaisPageDistribution *self)
{
  g_autoptr(GVariant) hosts = cached (self, "RelayHosts", "a(ssubbsb)");
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->hosts_list))) != NULL)
    gtk_list_box_remove (self->hosts_list, child);
  for (gsize i = 0; hosts != NULL && i < g_variant_n_children (hosts); i++)
    {
      g_autoptr(GVariant) host = g_variant_get_child_value (hosts, i);
      const char *name, *server, *username;
      guint32 port;
      gboolean always_tls, authentication, password_set;
      g_autofree char *subtitle = NULL;
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button;

      g_variant_get (host, "(&s&subb&sb)", &name, &server, &port, &always_tls, &authentication, &username,
                     &password_set);
      subtitle = describe_host (server, port, always_tls, authentication, username, password_set);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      g_object_set_data_full (G_OBJECT (row), "host", g_variant_ref (host), (GDestroyNotify) g_variant_unref);
      g_signal_connect_object (row, "activated", G_CALLBACK (host_row_activated_cb), self, 0);

      button = row_button (row, "network-transmit-receive-symbolic", _("Test this relay host"), "test-button");
      g_object_set_data_full (G_OBJECT (button), "name", g_strdup (name), g_free);
      g_signal_connect_object (button, "clicked", G_CALLBACK (host_test_clicked_cb), self, 0);
      button = row_button (row, "user-trash-symbolic", _("Remove this relay host"), "remove-button");
      g_object_set_data_full (G_OBJECT (button), "name", g_strdup (name), g_free);
      g_signal_connect_object (button, "clicked", G_CALLBACK (host_remove_clicked_cb), self, 0);
      gtk_list_box_append (self->hosts_list, row);
    }
}

static void
rule_row_activated_cb (AdwActionRow *row, RelaisPageDistribution *self)
{
  open_rule_dialog (self, g_object_get_data (G_OBJECT (row), "rule"));
}

static void
rule_remove_clicked_cb (GtkButton *button, RelaisPageDistribution *self)
{
  GtkWidget *row = gtk_widget_get_ancestor (GTK_WIDGET (button), ADW_TYPE_ACTION_ROW);

  confirm_remove (self, _("Remove this rule?"),
                  row != NULL ? adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)) : NULL, "RemoveRule",
                  g_variant_new ("(ub)", GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "id")), TRUE));
}

static void
rule_move_clicked_cb (GtkButton *button, RelaisPageDistribution *self)
{
  list_call (self, "MoveRule",
             g_variant_new ("(uub)", GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "id")),
                            GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "position")), TRUE));
}

static void
rebuild_rules (RelaisPageDistribution *self)
{
  g_autoptr(GVariant) rules = cached (self, "Rules", "a(ussas)");
  gsize n = rules != NULL ? g_variant_n_children (rules) : 0;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->rules_list))) != NULL)
    gtk_list_box_remove (self->rules_list, child);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) rule = g_variant_get_child_value (rules, i);
      guint32 id;
      const char *kind, *host;
      g_autofree const char **patterns = NULL;
      g_autofree char *list = NULL;
      g_autofree char *title = NULL;
      g_autofree char *subtitle = NULL;
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button;

      g_variant_get (rule, "(u&s&s^a&s)", &id, &kind, &host, &patterns);
      list = g_strjoinv (", ", (char **) patterns);
      /* TRANSLATORS: %s lists addresses and domains, e.g. "example.org, boss@example.net" */
      title = g_strdup_printf (g_str_equal (kind, "sender") ? _("Mail from %s") : _("Mail to %s"), list);
      /* TRANSLATORS: %s is the name of a relay host */
      subtitle = g_strdup_printf (_("Through %s"), host);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      g_object_set_data_full (G_OBJECT (row), "rule", g_variant_ref (rule), (GDestroyNotify) g_variant_unref);
      g_object_set_data (G_OBJECT (row), "id", GUINT_TO_POINTER (id));
      g_signal_connect_object (row, "activated", G_CALLBACK (rule_row_activated_cb), self, 0);

      button = row_button (row, "go-up-symbolic", _("Try this rule earlier"), "up-button");
      gtk_widget_set_sensitive (button, i > 0);
      g_object_set_data (G_OBJECT (button), "id", GUINT_TO_POINTER (id));
      g_object_set_data (G_OBJECT (button), "position", GUINT_TO_POINTER (i > 0 ? i - 1 : 0));
      g_signal_connect_object (button, "clicked", G_CALLBACK (rule_move_clicked_cb), self, 0);
      button = row_button (row, "go-down-symbolic", _("Try this rule later"), "down-button");
      gtk_widget_set_sensitive (button, i + 1 < n);
      g_object_set_data (G_OBJECT (button), "id", GUINT_TO_POINTER (id));
      g_object_set_data (G_OBJECT (button), "position", GUINT_TO_POINTER (i + 1));
      g_signal_connect_object (button, "clicked", G_CALLBACK (rule_move_clicked_cb), self, 0);
      button = row_button (row, "user-trash-symbolic", _("Remove this rule"), "remove-button");
      g_object_set_data (G_OBJECT (button), "id", GUINT_TO_POINTER (id));
      g_signal_connect_object (button, "clicked", G_CALLBACK (rule_remove_clicked_cb), self, 0);
      gtk_list_box_append (self->rules_list, row);
    }
}

static void
reload (RelaisPageDistribution *self)
{
  rebuild_hosts (self);
  rebuild_rules (self);
  update_password_title (self);
  update_sensitive (self);
}

static void
properties_changed_cb (RelaisPageDistribution *self)
{
  reload (self);
}

static void
client_changed_cb (RelaisPageDistribution *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (relais_page_get_client (RELAIS_PAGE (self)),
                                               "org.relais.Relais1.Distribution");

  if (self->proxy != NULL)
    g_clear_signal_handler (&self->properties_id, self->proxy);
  g_set_object (&self->proxy, proxy);
  if (proxy != NULL)
    self->properties_id = g_signal_connect_object (proxy, "g-properties-changed",
                                                   G_CALLBACK (properties_changed_cb), self, G_CONNECT_SWAPPED);
  /* a test of the daemon that went away will not answer */
  if (self->test_cancellable != NULL)
    {
      g_cancellable_cancel (self->test_cancellable);
      g_clear_object (&self->test_cancellable);
      gtk_widget_set_visible (GTK_WIDGET (self->result_row), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->host_result_row), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->test_spinner), FALSE);
      g_free (self->test_state);
      self->test_state = g_strdup ("");
    }
  if (proxy == NULL && self->dialog != NULL)
    gtk_window_destroy (self->dialog);
  reload (self);
}

/* ------------------------------------------------------------ test hook */

static GVariant *
list_rows (GtkListBox *list)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ss)"));
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (ADW_IS_ACTION_ROW (row))
      g_variant_builder_add (&builder, "(ss)", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                             adw_action_row_get_subtitle (ADW_ACTION_ROW (row)) ?: "");
  return g_variant_builder_end (&builder);
}

static GVariant *
probe_hosts (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageDistribution *self = data;

  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->hosts_list));
  return list_rows (self->hosts_list);
}

static GVariant *
probe_rules (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageDistribution *self = data;

  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->rules_list));
  return list_rows (self->rules_list);
}

static GVariant *
probe_test_result (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageDistribution *self = data;
  gboolean single = self->test_name == NULL || *self->test_name == '\0';
  AdwActionRow *row = single ? self->result_row : self->host_result_row;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->test_button));
  g_variant_dict_insert (&dict, "state", "s", self->test_state != NULL ? self->test_state : "");
  g_variant_dict_insert (&dict, "name", "s", self->test_name != NULL ? self->test_name : "");
  g_variant_dict_insert (&dict, "visible", "b", gtk_widget_get_visible (GTK_WIDGET (row)));
  g_variant_dict_insert (&dict, "title", "s", adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
  g_variant_dict_insert (&dict, "details", "s", adw_action_row_get_subtitle (row) ?: "");
  return g_variant_dict_end (&dict);
}

static GVariant *
probe_password_title (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageDistribution *self = data;

  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->password_row));
  return g_variant_new_string (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (self->password_row)));
}

static GVariant *
probe_visible_groups (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageDistribution *self = data;
  const struct { const char *name; AdwPreferencesGroup *group; } groups[] = {
    { "direct", self->direct_group }, { "relay-host", self->relay_group },
    { "relay-hosts", self->hosts_group }, { "rules", self->rules_group },
  };
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    if (gtk_widget_get_visible (GTK_WIDGET (groups[i].group)))
      g_variant_builder_add (&builder, "s", groups[i].name);
  *sensitive = TRUE;
  return g_variant_builder_end (&builder);
}

static GVariant *
probe_dialog (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageDistribution *self = data;
  g_autoptr(GVariant) state = NULL;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const char *kind = "";

  *sensitive = TRUE;
  if (RELAIS_IS_RELAY_HOST_DIALOG (self->dialog))
    {
      state = relais_relay_host_dialog_get_state (RELAIS_RELAY_HOST_DIALOG (self->dialog));
      kind = "relay-host";
    }
  else if (RELAIS_IS_DISTRIBUTION_RULE_DIALOG (self->dialog))
    {
      state = relais_distribution_rule_dialog_get_state (RELAIS_DISTRIBUTION_RULE_DIALOG (self->dialog));
      kind = "rule";
    }
  if (state != NULL)
    {
      GVariantIter iter;
      const char *key;
      GVariant *value;

      g_variant_ref_sink (state);
      g_variant_iter_init (&iter, state);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          g_variant_dict_insert_value (&dict, key, value);
          g_variant_unref (value);
        }
    }
  g_variant_dict_insert (&dict, "kind", "s", kind);
  g_variant_dict_insert (&dict, "open", "b", self->dialog != NULL);
  return g_variant_dict_end (&dict);
}

/* The row of the host named NAME or of the rule with id ID. */
static GtkWidget *
find_row (GtkListBox *list, const char *name, guint32 id)
{
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (name != NULL ? g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), name) == 0
                     : GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (row), "id")) == id)
      return row;
  return NULL;
}

/* Clicks BUTTON as the user would, if the user could. */
static gboolean
click (GtkWidget *button, const char *what, GError **error)
{
  if (button == NULL || !gtk_widget_is_sensitive (button) || !gtk_widget_is_drawable (button))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s cannot be clicked now", what);
      return FALSE;
    }
  g_signal_emit_by_name (button, "clicked");
  return TRUE;
}

static gboolean
activate_row (GtkWidget *row, const char *what, GError **error)
{
  if (row == NULL || !gtk_widget_is_sensitive (row))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s is not in the list or not editable", what);
      return FALSE;
    }
  g_signal_emit_by_name (row, "activated");
  return TRUE;
}

/* Fills the dialog just opened and presses its OK. */
static GVariant *
fill_and_ok (RelaisPageDistribution *self, GVariant *fields, GError **error)
{
  if (RELAIS_IS_RELAY_HOST_DIALOG (self->dialog))
    {
      relais_relay_host_dialog_fill (RELAIS_RELAY_HOST_DIALOG (self->dialog), fields);
      relais_relay_host_dialog_ok (RELAIS_RELAY_HOST_DIALOG (self->dialog));
    }
  else if (RELAIS_IS_DISTRIBUTION_RULE_DIALOG (self->dialog))
    {
      relais_distribution_rule_dialog_fill (RELAIS_DISTRIBUTION_RULE_DIALOG (self->dialog), fields);
      relais_distribution_rule_dialog_ok (RELAIS_DISTRIBUTION_RULE_DIALOG (self->dialog));
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no dialog opened");
      return NULL;
    }
  return g_variant_new_boolean (TRUE);
}

/* "Distribution.add-relay-host" a{sv}, "Distribution.add-rule" a{sv}:
 * the Add button, the fields, OK. */
static GVariant *
hook_add (RelaisPageDistribution *self, GtkButton *button, GVariant *argument, GError **error)
{
  if (!g_variant_is_of_type (argument, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "expected a{sv}");
      return NULL;
    }
  if (!click (GTK_WIDGET (button), "Add", error))
    return NULL;
  return fill_and_ok (self, argument, error);
}

static GVariant *
hook_add_host (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageDistribution *self = data;
  return hook_add (self, self->add_host_button, argument, error);
}

static GVariant *
hook_add_rule (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageDistribution *self = data;
  return hook_add (self, self->add_rule_button, argument, error);
}

/* "Distribution.edit-relay-host" (sa{sv}): the host's row, the fields, OK. */
static GVariant *
hook_edit_host (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageDistribution *self = data;
  const char *name;
  g_autoptr(GVariant) fields = NULL;

  if (!g_variant_is_of_type (argument, G_VARIANT_TYPE ("(sa{sv})")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "expected (sa{sv})");
      return NULL;
    }
  g_variant_get (argument, "(&s@a{sv})", &name, &fields);
  if (!activate_row (find_row (self->hosts_list, name, 0), name, error))
    return NULL;
  return fill_and_ok (self, fields, error);
}

/* "Distribution.edit-rule" (ua{sv}) */
static GVariant *
hook_edit_rule (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageDistribution *self = data;
  guint32 id;
  g_autoptr(GVariant) fields = NULL;

  if (!g_variant_is_of_type (argument, G_VARIANT_TYPE ("(ua{sv})")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "expected (ua{sv})");
      return NULL;
    }
  g_variant_get (argument, "(u@a{sv})", &id, &fields);
  if (!activate_row (find_row (self->rules_list, NULL, id), "the rule", error))
    return NULL;
  return fill_and_ok (self, fields, error);
}

/* "Distribution.click" (ss): BUTTON ("test", "remove", "up", "down") of the
 * row named by KEY (a host name, or a rule id in decimal); "test" with an
 * empty KEY is the single relay host's Test button. */
static GVariant *
hook_click (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageDistribution *self = data;
  const char *button, *key;
  g_autofree char *data_key = NULL;
  GtkWidget *row;

  if (!g_variant_is_of_type (argument, G_VARIANT_TYPE ("(ss)")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "expected (ss)");
      return NULL;
    }
  g_variant_get (argument, "(&s&s)", &button, &key);
  if (g_str_equal (button, "test") && *key == '\0')
    return click (GTK_WIDGET (self->test_button), "Test", error) ? g_variant_new_boolean (TRUE) : NULL;
  row = find_row (self->hosts_list, key, 0);
  if (row == NULL && g_ascii_isdigit (*key))
    row = find_row (self->rules_list, NULL, (guint32) g_ascii_strtoull (key, NULL, 10));
  data_key = g_strconcat (button, "-button", NULL);
  if (!click (row != NULL ? g_object_get_data (G_OBJECT (row), data_key) : NULL, button, error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* "Distribution.confirm" (s): answers the removal question ("remove" or
 * "cancel"); returns its heading. */
static GVariant *
hook_confirm (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageDistribution *self = data;
  g_autofree char *heading = NULL;

  if (self->confirm == NULL || !g_variant_is_of_type (argument, G_VARIANT_TYPE_STRING))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no removal is being confirmed");
      return NULL;
    }
  heading = g_strdup (adw_message_dialog_get_heading (self->confirm));
  adw_message_dialog_response (self->confirm, g_variant_get_string (argument, NULL));
  return g_variant_new_string (heading);
}

/* "Distribution.close-dialog": Cancel. */
static GVariant *
hook_close_dialog (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageDistribution *self = data;

  if (self->dialog != NULL)
    gtk_window_close (self->dialog);
  return g_variant_new_boolean (TRUE);
}

/* ------------------------------------------------------------ the page */

static void
relais_page_distribution_constructed (GObject *object)
{
  RelaisPageDistribution *self = RELAIS_PAGE_DISTRIBUTION (object);
  RelaisClient *client;
  RelaisForm *form;

  G_OBJECT_CLASS (relais_page_distribution_parent_class)->constructed (object);

  client = relais_page_get_client (RELAIS_PAGE (self));
  form = relais_page_add_form (RELAIS_PAGE (self), "org.relais.Relais1.Distribution");
  relais_form_add_choice (form, "Mode", self->mode_row, modes);
  relais_form_add_text (form, "RelayServer", GTK_EDITABLE (self->server_row), GTK_WIDGET (self->server_row));
  relais_form_add_spin (form, "RelayPort", self->port_spin, GTK_WIDGET (self->port_row));
  relais_form_add_switch (form, "RelayAlwaysTls", self->tls_switch, GTK_WIDGET (self->tls_row));
  relais_form_add_switch (form, "RelayAuthentication", self->auth_switch, GTK_WIDGET (self->auth_row));
  relais_form_add_text (form, "RelayUsername", GTK_EDITABLE (self->username_row), GTK_WIDGET (self->username_row));
  relais_form_add_secret (form, "RelayPassword", GTK_EDITABLE (self->password_row), GTK_WIDGET (self->password_row));
  g_signal_connect_object (form, "notify::dirty", G_CALLBACK (update_sensitive), self, G_CONNECT_SWAPPED);

  g_signal_connect_object (client, "changed", G_CALLBACK (client_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::can-edit", G_CALLBACK (update_sensitive), self, G_CONNECT_SWAPPED);
  update_sensitive (self);
  client_changed_cb (self);
  update_mode (self);

  relais_test_hook_add_probe ("Distribution.relay-hosts", object, probe_hosts, NULL, self);
  relais_test_hook_add_probe ("Distribution.rules", object, probe_rules, NULL, self);
  relais_test_hook_add_probe ("Distribution.test-result", object, probe_test_result, NULL, self);
  relais_test_hook_add_probe ("Distribution.password-title", object, probe_password_title, NULL, self);
  relais_test_hook_add_probe ("Distribution.visible-groups", object, probe_visible_groups, NULL, self);
  relais_test_hook_add_probe ("Distribution.dialog", object, probe_dialog, NULL, self);
  relais_test_hook_add_action ("Distribution.add-relay-host", object, hook_add_host, self);
  relais_test_hook_add_action ("Distribution.edit-relay-host", object, hook_edit_host, self);
  relais_test_hook_add_action ("Distribution.add-rule", object, hook_add_rule, self);
  relais_test_hook_add_action ("Distribution.edit-rule", object, hook_edit_rule, self);
  relais_test_hook_add_action ("Distribution.click", object, hook_click, self);
  relais_test_hook_add_action ("Distribution.close-dialog", object, hook_close_dialog, self);
  relais_test_hook_add_action ("Distribution.confirm", object, hook_confirm, self);
}

static void
relais_page_distribution_dispose (GObject *object)
{
  RelaisPageDistribution *self = RELAIS_PAGE_DISTRIBUTION (object);

  g_cancellable_cancel (self->test_cancellable);
  g_clear_object (&self->test_cancellable);
  if (self->dialog != NULL)
    gtk_window_destroy (self->dialog);
  g_clear_weak_pointer (&self->dialog);
  g_clear_weak_pointer (&self->confirm);
  if (self->proxy != NULL)
    g_clear_signal_handler (&self->properties_id, self->proxy);
  g_clear_object (&self->proxy);
  G_OBJECT_CLASS (relais_page_distribution_parent_class)->dispose (object);
}

static void
relais_page_distribution_finalize (GObject *object)
{
  RelaisPageDistribution *self = RELAIS_PAGE_DISTRIBUTION (object);

  g_free (self->test_name);
  g_free (self->test_state);
  G_OBJECT_CLASS (relais_page_distribution_parent_class)->finalize (object);
}

static void
relais_page_distribution_class_init (RelaisPageDistributionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = relais_page_distribution_constructed;
  object_class->dispose = relais_page_distribution_dispose;
  object_class->finalize = relais_page_distribution_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-page-distribution.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisPageDistribution, name)
  CHILD (mode_row);
  CHILD (direct_group);
  CHILD (relay_group);
  CHILD (server_row);
  CHILD (port_row);
  CHILD (port_spin);
  CHILD (tls_row);
  CHILD (tls_switch);
  CHILD (auth_row);
  CHILD (auth_switch);
  CHILD (username_row);
  CHILD (password_row);
  CHILD (test_row);
  CHILD (test_spinner);
  CHILD (test_button);
  CHILD (result_row);
  CHILD (result_icon);
  CHILD (hosts_group);
  CHILD (add_host_button);
  CHILD (hosts_list);
  CHILD (host_result_row);
  CHILD (host_result_icon);
  CHILD (rules_group);
  CHILD (add_rule_button);
  CHILD (rules_list);
#undef CHILD
}

static GtkWidget *
placeholder (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_widget_add_css_class (label, "dim-label");
  gtk_widget_set_margin_top (label, 12);
  gtk_widget_set_margin_bottom (label, 12);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  return label;
}

static void
relais_page_distribution_init (RelaisPageDistribution *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->test_state = g_strdup ("");
  gtk_list_box_set_placeholder (self->hosts_list, placeholder (_("No relay hosts yet")));
  gtk_list_box_set_placeholder (self->rules_list, placeholder (_("No rules: all remote mail is delivered directly")));
  g_signal_connect_object (self->mode_row, "notify::selected", G_CALLBACK (update_mode), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->test_button, "clicked", G_CALLBACK (test_clicked_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->add_host_button, "clicked", G_CALLBACK (add_host_clicked_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->add_rule_button, "clicked", G_CALLBACK (add_rule_clicked_cb), self,
                           G_CONNECT_SWAPPED);
  /* the login fields matter only with authentication */
  g_object_bind_property (self->auth_switch, "active", self->username_row, "visible", G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->auth_switch, "active", self->password_row, "visible", G_BINDING_SYNC_CREATE);
}

GtkWidget *
relais_page_distribution_new (RelaisClient *client)
{
  return g_object_new (RELAIS_TYPE_PAGE_DISTRIBUTION, "client", client, NULL);
}
