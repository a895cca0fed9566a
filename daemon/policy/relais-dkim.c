/* SPDX-License-Identifier: GPL-3.0-or-later
 * DKIM verification. See relais-dkim.h.
 *
 * A message is normalized once (bare LF becomes CRLF) and split into header
 * fields, each kept raw (name, colon, value, folding; no final CRLF), and the
 * body. Each DKIM-Signature field is then checked on its own: tags, key
 * record, body hash, then the signature over the canonical header data. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-dkim.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "relais-dns-check.h"
#include "relais-error.h"
#include "relais-header.h"

#define SHA256_LEN 32
#define ED25519_KEY_LEN 32
#define RSA_MIN_BITS 1024

typedef struct {
  gsize start;   /* in RelaisDkimMessage.data */
  gsize length;  /* without the final CRLF */
  char *name;    /* as written, before the colon, trailing white space removed */
} Field;

struct _RelaisDkimMessage {
  GString *data;   /* the message, CRLF line ends */
  GArray *fields;  /* Field, top first */
  gsize body;      /* offset of the body in data */
};

static gboolean
is_wsp (char c)
{
  return c == ' ' || c == '\t';
}

static gboolean
is_fws (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The first CRLF in the LENGTH bytes at P, or NULL; NUL bytes are data
 * (g_strstr_len would stop at the first). */
static const char *
find_crlf (const char *p, gsize length)
{
  const char *end = p + length;

  while ((p = memchr (p, '\r', (gsize) (end - p))) != NULL && p + 1 < end)
    {
      if (p[1] == '\n')
        return p;
      p++;
    }
  return NULL;
}

/* ---- tag lists (RFC 6376 §3.2) ---- */

static char *
strip_fws (const char *start, const char *end)
{
  while (start < end && is_fws (*start))
    start++;
  while (end > start && is_fws (end[-1]))
    end--;
  return g_strndup (start, end - start);
}

/* TEXT as a table tag name → value (white space around both removed). */
static GHashTable *
parse_tag_list (const char *text, const char *what, GError **error)
{
  g_autoptr(GHashTable) tags = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *p = text;

  for (;;)
    {
      const char *end = strchr (p, ';');
      const char *spec_end = end ? end : p + strlen (p);
      const char *eq = memchr (p, '=', spec_end - p);
      g_autofree char *name = NULL;

      if (!eq)
        {
          g_autofree char *rest = strip_fws (p, spec_end);
          /* an empty last spec (a trailing ";") is allowed */
          if (*rest == '\0' && !end)
            break;
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "%s: \"%s\" is not a tag=value pair", what, rest);
          return NULL;
        }
      name = strip_fws (p, eq);
      if (!g_ascii_isalpha (name[0]))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "%s: \"%s\" is not a valid tag name", what, name);
          return NULL;
        }
      for (const char *c = name; *c; c++)
        if (!g_ascii_isalnum (*c) && *c != '_')
          {
            g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                         "%s: \"%s\" is not a valid tag name", what, name);
            return NULL;
          }
      if (g_hash_table_contains (tags, name))
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "%s: tag %s= appears twice", what, name);
          return NULL;
        }
      g_hash_table_insert (tags, g_steal_pointer (&name), strip_fws (eq + 1, spec_end));
      if (!end)
        break;
      p = end + 1;
    }
  return g_steal_pointer (&tags);
}

/* Base64 with folding white space inside; NULL if not valid base64. */
static GBytes *
decode_base64 (const char *text, char **compact)
{
  g_autoptr(GString) clean = g_string_new (NULL);
  gsize pad = 0;
  gsize length = 0;
  guchar *bytes;

  for (const char *c = text; *c; c++)
    {
      if (is_fws (*c))
        continue;
      if (*c == '=')
        pad++;
      else if (pad > 0 || !(g_ascii_isalnum (*c) || *c == '+' || *c == '/'))
        return NULL;
      g_string_append_c (clean, *c);
    }
  if (clean->len % 4 != 0 || pad > 2)
    return NULL;
  if (clean->len == 0)
    bytes = NULL;
  else
    bytes = g_base64_decode (clean->str, &length);
  if (compact)
    *compact = g_strdup (clean->str);
  return g_bytes_new_take (bytes, length);
}

static gboolean
parse_number (const char *text, gint64 *value)
{
  guint64 n = 0;

  if (!text[0] || strlen (text) > 18)
    return FALSE;
  for (const char *c = text; *c; c++)
    {
      if (!g_ascii_isdigit (*c))
        return FALSE;
      n = n * 10 + (guint64) (*c - '0');
    }
  *value = (gint64) n;
  return TRUE;
}

/* A colon-separated list, each element with white space removed. */
static char **
split_colon_list (const char *text)
{
  g_auto(GStrv) parts = g_strsplit (text, ":", -1);
  GPtrArray *list = g_ptr_array_new ();

  for (guint i = 0; parts[i]; i++)
    g_ptr_array_add (list, strip_fws (parts[i], parts[i] + strlen (parts[i])));
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (list, FALSE);
}

/* ---- DKIM-Signature ---- */

void
relais_dkim_signature_free (RelaisDkimSignature *signature)
{
  if (!signature)
    return;
  g_free (signature->domain);
  g_free (signature->selector);
  g_free (signature->identity);
  g_strfreev (signature->headers);
  g_clear_pointer (&signature->signature, g_bytes_unref);
  g_free (signature->signature_text);
  g_clear_pointer (&signature->body_hash, g_bytes_unref);
  g_free (signature);
}

static gboolean
parse_canon (const char *text, RelaisDkimCanon *canon)
{
  if (g_ascii_strcasecmp (text, "simple") == 0)
    *canon = RELAIS_DKIM_SIMPLE;
  else if (g_ascii_strcasecmp (text, "relaxed") == 0)
    *canon = RELAIS_DKIM_RELAXED;
  else
    return FALSE;
  return TRUE;
}

static GError *
tag_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static GError *
tag_error (const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  return g_error_new (RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "DKIM-Signature: %s", message);
}

static const char *
require_tag (GHashTable *tags, const char *name, GError **error)
{
  const char *value = g_hash_table_lookup (tags, name);

  if (!value)
    g_propagate_error (error, tag_error ("the required tag %s= is missing", name));
  return value;
}

/* Whether DOMAIN is PARENT or one of its subdomains (ASCII case ignored). */
static gboolean
domain_within (const char *domain, const char *parent)
{
  gsize dl = strlen (domain), pl = strlen (parent);

  if (dl == pl)
    return g_ascii_strcasecmp (domain, parent) == 0;
  return dl > pl && domain[dl - pl - 1] == '.' && g_ascii_strcasecmp (domain + dl - pl, parent) == 0;
}

static RelaisDkimSignature *
signature_from_tags (GHashTable *tags, GError **error)
{
  g_autoptr(RelaisDkimSignature) sig = g_new0 (RelaisDkimSignature, 1);
  const char *v, *a, *b, *bh, *d, *h, *s, *c, *i, *l, *q, *t, *x;
  gboolean has_from = FALSE;

  sig->length = sig->timestamp = sig->expiration = -1;
  if (!(v = require_tag (tags, "v", error)) || !(a = require_tag (tags, "a", error)) ||
      !(b = require_tag (tags, "b", error)) || !(bh = require_tag (tags, "bh", error)) ||
      !(d = require_tag (tags, "d", error)) || !(h = require_tag (tags, "h", error)) ||
      !(s = require_tag (tags, "s", error)))
    return NULL;

  if (strcmp (v, "1") != 0)
    {
      g_propagate_error (error, tag_error ("version v=%s is not supported (only v=1)", v));
      return NULL;
    }
  if (g_ascii_strcasecmp (a, "rsa-sha256") == 0)
    sig->algorithm = RELAIS_DKIM_RSA_SHA256;
  else if (g_ascii_strcasecmp (a, "ed25519-sha256") == 0)
    sig->algorithm = RELAIS_DKIM_ED25519_SHA256;
  else
    {
      g_propagate_error (error, tag_error ("algorithm a=%s is not supported "
                                           "(only rsa-sha256 and ed25519-sha256)", a));
      return NULL;
    }
  if (!(sig->signature = decode_base64 (b, &sig->signature_text)) || g_bytes_get_size (sig->signature) == 0)
    {
      g_propagate_error (error, tag_error ("the signature b= is empty or not base64"));
      return NULL;
    }
  if (!(sig->body_hash = decode_base64 (bh, NULL)) || g_bytes_get_size (sig->body_hash) != SHA256_LEN)
    {
      g_propagate_error (error, tag_error ("the body hash bh= is not a base64 SHA-256 hash"));
      return NULL;
    }
  if (!d[0] || !s[0])
    {
      g_propagate_error (error, tag_error ("the %s= tag is empty", d[0] ? "s" : "d"));
      return NULL;
    }
  sig->domain = g_ascii_strdown (d, -1);
  sig->selector = g_strdup (s);

  sig->headers = split_colon_list (h);
  for (guint n = 0; sig->headers[n]; n++)
    {
      char *name = sig->headers[n];

      if (!name[0])
        {
          g_propagate_error (error, tag_error ("h= has an empty header name"));
          return NULL;
        }
      for (char *p = name; *p; p++)
        *p = g_ascii_tolower (*p);
      if (strcmp (name, "from") == 0)
        has_from = TRUE;
    }
  if (!has_from)
    {
      g_propagate_error (error, tag_error ("h= does not sign the From field"));
      return NULL;
    }

  sig->header_canon = sig->body_canon = RELAIS_DKIM_SIMPLE;
  if ((c = g_hash_table_lookup (tags, "c")))
    {
      g_auto(GStrv) parts = g_strsplit (c, "/", 2);

      if (!parts[0] || !parse_canon (parts[0], &sig->header_canon) ||
          (parts[1] && !parse_canon (parts[1], &sig->body_canon)))
        {
          g_propagate_error (error, tag_error ("canonicalization c=%s is not known", c));
          return NULL;
        }
    }

  if ((i = g_hash_table_lookup (tags, "i")))
    {
      const char *at = strrchr (i, '@');

      if (!at || !domain_within (at + 1, sig->domain))
        {
          g_propagate_error (error, tag_error ("the identity i=%s is not in the domain d=%s",
                                               i, sig->domain));
          return NULL;
        }
      sig->identity = g_strdup (i);
    }
  else
    sig->identity = g_strconcat ("@", sig->domain, NULL);

  if ((l = g_hash_table_lookup (tags, "l")) && !parse_number (l, &sig->length))
    {
      g_propagate_error (error, tag_error ("the body length l=%s is not a number", l));
      return NULL;
    }
  if ((q = g_hash_table_lookup (tags, "q")))
    {
      g_auto(GStrv) methods = split_colon_list (q);

      if (!g_strv_contains ((const char *const *) methods, "dns/txt"))
        {
          g_propagate_error (error, tag_error ("query method q=%s is not supported (only dns/txt)", q));
          return NULL;
        }
    }
  if ((t = g_hash_table_lookup (tags, "t")) && !parse_number (t, &sig->timestamp))
    {
      g_propagate_error (error, tag_error ("the timestamp t=%s is not a number", t));
      return NULL;
    }
  if ((x = g_hash_table_lookup (tags, "x")) && !parse_number (x, &sig->expiration))
    {
      g_propagate_error (error, tag_error ("the expiration x=%s is not a number", x));
      return NULL;
    }
  if (sig->timestamp >= 0 && sig->expiration >= 0 && sig->expiration < sig->timestamp)
    {
      g_propagate_error (error, tag_error ("the expiration x= is before the timestamp t="));
      return NULL;
    }
  return g_steal_pointer (&sig);
}

RelaisDkimSignature *
relais_dkim_signature_parse (const char *value, GError **error)
{
  g_autoptr(GHashTable) tags = NULL;

  g_return_val_if_fail (value != NULL, NULL);
  if (!(tags = parse_tag_list (value, "DKIM-Signature", error)))
    return NULL;
  return signature_from_tags (tags, error);
}

/* ---- key records (RFC 6376 §3.6.1) ---- */

void
relais_dkim_key_free (RelaisDkimKey *key)
{
  if (!key)
    return;
  g_clear_pointer (&key->key, g_bytes_unref);
  g_free (key);
}

static GError *
key_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static GError *
key_error (const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  return g_error_new (RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT, "DKIM key record: %s", message);
}

RelaisDkimKey *
relais_dkim_key_parse (const char *record, GError **error)
{
  g_autoptr(GHashTable) tags = NULL;
  g_autoptr(RelaisDkimKey) key = g_new0 (RelaisDkimKey, 1);
  const char *v, *h, *k, *p, *s, *t;

  g_return_val_if_fail (record != NULL, NULL);
  if (!(tags = parse_tag_list (record, "DKIM key record", error)))
    return NULL;
  if ((v = g_hash_table_lookup (tags, "v")) && strcmp (v, "DKIM1") != 0)
    {
      g_propagate_error (error, key_error ("version v=%s is not DKIM1", v));
      return NULL;
    }
  if ((h = g_hash_table_lookup (tags, "h")))
    {
      g_auto(GStrv) hashes = split_colon_list (h);

      if (!g_strv_contains ((const char *const *) hashes, "sha256"))
        {
          g_propagate_error (error, key_error ("the key does not allow SHA-256 (h=%s)", h));
          return NULL;
        }
    }
  key->algorithm = RELAIS_DKIM_RSA_SHA256;
  if ((k = g_hash_table_lookup (tags, "k")))
    {
      if (g_ascii_strcasecmp (k, "rsa") == 0)
        key->algorithm = RELAIS_DKIM_RSA_SHA256;
      else if (g_ascii_strcasecmp (k, "ed25519") == 0)
        key->algorithm = RELAIS_DKIM_ED25519_SHA256;
      else
        {
          g_propagate_error (error, key_error ("key type k=%s is not supported (only rsa and ed25519)", k));
          return NULL;
        }
    }
  if ((s = g_hash_table_lookup (tags, "s")))
    {
      g_auto(GStrv) services = split_colon_list (s);

      if (!g_strv_contains ((const char *const *) services, "email") &&
          !g_strv_contains ((const char *const *) services, "*"))
        {
          g_propagate_error (error, key_error ("the key is not for email (s=%s)", s));
          return NULL;
        }
    }
  if ((t = g_hash_table_lookup (tags, "t")))
    {
      g_auto(GStrv) flags = split_colon_list (t);

      key->testing = g_strv_contains ((const char *const *) flags, "y");
      key->strict_identity = g_strv_contains ((const char *const *) flags, "s");
    }
  if (!(p = g_hash_table_lookup (tags, "p")))
    {
      g_propagate_error (error, key_error ("the public key p= is missing"));
      return NULL;
    }
  if (p[0])
    {
      if (!(key->key = decode_base64 (p, NULL)))
        {
          g_propagate_error (error, key_error ("the public key p= is not base64"));
          return NULL;
        }
    }
  return g_steal_pointer (&key);
}

/* ---- messages ---- */

static void
field_clear (gpointer data)
{
  g_free (((Field *) data)->name);
}

RelaisDkimMessage *
relais_dkim_message_new (const char *data, gsize length)
{
  RelaisDkimMessage *message = g_new0 (RelaisDkimMessage, 1);
  GString *text = g_string_sized_new (length + 64);
  gsize pos = 0;
  Field *current = NULL;

  for (gsize i = 0; i < length; i++)
    {
      if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
        g_string_append_c (text, '\r');
      g_string_append_c (text, data[i]);
    }
  message->data = text;
  message->fields = g_array_new (FALSE, TRUE, sizeof (Field));
  g_array_set_clear_func (message->fields, field_clear);
  message->body = text->len;

  while (pos < text->len)
    {
      const char *eol = find_crlf (text->str + pos, text->len - pos);
      gsize line_end = eol ? (gsize) (eol - text->str) : text->len;

      if (line_end == pos)
        {
          message->body = pos + 2;
          break;
        }
      if (is_wsp (text->str[pos]))
        {
          if (current)
            current->length = line_end - current->start;
        }
      else
        {
          Field field = { pos, line_end - pos, NULL };
          const char *colon = memchr (text->str + pos, ':', line_end - pos);
          const char *name_end = colon ? colon : text->str + line_end;

          while (name_end > text->str + pos && is_wsp (name_end[-1]))
            name_end--;
          field.name = g_strndup (text->str + pos, name_end - (text->str + pos));
          g_array_append_val (message->fields, field);
          current = &g_array_index (message->fields, Field, message->fields->len - 1);
        }
      pos = eol ? line_end + 2 : text->len;
    }
  return message;
}

void
relais_dkim_message_free (RelaisDkimMessage *message)
{
  if (!message)
    return;
  g_string_free (message->data, TRUE);
  g_array_unref (message->fields);
  g_free (message);
}

/* ---- canonicalization (RFC 6376 §3.4) ---- */

char *
relais_dkim_canon_header (RelaisDkimCanon canon, const char *field, gsize length)
{
  GString *out = g_string_sized_new (length + 2);
  const char *end = field + length;
  const char *colon, *name_end, *p;
  gboolean space = FALSE, started = FALSE;

  if (canon == RELAIS_DKIM_SIMPLE)
    {
      g_string_append_len (out, field, length);
      g_string_append (out, "\r\n");
      return g_string_free (out, FALSE);
    }

  colon = memchr (field, ':', length);
  name_end = colon ? colon : end;
  while (name_end > field && is_wsp (name_end[-1]))
    name_end--;
  for (p = field; p < name_end; p++)
    g_string_append_c (out, g_ascii_tolower (*p));
  g_string_append_c (out, ':');

  /* unfold, white space runs to one space, none at either end */
  for (p = colon ? colon + 1 : end; p < end; p++)
    {
      if (*p == '\r' || *p == '\n')
        continue;
      if (is_wsp (*p))
        {
          space = TRUE;
          continue;
        }
      if (space && started)
        g_string_append_c (out, ' ');
      space = FALSE;
      started = TRUE;
      g_string_append_c (out, *p);
    }
  g_string_append (out, "\r\n");
  return g_string_free (out, FALSE);
}

GString *
relais_dkim_canon_body (RelaisDkimCanon canon, const char *body, gsize length)
{
  GString *out = g_string_sized_new (length + 2);
  gsize kept = 0;  /* the length up to the last line that is not empty */
  gsize pos = 0;

  while (pos < length)
    {
      const char *eol = find_crlf (body + pos, length - pos);
      gsize line_end = eol ? (gsize) (eol - body) : length;
      gsize before = out->len;

      if (canon == RELAIS_DKIM_SIMPLE)
        g_string_append_len (out, body + pos, line_end - pos);
      else
        {
          gboolean space = FALSE;

          for (gsize i = pos; i < line_end; i++)
            {
              if (is_wsp (body[i]))
                {
                  space = TRUE;
                  continue;
                }
              if (space)
                g_string_append_c (out, ' ');
              space = FALSE;
              g_string_append_c (out, body[i]);
            }
          /* trailing white space is dropped: a pending space is never written */
        }
      if (out->len > before)
        {
          g_string_append (out, "\r\n");
          kept = out->len;
        }
      else
        g_string_append (out, "\r\n");
      pos = eol ? line_end + 2 : length;
    }
  g_string_truncate (out, kept);
  if (canon == RELAIS_DKIM_SIMPLE && out->len == 0)
    g_string_append (out, "\r\n");
  return out;
}

GBytes *
relais_dkim_body_hash (const RelaisDkimMessage *message, const RelaisDkimSignature *signature,
                       GError **error)
{
  g_autoptr(GString) body = relais_dkim_canon_body (signature->body_canon,
                                                    message->data->str + message->body,
                                                    message->data->len - message->body);
  gsize length = body->len;
  guchar digest[SHA256_LEN];

  if (signature->length >= 0)
    {
      if ((guint64) signature->length > body->len)
        {
          g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT,
                       "the body is shorter than l=%" G_GINT64_FORMAT, signature->length);
          return NULL;
        }
      length = (gsize) signature->length;
    }
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, body->str, length, digest) < 0)
    {
      g_set_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED, "SHA-256 is not available");
      return NULL;
    }
  return g_bytes_new (digest, sizeof digest);
}

/* FIELD (a DKIM-Signature) with the value of its b= tag removed. */
static GString *
without_b_value (const char *field, gsize length)
{
  GString *out = g_string_sized_new (length);
  const char *end = field + length;
  const char *colon = memchr (field, ':', length);
  const char *p;

  if (!colon)
    {
      g_string_append_len (out, field, length);
      return out;
    }
  g_string_append_len (out, field, colon + 1 - field);
  p = colon + 1;
  while (p < end)
    {
      const char *semi = memchr (p, ';', end - p);
      const char *spec_end = semi ? semi : end;
      const char *q = p;

      while (q < spec_end && is_fws (*q))
        q++;
      if (q < spec_end && *q == 'b')
        {
          const char *r = q + 1;

          while (r < spec_end && is_fws (*r))
            r++;
          if (r < spec_end && *r == '=')
            {
              g_string_append_len (out, p, r + 1 - p);
              p = spec_end;
            }
        }
      g_string_append_len (out, p, spec_end - p);
      if (semi)
        g_string_append_c (out, ';');
      p = semi ? semi + 1 : end;
    }
  return out;
}

static const Field *
nth_signature_field (const RelaisDkimMessage *message, guint n, guint *index)
{
  for (guint i = 0; i < message->fields->len; i++)
    {
      const Field *field = &g_array_index (message->fields, Field, i);

      if (g_ascii_strcasecmp (field->name, "DKIM-Signature") == 0 && n-- == 0)
        {
          *index = i;
          return field;
        }
    }
  return NULL;
}

/* The header fields of SIGNATURE's h= (skipping the field at SKIP), then
 * SIG_FIELD (a DKIM-Signature field, raw) with its b= emptied, canonical
 * without the final CRLF. */
static GBytes *
build_signed_data (const RelaisDkimMessage *message, const RelaisDkimSignature *signature, guint skip,
                   const char *sig_field, gsize sig_length)
{
  g_autoptr(GString) data = g_string_new (NULL);
  g_autofree gboolean *used = g_new0 (gboolean, message->fields->len + 1);
  g_autoptr(GString) stripped = NULL;
  g_autofree char *canonical = NULL;

  if (skip < message->fields->len)
    used[skip] = TRUE;

  for (guint n = 0; signature->headers[n]; n++)
    for (guint i = message->fields->len; i-- > 0;)
      {
        const Field *field = &g_array_index (message->fields, Field, i);
        g_autofree char *text = NULL;

        if (used[i] || g_ascii_strcasecmp (field->name, signature->headers[n]) != 0)
          continue;
        used[i] = TRUE;
        text = relais_dkim_canon_header (signature->header_canon, message->data->str + field->start,
                                         field->length);
        g_string_append (data, text);
        break;
      }

  stripped = without_b_value (sig_field, sig_length);
  canonical = relais_dkim_canon_header (signature->header_canon, stripped->str, stripped->len);
  g_string_append_len (data, canonical, strlen (canonical) - 2);
  return g_string_free_to_bytes (g_steal_pointer (&data));
}

GBytes *
relais_dkim_signed_data (const RelaisDkimMessage *message, const RelaisDkimSignature *signature,
                         guint signature_field)
{
  const Field *sig_field;
  guint sig_index = 0;

  if (!(sig_field = nth_signature_field (message, signature_field, &sig_index)))
    return NULL;
  return build_signed_data (message, signature, sig_index, message->data->str + sig_field->start,
                            sig_field->length);
}

GBytes *
relais_dkim_signed_data_for_field (const RelaisDkimMessage *message, const RelaisDkimSignature *signature,
                                   const char *field, gsize length)
{
  g_return_val_if_fail (message != NULL && signature != NULL && field != NULL, NULL);
  return build_signed_data (message, signature, G_MAXUINT, field, length);
}

guint
relais_dkim_message_count_fields (const RelaisDkimMessage *message, const char *name)
{
  guint count = 0;

  g_return_val_if_fail (message != NULL && name != NULL, 0);
  for (guint i = 0; i < message->fields->len; i++)
    if (g_ascii_strcasecmp (g_array_index (message->fields, Field, i).name, name) == 0)
      count++;
  return count;
}

/* ---- signatures ---- */

typedef enum {
  CHECK_VALID,
  CHECK_INVALID,
  CHECK_BAD_KEY,
} Check;

static Check
check_signature (RelaisDkimAlgorithm algorithm, GBytes *key, GBytes *data, GBytes *signature,
                 char **reason)
{
  gnutls_pubkey_t pubkey = NULL;
  gnutls_datum_t key_datum, data_datum, sig_datum;
  gsize key_size, data_size, sig_size;
  guchar digest[SHA256_LEN];
  Check check = CHECK_BAD_KEY;
  int ret;

  key_datum.data = (unsigned char *) g_bytes_get_data (key, &key_size);
  key_datum.size = (unsigned int) key_size;
  data_datum.data = (unsigned char *) g_bytes_get_data (data, &data_size);
  data_datum.size = (unsigned int) data_size;
  sig_datum.data = (unsigned char *) g_bytes_get_data (signature, &sig_size);
  sig_datum.size = (unsigned int) sig_size;

  if (gnutls_pubkey_init (&pubkey) < 0)
    {
      *reason = g_strdup ("cannot set up a public key");
      return CHECK_BAD_KEY;
    }
  if (algorithm == RELAIS_DKIM_RSA_SHA256)
    {
      unsigned int bits = 0;

      if (key_size == 0 || gnutls_pubkey_import (pubkey, &key_datum, GNUTLS_X509_FMT_DER) < 0 ||
          gnutls_pubkey_get_pk_algorithm (pubkey, &bits) != GNUTLS_PK_RSA)
        *reason = g_strdup ("the key record's p= is not an RSA public key");
      else if (bits < RSA_MIN_BITS)
        *reason = g_strdup_printf ("the RSA key has %u bits, fewer than %u", bits, RSA_MIN_BITS);
      else
        {
          ret = gnutls_pubkey_verify_data2 (pubkey, GNUTLS_SIGN_RSA_SHA256, 0, &data_datum, &sig_datum);
          check = ret >= 0 ? CHECK_VALID : CHECK_INVALID;
        }
    }
  else
    {
      gnutls_datum_t x = key_datum;

      if (key_size != ED25519_KEY_LEN ||
          gnutls_pubkey_import_ecc_raw (pubkey, GNUTLS_ECC_CURVE_ED25519, &x, NULL) < 0)
        *reason = g_strdup ("the key record's p= is not a 32-byte Ed25519 public key");
      else if (gnutls_hash_fast (GNUTLS_DIG_SHA256, data_datum.data, data_size, digest) < 0)
        *reason = g_strdup ("SHA-256 is not available");
      else
        {
          /* RFC 8463 §3: Ed25519 signs the SHA-256 of the header data */
          gnutls_datum_t hash = { digest, sizeof digest };

          ret = gnutls_pubkey_verify_data2 (pubkey, GNUTLS_SIGN_EDDSA_ED25519, 0, &hash, &sig_datum);
          check = ret >= 0 ? CHECK_VALID : CHECK_INVALID;
        }
    }
  gnutls_pubkey_deinit (pubkey);
  return check;
}

void
relais_dkim_verdict_free (RelaisDkimVerdict *verdict)
{
  if (!verdict)
    return;
  g_free (verdict->reason);
  g_free (verdict->domain);
  g_free (verdict->selector);
  g_free (verdict->identity);
  g_free (verdict->signature_text);
  g_free (verdict);
}

static RelaisDkimVerdict *
verdict_set (RelaisDkimVerdict *verdict, RelaisDkimResult result, char *reason)
{
  verdict->result = result;
  g_free (verdict->reason);
  verdict->reason = reason;
  return verdict;
}

static RelaisDkimVerdict *
verify_one (const RelaisDkimMessage *message, guint n, const Field *field, gint64 now,
            RelaisDkimKeyLookupFunc lookup, gpointer user_data)
{
  RelaisDkimVerdict *verdict = g_new0 (RelaisDkimVerdict, 1);
  const char *text = message->data->str + field->start;
  const char *colon = memchr (text, ':', field->length);
  g_autofree char *value = colon ? g_strndup (colon + 1, field->length - (colon + 1 - text)) : g_strdup ("");
  g_autoptr(GHashTable) tags = NULL;
  g_autoptr(RelaisDkimSignature) sig = NULL;
  g_autoptr(RelaisDkimKey) key = NULL;
  g_autoptr(GBytes) body_hash = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *record = NULL;
  char *reason = NULL;
  RelaisDkimKeyStatus status;
  Check check;

  if (!(tags = parse_tag_list (value, "DKIM-Signature", &error)))
    return verdict_set (verdict, RELAIS_DKIM_PERMERROR, g_strdup (error->message));
  /* for the clause, even when the signature turns out unusable */
  verdict->domain = g_strdup (g_hash_table_lookup (tags, "d"));
  verdict->selector = g_strdup (g_hash_table_lookup (tags, "s"));
  if (!(sig = signature_from_tags (tags, &error)))
    return verdict_set (verdict, RELAIS_DKIM_PERMERROR, g_strdup (error->message));
  g_free (verdict->domain);
  verdict->domain = g_strdup (sig->domain);
  verdict->identity = g_strdup (sig->identity);
  verdict->signature_text = g_strdup (sig->signature_text);

  if (sig->expiration >= 0 && sig->expiration < now)
    return verdict_set (verdict, RELAIS_DKIM_FAIL, g_strdup ("signature expired"));

  status = lookup (sig->domain, sig->selector, &record, user_data);
  if (status == RELAIS_DKIM_KEY_TEMPFAIL)
    return verdict_set (verdict, RELAIS_DKIM_TEMPERROR,
                        g_strdup_printf ("key lookup at %s._domainkey.%s failed temporarily",
                                         sig->selector, sig->domain));
  if (status != RELAIS_DKIM_KEY_FOUND || !record)
    return verdict_set (verdict, RELAIS_DKIM_PERMERROR,
                        g_strdup_printf ("no key for signature at %s._domainkey.%s",
                                         sig->selector, sig->domain));
  if (!(key = relais_dkim_key_parse (record, &error)))
    return verdict_set (verdict, RELAIS_DKIM_PERMERROR, g_strdup (error->message));
  if (!key->key)
    return verdict_set (verdict, RELAIS_DKIM_FAIL, g_strdup ("key revoked"));
  if (key->algorithm != sig->algorithm)
    return verdict_set (verdict, RELAIS_DKIM_PERMERROR,
                        g_strdup ("the key type does not match the signature algorithm"));
  if (key->strict_identity)
    {
      const char *at = strrchr (sig->identity, '@');

      if (g_ascii_strcasecmp (at + 1, sig->domain) != 0)
        return verdict_set (verdict, RELAIS_DKIM_PERMERROR,
                            g_strdup ("the key (t=s) forbids an i= in a subdomain of d="));
    }

  if (!(body_hash = relais_dkim_body_hash (message, sig, &error)))
    verdict_set (verdict, RELAIS_DKIM_FAIL, g_strdup (error->message));
  else if (!g_bytes_equal (body_hash, sig->body_hash))
    verdict_set (verdict, RELAIS_DKIM_FAIL, g_strdup ("body hash mismatch"));
  else
    {
      data = relais_dkim_signed_data (message, sig, n);
      check = check_signature (sig->algorithm, key->key, data, sig->signature, &reason);
      if (check == CHECK_BAD_KEY)
        return verdict_set (verdict, RELAIS_DKIM_PERMERROR, reason);
      if (check == CHECK_INVALID)
        verdict_set (verdict, RELAIS_DKIM_FAIL, g_strdup ("signature invalid"));
      else
        verdict_set (verdict, RELAIS_DKIM_PASS, NULL);
    }

  if (verdict->result == RELAIS_DKIM_FAIL && key->testing)
    {
      char *testing = g_strdup_printf ("%s (the domain is testing DKIM)", verdict->reason);

      verdict_set (verdict, RELAIS_DKIM_NEUTRAL, testing);
    }
  return verdict;
}

GPtrArray *
relais_dkim_verify (const RelaisDkimMessage *message, gint64 now,
                    RelaisDkimKeyLookupFunc lookup, gpointer user_data)
{
  GPtrArray *verdicts = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_dkim_verdict_free);
  guint n = 0;

  g_return_val_if_fail (message != NULL && lookup != NULL, verdicts);
  for (guint i = 0; i < message->fields->len && n < RELAIS_DKIM_MAX_SIGNATURES; i++)
    {
      const Field *field = &g_array_index (message->fields, Field, i);

      if (g_ascii_strcasecmp (field->name, "DKIM-Signature") != 0)
        continue;
      g_ptr_array_add (verdicts, verify_one (message, n, field, now, lookup, user_data));
      n++;
    }
  return verdicts;
}

RelaisDkimKeyStatus
relais_dkim_dns_lookup (const char *domain, const char *selector, char **record, gpointer user_data)
{
  g_autofree char *name = g_strdup_printf ("%s._domainkey.%s", selector, domain);
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_free);
  RelaisDnsResult result = relais_dns_lookup_txt (name, records);

  (void) user_data;
  if (result == RELAIS_DNS_TEMPFAIL)
    return RELAIS_DKIM_KEY_TEMPFAIL;
  if (result != RELAIS_DNS_FOUND || records->len == 0)
    return RELAIS_DKIM_KEY_NOT_FOUND;
  /* several records: the first that says it is a DKIM key, else the first */
  for (guint i = 0; i < records->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (records, i), "v=DKIM1"))
      {
        *record = g_strdup (g_ptr_array_index (records, i));
        return RELAIS_DKIM_KEY_FOUND;
      }
  *record = g_strdup (g_ptr_array_index (records, 0));
  return RELAIS_DKIM_KEY_FOUND;
}

/* ---- Authentication-Results (RFC 8601) ---- */

const char *
relais_dkim_result_to_string (RelaisDkimResult result)
{
  switch (result)
    {
    case RELAIS_DKIM_NONE: return "none";
    case RELAIS_DKIM_PASS: return "pass";
    case RELAIS_DKIM_FAIL: return "fail";
    case RELAIS_DKIM_NEUTRAL: return "neutral";
    case RELAIS_DKIM_TEMPERROR: return "temperror";
    case RELAIS_DKIM_PERMERROR: return "permerror";
    default: return "permerror";
    }
}

char *
relais_dkim_verdict_format (const RelaisDkimVerdict *verdict)
{
  GString *out = g_string_new ("dkim=");

  g_string_append (out, relais_dkim_result_to_string (verdict->result));
  if (verdict->reason)
    {
      g_string_append (out, " reason=");
      relais_header_append_value (out, verdict->reason);
    }
  if (verdict->domain)
    {
      g_string_append (out, " header.d=");
      relais_header_append_value (out, verdict->domain);
    }
  if (verdict->selector)
    {
      g_string_append (out, " header.s=");
      relais_header_append_value (out, verdict->selector);
    }
  if (verdict->signature_text)
    {
      g_autofree char *prefix = g_strndup (verdict->signature_text, 8);

      g_string_append (out, " header.b=");
      relais_header_append_value (out, prefix);
    }
  return g_string_free (out, FALSE);
}

char *
relais_dkim_format_results (GPtrArray *verdicts)
{
  GString *out = g_string_new (NULL);

  if (!verdicts || verdicts->len == 0)
    {
      g_string_append (out, "dkim=none");
      return g_string_free (out, FALSE);
    }
  for (guint i = 0; i < verdicts->len; i++)
    {
      g_autofree char *clause = relais_dkim_verdict_format (g_ptr_array_index (verdicts, i));

      if (i > 0)
        g_string_append (out, ";\r\n\t");
      g_string_append (out, clause);
    }
  return g_string_free (out, FALSE);
}
