#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bounded libFuzzer run of the sequence fuzzer (tests/fuzz/seqfuzz.c) in a
# clang build dir (build-fuzz): library and sim instrumented for coverage,
# ASan+UBSan on. Two runs:
#   1. from the seed corpus, FUZZ_RUNS executions: any violation fails;
#   2. the negative control: with the sim's bare-barrier fault switch, from
#      an empty corpus, the fuzzer must find a violation within its budget.
# The nightly long run is tools/fuzz-long.
set -euo pipefail
cd "$TOP"
command -v clang >/dev/null || { echo "clang not installed: fuzz step skipped"; exit 0; }
runs=${FUZZ_RUNS:-4000}
dir=build-fuzz
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
if ! ninja -C "$dir" -t targets all | grep -q '^tests/fuzz/seqfuzz:'; then
  echo "libFuzzer not available with this clang: fuzz step skipped"
  exit 0
fi
ninja -C "$dir" tests/fuzz/seqfuzz >/dev/null
fuzzer=$dir/tests/fuzz/seqfuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/empty" "$work/art"
cp tests/fuzz/corpus/* "$work/corpus/"

log "libFuzzer: $runs executions from the seed corpus"
if "$fuzzer" -runs="$runs" -seed=1 -artifact_prefix="$work/art/" "$work/corpus" >"$work/run.log" 2>&1; then
  grep -E '^Done|stat::' "$work/run.log" || tail -3 "$work/run.log"
  echo "Ok: 1 (fuzz-bounded)"
else
  tail -40 "$work/run.log"
  echo "Fail: 1 (fuzz-bounded)"
  exit 1
fi

log "libFuzzer negative control: sim fault BARE_BARRIER must be found"
if TLBB_FUZZ_FAULTS=0x2 "$fuzzer" -runs=200000 -seed=1 -print_final_stats=1 -artifact_prefix="$work/art/" "$work/empty" \
    >"$work/neg.log" 2>&1; then
  tail -5 "$work/neg.log"
  echo "the fuzzer did not find the removed race-check TLBI"
  echo "Fail: 1 (fuzz-negative-control)"
  exit 1
fi
grep -m1 'seqfuzz violation' "$work/neg.log"
sed -n 's/^stat::number_of_executed_units: */executions until the violation: /p' "$work/neg.log"
echo "Ok: 1 (fuzz-negative-control)"
