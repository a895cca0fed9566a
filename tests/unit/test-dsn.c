/* SPDX-License-Identifier: GPL-3.0-or-later
 * Table-driven tests of the DSN parameter helpers (RFC 3461, RFC 6533): xtext
 * both ways, NOTIFY, RET, ENVID, ORCPT, and the parameters formatted again
 * for a next hop. */
#include <string.h>

#include <glib.h>

#include "relais-dsn.h"

static void
test_xtext (void)
{
  static const struct {
    const char *in;
    const char *decoded;      /* NULL: refused */
  } cases[] = {
    { "abc", "abc" },
    { "a+2Bb@c", "a+b@c" },
    { "a+2bb@c", "a+b@c" },    /* lower-case hex tolerated */
    { "+3D+20x", "= x" },
    { "", "" },
    { "a+2", NULL },
    { "a+", NULL },
    { "a+ZZ", NULL },
    { "a=b", NULL },
    { "a b", NULL },
    { "a+00b", NULL },         /* no NUL out */
    { "\xc3\xa9", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *decoded = relais_dsn_xtext_decode (cases[i].in, -1);

      g_test_message ("xtext %s", cases[i].in);
      g_assert_cmpstr (decoded, ==, cases[i].decoded);
    }

  {
    g_autofree char *e1 = relais_dsn_xtext_encode ("a+b=c d\x01\xc3\xa9~!");
    g_autofree char *back = relais_dsn_xtext_decode (e1, -1);

    g_assert_cmpstr (e1, ==, "a+2Bb+3Dc+20d+01+C3+A9~!");
    g_assert_cmpstr (back, ==, "a+b=c d\x01\xc3\xa9~!");
  }
  /* Only LEN octets are read. */
  {
    g_autofree char *decoded = relais_dsn_xtext_decode ("ab+41 junk", 5);

    g_assert_cmpstr (decoded, ==, "abA");
  }
}

static void
test_notify (void)
{
  static const struct {
    const char *in;
    gboolean ok;
    guint flags;
  } cases[] = {
    { "NEVER", TRUE, RELAIS_DSN_NOTIFY_NEVER },
    { "never", TRUE, RELAIS_DSN_NOTIFY_NEVER },
    { "SUCCESS", TRUE, RELAIS_DSN_NOTIFY_SUCCESS },
    { "success,Failure", TRUE, RELAIS_DSN_NOTIFY_SUCCESS | RELAIS_DSN_NOTIFY_FAILURE },
    { "DELAY,FAILURE,SUCCESS", TRUE,
      RELAIS_DSN_NOTIFY_SUCCESS | RELAIS_DSN_NOTIFY_FAILURE | RELAIS_DSN_NOTIFY_DELAY },
    { "NEVER,SUCCESS", FALSE, 0 },
    { "FAILURE,NEVER", FALSE, 0 },
    { "FAILURE,FAILURE", FALSE, 0 },
    { "FAILURE,", FALSE, 0 },
    { ",FAILURE", FALSE, 0 },
    { "", FALSE, 0 },
    { "ALWAYS", FALSE, 0 },
    { "SUCCESSFAILURE", FALSE, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *detail = NULL;
      guint flags = 0xdead;
      gboolean ok = relais_dsn_parse_notify (cases[i].in, -1, &flags, &detail);

      g_test_message ("NOTIFY=%s", cases[i].in);
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (ok)
        g_assert_cmpuint (flags, ==, cases[i].flags);
      else
        {
          g_assert_nonnull (detail);
          g_assert_true (g_str_has_prefix (detail, "Bad NOTIFY parameter"));
        }
    }

  g_assert_true (relais_dsn_notify_wants (RELAIS_DSN_NOTIFY_UNSET, RELAIS_DSN_NOTIFY_FAILURE));
  g_assert_false (relais_dsn_notify_wants (RELAIS_DSN_NOTIFY_UNSET, RELAIS_DSN_NOTIFY_SUCCESS));
  g_assert_false (relais_dsn_notify_wants (RELAIS_DSN_NOTIFY_NEVER, RELAIS_DSN_NOTIFY_FAILURE));
  g_assert_false (relais_dsn_notify_wants (RELAIS_DSN_NOTIFY_SUCCESS, RELAIS_DSN_NOTIFY_FAILURE));
  g_assert_true (relais_dsn_notify_wants (RELAIS_DSN_NOTIFY_SUCCESS, RELAIS_DSN_NOTIFY_SUCCESS));
  g_assert_true (relais_dsn_notify_wants (RELAIS_DSN_NOTIFY_DELAY | RELAIS_DSN_NOTIFY_FAILURE,
                                          RELAIS_DSN_NOTIFY_FAILURE));
}

static void
test_ret_envid (void)
{
  RelaisDsnRet ret = RELAIS_DSN_RET_UNSET;
  const char *detail = NULL;
  g_autofree char *long_id = g_strnfill (101, 'x');
  g_autofree char *max_id = g_strnfill (100, 'x');
  char *envid;

  g_assert_true (relais_dsn_parse_ret ("FULL", -1, &ret, NULL));
  g_assert_cmpint (ret, ==, RELAIS_DSN_RET_FULL);
  g_assert_true (relais_dsn_parse_ret ("hdrs", -1, &ret, NULL));
  g_assert_cmpint (ret, ==, RELAIS_DSN_RET_HDRS);
  g_assert_false (relais_dsn_parse_ret ("BODY", -1, &ret, &detail));
  g_assert_cmpstr (detail, ==, "Bad RET parameter: expected FULL or HDRS");
  g_assert_false (relais_dsn_parse_ret ("FULLX", -1, &ret, NULL));

  envid = relais_dsn_parse_envid ("QQ314159+20x", -1, NULL);
  g_assert_cmpstr (envid, ==, "QQ314159 x");
  g_free (envid);
  envid = relais_dsn_parse_envid (max_id, -1, NULL);
  g_assert_cmpstr (envid, ==, max_id);
  g_free (envid);

  detail = NULL;
  g_assert_null (relais_dsn_parse_envid (long_id, -1, &detail));
  g_assert_nonnull (detail);
  g_assert_null (relais_dsn_parse_envid ("", -1, NULL));
  g_assert_null (relais_dsn_parse_envid ("a+0Db", -1, &detail));   /* CR */
  g_assert_cmpstr (detail, ==, "Bad ENVID parameter: only printable US-ASCII is allowed");
  g_assert_null (relais_dsn_parse_envid ("a+", -1, &detail));
  g_assert_cmpstr (detail, ==, "Bad ENVID parameter: not valid xtext");
}

static void
test_orcpt (void)
{
  static const struct {
    const char *in;
    gboolean smtputf8;
    const char *addr_type;   /* NULL: refused */
    const char *address;
  } cases[] = {
    { "rfc822;a@b.example", FALSE, "rfc822", "a@b.example" },
    { "RFC822;a+2Bb@c", FALSE, "rfc822", "a+b@c" },
    { "x-local;some+20thing", FALSE, "x-local", "some thing" },
    { "utf-8;j\\x{E9}r\\x{F4}me@example.org", FALSE, "utf-8", "j\xc3\xa9r\xc3\xb4me@example.org" },
    { "utf-8;j\xc3\xa9rome@example.org", TRUE, "utf-8", "j\xc3\xa9rome@example.org" },
    { "utf-8;j\xc3\xa9rome@example.org", FALSE, NULL, NULL },
    { "utf-8;j\\x{D800}x", FALSE, NULL, NULL },          /* surrogate */
    { "utf-8;j\\x{A}x", FALSE, NULL, NULL },             /* control */
    { "utf-8;j\\x{E9", FALSE, NULL, NULL },
    { "utf-8;a+b", FALSE, NULL, NULL },                  /* "+" is not a QCHAR */
    { "rfc822;a+0Ab", FALSE, NULL, NULL },               /* LF */
    { "rfc822;a+C3+A9", FALSE, NULL, NULL },             /* 8-bit in rfc822 */
    { "rfc822;", FALSE, NULL, NULL },
    { ";a@b", FALSE, NULL, NULL },
    { "a@b", FALSE, NULL, NULL },
    { "rfc 822;a@b", FALSE, NULL, NULL },
    { "rfc822;a+zzb", FALSE, NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *detail = NULL;
      g_autoptr(RelaisDsnOrcpt) orcpt = relais_dsn_parse_orcpt (cases[i].in, -1, cases[i].smtputf8, &detail);

      g_test_message ("ORCPT=%s", cases[i].in);
      if (cases[i].addr_type == NULL)
        {
          g_assert_null (orcpt);
          g_assert_true (g_str_has_prefix (detail, "Bad ORCPT parameter"));
          continue;
        }
      g_assert_nonnull (orcpt);
      g_assert_cmpstr (orcpt->addr_type, ==, cases[i].addr_type);
      g_assert_cmpstr (orcpt->address, ==, cases[i].address);
    }

  {
    g_autofree char *local = g_strnfill (494, 'a');
    g_autofree char *too_long = g_strconcat ("rfc822;", local, NULL);
    const char *detail = NULL;

    g_assert_null (relais_dsn_parse_orcpt (too_long, -1, FALSE, &detail));
    g_assert_cmpstr (detail, ==, "Bad ORCPT parameter: longer than 500 characters");
  }
  /* The stored form goes both ways. */
  {
    g_autoptr(RelaisDsnOrcpt) orcpt = relais_dsn_orcpt_new ("rfc822", "a;b@c");
    g_autofree char *text = relais_dsn_orcpt_to_string (orcpt);
    g_autoptr(RelaisDsnOrcpt) back = relais_dsn_orcpt_from_string (text);

    g_assert_cmpstr (text, ==, "rfc822;a;b@c");
    g_assert_cmpstr (back->addr_type, ==, "rfc822");
    g_assert_cmpstr (back->address, ==, "a;b@c");
    g_assert_null (relais_dsn_orcpt_from_string ("no-semicolon"));
  }
  {
    g_autoptr(RelaisDsnOrcpt) utf8 = relais_dsn_orcpt_new ("utf-8", "j\xc3\xa9@c");
    g_autoptr(RelaisDsnOrcpt) ascii = relais_dsn_orcpt_new ("rfc822", "a+b@c");
    g_autofree char *f1 = relais_dsn_orcpt_to_field (utf8);
    g_autofree char *f2 = relais_dsn_orcpt_to_field (ascii);

    g_assert_cmpstr (f1, ==, "utf-8;j\\x{E9}@c");
    g_assert_cmpstr (f2, ==, "rfc822;a+b@c");
    g_assert_null (relais_dsn_orcpt_from_string (NULL));
  }
}

static void
test_params (void)
{
  g_autoptr(RelaisDsnOrcpt) orcpt = relais_dsn_orcpt_new ("rfc822", "a+b@c");
  g_autoptr(RelaisDsnOrcpt) utf8 = relais_dsn_orcpt_new ("utf-8", "j\xc3\xa9+x@c");
  char *s;

  s = relais_dsn_rcpt_params (RELAIS_DSN_NOTIFY_FAILURE | RELAIS_DSN_NOTIFY_DELAY, orcpt);
  g_assert_cmpstr (s, ==, "NOTIFY=FAILURE,DELAY ORCPT=rfc822;a+2Bb@c");
  g_free (s);
  s = relais_dsn_rcpt_params (RELAIS_DSN_NOTIFY_NEVER, NULL);
  g_assert_cmpstr (s, ==, "NOTIFY=NEVER");
  g_free (s);
  s = relais_dsn_rcpt_params (RELAIS_DSN_NOTIFY_UNSET, orcpt);
  g_assert_cmpstr (s, ==, "ORCPT=rfc822;a+2Bb@c");
  g_free (s);
  s = relais_dsn_rcpt_params (RELAIS_DSN_NOTIFY_UNSET, NULL);
  g_assert_cmpstr (s, ==, "");
  g_free (s);
  s = relais_dsn_rcpt_params (RELAIS_DSN_NOTIFY_SUCCESS, utf8);
  g_assert_cmpstr (s, ==, "NOTIFY=SUCCESS ORCPT=utf-8;j\\x{E9}\\x{2B}x@c");
  /* ...which parses back to the same address. */
  {
    g_autoptr(RelaisDsnOrcpt) back = relais_dsn_parse_orcpt (strstr (s, "ORCPT=") + 6, -1, FALSE, NULL);

    g_assert_nonnull (back);
    g_assert_cmpstr (back->address, ==, utf8->address);
  }
  g_free (s);

  s = relais_dsn_mail_params (RELAIS_DSN_RET_HDRS, "x y");
  g_assert_cmpstr (s, ==, "RET=HDRS ENVID=x+20y");
  g_free (s);
  s = relais_dsn_mail_params (RELAIS_DSN_RET_FULL, NULL);
  g_assert_cmpstr (s, ==, "RET=FULL");
  g_free (s);
  s = relais_dsn_mail_params (RELAIS_DSN_RET_UNSET, "id=1");
  g_assert_cmpstr (s, ==, "ENVID=id+3D1");
  g_free (s);
  s = relais_dsn_mail_params (RELAIS_DSN_RET_UNSET, NULL);
  g_assert_cmpstr (s, ==, "");
  g_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/dsn/xtext", test_xtext);
  g_test_add_func ("/relais/dsn/notify", test_notify);
  g_test_add_func ("/relais/dsn/ret-envid", test_ret_envid);
  g_test_add_func ("/relais/dsn/orcpt", test_orcpt);
  g_test_add_func ("/relais/dsn/params", test_params);
  return g_test_run ();
}
