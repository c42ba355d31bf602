"""What each event means for the read tables: pure, table-driven, no I/O.

A send's facts (sent, delivered, opened, ...) are set once each; a campaign
counter moves only when a fact goes from unset to set. So duplicates change
nothing and order does not matter: the same set of events gives the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.events import (
    Envelope,
    ProspectAutoReplied,
    ProspectReplied,
    ProspectStatus,
    ProspectStatusChanged,
    ProspectUnsubscribed,
    ProspectUnsubscribedV2,
    SendAttempted,
    SesBounce,
    SesClick,
    SesComplaint,
    SesDelivery,
    SesDeliveryDelay,
    SesEventData,
    SesOpen,
    SesReject,
    SesRenderingFailure,
    SesSend,
    StopReason,
)

# fact column -> the campaign_stats counter it feeds
FACT_COUNTERS = {
    "sent_at": "sent", "delivered_at": "delivered", "opened_at": "opened", "clicked_at": "clicked",
    "replied_at": "replied",
    "bounced_at": "bounced", "complained_at": "complained", "unsubscribed_at": "unsubscribed",
    "failed_at": "failed", "rejected_at": "rejected", "rendering_failed_at": "rendering_failed",
    "delayed_at": "delivery_delayed", "unknown_at": "unknown",
}  # fmt: skip
# The status shown for a send: the highest-ranked fact it has. SES rejecting or failing
# to render a message it had accepted outranks the acceptance: it was never delivered.
STATUS_BY_RANK = (
    ("unknown_at", "unknown"), ("failed_at", "failed"), ("sent_at", "sent"), ("delayed_at", "delivery_delayed"),
    ("rejected_at", "rejected"), ("rendering_failed_at", "rendering_failed"), ("delivered_at", "delivered"),
    ("opened_at", "opened"), ("clicked_at", "clicked"), ("replied_at", "replied"), ("unsubscribed_at", "unsubscribed"),
    ("bounced_at", "bounced"), ("complained_at", "complained"),
)  # fmt: skip


@dataclass(frozen=True)
class SendChanges:
    """Facts to set on one send (each only if unset), and what else follows."""

    send_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    prospect_id: uuid.UUID | None
    facts: dict[str, datetime] = field(default_factory=dict)
    error: str | None = None
    bounce_type: str | None = None
    ses_message_id: str | None = None
    prospect_status: ProspectStatus | None = None  # raise the prospect to this status
    unsubscribe_source: str | None = None  # write an unsubscribes audit row
    unsubscribe_reason: str | None = None  # ... with this reason


def changes_for(event: Envelope) -> SendChanges | None:
    """The changes an event asks for; None when it touches no send read table."""
    if isinstance(event, SendAttempted):
        d = event.data
        fact = {"sent": "sent_at", "failed": "failed_at", "unknown": "unknown_at"}[d.outcome]
        return SendChanges(
            d.send_id, d.campaign_id, d.prospect_id, {fact: event.occurred_at},
            error=d.error_message if d.outcome != "sent" else None, ses_message_id=d.ses_message_id,
        )  # fmt: skip
    if isinstance(event, ProspectReplied):
        r = event.data
        if r.send_id is None:
            return None  # matched to the prospect only: no send to set it on
        return SendChanges(r.send_id, r.campaign_id, r.prospect_id, {"replied_at": r.received_at})
    if isinstance(event, ProspectUnsubscribed | ProspectUnsubscribedV2):
        u = event.data
        return SendChanges(
            u.send_id, u.campaign_id, u.prospect_id,
            {"unsubscribed_at": event.occurred_at} if u.send_id else {},
            prospect_status="unsubscribed", unsubscribe_source=u.source,
        )  # fmt: skip
    if isinstance(event, ProspectStatusChanged):
        # An admin's opt-out is audited like the recipient's (a raise from SES is not an opt-out).
        c = event.data
        if c.to_status != "unsubscribed" or c.changed_by == "ses":
            return None
        return SendChanges(None, None, c.prospect_id, unsubscribe_source="admin", unsubscribe_reason=c.reason)
    data = getattr(event, "data", None)
    if not isinstance(data, SesEventData) or data.send_id is None:
        return None  # an SES event for no send of ours: counted at intake, nothing to project
    at = data.timestamp
    if isinstance(event, SesSend):
        return _ses(data, {"sent_at": at})
    if isinstance(event, SesDelivery):
        return _ses(data, {"sent_at": at, "delivered_at": at})
    if isinstance(event, SesOpen | SesClick):
        # An open or a click proves delivery (and the send).
        facts = {"sent_at": at, "delivered_at": at, "opened_at": at}
        if isinstance(event, SesClick):
            facts["clicked_at"] = at
        return _ses(data, facts)
    if isinstance(event, SesBounce):
        bounce = event.data
        diagnostic = next((r.diagnostic_code for r in bounce.diagnostics if r.diagnostic_code), None)
        if bounce.bounce_type != "Permanent":
            return _ses(data, {"sent_at": at, "transient_bounce_at": at}, bounce_type=bounce.bounce_type)
        return _ses(
            data, {"sent_at": at, "bounced_at": at}, error=diagnostic, bounce_type=bounce.bounce_type,
            prospect_status="bounced",
        )  # fmt: skip
    if isinstance(event, SesComplaint):
        return _ses(
            data, {"sent_at": at, "delivered_at": at, "complained_at": at},
            prospect_status="complained", unsubscribe_source="complaint", unsubscribe_reason="complaint",
        )  # fmt: skip
    if isinstance(event, SesReject):
        return _ses(data, {"rejected_at": at}, error=event.data.reason)
    if isinstance(event, SesRenderingFailure):
        return _ses(data, {"rendering_failed_at": at}, error=event.data.error_message)
    if isinstance(event, SesDeliveryDelay):
        return _ses(data, {"sent_at": at, "delayed_at": at})
    return None


def _ses(data: SesEventData, facts: dict[str, datetime], **extra: Any) -> SendChanges:
    return SendChanges(
        data.send_id, data.campaign_id, data.prospect_id, facts, ses_message_id=data.ses_message_id, **extra
    )


def status_of(facts: Mapping[str, object]) -> tuple[str | None, int | None]:
    """The status and rank a send's facts add up to."""
    best: tuple[str | None, int | None] = (None, None)
    for rank, (column, status) in enumerate(STATUS_BY_RANK):
        if facts.get(column) is not None:
            best = (status, rank)
    return best


@dataclass(frozen=True)
class ReputationLimits:
    min_sends: int = 100
    max_bounce_rate: float = 0.05
    max_complaint_rate: float = 0.001


def reputation_breach(sent: int, bounced: int, complained: int, limits: ReputationLimits) -> str | None:
    """The reason to pause a campaign, once enough sends are known to judge."""
    if sent < limits.min_sends or sent == 0:
        return None
    if bounced / sent > limits.max_bounce_rate:
        return (
            f"bounce rate {bounced / sent:.1%} ({bounced} of {sent}) is above "
            f"{limits.max_bounce_rate:.1%}; SES reviews accounts at 5%"
        )
    if complained / sent > limits.max_complaint_rate:
        return (
            f"complaint rate {complained / sent:.2%} ({complained} of {sent}) is above "
            f"{limits.max_complaint_rate:.2%}; SES reviews accounts at 0.1%"
        )
    return None


# What each event can stop, in the order a campaign's stop_on is asked (a click is an open too).
def stop_reasons(event: Envelope) -> tuple[uuid.UUID, uuid.UUID | None, tuple[StopReason, ...]] | None:
    """(prospect, campaign or None for every campaign they are in, reasons) for an event that
    may end sequences (shared.lifecycle.sequence); None for the others."""
    if isinstance(event, ProspectReplied):
        return event.data.prospect_id, event.data.campaign_id, ("reply",)
    if isinstance(event, ProspectAutoReplied):
        return event.data.prospect_id, event.data.campaign_id, ("auto_reply",)
    if isinstance(event, ProspectUnsubscribed | ProspectUnsubscribedV2):
        return event.data.prospect_id, event.data.campaign_id, ("unsubscribe",)
    if isinstance(event, ProspectStatusChanged):
        reason = _STATUS_STOPS.get(event.data.to_status)
        return (event.data.prospect_id, None, (reason,)) if reason else None
    data = getattr(event, "data", None)
    if not isinstance(data, SesEventData) or data.prospect_id is None:
        return None
    if isinstance(event, SesBounce):
        return (
            (data.prospect_id, data.campaign_id, ("bounce",))
            if event.data.bounce_type == "Permanent"
            else None
        )
    if isinstance(event, SesComplaint):
        return data.prospect_id, data.campaign_id, ("complaint",)
    if isinstance(event, SesClick):
        return data.prospect_id, data.campaign_id, ("click", "open")
    if isinstance(event, SesOpen):
        return data.prospect_id, data.campaign_id, ("open",)
    return None


_STATUS_STOPS: dict[str, StopReason] = {
    "unsubscribed": "unsubscribe",
    "bounced": "bounce",
    "complained": "complaint",
}
