#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the riscv64 sequence fuzzer's crafted inputs and seed corpus.

The byte format is decoded by tests/riscv64/fuzz_riscv64.c (setup() and
do_op()); the helpers below spell it out. Run from anywhere:

    tests/riscv64/make-corpus.py

It (re)writes crafted/*/* and corpus/seed-*; inputs libFuzzer kept (named
by their SHA-1) are left alone. Every crafted input is also a seed: clean
on the real backend, reported under its control.
"""
import os
import random
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))

# byte 0
SBI, SVINVAL = 1, 2
CEIL2, CEIL4, CEIL33, CEIL8 = 0 << 2, 1 << 2, 2 << 2, 3 << 2
KSPACE, THREE, SHARED_ASID, THRESH16 = 1 << 4, 1 << 5, 1 << 6, 1 << 7
# byte 2
SV48, SBI_FAILS, SPARSE_HARTS, LIFE = 1, 2, 4, 8
U0, U1, U2 = 0, 1, 2
K = 3      # pick_space(3) is K when the input has it (2 user spaces + K: 2 % 3 ...)
IDLE = 3   # in the loads byte: the idle space
SYNC = 3   # batch number 3: the synchronous path (NULL batch / flush_range_sync)


def header(cfg, loads, ext=0):
    """loads: the space each of harts 0..3 starts on (IDLE: none)."""
    b = 0
    for c, s in enumerate(loads):
        b |= s << (2 * c)
    return bytes([cfg, b, ext])


def a(cpu, batch=0, remap=0, wr=0):
    return cpu | batch << 2 | remap << 4 | wr << 5


def read(cpu, page, kernel=False):
    return bytes([0, cpu | (4 if kernel else 0), page])


def read8(cpu, page, kernel=False):
    return bytes([9, cpu | (4 if kernel else 0), page])


def add_page(batch, s, page, cpu=0, remap=0, wr=0):
    return bytes([1, a(cpu, batch, remap, wr), s, page])


def add_range(batch, s, page, n, cpu=0, remap=0, wr=0):
    return bytes([2, a(cpu, batch, remap, wr), s, page, n - 1])


def add_space(batch, s, mask, cpu=0, remap=0, wr=0):
    return bytes([3, a(cpu, batch, remap, wr), s, mask])


def flush(batch, cpu=0, dirty=0):
    return bytes([4, a(cpu, batch, dirty)])


def flush_pending(cpu, s):
    return bytes([5, cpu, s])


def switch(cpu, s):
    """s = the number of user spaces: the idle space."""
    return bytes([6, cpu, s])


def mask_clear(cpu, s):
    return bytes([7, cpu, s])


def death(cpu, s):
    """Space @s dies and is born again in place with its ASID (needs LIFE)."""
    return bytes([10, cpu, s])


def arm(cpu, nth, nested):
    """At hart @cpu's @nth next interleaving point (before/after each fence,
    satp write or ecall), run @nested (up to two operations)."""
    return bytes([8, cpu, nth - 1]) + (nested + bytes(8))[:8]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def crafted():
    d = os.path.join(HERE, "crafted")
    c = os.path.join(HERE, "corpus")
    shutil.rmtree(d, ignore_errors=True)

    def put(control, name, p):
        write(os.path.join(d, control, name), p)
        write(os.path.join(c, "seed-" + control + "-" + name), p)

    # Hart 1 caches U0 page 5; hart 0 remaps it into batch 0 and flushes:
    # hart 1's entry must go, by the IPI round (SFENCE.VMA page, ASID) or
    # by the RFENCE call (FID 2, the page, the ASID).
    for path, cfg in (("ipi", CEIL33), ("sbi", SBI | CEIL33)):
        p = header(cfg, [U0, U0, IDLE, IDLE]) + read(1, 5) + add_page(0, U0, 5, remap=1) + flush(0)
        put("model-fence-removes-nothing", path, p)
        put("no-remote-round", path, p)
        put("local-sfence-only", path, p)
        put("wrong-asid", path, p)
    # The same, whole ASID (above the ceiling of 2) and on the local hart.
    p = header(SBI | CEIL2, [U0, U0, IDLE, IDLE]) + read(0, 6) + read(1, 6)
    p += add_range(0, U0, 4, 5) + flush(0)
    put("wrong-asid", "sbi-whole", p)
    # Svinval: the page loop between SFENCE.W.INVAL and SFENCE.INVAL.IR, on
    # the remote hart (IPI) and on the local one (both paths).
    for path, cfg in (("ipi", SVINVAL | CEIL33), ("sbi-local", SBI | SVINVAL | CEIL33)):
        p = header(cfg, [U0, U0, IDLE, IDLE]) + read(0, 5) + read(1, 5)
        p += add_page(0, U0, 5, remap=1) + flush(0)
        put("svinval-without-inval-ir", path, p)
        put("wrong-asid", "svinval-" + path, p)
    # Svinval, a synchronous call on the only hart running U0: its walker
    # refills page 5 between SINVAL.VMA and SFENCE.INVAL.IR (the worst
    # moment for the pending invalidation); without SFENCE.W.INVAL before the
    # loop the new PTE is not yet visible and the refill reads the old one.
    # (Interleaving point 2: after SFENCE.W.INVAL in the backend, after the
    # first SINVAL.VMA in the mutant.)
    p = header(SVINVAL | CEIL33, [U0, IDLE, IDLE, IDLE]) + read(0, 5)
    p += arm(0, 2, read(0, 5)) + add_range(SYNC, U0, 5, 2, remap=1)
    put("svinval-without-w-inval", "sync-local", p)
    # Space reuse: hart 1 runs U0 at generation 0 and caches page 5; U0
    # dies and a new U0 is born in its memory with ASID 1 (generation 0
    # again); hart 1 switches to it. A slot found by address at an equal
    # generation keeps the dead translation; the context number does not.
    for path, cfg in (("ipi", CEIL33), ("sbi", SBI | CEIL33)):
        p = header(cfg, [U0, U0, IDLE, IDLE], LIFE) + read(1, 5) + death(0, U0) + switch(1, U0)
        put("space-reuse", path, p)
    # The race check: hart 0 batches page 5 and does not flush; hart 2's
    # tlbb_flush_pending(U0) must take hart 1's entry (the whole ASID on
    # U0's mask) before it returns.
    for path, cfg in (("ipi", CEIL33), ("sbi", SBI | CEIL33)):
        p = header(cfg, [U0, U0, U0, IDLE]) + read(1, 5) + add_page(0, U0, 5)
        p += flush_pending(2, U0)
        put("race-check-removed", path, p)
    # A global (G-bit) page: hart 1 caches it under any ASID; the fence
    # must not name an ASID (rs2 = x0; RFENCE FID 1).
    for path, cfg in (("ipi", KSPACE | CEIL33), ("sbi", SBI | KSPACE | CEIL33)):
        p = header(cfg, [U0, U1, IDLE, IDLE]) + read(1, 3, kernel=True)
        p += add_page(0, 2, 3) + flush(0)   # pick_space(2) = K with 2 user spaces
        put("no-remote-round", "global-" + path, p)
        put("model-fence-removes-nothing", "global-" + path, p)


def rand_prog(r):
    cfg = r.randrange(256)
    p = header(cfg, [r.randrange(4) for _ in range(4)], r.randrange(16))
    for _ in range(r.randint(30, 150)):
        k = r.random()
        cpu = r.randrange(4)
        if k < 0.30:
            p += (read8 if r.random() < 0.5 else read)(cpu, r.randrange(40), r.random() < 0.3)
        elif k < 0.42:
            p += add_page(r.randrange(4), r.randrange(4), r.randrange(40), cpu,
                          r.randrange(2), r.randrange(2))
        elif k < 0.52:
            p += add_range(r.randrange(4), r.randrange(4), r.randrange(40), r.randint(1, 48),
                           cpu, r.randrange(2), r.randrange(2))
        elif k < 0.57:
            p += add_space(r.randrange(4), r.randrange(4), r.randrange(256), cpu, r.randrange(2))
        elif k < 0.70:
            p += flush(r.randrange(3), cpu, r.randrange(2))
        elif k < 0.77:
            p += flush_pending(cpu, r.randrange(4))
        elif k < 0.87:
            p += switch(cpu, r.randrange(4))
        elif k < 0.89:
            p += mask_clear(cpu, r.randrange(3))
        elif k < 0.90:
            p += death(cpu, r.randrange(3))
        else:
            nested = bytes(r.randrange(256) for _ in range(8))
            p += arm(cpu, r.randint(1, 8), nested)
    return p


def seeds():
    d = os.path.join(HERE, "corpus")
    # Every path with interrupts in the flush loops: Svinval on the IPI path,
    # a round arriving between SINVAL.VMA and SFENCE.INVAL.IR.
    p = header(SVINVAL | CEIL33 | KSPACE | THREE, [U0, U0, U1, U2])
    for c in range(4):
        p += read8(c, 0) + read8(c, 0, kernel=True)
    p += arm(0, 3, read(1, 2) + add_page(1, U1, 1, cpu=2))
    p += add_range(0, U0, 0, 6) + flush(0)
    p += arm(1, 2, flush(1, cpu=2) + read(0, 3)) + add_page(SYNC, U0, 3, cpu=1)
    p += flush_pending(3, U0) + flush(2)
    write(os.path.join(d, "seed-svinval-interrupts"), p)
    # The SBI path with failing calls (redone over IPIs), sparse hart IDs,
    # Sv48, ceilings crossed, a switch racing an add.
    p = header(SBI | CEIL4 | KSPACE, [U0, U0, U1, U0], SV48 | SBI_FAILS | SPARSE_HARTS)
    for c in range(4):
        p += read8(c, 32) + read8(c, 0, kernel=True)
    p += add_range(0, U0, 32, 8) + add_range(1, U0, 30, 3, cpu=1) + add_page(0, 2, 1)
    p += arm(2, 1, add_page(2, U1, 0, cpu=3)) + switch(2, U0)
    p += flush(0) + flush(1) + flush(2, cpu=3) + add_range(SYNC, U0, 0, 40, cpu=2)
    write(os.path.join(d, "seed-sbi-fails-sparse-sv48"), p)
    # Shared ASIDs, idle switches, the port's mask clear, threshold 16.
    p = header(SHARED_ASID | THRESH16 | CEIL8 | THREE, [U0, U1, U2, IDLE])
    for c in range(4):
        p += read8(c, 8)
    p += switch(0, 3) + mask_clear(0, U0) + add_space(0, U0, 0x81, cpu=1)
    p += switch(0, U1) + read8(0, 8) + add_range(1, U1, 0, 20, cpu=2) + flush(0, cpu=3)
    p += switch(3, U0) + flush_pending(1, U1) + flush(1, cpu=0)
    write(os.path.join(d, "seed-shared-asid-idle"), p)
    # Deaths and rebirths in the middle of batches, shared ASIDs, Svinval.
    p = header(SVINVAL | SHARED_ASID | THREE | CEIL8, [U0, U1, U0, U2], LIFE)
    for c in range(4):
        p += read8(c, 0) + read8(c, 8)
    p += add_range(0, U0, 0, 12, cpu=1) + add_page(1, U1, 3, cpu=2) + death(3, U0)
    p += switch(1, U0) + read8(1, 0) + add_space(2, U2, 0x11) + death(0, U2)
    p += flush(1, cpu=3) + switch(2, U2) + flush_pending(2, U1) + flush(2)
    write(os.path.join(d, "seed-deaths"), p)
    r = random.Random(16)
    for i in range(24):
        write(os.path.join(d, "seed-random-%02d" % i), rand_prog(r))


if __name__ == "__main__":
    crafted()
    seeds()
