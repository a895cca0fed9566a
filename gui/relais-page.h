/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "relais-client.h"
#include "relais-form.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_PAGE (relais_page_get_type ())
G_DECLARE_DERIVABLE_TYPE (RelaisPage, relais_page, RELAIS, PAGE, AdwPreferencesPage)

/* The base of every page: an AdwPreferencesPage that knows the client
 * ("client", construct-only) and may have a form of settings applied with
 * the window's Apply bar ("form"). A subclass builds its template in init
 * and adds its fields in constructed, where the client is known. */
struct _RelaisPageClass
{
  AdwPreferencesPageClass parent_class;
};

RelaisClient *relais_page_get_client (RelaisPage *self);
RelaisForm   *relais_page_get_form   (RelaisPage *self);
/* Makes a form for INTERFACE_NAME the page's (once, in constructed). */
RelaisForm   *relais_page_add_form   (RelaisPage *self, const char *interface_name);

G_END_DECLS
