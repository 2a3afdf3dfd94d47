/*
 * trajectctl: the administrator's command. A thin layer over libtraject:
 * global options, then a table of commands (as OpenSMTPD's smtpctl).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "traject/db.h"
#include "traject/roles.h"

struct command {
	const char *word1, *word2; /* "grant", "load" */
	int (*fn)(struct ctl *ctl, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "migrate", NULL, cmd_migrate, "migrate [--roles]" },
	{ "grant", "load", cmd_grant_load, "grant load FILE.json" },
	{ "grant", "list", cmd_grant_list, "grant list [--json]" },
	{ "import", NULL, cmd_import, "import --grant ID FILE.csv" },
	{ "events", NULL, cmd_events, "events --grant ID [--trajectory REF] [--json]" },
	{ "void", NULL, cmd_void, "void --grant ID EVENT_ID --reason TEXT" },
	{ "report", NULL, cmd_report,
	  "report --grant ID (--as-of DATE | --report REPORT_ID) [--known-at TIMESTAMP]\n"
	  "         [--format json|xml|html] [--output FILE] [--public] [--lang nl|en]" },
	{ "deliver", NULL, cmd_deliver, "deliver --grant ID --report REPORT_ID [--new-version]" },
	{ "status", NULL, cmd_status, "status [--grant ID] [--json]" },
	{ "alert", "list", cmd_alert_list, "alert list [--all] [--json]" },
	{ "alert", "resolve", cmd_alert_resolve, "alert resolve ALERT_ID" },
	{ "explain", NULL, cmd_explain,
	  "explain --grant ID --obligation OID (--text TEXT | --file FILE)" },
	{ "role", "grant-grantee", cmd_role_grant, "role grant-grantee ROLE GRANTEE" },
	{ "role", "revoke-grantee", cmd_role_revoke, "role revoke-grantee ROLE GRANTEE" },
	{ "role", "list", cmd_role_list, "role list" },
};

static void usage_all(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [--db CONNINFO] [--config FILE] COMMAND ...\ncommands:\n", prog);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].usage);
}

/*
 * "grant" (or "role") without a known second word: the usage lines of that
 * command's subcommands, not "unknown command 'grant'". False when argv[0]
 * is no two-word command.
 */
static bool usage_of_word(const struct ctl *ctl, int argc, char **argv)
{
	bool first = true;

	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (!commands[i].word2 || strcmp(commands[i].word1, argv[0]))
			continue;
		if (first && argc >= 2)
			fprintf(stderr, "%s: unknown command '%s %s'\n", ctl->prog, argv[0],
				argv[1]);
		fprintf(stderr, "%s %s %s\n", first ? "usage:" : "      ", ctl->prog,
			commands[i].usage);
		first = false;
	}
	return !first;
}

int ctl_error(const struct ctl *ctl, const tj_err *err)
{
	fprintf(stderr, "%s: %s\n", ctl->prog, err->msg[0] ? err->msg : tj_strerror(err->code));
	return CTL_FAIL;
}

int ctl_print_json(json_object *o)
{
	const char *text = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!text)
		return CTL_FAIL;
	printf("%s\n", text);
	return CTL_OK;
}

int ctl_usage(const struct ctl *ctl, const char *usage)
{
	fprintf(stderr, "usage: %s %s\n", ctl->prog, usage);
	return CTL_USAGE;
}

int ctl_connect(struct ctl *ctl, int check_schema)
{
	tj_err err = { 0 };
	const char *conninfo = ctl->conninfo ? ctl->conninfo : ctl->cfg->conninfo;

	if (tj_db_connect(&ctl->conn, conninfo, "trajectctl", &err) < 0)
		return ctl_error(ctl, &err);
	if (check_schema && tj_schema_check(ctl->conn, &err) < 0)
		return ctl_error(ctl, &err);
	return CTL_OK;
}

int cmd_migrate(struct ctl *ctl, int argc, char **argv)
{
	tj_err err = { 0 };
	int applied = 0, r;
	bool roles = argc == 2 && !strcmp(argv[1], "--roles");

	if (argc != 1 && !roles)
		return ctl_usage(ctl, "migrate [--roles]");
	if ((r = ctl_connect(ctl, 0)) != CTL_OK)
		return r;
	if (tj_migrate(ctl->conn, &applied, &err) < 0)
		return ctl_error(ctl, &err);
	if (applied)
		printf("applied %d migration%s; schema is at version %d\n", applied,
		       applied == 1 ? "" : "s", tj_schema_version());
	else
		printf("schema is up to date (version %d)\n", tj_schema_version());
	/* docs/security.md: roles, ownership and privileges (lib/roles.c) */
	if (roles) {
		if (tj_roles_setup(ctl->conn, &err) < 0)
			return ctl_error(ctl, &err);
		printf("roles trajectd_owner, trajectd_service, trajectd_admin, trajectd_reader "
		       "are set up; schema traject belongs to trajectd_owner\n");
	} else if (applied && tj_roles_in_use(ctl->conn) == 1) {
		fprintf(stderr, "%s: note: the roles are in use: run '%s migrate --roles' so the new "
				"objects get their owner and privileges\n",
			ctl->prog, ctl->prog);
	}
	return CTL_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { .prog = "trajectctl" };
	const char *config_path = NULL;
	tj_err err = { 0 };
	int c, rc = CTL_USAGE;

	/* '+': stop at the command word; its options are its own. */
	while ((c = getopt_long(argc, argv, "+d:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			ctl.conninfo = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage_all(stdout, ctl.prog);
			return CTL_OK;
		default:
			usage_all(stderr, ctl.prog);
			return CTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage_all(stderr, ctl.prog);
		return CTL_USAGE;
	}
	if ((config_path ? tj_config_load(&ctl.cfg, config_path, &err)
			 : tj_config_new(&ctl.cfg, &err)) < 0)
		return ctl_error(&ctl, &err);

	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const struct command *cmd = &commands[i];
		int skip = cmd->word2 ? 2 : 1;

		if (strcmp(argv[0], cmd->word1) || (cmd->word2 && (argc < 2 || strcmp(argv[1], cmd->word2))))
			continue;
		/*
		 * The command sees its own words as argv[0]; optind = 0 makes glibc
		 * re-initialise getopt, dropping the '+' mode used above.
		 */
		optind = 0;
		rc = cmd->fn(&ctl, argc - skip + 1, argv + skip - 1);
		goto out;
	}
	if (usage_of_word(&ctl, argc, argv))
		goto out;
	fprintf(stderr, "%s: unknown command '%s'\n", ctl.prog, argv[0]);
	usage_all(stderr, ctl.prog);
out:
	PQfinish(ctl.conn);
	tj_config_free(ctl.cfg);
	return rc;
}
