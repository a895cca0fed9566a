/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz harness: the address grammars. The input up to its first NUL is one
 * string given to the RFC 5321 mailbox, domain and address-literal parsers
 * (core/relais-address.c) from its start, to the configuration's validators
 * (address, domain, host name, login), to the DSN decoders of ORCPT and ENVID
 * values and xtext (core/relais-dsn.c), and, as the value of a From field,
 * to DMARC's RFC 5322 address parser (policy/relais-dmarc.c). Checks that
 * what a parser accepts is what the others make of it. */
#include <string.h>

#include "relais-address.h"
#include "relais-config.h"
#include "relais-dmarc.h"
#include "relais-dsn.h"
#include "relais-fuzz.h"

static void
check_mailbox (const char *text)
{
  RelaisAddressCursor cur = { text, FALSE };
  g_autofree char *local_part = NULL, *domain = NULL;

  if (relais_address_parse_mailbox (&cur, &local_part, &domain) == RELAIS_ADDRESS_OK)
    {
      g_assert (cur.p > text && cur.p <= text + strlen (text));
      g_assert (local_part != NULL && domain != NULL);
      g_assert_cmpuint (strlen (local_part), <=, RELAIS_ADDRESS_MAX_LOCAL_PART);
      g_assert_cmpuint (strlen (domain), <=, RELAIS_ADDRESS_MAX_DOMAIN);
      /* 8-bit bytes pass the grammar; callers check UTF-8 (and SMTPUTF8) */
      if (domain[0] != '[' && g_utf8_validate (domain, -1, NULL))
        g_assert (relais_address_is_valid_domain (domain, TRUE));
      if (*cur.p == '\0' && !cur.eightbit)
        g_assert (relais_address_is_valid_mailbox (text, FALSE));
    }
  cur = (RelaisAddressCursor) { text, FALSE };
  if (relais_address_parse_domain (&cur))
    g_assert (cur.p > text && cur.p <= text + strlen (text));
  cur = (RelaisAddressCursor) { text, FALSE };
  if (relais_address_parse_literal (&cur))
    g_assert (cur.p > text && cur.p <= text + strlen (text));

  if (relais_address_is_valid_mailbox (text, FALSE))
    g_assert (relais_address_is_valid_mailbox (text, TRUE));
  if (relais_address_is_valid_domain (text, FALSE))
    g_assert (relais_address_is_valid_domain (text, TRUE));
  if (relais_is_fqdn (text))
    g_assert (relais_is_valid_domain (text));
  relais_is_valid_address (text);
  relais_is_valid_login (text);
}

static void
check_dsn (const char *text)
{
  g_autofree char *decoded = relais_dsn_xtext_decode (text, -1);
  const char *detail = NULL;

  g_free (relais_dsn_parse_envid (text, -1, NULL));
  if (decoded != NULL)
    {
      g_autofree char *encoded = relais_dsn_xtext_encode (decoded);
      g_autofree char *again = relais_dsn_xtext_decode (encoded, -1);

      g_assert_cmpstr (again, ==, decoded);
    }
  for (guint utf8 = 0; utf8 < 2; utf8++)
    {
      g_autoptr (RelaisDsnOrcpt) orcpt = relais_dsn_parse_orcpt (text, -1, utf8, &detail);
      g_autofree char *stored = NULL, *field = NULL;
      g_autoptr (RelaisDsnOrcpt) loaded = NULL;

      if (orcpt == NULL)
        {
          g_assert (detail != NULL);
          continue;
        }
      /* the spool keeps "type;address"; a DSN shows the 7-bit field */
      stored = relais_dsn_orcpt_to_string (orcpt);
      loaded = relais_dsn_orcpt_from_string (stored);
      g_assert (loaded != NULL);
      g_assert_cmpstr (loaded->addr_type, ==, orcpt->addr_type);
      g_assert_cmpstr (loaded->address, ==, orcpt->address);
      field = relais_dsn_orcpt_to_field (orcpt);
      g_assert (field != NULL);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autofree char *domain = NULL;
  g_autoptr (GError) error = NULL;

  relais_fuzz_init ();
  check_mailbox (text);
  check_dsn (text);
  if (relais_dmarc_from_domain (text, &domain, &error))
    g_assert (domain != NULL && domain[0] != '\0');
  else
    g_assert (error != NULL);
  return 0;
}
