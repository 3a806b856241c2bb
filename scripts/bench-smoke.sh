#!/usr/bin/env bash
# npm run bench:smoke: runs every bench/*.ts once with its shortest honest setting, so that the benchmarks keep
# running. Fails if a bench fails to run (exits non-zero, or exceeds its time bound); never on a figure.
# Expects a built tree (npm run bench:smoke builds first). bench/failover needs root (the cluster test bed).
set -uo pipefail
cd "$(dirname "$0")/.."

# The short setting of each bench; a new bench/*.ts without an entry runs with its defaults.
args_for() {
  case $1 in
    rpc) echo --seconds 0.5 ;;
    fence) echo --runs 2 ;;
    virt) echo --rounds 3 --vms 10,100 ;;
    failover) echo --profile fast --rounds 1 --scenario vm ;; # one VM-kill recovery on the fast profile
    fencing) echo --scale --hosts 3 --vms 5 --rounds 1 ;;     # one power cut, 5 VMs restarted
    fencing2) echo --scenario power-loss --rounds 1 --policy fast ;; # the netns bed's scenario rounds, once
    *) echo ;;
  esac
}
# Bound per bench (s): failover = cluster start + settle (≤ 120 s) + recovery (≤ 240 s) + teardown.
limit_for() { case $1 in failover) echo 600 ;; *) echo 300 ;; esac; }

# A bench that has a second mode to keep running gets a second run: NAME2 in args_for.
runs() { for file in bench/*.ts; do
  name=$(basename "$file" .ts)
  echo "$name $file"
  [ -n "$(args_for "${name}2")" ] && echo "${name}2 $file"
done; }

failed=()
while read -r name file; do
  read -ra args <<<"$(args_for "$name")"
  echo "== bench/$name ${args[*]}"
  start=$SECONDS
  timeout --kill-after=30 "$(limit_for "$name")" node --import tsx "$file" "${args[@]}" </dev/null
  rc=$?
  echo "== bench/$name: exit $rc after $((SECONDS - start)) s"
  [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
done < <(runs)

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench:smoke: failed to run: ${failed[*]}" >&2
  exit 1
fi
echo "bench:smoke: every bench ran"
