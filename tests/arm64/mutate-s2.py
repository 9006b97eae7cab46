#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write arch/arm64/stage2.c with one known bug put in (a mutant).

    mutate-s2.py NAME IN OUT

Each mutant is a bug the stage-2 sequence fuzzer must report on its crafted
input tests/arm64/crafted-s2/NAME (meson tests s2-fuzz-detects-NAME-mutant):

  no-vmalle1is     the flush completes the IPA invalidations but issues no
                   TLBI VMALLE1IS: combined stage 1+2 entries survive
  no-switch        the backend never loads the space's VMID: every TLBI acts
                   on whatever VMID the CPU has loaded
  no-switch-isb    VTTBR_EL2 written without the ISB before the TLBI
  bare-dsb         the race check is a bare DSB ISH on the calling CPU
  no-ishst         no DSB ISHST before an add's TLBIs
  no-overflow      a fourth VMID in a batch is forgotten instead of turning
                   the flush into TLBI ALLE1IS

If the expected text is not found the stated number of times the source is
copied unchanged (with a note on stderr): the meson test then fails ("no
violation although one was expected"), so a refactor cannot silently turn a
mutant into the correct backend.
"""
import re
import sys

MUTANTS = {
    "no-vmalle1is": (r"\t\t\ts2_tlbi\(cfg, S2_VMID_STAGE1, 0\);\n", "", 1),
    "no-switch": (r"if \(s2_vmid_bits\(cur\) == s2_vmid_bits\(want\)\)", "if (1)", 1),
    "no-switch-isb": (r"(s2_write_vttbr\(cfg, want\);\n)\ttlbb_a64_isb_counted\(s2_insn_stats\(cfg\)\);\n",
                      r"\1", 1),
    "bare-dsb": (r"(static void s2_flush_space\([^{]*\{\n)\ts2_invalidate_vmid_now\(s2_cfg\(be\), s\);",
                 r"\1\ttlbb_a64_dsb_ish();", 1),
    "no-ishst": (r"\ttlbb_a64_dsb_ishst_counted\(s2_insn_stats\(cfg\)\);\n\tsb->queued = 1;",
                 "\tsb->queued = 1;", 1),
    "no-overflow": (r"\telse\n\t\tsb->all = 1;\n", "", 1),
}

name, src_path, out_path = sys.argv[1:4]
pattern, repl, want = MUTANTS[name]
src = open(src_path).read()
n = len(re.findall(pattern, src, flags=re.S))
if n != want:
    sys.stderr.write("mutate-s2.py %s: the text was found %d times, not %d: "
                     "source copied unchanged\n" % (name, n, want))
    out = src
else:
    out = re.sub(pattern, repl, src, flags=re.S)
with open(out_path, "w") as f:
    f.write(out)
