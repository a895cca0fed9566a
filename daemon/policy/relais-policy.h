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

typedef struct {
  const char *client_address;   /* "IP" */
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
} RelaisPolicyFacts;

typedef enum {
  RELAIS_VERDICT_CONTINUE,      /* nothing decided (MAIL stage: go on) */
  RELAIS_VERDICT_ACCEPT_LOCAL,  /* a local account owns the recipient */
  RELAIS_VERDICT_ACCEPT_POSTMASTER, /* postmaster / mailer-daemon, for the external administrators */
  RELAIS_VERDICT_ACCEPT_RELAY,  /* relay allowed: authenticated, trusted or local network */
  RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN, /* incoming relay for a relay domain (SPEC §3) */
  RELAIS_VERDICT_REJECT,
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
                                 * NULL where a check sets none */
} RelaisVerdict;

void relais_verdict_clear (RelaisVerdict *verdict);
gboolean relais_verdict_is_reject (const RelaisVerdict *verdict);

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
