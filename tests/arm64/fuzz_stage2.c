/* SPDX-License-Identifier: MIT */
/*
 * Sequence fuzzer for the real stage-2 backend (arch/arm64/stage2.c, built
 * with -DTLBB_ARM64_RECORD) over the arm64 TLB model with its stage-2 rules
 * (tests/oracle/a64_model.c: per-CPU VTTBR_EL2, TLBIs tagged with the VMID
 * in effect at issue, pending on the issuing CPU until its DSB ISH,
 * stage-2-only and combined entries), checked after every step against the
 * reference rule (tests/oracle/refrule.c). docs/stage2.md explains it.
 *
 * The input is a program. Byte 0 configures:
 *   bit 0 range ops (FEAT_TLBIRANGE)    bit 1 FEAT_LPA2 (with range ops)
 *   bit 2 max_tlbi_ops = 4              bit 3 four VMs (a batch can overflow
 *                                             its three VMID slots)
 *   bit 4 core threshold 8 pages
 * Byte 1: the VM each of CPUs 0..3 has loaded (2 bits each; beyond the VMs:
 * idle, VMID 0). Then up to MAXOPS operations (do_op()).
 *
 * VMs: VMID 1..4 with their own stage-2 roots. VM 3 uses the same IPAs as
 * VM 0, and every guest the same VAs: only the VMID tells their entries
 * apart. A guest access on CPU c goes through the VM c has loaded: a
 * combined entry, or the stage-2 translation (a stage-2-only entry or a walk)
 * from which a combined entry is built. Keys: page p of VM v is v * NPAGES + p.
 *
 * Tasks: batch b belongs to task b on CPU task_cpu[b]; a migration moves it
 * with tlbb_arm64_s2_context_switch() on the old CPU. Synchronous calls and
 * race checks run on the CPU the input names, whatever it has loaded: the
 * backend must switch VTTBR_EL2 (with ISB) and restore it; the check fails a
 * CPU whose VTTBR_EL2 was not restored.
 *
 * Usable (the check): an entry of a VMID some VM has (a stage-2-only entry
 * too: a later guest walk would build a combined entry from it).
 *
 *   fuzz_stage2 [--expect-violation] [--trace] PATH...  (tests/oracle/fuzzdrv.h)
 * Checker control: -DS2FUZZ_DROP_TLBI (the model's TLBIs remove nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlbbatch/arm64_s2.h>

#include "../oracle/a64_model.h"
#include "../oracle/refrule.h"
#include "../oracle/fuzzdrv.h"

#define FCPU A64M_NCPU
#define NVM 4
#define NPAGES 24
#define NBATCH 2
#define MAXOPS 300
#define GUEST_VA UINT64_C(0x10000000)
#define OWNER_SYNC (-2)
#define OWNER_MAKE (-3)

static const uint64_t ipa_base[NVM] = {
	UINT64_C(0x80000000),
	UINT64_C(0x1000000000000) - NPAGES * UINT64_C(4096), /* top of a 48-bit IPA space */
	UINT64_C(0x40003000),                                /* 12 KiB past 64 KiB: LPA2 aligns */
	UINT64_C(0x80000000),                                /* VM 0's IPAs, another VMID */
};

static struct {
	struct tlbb_arm64_s2_config cfg;
	struct tlbb_backend be;
	struct tlbb_space vm[NVM];
	unsigned nvm;
	struct tlbb_batch b[NBATCH];
	unsigned task_cpu[NBATCH];
	uint64_t loaded[FCPU]; /* each CPU's VTTBR_EL2 between backend calls */
	unsigned step;
} F;


#define violation(...) fuzz_violation("s2fuzz", __VA_ARGS__)

void a64m_fail(const char *what)
{
	violation("step %u: %s", F.step, what);
}

#define tr(...) fuzz_tr(0, __VA_ARGS__)

static unsigned key_of(unsigned v, unsigned p)
{
	return v * NPAGES + p;
}

static uint64_t ipa_of(unsigned v, unsigned p)
{
	return ipa_base[v] + (uint64_t)p * 4096;
}

static int vm_of_vmid(uint16_t vmid)
{
	for (unsigned v = 0; v < F.nvm; v++)
		if (F.vm[v].id == vmid)
			return (int)v;
	return -1;
}

static void check(const char *after)
{
	for (unsigned c = 0; c < FCPU; c++) {
		if (a64m.vttbr_written[c] != F.loaded[c] || a64m.vttbr[c] != F.loaded[c])
			violation("step %u (after %s): CPU %u's VTTBR_EL2 is %#llx, the port had %#llx",
				  F.step, after, c, (unsigned long long)a64m.vttbr_written[c],
				  (unsigned long long)F.loaded[c]);
		for (unsigned i = 0; i < A64M_TLB; i++) {
			const struct a64m_entry *e = &a64m.tlb[c][i];

			if (!e->valid || !rr_stale(e->key, e->version) || vm_of_vmid(e->vmid) < 0)
				continue;
			violation("step %u (after %s): CPU %u holds a stale %s entry of VMID %u, "
				  "VM %u page %u version %u (now %u%s); its invalidation has completed",
				  F.step, after, c, e->stage == 12 ? "combined" : "stage-2", e->vmid,
				  e->key / NPAGES, e->key % NPAGES, e->version, rr_cur(e->key),
				  rr_present(e->key) ? "" : ", cleared");
		}
	}
}

/* CPU @cpu changes page @p of VM @v (retired into @owner) and stores it. */
static bool change(unsigned cpu, unsigned v, unsigned p, bool present, int owner)
{
	unsigned k = key_of(v, p);

	if (rr_present(k) == present || !rr_retire(k, present, owner))
		return false;
	a64m_store(cpu, k, rr_cur(k), present);
	return true;
}

static void do_op(struct fuzz_input *in)
{
	const unsigned op = fuzz_byte(in) % 9;
	const unsigned a = fuzz_byte(in), bb = fuzz_byte(in);
	const unsigned v = (a >> 4) % F.nvm, p = bb % NPAGES, cpu = a % FCPU;
	const unsigned b = (a >> 2) % NBATCH;
	const unsigned flags = (bb & 0x80) ? TLBB_ADD_LEAF_ONLY : 0;
	struct tlbb_space *s = &F.vm[v];
	uint32_t ver;
	uint32_t start;

	switch (op) {
	case 0: { /* guest access on CPU cpu, through the VM it has loaded */
		int lv = vm_of_vmid((uint16_t)(F.loaded[cpu] >> 48));

		if (lv < 0)
			break;
		tr("%u: CPU %u guest reads VM %d page %u\n", F.step, cpu, lv, p);
		a64m_walk_s12(cpu, GUEST_VA + p * 4096u, ipa_of((unsigned)lv, p),
			      F.vm[lv].id, key_of((unsigned)lv, p), &ver);
		break;
	}
	case 1: /* the balloon clears one page and adds it */
		if (!change(F.task_cpu[b], v, p, false, (int)b))
			break;
		tr("%u: batch %u on CPU %u: VM %u page %u cleared, added\n", F.step, b,
		   F.task_cpu[b], v, p);
		a64m.cur = F.task_cpu[b];
		tlbb_add_page(&F.b[b], s, ipa_of(v, p), flags);
		break;
	case 2: { /* a range of up to 16 pages, one add */
		unsigned n = 1 + (bb >> 3) % 16;

		if (p + n > NPAGES)
			n = NPAGES - p;
		for (unsigned i = 0; i < n; i++)
			change(F.task_cpu[b], v, p + i, false, (int)b);
		tr("%u: batch %u on CPU %u: VM %u pages %u..%u cleared, range add\n", F.step, b,
		   F.task_cpu[b], v, p, p + n - 1);
		a64m.cur = F.task_cpu[b];
		tlbb_add_range(&F.b[b], s, ipa_of(v, p), ipa_of(v, p + n), flags);
		break;
	}
	case 3: /* flush */
		tr("%u: batch %u flushed on CPU %u\n", F.step, b, F.task_cpu[b]);
		a64m.cur = F.task_cpu[b];
		tlbb_flush(&F.b[b]);
		rr_discharge_owner((int)b);
		break;
	case 4: /* race check from any CPU */
		tr("%u: race check of VM %u on CPU %u\n", F.step, v, cpu);
		start = rr_now();
		a64m.cur = cpu;
		tlbb_flush_pending(s);
		rr_discharge_space(v, start);
		break;
	case 5: /* make: a cleared page gets a fresh frame (no TLBI needed) */
		if (!change(cpu, v, p, true, OWNER_MAKE))
			break;
		rr_discharge_owner(OWNER_MAKE); /* the cleared version is never cached */
		/* The port's own DSB ISHST after the make (hyp-arm64's install()):
		 * the entry is visible, and coherence-ordered before any later
		 * change of it by another CPU (which saw it under the lock). */
		a64m.cur = cpu;
		tlbb_a64_record(TLBB_A64_DSB_ISHST, 0);
		break;
	case 6: /* the unbatched path */
		if (!change(cpu, v, p, false, OWNER_SYNC))
			break;
		tr("%u: CPU %u sync flush of VM %u page %u\n", F.step, cpu, v, p);
		a64m.cur = cpu;
		tlbb_flush_range_sync(s, ipa_of(v, p), ipa_of(v, p + 1), flags);
		rr_discharge_owner(OWNER_SYNC);
		break;
	case 7: /* the task of batch b moves to another CPU */
		tr("%u: task %u moves from CPU %u to CPU %u\n", F.step, b, F.task_cpu[b], cpu);
		a64m.cur = F.task_cpu[b];
		tlbb_arm64_s2_context_switch(&F.b[b]);
		F.task_cpu[b] = cpu;
		break;
	case 8: /* one page cleared, the whole VM added */
		change(F.task_cpu[b], v, p, false, (int)b);
		tr("%u: batch %u on CPU %u: whole VM %u added\n", F.step, b, F.task_cpu[b], v);
		a64m.cur = F.task_cpu[b];
		tlbb_add_space(&F.b[b], s, 0);
		break;
	}
	check("the step");
}

static void setup(struct fuzz_input *in)
{
	const unsigned cfgb = fuzz_byte(in), loads = fuzz_byte(in);

	memset(&F, 0, sizeof(F));
	a64m_reset(12, (cfgb & 3) == 3);
	a64m.trace = fuzz_trace;
#ifdef S2FUZZ_DROP_TLBI
	a64m.drop_tlbi = true;
#endif
	F.cfg = (struct tlbb_arm64_s2_config){
		.max_tlbi_ops = (cfgb & 4) ? 4 : 0,
		.range_ops = (cfgb & 1) != 0,
		.lpa2 = (cfgb & 3) == 3,
	};
	tlbb_arm64_s2_backend_init(&F.be, &F.cfg);
	F.nvm = (cfgb & 8) ? 4 : 3;
	rr_reset(NVM * NPAGES, NPAGES);
	for (unsigned v = 0; v < F.nvm; v++) {
		tlbb_arm64_s2_space_init(&F.vm[v], &F.be, (uint16_t)(v + 1),
					 UINT64_C(0x40100000) + v * UINT64_C(0x100000), NULL);
		if (cfgb & 0x10)
			tlbb_space_set_threshold(&F.vm[v], 8);
	}
	for (unsigned b = 0; b < NBATCH; b++) {
		tlbb_batch_init(&F.b[b]);
		F.task_cpu[b] = b;
	}
	for (unsigned c = 0; c < FCPU; c++) {
		unsigned v = (loads >> (2 * c)) & 3;

		/* idle: VMID 0 with an empty root */
		F.loaded[c] = v < F.nvm ? tlbb_arm64_s2_vttbr(&F.vm[v]) : UINT64_C(0x40f00000);
		a64m.vttbr[c] = a64m.vttbr_written[c] = F.loaded[c];
	}
	tr("config: %s%s, max ops %u, %u VMs%s\n", F.cfg.range_ops ? "range ops" : "no range ops",
	   F.cfg.lpa2 ? " LPA2" : "", F.cfg.max_tlbi_ops ? F.cfg.max_tlbi_ops : 512, F.nvm,
	   (cfgb & 0x10) ? ", core threshold 8" : "");
}

static void run_program(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	setup(&in);
	for (F.step = 1; in.n && F.step <= MAXOPS; F.step++)
		do_op(&in);
	for (unsigned b = 0; b < NBATCH; b++) {
		a64m.cur = F.task_cpu[b];
		tlbb_flush(&F.b[b]);
		rr_discharge_owner((int)b);
	}
	check("the final flushes");
}

static int run_input(const uint8_t *data, size_t size)
{
	run_program(data, size);
	return 0;
}

int main(int argc, char **argv)
{
	return fuzz_main(argc, argv, run_input);
}
