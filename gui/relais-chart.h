/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define RELAIS_TYPE_CHART (relais_chart_get_type ())
G_DECLARE_FINAL_TYPE (RelaisChart, relais_chart, RELAIS, CHART, GtkWidget)

/* RelaisChart: a bar chart of values over time (the Status page's messages
 * per minute). It draws what it is given, nothing more: the time axis from
 * START to END with a few local-time ticks, the value axis from 0 to a
 * round number above the largest value, one bar per point, and a caption.
 * No points draws the empty axes. */
typedef struct
{
  gint64 time;                /* start of the bucket, Unix seconds */
  double value;
} RelaisChartPoint;

GtkWidget  *relais_chart_new          (void);
/* Each point covers [time, time + STEP). Copies POINTS. */
void        relais_chart_set_data     (RelaisChart *self, gint64 start, gint64 end, guint step,
                                       const RelaisChartPoint *points, guint n_points);
const RelaisChartPoint *relais_chart_get_points (RelaisChart *self, guint *n_points);
void        relais_chart_set_caption  (RelaisChart *self, const char *caption);
const char *relais_chart_get_caption  (RelaisChart *self);
/* The tick labels drawn on each axis, lowest value / earliest time first. */
GStrv       relais_chart_get_y_labels (RelaisChart *self);
GStrv       relais_chart_get_x_labels (RelaisChart *self);

/* The value axis for values up to MAX: a round step (1, 2 or 5 times a power
 * of ten) such that at most MAX_TICKS steps reach MAX; the top of the axis
 * is *N_STEPS times the step. */
double      relais_chart_value_step   (double max, guint max_ticks, guint *n_steps);
/* The time axis from START to END: the smallest of a fixed set of round
 * intervals (10 min ... 1 day) giving at most MAX_TICKS ticks aligned to
 * local time (UTC_OFFSET seconds east). */
gint64      relais_chart_time_step    (gint64 start, gint64 end, gint64 utc_offset, guint max_ticks);

G_END_DECLS
