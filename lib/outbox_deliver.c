/*
 * Delivery from the outbox, one claimed delivery ("job", lib/outbox_job.h)
 * at a time: claim it with FOR UPDATE SKIP LOCKED and a lease, attempt it
 * through include/traject/deliver.h, and record the attempt, the receipt or
 * the rejection, and the next try. tj_outbox_deliver_due runs the steps
 * blocking (trajectd --once); the event loop runs the same claim and finish
 * around a transfer on its multi handle (lib/outbox_flight.c).
 *
 * A claim is one autocommitted UPDATE, so the lease is visible to every
 * other instance at once; the lease (on the database's real clock) lasts
 * twice the attempt timeout plus 30 s, longer than any attempt can run.
 * The outcome is recorded only while this instance still holds the
 * lease: an instance that was too slow records nothing, and whoever took
 * the delivery over sends the same stored bytes with the same key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "outbox_job.h"
#include "outbox_private.h"
#include "traject/deliver.h"
#include "traject/log.h"
#include "util.h"

/* At most this many attempts in one pass, however many are due. */
#define MAX_ATTEMPTS_PER_PASS 1000

enum { C_ID, C_ATTEMPT, C_TARGET, C_GRANT, C_REPORT, C_VERSION, C_FORMAT, C_BODY, C_KEY,
       C_GRANT_KEY };

static const char *col(const struct tj_job *job, int i)
{
	return tj_pq_get(job->res, 0, i);
}

/* ---- rounds and claims ---------------------------------------------------- */

int tj_round_init(tj_round *round, tj_err *err)
{
	tj_buf_init(&round->tried);
	if (tj_buf_puts(&round->tried, "{") < 0)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	return 0;
}

void tj_round_free(tj_round *round)
{
	tj_buf_free(&round->tried);
}

void tj_job_free(struct tj_job *job)
{
	if (!job)
		return;
	tj_transfer_free(job->transfer);
	tj_delivery_result_clear(&job->result);
	PQclear(job->res);
	if (job->body)
		PQfreemem(job->body);
	free(job);
}

/*
 * A delivery never tried is due at once, whatever the service clock (a
 * command on the real clock may have queued it); a retry waits for its
 * next_attempt_at on the service clock; an expired lease is due at once.
 */
int tj_job_claim(tj_service *svc, tj_round *round, struct tj_job **out, tj_err *err)
{
	struct tj_job *job;
	tj_buf *tried = &round->tried;
	char now[32], lease[24];
	const char *params[4] = { svc->instance, now, lease, NULL };
	unsigned char *body;
	int r;

	if (!(job = calloc(1, sizeof *job)))
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	tj_timestamp_format(tj_service_now(svc), now);
	snprintf(lease, sizeof lease, "%ld", svc->cfg->timeout * 2 + 30);
	/* "{" + ids + "}" for this statement; the "}" is taken off again below */
	if (tj_buf_puts(tried, "}") < 0) {
		free(job);
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	}
	params[3] = tried->data;
	r = tj_pq(svc->conn, "claiming a delivery",
		  "WITH c AS ("
		  "  SELECT dl.delivery_id FROM traject.deliveries dl"
		  "  WHERE ((dl.state = 'queued' AND (dl.attempts = 0 OR dl.next_attempt_at <= $2))"
		  "      OR (dl.state = 'delivering' AND dl.lease_until < clock_timestamp()))"
		  "    AND NOT (dl.delivery_id = ANY ($4::bigint[]))"
		  "  ORDER BY dl.next_attempt_at, dl.delivery_id"
		  "  LIMIT 1 FOR UPDATE OF dl SKIP LOCKED)"
		  " UPDATE traject.deliveries dl SET state = 'delivering', lease_owner = $1,"
		  "   lease_until = clock_timestamp() + make_interval(secs => $3::integer),"
		  "   attempts = dl.attempts + 1"
		  " FROM c, traject.documents d, traject.grants g"
		  " WHERE dl.delivery_id = c.delivery_id AND d.doc_id = dl.doc_id"
		  "   AND g.grant_key = d.grant_key"
		  " RETURNING dl.delivery_id, dl.attempts, dl.target, g.id, d.report_id, d.version,"
		  "   d.format, d.body, d.idempotency_key, d.grant_key",
		  4, params, &job->res, err);
	tried->data[--tried->len] = '\0';
	if (r < 0 || PQntuples(job->res) == 0) {
		tj_job_free(job);
		return r < 0 ? r : 0;
	}
	if (tj_buf_printf(tried, "%s%s", tried->len > 1 ? "," : "", col(job, C_ID)) < 0) {
		/* claimed but not remembered: the lease runs out and it is retried */
		tj_job_free(job);
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	}
	body = PQunescapeBytea((const unsigned char *)PQgetvalue(job->res, 0, C_BODY), &job->len);
	if (!body) {
		tj_job_free(job);
		return tj_fail(err, TJ_ENOMEM, "out of memory reading a document");
	}
	job->body = (char *)body;
	job->attempt = strtol(PQgetvalue(job->res, 0, C_ATTEMPT), NULL, 10);
	*out = job;
	return 1;
}

const char *tj_job_target(const struct tj_job *job)
{
	return col(job, C_TARGET);
}

void tj_job_describe(const struct tj_job *job, char *buf, size_t size)
{
	snprintf(buf, size, "grant %s report %s version %s (%s) to %s", col(job, C_GRANT),
		 col(job, C_REPORT), col(job, C_VERSION), col(job, C_FORMAT), col(job, C_TARGET));
}

/* ---- the attempt ------------------------------------------------------------ */

static void job_doc(const struct tj_job *job, struct tj_doc *doc)
{
	*doc = (struct tj_doc){
		.grant_id = col(job, C_GRANT),
		.report_id = col(job, C_REPORT),
		.version = (int)strtol(col(job, C_VERSION), NULL, 10),
		.format = col(job, C_FORMAT),
		.body = job->body,
		.len = job->len,
		.idempotency_key = col(job, C_KEY),
	};
}

static void job_opts(tj_service *svc, const struct tj_job *job, struct tj_delivery_opts *opts)
{
	tj_delivery_opts_from_config(opts, svc->cfg);
	opts->url = col(job, C_TARGET); /* where it was queued to, not where new ones go */
}

void tj_job_not_started(struct tj_delivery_result *res, const char *why)
{
	memset(res, 0, sizeof *res);
	res->outcome = TJ_OUTCOME_RETRY;
	res->retry_after = -1;
	res->alert = true;
	snprintf(res->error, sizeof res->error, "the attempt could not start: %.700s", why);
	tj_delivery_result_stamp(res);
}

void tj_job_attempt(tj_service *svc, const struct tj_job *job, struct tj_delivery_result *res)
{
	struct tj_delivery_opts opts;
	struct tj_doc doc;
	tj_err err = { 0 };

	job_opts(svc, job, &opts);
	job_doc(job, &doc);
	memset(res, 0, sizeof *res);
	if (tj_deliver(&opts, &doc, res, &err) < 0) {
		tj_delivery_result_clear(res);
		tj_job_not_started(res, err.msg);
	}
}

int tj_job_transfer(tj_service *svc, struct tj_job *job, struct tj_transfer **out, tj_err *err)
{
	struct tj_delivery_opts opts;
	struct tj_doc doc;

	job_opts(svc, job, &opts);
	job_doc(job, &doc);
	return tj_transfer_new(out, &opts, &doc, job, err);
}

/* ---- recording the outcome ------------------------------------------------- */

struct outcome_sql {
	char next[32], now[32], status[16], retry_after[24], elapsed[24];
	char *headers, *body;
};

static void outcome_sql_clear(struct outcome_sql *o)
{
	free(o->headers);
	free(o->body);
}

static const char *state_after(enum tj_outcome outcome)
{
	switch (outcome) {
	case TJ_OUTCOME_DELIVERED:
		return "delivered";
	case TJ_OUTCOME_REJECTED:
		return "rejected";
	case TJ_OUTCOME_RETRY:
		return "queued";
	}
	return "queued";
}

/*
 * Record the outcome while the lease is ours: 1 recorded, 0 lease lost.
 * A retry waits tj_backoff_delay(), or not at all when `at_once` (an
 * attempt we abandoned ourselves says nothing about the receiver).
 */
static int record(tj_service *svc, struct tj_job *job, const struct tj_delivery_result *res,
		  bool at_once, tj_err *err)
{
	struct outcome_sql o = { 0 };
	TJ_AUTORES PGresult *upd = NULL;
	bool delivered = res->outcome == TJ_OUTCOME_DELIVERED;
	bool retry = res->outcome == TJ_OUTCOME_RETRY;
	char attempt_no[24];
	int64_t now = tj_service_now(svc);
	int r = 0;

	tj_timestamp_format(now, o.now);
	job->next_attempt = INT64_MAX;
	if (retry) {
		long delay = at_once ? 0
				     : tj_backoff_delay(job->attempt, svc->cfg->retry_base,
							svc->cfg->retry_max, res->retry_after, NULL,
							NULL);

		job->next_attempt = now + (int64_t)delay * TJ_USEC_PER_SEC;
		tj_timestamp_format(job->next_attempt, o.next);
	}
	snprintf(o.status, sizeof o.status, "%ld", res->status);
	snprintf(o.retry_after, sizeof o.retry_after, "%ld", res->retry_after);
	snprintf(o.elapsed, sizeof o.elapsed, "%lld", (long long)res->elapsed_ms);
	snprintf(attempt_no, sizeof attempt_no, "%ld", job->attempt);
	if (delivered && ((res->headers &&
			   (r = tj_bytea_param(res->headers, res->headers_len, &o.headers, err)) < 0) ||
			  (res->body && (r = tj_bytea_param(res->body, res->body_len, &o.body, err)) < 0))) {
		outcome_sql_clear(&o);
		return r;
	}
	if ((r = tj_pq_cmd(svc->conn, "BEGIN", err)) < 0)
		goto out;
	{
		const char *params[11] = {
			col(job, C_ID), svc->instance, state_after(res->outcome),
			delivered ? NULL : res->error, retry ? o.next : NULL,
			delivered ? o.now : NULL, delivered && res->status ? o.status : NULL,
			o.headers, o.body, delivered ? res->path : NULL, delivered ? res->at : NULL,
		};

		r = tj_pq(svc->conn, "recording the delivery",
			  "UPDATE traject.deliveries SET state = $3, lease_owner = NULL,"
			  " lease_until = NULL, last_error = $4,"
			  " next_attempt_at = coalesce($5, next_attempt_at), delivered_at = $6,"
			  " receipt_status = $7, receipt_headers = $8, receipt_body = $9,"
			  " receipt_path = $10, receipt_at = $11"
			  " WHERE delivery_id = $1 AND lease_owner = $2 AND state = 'delivering'",
			  11, params, &upd, err);
	}
	if (r < 0)
		goto fail;
	if (strcmp(PQcmdTuples(upd), "1") != 0) {
		tj_pq_rollback(svc->conn);
		r = 0;
		goto out;
	}
	{
		const char *params[10] = {
			col(job, C_ID), attempt_no, svc->instance, tj_outcome_name(res->outcome),
			res->status ? o.status : NULL, res->error[0] ? res->error : NULL,
			res->retry_after >= 0 ? o.retry_after : NULL, o.elapsed, o.now,
			retry ? o.next : NULL,
		};

		r = tj_pq(svc->conn, "recording the attempt",
			  "INSERT INTO traject.delivery_attempts (delivery_id, attempt, instance_id,"
			  " outcome, http_status, error, retry_after, elapsed_ms, finished_at,"
			  " next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
			  10, params, NULL, err);
	}
	if (r < 0 || (r = tj_pq_cmd(svc->conn, "COMMIT", err)) < 0)
		goto fail;
	r = 1;
	goto out;
fail:
	tj_pq_rollback(svc->conn);
out:
	outcome_sql_clear(&o);
	return r;
}

/* After a delivery: is the whole version delivered (every format accepted somewhere)? */
static int version_delivered(tj_service *svc, const struct tj_job *job, bool *done, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[3] = { col(job, C_GRANT_KEY), col(job, C_REPORT), col(job, C_VERSION) };
	int r;

	r = tj_pq(svc->conn, "checking the report's deliveries",
		  "SELECT bool_and(EXISTS (SELECT 1 FROM traject.deliveries x"
		  "   WHERE x.doc_id = d.doc_id AND x.state = 'delivered'))"
		  " FROM traject.documents d"
		  " WHERE d.grant_key = $1 AND d.report_id = $2 AND d.version = $3",
		  3, params, &res, err);
	if (r < 0)
		return r;
	*done = !strcmp(PQgetvalue(res, 0, 0), "t");
	return 0;
}

static int after(tj_service *svc, const struct tj_job *job, const struct tj_delivery_result *res,
		 struct tj_pass_stats *st, tj_err *err)
{
	char msg[1200];
	bool done = false;
	int r;

	tj_job_describe(job, msg, sizeof msg);
	switch (res->outcome) {
	case TJ_OUTCOME_DELIVERED:
		st->delivered++;
		tj_log(TJ_LOG_INFO, "%s: delivered (attempt %ld%s%s)", msg, job->attempt,
		       res->path ? ", " : "", res->path ? res->path : "");
		if ((r = version_delivered(svc, job, &done, err)) < 0)
			return r;
		if (done) {
			tj_log(TJ_LOG_INFO, "grant %s report %s version %s: every format delivered",
			       col(job, C_GRANT), col(job, C_REPORT), col(job, C_VERSION));
			return tj_outbox_resolve_alerts(svc, col(job, C_GRANT_KEY), col(job, C_REPORT),
							err);
		}
		return 0;
	case TJ_OUTCOME_RETRY:
		st->retried++;
		tj_log(TJ_LOG_WARNING, "%s: attempt %ld failed, will retry: %s", msg, job->attempt,
		       res->error);
		if (!res->alert)
			return 0;
		{
			char text[2048];

			snprintf(text, sizeof text, "%s keeps failing in a way waiting will not fix: %s",
				 msg, res->error);
			r = tj_outbox_alert(svc, "failing", col(job, C_GRANT_KEY), col(job, C_GRANT),
					    col(job, C_REPORT), text, err);
		}
		return r < 0 ? r : 0;
	case TJ_OUTCOME_REJECTED:
		st->rejected++;
		{
			char text[2048];

			snprintf(text, sizeof text, "%s was rejected: %s", msg, res->error);
			r = tj_outbox_alert(svc, "rejected", col(job, C_GRANT_KEY), col(job, C_GRANT),
					    col(job, C_REPORT), text, err);
		}
		return r < 0 ? r : 0;
	}
	return 0;
}

static void lease_lost(const struct tj_job *job)
{
	tj_log(TJ_LOG_WARNING,
	       "grant %s report %s (%s): the lease ran out before the attempt was recorded; "
	       "another instance has taken the delivery over",
	       col(job, C_GRANT), col(job, C_REPORT), col(job, C_FORMAT));
}

int tj_job_finish(tj_service *svc, struct tj_job *job, const struct tj_delivery_result *res,
		  struct tj_pass_stats *st, tj_err *err)
{
	int r;

	st->attempts++;
	if ((r = record(svc, job, res, false, err)) == 0)
		lease_lost(job);
	if (r <= 0)
		return r;
	r = after(svc, job, res, st, err);
	return r < 0 ? r : 1;
}

int tj_job_release(tj_service *svc, struct tj_job *job, const char *why, tj_err *err)
{
	struct tj_delivery_result res;
	char msg[1200];
	int r;

	memset(&res, 0, sizeof res);
	res.outcome = TJ_OUTCOME_RETRY;
	res.retry_after = -1;
	snprintf(res.error, sizeof res.error, "%s", why);
	tj_delivery_result_stamp(&res);
	r = record(svc, job, &res, true, err);
	if (r == 0)
		lease_lost(job);
	if (r == 1) {
		tj_job_describe(job, msg, sizeof msg);
		tj_log(TJ_LOG_WARNING, "%s: attempt %ld abandoned, queued again: %s", msg,
		       job->attempt, why);
	}
	return r;
}

int tj_outbox_next_attempt(tj_service *svc, struct tj_pass_stats *st, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int64_t next;
	int r;

	r = tj_pq(svc->conn, "finding the next delivery",
		  "SELECT " TJ_SQL_USEC("min(next_attempt_at)")
		  " FROM traject.deliveries WHERE state = 'queued'",
		  0, NULL, &res, err);
	if (r < 0)
		return r;
	if (tj_usec_value(tj_pq_get(res, 0, 0), &next) == 0 && next < st->next_due)
		st->next_due = next;
	return 0;
}

/* ---- the blocking pass ------------------------------------------------------ */

int tj_outbox_deliver_due(tj_service *svc, struct tj_pass_stats *st, tj_err *err)
{
	tj_round round;
	int r;

	if ((r = tj_round_init(&round, err)) < 0)
		return r;
	for (int n = 0; n < MAX_ATTEMPTS_PER_PASS; n++) {
		struct tj_delivery_result res;
		struct tj_job *job = NULL;

		if ((r = tj_job_claim(svc, &round, &job, err)) <= 0)
			break;
		tj_job_attempt(svc, job, &res);
		r = tj_job_finish(svc, job, &res, st, err);
		tj_delivery_result_clear(&res);
		tj_job_free(job);
		if (r < 0)
			break;
	}
	tj_round_free(&round);
	if (r < 0)
		return r;
	return tj_outbox_next_attempt(svc, st, err);
}
