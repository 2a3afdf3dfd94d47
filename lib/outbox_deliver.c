/*
 * Delivery from the outbox, one claimed delivery ("job", lib/outbox_job.h)
 * at a time: claim it with FOR UPDATE SKIP LOCKED and a lease, and attempt
 * it through include/traject/deliver.h; lib/outbox_record.c records the
 * outcome. tj_outbox_deliver_due runs the steps blocking (trajectd --once);
 * the event loop runs the same claim and recording around a transfer on
 * its multi handle (lib/outbox_flight.c).
 *
 * A claim is one autocommitted UPDATE, so the lease is visible to every
 * other instance at once; the lease (on the database's real clock) lasts
 * twice the attempt timeout plus 30 s, longer than any attempt can run.
 * Whoever takes an expired claim over sends the same stored bytes with
 * the same key.
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
	if (tj_buf_printf(tried, "%s%s", tried->len > 1 ? "," : "", tj_job_col(job, C_ID)) < 0) {
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
	return tj_job_col(job, C_TARGET);
}

void tj_job_describe(const struct tj_job *job, char *buf, size_t size)
{
	snprintf(buf, size, "grant %s report %s version %s (%s) to %s", tj_job_col(job, C_GRANT),
		 tj_job_col(job, C_REPORT), tj_job_col(job, C_VERSION), tj_job_col(job, C_FORMAT), tj_job_col(job, C_TARGET));
}

/* ---- the attempt ------------------------------------------------------------ */

static void job_doc(const struct tj_job *job, struct tj_doc *doc)
{
	*doc = (struct tj_doc){
		.grant_id = tj_job_col(job, C_GRANT),
		.report_id = tj_job_col(job, C_REPORT),
		.version = (int)strtol(tj_job_col(job, C_VERSION), NULL, 10),
		.format = tj_job_col(job, C_FORMAT),
		.body = job->body,
		.len = job->len,
		.idempotency_key = tj_job_col(job, C_KEY),
	};
}

static void job_opts(tj_service *svc, const struct tj_job *job, struct tj_delivery_opts *opts)
{
	tj_delivery_opts_from_config(opts, svc->cfg);
	opts->url = tj_job_col(job, C_TARGET); /* where it was queued to, not where new ones go */
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

int tj_outbox_next_attempt(tj_service *svc, struct tj_pass_stats *st, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	char now[32];
	const char *params[1] = { now };
	int64_t next;
	int r;

	/*
	 * The next retry (service clock), or the moment the earliest lease of
	 * a claim runs out (database clock, mapped onto the service clock, plus
	 * a second so the lease has surely expired): a killed or paused
	 * instance's claim is taken over when its lease ends, not at the next
	 * idle pass.
	 */
	tj_timestamp_format(tj_service_now(svc), now);
	r = tj_pq(svc->conn, "finding the next delivery",
		  "SELECT least("
		  "  (SELECT " TJ_SQL_USEC("min(next_attempt_at)")
		  "   FROM traject.deliveries WHERE state = 'queued'),"
		  "  (SELECT " TJ_SQL_USEC("$1::timestamptz + (min(lease_until) - clock_timestamp())"
					  " + interval '1 second'")
		  "   FROM traject.deliveries WHERE state = 'delivering'))",
		  1, params, &res, err);
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
