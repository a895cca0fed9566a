/* SPDX-License-Identifier: GPL-3.0-or-later
 * The exported interfaces: one skeleton per interface, created by the daemon.
 * Each *_sync() copies the current state into the skeleton's properties (the
 * generated code emits PropertiesChanged for what actually changed). */
#pragma once

#include "relais-daemon.h"
#include "relais-dbus-generated.h"

G_BEGIN_DECLS

RelaisGeneral    *relais_dbus_general_new (RelaisDaemon *daemon);
void              relais_dbus_general_sync (RelaisGeneral *skeleton, const RelaisConfig *config);

RelaisDistribution *relais_dbus_distribution_new (RelaisDaemon *daemon);
void              relais_dbus_distribution_sync (RelaisDistribution *skeleton, const RelaisConfig *config);

RelaisRelayControl *relais_dbus_relay_control_new (RelaisDaemon *daemon);
void              relais_dbus_relay_control_sync (RelaisRelayControl *skeleton, const RelaisConfig *config);

RelaisSecurity   *relais_dbus_security_new (RelaisDaemon *daemon);
void              relais_dbus_security_sync (RelaisSecurity *skeleton, const RelaisConfig *config);

RelaisAccounts   *relais_dbus_accounts_new (RelaisDaemon *daemon);
void              relais_dbus_accounts_sync (RelaisAccounts *skeleton, const RelaisConfig *config);

/* List/Show open, the changes through polkit; Changed at most once a second. */
RelaisMailQueue  *relais_dbus_queue_new (RelaisDaemon *daemon);

/* Polls the counters once a second and updates the properties only when they
 * moved: PropertiesChanged is thus coalesced to at most one a second. */
RelaisStatistics *relais_dbus_statistics_new (RelaisDaemon *daemon);
void              relais_dbus_statistics_sync (RelaisStatistics *skeleton, RelaisStats *stats);

/* Explain and CanRelay: the policy trace (relais-explain.h); open. */
RelaisPolicy     *relais_dbus_policy_new (RelaisDaemon *daemon);

G_END_DECLS
