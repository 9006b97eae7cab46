/* SPDX-License-Identifier: MIT */
/*
 * Replay driver for the sequence fuzzer, built with the normal compiler:
 * feeds every file (or every file of every directory) named on the command
 * line to LLVMFuzzerTestOneInput, as libFuzzer would.
 *
 *   seqfuzz-replay [--faults=MASK] [--expect-violation] PATH...
 *
 * Without --expect-violation any violation fails the run (exit 1). With it,
 * EVERY input must make the fuzzer report a violation: the negative control
 * for a sim fault switch (--faults, a TLBB_SIM_FAULT_* mask).
 */
#include "seqfuzz.h"
#include "walk.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf escape;
static char last_msg[512];

static void on_violation(const char *msg)
{
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	longjmp(escape, 1);
}

static unsigned ninputs, nviolations;
static int expect_violation;

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long len;
	int violated = 0;

	if (!f) {
		perror(path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len > 0 ? (size_t)len : 1);
	if (!buf || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
		fprintf(stderr, "%s: read error\n", path);
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	ninputs++;
	if (setjmp(escape) == 0) {
		LLVMFuzzerTestOneInput(buf, (size_t)len);
	} else {
		violated = 1;
		nviolations++;
		seqfuzz_cleanup();
	}
	free(buf);
	if (violated && !expect_violation) {
		fprintf(stderr, "FAIL %s: %s\n", path, last_msg);
		return 1;
	}
	if (!violated && expect_violation) {
		fprintf(stderr, "FAIL %s: no violation reported although faults=%#x\n", path,
			seqfuzz_faults);
		return 1;
	}
	if (violated)
		printf("ok %s: violation reported as expected: %s\n", path, last_msg);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0, npaths = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	seqfuzz_violation_hook = on_violation;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--faults=", 9) == 0) {
			seqfuzz_faults = (unsigned)strtoul(argv[i] + 9, NULL, 0);
		} else if (strcmp(argv[i], "--expect-violation") == 0) {
			expect_violation = 1;
		} else {
			rc |= fuzz_walk(argv[i], replay_file);
			npaths++;
		}
	}
	if (!npaths || !ninputs) {
		fprintf(stderr, "usage: %s [--faults=MASK] [--expect-violation] PATH...\n", argv[0]);
		return 2;
	}
	printf("replayed %u inputs, %u violations, faults=%#x\n", ninputs, nviolations,
	       seqfuzz_faults);
	return rc;
}
