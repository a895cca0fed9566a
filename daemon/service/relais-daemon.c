/* SPDX-License-Identifier: GPL-3.0-or-later
 * The root object. Start-up order: state folder, store, configuration, TLS,
 * queue recovery, listeners bound (so a port clash fails before anything is
 * announced), D-Bus objects exported, delivery started, bus name claimed last,
 * and READY=1 to systemd once the name is ours. Teardown is the reverse.
 * Stop (SIGTERM) is graceful: STOPPING=1, no new connections, every session
 * told 421, then the loop quits and teardown lets deliveries under way end.
 * Reload (SIGHUP) takes a new TLS certificate, or keeps the old one. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-daemon.h"

#include <errno.h>
#include <malloc.h>
#include <glib/gstdio.h>

#include "relais-anvil.h"
#include "relais-audit.h"
#include "relais-auth-guard.h"
#include "relais-clock.h"
#include "relais-dbus.h"
#include "relais-error.h"
#include "relais-listener.h"
#include "relais-names.h"
#include "relais-notify.h"
#include "relais-queue.h"
#include "relais-scheduler.h"
#include "relais-stats-history.h"
#include "relais-tls.h"

struct _RelaisDaemon {
  RelaisDaemonOptions options;
  RelaisStore *store;
  RelaisServices services;
  RelaisStatsHistory *history;
  RelaisAuthority *authority;
  RelaisAudit *audit;
  RelaisListener *listener;
  RelaisHttp *http;
  RelaisScheduler *scheduler;
  RelaisNetworksMonitor *networks;

  GDBusConnection *bus;
  RelaisGeneral *general;
  RelaisAccounts *accounts;
  RelaisDistribution *distribution;
  RelaisRelayControl *relay_control;
  RelaisSecurity *security;
  RelaisStatistics *statistics;
  RelaisMailQueue *queue;
  RelaisPolicy *policy;
  guint owner_id;
  GMainLoop *quit_loop;
  RelaisNotifier *notifier;
  gboolean stopping;
  guint trim_id;             /* the heap given back after a large configuration went */
};

/* A configuration with this many black/white rules takes tens of megabytes. */
#define RELAIS_TRIM_RULES 10000

/* How long a message being received at SIGTERM may take to end (then 421). */
#define RELAIS_SHUTDOWN_GRACE_SECONDS 20

/* The host's name, made fully qualified if it is not: a bare "myhost" becomes
 * "myhost.localdomain" with a warning, since the hostname must be a FQDN and
 * asking DNS at start-up could hang on a machine without a resolver. */
static char *
default_hostname (void)
{
  const char *name = g_get_host_name ();

  if (relais_is_fqdn (name))
    return g_ascii_strdown (name, -1);
  if (relais_is_valid_domain (name))
    {
      g_warning ("the host name '%s' is not fully qualified; using '%s.localdomain' until the "
                 "Hostname setting is changed",
                 name, name);
      return g_strdup_printf ("%s.localdomain", name);
    }
  return g_strdup ("localhost.localdomain");
}

static gboolean
make_dir (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE, "cannot create %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static void
committed_cb (const RelaisQueuedMessage *message, gpointer user_data)
{
  RelaisDaemon *daemon = user_data;

  relais_scheduler_message_queued (daemon->scheduler, message);
}

static void
networks_changed_cb (RelaisNetworks *networks, gpointer user_data)
{
  RelaisDaemon *daemon = user_data;

  g_clear_pointer (&daemon->services.networks, relais_networks_unref);
  daemon->services.networks = relais_networks_ref (networks);
}

static gboolean
add_endpoints (RelaisDaemon *daemon, RelaisEndpointKind kind, GStrv addresses, GError **error)
{
  static const char *const options[] = {
    [RELAIS_ENDPOINT_SMTP] = "--listen",
    [RELAIS_ENDPOINT_SUBMISSION] = "--submission-listen",
    [RELAIS_ENDPOINT_SMTPS] = "--smtps-listen",
  };

  for (guint i = 0; addresses && addresses[i]; i++)
    if (!relais_listener_add (daemon->listener, kind, addresses[i], error))
      {
        g_prefix_error (error, "%s: ", options[kind]);
        return FALSE;
      }
  return TRUE;
}

void
relais_daemon_options_clear (RelaisDaemonOptions *options)
{
  g_clear_pointer (&options->state_dir, g_free);
  g_clear_pointer (&options->listen, g_strfreev);
  g_clear_pointer (&options->submission_listen, g_strfreev);
  g_clear_pointer (&options->smtps_listen, g_strfreev);
  g_clear_pointer (&options->tls_cert, g_free);
  g_clear_pointer (&options->tls_key, g_free);
  relais_http_options_clear (&options->http);
}

static char *
status_text (gpointer user_data)
{
  RelaisDaemon *daemon = user_data;
  guint64 sessions = relais_stats_get (daemon->services.stats, RELAIS_STAT_SESSIONS_OPEN);

  if (daemon->stopping)
    return g_strdup_printf ("Stopping: %" G_GUINT64_FORMAT " session(s) still open", sessions);
  return g_strdup_printf ("Accepting mail: %" G_GUINT64_FORMAT " session(s), queue %" G_GUINT64_FORMAT,
                          sessions, relais_stats_get (daemon->services.stats, RELAIS_STAT_QUEUE_LENGTH));
}

RelaisDaemon *
relais_daemon_new (const RelaisDaemonOptions *options, GError **error)
{
  g_autoptr (RelaisDaemon) daemon = g_new0 (RelaisDaemon, 1);
  g_autofree char *db_path = NULL;
  g_autofree char *hostname = default_hostname ();
  static const char *const default_listen[] = { ":25", NULL };
  guint n_queued = 0;

  daemon->options.session_bus = options->session_bus;
  daemon->options.state_dir = g_strdup (options->state_dir);
  daemon->options.listen = g_strdupv (options->listen && options->listen[0]
                                        ? options->listen
                                        : (GStrv) default_listen);
  daemon->options.submission_listen = g_strdupv (options->submission_listen);
  daemon->options.smtps_listen = g_strdupv (options->smtps_listen);
  daemon->options.tls_cert = g_strdup (options->tls_cert);
  daemon->options.tls_key = g_strdup (options->tls_key);

  if (!make_dir (options->state_dir, error))
    return NULL;
  g_chmod (options->state_dir, 0700);

  db_path = g_build_filename (options->state_dir, "relais.db", NULL);
  daemon->store = relais_store_open (db_path, error);
  if (daemon->store == NULL)
    return NULL;
  daemon->services.config = relais_store_load_config (daemon->store, hostname, error);
  if (daemon->services.config == NULL)
    return NULL;
  daemon->services.stats = relais_stats_new ();
  daemon->history = relais_stats_history_new (daemon->store);
  relais_stats_set_history (daemon->services.stats, daemon->history);
  {
    RelaisAuthGuardLimits limits;

    relais_auth_guard_limits_init (&limits);
    relais_auth_guard_limits_from_test_env (&limits);
    daemon->services.auth_guard = relais_auth_guard_new (&limits, NULL, NULL);
  }
  daemon->services.anvil = relais_anvil_new (0);
  daemon->networks = relais_networks_monitor_new (networks_changed_cb, daemon);
  daemon->services.networks = relais_networks_ref (relais_networks_monitor_get (daemon->networks));

  daemon->services.tls_certificate =
    relais_tls_load_or_create (options->state_dir, options->tls_cert, options->tls_key,
                               daemon->services.config->hostname, error);
  if (daemon->services.tls_certificate == NULL)
    return NULL;

  daemon->services.queue = relais_queue_new (daemon->store, daemon->services.stats,
                                             options->state_dir, error);
  if (daemon->services.queue == NULL || !relais_queue_recover (daemon->services.queue, &n_queued, error))
    return NULL;
  if (n_queued > 0)
    g_message ("%u message(s) waiting in the queue", n_queued);

  daemon->scheduler = relais_scheduler_new (&daemon->services, daemon->store, options->state_dir);
  relais_queue_set_committed_func (daemon->services.queue, committed_cb, daemon);

  daemon->listener = relais_listener_new (&daemon->services);
  if (!add_endpoints (daemon, RELAIS_ENDPOINT_SMTP, daemon->options.listen, error) ||
      !add_endpoints (daemon, RELAIS_ENDPOINT_SUBMISSION, daemon->options.submission_listen, error) ||
      !add_endpoints (daemon, RELAIS_ENDPOINT_SMTPS, daemon->options.smtps_listen, error))
    return NULL;
  if (options->http.listen != NULL && options->http.listen[0] != NULL)
    {
      daemon->http = relais_http_new (&options->http, daemon->services.stats, daemon->store, daemon->listener,
                                      options->state_dir, error);
      if (daemon->http == NULL)
        return NULL;
    }

  daemon->authority = relais_authority_new (!options->session_bus);
  daemon->audit = relais_audit_new (daemon->store, daemon->authority);
  daemon->notifier = relais_notifier_new (status_text, daemon);
  return g_steal_pointer (&daemon);
}

void
relais_daemon_free (RelaisDaemon *daemon)
{
  if (daemon == NULL)
    return;
  daemon->stopping = TRUE;   /* a signal during teardown (deliveries ending) changes nothing */
  g_clear_handle_id (&daemon->trim_id, g_source_remove);
  if (daemon->owner_id)
    g_bus_unown_name (daemon->owner_id);
  if (daemon->general)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->general));
  if (daemon->accounts)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->accounts));
  if (daemon->statistics)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->statistics));
  if (daemon->distribution)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->distribution));
  g_clear_object (&daemon->distribution);
  if (daemon->relay_control)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->relay_control));
  g_clear_object (&daemon->relay_control);
  if (daemon->security)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->security));
  g_clear_object (&daemon->security);
  if (daemon->queue)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->queue));
  g_clear_object (&daemon->queue);
  if (daemon->policy)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->policy));
  g_clear_object (&daemon->policy);
  g_clear_object (&daemon->general);
  g_clear_object (&daemon->accounts);
  g_clear_object (&daemon->statistics);
  g_clear_pointer (&daemon->audit, relais_audit_free);
  if (daemon->bus)
    g_dbus_connection_flush_sync (daemon->bus, NULL, NULL);
  g_clear_object (&daemon->bus);

  g_clear_pointer (&daemon->http, relais_http_free);
  g_clear_pointer (&daemon->listener, relais_listener_free);
  g_clear_pointer (&daemon->scheduler, relais_scheduler_free);
  g_clear_pointer (&daemon->services.queue, relais_queue_free);
  if (daemon->history != NULL)
    {
      g_autoptr (GError) error = NULL;

      /* Keep the last, partial minute too. */
      if (!relais_stats_history_flush (daemon->history, relais_clock_now (), TRUE, &error))
        g_warning ("The last minute of statistics could not be saved: %s", error->message);
      relais_stats_set_history (daemon->services.stats, NULL);
    }
  g_clear_object (&daemon->services.tls_certificate);
  g_clear_pointer (&daemon->services.config, relais_config_unref);
  g_clear_pointer (&daemon->services.stats, relais_stats_free);
  g_clear_pointer (&daemon->history, relais_stats_history_free);
  g_clear_pointer (&daemon->services.auth_guard, relais_auth_guard_free);
  g_clear_pointer (&daemon->services.anvil, relais_anvil_unref);
  g_clear_pointer (&daemon->services.networks, relais_networks_unref);
  g_clear_pointer (&daemon->networks, relais_networks_monitor_free);
  g_clear_pointer (&daemon->authority, relais_authority_free);
  g_clear_pointer (&daemon->store, relais_store_free);

  relais_daemon_options_clear (&daemon->options);
  g_clear_pointer (&daemon->notifier, relais_notifier_free);
  g_clear_pointer (&daemon->quit_loop, g_main_loop_unref);
  g_free (daemon);
}

static void
name_acquired_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  RelaisDaemon *daemon = user_data;

  g_message ("ready: %s on the %s bus, hostname %s", name,
             daemon->options.session_bus ? "session" : "system", daemon->services.config->hostname);
  if (!daemon->stopping)
    relais_notifier_ready (daemon->notifier);
}

static void
name_lost_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  RelaisDaemon *daemon = user_data;

  if (connection == NULL)
    g_critical ("lost the connection to the D-Bus %s bus", daemon->options.session_bus ? "session" : "system");
  else
    g_critical ("cannot own %s on the %s bus: is another relaisd running, or does the bus policy "
                "(org.relais.Relais1.conf) not allow this user to own it?",
                name, daemon->options.session_bus ? "session" : "system");
  g_main_loop_quit (daemon->quit_loop);
}

static gboolean
export (RelaisDaemon *daemon, gpointer skeleton, GError **error)
{
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (skeleton), daemon->bus,
                                           RELAIS_OBJECT_PATH, error);
}

gboolean
relais_daemon_start (RelaisDaemon *daemon, GMainLoop *quit_loop, GError **error)
{
  daemon->quit_loop = g_main_loop_ref (quit_loop);
  daemon->bus = g_bus_get_sync (daemon->options.session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
                                NULL, error);
  if (daemon->bus == NULL)
    {
      g_prefix_error (error, "cannot connect to the D-Bus %s bus: ",
                      daemon->options.session_bus ? "session" : "system");
      return FALSE;
    }
  g_dbus_connection_set_exit_on_close (daemon->bus, FALSE);

  daemon->general = relais_dbus_general_new (daemon);
  daemon->accounts = relais_dbus_accounts_new (daemon);
  daemon->statistics = relais_dbus_statistics_new (daemon);
  daemon->distribution = relais_dbus_distribution_new (daemon);
  daemon->relay_control = relais_dbus_relay_control_new (daemon);
  daemon->security = relais_dbus_security_new (daemon);
  daemon->queue = relais_dbus_queue_new (daemon);
  daemon->policy = relais_dbus_policy_new (daemon);
  if (!export (daemon, daemon->general, error) || !export (daemon, daemon->accounts, error) ||
      !export (daemon, daemon->statistics, error) || !export (daemon, daemon->distribution, error) ||
      !export (daemon, daemon->relay_control, error) || !export (daemon, daemon->queue, error) ||
      !export (daemon, daemon->policy, error) || !export (daemon, daemon->security, error) ||
      !export (daemon, relais_audit_get_skeleton (daemon->audit), error))
    return FALSE;

  relais_listener_start (daemon->listener);
  relais_scheduler_start (daemon->scheduler);
  {
    g_autoptr (GError) local_error = NULL;

    /* Drops what left the kept week while the daemon was stopped. */
    if (!relais_stats_history_flush (daemon->history, relais_clock_now (), FALSE, &local_error))
      g_warning ("The per-minute statistics could not be saved: %s", local_error->message);
    relais_stats_history_start (daemon->history);
  }

  daemon->owner_id = g_bus_own_name_on_connection (daemon->bus, RELAIS_BUS_NAME,
                                                   G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                                   name_acquired_cb, name_lost_cb, daemon, NULL);
  return TRUE;
}

static gboolean
listener_stopped_cb (gpointer user_data)
{
  RelaisDaemon *daemon = user_data;

  g_message ("every SMTP session has ended");
  g_main_loop_quit (daemon->quit_loop);
  return G_SOURCE_REMOVE;
}

/* Tests shorten the grace period; logged, like the scheduler's overrides. */
static guint
shutdown_grace_seconds (void)
{
  const char *value = g_getenv ("RELAIS_TEST_SHUTDOWN_GRACE_SECONDS");
  guint64 n;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 1, 3600, &n, NULL))
    return RELAIS_SHUTDOWN_GRACE_SECONDS;
  g_warning ("RELAIS_TEST_SHUTDOWN_GRACE_SECONDS=%" G_GUINT64_FORMAT " is set: shortened for tests", n);
  return (guint) n;
}

void
relais_daemon_stop (RelaisDaemon *daemon)
{
  g_return_if_fail (daemon != NULL);

  if (daemon->stopping)
    {
      if (daemon->quit_loop != NULL)
        {
          g_message ("asked again to stop: closing every session now");
          g_main_loop_quit (daemon->quit_loop);
        }
      return;
    }
  daemon->stopping = TRUE;
  g_message ("shutting down");
  relais_notifier_stopping (daemon->notifier);
  relais_listener_stop (daemon->listener, shutdown_grace_seconds (), listener_stopped_cb, daemon);
}

void
relais_daemon_reload (RelaisDaemon *daemon)
{
  g_autoptr(GError) error = NULL;
  GTlsCertificate *certificate;

  g_return_if_fail (daemon != NULL);

  if (daemon->stopping)
    return;
  relais_notifier_reloading (daemon->notifier);
  certificate = relais_tls_load_or_create (daemon->options.state_dir, daemon->options.tls_cert,
                                           daemon->options.tls_key, daemon->services.config->hostname,
                                           &error);
  if (certificate == NULL)
    g_warning ("reload: keeping the TLS certificate in use: %s", error->message);
  else
    {
      /* Sessions that use the old one hold their own reference. */
      g_clear_object (&daemon->services.tls_certificate);
      daemon->services.tls_certificate = certificate;
      g_message ("reload: new connections use the TLS certificate %s",
                 daemon->options.tls_cert ? daemon->options.tls_cert : "of the state folder");
    }
  relais_notifier_ready (daemon->notifier);
}

RelaisConfig *
relais_daemon_get_config (RelaisDaemon *daemon)
{
  return daemon->services.config;
}

RelaisStore *
relais_daemon_get_store (RelaisDaemon *daemon)
{
  return daemon->store;
}

RelaisStats *
relais_daemon_get_stats (RelaisDaemon *daemon)
{
  return daemon->services.stats;
}

RelaisStatsHistory *
relais_daemon_get_stats_history (RelaisDaemon *daemon)
{
  return daemon->history;
}

RelaisAuthority *
relais_daemon_get_authority (RelaisDaemon *daemon)
{
  return daemon->authority;
}

RelaisAudit *
relais_daemon_get_audit (RelaisDaemon *daemon)
{
  return daemon->audit;
}

RelaisQueue *
relais_daemon_get_queue (RelaisDaemon *daemon)
{
  return daemon->services.queue;
}

RelaisScheduler *
relais_daemon_get_scheduler (RelaisDaemon *daemon)
{
  return daemon->scheduler;
}

RelaisNetworks *
relais_daemon_get_networks (RelaisDaemon *daemon)
{
  return daemon->services.networks;
}

RelaisServices *
relais_daemon_get_services (RelaisDaemon *daemon)
{
  return &daemon->services;
}

static gboolean
trim_cb (gpointer user_data)
{
  RelaisDaemon *daemon = user_data;

  daemon->trim_id = 0;
  malloc_trim (0);
  return G_SOURCE_REMOVE;
}

void
relais_daemon_publish_config (RelaisDaemon *daemon, RelaisConfig *config)
{
  g_return_if_fail (config != NULL);

  /* The old rules, and the D-Bus call that brought the new ones, are freed
   * among the new set's blocks: malloc gives that back to the system only
   * when asked (and only with G_SLICE=always-malloc, see relaisd.service);
   * a second later, when the call is done with. */
  if (daemon->trim_id == 0 &&
      (relais_rule_set_get_length (config->security_rules) >= RELAIS_TRIM_RULES ||
       (daemon->services.config != NULL &&
        relais_rule_set_get_length (daemon->services.config->security_rules) >= RELAIS_TRIM_RULES)))
    daemon->trim_id = g_timeout_add_seconds (1, trim_cb, daemon);
  g_clear_pointer (&daemon->services.config, relais_config_unref);
  daemon->services.config = config;
  if (daemon->general)
    relais_dbus_general_sync (daemon->general, config);
  if (daemon->accounts)
    relais_dbus_accounts_sync (daemon->accounts, config);
  if (daemon->distribution)
    relais_dbus_distribution_sync (daemon->distribution, config);
  if (daemon->relay_control)
    relais_dbus_relay_control_sync (daemon->relay_control, config);
  if (daemon->security)
    relais_dbus_security_sync (daemon->security, config);
}

/* The exported skeleton of INTERFACE_NAME among the settings pages, or NULL. */
static GDBusInterfaceSkeleton *
page_skeleton (RelaisDaemon *daemon, const char *interface_name)
{
  gpointer pages[] = { daemon->general, daemon->accounts, daemon->distribution, daemon->relay_control,
                       daemon->security };

  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    if (pages[i] != NULL &&
        g_str_equal (g_dbus_interface_skeleton_get_info (pages[i])->name, interface_name))
      return pages[i];
  return NULL;
}

void
relais_daemon_publish_change (RelaisDaemon *daemon, GDBusMethodInvocation *invocation, RelaisConfig *config)
{
  GDBusInterfaceSkeleton *page =
    page_skeleton (daemon, g_dbus_method_invocation_get_interface_name (invocation));
  g_autoptr (RelaisConfig) old = relais_config_ref (daemon->services.config);
  g_autoptr (GVariant) before = page != NULL ? g_dbus_interface_skeleton_get_properties (page) : NULL;
  g_autoptr (GVariant) after = NULL;

  relais_daemon_publish_config (daemon, config);
  if (page == NULL)
    {
      g_critical ("no settings page for %s: the change is not audited",
                  g_dbus_method_invocation_get_interface_name (invocation));
      return;
    }
  after = g_dbus_interface_skeleton_get_properties (page);
  relais_audit_record_change (daemon->audit, invocation, before, after, old, config);
}

/* ---- settings edits over D-Bus ---------------------------------------- */

typedef struct {
  RelaisDaemon *daemon;
  const char *page;
  RelaisConfigEditFunc edit;
  RelaisConfigSaveFunc save;
  gboolean log_parameters;
} EditCall;

static void
edit_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  EditCall *call = user_data;
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisConfig) next = NULL;
  GVariant *reply = NULL;

  next = call->edit (relais_daemon_get_config (call->daemon), parameters, &reply, &error);
  if (next == NULL || !call->save (relais_daemon_get_store (call->daemon), next, &error))
    {
      if (reply != NULL)
        g_variant_unref (g_variant_ref_sink (reply));
      g_info ("%s.%s from %s refused: %s", call->page, method, sender, error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (call->log_parameters)
    {
      g_autofree char *text = g_variant_print (parameters, FALSE);

      g_message ("%s.%s%s by %s", call->page, method, text, sender);
    }
  else
    g_message ("%s.%s by %s", call->page, method, sender);
  relais_daemon_publish_change (call->daemon, invocation, g_steal_pointer (&next));
  g_dbus_method_invocation_return_value (invocation, reply);
}

gboolean
relais_daemon_edit_config (RelaisDaemon *daemon, GDBusMethodInvocation *invocation, gboolean interactive,
                           const char *page, RelaisConfigEditFunc edit, RelaisConfigSaveFunc save,
                           gboolean log_parameters)
{
  EditCall *call = g_new0 (EditCall, 1);

  call->daemon = daemon;
  call->page = page;
  call->edit = edit;
  call->save = save;
  call->log_parameters = log_parameters;
  relais_authority_check (daemon->authority, invocation, interactive, edit_authorized, call, g_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}
