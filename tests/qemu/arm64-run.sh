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
case "$expect" in
  clean|range)
    case "$verdict" in "VERDICT: CLEAN"*) ;; *) echo "FAIL: $verdict"; exit 1 ;; esac
    grep -aq '^issuing-cpu rule: .*: ok' "$log" || { echo "FAIL: cross-CPU handoff did not run"; exit 1; }
    if [ "$expect" = range ]; then
      grep -aq '"phase":"range".*"range_ops":1' "$log" || { echo "FAIL: range ops were not used"; exit 1; }
    fi ;;
  rangestale)
    grep -aq '"phase":"range".*"range_ops":1' "$log" || { echo "FAIL: range ops were not used"; exit 1; }
    phase_stale() { grep -a "\"phase\":\"$1\"" "$log" |
      sed -E 's/.*"stale_poison":([0-9]+),"stale_wrong_page":([0-9]+).*/\1 \2/' | awk '{print $1 + $2}'; }
    r=$(phase_stale range); b=$(phase_stale batched)
    [ "${r:-0}" -gt 0 ] || { echo "FAIL: a range starting one page late left nothing stale: range ops are not observable"; exit 1; }
    [ "${b:-1}" -eq 0 ] || { echo "FAIL: stale reads in the batched phase ($b): the control broke more than the range"; exit 1; }
    echo "range control: $r stale reads in the range phase, as there must be" ;;
  stale)
    case "$verdict" in
      "VERDICT: STALE"*) echo "negative control: stale reads seen, as they must be" ;;
      *) echo "FAIL: negative control saw no stale read ($verdict): the test cannot fail"; exit 1 ;;
    esac ;;
  *) echo "usage: $0 clean|range|stale|debugfail|rangestale CPU IMAGE"; exit 2 ;;
esac
echo "PASS ($expect, cpu $cpu)"
