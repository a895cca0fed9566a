/* SPDX-License-Identifier: GPL-3.0-or-later
 * The policy trace engine (relais-explain.c) on its own: the counters it
 * reads without counting, the nonexistent-account count across one
 * envelope's recipients, and a DNS lookup cancelled or failed. Runs in the
 * private test network without a DNS server: every lookup is a temporary
 * failure at once. */
#include <gio/gio.h>
#include <string.h>

#include "relais-anvil.h"
#include "relais-clock.h"
#include "relais-explain.h"

#define CLIENT "192.0.2.7"

typedef struct {
  RelaisServices services;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisConfig) base = relais_config_new_default ();
  g_autoptr(RelaisConfig) domain = relais_config_add_local_domain (base, "example.test", &error);
  GVariantDict changes;

  g_assert_no_error (error);
  g_variant_dict_init (&changes, NULL);
  g_variant_dict_insert (&changes, "RejectUnknownHelo", "b", TRUE);
  g_variant_dict_insert (&changes, "BlockNonexistentRecipients", "b", TRUE);
  g_variant_dict_insert (&changes, "MaxNonexistentRecipients", "u", 1);
  g_variant_dict_insert (&changes, "MaxConnections", "u", 2);
  memset (&f->services, 0, sizeof f->services);
  f->services.config = relais_config_apply_security (domain, g_variant_dict_end (&changes), &error);
  g_assert_no_error (error);
  f->services.anvil = relais_anvil_new (0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  relais_config_unref (f->services.config);
  relais_anvil_unref (f->services.anvil);
}

static void
done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static RelaisExplainResult *
run (Fixture *f, RelaisExplainEnvelope *envelope, GCancellable *cancellable, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  relais_explain_async (&f->services, envelope, cancellable, done_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return relais_explain_finish (result, error);
}

static RelaisExplainEnvelope *
envelope_new (const char *helo, const char *sender, const char *const *recipients)
{
  RelaisExplainEnvelope *envelope = relais_explain_envelope_new ();
  g_autofree char *reply = NULL;

  g_assert_true (relais_explain_envelope_set_client (envelope, CLIENT));
  envelope->helo = g_strdup (helo);
  if (sender != NULL)
    g_assert_true (relais_explain_envelope_set_sender (envelope, sender, &reply));
  for (guint i = 0; recipients != NULL && recipients[i] != NULL; i++)
    g_assert_true (relais_explain_envelope_add_recipient (envelope, recipients[i], &reply));
  return envelope;
}

static void
test_counters_read_not_counted (Fixture *f, gconstpointer data)
{
  gint64 now = relais_clock_now ();
  RelaisAnvilCounts before, after;
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisExplainResult) result = NULL;

  relais_anvil_connect (f->services.anvil, CLIENT, now, NULL, NULL);
  relais_anvil_peek (f->services.anvil, CLIENT, now, &before);
  result = run (f, envelope_new (NULL, NULL, NULL), NULL, &error);
  g_assert_no_error (error);
  /* one open connection plus the next: within the limit of 2 */
  g_assert_cmpstr (result->outcome.decision, ==, "accept");
  g_assert_cmpstr (result->outcome.reply, ==, "220 localhost.localdomain ESMTP Relais");
  relais_anvil_peek (f->services.anvil, CLIENT, now, &after);
  g_assert_cmpmem (&before, sizeof before, &after, sizeof after);
  g_clear_pointer (&result, relais_explain_result_free);

  relais_anvil_connect (f->services.anvil, CLIENT, now, NULL, NULL);
  result = run (f, envelope_new (NULL, NULL, NULL), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (result->outcome.decision, ==, "close");
  g_assert_cmpstr (result->outcome.decided_by, ==, "limit:connections");
  g_assert_cmpstr (result->outcome.reply, ==, "421 4.7.0 Too many connections");
  relais_anvil_disconnect (f->services.anvil, CLIENT);
  relais_anvil_disconnect (f->services.anvil, CLIENT);
}

static void
test_nonexistent_count_in_one_envelope (Fixture *f, gconstpointer data)
{
  static const char *const recipients[] = { "a@example.test", "b@example.test", "c@example.test", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisExplainResult) result = run (f, envelope_new (NULL, "s@example.net", recipients), NULL, &error);
  const RelaisExplainOutcome *first, *second;
  guint n_decided = 0;

  g_assert_no_error (error);
  /* 1 is within MaxNonexistentRecipients, 2 is past it: closed, c never sent */
  g_assert_cmpuint (result->recipients->len, ==, 2);
  first = g_ptr_array_index (result->recipients, 0);
  second = g_ptr_array_index (result->recipients, 1);
  g_assert_cmpstr (first->reply, ==, "550 5.1.1 Recipient address rejected: unknown user");
  g_assert_cmpstr (second->decision, ==, "close");
  g_assert_cmpstr (second->decided_by, ==, "policy:nonexistent-block");
  /* the first refusal is the envelope's outcome */
  g_assert_cmpstr (result->outcome.decision, ==, "reject");
  g_assert_cmpstr (result->outcome.decided_by, ==, "unknown-recipient");
  for (guint i = 0; i < result->steps->len; i++)
    {
      RelaisExplainStep *s = g_ptr_array_index (result->steps, i);

      if (s->step.decided && g_str_equal (s->stage, "rcpt b@example.test"))
        {
          g_assert_cmpstr (s->step.check, ==, "nonexistent-block");
          n_decided++;
        }
    }
  g_assert_cmpuint (n_decided, ==, 1);
  /* nothing was counted */
  g_assert_cmpuint (relais_anvil_get_size (f->services.anvil), ==, 0);
}

static void
test_lookup_tempfail_and_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(RelaisExplainResult) result = run (f, envelope_new ("nohost.test", "s@example.net", NULL), NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (result->outcome.decision, ==, "defer");
  g_assert_cmpstr (result->outcome.reply, ==, "450 4.7.1 Helo command rejected: temporary DNS failure, try again later");
  g_clear_pointer (&result, relais_explain_result_free);

  g_cancellable_cancel (cancellable);
  result = run (f, envelope_new ("nohost.test", "s@example.net", NULL), cancellable, &error);
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_nonnull (strstr (error->message, "'nohost.test' (unknown-helo)"));
}

static void
test_envelope_from_variant (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaisExplainEnvelope) envelope = NULL;
  g_autoptr(GVariant) request = NULL;
  GVariantDict dict;
  const char *const recipients[] = { "postmaster", "@a.example:b@example.test", NULL };

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "ClientAddress", "s", "::ffff:" CLIENT);
  g_variant_dict_insert (&dict, "Sender", "s", "");
  g_variant_dict_insert_value (&dict, "Recipients", g_variant_new_strv (recipients, -1));
  request = g_variant_ref_sink (g_variant_dict_end (&dict));
  envelope = relais_explain_envelope_from_variant (request, f->services.config, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (envelope->client_address, ==, CLIENT);
  g_assert_cmpstr (envelope->sender, ==, "");
  g_assert_cmpuint (envelope->recipients->len, ==, 2);
  g_assert_true (((RelaisExplainRecipient *) g_ptr_array_index (envelope->recipients, 0))->is_postmaster);
  g_assert_cmpstr (((RelaisExplainRecipient *) g_ptr_array_index (envelope->recipients, 1))->address, ==,
                   "b@example.test");
  g_assert_cmpstr (((RelaisExplainRecipient *) g_ptr_array_index (envelope->recipients, 1))->given, ==,
                   "@a.example:b@example.test");
}

int
main (int argc, char *argv[])
{
  g_setenv ("TZ", "UTC", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relais/explain/counters-read-not-counted", Fixture, NULL, fixture_setup,
              test_counters_read_not_counted, fixture_teardown);
  g_test_add ("/relais/explain/nonexistent-count-in-one-envelope", Fixture, NULL, fixture_setup,
              test_nonexistent_count_in_one_envelope, fixture_teardown);
  g_test_add ("/relais/explain/lookup-tempfail-and-cancel", Fixture, NULL, fixture_setup,
              test_lookup_tempfail_and_cancel, fixture_teardown);
  g_test_add ("/relais/explain/envelope-from-variant", Fixture, NULL, fixture_setup,
              test_envelope_from_variant, fixture_teardown);
  return g_test_run ();
}
