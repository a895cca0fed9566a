/* SPDX-License-Identifier: GPL-3.0-or-later
 * The only polkit caller. One table maps "Interface.Method" to a polkit action;
 * a method missing from the table is denied (default deny). On the session bus
 * (development, tests) the bus already restricts callers to its owner and
 * polkit is not asked.
 *
 * Ownership: the method handler owns one reference to the invocation, which
 * is consumed by whoever answers it: the refusal here, or FUNC (which may
 * answer later, asynchronously). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _RelaisAuthority RelaisAuthority;

/* Called on the main thread once the caller is authorized. On refusal the
 * invocation has already been answered with org.relais.Relais1.Error.PermissionDenied. */
typedef void (*RelaisAuthorizedFunc) (GDBusMethodInvocation *invocation, gpointer user_data);

RelaisAuthority *relais_authority_new (gboolean use_polkit);
void             relais_authority_free (RelaisAuthority *authority);

/* The action id for a method, or NULL when none is mapped (denied). */
const char      *relais_authority_action_for (const char *interface_name, const char *method_name);

/* Checks INVOCATION's caller against the method's action; calls FUNC (with
 * USER_DATA, freed with DESTROY afterwards either way) when authorized. */
void             relais_authority_check (RelaisAuthority *authority, GDBusMethodInvocation *invocation,
                                         gboolean interactive, RelaisAuthorizedFunc func,
                                         gpointer user_data, GDestroyNotify destroy);

/* The caller's unix uid, which relais_authority_check() learnt from the bus
 * before calling FUNC; FALSE for an invocation it did not check. */
gboolean         relais_authority_get_caller_uid (GDBusMethodInvocation *invocation, guint32 *uid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAuthority, relais_authority_free)

G_END_DECLS
