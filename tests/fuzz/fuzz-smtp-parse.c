/* SPDX-License-Identifier: GPL-3.0-or-later
 * libFuzzer harness for the pure SMTP parser (not built by default):
 *   clang -g -fsanitize=fuzzer,address,undefined -Idaemon/smtp \
 *     tests/fuzz/fuzz-smtp-parse.c daemon/smtp/relais-smtp-parse.c \
 *     $(pkg-config --cflags --libs gio-2.0) -o fuzz-smtp-parse
 * The input is one command line (up to the first NUL) for the verb, path,
 * BDAT and EHLO parsers, and the whole input for the DATA decoder and the
 * content scan, split at its first byte's value. */
#include <string.h>

#include <glib.h>

#include "relais-smtp-parse.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *line = g_strndup ((const char *) data, size);
  const char *arg = NULL;
  RelaisSmtpPath path;
  guint64 bdat_size;
  gboolean last;
  g_autofree char *helo = NULL;
  RelaisDataDecoder decoder;
  RelaisContentScan scan;
  gsize split = size > 0 ? data[0] % (size + 1) : 0;
  gsize pos = 0;

  relais_smtp_parse_command (line, &arg);
  relais_smtp_parse_mail (line, &path);
  relais_smtp_path_clear (&path);
  relais_smtp_parse_rcpt (line, TRUE, &path);
  relais_smtp_path_clear (&path);
  relais_smtp_parse_rcpt (line, FALSE, &path);
  relais_smtp_path_clear (&path);
  relais_smtp_parse_bdat (line, &bdat_size, &last);
  helo = relais_smtp_parse_helo (line);
  relais_address_is_valid_mailbox (line, TRUE);
  relais_address_is_valid_domain (line, FALSE);

  relais_data_decoder_init (&decoder);
  relais_content_scan_init (&scan);
  for (gsize part = 0; part < 2 && pos < size; part++)
    {
      gsize len = part == 0 ? split : size - pos;
      g_autofree guint8 *out = g_malloc (2 * len + 3);
      gsize out_len = 0;
      gboolean done = FALSE;
      gsize n = relais_data_decoder_feed (&decoder, data + pos, len, out, &out_len, &done);

      g_assert (n <= len && out_len <= 2 * len + 3);
      relais_content_scan_feed (&scan, out, out_len);
      pos += n;
      if (done)
        break;
    }
  return 0;
}
