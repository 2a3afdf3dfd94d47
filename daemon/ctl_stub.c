/* Placeholders for commands still being written; removed as each lands. */
#include <stdio.h>

#include "ctl.h"

#define STUB(name, what)                                                          \
	int name(struct ctl *ctl, int argc, char **argv)                          \
	{                                                                         \
		(void)argc;                                                       \
		(void)argv;                                                       \
		fprintf(stderr, "%s: %s is not implemented yet\n", ctl->prog, what); \
		return CTL_FAIL;                                                  \
	}

STUB(cmd_grant_load, "grant load")
STUB(cmd_grant_list, "grant list")
STUB(cmd_import, "import")
STUB(cmd_events, "events")
STUB(cmd_void, "void")
STUB(cmd_report, "report")
STUB(cmd_deliver, "deliver")
STUB(cmd_status, "status")
