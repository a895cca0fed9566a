/* SPDX-License-Identifier: GPL-3.0-or-later
 * The root object: opens the store, loads the configuration, prepares TLS,
 * recovers the queue, binds the listeners, exports the D-Bus objects and claims
 * the bus name last. It owns the current configuration snapshot: every change
 * goes through relais_daemon_publish_config(), which swaps the snapshot and
 * refreshes the D-Bus properties. */
#pragma once

#include <gio/gio.h>

#include "relais-audit.h"
#include "relais-authority.h"
#include "relais-config.h"
#include "relais-http.h"
#include "relais-services.h"
#include "relais-stats-history.h"
#include "relais-store.h"

G_BEGIN_DECLS

typedef struct {
  gboolean session_bus;
  char *state_dir;
  GStrv listen;              /* SMTP (25) endpoints */
  GStrv submission_listen;   /* 587 */
  GStrv smtps_listen;        /* 465 */
  char *tls_cert;
  char *tls_key;
  RelaisHttpOptions http;    /* the /metrics and /healthz endpoint */
} RelaisDaemonOptions;

void relais_daemon_options_clear (RelaisDaemonOptions *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RelaisDaemonOptions, relais_daemon_options_clear)

typedef struct _RelaisDaemon RelaisDaemon;
typedef struct _RelaisScheduler RelaisScheduler;

RelaisDaemon    *relais_daemon_new (const RelaisDaemonOptions *options, GError **error);
void             relais_daemon_free (RelaisDaemon *daemon);
/* Connects to the bus, exports, starts listeners and delivery, claims the name.
 * QUIT_LOOP is quit if the name is lost or cannot be owned. */
gboolean         relais_daemon_start (RelaisDaemon *daemon, GMainLoop *quit_loop, GError **error);

/* SIGTERM: STOPPING=1, no new connections, every session ends with 421
 * (relais_listener_stop), then QUIT_LOOP is quit; asked a second time, it is
 * quit at once. */
void             relais_daemon_stop (RelaisDaemon *daemon);
/* SIGHUP: RELOADING=1, the TLS certificate read again (kept when the new one
 * does not load), READY=1. Open sessions are untouched. */
void             relais_daemon_reload (RelaisDaemon *daemon);

RelaisConfig    *relais_daemon_get_config (RelaisDaemon *daemon);     /* borrowed */
RelaisStore     *relais_daemon_get_store (RelaisDaemon *daemon);
RelaisStats     *relais_daemon_get_stats (RelaisDaemon *daemon);
RelaisStatsHistory *relais_daemon_get_stats_history (RelaisDaemon *daemon);   /* the per-minute history */
RelaisAuthority *relais_daemon_get_authority (RelaisDaemon *daemon);
RelaisAudit     *relais_daemon_get_audit (RelaisDaemon *daemon);       /* the audit trail */
RelaisQueue     *relais_daemon_get_queue (RelaisDaemon *daemon);
RelaisScheduler *relais_daemon_get_scheduler (RelaisDaemon *daemon);
RelaisNetworks  *relais_daemon_get_networks (RelaisDaemon *daemon);   /* borrowed, the local networks now */
RelaisServices  *relais_daemon_get_services (RelaisDaemon *daemon);   /* borrowed, what the sessions see */
/* Takes ownership of CONFIG and makes it current. */
void             relais_daemon_publish_config (RelaisDaemon *daemon, RelaisConfig *config);
/* The same for a change made by the D-Bus call INVOCATION on one of the
 * settings pages: also records in the audit trail what it changed (the
 * page's properties before and after, and its secrets compared). */
void             relais_daemon_publish_change (RelaisDaemon *daemon, GDBusMethodInvocation *invocation,
                                               RelaisConfig *config);

/* One settings-changing D-Bus method, the same way on every page: polkit
 * (the method's action, INTERACTIVE), then EDIT builds the next snapshot from
 * the one current at that moment and the call's parameters (all or nothing),
 * SAVE writes it, and only then it is published and the call answered, with
 * EDIT's *REPLY or nothing. PAGE names the interface in the log; the
 * parameters are logged only when LOG_PARAMETERS (never when they may hold a
 * password). Returns G_DBUS_METHOD_INVOCATION_HANDLED. */
typedef RelaisConfig *(*RelaisConfigEditFunc) (const RelaisConfig *base, GVariant *parameters,
                                               GVariant **reply, GError **error);
typedef gboolean      (*RelaisConfigSaveFunc) (RelaisStore *store, const RelaisConfig *config, GError **error);
gboolean         relais_daemon_edit_config (RelaisDaemon *daemon, GDBusMethodInvocation *invocation,
                                            gboolean interactive, const char *page,
                                            RelaisConfigEditFunc edit, RelaisConfigSaveFunc save,
                                            gboolean log_parameters);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDaemon, relais_daemon_free)

G_END_DECLS
