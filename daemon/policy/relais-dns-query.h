/* SPDX-License-Identifier: GPL-3.0-or-later
 * One blocking DNS query through glibc's resolver (res_nmkquery, res_nsend,
 * ns_initparse), shared by the policy's DNS checks (relais-dns-check.c) and
 * the SPF evaluator (relais-spf.c). For worker threads only: it blocks for up
 * to the resolver's own timeout. Only DNS is asked, never /etc/hosts.
 *
 * The answer tells a name that does not exist (NXDOMAIN) from a name without
 * records of the type asked (NO_RECORDS) and both from a failed lookup
 * (TEMPFAIL: SERVFAIL, no answer, a malformed answer). */
#pragma once

#include <gio/gio.h>
#include <resolv.h>

#include "relais-policy.h"

G_BEGIN_DECLS

/* Reads /etc/resolv.conf into STATE; FALSE (logged at debug level) when it
 * cannot. Close with res_nclose. */
gboolean        relais_dns_resolver_open (struct __res_state *state);

/* Asks the DNS for NAME's records of TYPE (ns_t_a, ns_t_aaaa, ns_t_mx,
 * ns_t_ptr, ns_t_txt). On FOUND, each answer of that type is added to RECORDS
 * (when not NULL): a GInetAddress for A and AAAA; the name (lower case, no
 * trailing dot) for PTR and MX (a null MX "." is left out); the strings of a
 * TXT record joined together, as one char *. A name the DNS cannot hold is
 * NXDOMAIN without a query. */
RelaisDnsResult relais_dns_query (res_state state, const char *name, int type, GPtrArray *records);

/* The part of relais_dns_query that reads the answer: ANSWER (LENGTH bytes,
 * any bytes at all: it comes from the network) read as the reply to a question
 * for NAME (for log lines only) of TYPE, with the same results and RECORDS.
 * Malformed: TEMPFAIL. */
RelaisDnsResult relais_dns_parse_answer (const guchar *answer, gsize length, const char *name, int type,
                                         GPtrArray *records);

/* Makes the answer given when a bounded lookup runs out of time. */
typedef gpointer (*RelaisDnsTimeoutFunc) (gpointer timeout_data);

/* Runs WORKER in a thread with WORKER_DATA (freed with WORKER_DATA_FREE) and
 * completes TASK (made by the caller: its cancellable, callback and source
 * tag; this takes its reference and sets its task data) on TASK's context:
 * with the worker's pointer (freed with RESULT_FREE); after TIMEOUT_MS, unless
 * the caller cancelled, with ON_TIMEOUT (TIMEOUT_DATA)'s pointer (the worker
 * is cancelled and left to end on its own); when the caller cancels, with
 * G_IO_ERROR_CANCELLED. TIMEOUT_DATA is freed with TIMEOUT_DATA_FREE. */
void relais_dns_run_bounded (GTask *task, GTaskThreadFunc worker, gpointer worker_data,
                             GDestroyNotify worker_data_free, guint timeout_ms, RelaisDnsTimeoutFunc on_timeout,
                             gpointer timeout_data, GDestroyNotify timeout_data_free, GDestroyNotify result_free);

G_END_DECLS
