#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: nostdinc-build.sh SRCROOT WORKDIR override|no-override|no-override-plain CC [CC args...]
# Compiles the core and the hardware backends the way a -nostdinc kernel
# does (Linux since 5.15): no compiler include directory, no libc, only
# TLBB_TYPES_HEADER (tests/kbuild/types/tlbb_test_types.h, which includes
# nothing). Release and TLBB_DEBUG builds. The objects may then need only
# tlbb_* symbols (the port hooks, or the recorder's in record mode).
#   override      must compile and link-check clean
#   no-override   the same without TLBB_TYPES_HEADER: must fail to compile
#                 (the negative control: -nostdinc really hides <stdint.h>,
#                 so the passing run found its types in the override alone)
set -u
src=$1; work=$2; mode=$3; shift 3
rm -rf "$work"; mkdir -p "$work" || exit 1
arch=$("$@" -dumpmachine 2>/dev/null)
case "$arch" in
  x86_64*) x86_flags=""; a64_flags="-DTLBB_ARM64_RECORD" ;;
  aarch64*) x86_flags="-DTLBB_X86_RECORD"; a64_flags="-mno-outline-atomics" ;;
  *) x86_flags="-DTLBB_X86_RECORD"; a64_flags="-DTLBB_ARM64_RECORD" ;;
esac
types="-I$src/tests/kbuild/types -DTLBB_TYPES_HEADER=<tlbb_test_types.h>"
[ "$mode" = override ] || types=""
fail=0
for dbg in "" "-DTLBB_DEBUG=1"; do
  for unit in "lib/tlbbatch.c:" "lib/maskgen.c:" "arch/x86_64/x86_64.c:$x86_flags" "arch/arm64/arm64.c:$a64_flags"; do
    file=${unit%%:*}; extra=${unit#*:}
    obj="$work/$(basename "$file" .c)$( [ -n "$dbg" ] && echo -debug).o"
    # shellcheck disable=SC2086 # word splitting of the flag lists is meant
    if "$@" -std=c11 -ffreestanding -nostdinc -fno-builtin -fno-stack-protector \
         -Wall -Wextra -Wpedantic -Wno-unused-parameter -Werror -O2 $dbg $extra $types \
         -I"$src/include" -I"$src/arch/x86_64" -I"$src/arch/arm64" \
         -c "$src/$file" -o "$obj" 2>"$work/err"; then
      echo "compiled: $file $dbg $extra"
      undef=$(nm -u "$obj" | awk '{print $NF}' | grep -v '^tlbb_' || true)
      if [ -n "$undef" ]; then
        echo "FAIL: $file needs non-tlbb symbols: $undef"; fail=1
      fi
    else
      echo "did not compile: $file $dbg $extra"
      head -n 3 "$work/err"
      fail=1
    fi
  done
done
case "$mode" in
  override)
    [ $fail = 0 ] && { echo "result: core and both backends build with -nostdinc and the override alone"; exit 0; }
    exit 1 ;;
  no-override)
    [ $fail = 1 ] && grep -q 'stdbool.h\|stdint.h\|stddef.h' "$work/err" &&
      { echo "result: without the override -nostdinc fails on the standard headers, as it must"; exit 0; }
    echo "result: built without any types header: -nostdinc is not in effect"; exit 1 ;;
esac
