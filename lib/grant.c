/*
 * What a performance obligation may name: the scalar indicators of
 * indicators.md (the same list as the CHECK of traject.obligations in
 * sql/001_register.sql), and which of them are money. closed_by_reason and
 * data_quality are objects, so no obligation can compare them.
 */
#include <stdbool.h>
#include <string.h>

#include "traject/grant.h"
#include "util.h"

static const struct {
	const char *name;
	bool money;
} indicators[] = {
	{ "trajectories_started", false },
	{ "trajectories_helped", false },
	{ "trajectories_closed", false },
	{ "trajectories_active", false },
	{ "children_helped", false },
	{ "indications_needed", false },
	{ "indications_requested", false },
	{ "indications_avoided", false },
	{ "indication_avoidance_rate", false },
	{ "escalations", false },
	{ "heavier_care_avoided_rate", false },
	{ "median_days_to_help", false },
	{ "p90_days_to_help", false },
	{ "costs_total", true },
	{ "amount_committed", true },
	{ "amount_settled", true },
	{ "budget_remaining", true },
	{ "cost_per_child_helped", true },
	{ "children_helped_per_10k_eur", false },
	{ "extra_children_within_budget", false },
};

int tj_grant_indicator_kind(const char *name)
{
	for (size_t i = 0; name && i < TJ_ARRAY_SIZE(indicators); i++)
		if (strcmp(indicators[i].name, name) == 0)
			return indicators[i].money ? 1 : 0;
	return -1;
}
