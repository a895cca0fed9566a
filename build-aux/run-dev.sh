#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-dev.sh: try Relais on this machine without installing it.
#
#   build-aux/run-dev.sh          build, then (re)start relaisd on a private session bus
#   build-aux/run-dev.sh stop     stop relaisd and its bus (./state is kept)
#
# Everything lives in ./state: the daemon's database, queue and mailboxes,
# its log (relaisd.log), the bus address (bus.env) and the pids. SMTP listens
# on 127.0.0.1:2525, submission on 127.0.0.1:5587 (STARTTLS) and 127.0.0.1:5465
# (implicit TLS), loopback only. A second run stops the previous one first.
# RELAISD=PATH runs another relaisd binary (default: build/daemon/relaisd).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
state="$top/state"
builddir=${RELAIS_BUILDDIR:-build}
relaisd=${RELAISD:-$top/$builddir/daemon/relaisd}
name=org.relais.Relais1
path=/org/relais/Relais1
listen=127.0.0.1:2525
submission=127.0.0.1:5587
smtps=127.0.0.1:5465

# pid_is PIDFILE WORD: the pid in PIDFILE is alive and its command line has WORD
pid_is() {
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

stop_pidfile() {   # PIDFILE WORD
  if pid_is "$1" "$2"; then
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$2 (pid $pid) did not stop on SIGTERM; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    echo "stopped $2 (pid $pid)"
  fi
  rm -f "$1"
}

stop() {
  stop_pidfile "$state/relaisd.pid" relaisd
  stop_pidfile "$state/bus.pid" dbus-daemon
  rm -f "$state/bus.env"
}

if [ "${1:-}" = stop ]; then
  stop
  exit 0
elif [ $# -gt 0 ]; then
  sed -n '3,11p' "$0"
  exit 2
fi

build-aux/install-deps.sh
if [ ! -f "$builddir/meson-private/coredata.dat" ]; then
  meson setup "$builddir"
fi
ninja -C "$builddir"

stop
mkdir -p "$state"
chmod 700 "$state"

# A private session bus, forked into the background; its address and pid go to ./state.
bus=$(dbus-daemon --session --fork --print-address=1 --print-pid=1 2>/dev/null)
address=$(printf '%s\n' "$bus" | sed -n 1p)
printf '%s\n' "$bus" | sed -n 2p > "$state/bus.pid"
[ -n "$address" ] || { echo "could not start a session bus" >&2; exit 1; }
printf "export DBUS_SESSION_BUS_ADDRESS='%s'\n" "$address" > "$state/bus.env"
export DBUS_SESSION_BUS_ADDRESS="$address"

echo "starting relaisd (log: state/relaisd.log)"
G_SLICE=always-malloc setsid "$relaisd" --session --state-dir "$state" --listen "$listen" \
       --submission-listen "$submission" --smtps-listen "$smtps" < /dev/null >> "$state/relaisd.log" 2>&1 &
echo $! > "$state/relaisd.pid"

if ! gdbus wait --session --timeout 15 "$name" 2>/dev/null || ! kill -0 "$(cat "$state/relaisd.pid")" 2>/dev/null; then
  echo "relaisd did not come up on the bus; the end of state/relaisd.log:" >&2
  tail -n 20 "$state/relaisd.log" >&2
  stop
  exit 1
fi

bctl() { busctl --user "$@"; }
if ! bctl get-property "$name" "$path" $name.Accounts LocalDomains | grep -q '"example.test"'; then
  bctl call "$name" "$path" $name.Accounts AddLocalDomain sb example.test false
  echo "added the local domain example.test"
fi
if ! bctl get-property "$name" "$path" $name.Accounts Accounts | grep -q '"alice"'; then
  password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
  bctl call "$name" "$path" $name.Accounts AddAccount ssasasb alice "$password" 0 0 false
  (umask 077; printf '%s\n' "$password" > "$state/alice.password")
  echo "added the account alice"
fi
password=$(cat "$state/alice.password" 2>/dev/null || echo "(set by an earlier run)")

cat <<EOT

relaisd is running (pid $(cat "$state/relaisd.pid")), SMTP on $listen, submission on $submission
(STARTTLS) and $smtps (implicit TLS), state in ./state.
Account: alice@example.test, password: $password (also in state/alice.password)

Send a first message:
    swaks --server $listen --from you@example.net --to alice@example.test
It lands in:
    ls state/mail/alice/Maildir/new/
Submit as alice (AUTH over TLS; the certificate is self-signed):
    swaks --server $submission --tls --auth PLAIN --auth-user alice --auth-password '$password' \\
          --from alice@example.test --to alice@example.test
Talk to the daemon over D-Bus:
    export DBUS_SESSION_BUS_ADDRESS='$address'     (or: . state/bus.env)
    busctl --user introspect $name $path
    busctl --user get-property $name $path $name.General MaxRecipients
Open the settings app (needs a display):
    . state/bus.env && $builddir/gui/relais-settings
Follow the log:
    tail -f state/relaisd.log
Stop everything (state is kept):
    build-aux/run-dev.sh stop
EOT
