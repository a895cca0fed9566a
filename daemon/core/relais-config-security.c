/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Security page's settings (SPEC §4.3-4.5): validation of a{sv} changes
 * into a new snapshot, and the settings as a{sv} for the store and D-Bus. The
 * black/white rules themselves are relais-rules.c; their edits live here too. */
#define G_LOG_DOMAIN "relais"

#include "relais-config.h"
#include "relais-config-private.h"

#include "relais-clamd.h"
#include "relais-error.h"

typedef enum { KIND_BOOL, KIND_UINT, KIND_DNSBL_ZONES, KIND_SOCKET, KIND_FALLBACK } SettingKind;

#define MAX_DNSBL_ZONES 32

typedef struct {
  const char *name;             /* D-Bus property name */
  SettingKind kind;
  gsize offset;                 /* of the gboolean / guint in RelaisConfig */
  guint min, max;               /* KIND_UINT */
} SecuritySetting;

#define BOOL_SETTING(name, field) { name, KIND_BOOL, G_STRUCT_OFFSET (RelaisConfig, field), 0, 0 }
#define UINT_SETTING(name, field, min, max) { name, KIND_UINT, G_STRUCT_OFFSET (RelaisConfig, field), min, max }
#define OTHER_SETTING(name, kind, field) { name, kind, G_STRUCT_OFFSET (RelaisConfig, field), 0, 0 }

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
  BOOL_SETTING ("Dnsbl", dnsbl),
  OTHER_SETTING ("DnsblZones", KIND_DNSBL_ZONES, dnsbl_zones),
  BOOL_SETTING ("Spf", spf),
  BOOL_SETTING ("Dkim", dkim),
  BOOL_SETTING ("Dmarc", dmarc),
  BOOL_SETTING ("Antivirus", antivirus),
  OTHER_SETTING ("AntivirusSocket", KIND_SOCKET, antivirus_socket),
  OTHER_SETTING ("AntivirusUnreachable", KIND_FALLBACK, antivirus_unreachable),
  BOOL_SETTING ("DkimSigning", dkim_signing),
};

static const char *const fallback_names[] = { [RELAIS_ANTIVIRUS_DEFER] = "defer",
                                              [RELAIS_ANTIVIRUS_ACCEPT] = "accept" };

/* "defer" or "accept". */
static gboolean
set_fallback (GVariant *value, const char *property, RelaisAntivirusFallback *out, GError **error)
{
  const char *name;

  if (!relais_config_check_type (value, property, G_VARIANT_TYPE_STRING, error))
    return FALSE;
  name = g_variant_get_string (value, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (fallback_names); i++)
    if (g_str_equal (name, fallback_names[i]))
      {
        *out = (RelaisAntivirusFallback) i;
        return TRUE;
      }
  return relais_config_invalid (error, property, "'%s' is neither \"defer\" nor \"accept\"", name);
}

/* Where clamd listens: an absolute Unix socket path, or HOST:PORT / [IPv6]:PORT. */
static gboolean
set_socket (GVariant *value, const char *property, char **out, GError **error)
{
  const char *spec;

  if (!relais_config_check_type (value, property, G_VARIANT_TYPE_STRING, error))
    return FALSE;
  spec = g_variant_get_string (value, NULL);
  if (!relais_clamd_address_parse (spec, NULL, error))     /* its messages name AntivirusSocket */
    return FALSE;
  g_free (*out);
  *out = g_strdup (spec);
  return TRUE;
}

/* a(ss) of (zone, filter): each validated (relais-dnsbl.h), zones unique. */
static gboolean
set_dnsbl_zones (GVariant *value, const char *property, GPtrArray **out, GError **error)
{
  g_autoptr (GPtrArray) zones = NULL;
  GVariantIter iter;
  const char *zone, *filter;

  if (!relais_config_check_type (value, property, G_VARIANT_TYPE ("a(ss)"), error))
    return FALSE;
  if (g_variant_n_children (value) > MAX_DNSBL_ZONES)
    return relais_config_invalid (error, property, "at most %d zones", MAX_DNSBL_ZONES);
  zones = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dnsbl_zone_free);
  g_variant_iter_init (&iter, value);
  while (g_variant_iter_next (&iter, "(&s&s)", &zone, &filter))
    {
      RelaisDnsblZone *z = relais_dnsbl_zone_new (property, zone, filter, error);

      if (z == NULL)
        return FALSE;
      for (guint i = 0; i < zones->len; i++)
        if (g_str_equal (((RelaisDnsblZone *) zones->pdata[i])->zone, z->zone))
          {
            relais_config_invalid (error, property, "zone '%s' is listed twice", z->zone);
            relais_dnsbl_zone_free (z);
            return FALSE;
          }
      g_ptr_array_add (zones, z);
    }
  g_ptr_array_unref (*out);
  *out = g_steal_pointer (&zones);
  return TRUE;
}

static GVariant *
dnsbl_zones_to_variant (GPtrArray *zones)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ss)"));

  for (guint i = 0; i < zones->len; i++)
    {
      const RelaisDnsblZone *z = zones->pdata[i];

      g_variant_builder_add (&b, "(ss)", z->zone, z->filter);
    }
  return g_variant_builder_end (&b);
}

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
      if (s->kind == KIND_DNSBL_ZONES)
        return set_dnsbl_zones (value, key, G_STRUCT_MEMBER_P (c, s->offset), error);
      if (s->kind == KIND_SOCKET)
        return set_socket (value, key, G_STRUCT_MEMBER_P (c, s->offset), error);
      if (s->kind == KIND_FALLBACK)
        return set_fallback (value, key, G_STRUCT_MEMBER_P (c, s->offset), error);
      return relais_config_set_uint (value, key, s->min, s->max, G_STRUCT_MEMBER_P (c, s->offset), error);
    }
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
               "%s: no such setting in org.relais.Relais1.Security", key);
  return FALSE;
}

RelaisConfig *
relais_config_apply_security (const RelaisConfig *base, GVariant *changes, GError **error)
{
  return relais_config_apply_changes (base, changes, apply_one, error);
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
      else if (s->kind == KIND_DNSBL_ZONES)
        g_variant_builder_add (&b, "{sv}", s->name, dnsbl_zones_to_variant (*(GPtrArray *const *) field));
      else if (s->kind == KIND_SOCKET)
        g_variant_builder_add (&b, "{sv}", s->name, g_variant_new_string (*(char *const *) field));
      else if (s->kind == KIND_FALLBACK)
        g_variant_builder_add (&b, "{sv}", s->name,
                               g_variant_new_string (fallback_names[*(const RelaisAntivirusFallback *) field]));
      else
        g_variant_builder_add (&b, "{sv}", s->name, g_variant_new_uint32 (*(const guint *) field));
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* ---------------------------------------------------------------- rules */

#define RULE_WHAT "black/white rule"
#define RULE_FIELDS "Name, List, Type, Value or Action"

/* A validated rule from its D-Bus strings, or NULL + error naming the field. */
static RelaisSecurityRule *
make_rule (const char *name, const char *list_text, const char *type_text, const char *value,
           const char *action_text, GError **error)
{
  RelaisRuleList list;
  RelaisRuleType type;
  RelaisRuleAction action = RELAIS_RULE_ACTION_REJECT;

  if (!relais_config_check_entry_name (RULE_WHAT, name, error))
    return NULL;
  if (!relais_rule_list_from_string (list_text, &list))
    {
      relais_config_invalid (error, "List", "'%s' is not a list: use black or white", list_text);
      return NULL;
    }
  if (!relais_rule_type_from_string (type_text, &type))
    {
      relais_config_invalid (error, "Type", "'%s' is not a rule type: use ip, subnet, sender, recipient "
                             "or domain", type_text);
      return NULL;
    }
  if (list == RELAIS_RULE_LIST_WHITE)
    {
      if (*action_text != '\0')
        {
          relais_config_invalid (error, "Action", "only blacklist rules have an action; leave it empty "
                                 "for a whitelist rule");
          return NULL;
        }
    }
  else if (*action_text == '\0')
    {
      relais_config_invalid (error, "Action", "a blacklist rule needs an action: reject or discard");
      return NULL;
    }
  else if (!relais_rule_action_from_string (action_text, &action))
    {
      relais_config_invalid (error, "Action", "'%s' is not an action: use reject or discard", action_text);
      return NULL;
    }
  return relais_security_rule_new (name, list, type, value, action, error);
}

static const char *
rule_action_text (const RelaisSecurityRule *rule)
{
  return rule->list == RELAIS_RULE_LIST_WHITE ? "" : relais_rule_action_to_string (rule->action);
}

static gint
rule_index (const RelaisConfig *c, const char *name)
{
  guint n = relais_rule_set_get_length (c->security_rules);

  for (guint i = 0; name != NULL && i < n; i++)
    if (g_str_equal (relais_rule_set_get (c->security_rules, i)->name, name))
      return (gint) i;
  return -1;
}

static void
rule_not_found (const char *name, GError **error)
{
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "name: no " RULE_WHAT " named '%s'",
               name ? name : "");
}

/* Names are unique regardless of case; rule SELF (an index, or -1) does not
 * count. ASCII names (the common case) are compared without allocating. */
static gboolean
check_rule_name_free (const RelaisConfig *c, const char *name, gint self, GError **error)
{
  g_autofree char *folded = g_utf8_casefold (name, -1);
  gboolean ascii = g_str_is_ascii (name);
  guint n = relais_rule_set_get_length (c->security_rules);

  for (guint i = 0; i < n; i++)
    {
      const char *other = relais_rule_set_get (c->security_rules, i)->name;
      gboolean same;

      if ((gint) i == self)
        continue;
      if (ascii && g_str_is_ascii (other))
        same = g_ascii_strcasecmp (name, other) == 0;
      else
        {
          g_autofree char *other_folded = g_utf8_casefold (other, -1);
          same = g_str_equal (folded, other_folded);
        }
      if (same)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS, "Name: a " RULE_WHAT " named '%s' already exists",
                       other);
          return FALSE;
        }
    }
  return TRUE;
}

/* A snapshot of BASE whose rules are RULES (borrowed; copied into the new set). */
static RelaisConfig *
with_rules (const RelaisConfig *base, GPtrArray *rules)
{
  RelaisConfig *config = relais_config_copy (base);

  relais_rule_set_unref (config->security_rules);
  config->security_rules = relais_rule_set_new (rules);
  return config;
}

/* BASE's rules as a borrowed array, with room for one more. */
static GPtrArray *
borrow_rules (const RelaisConfig *base)
{
  guint n = relais_rule_set_get_length (base->security_rules);
  GPtrArray *rules = g_ptr_array_sized_new (n + 1);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (rules, (gpointer) relais_rule_set_get (base->security_rules, i));
  return rules;
}

RelaisConfig *
relais_config_add_security_rule (const RelaisConfig *base, const char *name, const char *list, const char *type,
                                 const char *value, const char *action, GError **error)
{
  g_autoptr (RelaisSecurityRule) rule = NULL;
  g_autoptr (GPtrArray) rules = NULL;

  g_return_val_if_fail (base != NULL, NULL);

  rule = make_rule (name, list ? list : "", type ? type : "", value ? value : "", action ? action : "", error);
  if (rule == NULL || !check_rule_name_free (base, rule->name, -1, error))
    return NULL;
  if (relais_rule_set_get_length (base->security_rules) >= RELAIS_CONFIG_MAX_SECURITY_RULES)
    {
      relais_config_invalid (error, "Name", "at most %d " RULE_WHAT "s are allowed",
                             RELAIS_CONFIG_MAX_SECURITY_RULES);
      return NULL;
    }
  rules = borrow_rules (base);
  g_ptr_array_add (rules, rule);
  return with_rules (base, rules);
}

RelaisConfig *
relais_config_update_security_rule (const RelaisConfig *base, const char *name, GVariant *changes,
                                    GError **error)
{
  static const char *const keys[] = { "Name", "List", "Type", "Value", "Action" };
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (RelaisSecurityRule) rule = NULL;
  g_autoptr (GPtrArray) rules = NULL;
  const RelaisSecurityRule *old;
  const char *values[G_N_ELEMENTS (keys)];
  gboolean action_given = FALSE;
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gint index;

  g_return_val_if_fail (base != NULL && changes != NULL, NULL);

  owned = g_variant_ref_sink (changes);
  if (!g_variant_is_of_type (owned, G_VARIANT_TYPE_VARDICT))
    {
      relais_config_invalid (error, "changes", "expected a{sv}, got '%s'", g_variant_get_type_string (owned));
      return NULL;
    }
  index = rule_index (base, name);
  if (index < 0)
    {
      rule_not_found (name, error);
      return NULL;
    }
  old = relais_rule_set_get (base->security_rules, (guint) index);
  values[0] = old->name;
  values[1] = relais_rule_list_to_string (old->list);
  values[2] = relais_rule_type_to_string (old->type);
  values[3] = old->value;
  values[4] = rule_action_text (old);
  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr (GVariant) v = value;
      guint i;

      for (i = 0; i < G_N_ELEMENTS (keys) && !g_str_equal (key, keys[i]); i++)
        ;
      if (i == G_N_ELEMENTS (keys))
        {
          relais_config_invalid (error, key, "no such " RULE_WHAT " field (use " RULE_FIELDS ")");
          return NULL;
        }
      if (!relais_config_check_type (v, key, G_VARIANT_TYPE_STRING, error))
        return NULL;
      /* the string lives in OWNED, which outlives V */
      values[i] = g_variant_get_string (v, NULL);
      action_given |= i == 4;
    }
  /* Moving a rule to the whitelist drops its action unless one is given. */
  if (!action_given && g_str_equal (values[1], "white"))
    values[4] = "";
  rule = make_rule (values[0], values[1], values[2], values[3], values[4], error);
  if (rule == NULL || !check_rule_name_free (base, rule->name, index, error))
    return NULL;
  rules = borrow_rules (base);
  rules->pdata[index] = rule;
  return with_rules (base, rules);
}

RelaisConfig *
relais_config_remove_security_rule (const RelaisConfig *base, const char *name, GError **error)
{
  g_autoptr (GPtrArray) rules = NULL;
  gint index;

  g_return_val_if_fail (base != NULL, NULL);

  index = rule_index (base, name);
  if (index < 0)
    {
      rule_not_found (name, error);
      return NULL;
    }
  rules = borrow_rules (base);
  g_ptr_array_remove_index (rules, (guint) index);
  return with_rules (base, rules);
}

RelaisConfig *
relais_config_move_security_rule (const RelaisConfig *base, const char *name, guint position, GError **error)
{
  g_autoptr (GPtrArray) rules = NULL;
  gpointer rule;
  gint index;

  g_return_val_if_fail (base != NULL, NULL);

  index = rule_index (base, name);
  if (index < 0)
    {
      rule_not_found (name, error);
      return NULL;
    }
  rules = borrow_rules (base);
  rule = g_ptr_array_steal_index (rules, (guint) index);
  g_ptr_array_insert (rules, position < rules->len ? (gint) position : -1, rule);
  return with_rules (base, rules);
}

/* Validates RULES (a(sssss)) into an owned array. PROBLEMS NULL: the first
 * bad rule fails the whole, with its index and name. Otherwise a bad rule is
 * skipped, its reason appended to PROBLEMS. */
static GPtrArray *
build_rules (GVariant *rules, GPtrArray *problems, GError **error)
{
  g_autoptr (GPtrArray) built = NULL;
  g_autoptr (GHashTable) names = NULL;   /* folded name -> GUINT_TO_POINTER (index + 1) */
  gsize n;

  if (!relais_config_check_type (rules, "rules", G_VARIANT_TYPE ("a(sssss)"), error))
    return NULL;
  n = g_variant_n_children (rules);
  if (problems == NULL && n > RELAIS_CONFIG_MAX_SECURITY_RULES)
    {
      relais_config_invalid (error, "rules", "%" G_GSIZE_FORMAT " rules given: at most %d " RULE_WHAT "s are allowed",
                             n, RELAIS_CONFIG_MAX_SECURITY_RULES);
      return NULL;
    }
  built = g_ptr_array_new_full ((guint) MIN (n, RELAIS_CONFIG_MAX_SECURITY_RULES),
                                (GDestroyNotify) relais_security_rule_free);
  names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (RelaisSecurityRule) rule = NULL;
      const char *name, *list, *type, *value, *action;
      char *folded;
      gpointer other;

      {
        /* a hundred thousand of them: no format string to parse each time */
        g_autoptr (GVariant) item = g_variant_get_child_value (rules, i);
        const char **fields[] = { &name, &list, &type, &value, &action };

        for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
          {
            g_autoptr (GVariant) field = g_variant_get_child_value (item, f);

            *fields[f] = g_variant_get_string (field, NULL);   /* in RULES' data, which outlives FIELD */
          }
      }
      rule = make_rule (name, list, type, value, action, &local_error);
      if (rule != NULL)
        {
          folded = g_utf8_casefold (rule->name, -1);
          other = g_hash_table_lookup (names, folded);
          if (other != NULL)
            {
              g_set_error (&local_error, RELAIS_ERROR, RELAIS_ERROR_EXISTS,
                           "Name: the name is already used by rules[%u] '%s' (names are unique regardless of case)",
                           GPOINTER_TO_UINT (other) - 1,
                           ((RelaisSecurityRule *) g_ptr_array_index (built, GPOINTER_TO_UINT (other) - 1))->name);
              g_free (folded);
            }
          else if (built->len >= RELAIS_CONFIG_MAX_SECURITY_RULES)
            {
              relais_config_invalid (&local_error, "rules", "at most %d " RULE_WHAT "s are allowed",
                                     RELAIS_CONFIG_MAX_SECURITY_RULES);
              g_free (folded);
            }
          else
            {
              g_hash_table_insert (names, folded, GUINT_TO_POINTER (built->len + 1));
              g_ptr_array_add (built, g_steal_pointer (&rule));
              continue;
            }
        }
      g_prefix_error (&local_error, "rules[%" G_GSIZE_FORMAT "] '%s': ", i, name);
      if (problems == NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_ptr_array_add (problems, g_strdup (local_error->message));
    }
  return g_steal_pointer (&built);
}

RelaisConfig *
relais_config_replace_security_rules (const RelaisConfig *base, GVariant *rules, GError **error)
{
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (GPtrArray) built = NULL;

  g_return_val_if_fail (base != NULL && rules != NULL, NULL);

  owned = g_variant_ref_sink (rules);
  built = build_rules (owned, NULL, error);
  return built != NULL ? with_rules (base, built) : NULL;
}

RelaisConfig *
relais_config_load_security_rules (const RelaisConfig *base, GVariant *rules, GPtrArray *problems)
{
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (GPtrArray) built = NULL;
  g_autoptr (GError) error = NULL;

  g_return_val_if_fail (base != NULL && rules != NULL && problems != NULL, NULL);

  owned = g_variant_ref_sink (rules);
  built = build_rules (owned, problems, &error);
  if (built == NULL)
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return relais_config_ref ((RelaisConfig *) base);
    }
  return with_rules (base, built);
}

GVariant *
relais_config_security_rules_to_variant (const RelaisConfig *c)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sssss)"));
  guint n = relais_rule_set_get_length (c->security_rules);
  GVariant *result;

  for (guint i = 0; i < n; i++)
    {
      const RelaisSecurityRule *rule = relais_rule_set_get (c->security_rules, i);

      g_variant_builder_add (&b, "(sssss)", rule->name, relais_rule_list_to_string (rule->list),
                             relais_rule_type_to_string (rule->type), rule->value, rule_action_text (rule));
    }
  result = g_variant_ref_sink (g_variant_builder_end (&b));
  /* Serialised now, the tree of a GVariant per tuple and per string goes:
   * about 700 bytes a rule less in the D-Bus property that keeps it. */
  g_variant_get_data (result);
  return result;
}
