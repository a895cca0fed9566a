/* SPDX-License-Identifier: GPL-3.0-or-later
 * Validation helpers shared by the relais-config*.c files: each sets
 * RELAIS_ERROR_INVALID_ARGUMENT with "PROPERTY: reason" and returns FALSE on
 * a wrong type or value. Not for use outside daemon/core. */
#pragma once

#include <glib.h>

#include "relais-config.h"

#define RELAIS_CONFIG_MAX_LIST_ENTRIES 1000

gboolean relais_config_invalid (GError **error, const char *property, const char *format, ...)
  G_GNUC_PRINTF (3, 4);
gboolean relais_config_check_type (GVariant *value, const char *property, const GVariantType *type,
                                   GError **error);
gboolean relais_config_set_bool (GVariant *value, const char *property, gboolean *out, GError **error);
/* Applies one a{sv} entry to CONFIG (a private copy): FALSE + error naming KEY. */
typedef gboolean (*RelaisConfigApplyFunc) (RelaisConfig *config, const char *key, GVariant *value,
                                           GError **error);
/* A copy of BASE with every entry of CHANGES (a{sv}, sunk if floating)
 * applied by APPLY_ENTRY; NULL + the first error, BASE untouched. */
RelaisConfig *relais_config_apply_changes (const RelaisConfig *base, GVariant *changes,
                                           RelaisConfigApplyFunc apply_entry, GError **error);
gboolean relais_config_set_uint (GVariant *value, const char *property, guint min, guint max, guint *out,
                                 GError **error);
/* The name of an entry of a named list: 1 to 64 printable characters, no
 * space at either end ("Name: ..." naming WHAT, e.g. "trusted network"). */
gboolean relais_config_check_entry_name (const char *what, const char *name, GError **error);
