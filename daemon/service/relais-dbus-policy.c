/* SPDX-License-Identifier: GPL-3.0-or-later
 * org.relais.Relais1.Policy: CanRelay answers what the SMTP server would
 * answer to one RCPT TO on port 25, from the same parser and policy functions
 * the session uses, with the current snapshot and local networks. Open to
 * everyone (a read); nothing is sent, counted or changed. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-dbus.h"

#include "relais-error.h"
#include "relais-networks.h"
#include "relais-policy.h"
#include "relais-smtp-parse.h"

static void
complete (RelaisPolicy *skeleton, GDBusMethodInvocation *invocation, gboolean allowed, const char *rule,
          guint code, const char *enhanced, const char *text)
{
  g_autofree char *reply = g_strdup_printf ("%u %s %s", code, enhanced, text);

  relais_policy_complete_can_relay (skeleton, invocation, allowed, rule, reply);
}

static gboolean
handle_can_relay_cb (RelaisPolicy *skeleton, GDBusMethodInvocation *invocation, const char *client_address,
                     const char *login, const char *sender, const char *recipient, gpointer user_data)
{
  RelaisDaemon *daemon = user_data;
  g_autoptr(RelaisConfig) config = relais_config_ref (relais_daemon_get_config (daemon));
  g_autoptr(GInetAddress) address = relais_client_address_parse (client_address);
  g_autofree char *address_text = NULL;
  g_autofree char *mail_arg = NULL;
  g_autofree char *rcpt_arg = NULL;
  RelaisSmtpPath mail_path = { 0 };
  RelaisSmtpPath rcpt_path = { 0 };
  RelaisSmtpPathResult result;
  RelaisPolicyFacts facts = { 0 };
  g_auto(RelaisVerdict) mail_verdict = { 0 };
  g_auto(RelaisVerdict) verdict = { 0 };
  const RelaisTrustedNetwork *trusted;

  if (address == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                             "client address '%s' is not an IPv4 or IPv6 address "
                                             "such as 192.0.2.7 or 2001:db8::7", client_address);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (login[0] != '\0' && relais_config_lookup_login (config, login) == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                                             "login '%s' is not an account of this server; use \"\" "
                                             "for an unauthenticated client", login);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  address_text = g_inet_address_to_string (address);
  trusted = relais_config_match_trusted (config, address);
  facts.client_address = address_text;
  facts.endpoint = RELAIS_POLICY_ENDPOINT_SMTP;
  facts.authenticated = login[0] != '\0';
  facts.login = facts.authenticated ? login : NULL;
  facts.auth_offered = config->smtp_authentication && !facts.authenticated;
  facts.trusted = trusted != NULL;
  facts.trusted_network = trusted != NULL ? trusted->name : NULL;
  facts.local_network = relais_networks_contains (relais_daemon_get_networks (daemon), address);

  /* The addresses go through the SMTP parser, as they would on the wire
   * (SMTPUTF8 allowed, so a UTF-8 address is judged by the policy). */
  mail_arg = g_strdup_printf ("FROM:<%s> SMTPUTF8", sender);
  result = relais_smtp_parse_mail (mail_arg, &mail_path);
  if (result != RELAIS_SMTP_PATH_OK)
    {
      const char *enhanced = NULL;
      guint code = 0;
      g_autofree char *text = relais_smtp_path_error_reply (result, &mail_path, TRUE, &code, &enhanced);

      complete (skeleton, invocation, FALSE, "bad-sender", code, enhanced, text);
      relais_smtp_path_clear (&mail_path);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  facts.sender = mail_path.address;
  relais_policy_check_mail (config, &facts, &mail_verdict);
  if (relais_verdict_is_reject (&mail_verdict))
    {
      complete (skeleton, invocation, FALSE, mail_verdict.rule != NULL ? mail_verdict.rule : mail_verdict.reason,
                mail_verdict.code, mail_verdict.enhanced, mail_verdict.text);
      relais_smtp_path_clear (&mail_path);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  rcpt_arg = g_strdup_printf ("TO:<%s>", recipient);
  result = relais_smtp_parse_rcpt (rcpt_arg, TRUE, &rcpt_path);
  if (result != RELAIS_SMTP_PATH_OK)
    {
      const char *enhanced = NULL;
      guint code = 0;
      g_autofree char *text = relais_smtp_path_error_reply (result, &rcpt_path, FALSE, &code, &enhanced);

      complete (skeleton, invocation, FALSE, "bad-recipient", code, enhanced, text);
    }
  else
    {
      facts.recipient = rcpt_path.address;
      facts.recipient_is_postmaster = rcpt_path.is_postmaster;
      relais_policy_check_rcpt (config, &facts, &verdict);
      if (relais_verdict_is_reject (&verdict))
        complete (skeleton, invocation, FALSE, verdict.rule != NULL ? verdict.rule : verdict.reason,
                  verdict.code, verdict.enhanced, verdict.text);
      else
        complete (skeleton, invocation, TRUE, verdict.rule != NULL ? verdict.rule : "", 250, "2.1.5", "Ok");
    }
  relais_smtp_path_clear (&rcpt_path);
  relais_smtp_path_clear (&mail_path);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

RelaisPolicy *
relais_dbus_policy_new (RelaisDaemon *daemon)
{
  RelaisPolicy *skeleton = relais_policy_skeleton_new ();

  g_signal_connect (skeleton, "handle-can-relay", G_CALLBACK (handle_can_relay_cb), daemon);
  return skeleton;
}
