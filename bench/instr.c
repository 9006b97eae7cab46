/* SPDX-License-Identifier: MIT */
/*
 * The instruction-count harness: one program per variant (BENCH_V_*), each
 * making the same calls through the same two out-of-line wrappers, so that
 *
 *   valgrind --tool=callgrind --toggle-collect=bench_add   (or bench_check)
 *
 * counts exactly the instructions of those calls, wrapper included, and
 * nothing of the setup, the flushes or the loop.
 *
 * The pattern, identical for every variant: rounds of 64 adds of
 * consecutive 4 KiB pages (every other one writable) into one batch, the
 * batch's flush, one race check that finds the adds and flushes (both not
 * counted), then 64 race checks that find nothing pending (counted: the
 * idle check, the common case for mprotect/munmap).
 *
 *   instr-<variant> [N]      N adds and N idle checks (rounded up to 64)
 *
 * Prints one JSON object: the variant and its call counts, for bench/run.py.
 */
#include <stdio.h>
#include <stdlib.h>

#define ROUND_PAGES 64u
#define PAGE_SHIFT 12

#if defined(BENCH_V_LINUX)
#include "linux_batch.h"
typedef struct linux_batch batch_t;
typedef struct linux_mm space_t;
#define ADD_WRITABLE 1u
#else
#include <tlbbatch/backend.h>
typedef struct tlbb_batch batch_t;
typedef struct tlbb_space space_t;
#define ADD_WRITABLE TLBB_ADD_WRITABLE
#endif

#if defined(BENCH_V_X86_64)
#include <tlbbatch/x86_64.h>
#elif defined(BENCH_V_ARM64)
#include <tlbbatch/arm64.h>

#include "tlbi.h"
#elif defined(BENCH_V_SIM_ARM64) || defined(BENCH_V_SIM_X86)
#include <tlbbatch/sim.h>
#elif defined(BENCH_V_VCPU)
#include <tlbbatch/vcpu.h>
#endif

int bench_add(batch_t *b, space_t *s, uint64_t va, unsigned flags);
bool bench_check(space_t *s);

/*
 * The counted calls. The empty asm after the call keeps it a call: a tail
 * jump would leave the wrapper before the library runs, and callgrind
 * would stop counting there.
 */
__attribute__((noinline)) int bench_add(batch_t *b, space_t *s, uint64_t va, unsigned flags)
{
	int rc;

#if defined(BENCH_V_LINUX)
	linux_add_pending(b, s, va, (flags & ADD_WRITABLE) != 0);
	rc = 0;
#else
	rc = tlbb_add_page(b, s, va, flags);
#endif
	__asm__ volatile("" : "+r"(rc) : : "memory");
	return rc;
}

__attribute__((noinline)) bool bench_check(space_t *s)
{
	bool flushed;

#if defined(BENCH_V_LINUX)
	flushed = linux_flush_batched_pending(s);
#else
	flushed = tlbb_flush_pending(s);
#endif
	__asm__ volatile("" : "+r"(flushed) : : "memory");
	return flushed;
}

/* ---- per-variant setup ---------------------------------------------------- */

static space_t space_obj;
static space_t *space = &space_obj;
static batch_t batch;

#if !defined(BENCH_V_LINUX)
static tlbb_cpumask_t space_mask; /* the port's mask of the space (mm_cpumask) */
#endif

#if !defined(BENCH_V_VCPU)
/* CPUs 1-3 may cache the space; the caller is CPU 0 (see port_stubs.c). */
static void enter_cpus(void)
{
#if !defined(BENCH_V_LINUX)
	tlbb_space_set_cpumask(space, &space_mask);
#endif
	for (unsigned c = 1; c < 4; c++)
#if defined(BENCH_V_LINUX)
		linux_mm_cpu_enter(space, c);
#else
		tlbb_space_cpu_enter(space, c);
#endif
}
#endif

#if defined(BENCH_V_LINUX)
#define VARIANT "linux"
static int setup(void)
{
	linux_mm_init(space);
	linux_batch_init(&batch);
	enter_cpus();
	return 0;
}

static void flush_batch(void)
{
	linux_batch_flush(&batch);
}

static bool settle(void)
{
	return linux_flush_batched_pending(space);
}

static void finish(void)
{
	printf(", \"protocol\": \"set_tlb_ubc_flush_pending + x86 arch_tlbbatch_add_pending\"");
}

#else /* library variants */

static void flush_batch(void)
{
	tlbb_flush(&batch);
}

static bool settle(void)
{
	return tlbb_flush_pending(space);
}

#if defined(BENCH_V_X86_64)
#define VARIANT "x86_64"
static struct tlbb_x86 x86;
/* Ring 3: the port states the paging mode, so init reads no CR4. */
static const struct tlbb_x86_config bench_x86_cfg = { .features = TLBB_X86_PAGING_FROM_PORT };
static struct tlbb_x86_cpu x86_cpus[4];

static int setup(void)
{
	if (tlbb_x86_init(&x86, &bench_x86_cfg, x86_cpus, 4) != TLBB_OK ||
	    tlbb_space_init(space, tlbb_x86_backend(&x86), 1, NULL) != TLBB_OK)
		return -1;
	enter_cpus();
	return 0;
}

static void finish(void)
{
	printf(", \"build\": \"core + arch/x86_64 as the freestanding archive, port hooks stubbed\"");
}

#elif defined(BENCH_V_ARM64)
static unsigned long long a64_count[16];

#ifdef BENCH_A64_NOREC
#define VARIANT "arm64-norec"
/* Counts nothing: what is left of the recorder is the call itself. */
__attribute__((noinline)) void tlbb_a64_record(enum tlbb_a64_insn insn, uint64_t operand)
{
	__asm__ volatile("" : : "r"(insn), "r"(operand));
}
#else
#define VARIANT "arm64"
static volatile uint64_t a64_last_operand;

/* As the tests' recorder does, in little: count each instruction, keep the operand. */
void tlbb_a64_record(enum tlbb_a64_insn insn, uint64_t operand)
{
	if ((unsigned)insn < 16)
		a64_count[insn]++;
	a64_last_operand = operand;
}
#endif

static int setup(void)
{
	if (tlbb_space_init(space, &tlbb_arm64_backend, 1, NULL) != TLBB_OK)
		return -1;
	enter_cpus();
	return 0;
}

static void finish(void)
{
	printf(", \"recorder\": \"%s\", \"recorded_tlbi_vae1is\": %llu, \"recorded_dsb_ishst\": %llu",
#ifdef BENCH_A64_NOREC
	       "no-op",
#else
	       "counting",
#endif
	       a64_count[TLBB_A64_TLBI_VAE1IS], a64_count[TLBB_A64_DSB_ISHST]);
}

#elif defined(BENCH_V_SIM_ARM64) || defined(BENCH_V_SIM_X86)
#ifdef BENCH_V_SIM_ARM64
#define VARIANT "sim-arm64"
#define SIM_MODEL TLBB_SIM_ARM64
#else
#define VARIANT "sim-x86"
#define SIM_MODEL TLBB_SIM_X86
#endif
static struct tlbb_sim *sim;
static struct tlbb_sim_space sim_space;

static int setup(void)
{
	struct tlbb_sim_config cfg = { .ncpus = 4, .model = SIM_MODEL };

	sim = tlbb_sim_create(&cfg);
	if (!sim)
		return -1;
	tlbb_sim_cpu_enter(sim, 0);
	if (tlbb_sim_space_init(sim, &sim_space, 1, ROUND_PAGES) != TLBB_OK)
		return -1;
	space = &sim_space.space;
	enter_cpus();
	return 0;
}

static void finish(void)
{
	tlbb_sim_space_fini(&sim_space);
	tlbb_sim_destroy(sim);
}

#elif defined(BENCH_V_VCPU)
#define VARIANT "vcpu"
static struct tlbb_vcpu_host *host;
static struct tlbb_vcpu *self;

/*
 * The caller is the only vCPU and has the space entered: each add posts to
 * one mailbox (its own), and each flush drains it inline with no grace
 * period to wait for, since no other vCPU is online.
 */
static int setup(void)
{
	host = tlbb_vcpu_host_create(NULL);
	if (!host)
		return -1;
	self = tlbb_vcpu_register(host);
	if (!self || tlbb_vcpu_space_init(host, space, 1, NULL) != TLBB_OK)
		return -1;
	tlbb_space_set_cpumask(space, &space_mask);
	tlbb_vcpu_enter_space(self, space);
	return 0;
}

static void finish(void)
{
	printf(", \"vcpus\": 1");
	tlbb_space_fini(space);
	tlbb_vcpu_unregister(self);
	tlbb_vcpu_host_destroy(host);
}

#elif defined(BENCH_V_NOOP)
#define VARIANT "noop"
#include "nop_backend.h"

static int setup(void)
{
	if (tlbb_space_init(space, &nop_backend, 1, NULL) != TLBB_OK)
		return -1;
	enter_cpus();
	return 0;
}

static void finish(void)
{
}

#else
#error "define one BENCH_V_* variant"
#endif
#endif /* library variants */

int main(int argc, char **argv)
{
	unsigned long long n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000;
	unsigned long long rounds = (n + ROUND_PAGES - 1) / ROUND_PAGES, busy = 0;
	int errors = 0;

	if (rounds == 0 || setup() != 0) {
		fprintf(stderr, "instr-%s: setup failed\n", VARIANT);
		return 1;
	}
#if !defined(BENCH_V_LINUX)
	tlbb_batch_init(&batch);
#endif
	for (unsigned long long r = 0; r < rounds; r++) {
		for (unsigned k = 0; k < ROUND_PAGES; k++)
			errors += bench_add(&batch, space, (uint64_t)k << PAGE_SHIFT,
					    (k & 1) ? ADD_WRITABLE : 0) != 0;
		flush_batch();
		if (!settle())
			errors++; /* the adds must have left the space pending */
		for (unsigned k = 0; k < ROUND_PAGES; k++)
			busy += bench_check(space);
	}
	printf("{\"variant\": \"%s\", \"adds\": %llu, \"idle_checks\": %llu, \"checks_that_flushed\": %llu",
	       VARIANT, rounds * ROUND_PAGES, rounds * ROUND_PAGES, busy);
	finish();
	printf("}\n");
	if (errors || busy) {
		fprintf(stderr, "instr-%s: %d errors, %llu checks were not idle\n", VARIANT, errors, busy);
		return 1;
	}
	return 0;
}
