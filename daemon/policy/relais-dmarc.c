/* SPDX-License-Identifier: GPL-3.0-or-later
 * DMARC evaluation. See relais-dmarc.h.
 *
 * Domains are compared in one form: lower case A-labels without a trailing
 * dot, so that a From domain in UTF-8 aligns with the same domain in a DKIM
 * d= tag. The From field is cut into RFC 5322 tokens (atoms, quoted strings,
 * domain literals, specials; comments and folding dropped) and read as an
 * address list from those. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-dmarc.h"

#include <string.h>

#include "relais-dns-check.h"
#include "relais-error.h"
#include "relais-header.h"

static gboolean
is_fws (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- the record (RFC 7489 §6.3, §6.4) ---- */

void
relais_dmarc_record_free (RelaisDmarcRecord *record)
{
  if (!record)
    return;
  g_free (record->rua);
  g_free (record->ruf);
  g_free (record);
}

static char *
strip_fws (const char *start, const char *end)
{
  while (start < end && is_fws (*start))
    start++;
  while (end > start && is_fws (end[-1]))
    end--;
  return g_strndup (start, end - start);
}

/* TEXT starts with the v=DMARC1 tag (§6.6.3 step 4: other records are
 * discarded). */
static gboolean
is_dmarc_record (const char *text)
{
  while (is_fws (*text))
    text++;
  if (*text != 'v' && *text != 'V')
    return FALSE;
  text++;
  while (is_fws (*text))
    text++;
  if (*text++ != '=')
    return FALSE;
  while (is_fws (*text))
    text++;
  if (!g_str_has_prefix (text, "DMARC1"))
    return FALSE;
  text += strlen ("DMARC1");
  while (is_fws (*text))
    text++;
  return *text == ';' || *text == '\0';
}

static gboolean
parse_policy (const char *value, RelaisDmarcPolicy *policy)
{
  if (g_ascii_strcasecmp (value, "none") == 0)
    *policy = RELAIS_DMARC_POLICY_NONE;
  else if (g_ascii_strcasecmp (value, "quarantine") == 0)
    *policy = RELAIS_DMARC_POLICY_QUARANTINE;
  else if (g_ascii_strcasecmp (value, "reject") == 0)
    *policy = RELAIS_DMARC_POLICY_REJECT;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_alignment (const char *value, RelaisDmarcAlignment *alignment)
{
  if (g_ascii_strcasecmp (value, "r") == 0)
    *alignment = RELAIS_DMARC_ALIGN_RELAXED;
  else if (g_ascii_strcasecmp (value, "s") == 0)
    *alignment = RELAIS_DMARC_ALIGN_STRICT;
  else
    return FALSE;
  return TRUE;
}

/* rua= holds at least one syntactically valid URI (§6.4: a comma-separated
 * list, each URI possibly followed by "!" and a size limit). */
static gboolean
has_valid_uri (const char *rua)
{
  g_auto(GStrv) uris = NULL;

  if (!rua)
    return FALSE;
  uris = g_strsplit (rua, ",", -1);
  for (guint i = 0; uris[i]; i++)
    {
      g_autofree char *uri = g_strstrip (g_strdup (uris[i]));
      char *limit = strchr (uri, '!');

      if (limit)
        *limit = '\0';
      if (uri[0] != '\0' && g_uri_is_valid (uri, G_URI_FLAGS_NONE, NULL))
        return TRUE;
    }
  return FALSE;
}

static gboolean
valid_tag_name (const char *name)
{
  if (!g_ascii_isalpha (name[0]))
    return FALSE;
  for (const char *c = name; *c; c++)
    if (!g_ascii_isalnum (*c) && *c != '_')
      return FALSE;
  return TRUE;
}

RelaisDmarcRecord *
relais_dmarc_record_parse (const char *text, GError **error)
{
  g_autoptr(RelaisDmarcRecord) record = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_auto(GStrv) specs = NULL;
  g_autofree char *bad_policy = NULL;   /* what is wrong with p= or sp= */
  gboolean has_subdomain_policy = FALSE;

  g_return_val_if_fail (text != NULL, NULL);
  if (!is_dmarc_record (text))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "Not a DMARC record: it must start with v=DMARC1");
      return NULL;
    }
  record = g_new0 (RelaisDmarcRecord, 1);
  record->percent = 100;
  bad_policy = g_strdup ("there is no p= tag");
  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  specs = g_strsplit (text, ";", -1);
  for (guint i = 0; specs[i]; i++)
    {
      const char *equal = strchr (specs[i], '=');
      g_autofree char *spec = strip_fws (specs[i], specs[i] + strlen (specs[i]));
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;
      g_autofree char *lower = NULL;

      if (spec[0] == '\0')
        continue;   /* an empty spec, as after a final ";" */
      if (!equal)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "Bad DMARC record: \"%.64s\" is not a tag=value pair", spec);
          return NULL;
        }
      name = strip_fws (specs[i], equal);
      value = strip_fws (equal + 1, equal + strlen (equal));
      if (!valid_tag_name (name))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "Bad DMARC record: \"%.64s\" is not a tag name", name);
          return NULL;
        }
      for (const char *c = value; *c; c++)
        if ((guchar) *c < ' ' && !is_fws (*c))
          {
            g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                         "Bad DMARC record: the value of %s= has a control character", name);
            return NULL;
          }
      lower = g_ascii_strdown (name, -1);
      if (!g_hash_table_add (seen, g_strdup (lower)))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "Bad DMARC record: the tag %s= is given twice", lower);
          return NULL;
        }
      if (strcmp (lower, "v") == 0)
        continue;   /* first and DMARC1: is_dmarc_record (); again: given twice */
      if (strcmp (lower, "p") == 0)
        {
          g_clear_pointer (&bad_policy, g_free);
          if (!parse_policy (value, &record->policy))
            bad_policy = g_strdup_printf ("p=%.64s is not none, quarantine or reject", value);
        }
      else if (strcmp (lower, "sp") == 0)
        {
          if (!parse_policy (value, &record->subdomain_policy))
            {
              if (!bad_policy)
                bad_policy = g_strdup_printf ("sp=%.64s is not none, quarantine or reject", value);
            }
          else
            has_subdomain_policy = TRUE;
        }
      else if (strcmp (lower, "pct") == 0)
        {
          guint64 percent = 0;

          if (value[0] == '\0' || strlen (value) > 3 || strspn (value, "0123456789") != strlen (value)
              || !g_ascii_string_to_unsigned (value, 10, 0, 100, &percent, NULL))
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "Bad DMARC record: pct=%.64s is not a number from 0 to 100", value);
              return NULL;
            }
          record->percent = (guint) percent;
        }
      else if (strcmp (lower, "adkim") == 0 || strcmp (lower, "aspf") == 0)
        {
          if (!parse_alignment (value, lower[1] == 'd' ? &record->dkim_alignment : &record->spf_alignment))
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "Bad DMARC record: %s=%.64s is neither r (relaxed) nor s (strict)", lower, value);
              return NULL;
            }
        }
      else if (strcmp (lower, "rua") == 0)
        record->rua = g_steal_pointer (&value);
      else if (strcmp (lower, "ruf") == 0)
        record->ruf = g_steal_pointer (&value);
      /* fo=, rf=, ri= and unknown tags: not used here */
    }
  if (!has_subdomain_policy)
    record->subdomain_policy = record->policy;
  if (bad_policy)
    {
      /* RFC 7489 §6.6.3 step 6 */
      if (!has_valid_uri (record->rua))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND,
                       "The DMARC record has no valid policy (%s) and no rua= address: it is ignored",
                       bad_policy);
          return NULL;
        }
      record->policy = record->subdomain_policy = RELAIS_DMARC_POLICY_NONE;
      record->policy_defaulted = TRUE;
    }
  return g_steal_pointer (&record);
}

/* ---- the From domain (RFC 5322 §3.4, RFC 7489 §6.6.1) ---- */

typedef enum {
  TOKEN_ATOM,     /* atext and dots: an atom, a dot-atom, an obs-phrase */
  TOKEN_QUOTED,   /* a quoted string */
  TOKEN_LITERAL,  /* a domain literal, [...] */
  TOKEN_SPECIAL,  /* one of < > , : ; @ */
} TokenKind;

typedef struct {
  TokenKind kind;
  char special;
  char *text;     /* atoms and literals */
} Token;

static void
token_clear (gpointer data)
{
  g_free (((Token *) data)->text);
}

static gboolean
is_atext (char c)
{
  return c != '\0' && (g_ascii_isalnum (c) || (guchar) c >= 0x80 || strchr ("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* Skips a comment or quoted string starting at *P (its opening character),
 * nested comments and quoted pairs included; FALSE when it does not end. */
static gboolean
skip_delimited (const char **p, char open, char close)
{
  int depth = 1;

  for (const char *c = *p + 1; *c; c++)
    {
      if (*c == '\\' && c[1] != '\0')
        c++;
      else if (*c == close && --depth == 0)
        {
          *p = c + 1;
          return TRUE;
        }
      else if (*c == open && open != close)
        depth++;
    }
  return FALSE;
}

static GArray *
tokenize (const char *value, GError **error)
{
  g_autoptr(GArray) tokens = g_array_new (FALSE, TRUE, sizeof (Token));
  const char *p = value;

  g_array_set_clear_func (tokens, token_clear);
  while (*p)
    {
      Token token = { 0 };
      const char *start = p;

      if (is_fws (*p))
        {
          p++;
          continue;
        }
      if (*p == '(' || *p == '"')
        {
          if (!skip_delimited (&p, *p, *p == '(' ? ')' : '"'))
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "The From field does not parse: a %s does not end",
                           *start == '(' ? "comment" : "quoted string");
              return NULL;
            }
          if (*start == '(')
            continue;
          token.kind = TOKEN_QUOTED;
        }
      else if (*p == '[')
        {
          const char *end = strchr (p, ']');

          if (!end)
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "The From field does not parse: a [ has no ]");
              return NULL;
            }
          token.kind = TOKEN_LITERAL;
          token.text = g_strndup (p, end + 1 - p);
          p = end + 1;
        }
      else if (strchr ("<>,:;@", *p))
        {
          token.kind = TOKEN_SPECIAL;
          token.special = *p++;
        }
      else if (is_atext (*p))
        {
          while (is_atext (*p))
            p++;
          token.kind = TOKEN_ATOM;
          token.text = g_strndup (start, p - start);
        }
      else
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "The From field does not parse: unexpected character 0x%02x", (guchar) *p);
          return NULL;
        }
      g_array_append_val (tokens, token);
    }
  return g_steal_pointer (&tokens);
}

static gboolean
is_special (const Token *token, char special)
{
  return token->kind == TOKEN_SPECIAL && token->special == special;
}

/* The domain of the addr-spec TOKENS[START..END), lower case. */
static char *
addr_spec_domain (GArray *tokens, guint start, guint end, GError **error)
{
  guint at = end;
  g_autoptr(GString) domain = g_string_new (NULL);

  for (guint i = start; i < end; i++)
    {
      Token *token = &g_array_index (tokens, Token, i);

      if (is_special (token, '@'))
        {
          if (at != end)
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "The From address has more than one @");
              return NULL;
            }
          at = i;
        }
      else if (token->kind == TOKEN_SPECIAL)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "The From address does not parse: unexpected \"%c\"", token->special);
          return NULL;
        }
    }
  if (at == end || at + 1 == end)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "The From address has no domain");
      return NULL;
    }
  if (at == start)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "The From address has no local part");
      return NULL;
    }
  for (guint i = at + 1; i < end; i++)
    {
      Token *token = &g_array_index (tokens, Token, i);

      if (token->kind == TOKEN_LITERAL)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "The From address has an address literal (%s), not a domain", token->text);
          return NULL;
        }
      if (token->kind != TOKEN_ATOM)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "The From address has a quoted string where its domain should be");
          return NULL;
        }
      /* "example . com" is an (obsolete) domain, "exa mple.com" is not */
      if (domain->len > 0 && domain->str[domain->len - 1] != '.' && token->text[0] != '.')
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "The From address's domain has a space in \"%s %s\"", domain->str, token->text);
          return NULL;
        }
      g_string_append (domain, token->text);
    }
  if (!g_utf8_validate (domain->str, -1, NULL) || domain->str[0] == '.'
      || g_str_has_suffix (domain->str, ".") || strstr (domain->str, ".."))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "The From address's domain \"%s\" is not a domain name", domain->str);
      return NULL;
    }
  for (const char *c = domain->str; *c; c++)
    if ((guchar) *c < 0x80 && !g_ascii_isalnum (*c) && !strchr ("-_.", *c))
      {
        g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                     "The From address's domain \"%s\" is not a domain name", domain->str);
        return NULL;
      }
  return g_utf8_strdown (domain->str, -1);
}

/* The domain of the mailbox TOKENS[START..END) (name-addr or addr-spec). */
static char *
mailbox_domain (GArray *tokens, guint start, guint end, GError **error)
{
  guint open = end;
  guint close;

  for (guint i = start; i < end; i++)
    if (is_special (&g_array_index (tokens, Token, i), '<'))
      {
        open = i;
        break;
      }
  if (open == end)
    return addr_spec_domain (tokens, start, end, error);
  /* name-addr: a display name (words only), <, [obs-route:] addr-spec, > */
  for (guint i = start; i < open; i++)
    if (g_array_index (tokens, Token, i).kind != TOKEN_ATOM && g_array_index (tokens, Token, i).kind != TOKEN_QUOTED)
      {
        g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                     "The From field does not parse: a display name holds a special character");
        return NULL;
      }
  if (!is_special (&g_array_index (tokens, Token, end - 1), '>'))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "The From field does not parse: something follows the address in <>");
      return NULL;
    }
  close = end - 1;
  for (guint i = open + 1; i < close; i++)
    if (is_special (&g_array_index (tokens, Token, i), ':'))
      open = i;   /* skip an obsolete route, "<@relay,@relay:user@domain>" */
  return addr_spec_domain (tokens, open + 1, close, error);
}

gboolean
relais_dmarc_from_domain (const char *from_field_value, char **domain, GError **error)
{
  g_autoptr(GArray) tokens = NULL;
  g_autoptr(GPtrArray) domains = g_ptr_array_new_with_free_func (g_free);
  guint start = 0;
  int depth = 0;

  g_return_val_if_fail (from_field_value != NULL && domain != NULL, FALSE);
  if (!(tokens = tokenize (from_field_value, error)))
    return FALSE;
  for (guint i = 0; i <= tokens->len; i++)
    {
      Token *token = i < tokens->len ? &g_array_index (tokens, Token, i) : NULL;
      char *one;

      if (token && token->kind == TOKEN_SPECIAL)
        {
          if (token->special == '<' && depth++ > 0)
            break;
          if (token->special == '>' && --depth < 0)
            break;
          if (depth == 0 && (token->special == ':' || token->special == ';'))
            {
              g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                           "The From field uses a group (\"name: addresses;\"): DMARC needs one mailbox");
              return FALSE;
            }
        }
      if (token && !(depth == 0 && is_special (token, ',')))
        continue;
      if (depth != 0)
        break;
      /* the end of a list member; an empty one (obs-mbox-list) is skipped */
      if (i > start)
        {
          if (!(one = mailbox_domain (tokens, start, i, error)))
            return FALSE;
          g_ptr_array_add (domains, one);
        }
      start = i + 1;
    }
  if (depth != 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "The From field does not parse: unbalanced < and >");
      return FALSE;
    }
  if (domains->len == 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "The From field has no address");
      return FALSE;
    }
  if (domains->len > 1)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "The From field has %u addresses: DMARC needs exactly one (RFC 7489 §6.6.1)", domains->len);
      return FALSE;
    }
  *domain = g_strdup (g_ptr_array_index (domains, 0));
  return TRUE;
}

/* ---- discovery (RFC 7489 §6.6.3) ---- */

RelaisDnsResult
relais_dmarc_dns_lookup (const char *name, GPtrArray *records, gpointer user_data)
{
  (void) user_data;
  return relais_dns_lookup_txt (name, records);
}

typedef enum {
  FOUND_RECORD,   /* one DMARC record, parsed */
  FOUND_NOTHING,  /* no DMARC record at that name: try the organizational domain */
  FOUND_SEVERAL,  /* several DMARC records: none applies (step 5) */
  FOUND_IGNORED,  /* no valid policy and no rua=: none applies (step 6) */
  FOUND_BROKEN,   /* a DMARC record that does not parse: permerror */
  FOUND_TEMPFAIL, /* the lookup failed for now: temperror */
} Discovery;

static Discovery
discover_at (const char *domain, RelaisDmarcTxtLookupFunc lookup, gpointer lookup_data,
             RelaisDmarcRecord **record, char **reason)
{
  g_autofree char *name = g_strconcat ("_dmarc.", domain, NULL);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  const char *text = NULL;
  guint count = 0;
  RelaisDnsResult result = lookup (name, texts, lookup_data);

  if (result == RELAIS_DNS_TEMPFAIL)
    {
      *reason = g_strdup_printf ("the DNS lookup of %s failed for now", name);
      return FOUND_TEMPFAIL;
    }
  if (result != RELAIS_DNS_FOUND)
    return FOUND_NOTHING;
  for (guint i = 0; i < texts->len; i++)
    if (is_dmarc_record (g_ptr_array_index (texts, i)))
      {
        text = g_ptr_array_index (texts, i);
        count++;
      }
  if (count == 0)
    return FOUND_NOTHING;
  if (count > 1)
    {
      *reason = g_strdup_printf ("%s has %u DMARC records: none applies", name, count);
      return FOUND_SEVERAL;
    }
  if (!(*record = relais_dmarc_record_parse (text, &error)))
    {
      *reason = g_strdup_printf ("%s: %s", name, error->message);
      return g_error_matches (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND) ? FOUND_IGNORED : FOUND_BROKEN;
    }
  return FOUND_RECORD;
}

/* ---- evaluation ---- */

void
relais_dmarc_answer_free (RelaisDmarcAnswer *answer)
{
  if (!answer)
    return;
  g_free (answer->from_domain);
  g_free (answer->org_domain);
  g_free (answer->policy_domain);
  g_free (answer->reason);
  g_free (answer);
}

/* DOMAIN as lower case A-labels without a trailing dot; NULL when it is not a
 * domain name. */
static char *
ascii_domain (const char *domain)
{
  g_autofree char *copy = NULL;
  g_autofree char *ascii = NULL;
  gsize length;

  if (!domain || !g_utf8_validate (domain, -1, NULL))
    return NULL;
  copy = g_strdup (domain);
  length = strlen (copy);
  if (length > 1 && copy[length - 1] == '.')
    copy[length - 1] = '\0';
  if (copy[0] == '\0' || copy[0] == '.' || g_str_has_suffix (copy, ".") || strstr (copy, ".."))
    return NULL;
  if (!(ascii = g_hostname_to_ascii (copy)))
    return NULL;
  for (const char *c = ascii; *c; c++)
    if (!g_ascii_isalnum (*c) && !strchr ("-_.", *c))
      return NULL;
  return g_ascii_strdown (ascii, -1);
}

/* DOMAIN (any form) is aligned with the From domain FROM (ASCII), whose
 * organizational domain is ORG, in MODE. */
static gboolean
aligned (const char *domain, const char *from, const char *org, const RelaisPsl *psl,
         RelaisDmarcAlignment mode)
{
  g_autofree char *ascii = ascii_domain (domain);
  g_autofree char *other_org = NULL;

  if (!ascii)
    return FALSE;
  if (mode == RELAIS_DMARC_ALIGN_STRICT)
    return strcmp (ascii, from) == 0;
  other_org = relais_psl_organizational_domain (psl, ascii);
  return other_org && strcmp (other_org, org) == 0;
}

static RelaisDmarcPolicy
less_strict (RelaisDmarcPolicy policy)
{
  return policy == RELAIS_DMARC_POLICY_REJECT ? RELAIS_DMARC_POLICY_QUARANTINE : RELAIS_DMARC_POLICY_NONE;
}

static const char *
alignment_to_string (RelaisDmarcAlignment alignment)
{
  return alignment == RELAIS_DMARC_ALIGN_STRICT ? "strict" : "relaxed";
}

RelaisDmarcAnswer *
relais_dmarc_evaluate (const char *from_domain, const char *spf_domain, RelaisSpfResult spf_result,
                       GPtrArray *dkim_verdicts, const RelaisPsl *psl, RelaisDmarcTxtLookupFunc lookup,
                       gpointer lookup_data, guint sample)
{
  RelaisDmarcAnswer *answer = g_new0 (RelaisDmarcAnswer, 1);
  g_autoptr(RelaisDmarcRecord) record = NULL;
  g_autoptr(GString) passes = g_string_new (NULL);
  const char *dkim_pass = NULL;
  Discovery found;

  answer->percent = 100;
  answer->result = RELAIS_DMARC_PERMERROR;
  g_return_val_if_fail (lookup != NULL, answer);
  if (!(answer->from_domain = ascii_domain (from_domain))
      || !(answer->org_domain = relais_psl_organizational_domain (psl, answer->from_domain)))
    {
      g_clear_pointer (&answer->from_domain, g_free);
      answer->reason = g_strdup_printf ("the From domain \"%s\" is not a domain name", from_domain ? from_domain : "");
      return answer;
    }

  /* the From domain, then its organizational domain */
  found = discover_at (answer->from_domain, lookup, lookup_data, &record, &answer->reason);
  if (found == FOUND_RECORD)
    answer->policy_domain = g_strdup (answer->from_domain);
  else if (found == FOUND_NOTHING && strcmp (answer->org_domain, answer->from_domain) != 0)
    {
      found = discover_at (answer->org_domain, lookup, lookup_data, &record, &answer->reason);
      if (found == FOUND_RECORD)
        answer->policy_domain = g_strdup (answer->org_domain);
    }
  switch (found)
    {
    case FOUND_RECORD:
      break;
    case FOUND_NOTHING:
      answer->result = RELAIS_DMARC_NONE;
      answer->reason = strcmp (answer->org_domain, answer->from_domain) != 0
        ? g_strdup_printf ("no DMARC record at _dmarc.%s or _dmarc.%s", answer->from_domain, answer->org_domain)
        : g_strdup_printf ("no DMARC record at _dmarc.%s", answer->from_domain);
      return answer;
    case FOUND_SEVERAL:
    case FOUND_IGNORED:
      answer->result = RELAIS_DMARC_NONE;
      return answer;
    case FOUND_BROKEN:
      answer->result = RELAIS_DMARC_PERMERROR;
      return answer;
    case FOUND_TEMPFAIL:
    default:
      answer->result = RELAIS_DMARC_TEMPERROR;
      return answer;
    }

  /* sp= for a subdomain when the record is the organizational domain's */
  answer->policy = strcmp (answer->policy_domain, answer->from_domain) != 0 ? record->subdomain_policy
                                                                            : record->policy;
  answer->percent = record->percent;
  answer->applied = sample < record->percent;
  answer->spf_aligned = spf_result == RELAIS_SPF_PASS && spf_domain
                        && aligned (spf_domain, answer->from_domain, answer->org_domain, psl,
                                    record->spf_alignment);
  for (guint i = 0; dkim_verdicts && i < dkim_verdicts->len && !answer->dkim_aligned; i++)
    {
      const RelaisDkimVerdict *verdict = g_ptr_array_index (dkim_verdicts, i);

      if (verdict->result == RELAIS_DKIM_PASS && verdict->domain
          && aligned (verdict->domain, answer->from_domain, answer->org_domain, psl, record->dkim_alignment))
        {
          answer->dkim_aligned = TRUE;
          dkim_pass = verdict->domain;
        }
    }
  if (answer->spf_aligned)
    g_string_append_printf (passes, "SPF passed for %s", spf_domain);
  if (answer->dkim_aligned)
    g_string_append_printf (passes, "%sDKIM passed for d=%s", passes->len ? ", " : "", dkim_pass);

  if (answer->spf_aligned || answer->dkim_aligned)
    {
      answer->result = RELAIS_DMARC_PASS;
      answer->disposition = RELAIS_DMARC_POLICY_NONE;
      answer->reason = g_strdup_printf ("%s, aligned with %s (record at _dmarc.%s)", passes->str,
                                        answer->from_domain, answer->policy_domain);
      return answer;
    }
  answer->result = RELAIS_DMARC_FAIL;
  answer->disposition = answer->applied ? answer->policy : less_strict (answer->policy);
  answer->reason = g_strdup_printf ("no SPF or DKIM pass aligned with %s (%s SPF, %s DKIM alignment; "
                                    "record at _dmarc.%s)%s",
                                    answer->from_domain, alignment_to_string (record->spf_alignment),
                                    alignment_to_string (record->dkim_alignment), answer->policy_domain,
                                    answer->applied ? "" : "; outside pct=, policy lowered");
  return answer;
}

/* ---- Authentication-Results (RFC 8601) ---- */

const char *
relais_dmarc_result_to_string (RelaisDmarcResult result)
{
  switch (result)
    {
    case RELAIS_DMARC_PASS: return "pass";
    case RELAIS_DMARC_FAIL: return "fail";
    case RELAIS_DMARC_TEMPERROR: return "temperror";
    case RELAIS_DMARC_PERMERROR: return "permerror";
    case RELAIS_DMARC_NONE:
    default: return "none";
    }
}

const char *
relais_dmarc_policy_to_string (RelaisDmarcPolicy policy)
{
  switch (policy)
    {
    case RELAIS_DMARC_POLICY_QUARANTINE: return "quarantine";
    case RELAIS_DMARC_POLICY_REJECT: return "reject";
    case RELAIS_DMARC_POLICY_NONE:
    default: return "none";
    }
}

char *
relais_dmarc_format (const RelaisDmarcAnswer *answer)
{
  GString *out;

  g_return_val_if_fail (answer != NULL, NULL);
  out = g_string_new ("dmarc=");
  g_string_append (out, relais_dmarc_result_to_string (answer->result));
  if (answer->result == RELAIS_DMARC_PASS || answer->result == RELAIS_DMARC_FAIL)
    g_string_append_printf (out, " (p=%s dis=%s)", relais_dmarc_policy_to_string (answer->policy),
                            relais_dmarc_policy_to_string (answer->disposition));
  else if ((answer->result == RELAIS_DMARC_TEMPERROR || answer->result == RELAIS_DMARC_PERMERROR)
           && answer->reason)
    {
      g_string_append (out, " reason=");
      relais_header_append_value (out, answer->reason);
    }
  if (answer->from_domain)
    {
      g_string_append (out, " header.from=");
      relais_header_append_value (out, answer->from_domain);
    }
  return g_string_free (out, FALSE);
}
