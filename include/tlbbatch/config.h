/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch build-time configuration.
 *
 * Every knob is an #ifndef default, so a kernel sets its own with -D or by
 * including its own definitions before any tlbbatch header. The values are
 * checked by static assertions in lib/tlbbatch.c, so a bad override fails to
 * build instead of producing a library that under-flushes.
 *
 * Only <stdint.h>, <stdbool.h> and <stddef.h> are used: GCC and Clang ship
 * them for freestanding targets.
 */
#ifndef TLBBATCH_CONFIG_H
#define TLBBATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest CPU (or vCPU) number + 1 that a CPU mask can name. */
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
#define TLBB_ARCH_BATCH_WORDS 4
#endif

/* Symbol visibility for the shared library build (hidden by default). */
#ifndef TLBB_API
#if defined(TLBB_BUILDING_SHARED) && defined(__GNUC__)
#define TLBB_API __attribute__((visibility("default")))
#else
#define TLBB_API
#endif
#endif

#endif /* TLBBATCH_CONFIG_H */
