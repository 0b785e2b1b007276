#!/bin/sh
# The worker's last user-data step: succeed once this worker proves it can do its job,
# fail after $1 seconds. Its exit status is the signal the worker group's creation and
# rolling updates wait for (cfn-signal), so a broken image or unit fails the deploy
# instead of replacing every worker. Proof: the unit runs, and `sharer-worker
# --self-check` passes as the unit would run it (its user, its settings from SSM, the
# instance's role): both queues and the bucket answer, and it makes thumbnails.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: sharer-worker-ready SECONDS" >&2
    exit 64
fi
deadline=$(($(date +%s) + $1))
settings=/run/sharer-worker-ready.env
# AWS_REGION and SHARER_SETTINGS_PARAMETER, written by sharer-start-role.
set -a
# shellcheck source=/dev/null
. /etc/sharer/bootstrap.env
set +a

ready() {
    systemctl is-active --quiet sharer@worker.service &&
        /opt/sharer/bin/sharer-fetch-settings "$SHARER_SETTINGS_PARAMETER" "$settings" &&
        systemd-run --quiet --wait --pipe --collect --uid=sharer --gid=sharer \
            --property=EnvironmentFile=/etc/sharer/bootstrap.env \
            --property=EnvironmentFile="$settings" \
            /opt/sharer/venv/bin/sharer-worker --self-check
}

until ready; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "sharer-worker-ready: the worker did not pass its self-check in $1 s" >&2
        exit 1
    fi
    sleep 10
done
