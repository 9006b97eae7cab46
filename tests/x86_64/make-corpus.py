#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the x86 sequence fuzzer's crafted inputs and hand-made seeds.

The byte format is decoded by tests/x86_64/fuzz_x86.c (setup() and do_op());
the helpers below spell it out. Run from anywhere:

    tests/x86_64/make-corpus.py

It (re)writes crafted/interleave, crafted/drop-*, crafted/reuse* and the
corpus/seed-* it makes; the corpus also holds inputs libFuzzer kept (named by their SHA-1),
and crafted/interleave-switch-in (= corpus/seed-interleave-switch-in) is an
input libFuzzer found against the exact pre-4cf5afc backend, kept as found:
this script leaves those alone.
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

PCID, INVPCID = 0x1, 0x2
CEIL = {2: 0 << 2, 4: 1 << 2, 33: 2 << 2, 8: 3 << 2}
KSPACE, THREE, SHARE, THRESH16 = 0x10, 0x20, 0x40, 0x80
U0, U1, U2 = 0, 1, 2
SYNC = 3  # batch number 3: the synchronous path (NULL batch / flush_range_sync)


def header(cfg, loads):
    """loads: the space each of CPUs 0..3 starts on (3 = idle)."""
    b = 0
    for c, s in enumerate(loads):
        b |= s << (2 * c)
    return bytes([cfg, b])


def a(cpu, batch=0, remap=0, wr=0):
    return cpu | batch << 2 | remap << 4 | wr << 5


def touch(cpu, page, kernel=False):
    return bytes([0, cpu | (4 if kernel else 0), page])


def touch8(cpu, page):
    return bytes([9, cpu, page])


def add_page(cpu, batch, s, page, remap=0, wr=0):
    return bytes([1, a(cpu, batch, remap, wr), s, page])


def add_range(cpu, batch, s, page, n, remap=0, wr=0):
    return bytes([2, a(cpu, batch, remap, wr), s, page, n - 1])


def add_space(cpu, batch, s, mask, remap=0, wr=0):
    return bytes([3, a(cpu, batch, remap, wr), s, mask])


def flush(cpu, batch, dirty=0):
    return bytes([4, a(cpu, batch, dirty)])


def flush_pending(cpu, s):
    return bytes([5, cpu, s])


def switch(cpu, s):
    return bytes([6, cpu, s])


def mask_clear(cpu, s):
    return bytes([7, cpu, s])


def arm(cpu, nth, nested):
    """At CPU @cpu's @nth next instruction, run @nested (another CPU's op)."""
    return bytes([8, cpu, nth - 1]) + (nested + bytes(8))[:8]


# The life-of-a-space extension: inputs starting with LIFE decode two more
# operations (op byte % 12 instead of % 10); no older input starts so.
LIFE = bytes([0xa5, 0x1f])


def death(cpu, s):
    """Space s dies (CPUs on it park, its batches flush), reborn in place, same PCID."""
    return bytes([10, cpu, s])


def recycle(cpu, s, swap):
    """tlbb_space_set_id(): s and s+1 swap PCIDs, or s leaves its PCID and gets it back."""
    return bytes([11, cpu, s | (0 if swap else 4)])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def crafted():
    d = os.path.join(HERE, "crafted")
    os.makedirs(d, exist_ok=True)
    # The 4cf5afc interleaving (docs/bochs.md): batch a's two adds are split by
    # batch b's; a whole flush of batch w had raised every CPU to a's first
    # number, so a pre-fix flush of a "catches up" over b's number and b's
    # flush is then skipped everywhere, leaving page 20 stale. Passes on the
    # fixed backend (it is in the corpus too); the interleave mutant fails it.
    p = header(CEIL[33], [U0, U0, U0, U0])
    p += add_range(0, 0, U0, 0, 34, remap=1)  # w: gen 1, above the ceiling
    p += add_page(0, 1, U0, 36)               # a: gen 2
    p += flush(0, 0)                          # whole flush read gen 2: CPUs at 2
    for c in range(4):
        p += touch(c, 20)
    p += add_page(0, 2, U0, 20)               # b: gen 3
    p += add_page(0, 1, U0, 38)               # a: gen 4
    p += flush(0, 1)                          # INVLPG 36..38; must not claim 3
    p += flush(0, 2)                          # must still INVLPG page 20
    write(os.path.join(d, "interleave"), p)
    write(os.path.join(HERE, "corpus", "seed-interleave-4cf5afc"), p)
    # The same bug where the batch's first number sits right after the
    # CPUs' own: batch a takes 1 and 3, batch b 2 in between. A flush of a
    # that claimed contiguity would raise CPUs at 0 to 3 over b's 2.
    p = header(CEIL[33], [U0, U0, U0, U0])
    for c in range(4):
        p += touch(c, 20)
    p += add_page(0, 1, U0, 36)               # a: gen 1
    p += add_page(0, 2, U0, 20)               # b: gen 2
    p += add_page(0, 1, U0, 38)               # a: gen 3
    p += flush(0, 1)                          # CPUs at 0: must not claim 2
    p += flush(0, 2)                          # must still INVLPG page 20
    write(os.path.join(d, "interleave-first"), p)
    write(os.path.join(HERE, "corpus", "seed-interleave-first"), p)
    # Mutant catchup-edge: a range flush that raises the CPU to its number
    # whatever it stood at. Batch 0 leaves U0 (U0 takes number 1, its mask
    # is gathered) for U1; batch 1's flush of U0 page 36 takes number 2;
    # CPU 1 (at 0) must not claim 1. It then runs U1, batch 0's round
    # flushes only that loaded context, and CPU 1's return to U0 must flush
    # its PCID: page 20 was batch 0's.
    p = header(PCID | CEIL[33], [U0, U0, U0, U0])
    p += touch(1, 20)
    p += add_page(0, 0, U0, 20) + add_page(0, 0, U1, 5)
    p += add_page(0, 1, U0, 36) + flush(0, 1)
    p += switch(1, U1) + flush(0, 0) + switch(1, U0)
    write(os.path.join(d, "catchup-edge"), p)
    write(os.path.join(HERE, "corpus", "seed-catchup-edge"), p)
    # Mutant flush-without-number: every CPU is at the space's number when
    # a one-page batch is flushed; reusing that number, all of them skip.
    p = header(PCID | CEIL[33], [U0, U0, U0, U0])
    for c in range(4):
        p += touch(c, 20)
    p += add_page(0, 0, U0, 20) + flush(0, 0)
    write(os.path.join(d, "flush-without-number"), p)
    write(os.path.join(HERE, "corpus", "seed-flush-without-number"), p)
    # Mutant gather-without-number: CPU 1 cached U0 page 20 and runs U1 (its
    # U0 slot current, PCID kept). A batch of U0 and U1 flushes: CPU 1
    # flushes its loaded U1 only, so U0 must have a new number for CPU 1's
    # return to flush U0's PCID.
    p = header(PCID | CEIL[33], [U0, U0, U0, U0])
    p += touch(1, 20) + switch(1, U1)
    p += add_page(0, 0, U0, 20) + add_page(0, 0, U1, 5) + flush(0, 0)
    p += switch(1, U0)
    write(os.path.join(d, "gather-without-number"), p)
    write(os.path.join(HERE, "corpus", "seed-gather-without-number"), p)
    # Mutant gen-read-after-flush: CPU 1's whole flush (an IPI) is
    # interrupted right after its INVPCID; the walker fills page 36 on CPU 1
    # and CPU 2 clears it into batch 1 (gen 2). Reading the generation after
    # the flush claims gen 2, so batch 1's flush skips CPU 1.
    p = header(PCID | INVPCID | CEIL[33], [U0, U0, U0, U0])
    for c in range(4):
        p += touch8(c, 0)
    p += add_range(0, 0, U0, 0, 34)           # batch 0: gen 1, whole flush
    p += arm(1, 2, touch(1, 36) + add_page(2, 1, U0, 36))
    p += flush(0, 0)
    p += flush(3, 1)
    write(os.path.join(d, "gen-read-after-flush"), p)
    write(os.path.join(HERE, "corpus", "seed-gen-read-after-flush"), p)
    # Mutant reuse (slots keyed by space address, not the context number):
    # CPU 1 cached U0 page 5 at generation 0 and left for U1; U0 dies and
    # is reborn in place with PCID 1 at generation 0; CPU 1's slot for the
    # dead U0 matches by address and generation, so its switch keeps PCID 1.
    p = LIFE + header(PCID | CEIL[33], [U0, U0, 3, 3])
    p += touch(1, 5) + switch(1, U1)
    p += death(0, U0) + switch(1, U0)
    write(os.path.join(d, "reuse"), p)
    write(os.path.join(HERE, "corpus", "seed-reuse"), p)
    # The same at generation 3: CPU 1 caught up to 3 before leaving; the
    # reborn U0 makes 3 adds on CPU 0 while CPU 1 is outside its mask.
    p = LIFE + header(PCID | CEIL[33], [U0, U0, 3, 3])
    p += add_range(0, 0, U0, 30, 3, remap=1) + flush(0, 0)
    p += touch(1, 5) + switch(1, U1)
    p += death(0, U0) + switch(0, U0)
    p += add_range(0, 0, U0, 30, 3, remap=1) + flush(0, 0)
    p += switch(1, U0)
    write(os.path.join(d, "reuse-gen-l"), p)
    write(os.path.join(HERE, "corpus", "seed-reuse-gen-l"), p)
    # set_id: CPU 1 cached U0 page 5 at generation 0 and left; the page is
    # cleared and flushed (CPU 1 trims itself, its slot stays at 0); U0
    # leaves PCID 1 and is given it back, its generation restarting at 0.
    p = LIFE + header(PCID | CEIL[33], [U0, U0, 3, 3])
    p += touch(1, 5) + switch(1, U1)
    p += add_page(0, 0, U0, 5) + flush(0, 0)
    p += recycle(0, U0, swap=False) + switch(1, U0)
    write(os.path.join(d, "reuse-set-id"), p)
    write(os.path.join(HERE, "corpus", "seed-reuse-set-id"), p)
    # Checker controls: a one-page batch flushed by INVLPG on four CPUs.
    # Dropping INVLPG leaves all four stale; dropping the round, CPUs 1..3.
    p = header(PCID | INVPCID | CEIL[33], [U0, U0, U0, U0])
    for c in range(4):
        p += touch(c, 5)
    p += add_page(0, 0, U0, 5)
    p += flush(0, 0)
    write(os.path.join(d, "drop-invlpg"), p)
    write(os.path.join(d, "drop-ipis"), p)


def seeds():
    d = os.path.join(HERE, "corpus")
    os.makedirs(d, exist_ok=True)
    # One scenario per feature the fuzzer should start from.
    # PCID slots: CPU 1 leaves U0 for U1, U0 is flushed meanwhile, CPU 1 returns.
    p = header(PCID | CEIL[4], [U0, U0, U1, 3])
    p += touch8(1, 0) + switch(1, U1) + add_range(0, 0, U0, 0, 3) + flush(0, 0)
    p += switch(1, U0) + touch8(1, 0) + add_page(2, 1, U0, 2) + flush(2, 1)
    write(os.path.join(d, "seed-pcid-slot-return"), p)
    # Race check with a batch left unflushed, on a global space too.
    p = header(PCID | INVPCID | KSPACE | CEIL[33], [U0, U1, U0, U1])
    for c in range(4):
        p += touch(c, 7, kernel=True) + touch(c, 7)
    p += add_page(0, 0, 2, 7, wr=1)  # space 2 = K with two user spaces
    p += add_page(1, 1, U0, 7) + flush_pending(2, 1)
    p += flush_pending(3, U0) + flush(0, 0, dirty=1) + flush(1, 1)
    write(os.path.join(d, "seed-race-check-global"), p)
    # A flush round arriving during another CPU's local INVLPGs.
    p = header(CEIL[33], [U0, U0, U0, U0])
    for c in range(4):
        p += touch8(c, 0)
    p += add_page(0, 0, U0, 1) + add_page(0, 0, U0, 2)
    p += add_range(1, 1, U0, 4, 36)
    p += arm(0, 1, flush(1, 1)) + flush(0, 0)
    write(os.path.join(d, "seed-interrupted-local-flush"), p)
    # Shared PCID, lazy mask clear without PCID, third space, threshold 16.
    p = header(PCID | SHARE | THREE | THRESH16 | CEIL[8], [U0, U1, U2, U0])
    p += touch8(0, 0) + touch8(1, 0) + switch(0, U1) + switch(1, U0)
    p += add_range(2, 0, U1, 0, 20) + add_space(3, 1, U0, 0x0f) + flush(2, 0)
    p += mask_clear(2, U0) + flush(3, 1) + switch(0, U0)
    write(os.path.join(d, "seed-shared-pcid"), p)
    # The life of a space: swaps of PCIDs between live spaces (also with a
    # shared PCID and three spaces), deaths with batches still holding work.
    p = LIFE + header(PCID | THREE | CEIL[4], [U0, U1, U2, U0])
    for c in range(4):
        p += touch8(c, 0)
    p += add_page(1, 1, U1, 3) + recycle(2, U0, swap=True)
    p += switch(0, U1) + switch(1, U0) + touch8(0, 0) + touch8(1, 0)
    p += add_range(3, 0, U1, 0, 6) + death(2, U1) + switch(3, U1) + touch8(3, 0)
    p += flush(0, 1) + recycle(1, U2, swap=True) + switch(2, U0) + flush_pending(0, U0)
    write(os.path.join(d, "seed-life-swaps"), p)
    p = LIFE + header(PCID | INVPCID | SHARE | KSPACE | CEIL[8], [U0, U1, U0, U1])
    for c in range(4):
        p += touch8(c, 0) + touch(c, 3, kernel=True)
    p += add_space(0, 0, U0, 0xff) + death(1, U0) + switch(0, U0) + touch8(0, 0)
    p += recycle(2, U1, swap=False) + switch(1, U1) + add_page(3, 2, 2, 3)
    p += arm(0, 1, add_page(1, 1, U0, 4)) + flush(0, 2) + death(3, U1) + switch(1, U1)
    write(os.path.join(d, "seed-life-shared"), p)
    # Random programs over every configuration byte class.
    rng = random.Random(20261125)
    for k in range(24):
        cfg = rng.randrange(256)
        p = header(cfg, [rng.randrange(4) for _ in range(4)])
        for _ in range(rng.randrange(30, 160)):
            op = rng.randrange(10)
            cpu = rng.randrange(4)
            if op in (0, 9):
                p += bytes([op, cpu | rng.randrange(2) << 2, rng.randrange(40)])
            elif op == 8:
                p += bytes([8, cpu, rng.randrange(8)]) + bytes(rng.randrange(256) for _ in range(8))
            else:
                p += bytes([op]) + bytes(rng.randrange(256) for _ in range(4))
        write(os.path.join(d, "seed-random-%02d" % k), p)


if __name__ == "__main__":
    crafted()
    seeds()
