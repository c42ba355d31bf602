"""The account's reputation as our own counts show it: per sending domain, the bounce and
complaint rates of the sends of the last 24 hours and 7 days, and day by day, against
the rates at which SES reviews an account and may pause it (docs/deliverability.md).

A rate is of the sends made in the window (a bounce counts with the send it answers);
only permanent bounces count, as for SES."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api_gateway.schemas import Reputation, ReputationDay, ReputationDomain, ReputationWindow

# SES's sending review (reference/ses-facts.md): under review at the first, sending may
# be paused at the second.
THRESHOLDS = {
    "bounce_rate": {"review": 0.05, "pause": 0.10},
    "complaint_rate": {"review": 0.001, "pause": 0.005},
}


COUNTS = tuple(f"{what}_{window}" for window in ("24h", "7d") for what in ("sent", "bounced", "complained"))


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def state(bounce_rate: float, complaint_rate: float) -> str:
    """ok, review (at or over a review threshold) or pause (at or over a pause one)."""
    rates = {"bounce_rate": bounce_rate, "complaint_rate": complaint_rate}
    if any(rates[name] >= limits["pause"] for name, limits in THRESHOLDS.items()):
        return "pause"
    if any(rates[name] >= limits["review"] for name, limits in THRESHOLDS.items()):
        return "review"
    return "ok"


def window(sent: int, bounced: int, complained: int) -> ReputationWindow:
    b, c = rate(bounced, sent), rate(complained, sent)
    return ReputationWindow(
        sent=sent, bounced=bounced, complained=complained, bounce_rate=b, complaint_rate=c, state=state(b, c)
    )


def summarize(rows: Iterable[Mapping[str, Any]]) -> Reputation:
    """`rows`: one per (domain, day) with the day's counts and those of its sends in the
    last 24 hours and 7 days, and whether the day is one asked for (adapters.reports.REPUTATION):
    the windows count every row, the daily list the days asked for."""
    by_domain: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_domain.setdefault(row["domain"], []).append(row)
    domains = []
    for domain, days in sorted(by_domain.items()):
        total = {key: sum(int(d[key]) for d in days) for key in COUNTS}
        domains.append(
            ReputationDomain(
                domain=domain,
                last_24h=window(total["sent_24h"], total["bounced_24h"], total["complained_24h"]),
                last_7d=window(total["sent_7d"], total["bounced_7d"], total["complained_7d"]),
                daily=[
                    ReputationDay(
                        day=d["day"], **window(d["sent"], d["bounced"], d["complained"]).model_dump()
                    )
                    for d in days
                    if d["sent"] and d["asked"]
                ],
            )
        )
    return Reputation(thresholds=THRESHOLDS, domains=domains)
