/* SPDX-License-Identifier: GPL-3.0-or-later
 * SPF (RFC 7208): check_host() for a client address and a domain (the MAIL
 * FROM domain, or the HELO name for the null sender), and the Received-SPF
 * header value of its result.
 *
 * The evaluation itself is synchronous and asks its DNS questions through a
 * RelaisSpfLookupFunc, so that tests can answer them from a table;
 * relais_spf_check_host_async runs it in a worker thread with the system's
 * resolver (relais-dns-query.h), bounded by an overall timeout (past it the
 * result is temperror) and cancellable (G_IO_ERROR_CANCELLED, the only error).
 * Not wired into the SMTP session yet. */
#pragma once

#include <gio/gio.h>

#include "relais-policy.h"

G_BEGIN_DECLS

typedef enum {
  RELAIS_SPF_NONE,
  RELAIS_SPF_NEUTRAL,
  RELAIS_SPF_PASS,
  RELAIS_SPF_FAIL,
  RELAIS_SPF_SOFTFAIL,
  RELAIS_SPF_TEMPERROR,
  RELAIS_SPF_PERMERROR,
} RelaisSpfResult;

typedef enum {
  RELAIS_SPF_RR_A,
  RELAIS_SPF_RR_AAAA,
  RELAIS_SPF_RR_MX,
  RELAIS_SPF_RR_PTR,
  RELAIS_SPF_RR_TXT,
} RelaisSpfRecordType;

/* Asks for NAME's records of TYPE; on FOUND adds them to RECORDS (GInetAddress
 * for A and AAAA, char * names for MX and PTR, one char * text per TXT record,
 * its strings joined), as relais_dns_query does. Called from the evaluating
 * thread. */
typedef RelaisDnsResult (*RelaisSpfLookupFunc) (const char *name, RelaisSpfRecordType type,
                                                GPtrArray *records, gpointer user_data);

typedef struct _RelaisSpfAnswer {
  RelaisSpfResult result;
  char *domain;        /* the domain checked (lower case) */
  char *mechanism;     /* the mechanism that decided ("ip4:192.0.2.0/24", "-all"), "default" when
                        * none matched, NULL for none, temperror and permerror */
  char *problem;       /* temperror, permerror, none: what went wrong, for a mail administrator */
  char *explanation;   /* fail with an exp= modifier: the domain's explanation, expanded */
} RelaisSpfAnswer;

void             relais_spf_answer_free (RelaisSpfAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisSpfAnswer, relais_spf_answer_free)

/* "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror". */
const char      *relais_spf_result_to_string (RelaisSpfResult result);

/* check_host (RFC 7208 §4) of IP for DOMAIN, SENDER (an address: "l@d", or a
 * bare domain, taken as postmaster@it) and HELO (the EHLO/HELO name, for the
 * %{h} macro; NULL: "unknown"); RECEIVER is our host name for %{r} (NULL:
 * "unknown"). Blocking: every DNS question goes to LOOKUP. An IPv4-mapped
 * IPv6 address is checked as IPv4. Never NULL. */
RelaisSpfAnswer *relais_spf_check_host_sync (RelaisSpfLookupFunc lookup, gpointer lookup_data,
                                             GInetAddress *ip, const char *domain, const char *sender,
                                             const char *helo, const char *receiver);

/* The same in a worker thread, with the system's resolver. */
void             relais_spf_check_host_async (GInetAddress *ip, const char *domain, const char *sender,
                                              const char *helo, const char *receiver,
                                              GCancellable *cancellable, GAsyncReadyCallback callback,
                                              gpointer user_data);
/* The same with LOOKUP (called in the worker thread; LOOKUP_DATA must stay
 * valid until the callback ran and the worker ended: the tests' tables). */
void             relais_spf_check_host_with_lookup_async (RelaisSpfLookupFunc lookup, gpointer lookup_data,
                                                          GInetAddress *ip, const char *domain,
                                                          const char *sender, const char *helo,
                                                          const char *receiver, GCancellable *cancellable,
                                                          GAsyncReadyCallback callback, gpointer user_data);
RelaisSpfAnswer *relais_spf_check_host_finish (GAsyncResult *result, GError **error);

/* The overall timeout of an asynchronous check, 20 s by default (RFC 7208
 * §4.6.4 asks for at least 20 s); 0 restores the default. */
#define RELAIS_SPF_DEFAULT_TIMEOUT_MS 20000
void             relais_spf_set_timeout (guint milliseconds);
guint            relais_spf_get_timeout (void);

/* Macro expansion (RFC 7208 §7) of TEXT, a domain-spec (EXPLANATION FALSE)
 * or an explanation string (TRUE: %{c}, %{r}, %{t} allowed) for the current
 * DOMAIN; the other arguments as for check_host (LOOKUP may be NULL: %{p} is
 * then "unknown"). NULL with RELAIS_ERROR_INVALID_ARGUMENT on a bad macro. */
char            *relais_spf_expand (RelaisSpfLookupFunc lookup, gpointer lookup_data, GInetAddress *ip,
                                    const char *domain, const char *sender, const char *helo,
                                    const char *receiver, const char *text, gboolean explanation,
                                    GError **error);

/* The value of a Received-SPF header (RFC 7208 §9.1) for ANSWER: the result,
 * a comment, then client-ip, envelope-from (SENDER), helo, receiver,
 * identity ("mailfrom" or "helo"), and mechanism or problem when known.
 * Values are quoted when needed; control characters are dropped. */
char            *relais_spf_received_spf (const RelaisSpfAnswer *answer, GInetAddress *ip,
                                          const char *sender, const char *helo, const char *identity,
                                          const char *receiver);

G_END_DECLS
