#!/bin/sh
# Run once from user data at first boot: record where the role's settings and the log
# agent's configuration live, then enable the role's unit and the log agent's so both
# start now and at every later boot (systemd retries each until it succeeds), and the
# server's timers where the image has them and its webhook delivery.
set -eu

if [ $# -ne 4 ]; then
    echo "usage: sharer-start-role worker|server REGION SETTINGS_PARAMETER AGENT_PARAMETER" >&2
    exit 64
fi
role=$1
region=$2
settings_parameter=$3
agent_parameter=$4
case $role in
    worker | server) ;;
    *)
        echo "sharer-start-role: unknown role '$role' (worker or server)" >&2
        exit 64
        ;;
esac

install -d -m 0755 /etc/sharer
printf 'AWS_REGION=%s\nSHARER_SETTINGS_PARAMETER=%s\nSHARER_AGENT_PARAMETER=%s\n' \
    "$region" "$settings_parameter" "$agent_parameter" >/etc/sharer/bootstrap.env
# Without waiting: each unit keeps retrying until SSM answers. The agent reads the log
# file from its start, so nothing the role writes before it runs is missed.
systemctl enable --now --no-block "sharer@$role.service" sharer-log-agent.service
if [ "$role" = server ] && [ -f /etc/systemd/system/sharer-reconcile.timer ]; then
    systemctl enable --now --no-block sharer-reconcile.timer
fi
# Webhook delivery (sharer-webhooks, from the same template unit) runs beside each
# server: any number of them share the webhook queue. Without SHARER_WEBHOOK_URL it idles.
if [ "$role" = server ]; then
    systemctl enable --now --no-block sharer@webhooks.service
fi
