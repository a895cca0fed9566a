/* SPDX-License-Identifier: GPL-3.0-or-later
 * polkit checks for D-Bus methods: one table of method -> action, default deny.
 * The polkit authority is fetched lazily on the first check, so a daemon
 * started before polkitd (or on a bus without it) still starts; a check that
 * cannot reach polkit is refused with a message saying so. Before polkit,
 * the bus is asked for the caller's unix uid (on either bus), which the audit
 * trail records (relais_authority_get_caller_uid()). */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-authority.h"

#include <polkit/polkit.h>

#include "relais-error.h"
#include "relais-names.h"

static const struct {
  const char *method;   /* "Interface.Method" */
  const char *action;
} method_actions[] = {
  { RELAIS_IFACE_GENERAL ".Update", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_ACCOUNTS ".AddLocalDomain", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_ACCOUNTS ".RemoveLocalDomain", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_ACCOUNTS ".AddAccount", RELAIS_ACTION_MANAGE_ACCOUNTS },
  { RELAIS_IFACE_ACCOUNTS ".UpdateAccount", RELAIS_ACTION_MANAGE_ACCOUNTS },
  { RELAIS_IFACE_ACCOUNTS ".RemoveAccount", RELAIS_ACTION_MANAGE_ACCOUNTS },
  { RELAIS_IFACE_DISTRIBUTION ".Update", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".AddRelayHost", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".UpdateRelayHost", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".RemoveRelayHost", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".AddRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".UpdateRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".RemoveRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".MoveRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_DISTRIBUTION ".TestRelayHost", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_RELAY_CONTROL ".AddTrustedNetwork", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_RELAY_CONTROL ".UpdateTrustedNetwork", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_RELAY_CONTROL ".RemoveTrustedNetwork", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_RELAY_CONTROL ".AddRelayDomain", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_RELAY_CONTROL ".UpdateRelayDomain", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_RELAY_CONTROL ".RemoveRelayDomain", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".Update", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".AddRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".UpdateRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".RemoveRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".MoveRule", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".ReplaceRules", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".Unblock", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".GenerateDkimKey", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_SECURITY ".RemoveDkimKey", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_QUEUE ".Hold", RELAIS_ACTION_MANAGE_QUEUE },
  { RELAIS_IFACE_QUEUE ".Release", RELAIS_ACTION_MANAGE_QUEUE },
  { RELAIS_IFACE_QUEUE ".RetryNow", RELAIS_ACTION_MANAGE_QUEUE },
  { RELAIS_IFACE_QUEUE ".Delete", RELAIS_ACTION_MANAGE_QUEUE },
  { RELAIS_IFACE_STATISTICS ".ResetRuleHits", RELAIS_ACTION_CONFIGURE },
  { RELAIS_IFACE_AUDIT ".List", RELAIS_ACTION_READ_AUDIT },
};

#define CALLER_UID_KEY "relais-caller-uid"

struct _RelaisAuthority {
  gboolean use_polkit;
  PolkitAuthority *polkit;
};

typedef struct {
  RelaisAuthority *authority;
  GDBusMethodInvocation *invocation;
  const char *action;
  gboolean interactive;
  RelaisAuthorizedFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} Check;

static void
check_free (Check *check)
{
  if (check->destroy)
    check->destroy (check->user_data);
  g_object_unref (check->invocation);
  g_free (check);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Check, check_free)

RelaisAuthority *
relais_authority_new (gboolean use_polkit)
{
  RelaisAuthority *authority = g_new0 (RelaisAuthority, 1);

  authority->use_polkit = use_polkit;
  return authority;
}

void
relais_authority_free (RelaisAuthority *authority)
{
  if (authority == NULL)
    return;
  g_clear_object (&authority->polkit);
  g_free (authority);
}

const char *
relais_authority_action_for (const char *interface_name, const char *method_name)
{
  g_autofree char *key = g_strdup_printf ("%s.%s", interface_name, method_name);

  for (gsize i = 0; i < G_N_ELEMENTS (method_actions); i++)
    if (g_str_equal (method_actions[i].method, key))
      return method_actions[i].action;
  return NULL;
}

static void
deny (Check *check, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
deny (Check *check, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_info ("D-Bus %s.%s from %s refused: %s",
          g_dbus_method_invocation_get_interface_name (check->invocation),
          g_dbus_method_invocation_get_method_name (check->invocation),
          g_dbus_method_invocation_get_sender (check->invocation), message);
  g_dbus_method_invocation_return_error_literal (check->invocation, RELAIS_ERROR,
                                                 RELAIS_ERROR_PERMISSION_DENIED, message);
}

static void
check_authorization_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Check) check = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PolkitAuthorizationResult) auth =
    polkit_authority_check_authorization_finish (POLKIT_AUTHORITY (source), result, &error);

  if (auth == NULL)
    deny (check, "cannot check authorization for %s with polkit: %s", check->action, error->message);
  else if (polkit_authorization_result_get_is_authorized (auth))
    check->func (check->invocation, check->user_data);
  else if (polkit_authorization_result_get_is_challenge (auth))
    deny (check, "%s requires authentication: call again with interactive=true from a session "
                 "with a polkit agent, or as root", check->action);
  else
    deny (check, "not authorized for %s", check->action);
}

static void
run_check (Check *check)
{
  g_autoptr (PolkitSubject) subject =
    polkit_system_bus_name_new (g_dbus_method_invocation_get_sender (check->invocation));

  polkit_authority_check_authorization (check->authority->polkit, subject, check->action, NULL,
                                        check->interactive
                                          ? POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION
                                          : POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE,
                                        NULL, check_authorization_cb, check);
}

static void
get_authority_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Check) check = user_data;
  g_autoptr (GError) error = NULL;
  PolkitAuthority *polkit = polkit_authority_get_finish (result, &error);

  if (polkit == NULL)
    {
      deny (check, "polkit is not available: %s", error->message);
      return;
    }
  if (check->authority->polkit == NULL)
    check->authority->polkit = polkit;
  else
    g_object_unref (polkit);
  run_check (g_steal_pointer (&check));
}

/* The bus told the caller's uid: keep it on the invocation, then ask polkit. */
static void
caller_uid_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (Check) check = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  guint32 uid;

  if (reply == NULL)
    {
      deny (check, "cannot learn the caller's user id from the bus: %s", error->message);
      return;
    }
  g_variant_get (reply, "(u)", &uid);
  g_object_set_data_full (G_OBJECT (check->invocation), CALLER_UID_KEY, g_memdup2 (&uid, sizeof uid), g_free);
  if (!check->authority->use_polkit)
    check->func (check->invocation, check->user_data);
  else if (check->authority->polkit == NULL)
    polkit_authority_get_async (NULL, get_authority_cb, g_steal_pointer (&check));
  else
    run_check (g_steal_pointer (&check));
}

void
relais_authority_check (RelaisAuthority *authority, GDBusMethodInvocation *invocation,
                        gboolean interactive, RelaisAuthorizedFunc func, gpointer user_data,
                        GDestroyNotify destroy)
{
  g_autoptr (Check) check = g_new0 (Check, 1);

  check->authority = authority;
  check->invocation = g_object_ref (invocation);
  check->interactive = interactive;
  check->func = func;
  check->user_data = user_data;
  check->destroy = destroy;
  check->action = relais_authority_action_for (g_dbus_method_invocation_get_interface_name (invocation),
                                               g_dbus_method_invocation_get_method_name (invocation));
  if (check->action == NULL)
    {
      deny (check, "no polkit action is defined for this method");
      return;
    }
  if (g_dbus_method_invocation_get_sender (invocation) == NULL)
    {
      deny (check, "the caller has no bus name");
      return;
    }
  g_dbus_connection_call (g_dbus_method_invocation_get_connection (invocation), "org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", g_dbus_method_invocation_get_sender (invocation)),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, caller_uid_cb,
                          g_steal_pointer (&check));
}

gboolean
relais_authority_get_caller_uid (GDBusMethodInvocation *invocation, guint32 *uid)
{
  const guint32 *known = g_object_get_data (G_OBJECT (invocation), CALLER_UID_KEY);

  if (known == NULL)
    return FALSE;
  *uid = *known;
  return TRUE;
}
