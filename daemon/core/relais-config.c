/* SPDX-License-Identifier: GPL-3.0-or-later
 * Typed settings, their defaults and validation, and the immutable snapshot.
 * Every edit copies the snapshot, changes the copy, validates, and rebuilds the
 * address index; the caller publishes the result. Nothing here does I/O except
 * password hashing (libcrypt). */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-config.h"
#include "relais-config-private.h"

#include <crypt.h>
#include <errno.h>
#include <string.h>

#include "relais-address.h"
#include "relais-error.h"

#define MAX_LIST_ENTRIES RELAIS_CONFIG_MAX_LIST_ENTRIES

/* ---------------------------------------------------------------- syntax */

/* A host name (RFC 5321 Domain), ASCII, top label not all digits (so not an IP address). */
gboolean
relais_is_valid_domain (const char *name)
{
  const char *top;

  if (name == NULL || !relais_address_is_valid_domain (name, FALSE))
    return FALSE;
  top = strrchr (name, '.');
  top = top ? top + 1 : name;
  for (; *top; top++)
    if (!g_ascii_isdigit (*top))
      return TRUE;
  return FALSE;
}

gboolean
relais_is_fqdn (const char *name)
{
  return relais_is_valid_domain (name) && strchr (name, '.') != NULL;
}

gboolean
relais_is_valid_address (const char *address)
{
  return address != NULL && relais_address_is_valid_mailbox (address, TRUE);
}

gboolean
relais_is_valid_login (const char *login)
{
  gsize len;

  if (login == NULL)
    return FALSE;
  len = strlen (login);
  if (len == 0 || len > 64 || !(g_ascii_islower (login[0]) || g_ascii_isdigit (login[0])))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_islower (login[i]) && !g_ascii_isdigit (login[i]) && !strchr ("._-", login[i]))
      return FALSE;
  return TRUE;
}

/* Lower-cases the domain part and keeps the local part as given. */
static char *
normalize_address (const char *address)
{
  const char *at = strrchr (address, '@');
  g_autofree char *domain = g_ascii_strdown (at + 1, -1);

  return g_strdup_printf ("%.*s@%s", (int) (at - address), address, domain);
}

/* ---------------------------------------------------------------- accounts */

RelaisAccount *
relais_account_copy (const RelaisAccount *account)
{
  RelaisAccount *copy = g_new0 (RelaisAccount, 1);

  copy->login = g_strdup (account->login);
  copy->password_hash = g_strdup (account->password_hash);
  copy->aliases = g_strdupv (account->aliases ? account->aliases : (GStrv) (const char *[]){ NULL });
  copy->forwards = g_strdupv (account->forwards ? account->forwards : (GStrv) (const char *[]){ NULL });
  return copy;
}

void
relais_account_free (RelaisAccount *account)
{
  if (account == NULL)
    return;
  g_free (account->login);
  if (account->password_hash)
    explicit_bzero (account->password_hash, strlen (account->password_hash));
  g_free (account->password_hash);
  g_strfreev (account->aliases);
  g_strfreev (account->forwards);
  g_free (account);
}

char *
relais_password_hash (const char *password, GError **error)
{
  g_autofree char *salt = NULL;
  struct crypt_data *data;
  char *hash = NULL;

  salt = crypt_gensalt_ra ("$y$", 0, NULL, 0);
  if (salt == NULL)
    {
      int saved = errno;
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "cannot make a password salt: %s",
                   g_strerror (saved));
      return NULL;
    }
  data = g_new0 (struct crypt_data, 1);
  if (crypt_r (password, salt, data) != NULL && data->output[0] == '$')
    hash = g_strdup (data->output);
  else
    g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "cannot hash the password");
  explicit_bzero (data, sizeof *data);
  g_free (data);
  return hash;
}

gboolean
relais_password_verify (const char *password, const char *hash)
{
  struct crypt_data *data;
  gboolean ok = FALSE;

  if (password == NULL || hash == NULL || hash[0] != '$')
    return FALSE;
  data = g_new0 (struct crypt_data, 1);
  if (crypt_r (password, hash, data) != NULL && data->output[0] == '$')
    {
      gsize len = strlen (hash);
      /* constant time over the hash length */
      guchar diff = strlen (data->output) != len;
      for (gsize i = 0; i < len && data->output[i]; i++)
        diff |= (guchar) (data->output[i] ^ hash[i]);
      ok = diff == 0;
    }
  explicit_bzero (data, sizeof *data);
  g_free (data);
  return ok;
}

/* ---------------------------------------------------------------- snapshot */

/* A relay host with its defaults: no server, port 25, no TLS requirement, no authentication. */
static RelaisRelayHost *
relay_host_new (const char *name)
{
  RelaisRelayHost *host = g_new0 (RelaisRelayHost, 1);

  host->name = g_strdup (name);
  host->server = g_strdup ("");
  host->port = RELAIS_DEFAULT_RELAY_PORT;
  host->username = g_strdup ("");
  host->password = g_strdup ("");
  return host;
}

RelaisConfig *
relais_config_new_default (void)
{
  RelaisConfig *config = g_new0 (RelaisConfig, 1);

  config->ref_count = 1;
  config->smtp_authentication = TRUE;
  config->skip_auth_for_local_networks = FALSE;
  config->verify_sender_login = FALSE;
  config->skip_sender_check_for_trusted = FALSE;
  config->disable_auto_forward = FALSE;
  config->hostname = g_strdup ("localhost.localdomain");
  config->banner = g_strdup (RELAIS_DEFAULT_BANNER);
  config->max_recipients = RELAIS_DEFAULT_MAX_RECIPIENTS;
  config->max_hops = RELAIS_DEFAULT_MAX_HOPS;
  config->max_message_size_mb = RELAIS_DEFAULT_MAX_SIZE_MB;
  config->external_administrators = g_new0 (char *, 1);
  config->idle_timeout = RELAIS_DEFAULT_IDLE_TIMEOUT;
  config->max_sessions = RELAIS_DEFAULT_MAX_SESSIONS;
  config->local_domains = g_new0 (char *, 1);
  config->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_account_free);
  config->address_index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  config->distribution_mode = RELAIS_DISTRIBUTION_DIRECT;
  config->relay_host = relay_host_new ("");
  config->relay_hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_relay_host_free);
  config->relay_rules = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_relay_rule_free);
  config->trusted_networks = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_trusted_network_free);
  config->relay_domains = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_relay_domain_free);
  config->security_rules = relais_rule_set_new (NULL);
  config->reject_non_fqdn_sender = TRUE;
  config->limit_connections = TRUE;
  config->max_connections = RELAIS_DEFAULT_MAX_CONNECTIONS;
  config->max_messages_per_minute = RELAIS_DEFAULT_MAX_MESSAGES_PER_MINUTE;
  config->max_connections_per_minute = RELAIS_DEFAULT_MAX_CONNECTIONS_PER_MINUTE;
  config->reject_unauthorized_pipelining = TRUE;
  config->max_nonexistent_recipients = RELAIS_DEFAULT_MAX_NONEXISTENT_RECIPIENTS;
  config->max_junk_commands = RELAIS_DEFAULT_MAX_JUNK_COMMANDS;
  config->dnsbl_zones = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dnsbl_zone_free);
  config->antivirus_socket = g_strdup (RELAIS_DEFAULT_ANTIVIRUS_SOCKET);
  config->antivirus_unreachable = RELAIS_ANTIVIRUS_DEFER;
  config->dkim_signing = TRUE;
  config->dkim_keys = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dkim_signing_key_free);
  return config;
}

RelaisConfig *
relais_config_ref (RelaisConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_atomic_int_inc (&config->ref_count);
  return config;
}

void
relais_config_unref (RelaisConfig *config)
{
  if (config == NULL || !g_atomic_int_dec_and_test (&config->ref_count))
    return;
  g_free (config->hostname);
  g_free (config->banner);
  g_strfreev (config->external_administrators);
  g_strfreev (config->local_domains);
  g_ptr_array_unref (config->accounts);
  g_hash_table_unref (config->address_index);
  relais_relay_host_free (config->relay_host);
  g_ptr_array_unref (config->relay_hosts);
  g_ptr_array_unref (config->relay_rules);
  g_ptr_array_unref (config->trusted_networks);
  g_ptr_array_unref (config->relay_domains);
  relais_rule_set_unref (config->security_rules);
  g_ptr_array_unref (config->dnsbl_zones);
  g_free (config->antivirus_socket);
  g_ptr_array_unref (config->dkim_keys);
  g_free (config);
}

static void
rebuild_index (RelaisConfig *config)
{
  g_hash_table_remove_all (config->address_index);
  for (guint i = 0; i < config->accounts->len; i++)
    {
      RelaisAccount *account = config->accounts->pdata[i];
      g_auto (GStrv) addresses = relais_config_account_addresses (config, account);

      for (guint j = 0; addresses[j]; j++)
        g_hash_table_replace (config->address_index, g_utf8_strdown (addresses[j], -1), account);
    }
}

RelaisConfig *
relais_config_copy (const RelaisConfig *config)
{
  RelaisConfig *copy = g_new0 (RelaisConfig, 1);

  *copy = *config;
  copy->ref_count = 1;
  copy->hostname = g_strdup (config->hostname);
  copy->banner = g_strdup (config->banner);
  copy->external_administrators = g_strdupv (config->external_administrators);
  copy->local_domains = g_strdupv (config->local_domains);
  copy->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_account_free);
  for (guint i = 0; i < config->accounts->len; i++)
    g_ptr_array_add (copy->accounts, relais_account_copy (config->accounts->pdata[i]));
  copy->address_index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rebuild_index (copy);
  copy->relay_host = relais_relay_host_copy (config->relay_host);
  copy->relay_hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_relay_host_free);
  for (guint i = 0; i < config->relay_hosts->len; i++)
    g_ptr_array_add (copy->relay_hosts, relais_relay_host_copy (config->relay_hosts->pdata[i]));
  copy->relay_rules = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_relay_rule_free);
  for (guint i = 0; i < config->relay_rules->len; i++)
    g_ptr_array_add (copy->relay_rules, relais_relay_rule_copy (config->relay_rules->pdata[i]));
  copy->trusted_networks = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_trusted_network_free);
  for (guint i = 0; i < config->trusted_networks->len; i++)
    g_ptr_array_add (copy->trusted_networks, relais_trusted_network_copy (config->trusted_networks->pdata[i]));
  copy->relay_domains = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_relay_domain_free);
  for (guint i = 0; i < config->relay_domains->len; i++)
    g_ptr_array_add (copy->relay_domains, relais_relay_domain_copy (config->relay_domains->pdata[i]));
  copy->security_rules = relais_rule_set_ref (config->security_rules);   /* immutable: shared */
  copy->dnsbl_zones = g_ptr_array_ref (config->dnsbl_zones);               /* immutable: shared */
  copy->antivirus_socket = g_strdup (config->antivirus_socket);
  copy->dkim_keys = g_ptr_array_ref (config->dkim_keys);                   /* immutable: shared */
  return copy;
}

gsize
relais_config_max_message_size (const RelaisConfig *config)
{
  return (gsize) config->max_message_size_mb * 1024 * 1024;
}

gboolean
relais_config_is_local_domain (const RelaisConfig *config, const char *domain)
{
  g_autofree char *lower = NULL;

  if (domain == NULL)
    return FALSE;
  lower = g_ascii_strdown (domain, -1);
  return g_strv_contains ((const char *const *) config->local_domains, lower);
}

const RelaisAccount *
relais_config_lookup_address (const RelaisConfig *config, const char *address)
{
  g_autofree char *lower = NULL;

  if (address == NULL)
    return NULL;
  lower = g_utf8_strdown (address, -1);
  return g_hash_table_lookup (config->address_index, lower);
}

const RelaisAccount *
relais_config_lookup_login (const RelaisConfig *config, const char *login)
{
  for (guint i = 0; login && i < config->accounts->len; i++)
    {
      RelaisAccount *account = config->accounts->pdata[i];
      if (g_str_equal (account->login, login))
        return account;
    }
  return NULL;
}

GStrv
relais_config_account_addresses (const RelaisConfig *config, const RelaisAccount *account)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; config->local_domains[i]; i++)
    {
      g_autofree char *address = g_strdup_printf ("%s@%s", account->login, config->local_domains[i]);
      g_strv_builder_add (builder, address);
    }
  for (guint i = 0; account->aliases && account->aliases[i]; i++)
    {
      const char *at = strrchr (account->aliases[i], '@');
      if (at && relais_config_is_local_domain (config, at + 1))
        g_strv_builder_add (builder, account->aliases[i]);
    }
  return g_strv_builder_end (builder);
}

/* ---------------------------------------------------------------- General */

gboolean
relais_config_invalid (GError **error, const char *property, const char *format, ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "%s: %s", property, reason);
  return FALSE;
}

gboolean
relais_config_check_type (GVariant *value, const char *property, const GVariantType *type, GError **error)
{
  if (g_variant_is_of_type (value, type))
    return TRUE;
  return relais_config_invalid (error, property, "expected a value of type '%.*s', got '%s'",
                  (int) g_variant_type_get_string_length (type), g_variant_type_peek_string (type),
                  g_variant_get_type_string (value));
}

gboolean
relais_config_set_bool (GVariant *value, const char *property, gboolean *out, GError **error)
{
  if (!relais_config_check_type (value, property, G_VARIANT_TYPE_BOOLEAN, error))
    return FALSE;
  *out = g_variant_get_boolean (value);
  return TRUE;
}

gboolean
relais_config_set_uint (GVariant *value, const char *property, guint min, guint max, guint *out, GError **error)
{
  guint v;

  if (!relais_config_check_type (value, property, G_VARIANT_TYPE_UINT32, error))
    return FALSE;
  v = g_variant_get_uint32 (value);
  if (v < min || v > max)
    return relais_config_invalid (error, property, "%u is out of range: it must be between %u and %u", v, min, max);
  *out = v;
  return TRUE;
}

static gboolean
validate_address_list (GVariant *value, const char *property, GStrv *out, GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  g_autofree const char **items = NULL;
  gsize n;

  if (!relais_config_check_type (value, property, G_VARIANT_TYPE_STRING_ARRAY, error))
    return FALSE;
  items = g_variant_get_strv (value, &n);
  if (n > MAX_LIST_ENTRIES)
    return relais_config_invalid (error, property, "at most %d addresses are allowed", MAX_LIST_ENTRIES);
  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *address = NULL;

      if (!relais_is_valid_address (items[i]))
        return relais_config_invalid (error, property, "'%s' is not a valid e-mail address (user@domain)", items[i]);
      address = normalize_address (items[i]);
      for (guint j = 0; j < list->len; j++)
        if (g_ascii_strcasecmp (list->pdata[j], address) == 0)
          return relais_config_invalid (error, property, "'%s' is listed twice", items[i]);
      g_ptr_array_add (list, g_steal_pointer (&address));
    }
  g_ptr_array_add (list, NULL);
  g_strfreev (*out);
  *out = (GStrv) g_ptr_array_free (g_steal_pointer (&list), FALSE);
  return TRUE;
}

static gboolean
apply_one (RelaisConfig *c, const char *key, GVariant *value, GError **error)
{
  if (g_str_equal (key, "SmtpAuthentication"))
    return relais_config_set_bool (value, key, &c->smtp_authentication, error);
  if (g_str_equal (key, "SkipAuthForLocalNetworks"))
    return relais_config_set_bool (value, key, &c->skip_auth_for_local_networks, error);
  if (g_str_equal (key, "VerifySenderLogin"))
    return relais_config_set_bool (value, key, &c->verify_sender_login, error);
  if (g_str_equal (key, "SkipSenderCheckForTrusted"))
    return relais_config_set_bool (value, key, &c->skip_sender_check_for_trusted, error);
  if (g_str_equal (key, "DisableAutoForward"))
    return relais_config_set_bool (value, key, &c->disable_auto_forward, error);
  if (g_str_equal (key, "MaxRecipients"))
    return relais_config_set_uint (value, key, 1, 100000, &c->max_recipients, error);
  if (g_str_equal (key, "MaxHops"))
    return relais_config_set_uint (value, key, 1, 1000, &c->max_hops, error);
  if (g_str_equal (key, "MaxMessageSizeMB"))
    return relais_config_set_uint (value, key, 1, 2047, &c->max_message_size_mb, error);
  if (g_str_equal (key, "IdleTimeout"))
    return relais_config_set_uint (value, key, 5, 3600, &c->idle_timeout, error);
  if (g_str_equal (key, "MaxSessions"))
    return relais_config_set_uint (value, key, 1, 1000000, &c->max_sessions, error);
  if (g_str_equal (key, "ExternalAdministrators"))
    return validate_address_list (value, key, &c->external_administrators, error);
  if (g_str_equal (key, "Hostname"))
    {
      const char *name;

      if (!relais_config_check_type (value, key, G_VARIANT_TYPE_STRING, error))
        return FALSE;
      name = g_variant_get_string (value, NULL);
      if (!relais_is_fqdn (name))
        return relais_config_invalid (error, key,
                        "'%s' is not a fully qualified domain name "
                        "(expected something like mail.example.org)",
                        name);
      g_free (c->hostname);
      c->hostname = g_ascii_strdown (name, -1);
      return TRUE;
    }
  if (g_str_equal (key, "Banner"))
    {
      const char *text;
      gsize len;

      if (!relais_config_check_type (value, key, G_VARIANT_TYPE_STRING, error))
        return FALSE;
      text = g_variant_get_string (value, &len);
      if (len == 0 || len > 200)
        return relais_config_invalid (error, key, "must be 1 to 200 characters long");
      for (gsize i = 0; i < len; i++)
        if ((guchar) text[i] < 0x20 || (guchar) text[i] > 0x7e)
          return relais_config_invalid (error, key,
                          "must be one line of printable ASCII characters "
                          "(no control characters, line breaks or non-ASCII)");
      g_free (c->banner);
      c->banner = g_strdup (text);
      return TRUE;
    }
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
               "%s: no such setting in org.relais.Relais1.General", key);
  return FALSE;
}

RelaisConfig *
relais_config_apply_changes (const RelaisConfig *base, GVariant *changes, RelaisConfigApplyFunc apply_entry,
                             GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  g_autoptr (GVariant) owned = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (base != NULL, NULL);
  g_return_val_if_fail (g_variant_is_of_type (changes, G_VARIANT_TYPE_VARDICT), NULL);

  /* Sinks a floating CHANGES, like the GVariant constructors' consumers do. */
  owned = g_variant_ref_sink (changes);
  config = relais_config_copy (base);
  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      gboolean ok = apply_entry (config, key, value, error);

      g_variant_unref (value);
      if (!ok)
        return NULL;
    }
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_apply_general (const RelaisConfig *base, GVariant *changes, GError **error)
{
  return relais_config_apply_changes (base, changes, apply_one, error);
}

GVariant *
relais_config_general_to_variant (const RelaisConfig *c)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add (&b, "{sv}", "SmtpAuthentication", g_variant_new_boolean (c->smtp_authentication));
  g_variant_builder_add (&b, "{sv}", "SkipAuthForLocalNetworks",
                         g_variant_new_boolean (c->skip_auth_for_local_networks));
  g_variant_builder_add (&b, "{sv}", "VerifySenderLogin", g_variant_new_boolean (c->verify_sender_login));
  g_variant_builder_add (&b, "{sv}", "SkipSenderCheckForTrusted",
                         g_variant_new_boolean (c->skip_sender_check_for_trusted));
  g_variant_builder_add (&b, "{sv}", "DisableAutoForward", g_variant_new_boolean (c->disable_auto_forward));
  g_variant_builder_add (&b, "{sv}", "Hostname", g_variant_new_string (c->hostname));
  g_variant_builder_add (&b, "{sv}", "Banner", g_variant_new_string (c->banner));
  g_variant_builder_add (&b, "{sv}", "MaxRecipients", g_variant_new_uint32 (c->max_recipients));
  g_variant_builder_add (&b, "{sv}", "MaxHops", g_variant_new_uint32 (c->max_hops));
  g_variant_builder_add (&b, "{sv}", "MaxMessageSizeMB", g_variant_new_uint32 (c->max_message_size_mb));
  g_variant_builder_add (&b, "{sv}", "ExternalAdministrators",
                         g_variant_new_strv ((const char *const *) c->external_administrators, -1));
  g_variant_builder_add (&b, "{sv}", "IdleTimeout", g_variant_new_uint32 (c->idle_timeout));
  g_variant_builder_add (&b, "{sv}", "MaxSessions", g_variant_new_uint32 (c->max_sessions));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* ---------------------------------------------------------------- domains */

static gint
strv_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

RelaisConfig *
relais_config_add_local_domain (const RelaisConfig *base, const char *domain, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  g_autofree char *lower = NULL;
  g_autoptr (GStrvBuilder) builder = NULL;
  g_autoptr (GPtrArray) sorted = NULL;
  const RelaisRelayDomain *relay;

  if (!relais_is_valid_domain (domain))
    {
      relais_config_invalid (error, "domain", "'%s' is not a valid domain name", domain ? domain : "");
      return NULL;
    }
  if (relais_config_is_local_domain (base, domain))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS, "domain: '%s' is already a local domain",
                   domain);
      return NULL;
    }
  if (g_strv_length (base->local_domains) >= MAX_LIST_ENTRIES)
    {
      relais_config_invalid (error, "domain", "at most %d local domains are allowed", MAX_LIST_ENTRIES);
      return NULL;
    }
  lower = g_ascii_strdown (domain, -1);
  relay = relais_config_match_relay_domain (base, lower);
  if (relay != NULL)
    {
      relais_config_invalid (error, "domain",
               "%s is a relay domain (entry '%s' of Relay Control): its mail is forwarded to its own "
               "server; remove it from the relay domains first to deliver its mail here",
               lower, relay->name);
      return NULL;
    }

  /* An alias in the new domain must not collide with another account's login@domain. */
  for (guint i = 0; i < base->accounts->len; i++)
    {
      RelaisAccount *account = base->accounts->pdata[i];
      for (guint j = 0; account->aliases[j]; j++)
        {
          const char *at = strrchr (account->aliases[j], '@');
          g_autofree char *local = g_strndup (account->aliases[j], at - account->aliases[j]);
          const RelaisAccount *other = relais_config_lookup_login (base, local);

          if (g_ascii_strcasecmp (at + 1, lower) == 0 && other && other != account)
            {
              relais_config_invalid (error, "domain",
                       "adding '%s' would give %s to both account '%s' (alias) and account '%s'",
                       lower, account->aliases[j], account->login, other->login);
              return NULL;
            }
        }
    }

  sorted = g_ptr_array_new ();
  for (guint i = 0; base->local_domains[i]; i++)
    g_ptr_array_add (sorted, base->local_domains[i]);
  g_ptr_array_add (sorted, lower);
  g_ptr_array_sort (sorted, strv_cmp);
  builder = g_strv_builder_new ();
  for (guint i = 0; i < sorted->len; i++)
    g_strv_builder_add (builder, sorted->pdata[i]);

  config = relais_config_copy (base);
  g_strfreev (config->local_domains);
  config->local_domains = g_strv_builder_end (builder);
  rebuild_index (config);
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_remove_local_domain (const RelaisConfig *base, const char *domain, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  g_autoptr (GStrvBuilder) builder = NULL;
  g_autofree char *lower = NULL;

  if (!relais_config_is_local_domain (base, domain))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "domain: '%s' is not a local domain",
                   domain ? domain : "");
      return NULL;
    }
  lower = g_ascii_strdown (domain, -1);
  builder = g_strv_builder_new ();
  for (guint i = 0; base->local_domains[i]; i++)
    if (!g_str_equal (base->local_domains[i], lower))
      g_strv_builder_add (builder, base->local_domains[i]);

  config = relais_config_copy (base);
  g_strfreev (config->local_domains);
  config->local_domains = g_strv_builder_end (builder);
  rebuild_index (config);
  return g_steal_pointer (&config);
}

/* ---------------------------------------------------------------- accounts */

static gint
account_cmp (gconstpointer a, gconstpointer b)
{
  const RelaisAccount *x = *(RelaisAccount **) a, *y = *(RelaisAccount **) b;
  return strcmp (x->login, y->login);
}

static GStrv
normalized_list (GStrv list)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; list && list[i]; i++)
    {
      g_autofree char *address = normalize_address (list[i]);
      g_strv_builder_add (builder, address);
    }
  return g_strv_builder_end (builder);
}

RelaisConfig *
relais_config_put_account (const RelaisConfig *base, const RelaisAccount *account,
                           gboolean must_be_new, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  g_autoptr (RelaisAccount) copy = NULL;
  const RelaisAccount *existing;
  guint n_aliases, n_forwards;

  g_return_val_if_fail (account != NULL, NULL);

  if (!relais_is_valid_login (account->login))
    {
      relais_config_invalid (error, "login",
               "'%s' is not a valid login: use 1 to 64 characters of a-z, 0-9, '.', '_' and '-', "
               "starting with a letter or a digit",
               account->login ? account->login : "");
      return NULL;
    }
  existing = relais_config_lookup_login (base, account->login);
  if (must_be_new && existing)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS, "login: account '%s' already exists",
                   account->login);
      return NULL;
    }
  if (!must_be_new && !existing)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "login: no account '%s'", account->login);
      return NULL;
    }
  if (account->password_hash == NULL || account->password_hash[0] != '$')
    {
      relais_config_invalid (error, "password", "the stored password hash is not a crypt(3) hash");
      return NULL;
    }
  n_aliases = account->aliases ? g_strv_length (account->aliases) : 0;
  n_forwards = account->forwards ? g_strv_length (account->forwards) : 0;
  if (n_aliases > MAX_LIST_ENTRIES || n_forwards > MAX_LIST_ENTRIES)
    {
      relais_config_invalid (error, n_aliases > MAX_LIST_ENTRIES ? "aliases" : "forwards",
               "at most %d addresses are allowed", MAX_LIST_ENTRIES);
      return NULL;
    }

  copy = g_new0 (RelaisAccount, 1);
  copy->login = g_strdup (account->login);
  copy->password_hash = g_strdup (account->password_hash);

  for (guint i = 0; i < n_aliases; i++)
    {
      const char *alias = account->aliases[i];
      const char *at;
      const RelaisAccount *owner;

      if (!relais_is_valid_address (alias))
        {
          relais_config_invalid (error, "aliases", "'%s' is not a valid e-mail address (user@domain)", alias);
          return NULL;
        }
      at = strrchr (alias, '@');
      if (!relais_config_is_local_domain (base, at + 1))
        {
          relais_config_invalid (error, "aliases", "'%s' is not in a local domain (add the domain first)", alias);
          return NULL;
        }
      owner = relais_config_lookup_address (base, alias);
      if (owner && !g_str_equal (owner->login, account->login))
        {
          relais_config_invalid (error, "aliases", "'%s' already belongs to account '%s'", alias, owner->login);
          return NULL;
        }
      for (guint j = 0; j < i; j++)
        if (g_ascii_strcasecmp (account->aliases[j], alias) == 0)
          {
            relais_config_invalid (error, "aliases", "'%s' is listed twice", alias);
            return NULL;
          }
    }
  for (guint i = 0; i < n_forwards; i++)
    {
      if (!relais_is_valid_address (account->forwards[i]))
        {
          relais_config_invalid (error, "forwards", "'%s' is not a valid e-mail address (user@domain)",
                   account->forwards[i]);
          return NULL;
        }
      for (guint j = 0; j < i; j++)
        if (g_ascii_strcasecmp (account->forwards[j], account->forwards[i]) == 0)
          {
            relais_config_invalid (error, "forwards", "'%s' is listed twice", account->forwards[i]);
            return NULL;
          }
    }
  copy->aliases = normalized_list (account->aliases);
  copy->forwards = normalized_list (account->forwards);

  /* Forwarding to one of its own addresses would loop. */
  {
    g_auto (GStrv) own = relais_config_account_addresses (base, copy);
    for (guint i = 0; copy->forwards[i]; i++)
      for (guint j = 0; own[j]; j++)
        if (g_ascii_strcasecmp (copy->forwards[i], own[j]) == 0)
          {
            relais_config_invalid (error, "forwards", "'%s' is an address of the account itself: it would loop",
                     copy->forwards[i]);
            return NULL;
          }
  }

  config = relais_config_copy (base);
  for (guint i = 0; i < config->accounts->len; i++)
    if (g_str_equal (((RelaisAccount *) config->accounts->pdata[i])->login, copy->login))
      {
        g_ptr_array_remove_index (config->accounts, i);
        break;
      }
  g_ptr_array_add (config->accounts, g_steal_pointer (&copy));
  g_ptr_array_sort (config->accounts, account_cmp);
  rebuild_index (config);
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_remove_account (const RelaisConfig *base, const char *login, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;

  if (!relais_config_lookup_login (base, login))
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "login: no account '%s'",
                   login ? login : "");
      return NULL;
    }
  config = relais_config_copy (base);
  for (guint i = 0; i < config->accounts->len; i++)
    if (g_str_equal (((RelaisAccount *) config->accounts->pdata[i])->login, login))
      {
        g_ptr_array_remove_index (config->accounts, i);
        break;
      }
  rebuild_index (config);
  return g_steal_pointer (&config);
}

/* ---------------------------------------------------------------- distribution */

#define MAX_ENTRY_NAME     64     /* characters */
#define MAX_RELAY_USERNAME 255    /* bytes */
#define MAX_RELAY_PASSWORD 1024   /* bytes */

static const char *const mode_names[] = {
  [RELAIS_DISTRIBUTION_DIRECT] = "direct",
  [RELAIS_DISTRIBUTION_RELAY_HOST] = "relay-host",
  [RELAIS_DISTRIBUTION_RELAY_HOSTS] = "relay-hosts",
};

static const char *const kind_names[] = {
  [RELAIS_RULE_RECIPIENT] = "recipient",
  [RELAIS_RULE_SENDER] = "sender",
};

const char *
relais_distribution_mode_to_string (RelaisDistributionMode mode)
{
  g_return_val_if_fail ((guint) mode < G_N_ELEMENTS (mode_names), NULL);
  return mode_names[mode];
}

const char *
relais_rule_kind_to_string (RelaisRuleKind kind)
{
  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (kind_names), NULL);
  return kind_names[kind];
}

static void
replace_secret (char **secret, const char *value)
{
  if (*secret)
    explicit_bzero (*secret, strlen (*secret));
  g_free (*secret);
  *secret = g_strdup (value);
}

RelaisRelayHost *
relais_relay_host_copy (const RelaisRelayHost *host)
{
  RelaisRelayHost *copy = g_new0 (RelaisRelayHost, 1);

  *copy = *host;
  copy->name = g_strdup (host->name);
  copy->server = g_strdup (host->server);
  copy->username = g_strdup (host->username);
  copy->password = g_strdup (host->password);
  return copy;
}

void
relais_relay_host_free (RelaisRelayHost *host)
{
  if (host == NULL)
    return;
  g_free (host->name);
  g_free (host->server);
  g_free (host->username);
  replace_secret (&host->password, NULL);
  g_free (host);
}

RelaisRelayRule *
relais_relay_rule_copy (const RelaisRelayRule *rule)
{
  RelaisRelayRule *copy = g_new0 (RelaisRelayRule, 1);

  *copy = *rule;
  copy->host = g_strdup (rule->host);
  copy->patterns = g_strdupv (rule->patterns);
  return copy;
}

void
relais_relay_rule_free (RelaisRelayRule *rule)
{
  if (rule == NULL)
    return;
  g_free (rule->host);
  g_strfreev (rule->patterns);
  g_free (rule);
}

/* The fields of a relay host, under their key in Distribution.Update (the
 * single host) and in AddRelayHost/UpdateRelayHost (a listed host). */
typedef enum {
  FIELD_SERVER,
  FIELD_PORT,
  FIELD_ALWAYS_TLS,
  FIELD_AUTHENTICATION,
  FIELD_USERNAME,
  FIELD_PASSWORD,
} HostField;

static const struct {
  const char *single;
  const char *listed;
} host_keys[] = {
  [FIELD_SERVER] = { "RelayServer", "Server" },
  [FIELD_PORT] = { "RelayPort", "Port" },
  [FIELD_ALWAYS_TLS] = { "RelayAlwaysTls", "AlwaysTls" },
  [FIELD_AUTHENTICATION] = { "RelayAuthentication", "Authentication" },
  [FIELD_USERNAME] = { "RelayUsername", "Username" },
  [FIELD_PASSWORD] = { "RelayPassword", "Password" },
};

static const char *
host_key (HostField field, gboolean single)
{
  return single ? host_keys[field].single : host_keys[field].listed;
}

static gboolean
lookup_host_field (const char *key, gboolean single, HostField *field)
{
  for (guint i = 0; i < G_N_ELEMENTS (host_keys); i++)
    if (g_str_equal (key, host_key (i, single)))
      {
        *field = i;
        return TRUE;
      }
  return FALSE;
}

/* A string of at most MAX bytes without control characters. */
static gboolean
get_text (GVariant *value, const char *key, gsize max, const char **out, GError **error)
{
  const char *text;
  gsize len;

  if (!relais_config_check_type (value, key, G_VARIANT_TYPE_STRING, error))
    return FALSE;
  text = g_variant_get_string (value, &len);
  if (len > max)
    return relais_config_invalid (error, key, "must be at most %" G_GSIZE_FORMAT " bytes long", max);
  if (!g_utf8_validate (text, len, NULL))
    return relais_config_invalid (error, key, "must be valid UTF-8");
  for (gsize i = 0; i < len; i++)
    if ((guchar) text[i] < 0x20 || text[i] == 0x7f)
      return relais_config_invalid (error, key, "must not contain control characters or line breaks");
  *out = text;
  return TRUE;
}

static gboolean
set_host_field (RelaisRelayHost *host, HostField field, gboolean single, GVariant *value,
                GError **error)
{
  const char *key = host_key (field, single);
  const char *text;

  switch (field)
    {
    case FIELD_SERVER:
      if (!get_text (value, key, RELAIS_ADDRESS_MAX_DOMAIN, &text, error))
        return FALSE;
      if (text[0] && !relais_is_valid_domain (text) && !g_hostname_is_ip_address (text))
        return relais_config_invalid (error, key,
                        "'%s' is neither a host name nor an IP address "
                        "(expected something like smtp.example.org or 192.0.2.25)",
                        text);
      g_free (host->server);
      host->server = g_ascii_strdown (text, -1);
      return TRUE;
    case FIELD_PORT:
      return relais_config_set_uint (value, key, 1, 65535, &host->port, error);
    case FIELD_ALWAYS_TLS:
      return relais_config_set_bool (value, key, &host->always_tls, error);
    case FIELD_AUTHENTICATION:
      return relais_config_set_bool (value, key, &host->authentication, error);
    case FIELD_USERNAME:
      if (!get_text (value, key, MAX_RELAY_USERNAME, &text, error))
        return FALSE;
      g_free (host->username);
      host->username = g_strdup (text);
      return TRUE;
    case FIELD_PASSWORD:
      if (!get_text (value, key, MAX_RELAY_PASSWORD, &text, error))
        return FALSE;
      replace_secret (&host->password, text);
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

/* The checks that span several fields of one host. */
static gboolean
check_host (const RelaisRelayHost *host, gboolean single, GError **error)
{
  const char *auth = host_key (FIELD_AUTHENTICATION, single);

  if (!single && host->server[0] == '\0')
    return relais_config_invalid (error, host_key (FIELD_SERVER, single),
                    "relay host '%s' needs a server: a host name or an IP address", host->name);
  if (host->authentication && host->username[0] == '\0')
    return relais_config_invalid (error, host_key (FIELD_USERNAME, single),
                    "%s is on, so a user name is needed", auth);
  if (host->authentication && host->password[0] == '\0')
    return relais_config_invalid (error, host_key (FIELD_PASSWORD, single),
                    "%s is on, so a password is needed (none is stored)", auth);
  return TRUE;
}

/* The checks that span the whole Distribution page; every edit ends with them. */
static gboolean
check_distribution (const RelaisConfig *c, GError **error)
{
  if (!check_host (c->relay_host, TRUE, error))
    return FALSE;
  if (c->distribution_mode == RELAIS_DISTRIBUTION_RELAY_HOST && c->relay_host->server[0] == '\0')
    return relais_config_invalid (error, "RelayServer",
                    "Mode 'relay-host' needs a relay server: give RelayServer a host name or an "
                    "IP address");
  if (c->distribution_mode == RELAIS_DISTRIBUTION_RELAY_HOSTS && c->relay_hosts->len == 0)
    return relais_config_invalid (error, "Mode",
                    "'relay-hosts' needs at least one relay host: add one with AddRelayHost first");
  return TRUE;
}

/* Returns the sunk CHANGES checked to be a{sv}, or NULL + error. */
static GVariant *
own_vardict (GVariant *changes, const char *what, GError **error)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (changes);

  if (!g_variant_is_of_type (owned, G_VARIANT_TYPE_VARDICT))
    {
      relais_config_invalid (error, what, "expected a{sv}, got '%s'", g_variant_get_type_string (owned));
      return NULL;
    }
  return g_steal_pointer (&owned);
}

RelaisConfig *
relais_config_apply_distribution (const RelaisConfig *base, GVariant *changes, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  g_autoptr (GVariant) owned = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (base != NULL, NULL);
  g_return_val_if_fail (changes != NULL, NULL);

  owned = own_vardict (changes, "changes", error);
  if (owned == NULL)
    return NULL;
  config = relais_config_copy (base);
  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr (GVariant) v = value;
      HostField field;

      if (g_str_equal (key, "Mode"))
        {
          const char *name;
          guint i;

          if (!relais_config_check_type (v, key, G_VARIANT_TYPE_STRING, error))
            return NULL;
          name = g_variant_get_string (v, NULL);
          for (i = 0; i < G_N_ELEMENTS (mode_names); i++)
            if (g_str_equal (name, mode_names[i]))
              break;
          if (i == G_N_ELEMENTS (mode_names))
            {
              relais_config_invalid (error, key, "'%s' is not a mode: use 'direct', 'relay-host' or 'relay-hosts'",
                       name);
              return NULL;
            }
          config->distribution_mode = i;
        }
      else if (lookup_host_field (key, TRUE, &field))
        {
          if (!set_host_field (config->relay_host, field, TRUE, v, error))
            return NULL;
        }
      else
        {
          relais_config_invalid (error, key,
                   "no such setting in org.relais.Relais1.Distribution (use Mode, RelayServer, "
                   "RelayPort, RelayAlwaysTls, RelayAuthentication, RelayUsername or RelayPassword)");
          return NULL;
        }
    }
  if (!check_distribution (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

GVariant *
relais_config_distribution_to_variant (const RelaisConfig *c)
{
  g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  const RelaisRelayHost *h = c->relay_host;

  g_variant_builder_add (&b, "{sv}", "Mode",
                         g_variant_new_string (relais_distribution_mode_to_string (c->distribution_mode)));
  g_variant_builder_add (&b, "{sv}", "RelayServer", g_variant_new_string (h->server));
  g_variant_builder_add (&b, "{sv}", "RelayPort", g_variant_new_uint32 (h->port));
  g_variant_builder_add (&b, "{sv}", "RelayAlwaysTls", g_variant_new_boolean (h->always_tls));
  g_variant_builder_add (&b, "{sv}", "RelayAuthentication", g_variant_new_boolean (h->authentication));
  g_variant_builder_add (&b, "{sv}", "RelayUsername", g_variant_new_string (h->username));
  g_variant_builder_add (&b, "{sv}", "RelayPassword", g_variant_new_string (h->password));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* ---------------------------------------------------------------- relay hosts */

static gint
host_index (const RelaisConfig *c, const char *name)
{
  for (guint i = 0; name && i < c->relay_hosts->len; i++)
    if (g_str_equal (((RelaisRelayHost *) c->relay_hosts->pdata[i])->name, name))
      return (gint) i;
  return -1;
}

const RelaisRelayHost *
relais_config_lookup_relay_host (const RelaisConfig *config, const char *name)
{
  gint i = host_index (config, name);
  return i < 0 ? NULL : config->relay_hosts->pdata[i];
}

/* The name of an entry of a named list (relay hosts, trusted networks, relay
 * domains): 1 to 64 printable characters, no space at either end. WHAT says
 * which list, for the message. */
static gboolean
check_entry_name (const char *what, const char *name, GError **error)
{
  glong n;

  if (name == NULL || !g_utf8_validate (name, -1, NULL))
    return relais_config_invalid (error, "Name", "must be valid UTF-8");
  n = g_utf8_strlen (name, -1);
  if (n < 1 || n > MAX_ENTRY_NAME)
    return relais_config_invalid (error, "Name", "a %s name must be 1 to %d characters long", what, MAX_ENTRY_NAME);
  for (const char *p = name; *p; p = g_utf8_next_char (p))
    if (!g_unichar_isprint (g_utf8_get_char (p)))
      return relais_config_invalid (error, "Name", "'%s' contains a character that is not printable", name);
  if (g_unichar_isspace (g_utf8_get_char (name)) ||
      g_unichar_isspace (g_utf8_get_char (g_utf8_prev_char (name + strlen (name)))))
    return relais_config_invalid (error, "Name", "'%s' must not begin or end with a space", name);
  return TRUE;
}

gboolean
relais_config_check_entry_name (const char *what, const char *name, GError **error)
{
  return check_entry_name (what, name, error);
}

static gboolean
check_host_name (const char *name, GError **error)
{
  return check_entry_name ("relay host", name, error);
}

/* Names are unique regardless of case: "Office" and "office" would confuse.
 * LIST holds structs with their name at NAME_OFFSET; SELF (the entry being
 * renamed, or NULL) does not count. */
static gboolean
check_entry_name_free (GPtrArray *list, gsize name_offset, const char *what, const char *name,
                       gconstpointer self, GError **error)
{
  g_autofree char *folded = g_utf8_casefold (name, -1);

  for (guint i = 0; i < list->len; i++)
    {
      const char *other = G_STRUCT_MEMBER (const char *, list->pdata[i], name_offset);
      g_autofree char *other_folded = g_utf8_casefold (other, -1);

      if (list->pdata[i] != self && g_str_equal (folded, other_folded))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS, "Name: a %s named '%s' already exists",
                       what, other);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_name_free (const RelaisConfig *c, const char *name, const RelaisRelayHost *self, GError **error)
{
  return check_entry_name_free (c->relay_hosts, G_STRUCT_OFFSET (RelaisRelayHost, name), "relay host", name,
                                self, error);
}

static gint
host_cmp (gconstpointer a, gconstpointer b)
{
  const RelaisRelayHost *x = *(RelaisRelayHost **) a, *y = *(RelaisRelayHost **) b;
  return strcmp (x->name, y->name);
}

/* Applies the a{sv} CHANGES to HOST; "Name" only when RENAME is given (it
 * receives the new name, validated but not checked for uniqueness). */
static gboolean
apply_host_changes (RelaisRelayHost *host, GVariant *changes, char **rename, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, changes);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr (GVariant) v = value;
      HostField field;

      if (rename && g_str_equal (key, "Name"))
        {
          if (!relais_config_check_type (v, key, G_VARIANT_TYPE_STRING, error) ||
              !check_host_name (g_variant_get_string (v, NULL), error))
            return FALSE;
          g_free (*rename);
          *rename = g_variant_dup_string (v, NULL);
        }
      else if (lookup_host_field (key, FALSE, &field))
        {
          if (!set_host_field (host, field, FALSE, v, error))
            return FALSE;
        }
      else
        return relais_config_invalid (error, key,
                        "no such relay host field (use %sServer, Port, AlwaysTls, Authentication, "
                        "Username or Password)",
                        rename ? "Name, " : "");
    }
  return TRUE;
}

RelaisConfig *
relais_config_add_relay_host (const RelaisConfig *base, const char *name, GVariant *fields,
                              GError **error)
{
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (RelaisRelayHost) host = NULL;
  g_autoptr (RelaisConfig) config = NULL;

  g_return_val_if_fail (base != NULL && fields != NULL, NULL);

  owned = own_vardict (fields, "fields", error);
  if (owned == NULL || !check_host_name (name, error) || !check_name_free (base, name, NULL, error))
    return NULL;
  if (base->relay_hosts->len >= MAX_LIST_ENTRIES)
    {
      relais_config_invalid (error, "Name", "at most %d relay hosts are allowed", MAX_LIST_ENTRIES);
      return NULL;
    }
  host = relay_host_new (name);
  if (!apply_host_changes (host, owned, NULL, error) || !check_host (host, FALSE, error))
    return NULL;

  config = relais_config_copy (base);
  g_ptr_array_add (config->relay_hosts, g_steal_pointer (&host));
  g_ptr_array_sort (config->relay_hosts, host_cmp);
  return g_steal_pointer (&config);
}

static gboolean
host_not_found (const char *name, GError **error)
{
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "name: no relay host named '%s'",
               name ? name : "");
  return FALSE;
}

RelaisConfig *
relais_config_update_relay_host (const RelaisConfig *base, const char *name, GVariant *changes,
                                 GError **error)
{
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (RelaisConfig) config = NULL;
  g_autofree char *new_name = NULL;
  RelaisRelayHost *host;
  gint index;

  g_return_val_if_fail (base != NULL && changes != NULL, NULL);

  owned = own_vardict (changes, "changes", error);
  if (owned == NULL)
    return NULL;
  index = host_index (base, name);
  if (index < 0)
    {
      host_not_found (name, error);
      return NULL;
    }
  config = relais_config_copy (base);
  host = config->relay_hosts->pdata[index];
  if (!apply_host_changes (host, owned, &new_name, error))
    return NULL;
  if (new_name && !g_str_equal (new_name, host->name))
    {
      if (!check_name_free (config, new_name, host, error))
        return NULL;
      /* The rules follow the rename. */
      for (guint i = 0; i < config->relay_rules->len; i++)
        {
          RelaisRelayRule *rule = config->relay_rules->pdata[i];
          if (g_str_equal (rule->host, host->name))
            {
              g_free (rule->host);
              rule->host = g_strdup (new_name);
            }
        }
      g_free (host->name);
      host->name = g_steal_pointer (&new_name);
      g_ptr_array_sort (config->relay_hosts, host_cmp);
    }
  if (!check_host (host, FALSE, error))
    return NULL;
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_remove_relay_host (const RelaisConfig *base, const char *name, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  gint index = host_index (base, name);

  if (index < 0)
    {
      host_not_found (name, error);
      return NULL;
    }
  for (guint i = 0; i < base->relay_rules->len; i++)
    {
      const RelaisRelayRule *rule = base->relay_rules->pdata[i];
      if (g_str_equal (rule->host, name))
        {
          g_autofree char *patterns = g_strjoinv (", ", rule->patterns);
          relais_config_invalid (error, "name",
                   "relay host '%s' is used by rule %u (%s rule for %s): change or remove that "
                   "rule first",
                   name, rule->id, relais_rule_kind_to_string (rule->kind), patterns);
          return NULL;
        }
    }
  config = relais_config_copy (base);
  g_ptr_array_remove_index (config->relay_hosts, index);
  if (!check_distribution (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* ---------------------------------------------------------------- relay rules */

static gint
rule_index (const RelaisConfig *c, guint id)
{
  for (guint i = 0; i < c->relay_rules->len; i++)
    if (((RelaisRelayRule *) c->relay_rules->pdata[i])->id == id)
      return (gint) i;
  return -1;
}

const RelaisRelayRule *
relais_config_lookup_relay_rule (const RelaisConfig *config, guint id)
{
  gint i = rule_index (config, id);
  return i < 0 ? NULL : config->relay_rules->pdata[i];
}

static gboolean
rule_not_found (guint id, GError **error)
{
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "id: no rule %u", id);
  return FALSE;
}

static gboolean
set_rule_kind (RelaisRelayRule *rule, const char *kind, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (g_str_equal (kind, kind_names[i]))
      {
        rule->kind = i;
        return TRUE;
      }
  return relais_config_invalid (error, "Kind", "'%s' is not a rule kind: use 'recipient' or 'sender'", kind);
}

static gboolean
set_rule_host (const RelaisConfig *c, RelaisRelayRule *rule, const char *host, GError **error)
{
  if (host_index (c, host) < 0)
    return relais_config_invalid (error, "Host", "no relay host named '%s': add it with AddRelayHost first", host);
  g_free (rule->host);
  rule->host = g_strdup (host);
  return TRUE;
}

static gboolean
set_rule_patterns (RelaisRelayRule *rule, const char *const *patterns, GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  guint n = g_strv_length ((GStrv) patterns);

  if (n == 0)
    return relais_config_invalid (error, "Patterns", "at least one address (user@domain) or domain is needed");
  if (n > MAX_LIST_ENTRIES)
    return relais_config_invalid (error, "Patterns", "at most %d patterns are allowed", MAX_LIST_ENTRIES);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *pattern = NULL;

      if (strchr (patterns[i], '@') && relais_is_valid_address (patterns[i]))
        pattern = normalize_address (patterns[i]);
      else if (!strchr (patterns[i], '@') && relais_is_valid_domain (patterns[i]))
        pattern = g_ascii_strdown (patterns[i], -1);
      else
        return relais_config_invalid (error, "Patterns",
                        "'%s' is neither an e-mail address (user@domain) nor a domain name "
                        "(example.org)",
                        patterns[i]);
      for (guint j = 0; j < list->len; j++)
        if (g_str_equal (list->pdata[j], pattern))
          return relais_config_invalid (error, "Patterns", "'%s' is listed twice", patterns[i]);
      g_ptr_array_add (list, g_steal_pointer (&pattern));
    }
  g_ptr_array_add (list, NULL);
  g_strfreev (rule->patterns);
  rule->patterns = (GStrv) g_ptr_array_free (g_steal_pointer (&list), FALSE);
  return TRUE;
}

RelaisConfig *
relais_config_add_relay_rule (const RelaisConfig *base, guint id, const char *kind, const char *host,
                              const char *const *patterns, guint *out_id, GError **error)
{
  g_autoptr (RelaisRelayRule) rule = g_new0 (RelaisRelayRule, 1);
  g_autoptr (RelaisConfig) config = NULL;

  g_return_val_if_fail (base != NULL && kind != NULL && host != NULL && patterns != NULL, NULL);

  if (!set_rule_kind (rule, kind, error) || !set_rule_host (base, rule, host, error) ||
      !set_rule_patterns (rule, patterns, error))
    return NULL;
  if (base->relay_rules->len >= MAX_LIST_ENTRIES)
    {
      relais_config_invalid (error, "id", "at most %d rules are allowed", MAX_LIST_ENTRIES);
      return NULL;
    }
  if (id == 0)
    {
      /* One past the highest id: ids stay stable, and are not reused while a
       * higher one exists. */
      for (guint i = 0; i < base->relay_rules->len; i++)
        id = MAX (id, ((RelaisRelayRule *) base->relay_rules->pdata[i])->id);
      if (id == G_MAXUINT)
        {
          relais_config_invalid (error, "id", "no rule id is left");
          return NULL;
        }
      id++;
    }
  else if (rule_index (base, id) >= 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS, "id: rule %u already exists", id);
      return NULL;
    }
  rule->id = id;
  config = relais_config_copy (base);
  g_ptr_array_add (config->relay_rules, g_steal_pointer (&rule));
  if (out_id)
    *out_id = id;
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_update_relay_rule (const RelaisConfig *base, guint id, GVariant *changes, GError **error)
{
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (RelaisConfig) config = NULL;
  RelaisRelayRule *rule;
  GVariantIter iter;
  const char *key;
  GVariant *value;
  gint index;

  g_return_val_if_fail (base != NULL && changes != NULL, NULL);

  owned = own_vardict (changes, "changes", error);
  if (owned == NULL)
    return NULL;
  index = rule_index (base, id);
  if (index < 0)
    {
      rule_not_found (id, error);
      return NULL;
    }
  config = relais_config_copy (base);
  rule = config->relay_rules->pdata[index];
  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr (GVariant) v = value;
      gboolean ok;

      if (g_str_equal (key, "Kind"))
        ok = relais_config_check_type (v, key, G_VARIANT_TYPE_STRING, error) &&
             set_rule_kind (rule, g_variant_get_string (v, NULL), error);
      else if (g_str_equal (key, "Host"))
        ok = relais_config_check_type (v, key, G_VARIANT_TYPE_STRING, error) &&
             set_rule_host (config, rule, g_variant_get_string (v, NULL), error);
      else if (g_str_equal (key, "Patterns"))
        {
          g_autofree const char **patterns = NULL;

          ok = relais_config_check_type (v, key, G_VARIANT_TYPE_STRING_ARRAY, error);
          if (ok)
            patterns = g_variant_get_strv (v, NULL);
          ok = ok && set_rule_patterns (rule, patterns, error);
        }
      else
        ok = relais_config_invalid (error, key, "no such rule field (use Kind, Host or Patterns)");
      if (!ok)
        return NULL;
    }
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_remove_relay_rule (const RelaisConfig *base, guint id, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  gint index = rule_index (base, id);

  if (index < 0)
    {
      rule_not_found (id, error);
      return NULL;
    }
  config = relais_config_copy (base);
  g_ptr_array_remove_index (config->relay_rules, index);
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_move_relay_rule (const RelaisConfig *base, guint id, guint position, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  gint index = rule_index (base, id);
  gpointer rule;

  if (index < 0)
    {
      rule_not_found (id, error);
      return NULL;
    }
  if (position >= base->relay_rules->len)
    {
      relais_config_invalid (error, "position", "%u is out of range: with %u rules it must be between 0 and %u",
               position, base->relay_rules->len, base->relay_rules->len - 1);
      return NULL;
    }
  config = relais_config_copy (base);
  rule = g_ptr_array_steal_index (config->relay_rules, index);
  g_ptr_array_insert (config->relay_rules, (gint) position, rule);
  return g_steal_pointer (&config);
}

/* ---------------------------------------------------------------- routing */

/* "user@domain" matches that address (local part exact, domain in any case);
 * "domain" matches every address in exactly that domain. */
static gboolean
pattern_matches (const char *pattern, const char *address)
{
  const char *at = strrchr (address, '@');
  const char *pattern_at = strrchr (pattern, '@');

  if (at == NULL || at == address)
    return FALSE;
  if (pattern_at == NULL)
    return g_ascii_strcasecmp (pattern, at + 1) == 0;
  return pattern_at - pattern == at - address &&
         strncmp (pattern, address, (gsize) (at - address)) == 0 &&
         g_ascii_strcasecmp (pattern_at + 1, at + 1) == 0;
}

static const RelaisRelayHost *
first_rule_match (const RelaisConfig *c, RelaisRuleKind kind, const char *address)
{
  for (guint i = 0; i < c->relay_rules->len; i++)
    {
      const RelaisRelayRule *rule = c->relay_rules->pdata[i];

      if (rule->kind != kind)
        continue;
      for (guint j = 0; rule->patterns[j]; j++)
        if (pattern_matches (rule->patterns[j], address))
          return relais_config_lookup_relay_host (c, rule->host);
    }
  return NULL;
}

const RelaisRelayHost *
relais_config_route_remote (const RelaisConfig *config, const char *sender, const char *recipient)
{
  const RelaisRelayHost *host = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  switch (config->distribution_mode)
    {
    case RELAIS_DISTRIBUTION_DIRECT:
      return NULL;
    case RELAIS_DISTRIBUTION_RELAY_HOST:
      return config->relay_host;
    case RELAIS_DISTRIBUTION_RELAY_HOSTS:
      if (recipient && recipient[0])
        host = first_rule_match (config, RELAIS_RULE_RECIPIENT, recipient);
      if (host == NULL && sender && sender[0])
        host = first_rule_match (config, RELAIS_RULE_SENDER, sender);
      return host;
    default:
      g_return_val_if_reached (NULL);
    }
}

/* ---- Relay Control ---------------------------------------------------- */

/* ADDRESS with every bit after the first LENGTH cleared. */
static GInetAddress *
network_address (GInetAddress *address, guint length)
{
  gsize size = g_inet_address_get_native_size (address);
  guint8 bytes[16];

  memcpy (bytes, g_inet_address_to_bytes (address), size);
  for (gsize i = 0; i < size; i++)
    if (length >= (i + 1) * 8)
      continue;
    else if (length <= i * 8)
      bytes[i] = 0;
    else
      bytes[i] &= (guint8) (0xff << (8 - (length - i * 8)));
  return g_inet_address_new_from_bytes (bytes, g_inet_address_get_family (address));
}

RelaisTrustedNetwork *
relais_trusted_network_new (const char *name, const char *network, GError **error)
{
  g_autoptr(GInetAddressMask) mask = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GInetAddress) address = NULL;
  RelaisTrustedNetwork *entry;

  g_return_val_if_fail (name != NULL && network != NULL, NULL);

  {
    const char *slash = strchr (network, '/');
    g_autofree char *host = g_strndup (network, slash != NULL ? (gsize) (slash - network) : strlen (network));
    guint64 length = 0;
    guint bits;

    address = g_inet_address_new_from_string (host);
    if (address == NULL)
      {
        g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                     "'%s' is not an IPv4 or IPv6 address or a CIDR subnet such as 192.0.2.0/24", network);
        return NULL;
      }
    bits = (guint) g_inet_address_get_native_size (address) * 8;
    /* GIO warns (a GObject property range) on a length out of range: check it first. */
    if (slash != NULL && !g_ascii_string_to_unsigned (slash + 1, 10, 0, bits, &length, NULL))
      {
        g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                     "'%s': the prefix length after '/' must be a number from 0 to %u", network, bits);
        return NULL;
      }
    mask = g_inet_address_mask_new (address, slash != NULL ? (guint) length : bits, &local_error);
    if (mask == NULL)
      {
        g_autoptr(GInetAddress) base = network_address (address, (guint) length);
        g_autofree char *base_text = g_inet_address_to_string (base);

        g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                     "'%s' has host bits set after the prefix: write the network address, %s/%u, "
                     "or the single address, %s",
                     network, base_text, (guint) length, host);
        return NULL;
      }
  }
  entry = g_new0 (RelaisTrustedNetwork, 1);
  entry->name = g_strdup (name);
  entry->mask = g_steal_pointer (&mask);
  entry->network = g_inet_address_mask_to_string (entry->mask);
  return entry;
}

RelaisTrustedNetwork *
relais_trusted_network_copy (const RelaisTrustedNetwork *entry)
{
  RelaisTrustedNetwork *copy = g_new0 (RelaisTrustedNetwork, 1);

  copy->name = g_strdup (entry->name);
  copy->network = g_strdup (entry->network);
  copy->mask = g_object_ref (entry->mask);   /* immutable */
  return copy;
}

void
relais_trusted_network_free (RelaisTrustedNetwork *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->network);
  g_clear_object (&entry->mask);
  g_free (entry);
}

RelaisRelayDomain *
relais_relay_domain_new (const char *name, const char *domain)
{
  RelaisRelayDomain *entry = g_new0 (RelaisRelayDomain, 1);

  entry->name = g_strdup (name);
  entry->domain = g_ascii_strdown (domain, -1);
  return entry;
}

RelaisRelayDomain *
relais_relay_domain_copy (const RelaisRelayDomain *entry)
{
  return relais_relay_domain_new (entry->name, entry->domain);
}

void
relais_relay_domain_free (RelaisRelayDomain *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->domain);
  g_free (entry);
}

const RelaisTrustedNetwork *
relais_config_match_trusted (const RelaisConfig *config, GInetAddress *address)
{
  g_return_val_if_fail (config != NULL && G_IS_INET_ADDRESS (address), NULL);

  for (guint i = 0; i < config->trusted_networks->len; i++)
    {
      const RelaisTrustedNetwork *entry = config->trusted_networks->pdata[i];

      if (g_inet_address_mask_matches (entry->mask, address))
        return entry;
    }
  return NULL;
}

const RelaisRelayDomain *
relais_config_match_relay_domain (const RelaisConfig *config, const char *domain)
{
  g_return_val_if_fail (config != NULL && domain != NULL, NULL);

  for (guint i = 0; i < config->relay_domains->len; i++)
    {
      const RelaisRelayDomain *entry = config->relay_domains->pdata[i];

      if (g_ascii_strcasecmp (entry->domain, domain) == 0)
        return entry;
    }
  return NULL;
}

/* ---------------------------------------------------------------- Relay Control edits */

static gint
trusted_cmp (gconstpointer a, gconstpointer b)
{
  const RelaisTrustedNetwork *x = *(RelaisTrustedNetwork **) a, *y = *(RelaisTrustedNetwork **) b;
  return strcmp (x->name, y->name);
}

static gint
relay_domain_cmp (gconstpointer a, gconstpointer b)
{
  const RelaisRelayDomain *x = *(RelaisRelayDomain **) a, *y = *(RelaisRelayDomain **) b;
  return strcmp (x->name, y->name);
}

static gint
trusted_index (const RelaisConfig *c, const char *name)
{
  for (guint i = 0; name && i < c->trusted_networks->len; i++)
    if (g_str_equal (((RelaisTrustedNetwork *) c->trusted_networks->pdata[i])->name, name))
      return (gint) i;
  return -1;
}

static gint
relay_domain_index (const RelaisConfig *c, const char *name)
{
  for (guint i = 0; name && i < c->relay_domains->len; i++)
    if (g_str_equal (((RelaisRelayDomain *) c->relay_domains->pdata[i])->name, name))
      return (gint) i;
  return -1;
}

/* Replaces entry INDEX of LIST by ENTRY (appends it when INDEX < 0), keeping
 * LIST sorted by COMPARE. */
static void
put_entry (GPtrArray *list, gint index, gpointer entry, GCompareFunc compare)
{
  if (index >= 0)
    g_ptr_array_remove_index (list, (guint) index);
  g_ptr_array_add (list, entry);
  g_ptr_array_sort (list, compare);
}

/* A validated trusted network entry NAME for NETWORK that fits in C's list
 * (SELF: the entry it replaces, or NULL), or NULL + error. */
static RelaisTrustedNetwork *
make_trusted_network (const RelaisConfig *c, const char *name, const char *network,
                      const RelaisTrustedNetwork *self, GError **error)
{
  g_autoptr (RelaisTrustedNetwork) entry = NULL;

  if (!check_entry_name ("trusted network", name, error) ||
      !check_entry_name_free (c->trusted_networks, G_STRUCT_OFFSET (RelaisTrustedNetwork, name),
                              "trusted network", name, self, error))
    return NULL;
  entry = relais_trusted_network_new (name, network ? network : "", error);
  if (entry == NULL)
    {
      g_prefix_error (error, "Network: ");
      return NULL;
    }
  for (guint i = 0; i < c->trusted_networks->len; i++)
    {
      const RelaisTrustedNetwork *other = c->trusted_networks->pdata[i];

      if (other != self && g_str_equal (other->network, entry->network))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS,
                       "Network: %s is already trusted, as '%s': change or remove that entry instead",
                       entry->network, other->name);
          return NULL;
        }
    }
  return g_steal_pointer (&entry);
}

static gboolean
trusted_not_found (const char *name, GError **error)
{
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "name: no trusted network named '%s'",
               name ? name : "");
  return FALSE;
}

RelaisConfig *
relais_config_add_trusted_network (const RelaisConfig *base, const char *name, const char *network,
                                   GError **error)
{
  g_autoptr (RelaisTrustedNetwork) entry = NULL;
  g_autoptr (RelaisConfig) config = NULL;

  g_return_val_if_fail (base != NULL, NULL);

  entry = make_trusted_network (base, name, network, NULL, error);
  if (entry == NULL)
    return NULL;
  if (base->trusted_networks->len >= MAX_LIST_ENTRIES)
    {
      relais_config_invalid (error, "Name", "at most %d trusted networks are allowed", MAX_LIST_ENTRIES);
      return NULL;
    }
  config = relais_config_copy (base);
  put_entry (config->trusted_networks, -1, g_steal_pointer (&entry), trusted_cmp);
  return g_steal_pointer (&config);
}

/* Reads the string fields of CHANGES into VALUES (parallel to KEYS, borrowed
 * from CHANGES); any other key or type is refused, naming the key and the
 * keys WHAT accepts. */
static gboolean
get_string_changes (GVariant *changes, const char *what, const char *const keys[2], const char *values[2],
                    GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, changes);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autoptr (GVariant) v = value;
      guint i;

      for (i = 0; i < 2 && !g_str_equal (key, keys[i]); i++)
        ;
      if (i == 2)
        return relais_config_invalid (error, key, "no such %s field (use %s or %s)", what, keys[0], keys[1]);
      if (!relais_config_check_type (v, key, G_VARIANT_TYPE_STRING, error))
        return FALSE;
      /* the string lives in CHANGES, which outlives V */
      values[i] = g_variant_get_string (v, NULL);
    }
  return TRUE;
}

RelaisConfig *
relais_config_update_trusted_network (const RelaisConfig *base, const char *name, GVariant *changes,
                                      GError **error)
{
  static const char *const keys[2] = { "Name", "Network" };
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (RelaisTrustedNetwork) entry = NULL;
  g_autoptr (RelaisConfig) config = NULL;
  const RelaisTrustedNetwork *old;
  const char *values[2];
  gint index;

  g_return_val_if_fail (base != NULL && changes != NULL, NULL);

  owned = own_vardict (changes, "changes", error);
  if (owned == NULL)
    return NULL;
  index = trusted_index (base, name);
  if (index < 0)
    {
      trusted_not_found (name, error);
      return NULL;
    }
  old = base->trusted_networks->pdata[index];
  values[0] = old->name;
  values[1] = old->network;
  if (!get_string_changes (owned, "trusted network", keys, values, error))
    return NULL;
  entry = make_trusted_network (base, values[0], values[1], old, error);
  if (entry == NULL)
    return NULL;
  config = relais_config_copy (base);
  put_entry (config->trusted_networks, index, g_steal_pointer (&entry), trusted_cmp);
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_remove_trusted_network (const RelaisConfig *base, const char *name, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  gint index = trusted_index (base, name);

  if (index < 0)
    {
      trusted_not_found (name, error);
      return NULL;
    }
  config = relais_config_copy (base);
  g_ptr_array_remove_index (config->trusted_networks, (guint) index);
  return g_steal_pointer (&config);
}

/* A validated relay domain entry NAME for DOMAIN that fits in C's list (SELF:
 * the entry it replaces, or NULL), or NULL + error. */
static RelaisRelayDomain *
make_relay_domain (const RelaisConfig *c, const char *name, const char *domain, const RelaisRelayDomain *self,
                   GError **error)
{
  const RelaisRelayDomain *other;

  if (!check_entry_name ("relay domain", name, error) ||
      !check_entry_name_free (c->relay_domains, G_STRUCT_OFFSET (RelaisRelayDomain, name), "relay domain",
                              name, self, error))
    return NULL;
  if (!relais_is_valid_domain (domain))
    {
      relais_config_invalid (error, "Domain", "'%s' is not a valid domain name (expected something like branch.example.org)",
               domain ? domain : "");
      return NULL;
    }
  if (relais_config_is_local_domain (c, domain))
    {
      g_autofree char *lower = g_ascii_strdown (domain, -1);
      relais_config_invalid (error, "Domain",
               "%s is a local domain: its mail is delivered here; remove it from the local domains "
               "first to relay its mail to its own server",
               lower);
      return NULL;
    }
  other = relais_config_match_relay_domain (c, domain);
  if (other != NULL && other != self)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_EXISTS,
                   "Domain: %s is already a relay domain, as '%s': change or remove that entry instead",
                   other->domain, other->name);
      return NULL;
    }
  return relais_relay_domain_new (name, domain);
}

static gboolean
relay_domain_not_found (const char *name, GError **error)
{
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_NOT_FOUND, "name: no relay domain named '%s'",
               name ? name : "");
  return FALSE;
}

RelaisConfig *
relais_config_add_relay_domain (const RelaisConfig *base, const char *name, const char *domain,
                                GError **error)
{
  g_autoptr (RelaisRelayDomain) entry = NULL;
  g_autoptr (RelaisConfig) config = NULL;

  g_return_val_if_fail (base != NULL, NULL);

  entry = make_relay_domain (base, name, domain, NULL, error);
  if (entry == NULL)
    return NULL;
  if (base->relay_domains->len >= MAX_LIST_ENTRIES)
    {
      relais_config_invalid (error, "Name", "at most %d relay domains are allowed", MAX_LIST_ENTRIES);
      return NULL;
    }
  config = relais_config_copy (base);
  put_entry (config->relay_domains, -1, g_steal_pointer (&entry), relay_domain_cmp);
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_update_relay_domain (const RelaisConfig *base, const char *name, GVariant *changes,
                                   GError **error)
{
  static const char *const keys[2] = { "Name", "Domain" };
  g_autoptr (GVariant) owned = NULL;
  g_autoptr (RelaisConfig) config = NULL;
  const RelaisRelayDomain *old;
  RelaisRelayDomain *entry;
  const char *values[2];
  gint index;

  g_return_val_if_fail (base != NULL && changes != NULL, NULL);

  owned = own_vardict (changes, "changes", error);
  if (owned == NULL)
    return NULL;
  index = relay_domain_index (base, name);
  if (index < 0)
    {
      relay_domain_not_found (name, error);
      return NULL;
    }
  old = base->relay_domains->pdata[index];
  values[0] = old->name;
  values[1] = old->domain;
  if (!get_string_changes (owned, "relay domain", keys, values, error))
    return NULL;
  entry = make_relay_domain (base, values[0], values[1], old, error);
  if (entry == NULL)
    return NULL;
  config = relais_config_copy (base);
  put_entry (config->relay_domains, index, entry, relay_domain_cmp);
  return g_steal_pointer (&config);
}

RelaisConfig *
relais_config_remove_relay_domain (const RelaisConfig *base, const char *name, GError **error)
{
  g_autoptr (RelaisConfig) config = NULL;
  gint index = relay_domain_index (base, name);

  if (index < 0)
    {
      relay_domain_not_found (name, error);
      return NULL;
    }
  config = relais_config_copy (base);
  g_ptr_array_remove_index (config->relay_domains, (guint) index);
  return g_steal_pointer (&config);
}
