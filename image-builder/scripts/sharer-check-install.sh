#!/bin/sh
# The component's validate and test phases: the app imports from its venv with every
# dependency satisfied, both console scripts exist, systemd accepts every unit, and the
# worker passes its self-check on the embedded backends.
set -eu

/opt/sharer/venv/bin/python -c "import server.app, worker.consumer, sharer.settings"
/opt/sharer/venv/bin/pip check
test -x /opt/sharer/venv/bin/sharer-server
test -x /opt/sharer/venv/bin/sharer-worker
test -x /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
test -x /opt/aws/bin/cfn-signal
systemd-analyze verify sharer@worker.service sharer@server.service sharer-log-agent.service
# The worker makes thumbnails on this image (its self-check on the embedded backends).
probe=$(mktemp -d)
SHARER_DATA_DIR="$probe" /opt/sharer/venv/bin/sharer-worker --self-check
rm -rf "$probe"
