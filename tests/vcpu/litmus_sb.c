/* SPDX-License-Identifier: MIT */
/*
 * Store-buffering litmus for the two flusher-side fences of the vcpu
 * backend (docs/vcpulitmus.md has the design, the figures and what it can
 * and cannot show).
 *
 *   flusher:  PTE = 0 (a plain store);  tlbb_add_page()      -> add():         fence; read mask
 *                                   or  tlbb_flush_pending() -> flush_space(): fence; read mask
 *   vCPU:     tlbb_vcpu_enter_space()  -> set mask bit; fence;  read PTE
 *
 * Forbidden: the vCPU read the old, valid PTE (so a real vCPU could cache
 * it) AND the flusher missed its mask bit, so no invalidation for that
 * space ever reaches the vCPU. Which invalidations reached it is recorded
 * by the host's invalidate callback on the vCPU thread at its safe points,
 * i.e. the backend's real delivery path, not the flusher's snapshot.
 *
 * The contract (include/tlbbatch/tlbbatch.h) lets the caller clear the PTE
 * with a plain store and leaves the ordering to the backend: here the clear
 * is a relaxed store, a plain MOV on x86-64, which TSO may keep in the
 * store buffer while the following load of the mask is performed. Only the
 * backend's fence forbids the outcome.
 *
 * Making a rare reordering frequent (the techniques of litmus7/diy):
 *   - the two threads are pinned to different CPUs;
 *   - rounds are grouped in batches; inside a batch nothing synchronises
 *     the threads but the clock: round j starts on both sides when the
 *     timestamp counter reaches t0 + j * period, so there is no barrier
 *     write whose cache miss would skew the two sides;
 *   - the vCPU's start is shifted by a small offset swept over
 *     [-spread, +spread] cycles (shuffled per batch), so some rounds align
 *     the two windows whatever the fixed skew between the threads is;
 *   - every round of a batch uses its own space and PTE, each on its own
 *     cache line (round r uses slot r % nslots), so a round never finds
 *     the lines where the previous round left them; with --preread (the
 *     default) the vCPU also reads every PTE of the batch first, so the
 *     flusher's PTE store must take the line back from the vCPU's cache
 *     (measured: no clear effect either way; kept as the default).
 *
 * Modes: --mode add: the flusher queues the page in one batch per batch of
 * rounds (tlbb_add_page), flushed after the rounds; --mode space: each
 * space was left pending by an earlier add, so the flusher's race check
 * (tlbb_flush_pending) calls flush_space(), which posts and, when it saw
 * the vCPU online, waits a grace period (the vCPU passes safe points while
 * it waits for its next round). The run stops after --ms milliseconds, or
 * at the first forbidden outcome with --expect-forbidden (negative
 * control: exit 0 only if one was seen). --no-add-fence / --no-space-fence
 * set TLBB_VCPU_FAULT_NO_ADD_FENCE / NO_SPACE_FENCE on the host. Prints one
 * JSON line with the four outcomes. Exit: 0 pass, 1 fail, 77 (meson: skip)
 * when an allowed outcome never occurred, i.e. the two sides never raced.
 */
#define _GNU_SOURCE
#include <tlbbatch/vcpu.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cycles.h"

struct slot {
	struct tlbb_space space;
	tlbb_cpumask_t cpus;
} __attribute__((aligned(64)));

struct pte_line {
	uint64_t pte; /* 1 = valid, 0 = cleared */
} __attribute__((aligned(64)));

enum mode { MODE_ADD, MODE_SPACE };

#define FORBIDDEN (outcome[1][0]) /* old PTE read, never invalidated */

static struct {
	enum mode mode;
	unsigned nslots, batch, period, spread, faults, margin;
	unsigned ms;
	bool expect_forbidden, pin, preread, cycle;
} opt = {
	.mode = MODE_ADD, .nslots = 1024, .batch = 256, .period = 0, .spread = 250,
	.ms = 3000, .margin = 600, .pin = true, .preread = true,
};

static struct tlbb_vcpu_host *host;
static struct slot *slots;
static struct pte_line *ptes;
static uint8_t *saw;           /* per round of the batch: the PTE the vCPU read */
static int32_t *voff;          /* per round: the vCPU's start offset (cycles) */
static uint64_t *invalidated;  /* per slot: batch number of the last invalidation received */

/* Batch hand-off: the flusher publishes (t0, base) then bumps `go`. */
static uint64_t go_seq, batch_t0; /* atomic */
static unsigned batch_base;       /* atomic */
static uint64_t done_seq;         /* atomic: the vCPU finished batch N's rounds */
static uint64_t check_seq;        /* atomic: the flusher completed batch N's flushes */
static uint64_t ack_seq;          /* atomic: the vCPU drained after check N */
static int stop;                  /* atomic */
static int vcpu_cpu = -1, flusher_cpu = -1;

/* Runs on the vCPU thread when it drains (see drain() in vcpu.c). */
static void on_invalidate(struct tlbb_vcpu *v, uint32_t asid, uint64_t vpn, uint64_t npages,
			  void *arg)
{
	uint64_t batch = __atomic_load_n(&go_seq, __ATOMIC_RELAXED);

	(void)v, (void)vpn, (void)npages, (void)arg;
	if (asid == TLBB_VCPU_ALL_ASIDS) {
		/* A mailbox overflow: everything was dropped (never with our sizes). */
		for (unsigned s = 0; s < opt.nslots; s++)
			invalidated[s] = batch;
		return;
	}
	if (asid >= 1 && asid <= opt.nslots)
		invalidated[asid - 1] = batch;
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void spin_until(uint64_t t)
{
	while (now() < t)
		;
}

static void *vcpu_main(void *arg)
{
	struct tlbb_vcpu *v;
	uint64_t seen = 0;

	(void)arg;
	pin_to(vcpu_cpu);
	v = tlbb_vcpu_register(host);
	if (!v || tlbb_vcpu_id(v) != 0)
		abort();
	for (;;) {
		uint64_t seq, t0;
		unsigned base;

		/* Idle between batches: safe points, so flushers' grace periods end. */
		while ((seq = __atomic_load_n(&go_seq, __ATOMIC_ACQUIRE)) == seen) {
			if (__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
				goto out;
			tlbb_vcpu_quiescent(v);
			if (__atomic_load_n(&check_seq, __ATOMIC_ACQUIRE) == seen &&
			    __atomic_load_n(&ack_seq, __ATOMIC_RELAXED) != seen)
				__atomic_store_n(&ack_seq, seen, __ATOMIC_RELEASE);
		}
		seen = seq;
		t0 = __atomic_load_n(&batch_t0, __ATOMIC_RELAXED);
		base = __atomic_load_n(&batch_base, __ATOMIC_RELAXED);
		if (opt.preread)
			for (unsigned j = 0; j < opt.batch; j++)
				(void)__atomic_load_n(&ptes[(base + j) % opt.nslots].pte, __ATOMIC_RELAXED);
		for (unsigned j = 0; j < opt.batch; j++) {
			unsigned s = (base + j) % opt.nslots;
			uint64_t start = t0 + (uint64_t)j * opt.period + (int64_t)voff[j];

			if (opt.cycle) {
				tlbb_vcpu_online(v);
			} else {
				/*
				 * Safe points while far from the start: a flush_space()
				 * that saw us in an earlier round waits a grace period.
				 */
				while (now() + opt.margin < start)
					tlbb_vcpu_quiescent(v);
			}
			spin_until(start);
			tlbb_vcpu_enter_space(v, &slots[s].space);
			saw[j] = (uint8_t)__atomic_load_n(&ptes[s].pte, __ATOMIC_RELAXED);
			if (opt.cycle)
				tlbb_vcpu_offline(v);
		}
		if (opt.cycle)
			tlbb_vcpu_online(v);
		__atomic_store_n(&done_seq, seq, __ATOMIC_RELEASE);
	}
out:
	tlbb_vcpu_unregister(v);
	return NULL;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double secs_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static void pick_cpus(void)
{
	cpu_set_t set;
	int first = -1;

	if (!opt.pin || sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (first < 0) {
			first = c;
		} else {
			flusher_cpu = first;
			vcpu_cpu = c;
			return;
		}
	}
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--mode add|space] [--ms N] [--expect-forbidden]\n"
		"          [--no-add-fence] [--no-space-fence] [--faults MASK]\n"
		"          [--slots N] [--batch N] [--period CYCLES] [--spread CYCLES]\n"
		"          [--margin CYCLES] [--no-pin] [--no-preread] [--cycle]\n",
		argv0);
	return 2;
}

int main(int argc, char **argv)
{
	struct tlbb_vcpu_config cfg = { 0 };
	pthread_t th;
	struct timespec start;
	uint64_t late = 0, rounds = 0;
	/* [PTE the vCPU read: 1 = old][invalidation reached it] */
	uint64_t outcome[2][2] = { { 0 } };
	double first_at = -1, elapsed;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--expect-forbidden")) {
			opt.expect_forbidden = true;
		} else if (!strcmp(a, "--no-pin")) {
			opt.pin = false;
		} else if (!strcmp(a, "--no-add-fence")) {
			opt.faults |= TLBB_VCPU_FAULT_NO_ADD_FENCE;
		} else if (!strcmp(a, "--no-space-fence")) {
			opt.faults |= TLBB_VCPU_FAULT_NO_SPACE_FENCE;
		} else if (!strcmp(a, "--cycle")) {
			opt.cycle = true;
		} else if (!strcmp(a, "--no-preread")) {
			opt.preread = false;
		} else if (val && !strcmp(a, "--mode")) {
			if (!strcmp(val, "add"))
				opt.mode = MODE_ADD;
			else if (!strcmp(val, "space"))
				opt.mode = MODE_SPACE;
			else
				return usage(argv[0]);
			i++;
		} else if (val && (!strcmp(a, "--ms") || !strcmp(a, "--faults") ||
				   !strcmp(a, "--slots") || !strcmp(a, "--batch") ||
				   !strcmp(a, "--period") || !strcmp(a, "--spread") ||
				   !strcmp(a, "--margin"))) {
			unsigned n = (unsigned)strtoul(val, NULL, 0);

			i++;
			if (!strcmp(a, "--ms"))
				opt.ms = n;
			else if (!strcmp(a, "--faults"))
				opt.faults = n;
			else if (!strcmp(a, "--slots"))
				opt.nslots = n;
			else if (!strcmp(a, "--batch"))
				opt.batch = n;
			else if (!strcmp(a, "--margin"))
				opt.margin = n;
			else if (!strcmp(a, "--period"))
				opt.period = n;
			else
				opt.spread = n;
		} else {
			return usage(argv[0]);
		}
	}
	if (!opt.period)
		/*
		 * flush_space() waits a grace period whenever it saw the vCPU:
		 * a shorter period lets the flusher fall behind for the rest of
		 * the batch (measured: docs/vcpulitmus.md).
		 */
		opt.period = opt.mode == MODE_ADD ? 1500 : 6000;
	if (!opt.nslots || !opt.batch || opt.batch > opt.nslots || opt.nslots > 60000 ||
	    opt.spread >= opt.period)
		return usage(argv[0]);

	/* One vCPU (id 0); a mailbox large enough never to overflow in a batch. */
	cfg.max_vcpus = 1;
	cfg.mailbox_entries = 4 * opt.batch;
	cfg.invalidate = on_invalidate;
	cfg.faults = opt.faults;
	host = tlbb_vcpu_host_create(&cfg);
	slots = aligned_alloc(64, opt.nslots * sizeof(*slots));
	ptes = aligned_alloc(64, opt.nslots * sizeof(*ptes));
	saw = calloc(opt.batch, 1);
	voff = calloc(opt.batch, sizeof(*voff));
	invalidated = calloc(opt.nslots, sizeof(*invalidated));
	if (!host || !slots || !ptes || !saw || !voff || !invalidated)
		return 2;
	memset(slots, 0, opt.nslots * sizeof(*slots));
	for (unsigned s = 0; s < opt.nslots; s++) {
		if (tlbb_vcpu_space_init(host, &slots[s].space, s + 1, NULL) != TLBB_OK)
			return 2;
		tlbb_space_set_cpumask(&slots[s].space, &slots[s].cpus);
		ptes[s].pte = 1;
	}
	pick_cpus();
	if (opt.pin && flusher_cpu < 0) {
		/* One CPU: the two sides never run at the same time, nothing to see. */
		fprintf(stderr, "litmus: fewer than 2 CPUs in the affinity mask: skipped\n");
		tlbb_vcpu_host_destroy(host);
		return 77;
	}
	pin_to(flusher_cpu);
	if (pthread_create(&th, NULL, vcpu_main, NULL))
		return 2;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (uint64_t seq = 1;; seq++) {
		unsigned base = (unsigned)((seq - 1) * opt.batch % opt.nslots);
		struct tlbb_batch b;
		uint64_t t0;

		/* ---- set up: the vCPU idles at safe points meanwhile ---- */
		tlbb_batch_init(&b);
		for (unsigned j = 0; j < opt.batch; j++) {
			unsigned s = (base + j) % opt.nslots;

			__atomic_store_n(&slots[s].cpus.bits[0], 0, __ATOMIC_RELAXED);
			__atomic_store_n(&ptes[s].pte, 1, __ATOMIC_RELAXED);
			if (opt.mode == MODE_SPACE)
				/* Mask empty: posts nothing, but leaves the space pending,
				 * so the race check below really calls flush_space(). */
				tlbb_add_page(&b, &slots[s].space, 0, 0);
		}
		tlbb_flush(&b); /* no target: no grace period */
		/* A shuffled sweep of offsets in [-spread, +spread]. */
		for (unsigned j = 0; j < opt.batch; j++)
			voff[j] = opt.spread ? (int32_t)(j % (2 * opt.spread / 16 + 1)) * 16 -
						       (int32_t)opt.spread
					     : 0;
		for (unsigned j = opt.batch - 1; j > 0; j--) {
			unsigned k = (unsigned)(rnd() % (j + 1));
			int32_t t = voff[j];

			voff[j] = voff[k];
			voff[k] = t;
		}
		t0 = now() + 20 * (uint64_t)opt.period;
		__atomic_store_n(&batch_t0, t0, __ATOMIC_RELAXED);
		__atomic_store_n(&batch_base, base, __ATOMIC_RELAXED);
		__atomic_store_n(&go_seq, seq, __ATOMIC_RELEASE);

		/* ---- the rounds ---- */
		for (unsigned j = 0; j < opt.batch; j++) {
			unsigned s = (base + j) % opt.nslots;

			uint64_t target = t0 + (uint64_t)j * opt.period, t;

			while ((t = now()) < target)
				;
			if (t - target > opt.spread)
				late++;
			/* The caller's PTE clear: plain, the backend owes the ordering. */
			__atomic_store_n(&ptes[s].pte, 0, __ATOMIC_RELAXED);
			if (opt.mode == MODE_ADD)
				tlbb_add_page(&b, &slots[s].space, 0, 0);
			else
				tlbb_flush_pending(&slots[s].space);
		}

		/* ---- check: complete the batch, let the vCPU drain, compare ---- */
		while (__atomic_load_n(&done_seq, __ATOMIC_ACQUIRE) != seq)
			;
		tlbb_flush(&b);
		__atomic_store_n(&check_seq, seq, __ATOMIC_RELEASE);
		while (__atomic_load_n(&ack_seq, __ATOMIC_ACQUIRE) != seq)
			;
		for (unsigned j = 0; j < opt.batch; j++) {
			unsigned s = (base + j) % opt.nslots;
			bool got = invalidated[s] == seq;

			outcome[saw[j]][got]++;
			if (saw[j] && !got && first_at < 0)
				first_at = secs_since(&start);
		}
		rounds += opt.batch;
		elapsed = secs_since(&start);
		if (elapsed * 1000 >= opt.ms || (opt.expect_forbidden && FORBIDDEN))
			break;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	tlbb_vcpu_host_destroy(host);

	/*
	 * The three allowed outcomes, named by what the vCPU read and whether
	 * the flusher reached it: "old PTE, invalidated" (vCPU first),
	 * "new PTE, not invalidated" (flusher first), "new PTE, invalidated"
	 * (interleaved). The last needs the two windows to overlap: without it
	 * the run never raced and proves nothing.
	 */
	printf("{\"mode\": \"%s\", \"faults\": %u, \"pinned\": %s, \"slots\": %u, "
	       "\"batch\": %u, \"period\": %u, \"spread\": %u, \"rounds\": %llu, "
	       "\"seconds\": %.3f, \"old_invalidated\": %llu, \"new_not_invalidated\": %llu, "
	       "\"new_invalidated\": %llu, \"forbidden\": %llu, "
	       "\"forbidden_per_million\": %.2f, \"forbidden_per_second\": %.2f, "
	       "\"first_forbidden_s\": %.3f, \"flusher_late_rounds\": %llu}\n",
	       opt.mode == MODE_ADD ? "add" : "space", opt.faults, flusher_cpu >= 0 ? "true" : "false",
	       opt.nslots, opt.batch, opt.period, opt.spread, (unsigned long long)rounds, elapsed,
	       (unsigned long long)outcome[1][1], (unsigned long long)outcome[0][0],
	       (unsigned long long)outcome[0][1], (unsigned long long)FORBIDDEN,
	       rounds ? 1e6 * (double)FORBIDDEN / (double)rounds : 0.0,
	       elapsed > 0 ? (double)FORBIDDEN / elapsed : 0.0, first_at, (unsigned long long)late);
	if (opt.expect_forbidden) {
		if (!FORBIDDEN)
			fprintf(stderr, "litmus: no forbidden outcome in %.1f s: the fault was not observed\n",
				elapsed);
		return FORBIDDEN ? 0 : 1;
	}
	if (FORBIDDEN) {
		fprintf(stderr, "litmus: %llu forbidden outcomes: the vCPU read a cleared PTE's old value "
			"and was never sent its invalidation\n", (unsigned long long)FORBIDDEN);
		return 1;
	}
	if (!outcome[0][1] || !outcome[1][1] || !outcome[0][0]) {
		fprintf(stderr, "litmus: the two sides never raced (an allowed outcome is missing): "
			"nothing shown\n");
		return 77; /* meson: skipped, not passed */
	}
	return 0;
}
