/* SPDX-License-Identifier: GPL-3.0-or-later
 * The DNS facts the policy reads (SPEC §4.3-4.5), looked up without blocking
 * the main loop: does a name have MX, A or AAAA records (HELO, sender domain),
 * and does the client address have a PTR name that resolves back to it.
 * Answers are RelaisDnsResult (relais-policy.h), which tells a name that does
 * not exist (NXDOMAIN) from a name without the records asked for, and both
 * from a temporary failure (SERVFAIL, timeout, no server), which must give 4xx.
 *
 * Each check runs in a worker thread, completes on the caller's thread-default
 * main context, and is bounded by a timeout (relais_dns_check_set_timeout; past
 * it the answer is TEMPFAIL). Cancelling gives G_IO_ERROR_CANCELLED; that is
 * the only error. */
#pragma once

#include <gio/gio.h>

#include "relais-policy.h"

G_BEGIN_DECLS

typedef enum {
  RELAIS_DNS_CHECK_MX   = 1 << 0,
  RELAIS_DNS_CHECK_A    = 1 << 1,
  RELAIS_DNS_CHECK_AAAA = 1 << 2,
} RelaisDnsCheckFlags;

#define RELAIS_DNS_CHECK_ANY (RELAIS_DNS_CHECK_MX | RELAIS_DNS_CHECK_A | RELAIS_DNS_CHECK_AAAA)

/* The whole-check timeout, 10 s by default; 0 restores the default. Main
 * thread; applies to checks started afterwards. */
#define RELAIS_DNS_CHECK_DEFAULT_TIMEOUT_MS 10000
void  relais_dns_check_set_timeout (guint milliseconds);
guint relais_dns_check_get_timeout (void);

/* Whether NAME has any of the record types in FLAGS: FOUND if one has an
 * answer; otherwise NXDOMAIN if the name does not exist; TEMPFAIL if a lookup
 * failed; NO_RECORDS when the name exists without them. NAME may be
 * internationalized (asked in its ASCII form) and end with a dot; one that
 * cannot be a host name ("a..b", "[192.0.2.1]", an IP address) is NXDOMAIN
 * without a lookup. */
void            relais_dns_check_host_async (const char *name, RelaisDnsCheckFlags flags,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
RelaisDnsResult relais_dns_check_host_finish (GAsyncResult *result, GError **error);

/* Whether ADDRESS has a confirmed name (forward-confirmed reverse DNS): FOUND
 * when one of its PTR names (the first 10) has an A (IPv4) or AAAA (IPv6)
 * record equal to ADDRESS, that name in CONFIRMED_NAME (lower case, no
 * trailing dot; NULL otherwise); NXDOMAIN when the PTR lookup said the
 * reverse name does not exist; NO_RECORDS when there is no PTR record or no
 * PTR name resolves back; TEMPFAIL when a lookup failed and nothing was
 * confirmed. An IPv4-mapped IPv6 address is checked as IPv4. */
void            relais_dns_check_client_name_async (GInetAddress *address, GCancellable *cancellable,
                                                    GAsyncReadyCallback callback, gpointer user_data);
RelaisDnsResult relais_dns_check_client_name_finish (GAsyncResult *result, char **confirmed_name,
                                                     GError **error);

/* Whether CLIENT is listed in the DNSBL ZONES (of RelaisDnsblZone*,
 * relais-dnsbl.h; referenced until done), asked in parallel, an A query of
 * relais_dnsbl_query_name() each, its own timeout each: FOUND when a zone
 * answers an address its filter counts, that zone (the first in ZONES' order)
 * in ZONE; TEMPFAIL when none lists the client and a zone's lookup failed,
 * that zone in ZONE; otherwise NO_RECORDS (NXDOMAIN, or answers outside the
 * filter), ZONE NULL. An IPv4-mapped IPv6 client is asked as IPv4. */
void            relais_dns_check_dnsbl_async (GInetAddress *client, GPtrArray *zones, GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
RelaisDnsResult relais_dns_check_dnsbl_finish (GAsyncResult *result, char **zone, GError **error);
/* NAME's TXT records, each one's strings joined, added to RECORDS (strings).
 * Blocking (one query, bounded by the resolver's own timeout): for worker
 * threads only. FOUND, NXDOMAIN, NO_RECORDS or TEMPFAIL as above. */
RelaisDnsResult relais_dns_lookup_txt (const char *name, GPtrArray *records);

/* "found", "nxdomain", "no-records", "tempfail", "unchecked": for logs and traces. */
const char     *relais_dns_result_to_string (RelaisDnsResult result);

G_END_DECLS
