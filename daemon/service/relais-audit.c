/* SPDX-License-Identifier: GPL-3.0-or-later
 * The audit trail: turns an applied change into entries (the differences of
 * an interface's properties, the secrets compared but never shown), logs
 * each, writes them to the store in one transaction that also trims the
 * table, and answers org.relais.Relais1.Audit.List. A failed write is logged:
 * the change itself is already applied and stays. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-audit.h"

#include "relais-clock.h"
#include "relais-error.h"

/* More item changes than this in one property are one entry with the counts. */
#define MAX_ITEM_ENTRIES 20

#define HIDDEN  "(hidden)"
#define CHANGED "changed"

struct _RelaisAudit {
  RelaisStore *store;            /* borrowed */
  RelaisAuthority *authority;    /* borrowed */
  RelaisAuditTrail *skeleton;
};

static void
add_entry (GPtrArray *entries, GDBusMethodInvocation *invocation, char *name, char *old_value,
           char *new_value)
{
  RelaisAuditEntry *e = g_new0 (RelaisAuditEntry, 1);

  if (!relais_authority_get_caller_uid (invocation, &e->uid))
    e->uid = G_MAXUINT32;
  e->sender = g_strdup (g_dbus_method_invocation_get_sender (invocation));
  e->interface = g_strdup (g_dbus_method_invocation_get_interface_name (invocation));
  e->member = g_strdup (g_dbus_method_invocation_get_method_name (invocation));
  e->name = name;
  e->old_value = old_value != NULL ? old_value : g_strdup ("");
  e->new_value = new_value != NULL ? new_value : g_strdup ("");
  g_ptr_array_add (entries, e);
}

/* Logs and stores ENTRIES (all of one call). */
static void
commit (RelaisAudit *audit, GPtrArray *entries)
{
  g_autoptr (GError) error = NULL;
  gint64 now = relais_clock_now ();

  if (entries->len == 0)
    return;
  for (guint i = 0; i < entries->len; i++)
    {
      RelaisAuditEntry *e = entries->pdata[i];

      e->time = now;
      g_message ("audit: uid %u (%s) %s.%s %s: %s -> %s", e->uid, e->sender, e->interface, e->member,
                 e->name, e->old_value[0] != '\0' ? e->old_value : "(none)",
                 e->new_value[0] != '\0' ? e->new_value : "(none)");
    }
  if (!relais_store_add_audit (audit->store, entries, now - (gint64) RELAIS_AUDIT_MAX_AGE_DAYS * 86400,
                               RELAIS_AUDIT_MAX_ROWS, &error))
    g_warning ("The audit trail could not be written: %s", error->message);
}

void
relais_audit_record (RelaisAudit *audit, GDBusMethodInvocation *invocation, const char *name,
                     const char *old_value, const char *new_value)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_audit_entry_free);

  add_entry (entries, invocation, g_strdup (name), g_strdup (old_value), g_strdup (new_value));
  commit (audit, entries);
}

/* ---------------------------------------------------------------- differences */

static char *
print (GVariant *value)
{
  return value != NULL ? g_variant_print (value, FALSE) : NULL;
}

/* An array of tuples whose first member is a string or a number: a collection of keyed items. */
static gboolean
is_keyed (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);
  const GVariantType *element;

  if (!g_variant_type_is_array (type))
    return FALSE;
  element = g_variant_type_element (type);
  if (!g_variant_type_is_tuple (element) || g_variant_type_n_items (element) == 0)
    return FALSE;
  element = g_variant_type_first (element);
  return g_variant_type_equal (element, G_VARIANT_TYPE_STRING) ||
         g_variant_type_equal (element, G_VARIANT_TYPE_UINT32);
}

/* The key of a keyed item as text: the string itself, or the number. */
static char *
item_key (GVariant *item)
{
  g_autoptr (GVariant) first = g_variant_get_child_value (item, 0);

  if (g_variant_is_of_type (first, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string (first, NULL);
  return g_strdup_printf ("%u", g_variant_get_uint32 (first));
}

/* Key -> item (a new reference), in a table owning both. */
static GHashTable *
index_items (GVariant *array, GPtrArray *keys_in_order)
{
  GHashTable *items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  gsize n = g_variant_n_children (array);

  for (gsize i = 0; i < n; i++)
    {
      GVariant *item = g_variant_get_child_value (array, i);
      char *key = item_key (item);

      g_ptr_array_add (keys_in_order, g_strdup (key));
      g_hash_table_replace (items, key, item);
    }
  return items;
}

static char *
keys_text (GPtrArray *keys)
{
  g_autoptr (GString) text = g_string_new ("[");

  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", (const char *) keys->pdata[i]);
  g_string_append_c (text, ']');
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* One entry per item of PROPERTY added, removed or changed between BEFORE and AFTER. */
static void
diff_items (GPtrArray *entries, GDBusMethodInvocation *invocation, const char *property, GVariant *before,
            GVariant *after)
{
  g_autoptr (GPtrArray) old_keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) new_keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) old_items = index_items (before, old_keys);
  g_autoptr (GHashTable) new_items = index_items (after, new_keys);
  g_autoptr (GPtrArray) changed = g_ptr_array_new ();    /* keys (borrowed), old ones then new ones */

  for (guint i = 0; i < old_keys->len; i++)
    {
      const char *key = old_keys->pdata[i];
      GVariant *new_item = g_hash_table_lookup (new_items, key);

      if (new_item == NULL || !g_variant_equal (g_hash_table_lookup (old_items, key), new_item))
        g_ptr_array_add (changed, old_keys->pdata[i]);
    }
  for (guint i = 0; i < new_keys->len; i++)
    if (!g_hash_table_contains (old_items, new_keys->pdata[i]))
      g_ptr_array_add (changed, new_keys->pdata[i]);

  if (changed->len == 0)   /* same items, another order */
    add_entry (entries, invocation, g_strdup (property), keys_text (old_keys), keys_text (new_keys));
  else if (changed->len > MAX_ITEM_ENTRIES)   /* counted, not printed (100,000 rules replaced...) */
    add_entry (entries, invocation, g_strdup (property), g_strdup_printf ("%u items", old_keys->len),
               g_strdup_printf ("%u items (%u added, removed or changed)", new_keys->len, changed->len));
  else
    for (guint i = 0; i < changed->len; i++)
      {
        const char *key = changed->pdata[i];

        add_entry (entries, invocation, g_strdup_printf ("%s[%s]", property, key),
                   print (g_hash_table_lookup (old_items, key)), print (g_hash_table_lookup (new_items, key)));
      }
}

/* A secret NAME that was OLD_SECRET and is NEW_SECRET ("" or NULL: none):
 * recorded as set, changed or cleared, never shown. */
static void
diff_secret (GPtrArray *entries, GDBusMethodInvocation *invocation, char *name, const char *old_secret,
             const char *new_secret)
{
  gboolean had = old_secret != NULL && old_secret[0] != '\0';
  gboolean has = new_secret != NULL && new_secret[0] != '\0';

  if (had == has && (!had || g_str_equal (old_secret, new_secret)))
    {
      g_free (name);
      return;
    }
  add_entry (entries, invocation, name, g_strdup (had ? HIDDEN : ""), g_strdup (has ? CHANGED : ""));
}

static void
diff_secrets (GPtrArray *entries, GDBusMethodInvocation *invocation, const RelaisConfig *old,
              const RelaisConfig *next)
{
  diff_secret (entries, invocation, g_strdup ("RelayPassword"), old->relay_host->password,
               next->relay_host->password);
  for (guint i = 0; i < next->relay_hosts->len; i++)
    {
      const RelaisRelayHost *host = next->relay_hosts->pdata[i];
      const RelaisRelayHost *was = relais_config_lookup_relay_host (old, host->name);

      /* a new (or renamed) host: its RelayHosts item says whether it has a password */
      if (was != NULL)
        diff_secret (entries, invocation, g_strdup_printf ("RelayHosts[%s].Password", host->name),
                     was->password, host->password);
    }
  for (guint i = 0; i < next->accounts->len; i++)
    {
      const RelaisAccount *account = next->accounts->pdata[i];
      const RelaisAccount *was = relais_config_lookup_login (old, account->login);

      diff_secret (entries, invocation, g_strdup_printf ("Accounts[%s].Password", account->login),
                   was != NULL ? was->password_hash : NULL, account->password_hash);
    }
}

void
relais_audit_record_change (RelaisAudit *audit, GDBusMethodInvocation *invocation, GVariant *before,
                            GVariant *after, const RelaisConfig *old, const RelaisConfig *next)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_audit_entry_free);
  GVariantIter iter;
  const char *property;
  GVariant *new_value;

  g_variant_iter_init (&iter, after);
  while (g_variant_iter_loop (&iter, "{&sv}", &property, &new_value))
    {
      g_autoptr (GVariant) old_value = g_variant_lookup_value (before, property, NULL);

      if (old_value != NULL && g_variant_equal (old_value, new_value))
        continue;
      if (old_value != NULL && is_keyed (new_value))
        diff_items (entries, invocation, property, old_value, new_value);
      else
        add_entry (entries, invocation, g_strdup (property), print (old_value), print (new_value));
    }
  diff_secrets (entries, invocation, old, next);
  commit (audit, entries);
}

/* ---------------------------------------------------------------- List */

static void
list_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  RelaisAudit *audit = user_data;
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(xussssss)"));
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  gint64 since;
  guint32 max_entries;

  g_variant_get (g_dbus_method_invocation_get_parameters (invocation), "(xub)", &since, &max_entries, NULL);
  rows = relais_store_list_audit (audit->store, since, max_entries, &error);
  if (rows == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  for (guint i = 0; i < rows->len; i++)
    {
      const RelaisAuditEntry *e = rows->pdata[i];

      g_variant_builder_add (&builder, "(xussssss)", e->time, e->uid, e->sender, e->interface, e->member, e->name,
                             e->old_value, e->new_value);
    }
  relais_audit_trail_complete_list (audit->skeleton, invocation, g_variant_builder_end (&builder));
}

static gboolean
handle_list_cb (RelaisAuditTrail *skeleton, GDBusMethodInvocation *invocation, gint64 since, guint max_entries,
                gboolean interactive, gpointer user_data)
{
  RelaisAudit *audit = user_data;

  if (since < 0)
    g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                           "since: %" G_GINT64_FORMAT " is before 1970; give Unix seconds, "
                                           "0 for the whole trail", since);
  else if (max_entries < 1 || max_entries > RELAIS_AUDIT_MAX_LIST)
    g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                           "max_entries: %u is out of range; ask for 1 to %u entries",
                                           max_entries, RELAIS_AUDIT_MAX_LIST);
  else
    relais_authority_check (audit->authority, invocation, interactive, list_authorized, audit, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---------------------------------------------------------------- object */

RelaisAudit *
relais_audit_new (RelaisStore *store, RelaisAuthority *authority)
{
  RelaisAudit *audit = g_new0 (RelaisAudit, 1);

  audit->store = store;
  audit->authority = authority;
  audit->skeleton = relais_audit_trail_skeleton_new ();
  g_signal_connect (audit->skeleton, "handle-list", G_CALLBACK (handle_list_cb), audit);
  return audit;
}

void
relais_audit_free (RelaisAudit *audit)
{
  if (audit == NULL)
    return;
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (audit->skeleton));
  g_object_unref (audit->skeleton);
  g_free (audit);
}

RelaisAuditTrail *
relais_audit_get_skeleton (RelaisAudit *audit)
{
  return audit->skeleton;
}
