#!/usr/bin/env bash
# Installs what vdsm-ts needs on a Debian 12 machine with Node 20: system packages (only where missing) and the
# npm dependencies. Safe to run again. `scripts/setup.sh test` adds what the test suite needs.
set -euo pipefail
cd "$(dirname "$0")/.."

need=(openssl ipmitool)
# The libvirt addon is compiled here against libvirt's headers (node-gyp with g++ and make).
lean=(libvirt-dev pkg-config g++ make)
# Tests run real peers: ClusterLabs' agents (parity), ipmi_sim as a BMC, snmpsim as a PDU, the helpers the
# agents call (ipmitool, snmp tools, gnutls-cli, telnet, ssh), a real sshd for the SSH parity tests, xmllint for the
# metadata schema, rpmbuild.
[ "${1:-}" = test ] && need+=(rpm fence-agents ipmitool openipmi snmpsim snmp gnutls-bin telnet openssh-client openssh-server libxml2-utils iputils-ping)
# A real libvirtd running a tiny guest under QEMU emulation (tini reaps its children promptly).
[ "${1:-}" = test ] && lean+=(libvirt-daemon-system libvirt-clients qemu-system-x86 tini)
# The hosted-engine cluster test bed: sanlock (and libvirt's lock manager for it), hosts in network
# namespaces, shared storage through a FUSE file system that a test can cut per host; iptables cuts one way in the
# coordinator's netns bed.
[ "${1:-}" = test ] && lean+=(sanlock libvirt-sanlock iproute2 iptables fuse3 libfuse3-dev)
# The HA coordinator keeps its state and leadership in etcd; `serve` without a config file starts its own member.
lean+=(etcd-server)
# etcdctl, to look inside the test clusters.
[ "${1:-}" = test ] && lean+=(etcd-client)
# The packages' own test: a throwaway machine with a real systemd (systemd-nspawn) to install the RPMs in, curl to
# scrape /metrics there, and Pacemaker's stonith_admin reading the installed fence agent's metadata.
[ "${1:-}" = test ] && lean+=(systemd-container curl pacemaker-cli-utils)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
updated=""
install() { # install [apt options…] -- packages…: only those not yet installed
  local opts=() missing=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ -n "$updated" ] || { $sudo apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
}
install -- "${need[@]}"
# Without recommends: libvirt's would bring a desktop's worth of packages.
install --no-install-recommends -- "${lean[@]}"
# The tiny QEMU guest the real-QEMU tests boot, built once from Debian's archive (fast when already there).
if [ "${1:-}" = test ]; then $sudo bash scripts/fetch-tiny-guest.sh; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
