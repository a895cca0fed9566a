/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz harness: DKIM (policy/relais-dkim.c, policy/relais-dkim-sign.c). The
 * input up to its first NUL is a tag list, parsed as a DKIM-Signature value,
 * as a key record and as a DMARC record (policy/relais-dmarc.c); what follows
 * the NUL (nothing without one) is a message, verified with that tag list as
 * every selector's key record. The Authentication-Results clauses of the
 * verdicts must hold no line break but the separators. Then the message,
 * under a Received field as in the spool, is signed with a fixed Ed25519 key
 * and verified again with its field on top: that signature must pass. No
 * DNS: keys come from the input. */
#include <string.h>

#include "relais-dkim.h"
#include "relais-dkim-sign.h"
#include "relais-dmarc.h"
#include "relais-fuzz.h"

#define NOW G_GINT64_CONSTANT (1700000000)
#define DOMAIN "example.org"
#define SELECTOR "fuzz"
#define RECEIVED "Received: from client.example.net by mx.example.org; Tue, 14 Nov 2023 22:13:20 +0000\r\n"

/* made for this harness only; it signs nothing else */
static const char signer_pem[] =
  "-----BEGIN PRIVATE KEY-----\n"
  "MC4CAQAwBQYDK2VwBCIEIGtLcTPOwOCeW5g44Yn1Zb1Oh2XqolmlfUTkHKspHfhE\n"
  "-----END PRIVATE KEY-----\n";

static RelaisDkimKeyStatus
lookup_input (const char *domain, const char *selector, char **record, gpointer user_data)
{
  *record = g_strdup (user_data);
  return RELAIS_DKIM_KEY_FOUND;
}

static RelaisDkimKeyStatus
lookup_signer (const char *domain, const char *selector, char **record, gpointer user_data)
{
  if (strcmp (domain, DOMAIN) != 0 || strcmp (selector, SELECTOR) != 0)
    return RELAIS_DKIM_KEY_NOT_FOUND;
  *record = relais_dkim_signer_get_public_record (user_data);
  return RELAIS_DKIM_KEY_FOUND;
}

/* Line breaks only as the clause separators ";\r\n\t". */
static void
check_results (GPtrArray *verdicts)
{
  g_autofree char *text = relais_dkim_format_results (verdicts);

  for (const char *p = text; *p; p++)
    if (*p == '\r')
      {
        g_assert (p > text && p[-1] == ';' && p[1] == '\n' && p[2] == '\t');
        p += 2;
      }
    else
      g_assert (*p != '\n');
}

static void
check_round_trip (const char *message, gsize length)
{
  static RelaisDkimSigner *signer;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) spooled = g_string_new (RECEIVED);
  g_autofree char *field = NULL;
  g_autoptr (GString) signed_message = NULL;
  g_autoptr (RelaisDkimMessage) parsed = NULL;
  g_autoptr (GPtrArray) verdicts = NULL;
  RelaisDkimVerdict *ours;

  if (signer == NULL)
    signer = relais_dkim_signer_new (DOMAIN, SELECTOR, signer_pem, &error);
  g_assert_no_error (error);

  g_string_append_len (spooled, message, (gssize) length);
  field = relais_dkim_signer_sign (signer, spooled->str, spooled->len, NOW, &error);
  g_assert_no_error (error);
  signed_message = g_string_new (field);
  g_string_append_len (signed_message, spooled->str, (gssize) spooled->len);
  parsed = relais_dkim_message_new (signed_message->str, signed_message->len);
  verdicts = relais_dkim_verify (parsed, NOW, lookup_signer, signer);
  g_assert_cmpuint (verdicts->len, >=, 1);
  ours = g_ptr_array_index (verdicts, 0);
  if (ours->result != RELAIS_DKIM_PASS)
    g_error ("our own signature does not verify: %s", ours->reason);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *tags = g_strndup ((const char *) data, size);
  gsize tags_len = strlen (tags);
  const char *message = tags_len < size ? (const char *) data + tags_len + 1 : "";
  gsize message_len = tags_len < size ? size - tags_len - 1 : 0;
  g_autoptr (RelaisDkimSignature) signature = NULL;
  g_autoptr (RelaisDkimKey) key = NULL;
  g_autoptr (RelaisDmarcRecord) dmarc = NULL;
  g_autoptr (RelaisDkimMessage) parsed = NULL;
  g_autoptr (GPtrArray) verdicts = NULL;
  g_autoptr (GError) error = NULL;

  relais_fuzz_init ();
  signature = relais_dkim_signature_parse (tags, &error);
  g_assert ((signature == NULL) == (error != NULL));
  g_clear_error (&error);
  key = relais_dkim_key_parse (tags, &error);
  g_assert ((key == NULL) == (error != NULL));
  g_clear_error (&error);
  dmarc = relais_dmarc_record_parse (tags, &error);
  g_assert ((dmarc == NULL) == (error != NULL));

  parsed = relais_dkim_message_new (message, message_len);
  verdicts = relais_dkim_verify (parsed, NOW, lookup_input, tags);
  check_results (verdicts);

  check_round_trip (message, message_len);
  return 0;
}
