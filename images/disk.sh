#!/bin/bash
# Stage 2 of a Coffer guest image (images/build.ts runs it):
#
#   disk.sh ROOTFS.tar PAYLOAD_DIR SIZE OUT.qcow2
#
# A whole-disk image: one MBR partition (ext4, label coffer-root) with the
# root filesystem and the payload (Node 20, the agent, the units) copied
# over it, booted by extlinux (SeaBIOS -> MBR -> extlinux -> kernel, as
# Nova boots whole-disk images), converted to a compressed qcow2. Runs as
# root (loop device, mount, chroot).
source "$(dirname "$0")/common.sh"

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
  # The tarball's "." is the 0700 directory debootstrap ran in, and the
  # payload's is a 0700 temporary directory: the root must be 0755, or no
  # service running as its own user (networkd, the datastores) can reach
  # anything.
  chmod 0755 "$mnt"

  # The units' ReadWritePaths must exist: the config (root only) and the
  # agent's base dir (the datastores' OS users reach their data under it).
  install -d -m 0700 "$mnt/etc/coffer"
  install -d -m 0755 "$mnt/var/lib/coffer"
  # A persistent journal: what happened at a boot can be read afterwards,
  # from the disk, when the console was not enough.
  chroot "$mnt" install -d -m 2755 -g systemd-journal /var/log/journal
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


[ $# -eq 4 ] || { echo "usage: $0 ROOTFS.tar PAYLOAD_DIR SIZE OUT.qcow2" >&2; exit 2; }
stage_disk "$1" "$2" "$3" "$4"
