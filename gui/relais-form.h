/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "relais-client.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_FORM (relais_form_get_type ())
G_DECLARE_FINAL_TYPE (RelaisForm, relais_form, RELAIS, FORM, GObject)

/* A page's settings of one D-Bus interface ("org.relais.Relais1.General"):
 * each field ties a widget to one property. The form shows the daemon's
 * values and follows their changes, knows which fields the user edited
 * ("dirty"), sends them all in one Update(a{sv}, true) ("apply"), puts the
 * daemon's values back ("revert"), marks the row a refused value came from
 * with the daemon's message, and makes the rows insensitive while the
 * client cannot edit. Every field is also reachable from the test hook as
 * "Interface.Property" (e.g. "General.MaxRecipients"). */
RelaisForm *relais_form_new              (RelaisClient *client, const char *interface_name);

/* ROW is the widget made insensitive and marked on error (often the
 * AdwActionRow holding the control; may be the control itself). */
void        relais_form_add_switch       (RelaisForm *self, const char *property,
                                          GtkSwitch *control, GtkWidget *row);
void        relais_form_add_check        (RelaisForm *self, const char *property,
                                          GtkCheckButton *control, GtkWidget *row);
/* A string property in any GtkEditable (GtkEntry, AdwEntryRow). */
void        relais_form_add_text         (RelaisForm *self, const char *property,
                                          GtkEditable *control, GtkWidget *row);
/* A "u" property. */
void        relais_form_add_spin         (RelaisForm *self, const char *property,
                                          GtkSpinButton *control, GtkWidget *row);
/* An "s" property with one of VALUES (NULL-terminated), shown as the combo
 * row's items in the same order. */
void        relais_form_add_choice       (RelaisForm *self, const char *property,
                                          AdwComboRow *control, const char *const *values);
/* A write-only string (a password): never shown; sent only when the user
 * typed something, emptied after a successful apply. */
void        relais_form_add_secret       (RelaisForm *self, const char *property,
                                          GtkEditable *control, GtkWidget *row);

/* Any other control: GET returns the control's value as a GVariant of the
 * property's type (floating or full reference), SET shows one; the control
 * emits CHANGED_SIGNAL (no arguments used) when the user edits it. */
typedef GVariant *(*RelaisFormGetFunc) (GtkWidget *control);
typedef void      (*RelaisFormSetFunc) (GtkWidget *control, GVariant *value);
void        relais_form_add_custom       (RelaisForm *self, const char *property,
                                          GtkWidget *control, GtkWidget *row,
                                          RelaisFormGetFunc get, RelaisFormSetFunc set,
                                          const char *changed_signal);

/* Whether any field differs from the daemon's value ("notify::dirty"). */
gboolean    relais_form_get_dirty        (RelaisForm *self);
/* Whether an apply is on its way ("notify::busy"). */
gboolean    relais_form_get_busy         (RelaisForm *self);
/* Sends the edited fields in one Update call; on error the row named by the
 * daemon is marked and "failed" (const char *message) is emitted. */
void        relais_form_apply            (RelaisForm *self);
void        relais_form_revert           (RelaisForm *self);
/* The error shown on PROPERTY's row, or NULL. */
const char *relais_form_get_error        (RelaisForm *self, const char *property);

G_END_DECLS
