"""A campaign's counters: one list for everyone who names them.

The projector keeps them (one column each in `campaign_stats`, fed by the send
facts in projector.policy.FACT_COUNTERS), the gateway's response schema and
its SQL are generated from this list, and the operator's report prints them.
tests/unit/test_architecture.py and tests/integration/test_migrations.py check
the projector's facts and the table's columns against it.
"""

from __future__ import annotations

# In the order the admin reads them: the sender's own outcomes, then what SES told.
STAT_NAMES: tuple[str, ...] = (
    "sent", "delivered", "opened", "clicked", "replied", "bounced", "complained", "unsubscribed",
    "failed", "rejected", "rendering_failed", "delivery_delayed", "unknown",
)  # fmt: skip
# Known from the sender's own answer from SES, before any SES event arrives.
SENDER_STATS: frozenset[str] = frozenset({"sent", "failed", "unknown"})
# Reported by SES through its events.
SES_STATS: tuple[str, ...] = tuple(name for name in STAT_NAMES if name not in SENDER_STATS)
