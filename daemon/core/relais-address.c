/* SPDX-License-Identifier: GPL-3.0-or-later
 * The RFC 5321 §4.1.2 address grammar (with RFC 6531 UTF-8), in one place for
 * the SMTP parser and the configuration's validation. Pure: no I/O, any input
 * bytes get an answer. */
#define G_LOG_DOMAIN "relais"

#include "relais-address.h"

#include <string.h>

#include <gio/gio.h>


static gboolean
is_atext (guchar c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Dot-string = Atom *("." Atom) */
static gboolean
parse_dot_string (RelaisAddressCursor *cur)
{
  const char *p = cur->p;

  for (;;)
    {
      const char *atom = p;

      while (is_atext ((guchar) *p) || (guchar) *p >= 0x80)
        {
          if ((guchar) *p >= 0x80)
            cur->eightbit = TRUE;
          p++;
        }
      if (p == atom)
        return FALSE;
      if (*p != '.')
        break;
      p++;
    }
  cur->p = p;
  return TRUE;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
static gboolean
parse_quoted_string (RelaisAddressCursor *cur)
{
  const char *p = cur->p;

  if (*p != '"')
    return FALSE;
  p++;
  for (;;)
    {
      guchar c = (guchar) *p;

      if (c == '"')
        break;
      if (c == '\\')
        {
          guchar n = (guchar) p[1];
          if (n < 32 || n > 126)
            return FALSE;
          p += 2;
          continue;
        }
      if (c >= 0x80)
        cur->eightbit = TRUE;
      else if (c < 32 || c > 126)   /* includes the terminating NUL */
        return FALSE;
      p++;
    }
  cur->p = p + 1;
  return TRUE;
}

static gboolean
is_let_dig (guchar c)
{
  return g_ascii_isalnum (c) || c >= 0x80;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str].
 * Labels of at most 63 octets. */
gboolean
relais_address_parse_domain (RelaisAddressCursor *cur)
{
  const char *p = cur->p;

  for (;;)
    {
      const char *label = p;

      if (!is_let_dig ((guchar) *p))
        return FALSE;
      while (is_let_dig ((guchar) *p) || *p == '-')
        {
          if ((guchar) *p >= 0x80)
            cur->eightbit = TRUE;
          p++;
        }
      if (p[-1] == '-' || p - label > 63)
        return FALSE;
      if (*p != '.')
        break;
      p++;
    }
  cur->p = p;
  return TRUE;
}

static gboolean
is_ipv4_literal (const char *s, gsize len)
{
  guint parts = 0;
  gsize i = 0;

  while (i < len)
    {
      guint value = 0, digits = 0;

      while (i < len && g_ascii_isdigit (s[i]))
        {
          value = value * 10 + (guint) (s[i] - '0');
          digits++;
          i++;
          if (digits > 3)
            return FALSE;
        }
      if (digits == 0 || value > 255)
        return FALSE;
      parts++;
      if (i == len)
        break;
      if (s[i] != '.' || parts == 4)
        return FALSE;
      i++;
      if (i == len)
        return FALSE;
    }
  return parts == 4;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]"; general literals are refused. */
gboolean
relais_address_parse_literal (RelaisAddressCursor *cur)
{
  const char *start = cur->p + 1;
  const char *end;
  g_autofree char *inner = NULL;

  if (*cur->p != '[')
    return FALSE;
  end = start;
  while (*end != '\0' && *end != ']' && (guchar) *end > 32 && (guchar) *end < 127 && *end != '[' && *end != '\\')
    end++;
  if (*end != ']')
    return FALSE;
  inner = g_strndup (start, (gsize) (end - start));
  if (g_ascii_strncasecmp (inner, "IPv6:", 5) == 0)
    {
      g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (inner + 5);

      if (addr == NULL || g_inet_address_get_family (addr) != G_SOCKET_FAMILY_IPV6)
        return FALSE;
    }
  else if (!is_ipv4_literal (inner, strlen (inner)))
    return FALSE;
  cur->p = end + 1;
  return TRUE;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), with lengths checked.
 * Returns OK, SYNTAX or TOO_LONG and the split parts. */
RelaisAddressResult
relais_address_parse_mailbox (RelaisAddressCursor *cur, char **local_part, char **domain)
{
  const char *local = cur->p;
  const char *dom;

  if (*cur->p == '"')
    {
      if (!parse_quoted_string (cur))
        return RELAIS_ADDRESS_SYNTAX;
    }
  else if (!parse_dot_string (cur))
    return RELAIS_ADDRESS_SYNTAX;
  if (*cur->p != '@')
    return RELAIS_ADDRESS_SYNTAX;
  if (cur->p - local > RELAIS_ADDRESS_MAX_LOCAL_PART)
    return RELAIS_ADDRESS_TOO_LONG;
  cur->p++;
  dom = cur->p;
  if (*cur->p == '[')
    {
      if (!relais_address_parse_literal (cur))
        return RELAIS_ADDRESS_SYNTAX;
    }
  else if (!relais_address_parse_domain (cur))
    return RELAIS_ADDRESS_SYNTAX;
  if (cur->p - dom > RELAIS_ADDRESS_MAX_DOMAIN)
    return RELAIS_ADDRESS_TOO_LONG;
  if (local_part != NULL)
    *local_part = g_strndup (local, (gsize) (dom - 1 - local));
  if (domain != NULL)
    *domain = g_strndup (dom, (gsize) (cur->p - dom));
  return RELAIS_ADDRESS_OK;
}

gboolean
relais_address_is_valid_mailbox (const char *address, gboolean allow_utf8)
{
  RelaisAddressCursor cur = { address, FALSE };

  g_return_val_if_fail (address != NULL, FALSE);
  if (relais_address_parse_mailbox (&cur, NULL, NULL) != RELAIS_ADDRESS_OK || *cur.p != '\0')
    return FALSE;
  if (cur.eightbit && (!allow_utf8 || !g_utf8_validate (address, -1, NULL)))
    return FALSE;
  return TRUE;
}

gboolean
relais_address_is_valid_domain (const char *domain, gboolean allow_utf8)
{
  RelaisAddressCursor cur = { domain, FALSE };

  g_return_val_if_fail (domain != NULL, FALSE);
  if (strlen (domain) > RELAIS_ADDRESS_MAX_DOMAIN)
    return FALSE;
  if (!relais_address_parse_domain (&cur) || *cur.p != '\0')
    return FALSE;
  if (cur.eightbit && (!allow_utf8 || !g_utf8_validate (domain, -1, NULL)))
    return FALSE;
  return TRUE;
}
