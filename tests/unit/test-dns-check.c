/* SPDX-License-Identifier: GPL-3.0-or-later
 * DNS checks against dnsmasq serving tests/dns/test.conf, inside
 * build-aux/with-test-net (skipped outside it): every answer of a HELO-style
 * host check and of the client-name check, NXDOMAIN told from "no records",
 * temporary failures bounded by the resolver's and our own timeout,
 * cancellation, many checks at once, and completion on the caller's context. */
#include <gio/gio.h>
#include <string.h>

#include "relais-dns-check.h"
#include "relais-dns-query.h"
#include "relais-dnsbl.h"

typedef struct {
  gboolean done;
  RelaisDnsResult result;
  char *name;
  GError *error;
  GThread *thread;             /* where the callback ran */
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_free (o->name);
  g_clear_error (&o->error);
}

static void
host_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;

  o->result = relais_dns_check_host_finish (result, &o->error);
  o->thread = g_thread_self ();
  o->done = TRUE;
}

static void
client_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;

  o->result = relais_dns_check_client_name_finish (result, &o->name, &o->error);
  o->thread = g_thread_self ();
  o->done = TRUE;
}

static void
wait_for (Outcome *o)
{
  while (!o->done)
    g_main_context_iteration (NULL, TRUE);
}

static RelaisDnsResult
check_host (const char *name, RelaisDnsCheckFlags flags)
{
  Outcome o = { 0 };

  relais_dns_check_host_async (name, flags, NULL, host_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  outcome_clear (&o);
  return o.result;
}

/* The result; *NAME the confirmed name. */
static RelaisDnsResult
check_client (const char *text, char **name)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (text);
  Outcome o = { 0 };

  g_assert_nonnull (address);
  relais_dns_check_client_name_async (address, NULL, client_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  *name = g_steal_pointer (&o.name);
  outcome_clear (&o);
  return o.result;
}

static gboolean
need_test_net (void)
{
  if (g_strcmp0 (g_getenv ("RELAIS_TEST_NET"), "1") == 0)
    return TRUE;
  g_test_skip ("needs build-aux/with-test-net --dnsmasq tests/dns/test.conf");
  return FALSE;
}

#define MX RELAIS_DNS_CHECK_MX
#define A RELAIS_DNS_CHECK_A
#define AAAA RELAIS_DNS_CHECK_AAAA
#define ANY RELAIS_DNS_CHECK_ANY

static void
test_host (void)
{
  static const struct {
    const char *name;
    RelaisDnsCheckFlags flags;
    RelaisDnsResult expected;
  } cases[] = {
    { "good.client.test", ANY, RELAIS_DNS_FOUND },
    { "good.client.test", A, RELAIS_DNS_FOUND },
    { "good.client.test", MX, RELAIS_DNS_NO_RECORDS },
    { "good.client.test", AAAA, RELAIS_DNS_NO_RECORDS },
    { "good.client.test", MX | AAAA, RELAIS_DNS_NO_RECORDS },
    { "GOOD.Client.test.", A, RELAIS_DNS_FOUND },
    { "mxonly.test", ANY, RELAIS_DNS_FOUND },
    { "mxonly.test", MX, RELAIS_DNS_FOUND },
    { "mxonly.test", A | AAAA, RELAIS_DNS_NO_RECORDS },
    { "v6only.test", ANY, RELAIS_DNS_FOUND },
    { "v6only.test", AAAA, RELAIS_DNS_FOUND },
    { "v6only.test", MX | A, RELAIS_DNS_NO_RECORDS },
    { "noaddr.test", ANY, RELAIS_DNS_NO_RECORDS },      /* exists: it has a TXT record */
    { "nohost.test", ANY, RELAIS_DNS_NXDOMAIN },
    { "nohost.test", MX, RELAIS_DNS_NXDOMAIN },
    { "nohost.test", AAAA, RELAIS_DNS_NXDOMAIN },
    { "deep.nohost.test", A, RELAIS_DNS_NXDOMAIN },
    { "direct.test", MX, RELAIS_DNS_FOUND },
    { "implicit.test", ANY, RELAIS_DNS_FOUND },
    { "nullmx.test", MX, RELAIS_DNS_FOUND },           /* a record, even if it refuses mail */
    { "exämple.test", ANY, RELAIS_DNS_NXDOMAIN },       /* asked as xn--exmple-cua.test */
  };

  if (!need_test_net ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RelaisDnsResult got = check_host (cases[i].name, cases[i].flags);

      if (got != cases[i].expected)
        g_error ("%s (flags %u): %s, expected %s", cases[i].name, cases[i].flags,
                 relais_dns_result_to_string (got), relais_dns_result_to_string (cases[i].expected));
    }
}

/* Names the DNS cannot hold are NXDOMAIN without asking anyone (so also
 * outside the test network). */
static void
test_host_invalid (void)
{
  static const char *const names[] = {
    "", ".", "a..test", ".test", "192.0.2.1", "::1", "[192.0.2.1]", "with space.test", "tab\t.test",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",   /* 64-character label */
  };
  g_autofree char *long_name = NULL;
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      RelaisDnsResult got = check_host (names[i], ANY);

      if (got != RELAIS_DNS_NXDOMAIN)
        g_error ("\"%s\": %s, expected nxdomain", names[i], relais_dns_result_to_string (got));
    }
  while (s->len < 260)
    g_string_append (s, "abcdefghi.");
  g_string_append (s, "test");
  long_name = g_string_free (s, FALSE);
  g_assert_cmpint (check_host (long_name, ANY), ==, RELAIS_DNS_NXDOMAIN);
}

static void
test_client_name (void)
{
  static const struct {
    const char *address;
    RelaisDnsResult expected;
    const char *name;
  } cases[] = {
    { "127.0.0.61", RELAIS_DNS_FOUND, "good.client.test" },
    { "::ffff:127.0.0.61", RELAIS_DNS_FOUND, "good.client.test" },   /* checked as IPv4 */
    { "127.0.0.62", RELAIS_DNS_NO_RECORDS, NULL },   /* liar.client.test is 127.0.0.99 */
    { "127.0.0.99", RELAIS_DNS_FOUND, "liar.client.test" },
    { "127.0.0.63", RELAIS_DNS_NXDOMAIN, NULL },
    { "127.0.0.1", RELAIS_DNS_NXDOMAIN, NULL },      /* local reverse zone, /etc/hosts not read */
    { "fd00:5::62", RELAIS_DNS_FOUND, "good6.client.test" },
    { "fd00:5::61", RELAIS_DNS_FOUND, "v6only.test" },
  };

  if (!need_test_net ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = NULL;
      RelaisDnsResult got = check_client (cases[i].address, &name);

      if (got != cases[i].expected)
        g_error ("%s: %s, expected %s", cases[i].address, relais_dns_result_to_string (got),
                 relais_dns_result_to_string (cases[i].expected));
      g_assert_cmpstr (name, ==, cases[i].name);
    }
}

/* A name server that does not answer: TEMPFAIL after the resolver's own
 * timeout (1 s, one attempt in the test network), never a hang. */
static void
test_tempfail (void)
{
  g_autofree char *name = NULL;
  gint64 start;

  if (!need_test_net ())
    return;
  g_assert_cmpuint (relais_dns_check_get_timeout (), ==, RELAIS_DNS_CHECK_DEFAULT_TIMEOUT_MS);

  start = g_get_monotonic_time ();
  g_assert_cmpint (check_host ("broken.test", A), ==, RELAIS_DNS_TEMPFAIL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);

  /* TEMPFAIL on one type, nothing found: TEMPFAIL (every type is asked) */
  start = g_get_monotonic_time ();
  g_assert_cmpint (check_host ("broken.test", ANY), ==, RELAIS_DNS_TEMPFAIL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 6 * G_USEC_PER_SEC);

  start = g_get_monotonic_time ();
  g_assert_cmpint (check_client ("127.0.0.64", &name), ==, RELAIS_DNS_TEMPFAIL);
  g_assert_null (name);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
}

/* Our own timeout, shorter than the resolver's: TEMPFAIL when it fires; the
 * worker left behind finishes later without harm. */
static void
test_timeout (void)
{
  g_autofree char *name = NULL;
  gint64 start, elapsed;

  if (!need_test_net ())
    return;
  relais_dns_check_set_timeout (300);
  g_assert_cmpuint (relais_dns_check_get_timeout (), ==, 300);

  start = g_get_monotonic_time ();
  g_assert_cmpint (check_host ("broken.test", ANY), ==, RELAIS_DNS_TEMPFAIL);
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpint (elapsed, >=, 250 * 1000);
  g_assert_cmpint (elapsed, <, 900 * 1000);

  start = g_get_monotonic_time ();
  g_assert_cmpint (check_client ("127.0.0.64", &name), ==, RELAIS_DNS_TEMPFAIL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 900 * 1000);

  /* a quick answer is not affected */
  g_assert_cmpint (check_host ("good.client.test", A), ==, RELAIS_DNS_FOUND);

  relais_dns_check_set_timeout (0);
  g_assert_cmpuint (relais_dns_check_get_timeout (), ==, RELAIS_DNS_CHECK_DEFAULT_TIMEOUT_MS);

  /* let the abandoned workers end while the loop runs */
  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < 1500 * 1000)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autoptr(GCancellable) before = g_cancellable_new ();
  g_autoptr(GCancellable) during = g_cancellable_new ();
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string ("127.0.0.64");
  Outcome o = { 0 };
  gint64 start;

  /* already cancelled: no lookup needed, so also outside the test network */
  g_cancellable_cancel (before);
  relais_dns_check_host_async ("good.client.test", ANY, before, host_cb, &o);
  wait_for (&o);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (o.result, ==, RELAIS_DNS_UNCHECKED);
  outcome_clear (&o);

  if (!need_test_net ())
    return;
  /* cancelled while the server keeps silent: at once, not after the timeout */
  memset (&o, 0, sizeof o);
  start = g_get_monotonic_time ();
  g_timeout_add (100, cancel_cb, during);
  relais_dns_check_client_name_async (address, during, client_cb, &o);
  wait_for (&o);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (o.result, ==, RELAIS_DNS_UNCHECKED);
  g_assert_null (o.name);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 700 * 1000);
  outcome_clear (&o);

  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < 1200 * 1000)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
}

/* Twenty checks at once, completed on the caller's own (non-default) context
 * and thread. */
static void
test_concurrent (void)
{
  static const struct { const char *name; RelaisDnsResult expected; } names[] = {
    { "good.client.test", RELAIS_DNS_FOUND },
    { "nohost.test", RELAIS_DNS_NXDOMAIN },
    { "noaddr.test", RELAIS_DNS_NO_RECORDS },
    { "mxonly.test", RELAIS_DNS_FOUND },
    { "broken.test", RELAIS_DNS_TEMPFAIL },
  };
  g_autoptr(GMainContext) context = g_main_context_new ();
  Outcome outcomes[20] = { { 0 } };
  Outcome client = { 0 };
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string ("127.0.0.61");
  gboolean all_done = FALSE;

  if (!need_test_net ())
    return;
  g_main_context_push_thread_default (context);
  for (guint i = 0; i < G_N_ELEMENTS (outcomes); i++)
    relais_dns_check_host_async (names[i % G_N_ELEMENTS (names)].name, ANY, NULL, host_cb, &outcomes[i]);
  relais_dns_check_client_name_async (address, NULL, client_cb, &client);
  while (!all_done)
    {
      g_main_context_iteration (context, TRUE);
      all_done = client.done;
      for (guint i = 0; i < G_N_ELEMENTS (outcomes); i++)
        all_done = all_done && outcomes[i].done;
    }
  g_main_context_pop_thread_default (context);

  for (guint i = 0; i < G_N_ELEMENTS (outcomes); i++)
    {
      g_assert_no_error (outcomes[i].error);
      g_assert_cmpint (outcomes[i].result, ==, names[i % G_N_ELEMENTS (names)].expected);
      g_assert_true (outcomes[i].thread == g_thread_self ());
      outcome_clear (&outcomes[i]);
    }
  g_assert_cmpint (client.result, ==, RELAIS_DNS_FOUND);
  g_assert_cmpstr (client.name, ==, "good.client.test");
  g_assert_true (client.thread == g_thread_self ());
  outcome_clear (&client);
}

static void
test_result_strings (void)
{
  g_assert_cmpstr (relais_dns_result_to_string (RELAIS_DNS_FOUND), ==, "found");
  g_assert_cmpstr (relais_dns_result_to_string (RELAIS_DNS_NXDOMAIN), ==, "nxdomain");
  g_assert_cmpstr (relais_dns_result_to_string (RELAIS_DNS_NO_RECORDS), ==, "no-records");
  g_assert_cmpstr (relais_dns_result_to_string (RELAIS_DNS_TEMPFAIL), ==, "tempfail");
  g_assert_cmpstr (relais_dns_result_to_string (RELAIS_DNS_UNCHECKED), ==, "unchecked");
}

static void
dnsbl_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *o = user_data;

  o->result = relais_dns_check_dnsbl_finish (result, &o->name, &o->error);
  o->thread = g_thread_self ();
  o->done = TRUE;
}

/* ZONES: "zone=filter" items separated by spaces. */
static RelaisDnsResult
check_dnsbl (const char *client, const char *zones_text, char **zone)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (client);
  g_autoptr(GPtrArray) zones = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dnsbl_zone_free);
  g_auto(GStrv) items = g_strsplit (zones_text, " ", -1);
  Outcome o = { 0 };

  for (guint i = 0; items[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (items[i], "=", 2);
      g_autoptr(GError) error = NULL;

      g_ptr_array_add (zones, relais_dnsbl_zone_new ("DnsblZones", parts[0], parts[1] ? parts[1] : "", &error));
      g_assert_no_error (error);
    }
  relais_dns_check_dnsbl_async (address, zones, NULL, dnsbl_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  g_assert_true (o.thread == g_thread_self ());
  *zone = g_steal_pointer (&o.name);
  outcome_clear (&o);
  return o.result;
}

/* SPEC §4.2: listed, listed outside the filter, not listed, a zone that
 * fails, several zones asked at once (the first listing zone in order wins,
 * a listing beats a failure). */
static void
test_dnsbl (void)
{
  static const struct {
    const char *client, *zones;
    RelaisDnsResult expected;
    const char *zone;
  } cases[] = {
    { "127.0.0.71", "bl.test", RELAIS_DNS_FOUND, "bl.test" },
    { "127.0.0.72", "bl.test", RELAIS_DNS_FOUND, "bl.test" },
    { "127.0.0.71", "bl.test=127.0.0.2-127.0.0.11", RELAIS_DNS_FOUND, "bl.test" },
    { "127.0.0.72", "bl.test=127.0.0.2-127.0.0.11", RELAIS_DNS_NO_RECORDS, NULL },
    { "127.0.0.72", "bl.test=127.0.0.3,127.0.0.20", RELAIS_DNS_FOUND, "bl.test" },
    { "127.0.0.73", "bl.test", RELAIS_DNS_NO_RECORDS, NULL },
    { "::ffff:127.0.0.71", "bl.test", RELAIS_DNS_FOUND, "bl.test" },
    { "::1", "bl.test", RELAIS_DNS_NO_RECORDS, NULL },
    { "127.0.0.73", "nothere.test bl.test", RELAIS_DNS_NO_RECORDS, NULL },
    { "127.0.0.71", "nothere.test bl.test", RELAIS_DNS_FOUND, "bl.test" },
    { "127.0.0.73", "failbl.test", RELAIS_DNS_TEMPFAIL, "failbl.test" },
    { "127.0.0.73", "bl.test failbl.test", RELAIS_DNS_TEMPFAIL, "failbl.test" },
    { "127.0.0.71", "failbl.test bl.test", RELAIS_DNS_FOUND, "bl.test" },
  };

  if (!need_test_net ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *zone = NULL;

      g_test_message ("%s in %s", cases[i].client, cases[i].zones);
      g_assert_cmpstr (relais_dns_result_to_string (check_dnsbl (cases[i].client, cases[i].zones, &zone)), ==,
                       relais_dns_result_to_string (cases[i].expected));
      g_assert_cmpstr (zone, ==, cases[i].zone);
    }
}

/* An answer for example.org (12-byte header, question of TYPE) with
 * ANCOUNT announced and the records RECORDS (LENGTH bytes) after it. */
static GByteArray *
dns_answer (guint rcode, guint ancount, guint16 type, const guint8 *records, gsize length)
{
  static const guint8 question[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0 };
  guint8 header[12] = { 0x12, 0x34, 0x81, (guint8) (0x80 | rcode), 0, 1, 0, (guint8) ancount, 0, 0, 0, 0 };
  guint8 qtail[4] = { 0, (guint8) type, 0, 1 };
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, header, sizeof header);
  g_byte_array_append (out, question, sizeof question);
  g_byte_array_append (out, qtail, sizeof qtail);
  g_byte_array_append (out, records, (guint) length);
  return out;
}

/* relais_dns_parse_answer: what relais_dns_query makes of a name server's
 * answer (also fed anything by tests/fuzz/fuzz-dns.c). */
static void
test_parse_answer (void)
{
  /* owner: a pointer to the question's name (offset 12); class IN, TTL 300 */
  static const guint8 txt[] = { 0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 44, 0, 9, 3, 'a', 'b', 'c', 0, 3, 'd', 'e', 'f' };
  static const guint8 mx[] = { 0xc0, 12, 0, 15, 0, 1, 0, 0, 1, 44, 0, 9, 0, 10, 4, 'M', 'a', 'i', 'l', 0xc0, 12,
                               0xc0, 12, 0, 15, 0, 1, 0, 0, 1, 44, 0, 3, 0, 0, 0 };
  static const guint8 a[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1 };
  static const guint8 overlong_txt[] = { 0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 44, 0, 3, 200, 'x', 'y' };
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GByteArray) answer = NULL;
  g_autofree char *text = NULL;

  /* a TXT record's strings joined; a string longer than its record ends with it */
  answer = dns_answer (0, 2, 16, txt, sizeof txt);
  g_byte_array_append (answer, overlong_txt, sizeof overlong_txt);
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len, "example.org", ns_t_txt, texts), ==,
                   RELAIS_DNS_FOUND);
  g_assert_cmpuint (texts->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (texts, 0), ==, "abcdef");
  g_assert_cmpstr (g_ptr_array_index (texts, 1), ==, "xy");
  g_clear_pointer (&answer, g_byte_array_unref);

  /* compressed MX names, lower case; the null MX left out */
  answer = dns_answer (0, 2, 15, mx, sizeof mx);
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len, "example.org", ns_t_mx, names), ==,
                   RELAIS_DNS_FOUND);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "mail.example.org");
  /* the same answer read for A: the name exists without A records */
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len, "example.org", ns_t_a, NULL), ==,
                   RELAIS_DNS_NO_RECORDS);
  g_clear_pointer (&answer, g_byte_array_unref);

  answer = dns_answer (0, 1, 1, a, sizeof a);
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len, "example.org", ns_t_a, addresses), ==,
                   RELAIS_DNS_FOUND);
  g_assert_cmpuint (addresses->len, ==, 1);
  text = g_inet_address_to_string (g_ptr_array_index (addresses, 0));
  g_assert_cmpstr (text, ==, "192.0.2.1");
  /* cut inside the record, or fewer records than announced: malformed, a failure */
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len - 3, "example.org", ns_t_a, NULL), ==,
                   RELAIS_DNS_TEMPFAIL);
  answer->data[7] = 3;
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len, "example.org", ns_t_a, NULL), ==,
                   RELAIS_DNS_TEMPFAIL);
  g_clear_pointer (&answer, g_byte_array_unref);

  answer = dns_answer (3, 0, 1, NULL, 0);
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len, "example.org", ns_t_a, NULL), ==,
                   RELAIS_DNS_NXDOMAIN);
  g_clear_pointer (&answer, g_byte_array_unref);
  answer = dns_answer (2, 0, 1, NULL, 0);
  g_assert_cmpint (relais_dns_parse_answer (answer->data, answer->len, "example.org", ns_t_a, NULL), ==,
                   RELAIS_DNS_TEMPFAIL);
  /* shorter than a header */
  g_assert_cmpint (relais_dns_parse_answer (answer->data, 5, "example.org", ns_t_a, NULL), ==,
                   RELAIS_DNS_TEMPFAIL);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dns-check/host", test_host);
  g_test_add_func ("/dns-check/host-invalid", test_host_invalid);
  g_test_add_func ("/dns-check/client-name", test_client_name);
  g_test_add_func ("/dns-check/tempfail", test_tempfail);
  g_test_add_func ("/dns-check/timeout", test_timeout);
  g_test_add_func ("/dns-check/cancel", test_cancel);
  g_test_add_func ("/dns-check/concurrent", test_concurrent);
  g_test_add_func ("/dns-check/result-strings", test_result_strings);
  g_test_add_func ("/dns-check/dnsbl", test_dnsbl);
  g_test_add_func ("/dns-check/parse-answer", test_parse_answer);
  return g_test_run ();
}
