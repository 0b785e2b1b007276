#!/bin/sh
# The component's validate and test phases: every process's entry module imports from
# the venv with every dependency satisfied, the console scripts the units run and nginx
# exist, systemd accepts every unit, and the worker passes its self-check on the embedded
# backends.
set -eu

/opt/sharer/venv/bin/python -c "import server.__main__, worker.__main__, reconciler.__main__, webhook_delivery.__main__, admin.main"
/opt/sharer/venv/bin/pip check
for script in sharer-server sharer-worker sharer-reconcile sharer-webhooks sharer-admin; do
    test -x "/opt/sharer/venv/bin/$script"
done
/usr/sbin/nginx -v
test -x /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
test -x /opt/aws/bin/cfn-signal
systemd-analyze verify sharer@worker.service sharer@server.service sharer-log-agent.service
# The worker makes thumbnails on this image (its self-check on the embedded backends).
probe=$(mktemp -d)
SHARER_DATA_DIR="$probe" /opt/sharer/venv/bin/sharer-worker --self-check
rm -rf "$probe"
