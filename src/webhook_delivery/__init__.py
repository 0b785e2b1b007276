"""``sharer-webhooks``: delivers queued webhook events to the configured receiver."""
