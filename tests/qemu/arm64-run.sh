#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the arm64 unikernel under qemu-system-aarch64 and judge its UART report.
# Usage: arm64-run.sh EXPECT CPU IMAGE
#   EXPECT clean  the poison test must finish with no stale read
#          range  clean, and with FEAT_TLBIRANGE range ops really in use
#          stale  negative control: stale reads MUST have been seen
#          debugfail  the issuing-CPU debug check MUST have stopped the image
#          rangestale range-phase sensitivity control: range ops in use, stale
#                 reads in the range phase, none in the batched phase
#          globalstale global-phase control (no maintenance in the global
#                 phase only): stale reads there, none in any other phase
#          reusestale  ASID-reuse control (the ASID is given to a new space
#                 without tlbb_space_fini()): stale reads in the reuse phase,
#                 none in any other phase
# Exit 77 (meson: skipped) when qemu-system-aarch64 is missing.
set -uo pipefail
expect=$1; cpu=$2; image=$3
qemu=${QEMU_SYSTEM_AARCH64:-qemu-system-aarch64}
command -v "$qemu" >/dev/null || { echo "SKIP: $qemu not installed"; exit 77; }
[ -f "$image" ] || { echo "FAIL: no image $image"; exit 1; }

log=$(mktemp); trap 'rm -f "$log"' EXIT
# The image powers off through PSCI SYSTEM_OFF; the timeout only catches hangs.
timeout 150 "$qemu" -M virt -cpu "$cpu" -smp 4 -m 128M -nographic -monitor none \
  -serial stdio -kernel "$image" >"$log" 2>&1
rc=$?
cat "$log"
[ $rc -eq 0 ] || { echo "FAIL: qemu exit status $rc (124 = hung, killed by timeout)"; exit 1; }

verdict=$(grep -a '^VERDICT:' "$log" | tail -1)
retargets=$(grep -a '^total retargets:' "$log" | awk '{print $3}')
[ -n "$verdict" ] || { echo "FAIL: no verdict on the UART"; exit 1; }
if [ "$expect" = debugfail ]; then
  if grep -aq '^debug check failed: arm64: batch flushed on a CPU other' "$log"; then
    echo "PASS (debug check caught a batch flushed on another CPU without the barrier)"; exit 0
  fi
  echo "FAIL: the issuing-CPU check did not fire ($verdict)"; exit 1
fi
[ "${retargets:-0}" -ge 100000 ] || { echo "FAIL: only ${retargets:-0} retargets (< 100000)"; exit 1; }
# field FIELD of phase PHASE's JSON line (empty if the phase did not report)
phase_field() { grep -a "\"phase\":\"$1\"" "$log" | tail -1 | sed -nE "s/.*\"$2\":([0-9]+).*/\1/p"; }
phase_stale() { local p w; p=$(phase_field "$1" stale_poison); w=$(phase_field "$1" stale_wrong_page)
  [ -n "$p" ] && [ -n "$w" ] && echo $((p + w)); }
case "$expect" in
  clean|range)
    case "$verdict" in "VERDICT: CLEAN"*) ;; *) echo "FAIL: $verdict"; exit 1 ;; esac
    grep -aq '^issuing-cpu rule: .*: ok' "$log" || { echo "FAIL: cross-CPU handoff did not run"; exit 1; }
    # The global phase must have gone through TLBI VMALLE1IS: one whole-space
    # TLBI (counted in tlbi_asid) and one ISB per 16-page round, nothing else.
    g=$(phase_field global retargets); ga=$(phase_field global tlbi_asid)
    gt=$(phase_field global tlbi); gi=$(phase_field global isb)
    [ -n "$g" ] && [ "$g" -gt 0 ] || { echo "FAIL: the global phase did not run"; exit 1; }
    [ "$ga" = $((g / 16)) ] && [ "$gt" = "$ga" ] && [ "$gi" = "$ga" ] ||
      { echo "FAIL: global phase: $g retargets, tlbi $gt, whole-space $ga, isb $gi (want $((g / 16)) each)"; exit 1; }
    # The reuse phase: one space lifetime per 16 pages, each ended by
    # tlbb_space_fini(): at least one TLBI ASIDE1IS each (the first may add
    # the race check's), and no other TLBI.
    r=$(phase_field reuse retargets); ra=$(phase_field reuse tlbi_asid); rt=$(phase_field reuse tlbi)
    [ -n "$r" ] && [ "$r" -gt 0 ] || { echo "FAIL: the reuse phase did not run"; exit 1; }
    [ "$ra" -ge $((r / 16)) ] && [ "$rt" = "$ra" ] ||
      { echo "FAIL: reuse phase: $((r / 16)) lifetimes, tlbi $rt, whole-ASID $ra"; exit 1; }
    if [ "$expect" = range ]; then
      grep -aq '"phase":"range".*"range_ops":1' "$log" || { echo "FAIL: range ops were not used"; exit 1; }
    fi ;;
  rangestale)
    grep -aq '"phase":"range".*"range_ops":1' "$log" || { echo "FAIL: range ops were not used"; exit 1; }
    r=$(phase_stale range); b=$(phase_stale batched)
    [ "${r:-0}" -gt 0 ] || { echo "FAIL: a range starting one page late left nothing stale: range ops are not observable"; exit 1; }
    [ "${b:-1}" -eq 0 ] || { echo "FAIL: stale reads in the batched phase ($b): the control broke more than the range"; exit 1; }
    echo "range control: $r stale reads in the range phase, as there must be" ;;
  globalstale)
    case "$verdict" in "VERDICT: STALE"*) ;; *) echo "FAIL: $verdict"; exit 1 ;; esac
    [ "$(phase_field global tlbi)" = 0 ] || { echo "FAIL: the control issued TLBIs in the global phase"; exit 1; }
    g=$(phase_stale global)
    [ "${g:-0}" -gt 0 ] || { echo "FAIL: global phase without maintenance left nothing stale: the global phase cannot fail"; exit 1; }
    for p in batched range per-page; do
      o=$(phase_stale $p)
      [ "${o:-1}" -eq 0 ] || { echo "FAIL: stale reads in the $p phase ($o): the control broke more than the global phase"; exit 1; }
    done
    echo "global control: $g stale reads in the global phase, as there must be" ;;
  reusestale)
    case "$verdict" in "VERDICT: STALE"*) ;; *) echo "FAIL: $verdict"; exit 1 ;; esac
    [ "$(phase_field reuse tlbi)" = 0 ] || { echo "FAIL: the control issued TLBIs in the reuse phase"; exit 1; }
    u=$(phase_stale reuse)
    [ "${u:-0}" -gt 0 ] || { echo "FAIL: ASID reused without fini left nothing stale: the reuse phase cannot fail"; exit 1; }
    for p in batched range per-page global; do
      o=$(phase_stale $p)
      [ "${o:-1}" -eq 0 ] || { echo "FAIL: stale reads in the $p phase ($o): the control broke more than the reuse phase"; exit 1; }
    done
    echo "reuse control: $u stale reads in the reuse phase, as there must be" ;;
  stale)
    case "$verdict" in
      "VERDICT: STALE"*) echo "negative control: stale reads seen, as they must be" ;;
      *) echo "FAIL: negative control saw no stale read ($verdict): the test cannot fail"; exit 1 ;;
    esac ;;
  *) echo "usage: $0 clean|range|stale|debugfail|rangestale|globalstale|reusestale CPU IMAGE"; exit 2 ;;
esac
echo "PASS ($expect, cpu $cpu)"
