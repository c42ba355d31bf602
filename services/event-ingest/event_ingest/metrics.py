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
INBOUND = Counter(
    "outreach_inbound_notifications_total",
    "SNS messages at the inbound webhook by result (stored, duplicate, ignored, refused, rejected, "
    "retry_later, confirmed)",
    ["result"],
)
REPLIES = Counter(
    "outreach_replies_total",
    "Received mail processed, by classification and whether it matched a send",
    ["classification", "matched"],
)
