/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Queue: the queued messages (relais-queue.c does the work).
 * List and Show are open; Hold, Release, RetryNow and Delete are authorized
 * first (org.relais.relais1.manage-queue), then the id is checked. Changed is
 * emitted from a one-second timer when the queue's generation moved, so at
 * most once a second. Strings from the network are made valid UTF-8 here: a
 * D-Bus string must be, and one odd byte must not make a message unreadable. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include "relais-queue.h"
#include "relais-scheduler.h"

typedef gboolean (*QueueChangeFunc) (RelaisQueue *queue, const char *id, GError **error);

typedef struct {
  RelaisDaemon *daemon;
  char *id;
  QueueChangeFunc change;
  gboolean kick;             /* the message may be due now: wake the scheduler */
  const char *was, *now;     /* the message's state before and after, for the audit trail */
} Call;

static void
call_free (gpointer data)
{
  Call *call = data;

  g_free (call->id);
  g_free (call);
}

/* S as a D-Bus string: invalid UTF-8 (and NUL) become U+FFFD. */
static GVariant *
text_variant (const char *s, gssize len)
{
  g_autofree char *valid = g_utf8_make_valid (s != NULL ? s : "", s != NULL ? len : 0);

  return g_variant_new_string (valid);
}

static const char *
state_name (RelaisRecipientState state)
{
  switch (state)
    {
    case RELAIS_RECIPIENT_DELIVERED:
      return "delivered";
    case RELAIS_RECIPIENT_FAILED:
      return "failed";
    case RELAIS_RECIPIENT_PENDING:
    default:
      return "pending";
    }
}

static gboolean
handle_list_cb (RelaisMailQueue *skeleton, GDBusMethodInvocation *invocation, gpointer daemon)
{
  g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ssasttuxsb)"));
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = relais_queue_list (relais_daemon_get_queue (daemon), &error);

  if (entries == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  for (guint i = 0; i < entries->len; i++)
    {
      RelaisQueueEntry *e = g_ptr_array_index (entries, i);
      g_auto (GVariantBuilder) pending = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_STRING_ARRAY);

      for (guint j = 0; j < e->pending->len; j++)
        g_variant_builder_add_value (&pending, text_variant (g_ptr_array_index (e->pending, j), -1));
      g_variant_builder_add (&builder, "(@s@s@asttux@sb)", text_variant (e->id, -1),
                             text_variant (e->sender, -1), g_variant_builder_end (&pending), e->size,
                             (guint64) MAX (e->received_at, 0), e->attempts, e->next_attempt,
                             text_variant (e->last_error, -1), e->held);
    }
  relais_mail_queue_complete_list (skeleton, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_show_cb (RelaisMailQueue *skeleton, GDBusMethodInvocation *invocation, const char *id,
                gpointer daemon)
{
  g_auto (GVariantBuilder) message = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_auto (GVariantBuilder) recipients = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sssuxs)"));
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisQueueEntry) e = relais_queue_show (relais_daemon_get_queue (daemon), id, &error);

  if (e == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  for (guint i = 0; i < e->recipients->len; i++)
    {
      RelaisQueueRecipient *r = g_ptr_array_index (e->recipients, i);

      g_variant_builder_add (&recipients, "(@s@ssux@s)", text_variant (r->address, -1),
                             text_variant (r->original, -1), state_name (r->state), r->attempts,
                             r->next_attempt, text_variant (r->last_reply, -1));
    }
  g_variant_builder_add (&message, "{sv}", "Id", text_variant (e->id, -1));
  g_variant_builder_add (&message, "{sv}", "Sender", text_variant (e->sender, -1));
  g_variant_builder_add (&message, "{sv}", "Size", g_variant_new_uint64 (e->size));
  g_variant_builder_add (&message, "{sv}", "ReceivedAt", g_variant_new_int64 (e->received_at));
  g_variant_builder_add (&message, "{sv}", "ClientAddress", text_variant (e->client_address, -1));
  g_variant_builder_add (&message, "{sv}", "Helo", text_variant (e->helo, -1));
  g_variant_builder_add (&message, "{sv}", "Held", g_variant_new_boolean (e->held));
  g_variant_builder_add (&message, "{sv}", "Recipients", g_variant_builder_end (&recipients));
  if (e->headers != NULL)
    {
      gsize len;
      const char *data = g_bytes_get_data (e->headers, &len);

      g_variant_builder_add (&message, "{sv}", "Headers", text_variant (data, (gssize) len));
    }
  relais_mail_queue_complete_show (skeleton, invocation, g_variant_builder_end (&message));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
change_authorized (GDBusMethodInvocation *invocation, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;

  if (!call->change (relais_daemon_get_queue (call->daemon), call->id, &error))
    {
      g_info ("Queue.%s(%s) from %s refused: %s", g_dbus_method_invocation_get_method_name (invocation),
              call->id, g_dbus_method_invocation_get_sender (invocation), error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_message ("Queue.%s(%s) by %s", g_dbus_method_invocation_get_method_name (invocation), call->id,
             g_dbus_method_invocation_get_sender (invocation));
  relais_audit_record (relais_daemon_get_audit (call->daemon), invocation, call->id, call->was, call->now);
  if (call->kick)
    relais_scheduler_kick (relais_daemon_get_scheduler (call->daemon));
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static gboolean
authorize_change (GDBusMethodInvocation *invocation, RelaisDaemon *daemon, const char *id,
                  gboolean interactive, QueueChangeFunc change, gboolean kick, const char *was, const char *now)
{
  Call *call = g_new0 (Call, 1);

  call->daemon = daemon;
  call->id = g_strdup (id);
  call->change = change;
  call->kick = kick;
  call->was = was;
  call->now = now;
  relais_authority_check (relais_daemon_get_authority (daemon), invocation, interactive,
                          change_authorized, call, call_free);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_hold_cb (RelaisMailQueue *skeleton, GDBusMethodInvocation *invocation, const char *id,
                gboolean interactive, gpointer daemon)
{
  return authorize_change (invocation, daemon, id, interactive, relais_queue_hold, FALSE, "queued", "held");
}

static gboolean
handle_release_cb (RelaisMailQueue *skeleton, GDBusMethodInvocation *invocation, const char *id,
                   gboolean interactive, gpointer daemon)
{
  return authorize_change (invocation, daemon, id, interactive, relais_queue_release, TRUE, "held", "queued");
}

static gboolean
handle_retry_now_cb (RelaisMailQueue *skeleton, GDBusMethodInvocation *invocation, const char *id,
                     gboolean interactive, gpointer daemon)
{
  return authorize_change (invocation, daemon, id, interactive, relais_queue_retry_now, TRUE, "waiting", "due now");
}

static gboolean
handle_delete_cb (RelaisMailQueue *skeleton, GDBusMethodInvocation *invocation, const char *id,
                  gboolean interactive, gpointer daemon)
{
  return authorize_change (invocation, daemon, id, interactive, relais_queue_delete, FALSE, "queued", NULL);
}

/* ---- Changed ------------------------------------------------------------ */

typedef struct {
  RelaisMailQueue *skeleton;        /* weak */
  RelaisQueue *queue;
  guint64 seen_generation;
} Poller;

static gboolean
poll_cb (gpointer user_data)
{
  Poller *poller = user_data;
  guint64 generation = relais_queue_get_generation (poller->queue);

  if (generation != poller->seen_generation)
    {
      poller->seen_generation = generation;
      relais_mail_queue_emit_changed (poller->skeleton);
    }
  return G_SOURCE_CONTINUE;
}

static void
skeleton_gone (gpointer data, GObject *where_the_object_was)
{
  g_source_remove (GPOINTER_TO_UINT (data));
}

RelaisMailQueue *
relais_dbus_queue_new (RelaisDaemon *daemon)
{
  RelaisMailQueue *skeleton = relais_mail_queue_skeleton_new ();
  Poller *poller = g_new0 (Poller, 1);
  guint id;

  g_signal_connect (skeleton, "handle-list", G_CALLBACK (handle_list_cb), daemon);
  g_signal_connect (skeleton, "handle-show", G_CALLBACK (handle_show_cb), daemon);
  g_signal_connect (skeleton, "handle-hold", G_CALLBACK (handle_hold_cb), daemon);
  g_signal_connect (skeleton, "handle-release", G_CALLBACK (handle_release_cb), daemon);
  g_signal_connect (skeleton, "handle-retry-now", G_CALLBACK (handle_retry_now_cb), daemon);
  g_signal_connect (skeleton, "handle-delete", G_CALLBACK (handle_delete_cb), daemon);

  poller->skeleton = skeleton;
  poller->queue = relais_daemon_get_queue (daemon);
  poller->seen_generation = relais_queue_get_generation (poller->queue);
  id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, 1, poll_cb, poller, g_free);
  g_object_weak_ref (G_OBJECT (skeleton), skeleton_gone, GUINT_TO_POINTER (id));
  return skeleton;
}
