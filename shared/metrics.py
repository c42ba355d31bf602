"""Prometheus metrics shared by every service (one process = one service)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "outreach_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "outreach_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
OUTBOX_PUBLISHED = Counter("outreach_outbox_published_total", "Events published by the outbox relay")
OUTBOX_LAG_SECONDS = Histogram(
    "outreach_outbox_lag_seconds",
    "Time from commit to publish for the last event of each batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_CONSUMED = Counter(
    "outreach_events_consumed_total",
    "Events handled by a consumer, by result",
    ["consumer", "type", "result"],  # result: applied, duplicate, ignored, retried, dead_lettered
)
EVENT_HANDLING_SECONDS = Histogram(
    "outreach_event_handling_seconds", "Time to apply one event", ["consumer", "type"]
)
