from prometheus_client import Counter

SES_EVENTS = Counter(
    "outreach_ses_events_total",
    "SES event deliveries by type and result (stored, unmatched, ignored, duplicate, rejected)",
    ["event_type", "result"],
)
