#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write arch/arm64/arm64.c with one known bug put in (a mutant).

    mutate-a64.py NAME IN OUT

Each mutant is a bug the arm64 sequence fuzzer must report on its crafted
input tests/arm64/crafted/NAME (meson tests a64-fuzz-detects-NAME-mutant):

  bare-dsb        the race check is a bare DSB ISH on the calling CPU (the
                  seed thread's idea, wrong on arm64: only the issuing CPU's
                  DSB completes a TLBI)
  no-batch-dsb    the batch flush's DSB ISH dropped
  wrong-asid      the single-page TLBI names ASID + 1
  no-switch-dsb   tlbb_arm64_context_switch() of a batch with queued TLBIs
                  executes no DSB (a migration without the switch barrier)
  range-num       every range op's NUM one too small
  range-scale     every range op's SCALE one too small
  leaf-always     an add of several pages issues VALE1IS per page, leaf-only
                  or not (walk-cache entries of a freed page table survive)
  no-ishst        no DSB ISHST before the TLBIs of an add (a walker may
                  refill the old PTE after the TLBI was performed)

If the expected lines are not found the stated number of times the source
is copied unchanged (with a note on stderr) rather than failing the build:
tools/mutate deletes some of these very lines in its own mutants. A copy of
the correct backend makes the meson test fail ("no violation although one
was expected"), so a refactored backend cannot silently turn a control into
a copy of the correct code.
"""
import re
import sys

# name: (pattern, replacement, expected number of matches)
MUTANTS = {
    "bare-dsb": (r"(static void a64_flush_space\([^{]*\{.*?)a64_invalidate_space_now\(a64_cfg\(be\), s\);",
                 r"\1a64_dsb_ish(a64_cfg(be));", 1),
    "no-batch-dsb": (r"(\*/\n)\ta64_dsb_ish\(cfg\);\n(\t/\* Kernel mappings: this CPU may have fetched)",
                     r"\1\2", 1),
    "wrong-asid": (r"tlbb_arm64_va_operand\(\(uint16_t\)s->id, start\)",
                   "tlbb_arm64_va_operand((uint16_t)(s->id + 1), start)", 1),
    "no-switch-dsb": (r"(/\* Nobody else may complete these TLBIs: do it before the task leaves\. \*/\n)"
                      r"\ttlbb_a64_dsb_ish\(\);\n", r"\1", 1),
    "range-num": (r"(tlbb_arm64_range_operand(?:_lpa2)?\(0, s->page_shift, )scale, num, va\)",
                  r"\1scale, num - 1, va)", 2),
    "range-scale": (r"(tlbb_arm64_range_operand(?:_lpa2)?\(0, s->page_shift, )scale, num, va\)",
                    r"\1scale - 1, num, va)", 2),
    "leaf-always": (r"a64_tlbi_for\(cfg, s, leaf \? A64_VA_LEAF : A64_VA,",
                    "a64_tlbi_for(cfg, s, A64_VA_LEAF,", 1),
    "no-ishst": (r"\t\t/\* The PTE stores before the TLBI: see a64_add_general\(\)\. \*/\n"
                 r"\t\ttlbb_a64_dsb_ishst\(\);\n", "", 1),
}

name, src_path, out_path = sys.argv[1:4]
pattern, repl, want = MUTANTS[name]
src = open(src_path).read()
n = len(re.findall(pattern, src, flags=re.S))
if n != want:
    sys.stderr.write("mutate-a64.py %s: the lines were found %d times, not %d: "
                     "source copied unchanged\n" % (name, n, want))
    out = src
else:
    out = re.sub(pattern, repl, src, flags=re.S)
with open(out_path, "w") as f:
    f.write(out)
