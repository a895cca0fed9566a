/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisStringList: a short editable list of strings in a boxed list. The
 * daemon checks the items when the page is applied; here an empty or
 * repeated item is simply not added. Property "add-title" names the entry
 * row ("Add an address"). */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-string-list.h"

struct _RelaisStringList
{
  GtkWidget parent_instance;

  GtkListBox *list;
  AdwEntryRow *add_row;
  GPtrArray *items;           /* char * */
};

G_DEFINE_FINAL_TYPE (RelaisStringList, relais_string_list, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_ADD_TITLE, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void rebuild (RelaisStringList *self);

static void
remove_clicked_cb (GtkButton *button, RelaisStringList *self)
{
  const char *item = g_object_get_data (G_OBJECT (button), "item");
  guint index;

  if (!g_ptr_array_find_with_equal_func (self->items, item, g_str_equal, &index))
    return;
  g_ptr_array_remove_index (self->items, index);
  rebuild (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
rebuild (RelaisStringList *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list))) != GTK_WIDGET (self->add_row))
    gtk_list_box_remove (self->list, child);

  for (guint i = 0; i < self->items->len; i++)
    {
      const char *item = g_ptr_array_index (self->items, i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), item);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      /* TRANSLATORS: tooltip of the button removing one item of a list */
      gtk_widget_set_tooltip_text (remove, _("Remove"));
      g_object_set_data_full (G_OBJECT (remove), "item", g_strdup (item), g_free);
      g_signal_connect_object (remove, "clicked", G_CALLBACK (remove_clicked_cb), self, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
      gtk_list_box_insert (self->list, row, (int) i);
    }
}

/* Adds what the entry row holds; FALSE when it is empty or already listed. */
static gboolean
add_pending (RelaisStringList *self)
{
  g_autofree char *item = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->add_row))));

  if (*item == '\0' || g_ptr_array_find_with_equal_func (self->items, item, g_str_equal, NULL))
    return FALSE;
  g_ptr_array_add (self->items, g_steal_pointer (&item));
  gtk_editable_set_text (GTK_EDITABLE (self->add_row), "");
  rebuild (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return TRUE;
}

static void
add_applied_cb (AdwEntryRow *row, RelaisStringList *self)
{
  if (!add_pending (self))
    gtk_widget_error_bell (GTK_WIDGET (row));
}

void
relais_string_list_set_pending (RelaisStringList *self, const char *text)
{
  g_return_if_fail (RELAIS_IS_STRING_LIST (self));
  gtk_editable_set_text (GTK_EDITABLE (self->add_row), text);
}

void
relais_string_list_take_pending (RelaisStringList *self)
{
  g_return_if_fail (RELAIS_IS_STRING_LIST (self));
  add_pending (self);
}

static void
relais_string_list_dispose (GObject *object)
{
  RelaisStringList *self = RELAIS_STRING_LIST (object);

  if (self->list != NULL)
    gtk_widget_unparent (GTK_WIDGET (self->list));
  self->list = NULL;
  g_clear_pointer (&self->items, g_ptr_array_unref);
  G_OBJECT_CLASS (relais_string_list_parent_class)->dispose (object);
}

static void
relais_string_list_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RelaisStringList *self = RELAIS_STRING_LIST (object);

  switch (prop_id)
    {
    case PROP_ADD_TITLE:
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->add_row), g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relais_string_list_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RelaisStringList *self = RELAIS_STRING_LIST (object);

  switch (prop_id)
    {
    case PROP_ADD_TITLE:
      g_value_set_string (value, adw_preferences_row_get_title (ADW_PREFERENCES_ROW (self->add_row)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relais_string_list_class_init (RelaisStringListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relais_string_list_dispose;
  object_class->set_property = relais_string_list_set_property;
  object_class->get_property = relais_string_list_get_property;

  props[PROP_ADD_TITLE] = g_param_spec_string ("add-title", NULL, NULL, NULL,
                                               G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
relais_string_list_init (RelaisStringList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_free);
  self->list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->list), "boxed-list");
  gtk_widget_set_parent (GTK_WIDGET (self->list), GTK_WIDGET (self));

  self->add_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_entry_row_set_show_apply_button (self->add_row, TRUE);
  g_signal_connect_object (self->add_row, "apply", G_CALLBACK (add_applied_cb), self, 0);
  gtk_list_box_append (self->list, GTK_WIDGET (self->add_row));
}

GStrv
relais_string_list_get_items (RelaisStringList *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (RELAIS_IS_STRING_LIST (self), NULL);
  for (guint i = 0; i < self->items->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->items, i));
  return g_strv_builder_end (builder);
}

void
relais_string_list_set_items (RelaisStringList *self, const char *const *items)
{
  g_return_if_fail (RELAIS_IS_STRING_LIST (self));
  g_ptr_array_set_size (self->items, 0);
  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    g_ptr_array_add (self->items, g_strdup (items[i]));
  rebuild (self);
}

GVariant *
relais_string_list_get_value (GtkWidget *self)
{
  g_auto(GStrv) items = relais_string_list_get_items (RELAIS_STRING_LIST (self));

  return g_variant_new_strv ((const char *const *) items, -1);
}

void
relais_string_list_set_value (GtkWidget *self, GVariant *value)
{
  g_autofree const char **items = NULL;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_warning ("a list of strings cannot show a value of type %s", g_variant_get_type_string (value));
      return;
    }
  items = g_variant_get_strv (value, NULL);
  relais_string_list_set_items (RELAIS_STRING_LIST (self), items);
}
