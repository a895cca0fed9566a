/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SMTP client's pure parts: reply line parsing (single and multi-line,
 * garbage, limits, text made printable) and dot-stuffing across every split
 * point of the input. The network dialogue is tested against real servers in
 * tests/integration/test_smtp_client.py. */
#include <string.h>

#include <glib.h>

#include "relais-error.h"
#include "relais-smtp-client.h"

/* Feeds LINES (NULL-terminated) and returns the last status; *TEXT gets the
 * joined reply when complete, the error when bad. */
static RelaisSmtpReplyStatus
feed (const char *const *lines, guint *code, char **text)
{
  g_autoptr(RelaisSmtpReply) reply = relais_smtp_reply_new ();
  RelaisSmtpReplyStatus status = RELAIS_SMTP_REPLY_MORE;

  *text = NULL;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *error = NULL;

      g_assert_cmpint (status, ==, RELAIS_SMTP_REPLY_MORE);
      status = relais_smtp_reply_add_line (reply, lines[i], strlen (lines[i]), &error);
      if (status == RELAIS_SMTP_REPLY_BAD)
        {
          g_assert_nonnull (error);
          *text = g_steal_pointer (&error);
          return status;
        }
      g_assert_null (error);
    }
  *code = reply->code;
  if (status == RELAIS_SMTP_REPLY_DONE)
    *text = relais_smtp_reply_to_string (reply);
  return status;
}

static void
test_replies (void)
{
  static const struct {
    const char *lines[4];
    RelaisSmtpReplyStatus status;
    guint code;
    const char *text;    /* joined reply, or a piece of the error */
  } cases[] = {
    { { "250 OK", NULL }, RELAIS_SMTP_REPLY_DONE, 250, "250 OK" },
    { { "220", NULL }, RELAIS_SMTP_REPLY_DONE, 220, "220" },
    { { "550 5.1.1 <a@b>: no such user", NULL }, RELAIS_SMTP_REPLY_DONE, 550,
      "550 5.1.1 <a@b>: no such user" },
    { { "250-mx.relais.test", "250-PIPELINING", "250 SIZE 1000", NULL }, RELAIS_SMTP_REPLY_DONE, 250,
      "250 mx.relais.test; PIPELINING; SIZE 1000" },
    { { "451-4.3.0 first", "451 4.3.0 second", NULL }, RELAIS_SMTP_REPLY_DONE, 451,
      "451 4.3.0 first; 4.3.0 second" },
    { { "250-", "250 last", NULL }, RELAIS_SMTP_REPLY_DONE, 250, "250 last" },
    { { "250-first", NULL }, RELAIS_SMTP_REPLY_MORE, 250, NULL },
    { { "354 go\x01 on\x7f", NULL }, RELAIS_SMTP_REPLY_DONE, 354, "354 go? on?" },
    { { "250 caf\xc3\xa9 \xff", NULL }, RELAIS_SMTP_REPLY_DONE, 250, "250 caf\xc3\xa9 \xef\xbf\xbd" },
    { { "250-a", "251 b", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "changed from 250 to 251" },
    { { "hello", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply: \"hello\"" },
    { { "", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply" },
    { { "25", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply" },
    { { "250OK", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply" },
    { { "150 early", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply" },
    { { "690 high", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply" },
    { { "2x0 x", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply" },
    { { "HTTP/1.1 400 Bad Request", NULL }, RELAIS_SMTP_REPLY_BAD, 0, "not an SMTP reply" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = NULL;
      guint code = 0;
      RelaisSmtpReplyStatus status;

      {
        g_autofree char *printable = g_strescape (cases[i].lines[0], NULL);

        g_test_message ("reply %s", printable);   /* TAP output must stay valid UTF-8 */
      }
      status = feed (cases[i].lines, &code, &text);
      g_assert_cmpint (status, ==, cases[i].status);
      if (status == RELAIS_SMTP_REPLY_BAD)
        g_assert_nonnull (strstr (text, cases[i].text));
      else
        {
          g_assert_cmpuint (code, ==, cases[i].code);
          g_assert_cmpstr (text, ==, cases[i].text);
        }
    }
}

static void
test_reply_limits (void)
{
  g_autoptr(RelaisSmtpReply) reply = relais_smtp_reply_new ();
  g_autoptr(RelaisSmtpReply) many = relais_smtp_reply_new ();
  g_autofree char *error = NULL;
  g_autofree char *longest = g_strnfill (RELAIS_SMTP_REPLY_LINE_MAX, 'x');
  g_autofree char *too_long = g_strnfill (RELAIS_SMTP_REPLY_LINE_MAX + 1, 'x');

  memcpy (longest, "250 ", 4);
  memcpy (too_long, "250 ", 4);
  g_assert_cmpint (relais_smtp_reply_add_line (reply, longest, strlen (longest), &error), ==,
                   RELAIS_SMTP_REPLY_DONE);
  g_assert_cmpint (relais_smtp_reply_add_line (reply, too_long, strlen (too_long), &error), ==,
                   RELAIS_SMTP_REPLY_BAD);
  g_assert_nonnull (strstr (error, "longer than"));
  g_clear_pointer (&error, g_free);

  for (guint i = 0; i < RELAIS_SMTP_REPLY_LINES_MAX; i++)
    g_assert_cmpint (relais_smtp_reply_add_line (many, "250-x", 5, &error), ==, RELAIS_SMTP_REPLY_MORE);
  g_assert_cmpint (relais_smtp_reply_add_line (many, "250-x", 5, &error), ==, RELAIS_SMTP_REPLY_BAD);
  g_assert_nonnull (strstr (error, "lines"));
}

static void
test_dot_stuff (void)
{
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "", "" },
    { "Hello\r\n", "Hello\r\n" },
    { ".\r\n", "..\r\n" },
    { ".leading dot\r\nmiddle . dot\r\n..two\r\n", "..leading dot\r\nmiddle . dot\r\n...two\r\n" },
    { "a\r\n.\r\n.b", "a\r\n..\r\n..b" },
    { "no newline at the end.", "no newline at the end." },
    { "x\r\n\r\n.\r\n", "x\r\n\r\n..\r\n" },
    { "a longer first line\n.then a dot\nand. more .\n\n.", "a longer first line\n..then a dot\nand. more .\n\n.." },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = strlen (cases[i].in);

      /* every split of the input in two calls gives the same output */
      for (gsize split = 0; split <= len; split++)
        {
          g_autoptr(GString) out = g_string_new (NULL);
          gboolean at_line_start = TRUE;

          relais_smtp_dot_stuff (cases[i].in, split, &at_line_start, out);
          relais_smtp_dot_stuff (cases[i].in + split, len - split, &at_line_start, out);
          g_assert_cmpstr (out->str, ==, cases[i].out);
          g_assert_cmpint (at_line_start, ==, len == 0 || cases[i].in[len - 1] == '\n');
        }
    }
}

static void
test_defaults (void)
{
  RelaisSmtpTimeouts t = relais_smtp_timeouts_default ();
  g_autoptr(RelaisSmtpDelivery) d = relais_smtp_delivery_new ();

  /* RFC 5321 §4.5.3.2 */
  g_assert_cmpuint (t.connect, ==, 30);
  g_assert_cmpuint (t.greeting, ==, 300);
  g_assert_cmpuint (t.command, ==, 300);
  g_assert_cmpuint (t.data, ==, 120);
  g_assert_cmpuint (t.data_block, ==, 180);
  g_assert_cmpuint (t.final_dot, ==, 600);
  g_assert_cmpuint (d->timeouts.final_dot, ==, 600);
  g_assert_cmpstr (d->sender, ==, "");
  g_assert_cmpint (d->tls_mode, ==, RELAIS_SMTP_TLS_OPPORTUNISTIC);
}

typedef struct {
  GMainLoop *loop;
  gboolean ok;
  GError *error;
} Wait;

static void
deliver_cb (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  Wait *w = user_data;

  w->ok = relais_smtp_client_deliver_finish (result, &w->error);
  g_main_loop_quit (w->loop);
}

/* A missing spool file is a local error: FALSE, and the recipient is
 * deferred, not bounced; no connection is attempted (the target would refuse). */
static void
test_missing_spool (void)
{
  g_autoptr(RelaisSmtpDelivery) d = relais_smtp_delivery_new ();
  RelaisSmtpRecipient *r = relais_smtp_recipient_new ("a@relais.test", NULL);
  Wait w = { g_main_loop_new (NULL, FALSE), FALSE, NULL };

  d->helo_name = g_strdup ("client.relais.test");
  d->message_path = g_strdup ("/nonexistent/relais/spool/file");
  g_ptr_array_add (d->targets, relais_smtp_target_new ("127.0.0.1", 9));
  g_ptr_array_add (d->recipients, r);
  relais_smtp_client_deliver_async (d, NULL, deliver_cb, &w);
  g_main_loop_run (w.loop);
  g_main_loop_unref (w.loop);
  g_assert_false (w.ok);
  g_assert_nonnull (strstr (w.error->message, "/nonexistent/relais/spool/file"));
  g_clear_error (&w.error);
  g_assert_cmpint (r->status, ==, RELAIS_DELIVERY_TEMPFAIL);
  g_assert_true (g_str_has_prefix (r->reply, "4.3.0 "));
  g_assert_null (d->connected_host);
}

/* A line break in the envelope would inject commands: refused locally. */
static void
test_line_break (void)
{
  g_autoptr(RelaisSmtpDelivery) d = relais_smtp_delivery_new ();
  RelaisSmtpRecipient *r = relais_smtp_recipient_new ("a@relais.test\r\nRSET", NULL);
  Wait w = { g_main_loop_new (NULL, FALSE), FALSE, NULL };

  d->helo_name = g_strdup ("client.relais.test");
  d->message_path = g_strdup ("/dev/null");
  g_ptr_array_add (d->targets, relais_smtp_target_new ("127.0.0.1", 9));
  g_ptr_array_add (d->recipients, r);
  relais_smtp_client_deliver_async (d, NULL, deliver_cb, &w);
  g_main_loop_run (w.loop);
  g_main_loop_unref (w.loop);
  g_assert_false (w.ok);
  g_assert_error (w.error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&w.error);
  g_assert_cmpint (r->status, ==, RELAIS_DELIVERY_TEMPFAIL);
  g_assert_null (d->connected_host);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* The caller cancels while the server has not said a word: the delivery
 * ends at once with G_IO_ERROR_CANCELLED and a deferred recipient. */
static void
test_cancel (void)
{
  g_autoptr(RelaisSmtpDelivery) d = relais_smtp_delivery_new ();
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  RelaisSmtpRecipient *r = relais_smtp_recipient_new ("a@relais.test", NULL);
  Wait w = { g_main_loop_new (NULL, FALSE), FALSE, NULL };
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  gint64 start = g_get_monotonic_time ();

  /* listening, never accepting: the connection completes, no greeting comes */
  g_assert_true (g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
  g_assert_no_error (error);
  d->helo_name = g_strdup ("client.relais.test");
  d->message_path = g_strdup ("/dev/null");
  g_ptr_array_add (d->targets, relais_smtp_target_new ("127.0.0.1",
                   g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound))));
  g_ptr_array_add (d->recipients, r);
  relais_smtp_client_deliver_async (d, cancellable, deliver_cb, &w);
  g_timeout_add (200, cancel_cb, cancellable);
  g_main_loop_run (w.loop);
  g_main_loop_unref (w.loop);
  g_assert_false (w.ok);
  g_assert_error (w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&w.error);
  g_assert_cmpint (r->status, ==, RELAIS_DELIVERY_TEMPFAIL);
  g_assert_true (g_str_has_prefix (r->reply, "4.3.0 "));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relais/smtp-client/replies", test_replies);
  g_test_add_func ("/relais/smtp-client/reply-limits", test_reply_limits);
  g_test_add_func ("/relais/smtp-client/dot-stuff", test_dot_stuff);
  g_test_add_func ("/relais/smtp-client/defaults", test_defaults);
  g_test_add_func ("/relais/smtp-client/missing-spool", test_missing_spool);
  g_test_add_func ("/relais/smtp-client/line-break", test_line_break);
  g_test_add_func ("/relais/smtp-client/cancel", test_cancel);
  return g_test_run ();
}
