/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "relais-client.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_DKIM_KEY_DIALOG (relais_dkim_key_dialog_get_type ())
G_DECLARE_FINAL_TYPE (RelaisDkimKeyDialog, relais_dkim_key_dialog, RELAIS, DKIM_KEY_DIALOG, AdwWindow)

/* A dialog that makes a DKIM signing key with Security.GenerateDkimKey
 * (domain, selector, algorithm), then shows the DNS record to publish; a
 * refusal keeps it open with the daemon's message on the field it names. */
RelaisDkimKeyDialog *relais_dkim_key_dialog_new          (GtkWindow *parent, RelaisClient *client);
/* A dialog that only shows the DNS record of an existing key, as in
 * Security.DkimKeys. */
RelaisDkimKeyDialog *relais_dkim_key_dialog_new_record   (GtkWindow *parent, const char *domain,
                                                          const char *selector, const char *record);

/* For the test hook: fills the fields as a user would (ALGORITHM
 * "rsa-2048" or "ed25519"; NULL leaves a field as it is). */
void                 relais_dkim_key_dialog_set_fields   (RelaisDkimKeyDialog *self, const char *domain,
                                                          const char *selector, const char *algorithm);
/* Presses Generate (its own handler; nothing happens while it is insensitive). */
void                 relais_dkim_key_dialog_press_ok     (RelaisDkimKeyDialog *self);
/* Answers the question "replace the current key?" now asked ("replace"
 * or "cancel"); FALSE when none is asked. */
gboolean             relais_dkim_key_dialog_answer       (RelaisDkimKeyDialog *self, const char *response);
/* Presses the Copy button of "name", "value" or "zone"; FALSE for another word. */
gboolean             relais_dkim_key_dialog_copy         (RelaisDkimKeyDialog *self, const char *which);
/* What the dialog shows (a{sv}): title, page ("form" or "record"),
 * domain, selector, algorithm, error (the daemon's last refusal),
 * error-field ("domain", "selector", "algorithm" or ""), error-shown,
 * busy, spinning, can-generate, question (the heading of the replacement
 * question asked now, or ""), name, value, zone (the record shown). */
GVariant            *relais_dkim_key_dialog_describe     (RelaisDkimKeyDialog *self);

G_END_DECLS
