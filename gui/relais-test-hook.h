/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The app's test hook: with RELAIS_SETTINGS_TEST_HOOK=1 the app exports
 * org.relais.Settings.Test at /org/relais/Settings/Test on its session bus:
 *   Get(s name) -> (v value, b sensitive, s error)   read a registered probe
 *   Set(s name, v value)                             edit it as a user would
 *   Call(s name, v argument) -> (v result)           run a registered action
 *   List() -> (as names)
 * Pages register what a test may see or do; entries go away with OWNER. */

/* Returns the value (floating or full ref); *sensitive and *message (may
 * stay NULL) tell whether the user can edit it and its error. */
typedef GVariant *(*RelaisProbeGetFunc) (gpointer data, gboolean *sensitive, char **message);
typedef gboolean  (*RelaisProbeSetFunc) (gpointer data, GVariant *value, GError **error);
typedef GVariant *(*RelaisProbeCallFunc) (gpointer data, GVariant *argument, GError **error);

gboolean relais_test_hook_enabled     (void);
void     relais_test_hook_add_probe   (const char *name, GObject *owner,
                                       RelaisProbeGetFunc get, RelaisProbeSetFunc set, gpointer data);
void     relais_test_hook_add_action  (const char *name, GObject *owner,
                                       RelaisProbeCallFunc call, gpointer data);
/* Exports the interface on CONNECTION (the app's own), when enabled. */
gboolean relais_test_hook_export      (GDBusConnection *connection, GError **error);
void     relais_test_hook_unexport    (GDBusConnection *connection);

G_END_DECLS
