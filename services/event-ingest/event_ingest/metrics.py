from prometheus_client import Counter, Histogram

SES_EVENTS = Counter(
    "outreach_ses_events_total",
    "SES event deliveries by type and result (stored, unmatched, ignored, duplicate, rejected)",
    ["event_type", "result"],
)
STORE_BATCH_SIZE = Histogram(
    "outreach_ses_store_batch_size",
    "Deliveries stored by one statement (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
