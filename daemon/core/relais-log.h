/* SPDX-License-Identifier: GPL-3.0-or-later
 * Log records about a session or a message: one helper that attaches the
 * journald fields an administrator follows (RELAIS_SESSION, RELAIS_QUEUE_ID,
 * RELAIS_CLIENT, RELAIS_RULE), the Postfix-like delivery line, and the log
 * writer relaisd installs (SYSLOG_IDENTIFIER, and with RELAIS_LOG_FIELDS=1 the
 * fields appended to each stderr line so tests can read them). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a record is about; every member may be NULL (no field). */
typedef struct {
  const char *session;   /* RELAIS_SESSION: the SMTP session's id */
  const char *queue_id;  /* RELAIS_QUEUE_ID: the message's queue id */
  const char *client;    /* RELAIS_CLIENT: the client's IP address */
  const char *rule;      /* RELAIS_RULE: the rule or check that decided (refusals) */
} RelaisLogIds;

/* Whether a record at LEVEL would not be written (relais_log_writer()):
 * debug ones unless enabled; the rest always. */
gboolean relais_log_would_drop (GLogLevelFlags level);

/* Logs "ID: TEXT" (ID the session id, else the queue id, else none) in domain
 * "relais" at LEVEL with the fields of IDS (may be NULL). */
void relais_log_full (const char *file, const char *line, const char *func, GLogLevelFlags level,
                      const RelaisLogIds *ids, const char *format, ...) G_GNUC_PRINTF (6, 7);

#define relais_log(level, ids, ...) \
  relais_log_full (__FILE__, G_STRINGIFY (__LINE__), G_STRFUNC, (level), (ids), __VA_ARGS__)
/* A record about the queued message QUEUE_ID alone. */
#define relais_log_queue(level, id, ...) \
  relais_log ((level), (&(const RelaisLogIds) { .queue_id = (id) }), __VA_ARGS__)

/* One delivery attempt of one recipient. */
typedef enum {
  RELAIS_LOG_SENT,
  RELAIS_LOG_DEFERRED,
  RELAIS_LOG_BOUNCED,
} RelaisLogStatus;

typedef struct {
  const char *queue_id;
  const char *to;
  const char *orig_to;   /* the address as received, when not TO; else NULL */
  const char *relay;     /* "local", a server as "host[ip]:port" ("[ip]:port" is completed), NULL: "none" */
  gint64 delay_usec;     /* since the message was queued */
  gint attempt;          /* 1-based */
  gint64 retry_in;       /* DEFERRED: seconds to the next attempt */
  RelaisLogStatus status;
  const char *reply;     /* the server's reply or our own "X.Y.Z text" */
} RelaisLogDelivery;

/* "to=<a@b>, relay=mx.b[192.0.2.1]:25, delay=1.2, attempt=1, dsn=2.0.0,
 * status=sent (250 2.0.0 Ok)", without the queue id. */
char *relais_log_delivery_text (const RelaisLogDelivery *delivery);
/* Logs it as "QUEUEID: ..." with RELAIS_QUEUE_ID. */
void  relais_log_delivery (const RelaisLogDelivery *delivery);

/* The enhanced status code of REPLY ("550 5.1.1 ...", "4.4.1 ..."), else
 * "2.0.0" / "4.0.0" / "5.0.0" after STATUS. */
char *relais_log_dsn (const char *reply, RelaisLogStatus status);

/* " [RELAIS_SESSION=ab12 RELAIS_QUEUE_ID=X]": the RELAIS_* fields of a record
 * in their order, "" when it has none. */
char *relais_log_fields_suffix (const GLogField *fields, gsize n_fields);

/* The writer relaisd installs with g_log_set_writer_func(): GLib's default
 * writer (journald when stderr is the journal, else stderr), every record
 * with SYSLOG_IDENTIFIER=relaisd; when RELAIS_LOG_FIELDS=1 is set and stderr
 * is not the journal, each line ends with relais_log_fields_suffix(). Our
 * info records always go out (GLib's writer drops them unless
 * G_MESSAGES_DEBUG names the domain); debug ones as GLib decides (relaisd -v). */
GLogWriterOutput relais_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                    gpointer user_data);

/* From now on the calling thread's info and message lines for plain streams
 * (files, pipes) wait until CONTEXT's loop is about to wait, or 64 KiB, and
 * go out then in one write per stream (written at exit too); a record that
 * goes another way writes them first. relais_log_batch_stop() writes what
 * waits and ends it. relaisd does it around its main loop. */
void relais_log_batch_start (GMainContext *context);
void relais_log_batch_stop  (void);
/* Writes the lines held back by this thread, if any. */
void relais_log_flush       (void);

G_END_DECLS
