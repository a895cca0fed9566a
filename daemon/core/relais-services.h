/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the SMTP side and delivery need from the daemon, in one borrowed struct.
 * CONFIG is the current snapshot: the daemon swaps it (unref old, store new) on
 * every change; a session that must keep one takes its own reference. NETWORKS
 * is swapped the same way when the host's interfaces change. Main thread only. */
#pragma once

#include <gio/gio.h>

#include "relais-config.h"
#include "relais-networks.h"
#include "relais-stats.h"

G_BEGIN_DECLS

typedef struct _RelaisQueue RelaisQueue;
typedef struct _RelaisAuthGuard RelaisAuthGuard;
typedef struct _RelaisAnvil RelaisAnvil;

typedef struct {
  RelaisConfig *config;
  RelaisStats *stats;
  RelaisQueue *queue;
  GTlsCertificate *tls_certificate;   /* NULL: STARTTLS not offered */
  RelaisAuthGuard *auth_guard;        /* SMTP AUTH failures per client address; NULL: not limited */
  RelaisNetworks *networks;           /* the local networks now; swapped like CONFIG; never NULL once started */
  RelaisAnvil *anvil;                 /* per client address counters (SPEC §4.4, §4.5); NULL: none kept */
} RelaisServices;

static inline RelaisConfig *
relais_services_get_config (RelaisServices *services)
{
  return relais_config_ref (services->config);
}

G_END_DECLS
