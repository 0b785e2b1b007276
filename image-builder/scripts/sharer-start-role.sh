#!/bin/sh
# Run once from user data at first boot: record where the role's settings live, enable
# the role's unit so it starts now and at every later boot, then start shipping logs to
# CloudWatch (the agent reads the log file from its start, so nothing is missed).
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
printf 'AWS_REGION=%s\nSHARER_SETTINGS_PARAMETER=%s\n' "$region" "$settings_parameter" \
    >/etc/sharer/bootstrap.env
systemctl enable "sharer@$role.service"
# Without waiting: the server's settings may not exist yet (they name the CloudFront
# distribution, created after the instance); the unit retries until they do.
systemctl start --no-block "sharer@$role.service"
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl \
    -a fetch-config -m ec2 -s -c "ssm:$agent_parameter"
