/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pure policy decisions (see relais-policy.h): connect, HELO, MAIL, RCPT and
 * the nonexistent-recipient block. Each stage runs its checks in a fixed
 * order, the first firm answer wins, and every check consulted leaves a step
 * in the optional trace, so that Policy.Explain shows the same reasoning as the
 * session follows. */
#define G_LOG_DOMAIN "relais"

#include "relais-policy.h"
#include "relais-spf.h"

#include <string.h>

#include "relais-address.h"

void
relais_policy_step_free (RelaisPolicyStep *step)
{
  if (step == NULL)
    return;
  g_free (step->check);
  g_free (step->answer);
  g_free (step);
}

GPtrArray *
relais_policy_trace_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) relais_policy_step_free);
}

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
  return verdict->kind == RELAIS_VERDICT_REJECT || verdict->kind == RELAIS_VERDICT_CLOSE;
}

/* ------------------------------------------------------------------ trace */

static RelaisPolicyStep *
step (const RelaisPolicyFacts *facts, const char *check, gboolean decided, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

/* Appends a step to the trace, if any; the step (to mark it decided later) or NULL. */
static RelaisPolicyStep *
step (const RelaisPolicyFacts *facts, const char *check, gboolean decided, const char *format, ...)
{
  RelaisPolicyStep *s;
  va_list args;

  if (facts->trace == NULL)
    return NULL;
  s = g_new0 (RelaisPolicyStep, 1);
  s->check = g_strdup (check);
  va_start (args, format);
  s->answer = g_strdup_vprintf (format, args);
  va_end (args);
  s->decided = decided;
  g_ptr_array_add (facts->trace, s);
  return s;
}

static void
mark_decided (RelaisPolicyStep *s)
{
  if (s != NULL)
    s->decided = TRUE;
}

static guint
trace_mark (const RelaisPolicyFacts *facts)
{
  return facts->trace != NULL ? facts->trace->len : 0;
}

static const char *
rule_type_name (RelaisRuleType type)
{
  switch (type)
    {
    case RELAIS_RULE_TYPE_IP: return "ip";
    case RELAIS_RULE_TYPE_SUBNET: return "subnet";
    case RELAIS_RULE_TYPE_SENDER: return "sender";
    case RELAIS_RULE_TYPE_RECIPIENT: return "recipient";
    case RELAIS_RULE_TYPE_DOMAIN: return "domain";
    default: return "?";
    }
}

/* "rule 'NAME' (sender a@b.example)", for the trace only. */
static char *
describe_rule (const RelaisSecurityRule *rule)
{
  return g_strdup_printf ("rule '%s' (%s %s)", rule->name, rule_type_name (rule->type), rule->value);
}

/* ---------------------------------------------------------------- verdicts */

static void
reject (RelaisVerdict *verdict, guint code, const char *enhanced, const char *reason, const char *text)
{
  verdict->kind = RELAIS_VERDICT_REJECT;
  verdict->code = code;
  verdict->enhanced = enhanced;
  verdict->reason = reason;
  verdict->text = g_strdup (text);
}

/* A refusal by a Security check: RULE_PREFIX ("policy", "limit") names the rule. */
static void
refuse_check (RelaisVerdict *verdict, RelaisVerdictKind kind, guint code, const char *enhanced,
              const char *reason, const char *rule, const char *text)
{
  relais_verdict_clear (verdict);
  reject (verdict, code, enhanced, reason, text);
  verdict->kind = kind;
  verdict->rule = g_strdup (rule);
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

/* Asks the caller for a DNS fact: nothing else of this call remains, trace included. */
static void
ask_lookup (const RelaisPolicyFacts *facts, guint mark, RelaisVerdict *verdict, RelaisPolicyLookup lookup)
{
  relais_verdict_clear (verdict);
  verdict->kind = RELAIS_VERDICT_LOOKUP;
  verdict->lookup = lookup;
  if (facts->trace != NULL && facts->trace->len > mark)
    g_ptr_array_remove_range (facts->trace, mark, facts->trace->len - mark);
}

/* An IP-type whitelist rule matching the client (SPEC §4.1: it skips sender
 * policy, HELO and client-hostname checks and the nonexistent-account block). */
static const RelaisSecurityRule *
ip_whitelist (const RelaisConfig *config, const RelaisPolicyFacts *facts)
{
  if (config->security_rules == NULL)
    return NULL;
  return relais_rule_set_match_ip (config->security_rules, RELAIS_RULE_LIST_WHITE, facts->client_inet);
}

/* A check skipped by the IP whitelist rule WHITE that would have refused:
 * the verdict names the rule, so that its hit counter counts. */
static void
credit_whitelist (RelaisVerdict *verdict, const RelaisSecurityRule *white)
{
  g_free (verdict->rule);
  verdict->rule = g_strconcat ("whitelist:", white->name, NULL);
}

static const char *
client_text (const RelaisPolicyFacts *facts, char **owned)
{
  if (facts->client_address != NULL)
    return facts->client_address;
  if (facts->client_inet != NULL)
    return *owned = g_inet_address_to_string (facts->client_inet);
  return "unknown";
}

static const char *
dns_text (RelaisDnsResult result)
{
  switch (result)
    {
    case RELAIS_DNS_FOUND: return "found";
    case RELAIS_DNS_NXDOMAIN: return "not found (NXDOMAIN)";
    case RELAIS_DNS_NO_RECORDS: return "no records";
    case RELAIS_DNS_TEMPFAIL: return "temporary DNS failure";
    case RELAIS_DNS_UNCHECKED:
    default: return "not looked up";
    }
}

/* A name in DNS syntax (UTF-8 allowed) with at least two labels, the last
 * not all digits (so not a bare IPv4 address). */
static gboolean
is_fqdn (const char *name)
{
  const char *top;

  if (name == NULL || !relais_address_is_valid_domain (name, TRUE))
    return FALSE;
  top = strrchr (name, '.');
  if (top == NULL)
    return FALSE;
  for (top++; *top; top++)
    if (!g_ascii_isdigit (*top))
      return TRUE;
  return FALSE;
}

/* [192.0.2.1], [IPv6:2001:db8::1] */
static gboolean
is_address_literal (const char *text)
{
  RelaisAddressCursor cursor = { text, FALSE };

  return text != NULL && text[0] == '[' && relais_address_parse_literal (&cursor) && *cursor.p == '\0';
}

/* Clients the host checks never refuse: one that authenticated (a mail
 * program on a laptop says "EHLO laptop" from any network), or one on a
 * trusted network (SPEC §3). NULL for anyone else. */
static const char *
host_checks_exemption (const RelaisPolicyFacts *facts, char **owned)
{
  if (facts->authenticated)
    return "authenticated client";
  if (facts->trusted)
    return *owned = g_strdup_printf ("trusted network '%s'",
                                     facts->trusted_network != NULL ? facts->trusted_network : "");
  return NULL;
}

/* --------------------------------------------------------------- connect */

void
relais_policy_check_connect (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                             RelaisVerdict *verdict)
{
  const RelaisSecurityRule *white;

  g_return_if_fail (config != NULL && facts != NULL && verdict != NULL);

  memset (verdict, 0, sizeof *verdict);
  verdict->kind = RELAIS_VERDICT_CONTINUE;
  white = ip_whitelist (config, facts);
  verdict->whitelist = white;

  /* SPEC §4.5: the block set after too many nonexistent recipients. Turning
   * the setting off lifts the blocks at once. */
  if (!config->block_nonexistent_recipients)
    step (facts, "nonexistent-block", FALSE, "off");
  else if (facts->blocked_until <= 0)
    step (facts, "nonexistent-block", FALSE, "not blocked");
  else if (white != NULL)
    {
      step (facts, "nonexistent-block", FALSE, "skipped: whitelist rule '%s'", white->name);
      credit_whitelist (verdict, white);
    }
  else
    {
      step (facts, "nonexistent-block", TRUE, "blocked until %" G_GINT64_FORMAT " (unix time)", facts->blocked_until);
      refuse_check (verdict, RELAIS_VERDICT_CLOSE, 421, "4.7.0", "nonexistent-block", "policy:nonexistent-block",
                    "Client host blocked: too many nonexistent recipients, until midnight");
      return;
    }

  /* SPEC §4.4: no whitelist skips the limits. */
  if (!config->limit_connections)
    step (facts, "connection-limit", FALSE, "off");
  else if (facts->connections_now > config->max_connections)
    {
      step (facts, "connection-limit", TRUE, "%u simultaneous, limit %u", facts->connections_now,
            config->max_connections);
      refuse_check (verdict, RELAIS_VERDICT_CLOSE, 421, "4.7.0", "connection-limit", "limit:connections",
                    "Too many connections");
      return;
    }
  else
    step (facts, "connection-limit", FALSE, "%u simultaneous, limit %u", facts->connections_now,
          config->max_connections);

  if (!config->limit_connection_rate)
    step (facts, "connection-rate", FALSE, "off");
  else if (facts->connections_this_minute > config->max_connections_per_minute)
    {
      step (facts, "connection-rate", TRUE, "%u this minute, limit %u",
            facts->connections_this_minute, config->max_connections_per_minute);
      refuse_check (verdict, RELAIS_VERDICT_CLOSE, 421, "4.7.0", "connection-rate", "limit:connection-rate",
                    "Connection rate limit exceeded");
      return;
    }
  else
    step (facts, "connection-rate", FALSE, "%u this minute, limit %u",
          facts->connections_this_minute, config->max_connections_per_minute);
}

/* ------------------------------------------------------------------ HELO */

void
relais_policy_check_helo (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                          RelaisVerdict *verdict)
{
  const RelaisSecurityRule *white;
  const char *helo, *shown;
  g_autofree char *stripped = NULL;
  gboolean literal, fqdn;
  guint mark;
  g_autofree char *owned = NULL;
  const char *exempt = host_checks_exemption (facts, &owned);

  g_return_if_fail (config != NULL && facts != NULL && verdict != NULL);

  memset (verdict, 0, sizeof *verdict);
  verdict->kind = RELAIS_VERDICT_CONTINUE;
  mark = trace_mark (facts);
  white = ip_whitelist (config, facts);
  verdict->whitelist = white;
  helo = shown = facts->helo != NULL ? facts->helo : "";
  /* The absolute form "mail.example.org." is fully qualified too. */
  if (g_str_has_suffix (helo, ".") && helo[1] != '\0')
    helo = stripped = g_strndup (helo, strlen (helo) - 1);
  literal = is_address_literal (helo);
  fqdn = !literal && is_fqdn (helo);

  if (!config->reject_non_fqdn_helo)
    step (facts, "non-fqdn-helo", FALSE, "off");
  else if (exempt != NULL)
    step (facts, "non-fqdn-helo", FALSE, "skipped: %s", exempt);
  else if (white != NULL)
    {
      step (facts, "non-fqdn-helo", FALSE, "skipped: whitelist rule '%s'", white->name);
      if (!literal && !fqdn)
        credit_whitelist (verdict, white);
    }
  else if (literal)
    step (facts, "non-fqdn-helo", FALSE, "'%s' is an address literal", shown);
  else if (fqdn)
    step (facts, "non-fqdn-helo", FALSE, "'%s' is fully qualified", shown);
  else
    {
      step (facts, "non-fqdn-helo", TRUE, "'%s' is not a fully-qualified host name", shown);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 504, "5.5.2", "non-fqdn-helo", "policy:non-fqdn-helo",
                    "Helo command rejected: need fully-qualified hostname");
      return;
    }

  if (!config->reject_unknown_helo)
    step (facts, "unknown-helo", FALSE, "off");
  else if (exempt != NULL)
    step (facts, "unknown-helo", FALSE, "skipped: %s", exempt);
  else if (white != NULL)
    {
      step (facts, "unknown-helo", FALSE, "skipped: whitelist rule '%s'", white->name);
      if (!literal && (!relais_address_is_valid_domain (helo, TRUE) ||
                       (facts->helo_dns != RELAIS_DNS_FOUND && facts->helo_dns != RELAIS_DNS_UNCHECKED)))
        credit_whitelist (verdict, white);
    }
  else if (literal)
    step (facts, "unknown-helo", FALSE, "'%s' is an address literal: no lookup", shown);
  else if (!relais_address_is_valid_domain (helo, TRUE))
    {
      /* Not a host name at all: no DNS server could know it. */
      step (facts, "unknown-helo", TRUE, "'%s' is not a valid host name: not found without a lookup", shown);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 450, "4.7.1", "unknown-helo", "policy:unknown-helo",
                    "Helo command rejected: Host not found");
    }
  else
    switch (facts->helo_dns)
      {
      case RELAIS_DNS_UNCHECKED:
        ask_lookup (facts, mark, verdict, RELAIS_POLICY_LOOKUP_HELO);
        break;
      case RELAIS_DNS_FOUND:
        step (facts, "unknown-helo", FALSE, "'%s': found", shown);
        break;
      case RELAIS_DNS_NXDOMAIN:
      case RELAIS_DNS_NO_RECORDS:
        step (facts, "unknown-helo", TRUE, "'%s': %s", shown, dns_text (facts->helo_dns));
        refuse_check (verdict, RELAIS_VERDICT_REJECT, 450, "4.7.1", "unknown-helo", "policy:unknown-helo",
                      "Helo command rejected: Host not found");
        break;
      case RELAIS_DNS_TEMPFAIL:
      default:
        step (facts, "unknown-helo", TRUE, "'%s': %s", shown, dns_text (RELAIS_DNS_TEMPFAIL));
        refuse_check (verdict, RELAIS_VERDICT_REJECT, 450, "4.7.1", "unknown-helo", "policy:unknown-helo",
                      "Helo command rejected: temporary DNS failure, try again later");
        break;
      }
}

/* ----------------------------------------------------------- nonexistent */

void
relais_policy_check_nonexistent (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                                 RelaisVerdict *verdict)
{
  const RelaisSecurityRule *white;

  g_return_if_fail (config != NULL && facts != NULL && verdict != NULL);

  memset (verdict, 0, sizeof *verdict);
  verdict->kind = RELAIS_VERDICT_CONTINUE;
  white = ip_whitelist (config, facts);
  verdict->whitelist = white;
  if (!config->block_nonexistent_recipients)
    step (facts, "nonexistent-block", FALSE, "off");
  else if (white != NULL)
    {
      step (facts, "nonexistent-block", FALSE, "skipped: whitelist rule '%s'", white->name);
      if (facts->nonexistent_recipients > config->max_nonexistent_recipients)
        credit_whitelist (verdict, white);
    }
  else if (facts->nonexistent_recipients > config->max_nonexistent_recipients)
    {
      step (facts, "nonexistent-block", TRUE, "%u since midnight, limit %u",
            facts->nonexistent_recipients, config->max_nonexistent_recipients);
      refuse_check (verdict, RELAIS_VERDICT_CLOSE, 421, "4.7.0", "nonexistent-block", "policy:nonexistent-block",
                    "Too many nonexistent recipients; blocked until midnight");
    }
  else
    step (facts, "nonexistent-block", FALSE, "%u since midnight, limit %u",
          facts->nonexistent_recipients, config->max_nonexistent_recipients);
}

/* ------------------------------------------------------------------ MAIL */

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

  if (!config->verify_sender_login)
    {
      step (facts, "sender-login", FALSE, "off");
      return;
    }
  if (!facts->authenticated || facts->login == NULL)
    {
      step (facts, "sender-login", FALSE, "not authenticated");
      return;
    }
  if (facts->sender == NULL || facts->sender[0] == '\0')
    {
      step (facts, "sender-login", FALSE, "null sender");
      return;
    }
  if (config->skip_sender_check_for_trusted && facts->trusted)
    {
      step (facts, "sender-login", FALSE, "skipped: trusted network");
      return;
    }
  if (config->skip_auth_for_local_networks && facts->local_network)
    {
      step (facts, "sender-login", FALSE, "skipped: local network");
      return;
    }
  account = relais_config_lookup_login (config, facts->login);
  if (account != NULL && relais_config_lookup_address (config, facts->sender) == account)
    {
      step (facts, "sender-login", FALSE, "'%s' is owned by '%s'", facts->sender, facts->login);
      return;
    }
  step (facts, "sender-login", TRUE, "'%s' is not owned by '%s'", facts->sender, facts->login);
  text = g_strdup_printf ("Sender address rejected: not owned by user %s", facts->login);
  reject (verdict, 553, "5.7.1", "sender-login", text);
}

/* SPEC §4.4 "Reject unknown client hostnames". */
static void
check_client_name (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                   const RelaisSecurityRule *white, guint mark, RelaisVerdict *verdict)
{
  g_autofree char *owned = NULL;
  g_autofree char *text = NULL;
  const char *client = client_text (facts, &owned);

  g_autofree char *owned_exempt = NULL;
  const char *exempt = host_checks_exemption (facts, &owned_exempt);

  if (!config->reject_unknown_client_hostname)
    {
      step (facts, "unknown-client-hostname", FALSE, "off");
      return;
    }
  if (exempt != NULL)
    {
      step (facts, "unknown-client-hostname", FALSE, "skipped: %s", exempt);
      return;
    }
  if (white != NULL)
    {
      step (facts, "unknown-client-hostname", FALSE, "skipped: whitelist rule '%s'", white->name);
      if (facts->client_name_dns != RELAIS_DNS_FOUND && facts->client_name_dns != RELAIS_DNS_UNCHECKED)
        credit_whitelist (verdict, white);
      return;
    }
  if (facts->client_name_dns == RELAIS_DNS_UNCHECKED)
    {
      ask_lookup (facts, mark, verdict, RELAIS_POLICY_LOOKUP_CLIENT_NAME);
      return;
    }
  if (facts->client_name_dns == RELAIS_DNS_FOUND)
    {
      step (facts, "unknown-client-hostname", FALSE, "[%s]: name found and confirmed", client);
      return;
    }
  text = g_strdup_printf ("Client host rejected: cannot find your hostname, [%s]", client);
  switch (facts->client_name_dns)
    {
    case RELAIS_DNS_NXDOMAIN:
      step (facts, "unknown-client-hostname", TRUE, "[%s]: no PTR name (NXDOMAIN)", client);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 550, "5.7.25", "unknown-client-hostname",
                    "policy:unknown-client-hostname", text);
      break;
    case RELAIS_DNS_NO_RECORDS:
      step (facts, "unknown-client-hostname", TRUE,
            "[%s]: no PTR record, or no PTR name resolves back to the address", client);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 450, "4.7.25", "unknown-client-hostname",
                    "policy:unknown-client-hostname", text);
      break;
    case RELAIS_DNS_TEMPFAIL:
    default:
      step (facts, "unknown-client-hostname", TRUE, "[%s]: %s", client, dns_text (RELAIS_DNS_TEMPFAIL));
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 450, "4.7.25", "unknown-client-hostname",
                    "policy:unknown-client-hostname", text);
      break;
    }
}

/* SPEC §4.3 "Reject senders without a FQDN". */
static void
check_non_fqdn_sender (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                       const RelaisSecurityRule *white, RelaisVerdict *verdict)
{
  const char *at;
  const char *problem = NULL;
  gboolean literal = FALSE;

  if (!config->reject_non_fqdn_sender)
    {
      step (facts, "non-fqdn-sender", FALSE, "off");
      return;
    }
  if (facts->sender == NULL)
    {
      step (facts, "non-fqdn-sender", FALSE, "no sender given");
      return;
    }
  if (facts->sender[0] == '\0')
    {
      step (facts, "non-fqdn-sender", FALSE, "null sender");
      return;
    }
  at = strrchr (facts->sender, '@');
  if (at == NULL || at[1] == '\0')
    problem = "has no domain";
  else if ((literal = is_address_literal (at + 1)) == FALSE && !is_fqdn (at + 1))
    problem = "is not fully qualified";
  if (white != NULL)
    {
      step (facts, "non-fqdn-sender", FALSE, "skipped: whitelist rule '%s'", white->name);
      if (problem != NULL)
        credit_whitelist (verdict, white);
      return;
    }
  if (problem == NULL)
    {
      step (facts, "non-fqdn-sender", FALSE, literal ? "'%s' has an address literal" : "'%s' is fully qualified",
            facts->sender);
      return;
    }
  step (facts, "non-fqdn-sender", TRUE, "'%s' %s", facts->sender, problem);
  refuse_check (verdict, RELAIS_VERDICT_REJECT, 504, "5.5.2", "non-fqdn-sender", "policy:non-fqdn-sender",
                "Sender address rejected: need fully-qualified address");
}

void
relais_policy_check_mail (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                          RelaisVerdict *verdict)
{
  const RelaisSecurityRule *white;
  guint mark;

  g_return_if_fail (config != NULL && facts != NULL && verdict != NULL);

  memset (verdict, 0, sizeof *verdict);
  verdict->kind = RELAIS_VERDICT_CONTINUE;
  mark = trace_mark (facts);
  /* SPEC §1: on the submission ports authentication is always required. */
  if (facts->endpoint != RELAIS_POLICY_ENDPOINT_SUBMISSION)
    step (facts, "auth-required", FALSE, "port 25: not required");
  else if (facts->authenticated)
    step (facts, "auth-required", FALSE, "submission port: authenticated");
  else
    {
      step (facts, "auth-required", TRUE, "submission port: not authenticated");
      reject (verdict, 530, "5.7.0", "auth-required", "Authentication required");
      return;
    }
  check_sender_login (config, facts, verdict);
  if (verdict->kind != RELAIS_VERDICT_CONTINUE)
    return;

  /* SPEC §4.4: no whitelist skips the limits. */
  if (!config->limit_message_rate)
    step (facts, "message-rate", FALSE, "off");
  else if (facts->messages_this_minute > config->max_messages_per_minute)
    {
      step (facts, "message-rate", TRUE, "%u this minute, limit %u", facts->messages_this_minute,
            config->max_messages_per_minute);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 450, "4.7.0", "message-rate", "limit:message-rate",
                    "Message rate limit exceeded");
      return;
    }
  else
    step (facts, "message-rate", FALSE, "%u this minute, limit %u", facts->messages_this_minute,
          config->max_messages_per_minute);

  white = ip_whitelist (config, facts);
  verdict->whitelist = white;
  check_client_name (config, facts, white, mark, verdict);
  if (verdict->kind != RELAIS_VERDICT_CONTINUE)
    return;
  check_non_fqdn_sender (config, facts, white, verdict);
}

/* ------------------------------------------------------------------ RCPT */

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

/* Relay control (SPEC §1, §3): who may send to this recipient. No whitelist skips it. */
static void
check_recipient (const RelaisConfig *config, const RelaisPolicyFacts *facts, RelaisVerdict *verdict)
{
  const char *at;
  g_autofree char *domain = NULL;
  g_autofree char *local_part = NULL;
  const RelaisAccount *account;
  const RelaisRelayDomain *relay_domain;
  g_autofree char *rule = NULL;

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

/* RECIPIENT: the accepted address (a bare postmaster with its domain). */
static const RelaisSecurityRule *
match_list (RelaisRuleSet *set, RelaisRuleList list, const RelaisPolicyFacts *facts, const char *recipient)
{
  return relais_rule_set_match_first (set, list, facts->client_inet, facts->sender, recipient);
}

/* SPEC §4.3 "Reject senders with unknown domains", on an accepted recipient. */
static void
check_sender_domain (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                     const RelaisSecurityRule *white, guint mark, RelaisVerdict *verdict,
                     RelaisPolicyStep **credited)
{
  const char *at = facts->sender != NULL ? strrchr (facts->sender, '@') : NULL;
  const char *domain = at != NULL ? at + 1 : NULL;

  if (!config->reject_unknown_sender_domain)
    {
      step (facts, "unknown-sender-domain", FALSE, "off");
      return;
    }
  if (facts->sender == NULL || facts->sender[0] == '\0')
    {
      step (facts, "unknown-sender-domain", FALSE, "null sender: not checked");
      return;
    }
  if (verdict->kind == RELAIS_VERDICT_ACCEPT_LOCAL || verdict->kind == RELAIS_VERDICT_ACCEPT_POSTMASTER)
    {
      step (facts, "unknown-sender-domain", FALSE, "recipient is local (account or postmaster): not checked");
      return;
    }
  if (domain == NULL || *domain == '\0')
    {
      step (facts, "unknown-sender-domain", FALSE, "'%s' has no domain: not checked", facts->sender);
      return;
    }
  if (is_address_literal (domain))
    {
      step (facts, "unknown-sender-domain", FALSE, "'%s' is an address literal: not checked", domain);
      return;
    }
  if (white != NULL)
    {
      RelaisPolicyStep *skipped = step (facts, "unknown-sender-domain", FALSE, "skipped: whitelist rule '%s'",
                                        white->name);

      if (facts->sender_domain_dns != RELAIS_DNS_FOUND && facts->sender_domain_dns != RELAIS_DNS_UNCHECKED &&
          *credited == NULL)
        {
          credit_whitelist (verdict, white);
          *credited = skipped;
        }
      return;
    }
  switch (facts->sender_domain_dns)
    {
    case RELAIS_DNS_UNCHECKED:
      ask_lookup (facts, mark, verdict, RELAIS_POLICY_LOOKUP_SENDER_DOMAIN);
      break;
    case RELAIS_DNS_FOUND:
      step (facts, "unknown-sender-domain", FALSE, "'%s': found", domain);
      break;
    case RELAIS_DNS_NXDOMAIN:
    case RELAIS_DNS_NO_RECORDS:
      step (facts, "unknown-sender-domain", TRUE, "'%s': %s", domain, dns_text (facts->sender_domain_dns));
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 550, "5.1.8", "unknown-sender-domain",
                    "policy:unknown-sender-domain", "Sender address rejected: Domain not found");
      break;
    case RELAIS_DNS_TEMPFAIL:
    default:
      step (facts, "unknown-sender-domain", TRUE, "'%s': %s", domain, dns_text (RELAIS_DNS_TEMPFAIL));
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 450, "4.1.8", "unknown-sender-domain",
                    "policy:unknown-sender-domain",
                    "Sender address rejected: temporary DNS failure, try again later");
      break;
    }
}

/* SPEC §4.2 DNSBL, on an accepted recipient (relay control and the
 * black/white rules first: a refusal there stands, and a client that may not
 * relay costs no lookups). Who is never refused by it:
 * - an authenticated client: submission from a laptop on a dynamic address
 *   (which DNSBLs list as "end-user space") must keep working;
 * - a trusted network (SPEC §3): the administrator said these hosts are ours;
 * - a client matching an IP or IP/subnet whitelist rule (SPEC §4.1 table).
 * Loopback clients get no exemption of their own: a local program is exempt
 * when it authenticates or when the administrator lists loopback as a trusted
 * network, and asking costs nothing, since a DNSBL never lists 127.0.0.1
 * (RFC 5782 §5 reserves 127.0.0.2 as the test entry every list must hold,
 * which lets an administrator check the setup from the machine itself). */
static void
check_dnsbl (const RelaisConfig *config, const RelaisPolicyFacts *facts, guint mark, RelaisVerdict *verdict)
{
  const RelaisSecurityRule *white;
  g_autofree char *owned = NULL;
  g_autofree char *owned_exempt = NULL;
  g_autofree char *text = NULL;
  g_autofree char *rule = NULL;
  const char *client = client_text (facts, &owned);
  const char *exempt = host_checks_exemption (facts, &owned_exempt);
  const char *zone = facts->dnsbl_zone != NULL ? facts->dnsbl_zone : "";

  if (!config->dnsbl)
    {
      step (facts, "dnsbl", FALSE, "off");
      return;
    }
  if (config->dnsbl_zones == NULL || config->dnsbl_zones->len == 0)
    {
      step (facts, "dnsbl", FALSE, "no zones configured");
      return;
    }
  if (exempt != NULL)
    {
      step (facts, "dnsbl", FALSE, "skipped: %s", exempt);
      return;
    }
  if (facts->client_inet == NULL)
    {
      step (facts, "dnsbl", FALSE, "client address unknown: not checked");
      return;
    }
  white = relais_rule_set_whitelist_skipping (config->security_rules, RELAIS_SKIP_DNSBL, facts->client_inet,
                                              NULL, NULL);
  if (white != NULL)
    {
      step (facts, "dnsbl", FALSE, "skipped: whitelist rule '%s'", white->name);
      return;
    }
  switch (facts->dnsbl_dns)
    {
    case RELAIS_DNS_UNCHECKED:
      ask_lookup (facts, mark, verdict, RELAIS_POLICY_LOOKUP_DNSBL);
      break;
    case RELAIS_DNS_FOUND:
      step (facts, "dnsbl", TRUE, "[%s] listed in %s", client, zone);
      text = g_strdup_printf ("Service unavailable; client [%s] blocked using %s", client, zone);
      rule = g_strconcat ("dnsbl:", zone, NULL);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 554, "5.7.1", "dnsbl", rule, text);
      break;
    case RELAIS_DNS_TEMPFAIL:
      step (facts, "dnsbl", TRUE, "[%s] in %s: %s", client, zone, dns_text (RELAIS_DNS_TEMPFAIL));
      text = g_strdup_printf ("Service unavailable; client [%s]: temporary DNS failure looking up %s, "
                              "try again later", client, zone);
      rule = g_strconcat ("dnsbl-tempfail:", zone, NULL);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 451, "4.7.1", "dnsbl", rule, text);
      break;
    case RELAIS_DNS_NXDOMAIN:
    case RELAIS_DNS_NO_RECORDS:
    default:
      step (facts, "dnsbl", FALSE, "[%s] not listed in %u zone%s", client, config->dnsbl_zones->len,
            config->dnsbl_zones->len == 1 ? "" : "s");
      break;
    }
}

/* RFC 7208 SPF on an accepted recipient, after the DNSBL; the same exemptions
 * (an authenticated client or a trusted network sends for its own domains
 * from anywhere), and any whitelist rule matching the client, the sender or
 * this recipient skips it (SPEC §4.1). Only fail and temperror refuse: RFC
 * 7208 §8 leaves softfail and neutral to local policy, and a permerror is the
 * domain's mistake, recorded in the Received-SPF header. */
static void
check_spf (const RelaisConfig *config, const RelaisPolicyFacts *facts, const char *recipient, guint mark,
           RelaisVerdict *verdict)
{
  const RelaisSecurityRule *white;
  g_autofree char *owned = NULL;
  g_autofree char *owned_exempt = NULL;
  g_autofree char *text = NULL;
  const char *client = client_text (facts, &owned);
  const char *exempt = host_checks_exemption (facts, &owned_exempt);
  const RelaisSpfAnswer *spf = facts->spf;

  if (!config->spf)
    {
      step (facts, "spf", FALSE, "off");
      return;
    }
  if (exempt != NULL)
    {
      step (facts, "spf", FALSE, "skipped: %s", exempt);
      return;
    }
  white = relais_rule_set_whitelist_skipping (config->security_rules, RELAIS_SKIP_SPF, facts->client_inet,
                                              facts->sender, recipient);
  if (white != NULL)
    {
      step (facts, "spf", FALSE, "skipped: whitelist rule '%s'", white->name);
      return;
    }
  if (facts->client_inet == NULL)
    {
      step (facts, "spf", FALSE, "client address unknown: not checked");
      return;
    }
  if (spf == NULL)
    {
      ask_lookup (facts, mark, verdict, RELAIS_POLICY_LOOKUP_SPF);
      return;
    }
  switch (spf->result)
    {
    case RELAIS_SPF_FAIL:
      step (facts, "spf", TRUE, "fail: %s does not allow [%s] (%s)", spf->domain, client,
            spf->mechanism != NULL ? spf->mechanism : "");
      if (spf->explanation != NULL && *spf->explanation != '\0')
        text = g_strdup_printf ("SPF: %s", spf->explanation);
      else
        text = g_strdup_printf ("SPF: %s does not designate [%s] as a permitted sender", spf->domain, client);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 550, "5.7.23", "spf", "spf:fail", text);
      break;
    case RELAIS_SPF_TEMPERROR:
      step (facts, "spf", TRUE, "temperror for %s: %s", spf->domain, spf->problem != NULL ? spf->problem : "");
      text = g_strdup_printf ("SPF: temporary error checking %s, try again later", spf->domain);
      refuse_check (verdict, RELAIS_VERDICT_REJECT, 451, "4.7.24", "spf", "spf:temperror", text);
      break;
    default:
      step (facts, "spf", FALSE, "%s for %s%s%s", relais_spf_result_to_string (spf->result), spf->domain,
            spf->problem != NULL ? ": " : "", spf->problem != NULL ? spf->problem : "");
      break;
    }
}

RelaisContentCheckState
relais_policy_content_check (const RelaisConfig *config, const RelaisPolicyFacts *facts, const char *recipient,
                             guint check, const RelaisSecurityRule **white)
{
  gboolean on = check == RELAIS_SKIP_ANTIVIRUS ? config->antivirus
              : check == RELAIS_SKIP_DKIM ? config->dkim
              : check == RELAIS_SKIP_DMARC ? config->dmarc : FALSE;
  const RelaisSecurityRule *rule;

  if (white != NULL)
    *white = NULL;
  if (!on)
    return RELAIS_CONTENT_CHECK_OFF;
  if (check != RELAIS_SKIP_ANTIVIRUS && (facts->authenticated || facts->trusted))
    return RELAIS_CONTENT_CHECK_EXEMPT;
  rule = relais_rule_set_whitelist_skipping (config->security_rules, check, facts->client_inet, facts->sender,
                                             recipient);
  if (white != NULL)
    *white = rule;
  return rule != NULL ? RELAIS_CONTENT_CHECK_WHITELISTED : RELAIS_CONTENT_CHECK_RUN;
}

/* The trace steps of the end-of-DATA checks for an accepted recipient. */
static void
content_steps (const RelaisConfig *config, const RelaisPolicyFacts *facts, const char *recipient)
{
  static const guint checks[] = { RELAIS_SKIP_ANTIVIRUS, RELAIS_SKIP_DKIM, RELAIS_SKIP_DMARC };

  if (facts->trace == NULL)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (checks); i++)
    {
      const RelaisSecurityRule *white;
      g_autofree char *owned = NULL;
      const char *name = relais_skippable_check_to_string (checks[i]);

      switch (relais_policy_content_check (config, facts, recipient, checks[i], &white))
        {
        case RELAIS_CONTENT_CHECK_OFF:
          step (facts, name, FALSE, "off");
          break;
        case RELAIS_CONTENT_CHECK_EXEMPT:
          step (facts, name, FALSE, "skipped: %s", host_checks_exemption (facts, &owned));
          break;
        case RELAIS_CONTENT_CHECK_WHITELISTED:
          step (facts, name, FALSE, "skipped: whitelist rule '%s'", white->name);
          break;
        case RELAIS_CONTENT_CHECK_RUN:
        default:
          step (facts, name, FALSE, "at the end of DATA");
          break;
        }
    }
}

void
relais_policy_check_rcpt (const RelaisConfig *config, const RelaisPolicyFacts *facts,
                          RelaisVerdict *verdict)
{
  RelaisRuleSet *set;
  const RelaisSecurityRule *white, *black, *ip_white;
  RelaisPolicyStep *recipient_step, *white_step, *credited = NULL;
  g_autofree char *description = NULL;
  guint mark;

  g_return_if_fail (config != NULL && facts != NULL && verdict != NULL);
  g_return_if_fail (facts->recipient != NULL);

  memset (verdict, 0, sizeof *verdict);
  mark = trace_mark (facts);

  check_recipient (config, facts, verdict);
  if (relais_verdict_is_reject (verdict))
    {
      step (facts, "recipient", TRUE, "refused: %u %s %s", verdict->code, verdict->enhanced, verdict->text);
      return;
    }
  recipient_step = step (facts, "recipient", FALSE, "accepted: %s", verdict->rule);

  /* SPEC §4.1: the black/white rules, after relay control. */
  set = config->security_rules;
  white = set != NULL ? match_list (set, RELAIS_RULE_LIST_WHITE, facts, verdict->recipient) : NULL;
  black = set != NULL ? match_list (set, RELAIS_RULE_LIST_BLACK, facts, verdict->recipient) : NULL;
  verdict->whitelist = white;
  if (white != NULL)
    {
      description = facts->trace != NULL ? describe_rule (white) : NULL;
      white_step = step (facts, "whitelist", FALSE, "%s", description);
      g_clear_pointer (&description, g_free);
    }
  else
    white_step = step (facts, "whitelist", FALSE, "no match");

  if (black == NULL)
    step (facts, "blacklist", FALSE, "no match");
  else
    {
      description = facts->trace != NULL ? describe_rule (black) : NULL;
      if (white != NULL)
        {
          step (facts, "blacklist", FALSE, "%s: overridden by whitelist rule '%s'", description, white->name);
          credit_whitelist (verdict, white);
          credited = white_step;
        }
      else if (black->action == RELAIS_RULE_ACTION_DISCARD)
        {
          step (facts, "blacklist", TRUE, "%s: discard", description);
          verdict->kind = RELAIS_VERDICT_DISCARD;
          verdict->reason = "blacklist";
          g_free (verdict->rule);
          verdict->rule = g_strconcat ("blacklist:", black->name, NULL);
          return;
        }
      else
        {
          g_autofree char *rule = g_strconcat ("blacklist:", black->name, NULL);

          step (facts, "blacklist", TRUE, "%s: reject", description);
          refuse_check (verdict, RELAIS_VERDICT_REJECT, 554, "5.7.1", "blacklist", rule, "Access denied");
          return;
        }
    }

  check_dnsbl (config, facts, mark, verdict);
  if (verdict->kind == RELAIS_VERDICT_REJECT || verdict->kind == RELAIS_VERDICT_LOOKUP)
    return;

  check_spf (config, facts, verdict->recipient, mark, verdict);
  if (verdict->kind == RELAIS_VERDICT_REJECT || verdict->kind == RELAIS_VERDICT_LOOKUP)
    return;

  ip_white = ip_whitelist (config, facts);
  check_sender_domain (config, facts, ip_white, mark, verdict, &credited);
  if (verdict->kind == RELAIS_VERDICT_REJECT || verdict->kind == RELAIS_VERDICT_LOOKUP)
    return;

  content_steps (config, facts, verdict->recipient);

  /* An acceptance: decided by the whitelist where it changed the answer
   * (overriding the blacklist, or skipping a check), else by relay control. */
  mark_decided (verdict->rule != NULL && g_str_has_prefix (verdict->rule, "whitelist:") ? credited : recipient_step);
}
