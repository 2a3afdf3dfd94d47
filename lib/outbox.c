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

/* ---- the calendar entries ------------------------------------------------ */

struct entry {
	char key[24];
	int32_t as_of, due;
	int latest; /* newest stored version, 0 for none */
};

/* One report of a grant's batch, from its calendar entry to its documents. */
struct gen {
	const char *report_id;
	struct entry e;
	bool todo;    /* a version is to be made */
	bool late;
	int version;  /* the version to make */
	struct rendered {
		struct rendering {
			const char *format;
			char *body;
			size_t len;
		} doc[2];
		int count;
		char known_at[40];
		char grant_version[16];
		char kind[16];
	} rd;
	int outcome;  /* 0 stored, 1 another generator was first */
};

static const struct tj_stmt entries_sql = {
	"tj_outbox_entries",
	"SELECT c.id::text, c.as_of, c.due, (SELECT coalesce(max(rv.version), 0)"
	"   FROM traject.report_versions rv"
	"   WHERE rv.grant_key = c.grant_key AND rv.report_id = c.id)"
	" FROM traject.calendar c WHERE c.grant_key = $1"
	" AND c.version = traject.current_grant_version($1) AND c.id = ANY ($2::text[])",
};

/* An array literal of report ids (references hold no quote or backslash). */
static int ids_param(struct gen *g, size_t n, tj_buf *b, tj_err *err)
{
	tj_buf_puts(b, "{");
	for (size_t i = 0; i < n; i++) {
		tj_buf_puts(b, i ? ",\"" : "\"");
		tj_buf_puts(b, g[i].report_id);
		tj_buf_puts(b, "\"");
	}
	tj_buf_puts(b, "}");
	return b->oom ? tj_fail(err, TJ_ENOMEM, "out of memory") : 0;
}

static int no_entry(PGconn *conn, const char *key, const char *grant_id, const char *report_id,
		    tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[1] = { key };
	int r;

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

/* Every report's calendar entry and newest version, in one query. */
static int find_entries(PGconn *conn, const char *grant_id, struct gen *g, size_t n, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	TJ_AUTOBUF tj_buf ids = { 0 };
	char key[24];
	int r;

	if ((r = tj_outbox_grant_key(conn, grant_id, key, err)) < 0 ||
	    (r = ids_param(g, n, &ids, err)) < 0)
		return r;
	{
		const char *params[2] = { key, ids.data };

		r = tj_pq_prepared(conn, &entries_sql, "reading the calendar", 2, params, &res, err);
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		int row = 0;

		while (row < PQntuples(res) && strcmp(PQgetvalue(res, row, 0), g[i].report_id))
			row++;
		if (row == PQntuples(res))
			return no_entry(conn, key, grant_id, g[i].report_id, err);
		snprintf(g[i].e.key, sizeof g[i].e.key, "%s", key);
		if (tj_date_parse(PQgetvalue(res, row, 1), &g[i].e.as_of) < 0 ||
		    tj_date_parse(PQgetvalue(res, row, 2), &g[i].e.due) < 0)
			return tj_fail(err, TJ_EDB, "unexpected calendar dates from the database");
		g[i].e.latest = (int)strtol(PQgetvalue(res, row, 3), NULL, 10);
	}
	return 0;
}

/* ---- rendering -------------------------------------------------------- */

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

/* Write one computed report, with its version set, in every configured format. */
static int render_one(const tj_config *cfg, struct tj_report *rep, int version,
		      struct rendered *rd, tj_err *err)
{
	int r;

	if ((r = tj_report_set_version(rep, version, err)) < 0 ||
	    (r = copy_node(rep, "report/known_at", rd->known_at, sizeof rd->known_at, err)) < 0 ||
	    (r = copy_node(rep, "grant/version", rd->grant_version, sizeof rd->grant_version, err)) < 0 ||
	    (r = copy_node(rep, "report/kind", rd->kind, sizeof rd->kind, err)) < 0)
		return r;
	/* XML first: when both are configured, the listing order is stable. */
	if (cfg->format_xml && (r = write_one(rep, "xml", &rd->doc[rd->count], err)) < 0)
		return r;
	rd->count += cfg->format_xml;
	if (cfg->format_json && (r = write_one(rep, "json", &rd->doc[rd->count], err)) < 0)
		return r;
	rd->count += cfg->format_json;
	return 0;
}

/*
 * Compute the reports to make together (one K, one reading of the grant's
 * events) and write each in every configured format.
 */
static int render_all(PGconn *conn, const tj_config *cfg, const char *grant_id, struct gen *g,
		      size_t n, tj_err *err)
{
	TJ_AUTOFREE struct tj_report_req *reqs = calloc(n, sizeof *reqs);
	TJ_AUTOFREE struct tj_report **reps = calloc(n, sizeof *reps);
	TJ_AUTOFREE size_t *which = calloc(n, sizeof *which);
	size_t m = 0;
	int r = 0;

	if (!reqs || !reps || !which)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!g[i].todo)
			continue;
		reqs[m].grant_id = grant_id;
		reqs[m].report_id = g[i].report_id;
		which[m++] = i;
	}
	if (m == 0 || (r = tj_report_compute_many(conn, reqs, m, reps, err)) < 0)
		return r;
	for (size_t j = 0; j < m; j++) {
		struct gen *x = &g[which[j]];

		if (r == 0 && (r = render_one(cfg, reps[j], x->version, &x->rd, err)) < 0)
			rendered_clear(&x->rd);
		tj_report_free(reps[j]);
	}
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

static const struct tj_stmt version_sql = {
	"tj_outbox_version",
	"INSERT INTO traject.report_versions (grant_key, report_id, version,"
	" grant_version, kind, as_of, due, known_at, reason, scheduled_for, late,"
	" generated_at, generated_by)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
};

static const struct tj_stmt document_sql = {
	"tj_outbox_document",
	"INSERT INTO traject.documents (grant_key, report_id, version, format, body,"
	" sha256, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7)",
};

/*
 * Its own statement, finding the document by its unique key: the
 * row-level security policy of deliveries looks the document up, and a
 * statement does not see rows it inserts itself.
 */
static const struct tj_stmt delivery_sql = {
	"tj_outbox_delivery",
	"INSERT INTO traject.deliveries (doc_id, target, queued_at, next_attempt_at)"
	" SELECT d.doc_id, $5, $6, $6 FROM traject.documents d"
	" WHERE d.grant_key = $1 AND d.report_id = $2 AND d.version = $3 AND d.format = $4",
};

static const struct tj_stmt notify_sql = {
	"tj_outbox_notify", "SELECT pg_notify('trajectd', 'generated')",
};

/* Queue a document and its delivery on the pipeline. */
static int send_document(tj_service *svc, const struct gen *x, const char *grant_id,
			 const char *version, const struct rendering *doc, const char *now,
			 tj_err *err)
{
	struct tj_doc d = { .grant_id = grant_id, .report_id = x->report_id, .format = doc->format,
			    .body = doc->body, .len = doc->len, .version = x->version };
	char sha[65], key[TJ_KEY_SIZE];
	int r;

	if (doc->len > INT32_MAX)
		return tj_fail(err, TJ_EINVAL, "report %s of grant %s is too large to store",
			       x->report_id, grant_id);
	tj_sha256_hex(doc->body, doc->len, sha);
	if ((r = tj_doc_key(&d, key, err)) < 0)
		return r;
	{
		/* the body goes as raw bytes (binary parameter): no hex text twice its size */
		const char *params[7] = { x->e.key, x->report_id, version, doc->format, doc->body, sha,
					  key };
		const int lengths[7] = { 0, 0, 0, 0, (int)doc->len, 0, 0 };
		const int formats[7] = { 0, 0, 0, 0, 1, 0, 0 };

		r = tj_pipe_add(svc->conn, &document_sql, "storing the document", 7, params, lengths,
				formats, err);
	}
	if (r < 0)
		return r;
	{
		const char *params[6] = { x->e.key, x->report_id, version, doc->format, svc->cfg->url,
					  now };

		return tj_pipe_add(svc->conn, &delivery_sql, "queueing the delivery", 6, params, NULL,
				   NULL, err);
	}
}

/* Queue a version row, its documents and their deliveries on the pipeline. */
static int send_version(tj_service *svc, const char *grant_id, struct gen *x,
			enum tj_gen_reason reason, const char *now, tj_err *err)
{
	char vbuf[16], moment[32], due[11], as_of[11];
	const struct rendered *rd = &x->rd;
	int r;

	snprintf(vbuf, sizeof vbuf, "%d", x->version);
	tj_timestamp_format(tj_sched_generation_moment(x->e.as_of, x->e.due, svc->cfg->lead_days),
			    moment);
	{
		const char *p[13] = { x->e.key, x->report_id, vbuf, rd->grant_version, rd->kind,
				      tj_date_format(x->e.as_of, as_of), tj_date_format(x->e.due, due),
				      rd->known_at, reason_name(reason),
				      reason == TJ_GEN_SCHEDULED ? moment : NULL,
				      x->late ? "true" : "false", now, svc->instance };

		r = tj_pipe_add(svc->conn, &version_sql, "storing the report version", 13, p, NULL,
				NULL, err);
	}
	for (int i = 0; r == 0 && i < rd->count; i++)
		r = send_document(svc, x, grant_id, vbuf, &rd->doc[i], now, err);
	return r;
}

/* Every version to store, one pipeline (one round trip): the rows, then NOTIFY. */
static int send_all(tj_service *svc, const char *grant_id, struct gen *g, size_t n,
		    enum tj_gen_reason reason, const char *now, tj_err *err)
{
	tj_err perr = { 0 };
	int r, end;

	if ((r = tj_pipe_begin(svc->conn, err)) < 0)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (g[i].todo && g[i].outcome == 0)
			r = send_version(svc, grant_id, &g[i], reason, now, err);
	if (r == 0)
		r = tj_pipe_add(svc->conn, &notify_sql, "waking the daemons", 0, NULL, NULL, NULL, err);
	/* always end the pipeline; the first failure the server saw comes first */
	end = tj_pipe_end(svc->conn, "storing the reports", &perr);
	if (end < 0) {
		if (err)
			*err = perr;
		return end;
	}
	return r;
}

/*
 * The transaction of the outbox for a grant's batch: version rows,
 * documents, deliveries, one NOTIFY. It first takes the grant's outbox
 * lock and reads the newest versions again: a report another generator
 * stored meanwhile is left out (outcome 1).
 */
static int store_all(tj_service *svc, const char *grant_id, struct gen *g, size_t n,
		     enum tj_gen_reason reason, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	TJ_AUTOBUF tj_buf ids = { 0 };
	const char *key = g[0].e.key;
	char now[32];
	int stored = 0, r;

	tj_timestamp_format(tj_service_now(svc), now);
	if ((r = ids_param(g, n, &ids, err)) < 0 || (r = tj_pq_cmd(svc->conn, "BEGIN", err)) < 0)
		return r;
	{
		const char *p[2] = { key, ids.data };

		/* Read after the lock: a version another generator committed meanwhile shows here. */
		if ((r = tj_pq(svc->conn, "taking the outbox lock", OUTBOX_LOCK, 1, p, NULL, err)) < 0 ||
		    (r = tj_pq(svc->conn, "reading the report versions",
			       "SELECT report_id::text, max(version) FROM traject.report_versions"
			       " WHERE grant_key = $1 AND report_id = ANY ($2::text[]) GROUP BY 1",
			       2, p, &res, err)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct gen *x = &g[i];
		int latest = 0;

		if (!x->todo)
			continue;
		for (int row = 0; row < PQntuples(res); row++)
			if (!strcmp(PQgetvalue(res, row, 0), x->report_id))
				latest = (int)strtol(PQgetvalue(res, row, 1), NULL, 10);
		if (latest != x->version - 1) {
			if (reason == TJ_GEN_NEW_VERSION) {
				r = TJ_ECONFLICT;
				goto fail;
			}
			x->outcome = 1;
			continue;
		}
		stored++;
	}
	if ((stored && (r = send_all(svc, grant_id, g, n, reason, now, err)) < 0) ||
	    (r = tj_pq_cmd(svc->conn, "COMMIT", err)) < 0)
		goto fail;
	return 0;
fail:
	tj_pq_rollback(svc->conn);
	/* The primary key caught a concurrent generator: not an error, next pass looks again. */
	if (r == TJ_ECONFLICT && reason != TJ_GEN_NEW_VERSION) {
		for (size_t i = 0; i < n; i++)
			g[i].outcome = 1;
		return 0;
	}
	return r;
}

/* After the commit: the log line, and the alert of a late report. */
static int report_made(tj_service *svc, const char *grant_id, const struct gen *x,
		       enum tj_gen_reason reason, tj_err *err)
{
	char msg[512], due[11];

	tj_log(TJ_LOG_INFO, "grant %s report %s: version %d generated (%s, known at %s%s), %d document%s queued",
	       grant_id, x->report_id, x->version, reason_name(reason), x->rd.known_at,
	       x->late ? ", late" : "", x->rd.count, x->rd.count == 1 ? "" : "s");
	if (!x->late)
		return 0;
	snprintf(msg, sizeof msg, "report %s of grant %s was generated after its due date %s (version %d)",
		 x->report_id, grant_id, tj_date_format(x->e.due, due), x->version);
	return tj_outbox_alert(svc, "late", x->e.key, grant_id, x->report_id, msg, err);
}

int tj_outbox_generate_many(tj_service *svc, const char *grant_id, const char *const *report_ids,
			    size_t n, enum tj_gen_reason reason, struct tj_gen_result *res,
			    tj_err *err)
{
	TJ_AUTOFREE struct gen *g = NULL;
	int r;

	if (!svc->cfg->url)
		return tj_fail(err, TJ_ECONFIG,
			       "no [delivery] url is configured: set one in the configuration file");
	if (n == 0)
		return 0;
	if (!(g = calloc(n, sizeof *g)))
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		g[i].report_id = report_ids[i];
	if ((r = find_entries(svc->conn, grant_id, g, n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct gen *x = &g[i];

		/* the first version is never a "new" one */
		x->todo = reason == TJ_GEN_NEW_VERSION || x->e.latest == 0;
		x->version = x->e.latest + 1;
		x->late = tj_sched_is_late(x->e.due, tj_service_now(svc));
		x->outcome = x->todo ? 0 : 1;
		/*
		 * Never a version before the day after its as_of: that day's
		 * data is not complete, and a version 1 made now would be the
		 * official one (the calendar never makes another).
		 */
		if (x->todo && tj_sched_local_date(tj_service_now(svc)) <= x->e.as_of) {
			char as_of[11], after[11], moment[11], due[11];

			return tj_fail(err, TJ_EINVAL,
				       "report %s of grant %s is as of %s, a day that has not passed: "
				       "a version made now would miss part of its data and would be the "
				       "one delivered. Wait until %s (the service generates it on %s, "
				       "lead_days before its due date %s), or preview it with "
				       "'trajectctl report --grant %s --report %s'",
				       x->report_id, grant_id, tj_date_format(x->e.as_of, as_of),
				       tj_date_format(x->e.as_of + 1, after),
				       tj_date_format(tj_sched_generation_date(x->e.as_of, x->e.due,
									svc->cfg->lead_days),
						      moment),
				       tj_date_format(x->e.due, due), grant_id, x->report_id);
		}
	}
	if ((r = render_all(svc->conn, svc->cfg, grant_id, g, n, err)) == 0)
		r = store_all(svc, grant_id, g, n,
			      reason == TJ_GEN_NEW_VERSION && g[0].e.latest == 0 ? TJ_GEN_MANUAL : reason,
			      err);
	for (size_t i = 0; i < n; i++) {
		struct gen *x = &g[i];
		enum tj_gen_reason why = reason;

		if (why == TJ_GEN_NEW_VERSION && x->e.latest == 0)
			why = TJ_GEN_MANUAL;
		if (r == 0 && res) {
			memset(&res[i], 0, sizeof res[i]);
			res[i].existed = x->outcome == 1;
			res[i].version = x->outcome == 1 ? (x->todo ? x->version : x->e.latest)
							 : x->version;
			if (!res[i].existed) {
				res[i].formats = x->rd.count;
				res[i].late = x->late;
				snprintf(res[i].known_at, sizeof res[i].known_at, "%s", x->rd.known_at);
			}
		}
		if (r == 0 && x->todo && x->outcome == 0) {
			int made = report_made(svc, grant_id, x, why, err);

			if (made < 0) /* 1 is a new alert, not an error */
				r = made;
		}
		rendered_clear(&x->rd);
	}
	if (r == TJ_ECONFLICT)
		return tj_fail(err, TJ_ECONFLICT,
			       "a report of grant %s got another version meanwhile: run again",
			       grant_id);
	return r;
}

int tj_outbox_generate(tj_service *svc, const char *grant_id, const char *report_id,
		       enum tj_gen_reason reason, struct tj_gen_result *res, tj_err *err)
{
	struct tj_gen_result one;
	int r = tj_outbox_generate_many(svc, grant_id, &report_id, 1, reason, &one, err);

	if (r < 0)
		return r;
	*res = one;
	return one.existed ? 1 : 0;
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
	struct gen one = { .report_id = report_id };
	int r;

	if (!svc->cfg->url)
		return tj_fail(err, TJ_ECONFIG,
			       "no [delivery] url is configured: set one in the configuration file");
	if ((r = find_entries(svc->conn, grant_id, &one, 1, err)) < 0)
		return r;
	if (one.e.latest == 0)
		return tj_fail(err, TJ_ENOTFOUND, "report %s of grant %s has not been generated yet",
			       report_id, grant_id);
	snprintf(vbuf, sizeof vbuf, "%d", one.e.latest);
	tj_timestamp_format(tj_service_now(svc), now);
	{
		const char *params[5] = { one.e.key, report_id, vbuf, svc->cfg->url, now };

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
	*version = one.e.latest;
	*queued = count_of(a) + count_of(b);
	if (*queued)
		tj_log(TJ_LOG_INFO, "grant %s report %s: version %d, %d deliver%s queued again",
		       grant_id, report_id, one.e.latest, *queued, *queued == 1 ? "y" : "ies");
	return 0;
}
