/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz harness: what reads a message's header section at the end of DATA
 * and before delivery. The input is a whole message (header fields, empty
 * line, body; CRLF or bare LF) given to the field walker and the single-field
 * lookup (core/relais-header.c), the From field to DMARC's address parser and
 * the outbound DKIM domain choice, the Authentication-Results surgery
 * (smtp/relais-content-check.c: the byte count must add up and a second pass
 * removes nothing), the header scan of smtp/relais-smtp-parse.c, and DKIM's
 * message split and canonicalizations (a second pass changes nothing). There is no MIME parser in the
 * daemon: a multipart body is only ever copied, hashed and canonicalized. */
#include <string.h>

#include "relais-content-check.h"
#include "relais-dkim-outbound.h"
#include "relais-dkim.h"
#include "relais-dmarc.h"
#include "relais-fuzz.h"
#include "relais-header.h"
#include "relais-smtp-parse.h"

#define AUTHSERV_ID "mx.example.org"

static const char *const names[] = {
  "From", "Received", "Authentication-Results", "DKIM-Signature", "Auto-Submitted", "Subject",
};

static void
check_fields (const char *message, gsize length)
{
  const char *p = message, *end = message + length;

  while (p < end && !relais_header_at_end (p, end))
    {
      const char *next = relais_header_field_end (p, end);
      const char *value = NULL;

      g_assert (next > p && next <= end);
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        if (relais_header_field_is (p, next, names[i], &value))
          g_assert (value > p && value <= next);
      p = next;
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      guint count = 0;
      g_autofree char *value = relais_header_single_value (message, length, names[i], &count);

      g_assert ((value != NULL) == (count == 1));
    }
}

static void
check_from (const char *message, gsize length)
{
  g_autofree char *from = relais_header_single_value (message, length, "From", NULL);
  g_autofree char *domain = NULL;
  g_autofree char *signing = relais_dkim_outbound_domain (message, length, "bounce@example.net");
  g_autoptr (GString) quoted = g_string_new (NULL);

  if (from == NULL)
    return;
  if (relais_dmarc_from_domain (from, &domain, NULL))
    g_assert_cmpstr (signing, ==, domain);
  g_assert (signing != NULL && signing[0] != '\0');
  /* an Authentication-Results value never carries a line break or a control character */
  relais_header_append_value (quoted, from);
  for (const char *c = quoted->str; *c; c++)
    g_assert ((guchar) *c >= 0x20 && *c != 0x7f);
}

static void
check_strip (const char *message, gsize length)
{
  guint removed = 0, again = 0;
  g_autoptr (GBytes) stripped = relais_content_strip_results (message, length, "Authentication-Results",
                                                               AUTHSERV_ID, &removed);
  gsize stripped_len = 0;
  const char *stripped_data = g_bytes_get_data (stripped, &stripped_len);
  g_autoptr (GBytes) twice = NULL;

  g_assert_cmpuint (stripped_len, <=, length);
  g_assert ((stripped_len < length) == (removed > 0));
  twice = relais_content_strip_results (stripped_data != NULL ? stripped_data : "", stripped_len,
                                        "Authentication-Results", AUTHSERV_ID, &again);
  g_assert_cmpuint (again, ==, 0);
  g_assert (g_bytes_equal (twice, stripped));
}

static gboolean
ends_with_crlf (const GString *text)
{
  return text->len >= 2 && memcmp (text->str + text->len - 2, "\r\n", 2) == 0;
}

static void
check_dkim (const char *message, gsize length)
{
  g_autoptr (RelaisDkimMessage) parsed = relais_dkim_message_new (message, length);
  g_autofree char *simple = relais_dkim_canon_header (RELAIS_DKIM_SIMPLE, message, length);
  g_autofree char *relaxed = relais_dkim_canon_header (RELAIS_DKIM_RELAXED, message, length);
  g_autoptr (GString) simple_body = relais_dkim_canon_body (RELAIS_DKIM_SIMPLE, message, length);
  g_autoptr (GString) relaxed_body = relais_dkim_canon_body (RELAIS_DKIM_RELAXED, message, length);

  relais_dkim_message_count_fields (parsed, "From");
  /* a canonical field is a C string: its CRLF shows when the field holds no NUL */
  if (memchr (message, '\0', length) == NULL)
    {
      g_autofree char *again = NULL;

      g_assert (g_str_has_suffix (simple, "\r\n") && g_str_has_suffix (relaxed, "\r\n"));
      again = relais_dkim_canon_header (RELAIS_DKIM_RELAXED, relaxed, strlen (relaxed) - 2);
      g_assert_cmpstr (again, ==, relaxed);
    }
  /* a canonical body is empty (relaxed) or ends with CRLF */
  g_assert (ends_with_crlf (simple_body));
  g_assert (relaxed_body->len == 0 || ends_with_crlf (relaxed_body));
  /* canonical is canonical: a second pass changes nothing */
  for (RelaisDkimCanon canon = RELAIS_DKIM_SIMPLE; canon <= RELAIS_DKIM_RELAXED; canon++)
    {
      GString *once = canon == RELAIS_DKIM_SIMPLE ? simple_body : relaxed_body;
      g_autoptr (GString) twice = relais_dkim_canon_body (canon, once->str, once->len);

      g_assert_cmpmem (twice->str, twice->len, once->str, once->len);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *message = (const char *) data;
  RelaisContentScan scan;

  relais_fuzz_init ();
  check_fields (message, size);
  check_from (message, size);
  check_strip (message, size);
  check_dkim (message, size);
  relais_content_scan_init (&scan);
  relais_content_scan_feed (&scan, data, size);
  g_assert_cmpuint (scan.size, ==, size);
  return 0;
}
