#!/usr/bin/env bash
# Builds the tiny QEMU guest the real-QEMU tests boot (test/fixtures/tiny-guest.ts): a Debian cloud kernel and a
# busybox initramfs whose /init mounts proc, sys and dev, prints a marker line on the serial console and sleeps.
# Both come from Debian's archive with `apt-get download` (nothing is installed):
#   - linux-image-<abi>-cloud-amd64 (the package linux-image-cloud-amd64 depends on)
#   - busybox-static (its own busybox packs the initramfs: `busybox cpio -o -H newc`)
# Writes vmlinuz, initrd.gz, marker and source into DIR (default /var/cache/vdsm-ts/tiny-guest, or
# $VDSM_TS_GUEST_DIR), built in a temporary directory beside it and renamed into place. Idempotent: with a complete
# guest of this recipe there already, it returns at once. Run by `scripts/setup.sh test` (as root: apt's download).
#   bash scripts/fetch-tiny-guest.sh [DIR]
set -euo pipefail

# Bump when the recipe below (init script, layout) changes: a guest of another recipe is rebuilt.
RECIPE=r2
MARKER=VDSM-TS-TINY-GUEST-READY
dir=${1:-${VDSM_TS_GUEST_DIR:-/var/cache/vdsm-ts/tiny-guest}}

complete() { [[ -s $1/vmlinuz && -s $1/initrd.gz && -s $1/marker && -f $1/source ]] && tail -n 1 "$1/source" | grep -qx "$RECIPE"; }
if complete "$dir"; then exit 0; fi

parent=$(dirname "$dir")
mkdir -p "$parent"
chmod 755 "$parent"
work=$(mktemp -d "$parent/.tiny-guest-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

facts() { apt-cache show --no-all-versions linux-image-cloud-amd64 busybox-static 2>/dev/null || true; }
info=$(facts)
# Lists not there yet (a fresh machine): read them once.
if ! grep -q '^Package: busybox-static' <<<"$info"; then apt-get update -qq; info=$(facts); fi
kernel_pkg=$(grep -oE '^Depends:.*' <<<"$info" | grep -oE 'linux-image-[0-9][^ ,]*-cloud-amd64' | head -n 1 || true)
[[ -n $kernel_pkg ]] || { echo "fetch-tiny-guest: cannot find the cloud kernel behind linux-image-cloud-amd64 with apt-cache" >&2; exit 1; }

mkdir "$work/debs"
# As root, apt's download sandbox user (_apt) cannot write into our 0700 temporary directory: stay root.
sandbox=()
[[ $(id -u) -eq 0 ]] && sandbox=(-o APT::Sandbox::User=root)
for attempt in 1 2 3; do
  (cd "$work/debs" && apt-get -q "${sandbox[@]}" download "$kernel_pkg" busybox-static >/dev/null) && break
  [[ $attempt -eq 3 ]] && { echo "fetch-tiny-guest: apt-get download $kernel_pkg busybox-static failed 3 times" >&2; exit 1; }
  sleep $((attempt * 5))
done
kdeb=$(ls "$work/debs"/"${kernel_pkg}"_*.deb)
bdeb=$(ls "$work/debs"/busybox-static_*.deb)
dpkg-deb -x "$kdeb" "$work/kernel-x"
dpkg-deb -x "$bdeb" "$work/busybox-x"

out=$work/out
mkdir -m 755 "$out"
cp "$(ls "$work"/kernel-x/boot/vmlinuz-* | head -n 1)" "$out/vmlinuz"

# The initramfs: /init, /bin/busybox, empty mount points, evdev and the ACPI button driver (Debian bookworm ships
# them uncompressed and without dependencies; optional all the same).
root=$work/root
mkdir -p -m 755 "$root"/{bin,dev,proc,sys,tmp,lib/modules}
install -m 755 "$work/busybox-x/bin/busybox" "$root/bin/busybox"
list=(. bin bin/busybox dev proc sys tmp init lib lib/modules)
mods=$work/kernel-x/lib/modules/${kernel_pkg#linux-image-}/kernel
for m in drivers/input/evdev.ko drivers/acpi/button.ko; do
  if [[ -f $mods/$m ]]; then
    install -m 644 "$mods/$m" "$root/lib/modules/$(basename "$m")"
    list+=("lib/modules/$(basename "$m")")
  fi
done
# PID 1. Besides printing the marker it loads evdev + the ACPI button driver and powers off when the ACPI power
# button is pressed, so `virsh shutdown` / `virsh reboot` work on a domain with <acpi/> (the marker is printed only
# after that watcher runs, so a test may shut down as soon as it sees the marker).
cat >"$root/init" <<EOF
#!/bin/busybox sh
B=/bin/busybox
\$B mkdir -p /proc /sys /dev /tmp
\$B mount -t proc proc /proc
\$B mount -t sysfs sysfs /sys
\$B mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
\$B insmod /lib/modules/evdev.ko 2>/dev/null
\$B insmod /lib/modules/button.ko 2>/dev/null
for e in /sys/class/input/event*; do
  [ -r "\$e/device/name" ] || continue
  read n <"\$e/device/name"
  if [ "\$n" = "Power Button" ]; then
    ( \$B head -c 1 "/dev/input/\${e##*/}" >/dev/null; echo "$MARKER power button"; \$B poweroff -f ) &
  fi
done
read up rest </proc/uptime
echo "$MARKER uptime=\$up"
while :; do \$B sleep 3600; done
EOF
chmod 755 "$root/init"
(cd "$root" && printf '%s\n' "${list[@]}" | "$root/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out/initrd.gz"
echo "$MARKER" >"$out/marker"
printf '%s\n%s\n%s\n' "$(basename "$kdeb")" "$(basename "$bdeb")" "$RECIPE" >"$out/source"
chmod 644 "$out"/*

# Into place: an incomplete or older guest goes first; if another build won meanwhile, keep theirs.
if [[ -e $dir ]] && ! complete "$dir"; then rm -rf "$dir"; fi
mv -T "$out" "$dir" 2>/dev/null || complete "$dir"
echo "fetch-tiny-guest: $dir ($(basename "$kdeb"), $(basename "$bdeb"))"
