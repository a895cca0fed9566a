/* SPDX-License-Identifier: GPL-3.0-or-later
 * Table-driven tests of the pure SMTP parser: verbs, MAIL/RCPT paths and
 * parameters, length limits, BDAT, EHLO names, the DATA decoder (across every
 * split point) and the content scan. */
#include <string.h>

#include <glib.h>

#include "relais-reply.h"
#include "relais-smtp-parse.h"

static void
test_commands (void)
{
  static const struct {
    const char *line;
    RelaisSmtpCommand command;
    const char *arg;
  } cases[] = {
    { "EHLO example.org", RELAIS_SMTP_CMD_EHLO, "example.org" },
    { "ehlo example.org", RELAIS_SMTP_CMD_EHLO, "example.org" },
    { "HeLo   x", RELAIS_SMTP_CMD_HELO, "x" },
    { "MAIL FROM:<a@b>", RELAIS_SMTP_CMD_MAIL, "FROM:<a@b>" },
    { "rcpt TO:<a@b>", RELAIS_SMTP_CMD_RCPT, "TO:<a@b>" },
    { "DATA", RELAIS_SMTP_CMD_DATA, "" },
    { "BDAT 10 LAST", RELAIS_SMTP_CMD_BDAT, "10 LAST" },
    { "RSET", RELAIS_SMTP_CMD_RSET, "" },
    { "NOOP anything", RELAIS_SMTP_CMD_NOOP, "anything" },
    { "QUIT", RELAIS_SMTP_CMD_QUIT, "" },
    { "VRFY x", RELAIS_SMTP_CMD_VRFY, "x" },
    { "EXPN x", RELAIS_SMTP_CMD_EXPN, "x" },
    { "HELP", RELAIS_SMTP_CMD_HELP, "" },
    { "StartTLS", RELAIS_SMTP_CMD_STARTTLS, "" },
    { "AUTH PLAIN", RELAIS_SMTP_CMD_AUTH, "PLAIN" },
    { "NOOPX", RELAIS_SMTP_CMD_UNKNOWN, "" },
    { "MAIL:FROM", RELAIS_SMTP_CMD_UNKNOWN, "" },
    { "", RELAIS_SMTP_CMD_UNKNOWN, "" },
    { " NOOP", RELAIS_SMTP_CMD_UNKNOWN, "" },
    { "FOO bar", RELAIS_SMTP_CMD_UNKNOWN, "" },
    { "\xc3\xa9HLO x", RELAIS_SMTP_CMD_UNKNOWN, "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *arg = NULL;
      RelaisSmtpCommand command = relais_smtp_parse_command (cases[i].line, &arg);

      g_test_message ("command %s", cases[i].line);
      g_assert_cmpint (command, ==, cases[i].command);
      g_assert_cmpstr (arg, ==, cases[i].arg);
    }
}

typedef struct {
  const char *arg;
  RelaisSmtpPathResult result;
  const char *address;
  gint64 size;
  RelaisSmtpBody body;
  gboolean smtputf8;
} PathCase;

#define LOCAL64  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LABEL63  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
/* 4 labels of 63 + 3 dots = 255 octets */
#define DOMAIN255 LABEL63 "." LABEL63 "." LABEL63 "." LABEL63

static void
check_path (const PathCase *c, RelaisSmtpPathResult result, RelaisSmtpPath *path)
{
  {
    g_autofree char *printable = g_strescape (c->arg, NULL);

    g_test_message ("path %s", printable);   /* TAP output must stay valid UTF-8 */
  }
  g_assert_cmpint (result, ==, c->result);
  if (result != RELAIS_SMTP_PATH_OK)
    {
      g_assert_nonnull (path->detail);
      g_assert_null (path->address);
      return;
    }
  g_assert_cmpstr (path->address, ==, c->address);
  g_assert_cmpint (path->size, ==, c->size);
  g_assert_cmpint (path->body, ==, c->body);
  g_assert_cmpint (path->smtputf8, ==, c->smtputf8);
}

static void
test_mail (void)
{
  static const PathCase cases[] = {
    { "FROM:<user@example.org>", RELAIS_SMTP_PATH_OK, "user@example.org", -1, 0, FALSE },
    { "from:<user@example.org>", RELAIS_SMTP_PATH_OK, "user@example.org", -1, 0, FALSE },
    { "FROM: <user@example.org>", RELAIS_SMTP_PATH_OK, "user@example.org", -1, 0, FALSE },
    { "FROM:<>", RELAIS_SMTP_PATH_OK, "", -1, 0, FALSE },
    { "FROM:<> SIZE=0", RELAIS_SMTP_PATH_OK, "", 0, 0, FALSE },
    { "FROM:<a@b.example> SIZE=12345", RELAIS_SMTP_PATH_OK, "a@b.example", 12345, 0, FALSE },
    { "FROM:<a@b.example> size=1 body=8bitmime", RELAIS_SMTP_PATH_OK, "a@b.example", 1, RELAIS_SMTP_BODY_8BITMIME, FALSE },
    { "FROM:<a@b.example> BODY=7BIT", RELAIS_SMTP_PATH_OK, "a@b.example", -1, RELAIS_SMTP_BODY_7BIT, FALSE },
    { "FROM:<a@b.example> SMTPUTF8", RELAIS_SMTP_PATH_OK, "a@b.example", -1, 0, TRUE },
    { "FROM:<a@b.example>  SIZE=5  SMTPUTF8", RELAIS_SMTP_PATH_OK, "a@b.example", 5, 0, TRUE },
    { "FROM:<first.last+tag@sub.example.org>", RELAIS_SMTP_PATH_OK, "first.last+tag@sub.example.org", -1, 0, FALSE },
    { "FROM:<\"john doe\"@example.org>", RELAIS_SMTP_PATH_OK, "\"john doe\"@example.org", -1, 0, FALSE },
    { "FROM:<\"a\\\"b>c\"@example.org>", RELAIS_SMTP_PATH_OK, "\"a\\\"b>c\"@example.org", -1, 0, FALSE },
    { "FROM:<a@[192.0.2.1]>", RELAIS_SMTP_PATH_OK, "a@[192.0.2.1]", -1, 0, FALSE },
    { "FROM:<a@[IPv6:2001:db8::1]>", RELAIS_SMTP_PATH_OK, "a@[IPv6:2001:db8::1]", -1, 0, FALSE },
    { "FROM:<@relay.example:a@b.example>", RELAIS_SMTP_PATH_OK, "a@b.example", -1, 0, FALSE },
    { "FROM:<@r1.example,@r2.example:a@b.example>", RELAIS_SMTP_PATH_OK, "a@b.example", -1, 0, FALSE },
    { "FROM:<" LOCAL64 "@example.org>", RELAIS_SMTP_PATH_OK, LOCAL64 "@example.org", -1, 0, FALSE },
    { "FROM:<\xc3\xa9t\xc3\xa9@exemple.fr> SMTPUTF8", RELAIS_SMTP_PATH_OK, "\xc3\xa9t\xc3\xa9@exemple.fr", -1, 0, TRUE },
    { "FROM:<a@b\xc3\xa9.example> SMTPUTF8", RELAIS_SMTP_PATH_OK, "a@b\xc3\xa9.example", -1, 0, TRUE },
    /* syntax */
    { "FROM:user@example.org", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<user@example.org", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<user>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<postmaster>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<@example.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<user@>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a..b@example.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<.a@example.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a.@example.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a b@example.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@-example.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@example-.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@example..org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@example.org.>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@exa_mple.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@[300.1.1.1]>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@[1.2.3]>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@[IPv6:zz::1]>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@[IPv6:1.2.3.4]>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@[tag:content]>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<\"unterminated@example.org>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<@relay.example,a@b.example>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<@:a@b.example>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@b.example>x", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM <a@b.example>", RELAIS_SMTP_PATH_SYNTAX },
    { "TO:<a@b.example>", RELAIS_SMTP_PATH_SYNTAX },
    { "", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<\xff@example.org> SMTPUTF8", RELAIS_SMTP_PATH_SYNTAX },
    /* lengths */
    { "FROM:<a" LOCAL64 "@example.org>", RELAIS_SMTP_PATH_TOO_LONG },
    { "FROM:<a@" LABEL63 "b.example>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@" DOMAIN255 "b>", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@b" DOMAIN255 ">", RELAIS_SMTP_PATH_SYNTAX },
    { "FROM:<a@" DOMAIN255 ".b>", RELAIS_SMTP_PATH_TOO_LONG },
    /* <a@DOMAIN255>: 1+1+1+255+1 = 259 > 256 */
    { "FROM:<a@" DOMAIN255 ">", RELAIS_SMTP_PATH_TOO_LONG },
    /* parameters */
    { "FROM:<a@b.example> SIZE=", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> SIZE=12a", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> SIZE", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> SIZE=1234567890123456789", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> SIZE=1 SIZE=2", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> BODY=BINARYMIME", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> SMTPUTF8=yes", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> =x", RELAIS_SMTP_PATH_BAD_PARAMETER },
    { "FROM:<a@b.example> FOO", RELAIS_SMTP_PATH_UNKNOWN_PARAMETER },
    { "FROM:<a@b.example> MT-PRIORITY=3", RELAIS_SMTP_PATH_UNKNOWN_PARAMETER },
    { "FROM:<a@b.example> MT-PRIORITY=3", RELAIS_SMTP_PATH_UNKNOWN_PARAMETER },
    { "FROM:<a@b.example> NOTIFY=NEVER", RELAIS_SMTP_PATH_UNKNOWN_PARAMETER },   /* RCPT's */
    /* 8-bit without SMTPUTF8 */
    { "FROM:<\xc3\xa9t\xc3\xa9@exemple.fr>", RELAIS_SMTP_PATH_NON_ASCII },
    { "FROM:<a@b\xc3\xa9.example>", RELAIS_SMTP_PATH_NON_ASCII },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RelaisSmtpPath path;
      RelaisSmtpPathResult r = relais_smtp_parse_mail (cases[i].arg, &path);

      check_path (&cases[i], r, &path);
      g_assert_cmpint (path.is_postmaster, ==, FALSE);
      if (r == RELAIS_SMTP_PATH_OK)
        g_assert_cmpint (path.is_null, ==, cases[i].address[0] == '\0');
      relais_smtp_path_clear (&path);
    }
}

static void
test_rcpt (void)
{
  static const struct {
    PathCase c;
    gboolean smtputf8;
    gboolean postmaster;
  } cases[] = {
    { { "TO:<user@example.org>", RELAIS_SMTP_PATH_OK, "user@example.org", -1, 0, FALSE }, FALSE, FALSE },
    { { "to:<User@Example.ORG>", RELAIS_SMTP_PATH_OK, "User@Example.ORG", -1, 0, FALSE }, FALSE, FALSE },
    { { "TO:<postmaster>", RELAIS_SMTP_PATH_OK, "postmaster", -1, 0, FALSE }, FALSE, TRUE },
    { { "TO:<PostMaster>", RELAIS_SMTP_PATH_OK, "postmaster", -1, 0, FALSE }, FALSE, TRUE },
    { { "TO:<postmaster@example.org>", RELAIS_SMTP_PATH_OK, "postmaster@example.org", -1, 0, FALSE }, FALSE, FALSE },
    { { "TO:<@hop.example:user@example.org>", RELAIS_SMTP_PATH_OK, "user@example.org", -1, 0, FALSE }, FALSE, FALSE },
    { { "TO:<\xc3\xa9@exemple.fr>", RELAIS_SMTP_PATH_OK, "\xc3\xa9@exemple.fr", -1, 0, FALSE }, TRUE, FALSE },
    { { "TO:<\xc3\xa9@exemple.fr>", RELAIS_SMTP_PATH_NON_ASCII }, FALSE, FALSE },
    { { "TO:<>", RELAIS_SMTP_PATH_SYNTAX }, FALSE, FALSE },
    { { "TO:<postmaster> x", RELAIS_SMTP_PATH_UNKNOWN_PARAMETER }, FALSE, FALSE },
    { { "TO:<postmasterx>", RELAIS_SMTP_PATH_SYNTAX }, FALSE, FALSE },
    { { "TO:user@example.org", RELAIS_SMTP_PATH_SYNTAX }, FALSE, FALSE },
    { { "FROM:<user@example.org>", RELAIS_SMTP_PATH_SYNTAX }, FALSE, FALSE },
    { { "TO:<user@example.org> SIZE=10", RELAIS_SMTP_PATH_UNKNOWN_PARAMETER }, FALSE, FALSE },
    { { "TO:<user@example.org> RET=FULL", RELAIS_SMTP_PATH_UNKNOWN_PARAMETER }, FALSE, FALSE },   /* MAIL's */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RelaisSmtpPath path;
      RelaisSmtpPathResult r = relais_smtp_parse_rcpt (cases[i].c.arg, cases[i].smtputf8, &path);

      check_path (&cases[i].c, r, &path);
      if (r == RELAIS_SMTP_PATH_OK)
        g_assert_cmpint (path.is_postmaster, ==, cases[i].postmaster);
      relais_smtp_path_clear (&path);
    }
}

static void
test_path_limit (void)
{
  /* A path of exactly 256 octets is accepted, 257 refused. */
  g_autofree char *local = g_strnfill (64, 'l');
  g_autoptr(GString) domain = g_string_new (NULL);
  g_autofree char *ok = NULL;
  g_autofree char *bad = NULL;
  RelaisSmtpPath path;

  /* <64@D> = 1 + 64 + 1 + |D| + 1 = 256 -> |D| = 189 */
  while (domain->len < 189)
    g_string_append (domain, "d");
  /* split into labels of at most 63 */
  domain->str[60] = '.';
  domain->str[120] = '.';
  domain->str[180] = '.';
  ok = g_strdup_printf ("TO:<%s@%s>", local, domain->str);
  g_assert_cmpint (relais_smtp_parse_rcpt (ok, FALSE, &path), ==, RELAIS_SMTP_PATH_OK);
  relais_smtp_path_clear (&path);
  bad = g_strdup_printf ("TO:<%s@%sd>", local, domain->str);
  g_assert_cmpint (relais_smtp_parse_rcpt (bad, FALSE, &path), ==, RELAIS_SMTP_PATH_TOO_LONG);
  relais_smtp_path_clear (&path);
}

static void
test_validators (void)
{
  g_assert_true (relais_address_is_valid_mailbox ("a@b.example", FALSE));
  g_assert_true (relais_address_is_valid_mailbox ("\"x y\"@b.example", FALSE));
  g_assert_false (relais_address_is_valid_mailbox ("a@b.example ", FALSE));
  g_assert_false (relais_address_is_valid_mailbox ("<a@b.example>", FALSE));
  g_assert_false (relais_address_is_valid_mailbox ("\xc3\xa9@b.example", FALSE));
  g_assert_true (relais_address_is_valid_mailbox ("\xc3\xa9@b.example", TRUE));
  g_assert_true (relais_address_is_valid_domain ("mx.example.org", FALSE));
  g_assert_true (relais_address_is_valid_domain ("localhost", FALSE));
  g_assert_false (relais_address_is_valid_domain ("", FALSE));
  g_assert_false (relais_address_is_valid_domain ("a_b.example", FALSE));
  g_assert_false (relais_address_is_valid_domain (DOMAIN255 "x", FALSE));
  g_assert_true (relais_address_is_valid_domain (DOMAIN255, FALSE));
}

static void
test_bdat (void)
{
  static const struct {
    const char *arg;
    gboolean ok;
    guint64 size;
    gboolean last;
  } cases[] = {
    { "0", TRUE, 0, FALSE },
    { "100", TRUE, 100, FALSE },
    { "100 LAST", TRUE, 100, TRUE },
    { "100 last", TRUE, 100, TRUE },
    { "0 LAST", TRUE, 0, TRUE },
    { "100  LAST ", TRUE, 100, TRUE },
    { "999999999999999999", TRUE, G_GUINT64_CONSTANT (999999999999999999), FALSE },
    { "1000000000000000000", FALSE },
    { "", FALSE },
    { "LAST", FALSE },
    { "-1", FALSE },
    { "10LAST", FALSE },
    { "10 LASTX", FALSE },
    { "10 LAST x", FALSE },
    { "0x10", FALSE },
    { "1 2", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint64 size = 42;
      gboolean last = FALSE;

      g_test_message ("bdat %s", cases[i].arg);
      g_assert_cmpint (relais_smtp_parse_bdat (cases[i].arg, &size, &last), ==, cases[i].ok);
      if (cases[i].ok)
        {
          g_assert_cmpuint (size, ==, cases[i].size);
          g_assert_cmpint (last, ==, cases[i].last);
        }
    }
}

static void
test_helo (void)
{
  static const struct {
    const char *arg;
    const char *name;
  } cases[] = {
    { "mail.example.org", "mail.example.org" },
    { "  mail.example.org extra", "mail.example.org" },
    { "[192.0.2.1]", "[192.0.2.1]" },
    { "h\xc3\xb4te.example", "h\xc3\xb4te.example" },
    { "", NULL },
    { "   ", NULL },
    { "bad\x01name", NULL },
    { "bad\xffname", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = relais_smtp_parse_helo (cases[i].arg);
      g_assert_cmpstr (name, ==, cases[i].name);
    }
}

/* Feeds IN to a fresh decoder split at SPLIT (and in one go when SPLIT is 0). */
static char *
decode (const char *in, gsize len, gsize split, gboolean *done, gsize *consumed, gsize *decoded_len)
{
  RelaisDataDecoder decoder;
  GString *out = g_string_new (NULL);
  gsize pos = 0;
  gsize parts[2] = { split > 0 ? split : len, split > 0 ? len - split : 0 };

  relais_data_decoder_init (&decoder);
  *done = FALSE;
  for (guint p = 0; p < 2 && !*done; p++)
    {
      g_autofree guint8 *buf = g_malloc (2 * parts[p] + 3);
      gsize out_len = 0;
      gsize n = relais_data_decoder_feed (&decoder, (const guint8 *) in + pos, parts[p], buf, &out_len, done);

      g_assert_cmpuint (out_len, <=, 2 * parts[p] + 3);
      g_string_append_len (out, (const char *) buf, (gssize) out_len);
      pos += n;
    }
  *consumed = pos;
  *decoded_len = out->len;
  return g_string_free (out, FALSE);
}

static void
test_data_decoder (void)
{
  static const struct {
    const char *in;
    const char *out;       /* stored bytes */
    gboolean done;
    const char *rest;      /* bytes left after the end marker */
    gsize in_len, out_len; /* 0: strlen() */
  } cases[] = {
    { ".\r\n", "", TRUE, "" },
    { "a\r\n.\r\n", "a\r\n", TRUE, "" },
    { "a\r\n.\r\nQUIT\r\n", "a\r\n", TRUE, "QUIT\r\n" },
    { "..a\r\n.\r\n", ".a\r\n", TRUE, "" },
    { ".a\r\n.\r\n", "a\r\n", TRUE, "" },
    { "...\r\n.\r\n", "..\r\n", TRUE, "" },
    { "a\nb\r\n.\r\n", "a\r\nb\r\n", TRUE, "" },
    { "a\rb\r\n.\r\n", "a\r\nb\r\n", TRUE, "" },
    { "a\r\r\n.\r\n", "a\r\n\r\n", TRUE, "" },
    /* smuggling forms: never an end */
    { "a\n.\r\nb", "a\r\n.\r\nb", FALSE, "" },
    { "a\r.\r\nb", "a\r\n.\r\nb", FALSE, "" },
    { "a\r\n.\nb", "a\r\n.\r\nb", FALSE, "" },
    { "a\r\n.\rb", "a\r\n.\r\nb", FALSE, "" },
    { "a\n.\r\n.\r\n", "a\r\n.\r\n", TRUE, "" },
    { "a\r\n. \r\n.\r\n", "a\r\n \r\n", TRUE, "" },
    { "no end", "no end", FALSE, "" },
    { "x\0y\r\n.\r\n", "x\0y\r\n", TRUE, "", 8, 5 },
    /* longer lines, copied in runs up to each CR or LF */
    { "first line\rsecond\nthird line\r\n..fourth\r\n.\r\nRSET\r\n",
      "first line\r\nsecond\r\nthird line\r\n.fourth\r\n", TRUE, "RSET\r\n" },
    { "one line\r\nand a line with no end", "one line\r\nand a line with no end", FALSE, "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = cases[i].in_len > 0 ? cases[i].in_len : strlen (cases[i].in);
      gsize out_len = cases[i].out_len > 0 ? cases[i].out_len : strlen (cases[i].out);

      for (gsize split = 0; split < len; split++)
        {
          gboolean done;
          gsize consumed, decoded_len;
          g_autofree char *out = decode (cases[i].in, len, split, &done, &consumed, &decoded_len);

          g_test_message ("decoder case %" G_GSIZE_FORMAT " split %" G_GSIZE_FORMAT, i, split);
          g_assert_cmpint (done, ==, cases[i].done);
          g_assert_cmpmem (out, decoded_len, cases[i].out, out_len);
          if (done)
            g_assert_cmpstr (cases[i].in + consumed, ==, cases[i].rest);
        }
    }
}

static void
test_content_scan (void)
{
  static const struct {
    const char *message;
    guint received;
    gboolean nul;
  } cases[] = {
    { "Received: a\r\nreceived: b\r\nRECEIVED:c\r\nSubject: x\r\n\r\nReceived: body\r\n", 3, FALSE },
    { "Subject: x\r\n\r\n", 0, FALSE },
    { "X-Received: a\r\nReceived : b\r\n\tReceived: folded\r\n\r\n", 0, FALSE },
    { "\r\nReceived: body only\r\n", 0, FALSE },
    { "Received: a\nReceived: b\n\nReceived: c\n", 2, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = strlen (cases[i].message);

      for (gsize split = 0; split <= len; split++)
        {
          RelaisContentScan scan;

          relais_content_scan_init (&scan);
          relais_content_scan_feed (&scan, (const guint8 *) cases[i].message, split);
          relais_content_scan_feed (&scan, (const guint8 *) cases[i].message + split, len - split);
          g_assert_cmpuint (scan.received, ==, cases[i].received);
          g_assert_cmpuint (scan.size, ==, len);
          g_assert_false (scan.nul);
        }
    }
  {
    RelaisContentScan scan;

    relais_content_scan_init (&scan);
    relais_content_scan_feed (&scan, (const guint8 *) "a\0b", 3);
    g_assert_true (scan.nul);
    g_assert_cmpuint (scan.size, ==, 3);
  }
}

/* Auto-Submitted: auto-forwarded (RFC 5436) in the header section, at every split point. */
static void
test_content_scan_auto_forwarded (void)
{
  static const struct {
    const char *message;
    gboolean auto_forwarded;
  } cases[] = {
    { "Auto-Submitted: auto-forwarded\r\n\r\nbody\r\n", TRUE },
    { "auto-submitted:AUTO-FORWARDED\r\n\r\n", TRUE },
    { "Subject: x\r\nAuto-Submitted: (by a filter) Auto-Forwarded; owner=x\r\n\r\n", TRUE },
    { "Auto-Submitted: auto-forwarded (comment)\r\n\r\n", TRUE },
    { "Auto-Submitted:\r\n\tauto-forwarded\r\nSubject: x\r\n\r\n", TRUE },
    { "Auto-Submitted: (a\r\n b) auto-forwarded\r\n\r\n", TRUE },
    { "Auto-Submitted: auto-generated\r\n\r\n", FALSE },
    { "Auto-Submitted: auto-replied\r\n\r\n", FALSE },
    { "Auto-Submitted: no\r\n\r\n", FALSE },
    { "Auto-Submitted: auto-forwardedx\r\n\r\n", FALSE },
    { "Auto-Submitted: (auto-forwarded) no\r\n\r\n", FALSE },
    { "Auto-Submitted: no\r\n auto-forwarded\r\n\r\n", FALSE },
    { "X-Auto-Submitted: auto-forwarded\r\n\r\n", FALSE },
    { "Subject: Auto-Submitted: auto-forwarded\r\n\r\n", FALSE },
    { "Subject: x\r\n\r\nAuto-Submitted: auto-forwarded\r\n", FALSE },
    { "Auto-Submitted: no\nAuto-Submitted: auto-forwarded\n\n", TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = strlen (cases[i].message);

      g_test_message ("auto-forwarded %s", cases[i].message);
      for (gsize split = 0; split <= len; split++)
        {
          RelaisContentScan scan;

          relais_content_scan_init (&scan);
          relais_content_scan_feed (&scan, (const guint8 *) cases[i].message, split);
          relais_content_scan_feed (&scan, (const guint8 *) cases[i].message + split, len - split);
          g_assert_cmpint (scan.auto_forwarded, ==, cases[i].auto_forwarded);
        }
    }
}

static void
test_reply (void)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(RelaisReply) r = relais_reply_new (250, "2.0.0", "first\nsecond\nlast %d", 3);

  relais_reply_format (r, out);
  g_assert_cmpstr (out->str, ==, "250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 last 3\r\n");
  g_string_truncate (out, 0);
  relais_reply_append (out, 220, NULL, "mx.example ESMTP");
  g_assert_cmpstr (out->str, ==, "220 mx.example ESMTP\r\n");
  g_string_truncate (out, 0);
  relais_reply_append (out, 550, "5.1.1", "inject\r bad\x01");
  g_assert_cmpstr (out->str, ==, "550 5.1.1 inject? bad?\r\n");
  g_string_truncate (out, 0);
  relais_reply_appendf (out, 452, "4.5.3", "%s", "Too many recipients");
  g_assert_cmpstr (out->str, ==, "452 4.5.3 Too many recipients\r\n");

  /* a full disk, and any other storage failure (RFC 3463) */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(RelaisReply) storage = relais_reply_storage (i == 0);

      g_string_truncate (out, 0);
      relais_reply_format (storage, out);
      g_assert_cmpstr (out->str, ==, i == 0 ? "452 4.3.1 Insufficient system storage\r\n"
                                            : "451 4.3.0 Error: queue file write error\r\n");
    }
}

/* RFC 3461 parameters: values, duplicates and the precise 501 texts. */
static void
test_dsn_parameters (void)
{
  static const struct {
    gboolean is_mail;
    gboolean smtputf8;
    const char *arg;
    RelaisSmtpPathResult result;
    const char *detail;        /* on error */
    RelaisDsnRet ret;
    const char *envid;
    guint notify;
    const char *orcpt;         /* "type;address" */
  } cases[] = {
    { TRUE, FALSE, "FROM:<a@b.example> RET=FULL ENVID=QQ314159", RELAIS_SMTP_PATH_OK, NULL,
      RELAIS_DSN_RET_FULL, "QQ314159", 0, NULL },
    { TRUE, FALSE, "FROM:<> ret=hdrs envid=a+2Bb SIZE=10", RELAIS_SMTP_PATH_OK, NULL,
      RELAIS_DSN_RET_HDRS, "a+b", 0, NULL },
    { TRUE, FALSE, "FROM:<a@b.example> RET=FULL RET=HDRS", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Duplicate RET parameter" },
    { TRUE, FALSE, "FROM:<a@b.example> RET=ALL", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad RET parameter: expected FULL or HDRS" },
    { TRUE, FALSE, "FROM:<a@b.example> RET", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad RET parameter: expected FULL or HDRS" },
    { TRUE, FALSE, "FROM:<a@b.example> ENVID=x ENVID=y", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Duplicate ENVID parameter" },
    { TRUE, FALSE, "FROM:<a@b.example> ENVID=a+0Db", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad ENVID parameter: only printable US-ASCII is allowed" },
    { TRUE, FALSE, "FROM:<a@b.example> ENVID=a+zz", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad ENVID parameter: not valid xtext" },
    { TRUE, FALSE, "FROM:<a@b.example> ENVID", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad ENVID parameter: 1 to 100 characters of xtext" },
    { FALSE, FALSE, "TO:<u@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+2Bx@example.org",
      RELAIS_SMTP_PATH_OK, NULL, 0, NULL, RELAIS_DSN_NOTIFY_SUCCESS | RELAIS_DSN_NOTIFY_FAILURE,
      "rfc822;u+x@example.org" },
    { FALSE, FALSE, "TO:<postmaster> notify=never", RELAIS_SMTP_PATH_OK, NULL, 0, NULL,
      RELAIS_DSN_NOTIFY_NEVER, NULL },
    { FALSE, TRUE, "TO:<u@example.org> ORCPT=utf-8;\xc3\xa9@example.org", RELAIS_SMTP_PATH_OK, NULL,
      0, NULL, 0, "utf-8;\xc3\xa9@example.org" },
    { FALSE, FALSE, "TO:<u@example.org> ORCPT=utf-8;\xc3\xa9@example.org", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad parameter syntax" },
    { FALSE, FALSE, "TO:<u@example.org> NOTIFY=NEVER,DELAY", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad NOTIFY parameter: NEVER cannot be combined with other keywords" },
    { FALSE, FALSE, "TO:<u@example.org> NOTIFY=FAILURE NOTIFY=DELAY", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Duplicate NOTIFY parameter" },
    { FALSE, FALSE, "TO:<u@example.org> NOTIFY", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad NOTIFY parameter: empty value" },
    { FALSE, FALSE, "TO:<u@example.org> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Duplicate ORCPT parameter" },
    { FALSE, FALSE, "TO:<u@example.org> ORCPT=a@b", RELAIS_SMTP_PATH_BAD_PARAMETER,
      "Bad ORCPT parameter: expected addr-type;address (e.g. rfc822;user@example.org)" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RelaisSmtpPath path;
      RelaisSmtpPathResult r = cases[i].is_mail ? relais_smtp_parse_mail (cases[i].arg, &path)
                                                : relais_smtp_parse_rcpt (cases[i].arg, cases[i].smtputf8, &path);

      g_test_message ("DSN %s", cases[i].arg);
      g_assert_cmpint (r, ==, cases[i].result);
      if (r != RELAIS_SMTP_PATH_OK)
        {
          g_assert_cmpstr (path.detail, ==, cases[i].detail);
          g_assert_false (relais_smtp_path_has_dsn (&path));
        }
      else
        {
          g_autofree char *orcpt = path.orcpt != NULL ? relais_dsn_orcpt_to_string (path.orcpt) : NULL;

          g_assert_cmpint (path.ret, ==, cases[i].ret);
          g_assert_cmpstr (path.envid, ==, cases[i].envid);
          g_assert_cmpuint (path.notify, ==, cases[i].notify);
          g_assert_cmpstr (orcpt, ==, cases[i].orcpt);
          g_assert_true (relais_smtp_path_has_dsn (&path));
        }
      relais_smtp_path_clear (&path);
      g_assert_false (relais_smtp_path_has_dsn (&path));
    }
}


static void
test_mail_auth_parameter (void)
{
  static const struct {
    const char *arg;
    RelaisSmtpPathResult result;
    const char *auth;
  } cases[] = {
    { "FROM:<a@b.example>", RELAIS_SMTP_PATH_OK, NULL },
    { "FROM:<a@b.example> AUTH=<>", RELAIS_SMTP_PATH_OK, "" },
    { "FROM:<a@b.example> auth=a@b.example", RELAIS_SMTP_PATH_OK, "a@b.example" },
    { "FROM:<a@b.example> AUTH=a+2Bb@c.example SIZE=10", RELAIS_SMTP_PATH_OK, "a+b@c.example" },
    { "FROM:<> AUTH=<>", RELAIS_SMTP_PATH_OK, "" },
    { "FROM:<a@b.example> AUTH=a+zz", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL },
    { "FROM:<a@b.example> AUTH=a+2", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL },
    { "FROM:<a@b.example> AUTH=a+20b", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL },   /* a space */
    { "FROM:<a@b.example> AUTH=a+00b", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL },   /* a NUL */
    { "FROM:<a@b.example> AUTH=a+C3+A9", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL }, /* 8-bit */
    { "FROM:<a@b.example> AUTH", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL },
    { "FROM:<a@b.example> AUTH=<> AUTH=<>", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL },
    { "FROM:<a@b.example> AUTH=<x>", RELAIS_SMTP_PATH_BAD_PARAMETER, NULL },
  };
  RelaisSmtpPath path = { 0 };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %s", cases[i].arg);
      g_assert_cmpint (relais_smtp_parse_mail (cases[i].arg, &path), ==, cases[i].result);
      g_assert_cmpstr (path.auth, ==, cases[i].auth);
      if (cases[i].result == RELAIS_SMTP_PATH_BAD_PARAMETER)
        g_assert_nonnull (path.detail);
      relais_smtp_path_clear (&path);
    }
  /* Only on MAIL. */
  g_assert_cmpint (relais_smtp_parse_rcpt ("TO:<a@b.example> AUTH=<>", FALSE, &path), ==,
                   RELAIS_SMTP_PATH_UNKNOWN_PARAMETER);
  relais_smtp_path_clear (&path);
}

static void
test_auth_command (void)
{
  static const struct {
    const char *arg;
    RelaisSmtpAuthResult result;
    RelaisSaslMechanism mechanism;
    const char *initial;
  } cases[] = {
    { "PLAIN", RELAIS_SMTP_AUTH_OK, RELAIS_SASL_PLAIN, NULL },
    { "plain", RELAIS_SMTP_AUTH_OK, RELAIS_SASL_PLAIN, NULL },
    { "LOGIN", RELAIS_SMTP_AUTH_OK, RELAIS_SASL_LOGIN, NULL },
    { "PLAIN AGFsaWNlAHNlY3JldA==", RELAIS_SMTP_AUTH_OK, RELAIS_SASL_PLAIN, "AGFsaWNlAHNlY3JldA==" },
    { "PLAIN =", RELAIS_SMTP_AUTH_OK, RELAIS_SASL_PLAIN, "=" },
    { "Login YWxpY2U=", RELAIS_SMTP_AUTH_OK, RELAIS_SASL_LOGIN, "YWxpY2U=" },
    { "CRAM-MD5", RELAIS_SMTP_AUTH_UNKNOWN_MECHANISM, 0, NULL },
    { "SCRAM-SHA-256 biwsbj11c2Vy", RELAIS_SMTP_AUTH_UNKNOWN_MECHANISM, 0, NULL },
    { "PLAINX", RELAIS_SMTP_AUTH_UNKNOWN_MECHANISM, 0, NULL },
    { "", RELAIS_SMTP_AUTH_SYNTAX, 0, NULL },
    { "PL@IN", RELAIS_SMTP_AUTH_SYNTAX, 0, NULL },
    { "ABCDEFGHIJKLMNOPQRSTU", RELAIS_SMTP_AUTH_SYNTAX, 0, NULL },   /* 21 characters */
    { "PLAIN a b", RELAIS_SMTP_AUTH_SYNTAX, 0, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      RelaisSaslMechanism mechanism = 99;
      const char *initial = "unset";

      g_test_message ("case '%s'", cases[i].arg);
      g_assert_cmpint (relais_smtp_parse_auth (cases[i].arg, &mechanism, &initial), ==, cases[i].result);
      if (cases[i].result == RELAIS_SMTP_AUTH_OK)
        g_assert_cmpint (mechanism, ==, cases[i].mechanism);
      g_assert_cmpstr (initial, ==, cases[i].initial);
    }
}

static void
test_sasl_response (void)
{
  static const struct {
    const char *text;
    gboolean initial;
    RelaisSaslDataResult result;
    const char *data;
    gsize len;
  } cases[] = {
    { "YWxpY2U=", FALSE, RELAIS_SASL_DATA_OK, "alice", 5 },
    { "YWxpY2Ux", FALSE, RELAIS_SASL_DATA_OK, "alice1", 6 },
    { "YQ==", TRUE, RELAIS_SASL_DATA_OK, "a", 1 },
    { "AGFsaWNlAHNlY3JldA==", TRUE, RELAIS_SASL_DATA_OK, "\0alice\0secret", 13 },
    { "=", TRUE, RELAIS_SASL_DATA_OK, "", 0 },
    { "", FALSE, RELAIS_SASL_DATA_OK, "", 0 },
    { "*", FALSE, RELAIS_SASL_DATA_CANCELLED, NULL, 0 },
    { "*", TRUE, RELAIS_SASL_DATA_CANCELLED, NULL, 0 },
    { "=", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },
    { "", TRUE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },
    { "YWxpY2U", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },      /* not a multiple of 4 */
    { "YW=pY2U=", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },     /* padding inside */
    { "YWxp Y2U=", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },
    { "YWxp!2U=", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },
    { "Y===", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },
    { "====", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },
    { "**", FALSE, RELAIS_SASL_DATA_BAD_BASE64, NULL, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *data = (char *) "unset";
      gsize len = 99;

      g_test_message ("case '%s' initial=%d", cases[i].text, cases[i].initial);
      g_assert_cmpint (relais_sasl_decode_response (cases[i].text, cases[i].initial, &data, &len), ==,
                       cases[i].result);
      if (cases[i].data == NULL)
        g_assert_null (data);
      else
        {
          g_assert_cmpmem (data, len, cases[i].data, cases[i].len);
          g_assert_cmpint (data[len], ==, '\0');
        }
      relais_sasl_wipe (data, len);
    }
}

static void
test_sasl_plain (void)
{
  static const struct {
    const char *data;
    gsize len;
    gboolean ok;
    const char *authzid, *authcid, *password;
  } cases[] = {
    { "\0alice\0secret", 13, TRUE, "", "alice", "secret" },
    { "alice\0alice\0secret", 18, TRUE, "alice", "alice", "secret" },
    { "\0alice@relais.test\0p\xc3\xa4ss", 24, TRUE, "", "alice@relais.test", "p\xc3\xa4ss" },
    { "\0alice\0", 7, FALSE, NULL, NULL, NULL },          /* empty password */
    { "\0\0secret", 8, FALSE, NULL, NULL, NULL },         /* empty user */
    { "alice\0secret", 12, FALSE, NULL, NULL, NULL },     /* one NUL */
    { "\0alice\0sec\0ret", 14, FALSE, NULL, NULL, NULL }, /* three */
    { "\0al\xffice\0secret", 14, FALSE, NULL, NULL, NULL }, /* not UTF-8 */
    { "", 0, FALSE, NULL, NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *authzid = NULL, *authcid = NULL, *password = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_assert_cmpint (relais_sasl_plain_split (cases[i].data, cases[i].len, &authzid, &authcid, &password),
                       ==, cases[i].ok);
      g_assert_cmpstr (authzid, ==, cases[i].authzid);
      g_assert_cmpstr (authcid, ==, cases[i].authcid);
      g_assert_cmpstr (password, ==, cases[i].password);
    }
  {
    /* 256 octets of user name are too many. */
    g_autofree char *authzid = NULL, *authcid = NULL, *password = NULL;
    char big[1 + 256 + 1 + 1];

    memset (big, 'a', sizeof big);
    big[0] = '\0';
    big[257] = '\0';
    g_assert_false (relais_sasl_plain_split (big, sizeof big, &authzid, &authcid, &password));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/smtp-parse/commands", test_commands);
  g_test_add_func ("/relais/smtp-parse/mail", test_mail);
  g_test_add_func ("/relais/smtp-parse/rcpt", test_rcpt);
  g_test_add_func ("/relais/smtp-parse/path-limit", test_path_limit);
  g_test_add_func ("/relais/smtp-parse/validators", test_validators);
  g_test_add_func ("/relais/smtp-parse/dsn-parameters", test_dsn_parameters);
  g_test_add_func ("/relais/smtp-parse/bdat", test_bdat);
  g_test_add_func ("/relais/smtp-parse/helo", test_helo);
  g_test_add_func ("/relais/smtp-parse/data-decoder", test_data_decoder);
  g_test_add_func ("/relais/smtp-parse/content-scan", test_content_scan);
  g_test_add_func ("/relais/smtp-parse/content-scan-auto-forwarded", test_content_scan_auto_forwarded);
  g_test_add_func ("/relais/smtp-parse/reply", test_reply);
  g_test_add_func ("/relais/smtp-parse/mail-auth-parameter", test_mail_auth_parameter);
  g_test_add_func ("/relais/smtp-parse/auth-command", test_auth_command);
  g_test_add_func ("/relais/smtp-parse/sasl-response", test_sasl_response);
  g_test_add_func ("/relais/smtp-parse/sasl-plain", test_sasl_plain);
  return g_test_run ();
}
