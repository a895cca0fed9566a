/* SPDX-License-Identifier: GPL-3.0-or-later
 * The address grammar of RFC 5321 §4.1.2: Mailbox, Domain, address literals,
 * with UTF-8 (RFC 6531) where allowed. Used by the SMTP parser (paths) and by
 * the configuration (aliases, forwards, administrators, domains). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 5321 §4.5.3.1 */
#define RELAIS_ADDRESS_MAX_LOCAL_PART 64
#define RELAIS_ADDRESS_MAX_DOMAIN     255

typedef enum {
  RELAIS_ADDRESS_OK,
  RELAIS_ADDRESS_SYNTAX,
  RELAIS_ADDRESS_TOO_LONG,
} RelaisAddressResult;

/* A position in a NUL-terminated string being parsed. */
typedef struct {
  const char *p;
  gboolean eightbit;    /* saw a byte >= 0x80 */
} RelaisAddressCursor;

/* Each parser advances CUR->p past what it read, or leaves it and returns FALSE. */
gboolean            relais_address_parse_domain (RelaisAddressCursor *cur);
gboolean            relais_address_parse_literal (RelaisAddressCursor *cur);   /* [1.2.3.4], [IPv6:...] */
/* Local-part "@" (Domain / address-literal); LOCAL_PART and DOMAIN may be NULL. */
RelaisAddressResult relais_address_parse_mailbox (RelaisAddressCursor *cur, char **local_part, char **domain);

/* The whole string is one mailbox / one domain name; 8-bit only with ALLOW_UTF8 and valid UTF-8. */
gboolean            relais_address_is_valid_mailbox (const char *address, gboolean allow_utf8);
gboolean            relais_address_is_valid_domain (const char *domain, gboolean allow_utf8);

G_END_DECLS
