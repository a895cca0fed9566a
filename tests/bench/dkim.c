/* SPDX-License-Identifier: GPL-3.0-or-later
 * Benchmark of DKIM (issue 7): for rsa-2048 and ed25519 keys made with
 * relais_dkim_key_generate(), the messages signed and verified per second
 * (relais_dkim_signer_sign(), relais_dkim_verify() with the key given by an
 * in-memory lookup, so DNS does not count) for a 4 KiB and a 1 MiB message;
 * then the megabytes per second of relais_content_strip_results(), the header
 * surgery every checked message goes through. Each figure is the best of five
 * rounds of 0.3 s. Not part of the test suite. */
#include <string.h>

#include <glib.h>

#include "relais-content-check.h"
#include "relais-dkim-sign.h"
#include "relais-dkim.h"

#define ROUND_SECONDS 0.3
#define ROUNDS 5

typedef struct {
  const char *record;
} Lookup;

static RelaisDkimKeyStatus
lookup (const char *domain, const char *selector, char **record, gpointer user_data)
{
  *record = g_strdup (((Lookup *) user_data)->record);
  return RELAIS_DKIM_KEY_FOUND;
}

static char *
make_message (gsize body_size)
{
  GString *m = g_string_new ("From: Bench <bench@bench.example>\r\nTo: <you@example.org>\r\n"
                             "Subject: benchmark\r\nDate: Sun, 29 Nov 2026 12:00:00 +0000\r\n"
                             "Message-ID: <bench@bench.example>\r\n\r\n");

  while (m->len < body_size)
    g_string_append (m, "The quick brown fox jumps over the lazy dog, again and again.\r\n");
  return g_string_free (m, FALSE);
}

/* Calls FUNC (DATA) in rounds; returns the best rate per second. */
static double
best_rate (void (*func) (gpointer), gpointer data)
{
  double best = 0;

  for (guint r = 0; r < ROUNDS; r++)
    {
      g_autoptr (GTimer) timer = g_timer_new ();
      guint n = 0;

      while (g_timer_elapsed (timer, NULL) < ROUND_SECONDS)
        {
          func (data);
          n++;
        }
      best = MAX (best, n / g_timer_elapsed (timer, NULL));
    }
  return best;
}

typedef struct {
  RelaisDkimSigner *signer;
  const char *message;
  char *signed_message;
  Lookup key;
  guint failures;
} Case;

static void
sign_once (gpointer data)
{
  Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *field = relais_dkim_signer_sign (c->signer, c->message, strlen (c->message), 1796000000, &error);

  if (field == NULL)
    c->failures++;
}

static void
verify_once (gpointer data)
{
  Case *c = data;
  g_autoptr (RelaisDkimMessage) m = relais_dkim_message_new (c->signed_message, strlen (c->signed_message));
  g_autoptr (GPtrArray) verdicts = relais_dkim_verify (m, 1796000000, lookup, &c->key);

  if (verdicts->len != 1 || ((RelaisDkimVerdict *) verdicts->pdata[0])->result != RELAIS_DKIM_PASS)
    c->failures++;
}

static void
strip_once (gpointer data)
{
  Case *c = data;
  g_autoptr (GBytes) out = relais_content_strip_results (c->signed_message, strlen (c->signed_message),
                                                         "Authentication-Results", "mx.example.org", NULL);

  if (g_bytes_get_size (out) != strlen (c->signed_message))
    c->failures++;
}

int
main (void)
{
  static const RelaisDkimAlgorithm algorithms[] = { RELAIS_DKIM_RSA_SHA256, RELAIS_DKIM_ED25519_SHA256 };
  static const gsize sizes[] = { 4096, 1024 * 1024 };
  guint failures = 0;

  for (gsize a = 0; a < G_N_ELEMENTS (algorithms); a++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *pem = NULL;
      g_autofree char *record = NULL;
      g_autoptr (RelaisDkimSigner) signer = NULL;

      if (!relais_dkim_key_generate (algorithms[a], &pem, &record, &error) ||
          (signer = relais_dkim_signer_new ("bench.example", "bench", pem, &error)) == NULL)
        g_error ("cannot make a key: %s", error->message);
      for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++)
        {
          g_autofree char *message = make_message (sizes[s]);
          g_autofree char *field = relais_dkim_signer_sign (signer, message, strlen (message), 1796000000, &error);
          Case c = { signer, message, NULL, { record }, 0 };
          double sign_rate, verify_rate;

          if (field == NULL)
            g_error ("cannot sign: %s", error->message);
          c.signed_message = g_strconcat (field, message, NULL);
          sign_rate = best_rate (sign_once, &c);
          verify_rate = best_rate (verify_once, &c);
          g_print ("%-8s %7zu-byte message: %8.0f signed/s  %8.0f verified/s\n",
                   relais_dkim_algorithm_to_string (algorithms[a]), sizes[s], sign_rate, verify_rate);
          if (a == 0 && s == G_N_ELEMENTS (sizes) - 1)
            {
              double strip_rate = best_rate (strip_once, &c);

              g_print ("Authentication-Results surgery: %.0f MB/s\n", strip_rate * strlen (c.signed_message) / 1e6);
            }
          failures += c.failures;
          g_free (c.signed_message);
        }
    }
  if (failures > 0)
    g_print ("%u operations failed\n", failures);
  return failures > 0 ? 1 : 0;
}
