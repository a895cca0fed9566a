/* SPDX-License-Identifier: GPL-3.0-or-later
 * The audit trail of administration: every change applied over D-Bus is
 * logged (one line) and kept in the store's audit table with its time
 * (relais_clock_now()), the caller's unix uid (learnt by relais-authority.c)
 * and bus name, the interface and method, the setting or item, and its old
 * and new value as text. Secrets never: passwords show as "(hidden)" and
 * "changed", DKIM private keys not at all. The table keeps 365 days and at
 * most 100000 rows. Also org.relais.Relais1.Audit.List, which reads it. */
#pragma once

#include <gio/gio.h>

#include "relais-authority.h"
#include "relais-config.h"
#include "relais-dbus-generated.h"
#include "relais-store.h"

G_BEGIN_DECLS

/* How long rows are kept, and how many at most (the oldest go first). */
#define RELAIS_AUDIT_MAX_AGE_DAYS 365
#define RELAIS_AUDIT_MAX_ROWS     100000
/* The most entries one List call returns. */
#define RELAIS_AUDIT_MAX_LIST     10000

typedef struct _RelaisAudit RelaisAudit;

/* STORE and AUTHORITY are borrowed and must outlive the audit. */
RelaisAudit      *relais_audit_new (RelaisStore *store, RelaisAuthority *authority);
void              relais_audit_free (RelaisAudit *audit);

/* The org.relais.Relais1.Audit skeleton (borrowed), for the daemon to export. */
RelaisAuditTrail *relais_audit_get_skeleton (RelaisAudit *audit);

/* Records that the call INVOCATION changed NAME from OLD_VALUE to NEW_VALUE
 * (text; NULL or "" for none: an item added or removed). */
void              relais_audit_record (RelaisAudit *audit, GDBusMethodInvocation *invocation, const char *name,
                                       const char *old_value, const char *new_value);

/* Records what the call INVOCATION changed on its interface: BEFORE and AFTER
 * are that interface's properties (a{sv}) around the change. A setting that
 * differs is one entry under its property name; in a collection (an array of
 * tuples keyed by their first member) each item added, removed or changed is
 * one entry "Property[key]", a change of order only one entry with the keys
 * in order, and more than 20 item changes at once one entry with the counts.
 * The secrets of OLD and NEXT (account and relay passwords) are compared, and
 * a change recorded as "(hidden)" and "changed", never shown. */
void              relais_audit_record_change (RelaisAudit *audit, GDBusMethodInvocation *invocation,
                                              GVariant *before, GVariant *after, const RelaisConfig *old,
                                              const RelaisConfig *next);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAudit, relais_audit_free)

G_END_DECLS
