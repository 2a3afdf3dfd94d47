/*
 * Generation into the outbox: a calendar report is computed by the report
 * engine (its own transaction, K = the real clock read after the grant's
 * report lock), rendered in every configured format with its version set,
 * and then stored in ONE transaction together with the deliveries that
 * queue it. That transaction first takes the grant's outbox lock, so two
 * generators of one grant take turns and the second sees the first's
 * version; the primary key of traject.report_versions still refuses a
 * second version 1 should anything slip past. Also re-queueing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "outbox_private.h"
#include "traject/deliver.h"
#include "traject/log.h"
#include "traject/report.h"
#include "traject/value.h"
#include "util.h"

#define OUTBOX_LOCK "SELECT pg_advisory_xact_lock(traject.outbox_lock_class(), $1::integer)"

/* ---- the calendar entry -------------------------------------------------- */

struct entry {
	char key[24];
	int32_t as_of, due;
	int latest; /* newest stored version, 0 for none */
};

static int find_entry(PGconn *conn, const char *grant_id, const char *report_id, struct entry *e,
		      tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[2] = { e->key, report_id };
	int r;

	if ((r = tj_outbox_grant_key(conn, grant_id, e->key, err)) < 0)
		return r;
	r = tj_pq(conn, "reading the calendar",
		  "SELECT c.as_of, c.due, (SELECT coalesce(max(rv.version), 0)"
		  "   FROM traject.report_versions rv"
		  "   WHERE rv.grant_key = c.grant_key AND rv.report_id = c.id)"
		  " FROM traject.calendar c WHERE c.grant_key = $1"
		  " AND c.version = traject.current_grant_version($1) AND c.id = $2",
		  2, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		if (tj_date_parse(PQgetvalue(res, 0, 0), &e->as_of) < 0 ||
		    tj_date_parse(PQgetvalue(res, 0, 1), &e->due) < 0)
			return tj_fail(err, TJ_EDB, "unexpected calendar dates from the database");
		e->latest = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
		return 0;
	}
	PQclear(res);
	res = NULL;
	r = tj_pq(conn, "reading the calendar",
		  "SELECT coalesce(string_agg(c.id, ', ' ORDER BY c.position), '')"
		  " FROM traject.calendar c WHERE c.grant_key = $1"
		  " AND c.version = traject.current_grant_version($1)",
		  1, params, &res, err);
	if (r < 0)
		return r;
	return tj_fail(err, TJ_ENOTFOUND, "grant %s has no report '%s' in its calendar (its reports: %s)",
		       grant_id, report_id, PQgetvalue(res, 0, 0));
}

/* ---- rendering -------------------------------------------------------- */

struct rendering {
	const char *format;
	char *body;
	size_t len;
};

struct rendered {
	struct rendering doc[2];
	int count;
	char known_at[40];
	char grant_version[16];
	char kind[16];
};

static void rendered_clear(struct rendered *rd)
{
	for (int i = 0; i < rd->count; i++)
		free(rd->doc[i].body);
	rd->count = 0;
}

static int copy_node(const struct tj_report *rep, const char *path, char *buf, size_t size,
		     tj_err *err)
{
	const struct tj_rnode *n = tj_report_find(rep, path);

	if (!n || !n->text || strlen(n->text) >= size)
		return tj_fail(err, TJ_EINVAL, "the report has no usable %s", path);
	snprintf(buf, size, "%s", n->text);
	return 0;
}

static int write_one(const struct tj_report *rep, const char *format, struct rendering *out,
		     tj_err *err)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	int r;

	if (!f)
		return tj_fail(err, TJ_ENOMEM, "out of memory rendering a report");
	r = !strcmp(format, "xml") ? tj_report_write_xml(rep, f, err)
				   : tj_report_write_json(rep, f, err);
	if (fclose(f) != 0 && r == 0)
		r = tj_fail(err, TJ_ENOMEM, "out of memory rendering a report");
	if (r < 0) {
		free(body);
		return r;
	}
	out->format = format;
	out->body = body;
	out->len = len;
	return 0;
}

/* Compute the report once (one K) and write it in every configured format. */
static int render(PGconn *conn, const tj_config *cfg, const char *grant_id, const char *report_id,
		  int version, struct rendered *rd, tj_err *err)
{
	struct tj_report_req req = { .grant_id = grant_id, .report_id = report_id };
	struct tj_report *rep = NULL;
	int r;

	memset(rd, 0, sizeof *rd);
	if ((r = tj_report_compute(conn, &req, &rep, err)) < 0)
		return r;
	if ((r = tj_report_set_version(rep, version, err)) < 0 ||
	    (r = copy_node(rep, "report/known_at", rd->known_at, sizeof rd->known_at, err)) < 0 ||
	    (r = copy_node(rep, "grant/version", rd->grant_version, sizeof rd->grant_version, err)) < 0 ||
	    (r = copy_node(rep, "report/kind", rd->kind, sizeof rd->kind, err)) < 0)
		goto out;
	/* XML first: when both are configured, the listing order is stable. */
	if (cfg->format_xml && (r = write_one(rep, "xml", &rd->doc[rd->count++], err)) < 0) {
		rd->count--;
		goto out;
	}
	if (cfg->format_json && (r = write_one(rep, "json", &rd->doc[rd->count++], err)) < 0) {
		rd->count--;
		goto out;
	}
out:
	if (r < 0)
		rendered_clear(rd);
	tj_report_free(rep);
	return r;
}

/* ---- storing ------------------------------------------------------------ */

static const char *reason_name(enum tj_gen_reason reason)
{
	switch (reason) {
	case TJ_GEN_SCHEDULED:
		return "scheduled";
	case TJ_GEN_MANUAL:
		return "manual";
	case TJ_GEN_NEW_VERSION:
		return "new_version";
	}
	return "manual";
}

static int store_document(tj_service *svc, const struct entry *e, const char *grant_id,
			  const char *report_id, const char *version, const struct rendering *doc,
			  const char *now, tj_err *err)
{
	struct tj_doc d = { .grant_id = grant_id, .report_id = report_id, .format = doc->format,
			    .body = doc->body, .len = doc->len };
	TJ_AUTOFREE char *body = NULL;
	TJ_AUTORES PGresult *res = NULL;
	char sha[65], key[TJ_KEY_SIZE];
	int r;

	d.version = (int)strtol(version, NULL, 10);
	tj_sha256_hex(doc->body, doc->len, sha);
	if ((r = tj_doc_key(&d, key, err)) < 0 || (r = tj_bytea_param(doc->body, doc->len, &body, err)) < 0)
		return r;
	{
		const char *params[7] = { e->key, report_id, version, doc->format, body, sha, key };

		r = tj_pq(svc->conn, "storing the document",
			  "INSERT INTO traject.documents (grant_key, report_id, version, format, body,"
			  " sha256, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING doc_id",
			  7, params, &res, err);
	}
	if (r < 0)
		return r;
	{
		const char *params[3] = { PQgetvalue(res, 0, 0), svc->cfg->url, now };

		return tj_pq(svc->conn, "queueing the delivery",
			     "INSERT INTO traject.deliveries (doc_id, target, queued_at, next_attempt_at)"
			     " VALUES ($1, $2, $3, $3)",
			     3, params, NULL, err);
	}
}

/* The transaction of the outbox: version row, documents, deliveries, NOTIFY. */
static int store(tj_service *svc, const struct entry *e, const char *grant_id,
		 const char *report_id, int version, enum tj_gen_reason reason,
		 const struct rendered *rd, bool late, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	char vbuf[16], now[32], moment[32];
	const char *params[1] = { e->key };
	int r;

	snprintf(vbuf, sizeof vbuf, "%d", version);
	tj_timestamp_format(tj_service_now(svc), now);
	tj_timestamp_format(tj_sched_generation_moment(e->as_of, e->due, svc->cfg->lead_days), moment);
	if ((r = tj_pq_cmd(svc->conn, "BEGIN", err)) < 0)
		return r;
	if ((r = tj_pq(svc->conn, "taking the outbox lock", OUTBOX_LOCK, 1, params, NULL, err)) < 0)
		goto fail;
	{
		const char *p[2] = { e->key, report_id };

		/* Read after the lock: a version another generator committed meanwhile shows here. */
		r = tj_pq(svc->conn, "reading the report versions",
			  "SELECT coalesce(max(version), 0) FROM traject.report_versions"
			  " WHERE grant_key = $1 AND report_id = $2",
			  2, p, &res, err);
		if (r < 0)
			goto fail;
		if ((int)strtol(PQgetvalue(res, 0, 0), NULL, 10) != version - 1) {
			tj_pq_rollback(svc->conn);
			return reason == TJ_GEN_NEW_VERSION ? TJ_ECONFLICT : 1;
		}
	}
	{
		char due[11], as_of[11];
		const char *p[13] = { e->key, report_id, vbuf, rd->grant_version, rd->kind,
				      tj_date_format(e->as_of, as_of), tj_date_format(e->due, due),
				      rd->known_at, reason_name(reason),
				      reason == TJ_GEN_SCHEDULED ? moment : NULL, late ? "true" : "false",
				      now, svc->instance };

		r = tj_pq(svc->conn, "storing the report version",
			  "INSERT INTO traject.report_versions (grant_key, report_id, version,"
			  " grant_version, kind, as_of, due, known_at, reason, scheduled_for, late,"
			  " generated_at, generated_by)"
			  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
			  13, p,
			  NULL, err);
	}
	if (r < 0)
		goto fail;
	for (int i = 0; i < rd->count; i++) {
		if ((r = store_document(svc, e, grant_id, report_id, vbuf, &rd->doc[i], now, err)) < 0)
			goto fail;
	}
	if ((r = tj_outbox_notify(svc->conn, "generated", err)) < 0 ||
	    (r = tj_pq_cmd(svc->conn, "COMMIT", err)) < 0)
		goto fail;
	return 0;
fail:
	tj_pq_rollback(svc->conn);
	/* The primary key caught a concurrent generator: not an error. */
	return r == TJ_ECONFLICT && reason != TJ_GEN_NEW_VERSION ? 1 : r;
}

int tj_outbox_generate(tj_service *svc, const char *grant_id, const char *report_id,
		       enum tj_gen_reason reason, struct tj_gen_result *res, tj_err *err)
{
	struct tj_gen_result out = { 0 };
	struct rendered rd;
	struct entry e;
	bool late;
	int r;

	if (!svc->cfg->url)
		return tj_fail(err, TJ_ECONFIG,
			       "no [delivery] url is configured: set one in the configuration file");
	memset(&e, 0, sizeof e);
	if ((r = find_entry(svc->conn, grant_id, report_id, &e, err)) < 0)
		return r;
	if (e.latest >= 1 && reason != TJ_GEN_NEW_VERSION) {
		out.version = e.latest;
		*res = out;
		return 1;
	}
	if (e.latest == 0 && reason == TJ_GEN_NEW_VERSION)
		reason = TJ_GEN_MANUAL; /* the first version is never a "new" one */
	late = tj_sched_is_late(e.due, tj_service_now(svc));
	if ((r = render(svc->conn, svc->cfg, grant_id, report_id, e.latest + 1, &rd, err)) < 0)
		return r;
	r = store(svc, &e, grant_id, report_id, e.latest + 1, reason, &rd, late, err);
	if (r == 1) {
		rendered_clear(&rd);
		out.version = e.latest + 1;
		*res = out;
		return 1;
	}
	if (r < 0) {
		rendered_clear(&rd);
		if (r == TJ_ECONFLICT)
			return tj_fail(err, TJ_ECONFLICT,
				       "report %s of grant %s got another version meanwhile: run again",
				       report_id, grant_id);
		return r;
	}
	out.version = e.latest + 1;
	out.formats = rd.count;
	out.late = late;
	snprintf(out.known_at, sizeof out.known_at, "%s", rd.known_at);
	tj_log(TJ_LOG_INFO, "grant %s report %s: version %d generated (%s, known at %s%s), %d document%s queued",
	       grant_id, report_id, out.version, reason_name(reason), out.known_at,
	       late ? ", late" : "", rd.count, rd.count == 1 ? "" : "s");
	rendered_clear(&rd);
	if (late) {
		char msg[512], due[11];

		snprintf(msg, sizeof msg,
			 "report %s of grant %s was generated after its due date %s (version %d)",
			 report_id, grant_id, tj_date_format(e.due, due), out.version);
		if ((r = tj_outbox_alert(svc, "late", e.key, grant_id, report_id, msg, err)) < 0)
			return r;
	}
	*res = out;
	return 0;
}

/* ---- re-queueing -------------------------------------------------------- */

static int count_of(PGresult *res)
{
	return (int)strtol(PQcmdTuples(res), NULL, 10);
}

int tj_outbox_requeue(tj_service *svc, const char *grant_id, const char *report_id,
		      int *version, int *queued, tj_err *err)
{
	TJ_AUTORES PGresult *a = NULL;
	TJ_AUTORES PGresult *b = NULL;
	char now[32], vbuf[16];
	struct entry e;
	int r;

	if (!svc->cfg->url)
		return tj_fail(err, TJ_ECONFIG,
			       "no [delivery] url is configured: set one in the configuration file");
	memset(&e, 0, sizeof e);
	if ((r = find_entry(svc->conn, grant_id, report_id, &e, err)) < 0)
		return r;
	if (e.latest == 0)
		return tj_fail(err, TJ_ENOTFOUND, "report %s of grant %s has not been generated yet",
			       report_id, grant_id);
	snprintf(vbuf, sizeof vbuf, "%d", e.latest);
	tj_timestamp_format(tj_service_now(svc), now);
	{
		const char *params[5] = { e.key, report_id, vbuf, svc->cfg->url, now };

		if ((r = tj_pq_cmd(svc->conn, "BEGIN", err)) < 0)
			return r;
		r = tj_pq(svc->conn, "queueing the documents",
			  "INSERT INTO traject.deliveries (doc_id, target, queued_at, next_attempt_at)"
			  " SELECT d.doc_id, $4, $5, $5 FROM traject.documents d"
			  " WHERE d.grant_key = $1 AND d.report_id = $2 AND d.version = $3"
			  " ON CONFLICT (doc_id, target) DO NOTHING",
			  5, params, &a, err);
		if (r == 0)
			r = tj_pq(svc->conn, "queueing the rejected documents again",
				  "UPDATE traject.deliveries dl SET state = 'queued',"
				  " next_attempt_at = least(dl.next_attempt_at, $5)"
				  " FROM traject.documents d"
				  " WHERE dl.doc_id = d.doc_id AND d.grant_key = $1 AND d.report_id = $2"
				  " AND d.version = $3 AND dl.target = $4 AND dl.state = 'rejected'",
				  5, params, &b, err);
	}
	if (r == 0 && count_of(a) + count_of(b) > 0)
		r = tj_outbox_notify(svc->conn, "queued", err);
	if (r == 0)
		r = tj_pq_cmd(svc->conn, "COMMIT", err);
	if (r < 0) {
		tj_pq_rollback(svc->conn);
		return r;
	}
	*version = e.latest;
	*queued = count_of(a) + count_of(b);
	if (*queued)
		tj_log(TJ_LOG_INFO, "grant %s report %s: version %d, %d deliver%s queued again",
		       grant_id, report_id, e.latest, *queued, *queued == 1 ? "y" : "ies");
	return 0;
}
