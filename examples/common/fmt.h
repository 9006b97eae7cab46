/* SPDX-License-Identifier: MIT */
/*
 * Number formatting for the bare-metal images (no libc): each image prints
 * the result through its own UART or serial port.
 */
#ifndef TLBB_EXAMPLES_FMT_H
#define TLBB_EXAMPLES_FMT_H

#include <stdint.h>

/* @v in decimal, in @buf; returns where the digits start. */
static inline const char *fmt_u64(char buf[21], uint64_t v)
{
	int i = 20;

	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return &buf[i];
}

/* @v as 0x and 16 hex digits, in @buf. */
static inline const char *fmt_hex(char buf[19], uint64_t v)
{
	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < 16; i++)
		buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
	buf[18] = 0;
	return buf;
}

#endif
