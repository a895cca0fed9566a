/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "relais-page.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_PAGE_GENERAL (relais_page_general_get_type ())
G_DECLARE_FINAL_TYPE (RelaisPageGeneral, relais_page_general, RELAIS, PAGE_GENERAL, RelaisPage)

GtkWidget *relais_page_general_new (RelaisClient *client);

G_END_DECLS
