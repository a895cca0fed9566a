/* SPDX-License-Identifier: GPL-3.0-or-later
 * Policy decisions as pure functions: a config snapshot and the facts of one
 * SMTP stage in, a verdict out. No I/O, no logging, no state: the session, the
 * statistics and (later) the D-Bus policy trace all call the same functions,
 * and tests drive them with tables (tests/unit/policy/). Reasons are short
 * stable keys, counted as is by relais_stats_reject(); rules name what
 * decided, for logs and hit counters. DNS facts are gathered by the caller
 * when a stage answers RELAIS_VERDICT_LOOKUP. */
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
  char *answer;                 /* what it found, for a person: "no match", "rule 'spam' (sender ...)";
                                 * "off" for a check turned off, "skipped: whitelist rule 'NAME'" */
  gboolean decided;             /* this check gave the verdict */
} RelaisPolicyStep;

void relais_policy_step_free (RelaisPolicyStep *step);
/* An empty trace for RelaisPolicyFacts.trace (frees its steps). */
GPtrArray *relais_policy_trace_new (void);

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
  RelaisDnsResult dnsbl_dns;    /* the client in the DNSBL zones (relais_dns_check_dnsbl_async): FOUND
                                 * listed in dnsbl_zone; TEMPFAIL dnsbl_zone failed, none listed;
                                 * NO_RECORDS (or NXDOMAIN) listed nowhere */
  const char *dnsbl_zone;       /* FOUND, TEMPFAIL: the zone */
  const struct _RelaisSpfAnswer *spf; /* SPF (relais-spf.h) of the sender, or of the HELO name for
                                 * the null sender; NULL: not looked up yet */
  /* Per client address counters (relais-anvil.h), this connection / message /
   * recipient included. */
  guint connections_now;        /* simultaneous connections */
  guint connections_this_minute;
  guint messages_this_minute;   /* MAIL commands accepted or refused this minute */
  guint nonexistent_recipients; /* 550 5.1.1 answers since local midnight */
  gint64 blocked_until;         /* unix time the nonexistent-account block ends; 0: not blocked */

  /* Optional out (relais_policy_trace_new): a RelaisPolicyStep appended for
   * every check a stage consults, in order; NULL: no trace, no allocation.
   * A LOOKUP verdict leaves the trace as it was before the call. */
  GPtrArray *trace;
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
  RELAIS_VERDICT_LOOKUP,        /* a check that is on and applies needs a DNS fact still
                                 * RELAIS_DNS_UNCHECKED (verdict->lookup): look it up, fill
                                 * the fact, call the same stage again */
} RelaisVerdictKind;

/* The DNS fact a LOOKUP verdict asks for. */
typedef enum {
  RELAIS_POLICY_LOOKUP_NONE = 0,
  RELAIS_POLICY_LOOKUP_HELO,          /* helo_dns: A, AAAA or MX of facts->helo */
  RELAIS_POLICY_LOOKUP_CLIENT_NAME,   /* client_name_dns: PTR of the client, confirmed forward */
  RELAIS_POLICY_LOOKUP_SENDER_DOMAIN, /* sender_domain_dns: MX, A or AAAA of the sender's domain */
  RELAIS_POLICY_LOOKUP_DNSBL,         /* dnsbl_dns, dnsbl_zone: the client in config->dnsbl_zones */
  RELAIS_POLICY_LOOKUP_SPF,           /* spf: check_host of the client for the sender's domain,
                                       * or for the HELO name when the sender is null */
} RelaisPolicyLookup;

typedef struct {
  RelaisVerdictKind kind;
  guint code;                   /* REJECT, CLOSE: reply code */
  const char *enhanced;         /* REJECT, CLOSE: "x.y.z" (static) */
  char *text;                   /* REJECT, CLOSE: reply text */
  const char *reason;           /* REJECT, CLOSE: stable key for statistics and logs (static);
                                 * DISCARD: "blacklist", for the logs (not a rejection) */
  char *recipient;              /* ACCEPT_*, DISCARD: the address to queue (bare postmaster gets
                                 * a domain); DISCARD: the one the acceptance would have queued */
  const RelaisAccount *account; /* ACCEPT_LOCAL (and DISCARD of a local recipient): borrowed from the snapshot */
  char *rule;                   /* RCPT: the rule that decided, for logs and Policy.CanRelay:
                                 * "local-account", "postmaster", "unknown-recipient",
                                 * "bad-recipient", "relay-domain:NAME", "authenticated",
                                 * "trusted-network:NAME", "local-network", "relay-denied";
                                 * NULL where a check sets none; the Security
                                 * checks name themselves "blacklist:NAME",
                                 * "whitelist:NAME", "policy:CHECK", "limit:NAME" */
  const RelaisSecurityRule *whitelist; /* the whitelist rule that matched (borrowed from the
                                        * snapshot), for the checks it skips (SPEC §4.1); NULL if
                                        * none. RCPT: the first (in the configured order) matching
                                        * the client, the sender, its domain or the recipient; the
                                        * other stages: an IP rule matching the client. verdict->rule
                                        * is "whitelist:NAME" only where it changed the answer:
                                        * it overrode a blacklist rule, or an IP rule NAME skipped a
                                        * check that would have refused */
  RelaisPolicyLookup lookup;    /* LOOKUP: the fact to gather */
} RelaisVerdict;

void relais_verdict_clear (RelaisVerdict *verdict);
/* REJECT or CLOSE: answer verdict->code (CLOSE: then close the connection). */
gboolean relais_verdict_is_reject (const RelaisVerdict *verdict);

/* Every stage: first firm answer wins; a check that is on, applies and finds
 * its DNS fact RELAIS_DNS_UNCHECKED answers LOOKUP (a check that is off or
 * skipped never asks); a DNS TEMPFAIL always gives 4xx. "Skipped by an IP
 * whitelist rule" means a whitelist rule of type IP (not subnet) matching
 * client_inet (SPEC §4.1). VERDICT is overwritten (cleared first by the caller
 * if it held anything). Reasons / rules below are "reason" / verdict->rule. */

/* A new connection, before the greeting (SPEC §4.4, §4.5), kind CLOSE 421 4.7.0:
 * blocked_until > 0 while BlockNonexistentRecipients is on and no IP whitelist
 * rule matches ("nonexistent-block" / "policy:nonexistent-block"); then
 * connections_now > MaxConnections ("connection-limit" / "limit:connections");
 * then connections_this_minute > MaxConnectionsPerMinute ("connection-rate" /
 * "limit:connection-rate"). Otherwise CONTINUE. */
void relais_policy_check_connect (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                                  RelaisVerdict *verdict);
/* The HELO name (SPEC §4.5); the session asks at each MAIL FROM, once it
 * knows whether the client authenticated, and refuses MAIL with this reply
 * (as Postfix's delayed rejection does). Both checks are skipped by an IP
 * whitelist rule, for an authenticated client and for a trusted network
 * (the same exemption as the client-hostname check): RejectNonFqdnHelo:
 * a name that is neither a FQDN nor an address literal, 504 5.5.2
 * ("non-fqdn-helo"); RejectUnknownHelo (names only; asks for
 * RELAIS_POLICY_LOOKUP_HELO): NXDOMAIN or NO_RECORDS 450 4.7.1 "Host not
 * found", TEMPFAIL 450 4.7.1 ("unknown-helo"); a name that is not even valid
 * DNS syntax is not found without a lookup. Otherwise CONTINUE. */
void relais_policy_check_helo (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                               RelaisVerdict *verdict);
/* After a 550 5.1.1 was counted (SPEC §4.5): with BlockNonexistentRecipients
 * on, no IP whitelist rule, nonexistent_recipients > MaxNonexistentRecipients:
 * CLOSE 421 4.7.0 ("nonexistent-block") and the caller blocks the address
 * until local midnight. Otherwise CONTINUE. */
void relais_policy_check_nonexistent (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                                      RelaisVerdict *verdict);

/* MAIL FROM: refuses unauthenticated MAIL on the submission endpoints (530
 * 5.7.0, "auth-required"), then, when VerifySenderLogin is on, a sender the
 * authenticated account does not own (553 5.7.1, "sender-login"); then
 * LimitMessageRate: messages_this_minute > MaxMessagesPerMinute, 450 4.7.0
 * ("message-rate" / "limit:message-rate"); then, both skipped by an IP
 * whitelist rule, RejectUnknownClientHostname (also skipped for an
 * authenticated client and a trusted network; asks for
 * RELAIS_POLICY_LOOKUP_CLIENT_NAME): NXDOMAIN 550 5.7.25, NO_RECORDS or
 * TEMPFAIL 450 4.7.25 ("unknown-client-hostname"), and RejectNonFqdnSender: a
 * non-null sender without a domain or whose domain is neither a FQDN nor an
 * address literal, 504 5.5.2 ("non-fqdn-sender"); a NULL sender is not
 * checked. Otherwise CONTINUE. */
void relais_policy_check_mail (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                               RelaisVerdict *verdict);
/* RCPT TO, first firm answer wins (SPEC §1, §3, §4.1, §4.3). First relay
 * control, which no whitelist skips: a local-domain recipient is a local
 * account, postmaster/mailer-daemon, or 550 5.1.1 (never relayed, whatever
 * its local part holds: "%", "!", a quoted "@"); a relay-domain recipient is
 * accepted from anyone; any other recipient is a relay, allowed to
 * authenticated clients, trusted networks, and local networks when
 * SkipAuthForLocalNetworks is on; otherwise 454 4.7.1 when AUTH is offered to
 * the client, else 554 5.7.1. Address literals are never local. A refusal
 * there stands. Then the black/white rules: the first whitelist rule matching
 * the client, the sender, its domain or the recipient sets
 * verdict->whitelist and overrides the blacklist; without one, the first
 * blacklist rule matching the client, the sender or the recipient gives 554
 * 5.7.1 "Access denied" ("blacklist") or DISCARD, rule "blacklist:NAME".
 * Then Dnsbl (SPEC §4.2; asks for RELAIS_POLICY_LOOKUP_DNSBL; skipped by a
 * whitelist rule of type IP or IP/subnet matching the client, for an
 * authenticated client and for a trusted network): listed 554 5.7.1
 * "Service unavailable; client [IP] blocked using ZONE" (rule "dnsbl:ZONE"),
 * a failed lookup 451 4.7.1 (rule "dnsbl-tempfail:ZONE"), reason "dnsbl".
 * Then Spf (RFC 7208; asks for RELAIS_POLICY_LOOKUP_SPF; skipped by a
 * whitelist rule that skips SPF for the client, the sender or this recipient,
 * for an authenticated client and for a trusted network): fail 550 5.7.23
 * with the domain's explanation or our own text (rule "spf:fail"), temperror
 * 451 4.7.24 (rule "spf:temperror"), reason "spf"; every other result goes on.
 * Then RejectUnknownSenderDomain (skipped by an IP whitelist rule; not for
 * the null sender, an address literal, or a recipient accepted as a local
 * account or postmaster; asks for RELAIS_POLICY_LOOKUP_SENDER_DOMAIN):
 * NXDOMAIN or NO_RECORDS 550 5.1.8, TEMPFAIL 450 4.1.8
 * ("unknown-sender-domain"). */
void relais_policy_check_rcpt (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                               RelaisVerdict *verdict);

/* The checks done once per message at the end of DATA (antivirus, DKIM,
 * DMARC), for one recipient of the message. */
typedef enum {
  RELAIS_CONTENT_CHECK_RUN,         /* on and applies */
  RELAIS_CONTENT_CHECK_OFF,         /* its setting is off */
  RELAIS_CONTENT_CHECK_EXEMPT,      /* DKIM, DMARC: authenticated client or trusted network
                                     * (its own mail, like SPF); the antivirus has no exemption */
  RELAIS_CONTENT_CHECK_WHITELISTED, /* a whitelist rule matching the client, the sender or
                                     * RECIPIENT skips it (SPEC §4.1 table): *WHITE */
} RelaisContentCheckState;

/* Whether CHECK (RELAIS_SKIP_ANTIVIRUS, RELAIS_SKIP_DKIM or RELAIS_SKIP_DMARC)
 * runs for RECIPIENT; WHITE (may be NULL) gets the skipping rule. The session
 * runs a check on a message unless it is skipped for every recipient (a
 * whitelisted recipient must not let a virus through to the others). The
 * RCPT stage shows the answer as a trace step ("antivirus", "dkim", "dmarc":
 * "at the end of DATA", "off", "skipped: ..."), never deciding. */
RelaisContentCheckState relais_policy_content_check (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                                                     const char *recipient, guint check,
                                                     const RelaisSecurityRule **white);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RelaisVerdict, relais_verdict_clear)

G_END_DECLS
