#!/usr/bin/env bash
# Makes a Debian bookworm slim base image without a registry: debootstrap (minbase) from
# Debian's archive, slimmed as Debian's official images are (debuerreotype), then `docker import`.
# Usage: deploy/base-image.sh [TAG]   (default asnd-local/debian:bookworm-slim); prints the tag.
# The root file system is kept as a tarball in $ASND_BASE_CACHE (default /var/cache/asnd-ci) to
# save the next run a debootstrap; a missing or unreadable cache only costs that time.
set -euo pipefail

tag="${1:-asnd-local/debian:bookworm-slim}"
mirror="${ASND_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache_dir="${ASND_BASE_CACHE:-/var/cache/asnd-ci}"
cache="$cache_dir/debian-bookworm-slim.tar"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

import() {
  docker import --change 'CMD ["bash"]' "$1" "$tag" >/dev/null
}

if [ -s "$cache" ] && import "$cache" 2>/dev/null; then
  echo "base image $tag imported from $cache" >&2
  echo "$tag"
  exit 0
fi

for tool in debootstrap debuerreotype-slimify; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing: apt-get install debootstrap debuerreotype" >&2
    exit 1
  }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "debootstrap bookworm (minbase) from $mirror ..." >&2
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  exit 1
}
# debuerreotype's tools read the build's timestamp from this file.
date +%s >"$rootfs/debuerreotype-epoch"
debuerreotype-minimizing-config "$rootfs"
debuerreotype-slimify "$rootfs" >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/lib/apt/lists/* \
  "$rootfs/debuerreotype-epoch"
tar --numeric-owner --xattrs -C "$rootfs" -cf "$work/rootfs.tar" .
import "$work/rootfs.tar"
# Keep it for the next run; a cache that cannot be written is no failure.
if mkdir -p "$cache_dir" 2>/dev/null && cp "$work/rootfs.tar" "$cache.tmp.$$" 2>/dev/null; then
  mv "$cache.tmp.$$" "$cache"
else
  rm -f "$cache.tmp.$$"
fi
echo "$tag"
