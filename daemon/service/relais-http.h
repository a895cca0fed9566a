/* SPDX-License-Identifier: GPL-3.0-or-later
 * The built-in HTTP endpoint (libsoup): GET /metrics, the statistics as
 * Prometheus text, from the same counters as the D-Bus Statistics interface;
 * GET /healthz, whether the store, the spool and the SMTP listeners work.
 * Off unless --http-listen is given; loopback only, unless a bearer token
 * guards it; HTTPS with --http-tls-cert/--http-tls-key. */
#pragma once

#include <gio/gio.h>

#include "relais-listener.h"
#include "relais-stats.h"
#include "relais-store.h"

G_BEGIN_DECLS

typedef struct {
  GStrv listen;              /* ADDR:PORT, as --listen; none: no HTTP endpoint */
  char *tls_cert;            /* PEM files: HTTPS; both or neither */
  char *tls_key;
  char *token_file;          /* holds the bearer token every request must present */
} RelaisHttpOptions;

void        relais_http_options_clear (RelaisHttpOptions *options);
/* Checks the options alone (syntax, pairs, a token for non-loopback
 * addresses), with an error that names the option. */
gboolean    relais_http_options_check (const RelaisHttpOptions *options, GError **error);

typedef struct _RelaisHttp RelaisHttp;

/* Reads the token and the certificate and binds every address (OPTIONS must
 * have passed relais_http_options_check() and name at least one). STATS,
 * STORE and LISTENER are borrowed and must outlive the endpoint; the spool
 * checked is STATE_DIR's. Requests are answered from the main loop. */
RelaisHttp *relais_http_new (const RelaisHttpOptions *options, RelaisStats *stats, RelaisStore *store,
                             RelaisListener *listener, const char *state_dir, GError **error);
void        relais_http_free (RelaisHttp *http);

/* The /metrics body at NOW (Unix seconds): text exposition format 0.0.4. */
char       *relais_http_metrics_text (RelaisStats *stats, gint64 now);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisHttp, relais_http_free)

G_END_DECLS
