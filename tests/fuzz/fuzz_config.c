/*
 * Fuzz target: the configuration parser (tj_config_load, lib/config.c over
 * inih). tj_config_load reads a path, so each input is written to a memfd
 * and read back through /proc/self/fd. Invariants: a loaded configuration
 * keeps every value within the bounds of its key table and retry_base <=
 * retry_max; a refusal names the file and says why, on one line.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "traject/config.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = memfd_create("fuzz.conf", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tj_config *cfg = NULL;
	tj_err err = { 0 };
	int r;

	if (fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	r = tj_config_load(&cfg, path, &err);
	if (r == 0) {
		FUZZ_CHECK(cfg && cfg->path && cfg->time_zone);
		FUZZ_CHECK(cfg->lead_days >= 0 && cfg->lead_days <= 365);
		FUZZ_CHECK(cfg->timeout >= 1 && cfg->timeout <= 3600);
		FUZZ_CHECK(cfg->retry_base >= 1 && cfg->retry_base <= cfg->retry_max);
		FUZZ_CHECK(cfg->retry_max <= 604800);
		FUZZ_CHECK(cfg->warn_hours >= 0 && cfg->warn_hours <= 8760);
		FUZZ_CHECK(cfg->format_xml || cfg->format_json);
		FUZZ_CHECK(!cfg->url || !strncmp(cfg->url, "https://", 8) ||
			   !strncmp(cfg->url, "file:///", 8));
		tj_config_free(cfg);
	} else {
		FUZZ_CHECK(r == TJ_ECONFIG || r == TJ_ENOMEM);
		FUZZ_CHECK(!strncmp(err.msg, path, strlen(path)));
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
	}
	return 0;
}
