/*
 * The JSON writer of the report model (json-c). The document is
 * {"schema": "trajectd-report/2", <the root's children>} pretty-printed
 * with 2-space indents, unescaped slashes and a trailing newline. Numbers
 * are emitted from their exact text (json_object_new_double_s keeps the
 * spelling; the double beside it is never printed), money as strings, a
 * null value as null, a suppressed value of the public version as its
 * marker string ("<5", "x"). json-c keeps object keys in insertion order,
 * so the bytes follow the model's order.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "report_private.h"
#include "util.h"

static void json_putp(json_object **o)
{
	json_object_put(*o);
}
#define TJ_AUTOJSON TJ_AUTO(json_putp)

static int malformed(const struct tj_rnode *n, tj_err *err)
{
	return tj_fail(err, TJ_EINVAL, "report value %s = '%s' is not spelled as its type requires",
		       n->name, n->text ? n->text : "");
}

static int scalar(const struct tj_rnode *n, json_object **out, tj_err *err)
{
	if (!n->text) {
		*out = NULL; /* json-c's null */
		return 0;
	}
	if (!tj_rtext_valid(n->type, n->text))
		return malformed(n, err);
	switch (n->type) {
	case TJ_R_STRING:
	case TJ_R_DATE:
	case TJ_R_TIMESTAMP:
	case TJ_R_MONEY:
	case TJ_R_SUPPRESSED:
		*out = json_object_new_string(n->text);
		break;
	case TJ_R_INTEGER:
		*out = json_object_new_int64(strtoll(n->text, NULL, 10));
		break;
	case TJ_R_DECIMAL:
		*out = json_object_new_double_s(strtod(n->text, NULL), n->text);
		break;
	case TJ_R_BOOL:
		*out = json_object_new_boolean(!strcmp(n->text, "true"));
		break;
	case TJ_R_OBJECT:
	case TJ_R_LIST:
		return malformed(n, err);
	}
	return *out ? 0 : tj_fail(err, TJ_ENOMEM, "out of memory writing JSON");
}

static int node(const struct tj_rnode *n, json_object **out, tj_err *err)
{
	TJ_AUTOJSON json_object *o = NULL;
	int r;

	if (n->type != TJ_R_OBJECT && n->type != TJ_R_LIST)
		return scalar(n, out, err);
	o = n->type == TJ_R_OBJECT ? json_object_new_object() : json_object_new_array();
	if (!o)
		return tj_fail(err, TJ_ENOMEM, "out of memory writing JSON");
	for (size_t i = 0; i < n->nkids; i++) {
		json_object *kid = NULL;

		if ((r = node(n->kids[i], &kid, err)) < 0)
			return r;
		r = n->type == TJ_R_OBJECT ? json_object_object_add(o, n->kids[i]->name, kid)
					   : json_object_array_add(o, kid);
		if (r != 0) {
			json_object_put(kid);
			return tj_fail(err, TJ_ENOMEM, "out of memory writing JSON");
		}
	}
	*out = o;
	o = NULL;
	return 0;
}

int tj_rnode_json(const struct tj_rnode *n, struct json_object **out, tj_err *err)
{
	if (!n)
		return tj_fail(err, TJ_EUSAGE, "no report node to convert");
	return node(n, out, err);
}

int tj_report_write_json(const struct tj_report *rep, FILE *out, tj_err *err)
{
	TJ_AUTOJSON json_object *doc = json_object_new_object();
	json_object *schema = json_object_new_string(TJ_REPORT_SCHEMA);
	const char *text;
	size_t len;
	int r;

	if (!doc || !schema || json_object_object_add(doc, "schema", schema) != 0) {
		json_object_put(schema);
		return tj_fail(err, TJ_ENOMEM, "out of memory writing JSON");
	}
	if (rep->oom)
		return tj_fail(err, TJ_ENOMEM, "the report is incomplete (out of memory)");
	for (size_t i = 0; i < rep->root.nkids; i++) {
		json_object *kid = NULL;

		if ((r = node(rep->root.kids[i], &kid, err)) < 0)
			return r;
		if (json_object_object_add(doc, rep->root.kids[i]->name, kid) != 0) {
			json_object_put(kid);
			return tj_fail(err, TJ_ENOMEM, "out of memory writing JSON");
		}
	}
	text = json_object_to_json_string_length(
		doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
		&len);
	if (!text)
		return tj_fail(err, TJ_ENOMEM, "out of memory writing JSON");
	if (fwrite(text, 1, len, out) != len || fputc('\n', out) == EOF || fflush(out) != 0)
		return tj_fail(err, TJ_EIO, "writing the JSON report failed");
	return 0;
}
