/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SPF evaluator (relais-spf): every mechanism, qualifier and modifier,
 * the macros of RFC 7208 §7.4, include and redirect semantics, the lookup
 * limits, temperror, exp and the Received-SPF value, against a table of DNS
 * records answered by a fake lookup; the timeout and cancellation of the
 * asynchronous check; and one check through the system resolver and dnsmasq
 * (tests/dns/test.conf, only inside build-aux/with-test-net). */
#include <gio/gio.h>
#include <string.h>

#include "relais-error.h"
#include "relais-spf.h"

#define A RELAIS_SPF_RR_A
#define AAAA RELAIS_SPF_RR_AAAA
#define MX RELAIS_SPF_RR_MX
#define PTR RELAIS_SPF_RR_PTR
#define TXT RELAIS_SPF_RR_TXT

typedef struct {
  const char *name;
  RelaisSpfRecordType type;
  const char *value;
} Rr;

/* Names under tempfail.test give a temporary failure. */
static const Rr zone[] = {
  /* qualifiers */
  { "all.test", TXT, "v=spf1 -all" },
  { "plus.test", TXT, "v=spf1 +all" },
  { "bare.test", TXT, "v=spf1 all" },
  { "soft.test", TXT, "v=spf1 ~all" },
  { "neutral.test", TXT, "v=spf1 ?all" },
  { "empty.test", TXT, "v=spf1" },
  /* ip4, ip6 */
  { "ip.test", TXT, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip4:198.51.100.7 -all" },
  /* a, mx with CIDR */
  { "a.test", TXT, "v=spf1 a -all" },
  { "a.test", A, "192.0.2.10" },
  { "a.test", AAAA, "2001:db8::10" },
  { "acidr.test", TXT, "v=spf1 a:a.test/28//64 -all" },
  { "mx.test", TXT, "v=spf1 mx -all" },
  { "mx.test", MX, "mail.mx.test" },
  { "mx.test", MX, "mail2.mx.test" },
  { "mail.mx.test", A, "192.0.2.20" },
  { "mail2.mx.test", AAAA, "2001:db8::20" },
  { "mxcidr.test", TXT, "v=spf1 mx:mx.test/30 -all" },
  /* ptr: 192.0.2.3 has a confirmed name, 192.0.2.4 does not */
  { "ptr.test", TXT, "v=spf1 ptr -all" },
  { "3.2.0.192.in-addr.arpa", PTR, "host.ptr.test" },
  { "host.ptr.test", A, "192.0.2.3" },
  { "4.2.0.192.in-addr.arpa", PTR, "liar.ptr.test" },
  { "liar.ptr.test", A, "192.0.2.99" },
  /* exists with a macro */
  { "exists.test", TXT, "v=spf1 exists:%{ir}.list.exists.test -all" },
  { "3.2.0.192.list.exists.test", A, "127.0.0.2" },
  /* include and redirect */
  { "include.test", TXT, "v=spf1 include:ip.test include:all.test ~all" },
  { "include-none.test", TXT, "v=spf1 include:nothing.test -all" },
  { "include-perm.test", TXT, "v=spf1 include:bad.test -all" },
  { "include-temp.test", TXT, "v=spf1 include:x.tempfail.test -all" },
  { "redirect.test", TXT, "v=spf1 redirect=ip.test" },
  { "redirect-all.test", TXT, "v=spf1 -all redirect=plus.test" },
  { "redirect-none.test", TXT, "v=spf1 redirect=nothing.test" },
  { "redirect-twice.test", TXT, "v=spf1 redirect=ip.test redirect=all.test" },
  /* record selection and syntax */
  { "nothing.test", TXT, "not an spf record" },
  { "two.test", TXT, "v=spf1 -all" },
  { "two.test", TXT, "v=spf1 +all" },
  { "spf10.test", TXT, "v=spf10 -all" },
  { "bad.test", TXT, "v=spf1 frobnicate -all" },
  { "badip.test", TXT, "v=spf1 ip4:300.1.1.1 -all" },
  { "badcidr.test", TXT, "v=spf1 ip4:192.0.2.0/33 -all" },
  { "badcidr6.test", TXT, "v=spf1 ip6:2001:db8::/129 -all" },
  { "badmacro.test", TXT, "v=spf1 exists:%{x}.exists.test -all" },
  { "badpercent.test", TXT, "v=spf1 exists:%(ir).exists.test -all" },
  { "unknown-mod.test", TXT, "v=spf1 foo=bar ip4:192.0.2.3 -all" },
  { "expmacro.test", TXT, "v=spf1 exists:%{c}.exists.test -all" },
  /* limits */
  { "void2.test", TXT, "v=spf1 a:n1.test a:n2.test -all" },
  { "void3.test", TXT, "v=spf1 a:n1.test a:n2.test a:n3.test -all" },
  { "many-mx.test", TXT, "v=spf1 mx -all" },
  /* temperror */
  { "temp.test", TXT, "v=spf1 a:host.tempfail.test -all" },
  { "tempmx.test", TXT, "v=spf1 mx:tempfail.test -all" },
  /* exp */
  { "exp.test", TXT, "v=spf1 -all exp=explain.%{d}" },
  { "explain.exp.test", TXT, "%{i} is not one of %{d}'s designated mail servers." },
  { "exp-missing.test", TXT, "v=spf1 -all exp=nowhere.test" },
  { "exp-include.test", TXT, "v=spf1 include:exp-inner.test -all exp=explain.exp.test" },
  { "exp-inner.test", TXT, "v=spf1 -all exp=inner-explain.test" },
  { "inner-explain.test", TXT, "inner text" },
  { "exp-redirect.test", TXT, "v=spf1 redirect=exp.test exp=outer-explain.test" },
  { "outer-explain.test", TXT, "outer text" },
  /* RFC 7208 §7.4 */
  { "email.example.com", TXT, "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all" },
  { "3.2.0.192.in-addr._spf.example.com", A, "127.0.0.2" },
};

typedef struct {
  GPtrArray *asked;   /* "TYPE name" */
  guint delay_ms;     /* sleep before each answer (the timeout tests) */
} Fake;

static const char *const type_names[] = { "A", "AAAA", "MX", "PTR", "TXT" };

static gboolean
tempfail_name (const char *name)
{
  gsize len = strlen (name);

  return g_str_equal (name, "tempfail.test") || (len > 14 && g_str_has_suffix (name, ".tempfail.test"));
}

static RelaisDnsResult
fake_lookup (const char *name, RelaisSpfRecordType type, GPtrArray *records, gpointer user_data)
{
  Fake *fake = user_data;
  gboolean exists = FALSE;
  guint found = 0;

  if (fake != NULL && fake->asked != NULL)
    g_ptr_array_add (fake->asked, g_strdup_printf ("%s %s", type_names[type], name));
  if (fake != NULL && fake->delay_ms > 0)
    g_usleep (fake->delay_ms * 1000);
  if (tempfail_name (name))
    return RELAIS_DNS_TEMPFAIL;
  /* many-mx.test: 11 MX names */
  if (g_str_equal (name, "many-mx.test") && type == MX)
    {
      for (guint i = 0; i < 11 && records != NULL; i++)
        g_ptr_array_add (records, g_strdup_printf ("mx%u.many-mx.test", i));
      return RELAIS_DNS_FOUND;
    }
  /* chainN.test: an include chain of N+1 records */
  if (g_str_has_prefix (name, "chain") && type == TXT)
    {
      guint n = (guint) g_ascii_strtoull (name + 5, NULL, 10);

      if (records != NULL)
        g_ptr_array_add (records, n > 0 ? g_strdup_printf ("v=spf1 include:chain%u.test -all", n - 1)
                                        : g_strdup ("v=spf1 -all"));
      return RELAIS_DNS_FOUND;
    }
  for (guint i = 0; i < G_N_ELEMENTS (zone); i++)
    {
      if (g_ascii_strcasecmp (zone[i].name, name) != 0)
        continue;
      exists = TRUE;
      if (zone[i].type != type)
        continue;
      found++;
      if (records == NULL)
        continue;
      if (type == A || type == AAAA)
        g_ptr_array_add (records, g_inet_address_new_from_string (zone[i].value));
      else
        g_ptr_array_add (records, g_strdup (zone[i].value));
    }
  return found > 0 ? RELAIS_DNS_FOUND : exists ? RELAIS_DNS_NO_RECORDS : RELAIS_DNS_NXDOMAIN;
}

static RelaisSpfAnswer *
check (const char *ip_text, const char *domain, Fake *fake)
{
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string (ip_text);
  g_autofree char *sender = g_strdup_printf ("user@%s", domain);

  g_assert_nonnull (ip);
  return relais_spf_check_host_sync (fake_lookup, fake, ip, domain, sender, "helo.example", "mx.relais.test");
}

static void
expect (const char *ip, const char *domain, RelaisSpfResult expected)
{
  g_autoptr(RelaisSpfAnswer) answer = check (ip, domain, NULL);

  if (answer->result != expected)
    g_error ("%s from %s: %s (%s), expected %s", domain, ip, relais_spf_result_to_string (answer->result),
             answer->problem ? answer->problem : answer->mechanism ? answer->mechanism : "-",
             relais_spf_result_to_string (expected));
}

#define PASS RELAIS_SPF_PASS
#define FAIL RELAIS_SPF_FAIL
#define SOFTFAIL RELAIS_SPF_SOFTFAIL
#define NEUTRAL RELAIS_SPF_NEUTRAL
#define NONE RELAIS_SPF_NONE
#define TEMPERROR RELAIS_SPF_TEMPERROR
#define PERMERROR RELAIS_SPF_PERMERROR

static void
test_qualifiers (void)
{
  g_autoptr(RelaisSpfAnswer) answer = NULL;

  expect ("192.0.2.3", "all.test", FAIL);
  expect ("192.0.2.3", "plus.test", PASS);
  expect ("192.0.2.3", "bare.test", PASS);
  expect ("192.0.2.3", "soft.test", SOFTFAIL);
  expect ("192.0.2.3", "neutral.test", NEUTRAL);
  expect ("192.0.2.3", "empty.test", NEUTRAL);   /* nothing matches: neutral */
  expect ("192.0.2.3", "ALL.Test.", FAIL);

  answer = check ("192.0.2.3", "soft.test", NULL);
  g_assert_cmpstr (answer->mechanism, ==, "~all");
  g_assert_null (answer->problem);
  g_clear_pointer (&answer, relais_spf_answer_free);
  answer = check ("192.0.2.3", "empty.test", NULL);
  g_assert_cmpstr (answer->mechanism, ==, "default");
}

static void
test_ip (void)
{
  g_autoptr(RelaisSpfAnswer) answer = NULL;

  expect ("192.0.2.3", "ip.test", PASS);
  expect ("192.0.2.255", "ip.test", PASS);
  expect ("192.0.3.1", "ip.test", FAIL);
  expect ("198.51.100.7", "ip.test", PASS);    /* no length: /32 */
  expect ("198.51.100.8", "ip.test", FAIL);
  expect ("2001:db8::cb01", "ip.test", PASS);
  expect ("2001:db9::1", "ip.test", FAIL);
  expect ("::ffff:192.0.2.3", "ip.test", PASS); /* IPv4-mapped: checked as IPv4 */
  answer = check ("2001:db8:1::1", "ip.test", NULL);
  g_assert_cmpint (answer->result, ==, PASS);
  g_assert_cmpstr (answer->mechanism, ==, "ip6:2001:db8::/32");
}

static void
test_a_mx (void)
{
  expect ("192.0.2.10", "a.test", PASS);
  expect ("192.0.2.11", "a.test", FAIL);
  expect ("2001:db8::10", "a.test", PASS);     /* AAAA for an IPv6 client */
  expect ("2001:db8::11", "a.test", FAIL);
  expect ("192.0.2.15", "acidr.test", PASS);   /* /28 */
  expect ("192.0.2.16", "acidr.test", FAIL);
  expect ("2001:db8::ffff:1", "acidr.test", PASS);   /* //64 */
  expect ("2001:db8:0:1::1", "acidr.test", FAIL);
  expect ("192.0.2.20", "mx.test", PASS);
  expect ("192.0.2.21", "mx.test", FAIL);
  expect ("2001:db8::20", "mx.test", PASS);
  expect ("192.0.2.23", "mxcidr.test", PASS);  /* /30 */
  expect ("192.0.2.24", "mxcidr.test", FAIL);
  expect ("192.0.2.20", "many-mx.test", PERMERROR);   /* more than 10 MX names */
}

static void
test_ptr_exists (void)
{
  expect ("192.0.2.3", "ptr.test", PASS);
  expect ("192.0.2.4", "ptr.test", FAIL);      /* its name does not resolve back */
  expect ("192.0.2.5", "ptr.test", FAIL);      /* no PTR */
  expect ("192.0.2.3", "exists.test", PASS);
  expect ("192.0.2.4", "exists.test", FAIL);
}

static void
test_include_redirect (void)
{
  g_autoptr(RelaisSpfAnswer) answer = NULL;

  expect ("192.0.2.3", "include.test", PASS);       /* ip.test passes */
  expect ("203.0.113.1", "include.test", SOFTFAIL); /* fail inside an include: no match */
  expect ("192.0.2.3", "include-none.test", PERMERROR);
  expect ("192.0.2.3", "include-perm.test", PERMERROR);
  expect ("192.0.2.3", "include-temp.test", TEMPERROR);
  expect ("192.0.2.3", "redirect.test", PASS);
  expect ("203.0.113.1", "redirect.test", FAIL);
  expect ("192.0.2.3", "redirect-all.test", FAIL);  /* ignored: the record has "all" */
  expect ("192.0.2.3", "redirect-none.test", PERMERROR);
  expect ("192.0.2.3", "redirect-twice.test", PERMERROR);

  answer = check ("192.0.2.3", "include.test", NULL);
  g_assert_cmpstr (answer->mechanism, ==, "include:ip.test");
  g_clear_pointer (&answer, relais_spf_answer_free);
  answer = check ("192.0.2.3", "include-none.test", NULL);
  g_assert_nonnull (strstr (answer->problem, "nothing.test"));
}

static void
test_records (void)
{
  g_autoptr(RelaisSpfAnswer) answer = NULL;

  expect ("192.0.2.3", "nothing.test", NONE);       /* TXT, but no SPF record */
  expect ("192.0.2.3", "nosuch.test", NONE);        /* NXDOMAIN */
  expect ("192.0.2.3", "spf10.test", NONE);         /* "v=spf10" is not a version 1 record */
  expect ("192.0.2.3", "two.test", PERMERROR);
  expect ("192.0.2.3", "localhost", NONE);          /* not a multi-label name */
  expect ("192.0.2.3", "a..test", NONE);
  expect ("192.0.2.3", "bad.test", PERMERROR);
  expect ("192.0.2.3", "badip.test", PERMERROR);
  expect ("192.0.2.3", "badcidr.test", PERMERROR);
  expect ("2001:db8::1", "badcidr6.test", PERMERROR);
  expect ("192.0.2.3", "badmacro.test", PERMERROR);
  expect ("192.0.2.3", "badpercent.test", PERMERROR);
  expect ("192.0.2.3", "expmacro.test", PERMERROR); /* %{c} only in explanations */
  expect ("192.0.2.3", "unknown-mod.test", PASS);

  answer = check ("192.0.2.3", "two.test", NULL);
  g_assert_nonnull (strstr (answer->problem, "2 SPF records"));
  g_assert_null (answer->mechanism);
}

static void
test_limits (void)
{
  g_autoptr(RelaisSpfAnswer) answer = NULL;

  /* chainN.test: N includes (chainN-1 ... chain0), each counting once */
  expect ("192.0.2.3", "chain10.test", FAIL);
  expect ("192.0.2.3", "chain11.test", PERMERROR);  /* 11 includes */
  answer = check ("192.0.2.3", "chain11.test", NULL);
  g_assert_nonnull (strstr (answer->problem, "more than 10 DNS lookups"));
  g_clear_pointer (&answer, relais_spf_answer_free);

  expect ("192.0.2.3", "void2.test", FAIL);
  expect ("192.0.2.3", "void3.test", PERMERROR);    /* 3 void lookups */
  answer = check ("192.0.2.3", "void3.test", NULL);
  g_assert_nonnull (strstr (answer->problem, "n3.test"));
}

static void
test_temperror (void)
{
  g_autoptr(RelaisSpfAnswer) answer = NULL;

  expect ("192.0.2.3", "temp.test", TEMPERROR);
  expect ("192.0.2.3", "tempmx.test", TEMPERROR);
  expect ("192.0.2.3", "tempfail.test", TEMPERROR); /* the record lookup itself */
  answer = check ("192.0.2.3", "temp.test", NULL);
  g_assert_nonnull (strstr (answer->problem, "host.tempfail.test"));
}

static void
test_exp (void)
{
  g_autoptr(RelaisSpfAnswer) answer = check ("192.0.2.3", "exp.test", NULL);

  g_assert_cmpint (answer->result, ==, FAIL);
  g_assert_cmpstr (answer->explanation, ==, "192.0.2.3 is not one of exp.test's designated mail servers.");
  g_clear_pointer (&answer, relais_spf_answer_free);

  answer = check ("192.0.2.3", "exp-missing.test", NULL);
  g_assert_cmpint (answer->result, ==, FAIL);
  g_assert_null (answer->explanation);
  g_clear_pointer (&answer, relais_spf_answer_free);

  /* an include's exp is not used; a failing include does not fail */
  answer = check ("192.0.2.3", "exp-include.test", NULL);
  g_assert_cmpint (answer->result, ==, FAIL);
  g_assert_cmpstr (answer->explanation, ==, "192.0.2.3 is not one of exp-include.test's designated mail servers.");
  g_clear_pointer (&answer, relais_spf_answer_free);

  /* redirect: the target's exp, not the original's */
  answer = check ("192.0.2.3", "exp-redirect.test", NULL);
  g_assert_cmpint (answer->result, ==, FAIL);
  g_assert_cmpstr (answer->explanation, ==, "192.0.2.3 is not one of exp.test's designated mail servers.");
  g_clear_pointer (&answer, relais_spf_answer_free);

  /* only for fail */
  answer = check ("192.0.2.3", "soft.test", NULL);
  g_assert_null (answer->explanation);
}

static char *
expand (const char *ip_text, const char *text, gboolean explanation)
{
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string (ip_text);
  g_autoptr(GError) error = NULL;
  char *result = relais_spf_expand (fake_lookup, NULL, ip, "email.example.com", "strong-bad@email.example.com",
                                    "helo.example", "mx.relais.test", text, explanation, &error);

  g_assert_no_error (error);
  return result;
}

/* RFC 7208 §7.4, exactly. */
static void
test_macros_rfc (void)
{
  static const struct { const char *macro, *expected; } v4[] = {
    { "%{s}", "strong-bad@email.example.com" },
    { "%{o}", "email.example.com" },
    { "%{d}", "email.example.com" },
    { "%{d4}", "email.example.com" },
    { "%{d3}", "email.example.com" },
    { "%{d2}", "example.com" },
    { "%{d1}", "com" },
    { "%{dr}", "com.example.email" },
    { "%{d2r}", "example.email" },
    { "%{l}", "strong-bad" },
    { "%{l-}", "strong.bad" },
    { "%{lr}", "strong-bad" },
    { "%{lr-}", "bad.strong" },
    { "%{l1r-}", "strong" },
    { "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
    { "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
    { "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
    { "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com" },
    { "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (v4); i++)
    {
      g_autofree char *got = expand ("192.0.2.3", v4[i].macro, FALSE);

      g_assert_cmpstr (got, ==, v4[i].expected);
    }
  {
    g_autofree char *got = expand ("2001:db8::cb01", "%{ir}.%{v}._spf.%{d2}", FALSE);

    g_assert_cmpstr (got, ==, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
  }
  /* and through check_host: the lookup asked for exactly that name */
  {
    g_autoptr(GPtrArray) asked = g_ptr_array_new_with_free_func (g_free);
    Fake fake = { asked, 0 };
    g_autoptr(GInetAddress) ip = g_inet_address_new_from_string ("192.0.2.3");
    g_autoptr(RelaisSpfAnswer) answer = relais_spf_check_host_sync (fake_lookup, &fake, ip, "email.example.com",
                                                                    "strong-bad@email.example.com", NULL, NULL);

    g_assert_cmpint (answer->result, ==, PASS);
    g_assert_cmpuint (asked->len, ==, 2);
    g_assert_cmpstr (asked->pdata[1], ==, "A 3.2.0.192.in-addr._spf.example.com");
  }
}

static void
test_macros_more (void)
{
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string ("192.0.2.3");
  static const char *const bad[] = { "%{x}", "%{d0}", "%{d", "%(d)", "100%", "%{c}", "%{r}", "%{t}" };
  g_autofree char *specials = expand ("192.0.2.3", "a%%b%_c%-d", FALSE);
  g_autofree char *escaped = expand ("192.0.2.3", "%{S}", FALSE);
  g_autofree char *helo = expand ("192.0.2.3", "%{h}", FALSE);
  g_autofree char *exp_only = expand ("2001:db8::cb01", "%{c} %{r}", TRUE);
  g_autofree char *stamp = expand ("192.0.2.3", "%{t}", TRUE);
  g_autofree char *ptr_name = expand ("192.0.2.3", "%{p}", FALSE);
  g_autofree char *no_ptr = expand ("192.0.2.5", "%{p}", FALSE);
  g_autofree char *upper_p = expand ("192.0.2.3", "%{P}", FALSE);
  g_autofree char *delims = expand ("192.0.2.3", "%{l2r-+}", FALSE);

  g_assert_cmpstr (specials, ==, "a%b c%20d");
  g_assert_cmpstr (escaped, ==, "strong-bad%40email.example.com");
  g_assert_cmpstr (helo, ==, "helo.example");
  g_assert_cmpstr (exp_only, ==, "2001:db8::cb01 mx.relais.test");
  g_assert_cmpint (g_ascii_strtoll (stamp, NULL, 10), >=, g_get_real_time () / G_USEC_PER_SEC - 5);
  g_assert_cmpstr (ptr_name, ==, "host.ptr.test");
  g_assert_cmpstr (no_ptr, ==, "unknown");
  g_assert_cmpstr (upper_p, ==, "host.ptr.test");
  g_assert_cmpstr (delims, ==, "bad.strong");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *got = relais_spf_expand (fake_lookup, NULL, ip, "email.example.com",
                                                "strong-bad@email.example.com", NULL, NULL, bad[i], FALSE, &error);

      g_assert_null (got);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_received_spf (void)
{
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string ("192.0.2.3");
  g_autoptr(RelaisSpfAnswer) answer = check ("192.0.2.3", "ip.test", NULL);
  g_autofree char *pass = relais_spf_received_spf (answer, ip, "user@ip.test", "helo.example", "mailfrom",
                                                   "mx.relais.test");
  g_autofree char *fail = NULL, *perm = NULL;

  g_assert_cmpstr (pass, ==, "pass (mx.relais.test: domain of user@ip.test designates 192.0.2.3 as permitted "
                   "sender) client-ip=192.0.2.3; envelope-from=\"user@ip.test\"; helo=helo.example; "
                   "receiver=mx.relais.test; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";");
  g_clear_pointer (&answer, relais_spf_answer_free);

  answer = check ("192.0.2.3", "all.test", NULL);
  fail = relais_spf_received_spf (answer, ip, "a\"b(c)@all.test", "bad helo\r\n", "helo", NULL);
  g_assert_cmpstr (fail, ==, "fail (unknown: domain of a\"bc@all.test does not designate 192.0.2.3 as "
                   "permitted sender) client-ip=192.0.2.3; envelope-from=\"a\\\"b(c)@all.test\"; "
                   "helo=\"bad helo\"; identity=helo; mechanism=-all;");
  g_clear_pointer (&answer, relais_spf_answer_free);

  answer = check ("192.0.2.3", "two.test", NULL);
  perm = relais_spf_received_spf (answer, ip, "", NULL, "mailfrom", "mx.relais.test");
  g_assert_true (g_str_has_prefix (perm, "permerror (mx.relais.test: permanent error in processing domain of "
                                   "two.test) client-ip=192.0.2.3; envelope-from=\"\"; "));
  g_assert_nonnull (strstr (perm, "problem=\"two.test has 2 SPF records; it must have one\";"));
  for (const char *p = perm; *p; p++)
    g_assert_true ((guchar) *p >= 0x20 && (guchar) *p < 0x7f);
}

/* ---- asynchronous ------------------------------------------------------- */

typedef struct {
  gboolean done;
  RelaisSpfAnswer *answer;
  GError *error;
} Outcome;

static void
done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;

  o->answer = relais_spf_check_host_finish (result, &o->error);
  o->done = TRUE;
}

static void
wait_for (Outcome *o)
{
  while (!o->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
let_workers_end (guint ms)
{
  gint64 start = g_get_monotonic_time ();

  while (g_get_monotonic_time () - start < ms * 1000)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
}

static void
test_async (void)
{
  static Fake slow = { NULL, 200 };
  g_autoptr(GInetAddress) ip = g_inet_address_new_from_string ("192.0.2.3");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Outcome o = { 0 };
  gint64 start;

  /* a quick answer */
  relais_spf_check_host_with_lookup_async (fake_lookup, NULL, ip, "include.test", "u@include.test", NULL, NULL,
                                           NULL, done_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  g_assert_cmpint (o.answer->result, ==, PASS);
  g_clear_pointer (&o.answer, relais_spf_answer_free);

  /* past the overall timeout: temperror */
  relais_spf_set_timeout (300);
  g_assert_cmpuint (relais_spf_get_timeout (), ==, 300);
  memset (&o, 0, sizeof o);
  start = g_get_monotonic_time ();
  relais_spf_check_host_with_lookup_async (fake_lookup, &slow, ip, "chain9.test", NULL, NULL, NULL, NULL,
                                           done_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  g_assert_cmpint (o.answer->result, ==, TEMPERROR);
  g_assert_nonnull (strstr (o.answer->problem, "300 ms"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 800 * 1000);
  g_clear_pointer (&o.answer, relais_spf_answer_free);
  relais_spf_set_timeout (0);
  g_assert_cmpuint (relais_spf_get_timeout (), ==, RELAIS_SPF_DEFAULT_TIMEOUT_MS);
  let_workers_end (400);

  /* cancelled while waiting: G_IO_ERROR_CANCELLED at once */
  memset (&o, 0, sizeof o);
  start = g_get_monotonic_time ();
  relais_spf_check_host_with_lookup_async (fake_lookup, &slow, ip, "chain9.test", NULL, NULL, NULL, cancellable,
                                           done_cb, &o);
  g_cancellable_cancel (cancellable);
  wait_for (&o);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (o.answer);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 150 * 1000);
  g_clear_error (&o.error);
  let_workers_end (400);
}

/* Through the system resolver and dnsmasq (tests/dns/test.conf). */
static void
test_resolver (void)
{
  static const struct { const char *ip, *domain; RelaisSpfResult expected; } cases[] = {
    { "127.0.0.5", "spf-pass.test", PASS },
    { "::1", "spf-pass.test", FAIL },
    { "127.0.0.61", "spf-a.test", PASS },           /* a:good.client.test */
    { "127.0.0.62", "spf-a.test", SOFTFAIL },
    { "127.0.0.61", "spf-include.test", PASS },     /* include:spf-a.test */
    { "127.0.0.5", "spf-mx.test", NEUTRAL },       /* mx:mxonly.test (good.client.test) */
    { "127.0.0.61", "spf-mx.test", PASS },
    { "127.0.0.5", "noaddr.test", NONE },           /* a TXT record, not SPF */
    { "127.0.0.5", "nohost.test", NONE },
    { "127.0.0.5", "spf-temp.test", TEMPERROR },    /* include:x.broken.test */
  };

  if (g_strcmp0 (g_getenv ("RELAIS_TEST_NET"), "1") != 0)
    {
      g_test_skip ("needs build-aux/with-test-net --dnsmasq tests/dns/test.conf");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GInetAddress) ip = g_inet_address_new_from_string (cases[i].ip);
      g_autofree char *sender = g_strdup_printf ("someone@%s", cases[i].domain);
      Outcome o = { 0 };

      relais_spf_check_host_async (ip, cases[i].domain, sender, "helo.test", "mx.relais.test", NULL, done_cb, &o);
      wait_for (&o);
      g_assert_no_error (o.error);
      if (o.answer->result != cases[i].expected)
        g_error ("%s from %s: %s (%s), expected %s", cases[i].domain, cases[i].ip,
                 relais_spf_result_to_string (o.answer->result), o.answer->problem ? o.answer->problem : "-",
                 relais_spf_result_to_string (cases[i].expected));
      relais_spf_answer_free (o.answer);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spf/qualifiers", test_qualifiers);
  g_test_add_func ("/spf/ip", test_ip);
  g_test_add_func ("/spf/a-mx", test_a_mx);
  g_test_add_func ("/spf/ptr-exists", test_ptr_exists);
  g_test_add_func ("/spf/include-redirect", test_include_redirect);
  g_test_add_func ("/spf/records", test_records);
  g_test_add_func ("/spf/limits", test_limits);
  g_test_add_func ("/spf/temperror", test_temperror);
  g_test_add_func ("/spf/exp", test_exp);
  g_test_add_func ("/spf/macros-rfc", test_macros_rfc);
  g_test_add_func ("/spf/macros-more", test_macros_more);
  g_test_add_func ("/spf/received-spf", test_received_spf);
  g_test_add_func ("/spf/async", test_async);
  g_test_add_func ("/spf/resolver", test_resolver);
  return g_test_run ();
}
