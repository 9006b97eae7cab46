/* SPDX-License-Identifier: MIT */
/*
 * The riscv64 backend's only instructions: the address-translation fences
 * (SFENCE.VMA, and Svinval's SINVAL.VMA / SFENCE.W.INVAL / SFENCE.INVAL.IR),
 * a FENCE, and the SBI call (ECALL into the firmware).
 *
 * Every fence is emitted as its instruction word, built here from the
 * fields of the privileged spec, with its operands pinned to a0 (rs1, the
 * virtual address) and a1 (rs2, the ASID). The same words are what the
 * recorder build (-DTLBB_RISCV_RECORD, host tests) hands to its recorder,
 * so a test that checks a recorded word checks the shipped encoding; the
 * cross build checks the words against GNU as's own assembly of the
 * mnemonics (tests/riscv64/check-encodings.sh).
 *
 * Why fixed registers rather than "r" operands: the spec gives x0 a
 * meaning of its own. rs1 = x0 is "every address", rs2 = x0 "every ASID,
 * global entries included"; a register that merely holds 0 is address 0,
 * or ASID 0 without its global entries. A compiler free to pick x0 for a
 * zero value would change the fence's meaning, so each form is spelled out.
 */
#ifndef TLBB_RISCV_INSN_H
#define TLBB_RISCV_INSN_H

#include <tlbbatch/config.h>

/* R-type SYSTEM instructions: funct7 | rs2 | rs1 | 000 | rd=0 | 1110011. */
#define RV_SYSTEM_WORD(f7, rs2, rs1) \
	((uint32_t)(((f7) << 25) | ((rs2) << 20) | ((rs1) << 15) | 0x73u))
#define RV_F7_SFENCE_VMA 0x09u    /* SFENCE.VMA rs1, rs2 */
#define RV_F7_SINVAL_VMA 0x0bu    /* Svinval: SINVAL.VMA rs1, rs2 */
#define RV_F7_SVINVAL_ORDER 0x0cu /* Svinval: rs2 = 0 SFENCE.W.INVAL, 1 SFENCE.INVAL.IR */
#define RV_X0 0u
#define RV_A0 10u /* rs1: the virtual address */
#define RV_A1 11u /* rs2: the ASID */

/* The words the backend executes (each checked against GNU as). */
#define RV_SFENCE_VMA_VA_ASID RV_SYSTEM_WORD(RV_F7_SFENCE_VMA, RV_A1, RV_A0) /* 0x12b50073 */
#define RV_SFENCE_VMA_ASID RV_SYSTEM_WORD(RV_F7_SFENCE_VMA, RV_A1, RV_X0)    /* 0x12b00073 */
#define RV_SFENCE_VMA_VA RV_SYSTEM_WORD(RV_F7_SFENCE_VMA, RV_X0, RV_A0)      /* 0x12050073 */
#define RV_SFENCE_VMA_ALL RV_SYSTEM_WORD(RV_F7_SFENCE_VMA, RV_X0, RV_X0)     /* 0x12000073 */
#define RV_SINVAL_VMA_VA_ASID RV_SYSTEM_WORD(RV_F7_SINVAL_VMA, RV_A1, RV_A0) /* 0x16b50073 */
#define RV_SINVAL_VMA_VA RV_SYSTEM_WORD(RV_F7_SINVAL_VMA, RV_X0, RV_A0)      /* 0x16050073 */
#define RV_SFENCE_W_INVAL RV_SYSTEM_WORD(RV_F7_SVINVAL_ORDER, 0u, RV_X0)     /* 0x18000073 */
#define RV_SFENCE_INVAL_IR RV_SYSTEM_WORD(RV_F7_SVINVAL_ORDER, 1u, RV_X0)    /* 0x18100073 */
/* FENCE rw, rw: fm 0, pred 0011, succ 0011, rs1 = rd = 0, funct3 0, MISC-MEM. */
#define RV_FENCE_RW_RW ((uint32_t)0x0330000fu)

/*
 * SBI (v1.0+ binary encoding): a7 = extension id, a6 = function id,
 * a0..a5 arguments; returns a0 = error, a1 = value. Only a0 and a1 change.
 */
#define RV_SBI_EXT_RFENCE 0x52464e43ul /* "RFNC" */
#define RV_SBI_RFENCE_SFENCE_VMA 1ul      /* hart_mask, hart_mask_base, start, size */
#define RV_SBI_RFENCE_SFENCE_VMA_ASID 2ul /* ... and asid */
#define RV_SBI_EXT_IPI 0x735049ul         /* "sPI": send_ipi(hart_mask, hart_mask_base) */
#define RV_SBI_EXT_HSM 0x48534dul         /* "HSM": hart_start(hartid, start, opaque) = 0 */
#define RV_SBI_HSM_HART_START 0ul
#define RV_SBI_SUCCESS 0l
#define RV_SATP_ASID_SHIFT 44
#define RV_SATP_ASID_MASK 0xffffull /* RV64: ASIDMAX = 16 bits */
#define RV_SATP_MODE_SV39 (8ull << 60)
#define RV_SATP_MODE_SV48 (9ull << 60)
#define RV_SATP_MODE_SV57 (10ull << 60)
/* A size of 2^XLEN - 1 (or start = size = 0) asks for the whole address space. */
#define RV_SBI_SIZE_ALL (~0ul)

struct rv_sbiret {
	long error;
	long value;
};

#ifdef TLBB_RISCV_RECORD

/* Defined by the test's recorder: one executed fence (word, rs1 and rs2 values). */
void tlbb_rv_rec_insn(uint32_t word, uint64_t rs1, uint64_t rs2);
struct rv_sbiret tlbb_rv_rec_sbi(unsigned long eid, unsigned long fid, unsigned long a0,
				 unsigned long a1, unsigned long a2, unsigned long a3,
				 unsigned long a4);

void tlbb_rv_rec_satp(uint64_t satp);

#define RV_INSN(word, rs1, rs2) tlbb_rv_rec_insn((word), (rs1), (rs2))
#define rv_sbi_call5 tlbb_rv_rec_sbi
#define rv_write_satp tlbb_rv_rec_satp

#else

#if !defined(__riscv) || __riscv_xlen != 64
#error "arch/riscv64 needs a riscv64 compiler (or -DTLBB_RISCV_RECORD for host tests)"
#endif

/*
 * One fence word with rs1 in a0 and rs2 in a1 (forms with x0 ignore
 * them). "memory": no access through the old translation may move across.
 */
#define RV_INSN(word, rs1, rs2)                                                      \
	do {                                                                         \
		register uint64_t rv_a0_ __asm__("a0") = (rs1);                       \
		register uint64_t rv_a1_ __asm__("a1") = (rs2);                       \
		__asm__ volatile(".insn %2" : : "r"(rv_a0_), "r"(rv_a1_), "i"(word)   \
				 : "memory");                                        \
	} while (0)

static inline struct rv_sbiret rv_sbi_call5(unsigned long eid, unsigned long fid,
					    unsigned long a0, unsigned long a1,
					    unsigned long a2, unsigned long a3,
					    unsigned long a4)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r3 __asm__("a3") = a3;
	register unsigned long r4 __asm__("a4") = a4;
	register unsigned long r6 __asm__("a6") = fid;
	register unsigned long r7 __asm__("a7") = eid;

	__asm__ volatile("ecall"
			 : "+r"(r0), "+r"(r1)
			 : "r"(r2), "r"(r3), "r"(r4), "r"(r6), "r"(r7)
			 : "memory");
	return (struct rv_sbiret){ (long)r0, (long)r1 };
}

/* satp: MODE | ASID | root PPN. Orders nothing: the fence that follows does. */
static inline void rv_write_satp(uint64_t v)
{
	__asm__ volatile("csrw satp, %0" : : "r"(v) : "memory");
}

#endif /* TLBB_RISCV_RECORD */

/* ---- by intent ------------------------------------------------------------ */

/* One page of one ASID (non-global entries only: rs2 != x0). */
static inline void rv_sfence_vma_page(uint64_t va, uint64_t asid)
{
	RV_INSN(RV_SFENCE_VMA_VA_ASID, va, asid);
}

/* Every non-global entry of one ASID. */
static inline void rv_sfence_vma_asid(uint64_t asid)
{
	RV_INSN(RV_SFENCE_VMA_ASID, 0, asid);
}

/* One page in every ASID, global entries included (rs2 = x0). */
static inline void rv_sfence_vma_page_all_asids(uint64_t va)
{
	RV_INSN(RV_SFENCE_VMA_VA, va, 0);
}

/* Everything, global entries included. */
static inline void rv_sfence_vma_all(void)
{
	RV_INSN(RV_SFENCE_VMA_ALL, 0, 0);
}

/* Svinval: invalidate without ordering; bracketed by the two below. */
static inline void rv_sinval_vma_page(uint64_t va, uint64_t asid)
{
	RV_INSN(RV_SINVAL_VMA_VA_ASID, va, asid);
}

static inline void rv_sinval_vma_page_all_asids(uint64_t va)
{
	RV_INSN(RV_SINVAL_VMA_VA, va, 0);
}

/* Svinval: earlier stores (the PTE changes) before later SINVAL.VMAs. */
static inline void rv_sfence_w_inval(void)
{
	RV_INSN(RV_SFENCE_W_INVAL, 0, 0);
}

/* Svinval: earlier SINVAL.VMAs before later implicit page-table reads. */
static inline void rv_sfence_inval_ir(void)
{
	RV_INSN(RV_SFENCE_INVAL_IR, 0, 0);
}

/* Earlier loads and stores (the PTE changes) before later ones (the ecall's
 * requests to other harts), as seen by every hart. */
static inline void rv_fence_rw_rw(void)
{
	RV_INSN(RV_FENCE_RW_RW, 0, 0);
}

#endif /* TLBB_RISCV_INSN_H */
