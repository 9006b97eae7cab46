/* SPDX-License-Identifier: MIT */
/*
 * The reference rule of the backend oracles, independent of any ISA: which
 * retired translations may still be usable (tests/arm64/fuzz_arm64.c;
 * docs/arm64fuzz.md). An ISA model (a64_model.h, later stage 2 and riscv64)
 * says which entries a CPU holds and which of them it could use; this module
 * says which of them must be gone.
 *
 * A KEY is one page-table entry the driver tracks (a leaf PTE, or a table
 * entry): keys are numbered 0..nkeys-1, grouped by space (space s owns
 * [s * per_space, (s + 1) * per_space)). Every key has a version; a change
 * of the entry (clear, remap, table freed) RETIRES the current version into
 * an OWNER: a batch (>= 0) or a synchronous call (< 0). A retired version is
 * DISCHARGED when
 *   - its owner completes (rr_discharge_owner(): the batch's flush, the
 *     synchronous call's return), or
 *   - a race check of its space that started after the retirement returns,
 *     if the owner is a batch (rr_discharge_space());
 * nothing else discharges it. After every step, a usable entry of a
 * discharged version is a violation (rr_stale()). Undischarged retired
 * versions may still be cached: that is what batching means.
 */
#ifndef TLBB_TESTS_ORACLE_REFRULE_H
#define TLBB_TESTS_ORACLE_REFRULE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The oracle's own loops (scans of every TLB entry, every key) are left out
 * of libFuzzer's coverage: their comparisons tell the fuzzer nothing about
 * the backend and, traced, they cost most of each execution.
 */
#if defined(__clang__)
#define ORACLE_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define ORACLE_NOCOV
#endif

#define RR_MAXKEYS 512
#define RR_MAXV 32 /* versions per key; rr_retire() refuses beyond */

void rr_reset(unsigned nkeys, unsigned per_space);
/* Retire @key's current version into @owner; the entry becomes @present
 * (a remap) or not. False (nothing changed) when the key is out of versions:
 * the driver then leaves the entry alone. */
bool rr_retire(unsigned key, bool present, int owner);
/* Would rr_retire(@key) succeed? */
bool rr_can_retire(unsigned key);
/* The owner has completed: its versions are discharged. */
void rr_discharge_owner(int owner);
/* A race check of @space that started at rr_now() == @start has returned. */
void rr_discharge_space(unsigned space, uint32_t start);
/* Retirements so far: a race check's start stamp. */
uint32_t rr_now(void);
/* The version a walk reads now (program order), and whether it is present. */
uint32_t rr_cur(unsigned key);
bool rr_present(unsigned key);
/* @version of @key is retired and discharged: no CPU may use it. */
bool rr_stale(unsigned key, uint32_t version);

#endif
