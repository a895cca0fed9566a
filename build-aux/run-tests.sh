#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-tests.sh: install what is missing, build, and run the whole test suite.
#
#   build-aux/run-tests.sh [MESON_TEST_ARGS...]     e.g. --suite lint
#   RELAIS_SANITIZE=1 build-aux/run-tests.sh        same suite under ASan + UBSan
#
# Works from a clean clone, as root on a bare Debian 12 (no systemd as PID 1,
# no system bus): the suite runs on a private X server (xvfb-run) and a
# private session bus (dbus-run-session); tests start their own system-like
# bus when they need one. The last line of output is
# "N passed, N failed, N skipped" (build-aux/meson-test-summary); the exit
# status is non-zero when anything failed.
#   RELAIS_BUILDDIR=DIR   build directory (default: build, or build-asan)
#   RELAIS_SKIP_DEPS=1    do not run build-aux/install-deps.sh
set -eu
cd "$(dirname "$0")/.."

if [ "${RELAIS_SKIP_DEPS:-0}" != 1 ]; then
  build-aux/install-deps.sh
fi

setup_args=""
meson_test_args="--print-errorlogs"
if [ "${RELAIS_SANITIZE:-0}" = 1 ]; then
  builddir=${RELAIS_BUILDDIR:-build-asan}
  setup_args="-Db_sanitize=address,undefined -Db_lundef=false"
  meson_test_args="$meson_test_args --timeout-multiplier=3"
  # Fail at the first report. GLib keeps type-system and cache allocations
  # until exit by design, so leak checking is opt-in (ASAN_OPTIONS=detect_leaks=1).
  export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0:strict_string_checks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
  builddir=${RELAIS_BUILDDIR:-build}
fi

if [ -f "$builddir/meson-private/coredata.dat" ]; then
  # shellcheck disable=SC2086
  meson setup --reconfigure $setup_args "$builddir"
else
  rm -rf "$builddir"
  # shellcheck disable=SC2086
  meson setup $setup_args "$builddir"
fi
ninja -C "$builddir"

# GTK under Xvfb needs no GL; keep the app tests deterministic and quiet.
export GSK_RENDERER=cairo GDK_DEBUG=gl-disable
# shellcheck disable=SC2086
exec xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" \
  dbus-run-session -- \
  build-aux/meson-test-summary --run -C "$builddir" -- $meson_test_args "$@"
