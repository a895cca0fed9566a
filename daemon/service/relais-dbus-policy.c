/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Policy: Explain traces what the SMTP server would decide
 * for an envelope, and CanRelay answers for one RCPT TO on port 25; both run
 * the one engine of relais-explain.c (the session's parser and policy stages,
 * the current snapshot, local networks and per-client counters, real DNS
 * lookups). Open to everyone (reads); nothing is sent, counted or changed.
 * Lookups under way are cancelled when the interface goes away. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include "relais-error.h"
#include "relais-explain.h"

#define CANCELLABLE_KEY "relais-policy-cancellable"

/* One call waiting for the engine; it holds no reference to the skeleton,
 * whose end cancels the lookups under way. */
typedef struct {
  GDBusMethodInvocation *invocation;
  char *bad_recipient;           /* CanRelay: the reply to a recipient that does not parse */
} Call;

static void
call_free (Call *call)
{
  g_clear_object (&call->invocation);
  g_free (call->bad_recipient);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static Call *
call_new (GDBusMethodInvocation *invocation)
{
  Call *call = g_new0 (Call, 1);

  call->invocation = invocation;   /* the handler's reference, consumed by the answer */
  return call;
}

static GCancellable *
cancellable_of (RelaisPolicy *skeleton)
{
  return g_object_get_data (G_OBJECT (skeleton), CANCELLABLE_KEY);
}

/* The engine's result, or NULL with the invocation answered. */
static RelaisExplainResult *
finish (Call *call, GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;
  RelaisExplainResult *explained = relais_explain_finish (result, &error);

  if (explained == NULL)
    g_dbus_method_invocation_return_error (g_steal_pointer (&call->invocation), RELAIS_ERROR,
                                           RELAIS_ERROR_FAILED, "%s", error->message);
  return explained;
}

/* ---------------------------------------------------------------- Explain */

static void
explain_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(RelaisExplainResult) explained = finish (call, result);

  if (explained != NULL)
    g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                           g_variant_new ("(@a{sv})", relais_explain_result_to_variant (explained)));
}

static gboolean
handle_explain_cb (RelaisPolicy *skeleton, GDBusMethodInvocation *invocation, GVariant *envelope_variant,
                   gpointer user_data)
{
  RelaisDaemon *daemon = user_data;
  g_autoptr(GError) error = NULL;
  RelaisExplainEnvelope *envelope =
    relais_explain_envelope_from_variant (envelope_variant, relais_daemon_get_config (daemon), &error);

  if (envelope == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  relais_explain_async (relais_daemon_get_services (daemon), envelope, cancellable_of (skeleton), explain_cb,
                        call_new (invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---------------------------------------------------------------- CanRelay */

static void
complete_can_relay (Call *call, gboolean allowed, const char *rule, const char *reply)
{
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(bss)", allowed, rule, reply));
}

static void
can_relay_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(Call) call = user_data;
  g_autoptr(RelaisExplainResult) explained = finish (call, result);
  const RelaisExplainOutcome *outcome;

  if (explained == NULL)
    return;
  outcome = &explained->outcome;
  /* A refusal before RCPT stands; then a recipient that does not parse. A
   * discard is allowed: the client is told 250 (SPEC §4.1). */
  if (relais_explain_outcome_allowed (outcome) && call->bad_recipient != NULL)
    complete_can_relay (call, FALSE, "bad-recipient", call->bad_recipient);
  else
    complete_can_relay (call, relais_explain_outcome_allowed (outcome), outcome->decided_by, outcome->reply);
}

static gboolean
handle_can_relay_cb (RelaisPolicy *skeleton, GDBusMethodInvocation *invocation, const char *client_address,
                     const char *login, const char *sender, const char *recipient, gpointer user_data)
{
  RelaisDaemon *daemon = user_data;
  g_autoptr(RelaisExplainEnvelope) envelope = relais_explain_envelope_new ();
  g_autoptr(Call) call = NULL;
  g_autofree char *reply = NULL;

  if (!relais_explain_envelope_set_client (envelope, client_address))
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                             "client address '%s' is not an IPv4 or IPv6 address "
                                             "such as 192.0.2.7 or 2001:db8::7", client_address);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (login[0] != '\0' && relais_config_lookup_login (relais_daemon_get_config (daemon), login) == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                             "login '%s' is not an account of this server; use \"\" "
                                             "for an unauthenticated client", login);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  envelope->login = login[0] != '\0' ? g_strdup (login) : NULL;

  call = call_new (invocation);
  /* The addresses go through the SMTP parser, as they would on the wire. */
  if (!relais_explain_envelope_set_sender (envelope, sender, &reply))
    {
      complete_can_relay (call, FALSE, "bad-sender", reply);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  /* A recipient that does not parse is answered after the stages before RCPT. */
  relais_explain_envelope_add_recipient (envelope, recipient, &call->bad_recipient);
  relais_explain_async (relais_daemon_get_services (daemon), g_steal_pointer (&envelope), cancellable_of (skeleton),
                        can_relay_cb, g_steal_pointer (&call));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
cancel_and_unref (GCancellable *cancellable)
{
  g_cancellable_cancel (cancellable);
  g_object_unref (cancellable);
}

RelaisPolicy *
relais_dbus_policy_new (RelaisDaemon *daemon)
{
  RelaisPolicy *skeleton = relais_policy_skeleton_new ();

  g_object_set_data_full (G_OBJECT (skeleton), CANCELLABLE_KEY, g_cancellable_new (),
                          (GDestroyNotify) cancel_and_unref);
  g_signal_connect (skeleton, "handle-can-relay", G_CALLBACK (handle_can_relay_cb), daemon);
  g_signal_connect (skeleton, "handle-explain", G_CALLBACK (handle_explain_cb), daemon);
  return skeleton;
}
