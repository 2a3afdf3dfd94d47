/* The data files compiled into libtraject (tools/embed_files.py). */
#ifndef TJ_REPORT_ASSETS_H
#define TJ_REPORT_ASSETS_H

#include <stddef.h>

struct tj_report_asset {
	const char *name; /* the file's base name, e.g. "trajectd-report-html.xsl" */
	const unsigned char *data; /* its bytes, NUL-terminated */
	size_t len;
};

extern const struct tj_report_asset tj_report_assets[];
extern const int tj_report_assets_count;

#endif
