/* SPDX-License-Identifier: GPL-3.0-or-later
 * The header surgery of the end-of-DATA checks: which Authentication-Results
 * fields claim our authserv-id (RFC 8601 §5) and are removed, and that
 * nothing else moves: other fields, folded lines, the body. */
#include <string.h>

#include <glib.h>

#include "relais-content-check.h"
#include "relais-header.h"

static void
check_strip (const char *message, const char *expected, guint expected_removed)
{
  guint removed = 99;
  g_autoptr (GBytes) out = relais_content_strip_results (message, strlen (message), "Authentication-Results",
                                                         "mx.example.org", &removed);
  gsize size = g_bytes_get_size (out);
  g_autofree char *text = size > 0 ? g_strndup (g_bytes_get_data (out, NULL), size) : g_strdup ("");

  g_assert_cmpstr (text, ==, expected);
  g_assert_cmpuint (removed, ==, expected_removed);
}

static void
test_strip (void)
{
  /* ours in any case, with a comment first, folded, or with space before the colon */
  check_strip ("Received: from a\r\n"
               "Authentication-Results: MX.Example.ORG; dkim=pass\r\n"
               "authentication-results : (forged) mx.example.org;\r\n\tspf=pass\r\n"
               "Authentication-Results: mx.example.org\r\n"
               "Subject: hi\r\n"
               "\r\n"
               "body\r\n",
               "Received: from a\r\n"
               "Subject: hi\r\n"
               "\r\n"
               "body\r\n", 3);
  /* others are kept: another host, a longer name starting with ours, a prefix of ours */
  check_strip ("Authentication-Results: other.example; dkim=fail\r\n"
               "Authentication-Results: mx.example.org.evil.example; dkim=pass\r\n"
               "Authentication-Results: mx.example; dkim=pass\r\n"
               "Authentication-Results-Extra: mx.example.org\r\n"
               "\r\n"
               "Authentication-Results: mx.example.org; in the body\r\n",
               "Authentication-Results: other.example; dkim=fail\r\n"
               "Authentication-Results: mx.example.org.evil.example; dkim=pass\r\n"
               "Authentication-Results: mx.example; dkim=pass\r\n"
               "Authentication-Results-Extra: mx.example.org\r\n"
               "\r\n"
               "Authentication-Results: mx.example.org; in the body\r\n", 0);
  /* bare LF line ends, no body, the last field without a line end */
  check_strip ("A: 1\nAuthentication-Results: mx.example.org; x\n\tfolded\nB: 2\n",
               "A: 1\nB: 2\n", 1);
  check_strip ("A: 1\r\nAuthentication-Results: mx.example.org", "A: 1\r\n", 1);
  check_strip ("", "", 0);
}

/* The only field of a name (DMARC's From, the outbound signer's From). */
static void
test_single_value (void)
{
  static const char message[] = "Subject: a\r\nFROM : Alice\r\n\t<alice@example.org>\r\nTo: b\r\n\r\nFrom: body\r\n";
  g_autofree char *from = NULL;
  g_autofree char *none = NULL;
  g_autofree char *two = NULL;
  guint count = 99;

  from = relais_header_single_value (message, strlen (message), "From", &count);
  g_assert_cmpstr (from, ==, " Alice\r\n\t<alice@example.org>");
  g_assert_cmpuint (count, ==, 1);
  none = relais_header_single_value (message, strlen (message), "Cc", &count);
  g_assert_null (none);
  g_assert_cmpuint (count, ==, 0);
  two = relais_header_single_value ("From: a\nfrom: b\n\n", 18, "From", &count);
  g_assert_null (two);
  g_assert_cmpuint (count, ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/content-check/strip-results", test_strip);
  g_test_add_func ("/content-check/single-value", test_single_value);
  return g_test_run ();
}
