/* SPDX-License-Identifier: GPL-3.0-or-later
 * SPF check_host (RFC 7208). See relais-spf.h.
 *
 * Implemented: the record lookup (§4.4-4.5: TXT, exactly one "v=spf1"
 * record), every mechanism (all, include, a, mx, ptr, ip4, ip6, exists) with
 * qualifiers and dual CIDR lengths, the redirect and exp modifiers (unknown
 * modifiers are ignored), macros (§7: s l o d i p h v, and c r t in
 * explanations; digits and "r" transformers, delimiters, %% %_ %-, upper-case
 * letters URL-escaped; long names cut from the left to 253 characters), the
 * limits of §4.6.4 (10 terms that cause DNS lookups, 2 void lookups, 10 MX
 * names per mx, the first 10 PTR names per ptr and %{p}).
 *
 * Not implemented: the deprecated SPF RR type 99 (RFC 7208 drops it), a DNS
 * cache across checks, and the "HELO first" check of §2.3 (the caller decides
 * which identity to check). %{p} lookups do not count against the limits. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-spf.h"

#include <arpa/nameser.h>
#include <string.h>

#include "relais-dns-query.h"
#include "relais-error.h"
#include "relais-networks.h"

#define MAX_DNS_TERMS 10
#define MAX_VOID_LOOKUPS 2
#define MAX_NAMES 10        /* MX names per mx, PTR names per ptr */
#define MAX_DOMAIN_LEN 253

static gint timeout_ms = RELAIS_SPF_DEFAULT_TIMEOUT_MS;

void
relais_spf_set_timeout (guint milliseconds)
{
  g_atomic_int_set (&timeout_ms, milliseconds > 0 ? (gint) MIN (milliseconds, (guint) G_MAXINT)
                                                  : RELAIS_SPF_DEFAULT_TIMEOUT_MS);
}

guint
relais_spf_get_timeout (void)
{
  return (guint) g_atomic_int_get (&timeout_ms);
}

const char *
relais_spf_result_to_string (RelaisSpfResult result)
{
  switch (result)
    {
    case RELAIS_SPF_PASS: return "pass";
    case RELAIS_SPF_FAIL: return "fail";
    case RELAIS_SPF_SOFTFAIL: return "softfail";
    case RELAIS_SPF_NEUTRAL: return "neutral";
    case RELAIS_SPF_TEMPERROR: return "temperror";
    case RELAIS_SPF_PERMERROR: return "permerror";
    case RELAIS_SPF_NONE:
    default: return "none";
    }
}

void
relais_spf_answer_free (RelaisSpfAnswer *answer)
{
  if (answer == NULL)
    return;
  g_free (answer->domain);
  g_free (answer->mechanism);
  g_free (answer->problem);
  g_free (answer->explanation);
  g_free (answer);
}

/* ---- one evaluation ----------------------------------------------------- */

typedef struct {
  RelaisSpfLookupFunc lookup;
  gpointer lookup_data;
  GCancellable *cancellable;   /* the worker's: a cancelled lookup is a temporary failure */
  GInetAddress *ip;            /* IPv4-mapped addresses as IPv4 */
  char *sender;                /* local@domain */
  char *local;
  char *sender_domain;
  char *helo;
  char *receiver;
  guint dns_terms;
  guint void_lookups;
  char *mechanism;             /* the deciding mechanism */
  char *problem;               /* the first error met */
  char *explanation;
} Spf;

static void
spf_clear (Spf *spf)
{
  g_clear_object (&spf->ip);
  g_free (spf->sender);
  g_free (spf->local);
  g_free (spf->sender_domain);
  g_free (spf->helo);
  g_free (spf->receiver);
  g_free (spf->mechanism);
  g_free (spf->problem);
  g_free (spf->explanation);
}

static void
spf_init (Spf *spf, RelaisSpfLookupFunc lookup, gpointer lookup_data, GInetAddress *ip,
          const char *domain, const char *sender, const char *helo, const char *receiver)
{
  const char *at = sender != NULL ? strrchr (sender, '@') : NULL;

  memset (spf, 0, sizeof *spf);
  spf->lookup = lookup;
  spf->lookup_data = lookup_data;
  spf->ip = relais_client_address_normalize (ip);
  if (at != NULL)
    {
      spf->local = at > sender ? g_strndup (sender, (gsize) (at - sender)) : g_strdup ("postmaster");
      spf->sender_domain = g_strdup (at + 1);
    }
  else
    {
      spf->local = g_strdup ("postmaster");
      spf->sender_domain = g_strdup (sender != NULL && *sender ? sender : domain);
    }
  spf->sender = g_strdup_printf ("%s@%s", spf->local, spf->sender_domain);
  spf->helo = g_strdup (helo != NULL && *helo ? helo : "unknown");
  spf->receiver = g_strdup (receiver != NULL && *receiver ? receiver : "unknown");
}

static void G_GNUC_PRINTF (2, 3)
set_problem (Spf *spf, const char *format, ...)
{
  va_list args;

  if (spf->problem != NULL)
    return;
  va_start (args, format);
  spf->problem = g_strdup_vprintf (format, args);
  va_end (args);
}

static RelaisDnsResult
lookup (Spf *spf, const char *name, RelaisSpfRecordType type, GPtrArray *records)
{
  if (g_cancellable_is_cancelled (spf->cancellable))
    return RELAIS_DNS_TEMPFAIL;
  return spf->lookup (name, type, records, spf->lookup_data);
}

static gboolean
is_ipv4 (GInetAddress *address)
{
  return g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4;
}

/* Whether the first PREFIX bits of A and B are equal (same family). */
static gboolean
same_network (GInetAddress *a, GInetAddress *b, guint prefix)
{
  const guint8 *x, *y;
  guint bytes = prefix / 8, bits = prefix % 8;

  if (g_inet_address_get_family (a) != g_inet_address_get_family (b))
    return FALSE;
  x = g_inet_address_to_bytes (a);
  y = g_inet_address_to_bytes (b);
  if (memcmp (x, y, bytes) != 0)
    return FALSE;
  return bits == 0 || ((x[bytes] ^ y[bytes]) & (0xff << (8 - bits)) & 0xff) == 0;
}

/* ---- macros (§7) -------------------------------------------------------- */

static char *
ip_dotted (GInetAddress *ip)
{
  const guint8 *bytes = g_inet_address_to_bytes (ip);
  GString *s;

  if (is_ipv4 (ip))
    return g_inet_address_to_string (ip);
  s = g_string_new (NULL);
  for (guint i = 0; i < 16; i++)
    g_string_append_printf (s, "%s%x.%x", i > 0 ? "." : "", bytes[i] >> 4, bytes[i] & 0xf);
  return g_string_free (s, FALSE);
}

/* Whether NAME is DOMAIN or a name under it. */
static gboolean
name_within (const char *name, const char *domain)
{
  gsize n = strlen (name), d = strlen (domain);

  if (n == d)
    return g_ascii_strcasecmp (name, domain) == 0;
  return n > d && name[n - d - 1] == '.' && g_ascii_strcasecmp (name + n - d, domain) == 0;
}

/* The client's PTR names (the first 10) whose A or AAAA records include it. */
static GPtrArray *
validated_names (Spf *spf, RelaisDnsResult *ptr_result)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *valid = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *reverse = NULL;
  g_autofree char *dotted = ip_dotted (spf->ip);
  g_auto(GStrv) parts = g_strsplit (dotted, ".", -1);
  GString *r = g_string_new (NULL);

  for (guint i = g_strv_length (parts); i > 0; i--)
    g_string_append_printf (r, "%s.", parts[i - 1]);
  g_string_append (r, is_ipv4 (spf->ip) ? "in-addr.arpa" : "ip6.arpa");
  reverse = g_string_free (r, FALSE);

  *ptr_result = lookup (spf, reverse, RELAIS_SPF_RR_PTR, names);
  for (guint i = 0; i < names->len && i < MAX_NAMES; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_object_unref);

      if (lookup (spf, name, is_ipv4 (spf->ip) ? RELAIS_SPF_RR_A : RELAIS_SPF_RR_AAAA, addresses)
          != RELAIS_DNS_FOUND)
        continue;
      for (guint k = 0; k < addresses->len; k++)
        if (g_inet_address_equal (g_ptr_array_index (addresses, k), spf->ip))
          {
            g_ptr_array_add (valid, g_strdup (name));
            break;
          }
    }
  return valid;
}

static char *
macro_p (Spf *spf, const char *domain)
{
  RelaisDnsResult ptr;
  g_autoptr(GPtrArray) names = NULL;

  if (spf->lookup == NULL)
    return g_strdup ("unknown");
  names = validated_names (spf, &ptr);
  for (guint i = 0; i < names->len; i++)   /* the domain itself first, then a name under it */
    if (g_ascii_strcasecmp (g_ptr_array_index (names, i), domain) == 0)
      return g_strdup (domain);
  for (guint i = 0; i < names->len; i++)
    if (name_within (g_ptr_array_index (names, i), domain))
      return g_strdup (g_ptr_array_index (names, i));
  return g_strdup (names->len > 0 ? g_ptr_array_index (names, 0) : "unknown");
}

/* The value of macro LETTER (lower case), NULL when it is not one. */
static char *
macro_value (Spf *spf, char letter, const char *domain, gboolean explanation)
{
  switch (letter)
    {
    case 's': return g_strdup (spf->sender);
    case 'l': return g_strdup (spf->local);
    case 'o': return g_strdup (spf->sender_domain);
    case 'd': return g_strdup (domain);
    case 'i': return ip_dotted (spf->ip);
    case 'p': return macro_p (spf, domain);
    case 'v': return g_strdup (is_ipv4 (spf->ip) ? "in-addr" : "ip6");
    case 'h': return g_strdup (spf->helo);
    case 'c': return explanation ? g_inet_address_to_string (spf->ip) : NULL;
    case 'r': return explanation ? g_strdup (spf->receiver) : NULL;
    case 't': return explanation ? g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC)
                                 : NULL;
    default: return NULL;
    }
}

/* Applies the transformers of a macro: split VALUE at DELIMITERS, reverse
 * when asked, keep the DIGITS rightmost parts (0: all), join with dots. */
static char *
transform (const char *value, guint digits, gboolean reverse, const char *delimiters)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autofree char *copy = g_strdup (value);
  GString *out = g_string_new (NULL);
  char *start = copy;
  guint first;

  for (char *p = copy;; p++)
    if (*p == '\0' || strchr (delimiters, *p) != NULL)
      {
        gboolean end = *p == '\0';

        *p = '\0';
        g_ptr_array_add (parts, start);
        start = p + 1;
        if (end)
          break;
      }
  if (reverse)
    for (guint i = 0; i < parts->len / 2; i++)
      {
        gpointer t = parts->pdata[i];

        parts->pdata[i] = parts->pdata[parts->len - 1 - i];
        parts->pdata[parts->len - 1 - i] = t;
      }
  first = digits > 0 && digits < parts->len ? parts->len - digits : 0;
  for (guint i = first; i < parts->len; i++)
    g_string_append_printf (out, "%s%s", i > first ? "." : "", (const char *) parts->pdata[i]);
  return g_string_free (out, FALSE);
}

static char *
expand (Spf *spf, const char *text, const char *domain, gboolean explanation, GError **error)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    {
      const char *q;
      char letter;
      guint digits = 0;
      gboolean reverse = FALSE;
      g_autofree char *delimiters = NULL;
      g_autofree char *value = NULL;
      g_autofree char *transformed = NULL;

      if (*p != '%')
        {
          g_string_append_c (out, *p);
          continue;
        }
      switch (p[1])
        {
        case '%': g_string_append_c (out, '%'); p++; continue;
        case '_': g_string_append_c (out, ' '); p++; continue;
        case '-': g_string_append (out, "%20"); p++; continue;
        case '{': break;
        default:
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "“%s”: “%%” must be followed by “{”, “%%”, “_” or “-”", text);
          g_string_free (out, TRUE);
          return NULL;
        }
      q = p + 2;
      letter = *q++;
      value = g_ascii_isalpha (letter) ? macro_value (spf, g_ascii_tolower (letter), domain, explanation) : NULL;
      if (value == NULL)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "“%s”: unknown macro letter “%c”", text, letter ? letter : '?');
          g_string_free (out, TRUE);
          return NULL;
        }
      if (g_ascii_isdigit (*q))
        {
          guint64 n = 0;

          for (; g_ascii_isdigit (*q); q++)
            n = MIN (n * 10 + (guint64) (*q - '0'), 1000);
          if (n == 0)
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "“%s”: a macro keeps at least one part", text);
              g_string_free (out, TRUE);
              return NULL;
            }
          digits = (guint) n;
        }
      if (*q == 'r' || *q == 'R')
        reverse = TRUE, q++;
      delimiters = g_strndup (q, strspn (q, ".-+,/_="));
      q += strlen (delimiters);
      if (*q != '}')
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "“%s”: a macro is not closed by “}”", text);
          g_string_free (out, TRUE);
          return NULL;
        }
      transformed = transform (value, digits, reverse, *delimiters ? delimiters : ".");
      if (g_ascii_isupper (letter))
        {
          g_autofree char *escaped = g_uri_escape_string (transformed, NULL, FALSE);

          g_string_append (out, escaped);
        }
      else
        g_string_append (out, transformed);
      p = q;
    }
  return g_string_free (out, FALSE);
}

char *
relais_spf_expand (RelaisSpfLookupFunc lookup_func, gpointer lookup_data, GInetAddress *ip,
                   const char *domain, const char *sender, const char *helo, const char *receiver,
                   const char *text, gboolean explanation, GError **error)
{
  Spf spf;
  char *result;

  g_return_val_if_fail (G_IS_INET_ADDRESS (ip), NULL);
  g_return_val_if_fail (domain != NULL && text != NULL, NULL);
  spf_init (&spf, lookup_func, lookup_data, ip, domain, sender, helo, receiver);
  result = expand (&spf, text, domain, explanation, error);
  spf_clear (&spf);
  return result;
}

/* ---- record syntax (§4.6, §5) ------------------------------------------- */

/* Whether NAME is a domain check_host can look up (§4.3): labels of 1-63
 * characters, at least two of them, at most 253 characters. */
static gboolean
valid_domain (const char *name)
{
  g_auto(GStrv) labels = NULL;
  gsize len = strlen (name);
  guint count;

  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len == 0 || len > MAX_DOMAIN_LEN)
    return FALSE;
  labels = g_strsplit (name, ".", -1);
  count = g_strv_length (labels);
  if (name[strlen (name) - 1] == '.')
    count--;
  if (count < 2)
    return FALSE;
  for (guint i = 0; i < count; i++)
    if (labels[i][0] == '\0' || strlen (labels[i]) > 63)
      return FALSE;
  return TRUE;
}

/* Whether SPEC (before expansion) ends as a domain-spec must: a macro, or a
 * top label that is not all digits. */
static gboolean
valid_domain_spec (const char *spec)
{
  gsize len = strlen (spec);
  const char *dot;
  gboolean alpha = FALSE;

  if (len > 0 && spec[len - 1] == '}')
    return TRUE;
  if (len > 0 && spec[len - 1] == '.')
    len--;
  dot = g_strrstr_len (spec, (gssize) len, ".");
  if (dot == NULL || spec + len - dot - 1 < 1)
    return FALSE;
  if (dot[1] == '-' || spec[len - 1] == '-')
    return FALSE;
  for (const char *p = dot + 1; p < spec + len; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '-')
        return FALSE;
      alpha = alpha || g_ascii_isalpha (*p);
    }
  return alpha;
}

/* An expanded domain-spec cut from the left to 253 characters (§7.3). */
static char *
expand_domain (Spf *spf, const char *spec, const char *domain)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = expand (spf, spec, domain, FALSE, &error);
  const char *p;

  if (name == NULL)
    {
      set_problem (spf, "%s", error->message);
      return NULL;
    }
  p = name;
  while (strlen (p) > MAX_DOMAIN_LEN && strchr (p, '.') != NULL)
    p = strchr (p, '.') + 1;
  return g_ascii_strdown (p, -1);
}

/* A CIDR length of ("/" ("0" / %x31-39 0*2DIGIT)) up to MAX, or -1. */
static gint
parse_length (const char *text, gint max)
{
  gint value = 0;

  if (text[0] == '\0' || (text[0] == '0' && text[1] != '\0') || strlen (text) > 3)
    return -1;
  for (const char *p = text; *p; p++)
    {
      if (!g_ascii_isdigit (*p))
        return -1;
      value = value * 10 + (*p - '0');
    }
  return value <= max ? value : -1;
}

/* Splits "spec/24//64" of a, mx: SPEC (NULL when absent) and both lengths. */
static gboolean
parse_dual_cidr (const char *arg, char **spec, gint *v4, gint *v6)
{
  const char *slash = strchr (arg, '/');

  *v4 = 32;
  *v6 = 128;
  *spec = slash != NULL ? g_strndup (arg, (gsize) (slash - arg)) : g_strdup (arg);
  if (slash != NULL)
    {
      const char *v6_text = strstr (slash, "//");

      if (v6_text != slash)
        {
          g_autofree char *v4_text = g_strndup (slash + 1, v6_text != NULL ? (gsize) (v6_text - slash - 1)
                                                                         : strlen (slash + 1));

          if ((*v4 = parse_length (v4_text, 32)) < 0)
            return FALSE;
        }
      if (v6_text != NULL && (*v6 = parse_length (v6_text + 2, 128)) < 0)
        return FALSE;
    }
  return TRUE;
}

/* ---- evaluation (§4.6, §5, §6) ------------------------------------------ */

typedef enum { NO_MATCH, MATCH, ERROR } Match;

static RelaisSpfResult check_host (Spf *spf, const char *domain, gboolean in_include, guint depth);

static gboolean
count_dns_term (Spf *spf, const char *term)
{
  if (++spf->dns_terms > MAX_DNS_TERMS)
    {
      set_problem (spf, "more than %d DNS lookups (at “%s”)", MAX_DNS_TERMS, term);
      return FALSE;
    }
  return TRUE;
}

static gboolean
count_void (Spf *spf, RelaisDnsResult result, const char *term)
{
  if (result != RELAIS_DNS_NXDOMAIN && result != RELAIS_DNS_NO_RECORDS)
    return TRUE;
  if (++spf->void_lookups > MAX_VOID_LOOKUPS)
    {
      set_problem (spf, "more than %d lookups found nothing (at “%s”)", MAX_VOID_LOOKUPS, term);
      return FALSE;
    }
  return TRUE;
}

/* Whether NAME has an address in the client's network of V4 or V6 bits.
 * *RESULT: the lookup's answer. */
static gboolean
name_matches (Spf *spf, const char *name, gint v4, gint v6, RelaisDnsResult *result)
{
  g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean v4_client = is_ipv4 (spf->ip);

  *result = lookup (spf, name, v4_client ? RELAIS_SPF_RR_A : RELAIS_SPF_RR_AAAA, addresses);
  for (guint i = 0; i < addresses->len; i++)
    if (same_network (g_ptr_array_index (addresses, i), spf->ip, (guint) (v4_client ? v4 : v6)))
      return TRUE;
  return FALSE;
}

/* *ERROR_RESULT is set when returning ERROR. */
static Match
mechanism (Spf *spf, const char *term, const char *name, const char *arg, const char *domain,
           guint depth, RelaisSpfResult *error_result)
{
  g_autofree char *spec = NULL;
  g_autofree char *target = NULL;
  gint v4 = 32, v6 = 128;
  RelaisDnsResult dns;

  *error_result = RELAIS_SPF_PERMERROR;
  if (g_ascii_strcasecmp (name, "all") == 0)
    {
      if (arg != NULL)
        goto syntax;
      return MATCH;
    }
  if (g_ascii_strcasecmp (name, "ip4") == 0 || g_ascii_strcasecmp (name, "ip6") == 0)
    {
      gboolean want_v4 = name[2] == '4';
      const char *slash = arg != NULL ? strchr (arg, '/') : NULL;
      g_autofree char *text = arg != NULL ? g_strndup (arg, slash ? (gsize) (slash - arg) : strlen (arg)) : NULL;
      g_autoptr(GInetAddress) network = text != NULL ? g_inet_address_new_from_string (text) : NULL;
      gint length = want_v4 ? 32 : 128;

      if (network == NULL || is_ipv4 (network) != want_v4
          || (slash != NULL && (length = parse_length (slash + 1, want_v4 ? 32 : 128)) < 0))
        goto syntax;
      return same_network (network, spf->ip, (guint) length) ? MATCH : NO_MATCH;
    }

  if (g_ascii_strcasecmp (name, "a") == 0 || g_ascii_strcasecmp (name, "mx") == 0)
    {
      if (!parse_dual_cidr (arg != NULL ? arg : "", &spec, &v4, &v6))
        goto syntax;
      if (arg != NULL && *spec == '\0' && arg[0] != '/')
        goto syntax;
    }
  else if (g_ascii_strcasecmp (name, "include") == 0 || g_ascii_strcasecmp (name, "exists") == 0)
    {
      if (arg == NULL || *arg == '\0')
        goto syntax;
      spec = g_strdup (arg);
    }
  else if (g_ascii_strcasecmp (name, "ptr") == 0)
    {
      if (arg != NULL && *arg == '\0')
        goto syntax;
      spec = g_strdup (arg != NULL ? arg : "");
    }
  else
    {
      set_problem (spf, "unknown mechanism “%s” in the record of %s", term, domain);
      return ERROR;
    }
  if (*spec != '\0' && !valid_domain_spec (spec))
    goto syntax;
  /* every other mechanism looks names up */
  if (!count_dns_term (spf, term))
    return ERROR;
  target = *spec != '\0' ? expand_domain (spf, spec, domain) : g_strdup (domain);
  if (target == NULL)
    return ERROR;

  if (g_ascii_strcasecmp (name, "include") == 0)
    {
      RelaisSpfResult result = check_host (spf, target, TRUE, depth + 1);

      switch (result)
        {
        case RELAIS_SPF_PASS: return MATCH;
        case RELAIS_SPF_FAIL: case RELAIS_SPF_SOFTFAIL: case RELAIS_SPF_NEUTRAL: return NO_MATCH;
        case RELAIS_SPF_TEMPERROR: *error_result = RELAIS_SPF_TEMPERROR; return ERROR;
        case RELAIS_SPF_NONE:
          set_problem (spf, "“%s”: %s has no SPF record", term, target);
          return ERROR;
        case RELAIS_SPF_PERMERROR:
        default: return ERROR;
        }
    }
  if (g_ascii_strcasecmp (name, "a") == 0)
    {
      gboolean matched = name_matches (spf, target, v4, v6, &dns);

      if (dns == RELAIS_DNS_TEMPFAIL)
        goto tempfail;
      return !count_void (spf, dns, term) ? ERROR : matched ? MATCH : NO_MATCH;
    }
  if (g_ascii_strcasecmp (name, "mx") == 0)
    {
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

      dns = lookup (spf, target, RELAIS_SPF_RR_MX, names);
      if (dns == RELAIS_DNS_TEMPFAIL)
        goto tempfail;
      if (!count_void (spf, dns, term))
        return ERROR;
      if (names->len > MAX_NAMES)
        {
          set_problem (spf, "“%s”: %s has more than %d MX records", term, target, MAX_NAMES);
          return ERROR;
        }
      for (guint i = 0; i < names->len; i++)
        {
          gboolean matched = name_matches (spf, g_ptr_array_index (names, i), v4, v6, &dns);

          if (matched)
            return MATCH;
          if (dns == RELAIS_DNS_TEMPFAIL)
            goto tempfail;
        }
      return NO_MATCH;
    }
  if (g_ascii_strcasecmp (name, "ptr") == 0)
    {
      g_autoptr(GPtrArray) valid = validated_names (spf, &dns);

      if (!count_void (spf, dns, term))
        return ERROR;
      for (guint i = 0; i < valid->len; i++)
        if (name_within (g_ptr_array_index (valid, i), target))
          return MATCH;
      return NO_MATCH;   /* a failed PTR lookup is no match (§5.5) */
    }
  /* exists: an A record, whatever the client's family */
  dns = lookup (spf, target, RELAIS_SPF_RR_A, NULL);
  if (dns == RELAIS_DNS_TEMPFAIL)
    goto tempfail;
  if (!count_void (spf, dns, term))
    return ERROR;
  return dns == RELAIS_DNS_FOUND ? MATCH : NO_MATCH;

syntax:
  set_problem (spf, "invalid mechanism “%s” in the record of %s", term, domain);
  return ERROR;
tempfail:
  set_problem (spf, "“%s”: the DNS lookup of %s failed", term, target);
  *error_result = RELAIS_SPF_TEMPERROR;
  return ERROR;
}

/* The explanation of EXP_SPEC (§6.2); NULL on any problem. */
static char *
explanation (Spf *spf, const char *exp_spec, const char *domain)
{
  g_autofree char *target = NULL;
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  char *text;
  g_autofree char *saved_problem = g_steal_pointer (&spf->problem);

  target = expand_domain (spf, exp_spec, domain);
  g_clear_pointer (&spf->problem, g_free);
  spf->problem = g_steal_pointer (&saved_problem);
  if (target == NULL || lookup (spf, target, RELAIS_SPF_RR_TXT, texts) != RELAIS_DNS_FOUND || texts->len != 1)
    return NULL;
  text = expand (spf, g_ptr_array_index (texts, 0), domain, TRUE, &error);
  if (text == NULL)
    return NULL;
  for (char *p = text; *p; p++)   /* printable ASCII only (§6.2) */
    if (*p < 0x20 || *p > 0x7e)
      *p = '?';
  return text;
}

/* The SPF record of DOMAIN: NONE and sets *RECORD, or NONE, TEMPERROR,
 * PERMERROR when there is not exactly one. */
static RelaisSpfResult
find_record (Spf *spf, const char *domain, char **record)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  RelaisDnsResult dns;
  guint found = 0;

  *record = NULL;
  dns = lookup (spf, domain, RELAIS_SPF_RR_TXT, texts);
  if (dns == RELAIS_DNS_TEMPFAIL)
    {
      set_problem (spf, "the DNS lookup of the TXT records of %s failed", domain);
      return RELAIS_SPF_TEMPERROR;
    }
  for (guint i = 0; i < texts->len; i++)
    {
      const char *text = g_ptr_array_index (texts, i);

      if (g_ascii_strncasecmp (text, "v=spf1", 6) == 0 && (text[6] == '\0' || text[6] == ' '))
        {
          found++;
          g_free (*record);
          *record = g_strdup (text + 6);
        }
    }
  if (found > 1)
    {
      g_clear_pointer (record, g_free);
      set_problem (spf, "%s has %u SPF records; it must have one", domain, found);
      return RELAIS_SPF_PERMERROR;
    }
  if (found == 0)
    set_problem (spf, "%s has no SPF record", domain);
  return RELAIS_SPF_NONE;
}

static RelaisSpfResult
qualifier_result (char qualifier)
{
  switch (qualifier)
    {
    case '-': return RELAIS_SPF_FAIL;
    case '~': return RELAIS_SPF_SOFTFAIL;
    case '?': return RELAIS_SPF_NEUTRAL;
    default: return RELAIS_SPF_PASS;
    }
}

static RelaisSpfResult
check_host (Spf *spf, const char *domain_in, gboolean in_include, guint depth)
{
  g_autofree char *domain = g_ascii_strdown (domain_in, -1);
  g_autofree char *record = NULL;
  g_auto(GStrv) terms = NULL;
  const char *redirect = NULL, *exp = NULL;
  gboolean has_all = FALSE;
  RelaisSpfResult result;
  gsize len = strlen (domain);

  if (len > 0 && domain[len - 1] == '.')
    domain[len - 1] = '\0';
  if (!valid_domain (domain))
    {
      set_problem (spf, "“%s” is not a domain name SPF can check", domain);
      return RELAIS_SPF_NONE;
    }
  result = find_record (spf, domain, &record);
  if (record == NULL)
    return result;

  /* the whole record is checked before any term is evaluated (§4.6) */
  terms = g_strsplit (record, " ", -1);
  for (guint i = 0; terms[i] != NULL; i++)
    {
      const char *term = terms[i];
      gsize name_len = strspn (term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

      if (*term == '\0')
        continue;
      if (g_ascii_isalpha (*term) && term[name_len] == '=')
        {
          if (g_ascii_strncasecmp (term, "redirect=", 9) == 0 || g_ascii_strncasecmp (term, "exp=", 4) == 0)
            {
              const char **slot = term[0] == 'r' || term[0] == 'R' ? &redirect : &exp;

              if (*slot != NULL || !valid_domain_spec (term + name_len + 1))
                {
                  set_problem (spf, "invalid or repeated modifier “%s” in the record of %s", term, domain);
                  return RELAIS_SPF_PERMERROR;
                }
              *slot = term + name_len + 1;
            }
          continue;   /* unknown modifiers are ignored (§6) */
        }
      if (g_ascii_strcasecmp (term + (strchr ("+-~?", *term) ? 1 : 0), "all") == 0)
        has_all = TRUE;
    }

  for (guint i = 0; terms[i] != NULL; i++)
    {
      const char *term = terms[i];
      char qualifier = '+';
      const char *start = term;
      g_autofree char *name = NULL;
      const char *arg = NULL;
      gsize name_len;
      RelaisSpfResult error_result;
      Match match;

      if (*term == '\0')
        continue;
      name_len = strspn (term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
      if (g_ascii_isalpha (*term) && term[name_len] == '=')
        continue;
      if (strchr ("+-~?", *term) != NULL)
        qualifier = *start++;
      name_len = strspn (start, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
      name = g_strndup (start, name_len);
      if (start[name_len] == ':')
        arg = start + name_len + 1;
      else if (start[name_len] == '/')
        arg = start + name_len;
      else if (start[name_len] != '\0')
        {
          set_problem (spf, "invalid term “%s” in the record of %s", term, domain);
          return RELAIS_SPF_PERMERROR;
        }
      match = mechanism (spf, term, name, arg, domain, depth, &error_result);
      if (match == ERROR)
        return error_result;
      if (match == NO_MATCH)
        continue;
      result = qualifier_result (qualifier);
      if (!in_include)
        {
          g_free (spf->mechanism);
          spf->mechanism = g_strdup (term);
        }
      if (result == RELAIS_SPF_FAIL && exp != NULL && !in_include)
        spf->explanation = explanation (spf, exp, domain);
      return result;
    }

  if (redirect != NULL && !has_all)
    {
      g_autofree char *target = NULL;

      if (!count_dns_term (spf, "redirect"))
        return RELAIS_SPF_PERMERROR;
      target = expand_domain (spf, redirect, domain);
      if (target == NULL)
        return RELAIS_SPF_PERMERROR;
      result = check_host (spf, target, in_include, depth + 1);
      if (result == RELAIS_SPF_NONE)
        {
          set_problem (spf, "redirect=%s: %s has no SPF record", redirect, target);
          return RELAIS_SPF_PERMERROR;
        }
      return result;
    }
  if (!in_include)
    {
      g_free (spf->mechanism);
      spf->mechanism = g_strdup ("default");
    }
  return RELAIS_SPF_NEUTRAL;
}

static RelaisSpfAnswer *
evaluate (Spf *spf, const char *domain)
{
  RelaisSpfAnswer *answer = g_new0 (RelaisSpfAnswer, 1);

  answer->result = check_host (spf, domain, FALSE, 0);
  answer->domain = g_ascii_strdown (domain, -1);
  if (answer->result != RELAIS_SPF_TEMPERROR && answer->result != RELAIS_SPF_PERMERROR
      && answer->result != RELAIS_SPF_NONE)
    answer->mechanism = g_steal_pointer (&spf->mechanism);
  else
    answer->problem = g_steal_pointer (&spf->problem);
  if (answer->result == RELAIS_SPF_FAIL)
    answer->explanation = g_steal_pointer (&spf->explanation);
  return answer;
}

RelaisSpfAnswer *
relais_spf_check_host_sync (RelaisSpfLookupFunc lookup_func, gpointer lookup_data, GInetAddress *ip,
                            const char *domain, const char *sender, const char *helo, const char *receiver)
{
  Spf spf;
  RelaisSpfAnswer *answer;

  g_return_val_if_fail (lookup_func != NULL, NULL);
  g_return_val_if_fail (G_IS_INET_ADDRESS (ip), NULL);
  g_return_val_if_fail (domain != NULL, NULL);
  spf_init (&spf, lookup_func, lookup_data, ip, domain, sender, helo, receiver);
  answer = evaluate (&spf, domain);
  spf_clear (&spf);
  return answer;
}

/* ---- the system's resolver and the worker thread ------------------------ */

static RelaisDnsResult
resolver_lookup (const char *name, RelaisSpfRecordType type, GPtrArray *records, gpointer user_data)
{
  static const int types[] = {
    [RELAIS_SPF_RR_A] = ns_t_a, [RELAIS_SPF_RR_AAAA] = ns_t_aaaa, [RELAIS_SPF_RR_MX] = ns_t_mx,
    [RELAIS_SPF_RR_PTR] = ns_t_ptr, [RELAIS_SPF_RR_TXT] = ns_t_txt,
  };

  return relais_dns_query (user_data, name, types[type], records);
}

typedef struct {
  RelaisSpfLookupFunc lookup;
  gpointer lookup_data;
  GInetAddress *ip;
  char *domain, *sender, *helo, *receiver;
} Request;

static void
request_free (Request *request)
{
  g_clear_object (&request->ip);
  g_free (request->domain);
  g_free (request->sender);
  g_free (request->helo);
  g_free (request->receiver);
  g_free (request);
}

static void
worker (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Request *request = task_data;
  struct __res_state state;
  gboolean resolver = request->lookup == NULL;
  Spf spf;
  RelaisSpfAnswer *answer;

  if (resolver && !relais_dns_resolver_open (&state))
    {
      answer = g_new0 (RelaisSpfAnswer, 1);
      answer->result = RELAIS_SPF_TEMPERROR;
      answer->domain = g_ascii_strdown (request->domain, -1);
      answer->problem = g_strdup ("cannot read the resolver configuration (/etc/resolv.conf)");
      g_task_return_pointer (task, answer, (GDestroyNotify) relais_spf_answer_free);
      return;
    }
  spf_init (&spf, resolver ? resolver_lookup : request->lookup, resolver ? &state : request->lookup_data,
            request->ip, request->domain, request->sender, request->helo, request->receiver);
  spf.cancellable = cancellable;
  answer = evaluate (&spf, request->domain);
  spf_clear (&spf);
  if (resolver)
    res_nclose (&state);
  if (g_task_return_error_if_cancelled (task))
    relais_spf_answer_free (answer);
  else
    g_task_return_pointer (task, answer, (GDestroyNotify) relais_spf_answer_free);
}

/* Past the timeout: temperror for DOMAIN (lower case). */
static gpointer
timed_out_answer (gpointer domain)
{
  RelaisSpfAnswer *answer = g_new0 (RelaisSpfAnswer, 1);

  answer->result = RELAIS_SPF_TEMPERROR;
  answer->domain = g_strdup (domain);
  answer->problem = g_strdup_printf ("the SPF check did not finish within %u ms", relais_spf_get_timeout ());
  return answer;
}

void
relais_spf_check_host_with_lookup_async (RelaisSpfLookupFunc lookup_func, gpointer lookup_data,
                                         GInetAddress *ip, const char *domain, const char *sender,
                                         const char *helo, const char *receiver, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Request *request;

  g_return_if_fail (G_IS_INET_ADDRESS (ip));
  g_return_if_fail (domain != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, relais_spf_check_host_with_lookup_async);

  request = g_new0 (Request, 1);
  request->lookup = lookup_func;
  request->lookup_data = lookup_data;
  request->ip = g_object_ref (ip);
  request->domain = g_strdup (domain);
  request->sender = g_strdup (sender);
  request->helo = g_strdup (helo);
  request->receiver = g_strdup (receiver);

  relais_dns_run_bounded (task, worker, request, (GDestroyNotify) request_free, relais_spf_get_timeout (),
                          timed_out_answer, g_ascii_strdown (domain, -1), g_free,
                          (GDestroyNotify) relais_spf_answer_free);
}

void
relais_spf_check_host_async (GInetAddress *ip, const char *domain, const char *sender, const char *helo,
                             const char *receiver, GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  relais_spf_check_host_with_lookup_async (NULL, NULL, ip, domain, sender, helo, receiver, cancellable,
                                           callback, user_data);
}

RelaisSpfAnswer *
relais_spf_check_host_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relais_spf_check_host_with_lookup_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- Received-SPF (§9.1) ------------------------------------------------ */

/* TEXT without control characters, parentheses and backslashes (for a comment). */
static char *
comment_text (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text != NULL ? text : ""; *p; p++)
    if ((guchar) *p >= 0x20 && (guchar) *p < 0x7f && *p != '(' && *p != ')' && *p != '\\')
      g_string_append_c (out, *p);
  return g_string_free (out, FALSE);
}

/* "; KEY=VALUE", VALUE as a dot-atom when it is one, else a quoted string. */
static void
append_pair (GString *out, const char *key, const char *value)
{
  gboolean atom = value != NULL && *value != '\0' && value[0] != '.'
                  && value[strlen (value) - 1] != '.' && strstr (value, "..") == NULL;

  for (const char *p = value != NULL ? value : ""; atom && *p; p++)
    atom = g_ascii_isalnum (*p) || strchr ("!#$%&'*+-/=?^_`{|}~.", *p) != NULL;
  g_string_append_printf (out, " %s=", key);
  if (atom)
    g_string_append (out, value);
  else
    {
      g_string_append_c (out, '"');
      for (const char *p = value != NULL ? value : ""; *p; p++)
        {
          if ((guchar) *p < 0x20 || (guchar) *p >= 0x7f)   /* a header stays ASCII */
            continue;
          if (*p == '"' || *p == '\\')
            g_string_append_c (out, '\\');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  g_string_append_c (out, ';');
}

char *
relais_spf_received_spf (const RelaisSpfAnswer *answer, GInetAddress *ip, const char *sender,
                         const char *helo, const char *identity, const char *receiver)
{
  g_autofree char *address = NULL;
  g_autofree char *who = NULL;
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) client = NULL;
  GString *out;

  g_return_val_if_fail (answer != NULL && G_IS_INET_ADDRESS (ip), NULL);
  out = g_string_new (relais_spf_result_to_string (answer->result));
  host = comment_text (receiver != NULL ? receiver : "unknown");
  client = relais_client_address_normalize (ip);
  address = g_inet_address_to_string (client);
  who = comment_text (sender != NULL && *sender ? sender : answer->domain);
  g_string_append_printf (out, " (%s: ", host);
  switch (answer->result)
    {
    case RELAIS_SPF_PASS:
      g_string_append_printf (out, "domain of %s designates %s as permitted sender", who, address);
      break;
    case RELAIS_SPF_FAIL:
      g_string_append_printf (out, "domain of %s does not designate %s as permitted sender", who, address);
      break;
    case RELAIS_SPF_SOFTFAIL:
      g_string_append_printf (out, "domain of transitioning %s does not designate %s as permitted sender",
                              who, address);
      break;
    case RELAIS_SPF_NEUTRAL:
      g_string_append_printf (out, "%s is neither permitted nor denied by domain of %s", address, who);
      break;
    case RELAIS_SPF_TEMPERROR:
      g_string_append_printf (out, "error in processing during lookup of %s", who);
      break;
    case RELAIS_SPF_PERMERROR:
      g_string_append_printf (out, "permanent error in processing domain of %s", who);
      break;
    case RELAIS_SPF_NONE:
    default:
      g_string_append_printf (out, "domain of %s does not designate permitted sender hosts", who);
      break;
    }
  g_string_append_c (out, ')');
  append_pair (out, "client-ip", address);
  append_pair (out, "envelope-from", sender != NULL ? sender : "");
  if (helo != NULL)
    append_pair (out, "helo", helo);
  if (receiver != NULL)
    append_pair (out, "receiver", receiver);
  append_pair (out, "identity", identity != NULL ? identity : "mailfrom");
  if (answer->mechanism != NULL)
    append_pair (out, "mechanism", answer->mechanism);
  if (answer->problem != NULL)
    append_pair (out, "problem", answer->problem);
  return g_string_free (out, FALSE);
}
