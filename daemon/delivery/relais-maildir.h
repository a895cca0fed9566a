/* SPDX-License-Identifier: GPL-3.0-or-later
 * Local delivery into STATE/mail/<login>/Maildir (tmp/new/cur, created 0700 on
 * demand). One call copies one spool file, with Return-Path and Delivered-To
 * prepended and CRLF turned into LF, into tmp/, fsyncs it, renames it into new/
 * and fsyncs new/: when it returns OK the mail is on stable storage.
 * Blocking and thread-safe: the scheduler runs it in a GTask worker thread. */
#pragma once

#include <glib.h>

#include "relais-config.h"

G_BEGIN_DECLS

/* The outcome of one delivery attempt, shared by every delivery agent. */
typedef enum {
  RELAIS_DELIVERY_OK,
  RELAIS_DELIVERY_TEMPFAIL,   /* try again later (disk full, I/O error, ...) */
  RELAIS_DELIVERY_PERMFAIL,   /* never works: bounce (no such account) */
} RelaisDeliveryStatus;

/* Delivers SPOOL_PATH (CRLF line ends) to LOGIN's Maildir under STATE_DIR.
 * When CONFIG is non-NULL LOGIN must be one of its accounts, else PERMFAIL.
 * SENDER is "" for the null reverse path. REASON (out, never NULL on return
 * when asked for) is an enhanced status code and text, e.g. "2.0.0 Delivered"
 * or "4.3.1 Maildir write failed: No space left on device". DELIVERED_PATH
 * (optional) receives the path of the file in new/ on success. */
RelaisDeliveryStatus relais_maildir_deliver (const char *state_dir,
                                             const RelaisConfig *config,
                                             const char *login,
                                             const char *sender,
                                             const char *recipient,
                                             const char *spool_path,
                                             char **reason,
                                             char **delivered_path);

/* STATE_DIR/mail/LOGIN/Maildir */
char *relais_maildir_path (const char *state_dir, const char *login);

G_END_DECLS
