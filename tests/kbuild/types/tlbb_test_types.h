/* SPDX-License-Identifier: MIT */
/*
 * A TLBB_TYPES_HEADER that includes nothing: every type and macro the
 * library needs (include/tlbbatch/config.h lists them), defined from the
 * compiler's own keywords. The nostdinc tests compile the core and a backend
 * with -nostdinc against it alone, so a header the library picked up from
 * anywhere else would fail the build.
 *
 * uint64_t is unsigned long long, as in Linux (GCC's <stdint.h> has
 * unsigned long on LP64): the library must not care which.
 */
#ifndef TLBB_TEST_TYPES_H
#define TLBB_TEST_TYPES_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
typedef __UINTPTR_TYPE__ uintptr_t;

#ifndef __cplusplus
typedef _Bool bool;
#define true 1
#define false 0
#endif

#define NULL ((void *)0)
#define UINT64_MAX 0xffffffffffffffffULL
#define UINT64_C(c) c##ULL

#endif /* TLBB_TEST_TYPES_H */
