/*
 * Roles and privileges: `trajectctl migrate --roles` and the role-grantee
 * map (include/traject/roles.h). Who sees which rows is decided by the
 * policies of sql/005_roles.sql; this file decides who may do what: it
 * creates the four group roles, gives the schema to trajectd_owner and
 * grants each group the smallest set of privileges its commands need
 * (the table in docs/security.md). Grants are reset before they are
 * given, so running it again converges on exactly that set.
 *
 * Object and role names below are constants; the DDL that needs the names
 * of catalogued objects builds them inside the server with format('%I').
 * Nothing here is built from input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "traject/roles.h"
#include "traject/value.h"
#include "util.h"

#define SETUP_HINT                                                                        \
	" (run 'trajectctl migrate --roles' as a superuser, or as the owner of the database " \
	"and the schema with CREATEROLE)"

static const char create_roles[] =
	"DO $$\n"
	"DECLARE r text;\n"
	"BEGIN\n"
	"  FOREACH r IN ARRAY ARRAY['trajectd_owner', 'trajectd_service', 'trajectd_admin',"
	"                          'trajectd_reader'] LOOP\n"
	"    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN\n"
	"      BEGIN\n"
	"        EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
	" NOREPLICATION NOBYPASSRLS', r);\n"
	"      EXCEPTION WHEN duplicate_object OR unique_violation THEN\n"
	"        NULL; -- another migrator made it meanwhile\n"
	"      END;\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"END $$";

/* A group role that bypasses RLS would make every policy moot for its members. */
static const char unsafe_roles[] =
	"SELECT string_agg(rolname, ', ' ORDER BY rolname) FROM pg_catalog.pg_roles"
	" WHERE rolname IN ('trajectd_owner', 'trajectd_service', 'trajectd_admin',"
	" 'trajectd_reader') AND (rolsuper OR rolbypassrls)";

/*
 * Everything in schema traject to trajectd_owner. Tables carry their
 * indexes, identity sequences, triggers, policies and row types along.
 */
static const char hand_over[] =
	"DO $$\n"
	"DECLARE o record;\n"
	"BEGIN\n"
	"  ALTER SCHEMA traject OWNER TO trajectd_owner;\n"
	"  FOR o IN SELECT c.oid::regclass AS name FROM pg_class c\n"
	"           WHERE c.relnamespace = 'traject'::regnamespace\n"
	"             AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LOOP\n"
	"    EXECUTE format('ALTER TABLE %s OWNER TO trajectd_owner', o.name);\n"
	"  END LOOP;\n"
	"  FOR o IN SELECT c.oid::regclass AS name FROM pg_class c\n"
	"           WHERE c.relnamespace = 'traject'::regnamespace AND c.relkind = 'S'\n"
	"             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass\n"
	"                             AND d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP\n"
	"    EXECUTE format('ALTER SEQUENCE %s OWNER TO trajectd_owner', o.name);\n"
	"  END LOOP;\n"
	"  FOR o IN SELECT p.oid::regprocedure AS name FROM pg_proc p\n"
	"           WHERE p.pronamespace = 'traject'::regnamespace LOOP\n"
	"    EXECUTE format('ALTER ROUTINE %s OWNER TO trajectd_owner', o.name);\n"
	"  END LOOP;\n"
	"  FOR o IN SELECT t.oid::regtype AS name, t.typtype FROM pg_type t\n"
	"           WHERE t.typnamespace = 'traject'::regnamespace\n"
	"             AND (t.typtype = 'd' OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c\n"
	"                                      WHERE c.oid = t.typrelid) = 'c')) LOOP\n"
	"    EXECUTE format(CASE WHEN o.typtype = 'd' THEN 'ALTER DOMAIN %s OWNER TO trajectd_owner'\n"
	"                        ELSE 'ALTER TYPE %s OWNER TO trajectd_owner' END, o.name);\n"
	"  END LOOP;\n"
	"END $$";

/* Reset, then grant exactly what each group's commands need (docs/security.md). */
static const char *const privileges[] = {
	"REVOKE ALL ON SCHEMA traject FROM PUBLIC",
	"GRANT USAGE ON SCHEMA traject TO trajectd_service, trajectd_admin, trajectd_reader",
	"REVOKE ALL ON ALL TABLES IN SCHEMA traject"
	" FROM PUBLIC, trajectd_service, trajectd_admin, trajectd_reader",
	"REVOKE ALL ON ALL SEQUENCES IN SCHEMA traject"
	" FROM PUBLIC, trajectd_service, trajectd_admin, trajectd_reader",
	"GRANT SELECT ON ALL TABLES IN SCHEMA traject"
	" TO trajectd_service, trajectd_admin, trajectd_reader",
	/* the register: grant load, import, void, explain */
	"GRANT INSERT ON traject.grants, traject.grant_versions, traject.obligations,"
	" traject.calendar, traject.trajectories, traject.import_batches, traject.events,"
	" traject.voids, traject.explanations TO trajectd_admin",
	/* for SELECT ... FOR NO KEY UPDATE and the scope trigger only (grants_frozen) */
	"GRANT UPDATE (scope_grantee) ON traject.grants TO trajectd_admin",
	/* the outbox: the daemon generates and delivers; deliver generates and re-queues */
	"GRANT INSERT ON traject.report_versions, traject.documents, traject.deliveries,"
	" traject.alerts TO trajectd_service, trajectd_admin",
	"GRANT UPDATE ON traject.deliveries TO trajectd_service",
	"GRANT UPDATE (state, next_attempt_at) ON traject.deliveries TO trajectd_admin",
	/* resolving alerts, and the alert mail outbox (sql/011_alert_mail.sql) */
	"GRANT UPDATE (resolved_at, resolved_by, mail_state, mail_attempts, mail_next_at,"
	" mail_lease_owner, mail_lease_until, mailed_at, mail_error) ON traject.alerts"
	" TO trajectd_service",
	/* trajectctl alert resolve */
	"GRANT UPDATE (resolved_at, resolved_by) ON traject.alerts TO trajectd_admin",
	"GRANT INSERT ON traject.delivery_attempts TO trajectd_service",
	"GRANT INSERT, UPDATE ON traject.instances TO trajectd_service",
	/* Only trajectd's groups connect; only imports need a temporary table. */
	"DO $$\n"
	"BEGIN\n"
	"  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());\n"
	"  EXECUTE format('GRANT CONNECT ON DATABASE %I TO trajectd_owner, trajectd_service,"
	" trajectd_admin, trajectd_reader', current_database());\n"
	"  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO trajectd_admin', current_database());\n"
	"END $$",
};

static int setup(PGconn *conn, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int r;

	/* regclass and regprocedure print schema-qualified names under this path */
	if ((r = tj_pq(conn, "fixing the search path", "SET LOCAL search_path = pg_catalog", 0,
		       NULL, NULL, err)) < 0 ||
	    (r = tj_pq(conn, "creating the group roles", create_roles, 0, NULL, NULL, err)) < 0 ||
	    (r = tj_pq(conn, "checking the group roles", unsafe_roles, 0, NULL, &res, err)) < 0)
		return r;
	if (!PQgetisnull(res, 0, 0))
		return tj_fail(err, TJ_ECONFLICT,
			       "role %s can bypass row-level security (SUPERUSER or BYPASSRLS): "
			       "as a superuser run ALTER ROLE ... NOSUPERUSER NOBYPASSRLS for it, "
			       "then run 'trajectctl migrate --roles' again",
			       PQgetvalue(res, 0, 0));
	if ((r = tj_pq(conn, "handing schema traject to trajectd_owner", hand_over, 0, NULL, NULL,
		       err)) < 0)
		return r;
	for (size_t i = 0; i < TJ_ARRAY_SIZE(privileges); i++)
		if ((r = tj_pq(conn, "granting privileges", privileges[i], 0, NULL, NULL, err)) < 0)
			return r;
	return 0;
}

int tj_roles_setup(PGconn *conn, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(conn, "looking for the schema", "SELECT to_regnamespace('traject') IS NOT NULL",
		  0, NULL, &res, err);
	if (r < 0)
		return r;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		return tj_fail(err, TJ_ESCHEMA, "there is no schema traject: run 'trajectctl migrate' "
						"first");
	if ((r = tj_pq_cmd(conn, "BEGIN", err)) < 0)
		return r;
	r = setup(conn, err);
	if (r == 0)
		r = tj_pq_cmd(conn, "COMMIT", err);
	if (r < 0) {
		char why[sizeof err->msg];

		tj_pq_rollback(conn);
		if (r != TJ_EDB)
			return r;
		snprintf(why, sizeof why, "%s", err ? err->msg : "");
		return tj_fail(err, r, "%s; nothing was changed" SETUP_HINT, why);
	}
	return 0;
}

int tj_roles_in_use(PGconn *conn)
{
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(conn, "looking for the roles",
		  "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n"
		  " JOIN pg_catalog.pg_roles o ON o.oid = n.nspowner"
		  " WHERE n.nspname = 'traject' AND o.rolname = 'trajectd_owner')",
		  0, NULL, &res, NULL);
	if (r < 0)
		return r;
	return strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}

/* ---- the role-grantee map ----------------------------------------------- */

/* One line of text, 1..200 bytes, no possible BSN. */
static int check_grantee(const char *grantee, tj_err *err)
{
	size_t n = strlen(grantee);
	bool blank = true;

	if (n == 0 || n > 200)
		return tj_fail(err, TJ_EINVAL,
			       "the grantee must be 1 to 200 bytes: write it exactly as the grant "
			       "decision's \"grantee\"");
	for (const unsigned char *p = (const unsigned char *)grantee; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return tj_fail(err, TJ_EINVAL,
				       "the grantee holds a control character: write it on one "
				       "line, exactly as the grant decision's \"grantee\"");
		if (*p != ' ')
			blank = false;
	}
	if (blank)
		return tj_fail(err, TJ_EINVAL, "the grantee is blank: write it exactly as the grant "
						"decision's \"grantee\"");
	if (tj_contains_bsn(grantee))
		return tj_fail(err, TJ_EINVAL,
			       "the grantee holds nine digits that pass the BSN eleven-test: a "
			       "possible citizen service number is never stored");
	return 0;
}

/* The role exists and row-level security applies to it. */
static int role_exists(PGconn *conn, const char *role, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[1] = { role };
	int r;

	r = tj_pq(conn, "looking up the role",
		  "SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = $1", 1,
		  params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		return tj_fail(err, TJ_ENOTFOUND,
			       "no role '%s': create it first, e.g. CREATE ROLE \"%s\" LOGIN IN ROLE "
			       "trajectd_admin (or trajectd_reader)",
			       role, role);
	/* Row-level security does not apply to it: mapping it would scope nothing. */
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		return tj_fail(err, TJ_ECONFLICT,
			       "role '%s' is SUPERUSER or BYPASSRLS and sees every grantee whatever "
			       "it is mapped to: as a superuser run ALTER ROLE \"%s\" NOSUPERUSER "
			       "NOBYPASSRLS, then map it again",
			       role, role);
	return 0;
}

static bool is_group_role(const char *role)
{
	static const char *const groups[] = { "trajectd_owner", "trajectd_service", "trajectd_admin",
					      "trajectd_reader" };

	for (size_t i = 0; i < TJ_ARRAY_SIZE(groups); i++)
		if (!strcmp(role, groups[i]))
			return true;
	return false;
}

/* The owner's table: say so when someone else tries. */
static int write_failed(int r, tj_err *err)
{
	char why[sizeof err->msg];

	if (!err || !strstr(err->msg, "permission denied"))
		return r;
	snprintf(why, sizeof why, "%s", err->msg);
	return tj_fail(err, r, "%s (only the owner maps roles to grantees: run this as a member "
			       "of trajectd_owner or a superuser)",
		       why);
}

int tj_role_grantee_add(PGconn *conn, const char *role, const char *grantee, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[2] = { role, grantee };
	int r;

	if (is_group_role(role))
		return tj_fail(err, TJ_EINVAL,
			       "'%s' is a group role: every member would act for the grantee; map "
			       "a login role (or a group of your own) instead",
			       role);
	if ((r = check_grantee(grantee, err)) < 0 || (r = role_exists(conn, role, err)) < 0)
		return r;
	r = tj_pq(conn, "mapping the role",
		  "INSERT INTO traject.role_grantees (role_name, grantee) VALUES ($1, $2)"
		  " ON CONFLICT DO NOTHING",
		  2, params, &res, err);
	if (r < 0)
		return write_failed(r, err);
	return strcmp(PQcmdTuples(res), "0") == 0 ? TJ_ROLE_UNCHANGED : 0;
}

int tj_role_grantee_remove(PGconn *conn, const char *role, const char *grantee, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[2] = { role, grantee };
	int r;

	r = tj_pq(conn, "removing the mapping",
		  "DELETE FROM traject.role_grantees WHERE role_name = $1 AND grantee = $2", 2,
		  params, &res, err);
	if (r < 0)
		return write_failed(r, err);
	if (strcmp(PQcmdTuples(res), "0") == 0)
		return tj_fail(err, TJ_ENOTFOUND,
			       "role '%s' does not act for that grantee: see 'trajectctl role list'",
			       role);
	return 0;
}

void tj_role_grantees_free(struct tj_role_grantee *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++) {
		free(list[i].role);
		free(list[i].grantee);
	}
	free(list);
}

int tj_role_grantees_list(PGconn *conn, struct tj_role_grantee **out, size_t *n, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	struct tj_role_grantee *list;
	size_t rows;
	int r;

	r = tj_pq(conn, "listing the role mappings",
		  "SELECT role_name, grantee FROM traject.role_grantees"
		  " ORDER BY role_name COLLATE \"C\", grantee COLLATE \"C\"",
		  0, NULL, &res, err);
	if (r < 0)
		return r;
	rows = (size_t)PQntuples(res);
	if (!(list = calloc(rows ? rows : 1, sizeof *list)))
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (size_t i = 0; i < rows; i++) {
		list[i].role = strdup(PQgetvalue(res, (int)i, 0));
		list[i].grantee = strdup(PQgetvalue(res, (int)i, 1));
		if (!list[i].role || !list[i].grantee) {
			tj_role_grantees_free(list, rows);
			return tj_fail(err, TJ_ENOMEM, "out of memory");
		}
	}
	*out = list;
	*n = rows;
	return 0;
}
