/* SPDX-License-Identifier: GPL-3.0-or-later
 * The antivirus client (SPEC §4.2): a message in the spool is streamed to a
 * clamd with the INSTREAM command ("zINSTREAM\0", then chunks each prefixed
 * with their length as 4 bytes in network order, then a zero length) on a
 * Unix or TCP socket, and clamd's reply is read up to its NUL.
 *
 * Everything runs asynchronously on the caller's main context: the spool file
 * is read in chunks through GIO, and the whole exchange (connect, send, reply)
 * is bounded by one timeout. An unreachable or silent clamd is a GError, for
 * the caller to turn into a temporary failure (or accept, per setting); what
 * clamd says, even an error of its own, is a RelaisClamdAnswer. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The timeout used when the caller gives 0. */
#define RELAIS_CLAMD_DEFAULT_TIMEOUT_MS 60000

/* Parses the AntivirusSocket setting: an absolute path is a Unix socket
 * ("/run/clamav/clamd.ctl"); "HOST:PORT" (a name or an IPv4 address) and
 * "[IPv6]:PORT" are TCP. On success *ADDRESS (when not NULL) is the address to
 * connect to. Errors are RELAIS_ERROR_INVALID_ARGUMENT, their message starting
 * with "AntivirusSocket: ". */
gboolean relais_clamd_address_parse (const char *spec, GSocketConnectable **address, GError **error);

typedef enum {
  RELAIS_CLAMD_CLEAN,  /* "stream: OK" */
  RELAIS_CLAMD_VIRUS,  /* "stream: NAME FOUND" */
  RELAIS_CLAMD_ERROR,  /* clamd said ERROR (e.g. its size limit), or a reply not understood */
} RelaisClamdResult;

typedef struct {
  RelaisClamdResult result;
  char *signature;  /* VIRUS: the signature's name (printable ASCII); NULL otherwise */
  char *message;    /* ERROR: clamd's reply, printable ASCII; NULL otherwise */
} RelaisClamdAnswer;

void relais_clamd_answer_free (RelaisClamdAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisClamdAnswer, relais_clamd_answer_free)

/* Reads one INSTREAM reply (its final NUL and newline already removed or
 * not). Never fails: a reply not understood is an ERROR answer. */
RelaisClamdAnswer *relais_clamd_answer_parse (const char *reply);

/* Streams the file at PATH to the clamd at SPEC (relais_clamd_address_parse()
 * syntax). At most MAX_BYTES bytes of the file are sent when MAX_BYTES > 0
 * (the rest is not scanned), all of it otherwise. The whole exchange must end
 * within TIMEOUT_MS (RELAIS_CLAMD_DEFAULT_TIMEOUT_MS when 0).
 *
 * relais_clamd_scan_finish() gives clamd's answer, or NULL and an error:
 * RELAIS_ERROR_INVALID_ARGUMENT for a bad SPEC, RELAIS_ERROR_STORAGE when the
 * file cannot be read, RELAIS_ERROR_FAILED when clamd cannot be reached,
 * closes the connection without answering or runs out of time (each message
 * names the socket), G_IO_ERROR_CANCELLED when CANCELLABLE was cancelled. */
void               relais_clamd_scan_async (const char *spec, const char *path, goffset max_bytes, guint timeout_ms,
                                            GCancellable *cancellable, GAsyncReadyCallback callback,
                                            gpointer user_data);
RelaisClamdAnswer *relais_clamd_scan_finish (GAsyncResult *result, GError **error);

/* Sends PING to the clamd at SPEC; TRUE when it answers PONG within
 * TIMEOUT_MS (the default when 0). Errors as relais_clamd_scan_finish(), and
 * RELAIS_ERROR_FAILED for any other answer. */
void     relais_clamd_ping_async (const char *spec, guint timeout_ms, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean relais_clamd_ping_finish (GAsyncResult *result, GError **error);

G_END_DECLS
