/* SPDX-License-Identifier: MIT */
/*
 * The machine both arm64 images run on (qemu-system-aarch64 -M virt): the
 * memset/memcpy the compiler may call, the PL011 UART and the report
 * printing, PSCI (CPU_ON, SYSTEM_OFF), the CPU number, and the port's
 * tlbb_port_cpu_id() / tlbb_port_debug_fail(). Included by exactly one
 * file of an image (it defines external functions): the EL1 unikernel
 * (kernel.c, PSCI by HVC) and the EL2 hypervisor (examples/hyp-arm64/hyp.c,
 * which defines A64_PSCI_CONDUIT as "smc #0": at EL2 the firmware is
 * reached by SMC).
 */
#ifndef TLBB_EXAMPLES_A64_MACHINE_H
#define TLBB_EXAMPLES_A64_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include <tlbbatch/port.h>

#ifndef A64_PSCI_CONDUIT
#define A64_PSCI_CONDUIT "hvc #0"
#endif

/* ---- tiny libc the compiler may call, and the UART ---------------------- */

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *d, int c, size_t n)
{
	volatile unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	volatile unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

#define UART_DR ((volatile uint32_t *)0x09000000)
#define UART_FR ((volatile uint32_t *)0x09000018)

static void putc_(char c)
{
	while (*UART_FR & (1u << 5)) /* TXFF */
		;
	*UART_DR = (uint32_t)(unsigned char)c;
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void putu(uint64_t v)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		putc_(buf[--i]);
}

static void putx(uint64_t v)
{
	puts_("0x");
	for (int sh = 60; sh >= 0; sh -= 4)
		putc_("0123456789abcdef"[(v >> sh) & 15]);
}

static void kv(const char *k, uint64_t v, int last)
{
	puts_("\"");
	puts_(k);
	puts_("\":");
	putu(v);
	if (!last)
		puts_(",");
}

/* ---- PSCI (A64_PSCI_CONDUIT) and CPU registers ---------------------------- */

#define PSCI_CPU_ON 0xC4000003u
#define PSCI_SYSTEM_OFF 0x84000008u

static int64_t psci(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 __asm__("x0") = fn;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	__asm__ volatile(A64_PSCI_CONDUIT : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
	return (int64_t)x0;
}

static _Noreturn void power_off(void)
{
	psci(PSCI_SYSTEM_OFF, 0, 0, 0);
	for (;;)
		__asm__ volatile("wfe");
}

static unsigned this_cpu(void)
{
	uint64_t mpidr;

	__asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
	return (unsigned)(mpidr & 0xff);
}

/* ---- port hooks ------------------------------------------------------------ */

unsigned tlbb_port_cpu_id(void)
{
	return this_cpu();
}

void tlbb_port_debug_fail(const char *what)
{
	puts_("\ndebug check failed: ");
	puts_(what);
	puts_("\nVERDICT: FAIL (debug check)\n");
	power_off();
}

#endif
