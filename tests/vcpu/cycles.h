/* SPDX-License-Identifier: MIT */
/*
 * A cheap, unserialised time stamp for the litmus programs (litmus_sb.c,
 * sb_shapes.c): they only need to line two threads up within a few hundred
 * cycles, so neither fences nor a calibrated unit matter.
 */
#ifndef TLBB_TESTS_VCPU_CYCLES_H
#define TLBB_TESTS_VCPU_CYCLES_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t now(void)
{
	return __rdtsc();
}
#elif defined(__aarch64__)
static inline uint64_t now(void)
{
	uint64_t t;

	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(t));
	return t;
}
#else
static inline uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#endif
