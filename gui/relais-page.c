/* SPDX-License-Identifier: GPL-3.0-or-later
 * RelaisPage: what every settings page shares: the client it talks to and
 * the form whose edits the window's Apply bar sends. */
#include "config.h"

#include "relais-page.h"

typedef struct
{
  RelaisClient *client;
  RelaisForm *form;
} RelaisPagePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (RelaisPage, relais_page, ADW_TYPE_PREFERENCES_PAGE)

enum { PROP_0, PROP_CLIENT, PROP_FORM, N_PROPS };
static GParamSpec *props[N_PROPS];

static void
relais_page_dispose (GObject *object)
{
  RelaisPagePrivate *priv = relais_page_get_instance_private (RELAIS_PAGE (object));

  g_clear_object (&priv->form);
  g_clear_object (&priv->client);
  G_OBJECT_CLASS (relais_page_parent_class)->dispose (object);
}

static void
relais_page_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RelaisPagePrivate *priv = relais_page_get_instance_private (RELAIS_PAGE (object));

  switch (prop_id)
    {
    case PROP_CLIENT:
      priv->client = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relais_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RelaisPagePrivate *priv = relais_page_get_instance_private (RELAIS_PAGE (object));

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, priv->client);
      break;
    case PROP_FORM:
      g_value_set_object (value, priv->form);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relais_page_class_init (RelaisPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = relais_page_dispose;
  object_class->set_property = relais_page_set_property;
  object_class->get_property = relais_page_get_property;

  props[PROP_CLIENT] = g_param_spec_object ("client", NULL, NULL, RELAIS_TYPE_CLIENT,
                                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                            G_PARAM_STATIC_STRINGS);
  props[PROP_FORM] = g_param_spec_object ("form", NULL, NULL, RELAIS_TYPE_FORM,
                                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
relais_page_init (RelaisPage *self)
{
}

RelaisClient *
relais_page_get_client (RelaisPage *self)
{
  RelaisPagePrivate *priv = relais_page_get_instance_private (self);

  g_return_val_if_fail (RELAIS_IS_PAGE (self), NULL);
  return priv->client;
}

RelaisForm *
relais_page_get_form (RelaisPage *self)
{
  RelaisPagePrivate *priv = relais_page_get_instance_private (self);

  g_return_val_if_fail (RELAIS_IS_PAGE (self), NULL);
  return priv->form;
}

RelaisForm *
relais_page_add_form (RelaisPage *self, const char *interface_name)
{
  RelaisPagePrivate *priv = relais_page_get_instance_private (self);

  g_return_val_if_fail (RELAIS_IS_PAGE (self), NULL);
  g_return_val_if_fail (priv->form == NULL, priv->form);
  priv->form = relais_form_new (priv->client, interface_name);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_FORM]);
  return priv->form;
}
