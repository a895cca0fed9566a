/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz harness: SPF (policy/relais-spf.c): the record parser, the macro
 * expander and check_host() with its include/redirect/exp recursion, over a
 * DNS made of the input's lines (no network):
 *   ip ADDRESS            the client (default 192.0.2.10)
 *   sender ADDRESS        MAIL FROM (default user@example.org)
 *   helo NAME             the HELO name (default mail.example.org)
 *   NAME TYPE VALUE       a record: TYPE is A, AAAA, MX ("[PREF ]HOST"), PTR
 *                         or TXT (VALUE is the rest of the line, as the
 *                         strings of a TXT record joined); SERVFAIL makes
 *                         every lookup of NAME fail
 *   anything else         a TXT record of example.org, the domain checked
 * Names match without case and trailing dot; a name with no record is
 * NXDOMAIN. Each TXT record of example.org also goes through the macro
 * expander; the Received-SPF field of the answer must be printable ASCII. */
#include <string.h>

#include "relais-fuzz.h"
#include "relais-spf.h"

#define DOMAIN "example.org"

typedef struct {
  char *name;     /* lower case, no trailing dot */
  char *type;
  char *value;
} Record;

static void
record_free (gpointer data)
{
  Record *record = data;

  g_free (record->name);
  g_free (record->type);
  g_free (record->value);
  g_free (record);
}

static const char *const types[] = { "A", "AAAA", "MX", "PTR", "TXT" };   /* by RelaisSpfRecordType */

static char *
normalize (const char *name)
{
  gsize len = strlen (name);

  if (len > 0 && name[len - 1] == '.')
    len--;
  return g_ascii_strdown (name, (gssize) len);
}

/* "NAME TYPE VALUE" with a known TYPE and no "=" in NAME, else NULL. */
static Record *
parse_record (const char *line)
{
  const char *space = strchr (line, ' ');
  const char *type, *value;
  Record *record;

  if (space == NULL || space == line || memchr (line, '=', (gsize) (space - line)) != NULL)
    return NULL;
  type = space + 1;
  value = strchr (type, ' ');
  if (value == NULL)
    value = type + strlen (type);
  for (guint i = 0; i <= G_N_ELEMENTS (types); i++)
    {
      const char *known = i < G_N_ELEMENTS (types) ? types[i] : "SERVFAIL";

      if ((gsize) (value - type) == strlen (known) && strncmp (type, known, strlen (known)) == 0)
        {
          g_autofree char *name = g_strndup (line, (gsize) (space - line));

          record = g_new0 (Record, 1);
          record->name = normalize (name);
          record->type = g_strdup (known);
          record->value = g_strdup (*value == ' ' ? value + 1 : value);
          return record;
        }
    }
  return NULL;
}

static RelaisDnsResult
zone_lookup (const char *name_in, RelaisSpfRecordType type, GPtrArray *records, gpointer user_data)
{
  GPtrArray *zone = user_data;
  g_autofree char *name = normalize (name_in);
  gboolean exists = FALSE;
  guint found = 0;

  for (guint i = 0; i < zone->len; i++)
    {
      Record *record = g_ptr_array_index (zone, i);
      g_autoptr (GInetAddress) address = NULL;
      g_auto (GStrv) words = NULL;
      g_autofree char *host = NULL;

      if (strcmp (record->name, name) != 0)
        continue;
      if (strcmp (record->type, "SERVFAIL") == 0)
        return RELAIS_DNS_TEMPFAIL;
      exists = TRUE;
      if (strcmp (record->type, types[type]) != 0)
        continue;
      switch (type)
        {
        case RELAIS_SPF_RR_A:
        case RELAIS_SPF_RR_AAAA:
          address = g_inet_address_new_from_string (record->value);
          if (address == NULL || (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
                                   != (type == RELAIS_SPF_RR_A))
            continue;
          if (records != NULL)
            g_ptr_array_add (records, g_steal_pointer (&address));
          break;
        case RELAIS_SPF_RR_MX:
        case RELAIS_SPF_RR_PTR:
          words = g_strsplit (record->value, " ", -1);
          host = words[0] != NULL ? normalize (words[g_strv_length (words) - 1]) : NULL;
          if (host == NULL || host[0] == '\0')
            continue;   /* a null MX is left out, as relais_dns_query does */
          if (records != NULL)
            g_ptr_array_add (records, g_steal_pointer (&host));
          break;
        case RELAIS_SPF_RR_TXT:
        default:
          if (records != NULL)
            g_ptr_array_add (records, g_strdup (record->value));
          break;
        }
      found++;
    }
  return found > 0 ? RELAIS_DNS_FOUND : exists ? RELAIS_DNS_NO_RECORDS : RELAIS_DNS_NXDOMAIN;
}

static void
check_printable (const char *text)
{
  for (const char *p = text; *p; p++)
    g_assert ((guchar) *p >= 0x20 && (guchar) *p < 0x7f);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GPtrArray) zone = g_ptr_array_new_with_free_func (record_free);
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_string ("192.0.2.10");
  g_autofree char *sender = g_strdup ("user@" DOMAIN);
  g_autofree char *helo = g_strdup ("mail." DOMAIN);
  g_autoptr (RelaisSpfAnswer) answer = NULL;
  g_autofree char *received = NULL;

  relais_fuzz_init ();
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = lines[i];
      gsize len = strlen (line);
      Record *record;

      if (len > 0 && line[len - 1] == '\r')
        line[len - 1] = '\0';
      if (g_str_has_prefix (line, "ip "))
        {
          g_autoptr (GInetAddress) address = g_inet_address_new_from_string (line + 3);

          if (address != NULL)
            g_set_object (&ip, address);
        }
      else if (g_str_has_prefix (line, "sender "))
        g_free (sender), sender = g_strdup (line + 7);
      else if (g_str_has_prefix (line, "helo "))
        g_free (helo), helo = g_strdup (line + 5);
      else if ((record = parse_record (line)) != NULL)
        g_ptr_array_add (zone, record);
      else
        {
          record = g_new0 (Record, 1);
          record->name = g_strdup (DOMAIN);
          record->type = g_strdup ("TXT");
          record->value = g_strdup (line);
          g_ptr_array_add (zone, record);
        }
    }

  for (guint i = 0; i < zone->len; i++)
    {
      Record *record = g_ptr_array_index (zone, i);

      if (strcmp (record->name, DOMAIN) != 0 || strcmp (record->type, "TXT") != 0)
        continue;
      for (guint explanation = 0; explanation < 2; explanation++)
        {
          g_autoptr (GError) error = NULL;
          g_autofree char *expanded = relais_spf_expand (zone_lookup, zone, ip, DOMAIN, sender, helo,
                                                         "mx." DOMAIN, record->value, explanation, &error);

          g_assert ((expanded == NULL) == (error != NULL));
        }
    }

  answer = relais_spf_check_host_sync (zone_lookup, zone, ip, DOMAIN, sender, helo, "mx." DOMAIN);
  g_assert (answer != NULL);
  if (answer->explanation != NULL)
    check_printable (answer->explanation);
  received = relais_spf_received_spf (answer, ip, sender, helo, "mailfrom", "mx." DOMAIN);
  check_printable (received);
  return 0;
}
