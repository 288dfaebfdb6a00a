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

# better-sqlite3's install (prebuild-install) downloads a prebuilt binary
# from GitHub and compiles SQLite from source when it cannot (about 2
# minutes, as here, where only the npm registry is reachable). The binary
# it ends up with is kept in $prebuilds under the name prebuild-install
# gives that download (package, version, Node ABI, platform, libc, arch)
# and offered to the next install as a local prebuild: a fresh clone on
# this machine unpacks it instead of compiling. prebuild-install loads the
# binary before it takes it and compiles as before when it is missing or
# does not load; another Node ABI or version is another name.
prebuilds="${XDG_CACHE_HOME:-$HOME/.cache}/coffer/prebuilds"
keep_prebuild() {
  local pkg=node_modules/better-sqlite3 name
  [[ -f "$pkg/build/Release/better_sqlite3.node" ]] || return 0
  name=$(node -e '
    const v = require("./node_modules/better-sqlite3/package.json").version;
    const libc = process.platform === "linux" && !process.report.getReport().header.glibcVersionRuntime ? "musl" : "";
    console.log(`better-sqlite3-v${v}-node-v${process.versions.modules}-${process.platform}${libc}-${process.arch}.tar.gz`)')
  [[ -f "$prebuilds/$name" ]] && return 0
  mkdir -p "$prebuilds" &&
    tar -C "$pkg" -czf "$prebuilds/$name.tmp" build/Release/better_sqlite3.node &&
    mv "$prebuilds/$name.tmp" "$prebuilds/$name"
}

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # npm install with the committed lock installs the locked versions. Not
  # npm ci: the registry reachable here has no builds of @bufbuild/buf for
  # other platforms, so the lock cannot list them, and npm ci refuses a lock
  # without them.
  echo "installing node modules (npm install from package-lock.json)"
  npm_config_better_sqlite3_local_prebuilds="$prebuilds" npm install --no-audit --no-fund --loglevel=error
fi
# A cache that cannot be written only costs the next clean install its compile.
keep_prebuild || { rm -f "$prebuilds"/*.tmp 2>/dev/null; echo "note: could not keep better-sqlite3's binary in $prebuilds" >&2; }
