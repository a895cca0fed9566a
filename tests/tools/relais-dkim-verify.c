/* SPDX-License-Identifier: GPL-3.0-or-later
 * Test tool: verifies the DKIM signatures of one message file with relais'
 * own verifier (relais_dkim_verify), the key record given on the command line
 * instead of a DNS lookup, so the integration tests check what relaisd signed.
 * Usage: relais-dkim-verify MESSAGE-FILE DOMAIN SELECTOR RECORD
 * Prints the Authentication-Results clauses (relais_dkim_format_results),
 * e.g. "dkim=pass header.d=example.org header.s=s1 header.b=abcdefgh".
 * Exit 0 when it ran, 1 when the file cannot be read, 2 on bad usage. */
#define G_LOG_DOMAIN "relais-dkim-verify"

#include <stdio.h>

#include <glib.h>

#include "relais-dkim.h"

typedef struct {
  const char *domain;
  const char *selector;
  const char *record;
} Key;

/* The injected lookup: RECORD at SELECTOR._domainkey.DOMAIN, nothing elsewhere. */
static RelaisDkimKeyStatus
lookup (const char *domain, const char *selector, char **record, gpointer user_data)
{
  const Key *key = user_data;

  if (g_ascii_strcasecmp (domain, key->domain) != 0 || g_strcmp0 (selector, key->selector) != 0)
    return RELAIS_DKIM_KEY_NOT_FOUND;
  *record = g_strdup (key->record);
  return RELAIS_DKIM_KEY_FOUND;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  g_autoptr (RelaisDkimMessage) message = NULL;
  g_autoptr (GPtrArray) verdicts = NULL;
  g_autofree char *results = NULL;
  gsize length = 0;
  Key key;

  if (argc != 5)
    {
      fprintf (stderr, "usage: %s MESSAGE-FILE DOMAIN SELECTOR RECORD\n", argv[0]);
      return 2;
    }
  if (!g_file_get_contents (argv[1], &data, &length, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  key.domain = argv[2];
  key.selector = argv[3];
  key.record = argv[4];
  message = relais_dkim_message_new (data, length);
  verdicts = relais_dkim_verify (message, g_get_real_time () / G_USEC_PER_SEC, lookup, &key);
  results = relais_dkim_format_results (verdicts);
  printf ("%s\n", results);
  return 0;
}
