#!/bin/sh
# Installs the Debian 12 packages that TechScanIQ Monitor needs to build and test.
# Idempotent: only missing packages are installed. Run as root (or through sudo).
#   tools/install-deps.sh          build + run dependencies
#   tools/install-deps.sh --tests  also the servers the integration tests start (nginx, php-fpm, ...)
set -eu

BUILD_PKGS="build-essential meson ninja-build pkg-config libglib2.0-dev libglib2.0-bin \
libsoup-3.0-dev libjson-glib-dev libsqlite3-dev libxml2-dev libpsl-dev libpcre2-dev \
glib-networking ca-certificates tzdata sqlite3 libcurl4-openssl-dev"
TEST_PKGS="nginx-light php-fpm php-mysql wordpress phpmyadmin adminer libjs-jquery mariadb-server \
mariadb-client python3 curl python3-aiosmtpd"

pkgs="$BUILD_PKGS"
if [ "${1:-}" = "--tests" ]; then
  pkgs="$pkgs $TEST_PKGS"
  # The differential fingerprint test runs Wappalyzer's engine under Node.js; a machine may
  # already have a newer Node.js from elsewhere (which conflicts with Debian's npm): keep it.
  command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
fi

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps the test servers from pulling a full MySQL/Apache stack;
# policy-rc.d stops the packages' services from auto-starting: tests start their own instances.
if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
