/* SPDX-License-Identifier: GPL-3.0-or-later
 * The per-client-address counters the policy reads (SPEC §4.4, §4.5):
 * simultaneous connections, new connections and messages in the current
 * minute, 550 5.1.1 answers since local midnight, and the nonexistent-account
 * block. The daemon owns one RelaisAnvil; it lives on the main loop only, so
 * it has no locking. Every call takes "now" in unix seconds (the daemon passes
 * relais_clock_now(), tests pass what they like).
 *
 * Keys are client addresses as text, normalized here: IPv4-mapped IPv6
 * (::ffff:a.b.c.d) counts as the IPv4 address, IPv6 is written canonically;
 * text that is not an address is used as is.
 *
 * "Per minute" is the calendar minute of the clock (hh:mm:00 to hh:mm:59):
 * every attempt in a minute counts, refused ones included, so a client over a
 * limit stays refused until the next minute starts. The nonexistent count
 * restarts at local midnight (relais-clock.h; TZ honoured).
 *
 * Memory: an address is forgotten once it has no open connection, nothing
 * counted in the current minute, no nonexistent count for the current day and
 * no block. Idle addresses are swept lazily, in one pass at most once per
 * calendar minute (on the first event of a new minute). Past the cap (100,000
 * addresses by default) a new address first forgets the least recently seen
 * address that has no open connection and no block (losing its counts);
 * addresses with open connections or a block are never dropped, so the table
 * may grow past the cap only by those. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RELAIS_ANVIL_DEFAULT_MAX_ADDRESSES 100000

typedef struct _RelaisAnvil RelaisAnvil;

/* The counters as the next event would see them (relais_anvil_peek), for the
 * policy trace: each includes that next event. */
typedef struct {
  guint connections_now;          /* open connections, plus the next one */
  guint connections_this_minute;  /* connections this minute, plus the next one */
  guint messages_this_minute;     /* messages this minute, plus the next one */
  guint nonexistent_recipients;   /* 550 5.1.1 since local midnight, plus the next one */
  gint64 blocked_until;           /* end of the block, 0 when not blocked */
} RelaisAnvilCounts;

/* One blocked address (relais_anvil_list_blocked). */
typedef struct {
  char *address;
  gint64 until;
} RelaisAnvilBlock;

void relais_anvil_block_free (RelaisAnvilBlock *block);

/* MAX_ADDRESSES: the cap, 0 for RELAIS_ANVIL_DEFAULT_MAX_ADDRESSES. */
RelaisAnvil *relais_anvil_new (guint max_addresses);
RelaisAnvil *relais_anvil_ref (RelaisAnvil *anvil);
void         relais_anvil_unref (RelaisAnvil *anvil);

/* A new connection from ADDRESS: counts it, and gives the open connections
 * and the connections this minute, both including it (either out may be NULL).
 * Every connection counted must be given back with relais_anvil_disconnect. */
void  relais_anvil_connect (RelaisAnvil *anvil, const char *address, gint64 now,
                            guint *connections_now, guint *connections_this_minute);
void  relais_anvil_disconnect (RelaisAnvil *anvil, const char *address);
/* A message (MAIL command) from ADDRESS: the messages this minute, this one included. */
guint relais_anvil_message (RelaisAnvil *anvil, const char *address, gint64 now);
/* A 550 5.1.1 answer to ADDRESS: the count since the last local midnight, this one included. */
guint relais_anvil_nonexistent (RelaisAnvil *anvil, const char *address, gint64 now);

/* Blocks ADDRESS until UNTIL (unix seconds; usually the next local midnight). */
void       relais_anvil_block (RelaisAnvil *anvil, const char *address, gint64 until);
/* The end of ADDRESS's block, or 0 when it is not blocked (a block whose end
 * has come is gone). */
gint64     relais_anvil_blocked_until (RelaisAnvil *anvil, const char *address, gint64 now);
/* The blocks in force: RelaisAnvilBlock*, sorted by address (IPv4 first, then
 * IPv6, each in numeric order). */
GPtrArray *relais_anvil_list_blocked (RelaisAnvil *anvil, gint64 now);
/* Lifts ADDRESS's block and clears its nonexistent count; TRUE if it was blocked. */
gboolean   relais_anvil_unblock (RelaisAnvil *anvil, const char *address, gint64 now);

/* The counters as the next connection, message and 550 5.1.1 would see them,
 * without counting anything. */
void  relais_anvil_peek (RelaisAnvil *anvil, const char *address, gint64 now, RelaisAnvilCounts *out);

/* How many addresses are remembered (for tests and statistics). */
guint relais_anvil_get_size (RelaisAnvil *anvil);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAnvil, relais_anvil_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisAnvilBlock, relais_anvil_block_free)

G_END_DECLS
