/*
 * Generating what is due: every calendar report whose moment has come
 * (missed moments included: a report is due from its moment on, so a start
 * after downtime catches up at once), a grant's due reports together
 * (tj_outbox_generate_many).
 *
 * A national catch-up is mostly waiting for the database to compute, one
 * grant after another, on one CPU. With [schedule] workers = N > 1 the pass
 * forks N - 1 generator processes, each with its own database session,
 * and all N take the next grant from a shared counter until none is left:
 * the grants are computed on N CPUs at once. Nothing else changes: every
 * grant is generated under its own locks and in its own transactions, as
 * by two instances of trajectd (docs/daemon.md), so a generator that dies
 * leaves its grant to the next pass. A generator only generates: it does
 * not touch the parent's event loop, transfers or database session
 * (inherited, never used), and leaves with _exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "outbox_private.h"
#include "traject/log.h"
#include "traject/loop.h"
#include "traject/value.h"
#include "util.h"

/* The due reports of one grant. */
struct batch {
	const char *grant;
	const char **reports;
	size_t n;
};

/* Shared by the generators (an anonymous shared mapping made before fork). */
struct shared {
	atomic_size_t next; /* the next batch to take */
	struct {
		int generated, late;
	} by[]; /* per generator */
};

/* Generate a grant's due reports together; one that fails must not stop the others. */
static int generate_grant(tj_service *svc, const struct batch *b, int *generated, int *late,
			  tj_err *err)
{
	TJ_AUTOFREE struct tj_gen_result *gen = calloc(b->n, sizeof *gen);
	tj_err gerr = { 0 };
	int r;

	if (!gen)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	r = tj_outbox_generate_many(svc, b->grant, b->reports, b->n, TJ_GEN_SCHEDULED, gen, &gerr);
	if (r < 0) {
		tj_log(TJ_LOG_ERR, "grant %s: generating %zu report%s failed: %s", b->grant, b->n,
		       b->n == 1 ? "" : "s", gerr.msg);
		if (PQstatus(svc->conn) != CONNECTION_OK)
			return tj_fail(err, TJ_EDB, "%s", gerr.msg);
		return 0;
	}
	for (size_t i = 0; i < b->n; i++) {
		*generated += !gen[i].existed;
		*late += !gen[i].existed && gen[i].late;
	}
	return 0;
}

/* Take batches from the shared counter until none is left. */
static int take_batches(tj_service *svc, const struct batch *batches, size_t count,
			struct shared *sh, int me, tj_err *err)
{
	size_t i;
	int r;

	while ((i = atomic_fetch_add(&sh->next, 1)) < count)
		if ((r = generate_grant(svc, &batches[i], &sh->by[me].generated, &sh->by[me].late,
					err)) < 0)
			return r;
	return 0;
}

/* A new session with the parameters of svc's (the same server, user, options). */
static PGconn *session_like(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn);
	const char **keys = NULL, **vals = NULL;
	PGconn *copy = NULL;
	size_t n = 0;

	if (!opts)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	keys = calloc(n + 1, sizeof *keys);
	vals = calloc(n + 1, sizeof *vals);
	if (keys && vals) {
		n = 0;
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (o->val) {
				keys[n] = o->keyword;
				vals[n++] = o->val;
			}
		copy = PQconnectdbParams(keys, vals, 0);
	}
	free(keys);
	free(vals);
	PQconninfoFree(opts);
	return copy;
}

/* The life of a generator process: its own session, its share, _exit. */
static _Noreturn void generator(tj_service *svc, const struct batch *batches, size_t count,
				struct shared *sh, int me, const char *timeout)
{
	const char *params[1] = { timeout };
	tj_service mine = *svc;
	sigset_t all;
	tj_err err = { 0 };
	int status = 0;

	/* the parent reads its signals through signalfd, with them blocked */
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	mine.conn = session_like(svc->conn);
	if (!mine.conn || PQstatus(mine.conn) != CONNECTION_OK) {
		tj_log(TJ_LOG_ERR, "report generator %d: cannot connect to the database: %s", me,
		       mine.conn ? PQerrorMessage(mine.conn) : "out of memory");
		status = 1;
	} else if (tj_pq(mine.conn, "setting the statement timeout",
			 "SELECT set_config('statement_timeout', $1, false)", 1, params, NULL,
			 &err) < 0) {
		/* bounded like the parent's session: the same statement_timeout */
		tj_log(TJ_LOG_ERR, "report generator %d: %s", me, err.msg);
		status = 1;
	} else if (take_batches(&mine, batches, count, sh, me, &err) < 0) {
		if (PQstatus(mine.conn) != CONNECTION_OK)
			tj_log(TJ_LOG_ERR, "report generator %d: database connection lost: %s; the "
			       "other generators take the grants left", me, err.msg);
		else
			tj_log(TJ_LOG_ERR, "report generator %d: %s", me, err.msg);
		status = 1;
	}
	PQfinish(mine.conn);
	_exit(status);
}

/* Generate the batches on `workers` processes (this one included). */
static int generate_all(tj_service *svc, const struct batch *batches, size_t count,
			struct tj_pass_stats *st, tj_err *err)
{
	size_t want = (size_t)(svc->cfg->workers > 1 ? svc->cfg->workers : 1);
	size_t workers = want < count ? want : count;
	size_t size = sizeof(struct shared) + workers * sizeof(((struct shared *)0)->by[0]);
	struct shared *sh;
	TJ_AUTORES PGresult *res = NULL;
	const char *timeout = NULL;
	pid_t pids[64];
	size_t forked = 0;
	int r;

	/* the generators' sessions get the parent's statement_timeout */
	if (workers > 1) {
		if ((r = tj_pq(svc->conn, "reading the statement timeout",
			       "SELECT current_setting('statement_timeout')", 0, NULL, &res, err)) < 0)
			return r;
		timeout = PQgetvalue(res, 0, 0);
	}

	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return tj_fail(err, TJ_ENOMEM, "cannot share the generators' counter: %s",
			       strerror(errno));
	atomic_init(&sh->next, 0);
	memset(sh->by, 0, workers * sizeof sh->by[0]);
	fflush(NULL); /* nothing buffered is written twice */
	for (size_t k = 1; k < workers && k <= sizeof pids / sizeof pids[0]; k++) {
		pid_t pid = fork();

		if (pid == 0)
			generator(svc, batches, count, sh, (int)k, timeout);
		if (pid < 0) {
			tj_log(TJ_LOG_WARNING, "cannot start report generator %zu: %s (going on "
			       "with fewer)", k, strerror(errno));
			break;
		}
		pids[forked++] = pid;
	}
	r = take_batches(svc, batches, count, sh, 0, err);
	for (size_t k = 0; k < forked; k++) {
		int status;

		while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			tj_log(TJ_LOG_WARNING, "report generator %zu ended early (%s %d): the "
			       "reports it did not store are generated by the next pass",
			       k + 1, WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	for (size_t k = 0; k < workers; k++) {
		st->generated += sh->by[k].generated;
		st->generated_late += sh->by[k].late;
	}
	munmap(sh, size);
	return r;
}

int tj_outbox_generate_due(tj_service *svc, struct tj_pass_stats *st, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	TJ_AUTOFREE const char **ids = NULL;
	TJ_AUTOFREE struct batch *batches = NULL;
	int64_t now = tj_service_now(svc);
	size_t n = 0, start = 0, count = 0;
	uint64_t t0;
	int rows, r;

	r = tj_pq(svc->conn, "reading the calendars",
		  "SELECT g.id, c.id, c.as_of, c.due FROM traject.grants g"
		  " JOIN traject.calendar c ON c.grant_key = g.grant_key"
		  "  AND c.version = traject.current_grant_version(g.grant_key)"
		  " WHERE NOT EXISTS (SELECT 1 FROM traject.report_versions rv"
		  "  WHERE rv.grant_key = g.grant_key AND rv.report_id = c.id)"
		  " ORDER BY g.id, c.due, c.position",
		  0, NULL, &res, err);
	if (r < 0)
		return r;
	rows = PQntuples(res);
	if (rows == 0)
		return 0;
	ids = calloc((size_t)rows, sizeof *ids);
	batches = calloc((size_t)rows, sizeof *batches);
	if (!ids || !batches)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	for (int i = 0; i < rows; i++) {
		const char *grant = PQgetvalue(res, i, 0);
		int32_t as_of, due;
		int64_t moment;

		if (tj_date_parse(PQgetvalue(res, i, 2), &as_of) == 0 &&
		    tj_date_parse(PQgetvalue(res, i, 3), &due) == 0) {
			moment = tj_sched_generation_moment(as_of, due, svc->cfg->lead_days);
			if (moment > now)
				tj_next_due(st, now, moment);
			else
				ids[n++] = PQgetvalue(res, i, 1);
		}
		/* the rows are ordered by grant: a batch ends where its grant does */
		if (i + 1 == rows || strcmp(PQgetvalue(res, i + 1, 0), grant)) {
			if (n > start)
				batches[count++] = (struct batch){ grant, &ids[start], n - start };
			start = n;
		}
	}
	if (count == 0)
		return 0;
	t0 = tj_monotonic_ms();
	r = generate_all(svc, batches, count, st, err);
	/* the figure of docs/performance.md's calendar (bench/run reads this line) */
	if (st->generated) {
		size_t procs = svc->cfg->workers > 1 ? (size_t)svc->cfg->workers : 1;

		if (procs > count)
			procs = count;
		tj_log(TJ_LOG_INFO, "generated %d report%s of %zu grant%s in %llu ms on %zu "
		       "process%s", st->generated, st->generated == 1 ? "" : "s", count,
		       count == 1 ? "" : "s", (unsigned long long)(tj_monotonic_ms() - t0), procs,
		       procs == 1 ? "" : "es");
	}
	return r;
}
