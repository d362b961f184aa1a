#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium + driver (browser tests), poppler-utils
# (PDF text checks), Pango (WeasyPrint), fonts with French glyphs and faketime (the suite on
# other dates: scripts/test-on-date.sh) and Node.js + npm (`make js-deps`: axe-core for the
# accessibility test).
# Installs what is missing when run as root (or with sudo); otherwise says what to install.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v msgfmt >/dev/null 2>&1 || need+=(gettext)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
# The PDF stylesheet asks for Liberation Sans first; without it pages reflow (page-count tests).
fc-list 2>/dev/null | grep -qi "liberation sans" || need+=(fonts-liberation)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "Missing Debian packages: ${need[*]} (install them as root; browser/PDF tests skip locally without them)" >&2
  exit 0
fi
echo "Installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
