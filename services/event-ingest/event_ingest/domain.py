"""From an SES event (as EventBridge delivers it) to one domain event. Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from event_ingest.models import EventBridgeEnvelope, SendingStatus, SesEventDetail
from shared.addresses import redact_addresses
from shared.events import (
    Diagnostic,
    Envelope,
    SesBounce,
    SesBounceData,
    SesClick,
    SesClickData,
    SesComplaint,
    SesComplaintData,
    SesDelivery,
    SesDeliveryData,
    SesDeliveryDelay,
    SesDeliveryDelayData,
    SesEventData,
    SesOpen,
    SesReject,
    SesRejectData,
    SesRenderingFailure,
    SesRenderingFailureData,
    SesSend,
    SesSendingStatusChanged,
    SesSendingStatusChangedData,
)
from shared.requests import validation_details

SENDING_STATUS = {"Sending Status Disabled": False, "Sending Status Enabled": True}


class RejectedPayload(ValueError):
    """Not an SES event we can accept; the reason goes back in the 400 answer."""

    def __init__(self, reason: str, details: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class SendRef:
    send_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    prospect_id: uuid.UUID | None

    @property
    def ids(self) -> tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]:
        # Not dataclasses.astuple: it deep-copies, a cost on every event the webhook takes.
        return self.send_id, self.campaign_id, self.prospect_id

    @property
    def complete(self) -> bool:
        return None not in self.ids


NO_SEND = SendRef(None, None, None)


@dataclass(frozen=True)
class KnownSend:
    """A send as email_sends has it, found by the event's message id or its send_id tag."""

    ref: SendRef
    ses_message_id: str | None
    sent_at: datetime  # when it was attempted (claimed, if never attempted)


def resolve_send(tagged: SendRef, by_message: KnownSend | None, by_tag: KnownSend | None) -> SendRef:
    """The send an event is about. The SES message id decides, and the tags must agree with
    it: a forged tag cannot move an event onto another prospect. Tags alone are believed only
    for a send whose message id is not recorded yet (SES can be faster than the sender's
    record) and whose campaign and prospect they name too."""
    if by_message is not None:
        agrees = all(t is None or t == k for t, k in zip(tagged.ids, by_message.ref.ids, strict=True))
        return by_message.ref if agrees else NO_SEND
    if by_tag is not None and tagged.complete and by_tag.ref == tagged and by_tag.ses_message_id is None:
        return tagged
    return NO_SEND


# An SES event older than its send (less this margin) or later than now (plus it) says
# more about a clock than about the recipient: its time is clamped and flagged.
CLOCK_MARGIN = timedelta(hours=1)


def clamp_time(when: datetime, sent_at: datetime | None, now: datetime) -> tuple[datetime, bool]:
    """(the time to keep, whether it was moved)."""
    earliest = sent_at - CLOCK_MARGIN if sent_at is not None else None
    latest = now + CLOCK_MARGIN
    if earliest is not None and when < earliest:
        return earliest, True
    if when > latest:
        return latest, True
    return when, False


@dataclass(frozen=True)
class Incoming:
    """A validated delivery: what to store, and how to make its domain event."""

    envelope: EventBridgeEnvelope
    detail: SesEventDetail | None  # None for account-level events
    event_type: str | None
    dedupe_key: str | None
    tagged: SendRef


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def parse_delivery(body: dict[str, Any]) -> Incoming:
    try:
        envelope = EventBridgeEnvelope.model_validate(body)
    except ValidationError as exc:
        raise RejectedPayload("not an EventBridge SES event", validation_details(exc)) from None
    if envelope.detail_type in SENDING_STATUS or (
        "eventType" not in envelope.detail and ("notificationType" not in envelope.detail)
    ):
        return Incoming(envelope, None, None, None, NO_SEND)
    try:
        detail = SesEventDetail.model_validate(envelope.detail)
    except ValidationError as exc:
        raise RejectedPayload("the SES event detail is invalid", validation_details(exc)) from None
    check_complete(detail)
    mail = detail.mail
    tagged = SendRef(
        _uuid(mail.tag("send_id")), _uuid(mail.tag("campaign_id")), _uuid(mail.tag("prospect_id"))
    )
    return Incoming(envelope, detail, detail.event_type, dedupe_key(detail, envelope.time), tagged)


def _own(detail: SesEventDetail) -> Any:
    return {
        "Bounce": detail.bounce,
        "Complaint": detail.complaint,
        "Delivery": detail.delivery,
        "Open": detail.open,
        "Click": detail.click,
        "DeliveryDelay": detail.delivery_delay,
    }.get(detail.event_type)


def _event_time(detail: SesEventDetail, fallback: datetime) -> datetime:
    own = _own(detail)
    when = getattr(own, "timestamp", None) or detail.mail.timestamp
    return when or fallback


def dedupe_key(detail: SesEventDetail, fallback: datetime) -> str:
    """Same SES event, whatever envelope it came in: message, type, own time or feedback id
    (our messages have one recipient each: the key needs no address, and holds none)."""
    own = _own(detail)
    marker = getattr(own, "feedback_id", None) or _event_time(detail, fallback).isoformat()
    return f"{detail.mail.message_id}|{detail.event_type}|{marker}"


def domain_event(
    incoming: Incoming, ref: SendRef, correlation_id: str, *, sent_at: datetime | None = None,
    now: datetime | None = None,
) -> Envelope | None:  # fmt: skip
    """The domain event for a delivery, or None for a type this build does not know (kept,
    not an error). `sent_at` (the matched send's) and `now` bound the event's time."""
    envelope, detail = incoming.envelope, incoming.detail
    if detail is None:
        enabled = SENDING_STATUS.get(envelope.detail_type)
        if enabled is None:
            return None
        status = SendingStatus.model_validate(envelope.detail)
        data = SesSendingStatusChangedData(
            eventbridge_id=envelope.id, enabled=enabled, reason=status.reason, timestamp=envelope.time
        )
        return SesSendingStatusChanged.new(data, correlation_id=correlation_id)
    timestamp, clamped = clamp_time(_event_time(detail, envelope.time), sent_at, now or datetime.now(UTC))
    base = {
        "eventbridge_id": envelope.id,
        "ses_message_id": detail.mail.message_id,
        "timestamp": timestamp,
        "timestamp_clamped": clamped,
        "send_id": ref.send_id,
        "campaign_id": ref.campaign_id,
        "prospect_id": ref.prospect_id,
    }
    build = _BUILDERS.get(detail.event_type)
    return build(detail, base, correlation_id) if build else None


def _diagnostics(recipients: list[Any]) -> tuple[Diagnostic, ...]:
    return tuple(
        Diagnostic(
            action=getattr(r, "action", None),
            status=r.status,
            diagnostic_code=_redacted(r.diagnostic_code),
        )
        for r in recipients
    )


def _redacted(text: str | None) -> str | None:
    return redact_addresses(text) if text else text


def _send(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    return SesSend.new(SesEventData(**base), correlation_id=cid)


def _delivery(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    own = d.delivery
    assert own is not None
    return SesDelivery.new(
        SesDeliveryData(
            **base,
            processing_time_millis=own.processing_time_millis,
            smtp_response=_redacted(own.smtp_response),
            reporting_mta=own.reporting_mta,
        ),
        correlation_id=cid,
    )


def _bounce(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    own = d.bounce
    assert own is not None
    return SesBounce.new(
        SesBounceData(
            **base,
            bounce_type=own.bounce_type,
            bounce_subtype=own.bounce_sub_type,
            feedback_id=own.feedback_id,
            diagnostics=_diagnostics(own.bounced_recipients),
        ),
        correlation_id=cid,
    )


def _complaint(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    own = d.complaint
    assert own is not None
    return SesComplaint.new(
        SesComplaintData(
            **base,
            feedback_id=own.feedback_id,
            complaint_feedback_type=own.complaint_feedback_type,
        ),
        correlation_id=cid,
    )


def _open(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    # The opener's IP address and user agent stay in the raw payload (retention, erasure).
    return SesOpen.new(SesEventData(**base), correlation_id=cid)


def _click(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    own = d.click
    assert own is not None
    return SesClick.new(
        SesClickData(
            **base,
            link=redact_addresses(own.link),
            link_tags={k: tuple(v) for k, v in own.link_tags.items()},
        ),
        correlation_id=cid,
    )


def _reject(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    own = d.reject
    assert own is not None
    return SesReject.new(SesRejectData(**base, reason=redact_addresses(own.reason)), correlation_id=cid)


def _failure(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    own = d.failure
    assert own is not None
    return SesRenderingFailure.new(
        SesRenderingFailureData(
            **base, template_name=own.template_name, error_message=redact_addresses(own.error_message)
        ),
        correlation_id=cid,
    )


def _delay(d: SesEventDetail, base: dict[str, Any], cid: str) -> Envelope:
    own = d.delivery_delay
    assert own is not None
    return SesDeliveryDelay.new(
        SesDeliveryDelayData(
            **base,
            delay_type=own.delay_type,
            expiration_time=own.expiration_time,
            reporting_mta=own.reporting_mta,
            diagnostics=_diagnostics(own.delayed_recipients),
        ),
        correlation_id=cid,
    )


# Metric labels take only these (and `other`): a sender of made-up types cannot grow the series.
def metric_type(incoming: Incoming) -> str:
    name = incoming.event_type or incoming.envelope.detail_type
    return name if name in _BUILDERS or name in SENDING_STATUS else "other"


_BUILDERS = {
    "Send": _send, "Delivery": _delivery, "Bounce": _bounce, "Complaint": _complaint, "Open": _open,
    "Click": _click, "Reject": _reject, "Rendering Failure": _failure, "RenderingFailure": _failure,
    "DeliveryDelay": _delay,
}  # fmt: skip
# The event's own object is required for these types: a Bounce without "bounce" is malformed.
REQUIRED_OBJECT = {
    "Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivery", "Open": "open", "Click": "click",
    "Reject": "reject", "Rendering Failure": "failure", "RenderingFailure": "failure",
    "DeliveryDelay": "delivery_delay",
}  # fmt: skip


def check_complete(detail: SesEventDetail) -> None:
    needed = REQUIRED_OBJECT.get(detail.event_type)
    if needed and getattr(detail, needed) is None:
        raise RejectedPayload(f"a {detail.event_type} event without its {needed} object")
