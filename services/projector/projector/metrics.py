from prometheus_client import Counter, Gauge

APPLIED = Counter("outreach_projector_applied_total", "Events applied to the read tables", ["type"])
LAG = Gauge("outreach_projection_lag_seconds", "Now minus occurred_at of the last applied event")
