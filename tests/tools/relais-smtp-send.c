/* SPDX-License-Identifier: GPL-3.0-or-later
 * Test tool: runs one relais_smtp_client_deliver_async() (or, with --probe,
 * relais_smtp_client_probe_async()) from the command line, so the
 * integration tests drive the real client against real SMTP servers.
 * Prints one line per recipient "ADDRESS ok|tempfail|permfail REPLY", then
 * "session host=... tls=yes|no auth=yes|no bytes=N"; the probe prints its
 * a{sv} with g_variant_print(). Exit 0 when it ran, 1 on a local error, 2 on
 * bad options. */
#define G_LOG_DOMAIN "relais-smtp-send"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "relais-smtp-client.h"

typedef struct {
  GMainLoop *loop;
  gboolean ok;
  GError *error;
  GVariant *probe;
} Run;

static gboolean
parse_target (const char *text, RelaisSmtpTarget **out)
{
  const char *colon;
  g_autofree char *host = NULL;
  guint64 port;

  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');

      if (end == NULL || end[1] != ':')
        return FALSE;
      host = g_strndup (text + 1, (gsize) (end - text - 1));
      colon = end + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon == NULL)
        return FALSE;
      host = g_strndup (text, (gsize) (colon - text));
    }
  if (*host == '\0' || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return FALSE;
  *out = relais_smtp_target_new (host, (guint16) port);
  return TRUE;
}

static const char *
status_name (RelaisDeliveryStatus status)
{
  switch (status)
    {
    case RELAIS_DELIVERY_OK: return "ok";
    case RELAIS_DELIVERY_PERMFAIL: return "permfail";
    case RELAIS_DELIVERY_TEMPFAIL:
    default: return "tempfail";
    }
}

static void
deliver_cb (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;

  run->ok = relais_smtp_client_deliver_finish (result, &run->error);
  g_main_loop_quit (run->loop);
}

static void
probe_cb (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;

  run->probe = relais_smtp_client_probe_finish (result, &run->error);
  run->ok = run->probe != NULL;
  g_main_loop_quit (run->loop);
}

int
main (int argc, char **argv)
{
  g_auto(GStrv) targets = NULL, to = NULL;
  g_autofree char *tls = NULL, *user = NULL, *password = NULL, *ca_file = NULL, *helo = NULL;
  g_autofree char *from = NULL, *rcpt_params = NULL, *mail_params = NULL, *message = NULL;
  gint timeout = 0;
  gboolean probe = FALSE, smtputf8 = FALSE, body_8bit = FALSE;
  const GOptionEntry entries[] = {
    { "target", 0, 0, G_OPTION_ARG_STRING_ARRAY, &targets, "Server to try, in order", "HOST:PORT" },
    { "tls", 0, 0, G_OPTION_ARG_STRING, &tls, "opportunistic (default), required or implicit", "MODE" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &user, "AUTH user name", "NAME" },
    { "password", 0, 0, G_OPTION_ARG_STRING, &password, "AUTH password", "PASSWORD" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file, "Trust this CA and verify certificates", "ABSPATH" },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &helo, "EHLO name", "FQDN" },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, "Envelope sender (empty: null path)", "ADDRESS" },
    { "to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to, "Recipient", "ADDRESS" },
    { "rcpt-params", 0, 0, G_OPTION_ARG_STRING, &rcpt_params, "RCPT DSN parameters (all recipients)", "PARAMS" },
    { "mail-params", 0, 0, G_OPTION_ARG_STRING, &mail_params, "MAIL DSN parameters", "PARAMS" },
    { "message", 0, 0, G_OPTION_ARG_FILENAME, &message, "Message file, CRLF line ends", "FILE" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "Every timeout, in seconds", "SECONDS" },
    { "smtputf8", 0, 0, G_OPTION_ARG_NONE, &smtputf8, "The message needs SMTPUTF8", NULL },
    { "8bit", 0, 0, G_OPTION_ARG_NONE, &body_8bit, "The body is 8BITMIME", NULL },
    { "probe", 0, 0, G_OPTION_ARG_NONE, &probe, "Test the connection only (TestRelayHost)", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- send one message with the Relais SMTP client");
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisSmtpDelivery) d = relais_smtp_delivery_new ();
  Run run = { 0 };

  /* stdout is for the results: every log line goes to stderr */
  g_log_writer_default_set_use_stderr (TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (targets == NULL || (!probe && (to == NULL || message == NULL)))
    {
      g_printerr ("--target is required, and --to and --message unless --probe\n");
      return 2;
    }
  for (guint i = 0; targets[i] != NULL; i++)
    {
      RelaisSmtpTarget *target = NULL;

      if (!parse_target (targets[i], &target))
        {
          g_printerr ("bad --target %s: use HOST:PORT or [IPV6]:PORT\n", targets[i]);
          return 2;
        }
      g_ptr_array_add (d->targets, target);
    }
  if (tls == NULL || g_str_equal (tls, "opportunistic"))
    d->tls_mode = RELAIS_SMTP_TLS_OPPORTUNISTIC;
  else if (g_str_equal (tls, "required"))
    d->tls_mode = RELAIS_SMTP_TLS_STARTTLS_REQUIRED;
  else if (g_str_equal (tls, "implicit"))
    d->tls_mode = RELAIS_SMTP_TLS_IMPLICIT;
  else
    {
      g_printerr ("bad --tls %s: opportunistic, required or implicit\n", tls);
      return 2;
    }
  if (ca_file != NULL)
    {
      d->tls_database = g_tls_file_database_new (ca_file, &error);
      if (d->tls_database == NULL)
        {
          g_printerr ("--ca-file %s: %s\n", ca_file, error->message);
          return 2;
        }
      d->verify_certificate = TRUE;
    }
  d->helo_name = g_strdup (helo != NULL ? helo : "client.relais.test");
  d->username = g_steal_pointer (&user);
  d->password = g_steal_pointer (&password);
  g_free (d->sender);
  d->sender = g_strdup (from != NULL ? from : "");
  d->mail_params = g_steal_pointer (&mail_params);
  d->message_path = g_steal_pointer (&message);
  d->smtputf8 = smtputf8;
  d->body_8bit = body_8bit;
  for (guint i = 0; to != NULL && to[i] != NULL; i++)
    g_ptr_array_add (d->recipients, relais_smtp_recipient_new (to[i], rcpt_params));
  if (timeout > 0)
    {
      d->timeouts.connect = d->timeouts.greeting = d->timeouts.command = (guint) timeout;
      d->timeouts.data = d->timeouts.data_block = d->timeouts.final_dot = (guint) timeout;
    }

  run.loop = g_main_loop_new (NULL, FALSE);
  if (probe)
    relais_smtp_client_probe_async (d, NULL, probe_cb, &run);
  else
    relais_smtp_client_deliver_async (d, NULL, deliver_cb, &run);
  g_main_loop_run (run.loop);
  g_main_loop_unref (run.loop);

  if (probe && run.probe != NULL)
    {
      g_autofree char *text = g_variant_print (run.probe, TRUE);

      printf ("%s\n", text);
      g_variant_unref (run.probe);
    }
  for (guint i = 0; i < d->recipients->len; i++)
    {
      RelaisSmtpRecipient *r = d->recipients->pdata[i];

      printf ("%s %s %s\n", r->address, status_name (r->status), r->reply != NULL ? r->reply : "");
    }
  printf ("session host=%s tls=%s auth=%s bytes=%" G_GOFFSET_FORMAT "\n",
          d->connected_host != NULL ? d->connected_host : "none", d->tls ? "yes" : "no",
          d->authenticated ? "yes" : "no", d->bytes_sent);
  if (d->tls_description != NULL)
    printf ("tls-description %s\n", d->tls_description);
  if (!run.ok)
    {
      g_printerr ("relais-smtp-send: %s\n", run.error->message);
      g_error_free (run.error);
      return 1;
    }
  return 0;
}
