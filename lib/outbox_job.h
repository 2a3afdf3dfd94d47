/*
 * One claimed delivery ("job") of the outbox, private to lib/outbox*.c.
 *
 * A job is one attempt at one delivery, held under this instance's lease
 * from the claim until its outcome is recorded. The same steps serve the
 * blocking pass (trajectd --once: claim, attempt, finish) and the event
 * loop (lib/outbox_flight.c: claim, start a transfer, finish when libcurl
 * reports it), so an outcome is recorded by one code path only.
 */
#ifndef TJ_OUTBOX_JOB_H
#define TJ_OUTBOX_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "traject/deliver.h"
#include "traject/outbox.h"
#include "util.h"

struct tj_job {
	PGresult *res;   /* the claimed row */
	char *body;      /* the unescaped stored bytes (PQfreemem) */
	size_t len;
	long attempt;    /* this attempt's number (attempts after the claim) */
	/* owned by lib/outbox_flight.c while the job is in flight */
	struct tj_transfer *transfer;
	struct tj_delivery_result result;
	bool finished;   /* result holds the attempt's outcome, not yet recorded */
	int64_t next_attempt; /* set when a RETRY is recorded: its next try (service clock) */
	struct tj_job *next;
};

/*
 * The deliveries tried in one round ("{1,2,3}" for a bigint[] parameter):
 * each is claimed at most once per round, so a retry whose jittered delay
 * is 0 s waits for the next round instead of spinning.
 */
/* The columns of the claimed row (job->res), read with tj_job_col. */
enum tj_job_col { C_ID, C_ATTEMPT, C_TARGET, C_GRANT, C_REPORT, C_VERSION, C_FORMAT, C_BODY,
		  C_KEY, C_GRANT_KEY };

static inline const char *tj_job_col(const struct tj_job *job, enum tj_job_col c)
{
	return PQgetisnull(job->res, 0, (int)c) ? NULL : PQgetvalue(job->res, 0, (int)c);
}

typedef struct tj_round {
	tj_buf tried;
} tj_round;

int tj_round_init(tj_round *round, tj_err *err);
void tj_round_free(tj_round *round);

/*
 * Claim the next due delivery not yet tried in this round (an autocommitted
 * UPDATE: the lease is visible to every instance at once). Returns 1 with
 * *out set, 0 when nothing is due, or a negative code.
 */
int tj_job_claim(tj_service *svc, tj_round *round, struct tj_job **out, tj_err *err);
void tj_job_free(struct tj_job *job);

/* Where the job goes (the url it was queued to) and what it is. */
const char *tj_job_target(const struct tj_job *job);
/* "grant G report R version V (FMT) to URL", for log lines. */
void tj_job_describe(const struct tj_job *job, char *buf, size_t size);

/* The attempt, blocking, either target (an attempt that cannot start is a RETRY). */
void tj_job_attempt(tj_service *svc, const struct tj_job *job, struct tj_delivery_result *res);
/* An HTTPS transfer for the job (user = job), to run on a multi handle. */
int tj_job_transfer(tj_service *svc, struct tj_job *job, struct tj_transfer **out, tj_err *err);
/* Fill res as the RETRY of an attempt that could not start (why: err's text). */
void tj_job_not_started(struct tj_delivery_result *res, const char *why);

/*
 * Record the outcome while the lease is ours (attempt row, receipt, next
 * try, rejection), then log it, raise or resolve alerts and count it in st.
 * Returns 1 recorded, 0 not recorded by this call (logged): the lease was
 * lost (whoever took the delivery over sends the same bytes and key), or
 * this very attempt was recorded before (a held outcome whose COMMIT went
 * through but whose acknowledgement was lost); or a negative code (nothing
 * recorded; the lease runs out if it is never recorded).
 */
int tj_job_finish(tj_service *svc, struct tj_job *job, const struct tj_delivery_result *res,
		  struct tj_pass_stats *st, tj_err *err);

/*
 * Give the lease back after abandoning a running attempt (trajectd is
 * stopping): recorded as a RETRY attempt due at once, so another instance
 * (or the next start) sends the same bytes with the same key without
 * waiting for the lease to run out. Returns 1, 0 (as tj_job_finish) or an error.
 */
int tj_job_release(tj_service *svc, struct tj_job *job, const char *why, tj_err *err);

/* Lower st->next_due to the earliest next_attempt_at of a queued delivery. */
int tj_outbox_next_attempt(tj_service *svc, struct tj_pass_stats *st, tj_err *err);

#endif
