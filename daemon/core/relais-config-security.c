/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Security page's settings (SPEC §4.3-4.5): validation of a{sv} changes
 * into a new snapshot, and the settings as a{sv} for the store and D-Bus. The
 * black/white rules themselves are relais-rules.c; their edits live here too. */
#define G_LOG_DOMAIN "relais"

#include "relais-config.h"
#include "relais-config-private.h"

#include "relais-error.h"

typedef enum { KIND_BOOL, KIND_UINT } SettingKind;

typedef struct {
  const char *name;             /* D-Bus property name */
  SettingKind kind;
  gsize offset;                 /* of the gboolean / guint in RelaisConfig */
  guint min, max;               /* KIND_UINT */
} SecuritySetting;

#define BOOL_SETTING(name, field) { name, KIND_BOOL, G_STRUCT_OFFSET (RelaisConfig, field), 0, 0 }
#define UINT_SETTING(name, field, min, max) { name, KIND_UINT, G_STRUCT_OFFSET (RelaisConfig, field), min, max }

static const SecuritySetting settings[] = {
  BOOL_SETTING ("RejectNonFqdnSender", reject_non_fqdn_sender),
  BOOL_SETTING ("RejectUnknownSenderDomain", reject_unknown_sender_domain),
  BOOL_SETTING ("RejectUnknownClientHostname", reject_unknown_client_hostname),
  BOOL_SETTING ("LimitConnections", limit_connections),
  UINT_SETTING ("MaxConnections", max_connections, 1, 10000),
  BOOL_SETTING ("LimitMessageRate", limit_message_rate),
  UINT_SETTING ("MaxMessagesPerMinute", max_messages_per_minute, 1, 100000),
  BOOL_SETTING ("LimitConnectionRate", limit_connection_rate),
  UINT_SETTING ("MaxConnectionsPerMinute", max_connections_per_minute, 1, 100000),
  BOOL_SETTING ("RejectUnauthorizedPipelining", reject_unauthorized_pipelining),
  BOOL_SETTING ("RejectNonFqdnHelo", reject_non_fqdn_helo),
  BOOL_SETTING ("RejectUnknownHelo", reject_unknown_helo),
  BOOL_SETTING ("BlockNonexistentRecipients", block_nonexistent_recipients),
  UINT_SETTING ("MaxNonexistentRecipients", max_nonexistent_recipients, 1, 100000),
  UINT_SETTING ("MaxJunkCommands", max_junk_commands, 1, 100000),
};

static gboolean
apply_one (RelaisConfig *c, const char *key, GVariant *value, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const SecuritySetting *s = &settings[i];

      if (!g_str_equal (key, s->name))
        continue;
      if (s->kind == KIND_BOOL)
        return relais_config_set_bool (value, key, G_STRUCT_MEMBER_P (c, s->offset), error);
      return relais_config_set_uint (value, key, s->min, s->max, G_STRUCT_MEMBER_P (c, s->offset), error);
    }
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
               "%s: no such setting in org.relais.Relais1.Security", key);
  return FALSE;
}

RelaisConfig *
relais_config_apply_security (const RelaisConfig *base, GVariant *changes, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  g_autoptr (GVariant) owned = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (base != NULL, NULL);
  g_return_val_if_fail (g_variant_is_of_type (changes, G_VARIANT_TYPE_VARDICT), NULL);

  owned = g_variant_ref_sink (changes);
  config = relais_config_copy (base);
  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      gboolean ok = apply_one (config, key, value, error);

      g_variant_unref (value);
      if (!ok)
        return NULL;
    }
  return g_steal_pointer (&config);
}

GVariant *
relais_config_security_to_variant (const RelaisConfig *c)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const SecuritySetting *s = &settings[i];
      gconstpointer field = G_STRUCT_MEMBER_P (c, s->offset);

      if (s->kind == KIND_BOOL)
        g_variant_builder_add (&b, "{sv}", s->name, g_variant_new_boolean (*(const gboolean *) field));
      else
        g_variant_builder_add (&b, "{sv}", s->name, g_variant_new_uint32 (*(const guint *) field));
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}
