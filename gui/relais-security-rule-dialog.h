/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "relais-client.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_SECURITY_RULE_DIALOG (relais_security_rule_dialog_get_type ())
G_DECLARE_FINAL_TYPE (RelaisSecurityRuleDialog, relais_security_rule_dialog, RELAIS, SECURITY_RULE_DIALOG,
                      AdwWindow)

/* A dialog that adds a black/white rule (NAME NULL) or edits the rule NAME,
 * whose fields are LIST, TYPE, VALUE and ACTION as in Security.Rules. OK
 * calls AddRule, or UpdateRule with the fields that changed; the dialog
 * closes once the daemon accepts and otherwise stays open with the daemon's
 * message on the field it names. */
RelaisSecurityRuleDialog *relais_security_rule_dialog_new      (GtkWindow *parent, RelaisClient *client,
                                                                const char *name, const char *list,
                                                                const char *type, const char *value,
                                                                const char *action);
/* Fills the fields as a user would (LIST "black"/"white", TYPE "ip"…,
 * ACTION "reject"/"discard", ignored on the whitelist). */
void                      relais_security_rule_dialog_set_rule (RelaisSecurityRuleDialog *self,
                                                                const char *name, const char *list,
                                                                const char *type, const char *value,
                                                                const char *action);
/* Presses OK (its own handler; nothing happens while it is insensitive). */
void                      relais_security_rule_dialog_press_ok (RelaisSecurityRuleDialog *self);
/* What the dialog shows, for the test hook (a{sv}): title, name, list,
 * type, value, action, action-visible, error (the daemon's last refusal,
 * "" if none), error-field ("name", "list", "type", "value", "action" or
 * ""), error-shown (the text of the error label), busy, can-save. */
GVariant                 *relais_security_rule_dialog_describe (RelaisSecurityRuleDialog *self);

G_END_DECLS
