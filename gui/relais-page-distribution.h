/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "relais-page.h"

G_BEGIN_DECLS

#define RELAIS_TYPE_PAGE_DISTRIBUTION (relais_page_distribution_get_type ())
G_DECLARE_FINAL_TYPE (RelaisPageDistribution, relais_page_distribution, RELAIS, PAGE_DISTRIBUTION, RelaisPage)

GtkWidget *relais_page_distribution_new (RelaisClient *client);

G_END_DECLS
