/* SPDX-License-Identifier: GPL-3.0-or-later
 * Delivery scheduler: picks the recipients whose next attempt is due, routes
 * each (local Maildir now; remote once outbound delivery exists), runs the
 * delivery off the main thread, records the outcome before the next attempt,
 * and removes a message once every recipient is done. Temporary failures back
 * off exponentially (5 min doubling to 1 h) for at most 5 days. */
#pragma once

#include "relais-queue.h"
#include "relais-services.h"

G_BEGIN_DECLS

typedef struct _RelaisScheduler RelaisScheduler;

RelaisScheduler *relais_scheduler_new (RelaisServices *services, RelaisStore *store, const char *state_dir);
void             relais_scheduler_free (RelaisScheduler *scheduler);
void             relais_scheduler_start (RelaisScheduler *scheduler);
/* Look for due work now (called after each commit). */
void             relais_scheduler_kick (RelaisScheduler *scheduler);
/* MESSAGE was just committed: starts its deliveries now if there is room
 * (else a later pass does), without a pass over the queue or a read of the
 * store (relais_queue_set_committed_func()). */
void             relais_scheduler_message_queued (RelaisScheduler *scheduler,
                                                  const RelaisQueuedMessage *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisScheduler, relais_scheduler_free)

G_END_DECLS
