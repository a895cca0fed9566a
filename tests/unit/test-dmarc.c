/* SPDX-License-Identifier: GPL-3.0-or-later
 * DMARC: the public suffix list (a small list written here, and Debian's),
 * the policy record, the From domain, the evaluation (alignment, discovery
 * at the organizational domain, sp=, pct=, the error results) against a
 * fake TXT table, the Authentication-Results clause, and the same through
 * the real resolver on tests/dns/test.conf (dnsmasq). */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "relais-dmarc.h"
#include "relais-error.h"
#include "relais-psl.h"
#include "relais-test-util.h"

/* ---- a fake TXT lookup ---- */

typedef struct {
  GHashTable *records;   /* name → GPtrArray of char * */
  GHashTable *tempfail;  /* names whose lookup fails for now */
  GPtrArray *asked;      /* the names asked, in order */
} FakeDns;

static RelaisDnsResult
fake_lookup (const char *name, GPtrArray *records, gpointer user_data)
{
  FakeDns *dns = user_data;
  GPtrArray *found;

  g_ptr_array_add (dns->asked, g_strdup (name));
  if (g_hash_table_contains (dns->tempfail, name))
    return RELAIS_DNS_TEMPFAIL;
  if (!(found = g_hash_table_lookup (dns->records, name)))
    return RELAIS_DNS_NXDOMAIN;
  for (guint i = 0; i < found->len; i++)
    g_ptr_array_add (records, g_strdup (g_ptr_array_index (found, i)));
  return RELAIS_DNS_FOUND;
}

static FakeDns *
fake_dns_new (void)
{
  FakeDns *dns = g_new0 (FakeDns, 1);

  dns->records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  dns->tempfail = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  dns->asked = g_ptr_array_new_with_free_func (g_free);
  return dns;
}

static void
fake_dns_free (FakeDns *dns)
{
  g_hash_table_unref (dns->records);
  g_hash_table_unref (dns->tempfail);
  g_ptr_array_unref (dns->asked);
  g_free (dns);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeDns, fake_dns_free)

static void
fake_dns_add (FakeDns *dns, const char *name, const char *text)
{
  GPtrArray *texts = g_hash_table_lookup (dns->records, name);

  if (!texts)
    {
      texts = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (dns->records, g_strdup (name), texts);
    }
  g_ptr_array_add (texts, g_strdup (text));
}

/* The names asked since the last call, joined with " ", then forgotten. */
static char *
fake_dns_asked (FakeDns *dns)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < dns->asked->len; i++)
    g_string_append_printf (out, "%s%s", i ? " " : "", (char *) g_ptr_array_index (dns->asked, i));
  g_ptr_array_set_size (dns->asked, 0);
  return g_strdup (out->str);
}

static GPtrArray *
verdicts_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dkim_verdict_free);
}

static void
verdicts_add (GPtrArray *verdicts, RelaisDkimResult result, const char *domain)
{
  RelaisDkimVerdict *verdict = g_new0 (RelaisDkimVerdict, 1);

  verdict->result = result;
  verdict->domain = g_strdup (domain);
  verdict->selector = g_strdup ("sel");
  g_ptr_array_add (verdicts, verdict);
}

/* ---- the public suffix list ---- */

#define SMALL_LIST \
  "// a small list in the format of publicsuffix.org\n" \
  "// ===BEGIN ICANN DOMAINS===\n" \
  "com\n" \
  "uk\n" \
  "co.uk  this is read up to the first white space\n" \
  "\n" \
  "*.ck\n" \
  "!www.ck\n" \
  "cn\n" \
  "公司.cn\n" \
  "  *.bad.*.rule\n" \
  "empty..label\n" \
  "\xff\xfe.not-utf8\n" \
  "// ===END ICANN DOMAINS===\n" \
  "// ===BEGIN PRIVATE DOMAINS===\n" \
  "blogspot.com\n" \
  "// ===END PRIVATE DOMAINS===\n"

static char *
write_list (const char *contents)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("relais-psl-XXXXXX", &error);
  char *path;

  g_assert_no_error (error);
  path = g_build_filename (dir, "list.dat", NULL);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  return path;
}

static void
remove_list (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  relais_test_remove_tree (dir);
}

static void
assert_org (const RelaisPsl *psl, const char *domain, const char *expected)
{
  g_autofree char *org = relais_psl_organizational_domain (psl, domain);

  g_assert_cmpstr (org, ==, expected);
}

static void
test_psl_small (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_list (SMALL_LIST);
  g_autoptr(RelaisPsl) psl = relais_psl_load (path, &error);
  g_autofree char *company = g_hostname_to_ascii ("公司.cn");
  g_autofree char *example = g_hostname_to_ascii ("例子");
  g_autofree char *ascii_name = g_strdup_printf ("www.%s.%s", example, company);
  g_autofree char *ascii_org = g_strdup_printf ("%s.%s", example, company);
  g_autofree char *suffix = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (psl);
  /* a wildcard inside, an empty label, bytes that are not UTF-8: skipped */
  g_assert_cmpuint (relais_psl_get_n_rules (psl), ==, 8);

  /* normal rules, the longest one prevailing */
  assert_org (psl, "example.com", "example.com");
  assert_org (psl, "a.b.example.com", "example.com");
  assert_org (psl, "www.example.co.uk", "example.co.uk");
  assert_org (psl, "example.co.uk", "example.co.uk");
  assert_org (psl, "example.uk", "example.uk");
  /* a public suffix is its own organizational domain */
  assert_org (psl, "co.uk", "co.uk");
  assert_org (psl, "com", "com");
  /* case and the trailing dot */
  assert_org (psl, "WWW.Example.CO.UK.", "example.co.uk");
  /* a wildcard: any label under ck is a suffix; the exception www.ck is not */
  assert_org (psl, "a.b.c.ck", "b.c.ck");
  assert_org (psl, "b.c.ck", "b.c.ck");
  assert_org (psl, "ck", "ck");
  assert_org (psl, "www.ck", "www.ck");
  assert_org (psl, "a.b.www.ck", "www.ck");
  suffix = relais_psl_public_suffix (psl, "a.b.c.ck");
  g_assert_cmpstr (suffix, ==, "c.ck");
  g_clear_pointer (&suffix, g_free);
  suffix = relais_psl_public_suffix (psl, "a.www.ck");
  g_assert_cmpstr (suffix, ==, "ck");
  g_clear_pointer (&suffix, g_free);
  /* the private section counts */
  assert_org (psl, "me.blogspot.com", "me.blogspot.com");
  assert_org (psl, "a.me.blogspot.com", "me.blogspot.com");
  /* no rule: the default rule "*" */
  assert_org (psl, "a.b.org.test", "org.test");
  /* an internationalized rule, as UTF-8 and as A-labels */
  assert_org (psl, "www.例子.公司.cn", "例子.公司.cn");
  assert_org (psl, ascii_name, ascii_org);
  assert_org (psl, "例子.cn", "例子.cn");
  /* not domain names */
  assert_org (psl, "", NULL);
  assert_org (psl, "a..example.com", NULL);
  assert_org (psl, ".example.com", NULL);
  assert_org (psl, ".", NULL);
  assert_org (psl, "\xff.com", NULL);

  /* without a list: the last two labels */
  assert_org (NULL, "www.example.co.uk", "co.uk");
  assert_org (NULL, "a.b.example.com", "example.com");
  assert_org (NULL, "com", "com");
  suffix = relais_psl_public_suffix (NULL, "www.example.co.uk");
  g_assert_cmpstr (suffix, ==, "uk");
  remove_list (path);
}

static void
test_psl_load_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_list ("// only comments\n\n// ===BEGIN ICANN DOMAINS===\n");
  g_autofree char *missing = g_build_filename (g_get_tmp_dir (), "relais-no-such-list.dat", NULL);
  RelaisPsl *psl;

  psl = relais_psl_load (path, &error);
  g_assert_null (psl);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "holds no rule"));
  g_clear_error (&error);
  remove_list (path);

  psl = relais_psl_load (missing, &error);
  g_assert_null (psl);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_true (g_str_has_prefix (error->message, "Cannot read the public suffix list"));
}

static gpointer
load_default_thread (gpointer data)
{
  (void) data;
  return (gpointer) relais_psl_default ();
}

/* Debian's list (the publicsuffix package), loaded once for all threads. */
static void
test_psl_debian (void)
{
  GThread *threads[4];
  const RelaisPsl *psl;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("psl", load_default_thread, NULL);
  psl = relais_psl_default ();
  g_assert_nonnull (psl);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_assert_true (g_thread_join (threads[i]) == psl);
  g_assert_cmpuint (relais_psl_get_n_rules (psl), >, 5000);

  assert_org (psl, "example.co.uk", "example.co.uk");
  assert_org (psl, "mail.example.co.uk", "example.co.uk");
  assert_org (psl, "a.b.example.com", "example.com");
  assert_org (psl, "www.ck", "www.ck");
  assert_org (psl, "foo.bar.ck", "foo.bar.ck");
  assert_org (psl, "x.y.kawasaki.jp", "x.y.kawasaki.jp");
  assert_org (psl, "www.city.kawasaki.jp", "city.kawasaki.jp");
  assert_org (psl, "me.blogspot.com", "me.blogspot.com");
  assert_org (psl, "mail.sub.org.test", "org.test");
}

/* ---- the record ---- */

static void
test_record_good (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisDmarcRecord) full = relais_dmarc_record_parse (
    "v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; rua=mailto:d@example.com; "
    "ruf=mailto:f@example.com; fo=1; ri=3600;", &error);
  g_autoptr(RelaisDmarcRecord) spaced = NULL;
  g_autoptr(RelaisDmarcRecord) defaults = NULL;
  g_autoptr(RelaisDmarcRecord) quarantine = NULL;
  g_autoptr(RelaisDmarcRecord) unknown = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (full->policy, ==, RELAIS_DMARC_POLICY_REJECT);
  g_assert_cmpint (full->subdomain_policy, ==, RELAIS_DMARC_POLICY_QUARANTINE);
  g_assert_false (full->policy_defaulted);
  g_assert_cmpuint (full->percent, ==, 50);
  g_assert_cmpint (full->dkim_alignment, ==, RELAIS_DMARC_ALIGN_STRICT);
  g_assert_cmpint (full->spf_alignment, ==, RELAIS_DMARC_ALIGN_RELAXED);
  g_assert_cmpstr (full->rua, ==, "mailto:d@example.com");
  g_assert_cmpstr (full->ruf, ==, "mailto:f@example.com");

  /* white space around everything, tags and policy values in any case */
  spaced = relais_dmarc_record_parse ("  v = DMARC1 ;\tP = Reject ;\r\n ASPF=S", &error);
  g_assert_no_error (error);
  g_assert_cmpint (spaced->policy, ==, RELAIS_DMARC_POLICY_REJECT);
  g_assert_cmpint (spaced->spf_alignment, ==, RELAIS_DMARC_ALIGN_STRICT);

  /* the defaults: sp= is p=, pct=100, relaxed alignment */
  defaults = relais_dmarc_record_parse ("v=DMARC1; p=none", &error);
  g_assert_no_error (error);
  g_assert_cmpint (defaults->policy, ==, RELAIS_DMARC_POLICY_NONE);
  g_assert_cmpint (defaults->subdomain_policy, ==, RELAIS_DMARC_POLICY_NONE);
  g_assert_cmpuint (defaults->percent, ==, 100);
  g_assert_cmpint (defaults->dkim_alignment, ==, RELAIS_DMARC_ALIGN_RELAXED);
  g_assert_cmpint (defaults->spf_alignment, ==, RELAIS_DMARC_ALIGN_RELAXED);
  g_assert_null (defaults->rua);
  quarantine = relais_dmarc_record_parse ("v=DMARC1;p=quarantine", &error);
  g_assert_no_error (error);
  g_assert_cmpint (quarantine->subdomain_policy, ==, RELAIS_DMARC_POLICY_QUARANTINE);

  /* unknown tags are ignored; pct= at its bounds */
  unknown = relais_dmarc_record_parse ("v=DMARC1; p=reject; pct=0; future=thing; x_y=1", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unknown->percent, ==, 0);
  g_clear_pointer (&unknown, relais_dmarc_record_free);
  unknown = relais_dmarc_record_parse ("v=DMARC1; p=reject; pct=100", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unknown->percent, ==, 100);
}

static void
test_record_bad (void)
{
  static const struct { const char *text; const char *message; } cases[] = {
    { "", "must start with v=DMARC1" },
    { "v=spf1 -all", "must start with v=DMARC1" },
    { "v=DMARC2; p=reject", "must start with v=DMARC1" },
    { "v=dmarc1; p=reject", "must start with v=DMARC1" },
    { "v=DMARC1x; p=reject", "must start with v=DMARC1" },
    { "p=reject; v=DMARC1", "must start with v=DMARC1" },
    { "v=DMARC1; p=reject; v=DMARC1", "given twice" },
    { "v=DMARC1; p=reject; P=none", "given twice" },
    { "v=DMARC1; p=reject; pct=101", "pct=101 is not a number from 0 to 100" },
    { "v=DMARC1; p=reject; pct=-1", "pct=-1" },
    { "v=DMARC1; p=reject; pct=0100", "pct=0100" },
    { "v=DMARC1; p=reject; pct=", "pct=" },
    { "v=DMARC1; p=reject; pct=5 0", "pct=5 0" },
    { "v=DMARC1; p=reject; pct=half", "pct=half" },
    { "v=DMARC1; p=reject; adkim=x", "adkim=x is neither r (relaxed) nor s (strict)" },
    { "v=DMARC1; p=reject; aspf=strict", "aspf=strict" },
    { "v=DMARC1; p=reject; junk", "\"junk\" is not a tag=value pair" },
    { "v=DMARC1; p=reject; 1x=y", "\"1x\" is not a tag name" },
    { "v=DMARC1; p=reject; =y", "\"\" is not a tag name" },
    { "v=DMARC1; p=reject; rua=a\001b", "control character" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaisDmarcRecord) record = relais_dmarc_record_parse (cases[i].text, &error);

      g_test_message ("record: %s", cases[i].text);
      g_assert_null (record);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      if (!strstr (error->message, cases[i].message))
        g_error ("unexpected message: %s", error->message);
    }
}

/* RFC 7489 §6.6.3 step 6: no valid p= (or a bad sp=) */
static void
test_record_no_policy (void)
{
  static const char *const ignored[] = {
    "v=DMARC1",
    "v=DMARC1; pct=50",
    "v=DMARC1; p=bogus",
    "v=DMARC1; p=reject; sp=bogus",
    "v=DMARC1; p=bogus; rua=not a uri",
    "v=DMARC1; p=; rua=",
  };
  static const char *const defaulted[] = {
    "v=DMARC1; p=bogus; rua=mailto:d@example.com",
    "v=DMARC1; rua=junk, mailto:d@example.com!10m",
    "v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com",
  };

  for (guint i = 0; i < G_N_ELEMENTS (ignored); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaisDmarcRecord) record = relais_dmarc_record_parse (ignored[i], &error);

      g_test_message ("record: %s", ignored[i]);
      g_assert_null (record);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND);
      g_assert_nonnull (strstr (error->message, "no valid policy"));
    }
  for (guint i = 0; i < G_N_ELEMENTS (defaulted); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaisDmarcRecord) record = relais_dmarc_record_parse (defaulted[i], &error);

      g_test_message ("record: %s", defaulted[i]);
      g_assert_no_error (error);
      g_assert_true (record->policy_defaulted);
      g_assert_cmpint (record->policy, ==, RELAIS_DMARC_POLICY_NONE);
      g_assert_cmpint (record->subdomain_policy, ==, RELAIS_DMARC_POLICY_NONE);
    }
}

/* ---- the From domain ---- */

static void
test_from_good (void)
{
  static const struct { const char *value; const char *domain; } cases[] = {
    { "joe@Example.COM", "example.com" },
    { " Joe Q. Public <john.q.public@example.com>", "example.com" },
    { "\"Joe, the <boss>\" <joe@example.org>", "example.org" },
    { "\"joe@fake.example\"@real.example", "real.example" },
    { "\"Joe \\\"Q\\\" (Public)\" <joe@example.org>", "example.org" },
    { "joe(comment, with @ and <x>)@example.net (another (nested) one)", "example.net" },
    { "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", "silly.test" },
    { "Mary Smith\r\n <mary@x.test>", "x.test" },
    { "<@relay.example,@other.example:joe@example.com>", "example.com" },
    { "joe @ example . com", "example.com" },
    { "J\xc3\xb6\x65 <joe@B\xc3\xbc\x63her.example>", "b\xc3\xbc\x63her.example" },
    { "joe@example.com,", "example.com" },
    { "<joe@example.com>", "example.com" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *domain = NULL;

      g_test_message ("From: %s", cases[i].value);
      relais_dmarc_from_domain (cases[i].value, &domain, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (domain, ==, cases[i].domain);
    }
}

static void
test_from_bad (void)
{
  static const struct { const char *value; const char *message; } cases[] = {
    { "a@example.com, b@example.org", "has 2 addresses" },
    { "Joe <a@example.com>, \"B\" <b@example.com>", "has 2 addresses" },
    { "", "has no address" },
    { "  (just a comment)", "has no address" },
    { "Joe <joe>", "has no domain" },
    { "joe", "has no domain" },
    { "joe@", "has no domain" },
    { "Joe Bloggs", "has no domain" },
    { "@example.com", "has no local part" },
    { "joe@@example.com", "more than one @" },
    { "joe@[192.0.2.1]", "address literal ([192.0.2.1])" },
    { "joe@\"example.com\"", "quoted string where its domain should be" },
    { "undisclosed-recipients:;", "uses a group" },
    { "team: a@example.com;", "uses a group" },
    { "Joe <joe@example.com", "unbalanced" },
    { "Joe joe@example.com>", "unbalanced" },
    { "<<joe@example.com>>", "unbalanced" },
    { "\"unterminated <joe@example.com>", "quoted string does not end" },
    { "joe@example.com (unterminated", "comment does not end" },
    { "joe@[192.0.2.1", "a [ has no ]" },
    { "Joe <joe@example.com> extra", "something follows" },
    { "joe@exa mple.com", "has a space" },
    { "joe@example..com", "not a domain name" },
    { "joe@example.com.", "not a domain name" },
    { "joe@exa$mple.com", "not a domain name" },
    { "joe@example.com\001", "unexpected character 0x01" },
    { "Jo@e <joe@example.com>", "display name" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      char *domain = NULL;

      g_test_message ("From: %s", cases[i].value);
      g_assert_false (relais_dmarc_from_domain (cases[i].value, &domain, &error));
      g_assert_null (domain);
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      if (!strstr (error->message, cases[i].message))
        g_error ("unexpected message: %s", error->message);
    }
}

/* ---- evaluation ---- */

static RelaisDmarcAnswer *
evaluate (FakeDns *dns, const char *from, const char *spf_domain, RelaisSpfResult spf, GPtrArray *verdicts,
          guint sample)
{
  return relais_dmarc_evaluate (from, spf_domain, spf, verdicts, NULL, fake_lookup, dns, sample);
}

static void
test_evaluate_spf (void)
{
  g_autoptr(FakeDns) dns = fake_dns_new ();
  g_autoptr(RelaisDmarcAnswer) relaxed = NULL;
  g_autoptr(RelaisDmarcAnswer) other = NULL;
  g_autoptr(RelaisDmarcAnswer) failed = NULL;
  g_autoptr(RelaisDmarcAnswer) softfail = NULL;
  g_autoptr(RelaisDmarcAnswer) strict_sub = NULL;
  g_autoptr(RelaisDmarcAnswer) strict_same = NULL;
  g_autoptr(RelaisDmarcAnswer) no_spf = NULL;
  g_autofree char *asked = NULL;

  fake_dns_add (dns, "_dmarc.example.com", "v=DMARC1; p=reject");
  fake_dns_add (dns, "_dmarc.strict.example", "v=DMARC1; p=reject; aspf=s");

  relaxed = evaluate (dns, "example.com", "bounces.mail.example.com", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (relaxed->result, ==, RELAIS_DMARC_PASS);
  g_assert_true (relaxed->spf_aligned);
  g_assert_false (relaxed->dkim_aligned);
  g_assert_cmpint (relaxed->policy, ==, RELAIS_DMARC_POLICY_REJECT);
  g_assert_cmpint (relaxed->disposition, ==, RELAIS_DMARC_POLICY_NONE);
  g_assert_cmpstr (relaxed->from_domain, ==, "example.com");
  g_assert_cmpstr (relaxed->org_domain, ==, "example.com");
  g_assert_cmpstr (relaxed->policy_domain, ==, "example.com");
  g_assert_nonnull (strstr (relaxed->reason, "SPF passed for bounces.mail.example.com"));
  asked = fake_dns_asked (dns);
  g_assert_cmpstr (asked, ==, "_dmarc.example.com");

  other = evaluate (dns, "example.com", "example.net", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (other->result, ==, RELAIS_DMARC_FAIL);
  g_assert_false (other->spf_aligned);
  g_assert_true (other->applied);
  g_assert_cmpint (other->disposition, ==, RELAIS_DMARC_POLICY_REJECT);
  g_assert_nonnull (strstr (other->reason, "no SPF or DKIM pass aligned with example.com"));

  failed = evaluate (dns, "example.com", "example.com", RELAIS_SPF_FAIL, NULL, 0);
  g_assert_cmpint (failed->result, ==, RELAIS_DMARC_FAIL);
  softfail = evaluate (dns, "example.com", "example.com", RELAIS_SPF_SOFTFAIL, NULL, 0);
  g_assert_cmpint (softfail->result, ==, RELAIS_DMARC_FAIL);
  no_spf = evaluate (dns, "example.com", NULL, RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (no_spf->result, ==, RELAIS_DMARC_FAIL);

  /* strict: the very name, in any case, with or without the final dot */
  strict_sub = evaluate (dns, "strict.example", "mail.strict.example", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (strict_sub->result, ==, RELAIS_DMARC_FAIL);
  g_assert_nonnull (strstr (strict_sub->reason, "strict SPF, relaxed DKIM alignment"));
  strict_same = evaluate (dns, "Strict.Example", "STRICT.example.", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (strict_same->result, ==, RELAIS_DMARC_PASS);
  g_assert_cmpstr (strict_same->from_domain, ==, "strict.example");
}

static void
test_evaluate_dkim (void)
{
  g_autoptr(FakeDns) dns = fake_dns_new ();
  g_autoptr(GPtrArray) same = verdicts_new ();
  g_autoptr(GPtrArray) sub = verdicts_new ();
  g_autoptr(GPtrArray) failed = verdicts_new ();
  g_autoptr(GPtrArray) second = verdicts_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_list ("uk\nco.uk\ncom\n");
  g_autoptr(RelaisPsl) psl = relais_psl_load (path, &error);
  g_autoptr(RelaisDmarcAnswer) answer = NULL;

  g_assert_no_error (error);
  fake_dns_add (dns, "_dmarc.example.com", "v=DMARC1; p=quarantine");
  fake_dns_add (dns, "_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s");
  fake_dns_add (dns, "_dmarc.example.co.uk", "v=DMARC1; p=reject");
  verdicts_add (same, RELAIS_DKIM_PASS, "example.com");
  verdicts_add (sub, RELAIS_DKIM_PASS, "mail.strict.example");
  verdicts_add (failed, RELAIS_DKIM_FAIL, "example.com");
  verdicts_add (failed, RELAIS_DKIM_PASS, "example.org");
  verdicts_add (failed, RELAIS_DKIM_PASS, NULL);
  verdicts_add (second, RELAIS_DKIM_PASS, "other.example");
  verdicts_add (second, RELAIS_DKIM_PASS, "news.example.com");

  answer = evaluate (dns, "example.com", "example.net", RELAIS_SPF_PASS, same, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PASS);
  g_assert_true (answer->dkim_aligned);
  g_assert_false (answer->spf_aligned);
  g_assert_nonnull (strstr (answer->reason, "DKIM passed for d=example.com"));
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* both aligned */
  answer = evaluate (dns, "example.com", "example.com", RELAIS_SPF_PASS, same, 0);
  g_assert_true (answer->spf_aligned && answer->dkim_aligned);
  g_assert_nonnull (strstr (answer->reason, "SPF passed for example.com, DKIM passed for d=example.com"));
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* a relaxed subdomain signature for the organizational From domain */
  answer = evaluate (dns, "example.com", NULL, RELAIS_SPF_NONE, second, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PASS);
  g_assert_true (answer->dkim_aligned);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* a failed aligned signature and passes elsewhere do not count */
  answer = evaluate (dns, "example.com", NULL, RELAIS_SPF_NONE, failed, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_cmpint (answer->disposition, ==, RELAIS_DMARC_POLICY_QUARANTINE);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* adkim=s: a subdomain's signature is not aligned */
  answer = evaluate (dns, "strict.example", NULL, RELAIS_SPF_NONE, sub, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_false (answer->dkim_aligned);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate (dns, "mail.strict.example", NULL, RELAIS_SPF_NONE, sub, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PASS);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* an internationalized From domain aligns with its A-labels, strictly too */
  fake_dns_add (dns, "_dmarc.xn--bcher-kva.example", "v=DMARC1; p=reject; adkim=s");
  g_ptr_array_set_size (sub, 0);
  verdicts_add (sub, RELAIS_DKIM_PASS, "xn--bcher-kva.example");
  answer = evaluate (dns, "B\xc3\xbc\x63her.example", NULL, RELAIS_SPF_NONE, sub, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PASS);
  g_assert_cmpstr (answer->from_domain, ==, "xn--bcher-kva.example");
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* multi-label suffixes need the list: with it, other.co.uk is another
   * organization; without, co.uk is taken as everyone's */
  g_ptr_array_set_size (sub, 0);
  verdicts_add (sub, RELAIS_DKIM_PASS, "other.co.uk");
  answer = relais_dmarc_evaluate ("mail.example.co.uk", NULL, RELAIS_SPF_NONE, sub, psl, fake_lookup, dns, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_cmpstr (answer->org_domain, ==, "example.co.uk");
  g_assert_cmpstr (answer->policy_domain, ==, "example.co.uk");
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  verdicts_add (sub, RELAIS_DKIM_PASS, "dkim.example.co.uk");
  answer = relais_dmarc_evaluate ("mail.example.co.uk", NULL, RELAIS_SPF_NONE, sub, psl, fake_lookup, dns, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PASS);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  fake_dns_add (dns, "_dmarc.co.uk", "v=DMARC1; p=reject");
  g_ptr_array_set_size (sub, 1);
  answer = relais_dmarc_evaluate ("mail.example.co.uk", NULL, RELAIS_SPF_NONE, sub, NULL, fake_lookup, dns, 0);
  g_assert_cmpstr (answer->org_domain, ==, "co.uk");
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PASS);
  remove_list (path);
}

static void
test_evaluate_discovery (void)
{
  g_autoptr(FakeDns) dns = fake_dns_new ();
  g_autoptr(RelaisDmarcAnswer) answer = NULL;
  g_autofree char *asked = NULL;
  g_autofree char *clause = NULL;

  fake_dns_add (dns, "_dmarc.example.org", "v=spf1 -all");
  fake_dns_add (dns, "_dmarc.example.org", "v=DMARC1; p=none; sp=reject");
  fake_dns_add (dns, "_dmarc.sub.example.org", "v=DMARC1; p=quarantine");
  fake_dns_add (dns, "_dmarc.text.example.org", "just some text");

  /* no record of its own: the organizational domain's sp= */
  answer = evaluate (dns, "mail.sub.example.org", "example.net", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_cmpint (answer->policy, ==, RELAIS_DMARC_POLICY_REJECT);
  g_assert_cmpint (answer->disposition, ==, RELAIS_DMARC_POLICY_REJECT);
  g_assert_cmpstr (answer->org_domain, ==, "example.org");
  g_assert_cmpstr (answer->policy_domain, ==, "example.org");
  asked = fake_dns_asked (dns);
  g_assert_cmpstr (asked, ==, "_dmarc.mail.sub.example.org _dmarc.example.org");
  g_clear_pointer (&asked, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* a TXT record that is not DMARC's counts as none */
  answer = evaluate (dns, "text.example.org", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpstr (answer->policy_domain, ==, "example.org");
  g_assert_cmpint (answer->policy, ==, RELAIS_DMARC_POLICY_REJECT);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* the organizational domain itself: p= */
  answer = evaluate (dns, "example.org", "example.net", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_cmpint (answer->policy, ==, RELAIS_DMARC_POLICY_NONE);
  g_assert_cmpint (answer->disposition, ==, RELAIS_DMARC_POLICY_NONE);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==, "dmarc=fail (p=none dis=none) header.from=example.org");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  g_free (fake_dns_asked (dns));

  /* a record of its own comes first: p= applies, not the org's sp= */
  answer = evaluate (dns, "sub.example.org", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->policy, ==, RELAIS_DMARC_POLICY_QUARANTINE);
  g_assert_cmpstr (answer->policy_domain, ==, "sub.example.org");
  asked = fake_dns_asked (dns);
  g_assert_cmpstr (asked, ==, "_dmarc.sub.example.org");
  g_clear_pointer (&asked, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* no record anywhere: none */
  answer = evaluate (dns, "www.nothing.example", "nothing.example", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_NONE);
  g_assert_null (answer->policy_domain);
  g_assert_cmpstr (answer->reason, ==, "no DMARC record at _dmarc.www.nothing.example or _dmarc.nothing.example");
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==, "dmarc=none header.from=www.nothing.example");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  g_free (fake_dns_asked (dns));
  answer = evaluate (dns, "nothing.example", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_NONE);
  asked = fake_dns_asked (dns);
  g_assert_cmpstr (asked, ==, "_dmarc.nothing.example");
}

static void
test_evaluate_pct (void)
{
  g_autoptr(FakeDns) dns = fake_dns_new ();
  g_autoptr(GPtrArray) pass = verdicts_new ();
  static const struct {
    const char *domain;
    guint sample;
    RelaisDmarcResult result;
    gboolean applied;
    RelaisDmarcPolicy disposition;
  } cases[] = {
    { "reject.example", 0, RELAIS_DMARC_FAIL, TRUE, RELAIS_DMARC_POLICY_REJECT },
    { "reject.example", 29, RELAIS_DMARC_FAIL, TRUE, RELAIS_DMARC_POLICY_REJECT },
    { "reject.example", 30, RELAIS_DMARC_FAIL, FALSE, RELAIS_DMARC_POLICY_QUARANTINE },
    { "reject.example", 99, RELAIS_DMARC_FAIL, FALSE, RELAIS_DMARC_POLICY_QUARANTINE },
    { "quarantine.example", 0, RELAIS_DMARC_FAIL, FALSE, RELAIS_DMARC_POLICY_NONE },
    { "none.example", 99, RELAIS_DMARC_FAIL, FALSE, RELAIS_DMARC_POLICY_NONE },
    { "all.example", 99, RELAIS_DMARC_FAIL, TRUE, RELAIS_DMARC_POLICY_REJECT },
    { "signed.example", 0, RELAIS_DMARC_PASS, TRUE, RELAIS_DMARC_POLICY_NONE },
  };

  fake_dns_add (dns, "_dmarc.reject.example", "v=DMARC1; p=reject; pct=30");
  fake_dns_add (dns, "_dmarc.quarantine.example", "v=DMARC1; p=quarantine; pct=0");
  fake_dns_add (dns, "_dmarc.none.example", "v=DMARC1; p=none; pct=50");
  fake_dns_add (dns, "_dmarc.all.example", "v=DMARC1; p=reject");
  fake_dns_add (dns, "_dmarc.signed.example", "v=DMARC1; p=reject; pct=1");
  verdicts_add (pass, RELAIS_DKIM_PASS, "signed.example");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(RelaisDmarcAnswer) answer = evaluate (dns, cases[i].domain, NULL, RELAIS_SPF_NONE, pass,
                                                      cases[i].sample);
      g_autofree char *clause = relais_dmarc_format (answer);

      g_test_message ("%s, sample %u: %s", cases[i].domain, cases[i].sample, clause);
      g_assert_cmpint (answer->result, ==, cases[i].result);
      g_assert_cmpint (answer->applied, ==, cases[i].applied);
      g_assert_cmpint (answer->disposition, ==, cases[i].disposition);
    }
}

static void
test_evaluate_errors (void)
{
  g_autoptr(FakeDns) dns = fake_dns_new ();
  g_autoptr(RelaisDmarcAnswer) answer = NULL;
  g_autofree char *asked = NULL;
  g_autofree char *clause = NULL;

  g_hash_table_add (dns->tempfail, g_strdup ("_dmarc.temp.example"));
  g_hash_table_add (dns->tempfail, g_strdup ("_dmarc.orgtemp.example"));
  fake_dns_add (dns, "_dmarc.www.multi.example", "v=DMARC1; p=reject");
  fake_dns_add (dns, "_dmarc.www.multi.example", "v=DMARC1; p=none");
  fake_dns_add (dns, "_dmarc.multi.example", "v=DMARC1; p=reject");
  fake_dns_add (dns, "_dmarc.bad.example", "v=DMARC1; p=reject; pct=200");
  fake_dns_add (dns, "_dmarc.ignored.example", "v=DMARC1; p=bogus");
  fake_dns_add (dns, "_dmarc.reported.example", "v=DMARC1; p=bogus; rua=mailto:r@reported.example");

  answer = evaluate (dns, "temp.example", "temp.example", RELAIS_SPF_PASS, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_TEMPERROR);
  g_assert_cmpint (answer->disposition, ==, RELAIS_DMARC_POLICY_NONE);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==,
                   "dmarc=temperror reason=\"the DNS lookup of _dmarc.temp.example failed for now\" "
                   "header.from=temp.example");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* nothing at the From domain, a failure at the organizational domain */
  answer = evaluate (dns, "www.orgtemp.example", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_TEMPERROR);
  g_assert_nonnull (strstr (answer->reason, "_dmarc.orgtemp.example"));
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  g_free (fake_dns_asked (dns));

  /* several records: none, and no look at the organizational domain */
  answer = evaluate (dns, "www.multi.example", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_NONE);
  g_assert_cmpstr (answer->reason, ==, "_dmarc.www.multi.example has 2 DMARC records: none applies");
  asked = fake_dns_asked (dns);
  g_assert_cmpstr (asked, ==, "_dmarc.www.multi.example");
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  answer = evaluate (dns, "bad.example", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PERMERROR);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==,
                   "dmarc=permerror reason=\"_dmarc.bad.example: Bad DMARC record: pct=200 is not a number "
                   "from 0 to 100\" header.from=bad.example");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* §6.6.3 step 6: ignored without rua=, p=none with it */
  answer = evaluate (dns, "ignored.example", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_NONE);
  g_assert_nonnull (strstr (answer->reason, "no valid policy (p=bogus is not none, quarantine or reject)"));
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate (dns, "reported.example", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_cmpint (answer->policy, ==, RELAIS_DMARC_POLICY_NONE);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  g_free (fake_dns_asked (dns));

  /* not a domain: permerror without a lookup */
  answer = evaluate (dns, "exa mple.com", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PERMERROR);
  g_assert_null (answer->from_domain);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==, "dmarc=permerror reason=\"the From domain \\\"exa mple.com\\\" is not a domain name\"");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate (dns, "", NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PERMERROR);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate (dns, NULL, NULL, RELAIS_SPF_NONE, NULL, 0);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PERMERROR);
  g_assert_cmpuint (dns->asked->len, ==, 0);
}

static void
test_format (void)
{
  RelaisDmarcAnswer answer = { 0 };
  g_autofree char *fail = NULL;
  g_autofree char *pass = NULL;
  g_autofree char *injected = NULL;

  answer.result = RELAIS_DMARC_FAIL;
  answer.policy = RELAIS_DMARC_POLICY_REJECT;
  answer.disposition = RELAIS_DMARC_POLICY_QUARANTINE;
  answer.from_domain = (char *) "example.com";
  fail = relais_dmarc_format (&answer);
  g_assert_cmpstr (fail, ==, "dmarc=fail (p=reject dis=quarantine) header.from=example.com");
  answer.result = RELAIS_DMARC_PASS;
  answer.policy = RELAIS_DMARC_POLICY_NONE;
  answer.disposition = RELAIS_DMARC_POLICY_NONE;
  answer.reason = (char *) "not shown on pass";
  pass = relais_dmarc_format (&answer);
  g_assert_cmpstr (pass, ==, "dmarc=pass (p=none dis=none) header.from=example.com");
  answer.result = RELAIS_DMARC_PERMERROR;
  answer.reason = (char *) "bad\r\nX-Injected: yes";
  injected = relais_dmarc_format (&answer);
  g_assert_cmpstr (injected, ==, "dmarc=permerror reason=\"bad??X-Injected: yes\" header.from=example.com");

  g_assert_cmpstr (relais_dmarc_result_to_string (RELAIS_DMARC_NONE), ==, "none");
  g_assert_cmpstr (relais_dmarc_result_to_string (RELAIS_DMARC_PASS), ==, "pass");
  g_assert_cmpstr (relais_dmarc_result_to_string (RELAIS_DMARC_FAIL), ==, "fail");
  g_assert_cmpstr (relais_dmarc_result_to_string (RELAIS_DMARC_TEMPERROR), ==, "temperror");
  g_assert_cmpstr (relais_dmarc_result_to_string (RELAIS_DMARC_PERMERROR), ==, "permerror");
  g_assert_cmpstr (relais_dmarc_policy_to_string (RELAIS_DMARC_POLICY_NONE), ==, "none");
  g_assert_cmpstr (relais_dmarc_policy_to_string (RELAIS_DMARC_POLICY_QUARANTINE), ==, "quarantine");
  g_assert_cmpstr (relais_dmarc_policy_to_string (RELAIS_DMARC_POLICY_REJECT), ==, "reject");
}

/* ---- the real resolver, on tests/dns/test.conf ---- */

static RelaisDmarcAnswer *
evaluate_dns (const char *from, const char *spf_domain, RelaisSpfResult spf, GPtrArray *verdicts)
{
  return relais_dmarc_evaluate (from, spf_domain, spf, verdicts, relais_psl_default (),
                                relais_dmarc_dns_lookup, NULL, 0);
}

static void
test_dns (void)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) verdicts = verdicts_new ();
  g_autoptr(RelaisDmarcAnswer) answer = NULL;
  g_autofree char *clause = NULL;

  g_assert_cmpint (relais_dmarc_dns_lookup ("_dmarc.dmarc-reject.test", texts, NULL), ==, RELAIS_DNS_FOUND);
  g_assert_cmpuint (texts->len, ==, 2);

  /* a record next to a TXT record that is none */
  answer = evaluate_dns ("dmarc-reject.test", "dmarc-reject.test", RELAIS_SPF_FAIL, NULL);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==, "dmarc=fail (p=reject dis=reject) header.from=dmarc-reject.test");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate_dns ("dmarc-reject.test", "mail.dmarc-reject.test", RELAIS_SPF_PASS, NULL);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==, "dmarc=pass (p=reject dis=none) header.from=dmarc-reject.test");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* a record in two strings */
  answer = evaluate_dns ("dmarc-quarantine.test", NULL, RELAIS_SPF_NONE, NULL);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_cmpint (answer->disposition, ==, RELAIS_DMARC_POLICY_QUARANTINE);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  verdicts_add (verdicts, RELAIS_DKIM_PASS, "dmarc-quarantine.test");
  answer = evaluate_dns ("dmarc-quarantine.test", NULL, RELAIS_SPF_NONE, verdicts);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PASS);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  answer = evaluate_dns ("dmarc-none.test", NULL, RELAIS_SPF_NONE, NULL);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==, "dmarc=fail (p=none dis=none) header.from=dmarc-none.test");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  /* a subdomain falls back to the organizational domain (by the default
   * rule "*": .test is not in the list) and its sp=reject; adkim=s there */
  g_ptr_array_set_size (verdicts, 0);
  verdicts_add (verdicts, RELAIS_DKIM_PASS, "dmarc-org.test");
  answer = evaluate_dns ("mail.sub.dmarc-org.test", "dmarc-org.test", RELAIS_SPF_FAIL, verdicts);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_FAIL);
  g_assert_cmpstr (answer->org_domain, ==, "dmarc-org.test");
  g_assert_cmpstr (answer->policy_domain, ==, "dmarc-org.test");
  g_assert_cmpint (answer->policy, ==, RELAIS_DMARC_POLICY_REJECT);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate_dns ("mail.sub.dmarc-org.test", "sub.dmarc-org.test", RELAIS_SPF_PASS, verdicts);
  clause = relais_dmarc_format (answer);
  g_assert_cmpstr (clause, ==, "dmarc=pass (p=reject dis=none) header.from=mail.sub.dmarc-org.test");
  g_clear_pointer (&clause, g_free);
  g_clear_pointer (&answer, relais_dmarc_answer_free);

  answer = evaluate_dns ("dmarc-multi.test", NULL, RELAIS_SPF_NONE, NULL);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_NONE);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate_dns ("dmarc-bad.test", NULL, RELAIS_SPF_NONE, NULL);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_PERMERROR);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate_dns ("nosuch.test", NULL, RELAIS_SPF_NONE, NULL);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_NONE);
  g_clear_pointer (&answer, relais_dmarc_answer_free);
  answer = evaluate_dns ("x.broken.test", NULL, RELAIS_SPF_NONE, NULL);
  g_assert_cmpint (answer->result, ==, RELAIS_DMARC_TEMPERROR);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/psl/debian", test_psl_debian);
  g_test_add_func ("/psl/small", test_psl_small);
  g_test_add_func ("/psl/load-errors", test_psl_load_errors);
  g_test_add_func ("/dmarc/record/good", test_record_good);
  g_test_add_func ("/dmarc/record/bad", test_record_bad);
  g_test_add_func ("/dmarc/record/no-policy", test_record_no_policy);
  g_test_add_func ("/dmarc/from/good", test_from_good);
  g_test_add_func ("/dmarc/from/bad", test_from_bad);
  g_test_add_func ("/dmarc/evaluate/spf", test_evaluate_spf);
  g_test_add_func ("/dmarc/evaluate/dkim", test_evaluate_dkim);
  g_test_add_func ("/dmarc/evaluate/discovery", test_evaluate_discovery);
  g_test_add_func ("/dmarc/evaluate/pct", test_evaluate_pct);
  g_test_add_func ("/dmarc/evaluate/errors", test_evaluate_errors);
  g_test_add_func ("/dmarc/format", test_format);
  g_test_add_func ("/dmarc/dns", test_dns);
  return g_test_run ();
}
