/* SPDX-License-Identifier: GPL-3.0-or-later
 * How a DKIM key's DNS record is published: its name and its text as a
 * zone-file line. GLib only: the daemon returns it from GenerateDkimKey and
 * relais-settings shows it for the keys already made (this file is compiled
 * into both). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "SELECTOR._domainkey.DOMAIN", the name the record is published at. */
char *relais_dkim_record_name (const char *selector, const char *domain);

/* RECORD (one string, any length) as the text of a TXT record in a zone file:
 * quoted strings of at most 255 bytes each, separated by a space, the p= tag
 * starting a string of its own, e.g. `"v=DKIM1; k=rsa; " "p=MIIB…" "…"`. */
char *relais_dkim_record_zone_text (const char *record);

/* The whole zone-file line: `NAME. IN TXT ( "…" "…" )`. */
char *relais_dkim_record_zone_line (const char *name, const char *record);

G_END_DECLS
