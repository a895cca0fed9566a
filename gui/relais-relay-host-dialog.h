/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define RELAIS_TYPE_RELAY_HOST_DIALOG (relais_relay_host_dialog_get_type ())
G_DECLARE_FINAL_TYPE (RelaisRelayHostDialog, relais_relay_host_dialog, RELAIS, RELAY_HOST_DIALOG, AdwWindow)

/* A dialog adding a named relay host (HOST NULL) or editing one (HOST, an
 * entry of RelayHosts: (name, server, port, always_tls, authentication,
 * username, password_set)) through PROXY, org.relais.Relais1.Distribution.
 * OK calls AddRelayHost or UpdateRelayHost; the dialog closes when the
 * daemon accepts, and stays open with the daemon's message on the field it
 * names when it refuses. The password is write-only: the entry starts
 * empty, and an empty entry keeps the stored password. */
RelaisRelayHostDialog *relais_relay_host_dialog_new   (GtkWindow *parent, GDBusProxy *proxy, GVariant *host);

/* Test hook: edits the fields as a user would from an a{sv} with any of
 * Name, Server, Port, AlwaysTls, Authentication, Username, Password, and
 * presses OK. */
void      relais_relay_host_dialog_fill      (RelaisRelayHostDialog *self, GVariant *fields);
void      relais_relay_host_dialog_ok        (RelaisRelayHostDialog *self);
/* a{sv}: "error-field" s, "error" s, "busy" b, "password" s (what the entry
 * shows), "password-title" s. */
GVariant *relais_relay_host_dialog_get_state (RelaisRelayHostDialog *self);

G_END_DECLS
