/* SPDX-License-Identifier: GPL-3.0-or-later
 * The antivirus client (SPEC §4.2) against a real clamd started by
 * tests/tools/with-clamd (its own EICAR signature; RELAIS_TEST_CLAMD_UNIX and
 * RELAIS_TEST_CLAMD_TCP), and against fake servers in the test that close at
 * once, never answer or answer nonsense: the AntivirusSocket syntax, CLEAN,
 * VIRUS with the signature name, clamd's size limit, the MAX_BYTES cut,
 * unreachable sockets, missing spool files, the timeout and cancellation. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "relais-clamd.h"
#include "relais-error.h"

/* The EICAR test string, in two halves so this source is not itself found. */
#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

static char *tmpdir;

static const char *
env (const char *name)
{
  const char *value = g_getenv (name);

  if (value == NULL || *value == '\0')
    g_error ("%s is not set: run this test through tests/tools/with-clamd", name);
  return value;
}

static char *
write_message (const char *name, const char *body, gsize padding)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  g_autoptr(GString) text = g_string_new ("From: <sender@example.net>\r\n"
                                          "To: <alice@relais.test>\r\n"
                                          "Subject: antivirus test\r\n\r\n");
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < padding; i += 64)
    g_string_append (text, "All work and no play makes a dull message, line after line.\r\n");
  g_string_append (text, body);
  g_assert_true (g_file_set_contents (path, text->str, text->len, &error));
  g_assert_no_error (error);
  return path;
}

/* ---- running the asynchronous calls ---- */

typedef struct {
  GAsyncResult *result;
} Wait;

static void
done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *w = user_data;

  (void) source;
  w->result = g_object_ref (result);
}

static GAsyncResult *
wait_result (Wait *w)
{
  while (w->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return w->result;
}

static RelaisClamdAnswer *
scan (const char *spec, const char *path, goffset max_bytes, guint timeout_ms, GCancellable *cancellable,
      GError **error)
{
  Wait w = { NULL };
  RelaisClamdAnswer *answer;

  relais_clamd_scan_async (spec, path, max_bytes, timeout_ms, cancellable, done_cb, &w);
  answer = relais_clamd_scan_finish (wait_result (&w), error);
  g_object_unref (w.result);
  return answer;
}

/* ---- the setting ---- */

static void
test_address_parse (void)
{
  static const struct { const char *spec; const char *kind; const char *where; guint16 port; } good[] = {
    { "/run/clamav/clamd.ctl", "unix", "/run/clamav/clamd.ctl", 0 },
    { "127.0.0.1:3310", "inet", "127.0.0.1", 3310 },
    { "[::1]:3310", "inet", "::1", 3310 },
    { "[2001:db8::10]:65535", "inet", "2001:db8::10", 65535 },
    { "clamd.relais.test:1", "name", "clamd.relais.test", 1 },
    { "localhost:3310", "name", "localhost", 3310 },
  };
  static const struct { const char *spec; const char *message; } bad[] = {
    { "", "AntivirusSocket: empty; give clamd's Unix socket path or HOST:PORT" },
    { "clamd.ctl", "AntivirusSocket: 'clamd.ctl' is neither an absolute Unix socket path nor HOST:PORT" },
    { "run/clamav/clamd.ctl", "AntivirusSocket: 'run/clamav/clamd.ctl' is neither an absolute Unix socket path nor HOST:PORT" },
    { "localhost", "AntivirusSocket: 'localhost' is neither an absolute Unix socket path nor HOST:PORT" },
    { ":3310", "AntivirusSocket: ':3310' is neither an absolute Unix socket path nor HOST:PORT" },
    { "[::1]", "AntivirusSocket: '[::1]' is neither an absolute Unix socket path nor HOST:PORT" },
    { "[::1:3310", "AntivirusSocket: '[::1:3310' is neither an absolute Unix socket path nor HOST:PORT" },
    { "127.0.0.1:", "AntivirusSocket: '' in '127.0.0.1:' is not a port number (1 to 65535)" },
    { "127.0.0.1:0", "AntivirusSocket: '0' in '127.0.0.1:0' is not a port number (1 to 65535)" },
    { "127.0.0.1:65536", "AntivirusSocket: '65536' in '127.0.0.1:65536' is not a port number (1 to 65535)" },
    { "127.0.0.1:33x", "AntivirusSocket: '33x' in '127.0.0.1:33x' is not a port number (1 to 65535)" },
    { "127.0.0.1:-1", "AntivirusSocket: '-1' in '127.0.0.1:-1' is not a port number (1 to 65535)" },
    { "::1:3310", "AntivirusSocket: '::1:3310': write an IPv6 address in brackets, as [::1]:3310" },
    { "[127.0.0.1]:3310", "AntivirusSocket: '127.0.0.1' in '[127.0.0.1]:3310' is not an IPv6 address" },
    { "[clamd]:3310", "AntivirusSocket: 'clamd' in '[clamd]:3310' is not an IPv6 address" },
    { "192.0.2.300:3310", "AntivirusSocket: '192.0.2.300' in '192.0.2.300:3310' is neither an IPv4 address nor a host name" },
    { "clamd host:3310", "AntivirusSocket: 'clamd host' in 'clamd host:3310' is neither an IPv4 address nor a host name" },
    { "-clamd:3310", "AntivirusSocket: '-clamd' in '-clamd:3310' is neither an IPv4 address nor a host name" },
    { "clamd..test:3310", "AntivirusSocket: 'clamd..test' in 'clamd..test:3310' is neither an IPv4 address nor a host name" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GSocketConnectable) address = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("good: %s", good[i].spec);
      g_assert_true (relais_clamd_address_parse (good[i].spec, &address, &error));
      g_assert_no_error (error);
      if (g_str_equal (good[i].kind, "unix"))
        {
          g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (address));
          g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)), ==, good[i].where);
        }
      else if (g_str_equal (good[i].kind, "inet"))
        {
          g_autofree char *ip = NULL;

          g_assert_true (G_IS_INET_SOCKET_ADDRESS (address));
          ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
          g_assert_cmpstr (ip, ==, good[i].where);
          g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)), ==, good[i].port);
        }
      else
        {
          g_assert_true (G_IS_NETWORK_ADDRESS (address));
          g_assert_cmpstr (g_network_address_get_hostname (G_NETWORK_ADDRESS (address)), ==, good[i].where);
          g_assert_cmpuint (g_network_address_get_port (G_NETWORK_ADDRESS (address)), ==, good[i].port);
        }
      /* validation alone */
      g_assert_true (relais_clamd_address_parse (good[i].spec, NULL, NULL));
    }

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GSocketConnectable) address = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("bad: %s", bad[i].spec);
      g_assert_false (relais_clamd_address_parse (bad[i].spec, &address, &error));
      g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, ==, bad[i].message);
      g_assert_null (address);
    }

  {
    g_autoptr(GError) error = NULL;
    g_autofree char *long_path = g_strnfill (200, 'a');

    long_path[0] = '/';
    g_assert_false (relais_clamd_address_parse (long_path, NULL, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "is too long (at most 107 bytes)"));
    g_clear_error (&error);
    g_assert_false (relais_clamd_address_parse (NULL, NULL, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_false (relais_clamd_address_parse ("h\xc3\x28:1", NULL, &error));
    g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_answer_parse (void)
{
  static const struct { const char *reply; RelaisClamdResult result; const char *text; } cases[] = {
    { "stream: OK", RELAIS_CLAMD_CLEAN, NULL },
    { "stream: OK\n", RELAIS_CLAMD_CLEAN, NULL },
    { "stream: Eicar-Test-Signature FOUND", RELAIS_CLAMD_VIRUS, "Eicar-Test-Signature" },
    { "stream: Win.Test.EICAR_HDB-1 FOUND\n", RELAIS_CLAMD_VIRUS, "Win.Test.EICAR_HDB-1" },
    { "stream: Bad\x01Name\xff FOUND", RELAIS_CLAMD_VIRUS, "Bad?Name?" },
    { "INSTREAM size limit exceeded. ERROR", RELAIS_CLAMD_ERROR, "INSTREAM size limit exceeded." },
    { "stream: Can't allocate memory ERROR", RELAIS_CLAMD_ERROR, "stream: Can't allocate memory" },
    { "COMMAND READ TIMED OUT", RELAIS_CLAMD_ERROR, "reply not understood: COMMAND READ TIMED OUT" },
    { "OK", RELAIS_CLAMD_ERROR, "reply not understood: OK" },
    { "stream:  FOUND", RELAIS_CLAMD_ERROR, "reply not understood: stream:  FOUND" },
    { "stream: FOUND", RELAIS_CLAMD_ERROR, "reply not understood: stream: FOUND" },
    { "", RELAIS_CLAMD_ERROR, "empty reply" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(RelaisClamdAnswer) answer = relais_clamd_answer_parse (cases[i].reply);
      g_autofree char *escaped = g_strescape (cases[i].reply, NULL);

      g_test_message ("reply: %s", escaped);
      g_assert_cmpint (answer->result, ==, cases[i].result);
      switch (answer->result)
        {
        case RELAIS_CLAMD_CLEAN:
          g_assert_null (answer->signature);
          g_assert_null (answer->message);
          break;
        case RELAIS_CLAMD_VIRUS:
          g_assert_null (answer->message);
          g_assert_cmpstr (answer->signature, ==, cases[i].text);
          break;
        case RELAIS_CLAMD_ERROR:
          g_assert_null (answer->signature);
          g_assert_cmpstr (answer->message, ==, cases[i].text);
          break;
        }
    }
}

/* ---- a real clamd ---- */

static void
check_virus_and_clean (const char *spec)
{
  g_autofree char *infected = write_message ("infected.eml", "Here it comes:\r\n" EICAR "\r\n", 0);
  g_autofree char *clean = write_message ("clean.eml", "Nothing to see here.\r\n", 20000);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) virus = scan (spec, infected, 0, 0, NULL, &error);
  g_autoptr(RelaisClamdAnswer) ok = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (virus);
  g_assert_cmpint (virus->result, ==, RELAIS_CLAMD_VIRUS);
  g_assert_cmpstr (virus->signature, ==, env ("RELAIS_TEST_CLAMD_SIGNATURE"));
  g_assert_null (virus->message);

  ok = scan (spec, clean, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ok);
  g_assert_cmpint (ok->result, ==, RELAIS_CLAMD_CLEAN);
  g_assert_null (ok->signature);
}

static void
test_unix (void)
{
  check_virus_and_clean (env ("RELAIS_TEST_CLAMD_UNIX"));
}

static void
test_tcp (void)
{
  const char *spec = env ("RELAIS_TEST_CLAMD_TCP");
  g_autofree char *by_name = g_strdup_printf ("localhost%s", strrchr (spec, ':'));

  check_virus_and_clean (spec);
  /* a host name (from /etc/hosts) works too */
  check_virus_and_clean (by_name);
}

/* A virus in the second chunk and beyond: the file is really streamed whole. */
static void
test_virus_deep (void)
{
  g_autofree char *path = write_message ("deep.eml", EICAR "\r\n", 200 * 1024);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = scan (env ("RELAIS_TEST_CLAMD_UNIX"), path, 0, 0, NULL, &error);
  g_autoptr(RelaisClamdAnswer) cut = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (answer->result, ==, RELAIS_CLAMD_VIRUS);

  /* with MAX_BYTES below the virus, it is not sent, so not found */
  cut = scan (env ("RELAIS_TEST_CLAMD_UNIX"), path, 100 * 1024, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cut->result, ==, RELAIS_CLAMD_CLEAN);
}

/* Larger than clamd's StreamMaxLength: clamd answers ERROR and closes, while
 * the client is still sending; with MAX_BYTES below the limit, it passes. */
static void
test_size_limit (void)
{
  guint64 limit = g_ascii_strtoull (env ("RELAIS_TEST_CLAMD_STREAM_MAX"), NULL, 10);
  g_autofree char *path = write_message ("big.eml", "end\r\n", limit * 3);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;
  g_autoptr(RelaisClamdAnswer) cut = NULL;

  for (int i = 0; i < 2; i++)
    {
      const char *spec = env (i == 0 ? "RELAIS_TEST_CLAMD_UNIX" : "RELAIS_TEST_CLAMD_TCP");

      g_clear_pointer (&answer, relais_clamd_answer_free);
      answer = scan (spec, path, 0, 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (answer->result, ==, RELAIS_CLAMD_ERROR);
      g_assert_cmpstr (answer->message, ==, "INSTREAM size limit exceeded.");
      g_assert_null (answer->signature);
    }

  cut = scan (env ("RELAIS_TEST_CLAMD_TCP"), path, limit / 2, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cut->result, ==, RELAIS_CLAMD_CLEAN);
}

static void
test_empty_file (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "empty.eml", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;

  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  answer = scan (env ("RELAIS_TEST_CLAMD_UNIX"), path, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (answer->result, ==, RELAIS_CLAMD_CLEAN);
}

/* Several scans at once on one main context. */
static void
test_concurrent (void)
{
  g_autofree char *infected = write_message ("c-infected.eml", EICAR, 1000);
  g_autofree char *clean = write_message ("c-clean.eml", "fine\r\n", 100000);
  Wait w[6] = { { NULL } };

  for (int i = 0; i < 6; i++)
    relais_clamd_scan_async (env (i % 3 ? "RELAIS_TEST_CLAMD_UNIX" : "RELAIS_TEST_CLAMD_TCP"),
                             i % 2 ? infected : clean, 0, 0, NULL, done_cb, &w[i]);
  for (int i = 0; i < 6; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaisClamdAnswer) answer = relais_clamd_scan_finish (wait_result (&w[i]), &error);

      g_assert_no_error (error);
      g_assert_cmpint (answer->result, ==, i % 2 ? RELAIS_CLAMD_VIRUS : RELAIS_CLAMD_CLEAN);
      g_object_unref (w[i].result);
    }
}

static void
test_ping (void)
{
  const char *specs[] = { env ("RELAIS_TEST_CLAMD_UNIX"), env ("RELAIS_TEST_CLAMD_TCP") };

  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      Wait w = { NULL };
      g_autoptr(GError) error = NULL;

      relais_clamd_ping_async (specs[i], 0, NULL, done_cb, &w);
      g_assert_true (relais_clamd_ping_finish (wait_result (&w), &error));
      g_assert_no_error (error);
      g_object_unref (w.result);
    }
}

/* ---- failures ---- */

static void
assert_unreachable (const char *spec, GError *error, const char *what)
{
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED);
  g_test_message ("%s: %s", spec, error->message);
  g_assert_nonnull (strstr (error->message, spec));
  g_assert_nonnull (strstr (error->message, what));
}

static void
test_missing_socket (void)
{
  g_autofree char *path = write_message ("m.eml", "hello\r\n", 0);
  g_autofree char *spec = g_build_filename (tmpdir, "no-such-clamd.sock", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = scan (spec, path, 0, 0, NULL, &error);
  Wait w = { NULL };

  g_assert_null (answer);
  assert_unreachable (spec, error, "cannot connect to clamd at");
  g_clear_error (&error);

  relais_clamd_ping_async (spec, 0, NULL, done_cb, &w);
  g_assert_false (relais_clamd_ping_finish (wait_result (&w), &error));
  assert_unreachable (spec, error, "cannot connect to clamd at");
  g_object_unref (w.result);
}

static void
test_refused (void)
{
  g_autofree char *path = write_message ("r.eml", "hello\r\n", 0);
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *spec = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;

  /* a port bound but not listening: nothing can connect to it */
  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  spec = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  answer = scan (spec, path, 0, 0, NULL, &error);
  g_assert_null (answer);
  assert_unreachable (spec, error, "cannot connect to clamd at");
}

static void
test_missing_file (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "no-such-message.eml", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = scan (env ("RELAIS_TEST_CLAMD_UNIX"), path, 0, 0, NULL, &error);

  g_assert_null (answer);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_bad_spec (void)
{
  g_autofree char *path = write_message ("b.eml", "hello\r\n", 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = scan ("clamd.sock", path, 0, 0, NULL, &error);

  g_assert_null (answer);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_INVALID_ARGUMENT);
}

/* A fake clamd on 127.0.0.1 that closes each connection at once, keeps it
 * open without a word, or answers nonsense as soon as the command arrives. */
typedef enum { FAKE_CLOSE, FAKE_SILENT, FAKE_NONSENSE, FAKE_ENDLESS } FakeMode;

typedef struct {
  GSocketService *service;
  FakeMode mode;
  GPtrArray *kept;  /* connections of FAKE_SILENT */
  char *spec;
  guint accepted;
} Fake;

static gboolean
fake_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer user_data)
{
  Fake *f = user_data;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  (void) service;
  (void) source;
  f->accepted++;
  switch (f->mode)
    {
    case FAKE_CLOSE:
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      break;
    case FAKE_SILENT:
      g_ptr_array_add (f->kept, g_object_ref (connection));
      break;
    case FAKE_NONSENSE:
      g_output_stream_write_all (out, "what?\n", 7, NULL, NULL, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      break;
    case FAKE_ENDLESS:
      {
        g_autofree char *text = g_strnfill (8192, 'x');
        g_output_stream_write_all (out, text, 8192, NULL, NULL, NULL);
        g_ptr_array_add (f->kept, g_object_ref (connection));
      }
      break;
    }
  return TRUE;
}

static void
fake_start (Fake *f, FakeMode mode)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  f->mode = mode;
  f->kept = g_ptr_array_new_with_free_func (g_object_unref);
  f->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (f->service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  g_signal_connect (f->service, "incoming", G_CALLBACK (fake_incoming), f);
  g_socket_service_start (f->service);
  f->spec = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
}

static void
fake_stop (Fake *f)
{
  g_socket_service_stop (f->service);
  g_socket_listener_close (G_SOCKET_LISTENER (f->service));
  g_clear_object (&f->service);
  g_ptr_array_unref (f->kept);
  g_free (f->spec);
}

static void
test_fake_close (void)
{
  g_autofree char *path = write_message ("fc.eml", "hello\r\n", 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;
  Fake f = { 0 };

  fake_start (&f, FAKE_CLOSE);
  answer = scan (f.spec, path, 0, 0, NULL, &error);
  g_assert_null (answer);
  g_assert_cmpuint (f.accepted, ==, 1);
  /* closed before the command, or while it was read: either way no answer */
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, f.spec));
  g_assert_true (strstr (error->message, "closed the connection without answering")
                 || strstr (error->message, "lost the connection")
                 || strstr (error->message, "cannot send"));
  fake_stop (&f);
}

static void
test_fake_nonsense (void)
{
  g_autofree char *path = write_message ("fn.eml", "hello\r\n", 300 * 1024);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;
  Wait w = { NULL };
  Fake f = { 0 };

  fake_start (&f, FAKE_NONSENSE);
  answer = scan (f.spec, path, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (answer->result, ==, RELAIS_CLAMD_ERROR);
  g_assert_cmpstr (answer->message, ==, "reply not understood: what?");

  relais_clamd_ping_async (f.spec, 0, NULL, done_cb, &w);
  g_assert_false (relais_clamd_ping_finish (wait_result (&w), &error));
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, f.spec));
  g_assert_nonnull (strstr (error->message, "answered 'what?' to PING"));
  g_object_unref (w.result);
  fake_stop (&f);
}

static void
test_fake_endless (void)
{
  g_autofree char *path = write_message ("fe.eml", "hello\r\n", 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;
  Fake f = { 0 };

  fake_start (&f, FAKE_ENDLESS);
  answer = scan (f.spec, path, 0, 0, NULL, &error);
  g_assert_null (answer);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "sent a reply longer than 4096 bytes"));
  fake_stop (&f);
}

static void
test_fake_silent (void)
{
  /* large enough to fill the socket buffers: the writes are stuck too */
  g_autofree char *path = write_message ("fs.eml", "hello\r\n", 8 * 1024 * 1024);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;
  gint64 start = g_get_monotonic_time ();
  Fake f = { 0 };

  fake_start (&f, FAKE_SILENT);
  answer = scan (f.spec, path, 0, 300, NULL, &error);
  g_assert_null (answer);
  g_assert_error (error, RELAIS_ERROR, RELAIS_ERROR_FAILED);
  g_assert_cmpstr (strstr (error->message, "clamd at "), ==, error->message);
  g_assert_nonnull (strstr (error->message, f.spec));
  g_assert_nonnull (strstr (error->message, "did not answer within 300 ms"));
  /* not before its time */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);
  fake_stop (&f);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autofree char *path = write_message ("cx.eml", "hello\r\n", 0);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisClamdAnswer) answer = NULL;
  Fake f = { 0 };

  fake_start (&f, FAKE_SILENT);
  g_timeout_add (50, cancel_cb, cancellable);
  answer = scan (f.spec, path, 0, 10000, cancellable, &error);
  g_assert_null (answer);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* cancelled before it starts */
  g_cancellable_cancel (cancelled);
  answer = scan (env ("RELAIS_TEST_CLAMD_UNIX"), path, 0, 0, cancelled, &error);
  g_assert_null (answer);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  fake_stop (&f);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("relais-test-clamd.XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/clamd/address-parse", test_address_parse);
  g_test_add_func ("/clamd/answer-parse", test_answer_parse);
  g_test_add_func ("/clamd/unix", test_unix);
  g_test_add_func ("/clamd/tcp", test_tcp);
  g_test_add_func ("/clamd/virus-deep", test_virus_deep);
  g_test_add_func ("/clamd/size-limit", test_size_limit);
  g_test_add_func ("/clamd/empty-file", test_empty_file);
  g_test_add_func ("/clamd/concurrent", test_concurrent);
  g_test_add_func ("/clamd/ping", test_ping);
  g_test_add_func ("/clamd/missing-socket", test_missing_socket);
  g_test_add_func ("/clamd/refused", test_refused);
  g_test_add_func ("/clamd/missing-file", test_missing_file);
  g_test_add_func ("/clamd/bad-spec", test_bad_spec);
  g_test_add_func ("/clamd/fake-close", test_fake_close);
  g_test_add_func ("/clamd/fake-nonsense", test_fake_nonsense);
  g_test_add_func ("/clamd/fake-endless", test_fake_endless);
  g_test_add_func ("/clamd/fake-silent", test_fake_silent);
  g_test_add_func ("/clamd/cancel", test_cancel);
  status = g_test_run ();

  {
    g_autoptr(GFile) dir = g_file_new_for_path (tmpdir);
    g_autoptr(GFileEnumerator) entries = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                                    G_FILE_QUERY_INFO_NONE, NULL, NULL);
    GFileInfo *info;

    while (entries && (info = g_file_enumerator_next_file (entries, NULL, NULL)))
      {
        g_autofree char *child = g_build_filename (tmpdir, g_file_info_get_name (info), NULL);
        g_unlink (child);
        g_object_unref (info);
      }
    g_rmdir (tmpdir);
    g_free (tmpdir);
  }
  return status;
}
