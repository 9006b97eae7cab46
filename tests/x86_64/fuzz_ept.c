/* SPDX-License-Identifier: MIT */
/*
 * The sequence fuzzer for the EPT backend (arch/x86_64/ept.c over the
 * maskgen engine), on the recorder's EPT model (recorder.c).
 *
 * Seeded random sequences of port operations on 4 CPUs and 3 VMs (spaces,
 * 8 guest pages each) plus the host's idle space:
 *   enter    CPU c's VM entry into VM v (tlbb_ept_vm_enter, then its VMCS
 *            runs v's EPTP)
 *   read     the guest on CPU c reads page p: a guest-physical and a
 *            combined mapping of the page's current frame are cached
 *   retarget CPU f points page p of VM v at a new frame and queues it in
 *            batch k (tlbb_add_page)
 *   flush    CPU f flushes batch k (tlbb_flush)
 *   check    CPU f runs the race check on VM v (tlbb_flush_pending)
 *   reborn   VM v ends (its CPUs enter the idle space, its batches are
 *            flushed) and a new VM is born in the same memory with the same
 *            EPTP (tlbb_space_fini, tlbb_space_init)
 * and, at every INVEPT a flush executes (before or after it), another CPU
 * may enter a VM, read, or retarget into the other batch: the interleavings
 * of a real machine, where the flush IPI lands while others run.
 *
 * The reference rule, checked after every operation: a CPU whose VMCS runs
 * VM v holds no mapping of v whose frame was retired by a completed flush
 * (flush or race check returned), nor one of an earlier life of v. A
 * mapping of a frame retired by a batch not yet flushed is allowed: that
 * frame is not reused yet.
 *
 *   fuzz_ept [--seeds N] [--ops N]                 all must pass
 *   fuzz_ept --expect-violation [--seeds N] ...    one must fail (controls)
 * Controls are compile-time: -DEPTFUZZ_DROP_INVEPT (INVEPT drops nothing),
 * -DEPTFUZZ_DROP_IPIS (no round is delivered), -DEPTFUZZ_NO_ENTRY_HOOK (the
 * port enters without tlbb_ept_vm_enter()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlbbatch/x86_ept.h>
#include "recorder.h"

#define FCPU 4
#define NVM 3
#define IDLE NVM
#define NPAGES 8
#define NB 2
#define MAXV 4096

#define GPA(p) (0x100000ull + (uint64_t)(p) * 4096u)
#define EPTP_OF(v) ((0x1000000ull * (uint64_t)((v) + 1)) | 0x1e)

enum ob { OB_NONE, OB_PENDING, OB_DONE };

static struct {
	struct tlbb_ept e;
	struct tlbb_ept_cpu pc[NCPU];
	struct tlbb_space sp[NVM + 1];
	tlbb_cpumask_t mask[NVM + 1];
	struct tlbb_batch b[NB];
	tlbb_cpumask_t bmask[NB];
	int in[FCPU];                 /* the VM each CPU's VMCS runs, -1 none */
	unsigned life[NVM];
	uint32_t cur[NVM][NPAGES];    /* current version of each page */
	uint8_t ob[NVM][NPAGES][MAXV];
	int8_t batch[NVM][NPAGES][MAXV];
	int flushing;                 /* batch being flushed, -1 */
	unsigned busy_cpu;            /* the CPU running the operation */
	unsigned nested_on[FCPU];     /* interrupting operations running on each CPU */
	bool in_op;
	uint64_t rng;
	unsigned nested_budget;
} F;

static jmp_buf escape;
static unsigned long long n_nested, n_rounds, n_invept; /* over all seeds */
static char last_msg[256];
static bool trace;

static void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	longjmp(escape, 1);
}

void rec_fail(const char *what)
{
	violation("harness: %s", what);
}

static unsigned rnd(unsigned n)
{
	F.rng ^= F.rng << 13;
	F.rng ^= F.rng >> 7;
	F.rng ^= F.rng << 17;
	return (unsigned)(F.rng % n);
}

/* A frame's name in the model: life and version. */
static uint32_t tag_of(unsigned v, uint32_t ver)
{
	return (F.life[v] << 16) | ver;
}

/* ---- the reference rule --------------------------------------------------------- */

static void check(const char *after)
{
	for (unsigned c = 0; c < FCPU; c++) {
		int v = F.in[c];

		if (v < 0 || v == IDLE)
			continue;
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			const struct ept_e *e = &R.ept[c][i];
			unsigned p;
			uint32_t ver;

			if (!e->valid || e->ep4ta != EPT_EP4TA(EPTP_OF(v)))
				continue;
			p = (unsigned)(((e->addr & 0xffffffffffull) - GPA(0)) / 4096u) % NPAGES;
			if ((e->tag >> 16) != F.life[v])
				violation("after %s: CPU %u in VM %d holds a mapping of its earlier life",
					  after, c, v);
			ver = e->tag & 0xffff;
			if (ver != F.cur[v][p] && F.ob[v][p][ver] == OB_DONE)
				violation("after %s: CPU %u in VM %d page %u: version %u retired and "
					  "flushed, still cached (current %u)",
					  after, c, v, p, ver, F.cur[v][p]);
		}
	}
}

/* ---- operations ------------------------------------------------------------------- */

static void op_enter(unsigned c, unsigned v)
{
	unsigned self = R.cur;

	R.cur = c;
#ifndef EPTFUZZ_NO_ENTRY_HOOK
	tlbb_ept_vm_enter(&F.e, &F.sp[v]);
#else
	/* the port enters without the hook; the very first entry still must
	 * set the mask bit, or no flush would ever reach the CPU */
	tlbb_space_cpu_enter(&F.sp[v], c);
#endif
	R.cur_eptp[c] = EPTP_OF(v);
	F.in[c] = (int)v;
	R.cur = self;
}

static void op_read(unsigned c, unsigned p)
{
	int v = F.in[c];

	unsigned used = 0;

	if (v < 0 || v == IDLE)
		return;
	for (unsigned i = 0; i < TLB_SIZE; i++)
		used += R.ept[c][i].valid;
	if (used + 2 > TLB_SIZE) /* full: the hardware evicts, here everything */
		for (unsigned i = 0; i < TLB_SIZE; i++)
			R.ept[c][i].valid = false;
	ept_fill(c, false, 0, 0, GPA(p), tag_of((unsigned)v, F.cur[v][p]));
	ept_fill(c, true, (uint16_t)(c + 1), 3, GPA(p) + 0x7f0000000000ull,
		 tag_of((unsigned)v, F.cur[v][p]));
}

static void op_retarget(unsigned f, unsigned v, unsigned p, unsigned k)
{
	unsigned self = R.cur;
	uint32_t old = F.cur[v][p];

	if (old + 1 >= MAXV)
		return;
	F.cur[v][p] = old + 1;
	F.ob[v][p][old] = OB_PENDING;
	F.batch[v][p][old] = (int8_t)k;
	R.cur = f;
	tlbb_add_page(&F.b[k], &F.sp[v], GPA(p), 0);
	R.cur = self;
}

static void complete(int k, int v)
{
	for (unsigned w = 0; w < NVM; w++)
		for (unsigned p = 0; p < NPAGES; p++)
			for (uint32_t ver = 0; ver < F.cur[w][p]; ver++)
				if (F.ob[w][p][ver] == OB_PENDING &&
				    ((k >= 0 && F.batch[w][p][ver] == k) || (v >= 0 && (int)w == v)))
					F.ob[w][p][ver] = OB_DONE;
}

static void op_flush(unsigned f, unsigned k)
{
	R.cur = f;
	F.flushing = (int)k;
	tlbb_flush(&F.b[k]);
	F.flushing = -1;
	R.cur = 0;
	complete((int)k, -1);
}

static void op_check(unsigned f, unsigned v)
{
	R.cur = f;
	tlbb_flush_pending(&F.sp[v]);
	R.cur = 0;
	complete(-1, (int)v);
}

static void space_up(unsigned v, uint64_t eptp)
{
	if (tlbb_space_init(&F.sp[v], tlbb_ept_backend(&F.e), v, NULL) != TLBB_OK ||
	    tlbb_space_set_cpumask(&F.sp[v], &F.mask[v]) != TLBB_OK ||
	    tlbb_ept_space_set_eptp(&F.sp[v], eptp) != TLBB_OK)
		violation("harness: space setup");
}

static void op_reborn(unsigned v)
{
	/* Lifecycle: no CPU may have v as the VM it entered last. */
	for (unsigned c = 0; c < FCPU; c++)
		if (F.in[c] == (int)v)
			op_enter(c, IDLE);
	for (unsigned k = 0; k < NB; k++)
		op_flush(0, k);
	if (tlbb_space_fini(&F.sp[v]) != TLBB_OK)
		violation("harness: fini");
	complete(-1, (int)v);
	F.life[v]++;
	memset(F.cur[v], 0, sizeof(F.cur[v]));
	memset(F.ob[v], 0, sizeof(F.ob[v]));
	space_up(v, EPTP_OF(v));
}

/* An interrupt at an INVEPT: another CPU acts meanwhile. */
static void at_insn(enum ev_kind k, bool after)
{
	unsigned c;

	(void)after;
	if (k != EV_INVEPT || !F.in_op || F.nested_budget == 0 || rnd(4) != 0)
		return;
	F.nested_budget--;
	c = rnd(FCPU);
	/*
	 * Another CPU, one that is not itself in the middle of something: a
	 * CPU whose own (interrupting) operation is stopped at an INVEPT is
	 * not free to start another, as a real CPU inside its VM-entry path
	 * (interrupts off) is not.
	 */
	if (c == F.busy_cpu || R.in_handler[c] || c == R.cur || F.nested_on[c])
		return;
	n_nested++;
	F.nested_on[c]++;
	switch (rnd(3)) {
	case 0:
		op_enter(c, rnd(NVM));
		break;
	case 1:
		op_read(c, rnd(NPAGES));
		break;
	default:
		if (F.flushing >= 0) {
			/* One draw per statement: argument order is unspecified in C,
			 * and a seed must mean the same sequence on every host. */
			unsigned v = rnd(NVM);
			unsigned p = rnd(NPAGES);

			op_retarget(c, v, p, (unsigned)(1 - F.flushing));
		}
		break;
	}
	F.nested_on[c]--;
}

static void run_seed(uint64_t seed, unsigned nops)
{
	struct tlbb_ept_config cfg = { TLBB_EPT_INVEPT_SINGLE | TLBB_EPT_INVEPT_ALL };

	memset(&R, 0, sizeof(R));
	memset(&F, 0, sizeof(F));
	F.rng = seed * 0x9e3779b97f4a7c15ull + 1;
	F.flushing = -1;
	R.ring = true;
#ifdef EPTFUZZ_DROP_INVEPT
	R.drop_invept = true;
#endif
#ifdef EPTFUZZ_DROP_IPIS
	R.drop_ipis = true;
#endif
	if (rnd(4) == 0)
		cfg.features = TLBB_EPT_INVEPT_ALL;
	if (tlbb_ept_init(&F.e, &cfg, F.pc, NCPU) != TLBB_OK)
		violation("harness: init");
	for (unsigned v = 0; v <= NVM; v++)
		space_up(v, EPTP_OF(v));
	for (unsigned k = 0; k < NB; k++) {
		tlbb_batch_init(&F.b[k]);
		tlbb_batch_set_cpumask(&F.b[k], &F.bmask[k]);
	}
	for (unsigned c = 0; c < FCPU; c++)
		F.in[c] = -1;
	R.at_insn = at_insn;
	for (unsigned i = 0; i < nops; i++) {
		unsigned op = rnd(100), c = rnd(FCPU);
		const char *name;

		F.in_op = true;
		F.busy_cpu = c;
		F.nested_budget = 3;
		if (op < 20) {
			name = "enter";
			op_enter(c, rnd(NVM));
		} else if (op < 50) {
			name = "read";
			op_read(c, rnd(NPAGES));
		} else if (op < 75) {
			name = "retarget";
			unsigned v = rnd(NVM);
			unsigned p = rnd(NPAGES);

			op_retarget(c, v, p, rnd(NB)); /* one draw per statement: see at_insn() */
		} else if (op < 90) {
			name = "flush";
			op_flush(c, rnd(NB));
		} else if (op < 98) {
			name = "race check";
			op_check(c, rnd(NVM));
		} else {
			name = "reborn";
			F.in_op = false;
			op_reborn(rnd(NVM));
		}
		F.in_op = false;
		if (trace)
			fprintf(stderr, "%u: %s on CPU %u\n", i, name, c);
		/* drop mappings now and then: TLB capacity, as hardware does */
		if (rnd(8) == 0)
			for (unsigned x = 0; x < FCPU; x++)
				for (unsigned j = 0; j < TLB_SIZE; j++)
					if (rnd(2))
						R.ept[x][j].valid = false;
		check(name);
	}
	n_rounds += R.nrounds;
	n_invept += count_ev(NCPU, EV_INVEPT, 0);
}

int main(int argc, char **argv)
{
	/* static: kept across the longjmp of a violation */
	static unsigned seeds = 300, nops = 200, s;
	static bool expect;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expect-violation") == 0)
			expect = true;
		else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			seeds = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
			nops = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--trace") == 0)
			trace = true;
	}
	for (s = 1; s <= seeds; s++) {
		if (setjmp(escape) == 0) {
			run_seed(s, nops);
			continue;
		}
		if (!expect) {
			printf("FAIL: seed %u: %s\n", s, last_msg);
			return 1;
		}
		printf("found: seed %u: %s\n", s, last_msg);
		return 0;
	}
	if (expect) {
		printf("FAIL: no violation in %u seeds x %u operations although one was expected\n",
		       seeds, nops);
		return 1;
	}
	printf("ok: %u seeds x %u operations, no violation (%llu IPI rounds, %llu INVEPTs, "
	       "%llu operations interleaved at an INVEPT)\n",
	       seeds, nops, n_rounds, n_invept, n_nested);
	return 0;
}
