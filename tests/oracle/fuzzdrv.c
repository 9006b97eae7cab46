/* SPDX-License-Identifier: MIT */
/* The fuzzers' shared driver (fuzzdrv.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzdrv.h"
#include "../fuzz/corpus.h"

bool fuzz_trace;

static jmp_buf *escape; /* set while fuzz_main() runs an input */
static char last_msg[512];
static int (*run_input)(const uint8_t *data, size_t size);

void fuzz_violation(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	if (escape)
		longjmp(*escape, 1);
	fprintf(stderr, "%s violation: %s\n", name, last_msg);
	abort();
}

void fuzz_tr(unsigned depth, const char *fmt, ...)
{
	va_list ap;

	if (!fuzz_trace)
		return;
	fprintf(stderr, "%*s", (int)(2 * depth), "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static bool run_one(const uint8_t *data, size_t len, char *msg, size_t msgsz)
{
	jmp_buf jb;

	escape = &jb;
	if (setjmp(jb) == 0) {
		run_input(data, len);
		escape = NULL;
		return false;
	}
	escape = NULL;
	snprintf(msg, msgsz, "%s", last_msg);
	return true;
}

int fuzz_main(int argc, char **argv, int (*one)(const uint8_t *data, size_t size))
{
	struct fuzz_replay r = { .run = run_one };
	int rc = 0, npaths = 0;

	run_input = one;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expect-violation") == 0)
			r.expect_violation = true;
		else if (strcmp(argv[i], "--trace") == 0)
			fuzz_trace = true;
		else {
			rc |= fuzz_replay(&r, argv[i]);
			npaths++;
		}
	}
	if (!npaths || !r.ninputs) {
		fprintf(stderr, "usage: %s [--expect-violation] [--trace] PATH...\n", argv[0]);
		return 2;
	}
	printf("replayed %u inputs, %u violations\n", r.ninputs, r.nviolations);
	return rc;
}
