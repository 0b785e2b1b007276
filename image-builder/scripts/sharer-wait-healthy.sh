#!/bin/sh
# The server's last user-data step: succeed once its /healthz answers 200 on this
# instance, fail after $2 seconds. Its exit status is the signal the Auto Scaling group's
# creation and rolling updates wait for (cfn-signal), so CloudFormation stops an old
# server only after a new one can take uploads.
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
