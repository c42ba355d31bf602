"""The sender's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SENDS = Counter("outreach_sends_total", "Send attempts by outcome", ["outcome"])
SES_CALL_SECONDS = Histogram(
    "outreach_ses_call_seconds",
    "SES SendEmail latency",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
ACHIEVED_RATE = Gauge("outreach_send_rate_per_second", "Sends started per second over the last minute")
CONFIGURED_RATE = Gauge("outreach_send_rate_configured_per_second", "The cadence in force (after SES limits)")
ELIGIBLE_REMAINING = Gauge(
    "outreach_eligible_remaining", "Prospects still to send, per campaign", ["campaign_id"]
)
FORWARDS = Counter(
    "outreach_reply_forwards_total", "Replies forwarded to campaign owners, by outcome", ["outcome"]
)
