/* SPDX-License-Identifier: GPL-3.0-or-later
 * Relais' error domain and its D-Bus names. */
#include "relais-error.h"

#include <gio/gio.h>

static const GDBusErrorEntry relais_error_entries[] = {
  { RELAIS_ERROR_FAILED, "org.relais.Relais1.Error.Failed" },
  { RELAIS_ERROR_INVALID_ARGUMENT, "org.relais.Relais1.Error.InvalidArgument" },
  { RELAIS_ERROR_NOT_FOUND, "org.relais.Relais1.Error.NotFound" },
  { RELAIS_ERROR_EXISTS, "org.relais.Relais1.Error.AlreadyExists" },
  { RELAIS_ERROR_PERMISSION_DENIED, "org.relais.Relais1.Error.PermissionDenied" },
  { RELAIS_ERROR_STORAGE, "org.relais.Relais1.Error.Storage" },
  { RELAIS_ERROR_NO_SPACE, "org.relais.Relais1.Error.NoSpace" },
};

GQuark
relais_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("relais-error-quark", &quark, relais_error_entries,
                                      G_N_ELEMENTS (relais_error_entries));
  return (GQuark) quark;
}
