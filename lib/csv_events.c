/*
 * The events CSV push parser: bytes in, checked records out, no database.
 *
 * RFC 4180 parsing is libcsv's (strict mode). Around it this file adds what
 * the case system's files need: physical line numbers (the input is cut
 * into lines before libcsv sees it, so every record is named by the line it
 * starts on even when a quoted field holds a newline), a UTF-8 check per
 * line, a tolerated BOM, CR only as part of CRLF, empty lines only at the
 * end, a bounded record size (the parser never holds more than one record),
 * the exact header, and every row-local rule of formats.md. Cross-row rules
 * need the stored register and live in lib/import.c.
 */
#include <csv.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traject/import.h"
#include "traject/value.h"
#include "util.h"

#define NCOLS 4
#define MAX_LINES 2000000000L /* line numbers are integer in SQL */
/* libcsv's state between records (csv.h exposes pstate; 0 is ROW_NOT_BEGUN). */
#define CSV_ROW_NOT_BEGUN 0

static const char *const columns[NCOLS] = { "trajectory", "date", "event", "value" };

enum value_rule { V_EMPTY, V_REF, V_CHILDREN, V_WORD, V_COST };

static const char *const assessed_words[] = { "needs_indication", "no_indication", NULL };
static const char *const escalated_words[] = { "residential", "foster_care", "day_treatment",
					       "other", NULL };
static const char *const closed_words[] = { "goals_reached", "referred", "dropped_out", "moved",
					    "other", NULL };

/* formats.md's table of events and their values. */
static const struct event_def {
	const char *name;
	enum value_rule rule;
	const char *const *words; /* V_WORD */
	const char *word_list;    /* V_WORD, for messages */
} event_defs[] = {
	{ "registered", V_EMPTY, NULL, NULL },
	{ "coordinator", V_REF, NULL, NULL },
	{ "children", V_CHILDREN, NULL, NULL },
	{ "assessed", V_WORD, assessed_words, "needs_indication, no_indication" },
	{ "plan", V_EMPTY, NULL, NULL },
	{ "help_started", V_EMPTY, NULL, NULL },
	{ "indication_requested", V_EMPTY, NULL, NULL },
	{ "escalated", V_WORD, escalated_words, "residential, foster_care, day_treatment, other" },
	{ "cost", V_COST, NULL, NULL },
	{ "closed", V_WORD, closed_words, "goals_reached, referred, dropped_out, moved, other" },
};
#define EVENT_LIST                                                                              \
	"registered, coordinator, children, assessed, plan, help_started, indication_requested, " \
	"escalated, cost, closed"

struct tj_csv_events {
	struct csv_parser csv;
	const struct tj_csv_events_cb *cb;
	void *ctx;
	tj_err *err;        /* the caller's, while feed/finish run */
	int cb_rc;          /* first failure inside a libcsv callback */
	tj_buf line;        /* a physical line split over two feeds */
	long lineno;        /* the physical line being read, from 1 */
	long empty_first;   /* empty lines not (yet) known to be at the end */
	long empty_count;
	/* the record being parsed */
	long rec_line;
	size_t rec_bytes;
	bool rec_bad_utf8;
	size_t nfields;
	size_t off[NCOLS];
	tj_buf fields; /* its first NCOLS fields, each NUL-terminated */
	bool header_seen, stopped;
	long rows, problems;
};

static int no_space(unsigned char c)
{
	/* Take fields byte for byte: "T-1 " is not "T-1". */
	(void)c;
	return 0;
}

static int problem(struct tj_csv_events *p, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int problem(struct tj_csv_events *p, long line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int r = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	p->problems++;
	if (p->cb->problem)
		r = p->cb->problem(p->ctx, line, msg, p->err);
	if (r < 0 && !p->cb_rc)
		p->cb_rc = r;
	return r;
}

/* A problem after which nothing later can be checked meaningfully. */
#define stop(p, line, ...) ((p)->stopped = true, problem((p), (line), __VA_ARGS__))

/*
 * A field quoted for a message: at most 40 bytes, cut on a character
 * boundary, control characters shown as '?'. Only called for valid UTF-8.
 */
static const char *show(char out[static 64], const char *s)
{
	size_t n = strlen(s), k = n > 40 ? 40 : n, j = 0;

	while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	/* never cut inside a run of digits: its first nine could pass the BSN
	 * test although the whole run does not (a fuzzer found this) */
	if (k < n && s[k] >= '0' && s[k] <= '9')
		while (k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9')
			k--;
	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];

		out[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (k < n) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
	return out;
}

/* Offset of the first byte that is not strict UTF-8 (RFC 3629), or n. NUL is refused. */
static size_t utf8_bad_at(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i], lo = 0x80, hi = 0xBF;
		size_t need;

		if (c >= 0x01 && c <= 0x7F) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c == 0xE0)
			need = 2, lo = 0xA0; /* no overlong forms */
		else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
			need = 2;
		else if (c == 0xED)
			need = 2, hi = 0x9F; /* no surrogates */
		else if (c == 0xF0)
			need = 3, lo = 0x90;
		else if (c >= 0xF1 && c <= 0xF3)
			need = 3;
		else if (c == 0xF4)
			need = 3, hi = 0x8F; /* nothing above U+10FFFF */
		else
			return i;
		if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
		i += need + 1;
	}
	return n;
}

static const struct event_def *find_event(const char *name)
{
	for (size_t i = 0; i < TJ_ARRAY_SIZE(event_defs); i++)
		if (!strcmp(event_defs[i].name, name))
			return &event_defs[i];
	return NULL;
}

static bool word_in(const char *const *words, const char *s)
{
	for (; *words; words++)
		if (!strcmp(*words, s))
			return true;
	return false;
}

/* 1 to 20, no sign, no leading zero. */
static bool children_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 1)
		return s[0] >= '1' && s[0] <= '9';
	if (n == 2)
		return (s[0] == '1' && s[1] >= '0' && s[1] <= '9') || (s[0] == '2' && s[1] == '0');
	return false;
}

/* The value column of a known event; fills row on success. */
static bool check_value(struct tj_csv_events *p, const struct event_def *ev, const char *v,
			struct tj_csv_row *row)
{
	char shown[64];
	int64_t cents = 0;

	switch (ev->rule) {
	case V_EMPTY:
		if (!*v)
			return true;
		problem(p, p->rec_line,
			"TJ014 a %s event has no value, found '%s' (leave the value column empty)",
			ev->name, show(shown, v));
		return false;
	case V_REF:
		if (tj_ref_valid(v)) {
			row->value = v;
			return true;
		}
		problem(p, p->rec_line,
			"TJ014 coordinator '%s' is not 1 to 64 of A-Z a-z 0-9 . _ - (give the "
			"coordinator's pseudonymous reference)",
			show(shown, v));
		return false;
	case V_CHILDREN:
		if (children_valid(v)) {
			row->value = v;
			return true;
		}
		problem(p, p->rec_line,
			"TJ014 children '%s' is not a whole number from 1 to 20 (write the number of "
			"children without sign or leading zeros)",
			show(shown, v));
		return false;
	case V_WORD:
		if (word_in(ev->words, v)) {
			row->value = v;
			return true;
		}
		problem(p, p->rec_line, "TJ014 %s value '%s' is not known (use one of: %s)", ev->name,
			show(shown, v), ev->word_list);
		return false;
	case V_COST:
		if (tj_money_parse(v, &cents) == 0 && cents > 0) {
			row->cents = cents;
			return true;
		}
		problem(p, p->rec_line,
			"TJ014 cost '%s' is not an amount greater than 0 with at most 2 decimals "
			"(write e.g. 1234.50, without sign or thousands separators)",
			show(shown, v));
		return false;
	}
	return false;
}

static int deliver(struct tj_csv_events *p, const struct tj_csv_row *row)
{
	int r = p->cb->row ? p->cb->row(p->ctx, row, p->err) : 0;

	if (r < 0 && !p->cb_rc)
		p->cb_rc = r;
	return r;
}

static void check_header(struct tj_csv_events *p)
{
	const char *f = p->fields.data;
	bool ok = p->nfields == NCOLS && !p->rec_bad_utf8;

	for (size_t i = 0; ok && i < NCOLS; i++)
		ok = !strcmp(f + p->off[i], columns[i]);
	p->header_seen = true;
	if (!ok)
		stop(p, p->rec_line,
		     "TJ001 the first line must be the header trajectory,date,event,value (export "
		     "exactly these four columns, in this order)");
}

/* One complete record from libcsv. */
static void on_record(struct tj_csv_events *p)
{
	struct tj_csv_row row = { .line = p->rec_line };
	const char *f[NCOLS] = { "", "", "", "" };
	const struct event_def *ev = NULL;
	char shown[64];
	bool ok = true;

	if (!p->header_seen) {
		check_header(p);
		return;
	}
	p->rows++;
	for (size_t i = 0; i < NCOLS && i < p->nfields; i++)
		f[i] = p->fields.data + p->off[i];
	/* A bad row still names its trajectory, so that the cross-row rules skip it. */
	if (p->nfields >= 1 && tj_ref_valid(f[0]) && !tj_contains_bsn(f[0]))
		row.trajectory = f[0];
	if (p->rec_bad_utf8) {
		deliver(p, &row);
		return;
	}
	if (p->nfields != NCOLS) {
		problem(p, p->rec_line,
			"TJ002 %zu column%s, expected 4: trajectory,date,event,value (quote a value "
			"that contains a comma)",
			p->nfields, p->nfields == 1 ? "" : "s");
		deliver(p, &row);
		return;
	}
	for (size_t i = 0; i < NCOLS; i++) {
		if (!tj_contains_bsn(f[i]))
			continue;
		problem(p, p->rec_line,
			"TJ011 the %s column holds nine digits that pass the BSN eleven-test: a "
			"possible citizen service number (use pseudonymous references only; never "
			"export a BSN)",
			columns[i]);
		ok = false;
	}
	if (!tj_contains_bsn(f[0]) && !tj_ref_valid(f[0])) {
		problem(p, p->rec_line,
			"TJ010 trajectory reference '%s' is not 1 to 64 of A-Z a-z 0-9 . _ - (use the "
			"case system's pseudonymous reference)",
			show(shown, f[0]));
		ok = false;
	}
	if (!tj_contains_bsn(f[1]) && tj_date_parse(f[1], &row.days) < 0) {
		problem(p, p->rec_line,
			"TJ012 date '%s' is not a real date written YYYY-MM-DD (write e.g. 2011-06-01)",
			show(shown, f[1]));
		ok = false;
	}
	if (!tj_contains_bsn(f[2]) && !(ev = find_event(f[2]))) {
		problem(p, p->rec_line, "TJ013 unknown event '%s' (use one of: " EVENT_LIST ")",
			show(shown, f[2]));
		ok = false;
	}
	if (ev && !tj_contains_bsn(f[3]) && !check_value(p, ev, f[3], &row))
		ok = false;
	if (ok && ev) {
		row.ok = true;
		row.date = f[1];
		row.event = ev->name;
	} else {
		row.value = NULL;
		row.cents = 0;
		row.days = 0;
	}
	deliver(p, &row);
}

static void on_field(void *data, size_t len, void *vp)
{
	struct tj_csv_events *p = vp;

	if (p->cb_rc || p->stopped)
		return;
	if (p->nfields < NCOLS) {
		p->off[p->nfields] = p->fields.len;
		if (tj_buf_append(&p->fields, data, len) < 0 || tj_buf_append(&p->fields, "", 1) < 0) {
			p->cb_rc = tj_fail(p->err, TJ_ENOMEM, "out of memory parsing the CSV file");
			return;
		}
	}
	p->nfields++;
}

static void on_row_end(int c, void *vp)
{
	struct tj_csv_events *p = vp;

	(void)c;
	if (p->cb_rc || p->stopped)
		return;
	on_record(p);
	p->nfields = 0;
	p->fields.len = 0;
	p->rec_bad_utf8 = false;
}

static int flush_empty_lines(struct tj_csv_events *p)
{
	for (long i = 0; i < p->empty_count; i++)
		if (problem(p, p->empty_first + i,
			    "TJ005 empty line (remove it: only the end of the file may have empty "
			    "lines)") < 0)
			return p->cb_rc;
	p->empty_count = 0;
	return 0;
}

/* A csv_parse that stopped early: strict-mode syntax error or memory. */
static int csv_failed(struct tj_csv_events *p)
{
	if (csv_error(&p->csv) == CSV_EPARSE) {
		stop(p, p->lineno,
		     "TJ004 a quote in the wrong place (put a whole field in \"...\" and double "
		     "any quote inside it)");
		return p->cb_rc;
	}
	return tj_fail(p->err, TJ_ENOMEM, "out of memory parsing the CSV file");
}

/* One whole physical line, with its '\n' when has_nl. */
static int one_line(struct tj_csv_events *p, const char *s, size_t len, bool has_nl)
{
	size_t n = len - (has_nl ? 1 : 0), bad;

	if (has_nl && n > 0 && s[n - 1] == '\r')
		n--;
	if (p->lineno == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
		s += 3;
		len -= 3;
		n -= 3;
	}
	if (p->lineno > MAX_LINES)
		return stop(p, p->lineno, "TJ004 more than %ld lines (split the file)", MAX_LINES);
	if (memchr(s, '\r', n))
		return stop(p, p->lineno,
			    "TJ004 a carriage return that does not end the line (end lines with "
			    "CRLF or LF)");
	if (p->csv.pstate == CSV_ROW_NOT_BEGUN) {
		if (n == 0) {
			if (p->empty_count++ == 0)
				p->empty_first = p->lineno;
			p->lineno++;
			return 0;
		}
		if (p->empty_count && flush_empty_lines(p) < 0)
			return p->cb_rc;
		p->rec_line = p->lineno;
		p->rec_bytes = 0;
		p->rec_bad_utf8 = false;
	}
	if ((bad = utf8_bad_at((const unsigned char *)s, n)) < n) {
		p->rec_bad_utf8 = true;
		if (problem(p, p->lineno,
			    "TJ003 not valid UTF-8 at byte %zu of the line (export the file as "
			    "UTF-8)",
			    bad + 1) < 0)
			return p->cb_rc;
	}
	p->rec_bytes += len;
	if (p->rec_bytes > TJ_CSV_MAX_RECORD)
		return stop(p, p->rec_line,
			    "TJ004 record longer than %d bytes (is a quote not closed?)",
			    TJ_CSV_MAX_RECORD);
	if (csv_parse(&p->csv, s, len, on_field, on_row_end, p) < len && !p->cb_rc)
		return csv_failed(p);
	if (has_nl)
		p->lineno++;
	return p->cb_rc;
}

int tj_csv_events_new(tj_csv_events **out, const struct tj_csv_events_cb *cb, void *ctx,
		      tj_err *err)
{
	struct tj_csv_events *p = calloc(1, sizeof *p);

	if (!p)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	if (csv_init(&p->csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
		free(p);
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	}
	csv_set_space_func(&p->csv, no_space);
	csv_set_blk_size(&p->csv, 1024);
	p->cb = cb;
	p->ctx = ctx;
	p->lineno = 1;
	tj_buf_init(&p->line);
	tj_buf_init(&p->fields);
	*out = p;
	return 0;
}

int tj_csv_events_feed(tj_csv_events *p, const void *data, size_t len, tj_err *err)
{
	const char *s = data, *end = s + len;
	int r = 0;

	p->err = err;
	while (s < end && !p->stopped && r >= 0) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t seg = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);

		if (p->line.len + seg > TJ_CSV_MAX_RECORD + 3) {
			r = stop(p, p->lineno, "TJ004 line longer than %d bytes (is this an events file?)",
				 TJ_CSV_MAX_RECORD);
			break;
		}
		if (!nl || p->line.len) {
			if (tj_buf_append(&p->line, s, seg) < 0)
				return tj_fail(err, TJ_ENOMEM, "out of memory reading the CSV file");
		}
		if (nl) {
			if (p->line.len) {
				r = one_line(p, p->line.data, p->line.len, true);
				p->line.len = 0;
			} else {
				r = one_line(p, s, seg, true);
			}
		}
		s += seg;
	}
	p->err = NULL;
	return r < 0 ? r : p->cb_rc;
}

int tj_csv_events_finish(tj_csv_events *p, tj_err *err)
{
	int r = 0;

	p->err = err;
	if (!p->stopped && p->line.len) {
		r = one_line(p, p->line.data, p->line.len, false);
		p->line.len = 0;
	}
	if (r >= 0 && !p->stopped && csv_fini(&p->csv, on_field, on_row_end, p) != 0)
		r = stop(p, p->rec_line,
			 "TJ004 a quoted field opened on this line is never closed (close the "
			 "quote, and double any quote inside a value)");
	if (r >= 0 && !p->cb_rc && !p->stopped && !p->header_seen)
		r = stop(p, 1,
			 "TJ001 the file is empty: the first line must be the header "
			 "trajectory,date,event,value (export the events with their header)");
	p->err = NULL;
	return r < 0 ? r : p->cb_rc;
}

void tj_csv_events_free(tj_csv_events *p)
{
	if (!p)
		return;
	csv_free(&p->csv);
	tj_buf_free(&p->line);
	tj_buf_free(&p->fields);
	free(p);
}

long tj_csv_events_rows(const tj_csv_events *p)
{
	return p->rows;
}

long tj_csv_events_problems(const tj_csv_events *p)
{
	return p->problems;
}

bool tj_csv_events_stopped(const tj_csv_events *p)
{
	return p->stopped;
}
