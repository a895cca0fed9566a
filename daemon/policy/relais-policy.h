/* SPDX-License-Identifier: GPL-3.0-or-later
 * Policy decisions as pure functions: a config snapshot and the facts of one
 * SMTP stage in, a verdict out. No I/O, no logging, no state: the session, the
 * statistics and (later) the D-Bus policy trace all call the same functions,
 * and tests drive them with tables. Reasons are short stable keys, counted
 * as is by relais_stats_reject(). Later checks (relay rules, black/white
 * lists, DNS-based checks) extend RelaisPolicyFacts and these functions. */
#pragma once

#include <glib.h>

#include "relais-config.h"

G_BEGIN_DECLS

typedef enum {
  RELAIS_POLICY_ENDPOINT_SMTP,        /* port 25 */
  RELAIS_POLICY_ENDPOINT_SUBMISSION,  /* 587 and 465: authentication required */
} RelaisPolicyEndpoint;

/* What the DNS said for a check that needs it (gathered by the caller, see
 * relais-dns-check.h, before calling the policy: the policy does no I/O). */
typedef enum {
  RELAIS_DNS_UNCHECKED = 0,     /* not looked up: the check is off or was not needed */
  RELAIS_DNS_FOUND,             /* the records asked for exist (client name: PTR confirmed by A/AAAA) */
  RELAIS_DNS_NXDOMAIN,          /* the name does not exist */
  RELAIS_DNS_NO_RECORDS,        /* the name exists without the records asked for
                                 * (client name: no PTR record, or no PTR name resolves back) */
  RELAIS_DNS_TEMPFAIL,          /* SERVFAIL, timeout, no server: answer 4xx, never pass or 5xx */
} RelaisDnsResult;

/* One check consulted, for the policy trace (Policy.Explain). */
typedef struct {
  char *check;                  /* stable name: "whitelist", "blacklist", "non-fqdn-sender", ... */
  char *answer;                 /* what it found, for a person: "no match", "rule 'spam' (sender ...)" */
  gboolean decided;             /* this check gave the verdict */
} RelaisPolicyStep;

void relais_policy_step_free (RelaisPolicyStep *step);

typedef struct {
  const char *client_address;   /* "IP" */
  GInetAddress *client_inet;    /* the same, normalized (relais_client_address_normalize); NULL when unknown */
  RelaisPolicyEndpoint endpoint;
  gboolean authenticated;       /* SMTP AUTH succeeded */
  const char *login;            /* the authenticated account's login, NULL when not authenticated */
  gboolean auth_offered;        /* the client could still authenticate: relay refusal is 454 */
  gboolean trusted;             /* the client address is in a trusted network (SPEC §3) */
  const char *trusted_network;  /* that trusted network entry's name, when trusted */
  gboolean local_network;       /* the client address is on a local network (SPEC "Words used") */
  const char *sender;           /* MAIL FROM address, "" for <> (may be NULL at MAIL stage checks) */
  const char *recipient;        /* RCPT TO address ("postmaster" for the bare form) */
  gboolean recipient_is_postmaster; /* RCPT TO:<postmaster> */

  /* Security (SPEC §4.3-4.5) */
  const char *helo;             /* EHLO/HELO argument, NULL before */
  RelaisDnsResult helo_dns;     /* A, AAAA or MX of HELO */
  RelaisDnsResult client_name_dns;   /* PTR of the client address, confirmed forward */
  RelaisDnsResult sender_domain_dns; /* MX, A or AAAA of the sender's domain */
  /* Per client address counters (relais-anvil.h), this connection / message /
   * recipient included. */
  guint connections_now;        /* simultaneous connections */
  guint connections_this_minute;
  guint messages_this_minute;   /* MAIL commands accepted or refused this minute */
  guint nonexistent_recipients; /* 550 5.1.1 answers since local midnight */
  gint64 blocked_until;         /* unix time the nonexistent-account block ends; 0: not blocked */

  GPtrArray *trace;             /* optional out: RelaisPolicyStep* appended for every check consulted */
} RelaisPolicyFacts;

typedef enum {
  RELAIS_VERDICT_CONTINUE,      /* nothing decided (MAIL stage: go on) */
  RELAIS_VERDICT_ACCEPT_LOCAL,  /* a local account owns the recipient */
  RELAIS_VERDICT_ACCEPT_POSTMASTER, /* postmaster / mailer-daemon, for the external administrators */
  RELAIS_VERDICT_ACCEPT_RELAY,  /* relay allowed: authenticated, trusted or local network */
  RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN, /* incoming relay for a relay domain (SPEC §3) */
  RELAIS_VERDICT_REJECT,
  RELAIS_VERDICT_DISCARD,       /* blacklist "discard": answer 250, never deliver, count */
  RELAIS_VERDICT_CLOSE,         /* REJECT, then close the connection (421) */
} RelaisVerdictKind;

typedef struct {
  RelaisVerdictKind kind;
  guint code;                   /* REJECT: reply code */
  const char *enhanced;         /* REJECT: "x.y.z" (static) */
  char *text;                   /* REJECT: reply text */
  const char *reason;           /* REJECT: stable key for statistics and logs (static) */
  char *recipient;              /* ACCEPT_*: the address to queue (bare postmaster gets a domain) */
  const RelaisAccount *account; /* ACCEPT_LOCAL: borrowed from the snapshot */
  char *rule;                   /* RCPT: the rule that decided, for logs and Policy.CanRelay:
                                 * "local-account", "postmaster", "unknown-recipient",
                                 * "bad-recipient", "relay-domain:NAME", "authenticated",
                                 * "trusted-network:NAME", "local-network", "relay-denied";
                                 * NULL where a check sets none; the Security
                                 * checks name themselves "blacklist:NAME",
                                 * "whitelist:NAME", "policy:CHECK", "limit:NAME" */
  const RelaisSecurityRule *whitelist; /* RCPT: the whitelist rule that matched (borrowed from the
                                        * snapshot), for the checks it skips (SPEC §4.1); NULL if none */
} RelaisVerdict;

void relais_verdict_clear (RelaisVerdict *verdict);
gboolean relais_verdict_is_reject (const RelaisVerdict *verdict);

/* A new connection, before the greeting (SPEC §4.4, §4.5): a client address
 * under the nonexistent-account block, over the simultaneous connections or
 * over the connections per minute gets 421 4.7.0 (kind CLOSE). */
void relais_policy_check_connect (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                                  RelaisVerdict *verdict);
/* EHLO/HELO (SPEC §4.5): 504 5.5.2 for a name that is not a FQDN, 450 4.7.1
 * for one without A, AAAA or MX; an IP whitelist rule skips both. */
void relais_policy_check_helo (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                               RelaisVerdict *verdict);
/* After a 550 5.1.1 was counted (SPEC §4.5): past the limit, 421 4.7.0
 * (kind CLOSE) and the caller blocks the address until local midnight. */
void relais_policy_check_nonexistent (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                                      RelaisVerdict *verdict);

/* MAIL FROM: refuses unauthenticated MAIL on the submission endpoints (530
 * 5.7.0), then, when VerifySenderLogin is on, a sender the authenticated
 * account does not own (553 5.7.1, reason "sender-login"). */
void relais_policy_check_mail (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                               RelaisVerdict *verdict);
/* RCPT TO, first firm answer wins (SPEC §1, §3): a local-domain recipient is
 * a local account, postmaster/mailer-daemon, or 550 5.1.1 (never relayed,
 * whatever its local part holds: "%", "!", a quoted "@"); a relay-domain
 * recipient is accepted from anyone; any other recipient is a relay, allowed
 * to authenticated clients, trusted networks, and local networks when
 * SkipAuthForLocalNetworks is on; otherwise 454 4.7.1 when AUTH is offered to
 * the client, else 554 5.7.1. Address literals are never local. */
void relais_policy_check_rcpt (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                               RelaisVerdict *verdict);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RelaisVerdict, relais_verdict_clear)

G_END_DECLS
