#!/usr/bin/env bash
# Installs what vdsm-ts needs on a Debian 12 machine with Node 20: system packages (only where missing) and the
# npm dependencies. Safe to run again. `scripts/setup.sh test` adds what the test suite needs.
set -euo pipefail
cd "$(dirname "$0")/.."

need=(openssl ipmitool)
# Tests run real peers: ClusterLabs' agents (parity), ipmi_sim as a BMC, snmpsim as a PDU, the helpers the
# agents call (ipmitool, snmp tools, gnutls-cli, telnet, ssh), xmllint for the metadata schema, rpmbuild.
[ "${1:-}" = test ] && need+=(rpm fence-agents ipmitool openipmi snmpsim snmp gnutls-bin telnet openssh-client libxml2-utils)
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
