# Shared by rootfs.sh and disk.sh (sourced): strict mode, the clean-up
# list run on exit (everything mounted or attached is released, success or
# not), and the datastore packages' units the image keeps disabled.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

# The packages' own units: disabled, the agent starts and stops the servers.
DATASTORE_UNITS="mariadb.service mysql.service postgresql.service redis-server.service"

CLEANUP=()
cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" || true; done
}
trap cleanup EXIT

log() { echo "$(basename "$0"): $*" >&2; }

mount_chroot_fs() {
  local root=$1
  mount -t proc proc "$root/proc"; CLEANUP+=("umount -l '$root/proc'")
  mount -t sysfs sysfs "$root/sys"; CLEANUP+=("umount -l '$root/sys'")
  mount --bind /dev "$root/dev"; CLEANUP+=("umount -l '$root/dev'")
  mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null && CLEANUP+=("umount -l '$root/dev/pts'") || true
}

