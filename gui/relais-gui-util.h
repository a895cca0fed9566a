/* SPDX-License-Identifier: GPL-3.0-or-later
 * Small helpers shared by the pages. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Shows MESSAGE in the window's toast overlay (through the "win.toast"
 * action, so a page never reaches into the window). */
void   relais_gui_toast             (GtkWidget *widget, const char *message);
/* ERROR's message without the "GDBus.Error:org.relais...:" prefix, for people. */
char  *relais_gui_error_message     (const GError *error);
/* Shows "PREFIX: reason" as a toast for a failed call. */
void   relais_gui_toast_error       (GtkWidget *widget, const char *prefix, const GError *error);
/* Renders WIDGET (a shown window or dialog) as it looks now into the PNG
 * file PATH; *WIDTH and *HEIGHT (may be NULL) get its size. For the test
 * hook's screenshots. */
gboolean relais_gui_save_screenshot (GtkWidget *widget, const char *path, int *width, int *height,
                                     GError **error);

/* A dialog asking before something is removed for good: HEADING, BODY
 * (may be NULL), "cancel" (the default and on close) and ACTION_ID shown
 * as ACTION_LABEL in the destructive style. The caller connects "response"
 * and presents it; it is modal over WIDGET's window. */
AdwMessageDialog *relais_gui_confirm_dialog (GtkWidget *widget, const char *heading, const char *body,
                                             const char *action_id, const char *action_label);

/* A field of a dialog as the daemon names it in its refusals. */
typedef struct {
  const char *key;      /* "Name", "Network", "Recipients" */
  GtkWidget  *row;      /* its row (an AdwPreferencesRow gives the label its title) */
} RelaisErrorField;

/* Shows the daemon's refusal MESSAGE in LABEL (hidden when MESSAGE is
 * NULL). When MESSAGE starts with "Key: " or "Key[N]: " of one of FIELDS,
 * that row is marked (error style, the reason as tooltip, focus) and the
 * label reads "Row title: reason"; every other row's mark is cleared.
 * Returns the index of the field named, or -1; *reason (optional) points
 * into MESSAGE at the reason. */
int    relais_gui_show_field_error  (GtkLabel *label, const RelaisErrorField *fields, guint n_fields,
                                     const char *message, const char **reason);

G_END_DECLS
