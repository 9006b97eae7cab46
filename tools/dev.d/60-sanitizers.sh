#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sanitizer builds, each in its own build directory.
#
# 1. build-asan: AddressSanitizer + UndefinedBehaviorSanitizer (gcc), every
#    host suite. UB is fatal (-fno-sanitize-recover). Left out, with reason:
#      spin          the model checker runs no library code
#      qemu          guest images are bare-metal, not host-instrumented
#      freestanding  the symbol check would (rightly) see the sanitizer runtime
#      install       installs and rebuilds a consumer: covered by step 10
# 2. build-tsan-core: ThreadSanitizer on the threaded stress test of the core
#    and the sim backend (tests/model/stress.c: reclaimer, users and a racing
#    changer on real threads). The vcpu backend's TSan run is 50-tsan-vcpu.sh.
set -euo pipefail
cd "$TOP"
. tools/lib.sh

log "ASan+UBSan: every host suite (build-asan)"
rc=0
tlbb_setup_build build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Dvcpu=enabled \
  -Dc_args=-fno-sanitize-recover=undefined || rc=1
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  tlbb_shown meson test -C build-asan --no-rebuild --print-errorlogs --num-processes 2 \
    --no-suite spin --no-suite qemu --no-suite freestanding --no-suite install || rc=1

log "TSan: threaded stress of the core + sim (build-tsan-core)"
tlbb_setup build-tsan-core -Dbuildtype=debugoptimized -Db_sanitize=thread || rc=1
tlbb_quiet ninja -C build-tsan-core tests/model/test_stress tests/model/test_races || rc=1
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  tlbb_shown meson test -C build-tsan-core --no-rebuild --print-errorlogs --num-processes 1 \
    --suite model --no-suite spin || rc=1
exit $rc
