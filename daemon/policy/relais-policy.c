/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pure policy decisions (see relais-policy.h). The first firm answer wins. */
#define G_LOG_DOMAIN "relais"

#include "relais-policy.h"

#include <string.h>

void
relais_verdict_clear (RelaisVerdict *verdict)
{
  g_clear_pointer (&verdict->text, g_free);
  g_clear_pointer (&verdict->recipient, g_free);
  g_clear_pointer (&verdict->rule, g_free);
  memset (verdict, 0, sizeof *verdict);
}

gboolean
relais_verdict_is_reject (const RelaisVerdict *verdict)
{
  return verdict->kind == RELAIS_VERDICT_REJECT;
}

static void
reject (RelaisVerdict *verdict, guint code, const char *enhanced, const char *reason, const char *text)
{
  verdict->kind = RELAIS_VERDICT_REJECT;
  verdict->code = code;
  verdict->enhanced = enhanced;
  verdict->reason = reason;
  verdict->text = g_strdup (text);
}

/* A RCPT refusal: the rule is the reason. */
static void
refuse (RelaisVerdict *verdict, guint code, const char *enhanced, const char *reason, const char *text)
{
  reject (verdict, code, enhanced, reason, text);
  verdict->rule = g_strdup (reason);
}

static void
accept (RelaisVerdict *verdict, RelaisVerdictKind kind, const char *recipient,
        const RelaisAccount *account, char *rule)
{
  verdict->kind = kind;
  verdict->recipient = g_strdup (recipient);
  verdict->account = account;
  verdict->rule = rule;
}

/* SPEC §1 "Verify that sender addresses belong to the login account": an
 * authenticated client may use as MAIL FROM only an address its account owns
 * (login@each local domain, aliases); the null sender is always allowed. SPEC
 * §3 note: trusted networks are exempt when SkipSenderCheckForTrusted is on,
 * local networks when SkipAuthForLocalNetworks is on. */
static void
check_sender_login (const RelaisConfig *config, const RelaisPolicyFacts *facts, RelaisVerdict *verdict)
{
  const RelaisAccount *account;
  g_autofree char *text = NULL;

  if (!config->verify_sender_login || !facts->authenticated || facts->login == NULL)
    return;
  if (facts->sender == NULL || facts->sender[0] == '\0')
    return;
  if (config->skip_sender_check_for_trusted && facts->trusted)
    return;
  if (config->skip_auth_for_local_networks && facts->local_network)
    return;
  account = relais_config_lookup_login (config, facts->login);
  if (account != NULL && relais_config_lookup_address (config, facts->sender) == account)
    return;
  text = g_strdup_printf ("Sender address rejected: not owned by user %s", facts->login);
  reject (verdict, 553, "5.7.1", "sender-login", text);
}

void
relais_policy_check_mail (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                          RelaisVerdict *verdict)
{
  g_return_if_fail (config != NULL && facts != NULL && verdict != NULL);

  memset (verdict, 0, sizeof *verdict);
  verdict->kind = RELAIS_VERDICT_CONTINUE;
  /* SPEC §1: on the submission ports authentication is always required. */
  if (facts->endpoint == RELAIS_POLICY_ENDPOINT_SUBMISSION && !facts->authenticated)
    {
      reject (verdict, 530, "5.7.0", "auth-required", "Authentication required");
      return;
    }
  check_sender_login (config, facts, verdict);
}

static gboolean
has_external_administrators (const RelaisConfig *config)
{
  return config->external_administrators != NULL && config->external_administrators[0] != NULL;
}

static const RelaisAccount *
lookup (const RelaisConfig *config, const char *address)
{
  /* relais_config_lookup_address() folds case itself. */
  return relais_config_lookup_address (config, address);
}

/* RCPT TO:<postmaster> (no domain): RFC 5321 §4.5.1. */
static void
check_bare_postmaster (const RelaisConfig *config, RelaisVerdict *verdict)
{
  const char *first_domain = NULL;

  if (config->local_domains != NULL && config->local_domains[0] != NULL)
    first_domain = config->local_domains[0];

  /* An account owning postmaster@ of a local domain or of the hostname takes it. */
  for (guint i = 0; config->local_domains != NULL && config->local_domains[i] != NULL; i++)
    {
      g_autofree char *address = g_strconcat ("postmaster@", config->local_domains[i], NULL);
      const RelaisAccount *account = lookup (config, address);

      if (account != NULL)
        {
          accept (verdict, RELAIS_VERDICT_ACCEPT_LOCAL, address, account, g_strdup ("local-account"));
          return;
        }
    }
  if (has_external_administrators (config))
    {
      g_autofree char *address =
          g_strconcat ("postmaster@", first_domain != NULL ? first_domain : config->hostname, NULL);

      accept (verdict, RELAIS_VERDICT_ACCEPT_POSTMASTER, address, NULL, g_strdup ("postmaster"));
      return;
    }
  refuse (verdict, 550, "5.1.1", "unknown-recipient", "Recipient address rejected: unknown user");
}

void
relais_policy_check_rcpt (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                          RelaisVerdict *verdict)
{
  const char *at;
  g_autofree char *domain = NULL;
  g_autofree char *local_part = NULL;
  const RelaisAccount *account;
  const RelaisRelayDomain *relay_domain;
  g_autofree char *rule = NULL;

  g_return_if_fail (config != NULL && facts != NULL && verdict != NULL);
  g_return_if_fail (facts->recipient != NULL);

  memset (verdict, 0, sizeof *verdict);

  if (facts->recipient_is_postmaster)
    {
      check_bare_postmaster (config, verdict);
      return;
    }

  at = strrchr (facts->recipient, '@');
  if (at == NULL || at == facts->recipient || at[1] == '\0')
    {
      refuse (verdict, 501, "5.1.3", "bad-recipient", "Bad recipient address syntax");
      return;
    }
  domain = g_ascii_strdown (at + 1, -1);
  local_part = g_strndup (facts->recipient, (gsize) (at - facts->recipient));

  if (relais_config_is_local_domain (config, domain))
    {
      account = lookup (config, facts->recipient);
      if (account != NULL)
        {
          accept (verdict, RELAIS_VERDICT_ACCEPT_LOCAL, facts->recipient, account, g_strdup ("local-account"));
          return;
        }
      if (g_ascii_strcasecmp (local_part, "postmaster") == 0 ||
          g_ascii_strcasecmp (local_part, "mailer-daemon") == 0)
        {
          if (has_external_administrators (config))
            {
              accept (verdict, RELAIS_VERDICT_ACCEPT_POSTMASTER, facts->recipient, NULL, g_strdup ("postmaster"));
              return;
            }
        }
      refuse (verdict, 550, "5.1.1", "unknown-recipient", "Recipient address rejected: unknown user");
      return;
    }

  /* Incoming relay (SPEC §3): from anyone. */
  relay_domain = relais_config_match_relay_domain (config, domain);
  if (relay_domain != NULL)
    {
      accept (verdict, RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN, facts->recipient, NULL,
              g_strconcat ("relay-domain:", relay_domain->name, NULL));
      return;
    }

  /* Relay (SPEC §1): the client's credentials or its network. */
  if (facts->authenticated)
    rule = g_strdup ("authenticated");
  else if (facts->trusted)
    rule = g_strconcat ("trusted-network:", facts->trusted_network != NULL ? facts->trusted_network : "", NULL);
  else if (facts->local_network && config->skip_auth_for_local_networks)
    rule = g_strdup ("local-network");
  if (rule != NULL)
    {
      accept (verdict, RELAIS_VERDICT_ACCEPT_RELAY, facts->recipient, NULL, g_steal_pointer (&rule));
      return;
    }
  if (facts->auth_offered)
    refuse (verdict, 454, "4.7.1", "relay-denied", "Relay access denied");
  else
    refuse (verdict, 554, "5.7.1", "relay-denied", "Relay access denied");
}
