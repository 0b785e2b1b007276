#!/bin/sh
# The component's validate and test phases: the app imports from its venv, both console
# scripts exist, and systemd accepts the unit for both roles.
set -eu

/opt/sharer/venv/bin/python -c "import server.app, worker.consumer, sharer.settings"
test -x /opt/sharer/venv/bin/sharer-server
test -x /opt/sharer/venv/bin/sharer-worker
test -x /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
systemd-analyze verify sharer@worker.service sharer@server.service
