/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Status page (SPEC §5-§6): the Statistics counters as tiles, updated
 * from the proxy's PropertiesChanged (coalesced by the daemon to one a
 * second), the answers of the sender and content checks (CheckResults and
 * the DNSBL hits of RuleHits) one row per check, a chart of messages per
 * minute from Statistics.History (asked again at most every few seconds,
 * and when the range changes), and the queue from Queue.List, listed again
 * on Queue.Changed, with hold / release / retry now / delete per message
 * ("status.*" actions, so the buttons and the test hook go the same way, and
 * the permission switches them all). */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "relais-chart.h"
#include "relais-gui-util.h"
#include "relais-page-status.h"
#include "relais-test-hook.h"

#define HISTORY_COUNTER "MessagesReceived"
#define HISTORY_MIN_INTERVAL (3 * G_USEC_PER_SEC)      /* between two History calls */
#define HISTORY_MAX_AGE (60 * G_USEC_PER_SEC)          /* ask again even without traffic */

/* ---------------------------------------------------------------- queue entries */

#define RELAIS_TYPE_QUEUE_ENTRY (relais_queue_entry_get_type ())
G_DECLARE_FINAL_TYPE (RelaisQueueEntry, relais_queue_entry, RELAIS, QUEUE_ENTRY, GObject)

/* One row of Queue.List. */
struct _RelaisQueueEntry
{
  GObject parent_instance;

  char *id;
  char *sender;
  GStrv pending;
  guint64 size;
  gint64 received_at;
  guint attempts;
  gint64 next_attempt;
  char *last_error;
  gboolean held;
};

G_DEFINE_FINAL_TYPE (RelaisQueueEntry, relais_queue_entry, G_TYPE_OBJECT)

static void
relais_queue_entry_finalize (GObject *object)
{
  RelaisQueueEntry *self = RELAIS_QUEUE_ENTRY (object);

  g_free (self->id);
  g_free (self->sender);
  g_strfreev (self->pending);
  g_free (self->last_error);
  G_OBJECT_CLASS (relais_queue_entry_parent_class)->finalize (object);
}

static void
relais_queue_entry_class_init (RelaisQueueEntryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = relais_queue_entry_finalize;
}

static void
relais_queue_entry_init (RelaisQueueEntry *self)
{
}

/* ---------------------------------------------------------------- tables */

typedef enum { KIND_COUNT, KIND_BYTES, KIND_AGE } CounterKind;
enum { BOX_MESSAGES, BOX_CONNECTIONS };

static const struct
{
  const char *property;
  const char *title;
  CounterKind kind;
  guint box;
} counters[] = {
  { "MessagesReceived", N_("Received"), KIND_COUNT, BOX_MESSAGES },
  { "DeliveredLocal", N_("Delivered locally"), KIND_COUNT, BOX_MESSAGES },
  { "DeliveredRemote", N_("Delivered remotely"), KIND_COUNT, BOX_MESSAGES },
  { "Deferred", N_("Deferred"), KIND_COUNT, BOX_MESSAGES },
  { "Bounced", N_("Bounced"), KIND_COUNT, BOX_MESSAGES },
  { "Rejected", N_("Rejected"), KIND_COUNT, BOX_MESSAGES },
  { "Discarded", N_("Discarded"), KIND_COUNT, BOX_MESSAGES },
  { "QueueLength", N_("In the queue"), KIND_COUNT, BOX_MESSAGES },
  { "QueueOldestAge", N_("Oldest in the queue"), KIND_AGE, BOX_MESSAGES },
  { "Connections", N_("Connections"), KIND_COUNT, BOX_CONNECTIONS },
  { "SessionsOpen", N_("Sessions open"), KIND_COUNT, BOX_CONNECTIONS },
  { "TlsSessions", N_("TLS sessions"), KIND_COUNT, BOX_CONNECTIONS },
  { "AuthSuccesses", N_("Logins accepted"), KIND_COUNT, BOX_CONNECTIONS },
  { "AuthFailures", N_("Logins refused"), KIND_COUNT, BOX_CONNECTIONS },
  { "BytesReceived", N_("Data received"), KIND_BYTES, BOX_CONNECTIONS },
  { "BytesSent", N_("Data sent"), KIND_BYTES, BOX_CONNECTIONS },
};
#define N_COUNTERS G_N_ELEMENTS (counters)

/* The sender and content checks: one row each, from Statistics.CheckResults
 * ("CHECK:RESULT") or, for DNSBL, from the "dnsbl:ZONE" and
 * "dnsbl-tempfail:ZONE" keys of RuleHits summed over the zones. */
typedef struct
{
  const char *id;             /* the key's prefix in CheckResults; the hook's name */
  const char *title;
  const char *security;       /* the Security property that turns it on, or NULL */
  const char *empty;          /* shown while nothing is counted */
  const char *const *results; /* the known results, in the order shown */
} CheckRow;

static const char *const spf_results[] = { "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror",
                                           NULL };
static const char *const dkim_results[] = { "pass", "fail", "neutral", "temperror", "permerror", "none", NULL };
static const char *const dmarc_results[] = { "pass", "fail", "none", "temperror", "permerror", "reject",
                                             "quarantine", NULL };
static const char *const antivirus_results[] = { "clean", "virus", "error", "unreachable", NULL };
static const char *const dkim_sign_results[] = { "signed", "error", NULL };
static const char *const dnsbl_results[] = { "listed", "tempfail", NULL };

#define CHECK_DNSBL "dnsbl"

static const CheckRow checks[] = {
  { "spf", N_("SPF"), "Spf", N_("No messages checked yet"), spf_results },
  { "dkim", N_("DKIM"), "Dkim", N_("No messages checked yet"), dkim_results },
  { "dmarc", N_("DMARC"), "Dmarc", N_("No messages checked yet"), dmarc_results },
  { "antivirus", N_("Antivirus"), "Antivirus", N_("No messages checked yet"), antivirus_results },
  { "dkim-sign", N_("DKIM signing"), NULL, N_("No messages signed yet"), dkim_sign_results },
  { CHECK_DNSBL, N_("DNSBL"), "Dnsbl", N_("No client found listed yet"), dnsbl_results },
};
#define N_CHECKS G_N_ELEMENTS (checks)

#define RESULT_CONTEXT "check result"

/* How each result is shown; the words are those of the protocols. */
static const struct
{
  const char *result;
  const char *label;
} result_labels[] = {
  /* TRANSLATORS: the results of SPF, DKIM and DMARC are the RFC 8601 result
   * names, as in Authentication-Results headers ("spf=pass"); each is
   * followed by how many messages got it ("pass 12 · fail 3"). Translate
   * them or keep them as they are. */
  { "pass", NC_ ("check result", "pass") },
  /* TRANSLATORS: an RFC 8601 result name (see "pass") */
  { "fail", NC_ ("check result", "fail") },
  /* TRANSLATORS: an RFC 8601 result name (see "pass"): SPF's weak fail (~all) */
  { "softfail", NC_ ("check result", "softfail") },
  /* TRANSLATORS: an RFC 8601 result name (see "pass") */
  { "neutral", NC_ ("check result", "neutral") },
  /* TRANSLATORS: an RFC 8601 result name (see "pass"): no policy published, no signature */
  { "none", NC_ ("check result", "none") },
  /* TRANSLATORS: an RFC 8601 result name (see "pass"): a temporary (DNS) error */
  { "temperror", NC_ ("check result", "temperror") },
  /* TRANSLATORS: an RFC 8601 result name (see "pass"): a permanent error (a broken record) */
  { "permerror", NC_ ("check result", "permerror") },
  /* TRANSLATORS: DMARC: messages refused because the domain's policy says p=reject */
  { "reject", NC_ ("check result", "rejected") },
  /* TRANSLATORS: DMARC: messages put aside because the domain's policy says p=quarantine */
  { "quarantine", NC_ ("check result", "quarantined") },
  /* TRANSLATORS: antivirus: messages found free of viruses */
  { "clean", NC_ ("check result", "clean") },
  /* TRANSLATORS: antivirus: messages carrying a virus */
  { "virus", NC_ ("check result", "virus") },
  /* TRANSLATORS: antivirus or DKIM signing: the check or signature failed */
  { "error", NC_ ("check result", "error") },
  /* TRANSLATORS: antivirus: the virus scanner could not be reached */
  { "unreachable", NC_ ("check result", "unreachable") },
  /* TRANSLATORS: DKIM signing: messages signed */
  { "signed", NC_ ("check result", "signed") },
  /* TRANSLATORS: DNSBL: clients found in a DNS blocklist */
  { "listed", NC_ ("check result", "listed") },
  /* TRANSLATORS: DNSBL: the blocklist could not be asked (temporary DNS error) */
  { "tempfail", NC_ ("check result", "temperror") },
};

typedef struct
{
  const char *id;             /* the test hook's name */
  guint step;                 /* seconds per bar */
  gint64 span;                /* seconds shown */
  const char *caption;
} ChartRange;

static const ChartRange ranges[] = {
  { "hour", 60, 3600, N_("Messages received per minute, last hour") },
  /* TRANSLATORS: each bar of the chart is the average of 20 minutes */
  { "day", 1200, 86400, N_("Messages received per minute (20-minute average), last 24 hours") },
  { "week", 7200, 7 * 86400, N_("Messages received per minute (2-hour average), last 7 days") },
};

enum { COL_ID, COL_SENDER, COL_RECIPIENTS, COL_SIZE, COL_RECEIVED, COL_ATTEMPTS, COL_STATE, COL_ERROR, N_TEXT_COLS };

/* The fields of a queued message as shown, by their test hook names. */
static const char *const fields[N_TEXT_COLS] = {
  [COL_ID] = "id", [COL_SENDER] = "sender", [COL_RECIPIENTS] = "recipients", [COL_SIZE] = "size",
  [COL_RECEIVED] = "received", [COL_ATTEMPTS] = "attempts", [COL_STATE] = "state", [COL_ERROR] = "last-error",
};

/* ---------------------------------------------------------------- the page */

struct _RelaisPageStatus
{
  RelaisPage parent_instance;

  AdwPreferencesGroup *messages_group;
  GtkFlowBox *messages_box;
  GtkFlowBox *connections_box;
  GtkToggleButton *hour_button;
  GtkToggleButton *day_button;
  GtkToggleButton *week_button;
  RelaisChart *chart;
  GtkLabel *chart_note;
  GtkStack *queue_stack;
  GtkLockButton *queue_lock_button;
  GtkColumnView *queue_view;

  GtkLabel *counter_labels[N_COUNTERS];
  AdwPreferencesGroup *checks_group;
  AdwActionRow *check_rows[N_CHECKS];
  GtkLabel *uptime_label;     /* not shown: the uptime is in the group's description */
  GListStore *queue_store;    /* RelaisQueueEntry */

  RelaisStatistics *statistics;
  RelaisMailQueue *queue;
  RelaisSecurity *security;   /* which checks are on */
  GCancellable *cancellable;  /* every call; replaced when the proxies change */
  GCancellable *history_cancellable;
  gint64 history_requested;   /* monotonic */
  guint history_serial;
  guint history_timeout_id;
  guint tick_id;
  gboolean disposed;
  char *last_error;           /* the last error shown, for the tests */
  AdwMessageDialog *confirm_dialog;
};

G_DEFINE_FINAL_TYPE (RelaisPageStatus, relais_page_status, RELAIS_TYPE_PAGE)

static void show_error (RelaisPageStatus *self, const char *prefix, const GError *error);

/* ---------------------------------------------------------------- formatting */

static char *
format_duration (guint64 seconds)
{
  if (seconds < 60)
    /* TRANSLATORS: a duration in seconds */
    return g_strdup_printf (_("%u s"), (guint) seconds);
  if (seconds < 3600)
    /* TRANSLATORS: a duration in minutes */
    return g_strdup_printf (_("%u min"), (guint) (seconds / 60));
  if (seconds < 86400)
    /* TRANSLATORS: a duration in hours and minutes */
    return g_strdup_printf (_("%u h %02u min"), (guint) (seconds / 3600), (guint) (seconds % 3600 / 60));
  /* TRANSLATORS: a duration in days and hours */
  return g_strdup_printf (_("%u d %u h"), (guint) (seconds / 86400), (guint) (seconds % 86400 / 3600));
}

static char *
format_counter (CounterKind kind, guint64 value)
{
  switch (kind)
    {
    case KIND_BYTES:
      return g_format_size (value);
    case KIND_AGE:
      return value == 0 ? g_strdup ("—") : format_duration (value);
    case KIND_COUNT:
    default:
      return g_strdup_printf ("%'" G_GUINT64_FORMAT, value);
    }
}

static char *
format_time (gint64 unix_seconds, const char *format)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (unix_seconds);

  return when != NULL ? g_date_time_format (when, format) : g_strdup ("?");
}

static char *
entry_column_text (RelaisQueueEntry *entry, guint column)
{
  switch (column)
    {
    case COL_ID:
      return g_strdup (entry->id);
    case COL_SENDER:
      return g_strdup (*entry->sender != '\0' ? entry->sender : "<>");
    case COL_RECIPIENTS:
      return g_strjoinv (", ", entry->pending);
    case COL_SIZE:
      return g_format_size (entry->size);
    case COL_RECEIVED:
      return format_time (entry->received_at, "%x %H:%M");
    case COL_ATTEMPTS:
      return g_strdup_printf ("%u", entry->attempts);
    case COL_STATE:
      if (entry->held)
        /* TRANSLATORS: state of a queued message: held by an administrator */
        return g_strdup (_("Held"));
      if (entry->next_attempt == 0)
        /* TRANSLATORS: state of a queued message: nothing left to try */
        return g_strdup (_("Finishing"));
      if (entry->next_attempt <= g_get_real_time () / G_USEC_PER_SEC)
        /* TRANSLATORS: state of a queued message: it is being tried or about to be */
        return g_strdup (_("Due now"));
      {
        g_autofree char *when = format_time (entry->next_attempt, "%H:%M");
        /* TRANSLATORS: state of a queued message: %s is a time (14:05) */
        return g_strdup_printf (_("Next try at %s"), when);
      }
    case COL_ERROR:
    default:
      return g_strdup (entry->last_error);
    }
}

/* ---------------------------------------------------------------- counters */

static void
update_uptime (RelaisPageStatus *self)
{
  g_autoptr(GVariant) start = NULL;
  g_autofree char *uptime = NULL;
  g_autofree char *description = NULL;

  if (self->statistics != NULL)
    start = g_dbus_proxy_get_cached_property (G_DBUS_PROXY (self->statistics), "StartTime");
  if (start != NULL && g_variant_is_of_type (start, G_VARIANT_TYPE_INT64))
    {
      gint64 running = (g_get_real_time () - g_variant_get_int64 (start)) / G_USEC_PER_SEC;
      g_autofree char *since = format_time (g_variant_get_int64 (start) / G_USEC_PER_SEC, "%x %H:%M");

      uptime = format_duration ((guint64) MAX (running, 0));
      /* TRANSLATORS: %s is how long the daemon has run ("3 h 05 min"), then when it started */
      description = g_strdup_printf (_("Counted since relaisd started %s ago (%s)."), uptime, since);
    }
  else
    {
      uptime = g_strdup ("—");
      description = g_strdup (_("Not connected to relaisd."));
    }
  gtk_label_set_text (self->uptime_label, uptime);
  adw_preferences_group_set_description (self->messages_group, description);
}

static void
update_counters (RelaisPageStatus *self)
{
  for (guint i = 0; i < N_COUNTERS; i++)
    {
      g_autoptr(GVariant) value = NULL;
      g_autofree char *text = NULL;

      if (self->statistics != NULL)
        value = g_dbus_proxy_get_cached_property (G_DBUS_PROXY (self->statistics), counters[i].property);
      if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
        text = format_counter (counters[i].kind, g_variant_get_uint64 (value));
      else
        text = g_strdup ("—");
      gtk_label_set_text (self->counter_labels[i], text);
    }
  update_uptime (self);
}

static GtkWidget *
counter_tile (const char *title, GtkLabel **value_label)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *value = gtk_label_new ("—");
  GtkWidget *caption = gtk_label_new (title);

  gtk_widget_add_css_class (box, "card");
  gtk_widget_add_css_class (value, "title-2");
  gtk_widget_add_css_class (value, "numeric");
  gtk_widget_set_margin_top (value, 10);
  gtk_widget_set_margin_start (value, 6);
  gtk_widget_set_margin_end (value, 6);
  gtk_label_set_ellipsize (GTK_LABEL (value), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (caption, "caption");
  gtk_widget_add_css_class (caption, "dim-label");
  gtk_label_set_wrap (GTK_LABEL (caption), TRUE);
  gtk_label_set_justify (GTK_LABEL (caption), GTK_JUSTIFY_CENTER);
  gtk_label_set_max_width_chars (GTK_LABEL (caption), 10);
  gtk_widget_set_margin_bottom (caption, 10);
  gtk_widget_set_margin_start (caption, 6);
  gtk_widget_set_margin_end (caption, 6);
  gtk_widget_set_vexpand (caption, TRUE);
  gtk_widget_set_valign (caption, GTK_ALIGN_START);
  gtk_box_append (GTK_BOX (box), value);
  gtk_box_append (GTK_BOX (box), caption);
  *value_label = GTK_LABEL (value);
  return box;
}

/* ---------------------------------------------------------------- checks */

static const char *
result_label (const char *result)
{
  for (guint i = 0; i < G_N_ELEMENTS (result_labels); i++)
    if (g_str_equal (result_labels[i].result, result))
      return g_dpgettext2 (NULL, RESULT_CONTEXT, result_labels[i].label);
  return result;              /* a result this version does not know: its own name */
}

/* Adds each counter of TABLE (a{st}, may be NULL) whose key is PREFIX then a
 * name to COUNTS (name -> guint64 *), under INTO instead when not NULL. */
static void
add_counts (GHashTable *counts, GVariant *table, const char *prefix, const char *into)
{
  GVariantIter iter;
  const char *key;
  guint64 value;
  gsize len = strlen (prefix);

  if (table == NULL)
    return;
  g_variant_iter_init (&iter, table);
  while (g_variant_iter_next (&iter, "{&st}", &key, &value))
    {
      const char *name = into != NULL ? into : key + len;
      guint64 *count;

      if (!g_str_has_prefix (key, prefix) || key[len] == '\0' || value == 0)
        continue;
      count = g_hash_table_lookup (counts, name);
      if (count == NULL)
        {
          count = g_new0 (guint64, 1);
          g_hash_table_insert (counts, g_strdup (name), count);
        }
      *count += value;
    }
}

static void
add_result_text (GPtrArray *parts, const char *result, const guint64 *count)
{
  /* a result and its count: "pass 12" */
  g_ptr_array_add (parts, g_strdup_printf ("%s %'" G_GUINT64_FORMAT, result_label (result), *count));
}

/* "pass 12 · fail 3": the known results in CHECK's order, then the others
 * by name; NULL when nothing is counted. */
static char *
format_check (const CheckRow *check, GHashTable *counts)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GList) names = g_list_sort (g_hash_table_get_keys (counts), (GCompareFunc) strcmp);

  for (guint i = 0; check->results[i] != NULL; i++)
    {
      const guint64 *count = g_hash_table_lookup (counts, check->results[i]);

      if (count != NULL)
        add_result_text (parts, check->results[i], count);
    }
  for (GList *l = names; l != NULL; l = l->next)
    if (!g_strv_contains (check->results, l->data))
      add_result_text (parts, l->data, g_hash_table_lookup (counts, l->data));
  if (parts->len == 0)
    return NULL;
  g_ptr_array_add (parts, NULL);
  return g_strjoinv (" · ", (char **) parts->pdata);
}

/* The cached a{st} property NAME of PROXY, or NULL. */
static GVariant *
cached_table (gpointer proxy, const char *name)
{
  GVariant *value = proxy != NULL ? g_dbus_proxy_get_cached_property (G_DBUS_PROXY (proxy), name) : NULL;

  if (value != NULL && !g_variant_is_of_type (value, G_VARIANT_TYPE ("a{st}")))
    g_clear_pointer (&value, g_variant_unref);
  return value;
}

/* Is CHECK turned off in Security? FALSE when unknown. */
static gboolean
check_is_off (RelaisPageStatus *self, const CheckRow *check)
{
  g_autoptr(GVariant) on = NULL;

  if (check->security == NULL || self->security == NULL)
    return FALSE;
  on = g_dbus_proxy_get_cached_property (G_DBUS_PROXY (self->security), check->security);
  return on != NULL && g_variant_is_of_type (on, G_VARIANT_TYPE_BOOLEAN) && !g_variant_get_boolean (on);
}

/* Shows the counters of RESULTS (CheckResults) and HITS (RuleHits); NULL:
 * not known. */
static void
show_checks (RelaisPageStatus *self, GVariant *results, GVariant *hits)
{
  for (guint i = 0; i < N_CHECKS; i++)
    {
      const CheckRow *check = &checks[i];
      g_autoptr(GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_autofree char *text = NULL;
      gboolean dnsbl = g_str_equal (check->id, CHECK_DNSBL);

      if (dnsbl)
        {
          add_counts (counts, hits, "dnsbl:", "listed");
          add_counts (counts, hits, "dnsbl-tempfail:", "tempfail");
        }
      else
        {
          g_autofree char *prefix = g_strconcat (check->id, ":", NULL);
          add_counts (counts, results, prefix, NULL);
        }
      text = format_check (check, counts);
      if (text == NULL && (dnsbl ? hits : results) == NULL)
        text = g_strdup ("—");
      else if (text == NULL && check_is_off (self, check))
        text = g_strdup (_("Not checked: turned off on the Security page"));
      else if (text == NULL)
        text = g_strdup (_(check->empty));
      adw_action_row_set_subtitle (self->check_rows[i], text);
    }
}

static void
update_checks (RelaisPageStatus *self)
{
  g_autoptr(GVariant) results = cached_table (self->statistics, "CheckResults");
  g_autoptr(GVariant) hits = cached_table (self->statistics, "RuleHits");

  show_checks (self, results, hits);
}

static AdwActionRow *
check_row (const char *title)
{
  AdwActionRow *row = ADW_ACTION_ROW (adw_action_row_new ());

  /* the daemon's raw result names are shown as they are, never as markup */
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (row, "—");
  return row;
}

/* ---------------------------------------------------------------- the chart */

static const ChartRange *
current_range (RelaisPageStatus *self)
{
  if (gtk_toggle_button_get_active (self->week_button))
    return &ranges[2];
  if (gtk_toggle_button_get_active (self->day_button))
    return &ranges[1];
  return &ranges[0];
}

static void
set_chart_note (RelaisPageStatus *self, const char *note)
{
  gtk_label_set_text (self->chart_note, note != NULL ? note : "");
  gtk_widget_set_visible (GTK_WIDGET (self->chart_note), note != NULL);
}

/* Shows History's POINTS (a(xt)) for RANGE as a per-minute rate; NULL
 * points: an empty chart. */
static void
show_history (RelaisPageStatus *self, const ChartRange *range, gint64 since, GVariant *points)
{
  g_autoptr(GArray) shown = g_array_new (FALSE, FALSE, sizeof (RelaisChartPoint));
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  double minutes = range->step / 60.0;
  gint64 start = since - since % range->step;
  gint64 end = now - now % range->step + range->step;

  if (points != NULL)
    {
      GVariantIter iter;
      gint64 time;
      guint64 value;

      g_variant_iter_init (&iter, points);
      while (g_variant_iter_next (&iter, "(xt)", &time, &value))
        {
          RelaisChartPoint point = { time, value / minutes };

          g_array_append_val (shown, point);
          end = MAX (end, time + range->step);
          start = MIN (start, time);
        }
    }
  relais_chart_set_data (self->chart, start, end, range->step, (RelaisChartPoint *) (gpointer) shown->data,
                         shown->len);
  relais_chart_set_caption (self->chart, _(range->caption));
}

typedef struct
{
  RelaisPageStatus *self;     /* a reference */
  const ChartRange *range;
  gint64 since;
  guint serial;               /* only the latest call is shown */
} HistoryCall;

static void
history_call_free (HistoryCall *call)
{
  g_object_unref (call->self);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HistoryCall, history_call_free)

static void
history_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(HistoryCall) call = user_data;
  RelaisPageStatus *self = call->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) points = NULL;

  if (!relais_statistics_call_history_finish (RELAIS_STATISTICS (source), &points, result, &error))
    {
      if (self->disposed || call->serial != self->history_serial ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      show_history (self, call->range, call->since, NULL);
      if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD))
        set_chart_note (self, _("This relaisd keeps no history of its counters: the chart needs a newer version."));
      else
        {
          g_autofree char *reason = relais_gui_error_message (error);
          g_autofree char *note = g_strdup_printf (_("Cannot read the history of the counters: %s"), reason);

          set_chart_note (self, note);
        }
      return;
    }
  if (self->disposed || call->serial != self->history_serial)
    return;
  show_history (self, call->range, call->since, points);
  set_chart_note (self, NULL);
}

static void
refresh_history (RelaisPageStatus *self)
{
  const ChartRange *range = current_range (self);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  HistoryCall *call;

  g_clear_handle_id (&self->history_timeout_id, g_source_remove);
  g_cancellable_cancel (self->history_cancellable);
  g_clear_object (&self->history_cancellable);
  self->history_requested = g_get_monotonic_time ();
  self->history_serial++;
  if (self->statistics == NULL)
    {
      show_history (self, range, now - range->span, NULL);
      set_chart_note (self, NULL);
      return;
    }

  self->history_cancellable = g_cancellable_new ();
  call = g_new0 (HistoryCall, 1);
  call->self = g_object_ref (self);
  call->range = range;
  call->since = now - range->span + range->step;
  call->serial = self->history_serial;   /* span / step bars, the current one last */
  relais_statistics_call_history (self->statistics, HISTORY_COUNTER, call->since, range->step,
                                  self->history_cancellable, history_cb, call);
}

static gboolean
history_timeout_cb (gpointer data)
{
  RelaisPageStatus *self = data;

  self->history_timeout_id = 0;
  refresh_history (self);
  return G_SOURCE_REMOVE;
}

/* Asks History again now, or when HISTORY_MIN_INTERVAL has passed since the last call. */
static void
schedule_history (RelaisPageStatus *self)
{
  gint64 wait = self->history_requested + HISTORY_MIN_INTERVAL - g_get_monotonic_time ();

  if (self->history_timeout_id != 0)
    return;
  if (wait <= 0)
    refresh_history (self);
  else
    self->history_timeout_id = g_timeout_add ((guint) (wait / 1000) + 1, history_timeout_cb, self);
}

static void
range_toggled_cb (GtkToggleButton *button, RelaisPageStatus *self)
{
  if (gtk_toggle_button_get_active (button))
    refresh_history (self);
}

/* ---------------------------------------------------------------- the queue */

static void
show_queue (RelaisPageStatus *self, GVariant *messages)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (g_object_unref);
  guint n_items = g_list_model_get_n_items (G_LIST_MODEL (self->queue_store));

  if (messages != NULL)
    {
      GVariantIter iter;
      const char *id, *sender, *last_error;
      g_autofree const char **pending = NULL;
      guint64 size;
      gint64 received_at, next_attempt;
      guint attempts;
      gboolean held;

      g_variant_iter_init (&iter, messages);
      while (g_variant_iter_next (&iter, "(&s&s^a&sttux&sb)", &id, &sender, &pending, &size, &received_at,
                                  &attempts, &next_attempt, &last_error, &held))
        {
          RelaisQueueEntry *entry = g_object_new (RELAIS_TYPE_QUEUE_ENTRY, NULL);

          entry->id = g_strdup (id);
          entry->sender = g_strdup (sender);
          entry->pending = g_strdupv ((char **) pending);
          entry->size = size;
          entry->received_at = received_at;
          entry->attempts = attempts;
          entry->next_attempt = next_attempt;
          entry->last_error = g_strdup (last_error);
          entry->held = held;
          g_ptr_array_add (entries, entry);
          g_clear_pointer (&pending, g_free);
        }
    }
  g_list_store_splice (self->queue_store, 0, n_items, entries->pdata, entries->len);
  gtk_stack_set_visible_child_name (self->queue_stack, entries->len > 0 ? "list" : "empty");
}

static void
list_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(RelaisPageStatus) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) messages = NULL;

  if (!relais_mail_queue_call_list_finish (RELAIS_MAIL_QUEUE (source), &messages, result, &error))
    {
      if (!self->disposed && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, _("Cannot list the queue"), error);
      return;
    }
  if (!self->disposed && RELAIS_MAIL_QUEUE (source) == self->queue)
    show_queue (self, messages);
}

static void
refresh_queue (RelaisPageStatus *self)
{
  if (self->queue == NULL)
    {
      show_queue (self, NULL);
      return;
    }
  relais_mail_queue_call_list (self->queue, self->cancellable, list_cb, g_object_ref (self));
}

typedef struct
{
  RelaisPageStatus *self;     /* a reference */
  char *prefix;               /* what failed, for the toast */
} QueueCall;

static void
queue_call_free (QueueCall *call)
{
  g_object_unref (call->self);
  g_free (call->prefix);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QueueCall, queue_call_free)

static void
queue_call_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(QueueCall) call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (call->self->disposed || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    show_error (call->self, call->prefix, error);
  refresh_queue (call->self);
}

/* Sends Queue.METHOD(id, interactive) for the action NAME ("hold", ...). */
static void
queue_call (RelaisPageStatus *self, const char *method, const char *id, const char *prefix)
{
  QueueCall *call;

  if (self->queue == NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                                     _("relaisd is not running"));
      show_error (self, prefix, error);
      return;
    }
  call = g_new0 (QueueCall, 1);
  call->self = g_object_ref (self);
  call->prefix = g_strdup (prefix);
  g_dbus_proxy_call (G_DBUS_PROXY (self->queue), method, g_variant_new ("(sb)", id, TRUE),
                     G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, -1, self->cancellable, queue_call_cb, call);
}

static RelaisQueueEntry *
find_entry (RelaisPageStatus *self, const char *id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->queue_store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RelaisQueueEntry) entry = g_list_model_get_item (G_LIST_MODEL (self->queue_store), i);

      if (g_str_equal (entry->id, id))
        return entry;         /* the store keeps its reference */
    }
  return NULL;
}

static void
confirm_response_cb (AdwMessageDialog *dialog, const char *response, RelaisPageStatus *self)
{
  if (g_str_equal (response, "delete"))
    queue_call (self, "Delete", g_object_get_data (G_OBJECT (dialog), "id"), _("Cannot delete the message"));
}

static void
queue_action_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RelaisPageStatus *self = RELAIS_PAGE_STATUS (widget);
  const char *id = g_variant_get_string (parameter, NULL);

  if (g_str_equal (action_name, "status.hold"))
    queue_call (self, "Hold", id, _("Cannot hold the message"));
  else if (g_str_equal (action_name, "status.release"))
    queue_call (self, "Release", id, _("Cannot release the message"));
  else if (g_str_equal (action_name, "status.retry"))
    queue_call (self, "RetryNow", id, _("Cannot retry the message"));
  else if (g_str_equal (action_name, "status.delete"))
    {
      RelaisQueueEntry *entry = find_entry (self, id);
      GtkWidget *dialog;

      if (self->confirm_dialog != NULL)
        gtk_window_destroy (GTK_WINDOW (self->confirm_dialog));
      dialog = GTK_WIDGET (relais_gui_confirm_dialog (GTK_WIDGET (self), _("Delete this message?"), NULL,
                                                      "delete", _("_Delete")));
      adw_message_dialog_format_body (ADW_MESSAGE_DIALOG (dialog),
                                      _("The message %s from %s is removed from the queue for good; "
                                        "no bounce is sent."),
                                      id, entry != NULL && *entry->sender != '\0' ? entry->sender : "<>");
      g_object_set_data_full (G_OBJECT (dialog), "id", g_strdup (id), g_free);
      g_signal_connect_object (dialog, "response", G_CALLBACK (confirm_response_cb), self, 0);
      self->confirm_dialog = ADW_MESSAGE_DIALOG (dialog);
      g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->confirm_dialog);
      gtk_window_present (GTK_WINDOW (dialog));
    }
}

static void
refresh_activated (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  refresh_queue (RELAIS_PAGE_STATUS (widget));
}

/* Column factories: the message (sender and recipients, then its id, size
 * and arrival, then the last error), its state and attempts, the buttons. */

static GtkWidget *
cell_label (GtkWidget *box, gboolean secondary)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_width_chars (GTK_LABEL (label), 10);
  if (secondary)
    {
      gtk_widget_add_css_class (label, "caption");
      gtk_widget_add_css_class (label, "dim-label");
    }
  gtk_box_append (GTK_BOX (box), label);
  return label;
}

static void
cell_setup_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  guint n_lines = GPOINTER_TO_UINT (data);

  gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
  for (guint i = 0; i < n_lines; i++)
    cell_label (box, i > 0);
  gtk_list_item_set_child (item, box);
}

static void
set_cell_line (GtkWidget *label, const char *text)
{
  gtk_label_set_text (GTK_LABEL (label), text);
  gtk_widget_set_tooltip_text (label, text);
  gtk_widget_set_visible (label, text != NULL && *text != '\0');
}

static void
message_bind_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  RelaisQueueEntry *entry = gtk_list_item_get_item (item);
  GtkWidget *title = gtk_widget_get_first_child (gtk_list_item_get_child (item));
  GtkWidget *details = gtk_widget_get_next_sibling (title);
  GtkWidget *error = gtk_widget_get_next_sibling (details);
  g_autofree char *sender = entry_column_text (entry, COL_SENDER);
  g_autofree char *recipients = entry_column_text (entry, COL_RECIPIENTS);
  g_autofree char *size = entry_column_text (entry, COL_SIZE);
  g_autofree char *received = entry_column_text (entry, COL_RECEIVED);
  /* TRANSLATORS: a queued message: the sender, then where it goes */
  g_autofree char *line1 = g_strdup_printf (_("%s → %s"), sender, recipients);
  /* TRANSLATORS: a queued message: its queue id, its size, when it was received */
  g_autofree char *line2 = g_strdup_printf (_("%s · %s · received %s"), entry->id, size, received);

  set_cell_line (title, line1);
  set_cell_line (details, line2);
  set_cell_line (error, entry->last_error);
}

static void
state_bind_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  RelaisQueueEntry *entry = gtk_list_item_get_item (item);
  GtkWidget *state = gtk_widget_get_first_child (gtk_list_item_get_child (item));
  g_autofree char *text = entry_column_text (entry, COL_STATE);
  g_autofree char *attempts = g_strdup_printf (ngettext ("%u attempt", "%u attempts", entry->attempts),
                                               entry->attempts);

  set_cell_line (state, text);
  set_cell_line (gtk_widget_get_next_sibling (state), attempts);
}

static GtkWidget *
action_button (const char *icon, const char *tooltip)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);

  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, tooltip);
  return button;
}

static void
actions_setup_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);

  gtk_box_append (GTK_BOX (box), action_button ("media-playback-pause-symbolic", NULL));
  gtk_box_append (GTK_BOX (box), action_button ("mail-send-receive-symbolic", _("Retry now")));
  gtk_box_append (GTK_BOX (box), action_button ("user-trash-symbolic", _("Delete…")));
  gtk_list_item_set_child (item, box);
}

static void
actions_bind_cb (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  RelaisQueueEntry *entry = gtk_list_item_get_item (item);
  GtkWidget *hold = gtk_widget_get_first_child (gtk_list_item_get_child (item));
  GtkWidget *retry = gtk_widget_get_next_sibling (hold);
  GtkWidget *delete = gtk_widget_get_next_sibling (retry);
  GVariant *target = g_variant_new_string (entry->id);

  g_variant_ref_sink (target);
  gtk_button_set_icon_name (GTK_BUTTON (hold),
                            entry->held ? "media-playback-start-symbolic" : "media-playback-pause-symbolic");
  gtk_widget_set_tooltip_text (hold, entry->held ? _("Release") : _("Hold"));
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (hold), target);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (hold), entry->held ? "status.release" : "status.hold");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (retry), target);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (retry), "status.retry");
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (delete), target);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (delete), "status.delete");
  g_variant_unref (target);
}

static void
add_column (RelaisPageStatus *self, const char *title, guint n_lines, GCallback bind, gboolean expand)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkColumnViewColumn *column;

  g_signal_connect (factory, "setup", n_lines > 0 ? G_CALLBACK (cell_setup_cb) : G_CALLBACK (actions_setup_cb),
                    GUINT_TO_POINTER (n_lines));
  g_signal_connect (factory, "bind", bind, NULL);
  column = gtk_column_view_column_new (title, factory);
  gtk_column_view_column_set_expand (column, expand);
  gtk_column_view_append_column (self->queue_view, column);
  g_object_unref (column);
}

static void
add_columns (RelaisPageStatus *self)
{
  /* TRANSLATORS: column header of the queue list */
  add_column (self, _("Message"), 3, G_CALLBACK (message_bind_cb), TRUE);
  /* TRANSLATORS: column header of the queue list: held, next try... */
  add_column (self, _("State"), 2, G_CALLBACK (state_bind_cb), FALSE);
  add_column (self, NULL, 0, G_CALLBACK (actions_bind_cb), FALSE);
}

/* ---------------------------------------------------------------- the client */

static void
update_sensitivity (RelaisPageStatus *self)
{
  RelaisClient *client = relais_page_get_client (RELAIS_PAGE (self));
  gboolean can_edit = relais_client_can_manage_queue (client);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "status.hold", can_edit);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "status.release", can_edit);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "status.retry", can_edit);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "status.delete", can_edit);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "status.refresh", relais_client_is_connected (client));
  /* Managing the queue is its own polkit action, unlocked here (the
   * window's lock button is for the settings); only polkit can unlock. */
  gtk_widget_set_visible (GTK_WIDGET (self->queue_lock_button),
                          g_strcmp0 (relais_client_get_bus_name (client), "system") == 0);
}

static void
queue_permission_cb (RelaisPageStatus *self)
{
  gtk_lock_button_set_permission (self->queue_lock_button,
                                  relais_client_get_queue_permission (relais_page_get_client (RELAIS_PAGE (self))));
}

static void
statistics_changed_cb (RelaisPageStatus *self)
{
  update_counters (self);
  update_checks (self);
  schedule_history (self);
}

static void
client_changed_cb (RelaisPageStatus *self)
{
  RelaisClient *client = relais_page_get_client (RELAIS_PAGE (self));

  if (self->statistics != NULL)
    g_signal_handlers_disconnect_by_data (self->statistics, self);
  if (self->queue != NULL)
    g_signal_handlers_disconnect_by_data (self->queue, self);
  if (self->security != NULL)
    g_signal_handlers_disconnect_by_data (self->security, self);
  g_cancellable_cancel (self->cancellable);
  g_set_object (&self->cancellable, g_cancellable_new ());
  g_set_object (&self->statistics, relais_client_get_statistics (client));
  g_set_object (&self->queue, relais_client_get_queue (client));
  g_set_object (&self->security, relais_client_get_security (client));

  if (self->statistics != NULL)
    g_signal_connect_object (self->statistics, "g-properties-changed", G_CALLBACK (statistics_changed_cb), self,
                             G_CONNECT_SWAPPED);
  if (self->queue != NULL)
    g_signal_connect_object (self->queue, "changed", G_CALLBACK (refresh_queue), self, G_CONNECT_SWAPPED);
  if (self->security != NULL)
    g_signal_connect_object (self->security, "g-properties-changed", G_CALLBACK (update_checks), self,
                             G_CONNECT_SWAPPED);
  update_counters (self);
  update_checks (self);
  refresh_history (self);
  refresh_queue (self);
  update_sensitivity (self);
}

static gboolean
tick_cb (gpointer data)
{
  RelaisPageStatus *self = data;

  update_uptime (self);
  if (g_get_monotonic_time () - self->history_requested >= HISTORY_MAX_AGE)
    schedule_history (self);
  return G_SOURCE_CONTINUE;
}

static void
show_error (RelaisPageStatus *self, const char *prefix, const GError *error)
{
  g_autofree char *reason = relais_gui_error_message (error);

  g_free (self->last_error);
  self->last_error = g_strdup_printf ("%s: %s", prefix, reason);
  relais_gui_toast_error (GTK_WIDGET (self), prefix, error);
}

/* ---------------------------------------------------------------- test hook */

static GVariant *
probe_label (gpointer data, gboolean *sensitive, char **message)
{
  *sensitive = TRUE;
  return g_variant_new_string (gtk_label_get_text (data));
}

static GVariant *
probe_chart_range (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageStatus *self = data;

  *sensitive = TRUE;
  return g_variant_new_string (current_range (self)->id);
}

static gboolean
probe_set_chart_range (gpointer data, GVariant *value, GError **error)
{
  RelaisPageStatus *self = data;
  GtkToggleButton *buttons[] = { self->hour_button, self->day_button, self->week_button };
  const char *id = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ? g_variant_get_string (value, NULL) : "";

  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
    if (g_str_equal (ranges[i].id, id))
      {
        gtk_toggle_button_set_active (buttons[i], TRUE);
        return TRUE;
      }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no chart range \"%s\" (hour, day, week)", id);
  return FALSE;
}

static GVariant *
probe_chart_points (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageStatus *self = data;
  GVariantBuilder builder;
  guint n;
  const RelaisChartPoint *points = relais_chart_get_points (self->chart, &n);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xd)"));
  for (guint i = 0; i < n; i++)
    g_variant_builder_add (&builder, "(xd)", points[i].time, points[i].value);
  *sensitive = TRUE;
  return g_variant_builder_end (&builder);
}

static GVariant *
probe_chart_axes (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageStatus *self = data;
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_auto(GStrv) y_labels = relais_chart_get_y_labels (self->chart);
  g_auto(GStrv) x_labels = relais_chart_get_x_labels (self->chart);
  const char *caption = relais_chart_get_caption (self->chart);

  g_variant_dict_insert_value (&dict, "y-labels", g_variant_new_strv ((const char *const *) y_labels, -1));
  g_variant_dict_insert_value (&dict, "x-labels", g_variant_new_strv ((const char *const *) x_labels, -1));
  g_variant_dict_insert (&dict, "caption", "s", caption != NULL ? caption : "");
  g_variant_dict_insert (&dict, "note", "s",
                         gtk_widget_get_visible (GTK_WIDGET (self->chart_note)) ? gtk_label_get_text (self->chart_note)
                                                                                 : "");
  *sensitive = TRUE;
  return g_variant_dict_end (&dict);
}

static GVariant *
probe_queue (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageStatus *self = data;
  GVariantBuilder builder;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->queue_store));

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RelaisQueueEntry) entry = g_list_model_get_item (G_LIST_MODEL (self->queue_store), i);

      g_variant_builder_open (&builder, G_VARIANT_TYPE ("a{sv}"));
      for (guint c = 0; c < N_TEXT_COLS; c++)
        {
          g_autofree char *text = entry_column_text (entry, c);
          g_variant_builder_add (&builder, "{sv}", fields[c], g_variant_new_string (text));
        }
      g_variant_builder_add (&builder, "{sv}", "held", g_variant_new_boolean (entry->held));
      g_variant_builder_close (&builder);
    }
  *sensitive = gtk_widget_is_sensitive (GTK_WIDGET (self->queue_view)) &&
               relais_client_can_manage_queue (relais_page_get_client (RELAIS_PAGE (self)));
  return g_variant_builder_end (&builder);
}

static GVariant *
probe_last_error (gpointer data, gboolean *sensitive, char **message)
{
  RelaisPageStatus *self = data;

  *sensitive = TRUE;
  return g_variant_new_string (self->last_error != NULL ? self->last_error : "");
}

/* "Status.queue-hold" etc.: argument the queue id, shown in the list; runs
 * the row button's action. Delete answers the confirmation with Delete and
 * returns its text. */
static GVariant *
hook_queue_action (gpointer data, GVariant *argument, GError **error, const char *action)
{
  RelaisPageStatus *self = data;
  const char *id = g_variant_is_of_type (argument, G_VARIANT_TYPE_STRING) ? g_variant_get_string (argument, NULL) : "";
  g_autofree char *shown = NULL;

  if (find_entry (self, id) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no message \"%s\" in the list shown", id);
      return NULL;
    }
  if (!gtk_widget_activate_action (GTK_WIDGET (self), action, "s", id))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s is disabled", action);
      return NULL;
    }
  if (!g_str_equal (action, "status.delete"))
    return g_variant_new_string ("");
  if (self->confirm_dialog == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no confirmation was asked");
      return NULL;
    }
  shown = g_strdup_printf ("%s\n%s", adw_message_dialog_get_heading (self->confirm_dialog),
                           adw_message_dialog_get_body (self->confirm_dialog));
  adw_message_dialog_response (self->confirm_dialog, "delete");
  if (self->confirm_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->confirm_dialog));
  return g_variant_new_string (shown);
}

static GVariant *
hook_hold (gpointer data, GVariant *argument, GError **error)
{
  return hook_queue_action (data, argument, error, "status.hold");
}

static GVariant *
hook_release (gpointer data, GVariant *argument, GError **error)
{
  return hook_queue_action (data, argument, error, "status.release");
}

static GVariant *
hook_retry (gpointer data, GVariant *argument, GError **error)
{
  return hook_queue_action (data, argument, error, "status.retry");
}

static GVariant *
hook_delete (gpointer data, GVariant *argument, GError **error)
{
  return hook_queue_action (data, argument, error, "status.delete");
}

static GVariant *
hook_refresh (gpointer data, GVariant *argument, GError **error)
{
  gtk_widget_activate_action (GTK_WIDGET (data), "status.refresh", NULL);
  return g_variant_new_boolean (TRUE);
}

/* "Status.chart-load" (s range, x since, a(xt) points): shows POINTS as if
 * History had answered them, to check the chart without a daemon history. */
static GVariant *
hook_chart_load (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageStatus *self = data;
  const char *id;
  gint64 since;
  g_autoptr(GVariant) points = NULL;

  if (!g_variant_is_of_type (argument, G_VARIANT_TYPE ("(sxa(xt))")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "argument (sxa(xt)) expected");
      return NULL;
    }
  g_variant_get (argument, "(&sx@a(xt))", &id, &since, &points);
  if (!probe_set_chart_range (self, g_variant_new_string (id), error))
    return NULL;
  g_clear_handle_id (&self->history_timeout_id, g_source_remove);
  g_cancellable_cancel (self->history_cancellable);
  self->history_requested = g_get_monotonic_time ();
  self->history_serial++;
  show_history (self, current_range (self), since, points);
  set_chart_note (self, NULL);
  return g_variant_new_boolean (TRUE);
}

static GVariant *
probe_check (gpointer data, gboolean *sensitive, char **message)
{
  *sensitive = TRUE;
  return g_variant_new_string (adw_action_row_get_subtitle (data));
}

/* "Status.show-checks": scrolls the page to the checks group (for screenshots). */
static GVariant *
hook_show_checks (gpointer data, GVariant *argument, GError **error)
{
  RelaisPageStatus *self = data;
  GtkWidget *group = GTK_WIDGET (self->checks_group);
  GtkWidget *scrolled = gtk_widget_get_ancestor (group, GTK_TYPE_SCROLLED_WINDOW);
  GtkAdjustment *adjustment;
  double x, y;

  if (scrolled == NULL || !gtk_widget_translate_coordinates (group, scrolled, 0, 0, &x, &y))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the page is not shown");
      return NULL;
    }
  adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  /* a little room above; the adjustment keeps the value within the page */
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_value (adjustment) + y - 12);
  return g_variant_new_boolean (TRUE);
}

/* "Status.checks-load" (a{st} CheckResults, a{st} RuleHits): shows them as
 * if the daemon had sent them, to check results it does not give yet. */
static GVariant *
hook_checks_load (gpointer data, GVariant *argument, GError **error)
{
  g_autoptr(GVariant) results = NULL;
  g_autoptr(GVariant) hits = NULL;

  if (!g_variant_is_of_type (argument, G_VARIANT_TYPE ("(a{st}a{st})")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "argument (a{st}a{st}) expected");
      return NULL;
    }
  g_variant_get (argument, "(@a{st}@a{st})", &results, &hits);
  show_checks (data, results, hits);
  return g_variant_new_boolean (TRUE);
}

static void
add_hook_entries (RelaisPageStatus *self)
{
  GObject *owner = G_OBJECT (self);

  for (guint i = 0; i < N_COUNTERS; i++)
    {
      g_autofree char *name = g_strconcat ("Status.counter:", counters[i].property, NULL);
      relais_test_hook_add_probe (name, owner, probe_label, NULL, self->counter_labels[i]);
    }
  relais_test_hook_add_probe ("Status.counter:Uptime", owner, probe_label, NULL, self->uptime_label);
  for (guint i = 0; i < N_CHECKS; i++)
    {
      g_autofree char *name = g_strconcat ("Status.check:", checks[i].id, NULL);
      relais_test_hook_add_probe (name, owner, probe_check, NULL, self->check_rows[i]);
    }
  relais_test_hook_add_action ("Status.show-checks", owner, hook_show_checks, self);
  relais_test_hook_add_action ("Status.checks-load", owner, hook_checks_load, self);
  relais_test_hook_add_probe ("Status.chart-range", owner, probe_chart_range, probe_set_chart_range, self);
  relais_test_hook_add_probe ("Status.chart-points", owner, probe_chart_points, NULL, self);
  relais_test_hook_add_probe ("Status.chart-axes", owner, probe_chart_axes, NULL, self);
  relais_test_hook_add_probe ("Status.queue", owner, probe_queue, NULL, self);
  relais_test_hook_add_probe ("Status.last-error", owner, probe_last_error, NULL, self);
  relais_test_hook_add_action ("Status.queue-hold", owner, hook_hold, self);
  relais_test_hook_add_action ("Status.queue-release", owner, hook_release, self);
  relais_test_hook_add_action ("Status.queue-retry", owner, hook_retry, self);
  relais_test_hook_add_action ("Status.queue-delete", owner, hook_delete, self);
  relais_test_hook_add_action ("Status.queue-refresh", owner, hook_refresh, self);
  relais_test_hook_add_action ("Status.chart-load", owner, hook_chart_load, self);
}

/* ---------------------------------------------------------------- the class */

static void
relais_page_status_constructed (GObject *object)
{
  RelaisPageStatus *self = RELAIS_PAGE_STATUS (object);
  RelaisClient *client;

  G_OBJECT_CLASS (relais_page_status_parent_class)->constructed (object);

  client = relais_page_get_client (RELAIS_PAGE (self));
  g_signal_connect_object (client, "changed", G_CALLBACK (client_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::queue-permission", G_CALLBACK (queue_permission_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (client, "notify::can-manage-queue", G_CALLBACK (update_sensitivity), self,
                           G_CONNECT_SWAPPED);
  queue_permission_cb (self);
  client_changed_cb (self);
  self->tick_id = g_timeout_add_seconds (1, tick_cb, self);
  add_hook_entries (self);
}

static void
relais_page_status_dispose (GObject *object)
{
  RelaisPageStatus *self = RELAIS_PAGE_STATUS (object);

  self->disposed = TRUE;
  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->history_timeout_id, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->history_cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->history_cancellable);
  if (self->confirm_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->confirm_dialog));
  if (self->statistics != NULL)
    g_signal_handlers_disconnect_by_data (self->statistics, self);
  if (self->queue != NULL)
    g_signal_handlers_disconnect_by_data (self->queue, self);
  if (self->security != NULL)
    g_signal_handlers_disconnect_by_data (self->security, self);
  g_clear_object (&self->statistics);
  g_clear_object (&self->queue);
  g_clear_object (&self->security);
  g_clear_object (&self->uptime_label);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAIS_TYPE_PAGE_STATUS);
  G_OBJECT_CLASS (relais_page_status_parent_class)->dispose (object);
}

static void
relais_page_status_finalize (GObject *object)
{
  RelaisPageStatus *self = RELAIS_PAGE_STATUS (object);

  g_clear_object (&self->queue_store);
  g_free (self->last_error);
  G_OBJECT_CLASS (relais_page_status_parent_class)->finalize (object);
}

static void
relais_page_status_class_init (RelaisPageStatusClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = relais_page_status_constructed;
  object_class->dispose = relais_page_status_dispose;
  object_class->finalize = relais_page_status_finalize;

  g_type_ensure (RELAIS_TYPE_CHART);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/relais/Settings/relais-page-status.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, RelaisPageStatus, name)
  CHILD (messages_group);
  CHILD (messages_box);
  CHILD (checks_group);
  CHILD (connections_box);
  CHILD (hour_button);
  CHILD (day_button);
  CHILD (week_button);
  CHILD (chart);
  CHILD (chart_note);
  CHILD (queue_stack);
  CHILD (queue_lock_button);
  CHILD (queue_view);
#undef CHILD

  gtk_widget_class_install_action (widget_class, "status.hold", "s", queue_action_activated);
  gtk_widget_class_install_action (widget_class, "status.release", "s", queue_action_activated);
  gtk_widget_class_install_action (widget_class, "status.retry", "s", queue_action_activated);
  gtk_widget_class_install_action (widget_class, "status.delete", "s", queue_action_activated);
  gtk_widget_class_install_action (widget_class, "status.refresh", NULL, refresh_activated);
}

static void
relais_page_status_init (RelaisPageStatus *self)
{
  GtkFlowBox *boxes[] = { [BOX_MESSAGES] = NULL, [BOX_CONNECTIONS] = NULL };
  g_autoptr(GtkNoSelection) selection = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  boxes[BOX_MESSAGES] = self->messages_box;
  boxes[BOX_CONNECTIONS] = self->connections_box;
  for (guint i = 0; i < N_COUNTERS; i++)
    gtk_flow_box_append (boxes[counters[i].box], counter_tile (_(counters[i].title), &self->counter_labels[i]));
  self->uptime_label = GTK_LABEL (g_object_ref_sink (gtk_label_new ("—")));
  for (guint i = 0; i < N_CHECKS; i++)
    {
      self->check_rows[i] = check_row (_(checks[i].title));
      adw_preferences_group_add (self->checks_group, GTK_WIDGET (self->check_rows[i]));
    }

  self->queue_store = g_list_store_new (RELAIS_TYPE_QUEUE_ENTRY);
  selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->queue_store)));
  gtk_column_view_set_model (self->queue_view, GTK_SELECTION_MODEL (selection));
  add_columns (self);

  g_signal_connect_object (self->hour_button, "toggled", G_CALLBACK (range_toggled_cb), self, 0);
  g_signal_connect_object (self->day_button, "toggled", G_CALLBACK (range_toggled_cb), self, 0);
  g_signal_connect_object (self->week_button, "toggled", G_CALLBACK (range_toggled_cb), self, 0);
}

GtkWidget *
relais_page_status_new (RelaisClient *client)
{
  return g_object_new (RELAIS_TYPE_PAGE_STATUS, "client", client, NULL);
}
