#!/bin/sh
# A server's user-data step: succeed once URL (its liveness check, /livez) answers 200 on
# this instance, fail after $2 seconds. The step after it waits for the balancer to call
# the server healthy (python -m server.routable_wait); the last exit status is the signal
# the Auto Scaling group's creation and rolling updates wait for (cfn-signal), so
# CloudFormation stops an old server only once the balancer routes to a new one.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: sharer-wait-healthy URL SECONDS" >&2
    exit 64
fi
url=$1
deadline=$(($(date +%s) + $2))
until curl --silent --fail --max-time 5 --output /dev/null "$url"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "sharer-wait-healthy: $url not healthy after $2 s" >&2
        exit 1
    fi
    sleep 5
done
