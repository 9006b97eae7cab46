/* SPDX-License-Identifier: MIT */
/*
 * Corpus walking for the fuzzers' plain replay drivers (tests/fuzz/replay.c,
 * tests/x86_64/fuzz_x86.c): a file is one input, a directory is every input
 * below it (dot files skipped), in readdir order.
 */
#ifndef TLBB_TESTS_FUZZ_WALK_H
#define TLBB_TESTS_FUZZ_WALK_H

/* Calls @one on each input file under @path; the OR of its results, 1 if a
 * path cannot be read. */
int fuzz_walk(const char *path, int (*one)(const char *file));

#endif
