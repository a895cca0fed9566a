/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM signing of outgoing mail: the signing domain from the From field, the
 * key lookup, the signature, in a worker thread. See relais-dkim-outbound.h. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-dkim-outbound.h"

#include <string.h>

#include "relais-clock.h"
#include "relais-error.h"

/* The address of one From field's VALUE (unfolded), without its display
 * name, comments and quoted strings (a quoted local part keeps only its
 * '@'-free shape, enough to find the domain); NULL when the field holds
 * more than one address, a group, or nothing. */
static char *
from_address (const char *value)
{
  g_autoptr (GString) outside = g_string_new (NULL);
  g_autoptr (GString) angle = NULL;
  gboolean quoted = FALSE, in_angle = FALSE;
  guint comment = 0;

  for (const char *p = value; *p != '\0'; p++)
    {
      char ch = *p;

      if ((quoted || comment > 0) && ch == '\\' && p[1] != '\0')
        {
          p++;
          continue;
        }
      if (quoted)
        {
          quoted = ch != '"';
          continue;
        }
      if (comment > 0)
        {
          if (ch == '(')
            comment++;
          else if (ch == ')')
            comment--;
          continue;
        }
      if (ch == '"')
        quoted = TRUE;
      else if (ch == '(')
        comment = 1;
      else if (in_angle)
        {
          if (ch == '>')
            in_angle = FALSE;
          else
            g_string_append_c (angle, ch);
        }
      else if (ch == '<')
        {
          if (angle != NULL)
            return NULL;                /* two addresses */
          angle = g_string_new (NULL);
          in_angle = TRUE;
        }
      else if (ch == ',' || ch == ':' || ch == ';')
        return NULL;                    /* a list or a group */
      else
        g_string_append_c (outside, ch);
    }
  if (angle != NULL)
    return g_strstrip (g_string_free (g_steal_pointer (&angle), FALSE));
  return g_strstrip (g_string_free (g_steal_pointer (&outside), FALSE));
}

/* The lower-case domain of ADDRESS, or NULL. */
static char *
address_domain (const char *address)
{
  const char *at = address != NULL ? strrchr (address, '@') : NULL;
  g_autofree char *domain = NULL;

  if (at == NULL)
    return NULL;
  domain = g_strstrip (g_ascii_strdown (at + 1, -1));
  if (*domain == '\0' || strpbrk (domain, " \t\r\n<>") != NULL)
    return NULL;
  return g_steal_pointer (&domain);
}

char *
relais_dkim_outbound_domain (const char *message, gsize length, const char *sender)
{
  g_autoptr (GString) from = NULL;
  gboolean in_from = FALSE;
  guint n_from = 0;
  gsize pos = 0;

  g_return_val_if_fail (message != NULL || length == 0, NULL);

  while (pos < length)
    {
      const char *line = message + pos;
      const char *nl = memchr (line, '\n', length - pos);
      gsize line_len = nl != NULL ? (gsize) (nl - line) : length - pos;
      gsize end = line_len;

      pos += line_len + (nl != NULL ? 1 : 0);
      if (end > 0 && line[end - 1] == '\r')
        end--;
      if (end == 0)
        break;                          /* the end of the header */
      if (line[0] == ' ' || line[0] == '\t')
        {
          if (in_from)
            g_string_append_len (from, line, (gssize) end);
          continue;
        }
      in_from = FALSE;
      if (end >= 5 && g_ascii_strncasecmp (line, "from", 4) == 0)
        {
          gsize i = 4;

          while (i < end && (line[i] == ' ' || line[i] == '\t'))
            i++;
          if (i < end && line[i] == ':')
            {
              n_from++;
              in_from = TRUE;
              if (from == NULL)
                from = g_string_new_len (line + i + 1, (gssize) (end - i - 1));
            }
        }
    }
  if (n_from == 1)
    {
      g_autofree char *address = from_address (from->str);
      char *domain = address_domain (address);

      if (domain != NULL)
        return domain;
    }
  return address_domain (sender);
}

gboolean
relais_dkim_outbound_enabled (const RelaisConfig *config)
{
  return config->dkim_signing && config->dkim_keys->len > 0;
}

char *
relais_dkim_outbound_sign (const RelaisConfig *config, const char *message, gsize length, const char *sender,
                           gint64 now, char **domain, char **selector, GError **error)
{
  g_autofree char *from_domain = NULL;
  const RelaisDkimSigningKey *key;
  char *field;

  g_return_val_if_fail (config != NULL, NULL);

  if (!relais_dkim_outbound_enabled (config))
    return NULL;
  from_domain = relais_dkim_outbound_domain (message, length, sender);
  key = relais_config_lookup_dkim_key (config, from_domain);
  if (key == NULL)
    return NULL;
  if (domain != NULL)
    *domain = g_strdup (key->domain);
  if (selector != NULL)
    *selector = g_strdup (key->selector);
  field = relais_dkim_signer_sign (key->signer, message, length, now, error);
  return field;
}

/* ---- in a worker thread ------------------------------------------------- */

typedef struct {
  RelaisConfig *config;
  char *path;
  char *sender;
  char *domain;      /* out */
  char *selector;    /* out */
} SignJob;

static void
sign_job_free (SignJob *job)
{
  relais_config_unref (job->config);
  g_free (job->path);
  g_free (job->sender);
  g_free (job->domain);
  g_free (job->selector);
  g_free (job);
}

static void
sign_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SignJob *job = task_data;
  g_autofree char *data = NULL;
  gsize length = 0;
  GError *error = NULL;
  char *field;

  if (!g_file_get_contents (job->path, &data, &length, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  field = relais_dkim_outbound_sign (job->config, data, length, job->sender, relais_clock_now (), &job->domain,
                                     &job->selector, &error);
  if (field == NULL && error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, field, g_free);
}

void
relais_dkim_outbound_sign_file_async (RelaisConfig *config, const char *path, const char *sender,
                                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  SignJob *job = g_new0 (SignJob, 1);

  job->config = relais_config_ref (config);
  job->path = g_strdup (path);
  job->sender = g_strdup (sender != NULL ? sender : "");
  g_task_set_source_tag (task, relais_dkim_outbound_sign_file_async);
  g_task_set_task_data (task, job, (GDestroyNotify) sign_job_free);
  g_task_run_in_thread (task, sign_thread);
}

char *
relais_dkim_outbound_sign_file_finish (GAsyncResult *result, char **domain, char **selector, GError **error)
{
  SignJob *job;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  job = g_task_get_task_data (G_TASK (result));
  if (domain != NULL)
    *domain = g_strdup (job->domain);
  if (selector != NULL)
    *selector = g_strdup (job->selector);
  return g_task_propagate_pointer (G_TASK (result), error);
}
