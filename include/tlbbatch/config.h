/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch build-time configuration.
 *
 * Every knob is an #ifndef default, so a kernel sets its own with -D or by
 * including its own definitions before any tlbbatch header. The values are
 * checked by static assertions in lib/tlbbatch.c, so a bad override fails to
 * build instead of producing a library that under-flushes.
 *
 * TYPES. By default the library takes its types from <stdint.h>,
 * <stdbool.h> and <stddef.h>, which GCC and Clang ship for freestanding
 * targets. A kernel that builds without the compiler's headers (Linux since
 * 5.15 passes -nostdinc; its own uint64_t is unsigned long long where GCC's
 * is unsigned long) defines TLBB_TYPES_HEADER instead, e.g.
 *     -DTLBB_TYPES_HEADER='<mykernel/tlbb_types.h>'
 * and then nothing but that header is included. It must provide exactly:
 *     types    uint8_t uint16_t uint32_t uint64_t int64_t uintptr_t bool
 *     values   true false NULL
 *     macros   UINT64_MAX UINT64_C(c)
 * with the C99 meanings (exact widths, uintptr_t as wide as a pointer; the
 * assertions below check the widths). Nothing else is used: size_t, the
 * other limits and every function come from the compiler (__atomic_*,
 * __builtin_ctzll) or are not needed. examples/linux-module/tlbb_types.h
 * is the Linux one; docs/kernel-build.md has the rest.
 */
#ifndef TLBBATCH_CONFIG_H
#define TLBBATCH_CONFIG_H

#ifdef TLBB_TYPES_HEADER
#include TLBB_TYPES_HEADER
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

/*
 * A kernel's own typedefs are checked where the library depends on them:
 * generation words and masks are built from 64-bit shifts, and backend
 * state packs pointers into uintptr_t.
 */
#ifdef __cplusplus
#define TLBB_TYPES_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define TLBB_TYPES_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
TLBB_TYPES_ASSERT(sizeof(uint8_t) == 1 && sizeof(uint16_t) == 2 && sizeof(uint32_t) == 4 &&
			  sizeof(uint64_t) == 8 && sizeof(int64_t) == 8,
		  "tlbbatch: the exact-width integer types have the wrong sizes");
TLBB_TYPES_ASSERT(sizeof(uintptr_t) >= sizeof(void *),
		  "tlbbatch: uintptr_t cannot hold a pointer");
TLBB_TYPES_ASSERT((uint64_t)UINT64_MAX == (uint64_t)-1 && UINT64_C(1) << 63 != 0,
		  "tlbbatch: UINT64_MAX / UINT64_C are not 64-bit");
TLBB_TYPES_ASSERT((int64_t)-1 < 0 && (uint64_t)-1 > 0, "tlbbatch: int64_t must be signed");
#undef TLBB_TYPES_ASSERT

/*
 * Largest CPU (or vCPU) number + 1 that a CPU mask can name. Like the
 * TLBB_ARCH_*_WORDS below, a plain decimal number: it is part of the ABI
 * guard's symbol name (tlbbatch.h), so that objects built with different
 * values cannot be linked together.
 */
#ifndef TLBB_MAX_CPUS
#define TLBB_MAX_CPUS 64
#endif

/* Default translation granule: 4 KiB. A space may override it at init. */
#ifndef TLBB_DEFAULT_PAGE_SHIFT
#define TLBB_DEFAULT_PAGE_SHIFT 12
#endif

/*
 * Ranges longer than this many pages are queued as one whole-space
 * invalidation instead (the per-page operations would cost more than
 * refilling the TLB). Linux's arm64 limit is 512; a space may override it.
 */
#ifndef TLBB_DEFAULT_FULL_FLUSH_PAGES
#define TLBB_DEFAULT_FULL_FLUSH_PAGES 512
#endif

/* Backend-private storage, in 64-bit words, inside a space and a batch. */
#ifndef TLBB_ARCH_SPACE_WORDS
#define TLBB_ARCH_SPACE_WORDS 4
#endif
#ifndef TLBB_ARCH_BATCH_WORDS
#define TLBB_ARCH_BATCH_WORDS 8
#endif

/* Symbol visibility for the shared library build (hidden by default). */
#ifndef TLBB_API
#if defined(TLBB_BUILDING_SHARED) && defined(__GNUC__)
#define TLBB_API __attribute__((__visibility__("default")))
#else
#define TLBB_API
#endif
#endif

#endif /* TLBBATCH_CONFIG_H */
