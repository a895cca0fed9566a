#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs every Debian 12 package Relais needs to build, run and test.
# Idempotent: only calls apt-get when something is missing. Needs root (or sudo).
set -eu
PKGS="meson ninja-build gcc pkg-config libglib2.0-dev libglib2.0-dev-bin libgtk-4-dev
libadwaita-1-dev libsoup-3.0-dev libgnutls28-dev libsqlite3-dev libpolkit-gobject-1-dev
libcrypt-dev libsystemd-dev gettext glib-networking gnutls-bin openssl swaks libnet-ssleay-perl
libio-socket-ssl-perl python3-aiosmtpd python3-dkim python3-nacl
dbus dbus-daemon python3-gi gir1.2-gtk-4.0 gir1.2-adw-1 python3-pytest python3-dbusmock polkitd
xvfb xauth imagemagick adwaita-icon-theme gsettings-desktop-schemas dnsmasq-base iproute2
locales systemd appstream desktop-file-utils libxml2-utils libdbus-1-dev curl
publicsuffix clamav-daemon prometheus python3-prometheus-client groff-base"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -n "$missing" ]; then
  echo "Installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # clamav-daemon pulls in clamav-freshclam, whose daemon would download
  # virus databases from the Internet: the tests bring their own tiny database
  # and must contact nothing. Ask for manual updates, and keep package scripts
  # from starting any service while installing (policy-rc.d, exit 101): the
  # prometheus package is here for promtool only, its server must not run.
  echo "clamav-freshclam clamav-freshclam/autoupdate_freshclam select manual" | $SUDO debconf-set-selections
  policy_rc=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    policy_rc=1
  fi
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -q
  # shellcheck disable=SC2086
  $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
  [ -z "$policy_rc" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi
if ! locale -a 2>/dev/null | grep -qi '^fr_FR.utf8$'; then
  if [ -f /etc/locale.gen ]; then
    $SUDO sed -i 's/^# *fr_FR.UTF-8 UTF-8/fr_FR.UTF-8 UTF-8/' /etc/locale.gen
    $SUDO locale-gen >/dev/null 2>&1 || true
  fi
fi
