/* SPDX-License-Identifier: GPL-3.0-or-later
 * The header section of a message as received (RFC 5322 §2.2): where a
 * field ends (its folded lines included), which field it is, and the value of
 * the only field of a name. CRLF or bare LF line ends; the section ends at
 * the first empty line. Pure functions, any thread. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether P (before END) is the empty line that ends the header section. */
gboolean    relais_header_at_end (const char *p, const char *end);
/* The end of the field starting at P: past the line end of its last folded
 * line (END when the message ends first). */
const char *relais_header_field_end (const char *p, const char *end);
/* Whether the field from P to END is named NAME (any case; white space
 * allowed before the colon); *VALUE (may be NULL) then points past the colon. */
gboolean    relais_header_field_is (const char *p, const char *end, const char *name, const char **value);
/* The value of the only NAME field of MESSAGE's header section (past the
 * colon, folding kept, without the final line end); NULL when there is not
 * exactly one, with *COUNT (may be NULL) the number of NAME fields. */
char       *relais_header_single_value (const char *message, gsize length, const char *name, guint *count);
/* Appends VALUE to OUT as a MIME token (RFC 2045) when it is one, else as a
 * quoted string; control characters (a header injection) become '?'. For
 * the values of Authentication-Results (RFC 8601 §2.2). */
void        relais_header_append_value (GString *out, const char *value);

G_END_DECLS
