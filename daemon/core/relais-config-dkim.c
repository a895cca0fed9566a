/* SPDX-License-Identifier: GPL-3.0-or-later
 * The DKIM signing keys of the snapshot (issue 7): one key per sending domain,
 * each with its signer made once, so that delivery never parses a PEM per
 * message. The list is immutable and shared between snapshots; an edit builds
 * a new list. The private key never leaves: DkimKeys shows the domain,
 * selector, key type and public record only. */
#define G_LOG_DOMAIN "relais"

#include "relais-config.h"
#include "relais-config-private.h"

#include <string.h>

#include "relais-error.h"

gboolean
relais_dkim_signing_domain_validate (const char *domain, GError **error)
{
  if (domain == NULL || *domain == '\0')
    return relais_config_invalid (error, "Domain", "give the sending domain, e.g. example.org");
  if (!g_str_is_ascii (domain))
    return relais_config_invalid (error, "Domain", "'%s' is not ASCII: give an internationalized domain in its "
                                  "xn-- form", g_utf8_validate (domain, -1, NULL) ? domain : "(not UTF-8)");
  if (!relais_is_fqdn (domain))
    return relais_config_invalid (error, "Domain", "'%s' is not a fully qualified domain name such as "
                                  "example.org", domain);
  return TRUE;
}

RelaisDkimSigningKey *
relais_dkim_signing_key_new (const char *domain, const char *selector, const char *private_pem, gint64 created,
                             GError **error)
{
  g_autoptr (RelaisDkimSigningKey) key = NULL;
  GError *local_error = NULL;

  if (!relais_dkim_signing_domain_validate (domain, error))
    return NULL;
  if (selector == NULL || !relais_dkim_selector_validate (selector, domain, &local_error))
    {
      if (local_error == NULL)
        relais_config_invalid (error, "Selector", "give a selector, e.g. mail2026");
      else
        {
          g_prefix_error (&local_error, "Selector: ");
          g_propagate_error (error, local_error);
        }
      return NULL;
    }
  key = g_new0 (RelaisDkimSigningKey, 1);
  key->domain = g_ascii_strdown (domain, -1);
  key->selector = g_strdup (selector);
  key->private_pem = g_strdup (private_pem ? private_pem : "");
  key->created = created;
  key->signer = relais_dkim_signer_new (key->domain, key->selector, key->private_pem, &local_error);
  if (key->signer == NULL)
    {
      g_prefix_error (&local_error, "Key: ");
      g_propagate_error (error, local_error);
      return NULL;
    }
  key->algorithm = relais_dkim_signer_get_algorithm (key->signer);
  key->record = relais_dkim_signer_get_public_record (key->signer);
  return g_steal_pointer (&key);
}

static RelaisDkimSigningKey *
signing_key_copy (const RelaisDkimSigningKey *key)
{
  RelaisDkimSigningKey *copy = g_new0 (RelaisDkimSigningKey, 1);

  copy->domain = g_strdup (key->domain);
  copy->selector = g_strdup (key->selector);
  copy->algorithm = key->algorithm;
  copy->private_pem = g_strdup (key->private_pem);
  copy->created = key->created;
  copy->record = g_strdup (key->record);
  copy->signer = relais_dkim_signer_ref (key->signer);
  return copy;
}

void
relais_dkim_signing_key_free (RelaisDkimSigningKey *key)
{
  if (key == NULL)
    return;
  g_free (key->domain);
  g_free (key->selector);
  if (key->private_pem != NULL)
    {
      /* a secret: do not leave it in freed memory */
      memset (key->private_pem, 0, strlen (key->private_pem));
      g_free (key->private_pem);
    }
  g_free (key->record);
  g_clear_pointer (&key->signer, relais_dkim_signer_unref);
  g_free (key);
}

static gint
key_index (const RelaisConfig *config, const char *domain)
{
  for (guint i = 0; domain != NULL && i < config->dkim_keys->len; i++)
    if (g_ascii_strcasecmp (((RelaisDkimSigningKey *) config->dkim_keys->pdata[i])->domain, domain) == 0)
      return (gint) i;
  return -1;
}

const RelaisDkimSigningKey *
relais_config_lookup_dkim_key (const RelaisConfig *config, const char *domain)
{
  gint i;

  g_return_val_if_fail (config != NULL, NULL);
  i = key_index (config, domain);
  return i < 0 ? NULL : config->dkim_keys->pdata[i];
}

/* A snapshot of BASE whose key list is BASE's without entry SKIP (-1: none),
 * plus ADDED (taken, may be NULL), sorted by domain. */
static RelaisConfig *
with_keys (const RelaisConfig *base, gint skip, RelaisDkimSigningKey *added)
{
  RelaisConfig *config = relais_config_copy (base);
  GPtrArray *keys = g_ptr_array_new_full (base->dkim_keys->len + 1,
                                          (GDestroyNotify) relais_dkim_signing_key_free);
  gboolean placed = added == NULL;

  for (guint i = 0; i < base->dkim_keys->len; i++)
    {
      const RelaisDkimSigningKey *key = base->dkim_keys->pdata[i];

      if ((gint) i == skip)
        continue;
      if (!placed && strcmp (added->domain, key->domain) < 0)
        {
          g_ptr_array_add (keys, added);
          placed = TRUE;
        }
      g_ptr_array_add (keys, signing_key_copy (key));
    }
  if (!placed)
    g_ptr_array_add (keys, added);
  g_ptr_array_unref (config->dkim_keys);
  config->dkim_keys = keys;
  return config;
}

RelaisConfig *
relais_config_put_dkim_key (const RelaisConfig *base, RelaisDkimSigningKey *key)
{
  g_return_val_if_fail (base != NULL && key != NULL, NULL);
  return with_keys (base, key_index (base, key->domain), key);
}

RelaisConfig *
relais_config_remove_dkim_key (const RelaisConfig *base, const char *domain, GError **error)
{
  gint i;

  g_return_val_if_fail (base != NULL, NULL);
  i = key_index (base, domain);
  if (i < 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "domain: no DKIM key for '%s'",
                   domain != NULL && g_utf8_validate (domain, -1, NULL) ? domain : "");
      return NULL;
    }
  return with_keys (base, i, NULL);
}

GVariant *
relais_config_dkim_keys_to_variant (const RelaisConfig *config)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(ssss)"));

  for (guint i = 0; i < config->dkim_keys->len; i++)
    {
      const RelaisDkimSigningKey *key = config->dkim_keys->pdata[i];

      g_variant_builder_add (&b, "(ssss)", key->domain, key->selector,
                             relais_dkim_algorithm_to_string (key->algorithm), key->record);
    }
  return g_variant_ref_sink (g_variant_builder_end (&b));
}
