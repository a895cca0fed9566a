/* SPDX-License-Identifier: GPL-3.0-or-later
 * Local delivery into a Maildir: layout, headers, CRLF -> LF, unique names,
 * failures mapped to TEMPFAIL/PERMFAIL. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "relais-maildir.h"
#include "relais-test-util.h"

typedef struct {
  char *state_dir;
  char *spool_path;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fixture->state_dir = g_dir_make_tmp ("relais-maildir-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->spool_path = g_build_filename (fixture->state_dir, "spool-message", NULL);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  relais_test_remove_tree (fixture->state_dir);
  g_free (fixture->state_dir);
  g_free (fixture->spool_path);
}

static void
write_spool (Fixture *fixture, const char *content, gssize len)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (fixture->spool_path, content, len, &error);
  g_assert_no_error (error);
}

static GPtrArray *
list_dir (const char *path)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  return names;
}

static char *
replace_crlf (const char *text, gsize len)
{
  GString *s = g_string_sized_new (len);

  for (gsize i = 0; i < len; i++)
    {
      if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
        continue;
      g_string_append_c (s, text[i]);
    }
  return g_string_free (s, FALSE);
}

static void
assert_mode_0700 (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
}

static void
test_deliver (Fixture *fixture, gconstpointer data)
{
  const char *message = "Received: from x\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n";
  g_autofree char *reason = NULL;
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "alice");
  g_autofree char *tmp_dir = g_build_filename (maildir, "tmp", NULL);
  g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
  g_autofree char *cur_dir = g_build_filename (maildir, "cur", NULL);
  g_autofree char *expected_suffix = NULL;
  g_autoptr(GPtrArray) tmp_names = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *basename = NULL;
  gsize len;
  RelaisDeliveryStatus status;

  write_spool (fixture, message, -1);
  g_assert_false (g_file_test (maildir, G_FILE_TEST_EXISTS));

  status = relais_maildir_deliver (fixture->state_dir, NULL, "alice", "bob@example.org",
                                   "alice@example.com", fixture->spool_path, &reason, &path);
  g_assert_cmpint (status, ==, RELAIS_DELIVERY_OK);
  g_assert_true (g_str_has_prefix (reason, "2.0.0 "));

  /* The missing account directory was created, private. */
  assert_mode_0700 (maildir);
  assert_mode_0700 (tmp_dir);
  assert_mode_0700 (new_dir);
  assert_mode_0700 (cur_dir);

  g_assert_nonnull (path);
  g_assert_true (g_str_has_prefix (path, new_dir));
  g_file_get_contents (path, &content, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (content, ==,
                   "Return-Path: <bob@example.org>\n"
                   "Delivered-To: alice@example.com\n"
                   "Received: from x\nSubject: hi\n\nline 1\nline 2\n");
  g_assert_null (strchr (content, '\r'));

  /* Maildir++ size in the name; nothing left in tmp/. */
  expected_suffix = g_strdup_printf (",S=%" G_GSIZE_FORMAT, len);
  g_assert_true (g_str_has_suffix (path, expected_suffix));
  basename = g_path_get_basename (path);
  g_assert_null (strchr (basename, ':'));
  g_assert_null (strchr (basename, '/'));
  g_assert_true (g_regex_match_simple ("^[0-9]+\\.M[0-9]{6}P[0-9]+Q[0-9]+\\.", basename, 0, 0));
  tmp_names = list_dir (tmp_dir);
  g_assert_cmpuint (tmp_names->len, ==, 0);
}

static void
test_null_sender_and_injection (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autofree char *path2 = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GError) error = NULL;

  write_spool (fixture, "Subject: x\r\n\r\nbody\r\n", -1);
  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, NULL, "alice", "", "alice@example.com",
                                           fixture->spool_path, NULL, &path),
                   ==, RELAIS_DELIVERY_OK);
  g_file_get_contents (path, &content, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (content, "Return-Path: <>\nDelivered-To: alice@example.com\n"));
  g_clear_pointer (&content, g_free);

  /* A line break in an envelope address never makes a header of its own. */
  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, NULL, "alice", "a@b\r\nX-Evil: 1",
                                           "alice@example.com", fixture->spool_path, NULL, &path2),
                   ==, RELAIS_DELIVERY_OK);
  g_file_get_contents (path2, &content, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (content, "Return-Path: <a@bX-Evil: 1>\n"));
}

static void
test_crlf_across_buffers (Fixture *fixture, gconstpointer data)
{
  GString *message = g_string_new (NULL);
  g_autofree char *spool = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GError) error = NULL;
  gsize spool_len, len;

  /* Lines of every length, so that some CRLF pairs straddle the 64 KiB read
   * chunks; a lone CR and a CR at the very end are kept. */
  for (guint i = 0; message->len < 300 * 1024; i++)
    {
      for (guint j = 0; j < i % 97; j++)
        g_string_append_c (message, 'a' + (char) (j % 26));
      g_string_append (message, i % 13 == 0 ? "\rx\r\n" : "\r\n");
    }
  g_string_append (message, "end\r");
  spool_len = message->len;
  spool = g_string_free (message, FALSE);
  write_spool (fixture, spool, (gssize) spool_len);
  body = replace_crlf (spool, spool_len);
  expected = g_strconcat ("Return-Path: <s@example.org>\nDelivered-To: r@example.com\n", body, NULL);

  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, NULL, "carol", "s@example.org",
                                           "r@example.com", fixture->spool_path, NULL, &path),
                   ==, RELAIS_DELIVERY_OK);
  g_file_get_contents (path, &content, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, strlen (expected));
  g_assert_true (memcmp (content, expected, len) == 0);
  g_assert_true (g_str_has_suffix (content, "end\r"));
}

typedef struct {
  Fixture *fixture;
  GMutex lock;
  GPtrArray *paths;
} UniqueData;

static gpointer
deliver_many_thread (gpointer user_data)
{
  UniqueData *unique = user_data;

  for (guint i = 0; i < 10; i++)
    {
      char *path = NULL;
      RelaisDeliveryStatus status;

      status = relais_maildir_deliver (unique->fixture->state_dir, NULL, "dave", "s@example.org",
                                       "dave@example.com", unique->fixture->spool_path, NULL, &path);
      g_assert_cmpint (status, ==, RELAIS_DELIVERY_OK);
      g_mutex_lock (&unique->lock);
      g_ptr_array_add (unique->paths, path);
      g_mutex_unlock (&unique->lock);
    }
  return NULL;
}

static void
test_unique_names (Fixture *fixture, gconstpointer data)
{
  UniqueData unique = { fixture, { 0 }, g_ptr_array_new_with_free_func (g_free) };
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "dave");
  g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
  g_autoptr(GPtrArray) names = NULL;
  GThread *threads[4];

  write_spool (fixture, "Subject: many\r\n\r\nx\r\n", -1);
  g_mutex_init (&unique.lock);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("deliver", deliver_many_thread, &unique);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_mutex_clear (&unique.lock);

  g_assert_cmpuint (unique.paths->len, ==, 40);
  for (guint i = 0; i < unique.paths->len; i++)
    g_assert_true (g_hash_table_add (seen, g_ptr_array_index (unique.paths, i)));
  names = list_dir (new_dir);
  g_assert_cmpuint (names->len, ==, 40);
  g_ptr_array_unref (unique.paths);
}

static void
test_no_such_account (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RelaisConfig) config = relais_config_new_default ();
  g_autofree char *reason = NULL;
  g_autofree char *reason2 = NULL;
  g_autofree char *mail_dir = g_build_filename (fixture->state_dir, "mail", NULL);
  char *path = NULL;

  write_spool (fixture, "Subject: x\r\n\r\n", -1);
  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, config, "nobody", "s@example.org",
                                           "nobody@example.com", fixture->spool_path, &reason, &path),
                   ==, RELAIS_DELIVERY_PERMFAIL);
  g_assert_true (g_str_has_prefix (reason, "5.1.1 "));
  g_assert_null (path);

  /* A login that would escape the mail directory is never used as a path. */
  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, NULL, "../escape", "s@example.org",
                                           "x@example.com", fixture->spool_path, &reason2, NULL),
                   ==, RELAIS_DELIVERY_PERMFAIL);
  g_assert_true (g_str_has_prefix (reason2, "5.1.1 "));
  g_assert_false (g_file_test (mail_dir, G_FILE_TEST_EXISTS));
}

static void
test_account_in_config (Fixture *fixture, gconstpointer data)
{
  g_autoptr(RelaisConfig) base = relais_config_new_default ();
  g_autoptr(RelaisConfig) with_domain = NULL;
  g_autoptr(RelaisConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  RelaisAccount account = { (char *) "erin", (char *) "$6$salt$hash", NULL, NULL };

  with_domain = relais_config_add_local_domain (base, "example.com", &error);
  g_assert_no_error (error);
  config = relais_config_put_account (with_domain, &account, TRUE, &error);
  g_assert_no_error (error);

  write_spool (fixture, "Subject: x\r\n\r\n", -1);
  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, config, "erin", "s@example.org",
                                           "erin@example.com", fixture->spool_path, NULL, NULL),
                   ==, RELAIS_DELIVERY_OK);
}

static void
test_missing_spool (Fixture *fixture, gconstpointer data)
{
  g_autofree char *reason = NULL;

  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, NULL, "alice", "s@example.org",
                                           "alice@example.com", fixture->spool_path, &reason, NULL),
                   ==, RELAIS_DELIVERY_PERMFAIL);
  g_assert_true (g_str_has_prefix (reason, "5.3.0 "));
}

static void
test_tempfail (Fixture *fixture, gconstpointer data)
{
  g_autofree char *maildir = relais_maildir_path (fixture->state_dir, "frank");
  g_autofree char *new_path = g_build_filename (maildir, "new", NULL);
  g_autofree char *tmp_dir = g_build_filename (maildir, "tmp", NULL);
  g_autofree char *reason = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tmp_names = NULL;

  /* new/ is in the way (a file): a local problem, so try again later. */
  g_assert_cmpint (g_mkdir_with_parents (tmp_dir, 0700), ==, 0);
  g_file_set_contents (new_path, "", 0, &error);
  g_assert_no_error (error);
  write_spool (fixture, "Subject: x\r\n\r\n", -1);

  g_assert_cmpint (relais_maildir_deliver (fixture->state_dir, NULL, "frank", "s@example.org",
                                           "frank@example.com", fixture->spool_path, &reason, NULL),
                   ==, RELAIS_DELIVERY_TEMPFAIL);
  g_assert_true (g_str_has_prefix (reason, "4.3.0 "));
  /* The reason may reach a bounce: no local paths in it. */
  g_assert_null (strstr (reason, fixture->state_dir));
  tmp_names = list_dir (tmp_dir);
  g_assert_cmpuint (tmp_names->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/relais/maildir/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("deliver", test_deliver);
  ADD ("null-sender-and-injection", test_null_sender_and_injection);
  ADD ("crlf-across-buffers", test_crlf_across_buffers);
  ADD ("unique-names", test_unique_names);
  ADD ("no-such-account", test_no_such_account);
  ADD ("account-in-config", test_account_in_config);
  ADD ("missing-spool", test_missing_spool);
  ADD ("tempfail", test_tempfail);
#undef ADD

  return g_test_run ();
}
