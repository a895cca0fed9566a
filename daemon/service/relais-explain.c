/* SPDX-License-Identifier: GPL-3.0-or-later
 * The policy trace (see relais-explain.h). It follows relais-session.c step
 * by step: the facts each stage gets (the HELO name is judged at MAIL FROM,
 * once AUTH is known), the DNS facts kept for the session (HELO, client name)
 * or the transaction (sender domain), MaxRecipients before the
 * RCPT policy, the nonexistent-account count after a 550 5.1.1, and where the
 * conversation ends (a refused connection, HELO or MAIL, or a close). What the
 * session counts with the anvil is read here with relais_anvil_peek, plus the
 * unknown recipients of this envelope, so nothing is counted. */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-explain.h"

#include "relais-spf.h"

#include <string.h>

#include "relais-anvil.h"
#include "relais-clock.h"
#include "relais-dns-check.h"
#include "relais-error.h"
#include "relais-networks.h"
#include "relais-smtp-parse.h"

/* Bounds the work of one call: each recipient may run the whole RCPT policy. */
#define MAX_RECIPIENTS 1000

/* ---------------------------------------------------------------- envelope */

static void
recipient_free (RelaisExplainRecipient *recipient)
{
  g_free (recipient->given);
  g_free (recipient->address);
  g_free (recipient);
}

RelaisExplainEnvelope *
relais_explain_envelope_new (void)
{
  RelaisExplainEnvelope *envelope = g_new0 (RelaisExplainEnvelope, 1);

  envelope->endpoint = RELAIS_POLICY_ENDPOINT_SMTP;
  envelope->recipients = g_ptr_array_new_with_free_func ((GDestroyNotify) recipient_free);
  return envelope;
}

void
relais_explain_envelope_free (RelaisExplainEnvelope *envelope)
{
  if (envelope == NULL)
    return;
  g_free (envelope->client_address);
  g_clear_object (&envelope->client_inet);
  g_free (envelope->login);
  g_free (envelope->helo);
  g_free (envelope->sender);
  g_ptr_array_unref (envelope->recipients);
  g_free (envelope);
}

gboolean
relais_explain_envelope_set_client (RelaisExplainEnvelope *envelope, const char *address)
{
  GInetAddress *inet = relais_client_address_parse (address);

  if (inet == NULL)
    return FALSE;
  g_clear_object (&envelope->client_inet);
  envelope->client_inet = inet;
  g_free (envelope->client_address);
  envelope->client_address = g_inet_address_to_string (inet);
  return TRUE;
}

/* A path carrying parameters was not one address between angle brackets
 * ("a@b.example> SIZE=1"): refused as a syntax error. */
static gboolean
path_has_parameters (const RelaisSmtpPath *path, gboolean is_mail)
{
  return path->size >= 0 || path->body != RELAIS_SMTP_BODY_UNSPECIFIED || path->auth != NULL ||
         relais_smtp_path_has_dsn (path) || (!is_mail && path->smtputf8);
}

/* ARG ("FROM:<...> SMTPUTF8" or "TO:<...>") as the session parses it: the
 * address, or NULL and *REPLY. */
static char *
parse_path (const char *arg, gboolean is_mail, gboolean *is_postmaster, char **reply)
{
  RelaisSmtpPath path = { 0 };
  RelaisSmtpPathResult r;
  char *address = NULL;

  /* SMTPUTF8 allowed, so a UTF-8 address is judged by the policy. */
  r = is_mail ? relais_smtp_parse_mail (arg, &path) : relais_smtp_parse_rcpt (arg, TRUE, &path);
  if (r == RELAIS_SMTP_PATH_OK && path_has_parameters (&path, is_mail))
    {
      r = RELAIS_SMTP_PATH_SYNTAX;
      path.detail = NULL;
    }
  if (r != RELAIS_SMTP_PATH_OK)
    {
      const char *enhanced = NULL;
      guint code = 0;
      g_autofree char *text = relais_smtp_path_error_reply (r, &path, is_mail, &code, &enhanced);

      *reply = g_strdup_printf ("%u %s %s", code, enhanced, text);
    }
  else
    {
      address = g_steal_pointer (&path.address);
      if (is_postmaster != NULL)
        *is_postmaster = path.is_postmaster;
    }
  relais_smtp_path_clear (&path);
  return address;
}

gboolean
relais_explain_envelope_set_sender (RelaisExplainEnvelope *envelope, const char *sender, char **reply)
{
  g_autofree char *arg = g_strdup_printf ("FROM:<%s> SMTPUTF8", sender);
  char *address = parse_path (arg, TRUE, NULL, reply);

  if (address == NULL)
    return FALSE;
  g_free (envelope->sender);
  envelope->sender = address;
  return TRUE;
}

gboolean
relais_explain_envelope_add_recipient (RelaisExplainEnvelope *envelope, const char *recipient, char **reply)
{
  g_autofree char *arg = g_strdup_printf ("TO:<%s>", recipient);
  RelaisExplainRecipient *r;
  gboolean is_postmaster = FALSE;
  char *address = parse_path (arg, FALSE, &is_postmaster, reply);

  if (address == NULL)
    return FALSE;
  r = g_new0 (RelaisExplainRecipient, 1);
  r->given = g_strdup (recipient);
  r->address = address;
  r->is_postmaster = is_postmaster;
  g_ptr_array_add (envelope->recipients, r);
  return TRUE;
}

#define ENVELOPE_KEYS "ClientAddress, Helo, Login, Endpoint, Sender, Recipients"

static gboolean
invalid (GError **error, const char *key, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
invalid (GError **error, const char *key, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "%s: %s", key, text);
  return FALSE;
}

static gboolean
check_type (GVariant *value, const char *key, const char *type, GError **error)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
    return TRUE;
  return invalid (error, key, "must be of type '%s', not '%s'", type, g_variant_get_type_string (value));
}

RelaisExplainEnvelope *
relais_explain_envelope_from_variant (GVariant *dict, const RelaisConfig *config, GError **error)
{
  g_autoptr(RelaisExplainEnvelope) envelope = relais_explain_envelope_new ();
  g_autoptr(GVariant) recipients = NULL;
  gboolean have_client = FALSE;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT), NULL);

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      const char *text = NULL;
      g_autofree char *reply = NULL;

      if (g_str_equal (key, "Recipients"))
        {
          if (!check_type (value, key, "as", error))
            return NULL;
          g_clear_pointer (&recipients, g_variant_unref);
          recipients = g_variant_ref (value);
          continue;
        }
      if (!g_str_equal (key, "ClientAddress") && !g_str_equal (key, "Helo") && !g_str_equal (key, "Login") &&
          !g_str_equal (key, "Endpoint") && !g_str_equal (key, "Sender"))
        {
          invalid (error, key, "not a key of the envelope; it takes " ENVELOPE_KEYS);
          return NULL;
        }
      if (!check_type (value, key, "s", error))
        return NULL;
      text = g_variant_get_string (value, NULL);

      if (g_str_equal (key, "ClientAddress"))
        {
          if (!relais_explain_envelope_set_client (envelope, text))
            {
              invalid (error, key, "'%s' is not an IPv4 or IPv6 address such as 192.0.2.7 or 2001:db8::7", text);
              return NULL;
            }
          have_client = TRUE;
        }
      else if (g_str_equal (key, "Helo"))
        {
          g_autofree char *helo = relais_smtp_parse_helo (text);

          /* The parser takes the first word; the envelope holds exactly one. */
          if (helo == NULL || strcmp (helo, text) != 0)
            {
              invalid (error, key, "'%s' is not a host name an EHLO could carry (one word of printable "
                       "characters, such as mail.example.org or [192.0.2.7])", text);
              return NULL;
            }
          g_free (envelope->helo);
          envelope->helo = g_steal_pointer (&helo);
        }
      else if (g_str_equal (key, "Login"))
        {
          if (text[0] != '\0' && relais_config_lookup_login (config, text) == NULL)
            {
              invalid (error, key, "'%s' is not an account of this server; leave Login out for an "
                       "unauthenticated client", text);
              return NULL;
            }
          g_free (envelope->login);
          envelope->login = text[0] != '\0' ? g_strdup (text) : NULL;
        }
      else if (g_str_equal (key, "Endpoint"))
        {
          if (g_str_equal (text, "smtp"))
            envelope->endpoint = RELAIS_POLICY_ENDPOINT_SMTP;
          else if (g_str_equal (text, "submission"))
            envelope->endpoint = RELAIS_POLICY_ENDPOINT_SUBMISSION;
          else
            {
              invalid (error, key, "'%s' is neither \"smtp\" (port 25) nor \"submission\" (ports 587, 465)", text);
              return NULL;
            }
        }
      else if (!relais_explain_envelope_set_sender (envelope, text, &reply))
        {
          invalid (error, key, "'%s' would be refused as MAIL FROM: %s", text, reply);
          return NULL;
        }
    }

  if (!have_client)
    {
      invalid (error, "ClientAddress", "required: the client's IPv4 or IPv6 address, such as 192.0.2.7");
      return NULL;
    }
  if (recipients != NULL && g_variant_n_children (recipients) > 0)
    {
      gsize n = g_variant_n_children (recipients);

      if (envelope->sender == NULL)
        {
          invalid (error, "Recipients", "given without Sender: a RCPT TO needs a MAIL FROM first");
          return NULL;
        }
      if (n > MAX_RECIPIENTS)
        {
          invalid (error, "Recipients", "%" G_GSIZE_FORMAT " recipients; at most %d", n, MAX_RECIPIENTS);
          return NULL;
        }
      for (gsize i = 0; i < n; i++)
        {
          const char *recipient;
          g_autofree char *reply = NULL;

          g_variant_get_child (recipients, i, "&s", &recipient);
          if (!relais_explain_envelope_add_recipient (envelope, recipient, &reply))
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "Recipients[%" G_GSIZE_FORMAT "]: '%s' would be refused as RCPT TO: %s",
                           i, recipient, reply);
              return NULL;
            }
        }
    }
  return g_steal_pointer (&envelope);
}

/* ---------------------------------------------------------------- result */

static void
outcome_clear (RelaisExplainOutcome *outcome)
{
  g_clear_pointer (&outcome->address, g_free);
  g_clear_pointer (&outcome->decision, g_free);
  g_clear_pointer (&outcome->decided_by, g_free);
  g_clear_pointer (&outcome->reply, g_free);
}

static void
outcome_free (RelaisExplainOutcome *outcome)
{
  outcome_clear (outcome);
  g_free (outcome);
}

static void
explain_step_free (RelaisExplainStep *step)
{
  g_free (step->stage);
  g_free (step->step.check);
  g_free (step->step.answer);
  g_free (step);
}

void
relais_explain_result_free (RelaisExplainResult *result)
{
  if (result == NULL)
    return;
  outcome_clear (&result->outcome);
  g_ptr_array_unref (result->steps);
  g_ptr_array_unref (result->recipients);
  g_free (result);
}

gboolean
relais_explain_outcome_allowed (const RelaisExplainOutcome *outcome)
{
  return g_strcmp0 (outcome->decision, "accept") == 0 || g_strcmp0 (outcome->decision, "discard") == 0;
}

GVariant *
relais_explain_result_to_variant (const RelaisExplainResult *result)
{
  GVariantBuilder dict, steps, recipients;

  g_variant_builder_init (&steps, G_VARIANT_TYPE ("a(sssb)"));
  for (guint i = 0; i < result->steps->len; i++)
    {
      const RelaisExplainStep *s = g_ptr_array_index (result->steps, i);

      g_variant_builder_add (&steps, "(sssb)", s->stage, s->step.check, s->step.answer, s->step.decided);
    }
  g_variant_builder_init (&recipients, G_VARIANT_TYPE ("a(ssss)"));
  for (guint i = 0; i < result->recipients->len; i++)
    {
      const RelaisExplainOutcome *o = g_ptr_array_index (result->recipients, i);

      g_variant_builder_add (&recipients, "(ssss)", o->address, o->decision, o->decided_by, o->reply);
    }
  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&dict, "{sv}", "Decision", g_variant_new_string (result->outcome.decision));
  g_variant_builder_add (&dict, "{sv}", "Reply", g_variant_new_string (result->outcome.reply));
  g_variant_builder_add (&dict, "{sv}", "DecidedBy", g_variant_new_string (result->outcome.decided_by));
  g_variant_builder_add (&dict, "{sv}", "Steps", g_variant_builder_end (&steps));
  g_variant_builder_add (&dict, "{sv}", "Recipients", g_variant_builder_end (&recipients));
  return g_variant_builder_end (&dict);
}

/* ---------------------------------------------------------------- the run */

typedef enum {
  STAGE_CONNECT,
  STAGE_HELO,
  STAGE_MAIL,
  STAGE_RCPT,
  STAGE_DONE,
} Stage;

typedef struct {
  RelaisExplainEnvelope *envelope;
  RelaisConfig *config;              /* the snapshot at the start, for the whole run */
  gboolean counted;                  /* the session would count this client (anvil, known address) */
  RelaisAnvilCounts counts;          /* relais_anvil_peek at the start */
  gboolean local_network;
  gboolean tls_available;            /* STARTTLS or implicit TLS: AUTH can be offered */
  RelaisDnsResult helo_dns;          /* kept for the session, like the session's */
  RelaisDnsResult client_name_dns;
  RelaisDnsResult sender_domain_dns; /* kept for the transaction */
  RelaisSpfAnswer *spf;              /* kept for the transaction */
  RelaisDnsResult dnsbl_dns;         /* kept for the session, like the session's */
  char *dnsbl_zone;
  RelaisPolicyLookup lookup;         /* the lookup under way */

  Stage stage;
  guint rcpt;                        /* the recipient being decided */
  guint accepted;                    /* recipients accepted so far (MaxRecipients; not the discarded) */
  guint nonexistent;                 /* 550 5.1.1 answers so far in this envelope */
  GPtrArray *trace;                  /* the current stage call's steps */
  RelaisExplainResult *result;
  char *last_reply;                  /* the reply of the last stage passed, when no recipient decides */
  GCancellable *cancellable;
  char *lookup_what;                 /* the lookup under way, for the cancellation error */
} Explain;

static void
explain_free (Explain *ex)
{
  relais_explain_envelope_free (ex->envelope);
  relais_config_unref (ex->config);
  g_ptr_array_unref (ex->trace);
  relais_explain_result_free (ex->result);
  g_free (ex->last_reply);
  g_clear_object (&ex->cancellable);
  g_free (ex->lookup_what);
  g_free (ex->dnsbl_zone);
  relais_spf_answer_free (ex->spf);
  g_free (ex);
}

/* What relais-session.c's security_facts() gives every stage. */
static void
base_facts (Explain *ex, RelaisPolicyFacts *facts)
{
  facts->client_address = ex->envelope->client_address;
  facts->client_inet = ex->envelope->client_inet;
  facts->endpoint = ex->envelope->endpoint;
  facts->helo = ex->envelope->helo;
  facts->helo_dns = ex->helo_dns;
  facts->client_name_dns = ex->client_name_dns;
  facts->dnsbl_dns = ex->dnsbl_dns;
  facts->dnsbl_zone = ex->dnsbl_zone;
  if (ex->counted)
    {
      facts->connections_now = ex->counts.connections_now;
      facts->connections_this_minute = ex->counts.connections_this_minute;
    }
  facts->trace = ex->trace;
}

/* What fill_auth_facts() and network_facts() add at MAIL and RCPT. */
static void
client_facts (Explain *ex, RelaisPolicyFacts *facts)
{
  const RelaisTrustedNetwork *trusted = relais_config_match_trusted (ex->config, ex->envelope->client_inet);
  gboolean auth_enabled = ex->envelope->endpoint != RELAIS_POLICY_ENDPOINT_SMTP || ex->config->smtp_authentication;

  facts->authenticated = ex->envelope->login != NULL;
  facts->login = ex->envelope->login;
  facts->auth_offered = auth_enabled && ex->envelope->login == NULL && ex->tls_available;
  facts->trusted = trusted != NULL;
  facts->trusted_network = trusted != NULL ? trusted->name : NULL;
  facts->local_network = ex->local_network;
}

static char *
stage_name (Explain *ex)
{
  switch (ex->stage)
    {
    case STAGE_CONNECT: return g_strdup ("connect");
    case STAGE_HELO: return g_strdup ("helo");
    case STAGE_MAIL: return g_strdup ("mail");
    case STAGE_RCPT:
    default:
      {
        RelaisExplainRecipient *r = g_ptr_array_index (ex->envelope->recipients, ex->rcpt);

        return g_strconcat ("rcpt ", r->given, NULL);
      }
    }
}

/* Moves the stage call's steps into the result, under the stage's name. */
static void
keep_steps (Explain *ex)
{
  for (guint i = 0; i < ex->trace->len; i++)
    {
      RelaisPolicyStep *s = g_ptr_array_index (ex->trace, i);
      RelaisExplainStep *e = g_new0 (RelaisExplainStep, 1);

      e->stage = stage_name (ex);
      e->step.check = g_steal_pointer (&s->check);
      e->step.answer = g_steal_pointer (&s->answer);
      e->step.decided = s->decided;
      g_ptr_array_add (ex->result->steps, e);
    }
  g_ptr_array_set_size (ex->trace, 0);
}

static void
add_step (Explain *ex, const char *check, gboolean decided, const char *answer)
{
  RelaisPolicyStep *s = g_new0 (RelaisPolicyStep, 1);

  s->check = g_strdup (check);
  s->answer = g_strdup (answer);
  s->decided = decided;
  g_ptr_array_add (ex->trace, s);
}

static void
set_outcome (RelaisExplainOutcome *outcome, const char *decision, const char *decided_by, char *reply)
{
  g_free (outcome->decision);
  outcome->decision = g_strdup (decision);
  g_free (outcome->decided_by);
  outcome->decided_by = g_strdup (decided_by != NULL ? decided_by : "");
  g_free (outcome->reply);
  outcome->reply = reply;
}

/* VERDICT, a firm answer, as an outcome ("defer" for 4xx, "reject" for 5xx). */
static void
outcome_from_verdict (RelaisExplainOutcome *outcome, const RelaisVerdict *verdict)
{
  const char *decided_by = verdict->rule != NULL ? verdict->rule : verdict->reason;

  switch (verdict->kind)
    {
    case RELAIS_VERDICT_CLOSE:
    case RELAIS_VERDICT_REJECT:
      set_outcome (outcome,
                   verdict->kind == RELAIS_VERDICT_CLOSE ? "close" : verdict->code < 500 ? "defer" : "reject",
                   decided_by, g_strdup_printf ("%u %s %s", verdict->code, verdict->enhanced, verdict->text));
      break;
    case RELAIS_VERDICT_DISCARD:
      /* SPEC §4.1: the client is told 250. */
      set_outcome (outcome, "discard", decided_by, g_strdup ("250 2.1.5 Ok"));
      break;
    default:
      set_outcome (outcome, "accept", verdict->rule, g_strdup ("250 2.1.5 Ok"));
      break;
    }
}

static gboolean
outcome_is_refusal (const RelaisExplainOutcome *outcome)
{
  return outcome->decision != NULL && !relais_explain_outcome_allowed (outcome);
}

/* A refusal before any RCPT: the conversation ends there. */
static void
refuse_stage (Explain *ex, const RelaisVerdict *verdict)
{
  outcome_from_verdict (&ex->result->outcome, verdict);
  ex->stage = STAGE_DONE;
}

static void run (GTask *task);

/* A DNS answer for the stage that asked: the same stage runs again. */
static void
lookup_finished (GTask *task, RelaisDnsResult answer, GError *error)
{
  Explain *ex = g_task_get_task_data (task);

  if (error != NULL)
    {
      /* The only error is the cancellation (relais-dns-check.h). */
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "the DNS lookup of %s was cancelled before it answered; nothing was "
                               "decided, ask again", ex->lookup_what);
      g_object_unref (task);
      return;
    }
  if (ex->lookup == RELAIS_POLICY_LOOKUP_DNSBL)
    ex->dnsbl_dns = answer;
  else if (ex->lookup == RELAIS_POLICY_LOOKUP_SPF)
    ;                               /* ex->spf is set */
  else switch (ex->stage)
    {
    case STAGE_HELO: ex->helo_dns = answer; break;
    case STAGE_MAIL: ex->client_name_dns = answer; break;
    default: ex->sender_domain_dns = answer; break;
    }
  run (task);
}

static void
host_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  RelaisDnsResult answer = relais_dns_check_host_finish (result, &error);

  lookup_finished (user_data, answer, error);
}

static void
client_name_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  RelaisDnsResult answer = relais_dns_check_client_name_finish (result, NULL, &error);

  lookup_finished (user_data, answer, error);
}

static void
spf_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Explain *ex = g_task_get_task_data (G_TASK (user_data));
  g_autoptr(GError) error = NULL;

  relais_spf_answer_free (ex->spf);
  ex->spf = relais_spf_check_host_finish (result, &error);
  lookup_finished (user_data, RELAIS_DNS_FOUND, error);
}

static void
dnsbl_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Explain *ex = g_task_get_task_data (G_TASK (user_data));
  g_autoptr(GError) error = NULL;
  RelaisDnsResult answer;

  g_clear_pointer (&ex->dnsbl_zone, g_free);
  answer = relais_dns_check_dnsbl_finish (result, &ex->dnsbl_zone, &error);
  lookup_finished (user_data, answer, error);
}

/* A stage answered LOOKUP: the fact is looked up, then the same stage runs again. */
static void
start_lookup (GTask *task, RelaisPolicyLookup what)
{
  Explain *ex = g_task_get_task_data (task);
  const char *name;

  g_free (ex->lookup_what);
  ex->lookup = what;
  switch (what)
    {
    case RELAIS_POLICY_LOOKUP_DNSBL:
      ex->lookup_what = g_strdup_printf ("%s in the DNSBL zones (dnsbl)", ex->envelope->client_address);
      relais_dns_check_dnsbl_async (ex->envelope->client_inet, ex->config->dnsbl_zones, ex->cancellable,
                                    dnsbl_lookup_cb, task);
      break;
    case RELAIS_POLICY_LOOKUP_SPF:
      /* As the session: the sender's domain, or the HELO name for <>. */
      name = strrchr (ex->envelope->sender, '@');
      name = name != NULL ? name + 1 : ex->envelope->helo != NULL ? ex->envelope->helo : "";
      ex->lookup_what = g_strdup_printf ("the SPF record of '%s' (spf)", name);
      relais_spf_check_host_async (ex->envelope->client_inet, name,
                                   *ex->envelope->sender != '\0' ? ex->envelope->sender : name,
                                   ex->envelope->helo, ex->config->hostname, ex->cancellable, spf_lookup_cb, task);
      break;
    case RELAIS_POLICY_LOOKUP_HELO:
      ex->lookup_what = g_strdup_printf ("'%s' (unknown-helo)", ex->envelope->helo);
      relais_dns_check_host_async (ex->envelope->helo, RELAIS_DNS_CHECK_ANY, ex->cancellable,
                                   host_lookup_cb, task);
      break;
    case RELAIS_POLICY_LOOKUP_CLIENT_NAME:
      ex->lookup_what = g_strdup_printf ("the name of %s (unknown-client-hostname)", ex->envelope->client_address);
      relais_dns_check_client_name_async (ex->envelope->client_inet, ex->cancellable, client_name_lookup_cb, task);
      break;
    case RELAIS_POLICY_LOOKUP_SENDER_DOMAIN:
    default:
      /* The policy asks only for a sender with a domain, as the session does. */
      name = strrchr (ex->envelope->sender, '@');
      name = name != NULL ? name + 1 : ex->envelope->sender;
      ex->lookup_what = g_strdup_printf ("'%s' (unknown-sender-domain)", name);
      relais_dns_check_host_async (name, RELAIS_DNS_CHECK_ANY, ex->cancellable, host_lookup_cb, task);
      break;
    }
}

/* Each stage: TRUE to go on, FALSE when a lookup was started (VERDICT->lookup). */

static gboolean
stage_connect (Explain *ex, RelaisVerdict *verdict)
{
  RelaisPolicyFacts facts = { 0 };

  base_facts (ex, &facts);
  facts.helo = NULL;
  if (ex->counted)
    facts.blocked_until = ex->counts.blocked_until;
  relais_policy_check_connect (ex->config, &facts, verdict);
  keep_steps (ex);
  if (relais_verdict_is_reject (verdict))
    {
      refuse_stage (ex, verdict);
      return TRUE;
    }
  g_free (ex->last_reply);
  /* EHLO itself is always answered: its name is judged at MAIL FROM. */
  if (ex->envelope->helo != NULL)
    ex->last_reply = g_strdup_printf ("250 %s", ex->config->hostname);
  else
    ex->last_reply = g_strdup_printf ("220 %s %s", ex->config->hostname, ex->config->banner);
  if (ex->envelope->sender == NULL)
    ex->stage = STAGE_DONE;
  else
    ex->stage = ex->envelope->helo != NULL ? STAGE_HELO : STAGE_MAIL;
  return TRUE;
}

/* What cmd_mail() gives the HELO and MAIL checks. */
static void
mail_facts (Explain *ex, RelaisPolicyFacts *facts)
{
  base_facts (ex, facts);
  client_facts (ex, facts);
  facts->sender = ex->envelope->sender;
  if (ex->counted)
    facts->messages_this_minute = ex->counts.messages_this_minute;
}

/* The HELO name, judged at MAIL FROM once AUTH is known (as the session
 * does): a refusal here is the answer to MAIL. */
static gboolean
stage_helo (Explain *ex, RelaisVerdict *verdict)
{
  RelaisPolicyFacts facts = { 0 };

  mail_facts (ex, &facts);
  relais_policy_check_helo (ex->config, &facts, verdict);
  if (verdict->kind == RELAIS_VERDICT_LOOKUP)
    return FALSE;
  keep_steps (ex);
  if (relais_verdict_is_reject (verdict))
    refuse_stage (ex, verdict);
  else
    ex->stage = STAGE_MAIL;
  return TRUE;
}

static gboolean
stage_mail (Explain *ex, RelaisVerdict *verdict)
{
  RelaisPolicyFacts facts = { 0 };

  mail_facts (ex, &facts);
  relais_policy_check_mail (ex->config, &facts, verdict);
  if (verdict->kind == RELAIS_VERDICT_LOOKUP)
    return FALSE;
  keep_steps (ex);
  if (relais_verdict_is_reject (verdict))
    refuse_stage (ex, verdict);
  else
    {
      g_free (ex->last_reply);
      ex->last_reply = g_strdup ("250 2.1.0 Ok");
      ex->stage = ex->envelope->recipients->len > 0 ? STAGE_RCPT : STAGE_DONE;
    }
  return TRUE;
}

/* After a 550 5.1.1: the nonexistent-account count, as count_nonexistent()
 * in the session; TRUE (and OUTCOME set) when the client would be blocked. */
static gboolean
rcpt_nonexistent (Explain *ex, RelaisExplainOutcome *outcome)
{
  RelaisPolicyFacts facts = { 0 };
  g_auto(RelaisVerdict) verdict = { 0 };

  if (!ex->counted)
    return FALSE;
  base_facts (ex, &facts);
  facts.nonexistent_recipients = ex->counts.nonexistent_recipients + ex->nonexistent++;
  relais_policy_check_nonexistent (ex->config, &facts, &verdict);
  if (!relais_verdict_is_reject (&verdict))
    return FALSE;
  /* The block, not the 550, is what the client gets. */
  for (guint i = 0; i < ex->trace->len; i++)
    {
      RelaisPolicyStep *s = g_ptr_array_index (ex->trace, i);

      s->decided = g_str_equal (s->check, "nonexistent-block") && s->decided;
    }
  outcome_from_verdict (outcome, &verdict);
  return TRUE;
}

static gboolean
stage_rcpt (Explain *ex, RelaisVerdict *verdict)
{
  RelaisExplainRecipient *r = g_ptr_array_index (ex->envelope->recipients, ex->rcpt);
  RelaisPolicyFacts facts = { 0 };
  RelaisExplainOutcome *outcome;
  gboolean closed = FALSE;

  /* SPEC §1 MaxRecipients: the session checks it before the policy. */
  if (ex->config->max_recipients > 0 && ex->accepted >= ex->config->max_recipients)
    {
      g_autofree char *answer = g_strdup_printf ("%u accepted, limit %u", ex->accepted, ex->config->max_recipients);

      add_step (ex, "max-recipients", TRUE, answer);
      outcome = g_new0 (RelaisExplainOutcome, 1);
      set_outcome (outcome, "defer", "max-recipients", g_strdup ("452 4.5.3 Too many recipients"));
    }
  else
    {
      base_facts (ex, &facts);
      client_facts (ex, &facts);
      facts.sender = ex->envelope->sender;
      facts.sender_domain_dns = ex->sender_domain_dns;
      facts.spf = ex->spf;
      facts.recipient = r->address;
      facts.recipient_is_postmaster = r->is_postmaster;
      relais_policy_check_rcpt (ex->config, &facts, verdict);
      if (verdict->kind == RELAIS_VERDICT_LOOKUP)
        return FALSE;
      outcome = g_new0 (RelaisExplainOutcome, 1);
      if (relais_verdict_is_reject (verdict) && g_strcmp0 (verdict->reason, "unknown-recipient") == 0)
        closed = rcpt_nonexistent (ex, outcome);
      if (!closed)
        outcome_from_verdict (outcome, verdict);
      if (verdict->kind != RELAIS_VERDICT_DISCARD && !relais_verdict_is_reject (verdict))
        ex->accepted++;
    }
  keep_steps (ex);
  outcome->address = g_strdup (r->given);
  g_ptr_array_add (ex->result->recipients, outcome);
  if (!outcome_is_refusal (&ex->result->outcome) &&
      (ex->result->outcome.decision == NULL || outcome_is_refusal (outcome)))
    set_outcome (&ex->result->outcome, outcome->decision, outcome->decided_by, g_strdup (outcome->reply));
  /* A close ends the conversation: the recipients after it are never sent. */
  ex->rcpt++;
  if (closed || ex->rcpt >= ex->envelope->recipients->len)
    ex->stage = STAGE_DONE;
  return TRUE;
}

static void
run (GTask *task)
{
  Explain *ex = g_task_get_task_data (task);

  while (ex->stage != STAGE_DONE)
    {
      g_auto(RelaisVerdict) verdict = { 0 };
      gboolean go_on = TRUE;

      switch (ex->stage)
        {
        case STAGE_CONNECT: go_on = stage_connect (ex, &verdict); break;
        case STAGE_HELO: go_on = stage_helo (ex, &verdict); break;
        case STAGE_MAIL: go_on = stage_mail (ex, &verdict); break;
        case STAGE_RCPT:
        default: go_on = stage_rcpt (ex, &verdict); break;
        }
      if (!go_on)
        {
          start_lookup (task, verdict.lookup);
          return;
        }
    }

  if (ex->result->outcome.decision == NULL)
    set_outcome (&ex->result->outcome, "accept", "", g_steal_pointer (&ex->last_reply));
  g_task_return_pointer (task, g_steal_pointer (&ex->result), (GDestroyNotify) relais_explain_result_free);
  g_object_unref (task);
}

void
relais_explain_async (RelaisServices *services, RelaisExplainEnvelope *envelope, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Explain *ex;

  g_return_if_fail (services != NULL && envelope != NULL && envelope->client_inet != NULL);

  ex = g_new0 (Explain, 1);
  ex->envelope = envelope;
  ex->config = relais_services_get_config (services);
  ex->counted = services->anvil != NULL;
  if (ex->counted)
    relais_anvil_peek (services->anvil, envelope->client_address, relais_clock_now (), &ex->counts);
  ex->local_network = services->networks != NULL && relais_networks_contains (services->networks,
                                                                              envelope->client_inet);
  ex->tls_available = services->tls_certificate != NULL;
  ex->trace = relais_policy_trace_new ();
  ex->result = g_new0 (RelaisExplainResult, 1);
  ex->result->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) explain_step_free);
  ex->result->recipients = g_ptr_array_new_with_free_func ((GDestroyNotify) outcome_free);
  ex->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  ex->stage = STAGE_CONNECT;

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, relais_explain_async);
  /* The cancellation error says which lookup it stopped. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, ex, (GDestroyNotify) explain_free);
  run (task);
}

RelaisExplainResult *
relais_explain_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
