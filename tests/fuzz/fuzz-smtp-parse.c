/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz harness: the SMTP parser (smtp/relais-smtp-parse.c) as the session
 * drives it. The input up to its first NUL is one command line: the verb,
 * then the argument given to the parser of that verb (MAIL, RCPT with and
 * without SMTPUTF8, BDAT, EHLO/HELO, AUTH with its initial response decoded
 * and split as PLAIN), and the whole line to every parser besides, and as a
 * SASL continuation line. The whole input then goes through the DATA decoder
 * and the header scan at once and in pieces cut where its first two bytes
 * say: the message, the end marker and the scan must not depend on the cuts.
 * The DSN parameters of a path that parsed must survive being passed on. Built
 * for libFuzzer and for the replay runner: see tests/fuzz/meson.build. */
#include <string.h>

#include <glib.h>

#include "relais-fuzz.h"
#include "relais-smtp-parse.h"

/* What we pass on to the next hop (relais_dsn_rcpt_params, _mail_params)
 * parses back to what we received. */
static void
check_dsn_round_trip (const RelaisSmtpPath *path)
{
  g_autofree char *mail = relais_dsn_mail_params (path->ret, path->envid);
  g_autofree char *rcpt = relais_dsn_rcpt_params (path->notify, path->orcpt);
  const char *envid = strstr (mail, "ENVID=");
  const char *orcpt = strstr (rcpt, "ORCPT=");

  if (envid != NULL)
    {
      g_autofree char *decoded = relais_dsn_parse_envid (envid + 6, -1, NULL);

      g_assert_cmpstr (decoded, ==, path->envid);
    }
  if (orcpt != NULL)
    {
      g_autoptr (RelaisDsnOrcpt) back = relais_dsn_parse_orcpt (orcpt + 6, -1, FALSE, NULL);

      g_assert (back != NULL);
      g_assert_cmpstr (back->addr_type, ==, path->orcpt->addr_type);
      g_assert_cmpstr (back->address, ==, path->orcpt->address);
    }
}

static void
check_path (RelaisSmtpPathResult r, RelaisSmtpPath *path, gboolean is_mail)
{
  if (r == RELAIS_SMTP_PATH_OK)
    {
      g_assert (path->address != NULL);
      if (relais_smtp_path_has_dsn (path))
        check_dsn_round_trip (path);
    }
  else
    {
      guint code = 0;
      const char *enhanced = NULL;
      g_autofree char *text = relais_smtp_path_error_reply (r, path, is_mail, &code, &enhanced);

      g_assert (code >= 500 && code < 600 && enhanced != NULL && text != NULL);
    }
  relais_smtp_path_clear (path);
}

static void
sasl (const char *text, gboolean initial)
{
  char *data = NULL;
  gsize len = 0;
  g_autofree char *authzid = NULL, *authcid = NULL, *password = NULL;

  if (relais_sasl_decode_response (text, initial, &data, &len) == RELAIS_SASL_DATA_OK)
    {
      g_assert (data != NULL);
      if (relais_sasl_plain_split (data, len, &authzid, &authcid, &password))
        g_assert (authzid != NULL && authcid != NULL && password != NULL);
    }
  relais_sasl_wipe (data, len);
}

static void
parse_line (const char *line)
{
  const char *arg = NULL;
  RelaisSmtpCommand command = relais_smtp_parse_command (line, &arg);
  RelaisSmtpPath path = { 0 };
  guint64 bdat_size;
  gboolean last;
  RelaisSaslMechanism mechanism;
  const char *initial = NULL;

  g_assert (arg != NULL);
  relais_smtp_command_name (command);
  /* each parser on the verb's argument, as the session calls it, and on the whole line */
  for (guint i = 0; i < 2; i++)
    {
      const char *text = i == 0 ? arg : line;

      g_free (relais_smtp_parse_helo (text));
      check_path (relais_smtp_parse_mail (text, &path), &path, TRUE);
      check_path (relais_smtp_parse_rcpt (text, TRUE, &path), &path, FALSE);
      check_path (relais_smtp_parse_rcpt (text, FALSE, &path), &path, FALSE);
      relais_smtp_parse_bdat (text, &bdat_size, &last);
      if (relais_smtp_parse_auth (text, &mechanism, &initial) == RELAIS_SMTP_AUTH_OK && initial != NULL)
        sasl (initial, TRUE);
    }
  sasl (line, FALSE);
  relais_address_is_valid_mailbox (line, TRUE);
  relais_address_is_valid_domain (line, FALSE);
}

/* Decodes DATA (SIZE bytes) after DATA's "354" in pieces cut at the offsets
 * CUTS (N_CUTS, increasing), as reads from the network would: the bytes of
 * the message into MESSAGE; returns how many input bytes it took. */
static gsize
decode (const guint8 *data, gsize size, const gsize *cuts, guint n_cuts, GByteArray *message)
{
  RelaisDataDecoder decoder;
  gsize pos = 0;

  relais_data_decoder_init (&decoder);
  for (guint part = 0; part <= n_cuts && pos < size; part++)
    {
      gsize len = (part < n_cuts ? MAX (cuts[part], pos) : size) - pos;
      g_autofree guint8 *out = g_malloc (2 * len + 3);
      gsize out_len = 0;
      gboolean done = FALSE;
      gsize n = relais_data_decoder_feed (&decoder, data + pos, len, out, &out_len, &done);

      g_assert (n <= len && out_len <= 2 * len + 3);
      g_assert (n == len || done);
      g_byte_array_append (message, out, (guint) out_len);
      pos += n;
      if (done)
        break;
    }
  return pos;
}

/* The header scan of MESSAGE in two pieces cut at CUT; like the session,
 * never with nothing to scan. */
static void
scan (const GByteArray *message, gsize cut, RelaisContentScan *result)
{
  cut = MIN (cut, message->len);
  relais_content_scan_init (result);
  if (cut > 0)
    relais_content_scan_feed (result, message->data, cut);
  if (message->len > cut)
    relais_content_scan_feed (result, message->data + cut, message->len - cut);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *line = g_strndup ((const char *) data, size);
  g_autoptr (GByteArray) whole = g_byte_array_new ();
  g_autoptr (GByteArray) pieces = g_byte_array_new ();
  gsize cuts[2] = { size > 0 ? data[0] % (size + 1) : 0, size > 1 ? data[1] * 4 % (size + 1) : 0 };
  RelaisContentScan one, two;

  relais_fuzz_init ();
  parse_line (line);

  /* the message and the end marker do not depend on where reads end */
  if (cuts[1] < cuts[0])
    cuts[1] = cuts[0];
  g_assert_cmpuint (decode (data, size, NULL, 0, whole), ==, decode (data, size, cuts, 2, pieces));
  g_assert_cmpmem (whole->data, whole->len, pieces->data, pieces->len);
  /* nor what the header scan finds */
  scan (whole, whole->len, &one);
  scan (whole, cuts[0], &two);
  g_assert_cmpuint (one.size, ==, whole->len);
  g_assert_cmpuint (one.size, ==, two.size);
  g_assert_cmpuint (one.received, ==, two.received);
  g_assert_cmpint (one.auto_forwarded, ==, two.auto_forwarded);
  g_assert_cmpint (one.nul, ==, two.nul);
  return 0;
}
