/* SPDX-License-Identifier: GPL-3.0-or-later
 * Relais' error domain. Every code maps to a D-Bus error name under
 * org.relais.Relais1.Error. (registered in relais-error.c), so a GError raised
 * anywhere in the daemon reaches a D-Bus caller with a name it can match on.
 * SMTP replies are not errors: they are data (relais-reply.h). The comments
 * below ("…Error.Name: meaning") go into relais-dbus(7) (build-aux/gen-dbus-man). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RELAIS_ERROR (relais_error_quark ())

typedef enum {
  RELAIS_ERROR_FAILED,            /* org.relais.Relais1.Error.Failed: anything else; the message says what */
  RELAIS_ERROR_INVALID_ARGUMENT,  /* …Error.InvalidArgument: a value failed validation */
  RELAIS_ERROR_NOT_FOUND,         /* …Error.NotFound: no such account, domain, message */
  RELAIS_ERROR_EXISTS,            /* …Error.AlreadyExists: the account, domain or name is taken */
  RELAIS_ERROR_PERMISSION_DENIED, /* …Error.PermissionDenied: polkit said no */
  RELAIS_ERROR_STORAGE,           /* …Error.Storage: the database or spool failed */
  RELAIS_ERROR_NO_SPACE,          /* …Error.NoSpace: the state folder's file system is full; free some space */
} RelaisError;

GQuark relais_error_quark (void);

G_END_DECLS
