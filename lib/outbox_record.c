/*
 * Recording the outcome of one attempt (lib/outbox_job.h): the delivery
 * row (receipt, rejection or next try) and the attempt row in one
 * transaction, only while the claim is still ours -- the same instance,
 * state delivering and the same attempt number -- then the log line, the
 * alerts and their resolution. The blocking pass and the event loop both
 * end every attempt here; an attempt abandoned at a stop gives its claim
 * back here as well.
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
 * Record the outcome while the lease is ours: 1 recorded, 0 lease lost,
 * 2 recorded before by this very attempt (a held outcome whose first
 * COMMIT went through but whose acknowledgement was lost).
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
		const char *params[12] = {
			tj_job_col(job, C_ID), svc->instance, state_after(res->outcome),
			delivered ? NULL : res->error, retry ? o.next : NULL,
			delivered ? o.now : NULL, delivered && res->status ? o.status : NULL,
			o.headers, o.body, delivered ? res->path : NULL, delivered ? res->at : NULL,
			attempt_no,
		};

		r = tj_pq(svc->conn, "recording the delivery",
			  "UPDATE traject.deliveries SET state = $3, lease_owner = NULL,"
			  " lease_until = NULL, last_error = $4,"
			  " next_attempt_at = coalesce($5, next_attempt_at), delivered_at = $6,"
			  " receipt_status = $7, receipt_headers = $8, receipt_body = $9,"
			  " receipt_path = $10, receipt_at = $11"
			  /* this very claim: not a later one, even one of ours */
			  " WHERE delivery_id = $1 AND lease_owner = $2 AND state = 'delivering'"
			  "   AND attempts = $12::integer",
			  12, params, &upd, err);
	}
	if (r < 0)
		goto fail;
	if (strcmp(PQcmdTuples(upd), "1") != 0) {
		TJ_AUTORES PGresult *mine = NULL;
		const char *params[3] = { tj_job_col(job, C_ID), attempt_no, svc->instance };

		tj_pq_rollback(svc->conn);
		r = tj_pq(svc->conn, "looking for the attempt",
			  "SELECT 1 FROM traject.delivery_attempts"
			  " WHERE delivery_id = $1 AND attempt = $2::integer AND instance_id = $3",
			  3, params, &mine, err);
		if (r == 0)
			r = PQntuples(mine) > 0 ? 2 : 0;
		goto out;
	}
	{
		const char *params[10] = {
			tj_job_col(job, C_ID), attempt_no, svc->instance, tj_outcome_name(res->outcome),
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
	const char *params[3] = { tj_job_col(job, C_GRANT_KEY), tj_job_col(job, C_REPORT), tj_job_col(job, C_VERSION) };
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
			       tj_job_col(job, C_GRANT), tj_job_col(job, C_REPORT), tj_job_col(job, C_VERSION));
			return tj_outbox_resolve_alerts(svc, tj_job_col(job, C_GRANT_KEY), tj_job_col(job, C_REPORT),
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
			r = tj_outbox_alert(svc, "failing", tj_job_col(job, C_GRANT_KEY), tj_job_col(job, C_GRANT),
					    tj_job_col(job, C_REPORT), text, err);
		}
		return r < 0 ? r : 0;
	case TJ_OUTCOME_REJECTED:
		st->rejected++;
		{
			char text[2048];

			snprintf(text, sizeof text, "%s was rejected: %s", msg, res->error);
			r = tj_outbox_alert(svc, "rejected", tj_job_col(job, C_GRANT_KEY), tj_job_col(job, C_GRANT),
					    tj_job_col(job, C_REPORT), text, err);
		}
		return r < 0 ? r : 0;
	}
	return 0;
}

/* What record() returned when it did not record: say which it was. */
static void not_recorded(const struct tj_job *job, int r)
{
	if (r == 2)
		tj_log(TJ_LOG_NOTICE,
		       "grant %s report %s (%s): attempt %ld was already recorded (the database's "
		       "acknowledgement of that commit was lost)",
		       tj_job_col(job, C_GRANT), tj_job_col(job, C_REPORT), tj_job_col(job, C_FORMAT),
		       job->attempt);
	else
		tj_log(TJ_LOG_WARNING,
		       "grant %s report %s (%s): the lease ran out before the attempt was "
		       "recorded; another instance has taken the delivery over",
		       tj_job_col(job, C_GRANT), tj_job_col(job, C_REPORT), tj_job_col(job, C_FORMAT));
}

int tj_job_finish(tj_service *svc, struct tj_job *job, const struct tj_delivery_result *res,
		  struct tj_pass_stats *st, tj_err *err)
{
	int r;

	st->attempts++;
	r = record(svc, job, res, false, err);
	if (r == 0 || r == 2) {
		not_recorded(job, r);
		return 0;
	}
	if (r < 0)
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
	if (r == 0 || r == 2) {
		not_recorded(job, r);
		return 0;
	}
	if (r == 1) {
		tj_job_describe(job, msg, sizeof msg);
		tj_log(TJ_LOG_WARNING, "%s: attempt %ld abandoned, queued again: %s", msg,
		       job->attempt, why);
	}
	return r;
}
