#!/usr/bin/env bash
# Install the Debian packages pwguard's tests or benchmarks need, when they are missing.
# usage: tools/system-deps.sh test|bench
# As root with apt-get it installs them; otherwise it says exactly what to install and fails.
set -euo pipefail

want=(chromium firefox-esr postgresql)
[ "${1:-test}" = bench ] && want+=(nginx-light wrk)

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "pwguard needs these Debian packages: ${missing[*]}" >&2
echo "install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
