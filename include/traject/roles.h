/*
 * Least privilege in the database (docs/security.md): the four NOLOGIN
 * group roles, the privileges each gets, and the map of roles to the
 * grantees they act for, which the row-level security policies of
 * sql/005_roles.sql read.
 *
 *   trajectd_owner    owns schema traject and everything in it (migrations)
 *   trajectd_service  the daemon: reads the register, writes the outbox
 *   trajectd_admin    grant administrators: load, import, void, report,
 *                     deliver, status, for the grantees they act for
 *   trajectd_reader   read-only: reports, status, events of its grantees
 *
 * Login roles are made by the operator and put into one of these groups
 * (CREATE ROLE alice LOGIN IN ROLE trajectd_admin); an admin or reader
 * sees nothing until it is mapped to a grantee.
 */
#ifndef TRAJECT_ROLES_H
#define TRAJECT_ROLES_H

#include <stddef.h>

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Create the group roles that are missing, hand schema traject and every
 * object in it to trajectd_owner, and grant each group exactly its
 * privileges (revoking everything else, also from PUBLIC: CONNECT and
 * TEMPORARY on the database included). Idempotent; run it again after
 * every upgrade so new objects get their owner and privileges.
 * The connected role needs CREATEROLE (or is a superuser) and must be able
 * to hand the objects over (their owner or a superuser). One transaction.
 * Returns 0, TJ_ESCHEMA (no schema: migrate first), TJ_ECONFLICT (a group
 * role exists with SUPERUSER or BYPASSRLS, which would defeat the
 * policies) or TJ_EDB.
 */
int tj_roles_setup(PGconn *conn, tj_err *err);

/*
 * 1 when `migrate --roles` has set up this database (schema traject
 * belongs to trajectd_owner), 0 when not, negative on a database error.
 */
int tj_roles_in_use(PGconn *conn);

/*
 * Let the role act for grantee (the grant decision's "grantee", exactly).
 * The role must exist; grantee is one line of 1 to 200 bytes of text that
 * holds no possible BSN. Needs the owner's rights.
 * Returns 0, TJ_ROLE_UNCHANGED (the mapping existed), TJ_EINVAL,
 * TJ_ENOTFOUND (no such role) or TJ_EDB.
 */
#define TJ_ROLE_UNCHANGED 1
int tj_role_grantee_add(PGconn *conn, const char *role, const char *grantee, tj_err *err);

/* Remove a mapping. Returns 0, TJ_ENOTFOUND (there was none) or TJ_EDB. */
int tj_role_grantee_remove(PGconn *conn, const char *role, const char *grantee, tj_err *err);

struct tj_role_grantee {
	char *role;
	char *grantee;
};
/*
 * The mappings the connected role may see (all of them for the owner),
 * ordered by role and grantee. *out is an array of *n entries (never NULL
 * on success); free it with tj_role_grantees_free.
 */
int tj_role_grantees_list(PGconn *conn, struct tj_role_grantee **out, size_t *n, tj_err *err);
void tj_role_grantees_free(struct tj_role_grantee *list, size_t n);

#ifdef __cplusplus
}
#endif
#endif
