/*
 * Internals of the grant decision validator (grant_parse.c, grant_items.c,
 * grant_check.c): a validation context that collects located problems,
 * JSON pointer building, and one checker per kind of field. A checker
 * either stores a valid value and returns true, or adds one problem and
 * returns false; the caller never stops at the first problem.
 */
#ifndef TJ_GRANT_PRIVATE_H
#define TJ_GRANT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "traject/error.h"
#include "traject/grant.h"

/* Longest JSON pointer kept in a message; longer ones end in "...". */
#define GV_PTR_MAX 256

struct gv {
	const char *name; /* the file name every message starts with */
	tj_diags *d;
	int rc; /* TJ_ENOMEM once an allocation failed, else 0 */
};

/*
 * The rule codes of docs/grants.md ("Rule codes"): one per rule, stable,
 * printed as TJ1xx. A new rule gets a new number; a number is never reused.
 */
enum gv_code {
	GV_SYNTAX = 100,         /* JSON syntax, NUL byte, invalid UTF-8 */
	GV_EMPTY_FILE = 101,     /* nothing but white space */
	GV_TOO_LARGE = 102,      /* over 16 MiB */
	GV_NOT_OBJECT = 103,     /* the top level is not an object */
	GV_MISSING = 110,        /* a required key is absent */
	GV_UNKNOWN_KEY = 111,    /* a key the object does not have */
	GV_TYPE = 112,           /* the wrong JSON type */
	GV_NUL = 113,            /* \u0000 in a string */
	GV_BAD_ID = 120,         /* not a reference */
	GV_ID_BSN = 121,         /* an id that may be a BSN */
	GV_TEXT_BSN = 122,       /* text holding a possible BSN */
	GV_BLANK = 123,          /* blank text */
	GV_DATE = 130,           /* not a real date YYYY-MM-DD */
	GV_PERIOD = 131,         /* period.end before period.start */
	GV_CURRENCY = 140,       /* not 3 upper-case letters */
	GV_MONEY_NUMBER = 141,   /* money written as a JSON number */
	GV_MONEY = 142,          /* not a money string */
	GV_PER_TRAJECTORY = 143, /* the default per trajectory is not whole cents */
	GV_RANGE = 150,          /* a number out of its range */
	GV_WHOLE = 151,          /* a count that is not a whole number */
	GV_NUMBER_TEXT = 152,    /* not an RFC 8259 number (NaN, 1.) */
	GV_INDICATOR = 160,      /* not a scalar indicator */
	GV_OP = 161,             /* not a comparison */
	GV_TARGET_MONEY = 162,   /* a money indicator's target as a JSON number */
	GV_TARGET_NUMBER = 163,  /* another indicator's target as a string */
	GV_DUPLICATE = 170,      /* an obligation or report id used twice */
	GV_KIND = 171,           /* not a kind of report */
	GV_REPORT_DUE = 172,     /* a report's due before its as_of */
	GV_DETERMINATION = 173,  /* a second determination report */
	GV_NO_REPORTS = 174,     /* an empty calendar */
};

/* Add "NAME: PTR: TJnnn message" (PTR empty: "NAME: TJnnn message"). */
void gv_problem(struct gv *v, const char *ptr, enum gv_code code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* strdup that records an allocation failure in v. */
char *gv_strdup(struct gv *v, const char *s);

/* out = base + "/" + key (RFC 6901 escaping of ~ and /) or + "/" + index. */
void gv_ptr_key(char out[static GV_PTR_MAX], const char *base, const char *key);
void gv_ptr_index(char out[static GV_PTR_MAX], const char *base, size_t index);

/*
 * A short printable rendering of a value for a message: control
 * characters become '?', long values are cut, and a value that may hold
 * a BSN is not repeated at all.
 */
const char *gv_show(const char *s, char buf[static 96]);

/* One key an object may have. */
struct gv_key {
	const char *name;
	bool required;
	const char *missing; /* what to add when it is missing */
};

/* Called for each known key of an object, in document order. */
typedef void gv_field_fn(struct gv *v, size_t key, const char *ptr, json_object *val, void *ctx);

/*
 * Walk an object: refuse unknown keys (naming the known ones), call fn for
 * each known key, then report each required key that is missing.
 */
void gv_object(struct gv *v, const char *ptr, json_object *obj, const struct gv_key *keys,
	       size_t nkeys, gv_field_fn *fn, void *ctx);

/* The name of a JSON type for "must be X, not Y" messages. */
const char *gv_type_name(json_object *val);

/* Field checkers: true and *out set, or false and one problem added. */
bool gv_is_object(struct gv *v, const char *ptr, json_object *val, const char *what);
bool gv_is_array(struct gv *v, const char *ptr, json_object *val, const char *what);
bool gv_string(struct gv *v, const char *ptr, json_object *val, const char **out);
bool gv_text(struct gv *v, const char *ptr, json_object *val, char **out);
bool gv_ref(struct gv *v, const char *ptr, json_object *val, char **out);
bool gv_date(struct gv *v, const char *ptr, json_object *val, int32_t *out);
bool gv_money(struct gv *v, const char *ptr, json_object *val, bool allow_negative,
	      int64_t *out);
/* A JSON number within [min, max] (range: "from 0 to 1"); *text its digits. */
bool gv_number(struct gv *v, const char *ptr, json_object *val, double min, double max,
	       const char *range, char **text);

/* Obligations and the calendar (grant_items.c). */
void gv_obligations(struct gv *v, const char *ptr, json_object *val, tj_grant *g);
void gv_reports(struct gv *v, const char *ptr, json_object *val, tj_grant *g);

#endif
