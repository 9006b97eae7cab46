/* SPDX-License-Identifier: MIT */
/*
 * The arm64 instruction layer: the ONLY place in tlbbatch with asm.
 *
 * Every TLB maintenance instruction the backend uses is one static inline
 * function here. Built with TLBB_ARM64_RECORD (host tests), each function
 * instead reports (instruction, operand) to tlbb_a64_record(), which the
 * test defines, so the backend's exact sequence can be asserted on any host.
 * The backend source is compiled unchanged either way.
 *
 * All TLBIs are Inner Shareable (broadcast to every CPU in the
 * inner-shareable domain). The stage-1 backend (arm64.c) uses the EL1 forms;
 * the stage-2 backend (stage2.c, run at EL2) uses the by-IPA and by-VMID
 * forms, which act on the VMID in VTTBR_EL2 when they execute, and reads and
 * writes VTTBR_EL2 through the two accessors below (recorded too: the
 * switch is part of the sequence the tests assert). Range TLBIs
 * (FEAT_TLBIRANGE, Armv8.4) are written as SYS #op1, C8, Cm, #op2 so that
 * the file assembles with a plain -march=armv8-a toolchain; the CPU must
 * still implement them.
 */
#ifndef TLBBATCH_ARCH_ARM64_TLBI_H
#define TLBBATCH_ARCH_ARM64_TLBI_H

#include <tlbbatch/config.h>

enum tlbb_a64_insn {
	TLBB_A64_DSB_ISHST = 1,
	TLBB_A64_DSB_ISH,
	TLBB_A64_ISB,
	TLBB_A64_TLBI_VAE1IS,
	TLBB_A64_TLBI_VALE1IS,
	TLBB_A64_TLBI_VAAE1IS,
	TLBB_A64_TLBI_VAALE1IS,
	TLBB_A64_TLBI_ASIDE1IS,
	TLBB_A64_TLBI_VMALLE1IS,
	TLBB_A64_TLBI_RVAE1IS,
	TLBB_A64_TLBI_RVALE1IS,
	TLBB_A64_TLBI_RVAAE1IS,
	TLBB_A64_TLBI_RVAALE1IS,
	/* stage 2 (EL2 only; the VMID is VTTBR_EL2's at execution) */
	TLBB_A64_TLBI_IPAS2E1IS,
	TLBB_A64_TLBI_IPAS2LE1IS,
	TLBB_A64_TLBI_RIPAS2E1IS,
	TLBB_A64_TLBI_RIPAS2LE1IS,
	TLBB_A64_TLBI_VMALLS12E1IS,
	TLBB_A64_TLBI_ALLE1IS,
	TLBB_A64_MSR_VTTBR, /* operand: the value written */
};

#ifdef TLBB_ARM64_RECORD

/* Defined by the test program: one call per instruction, in program order. */
void tlbb_a64_record(enum tlbb_a64_insn insn, uint64_t operand);
/* Defined by a test that uses the stage-2 backend: what MRS VTTBR_EL2 reads
 * (the test models the register; the read itself is not recorded). */
uint64_t tlbb_a64_record_read_vttbr(void);

#define TLBB_A64_BARRIER(fn, id)                                                  \
	static inline void fn(void) { tlbb_a64_record(id, 0); }
#define TLBB_A64_TLBI(fn, id, text)                                               \
	static inline void fn(uint64_t op) { tlbb_a64_record(id, op); }

#elif defined(__aarch64__)

/* "memory" clobbers: the compiler must not move page-table stores or reads of
 * retired memory across any of these. */
#define TLBB_A64_BARRIER(fn, id)                                                  \
	static inline void fn(void) { __asm__ volatile(TLBB_A64_TEXT_##id ::: "memory"); }
#define TLBB_A64_TLBI(fn, id, text)                                               \
	static inline void fn(uint64_t op)                                        \
	{                                                                         \
		__asm__ volatile(text ", %0" : : "r"(op) : "memory");              \
	}

#define TLBB_A64_TEXT_TLBB_A64_DSB_ISHST "dsb ishst"
#define TLBB_A64_TEXT_TLBB_A64_DSB_ISH "dsb ish"
#define TLBB_A64_TEXT_TLBB_A64_ISB "isb"

#else
#error "arch/arm64 needs an aarch64 compiler, or TLBB_ARM64_RECORD for host tests"
#endif

TLBB_A64_BARRIER(tlbb_a64_dsb_ishst, TLBB_A64_DSB_ISHST)
TLBB_A64_BARRIER(tlbb_a64_dsb_ish, TLBB_A64_DSB_ISH)
TLBB_A64_BARRIER(tlbb_a64_isb, TLBB_A64_ISB)

TLBB_A64_TLBI(tlbb_a64_tlbi_vae1is, TLBB_A64_TLBI_VAE1IS, "tlbi vae1is")
TLBB_A64_TLBI(tlbb_a64_tlbi_vale1is, TLBB_A64_TLBI_VALE1IS, "tlbi vale1is")
TLBB_A64_TLBI(tlbb_a64_tlbi_vaae1is, TLBB_A64_TLBI_VAAE1IS, "tlbi vaae1is")
TLBB_A64_TLBI(tlbb_a64_tlbi_vaale1is, TLBB_A64_TLBI_VAALE1IS, "tlbi vaale1is")
TLBB_A64_TLBI(tlbb_a64_tlbi_aside1is, TLBB_A64_TLBI_ASIDE1IS, "tlbi aside1is")
/* RVAE1IS = SYS #0,C8,C2,#1; RVALE1IS #5; RVAAE1IS #3; RVAALE1IS #7. */
TLBB_A64_TLBI(tlbb_a64_tlbi_rvae1is, TLBB_A64_TLBI_RVAE1IS, "sys #0, c8, c2, #1")
TLBB_A64_TLBI(tlbb_a64_tlbi_rvale1is, TLBB_A64_TLBI_RVALE1IS, "sys #0, c8, c2, #5")
TLBB_A64_TLBI(tlbb_a64_tlbi_rvaae1is, TLBB_A64_TLBI_RVAAE1IS, "sys #0, c8, c2, #3")
TLBB_A64_TLBI(tlbb_a64_tlbi_rvaale1is, TLBB_A64_TLBI_RVAALE1IS, "sys #0, c8, c2, #7")

/* Stage 2 (Arm ARM C5.5.14 TLBI IPAS2E1IS: op1 4, CRn 8, CRm 0, op2 1;
 * IPAS2LE1IS op2 5; C5.5.22 TLBI RIPAS2E1IS op2 2; RIPAS2LE1IS op2 6). */
TLBB_A64_TLBI(tlbb_a64_tlbi_ipas2e1is, TLBB_A64_TLBI_IPAS2E1IS, "tlbi ipas2e1is")
TLBB_A64_TLBI(tlbb_a64_tlbi_ipas2le1is, TLBB_A64_TLBI_IPAS2LE1IS, "tlbi ipas2le1is")
TLBB_A64_TLBI(tlbb_a64_tlbi_ripas2e1is, TLBB_A64_TLBI_RIPAS2E1IS, "sys #4, c8, c0, #2")
TLBB_A64_TLBI(tlbb_a64_tlbi_ripas2le1is, TLBB_A64_TLBI_RIPAS2LE1IS, "sys #4, c8, c0, #6")

/* VMALLE1IS, VMALLS12E1IS and ALLE1IS take no register. Written out (no
 * macro): each asm statement is a point of tools/mutate, run on the images. */
#ifdef TLBB_ARM64_RECORD
static inline void tlbb_a64_tlbi_vmalle1is(void)
{
	tlbb_a64_record(TLBB_A64_TLBI_VMALLE1IS, 0);
}
static inline void tlbb_a64_tlbi_vmalls12e1is(void)
{
	tlbb_a64_record(TLBB_A64_TLBI_VMALLS12E1IS, 0);
}
static inline void tlbb_a64_tlbi_alle1is(void)
{
	tlbb_a64_record(TLBB_A64_TLBI_ALLE1IS, 0);
}
#else
static inline void tlbb_a64_tlbi_vmalle1is(void)
{
	__asm__ volatile("tlbi vmalle1is" ::: "memory");
}
static inline void tlbb_a64_tlbi_vmalls12e1is(void)
{
	__asm__ volatile("tlbi vmalls12e1is" ::: "memory");
}
static inline void tlbb_a64_tlbi_alle1is(void)
{
	__asm__ volatile("tlbi alle1is" ::: "memory");
}
#endif

/* VTTBR_EL2 (EL2 only). A write takes effect for later instructions only
 * after a context synchronization event (ISB): the caller issues it. */
#ifdef TLBB_ARM64_RECORD
static inline uint64_t tlbb_a64_read_vttbr(void)
{
	return tlbb_a64_record_read_vttbr();
}
static inline void tlbb_a64_write_vttbr(uint64_t v)
{
	tlbb_a64_record(TLBB_A64_MSR_VTTBR, v);
}
#else
static inline uint64_t tlbb_a64_read_vttbr(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, vttbr_el2" : "=r"(v));
	return v;
}
static inline void tlbb_a64_write_vttbr(uint64_t v)
{
	__asm__ volatile("msr vttbr_el2, %0" : : "r"(v) : "memory");
}
#endif

#undef TLBB_A64_BARRIER
#undef TLBB_A64_TLBI

#endif /* TLBBATCH_ARCH_ARM64_TLBI_H */
