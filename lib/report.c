/*
 * The report model: a tree of named nodes with exact text values (see
 * include/traject/report.h), its lifetime, the accessors and the spelling
 * rules both writers enforce, so that a document never carries a number
 * spelled two ways or a character XML cannot hold.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report_private.h"
#include "traject/value.h"
#include "util.h"

int tj_report_new(struct tj_report **out, tj_err *err)
{
	struct tj_report *r = calloc(1, sizeof *r);

	if (!r)
		return tj_fail(err, TJ_ENOMEM, "out of memory building a report");
	r->root.name = "report";
	r->root.type = TJ_R_OBJECT;
	*out = r;
	return 0;
}

static void node_free(struct tj_rnode *n)
{
	for (size_t i = 0; i < n->nkids; i++) {
		node_free(n->kids[i]);
		free(n->kids[i]);
	}
	free(n->kids);
	free(n->text);
}

void tj_report_free(struct tj_report *r)
{
	if (!r)
		return;
	node_free(&r->root);
	free(r);
}

struct tj_rnode *tj_rn_add(struct tj_report *r, struct tj_rnode *parent, const char *name,
			   enum tj_rtype type, const char *text)
{
	struct tj_rnode *n;

	if (!parent)
		goto oom;
	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct tj_rnode **kids = realloc(parent->kids, cap * sizeof *kids);

		if (!kids)
			goto oom;
		parent->kids = kids;
		parent->cap = cap;
	}
	n = calloc(1, sizeof *n);
	if (!n)
		goto oom;
	n->name = name;
	n->type = type;
	if (text && type != TJ_R_OBJECT && type != TJ_R_LIST && !(n->text = strdup(text))) {
		free(n);
		goto oom;
	}
	parent->kids[parent->nkids++] = n;
	return n;
oom:
	r->oom = true;
	return NULL;
}

struct tj_rnode *tj_rn_child(struct tj_rnode *n, const char *name)
{
	for (size_t i = 0; n && i < n->nkids; i++)
		if (!strcmp(n->kids[i]->name, name))
			return n->kids[i];
	return NULL;
}

struct tj_rnode *tj_rn_find(struct tj_report *r, const char *path)
{
	/* the const search never changes the tree it walks */
	return (struct tj_rnode *)(uintptr_t)tj_report_find(r, path);
}

int tj_rn_set(struct tj_rnode *n, enum tj_rtype type, const char *text, tj_err *err)
{
	char *copy = NULL;

	if (text && !(copy = strdup(text)))
		return tj_fail(err, TJ_ENOMEM, "out of memory changing a report value");
	free(n->text);
	n->text = copy;
	n->type = type;
	return 0;
}

void tj_rn_remove(struct tj_rnode *parent, const char *name)
{
	for (size_t i = 0; parent && i < parent->nkids; i++) {
		if (strcmp(parent->kids[i]->name, name) != 0)
			continue;
		node_free(parent->kids[i]);
		free(parent->kids[i]);
		memmove(&parent->kids[i], &parent->kids[i + 1],
			(parent->nkids - i - 1) * sizeof parent->kids[0]);
		parent->nkids--;
		return;
	}
}

const struct tj_rnode *tj_rnode_child(const struct tj_rnode *n, const char *name)
{
	for (size_t i = 0; n && i < n->nkids; i++)
		if (!strcmp(n->kids[i]->name, name))
			return n->kids[i];
	return NULL;
}

const struct tj_rnode *tj_report_root(const struct tj_report *r)
{
	return r ? &r->root : NULL;
}

const struct tj_rnode *tj_report_find(const struct tj_report *r, const char *path)
{
	const struct tj_rnode *n = tj_report_root(r);

	while (n && path && *path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		const struct tj_rnode *next = NULL;

		for (size_t i = 0; i < n->nkids && !next; i++)
			if (strlen(n->kids[i]->name) == len && !memcmp(n->kids[i]->name, path, len))
				next = n->kids[i];
		n = next;
		path = slash ? slash + 1 : NULL;
	}
	return n;
}

int tj_report_set_version(struct tj_report *r, int version, tj_err *err)
{
	struct tj_rnode *n = r ? tj_rn_child(tj_rn_child(&r->root, "report"), "version") : NULL;
	char buf[16];
	char *text;

	if (!n || version < 1)
		return tj_fail(err, TJ_EUSAGE, "report version must be >= 1 on a computed report");
	snprintf(buf, sizeof buf, "%d", version);
	if (!(text = strdup(buf)))
		return tj_fail(err, TJ_ENOMEM, "out of memory setting the report version");
	free(n->text);
	n->text = text;
	return 0;
}

/* [0-9]+ at s; returns how many. */
static size_t digits(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/* -?(0|[1-9][0-9]*) at s; returns its length, 0 when there is none. */
static size_t integer_part(const char *s)
{
	size_t sign = *s == '-', n = digits(s + sign);

	if (n == 0 || (n > 1 && s[sign] == '0'))
		return 0;
	return sign + n;
}

static bool valid_integer(const char *s)
{
	size_t n = integer_part(s);
	long long v;
	char *end;

	if (n == 0 || s[n])
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	(void)v;
	return errno == 0 && *end == '\0' && strcmp(s, "-0") != 0;
}

static bool valid_decimal(const char *s, bool money)
{
	size_t n = integer_part(s), f;

	if (n == 0 || !strcmp(s, "-0"))
		return false;
	if (s[n] == '\0')
		return !money;
	if (s[n] != '.')
		return false;
	f = digits(s + n + 1);
	if (s[n + 1 + f] != '\0')
		return false;
	if (money)
		return f == 2;
	return f > 0 && s[n + f] != '0'; /* trimmed: no trailing zero */
}

static bool valid_timestamp(const char *s)
{
	int32_t d;
	char date[11];
	size_t n;

	/* YYYY-MM-DDTHH:MM:SS[.ffffff]Z as traject.iso_utc spells it */
	if (strlen(s) < 20 || s[10] != 'T')
		return false;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (tj_date_parse(date, &d) < 0)
		return false;
	if (digits(s + 11) != 2 || s[13] != ':' || digits(s + 14) != 2 || s[16] != ':' ||
	    digits(s + 17) != 2)
		return false;
	n = 19;
	if (s[n] == '.') {
		if (digits(s + n + 1) != 6)
			return false;
		n += 7;
	}
	return s[n] == 'Z' && s[n + 1] == '\0';
}

/* Valid UTF-8 (libpq delivers it) without the C0 controls XML 1.0 forbids. */
static bool valid_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t len;
		unsigned c = *p;

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return false;
		len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			: (c & 0xf8) == 0xf0 ? 4 : 0;
		if (len == 0 || (len == 2 && c < 0xc2))
			return false;
		for (size_t i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += len;
	}
	return true;
}

/* "x", or "<" and a whole number of 2 or more (the threshold). */
static bool valid_marker(const char *s)
{
	size_t n;

	if (!strcmp(s, "x"))
		return true;
	if (s[0] != '<')
		return false;
	n = integer_part(s + 1);
	return n > 0 && s[1 + n] == '\0' && s[1] != '-' && strcmp(s + 1, "0") != 0 &&
	       strcmp(s + 1, "1") != 0;
}

bool tj_rtext_valid(enum tj_rtype type, const char *text)
{
	int32_t d;

	if (!text)
		return false;
	switch (type) {
	case TJ_R_OBJECT:
	case TJ_R_LIST:
		return false;
	case TJ_R_STRING:
		return valid_string(text);
	case TJ_R_DATE:
		return strlen(text) == 10 && tj_date_parse(text, &d) == 0;
	case TJ_R_TIMESTAMP:
		return valid_timestamp(text);
	case TJ_R_INTEGER:
		return valid_integer(text);
	case TJ_R_DECIMAL:
		return valid_decimal(text, false);
	case TJ_R_MONEY:
		return valid_decimal(text, true);
	case TJ_R_BOOL:
		return !strcmp(text, "true") || !strcmp(text, "false");
	case TJ_R_SUPPRESSED:
		return valid_marker(text);
	}
	return false;
}
