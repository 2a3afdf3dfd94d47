/*
 * Deliveries in flight on the event loop (include/traject/flight.h): the
 * claim and the recording of lib/outbox_deliver.c around transfers on a
 * tj_curlm, so a slow receiver never blocks the loop. Two lists: running
 * (a transfer on the multi handle) and held (finished while the database
 * was away; recorded after the reconnect, in the order they finished).
 */
#include <stdlib.h>
#include <string.h>

#include "outbox_job.h"
#include "traject/deliver.h"
#include "traject/flight.h"
#include "traject/log.h"

/* The same bound as the blocking pass: attempts started in one call. */
#define MAX_CLAIMS_PER_CALL 1000

/* A transfer of someone else's on our multi handle (tj_flight_add_easy). */
struct extra {
	CURL *easy;
	tj_flight_easy_cb cb;
	void *data;
	struct extra *next;
};

struct tj_flight {
	tj_loop *loop;
	tj_service *svc;
	tj_curlm *curlm;
	struct tj_job *running;
	struct tj_job *held, **held_tail;
	int nrunning, nheld, max_running;
	bool backlog;
	tj_flight_cb cb;
	void *data;
	struct extra *extras;
};

static bool db_usable(const tj_flight *f)
{
	return f->svc->conn && PQstatus(f->svc->conn) == CONNECTION_OK;
}

static void unlink_running(tj_flight *f, struct tj_job *job)
{
	for (struct tj_job **pp = &f->running; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			job->next = NULL;
			f->nrunning--;
			return;
		}
	}
}

static void hold(tj_flight *f, struct tj_job *job)
{
	job->next = NULL;
	*f->held_tail = job;
	f->held_tail = &job->next;
	f->nheld++;
}

static struct tj_job *unhold_first(tj_flight *f)
{
	struct tj_job *job = f->held;

	if (!job)
		return NULL;
	f->held = job->next;
	if (!f->held)
		f->held_tail = &f->held;
	job->next = NULL;
	f->nheld--;
	return job;
}

/*
 * Record a finished job, or hold it when the database is away (or went
 * away while recording). Any other failure is logged and the job dropped:
 * its lease runs out and the delivery is tried again with the same bytes
 * and key. Takes the job over; fills done.
 */
static void settle(tj_flight *f, struct tj_job *job, struct tj_pass_stats *st,
		   struct tj_flight_done *done, tj_err *err)
{
	char what[1200];

	done->held = false;
	done->next_attempt = INT64_MAX;
	if (!db_usable(f)) {
		done->recorded = tj_fail(err, TJ_EDB, "the database is away: the outcome is kept "
						      "until it is back");
		done->held = true;
		hold(f, job);
		return;
	}
	done->recorded = tj_job_finish(f->svc, job, &job->result, st, err);
	if (done->recorded < 0 && !db_usable(f)) {
		done->held = true;
		hold(f, job);
		return;
	}
	if (done->recorded < 0) {
		tj_job_describe(job, what, sizeof what);
		tj_log(TJ_LOG_ERR,
		       "%s: recording the outcome failed: %s (if it was not stored, the lease runs "
		       "out and the delivery is tried again with the same bytes and key)",
		       what, err->msg);
	} else if (done->recorded == 1 && job->result.outcome == TJ_OUTCOME_RETRY) {
		done->next_attempt = job->next_attempt;
	}
	tj_job_free(job);
}

static void on_transfer_done(tj_curlm *m, CURL *easy, CURLcode code, void *data)
{
	tj_flight *f = data;
	struct tj_transfer *t;
	struct tj_job *job;
	struct tj_pass_stats st = { .next_due = INT64_MAX };
	struct tj_flight_done done = { 0 };
	tj_err err = { 0 };

	(void)m;
	for (struct extra **pp = &f->extras; *pp; pp = &(*pp)->next) {
		struct extra *x = *pp;

		if (x->easy == easy) {
			tj_flight_easy_cb cb = x->cb;
			void *xdata = x->data;

			*pp = x->next;
			free(x);
			cb(easy, code, xdata);
			return;
		}
	}
	t = tj_transfer_of(easy);
	job = t ? tj_transfer_user(t) : NULL;
	if (!job)
		return; /* not one of ours: cannot happen, the multi handle is private */
	unlink_running(f, job);
	if (tj_transfer_done(t, code, &job->result, &err) < 0)
		tj_job_not_started(&job->result, err.msg);
	tj_transfer_free(job->transfer);
	job->transfer = NULL;
	job->finished = true;
	settle(f, job, &st, &done, &err);
	done.err = &err;
	if (f->cb)
		f->cb(f, &done, f->data);
}

int tj_flight_new(tj_flight **out, tj_loop *loop, tj_service *svc, int max_running,
		  tj_flight_cb cb, void *data, tj_err *err)
{
	tj_flight *f;
	int r;

	if (max_running < 1)
		return tj_fail(err, TJ_EUSAGE, "a flight needs room for one transfer at least");
	if (!(f = calloc(1, sizeof *f)))
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	f->loop = loop;
	f->svc = svc;
	f->max_running = max_running;
	f->cb = cb;
	f->data = data;
	f->held_tail = &f->held;
	if ((r = tj_curlm_new(&f->curlm, loop, on_transfer_done, f, err)) < 0) {
		free(f);
		return r;
	}
	*out = f;
	return 0;
}

static void drop_running(tj_flight *f, struct tj_job *job)
{
	tj_curlm_remove(f->curlm, tj_transfer_easy(job->transfer));
	unlink_running(f, job);
}

void tj_flight_free(tj_flight *f)
{
	struct tj_job *job;

	if (!f)
		return;
	while ((job = f->running)) {
		drop_running(f, job);
		tj_job_free(job);
	}
	while ((job = unhold_first(f)))
		tj_job_free(job);
	while (f->extras)
		tj_flight_remove_easy(f, f->extras->easy);
	tj_curlm_free(f->curlm);
	free(f);
}

/* A job that could not even start counts as a RETRY, recorded at once. */
static int finish_now(tj_flight *f, struct tj_job *job, struct tj_pass_stats *st, tj_err *err)
{
	struct tj_flight_done done = { 0 };

	job->finished = true;
	settle(f, job, st, &done, err);
	if (done.recorded < 0 && done.held)
		return done.recorded; /* the database went away: stop claiming */
	return 0;
}

static int start(tj_flight *f, struct tj_job *job, struct tj_pass_stats *st, tj_err *err)
{
	tj_err terr = { 0 };

	if (tj_delivery_target(tj_job_target(job), NULL) != TJ_TARGET_HTTPS) {
		/* a folder: local and bounded, attempted here */
		tj_job_attempt(f->svc, job, &job->result);
		return finish_now(f, job, st, err);
	}
	if (tj_job_transfer(f->svc, job, &job->transfer, &terr) < 0 ||
	    tj_curlm_add(f->curlm, tj_transfer_easy(job->transfer), &terr) < 0) {
		tj_transfer_free(job->transfer);
		job->transfer = NULL;
		tj_job_not_started(&job->result, terr.msg);
		return finish_now(f, job, st, err);
	}
	job->next = f->running;
	f->running = job;
	f->nrunning++;
	return 1;
}

int tj_flight_start_due(tj_flight *f, struct tj_pass_stats *st, tj_err *err)
{
	tj_round round;
	int r, started = 0;

	f->backlog = false;
	if (!db_usable(f))
		return tj_fail(err, TJ_EDB, "the database is away");
	if ((r = tj_round_init(&round, err)) < 0)
		return r;
	for (int n = 0; n < MAX_CLAIMS_PER_CALL; n++) {
		struct tj_job *job = NULL;

		if (f->nrunning >= f->max_running) {
			f->backlog = true;
			break;
		}
		if ((r = tj_job_claim(f->svc, &round, &job, err)) <= 0)
			break;
		if ((r = start(f, job, st, err)) < 0)
			break;
		started += r;
	}
	tj_round_free(&round);
	if (r < 0)
		return r;
	if ((r = tj_outbox_next_attempt(f->svc, st, err)) < 0)
		return r;
	return started;
}

int tj_flight_add_easy(tj_flight *f, CURL *easy, tj_flight_easy_cb cb, void *data, tj_err *err)
{
	struct extra *x = calloc(1, sizeof *x);
	int r;

	if (!x)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	x->easy = easy;
	x->cb = cb;
	x->data = data;
	if ((r = tj_curlm_add(f->curlm, easy, err)) < 0) {
		free(x);
		return r;
	}
	x->next = f->extras;
	f->extras = x;
	return 0;
}

void tj_flight_remove_easy(tj_flight *f, CURL *easy)
{
	for (struct extra **pp = &f->extras; *pp; pp = &(*pp)->next) {
		struct extra *x = *pp;

		if (x->easy == easy) {
			*pp = x->next;
			tj_curlm_remove(f->curlm, easy);
			free(x);
			return;
		}
	}
}

int tj_flight_running(const tj_flight *f)
{
	return f->nrunning;
}

int tj_flight_held(const tj_flight *f)
{
	return f->nheld;
}

bool tj_flight_backlog(const tj_flight *f)
{
	return f->backlog;
}

int tj_flight_record_held(tj_flight *f, tj_err *err)
{
	struct tj_pass_stats st = { .next_due = INT64_MAX };
	int recorded = 0;
	int n = f->nheld;

	/* each held job once: one that is held again waits for the next reconnect */
	for (int i = 0; i < n && db_usable(f); i++) {
		struct tj_flight_done done = { 0 };
		struct tj_job *job = unhold_first(f);

		settle(f, job, &st, &done, err);
		if (done.held)
			return done.recorded;
		recorded++;
	}
	return recorded;
}

int tj_flight_abandon(tj_flight *f, const char *why)
{
	struct tj_job *job;
	int n = 0;
	tj_err err = { 0 };
	char what[1200];

	while ((job = f->running)) {
		drop_running(f, job);
		n++;
		memset(&err, 0, sizeof err);
		if (db_usable(f) && tj_job_release(f->svc, job, why, &err) >= 0) {
			tj_job_free(job);
			continue;
		}
		tj_job_describe(job, what, sizeof what);
		tj_log(TJ_LOG_WARNING,
		       "%s: attempt %ld abandoned; another instance or the next start retries it "
		       "when its lease runs out (same bytes, same key)%s%s",
		       what, job->attempt, err.msg[0] ? ": " : "", err.msg);
		tj_job_free(job);
	}
	if (db_usable(f))
		tj_flight_record_held(f, &err);
	while ((job = unhold_first(f))) {
		tj_job_describe(job, what, sizeof what);
		tj_log(TJ_LOG_WARNING,
		       "%s: attempt %ld ended (%s) but could not be recorded; it is retried when its "
		       "lease runs out (same bytes, same key)",
		       what, job->attempt, tj_outcome_name(job->result.outcome));
		tj_job_free(job);
	}
	return n;
}
