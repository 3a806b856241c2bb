#!/usr/bin/env bash
# Builds the libvirt addon (build/Release/vdsm_libvirt.node) against the running Node's headers.
# Skips the build when the addon is newer than its sources.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/Release/vdsm_libvirt.node
if [[ -f $out && $out -nt src/virt/native/binding.cc && $out -nt binding.gyp ]]; then exit 0; fi
args=(rebuild)
# Use the headers installed beside node (no download: the registry of headers is not reachable everywhere).
nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
[[ -f $nodedir/include/node/node_api.h ]] && args+=(--nodedir="$nodedir")
npx --no-install node-gyp "${args[@]}" >/dev/null
