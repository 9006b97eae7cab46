#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: x86_64-run.sh IMAGE positive|negative [extra kernel args]
# Boots the x86-64 poison-test unikernel under qemu-system-x86_64 -smp 4
# (TCG) and turns its isa-debug-exit status into a test result:
#   33 (0x10 << 1 | 1) = the image's verdict was PASS, 35 = FAIL.
# In "negative" mode the image drops every IPI round and passes only if
# its readers saw stale translations (the negative control).
# With the extra argument "trim" the image's JSON line must also carry the
# trim figure, and IPIs per flush must drop after the readers switched away
# (the image checks the exact counts; this checks the figure is there).
# Exit 77 (skipped) if qemu-system-x86_64 is not installed.
set -u
image=$1; mode=$2; shift 2
qemu=$(command -v qemu-system-x86_64) || { echo "qemu-system-x86_64 not found: skipped"; exit 77; }
append=""
[ "$mode" = negative ] && append="negative"
[ $# -gt 0 ] && append="$append $*"
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
timeout 100 "$qemu" -M q35 -smp 4 -m 128 -cpu max -accel tcg \
  -display none -serial stdio -monitor none -no-reboot \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$image" -append "$append" </dev/null >"$log"
rc=$?
cat "$log"
case " $* " in
  *" trim "*)
    if [ $rc = 33 ] && ! python3 - "$log" <<'EOF'
import json, sys
figs = [json.loads(l) for l in open(sys.argv[1], errors="replace") if l.startswith("{")]
t = figs[-1].get("trim") if figs else None
ok = (t is not None and t["readers"] >= 1
      and t["ipis_per_flush_before"] == t["readers"]
      and t["ipis_first_flush_after_switch"] == t["readers"]
      and t["ipis_per_flush_after"] < t["ipis_per_flush_before"]
      and t["ipis_after_total"] == 0
      and t["ipis_per_flush_back"] == t["readers"])
print("trim figure:", t, "ok" if ok else "NOT AS REQUIRED")
sys.exit(0 if ok else 1)
EOF
    then
      echo "result: the trim figure is missing or wrong"; exit 1
    fi ;;
esac
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "qemu wall time: %.2f s\n", e - s }'
case $rc in
  33) echo "result: pass"; exit 0 ;;
  35) echo "result: the image reported FAIL"; exit 1 ;;
  124) echo "result: timed out"; exit 1 ;;
  *) echo "result: qemu exited with $rc (no verdict)"; exit 1 ;;
esac
