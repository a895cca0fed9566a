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
relais_dns_query (res_state state, const char *name, int type, GPtrArray *records)
{
  guchar request[NS_PACKETSZ];
  g_autofree guchar *answer = g_malloc (ANSWER_SIZE);
  int request_len, answer_len, rcode;
  ns_msg msg;
  guint found = 0;

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
  if (ns_initparse (answer, answer_len, &msg) < 0)
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
