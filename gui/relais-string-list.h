/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define RELAIS_TYPE_STRING_LIST (relais_string_list_get_type ())
G_DECLARE_FINAL_TYPE (RelaisStringList, relais_string_list, RELAIS, STRING_LIST, GtkWidget)

/* An editable list of strings (e.g. addresses) in a boxed list: one row per
 * item with a remove button, and an entry row to add one. Emits "changed"
 * when the user adds or removes an item. As a RelaisForm custom field:
 * relais_string_list_get_value / _set_value ("as"). */
GStrv      relais_string_list_get_items (RelaisStringList *self);
void       relais_string_list_set_items (RelaisStringList *self, const char *const *items);
/* Adds the text typed in the entry row but not yet added (when a dialog's
 * OK is pressed before the entry's own apply button). */
void       relais_string_list_take_pending (RelaisStringList *self);
/* Types TEXT into the entry row, as a user would (tests). */
void       relais_string_list_set_pending  (RelaisStringList *self, const char *text);
GVariant  *relais_string_list_get_value (GtkWidget *self);
void       relais_string_list_set_value (GtkWidget *self, GVariant *value);

G_END_DECLS
