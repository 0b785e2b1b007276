"""Alarms, dashboard, log shipping, and the stack's outputs."""

import json
import re
from typing import Any

from aws_cdk.assertions import Match
from cdk_synthesis import REPO_ROOT, Synthesized, agent_log_groups, render

from cdk.logs import RECONCILER_LOG_FILE, WEBHOOKS_LOG_FILE, log_file
from cdk.monitoring import JOB_DONE_PATTERN, METRIC_NAMESPACE, READY_LATENCY_METRIC
from cdk.scaling import PERIOD_SECONDS
from worker.ready_metric import METRIC_NAMESPACE as EMITTED_NAMESPACE
from worker.ready_metric import READY_LATENCY_METRIC as EMITTED


def _alarm_on(synthesized: Synthesized, metric: str) -> dict[str, Any]:
    _, alarm = synthesized.only("AWS::CloudWatch::Alarm", {"Properties": {"MetricName": metric}})
    return alarm


def test_a_dead_lettered_job_raises_an_alarm(synthesized: Synthesized) -> None:
    queue_id, dead_letter_id = synthesized.queue_ids()
    topic_id, _ = synthesized.only("AWS::SNS::Topic")
    alarm = _alarm_on(synthesized, "ApproximateNumberOfMessagesVisible")
    assert dead_letter_id != queue_id  # the dead-letter queue, not the work queue
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}
    ]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_a_job_waiting_past_the_objective_raises_an_alarm(synthesized: Synthesized) -> None:
    queue_id, _ = synthesized.queue_ids()
    topic_id, _ = synthesized.only("AWS::SNS::Topic")
    alarm = _alarm_on(synthesized, "ApproximateAgeOfOldestMessage")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    assert alarm["Threshold"] == synthesized.stack.config.latency_objective_seconds
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_dashboard_shows_backlog_workers_and_latency(synthesized: Synthesized) -> None:
    _, dashboard = synthesized.only("AWS::CloudWatch::Dashboard")
    body = render(dashboard["DashboardBody"])
    titles = re.findall(r'"title":"([^"]+)"', body)
    assert {"Backlog (messages)", "Workers", "Thumbnail latency"} <= set(titles)
    for metric in (
        "ApproximateNumberOfMessagesVisible",
        "GroupInServiceInstances",
        "ApproximateAgeOfOldestMessage",
        "ThumbnailJobMilliseconds",
    ):
        assert metric in body
    group_id, _ = synthesized.group("worker")
    (workers,) = [w for w in json.loads(body)["widgets"] if w["properties"]["title"] == "Workers"]
    shown = workers["properties"]["metrics"]
    lines = (("GroupInServiceInstances", "in service"), ("GroupDesiredCapacity", "desired"))
    for name, label in lines:
        line = ["AWS/AutoScaling", name, "AutoScalingGroupName", f"<{group_id}>"]
        assert [*line, {"label": label, "period": PERIOD_SECONDS, "stat": "Maximum"}] in shown


def test_worker_logs_yield_the_job_duration_metric(synthesized: Synthesized) -> None:
    group = agent_log_groups(synthesized)[log_file("worker")]
    synthesized.template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "LogGroupName": {"Ref": group},
            "FilterPattern": JOB_DONE_PATTERN,
            "MetricTransformations": [Match.object_like({"MetricValue": "$.duration_ms"})],
        },
    )


def test_the_worker_log_line_the_filter_expects_is_what_the_worker_writes() -> None:
    # The filter pattern names the worker's message and field; a rename breaks the metric.
    source = (REPO_ROOT / "src" / "worker" / "processing.py").read_text()
    message = re.search(r'\$\.msg = "([^"]+)"', JOB_DONE_PATTERN)
    assert message is not None
    assert f'"{message.group(1)}"' in source
    assert '"duration_ms"' in source


def test_both_roles_logs_are_shipped_and_kept(synthesized: Synthesized) -> None:
    groups = agent_log_groups(synthesized)
    assert set(groups) == {
        log_file("worker"),
        log_file("server"),
        RECONCILER_LOG_FILE,
        WEBHOOKS_LOG_FILE,
    }
    for group in groups.values():
        retention = synthesized.resources("AWS::Logs::LogGroup")[group]["Properties"]
        assert retention["RetentionInDays"] > 0


def test_outputs_give_upload_url_cdn_bucket_queue_and_dashboard(synthesized: Synthesized) -> None:
    outputs = synthesized.template.find_outputs("*")
    assert set(outputs) == {
        "UploadUrl",
        "CdnDomain",
        "BucketName",
        "QueueUrl",
        "DashboardUrl",
        "QuotaStoreUrl",
    }
    distribution_id, _ = synthesized.only("AWS::CloudFront::Distribution")
    assert render(outputs["UploadUrl"]["Value"]) == f"https://<{distribution_id}.DomainName>/"
    assert render(outputs["BucketName"]["Value"]) == (
        f"<{synthesized.bucket_id('BucketOwnerEnforced')}>"
    )
    dashboard_id, _ = synthesized.only("AWS::CloudWatch::Dashboard")
    assert render(outputs["DashboardUrl"]["Value"]).endswith(f"#dashboards:name=<{dashboard_id}>")


def test_the_workers_ready_latency_is_graphed_and_alarmed(synthesized: Synthesized) -> None:
    objective_ms = synthesized.stack.config.latency_objective_seconds * 1000
    topic_id, _ = synthesized.only("AWS::SNS::Topic")
    alarm = _alarm_on(synthesized, READY_LATENCY_METRIC)
    assert alarm["Namespace"] == METRIC_NAMESPACE
    assert alarm["ExtendedStatistic"] == "p99"
    assert alarm["Threshold"] == objective_ms
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    _, dashboard = synthesized.only("AWS::CloudWatch::Dashboard")
    (widget,) = [
        w
        for w in json.loads(render(dashboard["DashboardBody"]))["widgets"]
        if w["properties"].get("title") == "Upload to thumbnails ready (ms)"
    ]
    lines = widget["properties"]["metrics"]
    stats = [
        line[-1]["stat"] for line in lines if line[:2] == [METRIC_NAMESPACE, READY_LATENCY_METRIC]
    ]
    assert stats == ["p50", "p95", "p99"]
    assert widget["properties"]["annotations"]["horizontal"][0]["value"] == objective_ms


def test_the_metric_the_dashboard_reads_is_the_one_the_worker_emits() -> None:
    # The worker side cannot import the CDK app, so the two names are checked against each
    # other here: a rename on one side alone would leave the graph and the alarm empty.
    assert (EMITTED_NAMESPACE, EMITTED) == (METRIC_NAMESPACE, READY_LATENCY_METRIC)


def test_the_reconcilers_log_goes_to_the_server_group(synthesized: Synthesized) -> None:
    # The reconciler's timer is installed on the server instances; its unit appends here.
    unit = (REPO_ROOT / "image-builder" / "systemd" / "sharer-reconcile.service").read_text()
    assert f"StandardOutput=append:{RECONCILER_LOG_FILE}" in unit
    groups = agent_log_groups(synthesized)
    assert groups[RECONCILER_LOG_FILE] == groups[log_file("server")]
