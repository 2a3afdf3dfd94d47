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

/* Add "NAME: PTR: message" (PTR empty: "NAME: message"). */
void gv_problem(struct gv *v, const char *ptr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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
