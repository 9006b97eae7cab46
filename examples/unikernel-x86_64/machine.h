/* SPDX-License-Identifier: MIT */
/*
 * The machine under the x86-64 images (the poison-test unikernel in
 * kernel.c and the VMX hypervisor in examples/hyp-x86_64): serial port,
 * xAPIC, IDT, AP start-up and tlbbatch's port hooks with real flush IPIs.
 * Both images link boot.S (PVH entry, long mode, AP trampoline, interrupt
 * stubs) and machine.c, and define kmain() and ap_main().
 */
#ifndef TLBB_EXAMPLE_MACHINE_H
#define TLBB_EXAMPLE_MACHINE_H

#include <tlbbatch/port.h>

#define NCPUS_MAX 8
#define FLUSH_VECTOR 0xf0
#define DONE_VECTOR 0xf1 /* last handler -> sender: round complete, stop halting */
#define TIMER_VECTOR 0xf2 /* wakes a halted CPU; EOI and nothing else */
#define SPURIOUS_VECTOR 0xff
#define AP_TRAMP_BASE 0x8000u

#define LAPIC_BASE 0xfee00000ul
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

/* ---- from boot.S ------------------------------------------------------------ */
extern uint64_t pml4[512], pdpt[512];
extern uint32_t pvh_start_info;
extern char ap_tramp_start[], ap_tramp_end[];
extern uint64_t ap_stack_top; /* read by the trampoline */
void kmain(void);   /* the image's: BSP */
void ap_main(void); /* the image's: every AP, once it runs in long mode */

/* ---- instructions ------------------------------------------------------------ */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC_BASE + reg);
}

static inline void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}

/* ---- serial port, verdict, command line -------------------------------------- */
void serial_init(void);
void putc_serial(char c);
void puts_serial(const char *s);
void put_u64(uint64_t v);
void put_hex(uint64_t v);
void kv(const char *k, uint64_t v, bool last); /* "key": value, for JSON lines */
/* VERDICT line, then isa-debug-exit (QEMU) or the 0x8900 power-off (Bochs). */
__attribute__((noreturn)) void qemu_exit(bool pass);
bool str_starts(const char *s, const char *p);
uint64_t parse_u64(const char *s);
const char *machine_cmdline(void); /* PVH cmdline ("" if none) */

/* ---- local APIC, IDT ------------------------------------------------------------ */
void lapic_enable(void);
void lapic_send(uint32_t apic_id, uint32_t icr_lo);
void delay(uint64_t loops);
/* Masks the 8259, fills the IDT: exceptions report and stop, the flush,
 * done and timer vectors; every other vector returns. */
void idt_init(void);
void idt_load(void);

/* ---- CPUs and the port hooks ------------------------------------------------ */
extern unsigned ncpus;
extern uint8_t apic_of_cpu[NCPUS_MAX];
extern uint8_t cpu_of_apic[256];
extern volatile unsigned ap_online; /* each AP adds 1 once it is set up */
extern unsigned cmdline_cpus;       /* "cpus=N": where there is no fw_cfg (Bochs) */
void start_aps(void);
/*
 * The negative control "no IPI round": tlbb_port_ipi_send_and_wait()
 * sends nothing, waits for its own next interrupt and returns.
 */
extern bool port_drop_rounds;
extern uint64_t ipi_rounds, ipis_sent, ipi_rounds_dropped;

#endif
