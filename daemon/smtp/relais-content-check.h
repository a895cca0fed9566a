/* SPDX-License-Identifier: GPL-3.0-or-later
 * The checks run once per message at the end of DATA, before the queue
 * commit (SPEC §4.2), in this order:
 *   1. for DMARC when SPF gave no answer at RCPT (off, skipped, exempt), an
 *      SPF check of its own, used only for DMARC's alignment;
 *   2. the antivirus: the spool file streamed to clamd (relais-clamd.h); a
 *      virus 554 5.7.0; clamd unreachable or answering ERROR per
 *      AntivirusUnreachable (451 4.7.1 or accepted), logged and counted;
 *   3. in a worker thread bounded in time, DKIM verification (RFC 6376) and
 *      DMARC (RFC 7489): reject 550 5.7.1, a temporary DNS failure 451 4.7.1,
 *      quarantine marked with an X-Relais-Quarantine field; the message comes
 *      back with an Authentication-Results field (RFC 8601) on top, every such
 *      field already there that claims our host name as its authserv-id
 *      removed (§5), and the main thread writes it back to the spool file.
 * A check runs unless every recipient skips it (relais_policy_content_check).
 * The message is the spool file the session has written (our Received-SPF and
 * Received fields first). Counters are counted and lines logged on the main
 * thread. */
#pragma once

#include <gio/gio.h>

#include "relais-config.h"
#include "relais-log.h"
#include "relais-policy.h"
#include "relais-queue.h"
#include "relais-spf.h"
#include "relais-stats.h"

G_BEGIN_DECLS

typedef struct {
  RelaisConfig *config;            /* the transaction's snapshot */
  RelaisStats *stats;
  RelaisLogIds log;                /* the session, client and queue id, for log lines */
  RelaisSpoolWriter *writer;       /* the message; rewritten when fields change. The
                                    * caller writes nothing else until the answer. */
  RelaisPolicyFacts facts;         /* client, HELO, sender, authenticated, trusted, as at RCPT */
  GPtrArray *recipients;           /* of char*: the accepted recipients (whitelist rules) */
  const RelaisSpfAnswer *spf;      /* the SPF answer of RCPT, NULL when not checked */
  const char *spf_identity;        /* "mailfrom" or "helo", with SPF */
  const char *spf_subject;         /* the MAIL FROM address, or the HELO name, with SPF */
} RelaisContentCheckRequest;

/* What the checks decided. */
typedef struct {
  gboolean refuse;                 /* answer CODE ENHANCED TEXT instead of queueing */
  guint code;
  const char *enhanced;            /* static */
  char *text;
  const char *reason;              /* for relais_stats_reject (static) */
  char *rule;                      /* for relais_stats_hit */
} RelaisContentVerdict;

void relais_content_verdict_free (RelaisContentVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisContentVerdict, relais_content_verdict_free)

/* Whether any check has something to do for REQUEST: when FALSE the caller
 * commits at once. */
gboolean relais_content_check_needed (const RelaisContentCheckRequest *request);

/* Runs the checks. REQUEST is copied (its pointers must stay valid until the
 * callback). The callback runs on the caller's main context; a cancellation
 * is the only error. */
void relais_content_check_async (const RelaisContentCheckRequest *request, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
RelaisContentVerdict *relais_content_check_finish (GAsyncResult *result, GError **error);

/* The longest the verification may take before the message is deferred
 * (451 4.7.24), 60 s by default; tests set less. */
void relais_content_check_set_timeout (guint milliseconds);

/* MESSAGE (a header section, CRLF line ends) without the header fields NAME
 * (case-insensitive) whose value starts, after white space and comments, with
 * AUTHSERV_ID (case-insensitive) followed by ';', white space or the end:
 * Authentication-Results fields claiming to be ours (RFC 8601 §5). Only the
 * header section is looked at; the body is copied as is. */
GBytes *relais_content_strip_results (const char *message, gsize length, const char *name,
                                      const char *authserv_id, guint *n_removed);

G_END_DECLS
