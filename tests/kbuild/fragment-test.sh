#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: fragment-test.sh make|cmake SRCROOT WORKDIR CC
#        fragment-test.sh lists SRCROOT WORKDIR --core FILE... --x86_64 FILE... --arm64 FILE... --arm64_s2 FILE... --riscv64 FILE...
#        fragment-test.sh lists-negative-control SRCROOT WORKDIR (the same lists)
# make / cmake: build tests/kbuild/consumer (core + the host's hardware
#   backend, TLBB_MAX_CPUS=128, its own types header) with mk/tlbbatch.mk or
#   the tree's CMakeLists.txt, and run it.
# lists: every fragment (mk/tlbbatch.mk, mk/tlbbatch.cmake, mk/tlbbatch.kbuild)
#   names exactly the source files meson builds (each list given by meson as
#   paths after --core, --x86_64, --arm64, --arm64_s2, --riscv64; compared as sets of real paths). The negative control runs the same check on a copy
#   of the tree whose kbuild fragment names a wrong file, and must see it fail.
set -u
mode=$1; src=$(cd "$2" && pwd); work=$3; shift 3
rm -rf "$work"; mkdir -p "$work" || exit 1
work=$(cd "$work" && pwd)

host_backend() {
  case "$("$@" -dumpmachine)" in
    x86_64*) echo x86_64 ;;
    aarch64*) echo arm64 ;;
    *) echo none ;;
  esac
}

# The real paths of a list of files, sorted, one line; "?" for a missing file.
real_list() {
  for f in "$@"; do
    if [ -f "$f" ]; then realpath "$f"; else echo "?$f"; fi
  done | sort | tr '\n' ' '
}

check_lists() { # tree --core files... --x86_64 files... --arm64 files...
  tree=$1; shift; rc=0
  # make: print the variables after including the fragment
  printf 'include %s/mk/tlbbatch.mk\nall:\n\t@echo core $(TLBBATCH_SRCS)\n\t@echo x86_64 $(TLBBATCH_SRCS_x86_64)\n\t@echo arm64 $(TLBBATCH_SRCS_arm64)\n\t@echo arm64_s2 $(TLBBATCH_SRCS_arm64_s2)\n\t@echo riscv64 $(TLBBATCH_SRCS_riscv64)\n' "$tree" \
    | make -s -f - TLBBATCH_DIR="$tree" >"$work/make.lst" || rc=1
  # kbuild: the objects, relative to $(src), back to sources
  printf 'src := %s\nTLBBATCH_REL := .\ninclude %s/mk/tlbbatch.kbuild\nall:\n\t@echo core $(addprefix $(src)/,$(TLBBATCH_KBUILD_OBJS:.o=.c))\n\t@echo x86_64 $(addprefix $(src)/,$(TLBBATCH_KBUILD_OBJS_x86_64:.o=.c))\n\t@echo arm64 $(addprefix $(src)/,$(TLBBATCH_KBUILD_OBJS_arm64:.o=.c))\n\t@echo arm64_s2 $(addprefix $(src)/,$(TLBBATCH_KBUILD_OBJS_arm64_s2:.o=.c))\n\t@echo riscv64 $(addprefix $(src)/,$(TLBBATCH_KBUILD_OBJS_riscv64:.o=.c))\n' "$tree" "$tree" \
    | make -s -f - >"$work/kbuild.lst" || rc=1
  printf 'include(%s/mk/tlbbatch.cmake)\nmessage("core ${TLBBATCH_SRCS}")\nmessage("x86_64 ${TLBBATCH_SRCS_x86_64}")\nmessage("arm64 ${TLBBATCH_SRCS_arm64}")\nmessage("arm64_s2 ${TLBBATCH_SRCS_arm64_s2}")\nmessage("riscv64 ${TLBBATCH_SRCS_riscv64}")\n' "$tree" >"$work/p.cmake"
  cmake -P "$work/p.cmake" 2>&1 | sed 's/;/ /g' >"$work/cmake.lst" || rc=1
  # meson's lists, by name
  name=; : >"$work/meson.lst"
  for a in "$@"; do
    case "$a" in
      --*) name=${a#--}; printf '\n%s' "$name" >>"$work/meson.lst" ;;
      *) printf ' %s' "$a" >>"$work/meson.lst" ;;
    esac
  done
  for frag in make kbuild cmake; do
    for name in core x86_64 arm64 arm64_s2 riscv64; do
      # shellcheck disable=SC2046 # the file lists are meant to split
      want=$(real_list $(awk -v n="$name" '$1 == n {$1 = ""; print}' "$work/meson.lst"))
      # shellcheck disable=SC2046
      got=$(real_list $(awk -v n="$name" '$1 == n {$1 = ""; print}' "$work/$frag.lst"))
      # the same files, however each tool spells the paths
      if [ -z "$want" ] || [ "$got" != "$want" ]; then
        echo "FAIL: $frag fragment: $name is '$got', meson builds '$want'"; rc=1
      else
        echo "ok: $frag $name = $got"
      fi
    done
  done
  return $rc
}

case "$mode" in
  make)
    be=$(host_backend "$@")
    make -f "$src/tests/kbuild/consumer/Makefile" TLBBATCH_DIR="$src" OUT="$work" \
      BACKEND="$be" CC="$*" || exit 1
    "$work/consumer" || exit 1
    echo "result: make fragment: consumer with core + $be built and passed" ;;
  cmake)
    be=$(host_backend "$@")
    cmake -S "$src/tests/kbuild/consumer" -B "$work" -DTLBBATCH_DIR="$src" \
      -DTLBBATCH_BACKEND="$be" -DCMAKE_C_COMPILER="$1" >"$work/configure.log" 2>&1 \
      || { cat "$work/configure.log"; exit 1; }
    cmake --build "$work" || exit 1
    "$work/consumer" || exit 1
    echo "result: CMake fragment: consumer with core + $be built and passed" ;;
  lists)
    check_lists "$src" "$@" && echo "result: all fragments name the meson sources" ;;
  lists-negative-control)
    # A tree whose files are the real ones but whose kbuild fragment names
    # a backend source that is not the one meson builds.
    mkdir -p "$work/tree"
    cp -r "$src/mk" "$src/lib" "$src/arch" "$src/include" "$work/tree/"
    sed -i 's|arch/x86_64/x86_64.o|arch/x86_64/x86_insn.o|' "$work/tree/mk/tlbbatch.kbuild"
    t=$work/tree
    # the same lists, in the copy
    # shellcheck disable=SC2046 # one word per file
    if check_lists "$t" $(for a in "$@"; do
        case "$a" in
          --*) echo "$a" ;;
          *) echo "$t/$(realpath --relative-to="$src" "$a")" ;;
        esac
      done); then
      echo "result: a wrong kbuild list passed the check"; exit 1
    fi
    echo "result: the wrong kbuild list was caught" ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
