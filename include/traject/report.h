/*
 * Reports (indicators.md, formats.md "Reports"): one report model computed
 * from the register at a reference date C and a knowledge time K, and
 * three writers over it: JSON (json-c), XML (libxml2, valid against
 * reports/trajectd-report-2.xsd) and HTML (the XML turned into one
 * readable page by the XSLT stylesheet reports/trajectd-report-html.xsl).
 * The numbers are computed by the SQL functions of sql/002_indicators.sql;
 * docs/indicators.md explains them, docs/reports.md the determination
 * request, the public version and the HTML.
 *
 * The model is a small tree of named nodes whose scalar values are exact
 * text in their canonical spelling (counts "12", decimals "0.5", money
 * "12345.60", dates "2011-09-30", timestamps "2011-10-12T06:00:00Z"); no
 * number ever passes through a double. Both writers walk the same tree, so
 * the two formats carry the same content in the same order by
 * construction. The same grant, C and K give byte-identical documents.
 *
 * The public version (tj_report_make_public) is the same model with every
 * trajectory reference, the settlement lines and the explanations taken
 * out, and every count from 1 to threshold - 1 (and whatever would let one
 * be worked out) replaced by a suppression marker (TJ_R_SUPPRESSED).
 */
#ifndef TRAJECT_REPORT_H
#define TRAJECT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema a document follows: JSON "schema" and the XML namespace. */
#define TJ_REPORT_SCHEMA "trajectd-report/2"
#define TJ_REPORT_XMLNS "urn:trajectd:report:2"
#define TJ_REPORT_SCHEMA_VERSION "2"

/* The default and the bounds of the public version's threshold. */
#define TJ_SUPPRESS_DEFAULT 5
#define TJ_SUPPRESS_MIN 3
#define TJ_SUPPRESS_MAX 100

enum tj_report_kind {
	TJ_REPORT_PROGRESS = 0,
	TJ_REPORT_DETERMINATION = 1,
};

/* What to compute. Exactly one of as_of and report_id is set. */
struct tj_report_req {
	const char *grant_id;
	const char *as_of;     /* YYYY-MM-DD: an ad-hoc report of `kind`, id and due null */
	const char *report_id; /* an entry of the grant's calendar (as known at K) */
	const char *known_at;  /* ISO 8601 with a zone; NULL: the moment of computing */
	enum tj_report_kind kind; /* for as_of only; a calendar entry has its own kind */
	bool forecast;         /* also compute the "forecast" section (trajectctl status);
				  documents never carry it */
};

/* How a node's value is spelled; every scalar may be null (text NULL). */
enum tj_rtype {
	TJ_R_OBJECT,    /* named children; JSON object, XML element */
	TJ_R_LIST,      /* children named by their item element (XML) */
	TJ_R_STRING,    /* JSON string */
	TJ_R_DATE,      /* YYYY-MM-DD, JSON string */
	TJ_R_TIMESTAMP, /* YYYY-MM-DDTHH:MM:SS[.ffffff]Z, JSON string */
	TJ_R_INTEGER,   /* optional '-' and digits, JSON number */
	TJ_R_DECIMAL,   /* exact decimal without trailing zeros, JSON number */
	TJ_R_MONEY,     /* exact decimal with 2 decimals, JSON string */
	TJ_R_BOOL,      /* "true" / "false", JSON boolean */
	TJ_R_SUPPRESSED, /* public version: "<N" (a count from 1 to N - 1) or "x"
			    (withheld), JSON string */
};

struct tj_rnode {
	const char *name; /* JSON key and XML element name (static text) */
	enum tj_rtype type;
	char *text;       /* scalars: the value, NULL for null */
	struct tj_rnode **kids;
	size_t nkids, cap;
};

struct tj_report; /* opaque; read it with the accessors below */

/*
 * Compute a report. Runs its own transaction on conn (which must not be in
 * one): it takes the grant's exclusive advisory lock (docs/design.md)
 * before it fixes K, so every write recorded at or before K has committed,
 * and reads everything in one REPEATABLE READ snapshot. A K later than
 * the database clock is refused: that report could still change.
 * Errors: TJ_ENOTFOUND (no such grant, grant not yet known at K, no such
 * calendar entry: the message lists the grant's report ids), TJ_EINVAL
 * (malformed request), TJ_EDB, TJ_ENOMEM. *out is written only on success.
 */
int tj_report_compute(PGconn *conn, const struct tj_report_req *req, struct tj_report **out,
		      tj_err *err);

/*
 * Compute n reports of one grant together: one transaction, one knowledge
 * time K, and one reading of the grant's events for all of them (the
 * daemon generates a grant's due reports this way). Every reqs[i] names
 * the same grant_id and the same known_at (both NULL or equal); each is
 * otherwise as for tj_report_compute, whose errors apply. On success out[i]
 * receives the report of reqs[i] (the caller frees each); on failure
 * nothing is written to out.
 */
int tj_report_compute_many(PGconn *conn, const struct tj_report_req *reqs, size_t n,
			   struct tj_report **out, tj_err *err);
void tj_report_free(struct tj_report *r);

/* The root node; its children are grant, report, indicators, [baseline],
 * obligations, series, [determination], [forecast], in that order. */
const struct tj_rnode *tj_report_root(const struct tj_report *r);

/*
 * The node at a '/'-separated path of names from the root, e.g.
 * "indicators/data_quality/no_plan" or "report/known_at"; NULL if absent.
 */
const struct tj_rnode *tj_report_find(const struct tj_report *r, const char *path);

/* The child of n named name, or NULL. */
const struct tj_rnode *tj_rnode_child(const struct tj_rnode *n, const char *name);

/*
 * Set report.version (the stored version of this document; null until
 * set, as for a document that is not stored). version >= 1.
 */
int tj_report_set_version(struct tj_report *r, int version, tj_err *err);

/*
 * Write the report as JSON (pretty, 2-space indent, trailing newline) or
 * XML (UTF-8, 2-space indent, trailing newline) to out, and flush it.
 * Returns 0, or TJ_EIO (a write or the flush failed), TJ_ENOMEM, or
 * TJ_EINVAL (a value not spelled as its type requires). out stays open;
 * after a failure it may hold part of a document.
 */
int tj_report_write_json(const struct tj_report *r, FILE *out, tj_err *err);
int tj_report_write_xml(const struct tj_report *r, FILE *out, tj_err *err);

/* The languages of the HTML rendering. */
enum tj_report_lang {
	TJ_LANG_NL = 0, /* the default */
	TJ_LANG_EN = 1,
};

/*
 * Write the report as one self-contained XHTML page (inline CSS and SVG,
 * no script, nothing loaded from elsewhere): the XML document of
 * tj_report_write_xml transformed by the stylesheet
 * reports/trajectd-report-html.xsl with the strings of
 * reports/trajectd-report-i18n.xml (both compiled into the library).
 * The stylesheet may read nothing else. Not thread-safe (libxslt's
 * document loader is process-wide). Errors as tj_report_write_xml.
 */
int tj_report_write_html(const struct tj_report *r, enum tj_report_lang lang, FILE *out,
			 tj_err *err);

/*
 * Turn a computed report into its public version, in place (docs/reports.md
 * "The public version"): report.public = true, report.suppress_below =
 * threshold; no settlement lines, no explanations; every count from 1 to
 * threshold - 1 becomes "<threshold", and every value from which such a
 * count could be worked out (totals, breakdowns, series points, rates,
 * money and obligation results derived from it) becomes "x".
 * threshold is TJ_SUPPRESS_MIN..TJ_SUPPRESS_MAX. Errors: TJ_EUSAGE (a bad
 * threshold, or a report that is already public), TJ_ENOMEM, TJ_EINVAL (a
 * value the rules need is missing or not a count).
 */
int tj_report_make_public(struct tj_report *r, int threshold, tj_err *err);

struct json_object;
/*
 * The json-c value of one node, as the JSON writer spells it (for
 * programs that embed part of a report in their own JSON, such as
 * trajectctl status). *out is owned by the caller (NULL is JSON null).
 */
int tj_rnode_json(const struct tj_rnode *n, struct json_object **out, tj_err *err);

/*
 * Today's date in zone (an IANA name such as Europe/Amsterdam) by the
 * database's clock, as YYYY-MM-DD. Errors: TJ_EDB (also for an unknown zone).
 */
int tj_report_today(PGconn *conn, const char *zone, char out[static 11], tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
