#!/bin/sh
# ExecStartPre of sharer@.service: copy the SSM parameter named by $1 (KEY=VALUE lines)
# to the EnvironmentFile $2, so every start of the unit runs with the current settings.
# AWS_REGION comes from /etc/sharer/bootstrap.env through the unit's environment.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: sharer-fetch-settings PARAMETER_NAME ENV_FILE" >&2
    exit 64
fi
parameter=$1
target=$2

aws ssm get-parameter --name "$parameter" --query Parameter.Value --output text >"$target.tmp"
mv "$target.tmp" "$target"
