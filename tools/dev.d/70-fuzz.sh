#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bounded libFuzzer runs of the three sequence fuzzers in a clang build dir
# (build-fuzz: library and backends instrumented for coverage, ASan+UBSan):
#   tests/fuzz/seqfuzz.c      the core on the sim (docs/verification.md)
#   tests/x86_64/fuzz_x86.c   the x86-64 backend on the recorder's TLB model
#                             (docs/x86fuzz.md)
#   tests/arm64/fuzz_arm64.c  the arm64 backend on the arm64 TLB model
#                             (docs/arm64fuzz.md)
#   tests/riscv64/fuzz_riscv64.c the riscv64 backend on the RISC-V TLB model
#                             (docs/riscv64.md, "The proof")
# For each: FUZZ_RUNS executions from its seed corpus (any violation fails),
# then a negative control: with one protocol step removed, from an empty
# corpus, the fuzzer must find a violation within its budget.
# X86FUZZ_CATCHUP_SECS=N also requires the x86 fuzzer to find the
# catch-up-edge engine mutant from nothing in N seconds (not reproducible
# run to run, so not by default); X86FUZZ_REUSE_SECS=N likewise
# for the space-reuse bug (41-79 s from nothing here). The corpus replays of
# both mutants run in every build (suite x86_64). The arm64 fuzzer must find
# the bare-DSB race check (a mutant of arm64.c) from an empty corpus with
# synchronous calls left out (A64FUZZ_NO_SYNC: so that the race check is the
# only way to it), within A64FUZZ_BARE_DSB_SECS (default 120; 2.5-9 s here).
# The riscv64 fuzzer must find the port's dropped remote round (IPI rounds
# and RFENCE calls) from an empty corpus, and the Svinval-without-
# SFENCE.INVAL.IR mutant of riscv64.c within RVFUZZ_NO_INVAL_IR_SECS
# (default 120).
# Nightly: tools/fuzz-long.
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_need clang "clang libclang-rt-14-dev"
runs=${FUZZ_RUNS:-4000}
dir=build-fuzz
CC=clang tlbb_setup "$dir" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
  -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
# Not "ninja ... | grep -q": grep quits at the first match, ninja then dies
# of SIGPIPE, and under pipefail the check fails at random.
targets=$(ninja -C "$dir" -t targets all)
if ! grep -q '^tests/fuzz/seqfuzz:' <<<"$targets"; then
  echo "FAIL: meson found no libFuzzer with this clang (Debian: libclang-rt-14-dev)"
  exit 1
fi
# Same configuration, so both targets exist whenever seqfuzz does.
tlbb_quiet ninja -C "$dir" tests/fuzz/seqfuzz tests/x86_64/x86fuzz tests/x86_64/x86fuzz-catchup-edge-mutant \
  tests/x86_64/x86fuzz-reuse-mutant tests/arm64/a64fuzz tests/arm64/a64fuzz-bare-dsb-mutant \
  tests/riscv64/rvfuzz tests/riscv64/rvfuzz-noinvalir-mutant

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/art"

# bounded NAME FUZZER SEED_DIR: $runs executions from a copy of the seeds.
bounded() {
  local name=$1 fuzzer=$2 seeds=$3
  mkdir -p "$work/$name"
  cp "$seeds"/* "$work/$name/"
  log "libFuzzer ($name): $runs executions from the seed corpus"
  if "$fuzzer" -runs="$runs" -seed=1 -artifact_prefix="$work/art/" "$work/$name" >"$work/$name.log" 2>&1; then
    grep -E '^Done|stat::' "$work/$name.log" || tail -3 "$work/$name.log"
    echo "Ok: 1 ($name-bounded)"
  else
    tail -40 "$work/$name.log"
    echo "Fail: 1 ($name-bounded)"
    exit 1
  fi
}

# must_find NAME WHAT FUZZER LIBFUZZER_ARGS...: from an empty corpus the
# fuzzer must report a violation (it exits non-zero) within its budget.
must_find() {
  local name=$1 what=$2 fuzzer=$3
  shift 3
  mkdir -p "$work/$name-empty"
  log "libFuzzer negative control ($name): $what must be found"
  if "$fuzzer" "$@" -print_final_stats=1 -artifact_prefix="$work/art/" "$work/$name-empty" \
      >"$work/$name-neg.log" 2>&1; then
    tail -5 "$work/$name-neg.log"
    echo "the fuzzer did not find: $what"
    echo "Fail: 1 ($name-negative-control)"
    exit 1
  fi
  grep -m1 -E '(seqfuzz|x86fuzz|a64fuzz|rvfuzz) violation' "$work/$name-neg.log"
  sed -n 's/^stat::number_of_executed_units: */executions until the violation: /p' "$work/$name-neg.log"
  echo "Ok: 1 ($name-negative-control)"
}

bounded fuzz "$dir/tests/fuzz/seqfuzz" tests/fuzz/corpus
TLBB_FUZZ_FAULTS=0x2 must_find fuzz "the sim's bare-barrier race check" \
  "$dir/tests/fuzz/seqfuzz" -runs=200000 -seed=1

bounded x86fuzz "$dir/tests/x86_64/x86fuzz" tests/x86_64/corpus
X86FUZZ_DROP=ipis must_find x86fuzz "the x86 backend's IPI round dropped" \
  "$dir/tests/x86_64/x86fuzz" -runs=50000 -seed=1
if [ -n "${X86FUZZ_CATCHUP_SECS:-}" ]; then
  must_find x86fuzz-catchup-edge "a catch-up over another flush's number" \
    "$dir/tests/x86_64/x86fuzz-catchup-edge-mutant" -max_total_time="$X86FUZZ_CATCHUP_SECS"
fi
if [ -n "${X86FUZZ_REUSE_SECS:-}" ]; then
  must_find x86fuzz-reuse "slots keyed without the context number (space reuse)" \
    "$dir/tests/x86_64/x86fuzz-reuse-mutant" -max_total_time="$X86FUZZ_REUSE_SECS"
fi

bounded a64fuzz "$dir/tests/arm64/a64fuzz" tests/arm64/corpus
A64FUZZ_DROP=dsb must_find a64fuzz "the arm64 model's DSB ISH completing nothing" \
  "$dir/tests/arm64/a64fuzz" -runs=50000 -seed=1
A64FUZZ_NO_SYNC=1 must_find a64fuzz-bare-dsb "the bare-DSB race check (arm64.c mutant)" \
  "$dir/tests/arm64/a64fuzz-bare-dsb-mutant" -max_total_time="${A64FUZZ_BARE_DSB_SECS:-120}" -seed=1

bounded rvfuzz "$dir/tests/riscv64/rvfuzz" tests/riscv64/corpus
RVFUZZ_DROP=rounds must_find rvfuzz "the riscv64 port's remote round dropped (IPI and RFENCE)" \
  "$dir/tests/riscv64/rvfuzz" -runs=50000 -seed=1
must_find rvfuzz-no-inval-ir "Svinval without SFENCE.INVAL.IR (riscv64.c mutant)" \
  "$dir/tests/riscv64/rvfuzz-noinvalir-mutant" -max_total_time="${RVFUZZ_NO_INVAL_IR_SECS:-120}" -seed=1
