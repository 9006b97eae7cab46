#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ThreadSanitizer build of the vcpu backend (gcc -fsanitize=thread) in its own
# build directory: the cmocka scenarios, the stress test (vCPUs idling,
# leaving and re-joining, race checks, batches of 1/8/512) and the negative
# controls that TSan itself must flag. liburcu is not instrumented: the
# backend annotates the grace-period hand-off (arch/vcpu/vcpu.c); there are no
# suppressions. Needs liburcu-qsbr (Debian: liburcu-dev); its absence fails.
set -euo pipefail
cd "$TOP"
. tools/lib.sh
pkg-config --exists liburcu-qsbr ||
  { echo "FAIL: liburcu-qsbr not installed (Debian: liburcu-dev)"; exit 1; }
dir=build-tsan-vcpu
tlbb_setup "$dir" -Db_sanitize=thread -Dbuildtype=debugoptimized -Dvcpu=enabled
# Only this backend's targets: the rest of the tree is not this step's subject.
tlbb_quiet ninja -C "$dir" tests/vcpu/test-vcpu tests/vcpu/vcpu-stress tests/vcpu/vcpu-stress-fi tests/vcpu/vcpu-stress-unannotated \
  examples/vmm-reclaim/vmm-reclaim
# halt_on_error: the first report fails the test (the negative controls set
# their own exit code and expect it).
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  tlbb_shown meson test -C "$dir" --no-rebuild --suite vcpu --print-errorlogs --num-processes 1
