/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisForm: the settings of one D-Bus interface on a page. Each field
 * ties a control to a property; the form keeps the daemon's value of each
 * ("base"), follows PropertiesChanged (a field the user has not touched
 * shows the new value at once; an edited one keeps the edit), tells whether
 * anything differs ("dirty"), applies every edited field in one
 * Update(a{sv}, true) and shows a refusal on the row of the property the
 * daemon names ("Property: reason"), and keeps the rows insensitive unless
 * the client may edit. */
#include "config.h"

#include <glib/gi18n.h>

#include "relais-form.h"
#include "relais-gui-util.h"
#include "relais-test-hook.h"

typedef enum {
  FIELD_SWITCH,
  FIELD_CHECK,
  FIELD_TEXT,
  FIELD_SPIN,
  FIELD_CHOICE,
  FIELD_SECRET,
  FIELD_CUSTOM,
} FieldKind;

typedef struct {
  RelaisForm *form;           /* owns the field */
  FieldKind kind;
  char *property;
  GtkWidget *control;
  GtkWidget *row;
  char **values;              /* FIELD_CHOICE: the property value of each item */
  RelaisFormGetFunc get;      /* FIELD_CUSTOM */
  RelaisFormSetFunc set;
  GVariant *base;             /* the daemon's value; NULL for secrets or before loading */
  char *error;
  char *subtitle;             /* the row's own subtitle while it shows the error */
  gboolean showing_error;
  gulong changed_id;
} Field;

struct _RelaisForm
{
  GObject parent_instance;

  RelaisClient *client;
  char *interface_name;
  const char *short_name;     /* "General" in "org.relais.Relais1.General" */
  GPtrArray *fields;          /* Field * */
  GDBusProxy *proxy;
  gulong properties_id;
  GCancellable *cancellable;  /* the apply on its way */
  gboolean dirty;
  gboolean updating;          /* the form itself is setting controls */
};

G_DEFINE_FINAL_TYPE (RelaisForm, relais_form, G_TYPE_OBJECT)

enum { PROP_0, PROP_DIRTY, PROP_BUSY, N_PROPS };
static GParamSpec *props[N_PROPS];

static void
field_free (Field *field)
{
  if (field->changed_id != 0)
    g_signal_handler_disconnect (field->control, field->changed_id);
  g_object_unref (field->control);
  g_object_unref (field->row);
  g_free (field->property);
  g_strfreev (field->values);
  g_clear_pointer (&field->base, g_variant_unref);
  g_free (field->error);
  g_free (field->subtitle);
  g_free (field);
}

/* The control's value, as the property's type (full reference). */
static GVariant *
field_get (Field *field)
{
  GVariant *value = NULL;

  switch (field->kind)
    {
    case FIELD_SWITCH:
      value = g_variant_new_boolean (gtk_switch_get_active (GTK_SWITCH (field->control)));
      break;
    case FIELD_CHECK:
      value = g_variant_new_boolean (gtk_check_button_get_active (GTK_CHECK_BUTTON (field->control)));
      break;
    case FIELD_TEXT:
    case FIELD_SECRET:
      value = g_variant_new_string (gtk_editable_get_text (GTK_EDITABLE (field->control)));
      break;
    case FIELD_SPIN:
      value = g_variant_new_uint32 ((guint32) gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (field->control)));
      break;
    case FIELD_CHOICE:
      {
        guint selected = adw_combo_row_get_selected (ADW_COMBO_ROW (field->control));
        value = g_variant_new_string (selected < g_strv_length (field->values) ? field->values[selected] : "");
      }
      break;
    case FIELD_CUSTOM:
      value = field->get (field->control);
      break;
    }
  return g_variant_take_ref (value);
}

/* Shows VALUE in the control; FALSE when it does not fit (wrong type). */
static gboolean
field_set (Field *field, GVariant *value)
{
  switch (field->kind)
    {
    case FIELD_SWITCH:
    case FIELD_CHECK:
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        return FALSE;
      if (field->kind == FIELD_SWITCH)
        gtk_switch_set_active (GTK_SWITCH (field->control), g_variant_get_boolean (value));
      else
        gtk_check_button_set_active (GTK_CHECK_BUTTON (field->control), g_variant_get_boolean (value));
      return TRUE;
    case FIELD_TEXT:
    case FIELD_SECRET:
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        return FALSE;
      gtk_editable_set_text (GTK_EDITABLE (field->control), g_variant_get_string (value, NULL));
      return TRUE;
    case FIELD_SPIN:
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        return FALSE;
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (field->control), g_variant_get_uint32 (value));
      return TRUE;
    case FIELD_CHOICE:
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        return FALSE;
      for (guint i = 0; field->values[i] != NULL; i++)
        if (g_strcmp0 (field->values[i], g_variant_get_string (value, NULL)) == 0)
          {
            adw_combo_row_set_selected (ADW_COMBO_ROW (field->control), i);
            return TRUE;
          }
      return FALSE;
    case FIELD_CUSTOM:
      field->set (field->control, value);
      return TRUE;
    }
  return FALSE;
}

static gboolean
field_is_dirty (Field *field)
{
  g_autoptr(GVariant) value = NULL;

  if (field->kind == FIELD_SECRET)
    return *gtk_editable_get_text (GTK_EDITABLE (field->control)) != '\0';
  if (field->base == NULL)
    return FALSE;
  value = field_get (field);
  return !g_variant_equal (value, field->base);
}

static void
field_show_error (Field *field, const char *message)
{
  g_free (field->error);
  field->error = g_strdup (message);

  if (message != NULL)
    {
      gtk_widget_add_css_class (field->row, "error");
      gtk_widget_set_tooltip_text (field->row, message);
      /* An action row says why under its title; an entry row has no
       * subtitle, its red frame and tooltip tell. */
      if (ADW_IS_ACTION_ROW (field->row))
        {
          if (!field->showing_error)
            field->subtitle = g_strdup (adw_action_row_get_subtitle (ADW_ACTION_ROW (field->row)));
          adw_action_row_set_subtitle (ADW_ACTION_ROW (field->row), message);
        }
      field->showing_error = TRUE;
    }
  else if (field->showing_error)
    {
      gtk_widget_remove_css_class (field->row, "error");
      gtk_widget_set_tooltip_text (field->row, NULL);
      if (ADW_IS_ACTION_ROW (field->row))
        adw_action_row_set_subtitle (ADW_ACTION_ROW (field->row), field->subtitle ? field->subtitle : "");
      g_clear_pointer (&field->subtitle, g_free);
      field->showing_error = FALSE;
    }
}

static Field *
find_field (RelaisForm *self, const char *property)
{
  for (guint i = 0; i < self->fields->len; i++)
    {
      Field *field = g_ptr_array_index (self->fields, i);
      if (g_strcmp0 (field->property, property) == 0)
        return field;
    }
  return NULL;
}

static void
update_dirty (RelaisForm *self)
{
  gboolean dirty = FALSE;

  for (guint i = 0; i < self->fields->len && !dirty; i++)
    dirty = field_is_dirty (g_ptr_array_index (self->fields, i));
  if (dirty == self->dirty)
    return;
  self->dirty = dirty;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_DIRTY]);
}

static void
update_sensitive (RelaisForm *self)
{
  gboolean sensitive = relais_client_can_edit (self->client) && self->cancellable == NULL;

  for (guint i = 0; i < self->fields->len; i++)
    {
      Field *field = g_ptr_array_index (self->fields, i);
      gtk_widget_set_sensitive (field->row, sensitive);
    }
}

static void
control_changed_cb (Field *field)
{
  RelaisForm *self = field->form;

  if (self->updating)
    return;
  field_show_error (field, NULL);
  update_dirty (self);
}

/* Shows the daemon's VALUE of FIELD; an edit the user has made is kept. */
static void
load_field (RelaisForm *self, Field *field, GVariant *value)
{
  gboolean edited = field_is_dirty (field);

  if (field->kind == FIELD_SECRET)
    return;
  g_clear_pointer (&field->base, g_variant_unref);
  if (value == NULL)
    return;
  field->base = g_variant_ref (value);
  if (edited)
    return;
  self->updating = TRUE;
  if (!field_set (field, value))
    g_warning ("%s.%s: the daemon sent a value of type %s, which this version cannot show",
               self->short_name, field->property, g_variant_get_type_string (value));
  self->updating = FALSE;
}

static void
properties_changed_cb (GDBusProxy *proxy, GVariant *changed, const char *const *invalidated,
                       gpointer user_data)
{
  RelaisForm *self = RELAIS_FORM (user_data);
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_iter_init (&iter, changed);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      Field *field = find_field (self, name);
      if (field != NULL)
        load_field (self, field, value);
      g_variant_unref (value);
    }
  update_dirty (self);
}

static void
load_all (RelaisForm *self)
{
  for (guint i = 0; i < self->fields->len; i++)
    {
      Field *field = g_ptr_array_index (self->fields, i);
      g_autoptr(GVariant) value = NULL;

      if (self->proxy != NULL)
        value = g_dbus_proxy_get_cached_property (self->proxy, field->property);
      load_field (self, field, value);
    }
  update_dirty (self);
}

static void
client_changed_cb (RelaisForm *self)
{
  GDBusProxy *proxy = relais_client_get_proxy (self->client, self->interface_name);

  if (self->proxy != NULL)
    g_clear_signal_handler (&self->properties_id, self->proxy);
  g_set_object (&self->proxy, proxy);
  if (proxy != NULL)
    self->properties_id = g_signal_connect_object (proxy, "g-properties-changed",
                                                   G_CALLBACK (properties_changed_cb), self, 0);
  load_all (self);
  update_sensitive (self);
}

static void
relais_form_dispose (GObject *object)
{
  RelaisForm *self = RELAIS_FORM (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->proxy != NULL)
    g_clear_signal_handler (&self->properties_id, self->proxy);
  g_clear_object (&self->proxy);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (relais_form_parent_class)->dispose (object);
}

static void
relais_form_finalize (GObject *object)
{
  RelaisForm *self = RELAIS_FORM (object);

  /* Here, not in dispose: the test hook's probes point at the fields until
   * the base dispose has told it the form is gone. */
  g_ptr_array_unref (self->fields);
  g_free (self->interface_name);
  G_OBJECT_CLASS (relais_form_parent_class)->finalize (object);
}

static void
relais_form_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RelaisForm *self = RELAIS_FORM (object);

  switch (prop_id)
    {
    case PROP_DIRTY:
      g_value_set_boolean (value, self->dirty);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, relais_form_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relais_form_class_init (RelaisFormClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = relais_form_dispose;
  object_class->finalize = relais_form_finalize;
  object_class->get_property = relais_form_get_property;

  props[PROP_DIRTY] = g_param_spec_boolean ("dirty", NULL, NULL, FALSE,
                                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
relais_form_init (RelaisForm *self)
{
  self->fields = g_ptr_array_new_with_free_func ((GDestroyNotify) field_free);
}

RelaisForm *
relais_form_new (RelaisClient *client, const char *interface_name)
{
  RelaisForm *self;
  const char *dot;

  g_return_val_if_fail (RELAIS_IS_CLIENT (client), NULL);
  g_return_val_if_fail (interface_name != NULL, NULL);

  self = g_object_new (RELAIS_TYPE_FORM, NULL);
  self->client = g_object_ref (client);
  self->interface_name = g_strdup (interface_name);
  dot = strrchr (self->interface_name, '.');
  self->short_name = dot != NULL ? dot + 1 : self->interface_name;
  g_signal_connect_object (client, "changed", G_CALLBACK (client_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::can-edit", G_CALLBACK (update_sensitive), self, G_CONNECT_SWAPPED);
  client_changed_cb (self);
  return self;
}

/* Test hook: read a field as the user sees it, or edit it as a user would. */
static GVariant *
probe_get (gpointer data, gboolean *sensitive, char **message)
{
  Field *field = data;

  *sensitive = gtk_widget_is_sensitive (field->row);
  *message = g_strdup (field->error);
  return field_get (field);
}

static gboolean
probe_set (gpointer data, GVariant *value, GError **error)
{
  Field *field = data;

  if (!gtk_widget_is_sensitive (field->row))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s is not editable now", field->property);
      return FALSE;
    }
  if (!field_set (field, value))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s cannot show a value of type %s",
                   field->property, g_variant_get_type_string (value));
      return FALSE;
    }
  /* A custom control emits its signal only for the user's own edits. */
  control_changed_cb (field);
  return TRUE;
}

static Field *
add_field (RelaisForm *self, FieldKind kind, const char *property, GtkWidget *control, GtkWidget *row,
           const char *changed_signal)
{
  Field *field = g_new0 (Field, 1);
  g_autofree char *probe = g_strdup_printf ("%s.%s", self->short_name, property);

  field->form = self;
  field->kind = kind;
  field->property = g_strdup (property);
  field->control = g_object_ref (control);
  field->row = g_object_ref (row != NULL ? row : control);
  field->changed_id = g_signal_connect_swapped (control, changed_signal, G_CALLBACK (control_changed_cb), field);
  g_ptr_array_add (self->fields, field);

  relais_test_hook_add_probe (probe, G_OBJECT (self), probe_get, probe_set, field);
  return field;
}

/* Shows the daemon's current value of a field added after the proxy came. */
static void
field_added (RelaisForm *self, Field *field)
{
  g_autoptr(GVariant) value = NULL;

  if (self->proxy != NULL)
    value = g_dbus_proxy_get_cached_property (self->proxy, field->property);
  load_field (self, field, value);
  gtk_widget_set_sensitive (field->row, relais_client_can_edit (self->client) && self->cancellable == NULL);
}

void
relais_form_add_switch (RelaisForm *self, const char *property, GtkSwitch *control, GtkWidget *row)
{
  field_added (self, add_field (self, FIELD_SWITCH, property, GTK_WIDGET (control), row, "notify::active"));
}

void
relais_form_add_check (RelaisForm *self, const char *property, GtkCheckButton *control, GtkWidget *row)
{
  field_added (self, add_field (self, FIELD_CHECK, property, GTK_WIDGET (control), row, "toggled"));
}

void
relais_form_add_text (RelaisForm *self, const char *property, GtkEditable *control, GtkWidget *row)
{
  field_added (self, add_field (self, FIELD_TEXT, property, GTK_WIDGET (control), row, "changed"));
}

void
relais_form_add_spin (RelaisForm *self, const char *property, GtkSpinButton *control, GtkWidget *row)
{
  field_added (self, add_field (self, FIELD_SPIN, property, GTK_WIDGET (control), row, "value-changed"));
}

void
relais_form_add_choice (RelaisForm *self, const char *property, AdwComboRow *control, const char *const *values)
{
  Field *field = add_field (self, FIELD_CHOICE, property, GTK_WIDGET (control), NULL, "notify::selected");

  field->values = g_strdupv ((char **) values);
  field_added (self, field);
}

void
relais_form_add_secret (RelaisForm *self, const char *property, GtkEditable *control, GtkWidget *row)
{
  field_added (self, add_field (self, FIELD_SECRET, property, GTK_WIDGET (control), row, "changed"));
}

void
relais_form_add_custom (RelaisForm *self, const char *property, GtkWidget *control, GtkWidget *row,
                        RelaisFormGetFunc get, RelaisFormSetFunc set, const char *changed_signal)
{
  Field *field = add_field (self, FIELD_CUSTOM, property, control, row, changed_signal);

  field->get = get;
  field->set = set;
  field_added (self, field);
}

gboolean
relais_form_get_dirty (RelaisForm *self)
{
  g_return_val_if_fail (RELAIS_IS_FORM (self), FALSE);
  return self->dirty;
}

gboolean
relais_form_get_busy (RelaisForm *self)
{
  g_return_val_if_fail (RELAIS_IS_FORM (self), FALSE);
  return self->cancellable != NULL;
}

const char *
relais_form_get_error (RelaisForm *self, const char *property)
{
  Field *field;

  g_return_val_if_fail (RELAIS_IS_FORM (self), NULL);
  field = find_field (self, property);
  return field != NULL ? field->error : NULL;
}

typedef struct {
  RelaisForm *form;
  GCancellable *cancellable;
  GVariant *changes;          /* a{sv} as sent */
} Apply;

static void
apply_free (Apply *apply)
{
  g_object_unref (apply->form);
  g_object_unref (apply->cancellable);
  g_variant_unref (apply->changes);
  g_free (apply);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Apply, apply_free)

static void
set_busy (RelaisForm *self, GCancellable *cancellable)
{
  g_set_object (&self->cancellable, cancellable);
  update_sensitive (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_BUSY]);
}

static void
update_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Apply) apply = user_data;
  RelaisForm *self = apply->form;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);
  g_autofree char *message = NULL;
  const char *colon;
  Field *culprit = NULL;

  if (g_cancellable_is_cancelled (apply->cancellable))
    return;
  set_busy (self, NULL);

  if (reply != NULL)
    {
      GVariantIter iter;
      const char *name;
      GVariant *value;

      /* The daemon has them now: they are the new base, even before its
       * PropertiesChanged arrives; secrets are forgotten. */
      self->updating = TRUE;
      g_variant_iter_init (&iter, apply->changes);
      while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
        {
          Field *field = find_field (self, name);

          if (field == NULL)   /* the changes are made of the fields: cannot happen */
            ;
          else if (field->kind == FIELD_SECRET)
            gtk_editable_set_text (GTK_EDITABLE (field->control), "");
          else
            {
              g_clear_pointer (&field->base, g_variant_unref);
              field->base = g_variant_ref (value);
            }
          g_variant_unref (value);
        }
      self->updating = FALSE;
      for (guint i = 0; i < self->fields->len; i++)
        field_show_error (g_ptr_array_index (self->fields, i), NULL);
      update_dirty (self);
      return;
    }

  message = relais_gui_error_message (error);
  colon = strstr (message, ": ");
  if (colon != NULL)
    {
      g_autofree char *property = g_strndup (message, colon - message);
      culprit = find_field (self, property);
    }
  if (culprit != NULL && ADW_IS_PREFERENCES_ROW (culprit->row))
    {
      /* The row's own title names the setting better than its D-Bus name. */
      g_autofree char *text = g_strdup_printf (_("%s: %s"),
                                               adw_preferences_row_get_title (ADW_PREFERENCES_ROW (culprit->row)),
                                               colon + 2);
      field_show_error (culprit, colon + 2);
      gtk_widget_grab_focus (culprit->control);
      relais_gui_toast (culprit->row, text);
      return;
    }
  if (culprit != NULL)
    {
      field_show_error (culprit, colon + 2);
      gtk_widget_grab_focus (culprit->control);
    }
  relais_gui_toast_error (self->fields->len > 0 ? ((Field *) g_ptr_array_index (self->fields, 0))->row : NULL,
                          _("The changes were not applied"), error);
}

void
relais_form_apply (RelaisForm *self)
{
  g_autoptr(GVariantBuilder) builder = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GCancellable) cancellable = NULL;
  Apply *apply;

  g_return_if_fail (RELAIS_IS_FORM (self));
  if (self->proxy == NULL || self->cancellable != NULL)
    return;

  for (guint i = 0; i < self->fields->len; i++)
    {
      Field *field = g_ptr_array_index (self->fields, i);
      if (field_is_dirty (field))
        {
          g_autoptr(GVariant) value = field_get (field);
          g_variant_builder_add (builder, "{sv}", field->property, value);
        }
    }

  cancellable = g_cancellable_new ();
  apply = g_new0 (Apply, 1);
  apply->form = g_object_ref (self);
  apply->cancellable = g_object_ref (cancellable);
  apply->changes = g_variant_ref_sink (g_variant_builder_end (builder));
  if (g_variant_n_children (apply->changes) == 0)
    {
      apply_free (apply);
      return;
    }
  set_busy (self, cancellable);
  /* interactive: polkit may ask the user for a password */
  g_dbus_proxy_call (self->proxy, "Update", g_variant_new ("(@a{sv}b)", apply->changes, TRUE),
                     G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, -1, cancellable, update_done_cb, apply);
}

void
relais_form_revert (RelaisForm *self)
{
  g_return_if_fail (RELAIS_IS_FORM (self));

  self->updating = TRUE;
  for (guint i = 0; i < self->fields->len; i++)
    {
      Field *field = g_ptr_array_index (self->fields, i);

      field_show_error (field, NULL);
      if (field->kind == FIELD_SECRET)
        gtk_editable_set_text (GTK_EDITABLE (field->control), "");
      else if (field->base != NULL)
        field_set (field, field->base);
    }
  self->updating = FALSE;
  update_dirty (self);
}
