/*
 * Field checkers of the grant decision validator: each one looks at one
 * JSON value and either hands back a valid C value or adds one located
 * problem ("FILE: /pointer: TJ1xx what is wrong (what to do)"). Values are
 * repeated in messages only in a short, printable form, and never when
 * they may contain a BSN: messages end up in logs and terminals.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grant_private.h"
#include "traject/value.h"

void gv_problem(struct gv *v, const char *ptr, enum gv_code code, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n, r;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		v->rc = TJ_ENOMEM;
		v->d->total++; /* still counts as a problem */
		return;
	}
	if (ptr && *ptr)
		r = tj_diags_add(v->d, "%s: %s: TJ%d %s", v->name, ptr, (int)code, msg);
	else
		r = tj_diags_add(v->d, "%s: TJ%d %s", v->name, (int)code, msg);
	if (r < 0)
		v->rc = r;
	free(msg);
}

char *gv_strdup(struct gv *v, const char *s)
{
	char *p = strdup(s);

	if (!p)
		v->rc = TJ_ENOMEM;
	return p;
}

/* Append s to out (length *len), cutting with "..." at GV_PTR_MAX. */
static void ptr_append(char *out, size_t *len, const char *s, bool escape)
{
	for (; *s; s++) {
		const char *piece = NULL;
		char one[2] = { *s, '\0' };

		if (escape && *s == '~')
			piece = "~0";
		else if (escape && *s == '/')
			piece = "~1";
		else
			piece = one;
		if (*len + strlen(piece) + 4 >= GV_PTR_MAX) {
			memcpy(out + *len, "...", 4);
			*len += 3;
			return;
		}
		memcpy(out + *len, piece, strlen(piece) + 1);
		*len += strlen(piece);
	}
}

void gv_ptr_key(char out[static GV_PTR_MAX], const char *base, const char *key)
{
	size_t len = 0, elen = 0;
	char escaped[GV_PTR_MAX], printable[96];

	/*
	 * Escape first, then judge what is shown: "~" and "/" become "~0" and
	 * "~1", and that digit next to eight more is a possible BSN the raw
	 * key did not have (a fuzzer found this).
	 */
	escaped[0] = '\0';
	ptr_append(escaped, &elen, key, true);
	out[0] = '\0';
	ptr_append(out, &len, base, false);
	ptr_append(out, &len, "/", false);
	ptr_append(out, &len, gv_show(escaped, printable), false);
}

void gv_ptr_index(char out[static GV_PTR_MAX], const char *base, size_t index)
{
	size_t len = 0;
	char num[32];

	snprintf(num, sizeof num, "/%zu", index);
	out[0] = '\0';
	ptr_append(out, &len, base, false);
	ptr_append(out, &len, num, false);
}

const char *gv_show(const char *s, char buf[static 96])
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0, max = 60;

	if (tj_contains_bsn(s)) {
		snprintf(buf, 96, "(a value that may contain a BSN, not repeated here)");
		return buf;
	}
	for (; u[n]; n++) {
		if (n >= max) {
			/* do not cut a UTF-8 sequence in half */
			while (n > 0 && (u[n] & 0xC0) == 0x80)
				n--;
			/* nor a run of digits: its first nine could pass the BSN test
			 * although the whole run does not (a fuzzer found this) */
			if (u[n] >= '0' && u[n] <= '9')
				while (n > 0 && u[n - 1] >= '0' && u[n - 1] <= '9')
					n--;
			memcpy(buf + n, "...", 4);
			return buf;
		}
		buf[n] = (char)(u[n] < 0x20 || u[n] == 0x7f ? '?' : u[n]);
	}
	buf[n] = '\0';
	return buf;
}

const char *gv_type_name(json_object *val)
{
	switch (json_object_get_type(val)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "true/false";
	case json_type_double:
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "a list";
	case json_type_string:
		return "a string";
	}
	return "an unknown JSON value";
}

void gv_object(struct gv *v, const char *ptr, json_object *obj, const struct gv_key *keys,
	       size_t nkeys, gv_field_fn *fn, void *ctx)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	char known[512] = "", p[GV_PTR_MAX];
	size_t len = 0;

	for (size_t k = 0; k < nkeys; k++) {
		int n = snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "",
				 keys[k].name);

		if (n < 0 || (size_t)n >= sizeof known - len)
			break;
		len += (size_t)n;
	}
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		size_t k;

		for (k = 0; k < nkeys && strcmp(keys[k].name, key) != 0; k++)
			;
		gv_ptr_key(p, ptr, key);
		if (k == nkeys)
			gv_problem(v, p, GV_UNKNOWN_KEY, "unknown key (check its spelling; the keys here are %s)",
				   known);
		else
			fn(v, k, p, json_object_iter_peek_value(&it), ctx);
	}
	for (size_t k = 0; k < nkeys; k++) {
		if (!keys[k].required || json_object_object_get_ex(obj, keys[k].name, NULL))
			continue;
		gv_ptr_key(p, ptr, keys[k].name);
		gv_problem(v, p, GV_MISSING, "missing (add %s)", keys[k].missing);
	}
}

bool gv_is_object(struct gv *v, const char *ptr, json_object *val, const char *what)
{
	if (json_object_is_type(val, json_type_object))
		return true;
	gv_problem(v, ptr, GV_TYPE, "must be an object %s, not %s", what, gv_type_name(val));
	return false;
}

bool gv_is_array(struct gv *v, const char *ptr, json_object *val, const char *what)
{
	if (json_object_is_type(val, json_type_array))
		return true;
	gv_problem(v, ptr, GV_TYPE, "must be a list %s, not %s", what, gv_type_name(val));
	return false;
}

bool gv_string(struct gv *v, const char *ptr, json_object *val, const char **out)
{
	const char *s;

	if (!json_object_is_type(val, json_type_string)) {
		gv_problem(v, ptr, GV_TYPE, "must be a string, not %s", gv_type_name(val));
		return false;
	}
	s = json_object_get_string(val);
	/* C strings end at the first NUL: a \u0000 would silently cut the value. */
	if ((size_t)json_object_get_string_len(val) != strlen(s)) {
		gv_problem(v, ptr, GV_NUL, "contains a NUL character (\\u0000): remove it");
		return false;
	}
	*out = s;
	return true;
}

bool gv_text(struct gv *v, const char *ptr, json_object *val, char **out)
{
	const char *s, *p;

	if (!gv_string(v, ptr, val, &s))
		return false;
	for (p = s; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	if (*p == '\0') {
		gv_problem(v, ptr, GV_BLANK, "is empty (write the text, or leave the key out where it is optional)");
		return false;
	}
	if (tj_contains_bsn(s)) {
		gv_problem(v, ptr, GV_TEXT_BSN,
			   "may contain a BSN (nine digits that pass the eleven-test): remove it, "
			   "personal numbers are never stored");
		return false;
	}
	*out = gv_strdup(v, s);
	return *out != NULL;
}

bool gv_ref(struct gv *v, const char *ptr, json_object *val, char **out)
{
	const char *s;
	char show[96];

	if (!gv_string(v, ptr, val, &s))
		return false;
	if (tj_contains_bsn(s)) {
		gv_problem(v, ptr, GV_ID_BSN, "looks like a BSN (choose another id: personal numbers are never "
				   "stored)");
		return false;
	}
	if (!tj_ref_valid(s)) {
		gv_problem(v, ptr, GV_BAD_ID, "'%s' is not a valid id (use 1 to 64 of A-Z a-z 0-9 . _ -)",
			   gv_show(s, show));
		return false;
	}
	*out = gv_strdup(v, s);
	return *out != NULL;
}

bool gv_date(struct gv *v, const char *ptr, json_object *val, int32_t *out)
{
	char show[96];

	if (!json_object_is_type(val, json_type_string)) {
		gv_problem(v, ptr, GV_TYPE, "must be a date string \"YYYY-MM-DD\", not %s", gv_type_name(val));
		return false;
	}
	if (tj_date_parse(json_object_get_string(val), out) != 0) {
		gv_problem(v, ptr, GV_DATE, "%s is not a real date (use YYYY-MM-DD)",
			   gv_show(json_object_get_string(val), show));
		return false;
	}
	return true;
}

bool gv_money(struct gv *v, const char *ptr, json_object *val, bool allow_negative,
	      int64_t *out)
{
	const char *s;
	char show[96];
	int64_t cents;
	bool negative;

	if (json_object_is_type(val, json_type_int) || json_object_is_type(val, json_type_double)) {
		gv_problem(v, ptr, GV_MONEY_NUMBER,
			   "money must be a string such as \"5000.00\", not a JSON number (put the "
			   "amount in quotes)");
		return false;
	}
	if (!gv_string(v, ptr, val, &s))
		return false;
	negative = allow_negative && s[0] == '-';
	if (tj_money_parse(negative ? s + 1 : s, &cents) != 0) {
		gv_problem(v, ptr, GV_MONEY,
			   "%s is not an amount of money (use digits with at most 2 decimals after a "
			   "point, e.g. \"5000.00\"%s)",
			   gv_show(s, show), allow_negative ? ", or with a leading -" : "");
		return false;
	}
	*out = negative ? -cents : cents;
	return true;
}

/* RFC 8259 number grammar: json-c also takes "1.", "NaN" and "Infinity". */
static bool json_number_text(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

bool gv_number(struct gv *v, const char *ptr, json_object *val, double min, double max,
	       const char *range, char **text)
{
	const char *s;
	char show[96];
	double d;

	if (json_object_is_type(val, json_type_string)) {
		gv_problem(v, ptr, GV_TYPE, "must be a JSON number, not a string (remove the quotes)");
		return false;
	}
	if (!json_object_is_type(val, json_type_int) && !json_object_is_type(val, json_type_double)) {
		gv_problem(v, ptr, GV_TYPE, "must be a number, not %s", gv_type_name(val));
		return false;
	}
	s = json_object_get_string(val);
	d = json_object_get_double(val);
	if (!json_number_text(s)) {
		gv_problem(v, ptr, GV_NUMBER_TEXT, "%s is not a JSON number (write digits, e.g. 0.5 or 30)",
			   gv_show(s, show));
		return false;
	}
	/* Comparing with a double is only a range check: the text is what is stored. */
	if (!isfinite(d) || d < min || d > max) {
		gv_problem(v, ptr, GV_RANGE, "%s is out of range (use a number %s)", gv_show(s, show), range);
		return false;
	}
	*text = gv_strdup(v, s);
	return *text != NULL;
}
