/* SPDX-License-Identifier: GPL-3.0-or-later
 * Black/white rules (SPEC §4.1): validation and normalization of each rule
 * type, matching of each type, the configured order across overlapping
 * subnets, case rules, and 10,000 random rules checked against a plain
 * linear matcher. */
#include <gio/gio.h>
#include <string.h>

#include "relais-error.h"
#include "relais-rules.h"

static RelaisSecurityRule *
rule (const char *name, RelaisRuleList list, RelaisRuleType type, const char *value)
{
  g_autoptr(GError) error = NULL;
  RelaisSecurityRule *r = relais_security_rule_new (name, list, type, value, RELAIS_RULE_ACTION_REJECT, &error);

  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

static void
test_validation (void)
{
  static const struct {
    RelaisRuleList list;
    RelaisRuleType type;
    const char *value;
    const char *normalized;   /* NULL: refused */
    const char *message;      /* part of the error */
  } cases[] = {
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "192.0.2.7", "192.0.2.7", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "2001:DB8:0:0::1", "2001:db8::1", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "192.0.2.0/24", NULL, "not one IPv4 or IPv6 address" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "192.0.2.300", NULL, "not one IPv4" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "mail.example", NULL, "not one IPv4" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/24", "192.0.2.0/24", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/255.255.255.0", "192.0.2.0/24", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "10.0.0.0/255.0.0.0", "10.0.0.0/8", NULL },
    { RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_SUBNET, "0.0.0.0/0.0.0.0", "0.0.0.0/0", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.4/30", "192.0.2.4/30", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "2001:DB8:1::/48", "2001:db8:1::/48", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.1/24", NULL, "host bits set after the prefix: write the network address, 192.0.2.0/24" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.1/255.255.255.0", NULL, "host bits" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "2001:db8::1/64", NULL, "2001:db8::/64" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/255.0.255.0", NULL, "not contiguous" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/255.255.255.1", NULL, "not contiguous" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "2001:db8::/255.255.0.0", NULL, "dotted IPv4 netmask" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/33", NULL, "from 0 to 32" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "2001:db8::/129", NULL, "from 0 to 128" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/", NULL, "prefix length" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/-1", NULL, "prefix length" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0", NULL, "no prefix length" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SUBNET, "example.org/24", NULL, "not an IPv4 or IPv6 address" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SENDER, "Spam.King@Example.ORG", "Spam.King@example.org", NULL },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SENDER, "nobody", NULL, "not a valid e-mail address" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_SENDER, "a@@example.org", NULL, "not a valid e-mail" },
    { RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_RECIPIENT, "Boss@Corp.Example", "Boss@corp.example", NULL },
    { RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_RECIPIENT, "boss@", NULL, "not a valid e-mail" },
    { RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_DOMAIN, "Partner.Example", "partner.example", NULL },
    { RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_DOMAIN, "bad..example", NULL, "not a valid domain" },
    { RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_DOMAIN, "192.0.2.1", NULL, "not a valid domain" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_DOMAIN, "spam.example", NULL, "whitelist only" },
    { RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "", NULL, "value is empty" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaisSecurityRule) r = relais_security_rule_new ("r", cases[i].list, cases[i].type, cases[i].value,
                                                                  RELAIS_RULE_ACTION_DISCARD, &error);

      if (cases[i].normalized != NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (r->value, ==, cases[i].normalized);
          g_assert_cmpstr (r->name, ==, "r");
          g_assert_cmpint (r->action, ==, RELAIS_RULE_ACTION_DISCARD);
        }
      else
        {
          g_assert_null (r);
          g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
          if (strstr (error->message, cases[i].message) == NULL)
            g_error ("'%s': message '%s' lacks '%s'", cases[i].value, error->message, cases[i].message);
        }
    }

  {
    g_autoptr(GError) error = NULL;
    g_assert_null (relais_security_rule_new ("", RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "192.0.2.1",
                                             RELAIS_RULE_ACTION_REJECT, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "name"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_assert_null (relais_security_rule_new ("x", RELAIS_RULE_LIST_BLACK, 42, "192.0.2.1",
                                             RELAIS_RULE_ACTION_REJECT, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  }
}

static const char *
match_client (RelaisRuleSet *set, RelaisRuleList list, const char *text)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (text);
  const RelaisSecurityRule *r;

  g_assert_nonnull (address);
  r = relais_rule_set_match_client (set, list, address);
  return r != NULL ? r->name : NULL;
}

static const char *
name_of (const RelaisSecurityRule *r)
{
  return r != NULL ? r->name : NULL;
}

static void
test_matching (void)
{
  g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_security_rule_free);
  g_autoptr(RelaisRuleSet) set = NULL;
  const RelaisRuleList B = RELAIS_RULE_LIST_BLACK, W = RELAIS_RULE_LIST_WHITE;

  g_ptr_array_add (rules, rule ("host24", B, RELAIS_RULE_TYPE_SUBNET, "198.51.100.0/24"));
  g_ptr_array_add (rules, rule ("one", B, RELAIS_RULE_TYPE_IP, "198.51.100.7"));     /* after its /24: never wins */
  g_ptr_array_add (rules, rule ("narrow", B, RELAIS_RULE_TYPE_SUBNET, "203.0.113.128/25"));
  g_ptr_array_add (rules, rule ("wide", B, RELAIS_RULE_TYPE_SUBNET, "203.0.0.0/255.255.0.0"));
  g_ptr_array_add (rules, rule ("v6", B, RELAIS_RULE_TYPE_SUBNET, "2001:db8:bad::/48"));
  g_ptr_array_add (rules, rule ("v6host", B, RELAIS_RULE_TYPE_IP, "2001:db8::25"));
  g_ptr_array_add (rules, rule ("mapped-lookalike", B, RELAIS_RULE_TYPE_SUBNET, "::ffff:0:0/96"));
  g_ptr_array_add (rules, rule ("spammer", B, RELAIS_RULE_TYPE_SENDER, "Spam.King@Example.ORG"));
  g_ptr_array_add (rules, rule ("victim", B, RELAIS_RULE_TYPE_RECIPIENT, "ceo@corp.example"));
  g_ptr_array_add (rules, rule ("partner", W, RELAIS_RULE_TYPE_DOMAIN, "Partner.Example"));
  g_ptr_array_add (rules, rule ("friend", W, RELAIS_RULE_TYPE_SENDER, "friend@partner.example"));
  g_ptr_array_add (rules, rule ("backup-mx", W, RELAIS_RULE_TYPE_IP, "198.51.100.7"));
  g_ptr_array_add (rules, rule ("all-v4", W, RELAIS_RULE_TYPE_SUBNET, "0.0.0.0/0"));
  g_ptr_array_add (rules, rule ("boss", W, RELAIS_RULE_TYPE_RECIPIENT, "boss@corp.example"));
  set = relais_rule_set_new (rules);
  g_assert_cmpuint (relais_rule_set_get_length (set), ==, rules->len);
  g_ptr_array_set_size (rules, 0);  /* the set keeps its own copies */

  /* Client: first in order wins whatever the prefix length. */
  g_assert_cmpstr (match_client (set, B, "198.51.100.7"), ==, "host24");
  g_assert_cmpstr (match_client (set, B, "198.51.100.255"), ==, "host24");
  g_assert_cmpstr (match_client (set, B, "203.0.113.200"), ==, "narrow");
  g_assert_cmpstr (match_client (set, B, "203.0.113.1"), ==, "wide");
  g_assert_cmpstr (match_client (set, B, "203.1.0.1"), ==, NULL);
  g_assert_cmpstr (match_client (set, B, "2001:db8:bad:1::9"), ==, "v6");
  g_assert_cmpstr (match_client (set, B, "2001:db8::25"), ==, "v6host");
  g_assert_cmpstr (match_client (set, B, "2001:db8::26"), ==, NULL);
  /* IPv4 rules never match IPv6 clients and back. */
  g_assert_cmpstr (match_client (set, B, "::ffff:198.51.100.7"), ==, "mapped-lookalike");
  g_assert_cmpstr (match_client (set, B, "::1"), ==, NULL);
  g_assert_cmpstr (match_client (set, W, "2001:db8:bad::1"), ==, NULL);
  g_assert_cmpstr (match_client (set, W, "198.51.100.7"), ==, "backup-mx");
  g_assert_cmpstr (match_client (set, W, "192.0.2.1"), ==, "all-v4");
  g_assert_null (relais_rule_set_match_client (set, W, NULL));

  /* Sender: domain in any case, local part exact. */
  g_assert_cmpstr (name_of (relais_rule_set_match_sender (set, B, "Spam.King@example.org")), ==, "spammer");
  g_assert_cmpstr (name_of (relais_rule_set_match_sender (set, B, "Spam.King@EXAMPLE.org")), ==, "spammer");
  g_assert_null (relais_rule_set_match_sender (set, B, "spam.king@example.org"));
  g_assert_null (relais_rule_set_match_sender (set, B, ""));
  g_assert_null (relais_rule_set_match_sender (set, B, NULL));
  g_assert_null (relais_rule_set_match_sender (set, W, "Spam.King@example.org"));
  /* The whitelist's domain rule matches the sender's domain; the earlier rule wins. */
  g_assert_cmpstr (name_of (relais_rule_set_match_sender (set, W, "friend@partner.example")), ==, "partner");
  g_assert_cmpstr (name_of (relais_rule_set_match_sender (set, W, "Anyone@PARTNER.example")), ==, "partner");
  g_assert_null (relais_rule_set_match_sender (set, W, "anyone@sub.partner.example"));
  g_assert_null (relais_rule_set_match_sender (set, W, "postmaster"));
  /* Domain rules look at the sender only, never the recipient. */
  g_assert_null (relais_rule_set_match_recipient (set, W, "friend@partner.example"));

  /* Recipient. */
  g_assert_cmpstr (name_of (relais_rule_set_match_recipient (set, B, "ceo@Corp.Example")), ==, "victim");
  g_assert_null (relais_rule_set_match_recipient (set, B, "CEO@corp.example"));
  g_assert_cmpstr (name_of (relais_rule_set_match_recipient (set, W, "boss@corp.example")), ==, "boss");
  g_assert_null (relais_rule_set_match_recipient (set, W, "ceo@corp.example"));
  g_assert_null (relais_rule_set_match_recipient (set, B, NULL));

  /* IP rules alone: found behind an earlier subnet rule, never a subnet. */
  {
    g_autoptr(GInetAddress) one = g_inet_address_new_from_string ("198.51.100.7");
    g_autoptr(GInetAddress) other = g_inet_address_new_from_string ("198.51.100.8");
    g_autoptr(GInetAddress) v6 = g_inet_address_new_from_string ("2001:DB8:0::25");
    g_autoptr(GInetAddress) anywhere = g_inet_address_new_from_string ("192.0.2.1");

    g_assert_cmpstr (name_of (relais_rule_set_match_ip (set, B, one)), ==, "one");
    g_assert_cmpstr (name_of (relais_rule_set_match_ip (set, W, one)), ==, "backup-mx");
    g_assert_null (relais_rule_set_match_ip (set, B, other));
    g_assert_cmpstr (name_of (relais_rule_set_match_ip (set, B, v6)), ==, "v6host");
    g_assert_null (relais_rule_set_match_ip (set, W, anywhere));
    g_assert_null (relais_rule_set_match_ip (set, W, NULL));
  }

  /* Positions rank matches of different facts. */
  for (guint i = 0; i < relais_rule_set_get_length (set); i++)
    g_assert_cmpuint (relais_rule_set_position (set, relais_rule_set_get (set, i)), ==, i);
  g_assert_cmpuint (relais_rule_set_position (set, relais_rule_set_match_recipient (set, W, "boss@corp.example")),
                    ==, 13);
  g_assert_cmpuint (relais_rule_set_position (set, NULL), ==, G_MAXUINT);
  {
    g_autoptr(RelaisSecurityRule) stranger = rule ("boss", W, RELAIS_RULE_TYPE_RECIPIENT, "boss@corp.example");

    g_assert_cmpuint (relais_rule_set_position (set, stranger), ==, G_MAXUINT);
  }
}

static void
test_empty (void)
{
  g_autoptr(RelaisRuleSet) set = relais_rule_set_new (NULL);
  RelaisRuleSet *again = relais_rule_set_ref (set);

  g_assert_cmpstr (match_client (set, RELAIS_RULE_LIST_BLACK, "192.0.2.1"), ==, NULL);
  g_assert_cmpstr (match_client (again, RELAIS_RULE_LIST_WHITE, "::1"), ==, NULL);
  g_assert_null (relais_rule_set_match_sender (set, RELAIS_RULE_LIST_WHITE, "a@b.example"));
  relais_rule_set_unref (again);
}

/* The reference: every rule of LIST in order, the first that matches. */
static const RelaisSecurityRule *
linear_match (GPtrArray *rules, RelaisRuleList list, GInetAddress *client, const char *sender, const char *recipient)
{
  for (guint i = 0; i < rules->len; i++)
    {
      const RelaisSecurityRule *r = rules->pdata[i];

      if (r->list != list)
        continue;
      if (client != NULL && (r->type == RELAIS_RULE_TYPE_IP || r->type == RELAIS_RULE_TYPE_SUBNET))
        {
          g_autofree char *text = r->type == RELAIS_RULE_TYPE_IP
            ? g_strdup_printf ("%s/%u", r->value, strchr (r->value, ':') ? 128 : 32) : g_strdup (r->value);
          g_autoptr(GInetAddressMask) mask = g_inet_address_mask_new_from_string (text, NULL);

          g_assert_nonnull (mask);
          if (g_inet_address_mask_matches (mask, client))
            return r;
        }
      if (sender != NULL && r->type == RELAIS_RULE_TYPE_SENDER)
        {
          const char *at = strrchr (sender, '@');

          if (strncmp (sender, r->value, at - sender + 1) == 0 && g_ascii_strcasecmp (at, strrchr (r->value, '@')) == 0)
            return r;
        }
      if (sender != NULL && r->type == RELAIS_RULE_TYPE_DOMAIN && g_ascii_strcasecmp (strrchr (sender, '@') + 1, r->value) == 0)
        return r;
      if (recipient != NULL && r->type == RELAIS_RULE_TYPE_RECIPIENT)
        {
          const char *at = strrchr (recipient, '@');

          if (strncmp (recipient, r->value, at - recipient + 1) == 0 && g_ascii_strcasecmp (at, strrchr (r->value, '@')) == 0)
            return r;
        }
    }
  return NULL;
}

static char *
random_address (GRand *rand)
{
  static const char *domains[] = { "a.example", "B.Example", "c.EXAMPLE", "d.example" };
  const char *domain = domains[g_rand_int_range (rand, 0, G_N_ELEMENTS (domains))];

  return g_strdup_printf ("%s%d@%s", g_rand_boolean (rand) ? "user" : "User", g_rand_int_range (rand, 0, 40), domain);
}

static GInetAddress *
random_client (GRand *rand)
{
  guint8 bytes[16] = { 0x20, 0x01, 0x0d, 0xb8 };

  if (g_rand_boolean (rand))
    {
      guint8 v4[4] = { 10, (guint8) g_rand_int_range (rand, 0, 4), (guint8) g_rand_int_range (rand, 0, 256),
                       (guint8) g_rand_int_range (rand, 0, 256) };
      return g_inet_address_new_from_bytes (v4, G_SOCKET_FAMILY_IPV4);
    }
  bytes[5] = (guint8) g_rand_int_range (rand, 0, 4);
  bytes[15] = (guint8) g_rand_int_range (rand, 0, 256);
  bytes[14] = (guint8) g_rand_int_range (rand, 0, 2);
  return g_inet_address_new_from_bytes (bytes, G_SOCKET_FAMILY_IPV6);
}

static void
test_random (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (20240505);
  g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_security_rule_free);
  g_autoptr(RelaisRuleSet) set = NULL;
  guint matched = 0;

  while (rules->len < 10000)
    {
      RelaisRuleList list = g_rand_boolean (rand) ? RELAIS_RULE_LIST_BLACK : RELAIS_RULE_LIST_WHITE;
      RelaisRuleType type = (RelaisRuleType) g_rand_int_range (rand, 0, 5);
      g_autofree char *name = g_strdup_printf ("rule%u", rules->len);
      g_autofree char *value = NULL;
      g_autoptr(GInetAddress) client = NULL;
      g_autoptr(GError) error = NULL;
      RelaisSecurityRule *r;

      switch (type)
        {
        case RELAIS_RULE_TYPE_IP:
          client = random_client (rand);
          value = g_inet_address_to_string (client);
          break;
        case RELAIS_RULE_TYPE_SUBNET:
          {
            gsize size;
            guint length;
            guint8 bytes[16];

            client = random_client (rand);
            size = g_inet_address_get_native_size (client);
            length = size == 4 ? (guint) g_rand_int_range (rand, 8, 33) : (guint) g_rand_int_range (rand, 32, 129);
            memcpy (bytes, g_inet_address_to_bytes (client), size);
            for (guint b = length; b < size * 8; b++)
              bytes[b / 8] &= (guint8) ~(0x80 >> (b % 8));
            g_clear_object (&client);
            client = g_inet_address_new_from_bytes (bytes, size == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
            {
              g_autofree char *text = g_inet_address_to_string (client);
              value = g_strdup_printf ("%s/%u", text, length);
            }
            break;
          }
        case RELAIS_RULE_TYPE_SENDER:
        case RELAIS_RULE_TYPE_RECIPIENT:
          value = random_address (rand);
          break;
        case RELAIS_RULE_TYPE_DOMAIN:
          if (list == RELAIS_RULE_LIST_BLACK)
            continue;
          value = g_strdup_printf ("%c.example", "abcdz"[g_rand_int_range (rand, 0, 5)]);
          break;
        default:
          g_assert_not_reached ();
        }
      r = relais_security_rule_new (name, list, type, value, RELAIS_RULE_ACTION_REJECT, &error);
      g_assert_no_error (error);
      g_ptr_array_add (rules, r);
    }
  set = relais_rule_set_new (rules);

  for (guint q = 0; q < 5000; q++)
    {
      g_autoptr(GInetAddress) client = random_client (rand);
      g_autofree char *sender = random_address (rand);
      g_autofree char *recipient = random_address (rand);

      for (RelaisRuleList list = RELAIS_RULE_LIST_BLACK; list <= RELAIS_RULE_LIST_WHITE; list++)
        {
          const RelaisSecurityRule *want, *got;

          want = linear_match (rules, list, client, NULL, NULL);
          got = relais_rule_set_match_client (set, list, client);
          g_assert_cmpstr (name_of (got), ==, name_of (want));
          want = linear_match (rules, list, NULL, sender, NULL);
          got = relais_rule_set_match_sender (set, list, sender);
          g_assert_cmpstr (name_of (got), ==, name_of (want));
          want = linear_match (rules, list, NULL, NULL, recipient);
          got = relais_rule_set_match_recipient (set, list, recipient);
          g_assert_cmpstr (name_of (got), ==, name_of (want));
          matched += want != NULL;
          /* All three facts at once: the first rule in the configured order. */
          want = linear_match (rules, list, client, sender, recipient);
          got = relais_rule_set_match_first (set, list, client, sender, recipient);
          g_assert_cmpstr (name_of (got), ==, name_of (want));
        }
    }
  /* The random spaces overlap enough that most lookups find a rule, and some do not. */
  g_assert_cmpuint (matched, >, 5000);
  g_assert_cmpuint (matched, <, 30000);
}

/* SPEC §4.1's table: which whitelist match skips which check, whatever
 * the order of the matching rules. */
static void
test_whitelist_skips (void)
{
  g_autoptr (GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_security_rule_free);
  g_autoptr (RelaisRuleSet) set = NULL;
  g_autoptr (GInetAddress) inside = g_inet_address_new_from_string ("192.0.2.7");
  g_autoptr (GInetAddress) subnet_only = g_inet_address_new_from_string ("192.0.2.8");
  g_autoptr (GInetAddress) outside = g_inet_address_new_from_string ("198.51.100.1");
  g_autoptr (GVariant) table = g_variant_ref_sink (relais_whitelist_skips_to_variant ());
  g_autofree char *printed = g_variant_print (table, FALSE);
  const RelaisSecurityRule *r;

  g_assert_cmpstr (printed, ==,
                   "[('ip', ['dnsbl', 'spf', 'antivirus', 'dkim', 'dmarc']), "
                   "('subnet', ['dnsbl', 'spf', 'dkim', 'dmarc']), ('sender', ['spf', 'antivirus']), "
                   "('recipient', ['spf', 'antivirus']), ('domain', ['spf', 'antivirus', 'dkim', 'dmarc'])]");
  g_assert_cmpstr (relais_skippable_check_to_string (RELAIS_SKIP_DKIM), ==, "dkim");
  g_assert_cmpstr (relais_skippable_check_to_string (RELAIS_SKIP_DKIM | RELAIS_SKIP_SPF), ==, "");

  /* The subnet and sender rules come first: each still skips only its own
   * checks, and the IP / domain rules after them skip the rest. */
  g_ptr_array_add (rules, rule ("net", RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_SUBNET, "192.0.2.0/24"));
  g_ptr_array_add (rules, rule ("alice", RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_SENDER, "alice@partner.example"));
  g_ptr_array_add (rules, rule ("host", RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_IP, "192.0.2.7"));
  g_ptr_array_add (rules, rule ("partner", RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_DOMAIN, "partner.example"));
  g_ptr_array_add (rules, rule ("boss", RELAIS_RULE_LIST_WHITE, RELAIS_RULE_TYPE_RECIPIENT, "boss@here.example"));
  g_ptr_array_add (rules, rule ("black", RELAIS_RULE_LIST_BLACK, RELAIS_RULE_TYPE_IP, "198.51.100.1"));
  set = relais_rule_set_new (rules);

  r = relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_DNSBL, inside, NULL, NULL);
  g_assert_cmpstr (r->name, ==, "net");
  r = relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_ANTIVIRUS, inside, NULL, NULL);
  g_assert_cmpstr (r->name, ==, "host");
  g_assert_null (relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_ANTIVIRUS, subnet_only, NULL, NULL));
  r = relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_DKIM, subnet_only, NULL, NULL);
  g_assert_cmpstr (r->name, ==, "net");

  r = relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_SPF, outside, "alice@PARTNER.example", NULL);
  g_assert_cmpstr (r->name, ==, "alice");
  r = relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_DMARC, outside, "alice@partner.example", NULL);
  g_assert_cmpstr (r->name, ==, "partner");
  g_assert_null (relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_DNSBL, outside, "alice@partner.example",
                                                     "boss@here.example"));
  r = relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_ANTIVIRUS, outside, "x@elsewhere.example",
                                          "boss@here.example");
  g_assert_cmpstr (r->name, ==, "boss");
  g_assert_null (relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_DKIM, outside, "x@elsewhere.example",
                                                     "boss@here.example"));
  /* A blacklist rule never skips anything. */
  g_assert_null (relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_SPF, outside, "", NULL));
  g_assert_null (relais_rule_set_whitelist_skipping (set, RELAIS_SKIP_SPF, NULL, NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rules/validation", test_validation);
  g_test_add_func ("/rules/matching", test_matching);
  g_test_add_func ("/rules/empty", test_empty);
  g_test_add_func ("/rules/random", test_random);
  g_test_add_func ("/rules/whitelist-skips", test_whitelist_skips);
  return g_test_run ();
}
