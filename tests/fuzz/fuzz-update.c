/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz harness: the validation of the a{sv} dictionaries that D-Bus Update
 * methods pass to the configuration (core/relais-config.c,
 * core/relais-config-security.c): General.Update, Distribution.Update,
 * Security.Update, Distribution.AddRelayHost's fields and UpdateRelayHost,
 * Distribution.UpdateRule, Security.UpdateRule, RelayControl's
 * UpdateTrustedNetwork and UpdateRelayDomain. The input is the serialized
 * dictionary (GVariant serialization, little-endian as D-Bus carries it
 * here: any bytes are some a{sv}, taken in normal form as GDBus hands a
 * method its arguments), applied to a fixed base
 * snapshot holding one entry of each list. An edit is refused with a
 * RELAIS_ERROR that has a message, or gives a snapshot whose settings, as the
 * store writes them (g_variant_print) and reads them back (g_variant_parse
 * and the same validation), come out the same. Accounts.UpdateAccount is
 * checked in its D-Bus handler (relais-dbus-accounts.c) and hashes passwords:
 * it is not here. */
#include <string.h>

#include "relais-config.h"
#include "relais-error.h"
#include "relais-fuzz.h"

typedef GVariant *(*ToVariantFunc) (const RelaisConfig *config);
typedef RelaisConfig *(*ApplyFunc) (const RelaisConfig *base, GVariant *changes, GError **error);

static RelaisConfig *
base_config (void)
{
  static RelaisConfig *base;
  g_autoptr (GError) error = NULL;
  const char *patterns[] = { "example.com", NULL };
  RelaisConfig *next;

  if (base != NULL)
    return base;
  base = relais_config_new_default ();
#define EDIT(call)                                     \
  G_STMT_START {                                       \
    next = (call);                                     \
    g_assert_no_error (error);                         \
    relais_config_unref (base);                        \
    base = next;                                       \
  } G_STMT_END
  EDIT (relais_config_add_relay_host (base, "hub",
                                      g_variant_new_parsed ("{'Server': <'hub.example.net'>, 'Port': <@u 587>}"),
                                      &error));
  EDIT (relais_config_add_relay_rule (base, 0, "recipient", "hub", patterns, NULL, &error));
  EDIT (relais_config_add_trusted_network (base, "lan", "192.0.2.0/24", &error));
  EDIT (relais_config_add_relay_domain (base, "partner", "partner.example", &error));
  EDIT (relais_config_add_security_rule (base, "spam", "black", "sender", "spam@example.com", "reject", &error));
#undef EDIT
  return base;
}

static void
check_refused (RelaisConfig *next, GError *error)
{
  if (next != NULL)
    {
      g_assert_no_error (error);
      relais_config_unref (next);
      return;
    }
  g_assert (error != NULL && error->domain == RELAIS_ERROR && error->message[0] != '\0');
  g_error_free (error);
}

/* What was accepted is stored as text and read back to the same settings. */
static void
check_stored (RelaisConfig *next, ToVariantFunc to_variant, ApplyFunc apply)
{
  g_autoptr (GVariant) settings = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GVariant) parsed = NULL;
  g_autoptr (RelaisConfig) reloaded = NULL;
  g_autoptr (GVariant) again = NULL;
  g_autoptr (GError) error = NULL;

  if (next == NULL)
    return;
  settings = to_variant (next);
  text = g_variant_print (settings, TRUE);
  parsed = g_variant_parse (NULL, text, NULL, NULL, &error);
  g_assert_no_error (error);
  reloaded = apply (base_config (), parsed, &error);
  g_assert_no_error (error);
  again = to_variant (reloaded);
  g_assert (g_variant_equal (again, settings));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  RelaisConfig *base;
  g_autoptr (GVariant) received = NULL;
  g_autoptr (GVariant) changes = NULL;
  gpointer copy = g_memdup2 (data, size);
  static const ApplyFunc settings[] = {
    relais_config_apply_general, relais_config_apply_distribution, relais_config_apply_security,
  };
  static const ToVariantFunc settings_to_variant[] = {
    relais_config_general_to_variant, relais_config_distribution_to_variant, relais_config_security_to_variant,
  };

  relais_fuzz_init ();
  base = base_config ();
  received = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, copy, size, FALSE, g_free, copy));
  changes = g_variant_get_normal_form (received);

  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      GError *error = NULL;
      RelaisConfig *next = settings[i] (base, changes, &error);

      check_stored (next, settings_to_variant[i], settings[i]);
      check_refused (next, error);
    }
  for (guint i = 0; i < 6; i++)
    {
      GError *error = NULL;
      RelaisConfig *next;

      switch (i)
        {
        case 0: next = relais_config_add_relay_host (base, "new", changes, &error); break;
        case 1: next = relais_config_update_relay_host (base, "hub", changes, &error); break;
        case 2: next = relais_config_update_relay_rule (base, 1, changes, &error); break;
        case 3: next = relais_config_update_security_rule (base, "spam", changes, &error); break;
        case 4: next = relais_config_update_trusted_network (base, "lan", changes, &error); break;
        default: next = relais_config_update_relay_domain (base, "partner", changes, &error); break;
        }
      check_refused (next, error);
    }
  return 0;
}
