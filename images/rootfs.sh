#!/bin/bash
# Stage 1 of a Coffer guest image (images/build.ts runs it, caches its
# output by a hash of this file, common.sh and the datastore, and renames
# it into place only when it succeeded):
#
#   rootfs.sh DATASTORE OUT.tar
#
# debootstrap Debian 12 (bookworm) from deb.debian.org with the cloud
# kernel, systemd and the datastore's packages (their own units disabled:
# the agent owns those processes), packed as a tarball. Runs as root.
source "$(dirname "$0")/common.sh"

MIRROR=${COFFER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# The base every image has: kernel, init, the tools the agent runs
# (tar, zstd, openssl; mkfs/resize2fs for its data volume) and networking
# (systemd-networkd's DHCP on QEMU's user network or Nova's), and xorriso,
# which the first-boot unit reads the config drive with.
BASE_PACKAGES=systemd-sysv,udev,dbus,linux-image-cloud-amd64,initramfs-tools,kmod,e2fsprogs,util-linux,mount,iproute2,ca-certificates,openssl,zstd,pigz,tar,procps,less,xorriso

datastore_packages() {
  case "$1" in
    mariadb) echo "mariadb-server mariadb-client mariadb-backup galera-4" ;;
    postgresql) echo "postgresql postgresql-client curl" ;;
    redis) echo "redis-server redis-tools" ;;
    all) echo "mariadb-server mariadb-client mariadb-backup galera-4 postgresql postgresql-client curl redis-server redis-tools" ;;
    *) echo "rootfs.sh: unknown datastore '$1' (mariadb, postgresql, redis, all)" >&2; exit 2 ;;
  esac
}

stage_rootfs() {
  local datastore=$1 out=$2
  local pkgs; pkgs=$(datastore_packages "$datastore")
  local work; work=$(mktemp -d "$(dirname "$out")/rootfs-work.XXXXXX")
  CLEANUP+=("rm -rf --one-file-system '$work'")
  local root=$work/root
  log "debootstrap $SUITE ($MIRROR) into $root"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$root" "$MIRROR" >&2
  mount_chroot_fs "$root"
  # No documentation, manual pages or translations: a server image that
  # nobody logs into needs none (copyright files stay).
  cat >"$root/etc/dpkg/dpkg.cfg.d/01-coffer-nodoc" <<'EOF2'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF2
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* 2>/dev/null || true
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  # No service starts while packages install (there is no running init in
  # the chroot), and PostgreSQL's packages make no cluster: the agent makes
  # its own under its base dir.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  mkdir -p "$root/etc/postgresql-common"
  echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.conf"
  cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://security.debian.org/debian-security $SUITE-security main
EOF
  log "installing $pkgs"
  chroot "$root" apt-get -q update >&2
  # shellcheck disable=SC2086
  chroot "$root" apt-get -q -y --no-install-recommends install $pkgs >&2
  chroot "$root" apt-get -q -y --no-install-recommends dist-upgrade >&2
  local unit
  for unit in $DATASTORE_UNITS; do
    chroot "$root" systemctl disable "$unit" >/dev/null 2>&1 || true
  done
  # MariaDB's package initialised a data directory the agent never uses.
  rm -rf "$root"/var/lib/mysql/* 2>/dev/null || true
  rm -f "$root/usr/sbin/policy-rc.d"
  chroot "$root" apt-get -q clean >&2
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log "$root"/var/log/apt/*
  umount -l "$root/dev/pts" 2>/dev/null || true
  umount -l "$root/dev" "$root/sys" "$root/proc"
  log "packing the root filesystem"
  tar --numeric-owner --xattrs --acls -C "$root" -cf "$out" .
}


[ $# -eq 2 ] || { echo "usage: $0 DATASTORE OUT.tar" >&2; exit 2; }
stage_rootfs "$1" "$2"
