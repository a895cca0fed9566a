/* SPDX-License-Identifier: GPL-3.0-or-later
 * The General page (SPEC §1): authentication options, auto-forwarding, the
 * SMTP profile and the external administrators, all fields of one form on
 * org.relais.Relais1.General. */
#include "config.h"

#include "relais-page-general.h"
#include "relais-string-list.h"

struct _RelaisPageGeneral
{
  RelaisPage parent_instance;

  AdwActionRow *smtp_auth_row;
  GtkSwitch *smtp_auth_switch;
  AdwActionRow *skip_auth_local_row;
  GtkSwitch *skip_auth_local_switch;
  AdwActionRow *verify_sender_row;
  GtkSwitch *verify_sender_switch;
  AdwActionRow *skip_sender_trusted_row;
  GtkSwitch *skip_sender_trusted_switch;
  AdwActionRow *disable_forward_row;
  GtkSwitch *disable_forward_switch;
  AdwEntryRow *hostname_row;
  AdwEntryRow *banner_row;
  AdwActionRow *max_recipients_row;
  GtkSpinButton *max_recipients_spin;
  AdwActionRow *max_hops_row;
  GtkSpinButton *max_hops_spin;
  AdwActionRow *max_size_row;
  GtkSpinButton *max_size_spin;
  AdwActionRow *idle_timeout_row;
  GtkSpinButton *idle_timeout_spin;
  AdwActionRow *max_sessions_row;
  GtkSpinButton *max_sessions_spin;
  AdwPreferencesGroup *admins_group;
  RelaisStringList *admins_list;
};

G_DEFINE_FINAL_TYPE (RelaisPageGeneral, relais_page_general, RELAIS_TYPE_PAGE)

static void
relais_page_general_constructed (GObject *object)
{
  RelaisPageGeneral *self = RELAIS_PAGE_GENERAL (object);
  RelaisForm *form;

  G_OBJECT_CLASS (relais_page_general_parent_class)->constructed (object);

  form = relais_page_add_form (RELAIS_PAGE (self), "org.relais.Relais1.General");
  relais_form_add_switch (form, "SmtpAuthentication", self->smtp_auth_switch, GTK_WIDGET (self->smtp_auth_row));
  relais_form_add_switch (form, "SkipAuthForLocalNetworks", self->skip_auth_local_switch,
                          GTK_WIDGET (self->skip_auth_local_row));
  relais_form_add_switch (form, "VerifySenderLogin", self->verify_sender_switch, GTK_WIDGET (self->verify_sender_row));
  relais_form_add_switch (form, "SkipSenderCheckForTrusted", self->skip_sender_trusted_switch,
                          GTK_WIDGET (self->skip_sender_trusted_row));
  relais_form_add_switch (form, "DisableAutoForward", self->disable_forward_switch,
                          GTK_WIDGET (self->disable_forward_row));
  relais_form_add_text (form, "Hostname", GTK_EDITABLE (self->hostname_row), GTK_WIDGET (self->hostname_row));
  relais_form_add_text (form, "Banner", GTK_EDITABLE (self->banner_row), GTK_WIDGET (self->banner_row));
  relais_form_add_spin (form, "MaxRecipients", self->max_recipients_spin, GTK_WIDGET (self->max_recipients_row));
  relais_form_add_spin (form, "MaxHops", self->max_hops_spin, GTK_WIDGET (self->max_hops_row));
  relais_form_add_spin (form, "MaxMessageSizeMB", self->max_size_spin, GTK_WIDGET (self->max_size_row));
  relais_form_add_spin (form, "IdleTimeout", self->idle_timeout_spin, GTK_WIDGET (self->idle_timeout_row));
  relais_form_add_spin (form, "MaxSessions", self->max_sessions_spin, GTK_WIDGET (self->max_sessions_row));
  relais_form_add_custom (form, "ExternalAdministrators", GTK_WIDGET (self->admins_list),
                          GTK_WIDGET (self->admins_list), relais_string_list_get_value,
                          relais_string_list_set_value, "changed");
}

static void
relais_page_general_class_init (RelaisPageGeneralClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = relais_page_general_constructed;

  g_type_ensure (RELAIS_TYPE_STRING_LIST);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-page-general.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisPageGeneral, name)
  CHILD (smtp_auth_row);
  CHILD (smtp_auth_switch);
  CHILD (skip_auth_local_row);
  CHILD (skip_auth_local_switch);
  CHILD (verify_sender_row);
  CHILD (verify_sender_switch);
  CHILD (skip_sender_trusted_row);
  CHILD (skip_sender_trusted_switch);
  CHILD (disable_forward_row);
  CHILD (disable_forward_switch);
  CHILD (hostname_row);
  CHILD (banner_row);
  CHILD (max_recipients_row);
  CHILD (max_recipients_spin);
  CHILD (max_hops_row);
  CHILD (max_hops_spin);
  CHILD (max_size_row);
  CHILD (max_size_spin);
  CHILD (idle_timeout_row);
  CHILD (idle_timeout_spin);
  CHILD (max_sessions_row);
  CHILD (max_sessions_spin);
  CHILD (admins_group);
  CHILD (admins_list);
#undef CHILD
}

static void
relais_page_general_init (RelaisPageGeneral *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
relais_page_general_new (RelaisClient *client)
{
  return g_object_new (RELAIS_TYPE_PAGE_GENERAL, "client", client, NULL);
}
