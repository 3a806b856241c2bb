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
    *) echo ;;
  esac
}
# Bound per bench (s): failover = cluster start + settle (≤ 120 s) + recovery (≤ 240 s) + teardown.
limit_for() { case $1 in failover) echo 600 ;; *) echo 300 ;; esac; }

failed=()
for file in bench/*.ts; do
  name=$(basename "$file" .ts)
  read -ra args <<<"$(args_for "$name")"
  echo "== bench/$name ${args[*]}"
  start=$SECONDS
  timeout --kill-after=30 "$(limit_for "$name")" node --import tsx "$file" "${args[@]}"
  rc=$?
  echo "== bench/$name: exit $rc after $((SECONDS - start)) s"
  [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench:smoke: failed to run: ${failed[*]}" >&2
  exit 1
fi
echo "bench:smoke: every bench ran"
