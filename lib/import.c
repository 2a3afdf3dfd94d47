/*
 * Importing an events file: the database half of `trajectctl import`.
 *
 * One transaction per file (tj_register_begin: grant lock, then the clock).
 * The file is read in chunks, hashed and parsed as it streams; every record
 * and every row-local problem goes by COPY into a temporary staging table,
 * so C never holds more than one chunk and one record. Then, in SQL and set
 * based: the "already imported" check on the hash, the cross-row rules over
 * the staged rows together with the stored, not voided events of the same
 * trajectories, and one ordered list of every problem. A file with any
 * problem is rolled back; a clean one is stored with INSERT ... SELECT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db.h"
#include "traject/events.h"
#include "traject/import.h"
#include "traject/value.h"
#include "util.h"

#define CHUNK 65536
#define COPY_FLUSH 65536

/* Staged rows: a record (problem NULL) or a row-local problem (line, problem). */
static const char create_stage[] =
	"CREATE TEMP TABLE import_rows ("
	" seq bigint NOT NULL, line integer NOT NULL, ok boolean NOT NULL,"
	" ref text, event_date date, kind text, value text, amount numeric(14,2),"
	" problem text) ON COMMIT DROP";

static const char copy_stage[] =
	"COPY pg_temp.import_rows (seq, line, ok, ref, event_date, kind, value, amount, problem)"
	" FROM STDIN";

/*
 * How a problem names the other event of a pair; computed only for the rows
 * that are reported (formatting every staged row cost about a second per
 * million).
 */
#define WHAT(a)                                                                        \
	" CASE WHEN " a ".line IS NULL"                                                   \
	" THEN format('stored event %s (%s %s)', " a ".event_id,"                        \
		" to_char(" a ".event_date, 'YYYY-MM-DD'), " a ".kind)"                      \
	" ELSE format('line %s (%s %s)', " a ".line, to_char(" a ".event_date, 'YYYY-MM-DD'),"\
		" " a ".kind) END"
#define DAY(a) " to_char(" a ".event_date, 'YYYY-MM-DD')"

/*
 * Every problem of the file in line order: the staged row-local ones, then
 * (unless parsing stopped early: $2) the cross-row rules. The rules see the
 * file's good rows of trajectories without a bad row (a bad row would make
 * them guess) together with the stored, not voided events of the same
 * trajectories. "First" of a kind means stored before file, then by line;
 * only the kinds that may occur once are numbered (a quarter of the rows),
 * and their sort compares references bytewise (COLLATE "C"), which is what
 * equality needs and several times cheaper than the database's locale.
 */
static const char *const check_sql[] = {
	"WITH tainted AS ("
		" SELECT DISTINCT ref FROM pg_temp.import_rows WHERE NOT ok AND ref IS NOT NULL"
	"), file_ev AS ("
		" SELECT s.line, s.ref, s.event_date, s.kind, NULL::bigint AS event_id"
		" FROM pg_temp.import_rows s"
		" WHERE s.ok AND NOT EXISTS (SELECT 1 FROM tainted x WHERE x.ref = s.ref)"
	"), stored_ev AS ("
		" SELECT NULL::integer AS line, t.ref::text AS ref, e.event_date, e.kind, e.event_id"
		" FROM traject.trajectories t JOIN traject.events e ON e.traj_key = t.traj_key"
		" WHERE t.grant_key = $1 AND e.grant_key = $1"
		" AND t.ref IN (SELECT ref FROM file_ev)"
		" AND NOT EXISTS (SELECT 1 FROM traject.voids v WHERE v.event_id = e.event_id)"
	"), ev AS ("
		" SELECT * FROM file_ev UNION ALL SELECT * FROM stored_ev"
	"), once AS ("
		" SELECT ev.*, row_number() OVER (PARTITION BY ev.ref COLLATE \"C\", ev.kind"
			" ORDER BY ev.line NULLS FIRST, ev.event_id) AS nth"
		" FROM ev WHERE ev.kind IN ('registered', 'help_started', 'closed')"
	"), firsts AS ("
		" SELECT * FROM once WHERE nth = 1"
	"), cross_rules AS (",
		/* TJ020: no registered event anywhere; once, on the first line. */
		" SELECT min(fe.line) AS line,"
			" format('TJ020 trajectory ''%s'' is not registered: no registered event'"
				" || ' in this file or stored (add its registered event; it has %s'"
				" || ' line%s in this file)',"
				" fe.ref, count(*), CASE WHEN count(*) = 1 THEN '' ELSE 's' END) AS msg"
		" FROM file_ev fe"
		" WHERE NOT EXISTS (SELECT 1 FROM firsts f"
			" WHERE f.ref = fe.ref AND f.kind = 'registered')"
		" GROUP BY fe.ref"
		/* TJ021, TJ023, TJ024: a second event of a kind that happens once. */
		" UNION ALL"
		" SELECT d.line,"
			" format('%s second %s event of trajectory ''%s'': conflicts with %s (%s)',"
				" CASE d.kind WHEN 'registered' THEN 'TJ021'"
					" WHEN 'help_started' THEN 'TJ023' ELSE 'TJ024' END,"
				" d.kind, d.ref," WHAT("f") ","
				" CASE WHEN f.line IS NULL"
					" THEN format('remove this line, or void stored event %s first',"
						" f.event_id)"
					" ELSE 'keep only one of the two lines' END)"
		" FROM once d JOIN firsts f ON f.ref = d.ref AND f.kind = d.kind"
		" WHERE d.nth > 1 AND d.line IS NOT NULL"
		/* TJ022: dated before the registration; on the file's side of the pair. */
		" UNION ALL",
		" SELECT coalesce(o.line, r.line),"
			" CASE WHEN o.line IS NOT NULL"
			" THEN format('TJ022 %s event dated %s is before trajectory ''%s'' was'"
				" || ' registered: conflicts with %s (no event may precede the'"
				" || ' registration: correct the dates)', o.kind," DAY("o") ", o.ref,"
				WHAT("r") ")"
			" ELSE format('TJ022 registered date %s of trajectory ''%s'' is after an'"
				" || ' earlier event: conflicts with %s (register on or before %s, or'"
				" || ' void stored event %s first)'," DAY("r") ", r.ref," WHAT("o") ","
				DAY("o") ", o.event_id)"
			" END"
		" FROM ev o JOIN firsts r ON r.ref = o.ref AND r.kind = 'registered'"
		" WHERE o.kind <> 'registered' AND o.event_date < r.event_date"
		" AND (o.line IS NOT NULL OR r.line IS NOT NULL)"
		/* TJ025: after the closing date only cost. */
		" UNION ALL",
		" SELECT coalesce(o.line, c.line),"
			" CASE WHEN o.line IS NOT NULL"
			" THEN format('TJ025 %s event dated %s is after trajectory ''%s'' was'"
				" || ' closed: conflicts with %s (only cost events may follow the'"
				" || ' closing date: correct the date%s)', o.kind," DAY("o") ", o.ref,"
				WHAT("c") ","
				" CASE WHEN c.line IS NULL"
					" THEN format(', or void stored event %s first', c.event_id)"
					" ELSE '' END)"
			" ELSE format('TJ025 trajectory ''%s'' closed on %s has a later event:'"
				" || ' conflicts with %s (only cost events may follow the closing'"
				" || ' date: close on or after %s, or void stored event %s first)',"
				" c.ref," DAY("c") "," WHAT("o") "," DAY("o") ", o.event_id)"
			" END"
		" FROM ev o JOIN firsts c ON c.ref = o.ref AND c.kind = 'closed'"
		" WHERE o.kind NOT IN ('cost', 'closed') AND o.event_date > c.event_date"
		" AND (o.line IS NOT NULL OR c.line IS NOT NULL)"
	"), all_problems AS ("
		" SELECT line, 0 AS src, seq, problem AS msg FROM pg_temp.import_rows"
		" WHERE problem IS NOT NULL"
		" UNION ALL"
		" SELECT line, 1, 0, msg FROM cross_rules WHERE NOT $2::boolean"
	")"
	" SELECT line, msg, count(*) OVER () FROM all_problems"
	" ORDER BY line, src, seq, msg COLLATE \"C\" LIMIT $3",
};

/* Streaming state of one COPY. */
struct stage {
	PGconn *conn;
	tj_buf copy;
	long seq;
	long ok_rows;
};

/* A text-format COPY field: \N for NULL, backslash escapes for the rest. */
static void copy_field(tj_buf *b, const char *s, bool last)
{
	if (!s) {
		tj_buf_append(b, "\\N", 2);
	} else {
		while (*s) {
			size_t run = strcspn(s, "\\\t\n\r");

			tj_buf_append(b, s, run);
			s += run;
			if (!*s)
				break;
			switch (*s++) {
			case '\\': tj_buf_append(b, "\\\\", 2); break;
			case '\t': tj_buf_append(b, "\\t", 2); break;
			case '\n': tj_buf_append(b, "\\n", 2); break;
			default: tj_buf_append(b, "\\r", 2); break;
			}
		}
	}
	tj_buf_append(b, last ? "\n" : "\t", 1);
}

static int copy_flush(struct stage *st, bool force, tj_err *err)
{
	if (st->copy.oom)
		return tj_fail(err, TJ_ENOMEM, "out of memory staging the events");
	if (st->copy.len == 0 || (!force && st->copy.len < COPY_FLUSH))
		return 0;
	if (PQputCopyData(st->conn, st->copy.data, (int)st->copy.len) != 1)
		return tj_fail(err, TJ_EDB, "staging the events: %s", PQerrorMessage(st->conn));
	st->copy.len = 0;
	return 0;
}

static void copy_head(struct stage *st, long line, bool ok)
{
	char head[64];
	int n = snprintf(head, sizeof head, "%ld\t%ld\t%s\t", ++st->seq, line, ok ? "t" : "f");

	tj_buf_append(&st->copy, head, (size_t)n);
}

static int on_row(void *ctx, const struct tj_csv_row *row, tj_err *err)
{
	struct stage *st = ctx;
	char money[32];

	copy_head(st, row->line, row->ok);
	copy_field(&st->copy, row->trajectory, false);
	copy_field(&st->copy, row->ok ? row->date : NULL, false);
	copy_field(&st->copy, row->ok ? row->event : NULL, false);
	copy_field(&st->copy, row->ok ? row->value : NULL, false);
	copy_field(&st->copy, row->ok && row->cents ? tj_money_format(row->cents, money) : NULL,
		   false);
	copy_field(&st->copy, NULL, true);
	if (row->ok)
		st->ok_rows++;
	return copy_flush(st, false, err);
}

static int on_problem(void *ctx, long line, const char *msg, tj_err *err)
{
	struct stage *st = ctx;

	copy_head(st, line, false);
	for (int i = 0; i < 5; i++)
		copy_field(&st->copy, NULL, false);
	copy_field(&st->copy, msg, true);
	return copy_flush(st, false, err);
}

static void md_freep(EVP_MD_CTX **md)
{
	EVP_MD_CTX_free(*md);
}

static void parser_freep(tj_csv_events **p)
{
	tj_csv_events_free(*p);
}

/* End a COPY: with errmsg NULL commit its rows, else abort it. */
static int copy_end(PGconn *conn, const char *errmsg, tj_err *err)
{
	PGresult *res;
	int r = 0;

	if (PQputCopyEnd(conn, errmsg) != 1 && !errmsg)
		r = tj_fail(err, TJ_EDB, "staging the events: %s", PQerrorMessage(conn));
	while ((res = PQgetResult(conn))) {
		if (!errmsg && !r && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = tj_fail(err, TJ_EDB, "staging the events: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
	return r;
}

/* Parse and stage the whole file; the COPY is open during the loop. */
static int stream_file(struct stage *st, FILE *f, const char *path, char sha[static 65],
		       bool *stopped, tj_err *err)
{
	static const struct tj_csv_events_cb cb = { on_row, on_problem };
	TJ_AUTO(parser_freep) tj_csv_events *p = NULL;
	TJ_AUTO(md_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[EVP_MAX_MD_SIZE], *chunk;
	unsigned int dlen = 0;
	size_t n;
	int r;

	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		return tj_fail(err, TJ_ENOMEM, "out of memory hashing %s", path);
	if ((r = tj_csv_events_new(&p, &cb, st, err)) < 0)
		return r;
	if (!(chunk = malloc(CHUNK)))
		return tj_fail(err, TJ_ENOMEM, "out of memory reading %s", path);
	while ((n = fread(chunk, 1, CHUNK, f)) > 0) {
		EVP_DigestUpdate(md, chunk, n);
		if ((r = tj_csv_events_feed(p, chunk, n, err)) < 0)
			break;
	}
	free(chunk);
	if (r < 0)
		return r;
	if (ferror(f))
		return tj_fail(err, TJ_EIO, "%s: read error: %s", path, strerror(errno));
	if ((r = tj_csv_events_finish(p, err)) < 0 || (r = copy_flush(st, true, err)) < 0)
		return r;
	EVP_DigestFinal_ex(md, digest, &dlen);
	for (unsigned int i = 0; i < dlen && i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", digest[i]);
	*stopped = tj_csv_events_stopped(p);
	return 0;
}

static int stage_file(PGconn *conn, FILE *f, const char *path, char sha[static 65],
		      bool *stopped, long *ok_rows, tj_err *err)
{
	struct stage st = { .conn = conn };
	PGresult *res;
	int r;

	if ((r = tj_pq_cmd(conn, create_stage, err)) < 0)
		return r;
	res = PQexecParams(conn, copy_stage, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		r = tj_fail(err, TJ_EDB, "staging the events: %s", PQerrorMessage(conn));
		PQclear(res);
		return r;
	}
	PQclear(res);
	tj_buf_init(&st.copy);
	r = stream_file(&st, f, path, sha, stopped, err);
	tj_buf_free(&st.copy);
	if (r < 0) {
		copy_end(conn, "import abandoned", NULL);
		return r;
	}
	*ok_rows = st.ok_rows;
	return copy_end(conn, NULL, err);
}

/* 1 with out filled when this grant has a batch with the same bytes. */
static int find_batch(PGconn *conn, const char *key, const char *sha,
		      struct tj_import_result *out, tj_err *err)
{
	const char *params[] = { key, sha };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(conn, "looking for an earlier import",
		  "SELECT batch_id, row_count, traject.iso_utc(recorded_at)"
		  " FROM traject.import_batches WHERE grant_key = $1 AND sha256 = $2",
		  2, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		return 0;
	out->batch_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	out->events = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	out->trajectories = 0;
	snprintf(out->recorded_at, sizeof out->recorded_at, "%s", PQgetvalue(res, 0, 2));
	return TJ_IMPORT_ALREADY;
}

/* Count of problems (0 when clean); diags gets the first diags->limit. */
static int check_rows(PGconn *conn, const char *key, const char *path, bool stopped,
		      tj_diags *diags, long *total, tj_err *err)
{
	char limit[24];
	const char *params[] = { key, stopped ? "t" : "f", limit };
	TJ_AUTORES PGresult *res = NULL;
	TJ_AUTOBUF tj_buf sql = { 0 };
	int r;

	for (size_t i = 0; i < TJ_ARRAY_SIZE(check_sql); i++)
		tj_buf_puts(&sql, check_sql[i]);
	if (sql.oom)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	snprintf(limit, sizeof limit, "%zu", diags->limit ? diags->limit : 200);
	if ((r = tj_pq(conn, "checking the events", sql.data, 3, params, &res, err)) < 0)
		return r;
	*total = PQntuples(res) ? strtol(PQgetvalue(res, 0, 2), NULL, 10) : 0;
	for (int i = 0; i < PQntuples(res); i++)
		if (tj_diags_add(diags, "%s:%s: %s", path, PQgetvalue(res, i, 0),
				 PQgetvalue(res, i, 1)) < 0)
			return tj_fail(err, TJ_ENOMEM, "out of memory");
	diags->total = (size_t)*total;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

static int store(PGconn *conn, const char *key, const char *now, const char *path,
		 const char *sha, long ok_rows, struct tj_import_result *out, tj_err *err)
{
	char rows[24];
	const char *bparams[] = { key, base_name(path), sha, rows, now };
	const char *eparams[3] = { key, NULL, now };
	TJ_AUTORES PGresult *batch = NULL;
	TJ_AUTORES PGresult *count = NULL;
	int r;

	snprintf(rows, sizeof rows, "%ld", ok_rows);
	/*
	 * New references in order of first appearance; and how many the file
	 * has. A plain anti join, not ON CONFLICT (whose speculative insertion
	 * costs twice per row): the grant's row lock keeps every other writer of
	 * this grant out until we commit, and the unique key still stands guard.
	 */
	r = tj_pq(conn, "storing the trajectories",
		  "WITH refs AS (SELECT ref, min(line) AS first FROM pg_temp.import_rows"
		  "  WHERE ok GROUP BY ref),"
		  " added AS (INSERT INTO traject.trajectories (grant_key, ref)"
		  "  SELECT $1::bigint, r.ref FROM refs r"
		  "  WHERE NOT EXISTS (SELECT 1 FROM traject.trajectories t"
		  "   WHERE t.grant_key = $1 AND t.ref = r.ref)"
		  "  ORDER BY r.first)"
		  " SELECT count(*) FROM refs",
		  1, bparams, &count, err);
	if (r < 0)
		return r;
	r = tj_pq(conn, "storing the import batch",
		  "INSERT INTO traject.import_batches"
		  " (grant_key, file_name, sha256, row_count, recorded_at)"
		  " VALUES ($1, $2, $3, $4, $5) RETURNING batch_id, traject.iso_utc(recorded_at)",
		  5, bparams, &batch, err);
	if (r < 0)
		return r;
	eparams[1] = PQgetvalue(batch, 0, 0);
	r = tj_pq(conn, "storing the events",
		  "INSERT INTO traject.events (grant_key, traj_key, batch_id, line, event_date,"
		  "  kind, value, amount, recorded_at)"
		  " SELECT $1, t.traj_key, $2, s.line, s.event_date, s.kind, s.value, s.amount, $3"
		  " FROM pg_temp.import_rows s"
		  " JOIN traject.trajectories t ON t.grant_key = $1 AND t.ref = s.ref"
		  " WHERE s.ok ORDER BY s.line",
		  3, eparams, NULL, err);
	if (r < 0)
		return r;
	out->batch_id = strtoll(PQgetvalue(batch, 0, 0), NULL, 10);
	out->events = ok_rows;
	out->trajectories = strtol(PQgetvalue(count, 0, 0), NULL, 10);
	snprintf(out->recorded_at, sizeof out->recorded_at, "%s", PQgetvalue(batch, 0, 1));
	return 0;
}

/* A hot standby refuses every write; say so before the server's words would. */
static int refuse_standby(PGconn *conn, const char *path, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int r = tj_pq(conn, "asking whether the database is a standby",
		      "SELECT pg_is_in_recovery()", 0, NULL, &res, err);

	if (r < 0)
		return r;
	if (!strcmp(PQgetvalue(res, 0, 0), "t"))
		return tj_fail(err, TJ_ECONFLICT,
			       "%s: this database is a read-only standby (in recovery): import "
			       "into the primary instead (--db or [database] conninfo); nothing "
			       "was stored",
			       path);
	return 0;
}

int tj_import_file(PGconn *conn, const char *grant_id, const char *path,
		   struct tj_import_result *out, tj_diags *diags, tj_err *err)
{
	TJ_AUTOFILE FILE *f = fopen(path, "rb");
	char key[24], now[64], sha[65] = "";
	struct tj_import_result res = { 0 };
	bool stopped = false;
	long ok_rows = 0, problems = 0;
	int r;

	/* the base name is stored (import_batches.file_name): no BSN there either */
	if (tj_contains_bsn(base_name(path)))
		return tj_fail(err, TJ_EINVAL,
			       "the file name holds nine digits that pass the BSN eleven-test and "
			       "would be stored with the import: rename the file (a possible "
			       "citizen service number is never stored); nothing was stored");
	if (!f)
		return tj_fail(err, TJ_EIO, "%s: cannot open: %s (check the path)", path,
			       strerror(errno));
	if ((r = refuse_standby(conn, path, err)) < 0 ||
	    (r = tj_register_begin(conn, grant_id, key, now, err)) < 0)
		return r;
	/*
	 * The checks and the inserts sort and hash the whole file: with the
	 * default 4 MB a million rows spill to disk several times, and even at
	 * 64 MB the line-ordered events INSERT sorts a million rows on disk
	 * (54 MB, a fifth of the import's time; docs/performance.md). A cap,
	 * not an allocation: a week's file of a few thousand rows uses a few
	 * MB. This is the server's memory for this one transaction, not the
	 * client's.
	 */
	if ((r = tj_pq_cmd(conn, "SET LOCAL work_mem = '256MB'", err)) < 0)
		goto fail;
	if ((r = stage_file(conn, f, path, sha, &stopped, &ok_rows, err)) < 0)
		goto fail;
	if ((r = find_batch(conn, key, sha, &res, err)) != 0)
		goto fail;
	if ((r = tj_pq_cmd(conn, "ANALYZE pg_temp.import_rows", err)) < 0 ||
	    (r = check_rows(conn, key, path, stopped, diags, &problems, err)) < 0)
		goto fail;
	if (problems) {
		r = tj_fail(err, TJ_EINVAL, "%s: refused, nothing stored (%ld problem%s)", path,
			    problems, problems == 1 ? "" : "s");
		goto fail;
	}
	if ((r = store(conn, key, now, path, sha, ok_rows, &res, err)) < 0 ||
	    (r = tj_pq_cmd(conn, "COMMIT", err)) < 0)
		goto fail;
	*out = res;
	return 0;
fail:
	tj_pq_rollback(conn);
	if (r == TJ_IMPORT_ALREADY)
		*out = res;
	return r;
}
