/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define RELAIS_TYPE_DISTRIBUTION_RULE_DIALOG (relais_distribution_rule_dialog_get_type ())
G_DECLARE_FINAL_TYPE (RelaisDistributionRuleDialog, relais_distribution_rule_dialog, RELAIS,
                      DISTRIBUTION_RULE_DIALOG, AdwWindow)

/* A dialog adding a rule of the "several relay hosts" mode (RULE NULL) or
 * editing one (RULE, an entry of Rules: (id, kind, host, patterns)) through
 * PROXY, org.relais.Relais1.Distribution; HOSTS are the relay host names to
 * choose from. OK calls AddRule or UpdateRule; the dialog closes when the
 * daemon accepts and stays open with its message on the field it names. */
RelaisDistributionRuleDialog *relais_distribution_rule_dialog_new (GtkWindow *parent, GDBusProxy *proxy,
                                                                   const char *const *hosts, GVariant *rule);

/* Test hook: edits the fields from an a{sv} with any of Kind (s), Host (s),
 * Patterns (as), as a user would; OK; the state as a{sv}: "error-field" s,
 * "error" s, "busy" b. */
void      relais_distribution_rule_dialog_fill      (RelaisDistributionRuleDialog *self, GVariant *fields);
void      relais_distribution_rule_dialog_ok        (RelaisDistributionRuleDialog *self);
GVariant *relais_distribution_rule_dialog_get_state (RelaisDistributionRuleDialog *self);

G_END_DECLS
