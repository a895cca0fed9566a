/* SPDX-License-Identifier: GPL-3.0-or-later
 * The end-of-DATA checks: see relais-content-check.h. */
#define G_LOG_DOMAIN "relais"

#include "relais-content-check.h"

#include <string.h>

#include "relais-clamd.h"
#include "relais-clock.h"
#include "relais-dkim.h"
#include "relais-dmarc.h"
#include "relais-psl.h"
#include "relais-reply.h"
#include "relais-dns-query.h"
#include "relais-error.h"
#include "relais-header.h"

#define DEFAULT_TIMEOUT_MS 60000

static guint check_timeout_ms = DEFAULT_TIMEOUT_MS;

void
relais_content_check_set_timeout (guint milliseconds)
{
  check_timeout_ms = milliseconds > 0 ? milliseconds : DEFAULT_TIMEOUT_MS;
}

void
relais_content_verdict_free (RelaisContentVerdict *verdict)
{
  if (verdict == NULL)
    return;
  g_free (verdict->text);
  g_free (verdict->rule);
  g_free (verdict);
}

/* ---- header surgery ------------------------------------------------------ */

/* Skips white space (folding included) and RFC 5322 comments. */
static const char *
skip_cfws (const char *p, const char *end)
{
  while (p < end)
    {
      if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
      else if (*p == '(')
        {
          guint depth = 0;

          for (; p < end; p++)
            {
              if (*p == '\\' && p + 1 < end)
                p++;
              else if (*p == '(')
                depth++;
              else if (*p == ')' && --depth == 0)
                {
                  p++;
                  break;
                }
            }
        }
      else
        break;
    }
  return p;
}

static gboolean
claims_id (const char *value, const char *end, const char *authserv_id)
{
  gsize n = strlen (authserv_id);
  const char *p = skip_cfws (value, end);

  if ((gsize) (end - p) < n || g_ascii_strncasecmp (p, authserv_id, n) != 0)
    return FALSE;
  p += n;
  return p >= end || *p == ';' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '(';
}

GBytes *
relais_content_strip_results (const char *message, gsize length, const char *name, const char *authserv_id,
                              guint *n_removed)
{
  GByteArray *out = g_byte_array_sized_new ((guint) MIN (length, G_MAXUINT));
  const char *p = message;
  const char *end = message + length;
  guint removed = 0;

  while (p < end && !relais_header_at_end (p, end))
    {
      const char *next = relais_header_field_end (p, end);
      const char *value;

      if (relais_header_field_is (p, next, name, &value) && claims_id (value, next, authserv_id))
        removed++;
      else
        g_byte_array_append (out, (const guint8 *) p, (guint) (next - p));
      p = next;
    }
  /* The empty line and the body, copied as is. */
  g_byte_array_append (out, (const guint8 *) p, (guint) (end - p));
  if (n_removed != NULL)
    *n_removed = removed;
  return g_byte_array_free_to_bytes (out);
}

/* ---- which checks run ----------------------------------------------------- */

/* A check runs unless every recipient skips it (relais_policy_content_check);
 * *WHY says why it does not, for the log. */
static gboolean
check_runs (const RelaisContentCheckRequest *req, guint check, char **why)
{
  RelaisContentCheckState first = RELAIS_CONTENT_CHECK_OFF;
  const RelaisSecurityRule *first_rule = NULL;

  for (guint i = 0; i < req->recipients->len; i++)
    {
      const RelaisSecurityRule *white;
      RelaisContentCheckState state = relais_policy_content_check (req->config, &req->facts,
                                                                   req->recipients->pdata[i], check, &white);

      if (state == RELAIS_CONTENT_CHECK_RUN)
        return TRUE;
      if (i == 0)
        {
          first = state;
          first_rule = white;
        }
    }
  if (why != NULL)
    *why = first == RELAIS_CONTENT_CHECK_WHITELISTED && first_rule != NULL
             ? g_strdup_printf ("whitelist rule '%s'", first_rule->name)
             : g_strdup (first == RELAIS_CONTENT_CHECK_EXEMPT ? "authenticated or trusted client" : "off");
  return FALSE;
}

gboolean
relais_content_check_needed (const RelaisContentCheckRequest *request)
{
  return check_runs (request, RELAIS_SKIP_ANTIVIRUS, NULL) || check_runs (request, RELAIS_SKIP_DKIM, NULL) ||
         check_runs (request, RELAIS_SKIP_DMARC, NULL);
}

/* ---- the worker ----------------------------------------------------------- */

typedef struct {
  char *path;
  char *authserv_id;
  char *spf_clause;                /* "spf=pass smtp.mailfrom=..." or NULL */
  gboolean dkim;                   /* report DKIM (Dkim runs) */
  gboolean dmarc;                  /* evaluate DMARC (it verifies DKIM for itself) */
  RelaisSpfResult spf_result;      /* for DMARC */
  char *spf_domain;                /* for DMARC; NULL when SPF gave no answer */
} Work;

typedef struct {
  gboolean timed_out;
  char *error;                     /* the spool file could not be read */
  char *head;                      /* the new header fields, to go on top */
  GBytes *content;                 /* the message without the fields claiming to be ours */
  GPtrArray *dkim;                 /* RelaisDkimVerdict*, with dkim or dmarc */
  RelaisDmarcAnswer *dmarc;        /* with dmarc */
  guint removed;                   /* forged Authentication-Results fields */
} WorkResult;

static void
work_free (Work *w)
{
  g_free (w->path);
  g_free (w->authserv_id);
  g_free (w->spf_clause);
  g_free (w->spf_domain);
  g_free (w);
}

static void
work_result_free (WorkResult *r)
{
  if (r == NULL)
    return;
  g_free (r->error);
  g_free (r->head);
  g_clear_pointer (&r->content, g_bytes_unref);
  g_clear_pointer (&r->dkim, g_ptr_array_unref);
  relais_dmarc_answer_free (r->dmarc);
  g_free (r);
}

/* RFC 7489 §6.6.1: exactly one From field with one domain, else permerror. */
static RelaisDmarcAnswer *
evaluate_dmarc (const Work *w, const char *data, gsize length, GPtrArray *dkim)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *from = NULL;
  g_autofree char *domain = NULL;
  RelaisDmarcAnswer *answer;
  guint count;

  from = relais_header_single_value (data, length, "From", &count);
  if (from != NULL && relais_dmarc_from_domain (from, &domain, &error))
    return relais_dmarc_evaluate (domain, w->spf_domain, w->spf_result, dkim, relais_psl_default (),
                                  relais_dmarc_dns_lookup, NULL, (guint) g_random_int_range (0, 100));
  answer = g_new0 (RelaisDmarcAnswer, 1);
  answer->result = RELAIS_DMARC_PERMERROR;
  answer->reason = from != NULL ? g_strdup_printf ("the From field gives no single domain: %s", error->message)
                                : g_strdup_printf ("the message has %u From fields instead of one", count);
  return answer;
}

static void
worker (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Work *w = task_data;
  WorkResult *r = g_new0 (WorkResult, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  g_autoptr (RelaisDkimMessage) message = NULL;
  GString *head;
  gsize length;

  if (!g_file_get_contents (w->path, &data, &length, &error))
    {
      r->error = g_strdup (error->message);
      g_task_return_pointer (task, r, (GDestroyNotify) work_result_free);
      return;
    }
  head = g_string_new ("Authentication-Results: ");
  g_string_append_printf (head, "%s", w->authserv_id);
  if (w->spf_clause != NULL)
    g_string_append_printf (head, ";\r\n\t%s", w->spf_clause);
  if (w->dkim || w->dmarc)
    {
      message = relais_dkim_message_new (data, length);
      r->dkim = relais_dkim_verify (message, relais_clock_now (), relais_dkim_dns_lookup, NULL);
    }
  if (w->dkim)
    {
      g_autofree char *clauses = relais_dkim_format_results (r->dkim);

      g_string_append_printf (head, ";\r\n\t%s", clauses);
    }
  if (w->dmarc)
    {
      g_autofree char *clause = NULL;

      r->dmarc = evaluate_dmarc (w, data, length, r->dkim);
      clause = relais_dmarc_format (r->dmarc);
      g_string_append_printf (head, ";\r\n\t%s", clause);
    }
  g_string_append (head, "\r\n");
  if (r->dmarc != NULL && r->dmarc->disposition == RELAIS_DMARC_POLICY_QUARANTINE)
    g_string_append_printf (head, "X-Relais-Quarantine: DMARC policy of %s (%s)\r\n",
                            r->dmarc->policy_domain != NULL ? r->dmarc->policy_domain : r->dmarc->from_domain,
                            r->dmarc->applied ? "p=quarantine" : "p=reject, pct= not applied");
  r->head = g_string_free (head, FALSE);
  g_clear_pointer (&message, relais_dkim_message_free);
  r->content = relais_content_strip_results (data, length, "Authentication-Results", w->authserv_id, &r->removed);
  g_task_return_pointer (task, r, (GDestroyNotify) work_result_free);
}

static gpointer
work_timed_out (gpointer unused)
{
  WorkResult *r = g_new0 (WorkResult, 1);

  r->timed_out = TRUE;
  return r;
}

/* ---- the run ------------------------------------------------------------- */

typedef struct {
  RelaisContentCheckRequest req;   /* pointers borrowed from the caller */
  RelaisContentVerdict *verdict;
  gboolean antivirus, dkim, dmarc; /* what runs */
  RelaisSpfAnswer *own_spf;        /* SPF checked here for DMARC (SPF itself off or skipped) */
} Run;

static void
run_free (Run *run)
{
  relais_content_verdict_free (run->verdict);
  relais_spf_answer_free (run->own_spf);
  g_free (run);
}

static void
refuse (Run *run, guint code, const char *enhanced, const char *reason, const char *rule, const char *format,
        ...) G_GNUC_PRINTF (6, 7);

static void
refuse (Run *run, guint code, const char *enhanced, const char *reason, const char *rule, const char *format, ...)
{
  va_list args;

  run->verdict->refuse = TRUE;
  run->verdict->code = code;
  run->verdict->enhanced = enhanced;
  run->verdict->reason = reason;
  run->verdict->rule = g_strdup (rule);
  va_start (args, format);
  run->verdict->text = g_strdup_vprintf (format, args);
  va_end (args);
}

static void
finish (GTask *task)
{
  Run *run = g_task_get_task_data (task);

  g_task_return_pointer (task, g_steal_pointer (&run->verdict), (GDestroyNotify) relais_content_verdict_free);
  g_object_unref (task);
}

/* SPEC §4.2: reject 550 5.7.1, quarantine delivered with a header (added by
 * the worker); a temporary DNS failure 451, never a pass. */
static void
dmarc_verdict (Run *run, const RelaisDmarcAnswer *a)
{
  const RelaisLogIds *id = &run->req.log;
  const char *domain = a->from_domain != NULL ? a->from_domain : "?";
  const char *policy_domain = a->policy_domain != NULL ? a->policy_domain : domain;

  relais_stats_check_result (run->req.stats, "dmarc", relais_dmarc_result_to_string (a->result));
  relais_log (a->result == RELAIS_DMARC_PASS || a->result == RELAIS_DMARC_NONE ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_MESSAGE,
              id,
              "DMARC %s for %s (p=%s dis=%s)%s%s", relais_dmarc_result_to_string (a->result), domain,
              relais_dmarc_policy_to_string (a->policy), relais_dmarc_policy_to_string (a->disposition),
              a->reason != NULL ? ": " : "", a->reason != NULL ? a->reason : "");
  if (a->result == RELAIS_DMARC_TEMPERROR)
    refuse (run, 451, "4.7.1", "dmarc", "dmarc:temperror",
            "DMARC: temporary DNS failure looking up the policy of %s, try again later", domain);
  else if (a->disposition == RELAIS_DMARC_POLICY_REJECT)
    {
      relais_stats_check_result (run->req.stats, "dmarc", "reject");
      refuse (run, 550, "5.7.1", "dmarc", "dmarc:reject",
              "Message rejected: it fails the DMARC policy of %s (neither SPF nor DKIM aligned with %s)",
              policy_domain, domain);
    }
  else if (a->disposition == RELAIS_DMARC_POLICY_QUARANTINE)
    {
      relais_stats_check_result (run->req.stats, "dmarc", "quarantine");
      relais_stats_hit (run->req.stats, "dmarc:quarantine");
    }
}

static void
work_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);
  const RelaisLogIds *id = &run->req.log;
  g_autoptr (GError) error = NULL;
  WorkResult *r = g_task_propagate_pointer (G_TASK (result), &error);

  if (r == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (r->timed_out)
    {
      relais_log (G_LOG_LEVEL_WARNING, id, "message authentication checks took more than %u ms: answering 451",
             check_timeout_ms);
      refuse (run, 451, "4.7.24", "content-timeout", NULL,
              "Message authentication checks timed out, try again later");
    }
  else if (r->error != NULL)
    {
      relais_log (G_LOG_LEVEL_WARNING, id, "cannot read the message for its checks: %s", r->error);
      refuse (run, 451, "4.3.0", "queue-write", NULL, "Error: queue file write error");
    }
  else
    {
      g_autoptr (GError) write_error = NULL;

      for (guint i = 0; run->dkim && r->dkim != NULL && i < r->dkim->len; i++)
        {
          const RelaisDkimVerdict *v = r->dkim->pdata[i];
          const char *result_name = relais_dkim_result_to_string (v->result);

          relais_stats_check_result (run->req.stats, "dkim", result_name);
          relais_log (G_LOG_LEVEL_INFO, id, "DKIM %s d=%s s=%s%s%s", result_name, v->domain != NULL ? v->domain : "-",
                 v->selector != NULL ? v->selector : "-", v->reason != NULL ? ": " : "",
                 v->reason != NULL ? v->reason : "");
        }
      if (run->dkim && r->dkim != NULL && r->dkim->len == 0)
        relais_stats_check_result (run->req.stats, "dkim", "none");
      if (r->dmarc != NULL)
        dmarc_verdict (run, r->dmarc);
      if (r->removed > 0)
        relais_log (G_LOG_LEVEL_INFO, id, "removed %u Authentication-Results field%s claiming to be from %s",
               r->removed, r->removed == 1 ? "" : "s", run->req.config->hostname);
      if (!run->verdict->refuse &&
          !relais_spool_writer_replace (run->req.writer, r->head, strlen (r->head),
                                        g_bytes_get_data (r->content, NULL), g_bytes_get_size (r->content),
                                        &write_error))
        {
          relais_log (G_LOG_LEVEL_WARNING, id, "queue file write error: %s", write_error->message);
          refuse (run, 451, "4.3.0", "queue-write", NULL, "Error: queue file write error");
        }
    }
  work_result_free (r);
  finish (task);
}

static char *
spf_clause (const RelaisContentCheckRequest *req)
{
  if (req->spf == NULL)
    return NULL;
  return g_strdup_printf ("spf=%s smtp.%s=%s", relais_spf_result_to_string (req->spf->result),
                          g_strcmp0 (req->spf_identity, "helo") == 0 ? "helo" : "mailfrom",
                          req->spf_subject != NULL ? req->spf_subject : "");
}

/* The message on disk, for clamd and the worker; refuses on a write error. */
static const char *
spool_path (Run *run)
{
  g_autoptr (GError) error = NULL;
  const char *path = relais_spool_writer_sync (run->req.writer, &error);

  if (path == NULL)
    {
      g_autoptr (RelaisReply) r = relais_reply_storage (relais_queue_error_is_no_space (error));

      relais_log (G_LOG_LEVEL_WARNING, &run->req.log, "queue file write error: %s", error->message);
      refuse (run, r->code, r->enhanced, "queue-write", NULL, "%s", r->text);
    }
  return path;
}

/* Step 3: DKIM and DMARC in a worker, then the rewritten message. */
static void
start_work (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  const RelaisSpfAnswer *spf = run->req.spf != NULL ? run->req.spf : run->own_spf;
  const char *path;
  GTask *work;
  Work *w;

  if (!run->dkim && !run->dmarc)
    {
      finish (task);
      return;
    }
  path = spool_path (run);
  if (path == NULL)
    {
      finish (task);
      return;
    }
  w = g_new0 (Work, 1);
  w->path = g_strdup (path);
  w->authserv_id = g_strdup (run->req.config->hostname);
  w->spf_clause = spf_clause (&run->req);
  w->dkim = run->dkim;
  w->dmarc = run->dmarc;
  w->spf_result = spf != NULL ? spf->result : RELAIS_SPF_NONE;
  w->spf_domain = spf != NULL ? g_strdup (spf->domain) : NULL;
  work = g_task_new (NULL, g_task_get_cancellable (task), work_done, task);
  g_task_set_source_tag (work, start_work);
  relais_dns_run_bounded (work, worker, w, (GDestroyNotify) work_free, check_timeout_ms, work_timed_out,
                          NULL, NULL, (GDestroyNotify) work_result_free);
}

/* Step 2: the antivirus. A message clamd could not scan (unreachable, or its
 * own ERROR such as a size limit) follows AntivirusUnreachable, logged and
 * counted either way: never a silent pass. */
static void
scan_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);
  const RelaisLogIds *id = &run->req.log;
  g_autoptr (GError) error = NULL;
  g_autoptr (RelaisClamdAnswer) answer = relais_clamd_scan_finish (result, &error);
  const char *problem = NULL;
  const char *counted = NULL;

  if (answer == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (answer == NULL && g_error_matches (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE))
    {
      /* Our spool file, not clamd: the same answer as any queue file error. */
      relais_log (G_LOG_LEVEL_WARNING, id, "queue file error before the virus scan: %s", error->message);
      refuse (run, 451, "4.3.0", "queue-write", NULL, "Error: queue file write error");
      finish (task);
      return;
    }
  if (answer == NULL)
    {
      problem = error->message;
      counted = "unreachable";
    }
  else if (answer->result == RELAIS_CLAMD_ERROR)
    {
      problem = answer->message;
      counted = "error";
    }
  else if (answer->result == RELAIS_CLAMD_VIRUS)
    {
      relais_stats_check_result (run->req.stats, "antivirus", "virus");
      relais_log (G_LOG_LEVEL_MESSAGE, id, "virus found by clamd: %s", answer->signature);
      refuse (run, 554, "5.7.0", "antivirus", "antivirus:virus", "Message content rejected: virus found: %s",
              answer->signature);
      finish (task);
      return;
    }
  else
    {
      relais_stats_check_result (run->req.stats, "antivirus", "clean");
      relais_log (G_LOG_LEVEL_DEBUG, id, "clamd: no virus");
    }

  if (problem != NULL)
    {
      gboolean defer = run->req.config->antivirus_unreachable == RELAIS_ANTIVIRUS_DEFER;

      relais_stats_check_result (run->req.stats, "antivirus", counted);
      relais_stats_hit (run->req.stats, "antivirus:unreachable");
      relais_log (G_LOG_LEVEL_WARNING, id, "the message could not be scanned for viruses (%s): %s", problem,
                  defer ? "answering 451 4.7.1" : "accepting it unscanned (AntivirusUnreachable is \"accept\")");
      if (defer)
        {
          refuse (run, 451, "4.7.1", "antivirus", NULL, "Virus scanner unavailable, try again later");
          finish (task);
          return;
        }
    }
  start_work (task);
}

static void
start_scan (GTask *task)
{
  Run *run = g_task_get_task_data (task);
  const char *path;

  if (!run->antivirus)
    {
      start_work (task);
      return;
    }
  path = spool_path (run);
  if (path == NULL)
    {
      finish (task);
      return;
    }
  relais_clamd_scan_async (run->req.config->antivirus_socket, path, 0, 0, g_task_get_cancellable (task),
                           scan_done, task);
}

/* Step 1: DMARC needs an SPF answer even when SPF itself is off or skipped. */
static void
own_spf_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Run *run = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  run->own_spf = relais_spf_check_host_finish (result, &error);
  if (run->own_spf == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));     /* only a cancellation */
      g_object_unref (task);
      return;
    }
  start_scan (task);
}

void
relais_content_check_async (const RelaisContentCheckRequest *request, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Run *run = g_new0 (Run, 1);
  g_autofree char *why = NULL;
  const char *sender = request->facts.sender != NULL ? request->facts.sender : "";
  const char *at = strrchr (sender, '@');

  g_task_set_source_tag (task, relais_content_check_async);
  run->req = *request;
  run->verdict = g_new0 (RelaisContentVerdict, 1);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  run->antivirus = check_runs (request, RELAIS_SKIP_ANTIVIRUS, NULL);
  run->dkim = check_runs (request, RELAIS_SKIP_DKIM, &why);
  if (!run->dkim && request->config->dkim)
    relais_log (G_LOG_LEVEL_DEBUG, &request->log, "DKIM not checked: %s", why);
  run->dmarc = check_runs (request, RELAIS_SKIP_DMARC, NULL);
  if (run->dmarc && request->spf == NULL && request->facts.client_inet != NULL)
    {
      const char *domain = at != NULL ? at + 1 : request->facts.helo != NULL ? request->facts.helo : "";

      relais_spf_check_host_async (request->facts.client_inet, domain, at != NULL ? sender : domain,
                                   request->facts.helo, request->config->hostname, cancellable, own_spf_done,
                                   task);
      return;
    }
  start_scan (task);
}

RelaisContentVerdict *
relais_content_check_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
