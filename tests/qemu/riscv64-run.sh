#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the riscv64 S-mode image under qemu-system-riscv64 -M virt -smp 4
# -bios default (OpenSBI) and judge its UART report (JSON line per phase).
# Usage: riscv64-run.sh EXPECT IMAGE
#   clean        every phase of the sbi and ipi paths ran with no stale or
#                torn read, >= 100000 batched retargets per path, one remote
#                round per flush (batched and per page), the race check found
#                the changer's batch every time
#   svinval      clean, run with -cpu rv64,svinval=on: the svinval path ran
#   droprounds   control (the port drops IPI rounds): stale reads in the ipi
#                batched phase, none on the sbi path
#   noracecheck  control (the changer skips the race check): stale reads in
#                both race phases, none in any other phase
#   localonly    control (backend without its remote part): stale reads in
#                the batched phase of both paths
#   asidinvisible the wrong-ASID backend, which QEMU 7.2 cannot tell from the
#                real one: its SFENCE.VMA flushes the hart's whole TLB
#                whatever the operands. Must be CLEAN; the recorder's model
#                is what catches that bug (riscv64-recorder-wrong-asid...).
set -uo pipefail
expect=$1; image=$2
qemu=${QEMU_SYSTEM_RISCV64:-qemu-system-riscv64}
command -v "$qemu" >/dev/null || { echo "FAIL: $qemu not installed (Debian: qemu-system-misc)"; exit 1; }
[ -f "$image" ] || { echo "FAIL: no image $image"; exit 1; }
cpu=rv64
[ "$expect" = svinval ] && cpu=rv64,svinval=on

log=$(mktemp); trap 'rm -f "$log"' EXIT
# The image exits through the SiFive test device; the timeout (below meson's,
# so that a hang still shows how far the image got) catches hangs. stdin is
# /dev/null: QEMU reads its serial input there, and a terminal inherited by
# a background process group would stop it (SIGTTIN).
timeout 180 "$qemu" -M virt -cpu "$cpu" -smp 4 -m 256M -bios default -nographic \
  -monitor none -serial stdio -kernel "$image" </dev/null >"$log" 2>&1
rc=$?
grep -av '^$' "$log" | sed -n '/tlbbatch riscv64/,$p'
[ $rc -eq 0 ] || { echo "FAIL: qemu exit status $rc (124 = hung, killed by timeout)"; exit 1; }
grep -aq '^VERDICT: PASS' "$log" || { echo "FAIL: the image did not pass its own checks"; exit 1; }

# field FIELD of phase PHASE on path PATH (empty if it did not report)
f() { grep -a "\"phase\":\"$1\",\"path\":\"$2\"" "$log" | tail -1 | sed -nE "s/.*\"$3\":([0-9]+).*/\1/p"; }
bad() { local s t; s=$(f "$1" "$2" stale); t=$(f "$1" "$2" torn); [ -n "$s" ] && echo $((s + t)); }
need_clean() { # PATH...
  for p in "$@"; do
    for ph in batched per_page race global; do
      n=$(bad $ph $p)
      [ "${n:-x}" = 0 ] || { echo "FAIL: $p $ph: ${n:-no report} stale/torn reads"; exit 1; }
    done
    r=$(f batched $p retargets)
    [ "${r:-0}" -ge 100000 ] || { echo "FAIL: $p: only ${r:-0} batched retargets"; exit 1; }
    # one remote round per flush and race check, batched and per page
    for ph in batched per_page; do
      fl=$(f $ph $p flushes); rc_=$(f $ph $p race_checks)
      if [ $p = sbi ]; then rounds=$(f $ph $p sbi_calls); else rounds=$(f $ph $p ipi_rounds); fi
      [ "$rounds" = $((fl + rc_)) ] || { echo "FAIL: $p $ph: $rounds remote rounds for $fl flushes + $rc_ race checks"; exit 1; }
    done
    [ "$(f race $p race_checks)" -gt 0 ] && [ "$(f global $p page_fences)" -gt 0 ] ||
      { echo "FAIL: $p: the race or global phase did no work"; exit 1; }
    b=$(f batched $p retargets); bf=$(f batched $p flushes); bc=$(f batched $p race_checks)
    pp=$(f per_page $p retargets)
    echo "$p: batched $b retargets in $((bf + bc)) remote rounds ($(awk "BEGIN{printf \"%.4f\", ($bf+$bc)/$b}") per page), per page $pp in $pp ($(awk "BEGIN{printf \"%.4f\", 1}") per page); local+handler fences per page: batched $(awk "BEGIN{printf \"%.3f\", ($(f batched $p page_fences)+$(f batched $p whole_fences))/$b}"), per page $(awk "BEGIN{printf \"%.3f\", ($(f per_page $p page_fences)+$(f per_page $p whole_fences))/$pp}")"
  done
}
stale_in() { n=$(bad "$1" "$2"); [ "${n:-0}" -gt 0 ] || { echo "FAIL: $3: no stale read in $2 $1: the test cannot see it"; exit 1; }
  echo "$3: $n stale reads in $2 $1, as there must be"; }
clean_in() { n=$(bad "$1" "$2"); [ "${n:-x}" = 0 ] || { echo "FAIL: $3: ${n:-no report} stale reads in $2 $1: the control broke more than it should"; exit 1; }; }

case "$expect" in
  clean) need_clean sbi ipi
    grep -aq '"svinval":0' "$log" || { echo "FAIL: svinval reported without -cpu rv64,svinval=on"; exit 1; } ;;
  svinval) grep -aq '"svinval":1' "$log" || { echo "FAIL: Svinval not found with svinval=on"; exit 1; }
    need_clean sbi ipi svinval ;;
  droprounds) stale_in batched ipi droprounds
    for ph in batched per_page race global; do clean_in $ph sbi droprounds; done ;;
  noracecheck) stale_in race sbi noracecheck; stale_in race ipi noracecheck
    for p in sbi ipi; do for ph in batched per_page global; do clean_in $ph $p noracecheck; done; done ;;
  localonly) stale_in batched sbi localonly; stale_in batched ipi localonly ;;
  asidinvisible) grep -aq '^RESULT: CLEAN' "$log" ||
      { echo "FAIL: QEMU now shows the wrong ASID operand: make this a control that must see stale reads"; exit 1; }
    echo "QEMU 7.2: the wrong-ASID backend reads clean (SFENCE.VMA flushes the whole TLB there)" ;;
  *) echo "usage: $0 clean|svinval|droprounds|noracecheck|localonly|asidinvisible IMAGE"; exit 2 ;;
esac
echo "PASS ($expect)"
