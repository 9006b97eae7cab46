#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the EL2 hypervisor image (examples/hyp-arm64) under
# qemu-system-aarch64 -M virt,virtualization=on -smp 4 and judge its UART report.
# Usage: hyp-arm64-run.sh EXPECT CPU IMAGE
#   EXPECT clean        >= 100,000 retargets, no stale read, every phase ran with
#                       the instruction counts of its sequence
#                       (the overflow phase: one TLBI ALLE1IS per batch)
#          range        clean, and the range phase used RIPAS2LE1IS (FEAT_TLBIRANGE)
#          novmalle1is  control: the batched phase MUST see stale reads and
#                       must have issued no whole-VMID TLBI
#          noflush      control: the batched phase MUST see stale reads and
#                       must have completed nothing (0 DSB ISH)
#          noracecheck  control: the race phase MUST see stale reads, and no
#                       other phase may
# Exit 77 (meson: skipped) when qemu-system-aarch64 is missing.
set -uo pipefail
expect=$1; cpu=$2; image=$3
qemu=${QEMU_SYSTEM_AARCH64:-qemu-system-aarch64}
command -v "$qemu" >/dev/null || { echo "SKIP: $qemu not installed"; exit 77; }
[ -f "$image" ] || { echo "FAIL: no image $image"; exit 1; }

log=$(mktemp); trap 'rm -f "$log"' EXIT
# The image powers off through PSCI SYSTEM_OFF (SMC); the timeout only catches hangs.
timeout 150 "$qemu" -M virt,virtualization=on -cpu "$cpu" -smp 4 -m 128M -nographic \
  -monitor none -serial stdio -kernel "$image" >"$log" 2>&1
rc=$?
cat "$log"
[ $rc -eq 0 ] || { echo "FAIL: qemu exit status $rc (124 = hung, killed by timeout)"; exit 1; }
grep -aq '^CurrentEL: 2$' "$log" || { echo "FAIL: the image did not start at EL2"; exit 1; }
grep -aq '^guest vCPUs online at EL1: 3$' "$log" || { echo "FAIL: 3 guest vCPUs did not start"; exit 1; }
verdict=$(grep -a '^VERDICT:' "$log" | tail -1)
[ -n "$verdict" ] || { echo "FAIL: no verdict on the UART"; exit 1; }

# field FIELD of phase PHASE's JSON line (empty if the phase did not report)
phase_field() { grep -a "\"phase\":\"$1\"" "$log" | tail -1 | sed -nE "s/.*\"$2\":([0-9]+).*/\1/p"; }
phase_stale() { local p w g; p=$(phase_field "$1" stale_poison); w=$(phase_field "$1" stale_wrong_page)
  g=$(phase_field "$1" stale_old_gen); [ -n "$p" ] && [ -n "$w" ] && [ -n "$g" ] && echo $((p + w + g)); }
need_stale() { case "$verdict" in "VERDICT: STALE"*) ;; *) echo "FAIL: negative control saw no stale read ($verdict): the test cannot fail"; exit 1 ;; esac; }
need_phase_stale() { local s; s=$(phase_stale "$1")
  [ "${s:-0}" -gt 0 ] || { echo "FAIL: no stale read in the $1 phase: $2"; exit 1; }
  echo "$1 phase: $s stale reads, as there must be"; }

case "$expect" in
  clean|range)
    case "$verdict" in "VERDICT: CLEAN"*) ;; *) echo "FAIL: $verdict"; exit 1 ;; esac
    total=$(grep -a '^total retargets:' "$log" | awk '{print $3}')
    [ "${total:-0}" -ge 100000 ] || { echo "FAIL: only ${total:-0} retargets (< 100000)"; exit 1; }
    # batched: 2 DSB ISH per 16-page batch (IPA completion, VMALLE1IS completion),
    # one VMALLE1IS per batch, one IPAS2LE1IS per page
    b=$(phase_field batched retargets)
    [ "$(phase_field batched dsb_ish)" = $((b / 8)) ] && [ "$(phase_field batched tlbi_whole)" = $((b / 16)) ] &&
      [ "$(phase_field batched tlbi)" = $((b + b / 16)) ] ||
      { echo "FAIL: batched phase counts are not one IPAS2LE1IS per page + one VMALLE1IS and 2 DSB ISH per batch"; exit 1; }
    # per-IPA (KVM's sequence): 2 DSB ISH per page
    p=$(phase_field per-ipa retargets)
    [ "$(phase_field per-ipa dsb_ish)" = $((2 * p)) ] || { echo "FAIL: per-IPA phase is not 2 DSB ISH per page"; exit 1; }
    r=$(phase_field race retargets)
    [ -n "$r" ] && [ "$r" -gt 0 ] && [ "$(phase_field race tlbi_whole)" -ge $((r / 16)) ] ||
      { echo "FAIL: the race phase did not run its race checks"; exit 1; }
    for ph in batched range per-ipa race; do
      [ "$(phase_field $ph alle1is)" = 0 ] || { echo "FAIL: $ph phase fell back to ALLE1IS"; exit 1; }
    done
    # overflow: four VMIDs per batch, one more than it holds: one ALLE1IS per
    # batch and no other whole invalidation
    o=$(phase_field overflow retargets)
    [ -n "$o" ] && [ "$(phase_field overflow alle1is)" = $((o / 16)) ] &&
      [ "$(phase_field overflow tlbi_whole)" = $((o / 16)) ] ||
      { echo "FAIL: the overflow phase did not flush with one ALLE1IS per batch"; exit 1; }
    if [ "$expect" = range ]; then
      g=$(phase_field range retargets)
      [ "$(phase_field range range_ops)" = 1 ] && [ "$(phase_field range tlbi)" = $((g / 8)) ] ||
        { echo "FAIL: the range phase did not use one RIPAS2LE1IS + one VMALLE1IS per batch"; exit 1; }
    fi
    grep -a '^completions' "$log" ;;
  novmalle1is)
    need_stale
    [ "$(phase_field batched tlbi_whole)" = 0 ] || { echo "FAIL: the control issued whole-VMID TLBIs in the batched phase"; exit 1; }
    need_phase_stale batched "IPA invalidations alone left no combined entry alive: the VMALLE1IS rule is not observable" ;;
  noflush)
    need_stale
    [ "$(phase_field batched dsb_ish)" = 0 ] || { echo "FAIL: the control completed something in the batched phase"; exit 1; }
    need_phase_stale batched "adds without a flush left nothing stale: the flush is not observable" ;;
  noracecheck)
    need_stale
    need_phase_stale race "a changer without the race check left nothing stale: the race phase cannot fail"
    for ph in batched range per-ipa overflow; do
      o=$(phase_stale $ph)
      [ "${o:-1}" -eq 0 ] || { echo "FAIL: stale reads in the $ph phase ($o): the control broke more than the race check"; exit 1; }
    done ;;
  *) echo "usage: $0 clean|range|novmalle1is|noflush|noracecheck CPU IMAGE"; exit 2 ;;
esac
echo "PASS ($expect, cpu $cpu)"
