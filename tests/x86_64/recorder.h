/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 instruction recorder and per-CPU TLB model, shared by the
 * cmocka rule tests (test_x86_recorder.c) and the sequence fuzzer
 * (fuzz_x86.c).
 *
 * arch/x86_64/x86_64.c is compiled with -DTLBB_X86_RECORD, which turns its
 * five instructions (INVLPG, INVPCID, CR3 read/write, CR4 read/write) into
 * calls to recorder.c. The port hooks live there too:
 * tlbb_port_ipi_send_and_wait() records the round and then runs the handler
 * "on" each target by switching the current CPU number R.cur. So a caller
 * sees exactly which CPU executed which instruction, and which rounds of
 * IPIs were sent from where.
 *
 * On top of the raw record, a small per-CPU TLB model applies each
 * instruction with its architectural meaning (INVLPG of a non-canonical
 * address does nothing; CR3 writes flush only the new PCID unless the
 * no-flush bit is set; INVPCID type 1 keeps global entries; a CR4.PGE
 * toggle drops everything).
 *
 * The user of the harness defines rec_fail(): a harness invariant broke
 * (record full, an IPI to self, an empty round, a debug check nobody
 * expected). It must not return.
 */
#ifndef TLBB_TESTS_X86_RECORDER_H
#define TLBB_TESTS_X86_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include <tlbbatch/port.h>
#include <tlbbatch/x86_64.h>
#include "x86_insn.h" /* the recorder prototypes (TLBB_X86_RECORD) */

#define NCPU 8
#define CR3_NOFLUSH (1ull << 63)
#define CR4_PGE (1ull << 7)
#define CR4_LA57 (1ull << 12)

/*
 * EV_IRQ_SAVE / EV_IRQ_RESTORE (x86_irq_save/restore, around the CR4.PGE
 * toggle) are recorded but are no interleaving points (at_insn is not
 * called): an interrupt just before the save is the one after the previous
 * instruction, and between save and restore none can arrive.
 */
enum ev_kind { EV_INVLPG, EV_INVPCID, EV_CR3, EV_CR4, EV_IRQ_SAVE, EV_IRQ_RESTORE, EV_INVEPT };

#define RFLAGS_IF (1ull << 9)

struct ev {
	unsigned cpu;
	enum ev_kind kind;
	uint64_t a, b; /* INVLPG: va; INVPCID: type, pcid; CR3: value;
			* INVEPT: type, the descriptor's EPTP;
			* CR4: value, 1 if interrupts were off;
			* IRQ_SAVE: RFLAGS returned; IRQ_RESTORE: RFLAGS given */
};

struct round {
	unsigned from;
	tlbb_cpumask_t mask;
};

#define MAX_EV 65536
#define MAX_ROUNDS 1024
#define TLB_SIZE 128

struct tlbe {
	bool valid, global;
	uint32_t pcid;
	uint64_t va;
	uint32_t tag; /* the user's name for the translation cached (fuzzer: PTE version) */
};

/*
 * The EPT model (ept.c's INVEPT; Intel SDM vol. 3C, 28.3): while a CPU
 * runs a guest with EPT it caches guest-physical mappings, tagged by the
 * EP4TA (EPTP bits 51:12), and combined mappings, tagged by VPID, PCID and
 * EP4TA. INVEPT single-context drops both kinds for the descriptor's
 * EP4TA, whatever their VPID and PCID; all-context drops every one.
 */
#define EPT_EP4TA(eptp) ((eptp) & 0x000ffffffffff000ull)

struct ept_e {
	bool valid, combined;
	uint64_t ep4ta;
	uint16_t vpid;  /* combined only */
	uint32_t pcid;  /* combined only */
	uint64_t addr;  /* guest-physical page, or guest-linear page (combined) */
	uint32_t tag;   /* the user's name for the frame it translates to */
};

struct rec {
	unsigned cur; /* the CPU "executing" now */
	struct ev ev[MAX_EV];
	unsigned nev;
	struct round rounds[MAX_ROUNDS];
	unsigned nrounds;
	uint64_t cr3[NCPU], cr4[NCPU];
	bool pcide;             /* model: CR4.PCIDE on every CPU */
	struct tlbe tlb[NCPU][TLB_SIZE];
	/* negative-control switches */
	bool drop_ipis;         /* the port never delivers a round */
	bool cr3_never_flushes; /* a CPU whose CR3 writes keep every entry */
	bool drop_invlpg;       /* INVLPG is recorded but drops nothing */
	/* Runs once at CPU 0's next INVLPG: an interrupt arriving there. */
	void (*interrupt_cpu0)(void);
	/*
	 * Runs twice per recorded instruction, with R.cur the executing CPU:
	 * before the model applies it (@after false) and after (@after true).
	 * The fuzzer's interleaving points: an interrupt just before or just
	 * after the instruction. The recorder restores R.cur afterwards.
	 */
	void (*at_insn)(enum ev_kind k, bool after);
	/* Without a record (the fuzzer): nev wraps instead of failing. */
	bool ring;
	/* A test provoking a debug check on purpose (a port's bad input). */
	bool expect_debug_fail;
	unsigned debug_fails;
	/* Rounds delivered to each CPU (counted even in ring mode). */
	uint64_t ipis_taken[NCPU];
	/* EPT model: entries, the EPTP each CPU's VMCS runs, control switches. */
	struct ept_e ept[NCPU][TLB_SIZE];
	uint64_t cur_eptp[NCPU];     /* 0: the CPU runs no guest */
	bool drop_invept;            /* INVEPT is recorded but drops nothing */
	bool invept_single_fails;    /* single-context VMfails (unsupported type) */
	bool invept_keeps_combined;  /* a model that is NOT the SDM's: INVEPT
				      * leaves combined mappings (the VPID control) */
	/* Nonzero while the CPU runs a flush handler (interrupts off there). */
	unsigned in_handler[NCPU];
	/* Model: the CPU's RFLAGS.IF is clear (x86_irq_save, or in a handler). */
	bool irq_off[NCPU];
};

extern struct rec R;

/* Defined by the harness user: report and do not return. */
void rec_fail(const char *what);

bool canonical48(uint64_t va);
/* Canonical for CPU @cpu's paging mode: 57 bits if its CR4.LA57 is set. */
bool canonical_on(unsigned cpu, uint64_t va);
/* The PCID in CPU @cpu's CR3 now (0 without CR4.PCIDE). */
uint32_t cur_pcid(unsigned cpu);

/* Model: CPU @cpu walks @va of its current space and caches it; fails if full. */
void touch(unsigned cpu, uint64_t va, bool global);
/* The same with a tag; false if the model TLB is full (nothing cached). */
bool rec_fill(unsigned cpu, uint64_t va, bool global, uint32_t tag);
/* CPUs holding a non-global entry of @va tagged with @s's PCID, loaded or not. */
unsigned holders(const struct tlbb_space *s, uint64_t va);
/* CPUs that could use an entry of @va of @s right now (its PCID is loaded). */
unsigned usable_holders(const struct tlbb_space *s, uint64_t va);
/* EPT model: CPU @cpu, in a guest with EPTP R.cur_eptp[cpu], caches a
 * guest-physical (or, @combined, a VPID @vpid / PCID @pcid) mapping. */
void ept_fill(unsigned cpu, bool combined, uint16_t vpid, uint32_t pcid, uint64_t addr,
	      uint32_t tag);
/* Entries of @eptp's EP4TA for @addr (any kind) on @cpu. */
unsigned ept_entries(unsigned cpu, uint64_t eptp, uint64_t addr);
/* CPUs that could use such an entry now: their VMCS runs @eptp. */
unsigned ept_usable_holders(uint64_t eptp, uint64_t addr);
/* Recorded instructions of kind @k on @cpu (NCPU: any) from index @from on. */
unsigned count_ev(unsigned cpu, enum ev_kind k, unsigned from);

#endif /* TLBB_TESTS_X86_RECORDER_H */
