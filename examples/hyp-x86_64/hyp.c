/* SPDX-License-Identifier: MIT */
/*
 * A VMX hypervisor image that runs tlbbatch's EPT backend (arch/x86_64/ept.c)
 * on four emulated CPUs under Bochs, with real VMXON, VM entries, INVEPTs
 * and flush IPIs that make guests exit.
 *
 *   - Boot checks VMX, EPT (4-level walk, write-back, 2 MiB pages), VPID,
 *     INVEPT single- and all-context from the capability MSRs
 *     (IA32_VMX_BASIC 0x480, IA32_VMX_PROCBASED_CTLS2 0x48b,
 *     IA32_VMX_EPT_VPID_CAP 0x48c) and executes VMXON on every CPU.
 *   - VM A: an EPT hierarchy that maps guest-physical 0..1 GiB to the same
 *     host-physical addresses (2 MiB pages) and NPAGES test pages at
 *     TEST_GPA with 4 KiB entries. Each test page rotates through NFRAMES
 *     host frames; a frame holds its live tag while an EPT entry may lead
 *     to it and POISON once it is retired.
 *   - CPUs 1..N-1 run a 64-bit guest (the host's identity page tables,
 *     VPID = CPU + 1) that reads the test pages in a loop. A read is stale
 *     (through a guest-physical or combined mapping the library should
 *     have invalidated) if it finds POISON, or a frame older than the last
 *     retarget of that page whose flush had returned before the read
 *     (flushed_count); torn if it finds another page's tag. Every VM entry
 *     goes through tlbb_ept_vm_enter().
 *     The flush IPI makes the guest exit (external-interrupt exiting; the
 *     interrupt is not acknowledged on exit): the exit handler opens
 *     interrupts, the IPI's vector runs the library's handler (INVEPT in
 *     VMX root operation), and the guest is resumed.
 *   - The last CPU (with 3+ CPUs) leaves VM A for VM B (an EPT hierarchy
 *     without the test pages) every few sweeps and comes back: flushes of
 *     A meanwhile trim it from A's mask, and its next entry of A must
 *     INVEPT (the per-CPU generation).
 *   - CPU 0 retargets EPT entries in batches of 8..63 pages: per page the
 *     next frame is filled, the EPT entry points to it, tlbb_add_page();
 *     then tlbb_flush() and only then the left frames are poisoned. Every
 *     RACE_EVERY-th batch meets a racing changer before its flush: it finds
 *     the batch's entries already retargeted and reclaims the left frames
 *     at once, after tlbb_flush_pending() (the race check), then waits
 *     while the guests sweep; the batch's own flush comes after.
 *   - Then CPU 0 retargets `perpage` pages with one flush each: IPI rounds
 *     and INVEPTs per page, batched against per page.
 *
 * Command line (sector 1 of the Bochs disk, tests/bochs/x86_64-run.sh):
 * "cpus=N", "retargets=N", "perpage=N"; "control=NAME" runs a negative
 * control, which passes only if the guests saw stale reads (it stops at the
 * first batch after one): "no-ipi-round" (the port drops every round),
 * "no-race-check" (the racing changer skips tlbb_flush_pending()), and
 * "invept-deleted" / "no-entry-flush" for images whose ept.c was mutated
 * at build time (tests/x86_64/meson.build). Bochs cannot show those two:
 * it flushes a CPU's whole TLB at every VM entry and exit (docs/ept.md).
 *
 * Verdict on the serial port; power-off through Bochs' port 0x8900.
 */
#include <tlbbatch/x86_ept.h>

#include "../unikernel-x86_64/machine.h"

#define NPAGES 64
#define NFRAMES 4 /* a left frame stays poisoned for NFRAMES-1 retargets */
#define PAGE 4096u
#define TEST_GPA 0x40000000ull /* 1 GiB: EPT PDPT[1], outside the identity part */
#define POISON 0xdeadbeefu
#define LIVE_TAG 0x600d0000u
#define RACE_EVERY 16
#define TIMER_PERIOD 20000 /* CPU 0's wake-up while a dropped round "waits" */
#define VISIT_A 8          /* switcher: sweeps in VM A per visit */
#define VISIT_B 4          /* switcher: idle loops in VM B per visit */

/* ---- VMX architecture ------------------------------------------------------- */

#define MSR_FEATURE_CONTROL 0x3a
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT 0x483
#define MSR_VMX_ENTRY 0x484
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_EPT_VPID_CAP 0x48c
#define MSR_VMX_TRUE_PINBASED 0x48d /* +0..3: pin, proc, exit, entry */

#define PIN_EXT_INT_EXITING (1u << 0)
#define PROC_SECONDARY (1u << 31)
#define PROC2_EPT (1u << 1)
#define PROC2_VPID (1u << 5)
#define EXIT_HOST_64 (1u << 9)
#define ENTRY_GUEST_64 (1u << 9)

#define CAP_WALK4 (1ull << 6)
#define CAP_WB (1ull << 14)
#define CAP_2M (1ull << 16)

#define EXIT_EXT_INT 1
#define EXIT_VMCALL 18

/* VMCS field encodings (Intel SDM vol. 3D, appendix B). */
enum {
	VPID = 0x0000,
	G_ES_SEL = 0x0800, G_CS_SEL = 0x0802, G_SS_SEL = 0x0804, G_DS_SEL = 0x0806,
	G_FS_SEL = 0x0808, G_GS_SEL = 0x080a, G_LDTR_SEL = 0x080c, G_TR_SEL = 0x080e,
	H_ES_SEL = 0x0c00, H_CS_SEL = 0x0c02, H_SS_SEL = 0x0c04, H_DS_SEL = 0x0c06,
	H_FS_SEL = 0x0c08, H_GS_SEL = 0x0c0a, H_TR_SEL = 0x0c0c,
	EPT_POINTER = 0x201a,
	GUEST_PHYS_ADDR = 0x2400,
	LINK_PTR = 0x2800, G_DEBUGCTL = 0x2802,
	PIN_CTLS = 0x4000, PROC_CTLS = 0x4002, EXC_BITMAP = 0x4004, CR3_TARGETS = 0x400a,
	EXIT_CTLS = 0x400c, EXIT_MSR_STORE = 0x400e, EXIT_MSR_LOAD = 0x4010,
	ENTRY_CTLS = 0x4012, ENTRY_MSR_LOAD = 0x4014, ENTRY_INTR_INFO = 0x4016,
	PROC2_CTLS = 0x401e,
	VM_INSN_ERROR = 0x4400, EXIT_REASON = 0x4402, EXIT_INTR_INFO = 0x4404,
	EXIT_INSN_LEN = 0x440c,
	G_ES_LIMIT = 0x4800, G_CS_LIMIT = 0x4802, G_SS_LIMIT = 0x4804, G_DS_LIMIT = 0x4806,
	G_FS_LIMIT = 0x4808, G_GS_LIMIT = 0x480a, G_LDTR_LIMIT = 0x480c, G_TR_LIMIT = 0x480e,
	G_GDTR_LIMIT = 0x4810, G_IDTR_LIMIT = 0x4812,
	G_ES_AR = 0x4814, G_CS_AR = 0x4816, G_SS_AR = 0x4818, G_DS_AR = 0x481a,
	G_FS_AR = 0x481c, G_GS_AR = 0x481e, G_LDTR_AR = 0x4820, G_TR_AR = 0x4822,
	G_INTERRUPTIBILITY = 0x4824, G_ACTIVITY = 0x4826, G_SYSENTER_CS = 0x482a,
	H_SYSENTER_CS = 0x4c00,
	CR0_MASK = 0x6000, CR4_MASK = 0x6002, CR0_SHADOW = 0x6004, CR4_SHADOW = 0x6006,
	EXIT_QUALIFICATION = 0x6400,
	G_CR0 = 0x6800, G_CR3 = 0x6802, G_CR4 = 0x6804,
	G_ES_BASE = 0x6806, G_CS_BASE = 0x6808, G_SS_BASE = 0x680a, G_DS_BASE = 0x680c,
	G_FS_BASE = 0x680e, G_GS_BASE = 0x6810, G_LDTR_BASE = 0x6812, G_TR_BASE = 0x6814,
	G_GDTR_BASE = 0x6816, G_IDTR_BASE = 0x6818, G_DR7 = 0x681a, G_RSP = 0x681c,
	G_RIP = 0x681e, G_RFLAGS = 0x6820, G_PENDING_DBG = 0x6822,
	G_SYSENTER_ESP = 0x6824, G_SYSENTER_EIP = 0x6826,
	H_CR0 = 0x6c00, H_CR3 = 0x6c02, H_CR4 = 0x6c04, H_FS_BASE = 0x6c06,
	H_GS_BASE = 0x6c08, H_TR_BASE = 0x6c0a, H_GDTR_BASE = 0x6c0c, H_IDTR_BASE = 0x6c0e,
	H_SYSENTER_ESP = 0x6c10, H_SYSENTER_EIP = 0x6c12, H_RIP = 0x6c16,
};

/* EPT entries: read, write, execute; leaves write-back (type 6). */
#define EPT_RWX 0x7ull
#define EPT_WB (6ull << 3)
#define EPT_LARGE (1ull << 7)
#define EPTP_WB_WALK4 (6ull | (3ull << 3))

/* ---- vmx.S ----------------------------------------------------------------------- */
struct guest_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};
int vmx_run(struct guest_regs *g, int launched);
void vmx_exit(void);
__attribute__((noreturn)) void guest_main(uint64_t cpu, uint64_t switcher);

/* ---- the instructions ------------------------------------------------------------ */

/* VMX instructions report failure in CF (VMfailInvalid) or ZF (VMfailValid). */
#define VMX_PA_INSN(name)                                                               \
	static bool name(uint64_t pa)                                                   \
	{                                                                               \
		bool fail;                                                              \
                                                                                        \
		__asm__ volatile(#name " %1" : "=@ccbe"(fail) : "m"(pa) : "memory", "cc"); \
		return !fail;                                                           \
	}
VMX_PA_INSN(vmxon)
VMX_PA_INSN(vmclear)
VMX_PA_INSN(vmptrld)

static bool vmwrite_failed;

static void vmwrite(uint64_t field, uint64_t v)
{
	bool fail;

	__asm__ volatile("vmwrite %1, %2" : "=@ccbe"(fail) : "rm"(v), "r"(field) : "cc");
	vmwrite_failed |= fail;
}

static uint64_t vmread(uint64_t field)
{
	uint64_t v = 0;

	__asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
	return v;
}

static uint64_t read_cr0(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

struct __attribute__((packed)) dtr {
	uint16_t limit;
	uint64_t base;
};

/* ---- state ---------------------------------------------------------------------- */

static uint64_t ept_a_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept_a_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept_b_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept_b_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept_pd_low[512] __attribute__((aligned(4096))); /* shared: 0..1 GiB */
static uint64_t ept_pd_test[512] __attribute__((aligned(4096)));
static uint64_t ept_pt[512] __attribute__((aligned(4096))); /* the test pages */
/* A host frame behind a test page: what the guest reads at its start. */
struct frame {
	uint32_t tag;   /* live_tag(page, frame index), or POISON once retired */
	uint32_t pad;
	uint64_t count; /* the page's retarget count when the frame was filled */
	uint8_t rest[PAGE - 16];
};
static struct frame frames[NPAGES][NFRAMES] __attribute__((aligned(4096)));
static unsigned cur_frame[NPAGES];
static uint64_t page_count[NPAGES]; /* CPU 0's: retargets of each page so far */
/*
 * Per page, the count of its last retarget whose flush has returned
 * (published by CPU 0 after the flush, before the poisoning): a guest that
 * read flushed_count[p] == n and then finds a frame of count < n read
 * through a mapping that flush removed.
 */
static uint64_t flushed_count[NPAGES];

static uint8_t vmxon_region[NCPUS_MAX][4096] __attribute__((aligned(4096)));
static uint8_t vmcs_region[NCPUS_MAX][4096] __attribute__((aligned(4096)));
static uint8_t guest_stacks[NCPUS_MAX][8192] __attribute__((aligned(16)));
static uint8_t guest_tss[104] __attribute__((aligned(16)));
static struct guest_regs gregs[NCPUS_MAX];

static struct tlbb_ept ept;
static struct tlbb_ept_cpu percpu[NCPUS_MAX];
static struct tlbb_space vm_a, vm_b;
static tlbb_cpumask_t vm_a_cpus, vm_b_cpus;

static uint32_t vmcs_revision;
static uint32_t ctl_pin, ctl_proc, ctl_proc2, ctl_exit, ctl_entry;
static uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;

/* Guest results: written by the guests, read by CPU 0 (identity-mapped in EPT). */
struct gstat {
	uint64_t reads, stale, torn, sweeps;
} __attribute__((aligned(64)));
static struct gstat gstats[NCPUS_MAX];
static volatile unsigned guest_stop;

/* Per guest CPU, written by its host side. */
struct hstat {
	uint64_t exits_irq, entries, entry_invepts, switches;
} __attribute__((aligned(64)));
static struct hstat hstats[NCPUS_MAX];

static volatile bool go;
static volatile unsigned vcpus_done;
static unsigned switcher_cpu; /* 0: none */

static enum { POSITIVE, NO_IPI_ROUND, NO_RACE_CHECK, MUTANT } control;
static char control_name[24] = "none";

static __attribute__((noreturn)) void fail(const char *what, uint64_t v)
{
	puts_serial("FAIL: ");
	puts_serial(what);
	puts_serial(" ");
	put_hex(v);
	puts_serial("\n");
	qemu_exit(false);
}

/* ---- capabilities ---------------------------------------------------------------- */

/* A control word: the bits we want, within what the CPU allows. */
static uint32_t adjust_ctls(uint32_t msr, uint32_t want, const char *what)
{
	uint64_t v = rdmsr(msr);
	uint32_t ctl = (want | (uint32_t)v) & (uint32_t)(v >> 32);

	if ((ctl & want) != want)
		fail(what, v);
	return ctl;
}

static uint64_t check_vmx_caps(void)
{
	uint32_t r[4];
	uint64_t basic, cap;
	uint32_t true_base;

	cpuid(1, 0, r);
	if (!(r[2] & (1u << 5)))
		fail("no VMX in CPUID.1:ECX", r[2]);
	basic = rdmsr(MSR_VMX_BASIC);
	vmcs_revision = (uint32_t)basic & 0x7fffffffu;
	true_base = (basic & (1ull << 55)) ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED;
	ctl_pin = adjust_ctls(true_base, PIN_EXT_INT_EXITING, "pin-based controls");
	ctl_proc = adjust_ctls(true_base + 1, PROC_SECONDARY, "processor-based controls");
	ctl_exit = adjust_ctls(true_base + 2, EXIT_HOST_64, "exit controls");
	ctl_entry = adjust_ctls(true_base + 3, ENTRY_GUEST_64, "entry controls");
	ctl_proc2 = adjust_ctls(MSR_VMX_PROCBASED2, PROC2_EPT | PROC2_VPID,
				"secondary controls: EPT and VPID");
	cap = rdmsr(MSR_VMX_EPT_VPID_CAP);
	if ((cap & (CAP_WALK4 | CAP_WB | CAP_2M)) != (CAP_WALK4 | CAP_WB | CAP_2M))
		fail("EPT without 4-level walks, write-back or 2 MiB pages", cap);
	cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
	puts_serial("vmx: basic=");
	put_hex(basic);
	puts_serial(" procbased2=");
	put_hex(rdmsr(MSR_VMX_PROCBASED2));
	puts_serial(" ept_vpid_cap=");
	put_hex(cap);
	puts_serial("\n");
	return cap;
}

/* ---- VMX on, VMCS ------------------------------------------------------------------ */

static void vmx_cpu_on(unsigned cpu)
{
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL), cr0, cr4;

	if (!(fc & 1))
		wrmsr(MSR_FEATURE_CONTROL, fc | 0x5); /* lock, VMX outside SMX */
	else if (!(fc & 0x4))
		fail("IA32_FEATURE_CONTROL locked with VMX off", fc);
	cr0 = (read_cr0() | cr0_fixed0) & cr0_fixed1; /* sets NE */
	cr4 = (read_cr4() | cr4_fixed0 | (1ull << 13)) & cr4_fixed1; /* VMXE */
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
	*(uint32_t *)vmxon_region[cpu] = vmcs_revision;
	*(uint32_t *)vmcs_region[cpu] = vmcs_revision;
	if (!vmxon((uint64_t)(uintptr_t)vmxon_region[cpu]))
		fail("VMXON failed on CPU", cpu);
}

static void vmcs_setup(unsigned cpu, struct tlbb_space *s)
{
	struct dtr gdtr, idtr;
	uint64_t stack_top = (uint64_t)(uintptr_t)&guest_stacks[cpu][sizeof(guest_stacks[cpu])];

	if (!vmclear((uint64_t)(uintptr_t)vmcs_region[cpu]) ||
	    !vmptrld((uint64_t)(uintptr_t)vmcs_region[cpu]))
		fail("VMCLEAR/VMPTRLD failed on CPU", cpu);
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	__asm__ volatile("sidt %0" : "=m"(idtr));

	vmwrite(PIN_CTLS, ctl_pin);
	vmwrite(PROC_CTLS, ctl_proc);
	vmwrite(PROC2_CTLS, ctl_proc2);
	vmwrite(EXIT_CTLS, ctl_exit);
	vmwrite(ENTRY_CTLS, ctl_entry);
	vmwrite(EXC_BITMAP, 0xffffffffu); /* any guest exception exits: reported */
	vmwrite(CR3_TARGETS, 0);
	vmwrite(EXIT_MSR_STORE, 0);
	vmwrite(EXIT_MSR_LOAD, 0);
	vmwrite(ENTRY_MSR_LOAD, 0);
	vmwrite(ENTRY_INTR_INFO, 0);
	vmwrite(CR0_MASK, 0);
	vmwrite(CR4_MASK, 0);
	vmwrite(CR0_SHADOW, read_cr0());
	vmwrite(CR4_SHADOW, read_cr4());
	/*
	 * Nonzero: VM entries and exits need not flush the combined mappings
	 * (Bochs 2.7 flushes its whole TLB at both anyway, docs/ept.md).
	 */
	vmwrite(VPID, cpu + 1);
	vmwrite(EPT_POINTER, tlbb_ept_space_eptp(s));
	vmwrite(LINK_PTR, ~0ull);

	/* Host: this CPU as it runs now; exits land in vmx_exit (vmx.S). */
	vmwrite(H_CR0, read_cr0());
	vmwrite(H_CR3, read_cr3());
	vmwrite(H_CR4, read_cr4());
	vmwrite(H_CS_SEL, 0x08);
	vmwrite(H_SS_SEL, 0x10);
	vmwrite(H_DS_SEL, 0x10);
	vmwrite(H_ES_SEL, 0x10);
	vmwrite(H_FS_SEL, 0);
	vmwrite(H_GS_SEL, 0);
	/*
	 * TR must be a nonzero selector; the host never loads or uses it (no
	 * privilege change, no IST), so it names no GDT entry.
	 */
	vmwrite(H_TR_SEL, 0x20);
	vmwrite(H_FS_BASE, 0);
	vmwrite(H_GS_BASE, 0);
	vmwrite(H_TR_BASE, (uint64_t)(uintptr_t)guest_tss);
	vmwrite(H_GDTR_BASE, gdtr.base);
	vmwrite(H_IDTR_BASE, idtr.base);
	vmwrite(H_SYSENTER_CS, 0);
	vmwrite(H_SYSENTER_ESP, 0);
	vmwrite(H_SYSENTER_EIP, 0);
	vmwrite(H_RIP, (uint64_t)(uintptr_t)vmx_exit);

	/* Guest: 64-bit, ring 0, flat, the host's page tables and GDT. */
	vmwrite(G_CR0, read_cr0());
	vmwrite(G_CR3, read_cr3());
	vmwrite(G_CR4, read_cr4());
	vmwrite(G_DR7, 0x400);
	vmwrite(G_DEBUGCTL, 0);
	vmwrite(G_RSP, stack_top - 8); /* as after a call: %rsp + 8 16-aligned */
	vmwrite(G_RIP, (uint64_t)(uintptr_t)guest_main);
	vmwrite(G_RFLAGS, 0x202);
	vmwrite(G_CS_SEL, 0x08);
	vmwrite(G_CS_BASE, 0);
	vmwrite(G_CS_LIMIT, 0xffffffffu);
	vmwrite(G_CS_AR, 0xa09b); /* code, accessed, P, L, G */
	for (unsigned i = 0; i < 3; i++) {
		static const uint16_t sel[3] = { G_SS_SEL, G_DS_SEL, G_ES_SEL };
		static const uint16_t base[3] = { G_SS_BASE, G_DS_BASE, G_ES_BASE };
		static const uint16_t lim[3] = { G_SS_LIMIT, G_DS_LIMIT, G_ES_LIMIT };
		static const uint16_t ar[3] = { G_SS_AR, G_DS_AR, G_ES_AR };

		vmwrite(sel[i], 0x10);
		vmwrite(base[i], 0);
		vmwrite(lim[i], 0xffffffffu);
		vmwrite(ar[i], 0xc093); /* data, accessed, P, D/B, G */
	}
	vmwrite(G_FS_SEL, 0);
	vmwrite(G_FS_BASE, 0);
	vmwrite(G_FS_LIMIT, 0);
	vmwrite(G_FS_AR, 0x10000); /* unusable */
	vmwrite(G_GS_SEL, 0);
	vmwrite(G_GS_BASE, 0);
	vmwrite(G_GS_LIMIT, 0);
	vmwrite(G_GS_AR, 0x10000);
	vmwrite(G_LDTR_SEL, 0);
	vmwrite(G_LDTR_BASE, 0);
	vmwrite(G_LDTR_LIMIT, 0);
	vmwrite(G_LDTR_AR, 0x10000);
	vmwrite(G_TR_SEL, 0x20);
	vmwrite(G_TR_BASE, (uint64_t)(uintptr_t)guest_tss);
	vmwrite(G_TR_LIMIT, sizeof(guest_tss) - 1);
	vmwrite(G_TR_AR, 0x8b); /* busy 64-bit TSS, P */
	vmwrite(G_GDTR_BASE, gdtr.base);
	vmwrite(G_GDTR_LIMIT, gdtr.limit);
	vmwrite(G_IDTR_BASE, idtr.base);
	vmwrite(G_IDTR_LIMIT, idtr.limit);
	vmwrite(G_INTERRUPTIBILITY, 0);
	vmwrite(G_ACTIVITY, 0);
	vmwrite(G_PENDING_DBG, 0);
	vmwrite(G_SYSENTER_CS, 0);
	vmwrite(G_SYSENTER_ESP, 0);
	vmwrite(G_SYSENTER_EIP, 0);
	if (vmwrite_failed)
		fail("VMWRITE failed on CPU", cpu);
	gregs[cpu].rdi = cpu;
	gregs[cpu].rsi = cpu == switcher_cpu;
}

/* ---- the guest ------------------------------------------------------------------- */

static inline void vmcall(uint64_t what)
{
	__asm__ volatile("vmcall" : : "a"(what) : "memory");
}

/*
 * Guest code: runs in VMX non-root operation on CPUs 1..N-1. It touches only
 * memory (no I/O, no MSR, no interrupt): its only exits are the flush IPIs,
 * VMCALL 1 (the switcher changes VM) and VMCALL 0 (stop).
 */
void guest_main(uint64_t cpu, uint64_t switcher)
{
	struct gstat *st = &gstats[cpu];
	bool in_a = true;

	for (uint64_t n = 1;; n++) {
		if (guest_stop)
			vmcall(0);
		if (in_a) {
			uint64_t stale = 0, torn = 0;

			for (unsigned p = 0; p < NPAGES; p++) {
				uintptr_t va = (uintptr_t)(TEST_GPA + (uint64_t)p * PAGE);
				uint64_t flushed = __atomic_load_n(&flushed_count[p],
								   __ATOMIC_ACQUIRE);
				uint32_t v = *(volatile uint32_t *)va;
				uint64_t c = *(volatile uint64_t *)(va + 8); /* frame.count */

				if (v == POISON || c < flushed)
					stale++; /* a retired frame: its flush had returned */
				else if ((v & 0xffff0000u) != LIVE_TAG || ((v >> 4) & 0xfff) != p)
					torn++;
			}
			__atomic_store_n(&st->reads, st->reads + NPAGES, __ATOMIC_RELAXED);
			__atomic_store_n(&st->stale, st->stale + stale, __ATOMIC_RELAXED);
			__atomic_store_n(&st->torn, st->torn + torn, __ATOMIC_RELAXED);
			__atomic_store_n(&st->sweeps, st->sweeps + 1, __ATOMIC_RELEASE);
			if (switcher && n % VISIT_A == 0) {
				vmcall(1); /* to VM B */
				in_a = false;
			}
		} else {
			for (volatile unsigned i = 0; i < 200; i++)
				;
			if (n % VISIT_B == 0) {
				vmcall(1); /* back to VM A */
				in_a = true;
			}
		}
	}
}

/* ---- the host side of a guest CPU ---------------------------------------------- */

static __attribute__((noreturn)) void bad_exit(unsigned cpu, uint64_t reason)
{
	puts_serial("FAIL: unexpected VM exit on CPU ");
	put_u64(cpu);
	puts_serial(": reason ");
	put_u64(reason);
	puts_serial(" qualification ");
	put_hex(vmread(EXIT_QUALIFICATION));
	puts_serial(" guest rip ");
	put_hex(vmread(G_RIP));
	puts_serial(" interruption ");
	put_hex(vmread(EXIT_INTR_INFO));
	puts_serial(" gpa ");
	put_hex(vmread(GUEST_PHYS_ADDR));
	puts_serial("\n");
	qemu_exit(false);
}

/* Interrupts are off throughout, but in the window after an interrupt exit. */
static void vcpu_run(unsigned cpu)
{
	struct hstat *hs = &hstats[cpu];
	struct tlbb_space *s = &vm_a;
	int launched = 0;

	vmcs_setup(cpu, s);
	for (;;) {
		uint64_t reason;

		/* After the last point where we took interrupts, before the entry. */
		if (tlbb_ept_vm_enter(&ept, s))
			hs->entry_invepts++;
		hs->entries++;
		if (vmx_run(&gregs[cpu], launched))
			fail(launched ? "VMRESUME failed, VM-instruction error"
				      : "VMLAUNCH failed, VM-instruction error",
			     vmread(VM_INSN_ERROR));
		launched = 1;
		reason = vmread(EXIT_REASON);
		if ((reason & 0xffff) == EXIT_EXT_INT) {
			/*
			 * The flush IPI is still pending in the local APIC (not
			 * acknowledged on exit): take it through the host's IDT,
			 * whose flush vector runs the library's handler.
			 */
			hs->exits_irq++;
			__asm__ volatile("sti; nop; cli" ::: "memory");
			continue;
		}
		if (reason != EXIT_VMCALL)
			bad_exit(cpu, reason);
		vmwrite(G_RIP, vmread(G_RIP) + vmread(EXIT_INSN_LEN));
		if (gregs[cpu].rax == 0)
			return;
		s = s == &vm_a ? &vm_b : &vm_a;
		vmwrite(EPT_POINTER, tlbb_ept_space_eptp(s));
		hs->switches++;
	}
}

void ap_main(void)
{
	unsigned cpu;

	idt_load();
	lapic_enable();
	cpu = tlbb_port_cpu_id();
	vmx_cpu_on(cpu);
	__atomic_fetch_add(&ap_online, 1, __ATOMIC_SEQ_CST);
	while (!go)
		cpu_relax();
	vcpu_run(cpu);
	__atomic_fetch_add(&vcpus_done, 1, __ATOMIC_RELEASE);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- CPU 0: the changer ---------------------------------------------------------- */

static uint64_t frame_pa(unsigned page, unsigned f)
{
	return (uint64_t)(uintptr_t)&frames[page][f]; /* identity map */
}

static uint32_t live_tag(unsigned page, unsigned f)
{
	return LIVE_TAG | (page << 4) | f;
}

static uint64_t test_gpa(unsigned page)
{
	return TEST_GPA + (uint64_t)page * PAGE;
}

/* Move @page to its next frame; returns the frame it left (to poison). */
static unsigned retarget(unsigned page)
{
	unsigned old = cur_frame[page], nf = (old + 1) % NFRAMES;

	/* Filled before any entry leads here. */
	frames[page][nf].count = ++page_count[page];
	frames[page][nf].tag = live_tag(page, nf);
	__atomic_store_n(&ept_pt[page], frame_pa(page, nf) | EPT_RWX | EPT_WB, __ATOMIC_SEQ_CST);
	cur_frame[page] = nf;
	return old;
}

struct left_list {
	unsigned n;
	struct {
		unsigned page, frame;
		uint64_t count; /* the page's count after this retarget */
	} e[NPAGES];
};

static void left_add(struct left_list *l, unsigned page)
{
	l->e[l->n].page = page;
	l->e[l->n].frame = retarget(page);
	l->e[l->n++].count = page_count[page];
}

/*
 * Only after the flush (or the race check) covering them: say that the
 * flush returned (@flushed), then reuse the frames left (poison).
 */
static void poison_left(struct left_list *l, bool flushed)
{
	for (unsigned j = 0; j < l->n && flushed; j++)
		__atomic_store_n(&flushed_count[l->e[j].page], l->e[j].count, __ATOMIC_RELEASE);
	for (unsigned j = 0; j < l->n; j++)
		__atomic_store_n(&frames[l->e[j].page][l->e[j].frame].tag, POISON, __ATOMIC_SEQ_CST);
	l->n = 0;
}

static uint64_t total_stale(void)
{
	uint64_t s = 0;

	for (unsigned c = 1; c < ncpus; c++)
		s += __atomic_load_n(&gstats[c].stale, __ATOMIC_RELAXED);
	return s;
}

/* Let every guest that is in VM A finish two more sweeps (bounded). */
static void let_guests_sweep(void)
{
	uint64_t before[NCPUS_MAX];

	for (unsigned c = 1; c < ncpus; c++)
		before[c] = __atomic_load_n(&gstats[c].sweeps, __ATOMIC_ACQUIRE);
	for (uint64_t t = 0; t < 2000000; t++) {
		bool all = true;

		for (unsigned c = 1; c < ncpus; c++)
			if (c != switcher_cpu &&
			    __atomic_load_n(&gstats[c].sweeps, __ATOMIC_ACQUIRE) < before[c] + 2)
				all = false;
		if (all)
			return;
		cpu_relax();
	}
}

static uint64_t invepts(void)
{
	uint64_t n = 0;

	for (unsigned c = 0; c < ncpus; c++)
		n += percpu[c].st.full + percpu[c].st.switch_flushes;
	return n;
}

struct phase {
	uint64_t retargets, flushes, race_checks, ipi_rounds, ipis, invepts;
};

static void run_batched(uint64_t total, struct phase *ph)
{
	static struct left_list left;
	unsigned cursor = 0;
	uint64_t r0 = ipi_rounds, i0 = ipis_sent, v0 = invepts();

	for (uint64_t done = 0, k = 0; done < total; k++) {
		unsigned n = 8 + (unsigned)((k * 37) % 56);
		struct tlbb_batch b;

		if (n > total - done)
			n = (unsigned)(total - done);
		tlbb_batch_init(&b);
		for (unsigned j = 0; j < n; j++) {
			unsigned p = cursor++ % NPAGES;

			left_add(&left, p);
			tlbb_add_page(&b, &vm_a, test_gpa(p), 0);
		}
		if (k % RACE_EVERY == RACE_EVERY - 1) {
			/*
			 * The racing changer: it finds these entries already
			 * retargeted (by the open batch) and reclaims the frames
			 * they left. Guests may still hold the old mappings: it
			 * must flush what is pending before the frames go.
			 */
			bool checked = control != NO_RACE_CHECK;

			if (checked && tlbb_flush_pending(&vm_a))
				ph->race_checks++;
			poison_left(&left, checked);
			let_guests_sweep();
		}
		tlbb_flush(&b);
		poison_left(&left, true);
		ph->flushes++;
		done += n;
		ph->retargets = done;
		if (control != POSITIVE) {
			let_guests_sweep();
			if (total_stale())
				break; /* seen: the control has shown what it must */
		}
	}
	ph->ipi_rounds = ipi_rounds - r0;
	ph->ipis = ipis_sent - i0;
	ph->invepts = invepts() - v0;
}

static void run_per_page(uint64_t total, struct phase *ph)
{
	uint64_t r0 = ipi_rounds, i0 = ipis_sent, v0 = invepts();

	for (uint64_t done = 0; done < total; done++) {
		static struct left_list left;
		unsigned p = (unsigned)(done % NPAGES);
		struct tlbb_batch b;

		tlbb_batch_init(&b);
		left_add(&left, p);
		tlbb_add_page(&b, &vm_a, test_gpa(p), 0);
		tlbb_flush(&b);
		poison_left(&left, true);
		ph->flushes++;
	}
	ph->retargets = total;
	ph->ipi_rounds = ipi_rounds - r0;
	ph->ipis = ipis_sent - i0;
	ph->invepts = invepts() - v0;
}

/* x 1000, for "per page" figures without floating point. */
static void kv_milli(const char *k, uint64_t num, uint64_t den, bool last)
{
	kv(k, den ? num * 1000 / den : 0, last);
}

static void put_phase(const char *name, const struct phase *ph, bool last)
{
	puts_serial("\"");
	puts_serial(name);
	puts_serial("\": {");
	kv("retargets", ph->retargets, false);
	kv("flushes", ph->flushes, false);
	kv("race_checks", ph->race_checks, false);
	kv("ipi_rounds", ph->ipi_rounds, false);
	kv("ipis", ph->ipis, false);
	kv("invepts", ph->invepts, false);
	kv_milli("ipi_rounds_per_1000_pages", ph->ipi_rounds, ph->retargets, false);
	kv_milli("invepts_per_1000_pages", ph->invepts, ph->retargets, true);
	puts_serial(last ? "}" : "}, ");
}

/* ---- setup --------------------------------------------------------------------------- */

static void build_ept(void)
{
	for (unsigned i = 0; i < 512; i++)
		ept_pd_low[i] = ((uint64_t)i << 21) | EPT_RWX | EPT_WB | EPT_LARGE;
	for (unsigned p = 0; p < NPAGES; p++) {
		for (unsigned f = 0; f < NFRAMES; f++)
			frames[p][f].tag = POISON;
		frames[p][0].tag = live_tag(p, 0);
		ept_pt[p] = frame_pa(p, 0) | EPT_RWX | EPT_WB;
	}
	ept_pd_test[0] = (uint64_t)(uintptr_t)ept_pt | EPT_RWX;
	ept_a_pdpt[0] = (uint64_t)(uintptr_t)ept_pd_low | EPT_RWX;
	ept_a_pdpt[1] = (uint64_t)(uintptr_t)ept_pd_test | EPT_RWX;
	ept_a_pml4[0] = (uint64_t)(uintptr_t)ept_a_pdpt | EPT_RWX;
	/* VM B: the same low gigabyte, no test pages. */
	ept_b_pdpt[0] = (uint64_t)(uintptr_t)ept_pd_low | EPT_RWX;
	ept_b_pml4[0] = (uint64_t)(uintptr_t)ept_b_pdpt | EPT_RWX;
}

static void parse_cmdline(uint64_t *retargets, uint64_t *per_page)
{
	for (const char *s = machine_cmdline(); *s; s++) {
		if (str_starts(s, "retargets="))
			*retargets = parse_u64(s + 10);
		if (str_starts(s, "perpage="))
			*per_page = parse_u64(s + 8);
		if (str_starts(s, "cpus="))
			cmdline_cpus = (unsigned)parse_u64(s + 5);
		if (str_starts(s, "control=")) {
			unsigned n = 0;

			for (const char *c = s + 8; *c && *c != ' ' && n + 1 < sizeof(control_name);)
				control_name[n++] = *c++;
			control_name[n] = 0;
			if (str_starts(s + 8, "no-ipi-round"))
				control = NO_IPI_ROUND;
			else if (str_starts(s + 8, "no-race-check"))
				control = NO_RACE_CHECK;
			else
				control = MUTANT; /* invept-deleted, no-entry-flush */
		}
	}
}

static void setup_library(const struct tlbb_ept_config *cfg)
{
	if (tlbb_ept_init(&ept, cfg, percpu, NCPUS_MAX) != TLBB_OK ||
	    tlbb_space_init(&vm_a, tlbb_ept_backend(&ept), 1, NULL) != TLBB_OK ||
	    tlbb_space_init(&vm_b, tlbb_ept_backend(&ept), 2, NULL) != TLBB_OK)
		fail("library init", 0);
	tlbb_space_set_cpumask(&vm_a, &vm_a_cpus);
	tlbb_space_set_cpumask(&vm_b, &vm_b_cpus);
	if (tlbb_ept_space_set_eptp(&vm_a, (uint64_t)(uintptr_t)ept_a_pml4 | EPTP_WB_WALK4) ||
	    tlbb_ept_space_set_eptp(&vm_b, (uint64_t)(uintptr_t)ept_b_pml4 | EPTP_WB_WALK4))
		fail("set_eptp", 0);
}

struct totals {
	uint64_t reads, stale, torn;
};

/* The JSON line the run script reads. */
static void report(const struct tlbb_ept_config *cfg, const struct totals *tot,
		   const struct phase *batched, const struct phase *pp)
{
	puts_serial("{\"control\": \"");
	puts_serial(control == POSITIVE ? "none" : control_name);
	puts_serial("\", ");
	kv("cpus", ncpus, false);
	kv("invept_single", !!(cfg->features & TLBB_EPT_INVEPT_SINGLE), false);
	kv("reads", tot->reads, false);
	kv("stale_reads", tot->stale, false);
	kv("torn_reads", tot->torn, false);
	kv("ipi_rounds_dropped", ipi_rounds_dropped, false);
	put_phase("batched", batched, false);
	put_phase("per_page", pp, false);
	puts_serial("\"per_cpu\": [");
	for (unsigned c = 0; c < ncpus; c++) {
		const struct tlbb_mg_cpu_stats *st = &percpu[c].st;

		puts_serial("{");
		kv("cpu", c, false);
		kv("reads", gstats[c].reads, false);
		kv("stale", gstats[c].stale, false);
		kv("vm_entries", hstats[c].entries, false);
		kv("exits_on_ipi", hstats[c].exits_irq, false);
		kv("vm_switches", hstats[c].switches, false);
		kv("handled_ipi", st->ipis, false);
		kv("skipped", st->skipped, false);
		kv("invept_in_handler", st->full, false);
		kv("invept_at_entry", st->switch_flushes, false);
		kv("trimmed", st->trimmed, true);
		puts_serial(c + 1 < ncpus ? "}, " : "}");
	}
	puts_serial("]}\n");
}

static bool verdict(const struct totals *tot, const struct phase *batched,
		    const struct phase *pp, uint64_t retargets)
{
	uint64_t want = batched->flushes + batched->race_checks + pp->flushes;
	bool pass;

	if (control != POSITIVE) {
		pass = tot->stale > 0;
		puts_serial(pass ? "negative control: stale reads observed, as they must be\n"
				 : "negative control: NO stale read: the test cannot detect this bug\n");
		return pass;
	}
	pass = tot->stale == 0 && tot->torn == 0 && tot->reads > 0 &&
	       batched->retargets >= retargets;
	if (ipi_rounds != want) {
		puts_serial("IPI rounds do not match flushes + race checks\n");
		pass = false;
	}
	for (unsigned c = 1; c < ncpus; c++)
		if (!gstats[c].reads || !hstats[c].exits_irq || !percpu[c].st.full)
			pass = false; /* every guest read, exited on IPIs, INVEPTed */
	if (switcher_cpu && (!percpu[switcher_cpu].st.trimmed ||
			     percpu[switcher_cpu].st.switch_flushes < 2)) {
		puts_serial("the switcher was never trimmed or never flushed at entry\n");
		pass = false;
	}
	return pass;
}

void kmain(void)
{
	uint64_t retargets = 20000, per_page = 1000, cap;
	struct tlbb_ept_config cfg;
	struct phase batched = { 0 }, pp = { 0 };
	struct totals tot = { 0 };

	serial_init();
	puts_serial("tlbbatch x86-64 EPT hypervisor test\n");
	parse_cmdline(&retargets, &per_page);
	idt_init();
	idt_load();
	lapic_enable();
	port_drop_rounds = control == NO_IPI_ROUND;

	cap = check_vmx_caps();
	cfg.features = tlbb_ept_features_from_cap(cap);
	puts_serial("invept: single=");
	put_u64(!!(cfg.features & TLBB_EPT_INVEPT_SINGLE));
	puts_serial(" all=");
	put_u64(!!(cfg.features & TLBB_EPT_INVEPT_ALL));
	puts_serial(" control=");
	puts_serial(control == POSITIVE ? "none" : control_name);
	puts_serial("\n");
	if (!(cfg.features & TLBB_EPT_INVEPT_SINGLE))
		fail("no single-context INVEPT", cap);
	build_ept();
	setup_library(&cfg);

	vmx_cpu_on(0);
	start_aps();
	puts_serial("cpus online (VMXON done): ");
	put_u64(ncpus);
	puts_serial("\n");
	if (ncpus < 2)
		fail("need at least 2 CPUs", ncpus);
	switcher_cpu = ncpus >= 3 ? ncpus - 1 : 0;

	/* CPU 0's timer: the wake-up of a dropped round's wait (port_drop_rounds). */
	lapic_write(LAPIC_TIMER_DIV, 0xb);
	lapic_write(LAPIC_LVT_TIMER, (1u << 17) | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_INIT, TIMER_PERIOD);
	__asm__ volatile("sti");
	go = true;
	/* Every guest is in VM A and has read every page before the first change. */
	let_guests_sweep();

	run_batched(retargets, &batched);
	if (control == POSITIVE && per_page)
		run_per_page(per_page, &pp);
	guest_stop = 1;
	while (__atomic_load_n(&vcpus_done, __ATOMIC_ACQUIRE) != ncpus - 1)
		cpu_relax();

	for (unsigned c = 1; c < ncpus; c++) {
		tot.reads += gstats[c].reads;
		tot.stale += gstats[c].stale;
		tot.torn += gstats[c].torn;
	}
	report(&cfg, &tot, &batched, &pp);
	qemu_exit(verdict(&tot, &batched, &pp, retargets));
}
