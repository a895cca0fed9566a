/* SPDX-License-Identifier: GPL-3.0-or-later
 * SMTP replies as data: a code, an optional RFC 3463 enhanced code and text.
 * relais_reply_format() writes the wire form; multi-line text (lines split on
 * '\n') becomes "250-..." lines and a last "250 ..." line, with the enhanced
 * code repeated on every line. Greeting and EHLO/HELO replies have no enhanced
 * code (RFC 2034 §3). Control characters in the text are replaced by '?', so a
 * reply can never inject a line into the stream. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint code;        /* 200..599 */
  char *enhanced;    /* "x.y.z" or NULL */
  char *text;        /* one line per '\n' */
} RelaisReply;

RelaisReply *relais_reply_new (guint code, const char *enhanced, const char *format, ...) G_GNUC_PRINTF (3, 4);
void         relais_reply_free (RelaisReply *reply);
/* The reply to a message the spool or the queue could not take (RFC 3463):
 * 452 4.3.1 when the disk is full (NO_SPACE: the client tries again later),
 * else 451 4.3.0. */
RelaisReply *relais_reply_storage (gboolean no_space);
void         relais_reply_format (const RelaisReply *reply, GString *out);
/* The same without a RelaisReply. */
void         relais_reply_append (GString *out, guint code, const char *enhanced, const char *text);
void         relais_reply_appendf (GString *out, guint code, const char *enhanced,
                                   const char *format, ...) G_GNUC_PRINTF (4, 5);
/* Is CODE a permanent/temporary failure? */
#define RELAIS_REPLY_IS_ERROR(code) ((code) >= 400)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisReply, relais_reply_free)

G_END_DECLS
