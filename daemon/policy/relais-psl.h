/* SPDX-License-Identifier: GPL-3.0-or-later
 * The public suffix list (https://publicsuffix.org/list/), read from Debian's
 * publicsuffix package, and the organizational domain of RFC 7489 §3.2 that
 * DMARC aligns identifiers on: the public suffix of a domain plus one label.
 *
 * Rules are the list's three kinds: normal ("co.uk"), wildcard ("*.ck": any
 * one label under ck is a suffix) and exception ("!www.ck": www.ck is not a
 * suffix although *.ck says so). Both the ICANN and the PRIVATE sections of
 * the file count, as RFC 7489 and the list's own algorithm do not tell them
 * apart: a domain under a private suffix (say blogspot.com) is its own
 * organization. The default rule "*" applies when no rule matches, so the
 * last label of any name is a public suffix.
 *
 * Internationalized rules are written in UTF-8 in the file; each is kept both
 * in lower case UTF-8 and as A-labels (g_hostname_to_ascii), so that names in
 * either form match. A loaded list is never changed: it may be read from any
 * thread. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where Debian's publicsuffix package puts the list. */
#define RELAIS_PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

typedef struct _RelaisPsl RelaisPsl;

/* Reads the list at PATH. NULL with an error (G_FILE_ERROR when the file
 * cannot be read; RELAIS_ERROR_INVALID_ARGUMENT when it holds no usable rule)
 * otherwise. Rules the list format does not allow (a wildcard other than the
 * first label, an empty label, bytes that are not UTF-8) are skipped. */
RelaisPsl       *relais_psl_load (const char *path, GError **error);
void             relais_psl_free (RelaisPsl *psl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisPsl, relais_psl_free)

/* The number of rules read (each line once, whatever its forms). */
guint            relais_psl_get_n_rules (const RelaisPsl *psl);

/* The list at RELAIS_PSL_DEFAULT_PATH, loaded on the first call (thread-safe)
 * and kept for the life of the process. NULL when it cannot be read: a
 * warning is logged (once) saying to install the publicsuffix package, and
 * relais_psl_organizational_domain (NULL, ...) then falls back to the last
 * two labels, which is wrong for names under multi-label suffixes such as
 * co.uk. */
const RelaisPsl *relais_psl_default (void);

/* The public suffix of DOMAIN (lower case, without a trailing dot; in the
 * form DOMAIN was given in, UTF-8 or A-labels): the labels the prevailing
 * rule covers. With PSL NULL only the default rule "*" applies (the last
 * label). NULL when DOMAIN is not a domain name (empty, an empty label). */
char            *relais_psl_public_suffix (const RelaisPsl *psl, const char *domain);

/* The organizational domain of DOMAIN (RFC 7489 §3.2): its public suffix
 * plus one label, lower case, no trailing dot. A DOMAIN that is itself a
 * public suffix (say co.uk) is its own organizational domain. With PSL NULL
 * (no list could be read): the last two labels. NULL when DOMAIN is not a
 * domain name. */
char            *relais_psl_organizational_domain (const RelaisPsl *psl, const char *domain);

G_END_DECLS
