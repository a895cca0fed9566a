/* SPDX-License-Identifier: GPL-3.0-or-later
 * The policy trace (SPEC §6) behind Policy.Explain and Policy.CanRelay: an
 * envelope (client, HELO, login, sender, recipients) runs through the same
 * policy stages as an SMTP session (connect, HELO, MAIL, each RCPT with the
 * nonexistent-account block), with the snapshot current at the start, the
 * client's networks, the per-address counters as the next connection would
 * see them (relais_anvil_peek) and real DNS lookups wherever a stage answers
 * LOOKUP, done asynchronously on the caller's main context. Every check
 * consulted is kept as a step. Nothing is sent, counted or changed.
 * Main thread only. */
#pragma once

#include <gio/gio.h>

#include "relais-policy.h"
#include "relais-services.h"

G_BEGIN_DECLS

typedef struct {
  char *given;                  /* as the caller wrote it */
  char *address;                /* as RCPT TO parsed it ("postmaster" for the bare form) */
  gboolean is_postmaster;
} RelaisExplainRecipient;

typedef struct {
  char *client_address;         /* the address as text, normalized */
  GInetAddress *client_inet;    /* the same */
  RelaisPolicyEndpoint endpoint;
  char *login;                  /* the authenticated account; NULL: not authenticated */
  char *helo;                   /* the EHLO name; NULL: no HELO stage */
  char *sender;                 /* as MAIL FROM parsed it, "" for <>; NULL: no MAIL stage */
  GPtrArray *recipients;        /* RelaisExplainRecipient*, in order; only with a sender */
} RelaisExplainEnvelope;

RelaisExplainEnvelope *relais_explain_envelope_new (void);
void                   relais_explain_envelope_free (RelaisExplainEnvelope *envelope);

/* Each setter takes the text a client would send and keeps it as the session
 * would see it; FALSE when it cannot be (nothing changed then). */
gboolean relais_explain_envelope_set_client (RelaisExplainEnvelope *envelope, const char *address);
/* *REPLY on failure: the SMTP reply the client would get, e.g. "501 5.1.7 Bad sender address syntax". */
gboolean relais_explain_envelope_set_sender (RelaisExplainEnvelope *envelope, const char *sender, char **reply);
gboolean relais_explain_envelope_add_recipient (RelaisExplainEnvelope *envelope, const char *recipient,
                                                char **reply);

/* Policy.Explain's a{sv} (documented in dbus/org.relais.Relais1.xml), with
 * CONFIG for the login check; NULL and InvalidArgument naming the key. */
RelaisExplainEnvelope *relais_explain_envelope_from_variant (GVariant *envelope, const RelaisConfig *config,
                                                             GError **error);

/* One decision: of the whole envelope, or of one recipient. */
typedef struct {
  char *address;                /* recipients only: as given */
  char *decision;               /* "accept", "reject", "defer", "discard", "close" */
  char *decided_by;             /* the rule or check that decided, "" when none did */
  char *reply;                  /* "250 2.1.5 Ok", "554 5.7.1 Access denied" */
} RelaisExplainOutcome;

typedef struct {
  char *stage;                  /* "connect", "helo", "mail", "rcpt ADDRESS" */
  RelaisPolicyStep step;
} RelaisExplainStep;

typedef struct {
  RelaisExplainOutcome outcome; /* the first refusal, else the first recipient's answer */
  GPtrArray *steps;             /* RelaisExplainStep*, in order */
  GPtrArray *recipients;        /* RelaisExplainOutcome*, the recipients that were reached */
} RelaisExplainResult;

void relais_explain_result_free (RelaisExplainResult *result);
/* Whether OUTCOME lets the message through for it: accept, or discard (the client is told 250). */
gboolean relais_explain_outcome_allowed (const RelaisExplainOutcome *outcome);
/* The a{sv} of Policy.Explain: Decision, Reply, DecidedBy, Steps, Recipients. */
GVariant *relais_explain_result_to_variant (const RelaisExplainResult *result);

/* Runs ENVELOPE (taken) with what SERVICES holds now (the snapshot, the local
 * networks, the anvil's counters, whether TLS and so AUTH can be offered).
 * Cancelling CANCELLABLE stops a DNS lookup under way: the call then fails
 * with G_IO_ERROR_CANCELLED and a message naming the lookup. */
void                 relais_explain_async (RelaisServices *services, RelaisExplainEnvelope *envelope,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
RelaisExplainResult *relais_explain_finish (GAsyncResult *result, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisExplainEnvelope, relais_explain_envelope_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisExplainResult, relais_explain_result_free)

G_END_DECLS
