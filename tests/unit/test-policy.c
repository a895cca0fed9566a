/* SPDX-License-Identifier: GPL-3.0-or-later
 * The policy as a table: config snapshot + facts in, verdict out. */
#include <glib.h>

#include "relais-config.h"
#include "relais-policy.h"

typedef struct {
  RelaisConfig *plain;      /* local domains example.test, other.test; accounts alice, pm */
  RelaisConfig *with_admins;/* the same with ExternalAdministrators = [admin@elsewhere.example] */
  RelaisConfig *no_domains; /* defaults */
  RelaisConfig *verify;     /* plain + VerifySenderLogin */
  RelaisConfig *verify_skips; /* verify + SkipSenderCheckForTrusted + SkipAuthForLocalNetworks */
} Fixture;

static RelaisConfig *
build (RelaisConfig *base, RelaisConfig *(*step) (const RelaisConfig *, const char *, GError **), const char *arg)
{
  g_autoptr(GError) error = NULL;
  RelaisConfig *next = step (base, arg, &error);

  g_assert_no_error (error);
  g_assert_nonnull (next);
  relais_config_unref (base);
  return next;
}

static RelaisConfig *
put_account (RelaisConfig *base, const char *login, const char *const *aliases)
{
  g_autoptr(GError) error = NULL;
  RelaisAccount account = { (char *) login, (char *) "$6$salt$hash", (GStrv) aliases, NULL };
  RelaisConfig *next = relais_config_put_account (base, &account, TRUE, &error);

  g_assert_no_error (error);
  relais_config_unref (base);
  return next;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  static const char *const alice_aliases[] = { "a.liddell@example.test", NULL };
  static const char *const pm_aliases[] = { "postmaster@other.test", NULL };
  static const char *const admins[] = { "admin@elsewhere.example", NULL };
  g_autoptr(GError) error = NULL;
  GVariantDict changes;
  RelaisConfig *c = relais_config_new_default ();

  f->no_domains = relais_config_ref (c);
  c = build (c, relais_config_add_local_domain, "example.test");
  c = build (c, relais_config_add_local_domain, "other.test");
  c = put_account (c, "alice", alice_aliases);
  c = put_account (c, "pm", pm_aliases);
  f->plain = c;

  g_variant_dict_init (&changes, NULL);
  g_variant_dict_insert_value (&changes, "ExternalAdministrators", g_variant_new_strv (admins, -1));
  f->with_admins = relais_config_apply_general (f->plain, g_variant_dict_end (&changes), &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->with_admins);

  g_variant_dict_init (&changes, NULL);
  g_variant_dict_insert (&changes, "VerifySenderLogin", "b", TRUE);
  f->verify = relais_config_apply_general (f->plain, g_variant_dict_end (&changes), &error);
  g_assert_no_error (error);
  g_variant_dict_init (&changes, NULL);
  g_variant_dict_insert (&changes, "SkipSenderCheckForTrusted", "b", TRUE);
  g_variant_dict_insert (&changes, "SkipAuthForLocalNetworks", "b", TRUE);
  f->verify_skips = relais_config_apply_general (f->verify, g_variant_dict_end (&changes), &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  relais_config_unref (f->plain);
  relais_config_unref (f->with_admins);
  relais_config_unref (f->no_domains);
  relais_config_unref (f->verify);
  relais_config_unref (f->verify_skips);
}

enum { PLAIN, ADMINS, NO_DOMAINS, VERIFY, VERIFY_SKIPS };

static void
test_rcpt_table (Fixture *f, gconstpointer data)
{
  static const struct {
    int config;
    const char *recipient;
    gboolean bare_postmaster;
    gboolean authenticated;
    gboolean auth_offered;
    RelaisVerdictKind kind;
    guint code;
    const char *enhanced;
    const char *reason;
    const char *queued;        /* verdict.recipient for accepts */
  } cases[] = {
    /* local accounts */
    { PLAIN, "alice@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_LOCAL, 0, NULL, NULL, "alice@example.test" },
    { PLAIN, "Alice@EXAMPLE.TEST", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_LOCAL, 0, NULL, NULL, "Alice@EXAMPLE.TEST" },
    { PLAIN, "alice@other.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_LOCAL, 0, NULL, NULL, "alice@other.test" },
    { PLAIN, "a.liddell@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_LOCAL, 0, NULL, NULL, "a.liddell@example.test" },
    /* unknown local users */
    { PLAIN, "nobody@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 550, "5.1.1", "unknown-recipient", NULL },
    { PLAIN, "a.liddell@other.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 550, "5.1.1", "unknown-recipient", NULL },
    { ADMINS, "nobody@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 550, "5.1.1", "unknown-recipient", NULL },
    /* postmaster and mailer-daemon */
    { PLAIN, "postmaster@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 550, "5.1.1", "unknown-recipient", NULL },
    { PLAIN, "mailer-daemon@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 550, "5.1.1", "unknown-recipient", NULL },
    { PLAIN, "postmaster@other.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_LOCAL, 0, NULL, NULL, "postmaster@other.test" },
    { PLAIN, "postmaster", TRUE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_LOCAL, 0, NULL, NULL, "postmaster@other.test" },
    { ADMINS, "postmaster@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_POSTMASTER, 0, NULL, NULL, "postmaster@example.test" },
    { ADMINS, "PostMaster@Example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_POSTMASTER, 0, NULL, NULL, "PostMaster@Example.test" },
    { ADMINS, "MAILER-DAEMON@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_POSTMASTER, 0, NULL, NULL, "MAILER-DAEMON@example.test" },
    { ADMINS, "postmaster@other.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_ACCEPT_LOCAL, 0, NULL, NULL, "postmaster@other.test" },
    { ADMINS, "postmaster@elsewhere.example", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 554, "5.7.1", "relay-denied", NULL },
    { NO_DOMAINS, "postmaster", TRUE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 550, "5.1.1", "unknown-recipient", NULL },
    /* relay */
    { PLAIN, "someone@elsewhere.example", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 554, "5.7.1", "relay-denied", NULL },
    { PLAIN, "someone@elsewhere.example", FALSE, FALSE, TRUE, RELAIS_VERDICT_REJECT, 454, "4.7.1", "relay-denied", NULL },
    { PLAIN, "alice@example.test.evil", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 554, "5.7.1", "relay-denied", NULL },
    { PLAIN, "alice@[127.0.0.1]", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 554, "5.7.1", "relay-denied", NULL },
    { NO_DOMAINS, "alice@example.test", FALSE, FALSE, FALSE, RELAIS_VERDICT_REJECT, 554, "5.7.1", "relay-denied", NULL },
    { PLAIN, "someone@elsewhere.example", FALSE, TRUE, FALSE, RELAIS_VERDICT_ACCEPT_RELAY, 0, NULL, NULL, "someone@elsewhere.example" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RelaisConfig *configs[] = { f->plain, f->with_admins, f->no_domains };
      RelaisPolicyFacts facts = {
        .client_address = "192.0.2.10",
        .endpoint = RELAIS_POLICY_ENDPOINT_SMTP,
        .authenticated = cases[i].authenticated,
        .auth_offered = cases[i].auth_offered,
        .sender = "sender@example.org",
        .recipient = cases[i].recipient,
        .recipient_is_postmaster = cases[i].bare_postmaster,
      };
      g_auto(RelaisVerdict) verdict = { 0 };

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].recipient);
      relais_policy_check_rcpt (configs[cases[i].config], &facts, &verdict);
      g_assert_cmpint (verdict.kind, ==, cases[i].kind);
      if (cases[i].kind == RELAIS_VERDICT_REJECT)
        {
          g_assert_true (relais_verdict_is_reject (&verdict));
          g_assert_cmpuint (verdict.code, ==, cases[i].code);
          g_assert_cmpstr (verdict.enhanced, ==, cases[i].enhanced);
          g_assert_cmpstr (verdict.reason, ==, cases[i].reason);
          g_assert_nonnull (verdict.text);
          g_assert_null (verdict.recipient);
        }
      else
        {
          g_assert_false (relais_verdict_is_reject (&verdict));
          g_assert_cmpstr (verdict.recipient, ==, cases[i].queued);
          g_assert_cmpint (verdict.account != NULL, ==, cases[i].kind == RELAIS_VERDICT_ACCEPT_LOCAL);
        }
      g_assert_nonnull (verdict.rule);
    }
}

/* Relay Control entries put straight into a fresh copy (the D-Bus edits are
 * another module's): relay domain "partner" = partner.example, trusted networks
 * "office" = 192.0.2.0/24 and "lab" = 2001:db8:5::/48; SKIP_LOCAL sets
 * SkipAuthForLocalNetworks. */
static RelaisConfig *
relay_config (const RelaisConfig *base, gboolean skip_local)
{
  g_autoptr(GError) error = NULL;
  RelaisConfig *c = relais_config_copy (base);
  RelaisTrustedNetwork *office = relais_trusted_network_new ("office", "192.0.2.0/24", &error);
  RelaisTrustedNetwork *lab;

  g_assert_no_error (error);
  lab = relais_trusted_network_new ("lab", "2001:db8:5::/48", &error);
  g_assert_no_error (error);
  g_ptr_array_add (c->trusted_networks, lab);
  g_ptr_array_add (c->trusted_networks, office);
  g_ptr_array_add (c->relay_domains, relais_relay_domain_new ("partner", "Partner.Example"));
  c->skip_auth_for_local_networks = skip_local;
  return c;
}

enum { NOBODY = 0, AUTH = 1 << 0, TRUSTED = 1 << 1, LOCAL = 1 << 2, OFFERED = 1 << 3 };

/* Who may relay (SPEC §1, §3), and the open-relay tricks as they reach the
 * policy once the parser has split them (a source route is already gone). */
static void
test_relay_table (Fixture *f, gconstpointer data)
{
  static const struct {
    gboolean skip_local;
    guint client;             /* NOBODY, AUTH | TRUSTED | LOCAL | OFFERED */
    const char *recipient;
    RelaisVerdictKind kind;
    guint code;               /* REJECT */
    const char *rule;
  } cases[] = {
    /* local recipients: from anyone, before any relay rule */
    { FALSE, NOBODY, "alice@example.test", RELAIS_VERDICT_ACCEPT_LOCAL, 0, "local-account" },
    { FALSE, TRUSTED, "alice@example.test", RELAIS_VERDICT_ACCEPT_LOCAL, 0, "local-account" },
    { FALSE, AUTH, "nobody@example.test", RELAIS_VERDICT_REJECT, 550, "unknown-recipient" },
    { FALSE, TRUSTED, "nobody@example.test", RELAIS_VERDICT_REJECT, 550, "unknown-recipient" },
    /* relay domains: from anyone, whatever the client */
    { FALSE, NOBODY, "bob@partner.example", RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN, 0, "relay-domain:partner" },
    { FALSE, OFFERED, "bob@PARTNER.example", RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN, 0, "relay-domain:partner" },
    { FALSE, AUTH, "bob@partner.example", RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN, 0, "relay-domain:partner" },
    { FALSE, NOBODY, "bob@sub.partner.example", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { FALSE, NOBODY, "bob@partner.example.evil", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    /* relay: authenticated first, then trusted, then local network with the option */
    { FALSE, AUTH, "carol@elsewhere.example", RELAIS_VERDICT_ACCEPT_RELAY, 0, "authenticated" },
    { FALSE, AUTH | TRUSTED | LOCAL, "carol@elsewhere.example", RELAIS_VERDICT_ACCEPT_RELAY, 0, "authenticated" },
    { FALSE, TRUSTED, "carol@elsewhere.example", RELAIS_VERDICT_ACCEPT_RELAY, 0, "trusted-network:office" },
    { TRUE, TRUSTED | LOCAL, "carol@elsewhere.example", RELAIS_VERDICT_ACCEPT_RELAY, 0, "trusted-network:office" },
    { TRUE, LOCAL, "carol@elsewhere.example", RELAIS_VERDICT_ACCEPT_RELAY, 0, "local-network" },
    { TRUE, LOCAL | OFFERED, "carol@elsewhere.example", RELAIS_VERDICT_ACCEPT_RELAY, 0, "local-network" },
    { FALSE, LOCAL, "carol@elsewhere.example", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { FALSE, LOCAL | OFFERED, "carol@elsewhere.example", RELAIS_VERDICT_REJECT, 454, "relay-denied" },
    { TRUE, NOBODY, "carol@elsewhere.example", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { TRUE, OFFERED, "carol@elsewhere.example", RELAIS_VERDICT_REJECT, 454, "relay-denied" },
    { FALSE, TRUSTED, "carol@[198.51.100.1]", RELAIS_VERDICT_ACCEPT_RELAY, 0, "trusted-network:office" },
    /* open-relay tricks from a foreign client: never relayed */
    { TRUE, NOBODY, "carol%elsewhere.example@example.test", RELAIS_VERDICT_REJECT, 550, "unknown-recipient" },
    { TRUE, NOBODY, "elsewhere.example!carol@example.test", RELAIS_VERDICT_REJECT, 550, "unknown-recipient" },
    { TRUE, NOBODY, "\"carol@elsewhere.example\"@example.test", RELAIS_VERDICT_REJECT, 550, "unknown-recipient" },
    { TRUE, NOBODY, "\"carol%elsewhere.example\"@example.test", RELAIS_VERDICT_REJECT, 550, "unknown-recipient" },
    { TRUE, NOBODY, "\"alice@example.test\"@elsewhere.example", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { TRUE, NOBODY, "alice@[127.0.0.1]", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { TRUE, NOBODY, "alice@[IPv6:::1]", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { TRUE, NOBODY, "alice@example.test.", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { TRUE, NOBODY, "alice@example.test@elsewhere.example", RELAIS_VERDICT_REJECT, 554, "relay-denied" },
    { TRUE, NOBODY, "ALICE%ELSEWHERE.EXAMPLE@EXAMPLE.TEST", RELAIS_VERDICT_REJECT, 550, "unknown-recipient" },
    { TRUE, NOBODY, "carol%elsewhere.example@partner.example", RELAIS_VERDICT_ACCEPT_RELAY_DOMAIN, 0, "relay-domain:partner" },
    { TRUE, NOBODY, "@example.test", RELAIS_VERDICT_REJECT, 501, "bad-recipient" },
    { TRUE, NOBODY, "carol@", RELAIS_VERDICT_REJECT, 501, "bad-recipient" },
  };
  g_autoptr(RelaisConfig) strict = relay_config (f->plain, FALSE);
  g_autoptr(RelaisConfig) skip = relay_config (f->plain, TRUE);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint client = cases[i].client;
      RelaisPolicyFacts facts = {
        .client_address = "192.0.2.10",
        .endpoint = RELAIS_POLICY_ENDPOINT_SMTP,
        .authenticated = (client & AUTH) != 0,
        .login = (client & AUTH) != 0 ? "alice" : NULL,
        .auth_offered = (client & OFFERED) != 0,
        .trusted = (client & TRUSTED) != 0,
        .trusted_network = (client & TRUSTED) != 0 ? "office" : NULL,
        .local_network = (client & LOCAL) != 0,
        .sender = "sender@example.org",
        .recipient = cases[i].recipient,
      };
      g_auto(RelaisVerdict) verdict = { 0 };

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].recipient);
      relais_policy_check_rcpt (cases[i].skip_local ? skip : strict, &facts, &verdict);
      g_assert_cmpint (verdict.kind, ==, cases[i].kind);
      g_assert_cmpstr (verdict.rule, ==, cases[i].rule);
      if (cases[i].kind == RELAIS_VERDICT_REJECT)
        {
          g_assert_cmpuint (verdict.code, ==, cases[i].code);
          g_assert_cmpstr (verdict.reason, ==, cases[i].rule);
          g_assert_cmpstr (verdict.enhanced, ==,
                           cases[i].code == 454 ? "4.7.1" : cases[i].code == 554 ? "5.7.1"
                           : cases[i].code == 550 ? "5.1.1" : "5.1.3");
          g_assert_null (verdict.recipient);
        }
      else
        g_assert_cmpstr (verdict.recipient, ==, cases[i].recipient);
    }
}

static void
test_reply_texts (Fixture *f, gconstpointer data)
{
  RelaisPolicyFacts facts = { .client_address = "192.0.2.1", .recipient = "x@elsewhere.example" };
  g_auto(RelaisVerdict) relay = { 0 };
  g_auto(RelaisVerdict) unknown = { 0 };

  relais_policy_check_rcpt (f->plain, &facts, &relay);
  g_assert_cmpstr (relay.text, ==, "Relay access denied");
  facts.recipient = "x@example.test";
  relais_policy_check_rcpt (f->plain, &facts, &unknown);
  g_assert_cmpstr (unknown.text, ==, "Recipient address rejected: unknown user");
}

static void
test_mail_table (Fixture *f, gconstpointer data)
{
#define SMTP RELAIS_POLICY_ENDPOINT_SMTP
#define SUB RELAIS_POLICY_ENDPOINT_SUBMISSION
#define CONT RELAIS_VERDICT_CONTINUE
#define REJ RELAIS_VERDICT_REJECT
  static const struct {
    int config;
    RelaisPolicyEndpoint endpoint;
    const char *login;         /* NULL: not authenticated */
    gboolean trusted;
    gboolean local_network;
    const char *sender;
    RelaisVerdictKind kind;
    guint code;
    const char *reason;
  } cases[] = {
    /* submission needs authentication, whatever else */
    { PLAIN, SMTP, NULL, FALSE, FALSE, "a@example.org", CONT, 0, NULL },
    { PLAIN, SMTP, "alice", FALSE, FALSE, "a@example.org", CONT, 0, NULL },
    { PLAIN, SUB, NULL, FALSE, FALSE, "a@example.org", REJ, 530, "auth-required" },
    { PLAIN, SUB, NULL, TRUE, TRUE, "alice@example.test", REJ, 530, "auth-required" },
    { VERIFY, SUB, NULL, FALSE, FALSE, "", REJ, 530, "auth-required" },
    { PLAIN, SUB, "alice", FALSE, FALSE, "a@example.org", CONT, 0, NULL },
    /* sender-login check off: anything goes */
    { PLAIN, SUB, "alice", FALSE, FALSE, "pm@example.test", CONT, 0, NULL },
    /* on: the account's own addresses, any case, and the null sender */
    { VERIFY, SUB, "alice", FALSE, FALSE, "alice@example.test", CONT, 0, NULL },
    { VERIFY, SUB, "alice", FALSE, FALSE, "ALICE@Example.Test", CONT, 0, NULL },
    { VERIFY, SUB, "alice", FALSE, FALSE, "alice@other.test", CONT, 0, NULL },
    { VERIFY, SMTP, "alice", FALSE, FALSE, "a.liddell@example.test", CONT, 0, NULL },
    { VERIFY, SUB, "alice", FALSE, FALSE, "", CONT, 0, NULL },
    /* someone else's, unknown local, foreign */
    { VERIFY, SUB, "alice", FALSE, FALSE, "pm@example.test", REJ, 553, "sender-login" },
    { VERIFY, SUB, "alice", FALSE, FALSE, "postmaster@other.test", REJ, 553, "sender-login" },
    { VERIFY, SUB, "alice", FALSE, FALSE, "nobody@example.test", REJ, 553, "sender-login" },
    { VERIFY, SMTP, "alice", FALSE, FALSE, "alice@example.org", REJ, 553, "sender-login" },
    { VERIFY, SUB, "alice", FALSE, FALSE, "alice@example.test.evil", REJ, 553, "sender-login" },
    { VERIFY, SUB, "pm", FALSE, FALSE, "alice@example.test", REJ, 553, "sender-login" },
    /* unauthenticated clients on port 25 are not concerned */
    { VERIFY, SMTP, NULL, FALSE, FALSE, "pm@example.test", CONT, 0, NULL },
    /* trusted and local networks: checked unless the skip options are on */
    { VERIFY, SUB, "alice", TRUE, FALSE, "pm@example.test", REJ, 553, "sender-login" },
    { VERIFY, SUB, "alice", FALSE, TRUE, "pm@example.test", REJ, 553, "sender-login" },
    { VERIFY_SKIPS, SUB, "alice", TRUE, FALSE, "pm@example.test", CONT, 0, NULL },
    { VERIFY_SKIPS, SUB, "alice", FALSE, TRUE, "someone@example.org", CONT, 0, NULL },
    { VERIFY_SKIPS, SUB, "alice", FALSE, FALSE, "pm@example.test", REJ, 553, "sender-login" },
  };
#undef SMTP
#undef SUB
#undef CONT
#undef REJ

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RelaisConfig *configs[] = { f->plain, f->with_admins, f->no_domains, f->verify, f->verify_skips };
      RelaisPolicyFacts facts = {
        .client_address = "192.0.2.1",
        .endpoint = cases[i].endpoint,
        .authenticated = cases[i].login != NULL,
        .login = cases[i].login,
        .trusted = cases[i].trusted,
        .local_network = cases[i].local_network,
        .sender = cases[i].sender,
      };
      g_auto(RelaisVerdict) verdict = { 0 };

      g_test_message ("case %" G_GSIZE_FORMAT ": %s <%s>", i, cases[i].login, cases[i].sender);
      relais_policy_check_mail (configs[cases[i].config], &facts, &verdict);
      g_assert_cmpint (verdict.kind, ==, cases[i].kind);
      if (verdict.kind != RELAIS_VERDICT_REJECT)
        continue;
      g_assert_cmpuint (verdict.code, ==, cases[i].code);
      g_assert_cmpstr (verdict.reason, ==, cases[i].reason);
      if (verdict.code == 530)
        {
          g_assert_cmpstr (verdict.enhanced, ==, "5.7.0");
          g_assert_cmpstr (verdict.text, ==, "Authentication required");
        }
      else
        {
          g_autofree char *text = g_strdup_printf ("Sender address rejected: not owned by user %s",
                                                   cases[i].login);

          g_assert_cmpstr (verdict.enhanced, ==, "5.7.1");
          g_assert_cmpstr (verdict.text, ==, text);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relais/policy/rcpt", Fixture, NULL, fixture_setup, test_rcpt_table, fixture_teardown);
  g_test_add ("/relais/policy/relay", Fixture, NULL, fixture_setup, test_relay_table, fixture_teardown);
  g_test_add ("/relais/policy/reply-texts", Fixture, NULL, fixture_setup, test_reply_texts, fixture_teardown);
  g_test_add ("/relais/policy/mail", Fixture, NULL, fixture_setup, test_mail_table, fixture_teardown);
  return g_test_run ();
}
