/*
 * What every fuzz target shares: the libFuzzer entry points and a check
 * that turns a broken invariant into a crash libFuzzer (or the replay
 * driver, tests/fuzz/replay.c) reports with the input that caused it.
 */
#ifndef TJ_FUZZ_H
#define TJ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: abort (a finding) when it fails. */
#define FUZZ_CHECK(cond)                                                               \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                \
			abort();                                                       \
		}                                                                      \
	} while (0)

#endif
