#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the hand-made seed inputs of the sequence fuzzer (tests/fuzz/seqfuzz.c).

Encoding: header [cfg, thresholds], then ops [op, a, extra...]:
  cfg: ncpus = 2 + cfg % 3; bit 2 = x86 model; bit 3 = 4-entry TLBs
  a:   space = a % 2, page = (a // 2) % 8, batch = (a >> 5) % 2, bit 7 = flag
Run from the source tree: tests/fuzz/make-seeds.py (rewrites corpus/seed-* and crafted/*).
"""
import os

(UNMAP_PAGE, UNMAP_RANGE, UNMAP_SPACE, FLUSH, FLUSH_DIRTY, MPROTECT, ZAP, RACE_CHECK,
 MAP, ACCESS, PREFETCH, SWITCH, MIGRATE, DSB, FREE, NULL_ARGS) = range(16)

def a(space=0, page=0, batch=0, flag=0):
    return space | (page << 1) | (batch << 5) | (flag << 7)

ARM64_3 = 1        # 3 CPUs, arm64
X86_3 = 1 | 4      # 3 CPUs, x86
TH = 0x88          # threshold 9 pages in both spaces

def prog(cfg, *ops, th=TH):
    out = [cfg, th]
    for op in ops:
        out += op
    return bytes(out)

# CPU2 runs space 0 and reads page 0: its TLB now caches the translation.
WARM = [ACCESS, a(0, 0), 2]

seeds = {
    # reclaim: unmap, flush, free; users read before and after
    'seed-reclaim-arm64': prog(ARM64_3, WARM, [UNMAP_PAGE, a(0, 0), 0], [ACCESS, a(0, 0), 2],
                               [FLUSH, a()], [FREE, 0], [ACCESS, a(0, 0), 2]),
    'seed-reclaim-x86': prog(X86_3, WARM, [UNMAP_PAGE, a(0, 0), 0], [FLUSH, a()], [FREE, 0],
                             [ACCESS, a(0, 0), 2]),
    # the mprotect race: reclaim batched, mprotect from another CPU, write
    'seed-mprotect-race': prog(ARM64_3, [ACCESS, a(0, 1, flag=1), 2], [UNMAP_PAGE, a(0, 1), 1],
                               [MIGRATE, 0, 1], [MPROTECT, a(0, 1)],
                               [ACCESS, a(0, 1, flag=1), 2], [FLUSH, a()]),
    # the zap race, and a zap of a present page
    'seed-zap-race': prog(ARM64_3, WARM, [UNMAP_PAGE, a(0, 0), 0], [MIGRATE, 0, 2],
                          [ZAP, a(0, 0)], [ZAP, a(0, 3)], [ACCESS, a(0, 0), 2],
                          [ACCESS, a(0, 3), 2], [FREE, 0]),
    # issuing-CPU rule: migrate without the switch barrier, then flush
    'seed-migrate-no-barrier': prog(ARM64_3, WARM, [UNMAP_PAGE, a(0, 0), 0],
                                    [MIGRATE, a(flag=1), 1], [FLUSH, a()], [ACCESS, a(0, 0), 2],
                                    [RACE_CHECK, a(0)], [ACCESS, a(0, 0), 2], [FREE, 0]),
    # bad ranges: inverted, empty, top of the address space, wild
    'seed-bad-ranges': prog(ARM64_3, [UNMAP_RANGE, a(0), 0, 3, 1, 0xff],
                            [UNMAP_RANGE, a(1), 1, 2, 5, 0xff],
                            [UNMAP_RANGE, a(0), 2, 1, 1, 0xff],
                            [UNMAP_RANGE, a(1), 3, 0, 0] + [0x80] + [0] * 7 + [0x7f] + [0xff] * 7
                            + [0xff],
                            [FLUSH, a()], [NULL_ARGS, a(0, 2, flag=1)], [NULL_ARGS, a(1)]),
    # whole-space adds, threshold fallback, flush_dirty with and without writable
    'seed-space-threshold': prog(X86_3, [UNMAP_SPACE, a(1, batch=1), 0x0f],
                                 [UNMAP_RANGE, a(0), 4, 0, 15, 0xff], [FLUSH_DIRTY, a(batch=1)],
                                 [UNMAP_PAGE, a(0, 7), 0], [FLUSH_DIRTY, a()], [FLUSH, a()],
                                 th=0x21),
    # remap, prefetch, switch, explicit DSB, tiny TLBs
    'seed-remap-tiny-tlb': prog(ARM64_3 | 8, [PREFETCH, a(0, 5), 0], [UNMAP_PAGE, a(0, 5), 0],
                                [MAP, a(0, 5, flag=1)], [SWITCH, a(1), 0], [ACCESS, a(1, 2), 0],
                                [DSB, 0, 0], [FLUSH, a()], [FREE, 0], [ACCESS, a(0, 5), 2]),
    # two batches, x86 should_defer with one CPU in the space
    'seed-two-batches-x86': prog(X86_3, [UNMAP_PAGE, a(1, 1), 0], [UNMAP_PAGE, a(1, 2, batch=1), 0],
                                 [FLUSH, a(batch=1)], [RACE_CHECK, a(1)], [FLUSH, a()],
                                 [SWITCH, a(1), 2], [UNMAP_PAGE, a(1, 3), 0], [FLUSH, a()]),
    # a 3-deep TLBI queue (cfg bit 4): ranges push the oldest TLBIs out early
    'seed-short-tlbi-queue': prog(ARM64_3 | 16, [ACCESS, a(0, 0), 2], [ACCESS, a(0, 6), 2],
                                  [UNMAP_RANGE, a(0), 4, 0, 14, 0xff], [ACCESS, a(0, 0), 2],
                                  [UNMAP_PAGE, a(1, 3), 0], [FLUSH, a()], [ACCESS, a(0, 6), 2],
                                  [FREE, 0], th=0xff),
    # an add without TLBB_ADD_WRITABLE: flush_dirty must leave the batch alone
    'seed-flush-dirty-readonly': prog(ARM64_3, [MPROTECT, a(0, 2)], [ACCESS, a(0, 2), 2],
                                      [UNMAP_PAGE, a(0, 2, batch=1), 0],
                                      [FLUSH_DIRTY, a(batch=1)], [ACCESS, a(0, 2), 2],
                                      [FLUSH, a(batch=1)], [ACCESS, a(0, 2), 2]),
    # x86: the flushing CPU's own TLB is flushed locally, not by IPI
    'seed-x86-local-flush': prog(X86_3, [ACCESS, a(0, 1), 0], [UNMAP_PAGE, a(0, 1), 0],
                                 [FLUSH, a()], [ACCESS, a(0, 3), 0], [UNMAP_PAGE, a(0, 3), 0],
                                 [RACE_CHECK, a(0)], [ACCESS, a(0, 1), 0]),
    # frames run out: free, recycle and map again; write walks dirty the PTE
    'seed-recycle-frames': prog(ARM64_3, [UNMAP_SPACE, a(1), 0xff], [FLUSH, a()], [FREE, 1],
                                [MAP, a(1, 0, flag=1)], [MAP, a(1, 1)], [SWITCH, a(1), 0],
                                [ACCESS, a(1, 0, flag=1), 0], [UNMAP_PAGE, a(1, 0), 0],
                                [FLUSH, a()], [FREE, 1], [MAP, a(1, 2, flag=1)]),
}

# Negative controls: each input makes the sim, with one fault switch, keep a
# translation the reference says is gone. Replayed with --faults and
# --expect-violation (tests/fuzz/meson.build).
crafted = {
    # tlbb_flush() completes nothing
    'no-batch-flush': prog(ARM64_3, WARM, [UNMAP_PAGE, a(0, 0), 0], [FLUSH, a()]),
    # race check from another CPU is a bare DSB / flushes nothing
    'bare-barrier': prog(ARM64_3, WARM, [UNMAP_PAGE, a(0, 0), 0], [MIGRATE, a(flag=1), 1],
                         [RACE_CHECK, a(0)]),
    'no-flush-space': prog(ARM64_3, WARM, [UNMAP_PAGE, a(0, 0), 0], [MIGRATE, a(flag=1), 1],
                           [RACE_CHECK, a(0)]),
    # x86: the flush IPI never reaches CPU 2
    'no-ipi': prog(X86_3, WARM, [UNMAP_PAGE, a(0, 0), 0], [FLUSH, a()]),
}

here = os.path.dirname(os.path.abspath(__file__))
for name, data in seeds.items():
    with open(os.path.join(here, 'corpus', name), 'wb') as f:
        f.write(data)
for name, data in crafted.items():
    with open(os.path.join(here, 'crafted', name), 'wb') as f:
        f.write(data)
