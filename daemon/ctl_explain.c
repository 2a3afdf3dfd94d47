/*
 * trajectctl explain --grant ID --obligation OID (--text TEXT | --file FILE):
 * record the grantee's explanation of a performance obligation that is not
 * met (or at risk). Reports whose knowledge time is after it carry it for
 * that obligation while its status is not_met or at_risk
 * (include/traject/explain.h). Nothing is ever overwritten: a second
 * explanation is a new row that later reports use instead.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "traject/explain.h"

#define EXPLAIN_USAGE "explain --grant ID --obligation OID (--text TEXT | --file FILE)"

/* An explanation file is a page of text; anything much larger is a mistake. */
#define FILE_LIMIT (64 * 1024)

/* Read path ("-": standard input) into *out, without its trailing newlines. */
static int read_text(const struct ctl *ctl, const char *path, char **out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf;
	size_t len;

	if (!f) {
		fprintf(stderr, "%s: explain: %s: cannot open: %s\n", ctl->prog, path,
			strerror(errno));
		return CTL_FAIL;
	}
	if (!(buf = malloc(FILE_LIMIT + 1))) {
		if (f != stdin)
			fclose(f);
		fprintf(stderr, "%s: out of memory\n", ctl->prog);
		return CTL_FAIL;
	}
	len = fread(buf, 1, FILE_LIMIT + 1, f);
	if (ferror(f) || len > FILE_LIMIT || memchr(buf, '\0', len)) {
		fprintf(stderr, "%s: explain: %s: %s\n", ctl->prog, path,
			ferror(f) ? "cannot be read"
			: len > FILE_LIMIT ? "is larger than 64 KiB (an explanation is a page of text)"
					   : "holds a NUL byte (give a plain UTF-8 text file)");
		free(buf);
		if (f != stdin)
			fclose(f);
		return CTL_FAIL;
	}
	if (f != stdin)
		fclose(f);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	*out = buf;
	return CTL_OK;
}

int cmd_explain(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grant", required_argument, NULL, 'g' },
		{ "obligation", required_argument, NULL, 'o' },
		{ "text", required_argument, NULL, 't' },
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *grant = NULL, *obligation = NULL, *text = NULL, *file = NULL;
	char *owned = NULL;
	tj_explain_stored st = { 0 };
	tj_err err = { 0 };
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'g': grant = optarg; break;
		case 'o': obligation = optarg; break;
		case 't': text = optarg; break;
		case 'f': file = optarg; break;
		default: return ctl_usage(ctl, EXPLAIN_USAGE);
		}
	}
	if (optind != argc || !grant || !obligation || !text == !file)
		return ctl_usage(ctl, EXPLAIN_USAGE);
	if (file) {
		if ((r = read_text(ctl, file, &owned)) != CTL_OK)
			return r;
		text = owned;
	}
	/* refuse bad text before touching the database */
	if (tj_explain_check(text, &err) < 0) {
		free(owned);
		return ctl_error(ctl, &err);
	}
	if ((r = ctl_connect(ctl, 1)) != CTL_OK) {
		free(owned);
		return r;
	}
	r = tj_explain_add(ctl->conn, grant, obligation, text, &st, &err);
	free(owned);
	if (r < 0)
		return ctl_error(ctl, &err);
	printf("grant %s obligation %s: explanation recorded at %s (%d for this obligation; "
	       "reports known after it carry it while the obligation is not met or at risk)\n",
	       grant, obligation, st.recorded_at, st.count);
	return CTL_OK;
}
