#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The riscv64 backend with one known bug put back, for the negative controls
# (the S-mode image's, the recorder's and the fuzzer's).
# Usage: mutate-riscv64.sh MUTANT IN.c OUT.c
#   localonly  no remote part: neither the SBI call nor the port's IPI round;
#              each flush fences this hart only
#   wrongasid  every fence's and RFENCE call's ASID operand is the space's
#              ASID + 1 (satp keeps the right one)
#   noinvalir  Svinval without SFENCE.INVAL.IR: the SINVAL.VMAs of a request
#              are never ordered before later walks
#   nowinval   Svinval without SFENCE.W.INVAL: the PTE stores are not
#              ordered before the SINVAL.VMAs
set -euo pipefail
m=$1 in=$2 out=$3
case "$m" in
  localonly)
    pattern='#define MG_ARCH_REMOTE(r, mask) rv_remote((r), (mask))'
    replace='#define MG_ARCH_REMOTE(r, mask) ((void)rv_remote, true) \/* MUTANT: no remote part *\/' ;;
  wrongasid)
    pattern='	return asid; /* the operand */'
    replace='	return asid + 1; \/* MUTANT: the wrong ASID operand *\/' ;;
  noinvalir)
    pattern='		rv_sfence_inval_ir();'
    replace='		(void)rv_sfence_inval_ir; \/* MUTANT: no SFENCE.INVAL.IR *\/' ;;
  nowinval)
    pattern='		rv_sfence_w_inval();'
    replace='		(void)rv_sfence_w_inval; \/* MUTANT: no SFENCE.W.INVAL *\/' ;;
  *) echo "mutate-riscv64.sh: unknown mutant $m" >&2; exit 2 ;;
esac
# A missing pattern copies the source unchanged (a note on stderr) rather
# than failing the build: tools/mutate deletes some of these very lines in
# its own mutants, which a build failure would report stillborn. The copy is
# the fixed backend, so the control's test then fails ("no violation
# although one was expected"): a control can never silently pass on it.
if ! grep -qF "$pattern" "$in"; then
  echo "mutate-riscv64.sh: pattern for $m not found in $in: copied unchanged" >&2
  cp "$in" "$out"
  exit 0
fi
sed "s|$(printf '%s' "$pattern" | sed 's/[][\.*^$|]/\\&/g')|$replace|" "$in" >"$out"
! cmp -s "$in" "$out" || { echo "mutate-riscv64.sh: $m changed nothing" >&2; exit 1; }
