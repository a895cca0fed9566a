/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pure SMTP parsing: verbs, paths and ESMTP parameters, BDAT, EHLO names, and
 * the DATA decoder / content scan state machines. No I/O, no allocation
 * beyond the results, no assertion on input: every byte sequence gets an
 * answer. The grammar follows RFC 5321 §4.1.2 (with RFC 6531 UTF-8 where the
 * transaction asked for SMTPUTF8). */
#define G_LOG_DOMAIN "relais"

#include "relais-smtp-parse.h"

#include <string.h>

#include <gio/gio.h>

/* ---- commands ---------------------------------------------------------- */

static const struct {
  const char *name;
  RelaisSmtpCommand command;
} commands[] = {
  { "EHLO", RELAIS_SMTP_CMD_EHLO },
  { "HELO", RELAIS_SMTP_CMD_HELO },
  { "MAIL", RELAIS_SMTP_CMD_MAIL },
  { "RCPT", RELAIS_SMTP_CMD_RCPT },
  { "DATA", RELAIS_SMTP_CMD_DATA },
  { "BDAT", RELAIS_SMTP_CMD_BDAT },
  { "RSET", RELAIS_SMTP_CMD_RSET },
  { "NOOP", RELAIS_SMTP_CMD_NOOP },
  { "QUIT", RELAIS_SMTP_CMD_QUIT },
  { "VRFY", RELAIS_SMTP_CMD_VRFY },
  { "EXPN", RELAIS_SMTP_CMD_EXPN },
  { "HELP", RELAIS_SMTP_CMD_HELP },
  { "STARTTLS", RELAIS_SMTP_CMD_STARTTLS },
  { "AUTH", RELAIS_SMTP_CMD_AUTH },
};

RelaisSmtpCommand
relais_smtp_parse_command (const char *line, const char **arg)
{
  gsize verb_len = 0;
  const char *rest;

  g_return_val_if_fail (line != NULL, RELAIS_SMTP_CMD_UNKNOWN);

  while (g_ascii_isalpha (line[verb_len]))
    verb_len++;
  rest = line + verb_len;
  if (arg != NULL)
    *arg = "";
  if (verb_len == 0 || (*rest != '\0' && *rest != ' '))
    return RELAIS_SMTP_CMD_UNKNOWN;
  while (*rest == ' ')
    rest++;

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (strlen (commands[i].name) == verb_len &&
          g_ascii_strncasecmp (commands[i].name, line, verb_len) == 0)
        {
          if (arg != NULL)
            *arg = rest;
          return commands[i].command;
        }
    }
  return RELAIS_SMTP_CMD_UNKNOWN;
}

const char *
relais_smtp_command_name (RelaisSmtpCommand command)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].command == command)
      return commands[i].name;
  return "UNKNOWN";
}

/* ---- paths and parameters ---------------------------------------------- */

void
relais_smtp_path_clear (RelaisSmtpPath *path)
{
  g_return_if_fail (path != NULL);
  g_clear_pointer (&path->address, g_free);
  g_clear_pointer (&path->local_part, g_free);
  g_clear_pointer (&path->domain, g_free);
  path->is_null = FALSE;
  path->is_postmaster = FALSE;
  path->size = -1;
  path->body = RELAIS_SMTP_BODY_UNSPECIFIED;
  path->smtputf8 = FALSE;
  path->ret = RELAIS_DSN_RET_UNSET;
  g_clear_pointer (&path->envid, g_free);
  path->notify = RELAIS_DSN_NOTIFY_UNSET;
  g_clear_pointer (&path->orcpt, relais_dsn_orcpt_free);
  g_clear_pointer (&path->auth, g_free);
  path->detail = NULL;
}

gboolean
relais_smtp_path_has_dsn (const RelaisSmtpPath *path)
{
  g_return_val_if_fail (path != NULL, FALSE);

  return path->ret != RELAIS_DSN_RET_UNSET || path->envid != NULL ||
         path->notify != RELAIS_DSN_NOTIFY_UNSET || path->orcpt != NULL;
}

static RelaisSmtpPathResult
path_error (RelaisSmtpPath *path, RelaisSmtpPathResult result, const char *detail)
{
  relais_smtp_path_clear (path);
  path->detail = detail;
  return result;
}

/* Path = "<" [ A-d-l ":" ] Mailbox ">"; also "<>" and "<postmaster>" when allowed. */
static RelaisSmtpPathResult
parse_path (RelaisAddressCursor *cur, gboolean allow_null, gboolean allow_postmaster, RelaisSmtpPath *path)
{
  const char *start = cur->p;

  if (*cur->p != '<')
    return path_error (path, RELAIS_SMTP_PATH_SYNTAX, "Address must be enclosed in <>");
  cur->p++;
  if (*cur->p == '>' && allow_null)
    {
      cur->p++;
      path->is_null = TRUE;
      path->address = g_strdup ("");
      return RELAIS_SMTP_PATH_OK;
    }
  if (allow_postmaster && g_ascii_strncasecmp (cur->p, "postmaster>", 11) == 0)
    {
      cur->p += 11;
      path->is_postmaster = TRUE;
      path->address = g_strdup ("postmaster");
      return RELAIS_SMTP_PATH_OK;
    }
  /* Source route, RFC 5321 §4.1.2 / appendix C: accepted and ignored. */
  if (*cur->p == '@')
    {
      for (;;)
        {
          cur->p++;   /* the '@' */
          if (*cur->p == '[' ? !relais_address_parse_literal (cur) : !relais_address_parse_domain (cur))
            return path_error (path, RELAIS_SMTP_PATH_SYNTAX, "Bad source route");
          if (*cur->p == ':')
            break;
          if (cur->p[0] != ',' || cur->p[1] != '@')
            return path_error (path, RELAIS_SMTP_PATH_SYNTAX, "Bad source route");
          cur->p++;
        }
      cur->p++;   /* the ':' */
    }
  switch (relais_address_parse_mailbox (cur, &path->local_part, &path->domain))
    {
    case RELAIS_ADDRESS_OK:
      break;
    case RELAIS_ADDRESS_TOO_LONG:
      return path_error (path, RELAIS_SMTP_PATH_TOO_LONG, "Address too long");
    case RELAIS_ADDRESS_SYNTAX:
    default:
      return path_error (path, RELAIS_SMTP_PATH_SYNTAX, "Bad address syntax");
    }
  if (*cur->p != '>')
    return path_error (path, RELAIS_SMTP_PATH_SYNTAX, "Bad address syntax");
  cur->p++;
  if (cur->p - start > RELAIS_SMTP_MAX_PATH)
    return path_error (path, RELAIS_SMTP_PATH_TOO_LONG, "Path too long");
  path->address = g_strconcat (path->local_part, "@", path->domain, NULL);
  return RELAIS_SMTP_PATH_OK;
}

char *
relais_smtp_path_error_reply (RelaisSmtpPathResult r, const RelaisSmtpPath *path, gboolean is_mail,
                              guint *code, const char **enhanced)
{
  const char *detail = path->detail != NULL ? path->detail : "Bad address syntax";

  switch (r)
    {
    case RELAIS_SMTP_PATH_BAD_PARAMETER:
      *code = 501;
      *enhanced = "5.5.4";
      return g_strdup (detail);
    case RELAIS_SMTP_PATH_UNKNOWN_PARAMETER:
      *code = 555;
      *enhanced = "5.5.4";
      return g_strdup_printf ("Unsupported %s parameter", is_mail ? "MAIL" : "RCPT");
    case RELAIS_SMTP_PATH_NON_ASCII:
      *code = 553;
      *enhanced = "5.6.7";
      return g_strdup_printf ("Non-ASCII %s address requires SMTPUTF8", is_mail ? "sender" : "recipient");
    case RELAIS_SMTP_PATH_OK:
    case RELAIS_SMTP_PATH_SYNTAX:
    case RELAIS_SMTP_PATH_TOO_LONG:
    default:
      /* RFC 3463: 5.1.7 bad sender mailbox syntax, 5.1.3 bad destination mailbox syntax */
      *code = 501;
      *enhanced = is_mail ? "5.1.7" : "5.1.3";
      return g_strdup_printf ("Bad %s address syntax: %s", is_mail ? "sender" : "recipient", detail);
    }
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") ["=" esmtp-value] */
static RelaisSmtpPathResult
parse_parameters (const char *p, gboolean is_mail, gboolean smtputf8, RelaisSmtpPath *path)
{
  gboolean seen_size = FALSE, seen_body = FALSE, seen_notify = FALSE;

  for (;;)
    {
      const char *kw, *value = NULL;
      gsize kw_len, value_len = 0;

      while (*p == ' ')
        p++;
      if (*p == '\0')
        return RELAIS_SMTP_PATH_OK;
      kw = p;
      if (!g_ascii_isalnum (*p))
        return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad parameter syntax");
      while (g_ascii_isalnum (*p) || *p == '-')
        p++;
      kw_len = (gsize) (p - kw);
      if (*p == '=')
        {
          p++;
          value = p;
          /* RFC 6531 §3.3: UTF-8 in values once the transaction is SMTPUTF8. */
          while (((guchar) *p >= 33 && (guchar) *p <= 126 && *p != '=') ||
                 ((guchar) *p >= 0x80 && smtputf8))
            p++;
          value_len = (gsize) (p - value);
          if (value_len == 0)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad parameter syntax");
        }
      if (*p != ' ' && *p != '\0')
        return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad parameter syntax");

#define KW_IS(name) (kw_len == strlen (name) && g_ascii_strncasecmp (kw, name, kw_len) == 0)
      if (is_mail && KW_IS ("SIZE"))
        {
          guint64 size = 0;

          if (seen_size || value == NULL || value_len > 18)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad SIZE parameter");
          for (gsize i = 0; i < value_len; i++)
            {
              if (!g_ascii_isdigit (value[i]))
                return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad SIZE parameter");
              size = size * 10 + (guint64) (value[i] - '0');
            }
          seen_size = TRUE;
          path->size = (gint64) size;
        }
      else if (is_mail && KW_IS ("BODY"))
        {
          if (seen_body || value == NULL)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad BODY parameter");
          if (value_len == 4 && g_ascii_strncasecmp (value, "7BIT", 4) == 0)
            path->body = RELAIS_SMTP_BODY_7BIT;
          else if (value_len == 8 && g_ascii_strncasecmp (value, "8BITMIME", 8) == 0)
            path->body = RELAIS_SMTP_BODY_8BITMIME;
          else
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad BODY parameter");
          seen_body = TRUE;
        }
      else if (is_mail && KW_IS ("SMTPUTF8"))
        {
          if (path->smtputf8 || value != NULL)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Bad SMTPUTF8 parameter");
          path->smtputf8 = TRUE;
        }
      else if (is_mail && KW_IS ("RET"))
        {
          const char *detail = "Bad RET parameter: expected FULL or HDRS";

          if (path->ret != RELAIS_DSN_RET_UNSET)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Duplicate RET parameter");
          if (value == NULL || !relais_dsn_parse_ret (value, (gssize) value_len, &path->ret, &detail))
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, detail);
        }
      else if (is_mail && KW_IS ("ENVID"))
        {
          const char *detail = "Bad ENVID parameter: 1 to 100 characters of xtext";

          if (path->envid != NULL)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Duplicate ENVID parameter");
          if (value == NULL ||
              (path->envid = relais_dsn_parse_envid (value, (gssize) value_len, &detail)) == NULL)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, detail);
        }
      else if (is_mail && KW_IS ("AUTH"))
        {
          /* RFC 4954 §5: AUTH=<> or the xtext of the submitter's address. */
          if (path->auth != NULL)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Duplicate AUTH parameter");
          if (value != NULL && value_len == 2 && value[0] == '<' && value[1] == '>')
            path->auth = g_strdup ("");
          else if (value == NULL ||
                   (path->auth = relais_dsn_xtext_decode (value, (gssize) value_len)) == NULL ||
                   !relais_address_is_valid_mailbox (path->auth, FALSE))
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER,
                               "Bad AUTH parameter: expected <> or the xtext of an address");
        }
      else if (!is_mail && KW_IS ("NOTIFY"))
        {
          const char *detail = "Bad NOTIFY parameter: empty value";

          if (seen_notify)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Duplicate NOTIFY parameter");
          if (value == NULL || !relais_dsn_parse_notify (value, (gssize) value_len, &path->notify, &detail))
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, detail);
          seen_notify = TRUE;
        }
      else if (!is_mail && KW_IS ("ORCPT"))
        {
          const char *detail = "Bad ORCPT parameter: expected addr-type;address (e.g. rfc822;user@example.org)";

          if (path->orcpt != NULL)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, "Duplicate ORCPT parameter");
          if (value == NULL ||
              (path->orcpt = relais_dsn_parse_orcpt (value, (gssize) value_len, smtputf8, &detail)) == NULL)
            return path_error (path, RELAIS_SMTP_PATH_BAD_PARAMETER, detail);
        }
      else
        return path_error (path, RELAIS_SMTP_PATH_UNKNOWN_PARAMETER, "Unsupported parameter");
#undef KW_IS
    }
}

static RelaisSmtpPathResult
parse_mail_or_rcpt (const char *arg, const char *prefix, gboolean is_mail, gboolean smtputf8,
                    RelaisSmtpPath *path)
{
  gsize prefix_len = strlen (prefix);
  RelaisAddressCursor cur;
  RelaisSmtpPathResult r;

  g_return_val_if_fail (arg != NULL, RELAIS_SMTP_PATH_SYNTAX);
  g_return_val_if_fail (path != NULL, RELAIS_SMTP_PATH_SYNTAX);

  memset (path, 0, sizeof *path);
  relais_smtp_path_clear (path);

  if (g_ascii_strncasecmp (arg, prefix, prefix_len) != 0)
    return path_error (path, RELAIS_SMTP_PATH_SYNTAX,
                       is_mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
  cur.p = arg + prefix_len;
  cur.eightbit = FALSE;
  while (*cur.p == ' ')
    cur.p++;
  r = parse_path (&cur, is_mail, !is_mail, path);
  if (r != RELAIS_SMTP_PATH_OK)
    return r;
  if (*cur.p != ' ' && *cur.p != '\0')
    return path_error (path, RELAIS_SMTP_PATH_SYNTAX, "Bad address syntax");
  r = parse_parameters (cur.p, is_mail, smtputf8, path);
  if (r != RELAIS_SMTP_PATH_OK)
    return r;
  if (is_mail)
    smtputf8 = path->smtputf8;
  if (cur.eightbit)
    {
      if (!smtputf8)
        return path_error (path, RELAIS_SMTP_PATH_NON_ASCII,
                           "Non-ASCII address requires SMTPUTF8");
      if (!g_utf8_validate (path->address, -1, NULL))
        return path_error (path, RELAIS_SMTP_PATH_SYNTAX, "Address is not valid UTF-8");
    }
  return RELAIS_SMTP_PATH_OK;
}

RelaisSmtpPathResult
relais_smtp_parse_mail (const char *arg, RelaisSmtpPath *path)
{
  return parse_mail_or_rcpt (arg, "FROM:", TRUE, FALSE, path);
}

RelaisSmtpPathResult
relais_smtp_parse_rcpt (const char *arg, gboolean smtputf8, RelaisSmtpPath *path)
{
  return parse_mail_or_rcpt (arg, "TO:", FALSE, smtputf8, path);
}

/* ---- BDAT, EHLO -------------------------------------------------------- */

gboolean
relais_smtp_parse_bdat (const char *arg, guint64 *size, gboolean *last)
{
  const char *p = arg;
  guint64 value = 0;
  guint digits = 0;

  g_return_val_if_fail (arg != NULL, FALSE);

  while (g_ascii_isdigit (*p))
    {
      if (++digits > 18)
        return FALSE;
      value = value * 10 + (guint64) (*p - '0');
      p++;
    }
  if (digits == 0)
    return FALSE;
  if (last != NULL)
    *last = FALSE;
  while (*p == ' ')
    p++;
  if (g_ascii_strncasecmp (p, "LAST", 4) == 0 && (p[4] == ' ' || p[4] == '\0') && p != arg + digits)
    {
      p += 4;
      if (last != NULL)
        *last = TRUE;
      while (*p == ' ')
        p++;
    }
  if (*p != '\0')
    return FALSE;
  if (size != NULL)
    *size = value;
  return TRUE;
}

char *
relais_smtp_parse_helo (const char *arg)
{
  const char *p = arg, *start;
  gboolean eightbit = FALSE;
  g_autofree char *name = NULL;

  g_return_val_if_fail (arg != NULL, NULL);

  while (*p == ' ')
    p++;
  start = p;
  while (*p != '\0' && *p != ' ')
    {
      guchar c = (guchar) *p;

      if (c >= 0x80)
        eightbit = TRUE;
      else if (c < 0x21 || c > 0x7e)
        return NULL;
      p++;
    }
  if (p == start || p - start > 255)
    return NULL;
  name = g_strndup (start, (gsize) (p - start));
  if (eightbit && !g_utf8_validate (name, -1, NULL))
    return NULL;
  return g_steal_pointer (&name);
}

/* ---- DATA decoder ------------------------------------------------------ */

enum {
  DEC_LINE_START,   /* at the start of a line */
  DEC_DOT,          /* "." at the start of a line */
  DEC_DOT_CR,       /* ".\r" at the start of a line */
  DEC_IN_LINE,
  DEC_CR,           /* a CR inside a line, waiting for LF */
};

void
relais_data_decoder_init (RelaisDataDecoder *decoder)
{
  decoder->state = DEC_LINE_START;
  decoder->after_crlf = TRUE;    /* DATA's own CRLF */
}

gsize
relais_data_decoder_feed (RelaisDataDecoder *decoder, const guint8 *in, gsize len,
                          guint8 *out, gsize *out_len, gboolean *done)
{
  gsize o = 0;

#define PUT(c) (out[o++] = (guint8) (c))
#define PUT_CRLF() G_STMT_START { PUT ('\r'); PUT ('\n'); } G_STMT_END

  *done = FALSE;
  for (gsize i = 0; i < len; i++)
    {
      guint8 c;
      gboolean again;

      if (decoder->state == DEC_IN_LINE)
        {
          /* the bulk of a message: copied as it is up to the next CR or LF */
          const guint8 *lf = memchr (in + i, '\n', len - i);
          gsize end = lf != NULL ? (gsize) (lf - in) : len;
          const guint8 *cr = memchr (in + i, '\r', end - i);
          gsize run = (cr != NULL ? (gsize) (cr - in) : end) - i;

          memcpy (out + o, in + i, run);
          o += run;
          i += run;
          if (i == len)
            break;
        }
      c = in[i];

      do
        {
          again = FALSE;
          switch (decoder->state)
            {
            case DEC_LINE_START:
              if (c == '.')
                decoder->state = DEC_DOT;
              else if (c == '\r')
                decoder->state = DEC_CR;
              else if (c == '\n')
                {
                  PUT_CRLF ();    /* bare LF */
                  decoder->after_crlf = FALSE;
                }
              else
                {
                  PUT (c);
                  decoder->state = DEC_IN_LINE;
                }
              break;
            case DEC_DOT:
              if (c == '\r')
                decoder->state = DEC_DOT_CR;
              else if (c == '\n')
                {
                  /* ".<LF>" is not an end marker: keep the line as a lone dot. */
                  PUT ('.');
                  PUT_CRLF ();
                  decoder->after_crlf = FALSE;
                  decoder->state = DEC_LINE_START;
                }
              else
                {
                  PUT (c);        /* the first dot is dropped */
                  decoder->state = DEC_IN_LINE;
                }
              break;
            case DEC_DOT_CR:
              if (c == '\n')
                {
                  if (decoder->after_crlf)
                    {
                      *done = TRUE;
                      *out_len = o;
                      decoder->state = DEC_LINE_START;
                      return i + 1;
                    }
                  /* <LF>.<CR><LF>: not an end marker (SMTP smuggling). */
                  PUT ('.');
                  PUT_CRLF ();
                  decoder->after_crlf = TRUE;
                  decoder->state = DEC_LINE_START;
                }
              else
                {
                  PUT ('.');
                  PUT_CRLF ();    /* bare CR */
                  decoder->after_crlf = FALSE;
                  decoder->state = DEC_LINE_START;
                  again = TRUE;
                }
              break;
            case DEC_IN_LINE:
              if (c == '\r')
                decoder->state = DEC_CR;
              else if (c == '\n')
                {
                  PUT_CRLF ();
                  decoder->after_crlf = FALSE;
                  decoder->state = DEC_LINE_START;
                }
              else
                PUT (c);
              break;
            case DEC_CR:
            default:
              PUT_CRLF ();
              decoder->state = DEC_LINE_START;
              if (c == '\n')
                decoder->after_crlf = TRUE;
              else
                {
                  decoder->after_crlf = FALSE;   /* bare CR */
                  again = TRUE;
                }
              break;
            }
        }
      while (again);
    }
#undef PUT
#undef PUT_CRLF
  *out_len = o;
  return len;
}

/* ---- content scan ------------------------------------------------------ */

void
relais_content_scan_init (RelaisContentScan *scan)
{
  memset (scan, 0, sizeof *scan);
  scan->line_empty = TRUE;
}

/* Whether an Auto-Submitted value starts (after CFWS) with the keyword
 * auto-forwarded, ending at its end, ";", a space or a comment. */
static gboolean
auto_submitted_is_forwarded (const char *value, gsize len)
{
  static const char keyword[] = "auto-forwarded";
  gsize i = 0, depth = 0;

  for (; i < len; i++)
    {
      char c = value[i];

      if (depth > 0)
        {
          if (c == '\\')
            i++;
          else if (c == '(')
            depth++;
          else if (c == ')')
            depth--;
        }
      else if (c == '(')
        depth++;
      else if (c != ' ' && c != '\t')
        break;
    }
  if (i + strlen (keyword) > len || g_ascii_strncasecmp (value + i, keyword, strlen (keyword)) != 0)
    return FALSE;
  i += strlen (keyword);
  return i == len || value[i] == ';' || value[i] == ' ' || value[i] == '\t' || value[i] == '(';
}

static void
content_scan_line_end (RelaisContentScan *scan)
{
  if (scan->in_auto_submitted &&
      auto_submitted_is_forwarded (scan->value, scan->value_len))
    scan->auto_forwarded = TRUE;
}

void
relais_content_scan_feed (RelaisContentScan *scan, const guint8 *data, gsize len)
{
  gsize i = 0;

  scan->size += len;
  if (!scan->nul && memchr (data, 0, len) != NULL)
    scan->nul = TRUE;

  for (; i < len && !scan->in_body; i++)
    {
      guint8 c = data[i];

      if (c == '\n')
        {
          content_scan_line_end (scan);
          if (scan->line_empty)
            {
              scan->in_body = TRUE;
              scan->in_auto_submitted = FALSE;
            }
          scan->line_empty = TRUE;
          scan->prefix_len = 0;
          continue;
        }
      if (c == '\r')
        continue;
      if (scan->line_empty && c != ' ' && c != '\t')
        scan->in_auto_submitted = FALSE;    /* a new field, not a continuation line */
      scan->line_empty = FALSE;
      if (scan->in_auto_submitted)
        {
          if (scan->value_len < sizeof scan->value)
            scan->value[scan->value_len++] = (char) c;
          continue;
        }
      if (scan->prefix_len < sizeof scan->prefix)
        {
          scan->prefix[scan->prefix_len++] = g_ascii_tolower ((char) c);
          if (scan->prefix_len == strlen ("received:") &&
              memcmp (scan->prefix, "received:", strlen ("received:")) == 0)
            scan->received++;
          else if (scan->prefix_len == strlen ("auto-submitted:") &&
                   memcmp (scan->prefix, "auto-submitted:", strlen ("auto-submitted:")) == 0)
            {
              scan->in_auto_submitted = TRUE;
              scan->value_len = 0;
            }
        }
    }
}

/* ---- SMTP AUTH (RFC 4954) ---------------------------------------------- */

RelaisSmtpAuthResult
relais_smtp_parse_auth (const char *arg, RelaisSaslMechanism *mechanism, const char **initial_response)
{
  const char *p = arg;
  gsize len;

  g_return_val_if_fail (arg != NULL && mechanism != NULL && initial_response != NULL,
                        RELAIS_SMTP_AUTH_SYNTAX);
  *initial_response = NULL;
  /* sasl-mech = 1*20 (ALPHA / DIGIT / "-" / "_") (RFC 4422 §3.1) */
  while (g_ascii_isalnum (*p) || *p == '-' || *p == '_')
    p++;
  len = (gsize) (p - arg);
  if (len == 0 || len > 20 || (*p != '\0' && *p != ' '))
    return RELAIS_SMTP_AUTH_SYNTAX;
  if (len == 5 && g_ascii_strncasecmp (arg, "PLAIN", 5) == 0)
    *mechanism = RELAIS_SASL_PLAIN;
  else if (len == 5 && g_ascii_strncasecmp (arg, "LOGIN", 5) == 0)
    *mechanism = RELAIS_SASL_LOGIN;
  else
    return RELAIS_SMTP_AUTH_UNKNOWN_MECHANISM;
  while (*p == ' ')
    p++;
  if (*p == '\0')
    return RELAIS_SMTP_AUTH_OK;
  /* One initial response, base64 or "=", nothing after it. */
  *initial_response = p;
  while (*p != '\0' && *p != ' ')
    p++;
  if (*p != '\0')
    {
      *initial_response = NULL;
      return RELAIS_SMTP_AUTH_SYNTAX;
    }
  return RELAIS_SMTP_AUTH_OK;
}

static int
base64_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

/* Strict base64 (RFC 4648 §4): groups of four, "=" padding only at the end. */
static char *
base64_decode_strict (const char *text, gsize *out_len)
{
  gsize len = strlen (text), pad = 0, n = 0;
  char *out;

  if (len % 4 != 0)
    return NULL;
  if (len > 0 && text[len - 1] == '=')
    pad++;
  if (len > 1 && text[len - 2] == '=')
    pad++;
  out = g_malloc (len / 4 * 3 + 1);
  for (gsize i = 0; i < len; i += 4)
    {
      int v[4];
      guint32 bits = 0;
      gsize group = (i + 4 == len) ? 3 - pad : 3;

      for (gsize j = 0; j < 4; j++)
        {
          v[j] = (i + j >= len - pad) ? 0 : base64_value (text[i + j]);
          if (v[j] < 0)
            {
              explicit_bzero (out, len / 4 * 3 + 1);
              g_free (out);
              return NULL;
            }
          bits = (bits << 6) | (guint32) v[j];
        }
      if (group >= 1)
        out[n++] = (char) ((bits >> 16) & 0xff);
      if (group >= 2)
        out[n++] = (char) ((bits >> 8) & 0xff);
      if (group >= 3)
        out[n++] = (char) (bits & 0xff);
    }
  out[n] = '\0';
  *out_len = n;
  return out;
}

RelaisSaslDataResult
relais_sasl_decode_response (const char *text, gboolean initial, char **data, gsize *len)
{
  g_return_val_if_fail (text != NULL && data != NULL && len != NULL, RELAIS_SASL_DATA_BAD_BASE64);
  *data = NULL;
  *len = 0;
  if (strcmp (text, "*") == 0)
    return RELAIS_SASL_DATA_CANCELLED;
  if (initial && strcmp (text, "=") == 0)
    {
      *data = g_strdup ("");
      return RELAIS_SASL_DATA_OK;
    }
  if (initial && *text == '\0')
    return RELAIS_SASL_DATA_BAD_BASE64;
  *data = base64_decode_strict (text, len);
  return *data != NULL ? RELAIS_SASL_DATA_OK : RELAIS_SASL_DATA_BAD_BASE64;
}

void
relais_sasl_wipe (char *data, gsize len)
{
  if (data == NULL)
    return;
  explicit_bzero (data, len);
  g_free (data);
}

/* One field of a SASL message: 1..255 octets of UTF-8 without NUL (RFC 4616 §2). */
static gboolean
sasl_field_ok (const char *field, gsize len, gboolean may_be_empty)
{
  if (len == 0)
    return may_be_empty;
  return len <= 255 && g_utf8_validate (field, (gssize) len, NULL);
}

gboolean
relais_sasl_plain_split (const char *data, gsize len, char **authzid, char **authcid, char **password)
{
  const char *first, *second;
  gsize zid_len, cid_len, pw_len;

  g_return_val_if_fail (authzid != NULL && authcid != NULL && password != NULL, FALSE);
  *authzid = *authcid = *password = NULL;
  if (data == NULL)
    return FALSE;
  first = memchr (data, '\0', len);
  if (first == NULL)
    return FALSE;
  second = memchr (first + 1, '\0', len - (gsize) (first + 1 - data));
  if (second == NULL || memchr (second + 1, '\0', len - (gsize) (second + 1 - data)) != NULL)
    return FALSE;
  zid_len = (gsize) (first - data);
  cid_len = (gsize) (second - first - 1);
  pw_len = len - (gsize) (second + 1 - data);
  if (!sasl_field_ok (data, zid_len, TRUE) || !sasl_field_ok (first + 1, cid_len, FALSE) ||
      !sasl_field_ok (second + 1, pw_len, FALSE))
    return FALSE;
  *authzid = g_strndup (data, zid_len);
  *authcid = g_strndup (first + 1, cid_len);
  *password = g_strndup (second + 1, pw_len);
  return TRUE;
}
