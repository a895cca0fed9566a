/* SPDX-License-Identifier: GPL-3.0-or-later
 * Names other programs rely on: bus name, object path, interfaces, polkit action ids. */
#pragma once

#define RELAIS_BUS_NAME    "org.relais.Relais1"
#define RELAIS_OBJECT_PATH "/org/relais/Relais1"

#define RELAIS_IFACE_GENERAL    "org.relais.Relais1.General"
#define RELAIS_IFACE_ACCOUNTS   "org.relais.Relais1.Accounts"
#define RELAIS_IFACE_DISTRIBUTION "org.relais.Relais1.Distribution"
#define RELAIS_IFACE_RELAY_CONTROL "org.relais.Relais1.RelayControl"
#define RELAIS_IFACE_SECURITY   "org.relais.Relais1.Security"
#define RELAIS_IFACE_STATISTICS "org.relais.Relais1.Statistics"
#define RELAIS_IFACE_QUEUE      "org.relais.Relais1.Queue"
#define RELAIS_IFACE_AUDIT      "org.relais.Relais1.Audit"

#define RELAIS_ACTION_CONFIGURE       "org.relais.relais1.configure"
#define RELAIS_ACTION_MANAGE_ACCOUNTS "org.relais.relais1.manage-accounts"
#define RELAIS_ACTION_MANAGE_QUEUE    "org.relais.relais1.manage-queue"
#define RELAIS_ACTION_READ_AUDIT      "org.relais.relais1.read-audit"
