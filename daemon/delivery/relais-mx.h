/* SPDX-License-Identifier: GPL-3.0-or-later
 * Where mail for a domain goes (RFC 5321 §5.1, RFC 7505): its MX hosts in
 * preference order, equal preferences shuffled; without MX records the domain
 * itself (implicit MX) when it has an address; a null MX refuses mail; hosts
 * from our own name's preference on are dropped so mail never loops back to
 * us. Lookups go through GIO's resolver (glibc, /etc/resolv.conf). Every
 * error message starts with the enhanced status code to report. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAIS_MX_ERROR (relais_mx_error_quark ())
GQuark relais_mx_error_quark (void);

typedef enum {
  RELAIS_MX_ERROR_TEMPORARY,      /* 4.4.3: DNS failed for now (SERVFAIL, timeout) */
  RELAIS_MX_ERROR_NULL_MX,        /* 5.1.10: the domain publishes a null MX */
  RELAIS_MX_ERROR_NO_MAIL_HOST,   /* 5.1.2: no such domain, or no MX and no address */
  RELAIS_MX_ERROR_LOOP,           /* 5.4.6: we are the best MX */
  RELAIS_MX_ERROR_INVALID,        /* 5.1.2: not a valid domain */
} RelaisMxError;

typedef struct {
  char *host;            /* DNS name, or an IP address for a domain literal */
  guint16 preference;
  gboolean implicit;     /* no MX record: the domain itself */
} RelaisMxHost;

RelaisMxHost *relais_mx_host_new (const char *host, guint16 preference, gboolean implicit);
void          relais_mx_host_free (RelaisMxHost *mx);

/* Orders the MX RECORDS of DOMAIN (RelaisMxHost*, taken) for trying: by
 * preference, equal ones in random order (RAND, NULL for GLib's global one),
 * a null MX recognized, our own name and everything not better than it
 * dropped. NULL + RELAIS_MX_ERROR when nothing is left to try. */
GPtrArray    *relais_mx_order (GPtrArray *records, const char *domain, const char *our_hostname,
                               GRand *rand, GError **error);

void          relais_mx_resolve_async (GResolver *resolver, const char *domain, const char *our_hostname,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
/* Of RelaisMxHost*, in the order to try. */
GPtrArray    *relais_mx_resolve_finish (GAsyncResult *result, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisMxHost, relais_mx_host_free)

G_END_DECLS
