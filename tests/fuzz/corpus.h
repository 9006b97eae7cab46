/* SPDX-License-Identifier: MIT */
/*
 * Plain corpus replay shared by the fuzzers' drivers built with the normal
 * compiler (tests/fuzz/replay.c for seqfuzz, tests/x86_64/fuzz_x86.c): a file
 * is one input, a directory is every input below it (dot files skipped, in
 * readdir order), each read whole and handed to the driver's run function.
 *
 * Verdict per input: without expect_violation any violation fails; with it
 * EVERY input must make the fuzzer report one (the negative controls).
 */
#ifndef TLBB_TESTS_FUZZ_CORPUS_H
#define TLBB_TESTS_FUZZ_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runs one input; true if the fuzzer reported a violation, its text in @msg. */
typedef bool (*fuzz_run_fn)(const uint8_t *data, size_t len, char *msg, size_t msgsz);

struct fuzz_replay {
	fuzz_run_fn run;
	bool expect_violation;
	const char *context; /* appended to "no violation" failures, e.g. the faults */
	unsigned ninputs, nviolations;
};

/* Replays every input under @path; 0 if each verdict held, else 1. */
int fuzz_replay(struct fuzz_replay *r, const char *path);

#endif
