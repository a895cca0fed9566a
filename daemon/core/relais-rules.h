/* SPDX-License-Identifier: GPL-3.0-or-later
 * The black/white rules of the Security page (SPEC §4.1): one validated rule
 * (name, list, type, value, action) and an immutable, reference-counted rule
 * set that answers "the first rule of this list, in the configured order,
 * that matches this client address / sender / recipient". The cost of a
 * lookup does not grow with the number of rules: addresses and domains are
 * hash table keys, IP and subnet rules live in one binary prefix tree per
 * address family (an IP rule is a full-length prefix), and every key keeps
 * the lowest index of the rules behind it. Pure data: no I/O, no logging. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  RELAIS_RULE_LIST_BLACK,
  RELAIS_RULE_LIST_WHITE,
} RelaisRuleList;

typedef enum {
  RELAIS_RULE_TYPE_IP,
  RELAIS_RULE_TYPE_SUBNET,
  RELAIS_RULE_TYPE_SENDER,
  RELAIS_RULE_TYPE_RECIPIENT,
  RELAIS_RULE_TYPE_DOMAIN,      /* whitelist only: the sender's domain */
} RelaisRuleType;

typedef enum {
  RELAIS_RULE_ACTION_REJECT,
  RELAIS_RULE_ACTION_DISCARD,
} RelaisRuleAction;

typedef struct {
  char *name;
  RelaisRuleList list;
  RelaisRuleType type;
  char *value;                  /* normalized: canonical address text, "network/length", domain in lower case */
  RelaisRuleAction action;
} RelaisSecurityRule;

/* A validated rule, or NULL with RELAIS_ERROR_INVALID_ARGUMENT naming the
 * field and the problem. IP: one IPv4 or IPv6 address; SUBNET: CIDR or
 * "address/netmask" (a contiguous dotted IPv4 mask) without host bits;
 * SENDER / RECIPIENT: an e-mail address; DOMAIN: a domain, whitelist only. */
RelaisSecurityRule *relais_security_rule_new (const char *name, RelaisRuleList list, RelaisRuleType type,
                                              const char *value, RelaisRuleAction action, GError **error);
RelaisSecurityRule *relais_security_rule_copy (const RelaisSecurityRule *rule);
void                relais_security_rule_free (RelaisSecurityRule *rule);

/* Names used by D-Bus and the store: "black"/"white"; "ip", "subnet",
 * "sender", "recipient", "domain"; "reject"/"discard". The *_from_string
 * functions return FALSE for any other text (exact, lower case). */
const char *relais_rule_list_to_string (RelaisRuleList list);
const char *relais_rule_type_to_string (RelaisRuleType type);
const char *relais_rule_action_to_string (RelaisRuleAction action);
gboolean    relais_rule_list_from_string (const char *text, RelaisRuleList *out);
gboolean    relais_rule_type_from_string (const char *text, RelaisRuleType *out);
gboolean    relais_rule_action_from_string (const char *text, RelaisRuleAction *out);

typedef struct _RelaisRuleSet RelaisRuleSet;

/* A set of copies of RULES (RelaisSecurityRule*, in the configured order; may be NULL or empty). */
RelaisRuleSet *relais_rule_set_new (GPtrArray *rules);
RelaisRuleSet *relais_rule_set_ref (RelaisRuleSet *set);
void           relais_rule_set_unref (RelaisRuleSet *set);
guint          relais_rule_set_get_length (RelaisRuleSet *set);
const RelaisSecurityRule *relais_rule_set_get (RelaisRuleSet *set, guint index);
/* The index of RULE (one of SET's own rules, as returned by a match or
 * relais_rule_set_get) in the configured order, so that matches of several
 * facts can be ranked; G_MAXUINT for NULL or a rule of another set. Constant time. */
guint          relais_rule_set_position (RelaisRuleSet *set, const RelaisSecurityRule *rule);

/* The first rule of LIST (in the configured order among all matching ones)
 * matching the fact, or NULL. CLIENT is already normalized by the caller
 * (relais_client_address_normalize). SENDER may be NULL or "" (null sender):
 * SENDER rules, and on the whitelist DOMAIN rules on the sender's domain.
 * Local parts match exactly, domains in any case. */
const RelaisSecurityRule *relais_rule_set_match_client (RelaisRuleSet *set, RelaisRuleList list, GInetAddress *client);
const RelaisSecurityRule *relais_rule_set_match_sender (RelaisRuleSet *set, RelaisRuleList list, const char *sender);
const RelaisSecurityRule *relais_rule_set_match_recipient (RelaisRuleSet *set, RelaisRuleList list,
                                                           const char *recipient);
/* The first rule of LIST of type IP (one address, not a subnet) equal to
 * CLIENT (normalized), or NULL: an IP whitelist rule skips more checks than a
 * subnet rule (SPEC §4.1), even when a subnet rule comes first. */
const RelaisSecurityRule *relais_rule_set_match_ip (RelaisRuleSet *set, RelaisRuleList list, GInetAddress *client);
/* The first rule of LIST (lowest position) matching any of CLIENT, SENDER
 * (and on the whitelist its domain) or RECIPIENT (each may be NULL): the
 * three matches above in one call, without position lookups. */
const RelaisSecurityRule *relais_rule_set_match_first (RelaisRuleSet *set, RelaisRuleList list, GInetAddress *client,
                                                       const char *sender, const char *recipient);

/* SPEC §4.1: the checks a whitelist match skips, by rule type:
 *   IP         DNSBL SPF antivirus DKIM DMARC
 *   IP/subnet  DNSBL SPF           DKIM DMARC
 *   Sender           SPF antivirus
 *   Recipient        SPF antivirus
 *   Domain           SPF antivirus DKIM DMARC */
typedef enum {
  RELAIS_SKIP_DNSBL = 1 << 0,
  RELAIS_SKIP_SPF = 1 << 1,
  RELAIS_SKIP_ANTIVIRUS = 1 << 2,
  RELAIS_SKIP_DKIM = 1 << 3,
  RELAIS_SKIP_DMARC = 1 << 4,
} RelaisSkippableCheck;
#define RELAIS_N_SKIPPABLE_CHECKS 5

/* The checks (RelaisSkippableCheck flags) a whitelist rule of TYPE skips. */
guint       relais_rule_type_skips (RelaisRuleType type);
/* "dnsbl", "spf", "antivirus", "dkim", "dmarc" for one flag; "" otherwise. */
const char *relais_skippable_check_to_string (RelaisSkippableCheck check);
/* The table above as a(sas): (rule type, the checks it skips), for D-Bus. */
GVariant   *relais_whitelist_skips_to_variant (void);
/* The whitelist rule that makes CHECK skipped for these facts: among the
 * whitelist rules matching CLIENT, SENDER (or its domain) or RECIPIENT (each
 * may be NULL) whose type skips CHECK, the first in the configured order;
 * NULL when none. */
const RelaisSecurityRule *relais_rule_set_whitelist_skipping (RelaisRuleSet *set, RelaisSkippableCheck check,
                                                              GInetAddress *client, const char *sender,
                                                              const char *recipient);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisSecurityRule, relais_security_rule_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisRuleSet, relais_rule_set_unref)

G_END_DECLS
