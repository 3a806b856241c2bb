#!/bin/sh
# A bed host's "vdsm-tool service-restart vdsmd": sshd's ForceCommand for that host runs it whatever command the
# client asked for (kept in the request, for the test to show). It asks the harness to restart the host's vdsmd by
# writing a request file, then waits for the harness's answer: exit 0 only once vdsmd is back (bounded: 25 s, within
# the coordinator's 30 s bound on the command).
#   restart-vdsmd.sh REQUEST_DIR HOST
dir=$1
host=$2
req="$dir/$host.$$"
printf '%s\n' "${SSH_ORIGINAL_COMMAND:-}" > "$req.tmp" && mv "$req.tmp" "$req.req" || exit 1
i=0
while [ "$i" -lt 250 ]; do
    if [ -f "$req.ok" ]; then
        rm -f "$req.ok"
        echo "vdsmd restarted on $host"
        exit 0
    fi
    if [ -f "$req.fail" ]; then
        cat "$req.fail"
        rm -f "$req.fail"
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
echo "vdsmd on $host did not come back within 25 s"
exit 1
