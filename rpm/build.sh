#!/usr/bin/env bash
# Build the vdsm-ts RPMs: vdsm-ts, vdsm-ts-common, vdsm-ts-fence-agents, vdsm-ts-coordinator.
#
#   bash rpm/build.sh [--skip-build] [OUTDIR]
#
# Runs `npm run build` unless dist/ is newer than its inputs (or --skip-build /
# VDSM_RPM_SKIP_BUILD=1), stages dist/, the libvirt addon, the production dependencies and the fence
# agents' man pages, runs rpmbuild, and copies the .rpm files to OUTDIR (default rpm/out/). Their paths,
# one per line, are the only thing printed on stdout; progress goes to stderr.
set -euo pipefail

skip_build=${VDSM_RPM_SKIP_BUILD:-0}
outdir=
for arg in "$@"; do
    case $arg in
        --skip-build) skip_build=1 ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
        *) outdir=$arg ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
mkdir -p "${outdir:=$root/rpm/out}"
outdir=$(cd "$outdir" && pwd -P)
cd "$root"

command -v rpmbuild >/dev/null || { echo "build.sh: rpmbuild not found (apt-get install -y rpm)" >&2; exit 1; }

addon=build/Release/vdsm_libvirt.node
bundles=(dist/cli/vdsmd.js dist/cli/vdsm-client.js dist/cli/vdsm-tool.js dist/cli/gen-api-doc.js dist/cli/hosted-engine.js dist/cli/he-broker.js dist/cli/he-agent.js dist/cli/vdsm-ts-coordinator.js dist/fence/fence_ipmilan.js)
entries=("${bundles[@]}" "$addon")
# Each output against its own inputs: the bundles against the TypeScript and the build config, the addon against its
# C++ source (comparing the addon with every .ts file rebuilt dist/ under the feet of a running test suite).
newer_than() {
    [[ -n $(find "${@:2}" -newer "$1" -print -quit 2>/dev/null) ]]
}
dist_is_fresh() {
    local f
    for f in "${entries[@]}"; do [[ -f $f ]] || return 1; done
    for f in "${bundles[@]}"; do
        ! newer_than "$f" src plugins package.json package-lock.json tsconfig.json tsup.config.ts || return 1
    done
    ! newer_than "$addon" src/virt/native binding.gyp
}
if [[ $skip_build != 1 ]] && ! dist_is_fresh; then
    echo "build.sh: npm run build" >&2
    npm run build >&2
fi
for f in "${entries[@]}"; do
    [[ -f $f ]] || { echo "build.sh: $f missing; run npm run build" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdsm-rpm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
app=$tmp/SOURCES/app
mkdir -p "$app"
cp -a dist package.json "$app/"
mkdir -p "$app/build/Release"
cp "$addon" "$app/build/Release/"
cp rpm/vdsmd.service rpm/ovirt-ha-broker.service rpm/ovirt-ha-agent.service rpm/vdsm-ts-coordinator.service \
    rpm/10-vdsm-ts-libvirt-access.rules etc/vdsm.conf "$tmp/SOURCES/"
# Each agent and alias writes its own man page from the option table its metadata comes from.
mkdir -p "$tmp/SOURCES/man8"
for agent in dist/fence/fence_*; do
    name=$(basename "$agent" .js)
    node "$agent" -o manpage >"$tmp/SOURCES/man8/$name.8" || { echo "build.sh: $name -o manpage failed" >&2; exit 1; }
done

# Production dependencies are copied from the local node_modules, as listed by
# npm itself: no registry or cache access, and exactly the tree we tested.
# (`npm ci --offline` is not an option: the lockfile has no resolved URLs, so
# npm needs packuments the cache may not hold.)
# Optional dependencies are left out: they are native speed-ups (ssh2's cpu-features) that would make the
# package arch-specific, and everything works without them.
if ! npm ls --omit=dev --all --parseable >"$tmp/deps" 2>"$tmp/deps.err"; then
    cat "$tmp/deps.err" >&2
    echo "build.sh: npm ls reports a broken node_modules; run npm ci" >&2
    exit 1
fi
node -e 'const p = require("./package-lock.json").packages; for (const [k, v] of Object.entries(p)) if (v.optional) console.log(k)' \
    | sort >"$tmp/optional"
tail -n +2 "$tmp/deps" | sed "s|^$root/||" | sort | comm -23 - "$tmp/optional" >"$tmp/deps.rel"
if grep -v '^node_modules/' "$tmp/deps.rel" >&2; then
    echo "build.sh: dependencies outside node_modules/ (links?) are not supported" >&2
    exit 1
fi
tar -cf - -T "$tmp/deps.rel" | tar -C "$app" -xf -
# ssh2 compiles an optional native crypto binding at install time and falls back to pure JS without it.
rm -rf "$app/node_modules/ssh2/lib/protocol/crypto/build"
if find "$app/node_modules" -name '*.node' | grep . >&2; then
    echo "build.sh: native addons in node_modules; only our own libvirt binding is expected" >&2
    exit 1
fi

# RPM versions cannot contain '-'; '~' keeps 1.0.0~rc.1 sorting before 1.0.0.
version=$(node -p 'require("./package.json").version')
echo "build.sh: rpmbuild vdsm-ts ${version//-/\~}" >&2
rpmbuild -bb --quiet --nodeps \
    --define "_topdir $tmp/top" \
    --define "_sourcedir $tmp/SOURCES" \
    --define "_rpmdir $tmp/RPMS" \
    --define "_tmppath $tmp/top/tmp" \
    --define "pkg_version ${version//-/\~}" \
    rpm/vdsm-ts.spec >&2

shopt -s nullglob
rpms=("$tmp"/RPMS/*/vdsm-ts-*.rpm)
[[ ${#rpms[@]} -eq 4 ]] || { echo "build.sh: expected four .rpm files, got ${#rpms[@]}" >&2; exit 1; }
for rpm in "${rpms[@]}"; do
    cp "$rpm" "$outdir/"
    echo "$outdir/$(basename "$rpm")"
done
