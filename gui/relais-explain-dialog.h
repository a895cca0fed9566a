/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "relais-client.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_EXPLAIN_DIALOG (relais_explain_dialog_get_type ())
G_DECLARE_FINAL_TYPE (RelaisExplainDialog, relais_explain_dialog, RELAIS, EXPLAIN_DIALOG, AdwWindow)

/* The "Why?" tool: the administrator describes a client (address, HELO
 * name, sender, recipients, optional login) and the dialog shows what the
 * server would answer and why, from org.relais.Relais1.Policy.Explain.
 * Opens a new dialog over the window of PARENT_WIDGET. */
void relais_explain_dialog_present (GtkWidget *parent_widget, RelaisClient *client);

G_END_DECLS
