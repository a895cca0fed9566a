/* SPDX-License-Identifier: GPL-3.0-or-later
 * Header fields of a message: see relais-header.h. */
#include "relais-header.h"

#include <string.h>

gboolean
relais_header_at_end (const char *p, const char *end)
{
  return p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'));
}

const char *
relais_header_field_end (const char *p, const char *end)
{
  for (;;)
    {
      const char *nl = memchr (p, '\n', (gsize) (end - p));

      if (nl == NULL)
        return end;
      p = nl + 1;
      if (p >= end || (*p != ' ' && *p != '\t'))
        return p;
    }
}

gboolean
relais_header_field_is (const char *p, const char *end, const char *name, const char **value)
{
  gsize n = strlen (name);
  const char *colon = p + n;

  if ((gsize) (end - p) <= n || g_ascii_strncasecmp (p, name, n) != 0)
    return FALSE;
  while (colon < end && (*colon == ' ' || *colon == '\t'))
    colon++;
  if (colon >= end || *colon != ':')
    return FALSE;
  if (value != NULL)
    *value = colon + 1;
  return TRUE;
}

char *
relais_header_single_value (const char *message, gsize length, const char *name, guint *count)
{
  const char *p = message, *end = message + length;
  const char *found = NULL, *found_end = NULL;
  guint n = 0;

  while (p < end && !relais_header_at_end (p, end))
    {
      const char *next = relais_header_field_end (p, end);
      const char *value;

      if (relais_header_field_is (p, next, name, &value))
        {
          n++;
          found = value;
          found_end = next;
        }
      p = next;
    }
  if (count != NULL)
    *count = n;
  if (n != 1)
    return NULL;
  while (found_end > found && (found_end[-1] == '\n' || found_end[-1] == '\r'))
    found_end--;
  return g_strndup (found, (gsize) (found_end - found));
}

void
relais_header_append_value (GString *out, const char *value)
{
  gboolean token = value[0] != '\0';

  for (const char *c = value; *c; c++)
    if ((guchar) *c <= ' ' || (guchar) *c >= 0x7f || strchr ("()<>@,;:\\\"/[]?=", *c))
      token = FALSE;
  if (token)
    {
      g_string_append (out, value);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *c = value; *c; c++)
    {
      if (*c == '"' || *c == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, ((guchar) *c < ' ' || *c == 0x7f) ? '?' : *c);
    }
  g_string_append_c (out, '"');
}
