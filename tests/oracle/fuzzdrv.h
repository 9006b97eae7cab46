/* SPDX-License-Identifier: MIT */
/*
 * The driver shared by the backend sequence fuzzers (tests/x86_64/fuzz_x86.c,
 * tests/arm64/fuzz_arm64.c, tests/arm64/fuzz_stage2.c,
 * tests/riscv64/fuzz_riscv64.c): how a violation is reported and the plain
 * corpus replay's main().
 *
 * A fuzzer runs one input in a function of the libFuzzer entry's shape
 * (LLVMFuzzerTestOneInput). Built for libFuzzer, fuzz_violation() prints
 * "NAME violation: TEXT" and aborts (libFuzzer saves the input). Built for
 * replay, the fuzzer's main() is fuzz_main(): every input under the PATHs
 * runs (tests/fuzz/corpus.h), a violation returns to it by longjmp, and
 *   FUZZER [--expect-violation] [--trace] PATH...
 * passes when no input reports one, or with --expect-violation when every
 * input does (the negative controls). --trace sets fuzz_trace.
 *
 * An input is read a byte at a time (fuzz_byte(): 0 once it is used up, so
 * every prefix of an input is a program too), and traced with fuzz_tr().
 */
#ifndef TLBB_TESTS_ORACLE_FUZZDRV_H
#define TLBB_TESTS_ORACLE_FUZZDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern bool fuzz_trace;

/* What is left of an input. */
struct fuzz_input {
	const uint8_t *p;
	size_t n;
};

/* The next byte of @in, 0 once it is used up. */
static inline unsigned fuzz_byte(struct fuzz_input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* With --trace: a line on stderr, indented by the interrupt nesting @depth. */
__attribute__((format(printf, 2, 3))) void fuzz_tr(unsigned depth, const char *fmt, ...);

/* Report a violation of fuzzer @name; does not return. */
__attribute__((noreturn, format(printf, 2, 3))) void fuzz_violation(const char *name,
								     const char *fmt, ...);

/* The replay's main(): runs @one on every input under argv's PATHs. */
int fuzz_main(int argc, char **argv, int (*one)(const uint8_t *data, size_t size));

#endif
