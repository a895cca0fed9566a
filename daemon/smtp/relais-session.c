/* SPDX-License-Identifier: GPL-3.0-or-later
 * The RFC 5321 server session: an async state machine on the main loop, one per
 * connection, no thread. Invariants:
 * - memory is bounded whatever the client sends: input goes through one fixed
 *   buffer (IN_BUFFER_SIZE), replies are produced only while the pending output
 *   is under OUT_HIGH_WATER, message content is streamed to the spool writer;
 * - one asynchronous operation at a time (read, write, TLS handshake, queue
 *   commit): while replies are being written no input is read (back-pressure),
 *   and no pipelined command runs before the queue commit has answered;
 * - command lines end with CRLF only. A bare LF or CR inside a command line
 *   makes that line fail with 500 5.5.2: bare LF is never taken as a line end,
 *   so no two parsers (ours and a proxy's) can disagree on where a command ends;
 * - message content ends with <CRLF>.<CRLF> only (relais_data_decoder_feed);
 * - the transaction (RelaisTransaction) holds the config snapshot taken at MAIL
 *   FROM until it ends, so live changes never tear a transaction;
 * - every state change goes through session_set_state(), which logs old -> new;
 * - SMTP AUTH (RFC 4954, PLAIN and LOGIN) only inside TLS; the password check
 *   (yescrypt, slow on purpose) runs in a GTask worker thread holding copies of
 *   the password and hash and a session reference, never on the main loop;
 *   a failure's 535 is delayed as RelaisAuthGuard says; credentials are never
 *   logged and are wiped from memory once used;
 * - unauthorized pipelining (SPEC §4.5: bytes before the greeting, several
 *   commands in one go before an EHLO reply offered PIPELINING, content
 *   before the 354) is answered 554 5.5.0 and the connection closed;
 * - junk commands (NOOP, RSET, VRFY, EXPN, HELP, unknown ones, and any
 *   command answered 500-503) are counted until a message is accepted: every
 *   ten hold each batch of replies back one more second, and past
 *   MaxJunkCommands the session ends with 421 4.7.0;
 * - Security (SPEC §4.1, §4.3-4.5) is decided by the policy stages (connect;
 *   HELO and MAIL at MAIL FROM, once AUTH is known; RCPT; nonexistent) with the
 *   per-address counters of
 *   RelaisAnvil; when a stage asks for a DNS fact (LOOKUP), the command waits
 *   (one asynchronous operation, like a commit), the answer is kept for the
 *   session (HELO, client name) or the transaction (sender domain), and the
 *   same command line runs again;
 * - a graceful stop (relais_session_drain) ends the session with 421 4.3.2 at
 *   the next command, so a message being received may still be answered; only
 *   when told to stop NOW is a half-received message dropped (never queued). */
#define G_LOG_DOMAIN "relais"

#include "relais-session.h"

#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "relais-anvil.h"
#include "relais-auth-guard.h"
#include "relais-clock.h"
#include "relais-content-check.h"
#include "relais-dns-check.h"
#include "relais-log.h"
#include "relais-poller.h"
#include "relais-policy.h"
#include "relais-queue.h"
#include "relais-reply.h"
#include "relais-smtp-parse.h"
#include "relais-spf.h"

#define IN_BUFFER_SIZE 4096
#define OUT_HIGH_WATER 16384
#define DATA_STEP      2048     /* input bytes decoded at once */

typedef enum {
  STATE_CONNECTED,      /* nothing sent yet */
  STATE_HANDSHAKE,      /* TLS handshake (implicit TLS or after STARTTLS) */
  STATE_GREETED,        /* greeting sent, waiting for EHLO/HELO */
  STATE_READY,          /* EHLO/HELO done, no transaction */
  STATE_MAIL,           /* MAIL accepted */
  STATE_RCPT,           /* at least one RCPT accepted */
  STATE_DATA,           /* reading DATA content */
  STATE_BDAT_CHUNK,     /* reading a BDAT chunk */
  STATE_BDAT_WAIT,      /* between BDAT chunks */
  STATE_COMMIT,         /* waiting for the queue */
  STATE_AUTH,           /* reading a SASL response line */
  STATE_AUTH_CHECK,     /* password check or delayed failure reply under way */
  STATE_CLOSING,        /* last reply queued, close after writing it */
  STATE_CLOSED,
} SessionState;

static const char *const state_names[] = {
  "connected", "handshake", "greeted", "ready", "mail", "rcpt", "data",
  "bdat-chunk", "bdat-wait", "commit", "auth", "auth-check", "closing", "closed",
};

typedef struct {
  RelaisConfig *config;          /* snapshot taken at MAIL FROM */
  char *sender;                  /* "" for <> */
  gboolean smtputf8;
  gboolean body_8bit;
  GPtrArray *recipients;         /* char*, as accepted */
  RelaisDsnRet dsn_ret;          /* RFC 3461 MAIL parameters */
  char *dsn_envid;
  GArray *dsn_notify;            /* guint per recipient, parallel to RECIPIENTS */
  GPtrArray *dsn_orcpts;         /* RelaisDsnOrcpt* or NULL per recipient */
  RelaisSpoolWriter *writer;     /* from DATA / first BDAT to commit */
  char *queue_id;
  gsize max_size;                /* 0: no limit */
  RelaisDataDecoder decoder;
  RelaisContentScan scan;
  gboolean size_exceeded;
  GError *write_error;
  gboolean bdat;                 /* chunking has started */
  char *auth_param;              /* MAIL AUTH= of an authenticated client ("" for <>), else NULL */
  RelaisDnsResult sender_domain_dns; /* looked up at the first RCPT that needs it */
  RelaisSpfAnswer *spf;          /* SPF of the sender (or HELO), at the first RCPT that needs it */
  guint discarded;               /* recipients a blacklist "discard" rule dropped */
} RelaisTransaction;

struct _RelaisSession {
  gint ref_count;
  char id[9];
  RelaisServices *services;
  RelaisEndpointKind kind;
  RelaisSessionClosedFunc closed_func;
  gpointer closed_data;

  GSocketConnection *connection;
  GTlsConnection *tls;           /* NULL until a handshake succeeded */
  GInputStream *input;           /* borrowed from connection or tls */
  GOutputStream *output;
  GCancellable *cancellable;
  char *client_ip;
  GInetAddress *client_address;  /* normalized (IPv4-mapped -> IPv4); NULL when unknown */
  char *tls_description;         /* "TLSv1.3 with cipher ..." */

  SessionState state;
  gboolean io_pending;           /* a read, write, handshake or commit is under way */
  gboolean flush_now;            /* write pending replies before the next command */
  gboolean discarding_line;      /* inside an over-long command line */
  gboolean timed_out;
  gboolean reading;              /* the pending operation is a read */
  gint64 line_started;           /* monotonic time the command line being read began, 0: none */
  RelaisPollWatch *watch;        /* reads and writes of a plain session (NULL: GIO's own sources, as with TLS) */
  gboolean poll_writing;         /* the watch is armed for a write */
  gsize written;                 /* of WRITING, by poll_write() */
  gboolean in_poll_read;         /* poll_read() is running: a read asked meanwhile is its next round */
  gboolean read_again;
  RelaisSessionDrain drain;      /* a graceful stop was asked */
  gint64 deadline;               /* monotonic time the operation under way times out, 0: none */

  char *helo;                    /* NULL until EHLO/HELO */
  gboolean esmtp;
  gboolean pipelining_offered;   /* an EHLO reply offering PIPELINING went out (reset by STARTTLS) */
  guint last_reply_code;         /* of the last reply queued */
  guint junk_commands;           /* since the start or the last accepted message */
  guint junk_delay_id;           /* replies held back for the junk delay (holds a session reference) */
  gboolean junk_delay_done;      /* the pending replies have waited their delay */

  /* Security facts */
  gboolean anvil_counted;        /* relais_anvil_connect() was called: disconnect at close */
  guint connections_now;         /* from this address, this one included, at connect */
  guint connections_this_minute;
  char *helo_dns_name;           /* the HELO name helo_dns is about */
  RelaisDnsResult helo_dns;
  RelaisDnsResult client_name_dns;
  char *client_name;             /* the confirmed PTR name, when client_name_dns is FOUND */
  RelaisDnsResult dnsbl_dns;     /* the client in the DNSBL zones, looked up at the first RCPT that needs it */
  char *dnsbl_zone;              /* the zone that listed the client or failed */
  char *deferred_line;           /* a command waiting for a DNS answer, run again then */
  const char *current_line;      /* the command line being executed (borrowed) */
  char *lookup_name;             /* what that lookup is about */
  gboolean mail_counted;         /* the deferred MAIL was already counted: messages_this_minute */
  guint messages_this_minute;
  RelaisTransaction *tx;

  /* SMTP AUTH */
  char *auth_login;              /* the authenticated account's login; NULL before */
  RelaisSaslMechanism auth_mechanism;
  char *auth_user;               /* LOGIN: the user name, while waiting for the password */
  guint auth_delay_id;           /* delayed 535 (holds a session reference) */

  /* BDAT chunk in progress */
  guint64 chunk_remaining;
  guint64 chunk_size;
  gboolean chunk_last;
  RelaisReply *chunk_reply;      /* set: the chunk is discarded, then this is the reply */
  SessionState chunk_return_state;

  GString *out;                  /* replies waiting to be written */
  GString *writing;              /* replies being written */
  guint8 in[IN_BUFFER_SIZE];
  gsize in_pos, in_len;
};

/* A log line about session S: its id, client and (from DATA on) queue id. */
#define SLOG(s, level, ...) \
  relais_log ((level), (&(const RelaisLogIds) { (s)->id, (s)->tx != NULL ? (s)->tx->queue_id : NULL, \
                                                (s)->client_ip, NULL }), __VA_ARGS__)

static void pump (RelaisSession *s);
static void close_now (RelaisSession *s);

/* ---- small helpers ----------------------------------------------------- */

static void
session_set_state (RelaisSession *s, SessionState state)
{
  if (s->state == state)
    return;
  SLOG (s, G_LOG_LEVEL_DEBUG, "state %s -> %s", state_names[s->state], state_names[state]);
  s->state = state;
}

static void
reply (RelaisSession *s, guint code, const char *enhanced, const char *text)
{
  s->last_reply_code = code;
  relais_reply_append (s->out, code, enhanced, text);
}

G_GNUC_PRINTF (4, 5)
static void
replyf (RelaisSession *s, guint code, const char *enhanced, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  reply (s, code, enhanced, text);
}

/* A refusal at STAGE ("CONNECT", "MAIL", "RCPT", "END-OF-DATA", ...): counted
 * under REASON and logged in one line, with RELAIS_RULE, as
 * "reject RCPT from NAME[IP]: 554 5.7.1 TEXT; from=<S> to=<R> helo=<H> reason=REASON rule=RULE".
 * SENDER: NULL for the transaction's; RECIPIENT: the one refused, or NULL;
 * RULE: the rule or check that decided, NULL when REASON says it all. */
static void
reject_full (RelaisSession *s, const char *stage, const char *sender, const char *recipient,
             const char *reason, const char *rule, guint code, const char *enhanced, const char *text)
{
  g_autoptr(GString) envelope = g_string_new (NULL);
  RelaisLogIds ids = { s->id, s->tx != NULL ? s->tx->queue_id : NULL, s->client_ip,
                       rule != NULL ? rule : reason };

  if (sender == NULL && s->tx != NULL)
    sender = s->tx->sender;
  if (sender != NULL)
    g_string_append_printf (envelope, "from=<%s> ", sender);
  if (recipient != NULL)
    g_string_append_printf (envelope, "to=<%s> ", recipient);
  if (s->helo != NULL)
    g_string_append_printf (envelope, "helo=<%s> ", s->helo);
  relais_stats_reject (s->services->stats, reason);
  relais_log (G_LOG_LEVEL_MESSAGE, &ids, "reject %s from %s[%s]: %u %s %s; %sreason=%s rule=%s", stage,
              s->client_name != NULL ? s->client_name : "unknown", s->client_ip, code, enhanced, text,
              envelope->str, reason, ids.rule);
  reply (s, code, enhanced, text);
}

/* A refusal by a fixed check, named by REASON. */
static void
reject (RelaisSession *s, const char *stage, const char *reason, guint code, const char *enhanced,
        const char *text)
{
  reject_full (s, stage, NULL, NULL, reason, NULL, code, enhanced, text);
}

/* A refusal by a policy VERDICT. */
static void
reject_verdict (RelaisSession *s, const char *stage, const char *sender, const char *recipient,
                const RelaisVerdict *verdict)
{
  reject_full (s, stage, sender, recipient, verdict->reason, verdict->rule, verdict->code, verdict->enhanced,
               verdict->text);
}

/* SPEC §4.5 "Reject unauthorized pipelining": 554 5.5.0, the rest of the
 * input unread, then close. */
static void
pipelining_violation (RelaisSession *s, const char *stage, const char *what)
{
  SLOG (s, G_LOG_LEVEL_MESSAGE, "improper pipelining from %s: %s", s->client_ip, what);
  relais_stats_hit (s->services->stats, "policy:unauthorized-pipelining");
  reject_full (s, stage, NULL, NULL, "unauthorized-pipelining", "policy:unauthorized-pipelining", 554, "5.5.0",
               "Improper use of SMTP command pipelining");
  s->in_pos = s->in_len;
  session_set_state (s, STATE_CLOSING);
}

/* ---- security facts and verdicts ---------------------------------------- */

/* The hit counters of SPEC §5: the rule or check that decided (at RCPT every
 * deciding rule, relay control's included: "relay-denied",
 * "trusted-network:NAME", ...), and at RCPT the whitelist rule that matched. */
static void
count_hits (RelaisSession *s, const RelaisVerdict *verdict, gboolean rcpt)
{
  const char *rule = verdict->rule;

  if (rule != NULL && (rcpt || g_str_has_prefix (rule, "blacklist:") || g_str_has_prefix (rule, "whitelist:") ||
                       g_str_has_prefix (rule, "policy:") || g_str_has_prefix (rule, "limit:")))
    relais_stats_hit (s->services->stats, rule);
  if (rcpt && verdict->whitelist != NULL)
    {
      g_autofree char *name = g_strconcat ("whitelist:", verdict->whitelist->name, NULL);

      if (rule == NULL || strcmp (rule, name) != 0)
        relais_stats_hit (s->services->stats, name);
    }
}

static void
security_facts (RelaisSession *s, RelaisPolicyFacts *facts)
{
  facts->client_address = s->client_ip;
  facts->client_inet = s->client_address;
  facts->endpoint = s->kind == RELAIS_ENDPOINT_SMTP ? RELAIS_POLICY_ENDPOINT_SMTP
                                                   : RELAIS_POLICY_ENDPOINT_SUBMISSION;
  facts->helo = s->helo;
  /* What the DNS said about this HELO name, not an earlier one. */
  facts->helo_dns = s->helo != NULL && s->helo_dns_name != NULL && g_ascii_strcasecmp (s->helo_dns_name, s->helo) == 0
                      ? s->helo_dns : RELAIS_DNS_UNCHECKED;
  facts->client_name_dns = s->client_name_dns;
  facts->dnsbl_dns = s->dnsbl_dns;
  facts->dnsbl_zone = s->dnsbl_zone;
  facts->connections_now = s->connections_now;
  facts->connections_this_minute = s->connections_this_minute;
}

static void lookup_done (RelaisSession *s);

static void
helo_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;

  s->helo_dns = relais_dns_check_host_finish (result, NULL);
  g_free (s->helo_dns_name);
  s->helo_dns_name = g_steal_pointer (&s->lookup_name);
  lookup_done (s);
}

static void
client_name_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;

  g_clear_pointer (&s->client_name, g_free);
  s->client_name_dns = relais_dns_check_client_name_finish (result, &s->client_name, NULL);
  lookup_done (s);
}

static void
sender_domain_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;
  RelaisDnsResult answer = relais_dns_check_host_finish (result, NULL);

  if (s->tx != NULL)
    s->tx->sender_domain_dns = answer;
  lookup_done (s);
}

/* The SPF identity (RFC 7208 §2.4): the MAIL FROM domain, or the HELO name
 * for the null sender; *IDENTITY is "mailfrom" or "helo". */
static const char *
spf_domain (RelaisSession *s, RelaisTransaction *tx, const char **identity)
{
  const char *at = strrchr (tx->sender, '@');

  *identity = at != NULL ? "mailfrom" : "helo";
  return at != NULL ? at + 1 : s->helo;
}

static void
spf_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisSpfAnswer) answer = relais_spf_check_host_finish (result, &error);

  if (answer == NULL && s->tx != NULL)
    {
      /* Only a cancellation fails; never ask again in a loop. */
      const char *identity;

      answer = g_new0 (RelaisSpfAnswer, 1);
      answer->result = RELAIS_SPF_TEMPERROR;
      answer->domain = g_strdup (spf_domain (s, s->tx, &identity));
      answer->problem = g_strdup (error->message);
    }
  if (answer != NULL && s->tx != NULL)
    {
      SLOG (s, answer->result == RELAIS_SPF_TEMPERROR ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_INFO,
            "SPF %s for %s from [%s]%s%s", relais_spf_result_to_string (answer->result), answer->domain,
            s->client_ip, answer->problem != NULL ? ": " : "", answer->problem != NULL ? answer->problem : "");
      relais_stats_check_result (s->services->stats, "spf", relais_spf_result_to_string (answer->result));
      relais_spf_answer_free (s->tx->spf);
      s->tx->spf = g_steal_pointer (&answer);
    }
  lookup_done (s);
}

static void
dnsbl_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;

  g_clear_pointer (&s->dnsbl_zone, g_free);
  s->dnsbl_dns = relais_dns_check_dnsbl_finish (result, &s->dnsbl_zone, NULL);
  if (s->dnsbl_dns == RELAIS_DNS_TEMPFAIL)
    SLOG (s, G_LOG_LEVEL_WARNING, "DNSBL lookup of [%s] in %s failed (temporary DNS error): answering 451 4.7.1",
          s->client_ip, s->dnsbl_zone);
  else if (s->dnsbl_dns == RELAIS_DNS_FOUND)
    SLOG (s, G_LOG_LEVEL_INFO, "client [%s] listed in DNSBL %s", s->client_ip, s->dnsbl_zone);
  lookup_done (s);
}

/* A stage asked for a DNS fact: the command LINE waits for it, then runs again. */
static void
start_lookup (RelaisSession *s, RelaisPolicyLookup what, const char *name)
{
  g_return_if_fail (s->current_line != NULL && s->deferred_line == NULL);

  s->deferred_line = g_strdup (s->current_line);
  s->io_pending = TRUE;
  g_free (s->lookup_name);
  s->lookup_name = g_strdup (name);
  SLOG (s, G_LOG_LEVEL_DEBUG, "DNS check of %s for %s", name != NULL ? name : s->client_ip,
        what == RELAIS_POLICY_LOOKUP_HELO ? "HELO" :
        what == RELAIS_POLICY_LOOKUP_CLIENT_NAME ? "the client name" :
        what == RELAIS_POLICY_LOOKUP_DNSBL ? "the DNSBL zones" :
        what == RELAIS_POLICY_LOOKUP_SPF ? "SPF" : "the sender domain");
  switch (what)
    {
    case RELAIS_POLICY_LOOKUP_HELO:
      relais_dns_check_host_async (name, RELAIS_DNS_CHECK_ANY, s->cancellable, helo_lookup_cb,
                                   relais_session_ref (s));
      break;
    case RELAIS_POLICY_LOOKUP_CLIENT_NAME:
      relais_dns_check_client_name_async (s->client_address, s->cancellable, client_name_lookup_cb,
                                          relais_session_ref (s));
      break;
    case RELAIS_POLICY_LOOKUP_DNSBL:
      relais_dns_check_dnsbl_async (s->client_address, s->tx != NULL ? s->tx->config->dnsbl_zones
                                                                      : s->services->config->dnsbl_zones,
                                    s->cancellable, dnsbl_lookup_cb, relais_session_ref (s));
      break;
    case RELAIS_POLICY_LOOKUP_SPF:
      {
        const char *identity;
        const char *domain = spf_domain (s, s->tx, &identity);

        relais_spf_check_host_async (s->client_address, domain, *s->tx->sender != '\0' ? s->tx->sender : domain,
                                     s->helo, s->tx->config->hostname, s->cancellable, spf_lookup_cb,
                                     relais_session_ref (s));
      }
      break;
    case RELAIS_POLICY_LOOKUP_SENDER_DOMAIN:
    default:
      relais_dns_check_host_async (name, RELAIS_DNS_CHECK_ANY, s->cancellable, sender_domain_lookup_cb,
                                   relais_session_ref (s));
      break;
    }
}

/* ---- transaction ------------------------------------------------------- */

static void
transaction_free (RelaisTransaction *tx)
{
  if (tx->writer != NULL)
    relais_spool_writer_abort (tx->writer);
  g_clear_pointer (&tx->config, relais_config_unref);
  g_free (tx->sender);
  g_ptr_array_unref (tx->recipients);
  g_free (tx->dsn_envid);
  g_array_unref (tx->dsn_notify);
  g_ptr_array_unref (tx->dsn_orcpts);
  g_free (tx->queue_id);
  g_free (tx->auth_param);
  relais_spf_answer_free (tx->spf);
  g_clear_error (&tx->write_error);
  g_free (tx);
}

/* Ends the transaction (aborting an unfinished spool file) and returns to READY. */
static void
transaction_end (RelaisSession *s)
{
  g_clear_pointer (&s->tx, transaction_free);
  if (s->state == STATE_MAIL || s->state == STATE_RCPT || s->state == STATE_DATA ||
      s->state == STATE_BDAT_CHUNK || s->state == STATE_BDAT_WAIT || s->state == STATE_COMMIT)
    session_set_state (s, s->helo != NULL ? STATE_READY : STATE_GREETED);
}

static const char *
received_protocol (RelaisSession *s, RelaisTransaction *tx)
{
  /* RFC 3848 and RFC 6531 §4.3 */
  if (!s->esmtp)
    return "SMTP";
  if (tx->smtputf8)
    return s->tls != NULL ? "UTF8SMTPS" : "UTF8SMTP";
  return s->tls != NULL ? "ESMTPS" : "ESMTP";
}

/* RFC 5322 date-time, in the C locale whatever LC_TIME says. localtime_r()
 * reads the zone once per process, where GLib's local GTimeZone looks at
 * /etc/localtime again each time (three system calls per message). */
static char *
rfc5322_date (void)
{
  static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  time_t now = (time_t) (g_get_real_time () / G_USEC_PER_SEC);
  struct tm tm;
  long offset;
  char sign;

  if (localtime_r (&now, &tm) == NULL && gmtime_r (&now, &tm) == NULL)
    memset (&tm, 0, sizeof tm);
  offset = tm.tm_gmtoff / 60;
  sign = offset < 0 ? '-' : '+';
  if (offset < 0)
    offset = -offset;
  return g_strdup_printf ("%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
                          days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                          tm.tm_hour, tm.tm_min, tm.tm_sec, sign, offset / 60, offset % 60);
}

/* RFC 5321 §4.4 trace field, the first thing in the spool file. */
static char *
received_header (RelaisSession *s, RelaisTransaction *tx)
{
  GString *h = g_string_new ("Received: from ");
  g_autofree char *date = rfc5322_date ();
  gboolean v6 = strchr (s->client_ip, ':') != NULL;

  g_string_append_printf (h, "%s ([%s%s])\r\n", s->helo, v6 ? "IPv6:" : "", s->client_ip);
  g_string_append_printf (h, "\tby %s (Relais) with %s id %s", tx->config->hostname,
                          received_protocol (s, tx), tx->queue_id);
  if (s->tls_description != NULL)
    g_string_append_printf (h, "\r\n\t(using %s)", s->tls_description);
  if (tx->recipients->len == 1)
    g_string_append_printf (h, "\r\n\tfor <%s>", (const char *) tx->recipients->pdata[0]);
  g_string_append_printf (h, ";\r\n\t%s\r\n", date);
  return g_string_free (h, FALSE);
}

/* Opens the spool file and writes the Received header. */
static gboolean
transaction_begin_content (RelaisSession *s, RelaisTransaction *tx)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *header = NULL;

  tx->writer = relais_queue_begin (s->services->queue, &error);
  if (tx->writer == NULL)
    {
      SLOG (s, G_LOG_LEVEL_WARNING, "cannot open a spool file: %s", error->message);
      g_clear_error (&tx->write_error);
      tx->write_error = g_steal_pointer (&error);
      return FALSE;
    }
  tx->queue_id = g_strdup (relais_spool_writer_get_id (tx->writer));
  header = received_header (s, tx);
  if (tx->spf != NULL)
    {
      /* RFC 7208 §9.1: above our Received field. */
      const char *identity;
      const char *domain = spf_domain (s, tx, &identity);
      g_autofree char *value = relais_spf_received_spf (tx->spf, s->client_address,
                                                        *tx->sender != '\0' ? tx->sender : domain, s->helo,
                                                        identity, tx->config->hostname);
      g_autofree char *received = g_steal_pointer (&header);

      header = g_strconcat ("Received-SPF: ", value, "\r\n", received, NULL);
    }
  if (!relais_spool_writer_write (tx->writer, header, strlen (header), &error))
    {
      SLOG (s, G_LOG_LEVEL_WARNING, "queue file write error (%s): %s", tx->queue_id, error->message);
      g_clear_pointer (&tx->writer, relais_spool_writer_abort);
      g_clear_error (&tx->write_error);
      tx->write_error = g_steal_pointer (&error);
      return FALSE;
    }
  relais_data_decoder_init (&tx->decoder);
  relais_content_scan_init (&tx->scan);
  tx->max_size = relais_config_max_message_size (tx->config);
  return TRUE;
}

/* Message bytes (already decoded for DATA, raw for BDAT): scan, limit, store. */
static void
transaction_content (RelaisSession *s, RelaisTransaction *tx, const guint8 *data, gsize len)
{
  if (len == 0)
    return;
  relais_content_scan_feed (&tx->scan, data, len);
  if (tx->max_size > 0 && tx->scan.size > tx->max_size)
    tx->size_exceeded = TRUE;
  /* Once the message is known to be refused, stop storing it. */
  if (tx->size_exceeded || tx->scan.nul || tx->write_error != NULL)
    {
      if (tx->writer != NULL)
        g_clear_pointer (&tx->writer, relais_spool_writer_abort);
      return;
    }
  if (tx->writer != NULL && !relais_spool_writer_write (tx->writer, data, len, &tx->write_error))
    {
      SLOG (s, G_LOG_LEVEL_WARNING, "queue file write error (%s): %s", tx->queue_id,
            tx->write_error->message);
      g_clear_pointer (&tx->writer, relais_spool_writer_abort);
    }
}

static RelaisReply *
storage_reply (const GError *error)
{
  return relais_reply_storage (relais_queue_error_is_no_space (error));
}

static void
reply_storage_error (RelaisSession *s, const GError *error)
{
  g_autoptr(RelaisReply) r = storage_reply (error);

  reply (s, r->code, r->enhanced, r->text);
}

static void
commit_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = relais_queue_commit_finish (s->services->queue, result, &error);

  s->io_pending = FALSE;
  if (s->state == STATE_CLOSED)
    {
      relais_session_unref (s);
      return;
    }
  if (ok)
    {
      guint64 size = s->tx->scan.size;

      relais_stats_add (s->services->stats, RELAIS_STAT_MESSAGES_RECEIVED, 1);
      relais_stats_add (s->services->stats, RELAIS_STAT_BYTES_IN, (gint64) size);
      SLOG (s, G_LOG_LEVEL_MESSAGE, "queued %s: from=<%s> nrcpt=%u size=%" G_GUINT64_FORMAT,
            s->tx->queue_id, s->tx->sender, s->tx->recipients->len, size);
      replyf (s, 250, "2.0.0", "Ok: queued as %s", s->tx->queue_id);
      if (s->tx->discarded > 0)
        relais_stats_add (s->services->stats, RELAIS_STAT_DISCARDED, 1);
      s->junk_commands = 0;
    }
  else
    {
      SLOG (s, G_LOG_LEVEL_WARNING, "queue commit failed (%s): %s", s->tx->queue_id, error->message);
      reply_storage_error (s, error);
    }
  transaction_end (s);
  s->flush_now = TRUE;
  pump (s);
  relais_session_unref (s);
}

static void transaction_commit (RelaisSession *s);
static void fill_auth_facts (RelaisSession *s, const RelaisConfig *config, RelaisPolicyFacts *facts);
static void network_facts (RelaisSession *s, const RelaisConfig *config, RelaisPolicyFacts *facts);

static void
content_check_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;
  g_autoptr (RelaisContentVerdict) verdict = relais_content_check_finish (result, NULL);

  s->io_pending = FALSE;
  if (s->state == STATE_CLOSED || verdict == NULL)
    {
      relais_session_unref (s);
      return;
    }
  if (verdict->refuse)
    {
      if (verdict->rule != NULL)
        relais_stats_hit (s->services->stats, verdict->rule);
      reject_full (s, "END-OF-DATA", NULL, NULL, verdict->reason, verdict->rule, verdict->code,
                   verdict->enhanced, verdict->text);
      transaction_end (s);
      pump (s);
    }
  else
    {
      transaction_commit (s);
      if (!s->io_pending)
        pump (s);
    }
  relais_session_unref (s);
}

/* The end-of-DATA checks (relais-content-check.h), then the commit. */
static void
transaction_check_content (RelaisSession *s)
{
  RelaisTransaction *tx = s->tx;
  RelaisContentCheckRequest request = { 0 };

  request.config = tx->config;
  request.stats = s->services->stats;
  request.log = (RelaisLogIds) { s->id, tx->queue_id, s->client_ip, NULL };
  request.writer = tx->writer;
  security_facts (s, &request.facts);
  fill_auth_facts (s, tx->config, &request.facts);
  network_facts (s, tx->config, &request.facts);
  request.facts.sender = tx->sender;
  request.recipients = tx->recipients;
  request.spf = tx->spf;
  if (tx->spf != NULL)
    {
      const char *domain = spf_domain (s, tx, &request.spf_identity);

      request.spf_subject = *tx->sender != '\0' ? tx->sender : domain;
    }
  if (!relais_content_check_needed (&request))
    {
      transaction_commit (s);
      return;
    }
  session_set_state (s, STATE_COMMIT);
  s->io_pending = TRUE;
  relais_content_check_async (&request, s->cancellable, content_check_cb, relais_session_ref (s));
}

/* End of DATA or of the last BDAT chunk: refuse, or commit and answer later. */
static void
transaction_finish (RelaisSession *s)
{
  RelaisTransaction *tx = s->tx;

  s->flush_now = TRUE;
  if (tx->size_exceeded)
    {
      reject (s, "END-OF-DATA", "message-size", 552, "5.3.4", "Message size exceeds limit");
      transaction_end (s);
      return;
    }
  if (tx->scan.nul)
    {
      reject (s, "END-OF-DATA", "nul-in-message", 554, "5.6.0", "Message contains NUL characters");
      transaction_end (s);
      return;
    }
  if (tx->config->max_hops > 0 && tx->scan.received > tx->config->max_hops)
    {
      reject (s, "END-OF-DATA", "max-hops", 554, "5.4.6", "Too many hops");
      transaction_end (s);
      return;
    }
  if (tx->config->disable_auto_forward && tx->scan.auto_forwarded &&
      relais_queue_routes_remote (tx->config, tx->recipients))
    {
      reject (s, "END-OF-DATA", "auto-forward", 550, "5.7.1", "Auto-forwarding is disabled");
      transaction_end (s);
      return;
    }
  if (tx->write_error != NULL || tx->writer == NULL)
    {
      reply_storage_error (s, tx->write_error);
      transaction_end (s);
      return;
    }
  if (tx->recipients->len == 0)
    {
      /* SPEC §4.1 "discard": every recipient was dropped; the client cannot
       * tell this from a queued message. */
      relais_stats_add (s->services->stats, RELAIS_STAT_DISCARDED, 1);
      SLOG (s, G_LOG_LEVEL_MESSAGE, "discarded %s: from=<%s> ndiscarded=%u size=%" G_GUINT64_FORMAT,
            tx->queue_id, tx->sender, tx->discarded, tx->scan.size);
      replyf (s, 250, "2.0.0", "Ok: queued as %s", tx->queue_id);
      s->junk_commands = 0;
      transaction_end (s);
      return;
    }

  transaction_check_content (s);
}

/* Queues the message: the reply comes when the commit is durable. */
static void
transaction_commit (RelaisSession *s)
{
  RelaisTransaction *tx = s->tx;
  RelaisEnvelope *envelope;

  envelope = relais_envelope_new ();
  envelope->sender = g_strdup (tx->sender);
  for (guint i = 0; i < tx->recipients->len; i++)
    g_ptr_array_add (envelope->recipients, g_strdup (tx->recipients->pdata[i]));
  envelope->client_address = g_strdup (s->client_ip);
  envelope->helo = g_strdup (s->helo);
  envelope->session_id = g_strdup (s->id);
  envelope->smtputf8 = tx->smtputf8;
  envelope->body_8bit = tx->body_8bit;
  envelope->dsn_ret = tx->dsn_ret;
  envelope->dsn_envid = g_strdup (tx->dsn_envid);
  for (guint i = 0; i < tx->recipients->len; i++)
    {
      g_array_append_val (envelope->dsn_notify, g_array_index (tx->dsn_notify, guint, i));
      g_ptr_array_add (envelope->dsn_orcpts, relais_dsn_orcpt_copy (tx->dsn_orcpts->pdata[i]));
    }

  session_set_state (s, STATE_COMMIT);
  s->io_pending = TRUE;
  relais_queue_commit_async (s->services->queue, g_steal_pointer (&tx->writer), envelope, tx->config,
                             commit_cb, relais_session_ref (s));
}

/* ---- commands ---------------------------------------------------------- */

/* SPEC §1: AUTH is offered on port 25 when SmtpAuthentication is on, and
 * always on the submission endpoints (587, 465); only inside TLS. */
static gboolean
auth_enabled (RelaisSession *s, const RelaisConfig *config)
{
  return s->kind != RELAIS_ENDPOINT_SMTP || config->smtp_authentication;
}

/* The client could still authenticate in this session: a relay refusal is
 * then temporary (SPEC §3: 454 rather than 554). */
static gboolean
auth_offered (RelaisSession *s, const RelaisConfig *config)
{
  return auth_enabled (s, config) && s->auth_login == NULL &&
         (s->tls != NULL || s->services->tls_certificate != NULL);
}

static void
fill_auth_facts (RelaisSession *s, const RelaisConfig *config, RelaisPolicyFacts *facts)
{
  facts->authenticated = s->auth_login != NULL;
  facts->login = s->auth_login;
  facts->auth_offered = auth_offered (s, config);
}

static void
cmd_helo (RelaisSession *s, const char *arg, gboolean esmtp)
{
  g_autofree char *name = relais_smtp_parse_helo (arg);
  g_autoptr(RelaisConfig) config = NULL;

  if (name == NULL)
    {
      replyf (s, 501, "5.5.4", "Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
      return;
    }
  transaction_end (s);
  g_free (s->helo);
  s->helo = g_steal_pointer (&name);
  s->esmtp = esmtp;
  session_set_state (s, STATE_READY);

  config = relais_services_get_config (s->services);
  if (!esmtp)
    {
      reply (s, 250, NULL, config->hostname);
      return;
    }
  {
    g_autoptr(GString) text = g_string_new (NULL);

    g_string_append_printf (text, "%s Hello %s [%s]\n", config->hostname, s->helo, s->client_ip);
    g_string_append_printf (text, "SIZE %" G_GSIZE_FORMAT "\n", relais_config_max_message_size (config));
    g_string_append (text, "PIPELINING\n8BITMIME\nENHANCEDSTATUSCODES\n");
    if (s->services->tls_certificate != NULL && s->tls == NULL)
      g_string_append (text, "STARTTLS\n");
    if (s->tls != NULL && auth_enabled (s, config))
      g_string_append (text, "AUTH PLAIN LOGIN\n");
    g_string_append (text, "CHUNKING\nSMTPUTF8\nDSN");
    reply (s, 250, NULL, text->str);
  }
  s->pipelining_offered = TRUE;
  s->flush_now = TRUE;
}

/* Replies to a MAIL (IS_MAIL) or RCPT path that did not parse; FALSE then, with PATH cleared. */
static gboolean
path_ok (RelaisSession *s, RelaisSmtpPathResult r, RelaisSmtpPath *path, gboolean is_mail)
{
  g_autofree char *text = NULL;
  const char *enhanced = NULL;
  guint code = 0;

  if (r == RELAIS_SMTP_PATH_OK)
    return TRUE;
  text = relais_smtp_path_error_reply (r, path, is_mail, &code, &enhanced);
  reply (s, code, enhanced, text);
  relais_smtp_path_clear (path);
  return FALSE;
}

/* The client's networks (SPEC §3): a trusted network of CONFIG, a local network now. */
static void
network_facts (RelaisSession *s, const RelaisConfig *config, RelaisPolicyFacts *facts)
{
  const RelaisTrustedNetwork *trusted = NULL;

  if (s->client_address == NULL)
    return;
  trusted = relais_config_match_trusted (config, s->client_address);
  facts->trusted = trusted != NULL;
  facts->trusted_network = trusted != NULL ? trusted->name : NULL;
  facts->local_network = s->services->networks != NULL &&
                         relais_networks_contains (s->services->networks, s->client_address);
}

/* DSN parameters exist only where DSN was advertised, after EHLO (RFC 3461 §3;
 * RFC 5321 §4.1.1.11): 555 as for any unknown parameter, PATH cleared then. */
static gboolean
path_dsn_ok (RelaisSession *s, RelaisSmtpPath *path, gboolean is_mail)
{
  if (s->esmtp || !relais_smtp_path_has_dsn (path))
    return TRUE;
  replyf (s, 555, "5.5.4", "Unsupported %s parameter: DSN parameters need EHLO", is_mail ? "MAIL" : "RCPT");
  relais_smtp_path_clear (path);
  return FALSE;
}

static void
cmd_mail (RelaisSession *s, const char *arg)
{
  RelaisSmtpPath path = { 0 };
  RelaisPolicyFacts facts = { 0 };
  g_auto(RelaisVerdict) verdict = { 0 };
  g_autoptr(RelaisConfig) config = NULL;
  RelaisTransaction *tx;

  if (s->helo == NULL)
    {
      reply (s, 503, "5.5.1", "Error: send HELO/EHLO first");
      return;
    }
  if (s->tx != NULL)
    {
      reply (s, 503, "5.5.1", "Error: nested MAIL command");
      return;
    }

  if (!path_ok (s, relais_smtp_parse_mail (arg, &path), &path, TRUE) ||
      !path_dsn_ok (s, &path, TRUE))
    return;

  config = relais_services_get_config (s->services);
  security_facts (s, &facts);
  fill_auth_facts (s, config, &facts);
  facts.sender = path.address;
  network_facts (s, config, &facts);
  /* A MAIL waiting for DNS was counted already (SPEC §4.4: messages per minute). */
  if (!s->mail_counted)
    s->messages_this_minute = s->services->anvil != NULL && s->client_address != NULL
                                ? relais_anvil_message (s->services->anvil, s->client_ip, relais_clock_now ())
                                : 0;
  s->mail_counted = FALSE;
  facts.messages_this_minute = s->messages_this_minute;
  /* SPEC §4.5: the HELO name, judged now that AUTH is known. */
  relais_policy_check_helo (config, &facts, &verdict);
  if (verdict.kind == RELAIS_VERDICT_CONTINUE)
    {
      relais_verdict_clear (&verdict);
      relais_policy_check_mail (config, &facts, &verdict);
    }
  if (verdict.kind == RELAIS_VERDICT_LOOKUP)
    {
      s->mail_counted = TRUE;
      start_lookup (s, verdict.lookup, verdict.lookup == RELAIS_POLICY_LOOKUP_HELO ? s->helo : NULL);
      relais_smtp_path_clear (&path);
      return;
    }
  count_hits (s, &verdict, FALSE);
  if (relais_verdict_is_reject (&verdict))
    {
      reject_verdict (s, "MAIL", path.address, NULL, &verdict);
      relais_smtp_path_clear (&path);
      return;
    }

  if (path.size >= 0 && relais_config_max_message_size (config) > 0 &&
      (guint64) path.size > relais_config_max_message_size (config))
    {
      reject_full (s, "MAIL", path.address, NULL, "message-size", NULL, 552, "5.3.4",
                   "Message size exceeds fixed maximum message size");
      relais_smtp_path_clear (&path);
      return;
    }
  /* RFC 1870 §6.1: what cannot be stored now is refused for now. */
  if (!relais_queue_has_room (s->services->queue, path.size > 0 ? (guint64) path.size : 0))
    {
      static gint64 warned;     /* once a minute is enough to be seen */

      if (g_get_monotonic_time () - warned > 60 * G_USEC_PER_SEC || warned == 0)
        {
          warned = g_get_monotonic_time ();
          SLOG (s, G_LOG_LEVEL_WARNING, "the spool's file system has less than %d MiB free (or too little "
                "for the size announced): mail is refused with 452 4.3.1 until there is room",
                RELAIS_QUEUE_MIN_FREE / (1024 * 1024));
        }
      {
        g_autoptr(RelaisReply) r = relais_reply_storage (TRUE);

        reject_full (s, "MAIL", path.address, NULL, "no-space", NULL, r->code, r->enhanced, r->text);
      }
      relais_smtp_path_clear (&path);
      return;
    }

  tx = g_new0 (RelaisTransaction, 1);
  tx->config = g_steal_pointer (&config);
  tx->sender = g_steal_pointer (&path.address);
  tx->smtputf8 = path.smtputf8;
  tx->body_8bit = path.body == RELAIS_SMTP_BODY_8BITMIME;
  tx->recipients = g_ptr_array_new_with_free_func (g_free);
  tx->dsn_ret = path.ret;
  tx->dsn_envid = g_steal_pointer (&path.envid);
  tx->dsn_notify = g_array_new (FALSE, FALSE, sizeof (guint));
  tx->dsn_orcpts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dsn_orcpt_free);
  /* RFC 4954 §5: AUTH= is trusted only from an authenticated client. */
  if (path.auth != NULL && s->auth_login != NULL)
    tx->auth_param = g_steal_pointer (&path.auth);
  else if (path.auth != NULL)
    SLOG (s, G_LOG_LEVEL_DEBUG, "ignoring AUTH=<%s> from an unauthenticated client", path.auth);
  s->tx = tx;
  relais_smtp_path_clear (&path);
  if (tx->auth_param != NULL)
    SLOG (s, G_LOG_LEVEL_INFO, "from=<%s> auth=<%s>", tx->sender, tx->auth_param);
  else
    SLOG (s, G_LOG_LEVEL_INFO, "from=<%s>", tx->sender);
  session_set_state (s, STATE_MAIL);
  reply (s, 250, "2.1.0", "Ok");
}

/* SPEC §4.5: a 550 5.1.1 counts towards the nonexistent-account block;
 * past the limit the address is blocked until local midnight and the
 * session ends with 421 instead: TRUE then. */
static gboolean
count_nonexistent (RelaisSession *s, const RelaisConfig *config, const char *recipient)
{
  RelaisPolicyFacts facts = { 0 };
  g_auto(RelaisVerdict) verdict = { 0 };
  gint64 now = relais_clock_now ();

  if (s->services->anvil == NULL || s->client_address == NULL)
    return FALSE;
  security_facts (s, &facts);
  facts.nonexistent_recipients = relais_anvil_nonexistent (s->services->anvil, s->client_ip, now);
  relais_policy_check_nonexistent (config, &facts, &verdict);
  if (!relais_verdict_is_reject (&verdict))
    return FALSE;
  relais_anvil_block (s->services->anvil, s->client_ip, relais_clock_next_local_midnight (now));
  SLOG (s, G_LOG_LEVEL_WARNING, "blocking %s until midnight: %u nonexistent recipients today",
        s->client_ip, facts.nonexistent_recipients);
  count_hits (s, &verdict, FALSE);
  reject_verdict (s, "RCPT", NULL, recipient, &verdict);
  transaction_end (s);
  s->in_pos = s->in_len;
  session_set_state (s, STATE_CLOSING);
  return TRUE;
}

static void
cmd_rcpt (RelaisSession *s, const char *arg)
{
  RelaisSmtpPath path = { 0 };
  RelaisPolicyFacts facts = { 0 };
  g_auto(RelaisVerdict) verdict = { 0 };
  RelaisTransaction *tx = s->tx;

  if (tx == NULL)
    {
      reply (s, 503, "5.5.1", "Error: need MAIL command");
      return;
    }
  if (tx->bdat)
    {
      reply (s, 503, "5.5.1", "Error: RCPT after BDAT");
      return;
    }

  if (!path_ok (s, relais_smtp_parse_rcpt (arg, tx->smtputf8, &path), &path, FALSE) ||
      !path_dsn_ok (s, &path, FALSE))
    return;

  if (tx->config->max_recipients > 0 && tx->recipients->len >= tx->config->max_recipients)
    {
      reject_full (s, "RCPT", NULL, path.address, "max-recipients", NULL, 452, "4.5.3", "Too many recipients");
      relais_smtp_path_clear (&path);
      return;
    }

  security_facts (s, &facts);
  fill_auth_facts (s, tx->config, &facts);
  network_facts (s, tx->config, &facts);
  facts.sender = tx->sender;
  facts.sender_domain_dns = tx->sender_domain_dns;
  facts.spf = tx->spf;
  facts.recipient = path.address;
  facts.recipient_is_postmaster = path.is_postmaster;
  relais_policy_check_rcpt (tx->config, &facts, &verdict);
  if (verdict.kind == RELAIS_VERDICT_LOOKUP)
    {
      const char *at = strrchr (tx->sender, '@');

      start_lookup (s, verdict.lookup, at != NULL ? at + 1 : tx->sender);
      relais_smtp_path_clear (&path);
      return;
    }
  count_hits (s, &verdict, TRUE);
  if (relais_verdict_is_reject (&verdict))
    {
      if (g_strcmp0 (verdict.reason, "unknown-recipient") != 0 || !count_nonexistent (s, tx->config, path.address))
        reject_verdict (s, "RCPT", NULL, path.address, &verdict);
      relais_smtp_path_clear (&path);
      return;
    }
  if (verdict.kind == RELAIS_VERDICT_DISCARD)
    {
      /* SPEC §4.1: the client is told 250; the recipient is never delivered. */
      RelaisLogIds ids = { s->id, NULL, s->client_ip, verdict.rule };

      relais_log (G_LOG_LEVEL_MESSAGE, &ids, "discard to=<%s> rule=%s", path.address, verdict.rule);
      tx->discarded++;
      relais_smtp_path_clear (&path);
      session_set_state (s, STATE_RCPT);
      reply (s, 250, "2.1.5", "Ok");
      return;
    }
  SLOG (s, G_LOG_LEVEL_INFO, "to=<%s> rule=%s", verdict.recipient, verdict.rule != NULL ? verdict.rule : "-");
  g_ptr_array_add (tx->recipients, g_steal_pointer (&verdict.recipient));
  g_array_append_val (tx->dsn_notify, path.notify);
  g_ptr_array_add (tx->dsn_orcpts, g_steal_pointer (&path.orcpt));
  relais_smtp_path_clear (&path);
  session_set_state (s, STATE_RCPT);
  reply (s, 250, "2.1.5", "Ok");
}

static void
cmd_data (RelaisSession *s, const char *arg)
{
  if (*arg != '\0')
    {
      reply (s, 501, "5.5.4", "Syntax: DATA");
      return;
    }
  if (s->tx == NULL)
    {
      reply (s, 503, "5.5.1", s->helo == NULL ? "Error: send HELO/EHLO first" : "Error: need MAIL command");
      return;
    }
  if (s->tx->bdat)
    {
      reply (s, 503, "5.5.1", "Error: DATA after BDAT");
      return;
    }
  if (s->tx->recipients->len == 0 && s->tx->discarded == 0)
    {
      reply (s, 554, "5.5.1", "Error: No valid recipients");
      return;
    }
  if (!transaction_begin_content (s, s->tx))
    {
      reply_storage_error (s, s->tx->write_error);
      return;
    }
  /* RFC 2920 §3.1: DATA ends a group; content must wait for the 354. */
  if (s->in_len > s->in_pos && s->services->config->reject_unauthorized_pipelining)
    {
      pipelining_violation (s, "DATA", "message content sent before the 354 reply");
      return;
    }
  session_set_state (s, STATE_DATA);
  reply (s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
  s->flush_now = TRUE;
}

static void
cmd_bdat (RelaisSession *s, const char *arg)
{
  guint64 size;
  gboolean last;

  if (!relais_smtp_parse_bdat (arg, &size, &last))
    {
      /* The chunk length is unknown: no way to find the next command (RFC 3030 §3). */
      reply (s, 501, "5.5.4", "Syntax: BDAT size [LAST]; closing connection");
      transaction_end (s);
      session_set_state (s, STATE_CLOSING);
      return;
    }

  s->chunk_remaining = size;
  s->chunk_size = size;
  s->chunk_last = last;
  s->chunk_return_state = s->state;
  g_clear_pointer (&s->chunk_reply, relais_reply_free);
  if (s->tx == NULL)
    s->chunk_reply = relais_reply_new (503, "5.5.1", s->helo == NULL ? "Error: send HELO/EHLO first"
                                                                      : "Error: need MAIL command");
  else if (s->tx->recipients->len == 0 && s->tx->discarded == 0)
    s->chunk_reply = relais_reply_new (554, "5.5.1", "Error: No valid recipients");
  else if (!s->tx->bdat)
    {
      if (!transaction_begin_content (s, s->tx))
        s->chunk_reply = storage_reply (s->tx->write_error);
      else
        s->tx->bdat = TRUE;
    }
  session_set_state (s, STATE_BDAT_CHUNK);
}

static void
bdat_chunk_done (RelaisSession *s)
{
  s->flush_now = TRUE;
  if (s->chunk_reply != NULL)
    {
      relais_reply_format (s->chunk_reply, s->out);
      g_clear_pointer (&s->chunk_reply, relais_reply_free);
      session_set_state (s, s->chunk_return_state);
      return;
    }
  if (s->tx->size_exceeded)
    {
      reject (s, "BDAT", "message-size", 552, "5.3.4", "Message size exceeds limit");
      transaction_end (s);
      return;
    }
  if (s->chunk_last)
    {
      transaction_finish (s);
      return;
    }
  session_set_state (s, STATE_BDAT_WAIT);
  replyf (s, 250, "2.0.0", "%" G_GUINT64_FORMAT " octets received", s->chunk_size);
}

static void
cmd_starttls (RelaisSession *s, const char *arg)
{
  if (*arg != '\0')
    {
      reply (s, 501, "5.5.4", "Syntax: STARTTLS");
      return;
    }
  if (s->tls != NULL)
    {
      reply (s, 503, "5.5.1", "Error: TLS already active");
      return;
    }
  if (s->services->tls_certificate == NULL)
    {
      reply (s, 502, "5.5.1", "Error: command not implemented");
      return;
    }
  reply (s, 220, "2.0.0", "Ready to start TLS");
  /* Bytes sent after STARTTLS in plain text must never be answered inside TLS. */
  if (s->in_len > s->in_pos)
    {
      SLOG (s, G_LOG_LEVEL_MESSAGE, "discarding %" G_GSIZE_FORMAT " bytes pipelined after STARTTLS from %s",
            s->in_len - s->in_pos, s->client_ip);
      s->in_pos = s->in_len;
    }
  transaction_end (s);
  s->pipelining_offered = FALSE;   /* RFC 3207 §4.2: the client starts over with EHLO */
  session_set_state (s, STATE_HANDSHAKE);
  s->flush_now = TRUE;
}

/* ---- SMTP AUTH (RFC 4954) ---------------------------------------------- */

static const char *
mechanism_name (RelaisSaslMechanism mechanism)
{
  return mechanism == RELAIS_SASL_PLAIN ? "PLAIN" : "LOGIN";
}

/* Leaves the SASL exchange (back to READY), forgetting what it received. */
static void
auth_end (RelaisSession *s)
{
  if (s->auth_user != NULL)
    {
      relais_sasl_wipe (s->auth_user, strlen (s->auth_user));
      s->auth_user = NULL;
    }
  if (s->state == STATE_AUTH || s->state == STATE_AUTH_CHECK)
    session_set_state (s, s->helo != NULL ? STATE_READY : STATE_GREETED);
}

/* The account a SASL user name names: its login, or its address
 * login@local-domain (aliases are not user names). */
static const RelaisAccount *
auth_account (const RelaisConfig *config, const char *user)
{
  const RelaisAccount *account = relais_config_lookup_login (config, user);
  const char *at;

  if (account != NULL)
    return account;
  at = strrchr (user, '@');
  if (at == NULL || !relais_config_is_local_domain (config, at + 1))
    return NULL;
  {
    g_autofree char *login = g_strndup (user, (gsize) (at - user));

    return relais_config_lookup_login (config, login);
  }
}

typedef struct {
  char *password;        /* wiped when freed */
  char *hash;            /* NULL: unknown user (a dummy hash is checked, for equal timing) */
  char *login;           /* the account's login, NULL for an unknown user */
} AuthCheck;

static void
auth_check_free (gpointer data)
{
  AuthCheck *check = data;

  relais_sasl_wipe (check->password, strlen (check->password));
  g_free (check->hash);
  g_free (check->login);
  g_free (check);
}

/* A hash of a random password, made once: an unknown user name costs the same
 * time as a wrong password, so timing does not tell which logins exist. */
static const char *
dummy_hash (void)
{
  static gsize hash;

  if (g_once_init_enter (&hash))
    {
      g_autofree char *random = g_strdup_printf ("%08x%08x%08x", g_random_int (), g_random_int (),
                                                 g_random_int ());
      char *made = relais_password_hash (random, NULL);

      g_once_init_leave (&hash, (gsize) (made != NULL ? made : g_strdup ("$y$unusable")));
    }
  return (const char *) hash;
}

static void
auth_check_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  AuthCheck *check = task_data;

  if (check->hash == NULL)
    {
      (void) relais_password_verify (check->password, dummy_hash ());
      g_task_return_boolean (task, FALSE);
      return;
    }
  g_task_return_boolean (task, check->login != NULL && relais_password_verify (check->password, check->hash));
}

static gboolean
auth_delay_cb (gpointer user_data)
{
  RelaisSession *s = user_data;

  s->auth_delay_id = 0;
  s->io_pending = FALSE;
  if (s->state == STATE_CLOSED)
    return G_SOURCE_REMOVE;
  reject (s, "AUTH", "auth-failed", 535, "5.7.8", "Authentication credentials invalid");
  auth_end (s);
  s->flush_now = TRUE;
  pump (s);
  return G_SOURCE_REMOVE;
}

/* A failed attempt: counted, then answered with 535 after the guard's delay. */
static void
auth_failed (RelaisSession *s)
{
  gint64 delay = 0;
  gboolean locked = FALSE;

  relais_stats_add (s->services->stats, RELAIS_STAT_AUTH_FAILURES, 1);
  if (s->services->auth_guard != NULL)
    delay = relais_auth_guard_failure (s->services->auth_guard, s->client_ip, &locked);
  SLOG (s, G_LOG_LEVEL_MESSAGE, "authentication failed from [%s] (%s)%s", s->client_ip,
        mechanism_name (s->auth_mechanism), locked ? ": too many failures, address locked out" : "");
  session_set_state (s, STATE_AUTH_CHECK);
  s->io_pending = TRUE;
  s->auth_delay_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) (delay / 1000), auth_delay_cb,
                                         relais_session_ref (s), (GDestroyNotify) relais_session_unref);
}

static void
auth_check_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;
  AuthCheck *check = g_task_get_task_data (G_TASK (result));
  gboolean ok = g_task_propagate_boolean (G_TASK (result), NULL);

  s->io_pending = FALSE;
  if (s->state == STATE_CLOSED)
    {
      /* The client left (or the daemon stops): nothing to answer. */
      relais_session_unref (s);
      return;
    }
  if (ok)
    {
      s->auth_login = g_strdup (check->login);
      if (s->services->auth_guard != NULL)
        relais_auth_guard_success (s->services->auth_guard, s->client_ip);
      relais_stats_add (s->services->stats, RELAIS_STAT_AUTH_SUCCESSES, 1);
      SLOG (s, G_LOG_LEVEL_MESSAGE, "authenticated from [%s]: login=%s (%s)", s->client_ip, s->auth_login,
            mechanism_name (s->auth_mechanism));
      reply (s, 235, "2.7.0", "Authentication successful");
      auth_end (s);
      s->flush_now = TRUE;
    }
  else
    auth_failed (s);
  pump (s);
  relais_session_unref (s);
}

/* Checks USER's PASSWORD (PASSWORD is taken and wiped) in a worker thread. */
static void
auth_check (RelaisSession *s, const char *user, char *password)
{
  g_autoptr(RelaisConfig) config = relais_services_get_config (s->services);
  const RelaisAccount *account = auth_account (config, user);
  AuthCheck *check = g_new0 (AuthCheck, 1);
  g_autoptr(GTask) task = NULL;

  check->password = password;
  if (account != NULL)
    {
      check->hash = g_strdup (account->password_hash);
      check->login = g_strdup (account->login);
    }
  session_set_state (s, STATE_AUTH_CHECK);
  s->io_pending = TRUE;
  task = g_task_new (NULL, NULL, auth_check_cb, relais_session_ref (s));
  g_task_set_source_tag (task, auth_check);
  g_task_set_task_data (task, check, auth_check_free);
  g_task_run_in_thread (task, auth_check_thread);
}

/* Decoded SASL data from the client (DATA is taken and wiped). */
static void
auth_data (RelaisSession *s, char *data, gsize len)
{
  if (s->auth_mechanism == RELAIS_SASL_PLAIN)
    {
      g_autofree char *authzid = NULL, *authcid = NULL;
      char *password = NULL;
      gboolean ok = relais_sasl_plain_split (data, len, &authzid, &authcid, &password);

      relais_sasl_wipe (data, len);
      if (!ok)
        {
          auth_end (s);
          reply (s, 501, "5.5.2", "Invalid PLAIN message: expected [authzid] NUL user NUL password");
          return;
        }
      /* Acting for another identity is not supported: authzid empty or the user itself. */
      if (authzid[0] != '\0' && !g_str_equal (authzid, authcid))
        {
          relais_sasl_wipe (password, strlen (password));
          auth_failed (s);
          return;
        }
      auth_check (s, authcid, password);
      return;
    }

  /* LOGIN: a user name, then a password, each in its own response. */
  if (len == 0 || memchr (data, '\0', len) != NULL || !g_utf8_validate (data, (gssize) len, NULL))
    {
      relais_sasl_wipe (data, len);
      auth_end (s);
      reply (s, 501, "5.5.2", "Invalid LOGIN response: expected a non-empty UTF-8 string");
      return;
    }
  if (s->auth_user == NULL)
    {
      s->auth_user = data;
      session_set_state (s, STATE_AUTH);
      reply (s, 334, NULL, "UGFzc3dvcmQ6");    /* "Password:" */
      s->flush_now = TRUE;
      return;
    }
  {
    g_autofree char *user = g_strdup (s->auth_user);

    auth_check (s, user, data);
  }
}

/* One response line while in STATE_AUTH. */
static void
auth_response (RelaisSession *s, const char *line)
{
  char *data = NULL;
  gsize len = 0;

  switch (relais_sasl_decode_response (line, FALSE, &data, &len))
    {
    case RELAIS_SASL_DATA_OK:
      auth_data (s, data, len);
      break;
    case RELAIS_SASL_DATA_CANCELLED:
      auth_end (s);
      reply (s, 501, "5.0.0", "Authentication cancelled");
      break;
    case RELAIS_SASL_DATA_BAD_BASE64:
    default:
      auth_end (s);
      reply (s, 501, "5.5.2", "Invalid base64 data");
      break;
    }
}

static void
cmd_auth (RelaisSession *s, const char *arg)
{
  g_autoptr(RelaisConfig) config = relais_services_get_config (s->services);
  RelaisSaslMechanism mechanism;
  const char *initial = NULL;
  char *data = NULL;
  gsize len = 0;

  if (s->helo == NULL || !s->esmtp)
    {
      reply (s, 503, "5.5.1", "Error: send EHLO first");
      return;
    }
  if (!auth_enabled (s, config))
    {
      reply (s, 502, "5.5.1", "Error: authentication not enabled");
      return;
    }
  if (s->tls == NULL)
    {
      reply (s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
      return;
    }
  if (s->auth_login != NULL)
    {
      reply (s, 503, "5.5.1", "Error: already authenticated");
      return;
    }
  if (s->tx != NULL)
    {
      reply (s, 503, "5.5.1", "Error: AUTH not allowed during a mail transaction");
      return;
    }
  switch (relais_smtp_parse_auth (arg, &mechanism, &initial))
    {
    case RELAIS_SMTP_AUTH_OK:
      break;
    case RELAIS_SMTP_AUTH_UNKNOWN_MECHANISM:
      reply (s, 504, "5.5.4", "Unrecognized authentication mechanism (offered: PLAIN LOGIN)");
      return;
    case RELAIS_SMTP_AUTH_SYNTAX:
    default:
      reply (s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
      return;
    }
  if (s->services->auth_guard != NULL &&
      relais_auth_guard_is_locked (s->services->auth_guard, s->client_ip, NULL))
    {
      relais_stats_add (s->services->stats, RELAIS_STAT_AUTH_FAILURES, 1);
      reject (s, "AUTH", "auth-lockout", 454, "4.7.0", "Too many failed authentication attempts, try again later");
      return;
    }

  s->auth_mechanism = mechanism;
  if (initial == NULL)
    {
      session_set_state (s, STATE_AUTH);
      /* PLAIN: an empty challenge; LOGIN: "Username:" */
      reply (s, 334, NULL, mechanism == RELAIS_SASL_PLAIN ? "" : "VXNlcm5hbWU6");
      s->flush_now = TRUE;
      return;
    }
  switch (relais_sasl_decode_response (initial, TRUE, &data, &len))
    {
    case RELAIS_SASL_DATA_OK:
      auth_data (s, data, len);
      break;
    case RELAIS_SASL_DATA_CANCELLED:
      reply (s, 501, "5.0.0", "Authentication cancelled");
      break;
    case RELAIS_SASL_DATA_BAD_BASE64:
    default:
      reply (s, 501, "5.5.2", "Invalid base64 data");
      break;
    }
}

static gboolean
is_junk_command (RelaisSmtpCommand command)
{
  switch (command)
    {
    case RELAIS_SMTP_CMD_NOOP:
    case RELAIS_SMTP_CMD_RSET:
    case RELAIS_SMTP_CMD_VRFY:
    case RELAIS_SMTP_CMD_EXPN:
    case RELAIS_SMTP_CMD_HELP:
    case RELAIS_SMTP_CMD_UNKNOWN:
      return TRUE;
    default:
      return FALSE;
    }
}

static void execute_command (RelaisSession *s, RelaisSmtpCommand command, const char *line, const char *arg);

/* Runs one command line, then counts it when it was junk (SPEC §4.5). */
static void
execute (RelaisSession *s, const char *line)
{
  const char *arg;
  RelaisSmtpCommand command = relais_smtp_parse_command (line, &arg);
  guint limit;
  gsize replies_before = s->out->len;

  s->last_reply_code = 0;
  s->current_line = line;
  execute_command (s, command, line, arg);
  s->current_line = NULL;
  if (s->deferred_line != NULL)   /* waiting for DNS: it runs again */
    return;
  if (s->state == STATE_CLOSING || s->state == STATE_CLOSED)
    return;
  if (!is_junk_command (command) && (s->last_reply_code < 500 || s->last_reply_code > 503))
    return;
  s->junk_commands++;
  limit = s->services->config->max_junk_commands;
  if (limit > 0 && s->junk_commands > limit)
    {
      /* The command's own reply gives way to the 421. */
      g_string_truncate (s->out, replies_before);
      relais_stats_hit (s->services->stats, "policy:junk-commands");
      reject_full (s, "COMMAND", NULL, NULL, "junk-commands", "policy:junk-commands", 421, "4.7.0",
                   "Too many junk commands");
      transaction_end (s);
      s->in_pos = s->in_len;
      session_set_state (s, STATE_CLOSING);
    }
}

static void
execute_command (RelaisSession *s, RelaisSmtpCommand command, const char *line, const char *arg)
{
  if (command == RELAIS_SMTP_CMD_AUTH)   /* never log credentials: the mechanism only */
    SLOG (s, G_LOG_LEVEL_DEBUG, "<<< AUTH %.*s%s", (int) strcspn (arg, " "), arg,
          strchr (arg, ' ') != NULL ? " [initial response hidden]" : "");
  else
    SLOG (s, G_LOG_LEVEL_DEBUG, "<<< %s", command == RELAIS_SMTP_CMD_UNKNOWN ? "(unknown)" : line);
  switch (command)
    {
    case RELAIS_SMTP_CMD_EHLO:
      cmd_helo (s, arg, TRUE);
      break;
    case RELAIS_SMTP_CMD_HELO:
      cmd_helo (s, arg, FALSE);
      break;
    case RELAIS_SMTP_CMD_MAIL:
      cmd_mail (s, arg);
      break;
    case RELAIS_SMTP_CMD_RCPT:
      cmd_rcpt (s, arg);
      break;
    case RELAIS_SMTP_CMD_DATA:
      cmd_data (s, arg);
      break;
    case RELAIS_SMTP_CMD_BDAT:
      cmd_bdat (s, arg);
      break;
    case RELAIS_SMTP_CMD_RSET:
      if (*arg != '\0')
        {
          reply (s, 501, "5.5.4", "Syntax: RSET");
          break;
        }
      transaction_end (s);
      reply (s, 250, "2.0.0", "Ok");
      break;
    case RELAIS_SMTP_CMD_NOOP:
      reply (s, 250, "2.0.0", "Ok");
      break;
    case RELAIS_SMTP_CMD_QUIT:
      if (*arg != '\0')
        {
          reply (s, 501, "5.5.4", "Syntax: QUIT");
          break;
        }
      reply (s, 221, "2.0.0", "Bye");
      transaction_end (s);
      session_set_state (s, STATE_CLOSING);
      break;
    case RELAIS_SMTP_CMD_VRFY:
      if (*arg == '\0')
        reply (s, 501, "5.5.4", "Syntax: VRFY address");
      else
        reply (s, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
      break;
    case RELAIS_SMTP_CMD_EXPN:
      reply (s, 502, "5.5.1", "Error: EXPN not supported");
      break;
    case RELAIS_SMTP_CMD_HELP:
      reply (s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
      break;
    case RELAIS_SMTP_CMD_STARTTLS:
      cmd_starttls (s, arg);
      break;
    case RELAIS_SMTP_CMD_AUTH:
      cmd_auth (s, arg);
      break;
    case RELAIS_SMTP_CMD_UNKNOWN:
    default:
      reply (s, 500, "5.5.2", "Error: command not recognized");
      break;
    }
}

/* ---- input processing -------------------------------------------------- */

/* One command line from the buffer. Returns FALSE when more input is needed. */
static gboolean
process_command_line (RelaisSession *s)
{
  const guint8 *start = s->in + s->in_pos;
  gsize avail = s->in_len - s->in_pos;
  const guint8 *lf = memchr (start, '\n', avail);
  gsize len;
  char line[RELAIS_SMTP_MAX_LINE];
  gboolean in_auth = s->state == STATE_AUTH;

  if (s->discarding_line)
    {
      if (lf == NULL)
        {
          s->in_pos = s->in_len;
          return FALSE;
        }
      s->in_pos += (gsize) (lf - start) + 1;
      s->line_started = 0;
      s->discarding_line = FALSE;
      auth_end (s);
      reply (s, 500, "5.5.2", "Error: line too long");
      return TRUE;
    }
  if (lf == NULL)
    {
      if (avail >= RELAIS_SMTP_MAX_LINE)
        {
          /* Over 512 octets and still no end: drop it up to its LF. */
          s->discarding_line = TRUE;
          s->in_pos = s->in_len;
          return TRUE;
        }
      return FALSE;
    }

  len = (gsize) (lf - start) + 1;     /* with the LF */
  s->in_pos += len;
  s->line_started = 0;
  if (len > RELAIS_SMTP_MAX_LINE)
    {
      auth_end (s);
      reply (s, 500, "5.5.2", "Error: line too long");
      return TRUE;
    }
  if (len < 2 || start[len - 2] != '\r' || memchr (start, '\r', len - 2) != NULL)
    {
      auth_end (s);
      reply (s, 500, "5.5.2", "Error: bare CR or LF in command line (lines must end with CRLF)");
      return TRUE;
    }
  if (memchr (start, '\0', len) != NULL)
    {
      auth_end (s);
      reply (s, 500, "5.5.2", "Error: NUL character in command line");
      return TRUE;
    }
  len -= 2;
  while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
    len--;
  memcpy (line, start, len);
  line[len] = '\0';
  /* SPEC §4.5: before PIPELINING was offered, one command at a time. */
  if (!in_auth && !s->pipelining_offered && s->in_len > s->in_pos &&
      s->services->config->reject_unauthorized_pipelining)
    pipelining_violation (s, "COMMAND", "several commands sent at once without PIPELINING");
  else if (in_auth)
    auth_response (s, line);
  else
    execute (s, line);
  /* The line may have carried credentials (AUTH PLAIN's initial response, a
   * SASL response): leave no copy behind. */
  if (in_auth || relais_smtp_parse_command (line, NULL) == RELAIS_SMTP_CMD_AUTH)
    {
      explicit_bzero (line, len);
      explicit_bzero ((guint8 *) start, len);
    }
  return TRUE;
}

static gboolean
process_data (RelaisSession *s)
{
  guint8 decoded[2 * DATA_STEP + 3];
  gsize avail = s->in_len - s->in_pos;
  gsize step = MIN (avail, DATA_STEP);
  gsize out_len = 0, consumed;
  gboolean done = FALSE;

  if (avail == 0)
    return FALSE;
  consumed = relais_data_decoder_feed (&s->tx->decoder, s->in + s->in_pos, step, decoded, &out_len, &done);
  s->in_pos += consumed;
  transaction_content (s, s->tx, decoded, out_len);
  if (done)
    transaction_finish (s);
  return TRUE;
}

static gboolean
process_bdat (RelaisSession *s)
{
  gsize avail = s->in_len - s->in_pos;
  gsize n;

  if (s->chunk_remaining > 0)
    {
      if (avail == 0)
        return FALSE;
      n = (gsize) MIN ((guint64) avail, s->chunk_remaining);
      if (s->chunk_reply == NULL)
        transaction_content (s, s->tx, s->in + s->in_pos, n);
      s->in_pos += n;
      s->chunk_remaining -= n;
    }
  if (s->chunk_remaining == 0)
    bdat_chunk_done (s);
  return TRUE;
}

/* The graceful stop's 421 is due now: between commands, or also inside a
 * message once the stop must happen at once. */
static gboolean
drain_due (RelaisSession *s)
{
  switch (s->state)
    {
    case STATE_GREETED:
    case STATE_READY:
    case STATE_MAIL:
    case STATE_RCPT:
    case STATE_AUTH:
      return s->drain != RELAIS_SESSION_DRAIN_NONE;
    case STATE_DATA:
    case STATE_BDAT_CHUNK:
    case STATE_BDAT_WAIT:
      return s->drain == RELAIS_SESSION_DRAIN_NOW;
    default:
      return FALSE;
    }
}

static void
say_shutting_down (RelaisSession *s)
{
  g_autoptr(RelaisConfig) config = relais_services_get_config (s->services);

  if (s->state == STATE_DATA || s->state == STATE_BDAT_CHUNK || s->state == STATE_BDAT_WAIT)
    SLOG (s, G_LOG_LEVEL_MESSAGE, "shutting down: dropping the message being received from %s", s->client_ip);
  transaction_end (s);
  g_clear_pointer (&s->chunk_reply, relais_reply_free);
  replyf (s, 421, "4.3.2", "%s Service shutting down", config->hostname);
  s->in_pos = s->in_len;
  session_set_state (s, STATE_CLOSING);
}

static gboolean
process_one (RelaisSession *s)
{
  if (drain_due (s))
    {
      say_shutting_down (s);
      return TRUE;
    }
  switch (s->state)
    {
    case STATE_GREETED:
    case STATE_READY:
    case STATE_MAIL:
    case STATE_RCPT:
    case STATE_BDAT_WAIT:
    case STATE_AUTH:
      return process_command_line (s);
    case STATE_DATA:
      return process_data (s);
    case STATE_BDAT_CHUNK:
      return process_bdat (s);
    default:
      return FALSE;
    }
}

/* ---- I/O --------------------------------------------------------------- */

static void cancel_poll (RelaisSession *s);

/* Every session's timeout is a deadline in the session, looked at by one
 * timer for all of them once a second: a GLib source per session would make
 * each iteration of the main loop look at thousands of them. Main thread. */
static GHashTable *live_sessions;   /* RelaisSession* -> itself */
static guint tick_id;

static void
timed_out (RelaisSession *s)
{
  s->timed_out = TRUE;
  SLOG (s, G_LOG_LEVEL_MESSAGE, "timeout from %s in state %s", s->client_ip, state_names[s->state]);
  g_cancellable_cancel (s->cancellable);
  cancel_poll (s);
}

static gboolean
tick_cb (gpointer user_data)
{
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_session_unref);
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  RelaisSession *s;

  g_hash_table_iter_init (&iter, live_sessions);
  while (g_hash_table_iter_next (&iter, (gpointer *) &s, NULL))
    if (s->deadline != 0 && s->deadline <= now)
      {
        s->deadline = 0;
        g_ptr_array_add (due, relais_session_ref (s));
      }
  for (guint i = 0; i < due->len; i++)
    timed_out (due->pdata[i]);
  return G_SOURCE_CONTINUE;
}

static void
sessions_add (RelaisSession *s)
{
  if (live_sessions == NULL)
    live_sessions = g_hash_table_new (NULL, NULL);
  g_hash_table_add (live_sessions, s);
  if (tick_id == 0)
    {
      tick_id = g_timeout_add_seconds (1, tick_cb, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, tick_id), "relais-session-timeouts");
    }
}

static void
sessions_remove (RelaisSession *s)
{
  g_hash_table_remove (live_sessions, s);
  if (g_hash_table_size (live_sessions) == 0)
    g_clear_handle_id (&tick_id, g_source_remove);
}

static void
disarm_timer (RelaisSession *s)
{
  s->deadline = 0;
}

static void
arm_timer (RelaisSession *s)
{
  guint seconds = s->services->config->idle_timeout;

  if (seconds == 0)
    seconds = RELAIS_DEFAULT_IDLE_TIMEOUT;
  if (s->line_started == 0)
    {
      s->deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
      return;
    }
  /* A command line gets IdleTimeout in all, however its bytes trickle in
   * (a client sending one byte a second would hold a session for ever). */
  s->deadline = s->line_started + (gint64) seconds * G_USEC_PER_SEC;
}

/* The end of the write of S->writing: ERROR closes the session. */
static void
write_done (RelaisSession *s, const GError *error)
{
  disarm_timer (s);
  s->io_pending = FALSE;
  s->written = 0;
  if (error != NULL)
    {
      if (s->state != STATE_CLOSED)
        SLOG (s, G_LOG_LEVEL_INFO, "write to %s failed: %s", s->client_ip, error->message);
      close_now (s);
      return;
    }
  g_string_truncate (s->writing, 0);
  s->flush_now = FALSE;
}

static void
write_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  write_done (s, error);
  if (error == NULL)
    pump (s);
  relais_session_unref (s);
}

/* A plain session's watch in the poller, made on its first read or write;
 * FALSE (GLib's sources then) for TLS or when epoll refuses it. */
static gboolean
ensure_watch (RelaisSession *s)
{
  g_autoptr(GError) error = NULL;

  if (s->tls != NULL)
    return FALSE;
  if (s->watch != NULL)
    return TRUE;
  s->watch = relais_poll_watch_new (g_socket_get_fd (g_socket_connection_get_socket (s->connection)), &error);
  if (s->watch == NULL)
    SLOG (s, G_LOG_LEVEL_INFO, "reading and writing through GLib's sources: %s", error->message);
  return s->watch != NULL;
}

static gboolean poll_write (RelaisSession *s);

static void
writable_cb (gpointer user_data)
{
  RelaisSession *s = user_data;

  s->poll_writing = FALSE;
  if (poll_write (s))
    pump (s);
  relais_session_unref (s);
}

/* Writes what is left of S->writing without waiting: TRUE once it is all
 * written; FALSE when the rest waits in the poller for room in the socket
 * (the watch holding a reference) or the write failed (the session is
 * closed then). */
static gboolean
poll_write (RelaisSession *s)
{
  while (s->written < s->writing->len)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (s->output),
                                                             s->writing->str + s->written,
                                                             s->writing->len - s->written, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&error);
          if (relais_poll_watch_arm (s->watch, G_IO_OUT, writable_cb, relais_session_ref (s), &error))
            {
              s->poll_writing = TRUE;
              return FALSE;
            }
          relais_session_unref (s);
        }
      if (n < 0)
        {
          write_done (s, error);
          return FALSE;
        }
      s->written += (gsize) n;
    }
  write_done (s, NULL);
  return TRUE;
}

/* Sends S->out. TRUE when it is all written at once, for pump() to go on:
 * a plain session's replies are written without waiting (they are far
 * smaller than a socket's buffer), else the write ends in writable_cb() or,
 * with TLS, write_cb(). */
static gboolean
start_write (RelaisSession *s)
{
  GString *tmp = s->writing;

  s->writing = s->out;
  s->out = tmp;
  s->io_pending = TRUE;
  arm_timer (s);
  if (ensure_watch (s))
    return poll_write (s);
  g_output_stream_write_all_async (s->output, s->writing->str, s->writing->len, G_PRIORITY_DEFAULT,
                                   s->cancellable, write_cb, relais_session_ref (s));
  return FALSE;
}

static void
on_timeout_expired (RelaisSession *s)
{
  g_autoptr(RelaisConfig) config = relais_services_get_config (s->services);

  transaction_end (s);
  g_clear_pointer (&s->chunk_reply, relais_reply_free);
  g_clear_object (&s->cancellable);
  s->cancellable = g_cancellable_new ();
  replyf (s, 421, "4.4.2", "%s Error: timeout exceeded", config->hostname);
  session_set_state (s, STATE_CLOSING);
  pump (s);
}

/* The end of a read of N bytes into S->in (0: end of stream, -1: ERROR); drops
 * the read's reference. */
static void
read_done (RelaisSession *s, gssize n, const GError *error)
{
  disarm_timer (s);
  s->io_pending = FALSE;
  s->reading = FALSE;
  if (s->state == STATE_CLOSED)
    ;
  else if (n < 0 && s->timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    on_timeout_expired (s);
  else if (n < 0 && drain_due (s) && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* relais_session_drain() stopped the read: the 421 goes out now. */
      g_clear_object (&s->cancellable);
      s->cancellable = g_cancellable_new ();
      pump (s);
    }
  else if (n < 0)
    {
      SLOG (s, G_LOG_LEVEL_INFO, "read from %s failed: %s", s->client_ip, error->message);
      close_now (s);
    }
  else if (n == 0)
    {
      if (s->state == STATE_DATA || s->state == STATE_BDAT_CHUNK)
        SLOG (s, G_LOG_LEVEL_MESSAGE, "lost connection from %s in the middle of a message", s->client_ip);
      close_now (s);
    }
  else
    {
      s->in_len += (gsize) n;
      pump (s);
    }
  relais_session_unref (s);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  read_done (user_data, n, error);
}

static void poll_read (RelaisSession *s);

static void
readable_cb (gpointer user_data)
{
  poll_read (user_data);
}

/* Reads in a row for one session before the others get their turn. */
#define POLL_READ_BURST 8

/* A plain session's read (its reference held by the caller): what is there,
 * else a wait in the poller (one epoll set for all sessions, not a GLib
 * source each). The next read a read's processing asks for is a round of
 * this loop, not a call deeper on the stack; after POLL_READ_BURST rounds it
 * goes through the poller, so one fast client cannot hold the others up. */
static void
poll_read (RelaisSession *s)
{
  guint rounds = 0;

  if (s->in_poll_read)
    {
      s->read_again = TRUE;
      return;
    }
  relais_session_ref (s);
  s->in_poll_read = TRUE;
  do
    {
      g_autoptr(GError) error = NULL;
      gssize n = -1;

      s->read_again = FALSE;
      if (++rounds <= POLL_READ_BURST)
        n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (s->input), s->in + s->in_len,
                                                      sizeof s->in - s->in_len, NULL, &error);
      if (rounds > POLL_READ_BURST || (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
        {
          g_clear_error (&error);
          if (relais_poll_watch_arm (s->watch, G_IO_IN, readable_cb, s, &error))
            break;
        }
      read_done (s, n, error);
    }
  while (s->read_again);
  s->in_poll_read = FALSE;
  relais_session_unref (s);
}

/* A read or write waiting in the poller ends as a cancelled one would
 * (timeout, drain). */
static void
cancel_poll (RelaisSession *s)
{
  g_autoptr(GError) error = NULL;

  if (!relais_poll_watch_disarm (s->watch))
    return;
  g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  if (!s->poll_writing)
    {
      read_done (s, -1, error);
      return;
    }
  s->poll_writing = FALSE;
  write_done (s, error);
  relais_session_unref (s);
}

static void
start_read (RelaisSession *s)
{
  if (s->in_pos > 0)
    {
      memmove (s->in, s->in + s->in_pos, s->in_len - s->in_pos);
      s->in_len -= s->in_pos;
      s->in_pos = 0;
    }
  if (s->in_len == sizeof s->in)
    {
      /* Cannot happen: a full buffer always holds a line end or an over-long line. */
      g_warn_if_reached ();
      close_now (s);
      return;
    }
  s->io_pending = TRUE;
  s->reading = TRUE;
  /* Part of a command line is here already (message content is consumed
   * as it comes, and has the idle timeout for each read, RFC 5321 §4.5.3.2.6). */
  if ((s->in_len == 0 && !s->discarding_line) || s->state == STATE_DATA || s->state == STATE_BDAT_CHUNK)
    s->line_started = 0;
  else if (s->line_started == 0)
    s->line_started = g_get_monotonic_time ();
  arm_timer (s);
  if (ensure_watch (s))
    {
      relais_session_ref (s);
      poll_read (s);
      return;
    }
  g_input_stream_read_async (s->input, s->in + s->in_len, sizeof s->in - s->in_len, G_PRIORITY_DEFAULT,
                             s->cancellable, read_cb, relais_session_ref (s));
}

static void
greet (RelaisSession *s)
{
  g_autoptr(RelaisConfig) config = relais_services_get_config (s->services);
  RelaisPolicyFacts facts = { 0 };
  g_auto(RelaisVerdict) verdict = { 0 };

  /* The global limit first, for every client alike (this session counts):
   * what it guards is the daemon's memory and descriptors. */
  if (relais_stats_get (s->services->stats, RELAIS_STAT_SESSIONS_OPEN) > config->max_sessions)
    {
      reject (s, "CONNECT", "max-sessions", 421, "4.3.2", "Too many sessions, try again later");
      s->flush_now = TRUE;
      session_set_state (s, STATE_CLOSING);
      return;
    }

  /* SPEC §4.4, §4.5: the nonexistent-account block and the connection limits. */
  security_facts (s, &facts);
  if (s->services->anvil != NULL && s->client_address != NULL)
    facts.blocked_until = relais_anvil_blocked_until (s->services->anvil, s->client_ip, relais_clock_now ());
  relais_policy_check_connect (config, &facts, &verdict);
  count_hits (s, &verdict, FALSE);
  if (relais_verdict_is_reject (&verdict))
    {
      reject_verdict (s, "CONNECT", NULL, NULL, &verdict);
      s->flush_now = TRUE;
      session_set_state (s, STATE_CLOSING);
      return;
    }

  replyf (s, 220, NULL, "%s %s", config->hostname, config->banner);
  s->flush_now = TRUE;
  session_set_state (s, STATE_GREETED);
}

static const char *
protocol_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSLv3";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLSv1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLSv1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLSv1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLSv1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLSv1";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLSv1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default: return "TLS";
    }
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelaisSession *s = user_data;
  g_autoptr(GError) error = NULL;
  GTlsConnection *tls = G_TLS_CONNECTION (source);
  g_autofree char *cipher = NULL;

  disarm_timer (s);
  s->io_pending = FALSE;
  if (!g_tls_connection_handshake_finish (tls, result, &error))
    {
      if (s->state != STATE_CLOSED)
        SLOG (s, G_LOG_LEVEL_MESSAGE, "TLS handshake with %s failed: %s", s->client_ip, error->message);
      close_now (s);
      relais_session_unref (s);
      return;
    }
  if (s->state == STATE_CLOSED)
    {
      relais_session_unref (s);
      return;
    }

  s->tls = g_object_ref (tls);
  g_clear_pointer (&s->watch, relais_poll_watch_free);   /* TLS reads through GIO's own sources */
  s->input = g_io_stream_get_input_stream (G_IO_STREAM (tls));
  s->output = g_io_stream_get_output_stream (G_IO_STREAM (tls));
  cipher = g_tls_connection_get_ciphersuite_name (tls);
  s->tls_description = g_strdup_printf ("%s with cipher %s",
                                        protocol_name (g_tls_connection_get_protocol_version (tls)),
                                        cipher != NULL ? cipher : "unknown");
  relais_stats_add (s->services->stats, RELAIS_STAT_TLS_SESSIONS, 1);
  SLOG (s, G_LOG_LEVEL_INFO, "TLS established with %s: %s", s->client_ip, s->tls_description);

  /* RFC 3207 §4.2: forget everything learnt before TLS. */
  g_clear_pointer (&s->helo, g_free);
  g_clear_pointer (&s->auth_login, g_free);
  s->esmtp = FALSE;
  transaction_end (s);
  s->in_pos = s->in_len = 0;
  s->discarding_line = FALSE;
  if (s->kind == RELAIS_ENDPOINT_SMTPS)
    greet (s);
  else
    session_set_state (s, STATE_GREETED);
  pump (s);
  relais_session_unref (s);
}

static void
start_handshake (RelaisSession *s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) tls = NULL;

  if (s->services->tls_certificate == NULL)
    {
      SLOG (s, G_LOG_LEVEL_WARNING, "no TLS certificate: closing");
      close_now (s);
      return;
    }
  tls = g_tls_server_connection_new (G_IO_STREAM (s->connection), s->services->tls_certificate, &error);
  if (tls == NULL)
    {
      SLOG (s, G_LOG_LEVEL_WARNING, "cannot start TLS: %s", error->message);
      close_now (s);
      return;
    }
  /* Many SMTP clients drop the connection without close_notify after QUIT. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
  s->io_pending = TRUE;
  arm_timer (s);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, s->cancellable,
                                    handshake_cb, relais_session_ref (s));
}

/* A DNS fact arrived: the command that waited for it runs again. */
static void
lookup_done (RelaisSession *s)
{
  g_autofree char *line = g_steal_pointer (&s->deferred_line);

  s->io_pending = FALSE;
  if (s->state != STATE_CLOSED && line != NULL)
    {
      execute (s, line);
      pump (s);
    }
  relais_session_unref (s);
}

static gboolean
junk_delay_cb (gpointer user_data)
{
  RelaisSession *s = user_data;

  s->junk_delay_id = 0;
  s->io_pending = FALSE;
  s->junk_delay_done = TRUE;
  pump (s);
  return G_SOURCE_REMOVE;
}

/* Runs buffered commands, then writes replies, then reads: never two at
 * once. A write done at once is a round of this loop, not a call deeper. */
static void
pump_rounds (RelaisSession *s)
{
  do
    {
      if (s->state == STATE_CLOSED || s->io_pending)
        return;
      while (!s->flush_now && s->out->len < OUT_HIGH_WATER && !s->io_pending)
        {
          if (!process_one (s))
            break;
        }
      if (s->io_pending)          /* a queue commit started */
        return;
      if (s->out->len == 0)
        break;
      /* SPEC §4.5: every 10 junk commands, one more second before replies. */
      if (s->junk_commands >= 10 && !s->junk_delay_done && s->state != STATE_CLOSING)
        {
          s->io_pending = TRUE;
          /* Milliseconds: g_timeout_add_seconds() may fire early to group wake-ups. */
          s->junk_delay_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (s->junk_commands / 10) * 1000,
                                                 junk_delay_cb, relais_session_ref (s),
                                                 (GDestroyNotify) relais_session_unref);
          return;
        }
      s->junk_delay_done = FALSE;
    }
  while (start_write (s));
  if (s->state == STATE_CLOSED || s->io_pending)
    return;
  s->flush_now = FALSE;
  if (s->state == STATE_CLOSING)
    close_now (s);
  else if (s->state == STATE_HANDSHAKE)
    start_handshake (s);
  else
    start_read (s);
}

static void
pump (RelaisSession *s)
{
  /* A write that fails at once closes the session, whose last reference
   * may be the listener's. */
  relais_session_ref (s);
  pump_rounds (s);
  relais_session_unref (s);
}

/* Closes the connection; the socket close itself never blocks. */
static void
close_now (RelaisSession *s)
{
  RelaisSessionClosedFunc func = s->closed_func;
  gboolean poll_armed;

  if (s->state == STATE_CLOSED)
    return;
  disarm_timer (s);
  g_clear_handle_id (&s->auth_delay_id, g_source_remove);   /* drops its reference; the caller holds one */
  g_clear_handle_id (&s->junk_delay_id, g_source_remove);
  g_cancellable_cancel (s->cancellable);
  if (s->tx != NULL && (s->state == STATE_DATA || s->state == STATE_BDAT_CHUNK || s->tx->writer != NULL))
    SLOG (s, G_LOG_LEVEL_INFO, "aborting the transaction in progress");
  g_clear_pointer (&s->tx, transaction_free);
  session_set_state (s, STATE_CLOSED);
  if (s->anvil_counted)
    relais_anvil_disconnect (s->services->anvil, s->client_ip);
  s->anvil_counted = FALSE;
  /* out of the epoll set before the descriptor closes; a read waiting
   * there held a reference, dropped last (the caller holds one too) */
  poll_armed = relais_poll_watch_is_armed (s->watch);
  g_clear_pointer (&s->watch, relais_poll_watch_free);
  g_io_stream_close (G_IO_STREAM (s->connection), NULL, NULL);
  SLOG (s, G_LOG_LEVEL_MESSAGE, "disconnect from %s", s->client_ip);
  s->closed_func = NULL;
  if (func != NULL)
    func (s, s->closed_data);
  if (poll_armed)
    {
      s->io_pending = FALSE;
      s->reading = FALSE;
      s->poll_writing = FALSE;
      relais_session_unref (s);
    }
}

/* ---- public ------------------------------------------------------------ */

/* The client's address, normalized once (an IPv4 client of a dual-stack
 * socket is shown and matched as IPv4), or NULL. */
static GInetAddress *
client_address_of (GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) address = g_socket_connection_get_remote_address (connection, NULL);

  if (address == NULL || !G_IS_INET_SOCKET_ADDRESS (address))
    return NULL;
  return relais_client_address_normalize (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
}

RelaisSession *
relais_session_new (RelaisServices *services, GSocketConnection *connection, RelaisEndpointKind kind,
                    RelaisSessionClosedFunc closed_func, gpointer user_data)
{
  RelaisSession *s;

  g_return_val_if_fail (services != NULL, NULL);
  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (connection), NULL);

  s = g_new0 (RelaisSession, 1);
  s->ref_count = 1;
  g_snprintf (s->id, sizeof s->id, "%08x", g_random_int ());
  s->services = services;
  s->kind = kind;
  s->closed_func = closed_func;
  s->closed_data = user_data;
  s->connection = g_object_ref (connection);
  s->input = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  s->output = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  s->cancellable = g_cancellable_new ();
  s->client_address = client_address_of (connection);
  s->client_ip = s->client_address != NULL ? g_inet_address_to_string (s->client_address) : g_strdup ("unknown");
  s->out = g_string_sized_new (512);
  s->writing = g_string_sized_new (512);
  s->state = STATE_CONNECTED;
  sessions_add (s);
  return s;
}

/* Did the client send anything before our greeting? A peek, never a read. */
static gboolean
sent_before_greeting (RelaisSession *s)
{
  GSocket *socket = g_socket_connection_get_socket (s->connection);
  char byte;

  if (!s->services->config->reject_unauthorized_pipelining)
    return FALSE;
  return recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

void
relais_session_start (RelaisSession *s)
{
  g_return_if_fail (s != NULL && s->state == STATE_CONNECTED);

  SLOG (s, G_LOG_LEVEL_MESSAGE, "connect from %s (%s)", s->client_ip,
        s->kind == RELAIS_ENDPOINT_SMTP ? "smtp" : s->kind == RELAIS_ENDPOINT_SUBMISSION ? "submission" : "smtps");
  if (s->services->anvil != NULL && s->client_address != NULL)
    {
      relais_anvil_connect (s->services->anvil, s->client_ip, relais_clock_now (), &s->connections_now,
                            &s->connections_this_minute);
      s->anvil_counted = TRUE;
    }
  if (s->kind == RELAIS_ENDPOINT_SMTPS)
    session_set_state (s, STATE_HANDSHAKE);
  else if (sent_before_greeting (s))
    pipelining_violation (s, "CONNECT", "sent data before the greeting");
  else
    greet (s);
  pump (s);
}

void
relais_session_shutdown (RelaisSession *s)
{
  g_return_if_fail (s != NULL);
  s->closed_func = NULL;
  close_now (s);
}

void
relais_session_drain (RelaisSession *s, RelaisSessionDrain how)
{
  g_return_if_fail (s != NULL);

  if (s->state == STATE_CLOSED || how <= s->drain)
    return;
  s->drain = how;
  /* Waiting for the client: stop waiting (read_cb then says 421). Any other
   * operation under way (a write, a commit, a DNS answer) ends first. */
  if (s->reading && drain_due (s))
    {
      g_cancellable_cancel (s->cancellable);
      cancel_poll (s);
    }
}

RelaisSession *
relais_session_ref (RelaisSession *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  s->ref_count++;
  return s;
}

void
relais_session_unref (RelaisSession *s)
{
  g_return_if_fail (s != NULL);
  if (--s->ref_count > 0)
    return;
  sessions_remove (s);
  g_clear_pointer (&s->tx, transaction_free);
  g_clear_pointer (&s->chunk_reply, relais_reply_free);
  g_clear_object (&s->tls);
  g_clear_object (&s->connection);
  g_clear_object (&s->cancellable);
  g_free (s->client_ip);
  g_clear_object (&s->client_address);
  g_free (s->tls_description);
  g_free (s->helo);
  g_free (s->helo_dns_name);
  g_free (s->client_name);
  g_free (s->dnsbl_zone);
  g_free (s->deferred_line);
  g_free (s->lookup_name);
  g_free (s->auth_login);
  if (s->auth_user != NULL)
    relais_sasl_wipe (s->auth_user, strlen (s->auth_user));
  g_string_free (s->out, TRUE);
  g_string_free (s->writing, TRUE);
  g_free (s);
}

const char *
relais_session_get_id (RelaisSession *s)
{
  return s->id;
}
