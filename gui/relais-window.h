/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisWindow: the main window of relais-settings (pages, lock, banner,
 * Apply bar). */
#pragma once

#include <adwaita.h>

#include "relais-client.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_WINDOW (relais_window_get_type ())
G_DECLARE_FINAL_TYPE (RelaisWindow, relais_window, RELAIS, WINDOW, AdwApplicationWindow)

RelaisWindow *relais_window_new        (AdwApplication *app);
RelaisClient *relais_window_get_client (RelaisWindow *self);

G_END_DECLS
