/* SPDX-License-Identifier: GPL-3.0-or-later
 * Certificates and GnuTLS details in one place. relais_tls_load_or_create()
 * loads CERT_FILE/KEY_FILE, or when both are NULL uses STATE/tls/{cert,key}.pem,
 * generating a self-signed certificate for HOSTNAME there at first start
 * (RSA 2048 / ECDSA P-256 with GnuTLS, key file 0600). A pair whose key does
 * not match its certificate is refused (relaisd keeps its old one on SIGHUP). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

GTlsCertificate *relais_tls_load_or_create (const char *state_dir, const char *cert_file,
                                            const char *key_file, const char *hostname,
                                            GError **error);

G_END_DECLS
