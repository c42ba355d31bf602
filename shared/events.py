"""The event catalog: every fact the services tell each other, as versioned contracts.

Each event is a frozen pydantic model with the common envelope (event_id,
type, version, occurred_at, correlation_id, causation_id, data). The routing
key is the type. A contract changes by adding a type or a version, never by
editing one in place: `parse_event` dispatches on (type, version).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self, TypeAlias, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
)

from shared.addresses import redact_addresses

Reason = Annotated[str, Field(max_length=2000)]
CorrelationId = Annotated[str, Field(min_length=1, max_length=128)]


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(Contract):
    """The common envelope. Subclasses fix `type`, `version` and `data`."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: CorrelationId
    causation_id: uuid.UUID | None = None
    data: Any

    @classmethod
    def new(cls, data: Any, *, correlation_id: str | None = None, cause: Envelope | None = None) -> Self:
        """A fresh event; caused by `cause` it inherits its correlation id."""
        if correlation_id is None:
            correlation_id = cause.correlation_id if cause else str(uuid.uuid4())
        return cls.model_validate(
            {
                "data": data,
                "correlation_id": correlation_id,
                "causation_id": cause.event_id if cause else None,
            }
        )

    @property
    def routing_key(self) -> str:
        return self.type


# ------------------------------------------------------------------ campaigns


class CampaignRef(Contract):
    campaign_id: uuid.UUID


class CampaignRequestedData(CampaignRef):
    requested_by: str | None = Field(default=None, max_length=320)


class CampaignChunkCompletedData(CampaignRef):
    """A chunk of a sender run ended; with has_more it asks for the next chunk."""

    run_id: uuid.UUID
    chunk: int = Field(ge=1)
    attempted: int = Field(ge=0)
    sent: int = Field(ge=0)
    failed: int = Field(ge=0)
    unknown: int = Field(ge=0)
    cursor_seq: int = Field(ge=0)
    has_more: bool


class CampaignPausedData(CampaignRef):
    reason: Reason
    paused_by: Literal["admin", "sender", "ses", "reputation"]


# Why a campaign is paused, for programs (the admin reads `reason`). What each
# means and what lifts it: shared.lifecycle.campaign.PAUSE_REASONS.
PauseCode: TypeAlias = Literal[
    "manual", "credentials", "sandbox", "failure_run", "daily_quota", "daily_cap", "account_paused",
    "configuration", "ses_unavailable", "template", "reputation",
]  # fmt: skip


class CampaignPausedV2Data(CampaignRef):
    reason: Reason
    code: PauseCode
    paused_by: Literal["admin", "sender", "ses", "reputation"]
    # When the pause lifts by itself (daily quota and cap); None: an admin resumes it.
    resumes_at: AwareDatetime | None = None


class CampaignResumedData(CampaignRef):
    resumed_by: str | None = Field(default=None, max_length=320)


class CampaignCompletedData(CampaignRef):
    attempted: int = Field(ge=0)


class CampaignReturnedToDraftData(CampaignRef):
    returned_by: str | None = Field(default=None, max_length=320)


class CampaignRetryRequestedData(CampaignRef):
    """The admin put the campaign's failed (and, knowingly, unknown) sends back in line."""

    requeued: int = Field(ge=1)
    include_unknown: bool
    requested_by: str | None = Field(default=None, max_length=320)


class CampaignCancelledData(CampaignRef):
    reason: Reason
    cancelled_by: str | None = Field(default=None, max_length=320)


class CampaignRequested(Envelope):
    type: Literal["campaign.requested"] = "campaign.requested"
    version: Literal[1] = 1
    data: CampaignRequestedData


class CampaignChunkCompleted(Envelope):
    type: Literal["campaign.chunk_completed"] = "campaign.chunk_completed"
    version: Literal[1] = 1
    data: CampaignChunkCompletedData


class CampaignPaused(Envelope):
    type: Literal["campaign.paused"] = "campaign.paused"
    version: Literal[1] = 1
    data: CampaignPausedData


class CampaignPausedV2(Envelope):
    """Version 2 adds the machine-readable code and when the pause lifts."""

    type: Literal["campaign.paused"] = "campaign.paused"
    version: Literal[2] = 2
    data: CampaignPausedV2Data


class CampaignResumed(Envelope):
    type: Literal["campaign.resumed"] = "campaign.resumed"
    version: Literal[1] = 1
    data: CampaignResumedData


class CampaignCompleted(Envelope):
    type: Literal["campaign.completed"] = "campaign.completed"
    version: Literal[1] = 1
    data: CampaignCompletedData


class CampaignReturnedToDraft(Envelope):
    """A paused campaign back to draft, so its content can be corrected before it goes on."""

    type: Literal["campaign.returned_to_draft"] = "campaign.returned_to_draft"
    version: Literal[1] = 1
    data: CampaignReturnedToDraftData


class CampaignRetryRequested(Envelope):
    type: Literal["campaign.retry_requested"] = "campaign.retry_requested"
    version: Literal[1] = 1
    data: CampaignRetryRequestedData


class CampaignCancelled(Envelope):
    type: Literal["campaign.cancelled"] = "campaign.cancelled"
    version: Literal[1] = 1
    data: CampaignCancelledData


# ------------------------------------------------------------------ sends

SendOutcome: TypeAlias = Literal["sent", "failed", "unknown"]


class SendAttemptedData(Contract):
    send_id: uuid.UUID
    campaign_id: uuid.UUID
    prospect_id: uuid.UUID
    outcome: SendOutcome
    ses_message_id: str | None = Field(default=None, max_length=256)
    error_code: str | None = Field(default=None, max_length=200)
    error_message: Reason | None = None


class SendAttempted(Envelope):
    type: Literal["send.attempted"] = "send.attempted"
    version: Literal[1] = 1
    data: SendAttemptedData


# ------------------------------------------------------------------ SES events
#
# Version 2 of every per-message SES event carries no personal data: the prospect id
# says who, and erasure deletes the person behind it. No recipient addresses, IP
# addresses or user agents; the free texts (SMTP answers, diagnostics, a link, a reason)
# have every address in them replaced (shared.addresses.redact_addresses). Version 1
# bodies (in a queue at the upgrade) are upcast on parse the way migration 0015 rewrote
# the stored ones: `upcast_ses_v1`.

Free = Annotated[str, Field(max_length=4000)]


class SesEventData(Contract):
    """What every SES event carries once event-ingest has matched it."""

    eventbridge_id: str = Field(max_length=256)
    ses_message_id: str = Field(max_length=256)
    timestamp: AwareDatetime  # the event's own time (e.g. bounce.timestamp)
    # The time SES gave lay over an hour before the send or after the event arrived: it was
    # moved to that bound (a wrong clock, or a forgery; the event itself is kept).
    timestamp_clamped: bool = False
    send_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    prospect_id: uuid.UUID | None = None


class Diagnostic(Contract):
    """A receiving server's verdict on the recipient, its addresses redacted."""

    action: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=100)
    diagnostic_code: Free | None = None


class SesDeliveryData(SesEventData):
    processing_time_millis: int | None = None
    smtp_response: Free | None = None
    reporting_mta: str | None = Field(default=None, max_length=1000)


class SesBounceData(SesEventData):
    bounce_type: Literal["Undetermined", "Permanent", "Transient"]
    bounce_subtype: str = Field(max_length=100)
    feedback_id: str | None = Field(default=None, max_length=256)
    diagnostics: tuple[Diagnostic, ...] = ()


class SesComplaintData(SesEventData):
    feedback_id: str | None = Field(default=None, max_length=256)
    complaint_feedback_type: str | None = Field(default=None, max_length=100)


class SesClickData(SesEventData):
    link: str = Field(max_length=8000)
    link_tags: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class SesRejectData(SesEventData):
    reason: Reason


class SesRenderingFailureData(SesEventData):
    template_name: str | None = Field(default=None, max_length=256)
    error_message: Reason


class SesDeliveryDelayData(SesEventData):
    delay_type: str = Field(max_length=100)
    expiration_time: AwareDatetime | None = None
    reporting_mta: str | None = Field(default=None, max_length=1000)
    diagnostics: tuple[Diagnostic, ...] = ()


class SesSendingStatusChangedData(Contract):
    """Account-level: SES stopped or resumed sending for the whole account."""

    eventbridge_id: str = Field(max_length=256)
    enabled: bool
    reason: Reason | None = None
    timestamp: AwareDatetime


class SesSend(Envelope):
    type: Literal["ses.send"] = "ses.send"
    version: Literal[2] = 2
    data: SesEventData


class SesDelivery(Envelope):
    type: Literal["ses.delivery"] = "ses.delivery"
    version: Literal[2] = 2
    data: SesDeliveryData


class SesBounce(Envelope):
    type: Literal["ses.bounce"] = "ses.bounce"
    version: Literal[2] = 2
    data: SesBounceData


class SesComplaint(Envelope):
    type: Literal["ses.complaint"] = "ses.complaint"
    version: Literal[2] = 2
    data: SesComplaintData


class SesOpen(Envelope):
    type: Literal["ses.open"] = "ses.open"
    version: Literal[2] = 2
    data: SesEventData


class SesClick(Envelope):
    type: Literal["ses.click"] = "ses.click"
    version: Literal[2] = 2
    data: SesClickData


class SesReject(Envelope):
    type: Literal["ses.reject"] = "ses.reject"
    version: Literal[2] = 2
    data: SesRejectData


class SesRenderingFailure(Envelope):
    type: Literal["ses.rendering_failure"] = "ses.rendering_failure"
    version: Literal[2] = 2
    data: SesRenderingFailureData


class SesDeliveryDelay(Envelope):
    type: Literal["ses.delivery_delay"] = "ses.delivery_delay"
    version: Literal[2] = 2
    data: SesDeliveryDelayData


class SesSendingStatusChanged(Envelope):
    type: Literal["ses.sending_status_changed"] = "ses.sending_status_changed"
    version: Literal[1] = 1
    data: SesSendingStatusChangedData


# The personal fields of version 1, dropped; its per-recipient lists became `diagnostics`.
_V1_PERSONAL = ("recipients", "complained_recipients", "ip_address", "user_agent")
_V1_DIAGNOSTICS = ("bounced_recipients", "delayed_recipients")
_V1_FREE_TEXT = ("smtp_response", "link", "reason", "error_message")
UPCAST_SES_TYPES = frozenset({
    "ses.send", "ses.delivery", "ses.bounce", "ses.complaint", "ses.open", "ses.click", "ses.reject",
    "ses.rendering_failure", "ses.delivery_delay",
})  # fmt: skip


def upcast_ses_v1(body: dict[str, Any]) -> dict[str, Any]:
    """A version 1 per-message SES event as version 2: what migration 0015 did in SQL."""
    data = {k: v for k, v in body.get("data", {}).items() if k not in _V1_PERSONAL}
    for key in _V1_FREE_TEXT:
        if isinstance(data.get(key), str):
            data[key] = redact_addresses(data[key])
    for key in _V1_DIAGNOSTICS:
        if key in data:
            data["diagnostics"] = [
                {
                    "action": r.get("action"),
                    "status": r.get("status"),
                    "diagnostic_code": redact_addresses(r["diagnostic_code"])
                    if r.get("diagnostic_code")
                    else None,
                }
                for r in data.pop(key) or ()
            ]
    return {**body, "version": 2, "data": data}


# ------------------------------------------------------------------ prospects

ProspectStatus: TypeAlias = Literal["active", "unsubscribed", "bounced", "complained"]


class ProspectUnsubscribedData(Contract):
    prospect_id: uuid.UUID
    send_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    source: Literal["one_click", "form", "complaint", "admin"]


class ProspectStatusChangedData(Contract):
    prospect_id: uuid.UUID
    from_status: ProspectStatus | None
    to_status: ProspectStatus
    reason: Reason | None = None
    override_suppression: bool = False
    changed_by: str | None = Field(default=None, max_length=320)


class ProspectErasedData(Contract):
    """The prospect's personal data was deleted (its suppression, if any, kept by hash)."""

    prospect_id: uuid.UUID
    erased_by: str | None = Field(default=None, max_length=320)


class ProspectsImportedData(Contract):
    """A CSV import wrote prospects: every row it inserted or changed has
    `updated_at >= written_since` (the import transaction's now()). No personal data:
    the search indexer reads the rows themselves."""

    written_since: AwareDatetime
    inserted: int = Field(ge=0)
    updated: int = Field(ge=0)
    imported_by: str | None = Field(default=None, max_length=320)


class ProspectRepliedData(Contract):
    """A prospect answered (the replies reader matched their message to a send of ours,
    or only to the prospect when campaign_id is None). No personal data: not the text."""

    prospect_id: uuid.UUID
    campaign_id: uuid.UUID | None = None
    send_id: uuid.UUID | None = None
    received_at: AwareDatetime


StopReason: TypeAlias = Literal[
    "reply", "auto_reply", "unsubscribe", "complaint", "bounce", "click", "open", "manual"
]


class InboundMailReceivedData(Contract):
    """SES received a mail for the reply domain; the webhook stored its notification as
    `inbound_mail` row `inbound_id`, and event-ingest's processing reads it from there."""

    inbound_id: uuid.UUID


class ReplyForwardRequestedData(Contract):
    """A received mail to forward to its campaign's owner (reply_forwards row `inbound_id`)."""

    inbound_id: uuid.UUID


class ProspectUnsubscribedV2Data(Contract):
    """Version 2 adds `reply`: the prospect asked in a reply ("remove me")."""

    prospect_id: uuid.UUID
    send_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    source: Literal["one_click", "form", "complaint", "admin", "reply"]


class SequenceStoppedData(Contract):
    """The admin ended a prospect's sequence in a campaign (the stops that follow other
    events are the projector's, from those events)."""

    campaign_id: uuid.UUID
    prospect_id: uuid.UUID
    reason: StopReason
    stopped_by: str | None = Field(default=None, max_length=320)


class ProspectReplied(Envelope):
    type: Literal["prospect.replied"] = "prospect.replied"
    version: Literal[1] = 1
    data: ProspectRepliedData


class ProspectAutoReplied(Envelope):
    """An automatic answer (out of office and the like) to a send: it stops a sequence
    only where the campaign's stop_on lists `auto_reply`, and is not a reply in the stats."""

    type: Literal["prospect.auto_replied"] = "prospect.auto_replied"
    version: Literal[1] = 1
    data: ProspectRepliedData


class InboundMailReceived(Envelope):
    type: Literal["inbound.received"] = "inbound.received"
    version: Literal[1] = 1
    data: InboundMailReceivedData


class ReplyForwardRequested(Envelope):
    type: Literal["reply.forward_requested"] = "reply.forward_requested"
    version: Literal[1] = 1
    data: ReplyForwardRequestedData


class SequenceStopped(Envelope):
    type: Literal["sequence.stopped"] = "sequence.stopped"
    version: Literal[1] = 1
    data: SequenceStoppedData


class ProspectUnsubscribed(Envelope):
    type: Literal["prospect.unsubscribed"] = "prospect.unsubscribed"
    version: Literal[1] = 1
    data: ProspectUnsubscribedData


class ProspectUnsubscribedV2(Envelope):
    type: Literal["prospect.unsubscribed"] = "prospect.unsubscribed"
    version: Literal[2] = 2
    data: ProspectUnsubscribedV2Data


class ProspectStatusChanged(Envelope):
    type: Literal["prospect.status_changed"] = "prospect.status_changed"
    version: Literal[1] = 1
    data: ProspectStatusChangedData


class ProspectErased(Envelope):
    type: Literal["prospect.erased"] = "prospect.erased"
    version: Literal[1] = 1
    data: ProspectErasedData


class ProspectsImported(Envelope):
    type: Literal["prospects.imported"] = "prospects.imported"
    version: Literal[1] = 1
    data: ProspectsImportedData


# ------------------------------------------------------------------ the catalog

CATALOG: tuple[type[Envelope], ...] = (
    CampaignRequested,
    CampaignChunkCompleted,
    CampaignPaused,
    CampaignPausedV2,
    CampaignResumed,
    CampaignCompleted,
    CampaignCancelled,
    CampaignReturnedToDraft,
    CampaignRetryRequested,
    SendAttempted,
    SesSend,
    SesDelivery,
    SesBounce,
    SesComplaint,
    SesOpen,
    SesClick,
    SesReject,
    SesRenderingFailure,
    SesDeliveryDelay,
    SesSendingStatusChanged,
    ProspectUnsubscribed,
    ProspectStatusChanged,
    ProspectErased,
    ProspectsImported,
    ProspectReplied,
    ProspectAutoReplied,
    SequenceStopped,
    ProspectUnsubscribedV2,
    InboundMailReceived,
    ReplyForwardRequested,
)


def _tag_of(cls: type[Envelope]) -> str:
    return f"{cls.model_fields['type'].default}@{cls.model_fields['version'].default}"


def _discriminate(value: Any) -> str | None:
    if isinstance(value, dict):
        return f"{value.get('type')}@{value.get('version')}"
    if isinstance(value, Envelope):
        return f"{value.type}@{value.version}"
    return None


_EVENT_UNION: Any = Annotated[
    Union[tuple(Annotated[cls, Tag(_tag_of(cls))] for cls in CATALOG)],  # noqa: UP007
    Discriminator(_discriminate),
]
_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(_EVENT_UNION)

ROUTING_KEYS: frozenset[str] = frozenset(cls.model_fields["type"].default for cls in CATALOG)


class UnknownEventError(ValueError):
    """The body names a (type, version) this build does not know."""


def parse_event(body: bytes | str | dict[str, Any]) -> Envelope:
    """Validate a message body (JSON bytes/str or a dict) into its event class.

    Raises ValueError for a body that is not a JSON object, UnknownEventError
    for an envelope of a (type, version) not in the catalog, and
    pydantic.ValidationError (a ValueError) for a malformed known event.
    """
    if not isinstance(body, dict):
        body = json.loads(body)
        if not isinstance(body, dict):
            raise ValueError("an event must be a JSON object")
    if body.get("version") == 1 and body.get("type") in UPCAST_SES_TYPES:
        body = upcast_ses_v1(body)
    tag = _discriminate(body)
    if tag not in _KNOWN_TAGS:
        raise UnknownEventError(f"unknown event type/version {tag}")
    return _ADAPTER.validate_python(body)


_KNOWN_TAGS = frozenset(_tag_of(cls) for cls in CATALOG)
