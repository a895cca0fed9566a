/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "relais-page.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_PAGE_RELAY_CONTROL (relais_page_relay_control_get_type ())
G_DECLARE_FINAL_TYPE (RelaisPageRelayControl, relais_page_relay_control, RELAIS, PAGE_RELAY_CONTROL, RelaisPage)

GtkWidget *relais_page_relay_control_new (RelaisClient *client);

G_END_DECLS
