/*
 * The HTML writer: the report's XML document (lib/report_xml.c, the single
 * source) transformed by libxslt with the stylesheet
 * reports/trajectd-report-html.xsl into one self-contained XHTML page. The
 * stylesheet and its dictionary reports/trajectd-report-i18n.xml are
 * compiled in (tools/embed_files.py), so no data files are needed at run
 * time, and the transformation may read nothing else: a loader that only
 * knows the dictionary replaces libxslt's, and the security preferences
 * forbid writing files, creating directories and the network.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxslt/documents.h>
#include <libxslt/security.h>
#include <libxslt/transform.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include "report_assets.h"
#include "report_private.h"
#include "util.h"

#define STYLESHEET "trajectd-report-html.xsl"
#define DICTIONARY "trajectd-report-i18n.xml"

static const struct tj_report_asset *asset(const char *name)
{
	for (int i = 0; i < tj_report_assets_count; i++)
		if (!strcmp(tj_report_assets[i].name, name))
			return &tj_report_assets[i];
	return NULL;
}

/* Parse one compiled-in file, sharing dict (libxslt's names) when given. */
static xmlDocPtr parse_asset(const struct tj_report_asset *a, xmlDictPtr dict)
{
	xmlParserCtxtPtr pc;
	xmlDocPtr doc = NULL;

	if (!a || !(pc = xmlCreateMemoryParserCtxt((const char *)a->data, (int)a->len)))
		return NULL;
	if (dict) {
		if (pc->dict)
			xmlDictFree(pc->dict);
		pc->dict = dict;
		xmlDictReference(dict);
	}
	xmlCtxtUseOptions(pc, XML_PARSE_NONET);
	xmlParseDocument(pc);
	if (pc->wellFormed) {
		doc = pc->myDoc;
		/* relative URIs in it (document()) resolve against its name */
		doc->URL = xmlStrdup((const xmlChar *)a->name);
	} else {
		xmlFreeDoc(pc->myDoc);
	}
	pc->myDoc = NULL;
	xmlFreeParserCtxt(pc);
	return doc;
}

/* document() may load the dictionary and nothing else. */
static xmlDocPtr loader(const xmlChar *uri, xmlDictPtr dict, int options, void *ctxt,
			xsltLoadType type)
{
	(void)options;
	(void)ctxt;
	if (type != XSLT_LOAD_DOCUMENT || !uri || strcmp((const char *)uri, DICTIONARY) != 0)
		return NULL;
	return parse_asset(asset(DICTIONARY), dict);
}

static void quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

/* The XML document of the report, in memory. */
static int xml_text(const struct tj_report *rep, char **out, size_t *len, tj_err *err)
{
	FILE *f = open_memstream(out, len);
	int r;

	if (!f)
		return tj_fail(err, TJ_ENOMEM, "out of memory rendering HTML");
	r = tj_report_write_xml(rep, f, err);
	if (fclose(f) != 0 && r == 0)
		r = tj_fail(err, TJ_ENOMEM, "out of memory rendering HTML");
	if (r < 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}

static int transform(xsltStylesheetPtr style, xmlDocPtr doc, enum tj_report_lang lang,
		     FILE *out, tj_err *err)
{
	const char *params[] = { "lang", lang == TJ_LANG_EN ? "'en'" : "'nl'", NULL };
	xsltSecurityPrefsPtr sec = xsltNewSecurityPrefs();
	xsltTransformContextPtr tc = xsltNewTransformContext(style, doc);
	xmlDocPtr res = NULL;
	int r = 0;

	if (!sec || !tc ||
	    xsltSetSecurityPrefs(sec, XSLT_SECPREF_WRITE_FILE, xsltSecurityForbid) < 0 ||
	    xsltSetSecurityPrefs(sec, XSLT_SECPREF_CREATE_DIRECTORY, xsltSecurityForbid) < 0 ||
	    xsltSetSecurityPrefs(sec, XSLT_SECPREF_READ_NETWORK, xsltSecurityForbid) < 0 ||
	    xsltSetSecurityPrefs(sec, XSLT_SECPREF_WRITE_NETWORK, xsltSecurityForbid) < 0 ||
	    xsltSetCtxtSecurityPrefs(sec, tc) < 0) {
		r = tj_fail(err, TJ_ENOMEM, "out of memory rendering HTML");
		goto out;
	}
	res = xsltApplyStylesheetUser(style, doc, params, NULL, NULL, tc);
	if (!res || tc->state != XSLT_STATE_OK) {
		r = tj_fail(err, TJ_EINVAL,
			    "the HTML stylesheet failed on this report (a bug: please report it "
			    "with the report's XML)");
		goto out;
	}
	if (xsltSaveResultToFile(out, res, style) < 0 || fflush(out) != 0 || ferror(out))
		r = tj_fail(err, TJ_EIO, "writing the HTML report failed");
out:
	xmlFreeDoc(res);
	xsltFreeTransformContext(tc);
	xsltFreeSecurityPrefs(sec);
	return r;
}

int tj_report_write_html(const struct tj_report *rep, enum tj_report_lang lang, FILE *out,
			 tj_err *err)
{
	const struct tj_report_asset *xsl = asset(STYLESHEET);
	xmlGenericErrorFunc generic = xmlGenericError;
	void *generic_ctx = xmlGenericErrorContext;
	xsltStylesheetPtr style = NULL;
	xmlDocPtr doc = NULL, sdoc = NULL;
	char *xml = NULL;
	size_t len = 0;
	int r;

	if (lang != TJ_LANG_NL && lang != TJ_LANG_EN)
		return tj_fail(err, TJ_EUSAGE, "unknown report language %d", (int)lang);
	if (!xsl || !asset(DICTIONARY))
		return tj_fail(err, TJ_EINVAL, "the HTML stylesheet is not compiled in (a build bug)");
	if ((r = xml_text(rep, &xml, &len, err)) < 0)
		return r;
	/* the library never prints: libxml2 and libxslt report on stderr by default */
	xmlSetGenericErrorFunc(NULL, quiet);
	xsltSetGenericErrorFunc(NULL, quiet);
	xsltSetLoaderFunc(loader);
	doc = xmlReadMemory(xml, (int)len, "report.xml", "UTF-8", XML_PARSE_NONET);
	sdoc = parse_asset(xsl, NULL);
	if (sdoc && (style = xsltParseStylesheetDoc(sdoc)))
		sdoc = NULL; /* the stylesheet owns it now */
	if (!doc || !style)
		r = tj_fail(err, TJ_EINVAL, "the HTML stylesheet or the report's XML did not parse "
			    "(a bug: please report it)");
	else
		r = transform(style, doc, lang, out, err);
	xsltFreeStylesheet(style);
	xmlFreeDoc(sdoc);
	xmlFreeDoc(doc);
	free(xml);
	xsltSetLoaderFunc(NULL);
	xsltSetGenericErrorFunc(NULL, NULL);
	xmlSetGenericErrorFunc(generic_ctx, generic);
	return r;
}
