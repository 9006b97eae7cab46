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
 */
#ifndef TLBB_TESTS_ORACLE_FUZZDRV_H
#define TLBB_TESTS_ORACLE_FUZZDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern bool fuzz_trace;

/* Report a violation of fuzzer @name; does not return. */
__attribute__((noreturn, format(printf, 2, 3))) void fuzz_violation(const char *name,
								     const char *fmt, ...);

/* The replay's main(): runs @one on every input under argv's PATHs. */
int fuzz_main(int argc, char **argv, int (*one)(const uint8_t *data, size_t size));

#endif
