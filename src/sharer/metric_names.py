"""The names and histogram buckets of the service's metrics, in one place: the server's
and the worker's Prometheus metrics (GET /metrics, embedded mode) and the CloudWatch
metrics of the same things on AWS (cdk/monitoring.py) are named from here, and
docs/operations.md has the table of both."""

# Prometheus names (counters get "_total" from prometheus-client).
UPLOADS = "sharer_uploads"
REQUEST_SECONDS = "sharer_request_duration_seconds"
QUEUE_MESSAGES = "sharer_queue_messages"
QUEUE_OLDEST_AGE_SECONDS = "sharer_queue_oldest_age_seconds"
READY_LATENCY_SECONDS = "sharer_thumbnail_ready_latency_seconds"
THUMBNAILS_MADE = "sharer_thumbnails_made"
JOBS_FAILED = "sharer_jobs_failed"
WAITERS_IN_USE = "sharer_waiters_in_use"
QUOTA_REFUSALS = "sharer_quota_refusals"

# Upper bounds (seconds) of the request latency histogram: from a cheap GET to the request
# deadline.
REQUEST_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Upper bounds (seconds) of the 202 -> ready histogram: around the latency objective
# (cdk.config's latency_objective_seconds) and the backlog a scale-out drains.
READY_LATENCY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

# CloudWatch (namespace ImageSharer) names of the same measures on AWS, made from the log
# lines by cdk/service_metrics.py (and the EMF of worker.ready_metric); the queue's are
# SQS's own (ApproximateNumberOfMessagesVisible, ApproximateAgeOfOldestMessage).
CLOUDWATCH_NAMESPACE = "ImageSharer"
CLOUDWATCH_UPLOADS = "Uploads"
CLOUDWATCH_REQUEST_LATENCY = "RequestLatency"
CLOUDWATCH_QUOTA_REFUSALS = "QuotaRefusals"
CLOUDWATCH_READY_LATENCY = "ThumbnailReadyLatency"
CLOUDWATCH_THUMBNAILS_MADE = "ThumbnailsMade"
CLOUDWATCH_JOBS_FAILED = "JobsFailed"
