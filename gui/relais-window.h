/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisWindow: the main window of relais-settings. For now it only tells
 * whether relaisd (org.relais.Relais1) is reachable on the system or the
 * session bus; the settings pages come later. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define RELAIS_TYPE_WINDOW (relais_window_get_type ())
G_DECLARE_FINAL_TYPE (RelaisWindow, relais_window, RELAIS, WINDOW, AdwApplicationWindow)

RelaisWindow *relais_window_new (AdwApplication *app);

G_END_DECLS
