/* SPDX-License-Identifier: GPL-3.0-or-later
 * DSN parameters (RFC 3461, RFC 6533): decoding what a client sent on MAIL and
 * RCPT into values the queue stores, and encoding them again for a next hop.
 * Decoded values never hold NUL or control characters, so they can go into a
 * DSN's header fields; lengths are capped by the RFC limits. */
#define G_LOG_DOMAIN "relais"

#include "relais-dsn.h"

#include <string.h>

static gsize
value_length (const char *value, gssize len)
{
  return len < 0 ? strlen (value) : (gsize) len;
}

static gboolean
set_detail (const char **detail, const char *text)
{
  if (detail != NULL)
    *detail = text;
  return FALSE;
}

static gboolean
is_xchar (guchar c)
{
  return c >= '!' && c <= '~' && c != '+' && c != '=';
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* ---- xtext -------------------------------------------------------------- */

char *
relais_dsn_xtext_decode (const char *text, gssize len)
{
  g_autoptr(GString) out = NULL;
  gsize n;

  g_return_val_if_fail (text != NULL, NULL);

  n = value_length (text, len);
  out = g_string_sized_new (n);
  for (gsize i = 0; i < n; i++)
    {
      guchar c = (guchar) text[i];

      if (c == '+')
        {
          int hi, lo;

          if (i + 2 >= n)
            return NULL;
          hi = hex_value (text[i + 1]);
          lo = hex_value (text[i + 2]);
          if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return NULL;
          g_string_append_c (out, (char) (hi * 16 + lo));
          i += 2;
        }
      else if (is_xchar (c))
        g_string_append_c (out, (char) c);
      else
        return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
relais_dsn_xtext_encode (const char *text)
{
  GString *out;

  g_return_val_if_fail (text != NULL, NULL);

  out = g_string_sized_new (strlen (text));
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (is_xchar (c))
        g_string_append_c (out, (char) c);
      else
        g_string_append_printf (out, "+%02X", c);
    }
  return g_string_free (out, FALSE);
}

/* ---- utf-8-addr-xtext (RFC 6533 §3) ------------------------------------- */

/* QCHAR: xchar without "\". */
static gboolean
is_qchar (guchar c)
{
  return is_xchar (c) && c != '\\';
}

/* Decodes QCHAR / "\x{HEX}" (and raw UTF-8 when ALLOW_RAW); NULL if malformed. */
static char *
utf8_addr_decode (const char *text, gsize n, gboolean allow_raw)
{
  g_autoptr(GString) out = g_string_sized_new (n);

  for (gsize i = 0; i < n;)
    {
      guchar c = (guchar) text[i];

      if (is_qchar (c))
        {
          g_string_append_c (out, (char) c);
          i++;
        }
      else if (c == '\\')
        {
          gunichar u = 0;
          gsize digits = 0;

          if (i + 3 > n || text[i + 1] != 'x' || text[i + 2] != '{')
            return NULL;
          i += 3;
          while (i < n && hex_value (text[i]) >= 0 && digits < 6)
            {
              u = u * 16 + (gunichar) hex_value (text[i]);
              digits++;
              i++;
            }
          if (digits == 0 || i >= n || text[i] != '}' || u < 0x20 || u == 0x7f ||
              !g_unichar_validate (u))
            return NULL;
          i++;
          g_string_append_unichar (out, u);
        }
      else if (c >= 0x80 && allow_raw)
        {
          const char *end = NULL;
          gsize run = i;

          while (run < n && (guchar) text[run] >= 0x80)
            run++;
          if (!g_utf8_validate (text + i, (gssize) (run - i), &end) || end != text + run)
            return NULL;
          g_string_append_len (out, text + i, (gssize) (run - i));
          i = run;
        }
      else
        return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
utf8_addr_encode (const char *address)
{
  GString *out = g_string_new (NULL);
  const char *p = address;

  while (*p != '\0')
    {
      gunichar u = g_utf8_get_char_validated (p, -1);

      if (u == (gunichar) -1 || u == (gunichar) -2)
        {
          /* Not UTF-8 after all: escape the octet itself. */
          g_string_append_printf (out, "\\x{%02X}", (guchar) *p);
          p++;
          continue;
        }
      if (u < 0x80 && is_qchar ((guchar) u))
        g_string_append_c (out, (char) u);
      else
        g_string_append_printf (out, "\\x{%X}", u);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

/* ---- NOTIFY, RET, ENVID ------------------------------------------------- */

static const struct {
  const char *name;
  RelaisDsnNotify flag;
} notify_names[] = {
  { "NEVER", RELAIS_DSN_NOTIFY_NEVER },
  { "SUCCESS", RELAIS_DSN_NOTIFY_SUCCESS },
  { "FAILURE", RELAIS_DSN_NOTIFY_FAILURE },
  { "DELAY", RELAIS_DSN_NOTIFY_DELAY },
};

gboolean
relais_dsn_parse_notify (const char *value, gssize len, guint *notify, const char **detail)
{
  gsize n, start = 0;
  guint flags = 0;

  g_return_val_if_fail (value != NULL, FALSE);

  n = value_length (value, len);
  if (n == 0)
    return set_detail (detail, "Bad NOTIFY parameter: empty value");
  while (start <= n)
    {
      gsize end = start;
      gboolean known = FALSE;

      while (end < n && value[end] != ',')
        end++;
      for (gsize i = 0; i < G_N_ELEMENTS (notify_names); i++)
        {
          if (end - start == strlen (notify_names[i].name) &&
              g_ascii_strncasecmp (value + start, notify_names[i].name, end - start) == 0)
            {
              if (flags & notify_names[i].flag)
                return set_detail (detail, "Bad NOTIFY parameter: a keyword is repeated");
              flags |= notify_names[i].flag;
              known = TRUE;
              break;
            }
        }
      if (!known)
        return set_detail (detail, "Bad NOTIFY parameter: expected NEVER, or SUCCESS, FAILURE and DELAY "
                                   "separated by commas");
      start = end + 1;
    }
  if ((flags & RELAIS_DSN_NOTIFY_NEVER) && flags != RELAIS_DSN_NOTIFY_NEVER)
    return set_detail (detail, "Bad NOTIFY parameter: NEVER cannot be combined with other keywords");
  if (notify != NULL)
    *notify = flags;
  return TRUE;
}

gboolean
relais_dsn_parse_ret (const char *value, gssize len, RelaisDsnRet *ret, const char **detail)
{
  gsize n;
  RelaisDsnRet r;

  g_return_val_if_fail (value != NULL, FALSE);

  n = value_length (value, len);
  if (n == 4 && g_ascii_strncasecmp (value, "FULL", 4) == 0)
    r = RELAIS_DSN_RET_FULL;
  else if (n == 4 && g_ascii_strncasecmp (value, "HDRS", 4) == 0)
    r = RELAIS_DSN_RET_HDRS;
  else
    return set_detail (detail, "Bad RET parameter: expected FULL or HDRS");
  if (ret != NULL)
    *ret = r;
  return TRUE;
}

char *
relais_dsn_parse_envid (const char *value, gssize len, const char **detail)
{
  g_autofree char *decoded = NULL;
  gsize n;

  g_return_val_if_fail (value != NULL, NULL);

  n = value_length (value, len);
  if (n == 0 || n > RELAIS_DSN_MAX_ENVID)
    {
      set_detail (detail, "Bad ENVID parameter: 1 to 100 characters of xtext");
      return NULL;
    }
  decoded = relais_dsn_xtext_decode (value, (gssize) n);
  if (decoded == NULL)
    {
      set_detail (detail, "Bad ENVID parameter: not valid xtext");
      return NULL;
    }
  for (const char *p = decoded; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || (guchar) *p > 0x7e)
      {
        set_detail (detail, "Bad ENVID parameter: only printable US-ASCII is allowed");
        return NULL;
      }
  return g_steal_pointer (&decoded);
}

/* ---- ORCPT -------------------------------------------------------------- */

RelaisDsnOrcpt *
relais_dsn_orcpt_new (const char *addr_type, const char *address)
{
  RelaisDsnOrcpt *orcpt;

  g_return_val_if_fail (addr_type != NULL && address != NULL, NULL);

  orcpt = g_new0 (RelaisDsnOrcpt, 1);
  orcpt->addr_type = g_strdup (addr_type);
  orcpt->address = g_strdup (address);
  return orcpt;
}

RelaisDsnOrcpt *
relais_dsn_orcpt_copy (const RelaisDsnOrcpt *orcpt)
{
  return orcpt != NULL ? relais_dsn_orcpt_new (orcpt->addr_type, orcpt->address) : NULL;
}

void
relais_dsn_orcpt_free (RelaisDsnOrcpt *orcpt)
{
  if (orcpt == NULL)
    return;
  g_free (orcpt->addr_type);
  g_free (orcpt->address);
  g_free (orcpt);
}

char *
relais_dsn_orcpt_to_string (const RelaisDsnOrcpt *orcpt)
{
  g_return_val_if_fail (orcpt != NULL, NULL);

  return g_strconcat (orcpt->addr_type, ";", orcpt->address, NULL);
}

RelaisDsnOrcpt *
relais_dsn_orcpt_from_string (const char *text)
{
  const char *semicolon = text != NULL ? strchr (text, ';') : NULL;
  g_autofree char *addr_type = NULL;

  if (semicolon == NULL || semicolon == text)
    return NULL;
  addr_type = g_strndup (text, (gsize) (semicolon - text));
  return relais_dsn_orcpt_new (addr_type, semicolon + 1);
}

static gboolean
is_utf8_type (const char *addr_type, gsize len)
{
  return len == 5 && g_ascii_strncasecmp (addr_type, "utf-8", 5) == 0;
}

RelaisDsnOrcpt *
relais_dsn_parse_orcpt (const char *value, gssize len, gboolean smtputf8, const char **detail)
{
  g_autofree char *address = NULL;
  g_autofree char *addr_type = NULL;
  const char *semicolon;
  gsize n, type_len;
  gboolean utf8;

  g_return_val_if_fail (value != NULL, NULL);

  n = value_length (value, len);
  if (n > RELAIS_DSN_MAX_ORCPT)
    {
      set_detail (detail, "Bad ORCPT parameter: longer than 500 characters");
      return NULL;
    }
  semicolon = memchr (value, ';', n);
  if (semicolon == NULL || semicolon == value || semicolon == value + n - 1)
    {
      set_detail (detail, "Bad ORCPT parameter: expected addr-type;address (e.g. rfc822;user@example.org)");
      return NULL;
    }
  /* addr-type = atom (RFC 5322): letters, digits and "-" are all real types use. */
  type_len = (gsize) (semicolon - value);
  for (gsize i = 0; i < type_len; i++)
    if (!g_ascii_isalnum (value[i]) && value[i] != '-')
      {
        set_detail (detail, "Bad ORCPT parameter: bad address type");
        return NULL;
      }
  utf8 = is_utf8_type (value, type_len);
  if (utf8)
    address = utf8_addr_decode (semicolon + 1, n - type_len - 1, smtputf8);
  else
    address = relais_dsn_xtext_decode (semicolon + 1, (gssize) (n - type_len - 1));
  if (address == NULL)
    {
      set_detail (detail, utf8 ? "Bad ORCPT parameter: the address is not valid utf-8-addr-xtext"
                               : "Bad ORCPT parameter: the address is not valid xtext");
      return NULL;
    }
  for (const char *p = address; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || (guchar) *p == 0x7f || ((guchar) *p >= 0x80 && !utf8))
      {
        set_detail (detail, "Bad ORCPT parameter: control or 8-bit characters in the address");
        return NULL;
      }
  /* Known types are kept in their usual lower case. */
  addr_type = g_ascii_strdown (value, (gssize) type_len);
  return relais_dsn_orcpt_new (addr_type, address);
}

/* ---- for notifications and relaying ------------------------------------- */

char *
relais_dsn_orcpt_to_field (const RelaisDsnOrcpt *orcpt)
{
  g_autofree char *address = NULL;

  g_return_val_if_fail (orcpt != NULL, NULL);

  if (!is_utf8_type (orcpt->addr_type, strlen (orcpt->addr_type)))
    return relais_dsn_orcpt_to_string (orcpt);
  address = utf8_addr_encode (orcpt->address);
  return g_strconcat (orcpt->addr_type, ";", address, NULL);
}

gboolean
relais_dsn_notify_wants (guint notify, RelaisDsnNotify what)
{
  if (notify == RELAIS_DSN_NOTIFY_UNSET)
    return what == RELAIS_DSN_NOTIFY_FAILURE || what == RELAIS_DSN_NOTIFY_DELAY;
  return (notify & RELAIS_DSN_NOTIFY_NEVER) == 0 && (notify & what) != 0;
}

char *
relais_dsn_notify_to_string (guint notify)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (notify_names); i++)
    if (notify & notify_names[i].flag)
      g_string_append_printf (out, "%s%s", out->len > 0 ? "," : "", notify_names[i].name);
  return g_string_free (out, FALSE);
}

char *
relais_dsn_rcpt_params (guint notify, const RelaisDsnOrcpt *orcpt)
{
  GString *out = g_string_new (NULL);
  g_autofree char *flags = relais_dsn_notify_to_string (notify);

  if (flags[0] != '\0')
    g_string_append_printf (out, "NOTIFY=%s", flags);
  if (orcpt != NULL && orcpt->addr_type != NULL && orcpt->address != NULL)
    {
      gboolean utf8 = is_utf8_type (orcpt->addr_type, strlen (orcpt->addr_type));
      g_autofree char *encoded = utf8 ? utf8_addr_encode (orcpt->address)
                                      : relais_dsn_xtext_encode (orcpt->address);
      g_autofree char *addr_type = relais_dsn_xtext_encode (orcpt->addr_type);

      /* Over the limit once encoded: better no ORCPT than one the next hop refuses. */
      if (strlen (addr_type) + 1 + strlen (encoded) <= RELAIS_DSN_MAX_ORCPT)
        g_string_append_printf (out, "%sORCPT=%s;%s", out->len > 0 ? " " : "", addr_type, encoded);
    }
  return g_string_free (out, FALSE);
}

char *
relais_dsn_mail_params (RelaisDsnRet ret, const char *envid)
{
  GString *out = g_string_new (NULL);

  if (ret == RELAIS_DSN_RET_FULL)
    g_string_append (out, "RET=FULL");
  else if (ret == RELAIS_DSN_RET_HDRS)
    g_string_append (out, "RET=HDRS");
  if (envid != NULL && envid[0] != '\0')
    {
      g_autofree char *encoded = relais_dsn_xtext_encode (envid);

      if (strlen (encoded) <= RELAIS_DSN_MAX_ENVID)
        g_string_append_printf (out, "%sENVID=%s", out->len > 0 ? " " : "", encoded);
    }
  return g_string_free (out, FALSE);
}
