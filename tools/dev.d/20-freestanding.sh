#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -Dfreestanding=true: only the core (+ the host's hardware backend, when the
# tree has one) as a -ffreestanding -nostdlib archive, and its symbol check.
set -euo pipefail
cd "$TOP"
. tools/lib.sh
backend=none
case "$(uname -m)" in
  x86_64) [ -f arch/x86_64/meson.build ] && backend=x86_64 ;;
  aarch64) [ -f arch/arm64/meson.build ] && backend=arm64 ;;
esac
tlbb_setup_build build-freestanding -Dfreestanding=true -Dhw_backend=$backend
tlbb_shown meson test -C build-freestanding --print-errorlogs
