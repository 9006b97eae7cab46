#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: x86_64-run.sh IMAGE positive|negative [extra kernel args]
# Boots the x86-64 poison-test unikernel under qemu-system-x86_64 -smp 4
# (TCG) and turns its isa-debug-exit status into a test result:
#   33 (0x10 << 1 | 1) = the image's verdict was PASS, 35 = FAIL.
# In "negative" mode the image drops every IPI round and passes only if
# its readers saw stale translations (the negative control).
# Exit 77 (skipped) if qemu-system-x86_64 is not installed.
set -u
image=$1; mode=$2; shift 2
qemu=$(command -v qemu-system-x86_64) || { echo "qemu-system-x86_64 not found: skipped"; exit 77; }
append=""
[ "$mode" = negative ] && append="negative"
[ $# -gt 0 ] && append="$append $*"
start=$(date +%s.%N)
timeout 100 "$qemu" -M q35 -smp 4 -m 128 -cpu max -accel tcg \
  -display none -serial stdio -monitor none -no-reboot \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$image" -append "$append" </dev/null
rc=$?
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "qemu wall time: %.2f s\n", e - s }'
case $rc in
  33) echo "result: pass"; exit 0 ;;
  35) echo "result: the image reported FAIL"; exit 1 ;;
  124) echo "result: timed out"; exit 1 ;;
  *) echo "result: qemu exited with $rc (no verdict)"; exit 1 ;;
esac
