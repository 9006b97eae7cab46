#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write arch/x86_64/x86_64.c with one known bug put back (a mutant).

    mutate-x86.py NAME X86_64.C MASKGEN_RUN.H OUT

The backend's code is x86_64.c and the shared engine it includes
(lib/maskgen_run.h): OUT is x86_64.c with that include replaced by the
engine's text, one pattern applied to the whole, so that one file holds
the mutant and nothing else compiled beside it sees the bug.

Each mutant is a bug the x86 sequence fuzzer must report on its crafted
input tests/x86_64/crafted/NAME (meson tests x86-fuzz-detects-NAME-mutant):

  catchup-edge          a range flush that raises the CPU to the request's
                        number whatever it stood at: it claims numbers of
                        other flushes (a batch of several spaces that left
                        the space, not yet flushed) it has not executed
  flush-without-number  a batch flush that reuses the space's current number
                        instead of taking a new one after its changes: CPUs
                        already at that number skip the request
  gather-without-number a batch leaving a space (or a batch of several
                        spaces flushed) that gathers the space's mask without
                        giving it a new number: a CPU holding the space's
                        PCID unloaded keeps it at its next switch-in
  gen-read-after-flush  a whole flush that reads the generation after
                        flushing: a number taken between the two is claimed.
                        No x86 input shows it (docs/x86fuzz.md: the window
                        needs a round that waits for a CPU with interrupts
                        off, which the fuzzer's rounds never do); kept for
                        tools/mutate-style runs by hand
  reuse                 slots found by space address instead of the context
                        number: a space reborn in the memory of a dead one
                        with its recycled PCID (or given its own PCID back by
                        tlbb_space_set_id()) finds the old slot and, at an
                        equal generation, keeps the dead entries
  no-entry-flush        (ept.c) tlbb_ept_vm_enter() without its INVEPT: a
                        CPU that was outside the VM when a flush ran
                        enters it again with its old mappings (the Bochs
                        hypervisor image's control, docs/ept.md)

If the expected lines are not found exactly once the source is copied
unchanged (with a note on stderr) rather than failing the build: tools/mutate
deletes some of these very lines in its own mutants, and a build failure
would report them stillborn. A copy of the fixed backend makes the meson test
fail ("no violation although one was expected"), so a refactored backend
cannot silently turn a control into a copy of the fixed code.
"""
import re
import sys

MUTANTS = {
    "catchup-edge": (
        r"if \(local \+ 1 == r->gen_last\)", "if (1)"),
    "flush-without-number": (
        r"r\.gen_last = __atomic_add_fetch\(&mgs\(r\.space\)->gen, 1, __ATOMIC_SEQ_CST\);",
        "r.gen_last = tlbb_mg_space_gen(r.space);"),
    "gather-without-number": (
        r"\t__atomic_add_fetch\(&mgs\(s\)->gen, 1, __ATOMIC_SEQ_CST\);\n(\tif \(!b->cpus)",
        r"\1"),
    "gen-read-after-flush": (
        r"(\t\tuint64_t g) = tlbb_mg_space_gen\(r->space\); /\* read BEFORE flushing \*/\n\n"
        r"(\t\tmg_arch_flush_tag\(r->be, sl->tag\);\n)",
        r"\1;\n\n\2\t\tg = tlbb_mg_space_gen(r->space);\n"),
    "reuse": (
        r"if \(c->slot\[i\]\.ctx == ctx && ", "if (c->slot[i].space == s && "),
    "no-entry-flush": (
        r"\tinvept_eptp\(e, eptp\);\n\treturn true;",
        "\treturn true; /* mutant: no INVEPT at VM entry */"),
}
INCLUDE = '#include "../../lib/maskgen_run.h"\n'

name, src_path, engine_path, out_path = sys.argv[1:5]
pattern, repl = MUTANTS[name]
src = open(src_path).read()
if src.count(INCLUDE) != 1:
    sys.stderr.write("mutate-x86.py: %s does not include the engine once\n" % src_path)
    sys.exit(1)
src = src.replace(INCLUDE, open(engine_path).read())
n = len(re.findall(pattern, src))
if n != 1:
    sys.stderr.write("mutate-x86.py %s: the lines were found %d times, not once: "
                     "source copied unchanged\n" % (name, n))
    out = src
else:
    out = re.sub(pattern, repl, src)
with open(out_path, "w") as f:
    f.write(out)
