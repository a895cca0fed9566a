/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM signing of outgoing mail: the signing domain from the From field, the
 * key lookup, the signature, in a worker thread. See relais-dkim-outbound.h. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-dkim-outbound.h"

#include <string.h>

#include "relais-clock.h"
#include "relais-dmarc.h"
#include "relais-error.h"
#include "relais-header.h"

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
  g_autofree char *from = NULL;
  char *domain = NULL;

  g_return_val_if_fail (message != NULL || length == 0, NULL);

  /* The same reading of From as DMARC's (RFC 7489 §6.6.1). */
  from = relais_header_single_value (message, length, "From", NULL);
  if (from != NULL && relais_dmarc_from_domain (from, &domain, NULL))
    return domain;
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
