/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisChart: a small bar chart drawn with cairo in snapshot(). The data
 * and the tick labels are kept together (set_data computes both), so what
 * the tests read back is what is drawn. Pure helpers pick round steps for
 * the two axes. */
#include "config.h"

#include <math.h>

#include "relais-chart.h"

#define MAX_VALUE_TICKS 4
#define MAX_TIME_TICKS 7
#define PAD 6.0

struct _RelaisChart
{
  GtkWidget parent_instance;

  GArray *points;             /* RelaisChartPoint */
  gint64 start;
  gint64 end;
  guint step;
  char *caption;

  double value_step;          /* the value axis: 0 .. value_step * n_value_steps */
  guint n_value_steps;
  GPtrArray *y_labels;        /* char * */
  GArray *x_ticks;            /* gint64 */
  GPtrArray *x_labels;        /* char * */
};

G_DEFINE_FINAL_TYPE (RelaisChart, relais_chart, GTK_TYPE_WIDGET)

double
relais_chart_value_step (double max, guint max_ticks, guint *n_steps)
{
  double raw, magnitude, fraction, step;

  g_return_val_if_fail (max_ticks > 0, 1.0);
  if (!(max > 0.0) || !isfinite (max))
    max = max_ticks;            /* an empty chart: 0, 1, 2 ... */
  raw = max / max_ticks;
  magnitude = pow (10.0, floor (log10 (raw)));
  fraction = raw / magnitude;
  if (fraction <= 1.0)
    step = magnitude;
  else if (fraction <= 2.0)
    step = 2.0 * magnitude;
  else if (fraction <= 5.0)
    step = 5.0 * magnitude;
  else
    step = 10.0 * magnitude;
  if (n_steps != NULL)
    *n_steps = MAX (1, (guint) ceil (max / step - 1e-9));
  return step;
}

static gint64
first_tick (gint64 start, gint64 utc_offset, gint64 interval)
{
  gint64 local = start + utc_offset;
  gint64 aligned = local - ((local % interval) + interval) % interval;

  if (aligned < local)
    aligned += interval;
  return aligned - utc_offset;
}

gint64
relais_chart_time_step (gint64 start, gint64 end, gint64 utc_offset, guint max_ticks)
{
  static const gint64 intervals[] = { 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400 };
  gint64 interval = intervals[G_N_ELEMENTS (intervals) - 1];

  for (guint i = 0; i < G_N_ELEMENTS (intervals); i++)
    {
      guint count = 0;

      for (gint64 t = first_tick (start, utc_offset, intervals[i]); t <= end && count <= max_ticks;
           t += intervals[i])
        count++;
      if (count <= max_ticks)
        {
          interval = intervals[i];
          break;
        }
    }
  return interval;
}

static char *
format_value (double value, double step)
{
  int decimals = 0;

  while (decimals < 3 && fabs (step * pow (10.0, decimals) - round (step * pow (10.0, decimals))) > 1e-6)
    decimals++;
  return g_strdup_printf ("%.*f", decimals, value);
}

static void
compute_axes (RelaisChart *self)
{
  double max = 0.0;
  gint64 interval, offset;
  g_autoptr(GDateTime) start_time = g_date_time_new_from_unix_local (self->start);

  for (guint i = 0; i < self->points->len; i++)
    max = MAX (max, g_array_index (self->points, RelaisChartPoint, i).value);
  self->value_step = relais_chart_value_step (max, MAX_VALUE_TICKS, &self->n_value_steps);
  g_ptr_array_set_size (self->y_labels, 0);
  for (guint i = 0; i <= self->n_value_steps; i++)
    g_ptr_array_add (self->y_labels, format_value (i * self->value_step, self->value_step));

  g_array_set_size (self->x_ticks, 0);
  g_ptr_array_set_size (self->x_labels, 0);
  if (self->end <= self->start || start_time == NULL)
    return;
  offset = g_date_time_get_utc_offset (start_time) / G_TIME_SPAN_SECOND;
  interval = relais_chart_time_step (self->start, self->end, offset, MAX_TIME_TICKS);
  for (gint64 t = first_tick (self->start, offset, interval); t <= self->end; t += interval)
    {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (t);

      g_array_append_val (self->x_ticks, t);
      /* a day per tick: the weekday and the day ("Mon 27"); else the time */
      g_ptr_array_add (self->x_labels, g_date_time_format (when, interval >= 86400 ? "%a %e" : "%H:%M"));
    }
}

void
relais_chart_set_data (RelaisChart *self, gint64 start, gint64 end, guint step, const RelaisChartPoint *points,
                       guint n_points)
{
  g_return_if_fail (RELAIS_IS_CHART (self));
  g_return_if_fail (n_points == 0 || points != NULL);

  self->start = start;
  self->end = MAX (start, end);
  self->step = MAX (step, 1);
  g_array_set_size (self->points, 0);
  if (n_points > 0)
    g_array_append_vals (self->points, points, n_points);
  compute_axes (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

const RelaisChartPoint *
relais_chart_get_points (RelaisChart *self, guint *n_points)
{
  g_return_val_if_fail (RELAIS_IS_CHART (self), NULL);
  *n_points = self->points->len;
  return (const RelaisChartPoint *) (gpointer) self->points->data;
}

void
relais_chart_set_caption (RelaisChart *self, const char *caption)
{
  g_return_if_fail (RELAIS_IS_CHART (self));
  if (g_strcmp0 (self->caption, caption) == 0)
    return;
  g_free (self->caption);
  self->caption = g_strdup (caption);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

const char *
relais_chart_get_caption (RelaisChart *self)
{
  g_return_val_if_fail (RELAIS_IS_CHART (self), NULL);
  return self->caption;
}

static GStrv
labels_copy (GPtrArray *labels)
{
  GStrv copy = g_new0 (char *, labels->len + 1);

  for (guint i = 0; i < labels->len; i++)
    copy[i] = g_strdup (g_ptr_array_index (labels, i));
  return copy;
}

GStrv
relais_chart_get_y_labels (RelaisChart *self)
{
  g_return_val_if_fail (RELAIS_IS_CHART (self), NULL);
  return labels_copy (self->y_labels);
}

GStrv
relais_chart_get_x_labels (RelaisChart *self)
{
  g_return_val_if_fail (RELAIS_IS_CHART (self), NULL);
  return labels_copy (self->x_labels);
}

/* Drawing */

static void
text_size (PangoLayout *layout, const char *text, double *width, double *height)
{
  int w, h;

  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, &w, &h);
  *width = w;
  *height = h;
}

static void
draw (RelaisChart *self, cairo_t *cr, double width, double height)
{
  GtkWidget *widget = GTK_WIDGET (self);
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (widget, NULL);
  GdkRGBA fg;
  double label_w = 0.0, line_h = 0.0, w, h;
  double left, right, top, bottom, plot_w, plot_h, top_value;
  double span;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS

  for (guint i = 0; i < self->y_labels->len; i++)
    {
      text_size (layout, g_ptr_array_index (self->y_labels, i), &w, &h);
      label_w = MAX (label_w, w);
      line_h = MAX (line_h, h);
    }
  left = PAD + label_w + PAD;
  right = width - 2 * PAD;
  top = PAD + line_h / 2;
  bottom = height - PAD - line_h - PAD;             /* room for the time labels */
  if (self->caption != NULL && *self->caption != '\0')
    bottom -= line_h + PAD;
  plot_w = right - left;
  plot_h = bottom - top;
  if (plot_w < 10 || plot_h < 10)
    return;
  top_value = self->value_step * self->n_value_steps;
  span = (double) MAX (self->end - self->start, 1);

  /* grid lines and value labels */
  cairo_set_line_width (cr, 1.0);
  for (guint i = 0; i <= self->n_value_steps && i < self->y_labels->len; i++)
    {
      double y = round (bottom - plot_h * i / self->n_value_steps) + 0.5;

      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, fg.alpha * (i == 0 ? 0.6 : 0.12));
      cairo_move_to (cr, left, y);
      cairo_line_to (cr, right, y);
      cairo_stroke (cr);
      text_size (layout, g_ptr_array_index (self->y_labels, i), &w, &h);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, fg.alpha * 0.7);
      cairo_move_to (cr, left - PAD - w, y - h / 2);
      pango_cairo_show_layout (cr, layout);
    }

  /* the bars */
  cairo_set_source_rgba (cr, 0.21, 0.52, 0.89, 0.85);   /* the Adwaita accent blue */
  for (guint i = 0; i < self->points->len; i++)
    {
      const RelaisChartPoint *p = &g_array_index (self->points, RelaisChartPoint, i);
      double x0 = left + plot_w * (double) (p->time - self->start) / span;
      double x1 = left + plot_w * (double) (p->time + (gint64) self->step - self->start) / span;
      double bar_h = top_value > 0 ? plot_h * MIN (p->value, top_value) / top_value : 0;

      x0 = MAX (x0, left);
      x1 = MIN (x1, right);
      if (x1 - x0 > 3)
        x1 -= 1;                                          /* a gap between wide bars */
      if (x1 <= x0 || bar_h <= 0)
        continue;
      cairo_rectangle (cr, x0, bottom - bar_h, x1 - x0, bar_h);
    }
  cairo_fill (cr);

  /* the value axis, the time ticks and labels */
  cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, fg.alpha * 0.6);
  cairo_move_to (cr, left + 0.5, top);
  cairo_line_to (cr, left + 0.5, bottom);
  cairo_stroke (cr);
  for (guint i = 0; i < self->x_ticks->len; i++)
    {
      double x = round (left + plot_w * (double) (g_array_index (self->x_ticks, gint64, i) - self->start) / span) + 0.5;

      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, fg.alpha * 0.6);
      cairo_move_to (cr, x, bottom);
      cairo_line_to (cr, x, bottom + 4);
      cairo_stroke (cr);
      text_size (layout, g_ptr_array_index (self->x_labels, i), &w, &h);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, fg.alpha * 0.7);
      cairo_move_to (cr, CLAMP (x - w / 2, 0, width - w), bottom + 4);
      pango_cairo_show_layout (cr, layout);
    }

  if (self->caption != NULL && *self->caption != '\0')
    {
      text_size (layout, self->caption, &w, &h);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, fg.alpha);
      cairo_move_to (cr, left + MAX (0, (plot_w - w) / 2), height - PAD - h);
      pango_cairo_show_layout (cr, layout);
    }
}

static void
relais_chart_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  cairo_t *cr;

  if (width <= 0 || height <= 0)
    return;
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  draw (RELAIS_CHART (widget), cr, width, height);
  cairo_destroy (cr);
}

static void
relais_chart_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum, int *natural,
                      int *minimum_baseline, int *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 240;
      *natural = 560;
    }
  else
    {
      *minimum = 180;
      *natural = 220;
    }
}

static void
relais_chart_finalize (GObject *object)
{
  RelaisChart *self = RELAIS_CHART (object);

  g_array_unref (self->points);
  g_array_unref (self->x_ticks);
  g_ptr_array_unref (self->y_labels);
  g_ptr_array_unref (self->x_labels);
  g_free (self->caption);
  G_OBJECT_CLASS (relais_chart_parent_class)->finalize (object);
}

static void
relais_chart_class_init (RelaisChartClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = relais_chart_finalize;
  widget_class->snapshot = relais_chart_snapshot;
  widget_class->measure = relais_chart_measure;
  gtk_widget_class_set_css_name (widget_class, "relais-chart");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
relais_chart_init (RelaisChart *self)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  self->points = g_array_new (FALSE, FALSE, sizeof (RelaisChartPoint));
  self->x_ticks = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->y_labels = g_ptr_array_new_with_free_func (g_free);
  self->x_labels = g_ptr_array_new_with_free_func (g_free);
  relais_chart_set_data (self, now - 3600, now, 60, NULL, 0);
}

GtkWidget *
relais_chart_new (void)
{
  return g_object_new (RELAIS_TYPE_CHART, NULL);
}
