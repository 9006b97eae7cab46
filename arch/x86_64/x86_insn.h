/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 backends' only instructions (x86_64.c: INVLPG, INVPCID, CR3,
 * CR4; ept.c: INVEPT). Everything else in the backends is portable C, so
 * host tests compile the same x86_64.c and ept.c with -DTLBB_X86_RECORD
 * and these (and the interrupt-flag save/restore around
 * the CR4.PGE toggle) become calls into a recorder the test defines;
 * nothing else changes between the tested and the shipped code.
 */
#ifndef TLBB_X86_INSN_H
#define TLBB_X86_INSN_H

#include <tlbbatch/config.h>

/* INVPCID types (Intel SDM vol. 2, INVPCID). */
#define X86_INVPCID_ADDR 0u        /* one address, one PCID (unused here) */
#define X86_INVPCID_SINGLE 1u      /* all non-global entries of one PCID */
#define X86_INVPCID_ALL_GLOBAL 2u  /* everything, global entries included */
#define X86_INVPCID_ALL_NONGLOBAL 3u

/* INVEPT types (Intel SDM vol. 3C, 30.3 "INVEPT"). */
#define X86_INVEPT_SINGLE 1u /* every mapping derived from EPTP[51:12] */
#define X86_INVEPT_ALL 2u    /* every mapping derived from any EPTP */

#define X86_CR3_NOFLUSH (1ull << 63) /* with CR4.PCIDE: keep the PCID's entries */
#define X86_CR3_PCID_MASK 0xfffull
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_LA57 (1ull << 12) /* 5-level paging is on */
#define X86_RFLAGS_IF (1ull << 9)

#ifdef TLBB_X86_RECORD

void tlbb_x86_rec_invlpg(uintptr_t va);
void tlbb_x86_rec_invpcid(unsigned type, uint64_t pcid, uint64_t va);
uint64_t tlbb_x86_rec_read_cr3(void);
void tlbb_x86_rec_write_cr3(uint64_t v);
uint64_t tlbb_x86_rec_read_cr4(void);
void tlbb_x86_rec_write_cr4(uint64_t v);
uint64_t tlbb_x86_rec_irq_save(void);
void tlbb_x86_rec_irq_restore(uint64_t rflags);
bool tlbb_x86_rec_invept(unsigned type, uint64_t eptp);

#define x86_invlpg tlbb_x86_rec_invlpg
#define x86_invpcid tlbb_x86_rec_invpcid
#define x86_read_cr3 tlbb_x86_rec_read_cr3
#define x86_write_cr3 tlbb_x86_rec_write_cr3
#define x86_read_cr4 tlbb_x86_rec_read_cr4
#define x86_write_cr4 tlbb_x86_rec_write_cr4
#define x86_irq_save tlbb_x86_rec_irq_save
#define x86_irq_restore tlbb_x86_rec_irq_restore
#define x86_invept tlbb_x86_rec_invept

#else

#if !defined(__x86_64__)
#error "arch/x86_64 needs an x86-64 compiler (or -DTLBB_X86_RECORD for host tests)"
#endif

/* "memory": no access through the old translation may move past it. */
static inline void x86_invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline void x86_invpcid(unsigned type, uint64_t pcid, uint64_t va)
{
	struct {
		uint64_t pcid;
		uint64_t va;
	} desc = { pcid, va };

	__asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"((uint64_t)type) : "memory");
}

/*
 * INVEPT with the 128-bit descriptor { EPTP, 0 }. False if the instruction
 * VMfailed (CF or ZF set: a type the CPU does not support, an EPTP that a
 * VM entry would refuse): the caller must then invalidate more, not less.
 */
static inline bool x86_invept(unsigned type, uint64_t eptp)
{
	struct {
		uint64_t eptp;
		uint64_t reserved;
	} desc = { eptp, 0 };
	bool ok;

	__asm__ volatile("invept %1, %2" : "=@cca"(ok) : "m"(desc), "r"((uint64_t)type) : "memory");
	return ok;
}

static inline uint64_t x86_read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v) : : "memory");
	return v;
}

static inline void x86_write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t x86_read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v) : : "memory");
	return v;
}

static inline void x86_write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/*
 * Interrupts off, returning RFLAGS as they were. pushf writes below RSP,
 * where a compiler allowed a red zone may keep locals it does not know the
 * asm touches: step over the 128-byte red zone first, so the library stays
 * correct even in code built without -mno-red-zone.
 */
static inline uint64_t x86_irq_save(void)
{
	uint64_t fl;

	__asm__ volatile("lea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\t"
			 "lea 128(%%rsp), %%rsp\n\tcli"
			 : "=r"(fl) : : "memory");
	return fl;
}

/* Interrupts back on only if they were on at the matching save. */
static inline void x86_irq_restore(uint64_t rflags)
{
	if (rflags & X86_RFLAGS_IF)
		__asm__ volatile("sti" : : : "memory");
}

#endif /* TLBB_X86_RECORD */

#endif /* TLBB_X86_INSN_H */
