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
#include "corpus.h"

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

static bool run_one(const uint8_t *data, size_t len, char *msg, size_t msgsz)
{
	if (setjmp(escape) == 0) {
		LLVMFuzzerTestOneInput(data, len);
		return false;
	}
	seqfuzz_cleanup();
	snprintf(msg, msgsz, "%s", last_msg);
	return true;
}

int main(int argc, char **argv)
{
	struct fuzz_replay r = { .run = run_one };
	char context[32];
	int rc = 0, npaths = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	seqfuzz_violation_hook = on_violation;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--faults=", 9) == 0) {
			seqfuzz_faults = (unsigned)strtoul(argv[i] + 9, NULL, 0);
		} else if (strcmp(argv[i], "--expect-violation") == 0) {
			r.expect_violation = true;
		} else {
			snprintf(context, sizeof(context), "faults=%#x", seqfuzz_faults);
			r.context = context;
			rc |= fuzz_replay(&r, argv[i]);
			npaths++;
		}
	}
	if (!npaths || !r.ninputs) {
		fprintf(stderr, "usage: %s [--faults=MASK] [--expect-violation] PATH...\n", argv[0]);
		return 2;
	}
	printf("replayed %u inputs, %u violations, faults=%#x\n", r.ninputs, r.nviolations,
	       seqfuzz_faults);
	return rc;
}
