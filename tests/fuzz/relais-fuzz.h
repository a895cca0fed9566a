/* SPDX-License-Identifier: GPL-3.0-or-later
 * What every fuzz harness shares: the libFuzzer entry point's prototype and
 * relais_fuzz_init(), called first by each LLVMFuzzerTestOneInput: a critical
 * or a warning (a g_return_if_fail hit, an assertion on input) aborts, so
 * the fuzzer reports it; messages, info and debug records are dropped, so a
 * run prints only the fuzzer's own lines. */
#pragma once

#include <glib.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static inline GLogWriterOutput
relais_fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) == 0)
    return G_LOG_WRITER_HANDLED;
  g_log_writer_default (level, fields, n_fields, user_data);
  abort ();
}

static inline void
relais_fuzz_init (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  g_log_set_writer_func (relais_fuzz_log_writer, NULL, NULL);
}
