/* SPDX-License-Identifier: GPL-3.0-or-later
 * Per-client-address counters. See relais-anvil.h.
 *
 * Each address has one Entry in a hash table and in a queue ordered by last
 * use (most recent at the tail), so the cap forgets the least recently seen
 * idle address in about constant time. Counters carry the minute or the day
 * they belong to and are zeroed when read in a later one. */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "relais"
#endif

#include "relais-anvil.h"

#include <gio/gio.h>
#include <string.h>

#include "relais-clock.h"
#include "relais-networks.h"

typedef struct {
  char *address;               /* the key */
  GList link;                  /* in RelaisAnvil.lru; data is the entry */
  guint connections_now;
  gint64 minute;               /* start of the minute of the two counts below */
  guint connections_minute;
  guint messages_minute;
  gint64 day_end;              /* local midnight ending the day of the count below */
  guint nonexistent;
  gint64 blocked_until;        /* 0: not blocked */
} Entry;

struct _RelaisAnvil {
  grefcount ref;
  guint max_addresses;
  GHashTable *entries;         /* address -> Entry* (owned) */
  GQueue lru;                  /* Entry links, least recently used first */
  gint64 swept_minute;         /* the minute of the last sweep */
};

void
relais_anvil_block_free (RelaisAnvilBlock *block)
{
  if (block == NULL)
    return;
  g_free (block->address);
  g_free (block);
}

static void
entry_free (Entry *entry)
{
  g_free (entry->address);
  g_free (entry);
}

static gint64
minute_of (gint64 now)
{
  /* floor, also before 1970 */
  return now - (((now % 60) + 60) % 60);
}

RelaisAnvil *
relais_anvil_new (guint max_addresses)
{
  RelaisAnvil *anvil = g_new0 (RelaisAnvil, 1);

  g_ref_count_init (&anvil->ref);
  anvil->max_addresses = max_addresses > 0 ? max_addresses : RELAIS_ANVIL_DEFAULT_MAX_ADDRESSES;
  anvil->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) entry_free);
  g_queue_init (&anvil->lru);
  anvil->swept_minute = G_MININT64;
  return anvil;
}

RelaisAnvil *
relais_anvil_ref (RelaisAnvil *anvil)
{
  g_return_val_if_fail (anvil != NULL, NULL);
  g_ref_count_inc (&anvil->ref);
  return anvil;
}

void
relais_anvil_unref (RelaisAnvil *anvil)
{
  g_return_if_fail (anvil != NULL);
  if (!g_ref_count_dec (&anvil->ref))
    return;
  g_hash_table_unref (anvil->entries);   /* the queue's links go with their entries */
  g_free (anvil);
}

/* ADDRESS as a key: the normalized address text, or ADDRESS itself. */
static char *
normalize_key (const char *address)
{
  g_autoptr(GInetAddress) inet = relais_client_address_parse (address);

  return inet != NULL ? g_inet_address_to_string (inet) : g_strdup (address);
}

/* Zeroes the counts of an older minute or day, and an ended block. */
static void
entry_refresh (Entry *entry, gint64 now)
{
  if (entry->minute != minute_of (now))
    {
      entry->minute = minute_of (now);
      entry->connections_minute = 0;
      entry->messages_minute = 0;
    }
  if (entry->nonexistent > 0 && now >= entry->day_end)
    entry->nonexistent = 0;
  if (entry->blocked_until != 0 && now >= entry->blocked_until)
    entry->blocked_until = 0;
}

static gboolean
entry_pinned (const Entry *entry)
{
  return entry->connections_now > 0 || entry->blocked_until != 0;
}

static gboolean
entry_idle (Entry *entry, gint64 now)
{
  entry_refresh (entry, now);
  return !entry_pinned (entry) && entry->connections_minute == 0 &&
         entry->messages_minute == 0 && entry->nonexistent == 0;
}

static void
entry_remove (RelaisAnvil *anvil, Entry *entry)
{
  g_queue_unlink (&anvil->lru, &entry->link);
  g_hash_table_remove (anvil->entries, entry->address);
}

/* Forgets every idle address, at most once per minute. */
static void
sweep (RelaisAnvil *anvil, gint64 now)
{
  GList *l, *next;

  if (anvil->swept_minute == minute_of (now))
    return;
  anvil->swept_minute = minute_of (now);
  for (l = anvil->lru.head; l != NULL; l = next)
    {
      next = l->next;
      if (entry_idle (l->data, now))
        entry_remove (anvil, l->data);
    }
}

/* Room for one more address: forgets the least recently used address that
 * is neither connected nor blocked. Pinned ones met on the way go to the
 * tail, so the next search does not walk them again. */
static void
make_room (RelaisAnvil *anvil)
{
  guint tries = anvil->lru.length;

  while (g_hash_table_size (anvil->entries) >= anvil->max_addresses && tries-- > 0)
    {
      Entry *oldest = anvil->lru.head->data;

      if (entry_pinned (oldest))
        {
          g_queue_unlink (&anvil->lru, &oldest->link);
          g_queue_push_tail_link (&anvil->lru, &oldest->link);
          continue;
        }
      entry_remove (anvil, oldest);
    }
}

/* A new entry for KEY (taken), most recently used, after making room. */
static Entry *
entry_add (RelaisAnvil *anvil, char *key, gint64 minute)
{
  Entry *entry = g_new0 (Entry, 1);

  make_room (anvil);
  entry->address = key;
  entry->link.data = entry;
  entry->minute = minute;
  g_hash_table_insert (anvil->entries, entry->address, entry);
  g_queue_push_tail_link (&anvil->lru, &entry->link);
  return entry;
}

/* The entry of ADDRESS: the text as it is first, which is the key itself
 * when it is in normal form (keys are, and so are the sessions' addresses),
 * else normalized (a parse and two GObjects) into *NORMALIZED. */
static Entry *
find_entry (RelaisAnvil *anvil, const char *address, char **normalized)
{
  Entry *entry = g_hash_table_lookup (anvil->entries, address);

  if (entry != NULL)
    return entry;
  *normalized = normalize_key (address);
  return g_hash_table_lookup (anvil->entries, *normalized);
}

/* ADDRESS's entry, brought up to NOW; created when CREATE (NULL otherwise). */
static Entry *
lookup (RelaisAnvil *anvil, const char *address, gint64 now, gboolean create)
{
  g_autofree char *key = NULL;
  Entry *entry;

  sweep (anvil, now);
  entry = find_entry (anvil, address, &key);
  if (entry == NULL)
    {
      if (!create)
        return NULL;
      return entry_add (anvil, g_steal_pointer (&key), minute_of (now));
    }
  entry_refresh (entry, now);
  if (create)   /* an event: most recently used */
    {
      g_queue_unlink (&anvil->lru, &entry->link);
      g_queue_push_tail_link (&anvil->lru, &entry->link);
    }
  return entry;
}

void
relais_anvil_connect (RelaisAnvil *anvil, const char *address, gint64 now,
                      guint *connections_now, guint *connections_this_minute)
{
  Entry *entry;

  g_return_if_fail (anvil != NULL && address != NULL);
  entry = lookup (anvil, address, now, TRUE);
  if (entry->connections_now < G_MAXUINT)
    entry->connections_now++;
  if (entry->connections_minute < G_MAXUINT)
    entry->connections_minute++;
  if (connections_now != NULL)
    *connections_now = entry->connections_now;
  if (connections_this_minute != NULL)
    *connections_this_minute = entry->connections_minute;
}

void
relais_anvil_disconnect (RelaisAnvil *anvil, const char *address)
{
  g_autofree char *key = NULL;
  Entry *entry;

  g_return_if_fail (anvil != NULL && address != NULL);
  entry = find_entry (anvil, address, &key);
  /* Idle entries go at the next sweep: the minute's counts still matter. */
  if (entry != NULL && entry->connections_now > 0)
    entry->connections_now--;
}

guint
relais_anvil_message (RelaisAnvil *anvil, const char *address, gint64 now)
{
  Entry *entry;

  g_return_val_if_fail (anvil != NULL && address != NULL, 0);
  entry = lookup (anvil, address, now, TRUE);
  if (entry->messages_minute < G_MAXUINT)
    entry->messages_minute++;
  return entry->messages_minute;
}

guint
relais_anvil_nonexistent (RelaisAnvil *anvil, const char *address, gint64 now)
{
  Entry *entry;

  g_return_val_if_fail (anvil != NULL && address != NULL, 0);
  entry = lookup (anvil, address, now, TRUE);
  if (entry->nonexistent == 0)
    entry->day_end = relais_clock_next_local_midnight (now);
  if (entry->nonexistent < G_MAXUINT)
    entry->nonexistent++;
  return entry->nonexistent;
}

void
relais_anvil_block (RelaisAnvil *anvil, const char *address, gint64 until)
{
  g_autofree char *key = NULL;
  Entry *entry;

  g_return_if_fail (anvil != NULL && address != NULL);
  if (until <= 0)
    return;
  entry = find_entry (anvil, address, &key);
  if (entry == NULL)
    entry = entry_add (anvil, g_steal_pointer (&key), G_MININT64);   /* counts start at the next event */
  entry->blocked_until = until;
}

gint64
relais_anvil_blocked_until (RelaisAnvil *anvil, const char *address, gint64 now)
{
  Entry *entry;

  g_return_val_if_fail (anvil != NULL && address != NULL, 0);
  entry = lookup (anvil, address, now, FALSE);
  return entry != NULL ? entry->blocked_until : 0;
}

/* IPv4 first, then IPv6, each by its bytes; anything else last, by text. */
static gint
compare_addresses (const char *a, const char *b)
{
  g_autoptr(GInetAddress) x = g_inet_address_new_from_string (a);
  g_autoptr(GInetAddress) y = g_inet_address_new_from_string (b);
  GSocketFamily fx, fy;
  gsize len;

  if (x == NULL || y == NULL)
    return x != NULL ? -1 : y != NULL ? 1 : strcmp (a, b);
  fx = g_inet_address_get_family (x);
  fy = g_inet_address_get_family (y);
  if (fx != fy)
    return fx == G_SOCKET_FAMILY_IPV4 ? -1 : 1;
  len = g_inet_address_get_native_size (x);
  return memcmp (g_inet_address_to_bytes (x), g_inet_address_to_bytes (y), len);
}

static gint
compare_blocks (gconstpointer a, gconstpointer b)
{
  const RelaisAnvilBlock *x = *(RelaisAnvilBlock *const *) a;
  const RelaisAnvilBlock *y = *(RelaisAnvilBlock *const *) b;

  return compare_addresses (x->address, y->address);
}

GPtrArray *
relais_anvil_list_blocked (RelaisAnvil *anvil, gint64 now)
{
  GPtrArray *blocks = g_ptr_array_new_with_free_func ((GDestroyNotify) relais_anvil_block_free);

  g_return_val_if_fail (anvil != NULL, blocks);
  sweep (anvil, now);
  for (GList *l = anvil->lru.head; l != NULL; l = l->next)
    {
      Entry *entry = l->data;
      RelaisAnvilBlock *block;

      entry_refresh (entry, now);
      if (entry->blocked_until == 0)
        continue;
      block = g_new0 (RelaisAnvilBlock, 1);
      block->address = g_strdup (entry->address);
      block->until = entry->blocked_until;
      g_ptr_array_add (blocks, block);
    }
  g_ptr_array_sort (blocks, compare_blocks);
  return blocks;
}

gboolean
relais_anvil_unblock (RelaisAnvil *anvil, const char *address, gint64 now)
{
  Entry *entry;
  gboolean was_blocked;

  g_return_val_if_fail (anvil != NULL && address != NULL, FALSE);
  entry = lookup (anvil, address, now, FALSE);
  if (entry == NULL)
    return FALSE;
  was_blocked = entry->blocked_until != 0;
  entry->blocked_until = 0;
  entry->nonexistent = 0;
  return was_blocked;
}

void
relais_anvil_peek (RelaisAnvil *anvil, const char *address, gint64 now, RelaisAnvilCounts *out)
{
  Entry *entry;

  g_return_if_fail (anvil != NULL && address != NULL && out != NULL);
  memset (out, 0, sizeof *out);
  entry = lookup (anvil, address, now, FALSE);
  if (entry != NULL)
    {
      out->connections_now = entry->connections_now;
      out->connections_this_minute = entry->connections_minute;
      out->messages_this_minute = entry->messages_minute;
      out->nonexistent_recipients = entry->nonexistent;
      out->blocked_until = entry->blocked_until;
    }
  out->connections_now = MIN (out->connections_now, G_MAXUINT - 1) + 1;
  out->connections_this_minute = MIN (out->connections_this_minute, G_MAXUINT - 1) + 1;
  out->messages_this_minute = MIN (out->messages_this_minute, G_MAXUINT - 1) + 1;
  out->nonexistent_recipients = MIN (out->nonexistent_recipients, G_MAXUINT - 1) + 1;
}

guint
relais_anvil_get_size (RelaisAnvil *anvil)
{
  g_return_val_if_fail (anvil != NULL, 0);
  return g_hash_table_size (anvil->entries);
}
