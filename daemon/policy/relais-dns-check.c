/* SPDX-License-Identifier: GPL-3.0-or-later
 * DNS checks for the policy. See relais-dns-check.h.
 *
 * Why not GResolver: GLib 2.74's resolver reports a name that does not exist
 * and a name without the records asked for with the same error
 * (G_RESOLVER_ERROR_NOT_FOUND, and the same message for record lookups), and
 * SPEC §4.4 answers them differently (550 5.7.25 only when the PTR lookup gave
 * NXDOMAIN). So each query is built and sent with glibc's resolver
 * (relais-dns-query.c: res_nmkquery, res_nsend; the system's
 * /etc/resolv.conf, read again for each check, like the rest of the daemon's
 * lookups), and the answer's rcode and records are read with ns_initparse
 * (libresolv). Only DNS is asked, never
 * /etc/hosts: these checks are about what the world publishes.
 *
 * The blocking queries run in a GTask worker thread, which may return early on
 * cancellation; the caller-facing task completes on the caller's main context
 * with the worker's answer, TEMPFAIL when the timeout fires first, or
 * G_IO_ERROR_CANCELLED. A worker left behind by a timeout stops before its
 * next query and its answer is dropped. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-dns-check.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "relais-dns-query.h"
#include "relais-dnsbl.h"
#include "relais-networks.h"

#define MAX_PTR_NAMES 10

static gint timeout_ms = RELAIS_DNS_CHECK_DEFAULT_TIMEOUT_MS;

void
relais_dns_check_set_timeout (guint milliseconds)
{
  g_atomic_int_set (&timeout_ms, milliseconds > 0 ? (gint) MIN (milliseconds, (guint) G_MAXINT)
                                                  : RELAIS_DNS_CHECK_DEFAULT_TIMEOUT_MS);
}

guint
relais_dns_check_get_timeout (void)
{
  return (guint) g_atomic_int_get (&timeout_ms);
}

const char *
relais_dns_result_to_string (RelaisDnsResult result)
{
  switch (result)
    {
    case RELAIS_DNS_FOUND: return "found";
    case RELAIS_DNS_NXDOMAIN: return "nxdomain";
    case RELAIS_DNS_NO_RECORDS: return "no-records";
    case RELAIS_DNS_TEMPFAIL: return "tempfail";
    case RELAIS_DNS_UNCHECKED:
    default: return "unchecked";
    }
}

/* ---- the checks (worker thread) ----------------------------------------- */

typedef struct {
  char *name;                  /* host check: the ASCII name; DNSBL: the query name */
  RelaisDnsCheckFlags flags;
  GInetAddress *address;       /* client-name check */
  RelaisDnsblZone *zone;       /* DNSBL: borrowed from ZONES */
  GPtrArray *zones;            /* DNSBL: holds ZONE */
} Query;

static void
query_free (Query *q)
{
  g_free (q->name);
  g_clear_object (&q->address);
  g_clear_pointer (&q->zones, g_ptr_array_unref);
  g_free (q);
}

typedef struct {
  RelaisDnsResult result;
  char *name;                  /* the confirmed client name */
} Answer;

static void
answer_free (Answer *answer)
{
  g_free (answer->name);
  g_free (answer);
}

static Answer *
answer_new (RelaisDnsResult result, char *name)
{
  Answer *answer = g_new0 (Answer, 1);

  answer->result = result;
  answer->name = name;
  return answer;
}

static void
host_worker (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  static const struct { RelaisDnsCheckFlags flag; int type; } types[] = {
    { RELAIS_DNS_CHECK_MX, ns_t_mx },
    { RELAIS_DNS_CHECK_A, ns_t_a },
    { RELAIS_DNS_CHECK_AAAA, ns_t_aaaa },
  };
  Query *q = task_data;
  struct __res_state state;
  gboolean tempfail = FALSE;
  RelaisDnsResult result = RELAIS_DNS_NO_RECORDS;

  if (!relais_dns_resolver_open (&state))
    {
      g_task_return_pointer (task, answer_new (RELAIS_DNS_TEMPFAIL, NULL), (GDestroyNotify) answer_free);
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      RelaisDnsResult one;

      if (!(q->flags & types[i].flag))
        continue;
      if (g_task_return_error_if_cancelled (task))
        {
          res_nclose (&state);
          return;
        }
      one = relais_dns_query (&state, q->name, types[i].type, NULL);
      if (one == RELAIS_DNS_FOUND || one == RELAIS_DNS_NXDOMAIN)
        {
          result = one;   /* a name that does not exist has no record of any type */
          break;
        }
      if (one == RELAIS_DNS_TEMPFAIL)
        tempfail = TRUE;
    }
  res_nclose (&state);
  if (result == RELAIS_DNS_NO_RECORDS && tempfail)
    result = RELAIS_DNS_TEMPFAIL;
  g_task_return_pointer (task, answer_new (result, NULL), (GDestroyNotify) answer_free);
}

/* "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles of ADDRESS. */
static char *
reverse_name (GInetAddress *address)
{
  const guint8 *bytes = g_inet_address_to_bytes (address);
  GString *name = g_string_new (NULL);

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    {
      g_string_printf (name, "%u.%u.%u.%u.in-addr.arpa", bytes[3], bytes[2], bytes[1], bytes[0]);
      return g_string_free (name, FALSE);
    }
  for (int i = 15; i >= 0; i--)
    g_string_append_printf (name, "%x.%x.", bytes[i] & 0xf, bytes[i] >> 4);
  g_string_append (name, "ip6.arpa");
  return g_string_free (name, FALSE);
}

static void
client_name_worker (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Query *q = task_data;
  struct __res_state state;
  g_autofree char *reverse = reverse_name (q->address);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int type = g_inet_address_get_family (q->address) == G_SOCKET_FAMILY_IPV4 ? ns_t_a : ns_t_aaaa;
  RelaisDnsResult result;
  gboolean tempfail = FALSE;

  if (!relais_dns_resolver_open (&state))
    {
      g_task_return_pointer (task, answer_new (RELAIS_DNS_TEMPFAIL, NULL), (GDestroyNotify) answer_free);
      return;
    }
  result = relais_dns_query (&state, reverse, ns_t_ptr, names);
  if (result != RELAIS_DNS_FOUND || names->len == 0)
    {
      res_nclose (&state);
      g_task_return_pointer (task, answer_new (result == RELAIS_DNS_FOUND ? RELAIS_DNS_NO_RECORDS : result, NULL),
                             (GDestroyNotify) answer_free);
      return;
    }
  for (guint i = 0; i < names->len && i < MAX_PTR_NAMES; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_object_unref);
      RelaisDnsResult forward;

      if (g_task_return_error_if_cancelled (task))
        {
          res_nclose (&state);
          return;
        }
      forward = relais_dns_query (&state, name, type, addresses);
      if (forward == RELAIS_DNS_TEMPFAIL)
        tempfail = TRUE;
      for (guint k = 0; k < addresses->len; k++)
        if (g_inet_address_equal (g_ptr_array_index (addresses, k), q->address))
          {
            res_nclose (&state);
            g_task_return_pointer (task, answer_new (RELAIS_DNS_FOUND, g_strdup (name)),
                                   (GDestroyNotify) answer_free);
            return;
          }
    }
  res_nclose (&state);
  g_task_return_pointer (task, answer_new (tempfail ? RELAIS_DNS_TEMPFAIL : RELAIS_DNS_NO_RECORDS, NULL),
                         (GDestroyNotify) answer_free);
}

/* One DNSBL zone: FOUND when an A answer is one its filter counts,
 * TEMPFAIL when the lookup failed, else NO_RECORDS. */
static void
dnsbl_worker (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Query *q = task_data;
  struct __res_state state;
  g_autoptr(GPtrArray) answers = g_ptr_array_new_with_free_func (g_object_unref);
  RelaisDnsResult result = RELAIS_DNS_NO_RECORDS;

  if (!relais_dns_resolver_open (&state))
    {
      g_task_return_pointer (task, answer_new (RELAIS_DNS_TEMPFAIL, NULL), (GDestroyNotify) answer_free);
      return;
    }
  switch (relais_dns_query (&state, q->name, ns_t_a, answers))
    {
    case RELAIS_DNS_TEMPFAIL:
      result = RELAIS_DNS_TEMPFAIL;
      break;
    case RELAIS_DNS_FOUND:
      for (guint i = 0; i < answers->len && result != RELAIS_DNS_FOUND; i++)
        if (relais_dnsbl_zone_matches (q->zone, g_ptr_array_index (answers, i)))
          result = RELAIS_DNS_FOUND;
      if (result != RELAIS_DNS_FOUND)
        g_debug ("DNSBL %s: answers outside the filter '%s'", q->name, q->zone->filter);
      break;
    default:
      break;
    }
  res_nclose (&state);
  g_task_return_pointer (task, answer_new (result, NULL), (GDestroyNotify) answer_free);
}

/* ---- timeout and cancellation (relais_dns_run_bounded) ----------------- */

static gpointer
timed_out_answer (gpointer data)
{
  g_debug ("DNS check timed out after %u ms", relais_dns_check_get_timeout ());
  return answer_new (RELAIS_DNS_TEMPFAIL, NULL);
}

static void
start_check (Query *q, GTaskThreadFunc worker, gpointer source_tag, GCancellable *cancellable,
             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  relais_dns_run_bounded (task, worker, q, (GDestroyNotify) query_free, relais_dns_check_get_timeout (),
                          timed_out_answer, NULL, NULL, (GDestroyNotify) answer_free);
}

static RelaisDnsResult
finish (GAsyncResult *result, gpointer source_tag, char **name, GError **error)
{
  Answer *answer;
  RelaisDnsResult value;

  g_return_val_if_fail (g_task_is_valid (result, NULL), RELAIS_DNS_UNCHECKED);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, RELAIS_DNS_UNCHECKED);
  if (name != NULL)
    *name = NULL;
  answer = g_task_propagate_pointer (G_TASK (result), error);
  if (answer == NULL)
    return RELAIS_DNS_UNCHECKED;
  value = answer->result;
  if (name != NULL)
    *name = g_steal_pointer (&answer->name);
  answer_free (answer);
  return value;
}

/* ---- the API ------------------------------------------------------------ */

/* NAME as the ASCII name to ask the DNS for, or NULL when it cannot be a
 * host name (labels of letters, digits, "-" and "_"). */
static char *
dns_name (const char *name)
{
  g_autofree char *ascii = g_hostname_to_ascii (name);
  gsize len;
  g_auto(GStrv) labels = NULL;

  if (ascii == NULL)
    return NULL;
  len = strlen (ascii);
  if (len > 0 && ascii[len - 1] == '.')
    ascii[--len] = '\0';
  if (len == 0 || len > 253 || g_hostname_is_ip_address (ascii))
    return NULL;
  labels = g_strsplit (ascii, ".", -1);
  for (guint i = 0; labels[i] != NULL; i++)
    {
      gsize label_len = strlen (labels[i]);

      if (label_len == 0 || label_len > 63)
        return NULL;
      for (const char *p = labels[i]; *p; p++)   /* host names: letters, digits, "-", "_" */
        if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
          return NULL;
    }
  return g_steal_pointer (&ascii);
}

void
relais_dns_check_host_async (const char *name, RelaisDnsCheckFlags flags, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *ascii = NULL;
  Query *q;

  g_return_if_fail (name != NULL);
  g_return_if_fail ((flags & RELAIS_DNS_CHECK_ANY) != 0);

  ascii = dns_name (name);
  if (ascii == NULL)
    {
      g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

      g_task_set_source_tag (task, relais_dns_check_host_async);
      g_task_return_pointer (task, answer_new (RELAIS_DNS_NXDOMAIN, NULL), (GDestroyNotify) answer_free);
      return;
    }
  q = g_new0 (Query, 1);
  q->name = g_steal_pointer (&ascii);
  q->flags = flags;
  start_check (q, host_worker, relais_dns_check_host_async, cancellable, callback, user_data);
}

RelaisDnsResult
relais_dns_check_host_finish (GAsyncResult *result, GError **error)
{
  return finish (result, relais_dns_check_host_async, NULL, error);
}

void
relais_dns_check_client_name_async (GInetAddress *address, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  Query *q;

  g_return_if_fail (G_IS_INET_ADDRESS (address));

  q = g_new0 (Query, 1);
  q->address = relais_client_address_normalize (address);
  start_check (q, client_name_worker, relais_dns_check_client_name_async, cancellable, callback, user_data);
}

RelaisDnsResult
relais_dns_check_client_name_finish (GAsyncResult *result, char **confirmed_name, GError **error)
{
  return finish (result, relais_dns_check_client_name_async, confirmed_name, error);
}

/* ---- DNSBL: one check per zone, in parallel ------------------------------ */

typedef struct {
  GPtrArray *zones;
  RelaisDnsResult *results;    /* per zone, in ZONES' order */
  guint pending;
  GError *error;               /* the first error (cancellation) */
} DnsblCheck;

static void
dnsbl_check_free (DnsblCheck *check)
{
  g_ptr_array_unref (check->zones);
  g_free (check->results);
  g_clear_error (&check->error);
  g_free (check);
}

typedef struct {
  GTask *task;                 /* the caller's, one reference per zone */
  guint index;
} DnsblZoneCall;

static void
dnsbl_zone_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DnsblZoneCall *call = user_data;
  g_autoptr(GTask) task = call->task;
  DnsblCheck *check = g_task_get_task_data (task);
  GError *error = NULL;
  RelaisDnsResult answer = finish (result, dnsbl_worker, NULL, &error);
  const RelaisDnsblZone *found = NULL, *failed = NULL;

  if (error != NULL && check->error == NULL)
    check->error = error;
  else
    g_clear_error (&error);
  check->results[call->index] = answer;
  g_free (call);
  if (--check->pending > 0)
    return;
  if (check->error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&check->error));
      return;
    }
  for (guint i = 0; i < check->zones->len && found == NULL; i++)
    if (check->results[i] == RELAIS_DNS_FOUND)
      found = check->zones->pdata[i];
    else if (check->results[i] == RELAIS_DNS_TEMPFAIL && failed == NULL)
      failed = check->zones->pdata[i];
  if (found != NULL)
    g_task_return_pointer (task, answer_new (RELAIS_DNS_FOUND, g_strdup (found->zone)), (GDestroyNotify) answer_free);
  else if (failed != NULL)
    g_task_return_pointer (task, answer_new (RELAIS_DNS_TEMPFAIL, g_strdup (failed->zone)),
                           (GDestroyNotify) answer_free);
  else
    g_task_return_pointer (task, answer_new (RELAIS_DNS_NO_RECORDS, NULL), (GDestroyNotify) answer_free);
}

void
relais_dns_check_dnsbl_async (GInetAddress *client, GPtrArray *zones, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  DnsblCheck *check;

  g_return_if_fail (G_IS_INET_ADDRESS (client));
  g_return_if_fail (zones != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, relais_dns_check_dnsbl_async);
  if (zones->len == 0)
    {
      g_task_return_pointer (task, answer_new (RELAIS_DNS_NO_RECORDS, NULL), (GDestroyNotify) answer_free);
      return;
    }
  check = g_new0 (DnsblCheck, 1);
  check->zones = g_ptr_array_ref (zones);
  check->results = g_new0 (RelaisDnsResult, zones->len);
  check->pending = zones->len;
  g_task_set_task_data (task, check, (GDestroyNotify) dnsbl_check_free);
  for (guint i = 0; i < zones->len; i++)
    {
      Query *q = g_new0 (Query, 1);
      DnsblZoneCall *call = g_new0 (DnsblZoneCall, 1);

      q->zone = zones->pdata[i];
      q->zones = g_ptr_array_ref (zones);
      q->name = relais_dnsbl_query_name (client, q->zone->zone);
      call->task = g_object_ref (task);
      call->index = i;
      start_check (q, dnsbl_worker, dnsbl_worker, cancellable, dnsbl_zone_done_cb, call);
    }
}

RelaisDnsResult
relais_dns_check_dnsbl_finish (GAsyncResult *result, char **zone, GError **error)
{
  return finish (result, relais_dns_check_dnsbl_async, zone, error);
}

RelaisDnsResult
relais_dns_lookup_txt (const char *name, GPtrArray *records)
{
  struct __res_state state;
  RelaisDnsResult result;

  g_return_val_if_fail (name != NULL && records != NULL, RELAIS_DNS_TEMPFAIL);
  if (!relais_dns_resolver_open (&state))
    return RELAIS_DNS_TEMPFAIL;
  result = relais_dns_query (&state, name, ns_t_txt, records);
  res_nclose (&state);
  return result;
}
