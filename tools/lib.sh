# SPDX-License-Identifier: MIT
# Shell helpers for tools/dev, its steps (tools/dev.d) and the test scripts.
# Sourced, not run: . "$TOP/tools/lib.sh"
#
# The rule they enforce: a configure, build or install command may keep its
# output off the terminal, but never loses it. When it fails, its command
# line and the last lines of what it printed (and meson's own log, for a
# failed setup) are shown, and the command is recorded for tools/dev's
# closing summary ($TLBB_FAILED_LOG, one "step: command" per line).

log() { printf '\n=== %s\n' "$*"; }

# tlbb_record_failure RC CMD...: note a failed command for the summary.
tlbb_record_failure() {
	local rc=$1
	shift
	if [ -n "${TLBB_FAILED_LOG:-}" ]; then
		printf '%s: %s (exit %s)\n' "${TLBB_STEP:-$(basename "$0")}" "$*" "$rc" >>"$TLBB_FAILED_LOG"
	fi
}

# The build directory of "meson setup|configure [opts] DIR [opts]", if any.
tlbb_meson_dir() {
	[ "${1:-}" = meson ] || return 0
	case "${2:-}" in setup | configure) ;; *) return 0 ;; esac
	shift 2
	while [ $# -gt 0 ]; do
		case "$1" in
		--cross-file | --native-file | --prefix | --libdir | --buildtype | -D | -C) shift ;;
		-*) ;;
		*)
			printf '%s\n' "$1"
			return 0
			;;
		esac
		shift
	done
}

# tlbb_need COMMAND PACKAGES: a step needs COMMAND; without it the step
# fails, naming the Debian packages to install (never a silent skip).
tlbb_need() {
	command -v "$1" >/dev/null && return 0
	echo "FAIL: $1 not installed (Debian: $2)"
	exit 1
}

# tlbb_quiet CMD...: run CMD with its output in a log; on failure show it.
tlbb_quiet() {
	local log rc=0 dir
	log=$(mktemp "${TMPDIR:-/tmp}/tlbb-quiet.XXXXXX")
	"$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		printf '\nFAILED (exit %s): %s\n' "$rc" "$*"
		printf -- '--- its last 40 lines:\n'
		tail -n 40 "$log"
		dir=$(tlbb_meson_dir "$@")
		if [ -n "$dir" ] && [ -f "$dir/meson-logs/meson-log.txt" ]; then
			printf -- '--- last 25 lines of %s/meson-logs/meson-log.txt:\n' "$dir"
			tail -n 25 "$dir/meson-logs/meson-log.txt"
		fi
		printf -- '---\n'
		tlbb_record_failure "$rc" "$@"
	fi
	rm -f "$log"
	return "$rc"
}

# tlbb_shown CMD...: run CMD with its output on the terminal (test runs);
# on failure record it for the summary.
tlbb_shown() {
	local rc=0
	"$@" || rc=$?
	[ "$rc" -eq 0 ] || tlbb_record_failure "$rc" "$@"
	return "$rc"
}

# tlbb_setup DIR [meson args...]: configure DIR (setup, or reconfigure with
# the same arguments) and build it. A directory left by a failed setup is
# set up again from scratch. Cross files only take effect at setup time.
tlbb_setup() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		local args=()
		while [ $# -gt 0 ]; do
			case "$1" in
			--cross-file) shift ;; # fixed at setup time
			*) args+=("$1") ;;
			esac
			shift
		done
		# --reconfigure, not "meson configure": an option added to
		# meson_options.txt since the directory was set up is only known
		# after meson has read the build files again.
		tlbb_quiet meson setup --reconfigure "$dir" ${args[@]+"${args[@]}"}
	else
		rm -rf "$dir"
		tlbb_quiet meson setup "$dir" "$@"
	fi
}

tlbb_setup_build() {
	tlbb_setup "$@"
	tlbb_quiet ninja -C "$1"
}
