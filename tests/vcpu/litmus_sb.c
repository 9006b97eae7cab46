/* SPDX-License-Identifier: MIT */
/*
 * Store-buffering litmus for the fence in the vcpu backend's add() (not a
 * meson test: it is probabilistic and slow; run it by hand, see
 * docs/vcpu.md).
 *
 *   reclaimer:  PTE = 0 (a plain store);  tlbb_add_page()  -> fence; read mask
 *   vCPU:       tlbb_vcpu_enter_space()   -> set mask bit; fence; read PTE
 *
 * Forbidden: the reclaimer misses the vCPU's mask bit (so posts nothing to
 * it) AND the vCPU still reads the old, valid PTE (so it may cache it). On
 * x86-64 the vCPU side is ordered anyway (its mask bit is set by a locked
 * RMW); the reclaimer side is a plain store followed by a load, which TSO
 * lets the store buffer reorder unless add() issues its fence. The program
 * counts forbidden outcomes; with the backend as shipped it must print 0.
 * Built from a copy of arch/vcpu/vcpu.c with that fence deleted it prints a
 * few per million rounds (figures in docs/vcpu.md).
 *
 * The harness's own PTE clears (an atomic exchange, i.e. a locked XCHG)
 * drain the store buffer themselves, which is why no deterministic scenario
 * in test_vcpu.c can see this fence missing on x86-64.
 */
#include <tlbbatch/vcpu.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tlbb_vcpu_host *host;
static struct tlbb_space space;
static uint64_t pte;      /* atomic: 1 = valid, 0 = cleared */
static unsigned arrive;   /* atomic: two-thread round barrier */
static unsigned rounds, vcpu_id;
static uint8_t *vcpu_saw; /* per round: the PTE the vCPU read */

static void meet(unsigned target)
{
	__atomic_fetch_add(&arrive, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&arrive, __ATOMIC_ACQUIRE) < target)
		;
}

static void *vcpu_main(void *arg)
{
	struct tlbb_vcpu *v = tlbb_vcpu_register(host);

	(void)arg;
	if (!v)
		abort();
	vcpu_id = tlbb_vcpu_id(v);
	meet(2);
	for (unsigned r = 0; r < rounds; r++) {
		meet(4 * r + 4);
		tlbb_vcpu_enter_space(v, &space);
		vcpu_saw[r] = (uint8_t)__atomic_load_n(&pte, __ATOMIC_ACQUIRE);
		meet(4 * r + 6);
		tlbb_vcpu_quiescent(v); /* applies the posts (mailbox half full) */
	}
	tlbb_vcpu_unregister(v);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	unsigned forbidden = 0;

	rounds = 1000000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned)strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--rounds N]\n", argv[0]);
			return 2;
		}
	}
	vcpu_saw = calloc(rounds ? rounds : 1, 1);
	host = tlbb_vcpu_host_create(NULL);
	if (!vcpu_saw || !host || tlbb_vcpu_space_init(host, &space, 1, NULL) != TLBB_OK)
		return 2;
	pthread_create(&th, NULL, vcpu_main, NULL);
	meet(2);
	for (unsigned r = 0; r < rounds; r++) {
		struct tlbb_batch b;

		/* Between rounds the vCPU waits at meet(): reset the space's mask. */
		for (unsigned i = 0; i < TLBB_CPUMASK_WORDS; i++)
			__atomic_store_n(&space.cpus.bits[i], 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&pte, 1, __ATOMIC_SEQ_CST);
		tlbb_batch_init(&b);
		meet(4 * r + 4);
		__atomic_store_n(&pte, 0, __ATOMIC_RELAXED); /* a plain MOV on x86-64 */
		tlbb_add_page(&b, &space, 0, 0);
		bool posted = tlbb_cpumask_test(&b.cpus, vcpu_id);
		meet(4 * r + 6);
		if (!posted && vcpu_saw[r] == 1)
			forbidden++;
		/* b is dropped unflushed: nothing is ever freed here, only ordering counted. */
	}
	pthread_join(th, NULL);
	printf("{\"rounds\": %u, \"forbidden\": %u}\n", rounds, forbidden);
	tlbb_vcpu_host_destroy(host);
	free(vcpu_saw);
	return forbidden ? 1 : 0;
}
