#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: x86_64-run.sh DISK.img positive|negative|mutant|ept|ept-control|ept-hidden [args]
#
# Boots the x86-64 poison-test unikernel (examples/unikernel-x86_64, on a
# disk image made by mkdisk.py) under Bochs with 4 CPUs of the Haswell
# model, which has PCID and INVPCID: the backend's whole-PCID flushes are
# then INVPCID single-context, which QEMU TCG cannot run. Headless: no
# display (nogui, else the curses "term" library writing into the log),
# serial port to a file, the kernel powers off through Bochs' 0x8900 port.
#
#   positive  the image must say PASS, with invpcid=1 and at least one
#             whole flush on every CPU: with INVPCID each is one INVPCID
#             (type 1 for the test space, type 2 with 'global')
#   negative  the image drops every IPI round and must say PASS, which it
#             does only if its readers saw stale translations
#   mutant    the image was built with the invpcid asm deleted; it must say
#             FAIL *because of stale reads* (not a crash), after whole-PCID
#             flushes that ran the now empty INVPCID path
#
# The VMX hypervisor image (examples/hyp-x86_64, docs/ept.md), same machine:
#
#   ept          it must say PASS: 0 stale reads, every guest CPU exited on
#                flush IPIs and executed INVEPT, and the CPU reported
#                single-context INVEPT (invept_single=1)
#   ept-control  a negative control ("control=NAME" among the args): it
#                must say PASS, which it does only if its guests saw stale
#                reads, and must not have crashed
#   ept-hidden   an image with a mutant of ept.c that Bochs cannot expose
#                (it flushes its TLB at every VM entry and exit): it must run
#                to its end with 0 stale reads; it fails the day Bochs
#                shows the bug, and the mutant then becomes a control
#
# Exit 77 (skipped) only when Bochs is not installed.
set -u
disk=$1; mode=$2; shift 2
case $mode in positive|negative|mutant|ept|ept-control|ept-hidden) ;; *) echo "bad mode $mode"; exit 2 ;; esac
bochs=$(command -v bochs-bin) || bochs=$(command -v bochs) ||
  { echo "bochs not found: skipped"; exit 77; }

cpus=${BOCHS_CPUS:-4}
case $mode in
  ept*) args="cpus=$cpus retargets=${BOCHS_RETARGETS:-20000} perpage=${BOCHS_PERPAGE:-1000}" ;;
  *) args="cpus=$cpus retargets=${BOCHS_RETARGETS:-100000} perpage=${BOCHS_PERPAGE:-2000}" ;;
esac
[ "$mode" = negative ] && args="negative $args"
[ $# -gt 0 ] && args="$args $*"

work=$(mktemp -d "${TMPDIR:-/tmp}/tlbb-bochs.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT PIPE TERM # so that the EXIT trap runs then too
# A private copy: Bochs locks (and may write) its disk images.
cp "$disk" "$work/disk.img" || exit 1
# LBA 1 is the command line (bochs-boot.S hands it over as PVH cmdline).
printf '%s\0' "$args" | dd of="$work/disk.img" bs=512 seek=1 conv=notrunc status=none || exit 1

write_rc() {
  cat > "$work/bochsrc" <<EOF
megs: 128
cpu: count=$cpus, model=corei7_haswell_4770, ips=4000000, reset_on_triple_fault=0
romimage: file=\$BXSHARE/BIOS-bochs-latest
vgaromimage: file=\$BXSHARE/VGABIOS-lgpl-latest
display_library: $1
ata0: enabled=1
ata0-master: type=disk, path=disk.img, mode=flat, cylinders=1, heads=16, spt=63
ata1: enabled=0
ata2: enabled=0
ata3: enabled=0
boot: disk
floppy_bootsig_check: disabled=1
com1: enabled=1, mode=file, dev=serial.txt
speaker: enabled=0
sound: driver=dummy
log: bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
EOF
}

# Builds with the internal debugger (Debian's) stop at a prompt first.
printf 'c\nquit\n' > "$work/debugger.rc"
dbg=""
"$bochs" --help 2>&1 | grep -q -- '-rc ' && dbg="-rc debugger.rc"

start=$(date +%s.%N)
for gui in nogui term; do
  write_rc $gui
  rm -f "$work/serial.txt" "$work/bochs.log"
  # shellcheck disable=SC2086 # $dbg is empty or two words
  (cd "$work" && TERM=vt100 timeout 170 "$bochs" -q -unlock -f bochsrc $dbg \
    </dev/null >"$work/console.txt" 2>&1)
  rc=$?
  grep -q "display library '$gui' not available" "$work/console.txt" || break
done
end=$(date +%s.%N)

[ -f "$work/serial.txt" ] && cat "$work/serial.txt" && echo
awk -v s="$start" -v e="$end" 'BEGIN { printf "bochs wall time: %.2f s\n", e - s }'
grep -a -o 'PANIC<< .*' "$work/bochs.log" 2>/dev/null | head -3
if [ "$rc" = 124 ]; then
  echo "result: timed out"; exit 1
fi
if ! grep -q 'Shutdown port: shutdown requested' "$work/bochs.log" 2>/dev/null; then
  echo "result: bochs exited with $rc without the image's power-off"
  grep -a -i 'panic\|error' "$work/console.txt" "$work/bochs.log" 2>/dev/null | head -10
  exit 1
fi

out=$work/serial.txt
num() { grep -a -o "\"$1\": [0-9]*" "$out" | head -1 | sed 's/.*: //'; }
case $mode in
  ept)
    stale=$(num stale_reads); single=$(num invept_single)
    echo "invept_single=${single:-?} stale_reads=${stale:-?}"
    if [ "${single:-0}" = 1 ] && [ "${stale:-1}" = 0 ] && grep -aq 'VERDICT: PASS' "$out"; then
      echo "result: pass (0 stale reads through EPT; INVEPT single-context on every guest CPU)"
      exit 0
    fi
    echo "result: FAIL"; exit 1 ;;
  ept-control)
    stale=$(num stale_reads)
    echo "stale_reads=${stale:-?}"
    if grep -aq 'VERDICT: PASS' "$out" && [ "${stale:-0}" -gt 0 ] &&
       ! grep -aq 'EXCEPTION\|FAIL:\|debug check failed' "$out"; then
      echo "result: pass (the negative control saw stale reads)"; exit 0
    fi
    echo "result: FAIL (no stale read: the test could not detect this bug)"; exit 1 ;;
  ept-hidden)
    stale=$(num stale_reads); flushes=$(grep -a -o '"flushes": [0-9]*' "$out" | head -1 | sed 's/.*: //')
    echo "stale_reads=${stale:-?} batched_flushes=${flushes:-?}"
    if [ "${stale:-1}" = 0 ] && [ "${flushes:-0}" -gt 0 ] &&
       grep -aq 'negative control: NO stale read' "$out" &&
       ! grep -aq 'EXCEPTION\|FAIL:\|debug check failed' "$out"; then
      echo "result: pass (Bochs hid the mutant: its VM entries and exits flush its TLB)"; exit 0
    fi
    echo "result: FAIL (stale reads or no clean run: Bochs may now expose this mutant," \
         "make it a control)"; exit 1 ;;
esac
invpcid=$(num invpcid); stale=$(num stale_reads)
# Per CPU: every CPU did at least one whole-PCID flush, i.e. ran INVPCID.
flush_min=$(grep -a -o '"full_flushes": [0-9]*' "$out" | sed 's/.*: //' |
  awk 'NR == 1 || $1 < m { m = $1 } END { print (NR ? m : 0) }')
ncpu_seen=$(grep -a -o '"full_flushes": [0-9]*' "$out" | wc -l)
echo "invpcid=${invpcid:-?} stale_reads=${stale:-?} min_full_flushes_per_cpu=$flush_min cpus_reported=$ncpu_seen"

if [ "${invpcid:-0}" != 1 ]; then
  echo "result: the CPU model did not report INVPCID: this run proves nothing"; exit 1
fi
case $mode in
  positive)
    if grep -aq 'VERDICT: PASS' "$out" && [ "$flush_min" -gt 0 ] && [ "$ncpu_seen" = "$cpus" ]; then
      echo "result: pass (0 stale reads; every CPU executed INVPCID $flush_min+ times)"; exit 0
    fi
    echo "result: FAIL"; exit 1 ;;
  negative)
    if grep -aq 'VERDICT: PASS' "$out" && [ "${stale:-0}" -gt 0 ]; then
      echo "result: pass (the negative control saw stale reads)"; exit 0
    fi
    echo "result: FAIL (no stale read without IPIs: the test could not detect a missing shootdown)"
    exit 1 ;;
  mutant)
    if grep -aq 'VERDICT: FAIL' "$out" && [ "${stale:-0}" -gt 0 ] && [ "$flush_min" -gt 0 ] &&
       ! grep -aq 'EXCEPTION\|debug check failed' "$out"; then
      echo "result: pass (invpcid deleted -> stale reads detected)"; exit 0
    fi
    echo "result: FAIL (the mutant was not detected by stale reads)"; exit 1 ;;
esac
