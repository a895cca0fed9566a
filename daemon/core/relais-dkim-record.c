/* SPDX-License-Identifier: GPL-3.0-or-later
 * A DKIM key's DNS record as published: see relais-dkim-record.h. */
#include "relais-dkim-record.h"

#include <string.h>

#define TXT_STRING_MAX 255      /* one <character-string> of a TXT record */

char *
relais_dkim_record_name (const char *selector, const char *domain)
{
  g_return_val_if_fail (selector != NULL && domain != NULL, NULL);
  return g_strdup_printf ("%s._domainkey.%s", selector, domain);
}

/* Where the p= tag starts in RECORD (its "p"), or NULL. */
static const char *
find_p_tag (const char *record)
{
  const char *spec = record;

  for (;;)
    {
      const char *p = spec;

      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == 'p')
        {
          const char *q = p + 1;

          while (*q == ' ' || *q == '\t')
            q++;
          if (*q == '=')
            return p;
        }
      if (!(spec = strchr (spec, ';')))
        return NULL;
      spec++;
    }
}

/* TEXT[0..LENGTH) as quoted strings of at most 255 bytes each. */
static void
append_strings (GString *out, const char *text, gsize length)
{
  for (gsize pos = 0; pos < length; pos += TXT_STRING_MAX)
    {
      gsize end = MIN (length, pos + TXT_STRING_MAX);

      if (out->len > 0)
        g_string_append_c (out, ' ');
      g_string_append_c (out, '"');
      for (gsize i = pos; i < end; i++)
        {
          if (text[i] == '"' || text[i] == '\\')
            g_string_append_c (out, '\\');
          g_string_append_c (out, text[i]);
        }
      g_string_append_c (out, '"');
    }
}

char *
relais_dkim_record_zone_text (const char *record)
{
  GString *out;
  const char *p;

  g_return_val_if_fail (record != NULL, NULL);
  out = g_string_new (NULL);
  p = find_p_tag (record);
  if (!p)
    p = record;
  append_strings (out, record, p - record);
  append_strings (out, p, strlen (p));
  if (out->len == 0)
    g_string_append (out, "\"\"");
  return g_string_free (out, FALSE);
}

char *
relais_dkim_record_zone_line (const char *name, const char *record)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (name != NULL && record != NULL, NULL);
  text = relais_dkim_record_zone_text (record);
  return g_strdup_printf ("%s. IN TXT ( %s )", name, text);
}
