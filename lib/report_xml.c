/*
 * The XML writer of the report model: libxml2's xmlTextWriter streaming
 * straight into the caller's FILE (no document tree in memory). The root
 * is <report xmlns="urn:trajectd:report:2" schemaVersion="2">; every model
 * node becomes an element of the same name in that namespace, list items
 * are named by their node (obligation, point, line), and a null value is
 * an empty element with xsi:nil="true" so every element the schema
 * requires is always there. A suppressed value of the public version is
 * its marker as text (&lt;5, x). reports/trajectd-report-2.xsd types it
 * all; documents stored under version 1 keep their bytes and stay valid
 * against reports/trajectd-report-1.xsd.
 */
#include <string.h>

#include <libxml/xmlwriter.h>

#include "report_private.h"
#include "util.h"

#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

/* libxml2 reports I/O errors on stderr; the library never prints. */
static void quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static void quiet_structured(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static const xmlChar *X(const char *s)
{
	return (const xmlChar *)s;
}

static int node(xmlTextWriterPtr w, const struct tj_rnode *n, tj_err *err)
{
	if (xmlTextWriterStartElement(w, X(n->name)) < 0)
		return TJ_EIO;
	if (n->type == TJ_R_OBJECT || n->type == TJ_R_LIST) {
		for (size_t i = 0; i < n->nkids; i++) {
			int r = node(w, n->kids[i], err);

			if (r < 0)
				return r;
		}
	} else if (!n->text) {
		if (xmlTextWriterWriteAttribute(w, X("xsi:nil"), X("true")) < 0)
			return TJ_EIO;
	} else if (!tj_rtext_valid(n->type, n->text)) {
		return tj_fail(err, TJ_EINVAL,
			       "report value %s = '%s' is not spelled as its type requires", n->name,
			       n->text);
	} else if (xmlTextWriterWriteString(w, X(n->text)) < 0) {
		return TJ_EIO;
	}
	/* FullEndElement: <x></x> is never needed; EndElement gives <x/> for nil. */
	return xmlTextWriterEndElement(w) < 0 ? TJ_EIO : 0;
}

static int write_all(xmlTextWriterPtr w, const struct tj_report *rep, tj_err *err)
{
	int r;

	if (xmlTextWriterSetIndent(w, 1) < 0 || xmlTextWriterSetIndentString(w, X("  ")) < 0 ||
	    xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL) < 0 ||
	    xmlTextWriterStartElement(w, X(rep->root.name)) < 0 ||
	    xmlTextWriterWriteAttribute(w, X("xmlns"), X(TJ_REPORT_XMLNS)) < 0 ||
	    xmlTextWriterWriteAttribute(w, X("xmlns:xsi"), X(XSI_NS)) < 0 ||
	    xmlTextWriterWriteAttribute(w, X("schemaVersion"), X(TJ_REPORT_SCHEMA_VERSION)) < 0)
		return TJ_EIO;
	for (size_t i = 0; i < rep->root.nkids; i++)
		if ((r = node(w, rep->root.kids[i], err)) < 0)
			return r;
	if (xmlTextWriterEndElement(w) < 0 || xmlTextWriterEndDocument(w) < 0 ||
	    xmlTextWriterFlush(w) < 0)
		return TJ_EIO;
	return 0;
}

int tj_report_write_xml(const struct tj_report *rep, FILE *out, tj_err *err)
{
	xmlGenericErrorFunc generic = xmlGenericError;
	void *generic_ctx = xmlGenericErrorContext;
	xmlStructuredErrorFunc structured = xmlStructuredError;
	void *structured_ctx = xmlStructuredErrorContext;
	xmlOutputBufferPtr buf;
	xmlTextWriterPtr w;
	int r;

	if (rep->oom)
		return tj_fail(err, TJ_ENOMEM, "the report is incomplete (out of memory)");
	/* The output buffer writes to out and leaves it open; w owns buf. */
	if (!(buf = xmlOutputBufferCreateFile(out, NULL)))
		return tj_fail(err, TJ_ENOMEM, "out of memory writing XML");
	if (!(w = xmlNewTextWriter(buf))) {
		xmlOutputBufferClose(buf);
		return tj_fail(err, TJ_ENOMEM, "out of memory writing XML");
	}
	xmlSetGenericErrorFunc(NULL, quiet);
	xmlSetStructuredErrorFunc(NULL, quiet_structured);
	r = write_all(w, rep, err);
	xmlFreeTextWriter(w); /* flushes what is left into out */
	xmlSetGenericErrorFunc(generic_ctx, generic);
	xmlSetStructuredErrorFunc(structured_ctx, structured);
	if (r == TJ_EIO || (r == 0 && (fflush(out) != 0 || ferror(out))))
		return tj_fail(err, TJ_EIO, "writing the XML report failed");
	return r;
}
