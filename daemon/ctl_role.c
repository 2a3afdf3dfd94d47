/*
 * trajectctl role grant-grantee | revoke-grantee | list: which login roles
 * act for which grantee (the row-level security of sql/005_roles.sql
 * shows a grant administrator or reader only the grants of its grantees).
 * Mapping is the owner's job; docs/security.md shows the whole set-up.
 */
#include <stdio.h>

#include "ctl.h"
#include "traject/roles.h"

#define USAGE_GRANT "role grant-grantee ROLE GRANTEE"
#define USAGE_REVOKE "role revoke-grantee ROLE GRANTEE"

int cmd_role_grant(struct ctl *ctl, int argc, char **argv)
{
	tj_err err = { 0 };
	int r;

	if (argc != 3)
		return ctl_usage(ctl, USAGE_GRANT);
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	r = tj_role_grantee_add(ctl->conn, argv[1], argv[2], &err);
	if (r < 0)
		return ctl_error(ctl, &err);
	printf("role %s %s grantee '%s'\n", argv[1],
	       r == TJ_ROLE_UNCHANGED ? "already acts for" : "now acts for", argv[2]);
	return CTL_OK;
}

int cmd_role_revoke(struct ctl *ctl, int argc, char **argv)
{
	tj_err err = { 0 };
	int r;

	if (argc != 3)
		return ctl_usage(ctl, USAGE_REVOKE);
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_role_grantee_remove(ctl->conn, argv[1], argv[2], &err) < 0)
		return ctl_error(ctl, &err);
	printf("role %s no longer acts for grantee '%s'\n", argv[1], argv[2]);
	return CTL_OK;
}

int cmd_role_list(struct ctl *ctl, int argc, char **argv)
{
	struct tj_role_grantee *list = NULL;
	tj_err err = { 0 };
	size_t n = 0;
	int r;

	(void)argv;
	if (argc != 1)
		return ctl_usage(ctl, "role list");
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_role_grantees_list(ctl->conn, &list, &n, &err) < 0)
		return ctl_error(ctl, &err);
	if (n == 0)
		printf("no role acts for a grantee yet: map one with 'trajectctl %s'\n", USAGE_GRANT);
	for (size_t i = 0; i < n; i++)
		printf("%s\t%s\n", list[i].role, list[i].grantee);
	tj_role_grantees_free(list, n);
	return CTL_OK;
}
