#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: linux-module.sh build|boot SRCROOT WORKDIR [4level|5level]
# examples/linux-module under Debian's kernel (packages linux-image-amd64,
# linux-headers-amd64, busybox-static, cpio, qemu-system-x86; tools/dev
# installs them).
#   build  copy the module and the library tree into WORKDIR/mod and build
#          it with kbuild (make -C /usr/src/linux-headers-<ver> M=...) through
#          mk/tlbbatch.kbuild: the kbuild fragment's test.
#   boot   build (if needed), then boot /boot/vmlinuz-<ver> under
#          qemu-system-x86_64 -smp 4 -m 512 -accel tcg with a busybox
#          initramfs whose init loads the module twice: the poison test
#          (>= LINUX_RETARGETS retargets in batches of LINUX_BATCH
#          consecutive pages, 0 stale reads required) and the
#          control (control=1, no flush: stale reads required). 4level runs
#          a CPU without LA57 (-cpu qemu64), 5level -cpu max (LA57, which
#          the kernel uses by default). Prints INVLPGs vs whole flushes.
# A missing package fails (it is named), never skips.
set -u
mode=$1; src=$(cd "$2" && pwd); work=$3; paging=${4:-4level}
retargets=${LINUX_RETARGETS:-12000}
batch=${LINUX_BATCH:-32}
control_retargets=${LINUX_CONTROL_RETARGETS:-2048}
mkdir -p "$work" || exit 1
work=$(cd "$work" && pwd)

ver=""
for v in $(ls /lib/modules 2>/dev/null | sort -V); do
  [ -f "/boot/vmlinuz-$v" ] && [ -f "/usr/src/linux-headers-$v/Makefile" ] && ver=$v
done
[ -n "$ver" ] || { echo "FAIL: no kernel with headers (Debian: linux-image-amd64 linux-headers-amd64)"; exit 1; }
for tool in make:make cpio:cpio gzip:gzip qemu-system-x86_64:qemu-system-x86; do
  command -v "${tool%%:*}" >/dev/null || { echo "FAIL: ${tool%%:*} not installed (Debian: ${tool#*:})"; exit 1; }
done
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
  [ -x /bin/busybox ] || { echo "FAIL: /bin/busybox missing (Debian: busybox-static)"; exit 1; }

build() {
  mod=$work/mod
  # A module built from the same sources (by the kbuild test) is reused.
  if [ "$mode" = boot ] && [ -f "$mod/tlbb_poison.ko" ] && [ -z "$(find "$src/examples/linux-module" \
       "$src/include" "$src/lib" "$src/arch" "$src/mk" -newer "$mod/tlbb_poison.ko" -print -quit)" ]; then
    echo "kbuild: $mod/tlbb_poison.ko is up to date"
    return 0
  fi
  rm -rf "$mod"; mkdir -p "$mod/tlbbatch"
  cp "$src"/examples/linux-module/* "$mod/"
  cp -r "$src/include" "$src/lib" "$src/arch" "$src/mk" "$mod/tlbbatch/"
  start=$(date +%s)
  if ! make -C "/usr/src/linux-headers-$ver" M="$mod" modules -j2 >"$work/kbuild.log" 2>&1; then
    cat "$work/kbuild.log"; echo "FAIL: kbuild of the module"; return 1
  fi
  grep -E 'warning|error' "$work/kbuild.log" | grep -v BTF && { echo "FAIL: kbuild warnings"; return 1; }
  # The library was compiled the kernel's way: -nostdinc, types from the override.
  for o in lib/.tlbbatch.o.cmd lib/.maskgen.o.cmd arch/x86_64/.x86_64.o.cmd; do
    grep -q -- '-nostdinc' "$mod/tlbbatch/$o" && grep -q 'TLBB_TYPES_HEADER' "$mod/tlbbatch/$o" ||
      { echo "FAIL: $o was not built with -nostdinc and TLBB_TYPES_HEADER"; return 1; }
  done
  echo "kbuild: $mod/tlbb_poison.ko for $ver in $(( $(date +%s) - start )) s"
}

case "$mode" in
  build)
    build || exit 1
    echo "result: the module built with kbuild through mk/tlbbatch.kbuild"
    exit 0 ;;
  boot) ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac

run=$work/$paging
rm -rf "$run"; mkdir -p "$run/root/bin" "$run/root/proc" "$run/root/sys" "$run/root/dev"
build || exit 1
cp /bin/busybox "$run/root/bin/busybox"
cp "$work/mod/tlbb_poison.ko" "$run/root/"
cat >"$run/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
echo "init: poison run"
/bin/busybox insmod /tlbb_poison.ko retargets=$retargets batch=$batch
/bin/busybox rmmod tlbb_poison
echo "init: control run"
/bin/busybox insmod /tlbb_poison.ko control=1 retargets=$control_retargets batch=$batch
/bin/busybox rmmod tlbb_poison
echo "init: done"
/bin/busybox poweroff -f
INIT
chmod +x "$run/root/init"
(cd "$run/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$run/initramfs.cpio.gz" || exit 1

case "$paging" in
  4level) cpu="qemu64" ;;
  5level) cpu="max" ;;
  *) echo "unknown paging $paging"; exit 2 ;;
esac
start=$(date +%s.%N)
timeout 150 qemu-system-x86_64 -smp 4 -m 512 -accel tcg -cpu "$cpu" -nographic -no-reboot \
  -kernel "/boot/vmlinuz-$ver" -initrd "$run/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 oops=panic loglevel=7" </dev/null >"$run/console.log" 2>&1
rc=$?
end=$(date +%s.%N)
grep -E 'tlbb|init:|WARNING|BUG|Call Trace|tainted' "$run/console.log" | grep -v 'module verification\|taints kernel' | head -40
awk -v s="$start" -v e="$end" 'BEGIN { printf "qemu wall time: %.1f s\n", e - s }'
[ $rc = 0 ] || { echo "result: qemu exited with $rc"; tail -20 "$run/console.log"; exit 1; }
python3 - "$run/console.log" "$paging" "$retargets" <<'PY'
import json, re, sys
log, paging, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(log, errors="replace").read()
res = [json.loads(m) for m in re.findall(r"tlbb_poison: RESULT (\{.*\})", text)]
pos = [r for r in res if not r["control"]]
neg = [r for r in res if r["control"]]
ok = True
def need(cond, what):
    global ok
    print(("ok    " if cond else "FAIL  ") + what)
    ok &= bool(cond)
need(not re.search(r"WARNING:|BUG:|Oops|rcu: INFO|soft lockup|hung_task|blocked for more", text),
     "no kernel warning, BUG, oops, RCU stall or lockup")
need(len(pos) == 1 and len(neg) == 1, "one poison run and one control run reported")
if pos and neg:
    p, n = pos[0], neg[0]
    la57 = paging == "5level"
    need(p["la57"] == la57, f"CR4.LA57 = {p['la57']} ({paging})")
    need(p["backend_la57"] == la57, "the backend took LA57 from CR4 (the port did not pass it)")
    need(p["retargets"] >= want and p["retargets"] >= 10000, f"{p['retargets']} retargets (>= {max(want, 10000)})")
    need(p["stale"] == 0, f"{p['stale']} stale reads in {p['reads']} reads")
    need(p["ipi_rounds"] == p["flushes"], f"{p['ipi_rounds']} IPI rounds for {p['flushes']} flushes (one each)")
    need(p["invlpg"] > 0 and p["full"] == 0, f"INVLPGs {p['invlpg']}, whole flushes {p['full']}")
    need(n["stale"] > 0, f"control (no flush): {n['stale']} stale reads in {n['reads']} reads")
    print("figure:", json.dumps({"paging": paging, "poison": p, "control": n}))
sys.exit(0 if ok else 1)
PY
