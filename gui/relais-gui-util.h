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

G_END_DECLS
