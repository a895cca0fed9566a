/* SPDX-License-Identifier: GPL-3.0-or-later
 * Helpers shared by the unit tests. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>

/* Removes PATH and everything under it (symlinks are removed, not followed). */
static inline void
relais_test_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_unlink (path);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      relais_test_remove_tree (child);
    }
  g_rmdir (path);
}
