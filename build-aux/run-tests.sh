#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-tests.sh: install what is missing, build, and run the whole test suite.
#
#   build-aux/run-tests.sh [MESON_TEST_ARGS...]     e.g. --suite lint
#
# By default (and in CI): the whole suite built with ASan + UBSan (build-asan/,
# any report fails the test), then the unit tests of a plain build (build/)
# under valgrind's memcheck (any error or leak fails the test).
#   RELAIS_SANITIZE=0     the whole suite of the plain build only (quicker)
#
# Works from a clean clone, as root on a bare Debian 12 (no systemd as PID 1,
# no system bus): the suite runs on a private X server (xvfb-run) and a
# private session bus (dbus-run-session); tests start their own system-like
# bus when they need one. The last line of output is
# "N passed, N failed, N skipped" over both runs (build-aux/meson-test-summary);
# the exit status is non-zero when anything failed.
#   RELAIS_BUILDDIR=DIR   build directory of the suite (default: build-asan, or build)
#   RELAIS_SKIP_DEPS=1    do not run build-aux/install-deps.sh
set -eu
cd "$(dirname "$0")/.."

if [ "${RELAIS_SKIP_DEPS:-0}" != 1 ]; then
  build-aux/install-deps.sh
fi

# setup DIR [MESON_SETUP_ARGS...]: configure (again) and build DIR.
setup() {
  dir=$1
  shift
  if [ -f "$dir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$@" "$dir"
  else
    rm -rf "$dir"
    meson setup "$@" "$dir"
  fi
  ninja -C "$dir"
}

meson_test_args="--print-errorlogs"
also=""
if [ "${RELAIS_SANITIZE:-1}" = 1 ]; then
  builddir=${RELAIS_BUILDDIR:-build-asan}
  setup "$builddir" -Db_sanitize=address,undefined -Db_lundef=false
  meson_test_args="$meson_test_args --timeout-multiplier=3"
  # Fail at the first report. GLib keeps type-system and cache allocations
  # until exit by design, so leak checking is valgrind's (below), and
  # opt-in here (ASAN_OPTIONS=detect_leaks=1).
  export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0:strict_string_checks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  # The unit tests under valgrind, in a plain build, unless only some tests
  # were asked for.
  if [ $# -eq 0 ]; then
    setup build
    rm -f build/meson-logs/testlog-valgrind.json
    (unset ASAN_OPTIONS UBSAN_OPTIONS
     meson test -C build --setup valgrind --suite unit --print-errorlogs) || true
    also="--also build/meson-logs/testlog-valgrind.json"
  fi
else
  builddir=${RELAIS_BUILDDIR:-build}
  setup "$builddir"
fi

# GTK under Xvfb needs no GL; keep the app tests deterministic and quiet.
export GSK_RENDERER=cairo GDK_DEBUG=gl-disable
# shellcheck disable=SC2086
exec xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" \
  dbus-run-session -- \
  build-aux/meson-test-summary --run -C "$builddir" $also -- $meson_test_args "$@"
