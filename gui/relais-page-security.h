/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "relais-page.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_PAGE_SECURITY (relais_page_security_get_type ())
G_DECLARE_FINAL_TYPE (RelaisPageSecurity, relais_page_security, RELAIS, PAGE_SECURITY, RelaisPage)

GtkWidget *relais_page_security_new (RelaisClient *client);

G_END_DECLS
