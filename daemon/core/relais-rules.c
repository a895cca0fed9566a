/* SPDX-License-Identifier: GPL-3.0-or-later
 * Black/white rules (SPEC §4.1): validation of one rule and the rule set's
 * lookup structures. Each list has three hash tables (sender address,
 * recipient address, sender domain; the value is 1 + the lowest rule index
 * with that key) and, per address family, a bit trie: IP rules are inserted
 * as full-length prefixes and subnet rules as their prefix, and each node
 * holds the lowest index of the rules ending there. A client lookup walks the
 * address's bits from the root (at most 32 or 128 steps) and keeps the lowest
 * index met, which is the first matching rule in the configured order
 * whatever the prefix lengths. */
#include <string.h>

#include "relais-config.h"
#include "relais-error.h"
#include "relais-rules.h"

#define NO_RULE G_MAXUINT32

typedef struct {
  guint32 child[2];   /* node indexes; 0 = none (node 0 is the root, never a child) */
  guint32 best;       /* lowest rule index ending at this node, or NO_RULE */
} TrieNode;

typedef struct {
  GArray *nodes;      /* TrieNode; [0] is the root */
} Trie;

typedef struct {
  GHashTable *senders;     /* normalized address -> GUINT_TO_POINTER (index + 1) */
  GHashTable *recipients;
  GHashTable *domains;     /* lower-case domain -> index + 1 */
  GHashTable *ips;         /* IP rules only: canonical address text -> index + 1 */
  Trie tries[2];           /* [0] IPv4, [1] IPv6 */
} ListIndex;

struct _RelaisRuleSet {
  gatomicrefcount ref_count;
  GPtrArray *rules;        /* RelaisSecurityRule*, owned */
  GHashTable *positions;   /* RelaisSecurityRule* (of rules) -> index + 1 */
  ListIndex lists[2];
};

static gboolean
invalid (GError **error, const char *field, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
invalid (GError **error, const char *field, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "%s: %s", field, message);
  return FALSE;
}

/* The domain part in lower case, the local part as given. */
static char *
normalize_address (const char *address)
{
  const char *at = strrchr (address, '@');
  g_autofree char *domain = NULL;

  if (at == NULL)
    return g_strdup (address);
  domain = g_ascii_strdown (at + 1, -1);
  return g_strdup_printf ("%.*s@%s", (int) (at - address), address, domain);
}

/* Parses TEXT as an address with an optional "/length" or "/dotted-netmask"
 * (IPv4 only); fills BYTES (16), SIZE (4 or 16) and LENGTH. */
static gboolean
parse_subnet (const char *text, guint8 *bytes, gsize *size, guint *length, GError **error)
{
  const char *slash = strchr (text, '/');
  g_autofree char *host = g_strndup (text, slash != NULL ? (gsize) (slash - text) : strlen (text));
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);
  guint bits;

  if (address == NULL)
    return invalid (error, "Value", "'%s' is not an IPv4 or IPv6 address followed by /prefix-length "
                    "or /netmask, such as 192.0.2.0/24 or 192.0.2.0/255.255.255.0", text);
  *size = g_inet_address_get_native_size (address);
  memcpy (bytes, g_inet_address_to_bytes (address), *size);
  bits = (guint) *size * 8;
  if (slash == NULL)
    return invalid (error, "Value", "'%s' has no prefix length: write it as %s/%u (or use an IP rule)",
                    text, host, bits);
  if (strchr (slash + 1, '.') != NULL)
    {
      g_autoptr(GInetAddress) mask = g_inet_address_new_from_string (slash + 1);
      const guint8 *m;
      guint32 word, inverted;

      if (mask == NULL || g_inet_address_get_family (mask) != G_SOCKET_FAMILY_IPV4 || *size != 4)
        return invalid (error, "Value", "'%s': the netmask after '/' must be a dotted IPv4 netmask such as "
                        "255.255.255.0, for an IPv4 address", text);
      m = g_inet_address_to_bytes (mask);
      word = ((guint32) m[0] << 24) | ((guint32) m[1] << 16) | ((guint32) m[2] << 8) | m[3];
      inverted = ~word;
      if ((inverted & (inverted + 1)) != 0)
        return invalid (error, "Value", "'%s': the netmask %s is not contiguous (its one bits must all come "
                        "first, as in 255.255.255.0)", text, slash + 1);
      *length = 0;
      while (*length < 32 && (word & (0x80000000u >> *length)) != 0)
        (*length)++;
    }
  else
    {
      guint64 value = 0;

      if (!g_ascii_string_to_unsigned (slash + 1, 10, 0, bits, &value, NULL))
        return invalid (error, "Value", "'%s': the prefix length after '/' must be a number from 0 to %u",
                        text, bits);
      *length = (guint) value;
    }
  for (guint i = *length; i < bits; i++)
    if (bytes[i / 8] & (0x80 >> (i % 8)))
      {
        guint8 base[16];
        g_autoptr(GInetAddress) network = NULL;
        g_autofree char *network_text = NULL;

        memcpy (base, bytes, *size);
        for (guint j = *length; j < bits; j++)
          base[j / 8] &= (guint8) ~(0x80 >> (j % 8));
        network = g_inet_address_new_from_bytes (base, *size == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
        network_text = g_inet_address_to_string (network);
        return invalid (error, "Value", "'%s' has host bits set after the prefix: write the network "
                        "address, %s/%u", text, network_text, *length);
      }
  return TRUE;
}

static char *
normalize_value (RelaisRuleList list, RelaisRuleType type, const char *value, GError **error)
{
  switch (type)
    {
    case RELAIS_RULE_TYPE_IP:
      {
        g_autoptr(GInetAddress) address = NULL;

        if (strchr (value, '/') == NULL)
          address = g_inet_address_new_from_string (value);
        if (address == NULL)
          {
            invalid (error, "Value", "'%s' is not one IPv4 or IPv6 address (use a subnet rule for a network)",
                     value);
            return NULL;
          }
        return g_inet_address_to_string (address);
      }
    case RELAIS_RULE_TYPE_SUBNET:
      {
        guint8 bytes[16];
        gsize size = 0;
        guint length = 0;
        g_autoptr(GInetAddress) network = NULL;
        g_autofree char *text = NULL;

        if (!parse_subnet (value, bytes, &size, &length, error))
          return NULL;
        network = g_inet_address_new_from_bytes (bytes, size == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
        text = g_inet_address_to_string (network);
        return g_strdup_printf ("%s/%u", text, length);
      }
    case RELAIS_RULE_TYPE_SENDER:
    case RELAIS_RULE_TYPE_RECIPIENT:
      if (!relais_is_valid_address (value))
        {
          invalid (error, "Value", "'%s' is not a valid e-mail address (user@domain)", value);
          return NULL;
        }
      return normalize_address (value);
    case RELAIS_RULE_TYPE_DOMAIN:
      if (list != RELAIS_RULE_LIST_WHITE)
        {
          invalid (error, "Type", "domain rules exist on the whitelist only; "
                   "blacklist a sender, an IP or a subnet instead");
          return NULL;
        }
      if (!relais_is_valid_domain (value))
        {
          invalid (error, "Value", "'%s' is not a valid domain name (such as example.org)", value);
          return NULL;
        }
      return g_ascii_strdown (value, -1);
    default:
      invalid (error, "Type", "unknown rule type %d", (int) type);
      return NULL;
    }
}

RelaisSecurityRule *
relais_security_rule_new (const char *name, RelaisRuleList list, RelaisRuleType type, const char *value,
                          RelaisRuleAction action, GError **error)
{
  RelaisSecurityRule *rule;
  char *normalized;

  if (name == NULL || *name == '\0' || !g_utf8_validate (name, -1, NULL) || strlen (name) > 255)
    {
      invalid (error, "Name", "the name must be non-empty UTF-8 text of at most 255 bytes");
      return NULL;
    }
  for (const char *p = name; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      {
        invalid (error, "Name", "'%s' contains a control character", name);
        return NULL;
      }
  if (list != RELAIS_RULE_LIST_BLACK && list != RELAIS_RULE_LIST_WHITE)
    {
      invalid (error, "List", "unknown list %d (black or white)", (int) list);
      return NULL;
    }
  if (action != RELAIS_RULE_ACTION_REJECT && action != RELAIS_RULE_ACTION_DISCARD)
    {
      invalid (error, "Action", "unknown action %d (reject or discard)", (int) action);
      return NULL;
    }
  if (value == NULL || *value == '\0')
    {
      invalid (error, "Value", "the value is empty");
      return NULL;
    }
  normalized = normalize_value (list, type, value, error);
  if (normalized == NULL)
    return NULL;
  rule = g_new0 (RelaisSecurityRule, 1);
  rule->name = g_strdup (name);
  rule->list = list;
  rule->type = type;
  rule->value = normalized;
  rule->action = action;
  return rule;
}

RelaisSecurityRule *
relais_security_rule_copy (const RelaisSecurityRule *rule)
{
  RelaisSecurityRule *copy = g_new0 (RelaisSecurityRule, 1);

  *copy = *rule;
  copy->name = g_strdup (rule->name);
  copy->value = g_strdup (rule->value);
  return copy;
}

void
relais_security_rule_free (RelaisSecurityRule *rule)
{
  if (rule == NULL)
    return;
  g_free (rule->name);
  g_free (rule->value);
  g_free (rule);
}

static const char *const list_names[] = { "black", "white" };
static const char *const type_names[] = { "ip", "subnet", "sender", "recipient", "domain" };
static const char *const action_names[] = { "reject", "discard" };

static gboolean
from_string (const char *const *names, guint n, const char *text, guint *out)
{
  for (guint i = 0; text != NULL && i < n; i++)
    if (g_str_equal (text, names[i]))
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

const char *
relais_rule_list_to_string (RelaisRuleList list)
{
  return (guint) list < G_N_ELEMENTS (list_names) ? list_names[list] : "";
}

const char *
relais_rule_type_to_string (RelaisRuleType type)
{
  return (guint) type < G_N_ELEMENTS (type_names) ? type_names[type] : "";
}

const char *
relais_rule_action_to_string (RelaisRuleAction action)
{
  return (guint) action < G_N_ELEMENTS (action_names) ? action_names[action] : "";
}

gboolean
relais_rule_list_from_string (const char *text, RelaisRuleList *out)
{
  guint i;

  if (!from_string (list_names, G_N_ELEMENTS (list_names), text, &i))
    return FALSE;
  *out = (RelaisRuleList) i;
  return TRUE;
}

gboolean
relais_rule_type_from_string (const char *text, RelaisRuleType *out)
{
  guint i;

  if (!from_string (type_names, G_N_ELEMENTS (type_names), text, &i))
    return FALSE;
  *out = (RelaisRuleType) i;
  return TRUE;
}

gboolean
relais_rule_action_from_string (const char *text, RelaisRuleAction *out)
{
  guint i;

  if (!from_string (action_names, G_N_ELEMENTS (action_names), text, &i))
    return FALSE;
  *out = (RelaisRuleAction) i;
  return TRUE;
}

static void
trie_init (Trie *trie)
{
  TrieNode root = { { 0, 0 }, NO_RULE };

  trie->nodes = g_array_new (FALSE, FALSE, sizeof (TrieNode));
  g_array_append_val (trie->nodes, root);
}

static void
trie_insert (Trie *trie, const guint8 *bytes, guint length, guint32 index)
{
  guint32 node = 0;

  for (guint i = 0; i < length; i++)
    {
      guint bit = (bytes[i / 8] >> (7 - i % 8)) & 1;
      guint32 next = g_array_index (trie->nodes, TrieNode, node).child[bit];

      if (next == 0)
        {
          TrieNode fresh = { { 0, 0 }, NO_RULE };

          next = trie->nodes->len;
          g_array_append_val (trie->nodes, fresh);
          g_array_index (trie->nodes, TrieNode, node).child[bit] = next;
        }
      node = next;
    }
  if (index < g_array_index (trie->nodes, TrieNode, node).best)
    g_array_index (trie->nodes, TrieNode, node).best = index;
}

static guint32
trie_lookup (const Trie *trie, const guint8 *bytes, guint bits)
{
  const TrieNode *nodes = (const TrieNode *) trie->nodes->data;
  guint32 node = 0;
  guint32 best = nodes[0].best;

  for (guint i = 0; i < bits; i++)
    {
      node = nodes[node].child[(bytes[i / 8] >> (7 - i % 8)) & 1];
      if (node == 0)
        break;
      best = MIN (best, nodes[node].best);
    }
  return best;
}

static void
hash_insert (GHashTable *table, const char *key, guint index)
{
  if (!g_hash_table_contains (table, key))
    g_hash_table_insert (table, g_strdup (key), GUINT_TO_POINTER (index + 1));
}

static guint32
hash_lookup (GHashTable *table, const char *key)
{
  gpointer value = g_hash_table_lookup (table, key);

  return value != NULL ? GPOINTER_TO_UINT (value) - 1 : NO_RULE;
}

RelaisRuleSet *
relais_rule_set_new (GPtrArray *rules)
{
  RelaisRuleSet *set = g_new0 (RelaisRuleSet, 1);
  guint n = rules != NULL ? rules->len : 0;

  g_atomic_ref_count_init (&set->ref_count);
  set->rules = g_ptr_array_new_full (n, (GDestroyNotify) relais_security_rule_free);
  set->positions = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint l = 0; l < 2; l++)
    {
      set->lists[l].senders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      set->lists[l].recipients = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      set->lists[l].domains = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      set->lists[l].ips = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      trie_init (&set->lists[l].tries[0]);
      trie_init (&set->lists[l].tries[1]);
    }
  for (guint i = 0; i < n; i++)
    {
      const RelaisSecurityRule *rule = g_ptr_array_index (rules, i);
      ListIndex *index = &set->lists[rule->list == RELAIS_RULE_LIST_WHITE ? 1 : 0];
      RelaisSecurityRule *copy = relais_security_rule_copy (rule);

      g_ptr_array_add (set->rules, copy);
      g_hash_table_insert (set->positions, copy, GUINT_TO_POINTER (i + 1));
      if (rule->type == RELAIS_RULE_TYPE_IP)
        hash_insert (index->ips, rule->value, i);
      switch (rule->type)
        {
        case RELAIS_RULE_TYPE_IP:
        case RELAIS_RULE_TYPE_SUBNET:
          {
            guint8 bytes[16];
            gsize size = 0;
            guint length = 0;
            g_autofree char *text = rule->type == RELAIS_RULE_TYPE_IP
              ? g_strdup_printf ("%s/%u", rule->value, strchr (rule->value, ':') ? 128u : 32u)
              : g_strdup (rule->value);

            /* Rules come from relais_security_rule_new(): a value that does not parse matches nothing. */
            if (parse_subnet (text, bytes, &size, &length, NULL))
              trie_insert (&index->tries[size == 4 ? 0 : 1], bytes, length, i);
            break;
          }
        case RELAIS_RULE_TYPE_SENDER:
          hash_insert (index->senders, rule->value, i);
          break;
        case RELAIS_RULE_TYPE_RECIPIENT:
          hash_insert (index->recipients, rule->value, i);
          break;
        case RELAIS_RULE_TYPE_DOMAIN:
          hash_insert (index->domains, rule->value, i);
          break;
        default:
          break;
        }
    }
  return set;
}

RelaisRuleSet *
relais_rule_set_ref (RelaisRuleSet *set)
{
  g_atomic_ref_count_inc (&set->ref_count);
  return set;
}

void
relais_rule_set_unref (RelaisRuleSet *set)
{
  if (set == NULL || !g_atomic_ref_count_dec (&set->ref_count))
    return;
  for (guint l = 0; l < 2; l++)
    {
      g_hash_table_unref (set->lists[l].senders);
      g_hash_table_unref (set->lists[l].recipients);
      g_hash_table_unref (set->lists[l].domains);
      g_hash_table_unref (set->lists[l].ips);
      g_array_unref (set->lists[l].tries[0].nodes);
      g_array_unref (set->lists[l].tries[1].nodes);
    }
  g_hash_table_unref (set->positions);
  g_ptr_array_unref (set->rules);
  g_free (set);
}

guint
relais_rule_set_get_length (RelaisRuleSet *set)
{
  return set->rules->len;
}

const RelaisSecurityRule *
relais_rule_set_get (RelaisRuleSet *set, guint index)
{
  g_return_val_if_fail (index < set->rules->len, NULL);
  return g_ptr_array_index (set->rules, index);
}

guint
relais_rule_set_position (RelaisRuleSet *set, const RelaisSecurityRule *rule)
{
  gpointer value;

  g_return_val_if_fail (set != NULL, G_MAXUINT);
  if (rule == NULL)
    return G_MAXUINT;
  value = g_hash_table_lookup (set->positions, rule);
  return value != NULL ? GPOINTER_TO_UINT (value) - 1 : G_MAXUINT;
}

static const RelaisSecurityRule *
rule_at (RelaisRuleSet *set, guint32 index)
{
  return index == NO_RULE ? NULL : g_ptr_array_index (set->rules, index);
}

static ListIndex *
list_index (RelaisRuleSet *set, RelaisRuleList list)
{
  return &set->lists[list == RELAIS_RULE_LIST_WHITE ? 1 : 0];
}

/* The index of the first rule of INDEX matching each fact, or NO_RULE. */
static guint32
index_client (ListIndex *index, GInetAddress *client)
{
  gsize size;

  if (client == NULL)
    return NO_RULE;
  size = g_inet_address_get_native_size (client);
  return trie_lookup (&index->tries[size == 4 ? 0 : 1], g_inet_address_to_bytes (client), (guint) size * 8);
}

/* Sender rules, and with DOMAINS the sender domain rules (whitelist). */
static guint32
index_sender (ListIndex *index, const char *sender, gboolean domains)
{
  g_autofree char *key = NULL;
  const char *at;
  guint32 best;

  if (sender == NULL || *sender == '\0')
    return NO_RULE;
  key = normalize_address (sender);
  best = hash_lookup (index->senders, key);
  at = strrchr (key, '@');
  if (domains && at != NULL)
    best = MIN (best, hash_lookup (index->domains, at + 1));
  return best;
}

static guint32
index_recipient (ListIndex *index, const char *recipient)
{
  g_autofree char *key = NULL;

  if (recipient == NULL || *recipient == '\0')
    return NO_RULE;
  key = normalize_address (recipient);
  return hash_lookup (index->recipients, key);
}

const RelaisSecurityRule *
relais_rule_set_match_client (RelaisRuleSet *set, RelaisRuleList list, GInetAddress *client)
{
  g_return_val_if_fail (set != NULL, NULL);
  return rule_at (set, index_client (list_index (set, list), client));
}

const RelaisSecurityRule *
relais_rule_set_match_sender (RelaisRuleSet *set, RelaisRuleList list, const char *sender)
{
  g_return_val_if_fail (set != NULL, NULL);
  return rule_at (set, index_sender (list_index (set, list), sender, list == RELAIS_RULE_LIST_WHITE));
}

const RelaisSecurityRule *
relais_rule_set_match_recipient (RelaisRuleSet *set, RelaisRuleList list, const char *recipient)
{
  g_return_val_if_fail (set != NULL, NULL);
  return rule_at (set, index_recipient (list_index (set, list), recipient));
}

const RelaisSecurityRule *
relais_rule_set_match_first (RelaisRuleSet *set, RelaisRuleList list, GInetAddress *client,
                             const char *sender, const char *recipient)
{
  ListIndex *index;

  g_return_val_if_fail (set != NULL, NULL);
  index = list_index (set, list);
  return rule_at (set, MIN (index_client (index, client),
                            MIN (index_sender (index, sender, list == RELAIS_RULE_LIST_WHITE),
                                 index_recipient (index, recipient))));
}

const RelaisSecurityRule *
relais_rule_set_match_ip (RelaisRuleSet *set, RelaisRuleList list, GInetAddress *client)
{
  g_autofree char *key = NULL;

  g_return_val_if_fail (set != NULL, NULL);
  if (client == NULL)
    return NULL;
  key = g_inet_address_to_string (client);
  return rule_at (set, hash_lookup (list_index (set, list)->ips, key));
}

/* ---------------------------------------------------- the skip table (SPEC §4.1) */

static const guint type_skips[] = {
  [RELAIS_RULE_TYPE_IP] = RELAIS_SKIP_DNSBL | RELAIS_SKIP_SPF | RELAIS_SKIP_ANTIVIRUS | RELAIS_SKIP_DKIM |
                          RELAIS_SKIP_DMARC,
  [RELAIS_RULE_TYPE_SUBNET] = RELAIS_SKIP_DNSBL | RELAIS_SKIP_SPF | RELAIS_SKIP_DKIM | RELAIS_SKIP_DMARC,
  [RELAIS_RULE_TYPE_SENDER] = RELAIS_SKIP_SPF | RELAIS_SKIP_ANTIVIRUS,
  [RELAIS_RULE_TYPE_RECIPIENT] = RELAIS_SKIP_SPF | RELAIS_SKIP_ANTIVIRUS,
  [RELAIS_RULE_TYPE_DOMAIN] = RELAIS_SKIP_SPF | RELAIS_SKIP_ANTIVIRUS | RELAIS_SKIP_DKIM | RELAIS_SKIP_DMARC,
};

static const char *const skippable_names[RELAIS_N_SKIPPABLE_CHECKS] = {
  "dnsbl", "spf", "antivirus", "dkim", "dmarc",
};

guint
relais_rule_type_skips (RelaisRuleType type)
{
  return (guint) type < G_N_ELEMENTS (type_skips) ? type_skips[type] : 0;
}

const char *
relais_skippable_check_to_string (RelaisSkippableCheck check)
{
  for (guint i = 0; i < RELAIS_N_SKIPPABLE_CHECKS; i++)
    if ((guint) check == 1u << i)
      return skippable_names[i];
  return "";
}

GVariant *
relais_whitelist_skips_to_variant (void)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sas)"));

  for (guint type = 0; type < G_N_ELEMENTS (type_skips); type++)
    {
      g_auto (GVariantBuilder) checks = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_STRING_ARRAY);

      for (guint i = 0; i < RELAIS_N_SKIPPABLE_CHECKS; i++)
        if (type_skips[type] & (1u << i))
          g_variant_builder_add (&checks, "s", skippable_names[i]);
      g_variant_builder_add (&b, "(sas)", relais_rule_type_to_string (type), &checks);
    }
  return g_variant_builder_end (&b);
}

const RelaisSecurityRule *
relais_rule_set_whitelist_skipping (RelaisRuleSet *set, RelaisSkippableCheck check, GInetAddress *client,
                                    const char *sender, const char *recipient)
{
  ListIndex *index;
  g_autofree char *ip_key = NULL;
  g_autofree char *sender_key = NULL;
  guint32 candidates[5];
  guint32 best = NO_RULE;
  const char *at;

  g_return_val_if_fail (set != NULL, NULL);
  index = list_index (set, RELAIS_RULE_LIST_WHITE);
  /* The first IP-or-subnet rule, and the first IP rule (it skips more than a
   * subnet rule that may come before it). */
  candidates[0] = index_client (index, client);
  if (client != NULL)
    ip_key = g_inet_address_to_string (client);
  candidates[1] = ip_key != NULL ? hash_lookup (index->ips, ip_key) : NO_RULE;
  /* Sender and domain rules apart: a domain rule skips more than a sender rule. */
  if (sender != NULL && *sender != '\0')
    sender_key = normalize_address (sender);
  candidates[2] = sender_key != NULL ? hash_lookup (index->senders, sender_key) : NO_RULE;
  at = sender_key != NULL ? strrchr (sender_key, '@') : NULL;
  candidates[3] = at != NULL ? hash_lookup (index->domains, at + 1) : NO_RULE;
  candidates[4] = index_recipient (index, recipient);
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      const RelaisSecurityRule *rule = rule_at (set, candidates[i]);

      if (rule != NULL && (relais_rule_type_skips (rule->type) & check) && candidates[i] < best)
        best = candidates[i];
    }
  return rule_at (set, best);
}
