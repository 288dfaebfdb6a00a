#!/usr/bin/env bash
# Installs what is missing: Debian packages (listed in scripts/packages.txt
# and test/support/*/packages.txt when given --test), then node modules.
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

lists=(scripts/packages.txt)
if [[ "${1:-}" == "--test" ]]; then
  for f in test/support/*/packages.txt; do [[ -f "$f" ]] && lists+=("$f"); done
fi

missing=()
for pkg in $(grep -hv '^\s*#' "${lists[@]}" | tr -s ' \n' '\n' | sort -u); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then echo "run as root (apt-get install needs it)" >&2; exit 1; fi
  apt-get update -qq
  # policy-rc.d 101: the packages' own services are not started; the agent
  # owns the datastore processes.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # npm install with the committed lock installs the locked versions. Not
  # npm ci: the registry reachable here has no builds of @bufbuild/buf for
  # other platforms, so the lock cannot list them, and npm ci refuses a lock
  # without them. better-sqlite3 builds from source here (about 2 minutes).
  echo "installing node modules (npm install from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
fi
