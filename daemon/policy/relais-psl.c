/* SPDX-License-Identifier: GPL-3.0-or-later
 * The public suffix list. See relais-psl.h.
 *
 * The rules are kept in one hash table, name → the kinds of rule written for
 * it (a flag each: "co.uk" normal, "*.ck" stored as "ck" wildcard, "!www.ck"
 * stored as "www.ck" exception). A domain is matched by looking up each of
 * its suffixes, from the last label leftwards: the list's algorithm (an
 * exception rule prevails; otherwise the matching rule with the most labels;
 * otherwise "*") needs nothing more. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-psl.h"

#include <string.h>

#include "relais-error.h"

enum {
  RULE_NORMAL    = 1 << 0,
  RULE_WILDCARD  = 1 << 1,  /* "*.NAME": any one label under NAME */
  RULE_EXCEPTION = 1 << 2,  /* "!NAME" */
};

struct _RelaisPsl {
  GHashTable *rules;  /* char * name → GUINT_TO_POINTER (RULE_* flags) */
  guint n_rules;
};

void
relais_psl_free (RelaisPsl *psl)
{
  if (!psl)
    return;
  g_hash_table_unref (psl->rules);
  g_free (psl);
}

guint
relais_psl_get_n_rules (const RelaisPsl *psl)
{
  g_return_val_if_fail (psl != NULL, 0);
  return psl->n_rules;
}

/* NAME has at least one label and no empty one. */
static gboolean
labels_ok (const char *name)
{
  if (name[0] == '\0' || name[0] == '.')
    return FALSE;
  return strstr (name, "..") == NULL && !g_str_has_suffix (name, ".");
}

static void
add_form (RelaisPsl *psl, const char *name, guint kind)
{
  guint flags = GPOINTER_TO_UINT (g_hash_table_lookup (psl->rules, name));

  g_hash_table_replace (psl->rules, g_strdup (name), GUINT_TO_POINTER (flags | kind));
}

/* One rule line (its first word), in every form a name may come in: lower
 * case as written, and its A-label or U-label counterpart. */
static gboolean
add_rule (RelaisPsl *psl, const char *word)
{
  guint kind = RULE_NORMAL;
  g_autofree char *lower = NULL;
  g_autofree char *ascii = NULL;
  g_autofree char *unicode = NULL;

  if (word[0] == '!')
    {
      kind = RULE_EXCEPTION;
      word++;
    }
  else if (g_str_has_prefix (word, "*."))
    {
      kind = RULE_WILDCARD;
      word += 2;
    }
  if (!g_utf8_validate (word, -1, NULL) || !labels_ok (word) || strpbrk (word, "*!"))
    return FALSE;
  lower = g_utf8_strdown (word, -1);
  add_form (psl, lower, kind);
  if ((ascii = g_hostname_to_ascii (lower)))
    {
      g_autofree char *ascii_lower = g_ascii_strdown (ascii, -1);

      if (strcmp (ascii_lower, lower) != 0)
        add_form (psl, ascii_lower, kind);
    }
  if ((unicode = g_hostname_to_unicode (lower)))
    {
      g_autofree char *unicode_lower = g_utf8_strdown (unicode, -1);

      if (strcmp (unicode_lower, lower) != 0)
        add_form (psl, unicode_lower, kind);
    }
  return TRUE;
}

RelaisPsl *
relais_psl_load (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(RelaisPsl) psl = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &contents, NULL, error))
    {
      g_prefix_error (error, "Cannot read the public suffix list: ");
      return NULL;
    }
  psl = g_new0 (RelaisPsl, 1);
  psl->rules = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      char *word = g_strstrip (lines[i]);
      gsize end = strcspn (word, " \t\r\v\f");

      /* "Each line is only read up to the first whitespace" (the list's format) */
      word[end] = '\0';
      if (word[0] == '\0' || g_str_has_prefix (word, "//"))
        continue;
      if (add_rule (psl, word))
        psl->n_rules++;
    }
  if (psl->n_rules == 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                   "The public suffix list %s holds no rule: is it the right file?", path);
      return NULL;
    }
  return g_steal_pointer (&psl);
}

static gpointer
load_default (gpointer data)
{
  g_autoptr(GError) error = NULL;
  RelaisPsl *psl = relais_psl_load (RELAIS_PSL_DEFAULT_PATH, &error);

  (void) data;
  if (!psl)
    g_warning ("%s. DMARC takes the last two labels of a domain as its organizational domain, "
               "which is wrong under suffixes such as co.uk: install the publicsuffix package.",
               error->message);
  return psl;
}

const RelaisPsl *
relais_psl_default (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, load_default, NULL);
}

/* DOMAIN in lower case without its trailing dot; NULL when it is no domain
 * name. */
static char *
normalize (const char *domain)
{
  g_autofree char *lower = NULL;
  gsize length;

  if (!domain || !g_utf8_validate (domain, -1, NULL))
    return NULL;
  lower = g_utf8_strdown (domain, -1);
  length = strlen (lower);
  if (length > 1 && lower[length - 1] == '.')
    lower[length - 1] = '\0';
  if (!labels_ok (lower) || strpbrk (lower, " \t\r\n"))
    return NULL;
  return g_steal_pointer (&lower);
}

/* The number of labels of NAME's public suffix (at least 1), and in
 * *N_LABELS the number of labels of NAME. */
static guint
suffix_labels (const RelaisPsl *psl, const char *name, guint *n_labels)
{
  g_autoptr(GPtrArray) suffixes = g_ptr_array_new ();  /* [k - 1]: the last k labels, in NAME */
  guint best = 1;
  guint exception = 0;

  for (const char *c = name + strlen (name); c > name; c--)
    if (c[-1] == '.')
      g_ptr_array_add (suffixes, (gpointer) c);
  g_ptr_array_add (suffixes, (gpointer) name);
  *n_labels = suffixes->len;
  if (!psl)
    return 1;
  for (guint k = 1; k <= suffixes->len; k++)
    {
      guint flags = GPOINTER_TO_UINT (g_hash_table_lookup (psl->rules, g_ptr_array_index (suffixes, k - 1)));

      if (flags & RULE_EXCEPTION)
        exception = k;
      if ((flags & RULE_NORMAL) && k > best)
        best = k;
      if ((flags & RULE_WILDCARD) && k < suffixes->len && k + 1 > best)
        best = k + 1;
    }
  /* an exception rule prevails: its suffix is the rule minus its first label */
  return exception > 1 ? exception - 1 : best;
}

/* The last N labels of NAME (N at most its number of labels). */
static char *
last_labels (const char *name, guint n)
{
  const char *start = name + strlen (name);

  while (start > name)
    {
      if (start[-1] == '.' && --n == 0)
        break;
      start--;
    }
  return g_strdup (start);
}

char *
relais_psl_public_suffix (const RelaisPsl *psl, const char *domain)
{
  g_autofree char *name = normalize (domain);
  guint n_labels;

  if (!name)
    return NULL;
  return last_labels (name, suffix_labels (psl, name, &n_labels));
}

char *
relais_psl_organizational_domain (const RelaisPsl *psl, const char *domain)
{
  g_autofree char *name = normalize (domain);
  guint n_labels;
  guint suffix;

  if (!name)
    return NULL;
  suffix = suffix_labels (psl, name, &n_labels);
  if (suffix >= n_labels)
    return g_steal_pointer (&name);
  return last_labels (name, suffix + 1);
}
