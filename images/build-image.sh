#!/bin/bash
# Builds a Coffer guest image in two stages; images/build.ts drives it (with
# argv arrays), caches each stage's output by a hash of its inputs and
# renames a stage's output into place only when the stage succeeded.
#
#   build-image.sh rootfs DATASTORE OUT.tar
#       debootstrap Debian 12 (bookworm) from deb.debian.org with the cloud
#       kernel, systemd and the datastore's packages (their own units
#       disabled: the agent owns those processes), as a tarball.
#   build-image.sh disk ROOTFS.tar PAYLOAD_DIR SIZE OUT.qcow2
#       a whole-disk image: one MBR partition (ext4, label coffer-root) with
#       the rootfs and the payload (Node 20, the agent, the units) copied
#       over it, booted by extlinux (SeaBIOS -> MBR -> extlinux -> kernel),
#       converted to a compressed qcow2.
#
# Runs as root (debootstrap, chroot, loop devices, mount). Everything it
# mounts or attaches is released on exit, success or not.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

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
    postgresql) echo "postgresql postgresql-client" ;;
    redis) echo "redis-server redis-tools" ;;
    all) echo "mariadb-server mariadb-client mariadb-backup galera-4 postgresql postgresql-client redis-server redis-tools" ;;
    *) echo "build-image.sh: unknown datastore '$1' (mariadb, postgresql, redis, all)" >&2; exit 2 ;;
  esac
}

# The packages' own units: disabled, the agent starts and stops the servers.
DATASTORE_UNITS="mariadb.service mysql.service postgresql.service redis-server.service"

CLEANUP=()
cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" || true; done
}
trap cleanup EXIT

log() { echo "build-image: $*" >&2; }

mount_chroot_fs() {
  local root=$1
  mount -t proc proc "$root/proc"; CLEANUP+=("umount -l '$root/proc'")
  mount -t sysfs sysfs "$root/sys"; CLEANUP+=("umount -l '$root/sys'")
  mount --bind /dev "$root/dev"; CLEANUP+=("umount -l '$root/dev'")
  mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null && CLEANUP+=("umount -l '$root/dev/pts'") || true
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

stage_disk() {
  local rootfs=$1 payload=$2 size=$3 out=$4
  local work; work=$(mktemp -d "$(dirname "$out")/disk-work.XXXXXX")
  CLEANUP+=("rm -rf --one-file-system '$work'")
  local raw=$work/disk.raw mnt=$work/mnt
  mkdir "$mnt"
  truncate -s "$size" "$raw"
  # One bootable primary partition from 1 MiB to the end (MBR: SeaBIOS
  # and Nova's whole-disk images boot it).
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw" >&2
  local start=$((2048 * 512))
  local bytes; bytes=$(stat -c %s "$raw")
  local loop; loop=$(losetup -f --show --offset "$start" --sizelimit $((bytes - start)) "$raw")
  CLEANUP+=("losetup -d '$loop'")
  # extlinux 6.04 reads ext4 without the 64bit and metadata_csum_seed features.
  mkfs.ext4 -q -L coffer-root -O ^64bit,^metadata_csum_seed,^orphan_file "$loop" 2>/dev/null \
    || mkfs.ext4 -q -L coffer-root -O ^64bit,^metadata_csum_seed "$loop"
  mount "$loop" "$mnt"
  CLEANUP+=("umount -l '$mnt'")
  log "unpacking the root filesystem"
  tar --numeric-owner --xattrs --acls -C "$mnt" -xf "$rootfs"
  log "copying the payload"
  cp -a "$payload"/. "$mnt"/

  echo coffer >"$mnt/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 coffer\n::1 localhost ip6-localhost ip6-loopback\n' >"$mnt/etc/hosts"
  printf 'LABEL=coffer-root / ext4 defaults,noatime,errors=remount-ro 0 1\n' >"$mnt/etc/fstab"
  mkdir -p "$mnt/etc/systemd/network"
  printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' >"$mnt/etc/systemd/network/10-coffer.network"
  # Nobody logs in: root has no password (locked), there is no ssh.
  chroot "$mnt" passwd -l root >/dev/null
  chroot "$mnt" systemctl enable systemd-networkd.service >/dev/null 2>&1
  chroot "$mnt" systemctl enable coffer-config-drive.service coffer-agent.service >/dev/null 2>&1
  local unit
  for unit in $DATASTORE_UNITS; do
    chroot "$mnt" systemctl disable "$unit" >/dev/null 2>&1 || true
  done
  # A machine id is made at first boot, so every VM has its own.
  : >"$mnt/etc/machine-id"
  rm -f "$mnt/var/lib/dbus/machine-id"

  local kernel initrd
  kernel=$(cd "$mnt/boot" && ls vmlinuz-* | sort -V | tail -n1)
  initrd=initrd.img-${kernel#vmlinuz-}
  [ -f "$mnt/boot/$initrd" ] || { log "no initramfs $initrd for $kernel"; exit 1; }
  mkdir -p "$mnt/boot/extlinux"
  cat >"$mnt/boot/extlinux/extlinux.conf" <<EOF
DEFAULT coffer
PROMPT 0
TIMEOUT 0
LABEL coffer
  LINUX /boot/$kernel
  INITRD /boot/$initrd
  APPEND root=LABEL=coffer-root ro console=tty0 console=ttyS0,115200n8 net.ifnames=1 systemd.show_status=auto
EOF
  extlinux --install "$mnt/boot/extlinux" >&2
  sync
  umount "$mnt"
  losetup -d "$loop"
  # Remove the two from the cleanup list's effect: already released.
  CLEANUP=("rm -rf --one-file-system '$work'")
  dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none
  log "converting to qcow2"
  qemu-img convert -q -c -f raw -O qcow2 "$raw" "$out"
}

case "${1:-}" in
  rootfs) [ $# -eq 3 ] || { echo "usage: $0 rootfs DATASTORE OUT.tar" >&2; exit 2; }; stage_rootfs "$2" "$3" ;;
  disk) [ $# -eq 5 ] || { echo "usage: $0 disk ROOTFS.tar PAYLOAD_DIR SIZE OUT.qcow2" >&2; exit 2; }; stage_disk "$2" "$3" "$4" "$5" ;;
  *) echo "usage: $0 rootfs DATASTORE OUT.tar | disk ROOTFS.tar PAYLOAD_DIR SIZE OUT.qcow2" >&2; exit 2 ;;
esac
