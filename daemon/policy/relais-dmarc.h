/* SPDX-License-Identifier: GPL-3.0-or-later
 * DMARC (RFC 7489): the domain of the RFC5322.From field, the policy record
 * ("v=DMARC1; p=..."), its discovery in the DNS (§6.6.3: _dmarc.FROM, then
 * _dmarc.ORGANIZATIONAL-DOMAIN), the alignment of the SPF and DKIM results
 * with the From domain (relaxed: same organizational domain, relais-psl.h;
 * strict: the same name), pct sampling (§6.6.4), and the
 * Authentication-Results (RFC 8601) dmarc= clause.
 *
 * The evaluation asks the DNS through a RelaisDmarcTxtLookupFunc the caller
 * gives; with relais_dmarc_dns_lookup it blocks, so it runs in a worker
 * thread. Reports (rua=, ruf=) are not sent. Not wired into the SMTP session
 * yet. */
#pragma once

#include <glib.h>

#include "relais-dkim.h"
#include "relais-policy.h"
#include "relais-psl.h"
#include "relais-spf.h"

G_BEGIN_DECLS

typedef enum {
  RELAIS_DMARC_NONE,       /* no (usable) policy record: DMARC does not apply */
  RELAIS_DMARC_PASS,       /* an aligned SPF or DKIM pass */
  RELAIS_DMARC_FAIL,       /* a policy record and no aligned pass */
  RELAIS_DMARC_TEMPERROR,  /* the record could not be looked up for now */
  RELAIS_DMARC_PERMERROR,  /* a broken record, or a From field without exactly one domain */
} RelaisDmarcResult;

typedef enum {
  RELAIS_DMARC_POLICY_NONE,
  RELAIS_DMARC_POLICY_QUARANTINE,
  RELAIS_DMARC_POLICY_REJECT,
} RelaisDmarcPolicy;

typedef enum {
  RELAIS_DMARC_ALIGN_RELAXED,  /* "r": the same organizational domain */
  RELAIS_DMARC_ALIGN_STRICT,   /* "s": the same name */
} RelaisDmarcAlignment;

/* One policy record (RFC 7489 §6.3). */
typedef struct {
  RelaisDmarcPolicy policy;            /* p= */
  RelaisDmarcPolicy subdomain_policy;  /* sp=; p= when absent */
  gboolean policy_defaulted;           /* p= (or sp=) was missing or invalid and rua= given:
                                        * taken as p=none (§6.6.3 step 6) */
  guint percent;                       /* pct=, 0-100, 100 by default */
  RelaisDmarcAlignment dkim_alignment; /* adkim=, relaxed by default */
  RelaisDmarcAlignment spf_alignment;  /* aspf=, relaxed by default */
  char *rua;                           /* rua= as written, NULL when absent */
  char *ruf;                           /* ruf= as written, NULL when absent */
} RelaisDmarcRecord;

/* Parses the text of one TXT record (its strings joined). The tag list must
 * start with v=DMARC1; tags are matched in any case, values of p=, sp=,
 * adkim= and aspf= too; unknown tags are ignored. Errors (RELAIS_ERROR):
 * NOT_FOUND when the record has no valid p= or has an invalid sp= and no
 * valid rua= URI to fall back on p=none with (§6.6.3 step 6: no DMARC
 * processing); INVALID_ARGUMENT for anything else (not a DMARC record, a
 * tag list that does not parse, a tag given twice, a bad pct=, adkim= or
 * aspf=). Messages say what is wrong. */
RelaisDmarcRecord *relais_dmarc_record_parse (const char *text, GError **error);
void               relais_dmarc_record_free (RelaisDmarcRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDmarcRecord, relais_dmarc_record_free)

/* The domain of the From field's only mailbox, lower case, in *DOMAIN.
 * FROM_FIELD_VALUE is the field's value after the colon, possibly folded,
 * with display names, comments and quoted strings. FALSE with
 * RELAIS_ERROR_INVALID_ARGUMENT when there is not exactly one mailbox, the
 * mailbox has no domain or an address literal, a group is used (RFC 6854),
 * or the value does not parse: RFC 7489 §6.6.1 leaves such messages to the
 * receiver; the caller reports dmarc=permerror. A message with several From
 * fields is the caller's to catch (the same answer). */
gboolean relais_dmarc_from_domain (const char *from_field_value, char **domain, GError **error);

/* TXT lookup: NAME's TXT records, each one's strings joined, added to RECORDS
 * (char *) when FOUND; NXDOMAIN, NO_RECORDS or TEMPFAIL otherwise. NAME is
 * ASCII (A-labels). */
typedef RelaisDnsResult (*RelaisDmarcTxtLookupFunc) (const char *name, GPtrArray *records, gpointer user_data);

/* The lookup through the system resolver (relais_dns_lookup_txt): blocking,
 * for worker threads. USER_DATA unused. */
RelaisDnsResult relais_dmarc_dns_lookup (const char *name, GPtrArray *records, gpointer user_data);

typedef struct {
  RelaisDmarcResult result;
  RelaisDmarcPolicy policy;       /* the policy that applies: p=, or sp= when the record was
                                   * found at the organizational domain for a subdomain;
                                   * NONE without a record */
  gboolean applied;               /* the message fell within pct= (SAMPLE < pct) */
  RelaisDmarcPolicy disposition;  /* what to do: on fail, POLICY when applied, else the next
                                   * less strict (§6.6.4: reject → quarantine → none); NONE
                                   * for anything but fail */
  guint percent;                  /* the record's pct=, 100 without a record */
  char *from_domain;              /* lower case A-labels, NULL when not a domain name */
  char *org_domain;               /* its organizational domain */
  char *policy_domain;            /* where the record was found, NULL when none */
  gboolean spf_aligned;           /* SPF passed for an aligned domain */
  gboolean dkim_aligned;          /* a DKIM signature passed for an aligned domain */
  char *reason;                   /* why, for a mail administrator */
} RelaisDmarcAnswer;

void relais_dmarc_answer_free (RelaisDmarcAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaisDmarcAnswer, relais_dmarc_answer_free)

/* Evaluates DMARC for a message whose From domain is FROM_DOMAIN (from
 * relais_dmarc_from_domain; UTF-8 or A-labels), with SPF_RESULT the SPF
 * result for SPF_DOMAIN (the MAIL FROM domain, or the HELO name for the null
 * sender; may be NULL when SPF was not checked) and DKIM_VERDICTS
 * (RelaisDkimVerdict *, may be NULL) the message's DKIM verdicts. PSL gives
 * organizational domains (NULL: the last two labels; the caller passes
 * relais_psl_default ()). Records are asked of LOOKUP (blocking when it
 * blocks). SAMPLE (0-99) is the caller's random draw for pct=: the policy
 * applies when SAMPLE < pct. Never NULL. */
RelaisDmarcAnswer *relais_dmarc_evaluate (const char *from_domain, const char *spf_domain,
                                          RelaisSpfResult spf_result, GPtrArray *dkim_verdicts,
                                          const RelaisPsl *psl, RelaisDmarcTxtLookupFunc lookup,
                                          gpointer lookup_data, guint sample);

/* "none", "pass", "fail", "temperror", "permerror". */
const char *relais_dmarc_result_to_string (RelaisDmarcResult result);
/* "none", "quarantine", "reject". */
const char *relais_dmarc_policy_to_string (RelaisDmarcPolicy policy);

/* The Authentication-Results clause of ANSWER:
 * `dmarc=fail (p=reject dis=reject) header.from=example.com` (pass and fail:
 * the policy that applies and the disposition), `dmarc=none
 * header.from=example.com`, `dmarc=temperror reason="..." header.from=...`
 * (temperror and permerror carry the reason). */
char *relais_dmarc_format (const RelaisDmarcAnswer *answer);

G_END_DECLS
