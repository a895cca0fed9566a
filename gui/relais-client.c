/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisClient: the app's one link to relaisd. It watches the well-known
 * name on the system bus (the installed daemon) and the session bus
 * (relaisd --session, development and tests), picks the system bus when
 * both answer, makes one generated proxy per interface asynchronously, and
 * emits "changed" once they are all ready or when they are dropped because
 * the daemon went away. The permission follows the bus: polkit's configure
 * action on the system bus, always allowed on the session bus. */
#include "config.h"

#include <polkit/polkit.h>

#include "relais-client.h"

#define RELAIS_BUS_NAME "org.relais.Relais1"
#define RELAIS_OBJECT_PATH "/org/relais/Relais1"
#define RELAIS_ACTION_CONFIGURE "org.relais.relais1.configure"
#define RELAIS_ACTION_MANAGE_QUEUE "org.relais.relais1.manage-queue"

typedef enum {
  IFACE_GENERAL,
  IFACE_DISTRIBUTION,
  IFACE_RELAY_CONTROL,
  IFACE_SECURITY,
  IFACE_ACCOUNTS,
  IFACE_QUEUE,
  IFACE_STATISTICS,
  IFACE_POLICY,
  N_IFACES
} Iface;

static const char *const iface_names[N_IFACES] = {
  "org.relais.Relais1.General",
  "org.relais.Relais1.Distribution",
  "org.relais.Relais1.RelayControl",
  "org.relais.Relais1.Security",
  "org.relais.Relais1.Accounts",
  "org.relais.Relais1.Queue",
  "org.relais.Relais1.Statistics",
  "org.relais.Relais1.Policy",
};

static GType
iface_proxy_type (Iface iface)
{
  switch (iface)
    {
    case IFACE_GENERAL: return RELAIS_TYPE_GENERAL_PROXY;
    case IFACE_DISTRIBUTION: return RELAIS_TYPE_DISTRIBUTION_PROXY;
    case IFACE_RELAY_CONTROL: return RELAIS_TYPE_RELAY_CONTROL_PROXY;
    case IFACE_SECURITY: return RELAIS_TYPE_SECURITY_PROXY;
    case IFACE_ACCOUNTS: return RELAIS_TYPE_ACCOUNTS_PROXY;
    case IFACE_QUEUE: return RELAIS_TYPE_MAIL_QUEUE_PROXY;
    case IFACE_STATISTICS: return RELAIS_TYPE_STATISTICS_PROXY;
    case IFACE_POLICY: return RELAIS_TYPE_POLICY_PROXY;
    case N_IFACES: break;
    }
  g_assert_not_reached ();
}

struct _RelaisClient
{
  GObject parent_instance;

  guint system_watch;
  guint session_watch;
  GDBusConnection *on_system;    /* the bus when the name has an owner there */
  GDBusConnection *on_session;
  gboolean force_session;
  gboolean force_system;

  GDBusConnection *bus;          /* the bus the proxies were made on */
  GCancellable *cancellable;     /* proxies (and permission) on their way */
  GDBusProxy *pending[N_IFACES];
  guint n_pending;
  GDBusProxy *proxies[N_IFACES]; /* all set, or all NULL */
  GPermission *permission;        /* configure */
  GPermission *queue_permission;  /* manage-queue */
  gboolean can_edit;              /* last notified */
  gboolean can_manage_queue;
};

G_DEFINE_FINAL_TYPE (RelaisClient, relais_client, G_TYPE_OBJECT)

enum { PROP_0, PROP_CONNECTED, PROP_PERMISSION, PROP_QUEUE_PERMISSION, PROP_CAN_EDIT, PROP_CAN_MANAGE_QUEUE,
       N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* Tells "can-edit" and "can-manage-queue" when connection or polkit changed them. */
static void
update_can (RelaisClient *self)
{
  gboolean can_edit = relais_client_can_edit (self);
  gboolean can_manage_queue = relais_client_can_manage_queue (self);

  if (can_edit != self->can_edit)
    {
      self->can_edit = can_edit;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CAN_EDIT]);
    }
  if (can_manage_queue != self->can_manage_queue)
    {
      self->can_manage_queue = can_manage_queue;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CAN_MANAGE_QUEUE]);
    }
}

static void
set_permission (RelaisClient *self, guint prop, GPermission *permission)
{
  GPermission **slot = prop == PROP_PERMISSION ? &self->permission : &self->queue_permission;

  if (*slot == permission)
    return;
  if (*slot != NULL)
    g_signal_handlers_disconnect_by_func (*slot, update_can, self);
  g_set_object (slot, permission);
  g_signal_connect_object (permission, "notify::allowed", G_CALLBACK (update_can), self, G_CONNECT_SWAPPED);
  g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
  update_can (self);
}

static void
drop_proxies (RelaisClient *self)
{
  gboolean was_connected = self->proxies[0] != NULL;
  g_autoptr(GPermission) locked = g_simple_permission_new (FALSE);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  for (guint i = 0; i < N_IFACES; i++)
    {
      g_clear_object (&self->pending[i]);
      g_clear_object (&self->proxies[i]);
    }
  self->n_pending = 0;
  g_clear_object (&self->bus);
  set_permission (self, PROP_PERMISSION, locked);
  set_permission (self, PROP_QUEUE_PERMISSION, locked);

  if (was_connected)
    {
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CONNECTED]);
      update_can (self);
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
    }
}

/* One step of the connection is done: the proxies become visible together. */
static void
step_done (RelaisClient *self)
{
  g_assert (self->n_pending > 0);
  if (--self->n_pending > 0)
    return;

  for (guint i = 0; i < N_IFACES; i++)
    self->proxies[i] = g_steal_pointer (&self->pending[i]);
  g_clear_object (&self->cancellable);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CONNECTED]);
  update_can (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

/* What a call on its way needs: a call whose attempt was cancelled (the
 * daemon went away, the bus changed, the client was disposed) is ignored. */
typedef struct {
  RelaisClient *self;
  GCancellable *cancellable;
  guint prop;                   /* a permission: which one */
} Attempt;

static Attempt *
attempt_new (RelaisClient *self, guint prop)
{
  Attempt *attempt = g_new0 (Attempt, 1);
  attempt->self = g_object_ref (self);
  attempt->cancellable = g_object_ref (self->cancellable);
  attempt->prop = prop;
  return attempt;
}

static void
attempt_free (Attempt *attempt)
{
  g_object_unref (attempt->self);
  g_object_unref (attempt->cancellable);
  g_free (attempt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Attempt, attempt_free)

static void
proxy_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Attempt) attempt = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) proxy = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);
  RelaisClient *self = attempt->self;

  if (g_cancellable_is_cancelled (attempt->cancellable))
    return;
  if (proxy == NULL)
    {
      g_warning ("cannot reach relaisd: %s", error->message);
      drop_proxies (self);
      return;
    }

  for (guint i = 0; i < N_IFACES; i++)
    if (g_strcmp0 (g_dbus_proxy_get_interface_name (G_DBUS_PROXY (proxy)), iface_names[i]) == 0)
      g_set_object (&self->pending[i], G_DBUS_PROXY (proxy));
  step_done (self);
}

static void
permission_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Attempt) attempt = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPermission) permission = polkit_permission_new_finish (result, &error);
  RelaisClient *self = attempt->self;

  if (g_cancellable_is_cancelled (attempt->cancellable))
    return;
  if (permission == NULL)
    {
      /* No polkit: the daemon will refuse every change, so show it locked. */
      g_warning ("cannot ask polkit whether settings may be changed: %s", error->message);
      permission = g_simple_permission_new (FALSE);
    }
  set_permission (self, attempt->prop, permission);
  step_done (self);
}

static void
make_proxies (RelaisClient *self, GDBusConnection *bus)
{
  drop_proxies (self);
  self->bus = g_object_ref (bus);
  self->cancellable = g_cancellable_new ();
  self->n_pending = N_IFACES + 2;   /* the proxies and two permissions */

  for (guint i = 0; i < N_IFACES; i++)
    g_async_initable_new_async (iface_proxy_type (i), G_PRIORITY_DEFAULT, self->cancellable,
                                proxy_ready_cb, attempt_new (self, 0),
                                "g-flags", G_DBUS_PROXY_FLAGS_GET_INVALIDATED_PROPERTIES,
                                "g-name", RELAIS_BUS_NAME,
                                "g-connection", bus,
                                "g-object-path", RELAIS_OBJECT_PATH,
                                "g-interface-name", iface_names[i],
                                NULL);

  if (bus == self->on_system)
    {
      polkit_permission_new (RELAIS_ACTION_CONFIGURE, NULL, self->cancellable, permission_ready_cb,
                             attempt_new (self, PROP_PERMISSION));
      polkit_permission_new (RELAIS_ACTION_MANAGE_QUEUE, NULL, self->cancellable, permission_ready_cb,
                             attempt_new (self, PROP_QUEUE_PERMISSION));
    }
  else
    {
      g_autoptr(GPermission) allowed = g_simple_permission_new (TRUE);
      g_autoptr(GPermission) queue_allowed = g_simple_permission_new (TRUE);
      set_permission (self, PROP_PERMISSION, allowed);
      set_permission (self, PROP_QUEUE_PERMISSION, queue_allowed);
      step_done (self);
      step_done (self);
    }
}

/* Which bus should the proxies be on now? */
static void
choose_bus (RelaisClient *self)
{
  GDBusConnection *want = NULL;

  if (!self->force_session && self->on_system != NULL)
    want = self->on_system;
  else if (!self->force_system && self->on_session != NULL)
    want = self->on_session;

  if (want == NULL)
    drop_proxies (self);
  else if (want != self->bus)
    make_proxies (self, want);
}

static void
appeared_cb (GDBusConnection *connection, const char *name, const char *owner, gpointer user_data)
{
  RelaisClient *self = RELAIS_CLIENT (user_data);
  GDBusConnection **slot = (GBusType) GPOINTER_TO_INT (g_object_get_data (G_OBJECT (connection), "relais-bus"))
                           == G_BUS_TYPE_SYSTEM ? &self->on_system : &self->on_session;

  /* A new owner (daemon restarted between two reports) needs new proxies. */
  g_set_object (slot, connection);
  if (self->bus == connection)
    drop_proxies (self);
  choose_bus (self);
}

static void
vanished_cb (GDBusConnection *connection, const char *name, gpointer user_data)
{
  RelaisClient *self = RELAIS_CLIENT (user_data);

  if (connection == NULL)
    return;   /* that bus is not there at all: nothing to follow */
  if (connection == self->on_system)
    g_clear_object (&self->on_system);
  if (connection == self->on_session)
    g_clear_object (&self->on_session);
  if (connection == self->bus)
    drop_proxies (self);
  choose_bus (self);
}

static guint
watch (RelaisClient *self, GBusType type)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (type, NULL, &error);

  if (bus == NULL)
    {
      g_debug ("no %s bus: %s", type == G_BUS_TYPE_SYSTEM ? "system" : "session", error->message);
      return 0;
    }
  g_object_set_data (G_OBJECT (bus), "relais-bus", GINT_TO_POINTER (type));
  return g_bus_watch_name_on_connection_with_closures (bus, RELAIS_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                       g_cclosure_new_object (G_CALLBACK (appeared_cb), G_OBJECT (self)),
                                                       g_cclosure_new_object (G_CALLBACK (vanished_cb), G_OBJECT (self)));
}

static void
relais_client_dispose (GObject *object)
{
  RelaisClient *self = RELAIS_CLIENT (object);

  g_clear_handle_id (&self->system_watch, g_bus_unwatch_name);
  g_clear_handle_id (&self->session_watch, g_bus_unwatch_name);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  for (guint i = 0; i < N_IFACES; i++)
    {
      g_clear_object (&self->pending[i]);
      g_clear_object (&self->proxies[i]);
    }
  g_clear_object (&self->bus);
  g_clear_object (&self->on_system);
  g_clear_object (&self->on_session);
  g_clear_object (&self->permission);
  g_clear_object (&self->queue_permission);

  G_OBJECT_CLASS (relais_client_parent_class)->dispose (object);
}

static void
relais_client_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RelaisClient *self = RELAIS_CLIENT (object);

  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, relais_client_is_connected (self));
      break;
    case PROP_PERMISSION:
      g_value_set_object (value, self->permission);
      break;
    case PROP_QUEUE_PERMISSION:
      g_value_set_object (value, self->queue_permission);
      break;
    case PROP_CAN_EDIT:
      g_value_set_boolean (value, relais_client_can_edit (self));
      break;
    case PROP_CAN_MANAGE_QUEUE:
      g_value_set_boolean (value, relais_client_can_manage_queue (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relais_client_class_init (RelaisClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = relais_client_dispose;
  object_class->get_property = relais_client_get_property;

  props[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_PERMISSION] = g_param_spec_object ("permission", NULL, NULL, G_TYPE_PERMISSION,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_QUEUE_PERMISSION] = g_param_spec_object ("queue-permission", NULL, NULL, G_TYPE_PERMISSION,
                                                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_CAN_EDIT] = g_param_spec_boolean ("can-edit", NULL, NULL, FALSE,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_CAN_MANAGE_QUEUE] = g_param_spec_boolean ("can-manage-queue", NULL, NULL, FALSE,
                                                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
relais_client_init (RelaisClient *self)
{
  const char *bus = g_getenv ("RELAIS_SETTINGS_BUS");

  self->permission = g_simple_permission_new (FALSE);
  self->queue_permission = g_simple_permission_new (FALSE);
  self->force_session = g_strcmp0 (bus, "session") == 0;
  self->force_system = g_strcmp0 (bus, "system") == 0;
  if (!self->force_session)
    self->system_watch = watch (self, G_BUS_TYPE_SYSTEM);
  if (!self->force_system)
    self->session_watch = watch (self, G_BUS_TYPE_SESSION);
}

RelaisClient *
relais_client_new (void)
{
  return g_object_new (RELAIS_TYPE_CLIENT, NULL);
}

gboolean
relais_client_is_connected (RelaisClient *self)
{
  g_return_val_if_fail (RELAIS_IS_CLIENT (self), FALSE);
  return self->proxies[0] != NULL;
}

const char *
relais_client_get_bus_name (RelaisClient *self)
{
  g_return_val_if_fail (RELAIS_IS_CLIENT (self), NULL);
  if (!relais_client_is_connected (self))
    return NULL;
  return self->bus == self->on_system ? "system" : "session";
}

GDBusProxy *
relais_client_get_proxy (RelaisClient *self, const char *interface_name)
{
  g_return_val_if_fail (RELAIS_IS_CLIENT (self), NULL);
  for (guint i = 0; i < N_IFACES; i++)
    if (g_strcmp0 (iface_names[i], interface_name) == 0)
      return self->proxies[i];
  g_critical ("relais_client_get_proxy: unknown interface %s", interface_name);
  return NULL;
}

#define GETTER(name, Type, iface) \
  Type * relais_client_get_##name (RelaisClient *self) \
  { \
    g_return_val_if_fail (RELAIS_IS_CLIENT (self), NULL); \
    return (Type *) self->proxies[iface]; \
  }

GETTER (general, RelaisGeneral, IFACE_GENERAL)
GETTER (distribution, RelaisDistribution, IFACE_DISTRIBUTION)
GETTER (relay_control, RelaisRelayControl, IFACE_RELAY_CONTROL)
GETTER (security, RelaisSecurity, IFACE_SECURITY)
GETTER (accounts, RelaisAccounts, IFACE_ACCOUNTS)
GETTER (queue, RelaisMailQueue, IFACE_QUEUE)
GETTER (statistics, RelaisStatistics, IFACE_STATISTICS)
GETTER (policy, RelaisPolicy, IFACE_POLICY)

GPermission *
relais_client_get_permission (RelaisClient *self)
{
  g_return_val_if_fail (RELAIS_IS_CLIENT (self), NULL);
  return self->permission;
}

gboolean
relais_client_can_edit (RelaisClient *self)
{
  g_return_val_if_fail (RELAIS_IS_CLIENT (self), FALSE);
  return relais_client_is_connected (self) && g_permission_get_allowed (self->permission);
}

GPermission *
relais_client_get_queue_permission (RelaisClient *self)
{
  g_return_val_if_fail (RELAIS_IS_CLIENT (self), NULL);
  return self->queue_permission;
}

gboolean
relais_client_can_manage_queue (RelaisClient *self)
{
  g_return_val_if_fail (RELAIS_IS_CLIENT (self), FALSE);
  return relais_client_is_connected (self) && g_permission_get_allowed (self->queue_permission);
}
