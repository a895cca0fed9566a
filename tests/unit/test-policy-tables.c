/* SPDX-License-Identifier: GPL-3.0-or-later
 * The policy as readable tables: every tests/unit/policy/NAME.in is a list of
 * settings, rules and cases; running it gives, per case, the decision and
 * the policy trace, compared with NAME.ref (the .in with the results after
 * each case line). A change of policy is then a readable diff of the .ref.
 *
 * To rewrite the .ref files after an intended change, run
 *   RELAIS_POLICY_REGENERATE=1 build/tests/test-policy-tables
 * and read the diff before committing: the .ref is the specification, the
 * runner must not bless whatever the code does.
 *
 * Besides the comparison, every case is checked for invariants that hold
 * whatever the table says: the same verdict with and without a trace, one
 * decided step for a firm answer and none for CONTINUE, a LOOKUP only for a
 * fact still unchecked that leaves the trace untouched and is not asked again
 * once the fact is filled, well-formed reply codes.
 *
 * .in syntax, one item per line ('#' starts a comment line):
 *   set KEY VALUE            a Security or General setting (true/false, a number, a GVariant
 *                            text starting with '[' such as [('bl.example','')], or text)
 *   domain DOMAIN            a local domain
 *   account LOGIN [ALIAS...] an account
 *   relay-domain NAME DOMAIN an incoming relay domain
 *   admin ADDRESS...         the external administrators
 *   rule black|white TYPE VALUE [reject|discard] name=NAME   (TYPE: ip subnet sender recipient domain)
 *   rules clear              forget the rules
 *   case stage=STAGE KEY=VALUE...
 *     STAGE: connect helo mail rcpt nonexistent; KEYs: client helo sender (<> for the null
 *     sender) recipient (postmaster alone for the bare form) auth=LOGIN auth_offered=yes
 *     trusted=NAME local_network=yes endpoint=smtp|submission, the DNS facts helo_dns
 *     client_name_dns sender_domain_dns dnsbl_dns (unchecked found nxdomain no-records tempfail;
 *     dnsbl_zone=ZONE the zone that listed or failed; filled by the caller's loop: the first zone),
 *     spf=RESULT (pass fail softfail neutral none temperror permerror, for the sender's domain or
 *     the HELO name; spf_exp=TEXT the domain's explanation of a fail), the
 *     counters connections_now connections_this_minute messages_this_minute
 *     nonexistent_recipients blocked_until. */
#include <string.h>

#include <glib.h>

#include "relais-config.h"
#include "relais-networks.h"
#include "relais-policy.h"
#include "relais-spf.h"

#define TABLES_DIR RELAIS_TEST_SOURCE_DIR "/unit/policy"

typedef void (*StageFunc) (const RelaisConfig *, const RelaisPolicyFacts *, RelaisVerdict *);

typedef struct {
  const char *path;
  guint line;
  RelaisConfig *config;
  GPtrArray *rules;             /* RelaisSecurityRule*, the configured order */
} Table;

typedef struct {
  RelaisPolicyFacts facts;
  StageFunc stage;
  char *stage_name;
  GInetAddress *inet;
  RelaisSpfAnswer *spf;         /* spf= */
} Case;

/* An SPF answer as relais-spf gives it for the case's identity. */
static RelaisSpfAnswer *
spf_answer (const RelaisPolicyFacts *f, RelaisSpfResult result, const char *explanation)
{
  RelaisSpfAnswer *a = g_new0 (RelaisSpfAnswer, 1);
  const char *at = f->sender != NULL ? strrchr (f->sender, '@') : NULL;

  a->result = result;
  a->domain = g_strdup (at != NULL ? at + 1 : f->helo != NULL ? f->helo : "");
  if (result == RELAIS_SPF_TEMPERROR)
    a->problem = g_strdup ("DNS server failure looking up the TXT record");
  else if (result != RELAIS_SPF_NONE && result != RELAIS_SPF_PERMERROR)
    a->mechanism = g_strdup (result == RELAIS_SPF_PASS ? "ip4:192.0.2.0/24" : "-all");
  a->explanation = g_strdup (explanation);
  return a;
}

G_GNUC_NORETURN static void
fail (Table *t, const char *format, ...) G_GNUC_PRINTF (2, 3);

G_GNUC_NORETURN static void
fail (Table *t, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_error ("%s:%u: %s", t->path, t->line, message);
}

static void
replace_config (Table *t, RelaisConfig *next, GError *error, const char *what)
{
  if (next == NULL)
    fail (t, "%s: %s", what, error != NULL ? error->message : "failed");
  relais_config_unref (t->config);
  t->config = next;
}

/* A full reference, as g_variant_parse() gives one. */
static GVariant *
setting_value (const char *text)
{
  guint64 number;

  if (g_str_equal (text, "true") || g_str_equal (text, "false"))
    return g_variant_ref_sink (g_variant_new_boolean (g_str_equal (text, "true")));
  if (g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &number, NULL))
    return g_variant_ref_sink (g_variant_new_uint32 ((guint32) number));
  if (text[0] == '[')
    {
      GVariant *parsed = g_variant_parse (NULL, text, NULL, NULL, NULL);

      if (parsed != NULL)
        return parsed;
    }
  return g_variant_ref_sink (g_variant_new_string (text));
}

static GVariant *
one_change (const char *key, GVariant *value)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert_value (&dict, key, value);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
do_set (Table *t, char **words)
{
  g_autoptr(GError) security_error = NULL;
  g_autoptr(GError) general_error = NULL;
  g_autoptr(GVariant) change = NULL;
  g_autoptr(GVariant) value = NULL;
  RelaisConfig *next;

  if (g_strv_length (words) != 3)
    fail (t, "expected: set KEY VALUE");
  value = setting_value (words[2]);
  change = one_change (words[1], value);
  next = relais_config_apply_security (t->config, change, &security_error);
  if (next == NULL)
    next = relais_config_apply_general (t->config, change, &general_error);
  if (next == NULL)
    fail (t, "set %s: %s; %s", words[1], security_error->message, general_error->message);
  replace_config (t, next, NULL, "set");
}

static void
rebuild_rules (Table *t)
{
  RelaisConfig *next = relais_config_copy (t->config);

  relais_rule_set_unref (next->security_rules);
  next->security_rules = relais_rule_set_new (t->rules);
  replace_config (t, next, NULL, "rules");
}

static void
do_rule (Table *t, char **words)
{
  static const char *const types[] = { "ip", "subnet", "sender", "recipient", "domain" };
  g_autoptr(GError) error = NULL;
  RelaisRuleList list;
  RelaisRuleAction action = RELAIS_RULE_ACTION_REJECT;
  const char *name = NULL;
  RelaisSecurityRule *rule;
  guint n = g_strv_length (words);
  gint type = -1;

  if (n < 5)
    fail (t, "expected: rule black|white TYPE VALUE [reject|discard] name=NAME");
  if (g_str_equal (words[1], "black"))
    list = RELAIS_RULE_LIST_BLACK;
  else if (g_str_equal (words[1], "white"))
    list = RELAIS_RULE_LIST_WHITE;
  else
    fail (t, "list '%s': black or white", words[1]);
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_equal (words[2], types[i]))
      type = (gint) i;
  if (type < 0)
    fail (t, "rule type '%s': ip, subnet, sender, recipient or domain", words[2]);
  for (guint i = 4; i < n; i++)
    if (g_str_equal (words[i], "reject"))
      action = RELAIS_RULE_ACTION_REJECT;
    else if (g_str_equal (words[i], "discard"))
      action = RELAIS_RULE_ACTION_DISCARD;
    else if (g_str_has_prefix (words[i], "name="))
      name = words[i] + 5;
    else
      fail (t, "unexpected '%s' in a rule", words[i]);
  if (name == NULL)
    fail (t, "the rule has no name=NAME");
  rule = relais_security_rule_new (name, list, (RelaisRuleType) type, words[3], action, &error);
  if (rule == NULL)
    fail (t, "%s", error->message);
  g_ptr_array_add (t->rules, rule);
  rebuild_rules (t);
}

static RelaisDnsResult
parse_dns (Table *t, const char *text)
{
  static const char *const names[] = { "unchecked", "found", "nxdomain", "no-records", "tempfail" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (text, names[i]))
      return (RelaisDnsResult) i;
  fail (t, "DNS result '%s': unchecked, found, nxdomain, no-records or tempfail", text);
}

static guint64
parse_number (Table *t, const char *key, const char *text)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &value, NULL))
    fail (t, "%s=%s: not a number", key, text);
  return value;
}

static void
parse_case (Table *t, char **words, Case *c)
{
  RelaisPolicyFacts *f = &c->facts;

  for (guint i = 1; words[i] != NULL; i++)
    {
      const char *eq = strchr (words[i], '=');
      g_autofree char *key = NULL;
      const char *value;

      if (eq == NULL)
        fail (t, "'%s' is not KEY=VALUE", words[i]);
      key = g_strndup (words[i], (gsize) (eq - words[i]));
      value = eq + 1;
      if (g_str_equal (key, "stage"))
        {
          c->stage_name = g_strdup (value);
          if (g_str_equal (value, "connect"))
            c->stage = relais_policy_check_connect;
          else if (g_str_equal (value, "helo"))
            c->stage = relais_policy_check_helo;
          else if (g_str_equal (value, "mail"))
            c->stage = relais_policy_check_mail;
          else if (g_str_equal (value, "rcpt"))
            c->stage = relais_policy_check_rcpt;
          else if (g_str_equal (value, "nonexistent"))
            c->stage = relais_policy_check_nonexistent;
          else
            fail (t, "stage '%s': connect, helo, mail, rcpt or nonexistent", value);
        }
      else if (g_str_equal (key, "client"))
        {
          f->client_address = value;
          g_clear_object (&c->inet);
          c->inet = relais_client_address_parse (value);
          if (c->inet == NULL)
            fail (t, "client '%s' is not an IP address", value);
          f->client_inet = c->inet;
        }
      else if (g_str_equal (key, "helo"))
        f->helo = value;
      else if (g_str_equal (key, "sender"))
        f->sender = g_str_equal (value, "<>") ? "" : value;
      else if (g_str_equal (key, "recipient"))
        {
          f->recipient = value;
          f->recipient_is_postmaster = g_ascii_strcasecmp (value, "postmaster") == 0;
        }
      else if (g_str_equal (key, "auth"))
        {
          f->authenticated = TRUE;
          f->login = value;
        }
      else if (g_str_equal (key, "auth_offered"))
        f->auth_offered = g_str_equal (value, "yes");
      else if (g_str_equal (key, "trusted"))
        {
          f->trusted = TRUE;
          f->trusted_network = value;
        }
      else if (g_str_equal (key, "local_network"))
        f->local_network = g_str_equal (value, "yes");
      else if (g_str_equal (key, "endpoint"))
        {
          if (g_str_equal (value, "submission"))
            f->endpoint = RELAIS_POLICY_ENDPOINT_SUBMISSION;
          else if (g_str_equal (value, "smtp"))
            f->endpoint = RELAIS_POLICY_ENDPOINT_SMTP;
          else
            fail (t, "endpoint '%s': smtp or submission", value);
        }
      else if (g_str_equal (key, "helo_dns"))
        f->helo_dns = parse_dns (t, value);
      else if (g_str_equal (key, "client_name_dns"))
        f->client_name_dns = parse_dns (t, value);
      else if (g_str_equal (key, "sender_domain_dns"))
        f->sender_domain_dns = parse_dns (t, value);
      else if (g_str_equal (key, "dnsbl_dns"))
        f->dnsbl_dns = parse_dns (t, value);
      else if (g_str_equal (key, "dnsbl_zone"))
        f->dnsbl_zone = value;
      else if (g_str_equal (key, "spf") || g_str_equal (key, "spf_exp"))
        {
          RelaisSpfResult r = c->spf != NULL ? c->spf->result : RELAIS_SPF_NONE;
          const char *exp = c->spf != NULL ? c->spf->explanation : NULL;
          g_autofree char *exp_copy = g_strdup (g_str_equal (key, "spf_exp") ? value : exp);

          if (g_str_equal (key, "spf"))
            {
              for (r = RELAIS_SPF_NONE; r <= RELAIS_SPF_PERMERROR; r++)
                if (g_str_equal (value, relais_spf_result_to_string (r)))
                  break;
              if (r > RELAIS_SPF_PERMERROR)
                fail (t, "spf '%s' is not an SPF result", value);
            }
          relais_spf_answer_free (c->spf);
          c->spf = spf_answer (f, r, exp_copy);
          f->spf = c->spf;
        }
      else if (g_str_equal (key, "connections_now"))
        f->connections_now = (guint) parse_number (t, key, value);
      else if (g_str_equal (key, "connections_this_minute"))
        f->connections_this_minute = (guint) parse_number (t, key, value);
      else if (g_str_equal (key, "messages_this_minute"))
        f->messages_this_minute = (guint) parse_number (t, key, value);
      else if (g_str_equal (key, "nonexistent_recipients"))
        f->nonexistent_recipients = (guint) parse_number (t, key, value);
      else if (g_str_equal (key, "blocked_until"))
        f->blocked_until = (gint64) parse_number (t, key, value);
      else
        fail (t, "unknown case key '%s'", key);
    }
  if (c->stage == NULL)
    fail (t, "the case has no stage=");
  if (c->stage == relais_policy_check_rcpt && f->recipient == NULL)
    fail (t, "a rcpt case needs recipient=");
}

static const char *
lookup_name (RelaisPolicyLookup lookup)
{
  switch (lookup)
    {
    case RELAIS_POLICY_LOOKUP_HELO: return "helo";
    case RELAIS_POLICY_LOOKUP_CLIENT_NAME: return "client-name";
    case RELAIS_POLICY_LOOKUP_SENDER_DOMAIN: return "sender-domain";
    case RELAIS_POLICY_LOOKUP_DNSBL: return "dnsbl";
    case RELAIS_POLICY_LOOKUP_SPF: return "spf";
    case RELAIS_POLICY_LOOKUP_NONE:
    default: return "NONE";
    }
}

static char *
format_verdict (const RelaisVerdict *v)
{
  GString *s = g_string_new (NULL);

  switch (v->kind)
    {
    case RELAIS_VERDICT_CONTINUE: g_string_append (s, "continue"); break;
    case RELAIS_VERDICT_ACCEPT_LOCAL: g_string_append_printf (s, "accept-local %s", v->recipient); break;
    case RELAIS_VERDICT_ACCEPT_POSTMASTER: g_string_append_printf (s, "accept-postmaster %s", v->recipient); break;
    case RELAIS_VERDICT_ACCEPT_RELAY: g_string_append_printf (s, "accept-relay %s", v->recipient); break;
    case RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN: g_string_append_printf (s, "accept-relay-domain %s", v->recipient); break;
    case RELAIS_VERDICT_REJECT:
      g_string_append_printf (s, "reject %u %s %s | reason %s", v->code, v->enhanced, v->text, v->reason);
      break;
    case RELAIS_VERDICT_CLOSE:
      g_string_append_printf (s, "close %u %s %s | reason %s", v->code, v->enhanced, v->text, v->reason);
      break;
    case RELAIS_VERDICT_DISCARD: g_string_append_printf (s, "discard %s | reason %s", v->recipient, v->reason); break;
    case RELAIS_VERDICT_LOOKUP: g_string_append_printf (s, "lookup %s", lookup_name (v->lookup)); break;
    default: g_string_append_printf (s, "kind %d?", (int) v->kind); break;
    }
  if (v->rule != NULL)
    g_string_append_printf (s, " | rule %s", v->rule);
  if (v->whitelist != NULL)
    g_string_append_printf (s, " | whitelist %s", v->whitelist->name);
  return g_string_free (s, FALSE);
}

static RelaisDnsResult *
lookup_fact (RelaisPolicyFacts *f, RelaisPolicyLookup lookup)
{
  switch (lookup)
    {
    case RELAIS_POLICY_LOOKUP_HELO: return &f->helo_dns;
    case RELAIS_POLICY_LOOKUP_CLIENT_NAME: return &f->client_name_dns;
    case RELAIS_POLICY_LOOKUP_SENDER_DOMAIN: return &f->sender_domain_dns;
    case RELAIS_POLICY_LOOKUP_DNSBL: return &f->dnsbl_dns;
    case RELAIS_POLICY_LOOKUP_NONE:
    default: g_error ("no DNS fact for lookup %d", (int) lookup);   /* does not return */
    }
}

/* What holds for every verdict, whatever the table expects. */
static void
check_invariants (Table *t, Case *c, const RelaisVerdict *v, GPtrArray *trace)
{
  guint decided = 0;

  for (guint i = 0; i < trace->len; i++)
    {
      const RelaisPolicyStep *s = g_ptr_array_index (trace, i);

      if (s->check == NULL || *s->check == '\0' || s->answer == NULL || *s->answer == '\0')
        fail (t, "trace step %u has an empty check name or answer", i);
      decided += s->decided ? 1 : 0;
    }
  switch (v->kind)
    {
    case RELAIS_VERDICT_REJECT:
    case RELAIS_VERDICT_CLOSE:
      if (v->code < 400 || v->code > 599 || v->enhanced == NULL || v->enhanced[0] != (char) ('0' + v->code / 100) ||
          v->text == NULL || *v->text == '\0' || v->reason == NULL)
        fail (t, "malformed refusal: %u %s %s reason %s", v->code, v->enhanced, v->text, v->reason);
      if (v->kind == RELAIS_VERDICT_CLOSE && v->code != 421)
        fail (t, "CLOSE with %u instead of 421", v->code);
      if (decided != 1)
        fail (t, "a refusal with %u decided trace steps instead of 1", decided);
      break;
    case RELAIS_VERDICT_ACCEPT_LOCAL:
    case RELAIS_VERDICT_ACCEPT_POSTMASTER:
    case RELAIS_VERDICT_ACCEPT_RELAY:
    case RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN:
    case RELAIS_VERDICT_DISCARD:
      if (v->recipient == NULL || v->rule == NULL)
        fail (t, "an acceptance or discard without recipient or rule");
      if (decided != 1)
        fail (t, "an acceptance or discard with %u decided trace steps instead of 1", decided);
      break;
    case RELAIS_VERDICT_CONTINUE:
      if (decided != 0)
        fail (t, "CONTINUE with %u decided trace steps", decided);
      break;
    case RELAIS_VERDICT_LOOKUP:
      {
        if (v->lookup == RELAIS_POLICY_LOOKUP_SPF ? c->facts.spf != NULL
                                                 : *lookup_fact (&c->facts, v->lookup) != RELAIS_DNS_UNCHECKED)
          fail (t, "LOOKUP %s for a fact already known", lookup_name (v->lookup));
        if (trace->len != 0)
          fail (t, "LOOKUP left %u trace steps", trace->len);
        break;
      }
    default:
      fail (t, "unknown verdict kind %d", (int) v->kind);
    }
  if (relais_verdict_is_reject (v) != (v->kind == RELAIS_VERDICT_REJECT || v->kind == RELAIS_VERDICT_CLOSE))
    fail (t, "relais_verdict_is_reject() is wrong for kind %d", (int) v->kind);
  if (v->rule != NULL && g_str_has_prefix (v->rule, "whitelist:") && v->whitelist == NULL)
    fail (t, "rule %s without verdict->whitelist", v->rule);
}

/* Runs the case, checks it, appends the result to OUT. */
static void
run_case (Table *t, Case *c, GString *out)
{
  g_auto(RelaisVerdict) plain = { 0 };
  g_auto(RelaisVerdict) traced = { 0 };
  g_autoptr(GPtrArray) trace = relais_policy_trace_new ();
  g_autofree char *plain_text = NULL;
  g_autofree char *traced_text = NULL;

  c->facts.trace = NULL;
  c->stage (t->config, &c->facts, &plain);
  c->facts.trace = trace;
  c->stage (t->config, &c->facts, &traced);
  c->facts.trace = NULL;
  plain_text = format_verdict (&plain);
  traced_text = format_verdict (&traced);
  if (!g_str_equal (plain_text, traced_text))
    fail (t, "the verdict depends on the trace: '%s' without, '%s' with", plain_text, traced_text);
  check_invariants (t, c, &traced, trace);

  /* The caller's loop: fill the fact asked for and call again; the same fact is never asked twice. */
  if (traced.kind == RELAIS_VERDICT_LOOKUP)
    for (guint r = traced.lookup == RELAIS_POLICY_LOOKUP_SPF ? (guint) RELAIS_SPF_NONE : (guint) RELAIS_DNS_FOUND; r <= (traced.lookup == RELAIS_POLICY_LOOKUP_SPF ? RELAIS_SPF_PERMERROR
                                                                                 : RELAIS_DNS_TEMPFAIL); r++)
      {
        Case again = *c;
        g_auto(RelaisVerdict) next = { 0 };
        g_autoptr(GPtrArray) next_trace = relais_policy_trace_new ();
        g_autoptr(RelaisSpfAnswer) spf = NULL;

        if (traced.lookup == RELAIS_POLICY_LOOKUP_SPF)
          again.facts.spf = spf = spf_answer (&c->facts, (RelaisSpfResult) r, NULL);
        else
          *lookup_fact (&again.facts, traced.lookup) = (RelaisDnsResult) r;
        if (traced.lookup == RELAIS_POLICY_LOOKUP_DNSBL && t->config->dnsbl_zones->len > 0)
          again.facts.dnsbl_zone = ((RelaisDnsblZone *) t->config->dnsbl_zones->pdata[0])->zone;
        again.facts.trace = next_trace;
        c->stage (t->config, &again.facts, &next);
        if (next.kind == RELAIS_VERDICT_LOOKUP && next.lookup == traced.lookup)
          fail (t, "LOOKUP %s asked again once the fact was filled", lookup_name (traced.lookup));
        check_invariants (t, &again, &next, next_trace);
      }

  g_string_append_printf (out, "  => %s\n", traced_text);
  for (guint i = 0; i < trace->len; i++)
    {
      const RelaisPolicyStep *s = g_ptr_array_index (trace, i);

      g_string_append_printf (out, "   %s %s: %s\n", s->decided ? "*" : "-", s->check, s->answer);
    }
}

static void
do_line (Table *t, const char *line, GString *out)
{
  g_auto(GStrv) raw = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) words = NULL;
  g_autoptr(GError) error = NULL;
  const char *hash;
  g_autofree char *content = NULL;

  hash = strstr (line, " #");
  content = hash != NULL ? g_strndup (line, (gsize) (hash - line)) : g_strdup (line);
  raw = g_strsplit_set (content, " \t", -1);
  for (guint i = 0; raw[i] != NULL; i++)
    if (raw[i][0] != '\0')
      g_strv_builder_add (builder, raw[i]);
  words = g_strv_builder_end (builder);
  if (words[0] == NULL)
    return;

  if (g_str_equal (words[0], "set"))
    do_set (t, words);
  else if (g_str_equal (words[0], "domain") && words[1] != NULL)
    replace_config (t, relais_config_add_local_domain (t->config, words[1], &error), error, "domain");
  else if (g_str_equal (words[0], "account") && words[1] != NULL)
    {
      RelaisAccount account = { words[1], (char *) "$6$salt$hash", words + 2, NULL };

      replace_config (t, relais_config_put_account (t->config, &account, TRUE, &error), error, "account");
    }
  else if (g_str_equal (words[0], "relay-domain") && g_strv_length (words) == 3)
    replace_config (t, relais_config_add_relay_domain (t->config, words[1], words[2], &error), error,
                    "relay-domain");
  else if (g_str_equal (words[0], "admin"))
    {
      g_autoptr(GVariant) change =
          one_change ("ExternalAdministrators", g_variant_new_strv ((const char *const *) words + 1, -1));

      replace_config (t, relais_config_apply_general (t->config, change, &error), error, "admin");
    }
  else if (g_str_equal (words[0], "rule"))
    do_rule (t, words);
  else if (g_str_equal (words[0], "rules") && g_strv_length (words) == 2 && g_str_equal (words[1], "clear"))
    {
      g_ptr_array_set_size (t->rules, 0);
      rebuild_rules (t);
    }
  else if (g_str_equal (words[0], "case"))
    {
      Case c = { 0 };

      parse_case (t, words, &c);
      run_case (t, &c, out);
      g_free (c.stage_name);
      g_clear_object (&c.inet);
      relais_spf_answer_free (c.spf);
    }
  else
    fail (t, "unknown line '%s'", words[0]);
}

static void
test_table (gconstpointer data)
{
  const char *in_path = data;
  g_autofree char *ref_path = NULL;
  g_autofree char *input = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  Table t = { in_path, 0, relais_config_new_default (), NULL };

  t.rules = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_security_rule_free);
  g_assert_true (g_str_has_suffix (in_path, ".in"));
  ref_path = g_strdup_printf ("%.*s.ref", (int) strlen (in_path) - 3, in_path);
  g_file_get_contents (in_path, &input, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (input, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i + 1] == NULL && lines[i][0] == '\0')
        break;                  /* after the last newline */
      t.line = i + 1;
      g_string_append_printf (out, "%s\n", lines[i]);
      if (lines[i][0] != '#')
        do_line (&t, lines[i], out);
    }
  relais_config_unref (t.config);
  g_ptr_array_unref (t.rules);

  if (g_getenv ("RELAIS_POLICY_REGENERATE") != NULL && g_str_equal (g_getenv ("RELAIS_POLICY_REGENERATE"), "1"))
    {
      g_file_set_contents (ref_path, out->str, (gssize) out->len, &error);
      g_assert_no_error (error);
      g_test_message ("wrote %s", ref_path);
      return;
    }
  if (!g_file_get_contents (ref_path, &expected, NULL, &error))
    g_error ("%s: %s (write it with RELAIS_POLICY_REGENERATE=1, then read it)", ref_path, error->message);
  if (!g_str_equal (expected, out->str))
    {
      g_auto(GStrv) want = g_strsplit (expected, "\n", -1);
      g_auto(GStrv) got = g_strsplit (out->str, "\n", -1);
      guint i = 0;

      while (want[i] != NULL && got[i] != NULL && g_str_equal (want[i], got[i]))
        i++;
      g_test_message ("%s:%u differs\n  expected: %s\n  got:      %s\n"
                      "(if the change is intended: RELAIS_POLICY_REGENERATE=1, then review the diff)",
                      ref_path, i + 1, want[i] != NULL ? want[i] : "(end)", got[i] != NULL ? got[i] : "(end)");
      g_test_fail ();
    }
}

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

int
main (int argc, char **argv)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_open (TABLES_DIR, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".in"))
      g_ptr_array_add (paths, g_build_filename (TABLES_DIR, name, NULL));
  g_ptr_array_sort (paths, compare_paths);
  g_assert_cmpuint (paths->len, >, 0);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autofree char *base = g_path_get_basename (path);
      g_autofree char *test_name = NULL;

      base[strlen (base) - 3] = '\0';
      test_name = g_strconcat ("/policy-tables/", base, NULL);
      g_test_add_data_func (test_name, path, test_table);
    }
  return g_test_run ();
}
