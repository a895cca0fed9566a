/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "relais-page.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_PAGE_STATUS (relais_page_status_get_type ())
G_DECLARE_FINAL_TYPE (RelaisPageStatus, relais_page_status, RELAIS, PAGE_STATUS, RelaisPage)

GtkWidget *relais_page_status_new (RelaisClient *client);

G_END_DECLS
