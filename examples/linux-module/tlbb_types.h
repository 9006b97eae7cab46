/* SPDX-License-Identifier: MIT */
/*
 * TLBB_TYPES_HEADER for Linux (kbuild compiles with -nostdinc, and the
 * kernel's uint64_t is unsigned long long where GCC's <stdint.h> would say
 * unsigned long). <linux/types.h> has the fixed-width types, uintptr_t and
 * bool, <linux/stddef.h> true, false and NULL; the kernel spells the two
 * macros differently, so they are defined here.
 */
#ifndef TLBB_LINUX_TYPES_H
#define TLBB_LINUX_TYPES_H

#include <linux/limits.h>
#include <linux/stddef.h>
#include <linux/types.h>

#ifndef UINT64_MAX
#define UINT64_MAX U64_MAX
#endif
#ifndef UINT64_C
#define UINT64_C(c) c##ULL
#endif

#endif /* TLBB_LINUX_TYPES_H */
