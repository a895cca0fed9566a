/* SPDX-License-Identifier: GPL-3.0-or-later
 * Replays inputs through one fuzz harness without libFuzzer: linked with a
 * fuzz-NAME.c, it feeds each file named on the command line, and each file
 * of each directory named (sorted, not recursive), to LLVMFuzzerTestOneInput
 * once. The meson tests `fuzz-NAME` (suite fuzz) run it over
 * tests/fuzz/corpus/NAME, so every build, gcc or clang, plain or under
 * ASan/UBSan, runs every seed and every reproducer of a crash once found.
 * Prints TAP: one line per input. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "relais-fuzz.h"

/* g_ptr_array_sort hands pointers to the elements. */
static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static void
add_path (GPtrArray *files, const char *path)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_ptr_array_add (files, g_strdup (path));
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  names = g_ptr_array_new_with_free_func (g_free);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    if (g_file_test (g_ptr_array_index (names, i), G_FILE_TEST_IS_REGULAR))
      g_ptr_array_add (files, g_strdup (g_ptr_array_index (names, i)));
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    add_path (files, argv[i]);
  if (files->len == 0)
    {
      printf ("Bail out! no input in %s\n", argv[1]);
      return 1;
    }
  printf ("1..%u\n", files->len);
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);
      g_autofree char *contents = NULL;
      g_autofree guint8 *data = NULL;
      gsize length = 0;
      g_autoptr (GError) error = NULL;

      if (!g_file_get_contents (path, &contents, &length, &error))
        {
          printf ("not ok %u %s # %s\n", i + 1, path, error->message);
          return 1;
        }
      /* exactly LENGTH bytes, as libFuzzer gives them: ASan sees a read past the end */
      data = g_malloc (MAX (length, 1));
      memcpy (data, contents, length);
      fflush (stdout);
      LLVMFuzzerTestOneInput (data, length);
      printf ("ok %u %s\n", i + 1, path);
    }
  return 0;
}
