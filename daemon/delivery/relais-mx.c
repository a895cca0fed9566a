/* SPDX-License-Identifier: GPL-3.0-or-later
 * MX resolution for direct delivery. See relais-mx.h. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-mx.h"

#include <string.h>

G_DEFINE_QUARK (relais-mx-error-quark, relais_mx_error)

RelaisMxHost *
relais_mx_host_new (const char *host, guint16 preference, gboolean implicit)
{
  RelaisMxHost *mx = g_new0 (RelaisMxHost, 1);

  mx->host = g_strdup (host);
  mx->preference = preference;
  mx->implicit = implicit;
  return mx;
}

void
relais_mx_host_free (RelaisMxHost *mx)
{
  if (mx == NULL)
    return;
  g_free (mx->host);
  g_free (mx);
}

/* NAME without a trailing dot, lower case. */
static char *
normalize_name (const char *name)
{
  gsize len = strlen (name);

  if (len > 0 && name[len - 1] == '.')
    len--;
  return g_ascii_strdown (name, (gssize) len);
}

static gint
compare_preference (gconstpointer a, gconstpointer b)
{
  const RelaisMxHost *x = *(RelaisMxHost *const *) a;
  const RelaisMxHost *y = *(RelaisMxHost *const *) b;

  return (gint) x->preference - (gint) y->preference;
}

GPtrArray *
relais_mx_order (GPtrArray *records, const char *domain, const char *our_hostname,
                 GRand *rand, GError **error)
{
  g_autoptr(GPtrArray) hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_mx_host_free);
  g_autofree char *ours = our_hostname != NULL ? normalize_name (our_hostname) : NULL;
  guint n_null = 0;
  gint own_preference = -1;
  guint start, i;

  g_return_val_if_fail (records != NULL, NULL);

  /* Null MX (RFC 7505): an exchange of "." (GIO gives it as "" or "."). A
   * domain must not publish it beside real ones; if it does, the real ones win. */
  for (i = 0; i < records->len; i++)
    {
      RelaisMxHost *mx = g_ptr_array_index (records, i);
      g_autofree char *name = normalize_name (mx->host);

      if (name[0] == '\0')
        {
          n_null++;
          continue;
        }
      if (ours != NULL && strcmp (name, ours) == 0 &&
          (own_preference < 0 || mx->preference < own_preference))
        own_preference = mx->preference;
      /* A host listed twice is tried once, at its best preference. */
      for (guint k = 0; k < hosts->len; k++)
        {
          RelaisMxHost *seen = g_ptr_array_index (hosts, k);

          if (strcmp (seen->host, name) == 0)
            {
              seen->preference = MIN (seen->preference, mx->preference);
              g_clear_pointer (&name, g_free);
              break;
            }
        }
      if (name != NULL)
        g_ptr_array_add (hosts, relais_mx_host_new (name, mx->preference, mx->implicit));
    }
  g_ptr_array_unref (records);

  if (hosts->len == 0 && n_null > 0)
    {
      g_set_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_NULL_MX,
                   "5.1.10 Domain %s does not accept mail (null MX, RFC 7505)", domain);
      return NULL;
    }
  if (hosts->len == 0)
    {
      g_set_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_NO_MAIL_HOST,
                   "5.1.2 Domain %s has no mail server", domain);
      return NULL;
    }

  /* RFC 5321 §5.1: when we are one of the MX hosts, only better ones may be tried. */
  if (own_preference >= 0)
    for (i = hosts->len; i > 0; i--)
      {
        RelaisMxHost *mx = g_ptr_array_index (hosts, i - 1);

        if (mx->preference >= own_preference)
          g_ptr_array_remove_index (hosts, i - 1);
      }
  if (hosts->len == 0)
    {
      g_set_error (error, RELAIS_MX_ERROR, RELAIS_MX_ERROR_LOOP,
                   "5.4.6 Mail for %s loops back to myself (%s is its best MX host)", domain, ours);
      return NULL;
    }

  /* Random order first, then a stable sort: equal preferences stay shuffled. */
  for (i = hosts->len; i > 1; i--)
    {
      guint j = rand != NULL ? (guint) g_rand_int_range (rand, 0, (gint32) i)
                             : (guint) g_random_int_range (0, (gint32) i);
      gpointer tmp = hosts->pdata[i - 1];

      hosts->pdata[i - 1] = hosts->pdata[j];
      hosts->pdata[j] = tmp;
    }
  /* g_ptr_array_sort is not documented as stable: sort by insertion sort. */
  for (start = 1; start < hosts->len; start++)
    {
      gpointer item = hosts->pdata[start];
      guint k = start;

      while (k > 0 && compare_preference (&hosts->pdata[k - 1], &item) > 0)
        {
          hosts->pdata[k] = hosts->pdata[k - 1];
          k--;
        }
      hosts->pdata[k] = item;
    }
  return g_steal_pointer (&hosts);
}

/* ---- lookups ------------------------------------------------------------ */

typedef struct {
  GResolver *resolver;
  char *domain;        /* as given, for messages */
  char *ascii;         /* the name looked up */
  char *our_hostname;
} ResolveData;

static void
resolve_data_free (ResolveData *data)
{
  g_clear_object (&data->resolver);
  g_free (data->domain);
  g_free (data->ascii);
  g_free (data->our_hostname);
  g_free (data);
}

static gboolean
is_temporary (const GError *error)
{
  /* NOT_FOUND is the only answer that says "no"; anything else may pass. */
  return !g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
}

static void
address_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ResolveData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);
  g_autoptr(GPtrArray) hosts = NULL;

  if (addresses == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else if (is_temporary (error))
        g_task_return_new_error (task, RELAIS_MX_ERROR, RELAIS_MX_ERROR_TEMPORARY,
                                 "4.4.3 Cannot look up the address of %s: %s", data->domain, error->message);
      else
        g_task_return_new_error (task, RELAIS_MX_ERROR, RELAIS_MX_ERROR_NO_MAIL_HOST,
                                 "5.1.2 Domain %s has no mail server (no MX and no address record)",
                                 data->domain);
      return;
    }
  g_resolver_free_addresses (addresses);

  /* Implicit MX (RFC 5321 §5.1): the domain itself, preference 0. */
  hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_mx_host_free);
  g_ptr_array_add (hosts, relais_mx_host_new (data->ascii, 0, TRUE));
  hosts = relais_mx_order (g_steal_pointer (&hosts), data->domain, data->our_hostname, NULL, &error);
  if (hosts == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_steal_pointer (&hosts), (GDestroyNotify) g_ptr_array_unref);
}

static void
mx_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ResolveData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GList *records = g_resolver_lookup_records_finish (G_RESOLVER (source), result, &error);
  g_autoptr(GPtrArray) hosts = NULL;

  if (records == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else if (is_temporary (error))
        g_task_return_new_error (task, RELAIS_MX_ERROR, RELAIS_MX_ERROR_TEMPORARY,
                                 "4.4.3 Cannot look up the MX records of %s: %s", data->domain,
                                 error->message);
      else   /* no such domain, or no MX record: try its address */
        {
          GCancellable *cancellable = g_task_get_cancellable (task);

          g_resolver_lookup_by_name_async (data->resolver, data->ascii, cancellable,
                                           address_done_cb, g_steal_pointer (&task));
        }
      return;
    }

  hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_mx_host_free);
  for (GList *l = records; l != NULL; l = l->next)
    {
      guint16 preference;
      const char *host;

      g_variant_get (l->data, "(q&s)", &preference, &host);
      g_ptr_array_add (hosts, relais_mx_host_new (host, preference, FALSE));
    }
  g_list_free_full (records, (GDestroyNotify) g_variant_unref);

  hosts = relais_mx_order (g_steal_pointer (&hosts), data->domain, data->our_hostname, NULL, &error);
  if (hosts == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_steal_pointer (&hosts), (GDestroyNotify) g_ptr_array_unref);
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]": the address, or NULL. */
static char *
domain_literal_address (const char *domain)
{
  gsize len = strlen (domain);
  g_autofree char *inner = NULL;
  g_autoptr(GInetAddress) address = NULL;
  const char *text;

  if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
    return NULL;
  inner = g_strndup (domain + 1, len - 2);
  text = inner;
  if (g_ascii_strncasecmp (text, "IPv6:", 5) == 0)
    {
      text += 5;
      address = g_inet_address_new_from_string (text);
      if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
        return NULL;
    }
  else
    {
      address = g_inet_address_new_from_string (text);
      if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
        return NULL;
    }
  return g_inet_address_to_string (address);
}

void
relais_mx_resolve_async (GResolver *resolver, const char *domain, const char *our_hostname,
                         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  ResolveData *data;

  g_return_if_fail (G_IS_RESOLVER (resolver));
  g_return_if_fail (domain != NULL);

  g_task_set_source_tag (task, relais_mx_resolve_async);
  data = g_new0 (ResolveData, 1);
  data->resolver = g_object_ref (resolver);
  data->domain = g_strdup (domain);
  data->our_hostname = g_strdup (our_hostname);
  g_task_set_task_data (task, data, (GDestroyNotify) resolve_data_free);

  if (domain[0] == '[')
    {
      g_autofree char *address = domain_literal_address (domain);
      GPtrArray *hosts;

      if (address == NULL)
        {
          g_task_return_new_error (task, RELAIS_MX_ERROR, RELAIS_MX_ERROR_INVALID,
                                   "5.1.2 %s is not a valid address literal", domain);
          return;
        }
      hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_mx_host_free);
      g_ptr_array_add (hosts, relais_mx_host_new (address, 0, TRUE));
      g_task_return_pointer (task, hosts, (GDestroyNotify) g_ptr_array_unref);
      return;
    }

  data->ascii = g_hostname_to_ascii (domain);
  if (data->ascii == NULL || data->ascii[0] == '\0' || g_hostname_is_ip_address (data->ascii))
    {
      g_task_return_new_error (task, RELAIS_MX_ERROR, RELAIS_MX_ERROR_INVALID,
                               "5.1.2 %s is not a valid domain name", domain);
      return;
    }
  g_resolver_lookup_records_async (resolver, data->ascii, G_RESOLVER_RECORD_MX, cancellable,
                                   mx_done_cb, g_steal_pointer (&task));
}

GPtrArray *
relais_mx_resolve_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
