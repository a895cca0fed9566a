/* SPDX-License-Identifier: GPL-3.0-or-later
 * The app's test hook (RELAIS_SETTINGS_TEST_HOOK=1): a small D-Bus
 * interface on the app's own session-bus connection through which the
 * integration tests read what a field shows, edit it as a user would, and
 * run page actions (apply, show a page, take a screenshot). Pages register
 * named probes and actions; each goes away with the object that owns it.
 * Off by default: without the variable nothing is exported or kept. */
#include "config.h"

#include "relais-test-hook.h"

#define TEST_HOOK_PATH "/org/relais/Settings/Test"

static const char introspection_xml[] =
  "<node>"
  "  <interface name='org.relais.Settings.Test'>"
  "    <method name='Get'>"
  "      <arg name='name' type='s' direction='in'/>"
  "      <arg name='value' type='v' direction='out'/>"
  "      <arg name='sensitive' type='b' direction='out'/>"
  "      <arg name='error' type='s' direction='out'/>"
  "    </method>"
  "    <method name='Set'>"
  "      <arg name='name' type='s' direction='in'/>"
  "      <arg name='value' type='v' direction='in'/>"
  "    </method>"
  "    <method name='Call'>"
  "      <arg name='name' type='s' direction='in'/>"
  "      <arg name='argument' type='v' direction='in'/>"
  "      <arg name='result' type='v' direction='out'/>"
  "    </method>"
  "    <method name='List'>"
  "      <arg name='names' type='as' direction='out'/>"
  "    </method>"
  "  </interface>"
  "</node>";

typedef struct {
  GObject *owner;             /* weak */
  RelaisProbeGetFunc get;
  RelaisProbeSetFunc set;
  RelaisProbeCallFunc call;
  gpointer data;
} Entry;

static GHashTable *entries;   /* name -> Entry */
static guint registration_id;

gboolean
relais_test_hook_enabled (void)
{
  return g_strcmp0 (g_getenv ("RELAIS_SETTINGS_TEST_HOOK"), "1") == 0;
}

static void
owner_gone_cb (gpointer data, GObject *where_the_object_was)
{
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->owner == where_the_object_was)
      g_hash_table_iter_remove (&iter);
}

static void
entry_free (Entry *entry)
{
  g_free (entry);
}

static void
add_entry (const char *name, GObject *owner, Entry *entry)
{
  if (!relais_test_hook_enabled ())
    {
      g_free (entry);
      return;
    }
  if (entries == NULL)
    entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) entry_free);
  entry->owner = owner;
  g_object_weak_ref (owner, owner_gone_cb, NULL);
  g_hash_table_replace (entries, g_strdup (name), entry);
}

void
relais_test_hook_add_probe (const char *name, GObject *owner, RelaisProbeGetFunc get, RelaisProbeSetFunc set,
                            gpointer data)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->get = get;
  entry->set = set;
  entry->data = data;
  add_entry (name, owner, entry);
}

void
relais_test_hook_add_action (const char *name, GObject *owner, RelaisProbeCallFunc call, gpointer data)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->call = call;
  entry->data = data;
  add_entry (name, owner, entry);
}

static void
method_call_cb (GDBusConnection *connection, const char *sender, const char *object_path,
                const char *interface_name, const char *method_name, GVariant *parameters,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  const char *name = NULL;
  Entry *entry = NULL;

  if (g_strcmp0 (method_name, "List") == 0)
    {
      g_autoptr(GPtrArray) names = g_ptr_array_new ();
      if (entries != NULL)
        {
          g_autofree gpointer *keys = g_hash_table_get_keys_as_array (entries, NULL);
          for (guint i = 0; keys[i] != NULL; i++)
            g_ptr_array_add (names, keys[i]);
        }
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
      g_dbus_method_invocation_return_value (invocation,
        g_variant_new ("(@as)", g_variant_new_strv ((const char *const *) names->pdata, names->len)));
      return;
    }

  g_variant_get_child (parameters, 0, "&s", &name);
  if (entries != NULL)
    entry = g_hash_table_lookup (entries, name);

  if (g_strcmp0 (method_name, "Get") == 0 && entry != NULL && entry->get != NULL)
    {
      gboolean sensitive = FALSE;
      g_autofree char *message = NULL;
      g_autoptr(GVariant) value = g_variant_take_ref (entry->get (entry->data, &sensitive, &message));
      g_dbus_method_invocation_return_value (invocation,
        g_variant_new ("(@vbs)", g_variant_new_variant (value), sensitive, message ? message : ""));
      return;
    }
  if (g_strcmp0 (method_name, "Set") == 0 && entry != NULL && entry->set != NULL)
    {
      g_autoptr(GVariant) value = NULL;
      g_variant_get_child (parameters, 1, "v", &value);
      if (entry->set (entry->data, value, &error))
        g_dbus_method_invocation_return_value (invocation, NULL);
      else
        g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (g_strcmp0 (method_name, "Call") == 0 && entry != NULL && entry->call != NULL)
    {
      g_autoptr(GVariant) argument = NULL;
      g_autoptr(GVariant) result = NULL;
      g_variant_get_child (parameters, 1, "v", &argument);
      result = entry->call (entry->data, argument, &error);
      if (result == NULL)
        g_dbus_method_invocation_return_gerror (invocation, error);
      else
        {
          g_variant_take_ref (result);   /* a floating result becomes ours */
          g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@v)", g_variant_new_variant (result)));
        }
      return;
    }
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                         "no %s entry named \"%s\" (List shows them)", method_name, name);
}

static const GDBusInterfaceVTable vtable = { .method_call = method_call_cb };

gboolean
relais_test_hook_export (GDBusConnection *connection, GError **error)
{
  g_autoptr(GDBusNodeInfo) node = NULL;

  if (!relais_test_hook_enabled () || registration_id != 0)
    return TRUE;
  node = g_dbus_node_info_new_for_xml (introspection_xml, error);
  if (node == NULL)
    return FALSE;
  registration_id = g_dbus_connection_register_object (connection, TEST_HOOK_PATH, node->interfaces[0],
                                                       &vtable, NULL, NULL, error);
  return registration_id != 0;
}

void
relais_test_hook_unexport (GDBusConnection *connection)
{
  if (registration_id != 0)
    g_dbus_connection_unregister_object (connection, registration_id);
  registration_id = 0;
}
