/* SPDX-License-Identifier: GPL-3.0-or-later
 * One DNS query with glibc's resolver. See relais-dns-query.h. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-dns-query.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <string.h>

#define ANSWER_SIZE 65536

gboolean
relais_dns_resolver_open (struct __res_state *state)
{
  memset (state, 0, sizeof *state);
  if (res_ninit (state) != 0)
    {
      g_debug ("DNS: cannot read the resolver configuration");
      res_nclose (state);
      return FALSE;
    }
  return TRUE;
}

/* The domain name at RDATA (compressed in MSG), lower case, no trailing dot;
 * NULL when malformed or the root. */
static char *
expand_name (ns_msg *msg, const guchar *rdata)
{
  char target[NS_MAXDNAME];
  gsize len;

  if (dn_expand (ns_msg_base (*msg), ns_msg_end (*msg), rdata, target, sizeof target) < 0)
    return NULL;
  len = strlen (target);
  if (len > 0 && target[len - 1] == '.')
    target[--len] = '\0';
  return len > 0 ? g_ascii_strdown (target, (gssize) len) : NULL;
}

/* The character strings of a TXT record, joined (RFC 7208 §3.3). */
static char *
txt_text (const guchar *rdata, guint rdlen)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < rdlen;)
    {
      guint len = rdata[i++];

      len = MIN (len, rdlen - i);
      g_string_append_len (text, (const char *) rdata + i, len);
      i += len;
    }
  return g_string_free (text, FALSE);
}

RelaisDnsResult
relais_dns_parse_answer (const guchar *answer, gsize length, const char *name, int type, GPtrArray *records)
{
  ns_msg msg;
  int rcode;
  guint found = 0;

  if (length > ANSWER_SIZE || ns_initparse (answer, (int) length, &msg) < 0)
    {
      g_debug ("DNS %s (type %d): malformed answer", name, type);
      return RELAIS_DNS_TEMPFAIL;
    }
  rcode = ns_msg_getflag (msg, ns_f_rcode);
  if (rcode == ns_r_nxdomain)
    return RELAIS_DNS_NXDOMAIN;
  if (rcode != ns_r_noerror)
    {
      g_debug ("DNS %s (type %d): rcode %d", name, type, rcode);
      return RELAIS_DNS_TEMPFAIL;
    }

  for (int i = 0; i < ns_msg_count (msg, ns_s_an); i++)
    {
      ns_rr rr;
      char *target;

      if (ns_parserr (&msg, ns_s_an, i, &rr) < 0)
        {
          g_debug ("DNS %s (type %d): malformed record", name, type);
          return found > 0 ? RELAIS_DNS_FOUND : RELAIS_DNS_TEMPFAIL;
        }
      /* a CNAME chain comes with the target's records: count only TYPE */
      if ((int) ns_rr_type (rr) != type || ns_rr_class (rr) != ns_c_in)
        continue;
      found++;
      if (records == NULL)
        continue;
      if (type == ns_t_a && ns_rr_rdlen (rr) == 4)
        g_ptr_array_add (records, g_inet_address_new_from_bytes (ns_rr_rdata (rr), G_SOCKET_FAMILY_IPV4));
      else if (type == ns_t_aaaa && ns_rr_rdlen (rr) == 16)
        g_ptr_array_add (records, g_inet_address_new_from_bytes (ns_rr_rdata (rr), G_SOCKET_FAMILY_IPV6));
      else if (type == ns_t_ptr && (target = expand_name (&msg, ns_rr_rdata (rr))) != NULL)
        g_ptr_array_add (records, target);
      else if (type == ns_t_mx && ns_rr_rdlen (rr) > 2
               && (target = expand_name (&msg, ns_rr_rdata (rr) + 2)) != NULL)
        g_ptr_array_add (records, target);
      else if (type == ns_t_txt)
        g_ptr_array_add (records, txt_text (ns_rr_rdata (rr), ns_rr_rdlen (rr)));
    }
  return found > 0 ? RELAIS_DNS_FOUND : RELAIS_DNS_NO_RECORDS;
}

RelaisDnsResult
relais_dns_query (res_state state, const char *name, int type, GPtrArray *records)
{
  guchar request[NS_PACKETSZ];
  g_autofree guchar *answer = g_malloc (ANSWER_SIZE);
  int request_len, answer_len;

  request_len = res_nmkquery (state, ns_o_query, name, ns_c_in, type, NULL, 0, NULL,
                              request, sizeof request);
  if (request_len < 0)
    {
      g_debug ("DNS %s (type %d): cannot build the query", name, type);
      return RELAIS_DNS_NXDOMAIN;   /* not a name the DNS can hold */
    }
  answer_len = res_nsend (state, request, request_len, answer, ANSWER_SIZE);
  if (answer_len < 0)
    {
      g_debug ("DNS %s (type %d): no answer from the name servers", name, type);
      return RELAIS_DNS_TEMPFAIL;
    }
  return relais_dns_parse_answer (answer, MIN ((gsize) answer_len, ANSWER_SIZE), name, type, records);
}

/* ---- a worker bounded in time (caller's main context) ------------------- */

typedef struct {
  GCancellable *worker_cancellable;
  GCancellable *caller_cancellable;
  gulong cancelled_id;
  GSource *timeout;
  gboolean timed_out;
  RelaisDnsTimeoutFunc on_timeout;
  gpointer timeout_data;
  GDestroyNotify timeout_data_free;
  GDestroyNotify result_free;
} Bound;

static void
bound_free (Bound *bound)
{
  g_clear_object (&bound->worker_cancellable);
  g_clear_object (&bound->caller_cancellable);
  if (bound->timeout_data_free != NULL)
    bound->timeout_data_free (bound->timeout_data);
  g_free (bound);
}

static gboolean
bound_timeout_cb (gpointer user_data)
{
  Bound *bound = user_data;

  bound->timed_out = TRUE;
  g_cancellable_cancel (bound->worker_cancellable);
  return G_SOURCE_REMOVE;
}

/* May run in any thread: the caller cancelled. */
static void
bound_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  Bound *bound = user_data;

  g_cancellable_cancel (bound->worker_cancellable);
}

static void
bound_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Bound *bound = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gpointer answer = g_task_propagate_pointer (G_TASK (result), &error);

  if (bound->timeout != NULL)
    {
      g_source_destroy (bound->timeout);
      g_clear_pointer (&bound->timeout, g_source_unref);
    }
  if (bound->cancelled_id != 0)
    {
      g_cancellable_disconnect (bound->caller_cancellable, bound->cancelled_id);
      bound->cancelled_id = 0;
    }

  if (answer != NULL)
    g_task_return_pointer (task, answer, bound->result_free);
  else if (bound->timed_out && !g_cancellable_is_cancelled (bound->caller_cancellable))
    g_task_return_pointer (task, bound->on_timeout (bound->timeout_data), bound->result_free);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

void
relais_dns_run_bounded (GTask *task, GTaskThreadFunc worker, gpointer worker_data,
                        GDestroyNotify worker_data_free, guint timeout_ms, RelaisDnsTimeoutFunc on_timeout,
                        gpointer timeout_data, GDestroyNotify timeout_data_free, GDestroyNotify result_free)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  Bound *bound = g_new0 (Bound, 1);
  g_autoptr(GTask) work = NULL;

  bound->worker_cancellable = g_cancellable_new ();
  bound->caller_cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  bound->on_timeout = on_timeout;
  bound->timeout_data = timeout_data;
  bound->timeout_data_free = timeout_data_free;
  bound->result_free = result_free;
  g_task_set_task_data (task, bound, (GDestroyNotify) bound_free);

  bound->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (bound->timeout, bound_timeout_cb, bound, NULL);
  g_source_attach (bound->timeout, g_task_get_context (task));
  if (cancellable != NULL)   /* runs at once when already cancelled */
    bound->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (bound_cancelled_cb), bound, NULL);

  /* The worker's callback holds the caller's task (TASK's reference). */
  work = g_task_new (NULL, bound->worker_cancellable, bound_done_cb, task);
  g_task_set_source_tag (work, worker);
  g_task_set_task_data (work, worker_data, worker_data_free);
  g_task_set_return_on_cancel (work, TRUE);
  g_task_run_in_thread (work, worker);
}
