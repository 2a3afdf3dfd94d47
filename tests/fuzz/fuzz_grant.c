/*
 * Fuzz target: the grant decision parser (tj_grant_parse, lib/grant_parse.c
 * and its checkers). Invariants: success and refusal are exclusive (a
 * grant and no problems, or problems and no grant); an accepted grant is
 * valid by the rules of docs/grants.md (references, dates in order, money
 * in range, a calendar); its stored document is JSON that parses to the
 * same grant again; no message repeats a possible BSN; nothing leaks.
 */
#include <string.h>

#include "fuzz.h"
#include "traject/grant.h"
#include "traject/value.h"

static void check_valid(const tj_grant *g)
{
	FUZZ_CHECK(tj_ref_valid(g->id) && !tj_contains_bsn(g->id));
	FUZZ_CHECK(g->grantor && g->grantee && g->document);
	FUZZ_CHECK(!tj_contains_bsn(g->grantor) && !tj_contains_bsn(g->grantee));
	FUZZ_CHECK(!g->title || !tj_contains_bsn(g->title));
	FUZZ_CHECK(g->period_start <= g->period_end);
	FUZZ_CHECK(g->amount_granted >= 0 && g->amount_granted <= TJ_MONEY_MAX);
	FUZZ_CHECK(g->amount_per_trajectory >= 0 && g->amount_per_trajectory <= TJ_MONEY_MAX);
	FUZZ_CHECK(g->target_trajectories > 0);
	FUZZ_CHECK(strlen(g->currency) == 3);
	FUZZ_CHECK(g->n_reports >= 1 && g->reports);
	for (size_t i = 0; i < g->n_reports; i++) {
		FUZZ_CHECK(tj_ref_valid(g->reports[i].id) && !tj_contains_bsn(g->reports[i].id));
		FUZZ_CHECK(g->reports[i].as_of <= g->reports[i].due);
		FUZZ_CHECK(!strcmp(g->reports[i].kind, "progress") ||
			   !strcmp(g->reports[i].kind, "determination"));
	}
	for (size_t i = 0; i < g->n_obligations; i++) {
		const tj_obligation *o = &g->obligations[i];

		FUZZ_CHECK(tj_ref_valid(o->id) && !tj_contains_bsn(o->id));
		FUZZ_CHECK(tj_grant_indicator_kind(o->indicator) == (o->target_money ? 1 : 0));
		FUZZ_CHECK(o->op && o->target && *o->target);
		FUZZ_CHECK(!o->description || !tj_contains_bsn(o->description));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tj_grant *g = NULL, *again = NULL;
	tj_diags d, d2;
	tj_err err = { 0 };
	int r;

	tj_diags_init(&d);
	r = tj_grant_parse(&g, "fuzz.json", (const char *)data, size, &d, &err);
	FUZZ_CHECK(r == 0 || r == TJ_EINVAL || r == TJ_ENOMEM);
	for (size_t i = 0; i < d.count; i++) {
		FUZZ_CHECK(!strncmp(d.items[i], "fuzz.json", 9));
		/* every problem carries its rule code (docs/grants.md) */
		FUZZ_CHECK(strstr(d.items[i], ": TJ1") != NULL);
		FUZZ_CHECK(!tj_contains_bsn(d.items[i]));
		FUZZ_CHECK(!strchr(d.items[i], '\n'));
	}
	if (r == 0) {
		FUZZ_CHECK(g && d.total == 0);
		check_valid(g);
		/* what is stored as jsonb is a grant decision in its own right */
		tj_diags_init(&d2);
		r = tj_grant_parse(&again, "document", g->document, strlen(g->document), &d2, &err);
		FUZZ_CHECK(r == 0 && again);
		FUZZ_CHECK(!strcmp(again->document, g->document));
		FUZZ_CHECK(!strcmp(again->id, g->id) && again->amount_granted == g->amount_granted &&
			   again->amount_per_trajectory == g->amount_per_trajectory &&
			   again->n_reports == g->n_reports &&
			   again->n_obligations == g->n_obligations);
		tj_grant_free(again);
		tj_diags_clear(&d2);
	} else if (r == TJ_EINVAL) {
		FUZZ_CHECK(!g && d.total > 0);
	}
	tj_grant_free(g);
	tj_diags_clear(&d);
	return 0;
}
