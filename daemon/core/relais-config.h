/* SPDX-License-Identifier: GPL-3.0-or-later
 * Typed settings: defaults, validation and the immutable snapshot.
 * A RelaisConfig is never modified once published: a change builds a new one
 * (relais_config_apply_general() and friends), the store writes it, and the
 * daemon swaps the current pointer. Sessions hold a reference from MAIL FROM to
 * the end of the transaction, so a live change never tears a transaction.
 * Addresses and domains are kept lower-cased (domains) / as given (local part). */
#pragma once

#include <gio/gio.h>

#include "relais-dkim-sign.h"
#include "relais-dnsbl.h"
#include "relais-rules.h"

G_BEGIN_DECLS

typedef struct {
  char *login;
  char *password_hash;   /* crypt(3) string: yescrypt ($y$) or SHA-512 ($6$) */
  GStrv aliases;         /* extra addresses owned, full user@domain */
  GStrv forwards;        /* forwarding addresses */
} RelaisAccount;

/* What to do with a message when clamd cannot be reached (issue 7). */
typedef enum {
  RELAIS_ANTIVIRUS_DEFER,           /* 451 4.7.1: the client tries again later */
  RELAIS_ANTIVIRUS_ACCEPT,          /* accept unscanned (logged and counted) */
} RelaisAntivirusFallback;

/* Distribution (SPEC §2): how remote mail leaves. */
typedef enum {
  RELAIS_DISTRIBUTION_DIRECT,       /* to the recipient domain's MX */
  RELAIS_DISTRIBUTION_RELAY_HOST,   /* all remote mail through relay_host */
  RELAIS_DISTRIBUTION_RELAY_HOSTS,  /* through relay_hosts, chosen by relay_rules */
} RelaisDistributionMode;

typedef struct {
  char *name;            /* "" for the single relay host of mode relay-host */
  char *server;          /* DNS name (lower case) or IP literal; "" only for an unused single host */
  guint port;            /* 1..65535; default 25 */
  gboolean always_tls;   /* port 465: implicit TLS; any other port: STARTTLS required */
  gboolean authentication;
  char *username;        /* "" when unset */
  char *password;        /* clear text (the daemon must present it); "" when unset; never returned over D-Bus */
} RelaisRelayHost;

typedef enum { RELAIS_RULE_RECIPIENT, RELAIS_RULE_SENDER } RelaisRuleKind;

typedef struct {
  guint id;              /* stable, unique, > 0 */
  RelaisRuleKind kind;
  char *host;            /* name of an entry of relay_hosts */
  GStrv patterns;        /* "user@domain" or "domain" (the whole domain); domains lower case */
} RelaisRelayRule;

/* Relay Control (SPEC §3) */
typedef struct {
  char *name;            /* what the administrator calls it, 1..64 printable characters */
  char *network;         /* canonical text: "192.0.2.7" (one address), "192.0.2.0/24", "2001:db8::/32" */
  GInetAddressMask *mask;  /* the same, parsed; an address alone is a full-length mask */
} RelaisTrustedNetwork;

typedef struct {
  char *name;
  char *domain;          /* lower case */
} RelaisRelayDomain;

/* A DKIM signing key of one sending domain (issue 7): immutable once made.
 * PRIVATE_PEM is a secret: it goes to the store and to SIGNER, never to D-Bus
 * nor to the log. */
typedef struct {
  char *domain;                  /* lower case, ASCII (an IDN in its xn-- form) */
  char *selector;
  RelaisDkimAlgorithm algorithm;
  char *private_pem;             /* PKCS#8 PEM */
  gint64 created;                /* unix time */
  char *record;                  /* the TXT record value to publish, "v=DKIM1; k=...; p=..." */
  RelaisDkimSigner *signer;      /* ready to sign, from PRIVATE_PEM; thread-safe, reference counted */
} RelaisDkimSigningKey;

typedef struct {
  /*< private >*/
  gint ref_count;
  /*< public, read-only >*/
  /* General (SPEC §1) */
  gboolean smtp_authentication;
  gboolean skip_auth_for_local_networks;
  gboolean verify_sender_login;
  gboolean skip_sender_check_for_trusted;
  gboolean disable_auto_forward;
  char *hostname;
  char *banner;
  guint max_recipients;
  guint max_hops;
  guint max_message_size_mb;
  GStrv external_administrators;
  guint idle_timeout;            /* seconds, RFC 5321 §4.5.3.2.7 server timeout */
  guint max_sessions;            /* SMTP sessions open at once, all endpoints together */

  /* Accounts */
  GStrv local_domains;           /* sorted, lower case */
  GPtrArray *accounts;           /* of RelaisAccount*, sorted by login */
  GHashTable *address_index;     /* lower-cased address -> RelaisAccount* (borrowed) */

  /* Distribution (SPEC §2) */
  RelaisDistributionMode distribution_mode;
  RelaisRelayHost *relay_host;   /* the single host of mode relay-host; never NULL */
  GPtrArray *relay_hosts;        /* of RelaisRelayHost*, sorted by name, names unique */
  GPtrArray *relay_rules;        /* of RelaisRelayRule*, in rule order; each host exists */

  /* Relay Control (SPEC §3) */
  GPtrArray *trusted_networks;   /* of RelaisTrustedNetwork*, sorted by name, names unique */
  GPtrArray *relay_domains;      /* of RelaisRelayDomain*, sorted by name, names and domains unique */

  /* Security (SPEC §4.1, §4.3-4.5; defaults §4.6) */
  RelaisRuleSet *security_rules;           /* black/white rules in the configured order; never NULL */
  gboolean reject_non_fqdn_sender;         /* 504 5.5.2 */
  gboolean reject_unknown_sender_domain;   /* 550 5.1.8 / 450 4.1.8 */
  gboolean reject_unknown_client_hostname; /* 450 4.7.25 / 550 5.7.25 */
  gboolean limit_connections;              /* simultaneous connections per client address */
  guint max_connections;
  gboolean limit_message_rate;             /* messages per client address per minute */
  guint max_messages_per_minute;
  gboolean limit_connection_rate;          /* new connections per client address per minute */
  guint max_connections_per_minute;
  gboolean reject_unauthorized_pipelining; /* 554 5.5.0, then close */
  gboolean reject_non_fqdn_helo;           /* 504 5.5.2 */
  gboolean reject_unknown_helo;            /* 450 4.7.1 */
  gboolean block_nonexistent_recipients;   /* block past N 550 5.1.1 until local midnight */
  guint max_nonexistent_recipients;
  guint max_junk_commands;                 /* per session: past it 421 4.7.0 and close */
  gboolean dnsbl;                          /* SPEC §4.2: 554 5.7.1 for a listed client */
  GPtrArray *dnsbl_zones;                  /* of RelaisDnsblZone*, in order; immutable, shared; never NULL */
  gboolean spf;                            /* RFC 7208 at RCPT: 550 5.7.23 / 451 4.7.24 */
  gboolean dkim;                           /* RFC 6376 verification, Authentication-Results */
  gboolean dmarc;                          /* RFC 7489: 550 5.7.1 for p=reject, quarantine header */
  gboolean antivirus;                      /* clamd INSTREAM: 554 5.7.0 for a virus */
  char *antivirus_socket;                  /* "/path" (Unix) or "HOST:PORT" (TCP) */
  RelaisAntivirusFallback antivirus_unreachable; /* clamd unreachable: 451 4.7.1 or accept */
  gboolean dkim_signing;                   /* sign outgoing remote mail whose From domain has a key */
  GPtrArray *dkim_keys;                    /* of RelaisDkimSigningKey*, sorted by domain, one per
                                            * domain; immutable, shared; never NULL */
} RelaisConfig;

/* Defaults of the content checks (issue 7). */
#define RELAIS_DEFAULT_ANTIVIRUS_SOCKET "/run/clamav/clamd.ctl"

/* Defaults from SPEC §1. */
#define RELAIS_DEFAULT_BANNER          "ESMTP Relais"
#define RELAIS_DEFAULT_MAX_RECIPIENTS  100
#define RELAIS_DEFAULT_MAX_HOPS        50
#define RELAIS_DEFAULT_MAX_SIZE_MB     10
#define RELAIS_DEFAULT_IDLE_TIMEOUT    300
#define RELAIS_DEFAULT_MAX_SESSIONS    5000
#define RELAIS_DEFAULT_RELAY_PORT      25
/* Defaults from SPEC §4.6. */
#define RELAIS_DEFAULT_MAX_CONNECTIONS              50
#define RELAIS_DEFAULT_MAX_MESSAGES_PER_MINUTE      60
#define RELAIS_DEFAULT_MAX_CONNECTIONS_PER_MINUTE   60
#define RELAIS_DEFAULT_MAX_NONEXISTENT_RECIPIENTS   20
#define RELAIS_DEFAULT_MAX_JUNK_COMMANDS            100

RelaisConfig *relais_config_new_default (void);
RelaisConfig *relais_config_ref (RelaisConfig *config);
void          relais_config_unref (RelaisConfig *config);
RelaisConfig *relais_config_copy (const RelaisConfig *config);  /* deep, ref_count 1 */

gsize         relais_config_max_message_size (const RelaisConfig *config); /* bytes */
gboolean      relais_config_is_local_domain (const RelaisConfig *config, const char *domain);
/* The account owning ADDRESS (login@local-domain or an alias), or NULL. */
const RelaisAccount *relais_config_lookup_address (const RelaisConfig *config, const char *address);
const RelaisAccount *relais_config_lookup_login (const RelaisConfig *config, const char *login);
/* Every address an account owns: login@each local domain, then its aliases. */
GStrv         relais_config_account_addresses (const RelaisConfig *config, const RelaisAccount *account);

/* Validation helpers (also used by the SMTP parser's tests). */
gboolean      relais_is_fqdn (const char *name);
gboolean      relais_is_valid_domain (const char *name);
gboolean      relais_is_valid_address (const char *address);  /* user@domain, dot-atom or quoted local part */
gboolean      relais_is_valid_login (const char *login);

/* Builds a new snapshot from BASE with the General changes (a{sv}, D-Bus
 * property names) applied. All changes are checked together; on the first
 * invalid one returns NULL with RELAIS_ERROR_INVALID_ARGUMENT naming the
 * property and the reason, and BASE is untouched. */
RelaisConfig *relais_config_apply_general (const RelaisConfig *base, GVariant *changes, GError **error);
/* The General settings as a{sv} with D-Bus property names (for the store and the skeleton). */
GVariant     *relais_config_general_to_variant (const RelaisConfig *config);

/* Account and domain edits, each returning a new snapshot or NULL + error. */
RelaisConfig *relais_config_add_local_domain (const RelaisConfig *base, const char *domain, GError **error);
RelaisConfig *relais_config_remove_local_domain (const RelaisConfig *base, const char *domain, GError **error);
/* Takes ownership of nothing; copies ACCOUNT. PASSWORD_HASH must already be a crypt string. */
RelaisConfig *relais_config_put_account (const RelaisConfig *base, const RelaisAccount *account,
                                         gboolean must_be_new, GError **error);
RelaisConfig *relais_config_remove_account (const RelaisConfig *base, const char *login, GError **error);

/* Distribution edits (SPEC §2), each returning a new snapshot or NULL + error
 * (RELAIS_ERROR_INVALID_ARGUMENT naming the field and the reason, NOT_FOUND,
 * EXISTS). Every edit keeps these invariants: mode relay-host has a server;
 * mode relay-hosts has at least one host; a host with authentication has a
 * user name and a password; every rule names an existing host.
 *
 * CHANGES of apply_distribution: Mode (s: "direct", "relay-host",
 * "relay-hosts"), RelayServer (s), RelayPort (u), RelayAlwaysTls (b),
 * RelayAuthentication (b), RelayUsername (s), RelayPassword (s; "" clears it);
 * all or nothing. */
RelaisConfig *relais_config_apply_distribution (const RelaisConfig *base, GVariant *changes, GError **error);
/* Mode and the single host as a{sv} with the names above, RelayPassword
 * included: for the store only, never for D-Bus. */
GVariant     *relais_config_distribution_to_variant (const RelaisConfig *config);

/* FIELDS/CHANGES: Server (s), Port (u), AlwaysTls (b), Authentication (b),
 * Username (s), Password (s; "" clears it); UpdateRelayHost also takes Name (s)
 * to rename the host (the rules follow). A name is 1 to 64 printable
 * characters, unique regardless of case. */
RelaisConfig *relais_config_add_relay_host (const RelaisConfig *base, const char *name, GVariant *fields,
                                            GError **error);
RelaisConfig *relais_config_update_relay_host (const RelaisConfig *base, const char *name,
                                               GVariant *changes, GError **error);
/* Refused (InvalidArgument naming the rule) while a rule uses the host. */
RelaisConfig *relais_config_remove_relay_host (const RelaisConfig *base, const char *name, GError **error);
const RelaisRelayHost *relais_config_lookup_relay_host (const RelaisConfig *config, const char *name);

/* Appends a rule. ID 0 takes the next free id (the store passes the stored
 * one); the rule's id is returned in OUT_ID. KIND is "recipient" or "sender". */
RelaisConfig *relais_config_add_relay_rule (const RelaisConfig *base, guint id, const char *kind,
                                            const char *host, const char *const *patterns,
                                            guint *out_id, GError **error);
/* CHANGES: Kind (s), Host (s), Patterns (as). */
RelaisConfig *relais_config_update_relay_rule (const RelaisConfig *base, guint id, GVariant *changes,
                                               GError **error);
RelaisConfig *relais_config_remove_relay_rule (const RelaisConfig *base, guint id, GError **error);
/* Moves rule ID to POSITION (0 = first) of the rule list. */
RelaisConfig *relais_config_move_relay_rule (const RelaisConfig *base, guint id, guint position,
                                             GError **error);
const RelaisRelayRule *relais_config_lookup_relay_rule (const RelaisConfig *config, guint id);

/* Which relay host (borrowed from CONFIG) carries mail from SENDER to remote
 * RECIPIENT, or NULL for direct delivery (SPEC §2): direct mode: NULL;
 * relay-host mode: the single host; relay-hosts mode: the first matching
 * recipient rule, else the first matching sender rule, else NULL. Domains
 * match case-insensitively, local parts exactly; a "domain" pattern matches
 * every address in exactly that domain. The null sender "" matches no rule. */
const RelaisRelayHost *relais_config_route_remote (const RelaisConfig *config, const char *sender,
                                                   const char *recipient);

const char   *relais_distribution_mode_to_string (RelaisDistributionMode mode);
const char   *relais_rule_kind_to_string (RelaisRuleKind kind);

RelaisRelayHost *relais_relay_host_copy (const RelaisRelayHost *host);
void             relais_relay_host_free (RelaisRelayHost *host);
RelaisRelayRule *relais_relay_rule_copy (const RelaisRelayRule *rule);
void             relais_relay_rule_free (RelaisRelayRule *rule);

/* yescrypt hash of PASSWORD (libcrypt), or NULL + error. */
char          *relais_password_hash (const char *password, GError **error);
gboolean       relais_password_verify (const char *password, const char *hash);

RelaisAccount *relais_account_copy (const RelaisAccount *account);
void           relais_account_free (RelaisAccount *account);

/* Security settings (SPEC §4.3-4.5) as a{sv} with their D-Bus property
 * names: RejectNonFqdnSender, RejectUnknownSenderDomain,
 * RejectUnknownClientHostname (b); LimitConnections (b), MaxConnections (u
 * 1..10000); LimitMessageRate (b), MaxMessagesPerMinute (u 1..100000);
 * LimitConnectionRate (b), MaxConnectionsPerMinute (u 1..100000);
 * RejectUnauthorizedPipelining, RejectNonFqdnHelo, RejectUnknownHelo (b);
 * BlockNonexistentRecipients (b), MaxNonexistentRecipients (u 1..100000);
 * MaxJunkCommands (u 1..100000); Dnsbl (b), DnsblZones (a(ss): zone, answer
 * filter, at most 32, see relais-dnsbl.h); Spf, Dkim, Dmarc, Antivirus (b);
 * AntivirusSocket (s: an absolute Unix socket path or HOST:PORT);
 * AntivirusUnreachable (s: "defer" or "accept"); DkimSigning (b). All checked together, all or nothing, like
 * relais_config_apply_general(). */
RelaisConfig *relais_config_apply_security (const RelaisConfig *base, GVariant *changes, GError **error);
GVariant     *relais_config_security_to_variant (const RelaisConfig *config);

/* DKIM signing keys (issue 7). A key from its parts, checked: DOMAIN a fully
 * qualified ASCII domain (lower-cased), SELECTOR as relais_dkim_selector_validate(),
 * PRIVATE_PEM a key relais_dkim_signer_new() takes (the algorithm comes from
 * it). NULL + RELAIS_ERROR_INVALID_ARGUMENT starting "Domain: ", "Selector: "
 * or "Key: " otherwise. Parses the PEM: not for the main loop with RSA keys in
 * bulk (one key is about a millisecond). */
RelaisDkimSigningKey *relais_dkim_signing_key_new (const char *domain, const char *selector,
                                                   const char *private_pem, gint64 created, GError **error);
void                  relais_dkim_signing_key_free (RelaisDkimSigningKey *key);
/* Checks DOMAIN as relais_dkim_signing_key_new() does ("Domain: ..."). */
gboolean              relais_dkim_signing_domain_validate (const char *domain, GError **error);
/* A new snapshot with KEY (taken) as its domain's key, replacing any other. */
RelaisConfig *relais_config_put_dkim_key (const RelaisConfig *base, RelaisDkimSigningKey *key);
/* NOT_FOUND ("domain: no DKIM key for ...") when DOMAIN (any case) has none. */
RelaisConfig *relais_config_remove_dkim_key (const RelaisConfig *base, const char *domain, GError **error);
/* The key of exactly DOMAIN (any case), or NULL. */
const RelaisDkimSigningKey *relais_config_lookup_dkim_key (const RelaisConfig *config, const char *domain);
/* DkimKeys: a(ssss) of (domain, selector, algorithm, record), sorted by domain. */
GVariant     *relais_config_dkim_keys_to_variant (const RelaisConfig *config);

/* Black/white rule edits (SPEC §4.1), each returning a new snapshot or NULL
 * + error, BASE untouched: RELAIS_ERROR_INVALID_ARGUMENT naming the field
 * (Name, List, Type, Value, Action) and the reason, EXISTS for a name already
 * used (regardless of case), NOT_FOUND ("name: no black/white rule named
 * ...") for an unknown rule. A name is 1 to 64 printable characters without
 * a space at either end. LIST is "black" or "white"; TYPE "ip", "subnet",
 * "sender", "recipient" or "domain" (whitelist only); ACTION "reject" or
 * "discard" on the blacklist and "" on the whitelist. Rules keep the order
 * the administrator gives them; at most RELAIS_CONFIG_MAX_SECURITY_RULES.
 * Each edit rebuilds the rule set once: O(number of rules). */
#define RELAIS_CONFIG_MAX_SECURITY_RULES 100000

/* Appends the rule at the end. */
RelaisConfig *relais_config_add_security_rule (const RelaisConfig *base, const char *name, const char *list,
                                               const char *type, const char *value, const char *action,
                                               GError **error);
/* CHANGES: any of Name, List, Type, Value, Action (s); all or nothing. A
 * change of List to "white" without Action clears the action. */
RelaisConfig *relais_config_update_security_rule (const RelaisConfig *base, const char *name,
                                                  GVariant *changes, GError **error);
RelaisConfig *relais_config_remove_security_rule (const RelaisConfig *base, const char *name, GError **error);
/* Moves rule NAME to POSITION (0 = first); a position past the end moves it last. */
RelaisConfig *relais_config_move_security_rule (const RelaisConfig *base, const char *name, guint position,
                                                GError **error);
/* Replaces every rule by RULES, a(sssss) of (name, list, type, value,
 * action), in order; all or nothing, the error prefixed by "rules[INDEX]
 * 'NAME': ". */
RelaisConfig *relais_config_replace_security_rules (const RelaisConfig *base, GVariant *rules, GError **error);
/* For the store: like replace, but a rule that fails validation (or whose
 * name is taken, or past the limit) is skipped and its reason appended to
 * PROBLEMS (char *, owned by the array). Never fails. */
RelaisConfig *relais_config_load_security_rules (const RelaisConfig *base, GVariant *rules, GPtrArray *problems);
/* The rules as a(sssss), in order, action "" on the whitelist. */
GVariant     *relais_config_security_rules_to_variant (const RelaisConfig *config);

/* Relay Control entries. NETWORK is parsed as an IPv4/IPv6 address or CIDR
 * subnet (host bits must be zero); NULL + RELAIS_ERROR_INVALID_ARGUMENT saying
 * what is wrong otherwise. */
RelaisTrustedNetwork *relais_trusted_network_new (const char *name, const char *network, GError **error);
RelaisTrustedNetwork *relais_trusted_network_copy (const RelaisTrustedNetwork *entry);
void                  relais_trusted_network_free (RelaisTrustedNetwork *entry);
RelaisRelayDomain    *relais_relay_domain_new (const char *name, const char *domain);
RelaisRelayDomain    *relais_relay_domain_copy (const RelaisRelayDomain *entry);
void                  relais_relay_domain_free (RelaisRelayDomain *entry);

/* Relay Control edits (SPEC §3), each returning a new snapshot or NULL +
 * error: RELAIS_ERROR_INVALID_ARGUMENT naming the field (Name, Network,
 * Domain) and the reason, NOT_FOUND ("name: ...") for an unknown entry, EXISTS
 * for a name (regardless of case), network or domain already listed. Names are
 * 1 to 64 printable characters without a space at either end; both lists stay
 * sorted by name. A relay domain is never a local domain (and
 * relais_config_add_local_domain refuses a relay domain).
 * CHANGES: Name (s) and Network (s), or Name (s) and Domain (s); all or nothing. */
RelaisConfig *relais_config_add_trusted_network (const RelaisConfig *base, const char *name,
                                                 const char *network, GError **error);
RelaisConfig *relais_config_update_trusted_network (const RelaisConfig *base, const char *name,
                                                    GVariant *changes, GError **error);
RelaisConfig *relais_config_remove_trusted_network (const RelaisConfig *base, const char *name,
                                                    GError **error);
RelaisConfig *relais_config_add_relay_domain (const RelaisConfig *base, const char *name,
                                              const char *domain, GError **error);
RelaisConfig *relais_config_update_relay_domain (const RelaisConfig *base, const char *name,
                                                 GVariant *changes, GError **error);
RelaisConfig *relais_config_remove_relay_domain (const RelaisConfig *base, const char *name,
                                                 GError **error);

/* The trusted network entry containing ADDRESS, or NULL. */
const RelaisTrustedNetwork *relais_config_match_trusted (const RelaisConfig *config, GInetAddress *address);
/* The relay domain entry for DOMAIN (any case), or NULL. */
const RelaisRelayDomain    *relais_config_match_relay_domain (const RelaisConfig *config, const char *domain);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisConfig, relais_config_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisTrustedNetwork, relais_trusted_network_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisRelayDomain, relais_relay_domain_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAccount, relais_account_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisRelayHost, relais_relay_host_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisRelayRule, relais_relay_rule_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDkimSigningKey, relais_dkim_signing_key_free)

G_END_DECLS
