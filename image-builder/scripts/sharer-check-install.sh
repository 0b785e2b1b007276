#!/bin/sh
# The component's validate and test phases: the app imports from its venv with every
# dependency satisfied, both console scripts and nginx exist, and systemd accepts every unit.
set -eu

/opt/sharer/venv/bin/python -c "import server.app, worker.consumer, sharer.settings"
/opt/sharer/venv/bin/pip check
test -x /opt/sharer/venv/bin/sharer-server
test -x /opt/sharer/venv/bin/sharer-worker
/usr/sbin/nginx -v
test -x /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
test -x /opt/aws/bin/cfn-signal
systemd-analyze verify sharer@worker.service sharer@server.service sharer-log-agent.service
