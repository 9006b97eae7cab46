/* SPDX-License-Identifier: MIT */
/*
 * The RISC-V TLB model: the ISA rules of the riscv64 oracle
 * (tests/riscv64/fuzz_riscv64.c, docs/riscv64.md "The proof").
 *
 * arch/riscv64/riscv64.c compiled with -DTLBB_RISCV_RECORD hands every fence
 * word, satp write and SBI call to the tlbb_rv_rec_*() functions defined
 * here. The model decodes the instruction WORD the backend produced (rs1 and
 * rs2 are the register fields of the word: x0 or not), never the backend's
 * C intent, and applies it on hart rvm.cur with the privileged spec's
 * meaning:
 *
 *   per-hart TLB   entries tagged with the ASID in satp at the walk, or
 *                  global (PTE.G): a global entry matches every ASID.
 *   SFENCE.VMA rs1, rs2
 *                  rs1 = x0: every address, else the page of rs1's value;
 *                  rs2 = x0: every ASID, global entries included, else the
 *                  NON-GLOBAL entries of ASID rs2 only. An rs1 value that is
 *                  not a valid virtual address of the paging mode (Sv39/48/
 *                  57: bits above the top one copy it) invalidates nothing.
 *                  Orders this hart's earlier stores before its later walks
 *                  and completes its pending SINVAL.VMAs.
 *   SINVAL.VMA     (Svinval) the same invalidation, but PENDING: it may be
 *                  performed at any moment until the hart's next
 *                  SFENCE.INVAL.IR (or SFENCE.VMA), and only then is it
 *                  ordered before later walks. A walk of an entry a pending
 *                  SINVAL.VMA would remove takes the worst moment: the
 *                  entry is gone and walked again from the page tables as
 *                  visible now, AFTER the invalidation, which will not
 *                  remove the refill. Illegal on a hart without Svinval.
 *   SFENCE.W.INVAL earlier stores before later SINVAL.VMAs (publishes them).
 *   SFENCE.INVAL.IR every pending SINVAL.VMA of this hart completes: the
 *                  entries it matches that were walked before it was
 *                  issued are removed.
 *   FENCE rw,rw    publishes this hart's earlier stores.
 *   satp write     the hart's ASID from now on; invalidates nothing.
 *   SBI RFENCE     (EID 0x52464E43) FID 1 remote_sfence_vma / FID 2
 *                  remote_sfence_vma_asid over (hart_mask, hart_mask_base):
 *                  on every named hart, before the call returns, the fence
 *                  an SFENCE.VMA per page of [start, start + size) (with the
 *                  ASID for FID 2) would do; start = size = 0 or size =
 *                  2^XLEN - 1 is the whole address space. A hart that does
 *                  not exist, or the calling hart itself, is a harness
 *                  failure (the backend must name the others only).
 *
 * Page-table stores (rvm_store()) stay invisible to every walker until the
 * storing hart orders them, in two steps:
 *   - to the OTHER harts' walkers: a FENCE rw,rw, SFENCE.VMA or
 *     SFENCE.W.INVAL it executes, the port's IPI round it sends (the send
 *     orders the caller's earlier stores before the interrupt), or a point
 *     the driver names (rvm_publish_global(): the engine's seq_cst
 *     read-modify-writes and fences, which the compiler emits as AMO.aqrl /
 *     FENCE rw,rw and the model cannot see, at the start of each library
 *     call: no interleaving point lies between the call's entry and them);
 *   - to its OWN walker (implicit reads are not ordered after the hart's
 *     own stores by a FENCE): only SFENCE.VMA, SFENCE.W.INVAL, or a
 *     release the driver names (rvm_publish(): the page-table lock's
 *     unlock at the end of an operation). Until then its walks read the
 *     value before its first unordered store to the entry.
 * "SFENCE.VMA orders stores already visible to the hart": a remote hart's
 * own fence does not publish the flusher's stores. The walker
 * (rvm_walk()) may fill any hart at any time from the tables as visible.
 *
 * The port's IPI round (tlbb_port_ipi_send_and_wait(), defined here) runs
 * the handler "on" each target by switching rvm.cur, with that hart's
 * interrupts off; a round to a hart with interrupts off is a harness
 * failure. tlbb_port_cpu_id() and tlbb_port_debug_fail() are defined here
 * too. rvm.at_insn, if set, runs before and after every fence, satp write
 * and SBI call (the fuzzer's interrupt points); rvm.cur is restored after.
 * The user defines rvm_fail(): report, do not return.
 */
#ifndef TLBB_TESTS_ORACLE_RV_MODEL_H
#define TLBB_TESTS_ORACLE_RV_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <tlbbatch/port.h>
#include "riscv_insn.h" /* the recorder prototypes (TLBB_RISCV_RECORD) */

#define RVM_NCPU 4
#define RVM_TLB 128
#define RVM_PEND 256    /* pending SINVAL.VMAs per hart */
#define RVM_STORES 512  /* unpublished page-table stores per hart */
#define RVM_KEYS 512
#define RVM_NO_ASID 0xffffffffu /* a hart that never wrote satp */

struct rvm_entry {
	bool valid, global;
	uint32_t asid;    /* non-global entries: satp.ASID at the walk */
	uint64_t va;      /* the page */
	unsigned key;     /* the driver's PTE (refrule.h) */
	uint32_t version; /* the version the walk read */
	uint64_t seq;     /* when it was walked */
};

/* One invalidation decoded from a word: x0 operands are "every". */
struct rvm_inval {
	bool has_va, has_asid;
	uint64_t va, asid;
	uint64_t seq; /* SINVAL.VMA: when it was issued */
};

enum rvm_kind { RVM_FENCE, RVM_SATP, RVM_SBI };

struct rvm {
	unsigned cur;     /* the hart executing now */
	unsigned va_bits; /* 39, 48, 57 */
	bool svinval;     /* the harts implement Svinval */
	uint64_t seq;
	struct rvm_entry tlb[RVM_NCPU][RVM_TLB];
	uint32_t asid[RVM_NCPU]; /* satp.ASID */
	uint64_t satp[RVM_NCPU];
	struct rvm_inval pend[RVM_NCPU][RVM_PEND];
	unsigned npend[RVM_NCPU];
	struct { unsigned key; uint32_t version; bool present; } sb[RVM_NCPU][RVM_STORES];
	unsigned nsb[RVM_NCPU];
	/* per hart: the entries it stored and has not ordered before its own
	 * walks, with the value those walks still read */
	struct { unsigned key; uint32_t version; bool present; } own[RVM_NCPU][RVM_STORES];
	unsigned nown[RVM_NCPU];
	uint32_t vis_version[RVM_KEYS];
	bool vis_present[RVM_KEYS];
	uint32_t hart[RVM_NCPU]; /* hart ID of each CPU number */
	bool irq_off[RVM_NCPU];
	unsigned in_handler[RVM_NCPU];
	unsigned sbi_fail_every; /* every n-th RFENCE call fails (0: none) */
	/* checker controls: the model or the port broken on purpose */
	bool drop_fence;  /* fences (local and remote) invalidate nothing */
	bool drop_rounds; /* no remote round: IPI rounds undelivered, RFENCE a no-op */
	void (*at_insn)(enum rvm_kind k, bool after);
	bool trace;
	/* counts, for the driver's figures */
	uint64_t n_sfence, n_sinval, n_ir, n_sbi, n_sbi_failed, n_rounds, n_satp;
};

extern struct rvm rvm;

/* Defined by the user of the model: report and do not return. */
void rvm_fail(const char *what);

/* Empty TLBs, nothing pending, every key visible at version 0, present;
 * hart IDs identity. */
void rvm_reset(unsigned va_bits, bool svinval);
/* Hart @cpu stores version @version (@present or cleared) into @key. */
void rvm_store(unsigned cpu, unsigned key, uint32_t version, bool present);
/* Hart @cpu's stores become visible to every other hart's walker (the
 * engine's seq_cst atomics at a library call's entry). */
void rvm_publish_global(unsigned cpu);
/* ... and to its own walker too (a release: the page-table lock's unlock). */
void rvm_publish(unsigned cpu);
/* A walk on @cpu of page @va (@global: PTE.G) under its satp.ASID: true if
 * it hit or filled, false on a fault (not present: nothing cached). */
bool rvm_walk(unsigned cpu, uint64_t va, bool global, unsigned key, uint32_t *version);
/* Is @va a valid virtual address of the paging mode? */
bool rvm_va_valid(uint64_t va);

#endif
