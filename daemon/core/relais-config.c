/* SPDX-License-Identifier: GPL-3.0-or-later
 * Typed settings, their defaults and validation, and the immutable snapshot.
 * Every edit copies the snapshot, changes the copy, validates, and rebuilds the
 * address index; the caller publishes the result. Nothing here does I/O except
 * password hashing (libcrypt). */
#define G_LOG_DOMAIN "relais"

#include "config.h"

#include "relais-config.h"

#include <crypt.h>
#include <errno.h>
#include <string.h>

#include "relais-address.h"
#include "relais-error.h"

#define MAX_LIST_ENTRIES 1000

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
  config->local_domains = g_new0 (char *, 1);
  config->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_account_free);
  config->address_index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
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

static gboolean
invalid (GError **error, const char *property, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
invalid (GError **error, const char *property, const char *format, ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "%s: %s", property, reason);
  return FALSE;
}

static gboolean
check_type (GVariant *value, const char *property, const GVariantType *type, GError **error)
{
  if (g_variant_is_of_type (value, type))
    return TRUE;
  return invalid (error, property, "expected a value of type '%.*s', got '%s'",
                  (int) g_variant_type_get_string_length (type), g_variant_type_peek_string (type),
                  g_variant_get_type_string (value));
}

static gboolean
set_bool (GVariant *value, const char *property, gboolean *out, GError **error)
{
  if (!check_type (value, property, G_VARIANT_TYPE_BOOLEAN, error))
    return FALSE;
  *out = g_variant_get_boolean (value);
  return TRUE;
}

static gboolean
set_uint (GVariant *value, const char *property, guint min, guint max, guint *out, GError **error)
{
  guint v;

  if (!check_type (value, property, G_VARIANT_TYPE_UINT32, error))
    return FALSE;
  v = g_variant_get_uint32 (value);
  if (v < min || v > max)
    return invalid (error, property, "%u is out of range: it must be between %u and %u", v, min, max);
  *out = v;
  return TRUE;
}

static gboolean
validate_address_list (GVariant *value, const char *property, GStrv *out, GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  g_autofree const char **items = NULL;
  gsize n;

  if (!check_type (value, property, G_VARIANT_TYPE_STRING_ARRAY, error))
    return FALSE;
  items = g_variant_get_strv (value, &n);
  if (n > MAX_LIST_ENTRIES)
    return invalid (error, property, "at most %d addresses are allowed", MAX_LIST_ENTRIES);
  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *address = NULL;

      if (!relais_is_valid_address (items[i]))
        return invalid (error, property, "'%s' is not a valid e-mail address (user@domain)", items[i]);
      address = normalize_address (items[i]);
      for (guint j = 0; j < list->len; j++)
        if (g_ascii_strcasecmp (list->pdata[j], address) == 0)
          return invalid (error, property, "'%s' is listed twice", items[i]);
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
    return set_bool (value, key, &c->smtp_authentication, error);
  if (g_str_equal (key, "SkipAuthForLocalNetworks"))
    return set_bool (value, key, &c->skip_auth_for_local_networks, error);
  if (g_str_equal (key, "VerifySenderLogin"))
    return set_bool (value, key, &c->verify_sender_login, error);
  if (g_str_equal (key, "SkipSenderCheckForTrusted"))
    return set_bool (value, key, &c->skip_sender_check_for_trusted, error);
  if (g_str_equal (key, "DisableAutoForward"))
    return set_bool (value, key, &c->disable_auto_forward, error);
  if (g_str_equal (key, "MaxRecipients"))
    return set_uint (value, key, 1, 100000, &c->max_recipients, error);
  if (g_str_equal (key, "MaxHops"))
    return set_uint (value, key, 1, 1000, &c->max_hops, error);
  if (g_str_equal (key, "MaxMessageSizeMB"))
    return set_uint (value, key, 1, 2047, &c->max_message_size_mb, error);
  if (g_str_equal (key, "IdleTimeout"))
    return set_uint (value, key, 5, 3600, &c->idle_timeout, error);
  if (g_str_equal (key, "ExternalAdministrators"))
    return validate_address_list (value, key, &c->external_administrators, error);
  if (g_str_equal (key, "Hostname"))
    {
      const char *name;

      if (!check_type (value, key, G_VARIANT_TYPE_STRING, error))
        return FALSE;
      name = g_variant_get_string (value, NULL);
      if (!relais_is_fqdn (name))
        return invalid (error, key,
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

      if (!check_type (value, key, G_VARIANT_TYPE_STRING, error))
        return FALSE;
      text = g_variant_get_string (value, &len);
      if (len == 0 || len > 200)
        return invalid (error, key, "must be 1 to 200 characters long");
      for (gsize i = 0; i < len; i++)
        if ((guchar) text[i] < 0x20 || (guchar) text[i] > 0x7e)
          return invalid (error, key,
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
relais_config_apply_general (const RelaisConfig *base, GVariant *changes, GError **error)
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
      gboolean ok = apply_one (config, key, value, error);
      g_variant_unref (value);
      if (!ok)
        return NULL;
    }
  return g_steal_pointer (&config);
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

  if (!relais_is_valid_domain (domain))
    {
      invalid (error, "domain", "'%s' is not a valid domain name", domain ? domain : "");
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
      invalid (error, "domain", "at most %d local domains are allowed", MAX_LIST_ENTRIES);
      return NULL;
    }
  lower = g_ascii_strdown (domain, -1);

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
              invalid (error, "domain",
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
      invalid (error, "login",
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
      invalid (error, "password", "the stored password hash is not a crypt(3) hash");
      return NULL;
    }
  n_aliases = account->aliases ? g_strv_length (account->aliases) : 0;
  n_forwards = account->forwards ? g_strv_length (account->forwards) : 0;
  if (n_aliases > MAX_LIST_ENTRIES || n_forwards > MAX_LIST_ENTRIES)
    {
      invalid (error, n_aliases > MAX_LIST_ENTRIES ? "aliases" : "forwards",
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
          invalid (error, "aliases", "'%s' is not a valid e-mail address (user@domain)", alias);
          return NULL;
        }
      at = strrchr (alias, '@');
      if (!relais_config_is_local_domain (base, at + 1))
        {
          invalid (error, "aliases", "'%s' is not in a local domain (add the domain first)", alias);
          return NULL;
        }
      owner = relais_config_lookup_address (base, alias);
      if (owner && !g_str_equal (owner->login, account->login))
        {
          invalid (error, "aliases", "'%s' already belongs to account '%s'", alias, owner->login);
          return NULL;
        }
      for (guint j = 0; j < i; j++)
        if (g_ascii_strcasecmp (account->aliases[j], alias) == 0)
          {
            invalid (error, "aliases", "'%s' is listed twice", alias);
            return NULL;
          }
    }
  for (guint i = 0; i < n_forwards; i++)
    {
      if (!relais_is_valid_address (account->forwards[i]))
        {
          invalid (error, "forwards", "'%s' is not a valid e-mail address (user@domain)",
                   account->forwards[i]);
          return NULL;
        }
      for (guint j = 0; j < i; j++)
        if (g_ascii_strcasecmp (account->forwards[j], account->forwards[i]) == 0)
          {
            invalid (error, "forwards", "'%s' is listed twice", account->forwards[i]);
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
            invalid (error, "forwards", "'%s' is an address of the account itself: it would loop",
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
