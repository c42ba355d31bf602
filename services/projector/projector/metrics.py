from prometheus_client import Counter, Gauge

APPLIED = Counter("outreach_projector_applied_total", "Events applied to the read tables", ["type"])
LAG = Gauge("outreach_projection_lag_seconds", "Now minus occurred_at of the last applied event")
SEARCH_INDEXED = Counter("outreach_search_rows_indexed_total", "Prospects the search indexer looked at")
SEARCH_PENDING = Gauge(
    "outreach_search_imports_pending", "Imports whose prospects are still to index for search"
)
SEQUENCE_STOPS = Counter(
    "outreach_sequence_stops_total",
    "Prospects' sequences ended by an event their campaign's stop_on lists",
    ["reason"],
)
MX_CHECKED = Counter(
    "outreach_mx_checks_total",
    "Prospects' domains asked of DNS, by verdict (mail, no_mail, unknown)",
    ["verdict"],
)
