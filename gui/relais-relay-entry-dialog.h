/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "relais-client.h"

G_BEGIN_DECLS

/* Which list of Relay Control an entry belongs to. */
typedef enum {
  RELAIS_RELAY_LIST_TRUSTED,  /* TrustedNetworks: name + address or subnet */
  RELAIS_RELAY_LIST_DOMAINS,  /* RelayDomains: name + domain */
} RelaisRelayList;

#define RELAIS_TYPE_RELAY_ENTRY_DIALOG (relais_relay_entry_dialog_get_type ())
G_DECLARE_FINAL_TYPE (RelaisRelayEntryDialog, relais_relay_entry_dialog, RELAIS, RELAY_ENTRY_DIALOG, AdwWindow)

/* A dialog that adds an entry to LIST (NAME NULL) or edits the entry NAME
 * (whose value is VALUE). OK calls Add… or Update… (only the fields that
 * changed); the dialog closes when the daemon accepts, and otherwise stays
 * open with the daemon's message on the field it names. */
RelaisRelayEntryDialog *relais_relay_entry_dialog_new       (GtkWindow *parent, RelaisClient *client,
                                                             RelaisRelayList list, const char *name,
                                                             const char *value);
/* Fills the fields as a user would type them. */
void                    relais_relay_entry_dialog_set_entry (RelaisRelayEntryDialog *self, const char *name,
                                                             const char *value);
/* Presses OK (the button's own handler; nothing happens while it is insensitive). */
void                    relais_relay_entry_dialog_press_ok  (RelaisRelayEntryDialog *self);
/* What the dialog shows, for the test hook: name, value, error (the
 * daemon's last refusal, "" if none), the field it marks ("name", "value"
 * or ""), busy (a call on its way), can-save (OK sensitive). */
GVariant               *relais_relay_entry_dialog_describe  (RelaisRelayEntryDialog *self);

G_END_DECLS
