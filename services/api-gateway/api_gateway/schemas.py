"""Request and response shapes of the admin API (pydantic; also the OpenAPI schemas)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from shared.addresses import InvalidAddress, normalize_email
from shared.audience import MAX_TAG_CHARS, MAX_TAGS, normalize_tags
from shared.events import PauseCode, ProspectStatus
from shared.header_safety import breaks_header
from shared.schedule import PROSPECT_ZONE, WEEKDAYS, Wait, zone
from shared.sequence import DEFAULT_STOP_ON, StopEvent


def _address(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from None


def _single_line(value: str | None) -> str | None:
    # What may reach a header (a subject, a from name, a placeholder in a subject) may
    # hold no character the email package could read as a break.
    if value is not None and breaks_header(value):
        raise ValueError(
            "must be a single line without control characters (no line breaks, tabs, U+0085, U+2028, U+2029)"
        )
    return value


Address = Annotated[str, Field(max_length=320), AfterValidator(_address)]
Line = Annotated[str, AfterValidator(_single_line)]


def _bounded_attributes(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(str(value)) > 16_000:
        raise ValueError("attributes are limited to about 16 KB")
    return value


Attributes = Annotated[dict[str, Any], AfterValidator(_bounded_attributes)]


def _tags(value: list[str]) -> list[str]:
    return normalize_tags(value)


# Tags compare without case: stored lower-cased, distinct, at most 50.
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_TAG_CHARS)]],
    Field(max_length=MAX_TAGS),
    AfterValidator(_tags),
]


def _zone_name(value: str) -> str:
    zone(value)
    return value


Timezone = Annotated[str, Field(max_length=64, examples=["Europe/Berlin"]), AfterValidator(_zone_name)]
# The rule's shape is described once, in components.schemas.AudienceRule
# (shared.audience.RULE_JSON_SCHEMA); it is compiled, with errors naming its path, by
# api_gateway.audiences.
# (pydantic resolves every $ref itself, so the field carries a marker that
# api_gateway.openapi turns into the reference.)
AudienceRule = Annotated[dict[str, Any], WithJsonSchema({"x-component": "AudienceRule"})]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# GDPR Article 6(1): the lawful basis for contacting a prospect, when the team records one.
LawfulBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
]
Note = Annotated[Line, Field(max_length=500)]


class ProspectCreate(Input):
    email: Address
    first_name: Annotated[Line, Field(max_length=200)] | None = None
    last_name: Annotated[Line, Field(max_length=200)] | None = None
    company: Annotated[Line, Field(max_length=300)] | None = None
    title: Annotated[Line, Field(max_length=300)] | None = None
    timezone: Timezone | None = None
    attributes: Attributes = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    lawful_basis: LawfulBasis | None = None
    # Where the prospect came from, in words (kept in its source with the admin's name).
    source_note: Note | None = None


class ProspectUpdate(Input):
    first_name: Annotated[Line, Field(max_length=200)] | None = None
    last_name: Annotated[Line, Field(max_length=200)] | None = None
    company: Annotated[Line, Field(max_length=300)] | None = None
    title: Annotated[Line, Field(max_length=300)] | None = None
    timezone: Timezone | None = None
    attributes: Attributes | None = None
    tags: Tags | None = None
    lawful_basis: LawfulBasis | None = None
    status: ProspectStatus | None = None
    override_suppression: bool = False
    status_reason: Annotated[Line, Field(max_length=500)] | None = None


class ProspectQuery(Input):
    status: ProspectStatus | None = None
    q: Annotated[str, Field(max_length=200)] | None = None
    segment: uuid.UUID | None = Field(None, description="Only the members of this saved segment")
    # 2,000 characters, percent-encoded, fit the request line (shared.http.MAX_REQUEST_LINE);
    # a longer rule goes in a segment.
    rule: Annotated[str, Field(max_length=2000)] | None = Field(
        None, description="Only the prospects matching this audience rule (AudienceRule as JSON text)"
    )
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class Prospect(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    timezone: str | None = None
    attributes: dict[str, Any]
    tags: list[str]
    status: ProspectStatus
    status_reason: str | None
    # Where it came from, set when it was created and kept: {"via": "import" | "api",
    # "file"?, "note"?, "by"?}; null for prospects created before sources were recorded.
    source: dict[str, Any] | None = None
    lawful_basis: LawfulBasis | None = None
    # role, disposable (the address itself), no_mx (its domain takes no mail): left out of
    # campaigns unless one opts in (include_flagged).
    address_flags: list[str] = []
    created_at: datetime
    updated_at: datetime


class PageInfo(BaseModel):
    page: int
    limit: int
    total: int
    pages: int


def page_info(page: int, limit: int, total: int) -> PageInfo:
    return PageInfo(page=page, limit=limit, total=total, pages=(total + limit - 1) // limit)


class ProspectPage(BaseModel):
    items: list[Prospect]
    total: int
    page: PageInfo


class ImportQuery(Input):
    tag: Tags = Field(default_factory=list, description="Tags added to every row of the file (repeatable)")
    file_name: Annotated[Line, Field(max_length=255)] | None = Field(
        None,
        description="The file's name, kept in the new prospects' source (a multipart part's own by default)",
    )
    note: Note | None = Field(None, description="Where the list came from, kept in the new prospects' source")
    lawful_basis: LawfulBasis | None = Field(
        None, description="Set on every prospect of the file (new and existing); left out: each keeps its own"
    )


class ImportError_(BaseModel):
    line: int
    reason: str


class ImportReport(BaseModel):
    inserted: int
    updated: int
    # Of the inserted: addresses suppressed before (opted out, bounced, erased), which
    # come back with that status and are never mailed.
    suppressed: int
    unchanged: int
    duplicates: int
    invalid: int
    errors: list[ImportError_]


class CampaignAudience(Input):
    """Who the campaign reaches: a saved segment (its rule as it is when each batch is
    read) or a rule of its own. Left out or null: every active prospect."""

    segment_id: uuid.UUID | None = None
    rule: AudienceRule | None = None

    @model_validator(mode="after")
    def _one(self) -> CampaignAudience:
        if (self.segment_id is None) == (self.rule is None):
            raise ValueError('give "segment_id" or "rule", one of them')
        return self

    def stored(self) -> dict[str, Any]:
        return {"segment_id": str(self.segment_id)} if self.segment_id else {"rule": self.rule}


FrequencyCap = Annotated[int, Field(ge=1, le=365, description="Nobody contacted by another campaign in this "
                                                              "many days is sent this one")]  # fmt: skip


def _wait(value: str) -> str:
    Wait.parse(value)
    return value.strip().upper()


Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:00"])]
MAX_STEPS = 20


class CampaignStep(Input):
    """A follow-up after the campaign's own message (step 1). `wait` counts from the
    prospect's previous step: its days are the schedule's sending days, its hours,
    minutes and seconds elapsed time. Without a subject, the follow-up's is "Re: " and
    step 1's as the prospect received it; it goes as a reply in their thread."""

    id: uuid.UUID | None = Field(None, description="Keep a step's id when editing it (a new step gets one)")
    wait: Annotated[str, Field(max_length=40, examples=["P2D", "PT4H", "P3DT12H"]), AfterValidator(_wait)]
    subject: Annotated[Line, Field(min_length=1, max_length=998)] | None = None
    body_html: Annotated[str, Field(min_length=1, max_length=500_000)]
    body_text: Annotated[str, Field(max_length=500_000)] | None = None


class CampaignSchedule(Input):
    """When the campaign may send: on `days`, from `from` to `to` (local wall-clock time;
    "24:00" is the end of the day) in `timezone`, or with "prospect" each prospect's own
    timezone (else `fallback_timezone`); nothing before `start_at`."""

    model_config = ConfigDict(populate_by_name=True)
    start_at: AwareDatetime | None = None
    timezone: Annotated[str, Field(max_length=64, examples=["America/New_York", "prospect"])]
    fallback_timezone: Timezone = "UTC"
    days: Annotated[
        list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]], Field(min_length=1, max_length=7)
    ]
    from_: Annotated[Clock, Field(alias="from")]
    to: Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", examples=["17:00", "24:00"])]

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return value if value == PROSPECT_ZONE else _zone_name(value)

    @model_validator(mode="after")
    def _window(self) -> CampaignSchedule:
        if len(set(self.days)) != len(self.days):
            raise ValueError("days are listed more than once")
        if self.to != "24:00" and self.to <= self.from_:
            raise ValueError(
                '"to" must be later than "from" on the same day (use "24:00" for the end of the day)'
            )
        return self

    def stored(self) -> dict[str, Any]:
        return {
            "start_at": self.start_at.isoformat() if self.start_at else None, "timezone": self.timezone,
            "fallback_timezone": self.fallback_timezone, "days": [d for d in WEEKDAYS if d in self.days],
            "from": self.from_, "to": self.to,
        }  # fmt: skip


StopOn = Annotated[
    list[StopEvent],
    Field(max_length=7, description="Events that end a prospect's remaining steps in this campaign"),
]
DailyNewLimit = Annotated[
    int, Field(ge=1, le=10_000_000, description="At most this many prospects start step 1 a day")
]
Steps = Annotated[list[CampaignStep], Field(max_length=MAX_STEPS)]


class CampaignCreate(Input):
    name: Annotated[Line, Field(min_length=1, max_length=200)]
    subject: Annotated[Line, Field(min_length=1, max_length=998)]
    body_html: Annotated[str, Field(min_length=1, max_length=500_000)]
    body_text: Annotated[str, Field(max_length=500_000)] | None = None
    from_email: Address
    from_name: Annotated[Line, Field(max_length=200)] | None = None
    reply_to: Address | None = None
    audience: CampaignAudience | None = None
    frequency_cap_days: FrequencyCap | None = None
    # Role, disposable and no-MX addresses too (shared.address_checks); left out by default.
    include_flagged: bool = False
    steps: Steps = []
    stop_on: StopOn = list(DEFAULT_STOP_ON)
    schedule: CampaignSchedule | None = None
    daily_new_limit: DailyNewLimit | None = None


class CampaignUpdate(Input):
    name: Annotated[Line, Field(min_length=1, max_length=200)] | None = None
    subject: Annotated[Line, Field(min_length=1, max_length=998)] | None = None
    body_html: Annotated[str, Field(min_length=1, max_length=500_000)] | None = None
    body_text: Annotated[str, Field(max_length=500_000)] | None = None
    from_email: Address | None = None
    from_name: Annotated[Line, Field(max_length=200)] | None = None
    reply_to: Address | None = None
    audience: CampaignAudience | None = None
    frequency_cap_days: FrequencyCap | None = None
    include_flagged: bool | None = None
    # The sequence may change while the campaign sends.
    steps: Steps | None = None
    stop_on: StopOn | None = None
    schedule: CampaignSchedule | None = None
    daily_new_limit: DailyNewLimit | None = None
    status: Literal["draft", "paused", "cancelled"] | None = None
    reason: Annotated[Line, Field(max_length=500)] | None = None


class CampaignQuery(Input):
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class CampaignRef(Input):
    campaignId: uuid.UUID

    @field_validator("campaignId", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a UUID string")
        return value


class PreviewQuery(Input):
    prospect_id: uuid.UUID | None = None
    member: Annotated[int, Field(ge=0, le=10_000_000)] | None = Field(
        None, description="Preview for the audience's member at this position (from 0, in the sender's order)"
    )
    step: Annotated[int, Field(ge=1, le=MAX_STEPS + 1)] = Field(
        1, description="The step to preview: 1 is the campaign's own message, 2 its first follow-up"
    )


class MissingField(BaseModel):
    placeholder: str
    prospects: int
    message: str


class StepStats(BaseModel):
    """One step's counters (step 1 is the campaign's own message); `stopped`: prospects
    whose sequence stopped after this step."""

    step: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    replied: int
    bounced: int
    unsubscribed: int
    stopped: int


class CampaignStats(BaseModel):
    """`eligible` and `follow_ups_left` (asked for on one campaign's page), then one count
    per name in shared.campaign_stats.STAT_NAMES, in that order (tests/unit/test_architecture.py
    checks), then the same per step (on one campaign's page)."""

    eligible: int | None = None
    # Prospects in the sequence with a follow-up still to come (stopped ones aside).
    follow_ups_left: int | None = None
    sent: int
    delivered: int
    opened: int
    clicked: int
    replied: int
    bounced: int
    complained: int
    unsubscribed: int
    failed: int
    rejected: int
    rendering_failed: int
    delivery_delayed: int
    unknown: int
    steps: list[StepStats] | None = None


class Campaign(BaseModel):
    id: uuid.UUID
    name: str
    subject: str
    body_html: str
    body_text: str
    from_email: str
    from_name: str | None
    reply_to: str | None
    audience: dict[str, Any] | None = None
    frequency_cap_days: int | None = None
    include_flagged: bool = False
    steps: list[dict[str, Any]] = []
    stop_on: list[str] = list(DEFAULT_STOP_ON)
    schedule: dict[str, Any] | None = None
    daily_new_limit: int | None = None
    # While the campaign waits (a follow-up's due time, the schedule's next window,
    # start_at, the daily limit): the earliest instant anything may go.
    next_send_at: datetime | None = None
    # Why: "schedule" (also a follow-up's wait, start_at, the daily limit), "domain_pacing"
    # (every recipient domain left must wait: DOMAIN_RATE_PER_MINUTE), "warmup" (the
    # sending domain's allowance for the day is used: WARMUP_SCHEDULE).
    wait_reason: Literal["schedule", "domain_pacing", "warmup"] | None = None
    status: str
    status_reason: str | None
    # Why it is paused, for programs (shared.lifecycle.campaign.PAUSE_REASONS), and when
    # the pause lifts by itself (daily quota and cap; otherwise the admin resumes).
    pause_reason: PauseCode | None = None
    resumes_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    # A body lacked the sender's postal address or a visible unsubscribe link, so the
    # standard footer with both is appended to it (the preview shows it).
    footer_appended: bool = False


class Retryable(BaseModel):
    """Sends a retry would put back in line: failed ones, and unknown ones if asked."""

    failed: int
    unknown: int


class CampaignWithStats(BaseModel):
    campaign: Campaign
    stats: CampaignStats
    retryable: Retryable | None = None


class RetryRequest(Input):
    # An unknown send may already have been delivered: retrying it may send a second copy.
    include_unknown: bool = False


class RetryAccepted(BaseModel):
    campaign_id: uuid.UUID
    requeued: int
    include_unknown: bool
    status: str
    detail: str


class CampaignSummary(Campaign):
    stats: CampaignStats


class CampaignPage(BaseModel):
    items: list[CampaignSummary]
    total: int
    page: PageInfo


class StopResult(BaseModel):
    campaign_id: uuid.UUID
    prospect_id: uuid.UUID
    # False: the prospect's sequence in this campaign had stopped already (the first stop stands).
    stopped: bool
    detail: str


class StoppedProspect(BaseModel):
    prospect_id: uuid.UUID
    email: str
    reason: str
    stopped_at: datetime
    # The step they would have had next, when one was planned.
    next_step: int | None = None


class DueSend(BaseModel):
    prospect_id: uuid.UUID
    email: str
    step: int
    due_at: datetime


class DueQueue(BaseModel):
    """The follow-ups planned next, earliest first (first steps go in arrival order)."""

    items: list[DueSend]
    next_send_at: datetime | None


class StopList(BaseModel):
    items: list[StoppedProspect]
    total: int
    page: PageInfo


class SendAccepted(BaseModel):
    campaign_id: uuid.UUID
    status: str
    accepted: bool
    detail: str
    # For a completed campaign sent again: the prospects added since, whom it will reach,
    # and those whose follow-ups remain (a step added after it completed).
    eligible: int | None = None
    follow_ups_left: int | None = None


class Preview(BaseModel):
    subject: str
    html: str
    text: str
    headers: list[tuple[str, str]]
    # The whole message (RFC 5322, CRLF line ends) exactly as the sender hands it to SES,
    # but for the per-send unsubscribe token and the MIME boundary.
    mime: str
    prospect_id: uuid.UUID | None
    # Whom the campaign reaches now, and how many of them lack a value for a placeholder
    # that has no fallback (they would read it empty).
    audience: int
    missing: list[MissingField]


class SystemInfo(BaseModel):
    """What the admin app shows on every page: whether mail is real."""

    ses_mode: Literal["emulator", "aws"]
    mail_goes_to: str
    aws_region: str


class LoginRequest(BaseModel):
    # Not Input: a password is taken exactly as typed, spaces included.
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class LoginToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name
    expires_at: datetime
    expires_in: int
    email: str


SendStatus = Literal[
    "claimed", "unknown", "failed", "sent", "delivery_delayed", "rejected", "rendering_failed", "delivered",
    "opened", "clicked", "replied", "unsubscribed", "bounced", "complained",
]  # fmt: skip


class SendQuery(Input):
    q: Annotated[str, Field(min_length=1, max_length=320)] | None = None
    status: SendStatus | None = None
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class SendRow(BaseModel):
    send_id: uuid.UUID
    prospect_id: uuid.UUID | None
    email: str | None  # None once the prospect was erased
    first_name: str | None
    last_name: str | None
    status: str
    error: str | None
    attempted_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    bounced_at: datetime | None
    complained_at: datetime | None
    unsubscribed_at: datetime | None


class SendPage(BaseModel):
    items: list[SendRow]
    total: int
    page: PageInfo


class TimelinePoint(BaseModel):
    at: datetime
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0


class Timeline(BaseModel):
    bucket_seconds: int
    points: list[TimelinePoint]


class FeedbackItem(BaseModel):
    kind: Literal["bounce", "complaint", "unsubscribe"]
    email: str | None
    at: datetime
    reason: str | None
    send_id: uuid.UUID | None


class FeedbackList(BaseModel):
    items: list[FeedbackItem]


class SegmentCreate(Input):
    name: Annotated[Line, Field(min_length=1, max_length=200)]
    rule: AudienceRule


class SegmentUpdate(Input):
    name: Annotated[Line, Field(min_length=1, max_length=200)] | None = None
    rule: AudienceRule | None = None


class Segment(BaseModel):
    id: uuid.UUID
    name: str
    rule: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


class SegmentList(BaseModel):
    items: list[Segment]


class AudienceQuery(Input):
    limit: Annotated[int, Field(ge=1, le=200)] = 20


class RulePreview(Input):
    rule: AudienceRule
    limit: Annotated[int, Field(ge=1, le=200)] = 20


class AudienceSample(BaseModel):
    """How many prospects a rule matches now, and the newest of them."""

    count: int
    items: list[Prospect]


class TagCount(BaseModel):
    tag: str
    prospects: int


class TagList(BaseModel):
    items: list[TagCount]


class FieldList(BaseModel):
    """The placeholders a template may use: the prospect's own fields, the unsubscribe
    link, and the custom fields (attribute keys) some prospect has."""

    placeholders: list[str]
    custom: list[str]


class ProspectBulk(Input):
    """A change to every prospect the filter matches: tags added and removed, or a status."""

    filter: AudienceRule
    add_tags: Tags = Field(default_factory=list)
    remove_tags: Tags = Field(default_factory=list)
    status: ProspectStatus | None = None
    override_suppression: bool = False
    status_reason: Annotated[Line, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _one_change(self) -> ProspectBulk:
        tags = bool(self.add_tags or self.remove_tags)
        if tags == (self.status is not None):
            raise ValueError('give "add_tags"/"remove_tags" or "status", one kind of change')
        return self


class BulkResult(BaseModel):
    matched: int
    changed: int


ReplyClassification = Literal["reply", "auto_reply", "bounce", "unsubscribe_request", "unmatched"]


class ReplyQuery(Input):
    campaign_id: uuid.UUID | None = None
    # "unmatched": mail matched to no prospect of ours (kept, never dropped).
    classification: ReplyClassification | None = None
    handled: bool | None = None
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class ReplySummary(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)

    id: uuid.UUID
    prospect_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    campaign_name: str | None
    step: int | None
    classification: str | None  # None while it is being read
    match_method: Literal["token", "thread", "sender"] | None
    flagged: Literal["spam", "virus"] | None
    from_: str | None = Field(serialization_alias="from")
    from_name: str | None
    subject: str | None
    received_at: datetime
    handled: bool
    processed: bool
    problem: str | None
    forward_outcome: str | None


class ReplyList(BaseModel):
    items: list[ReplySummary]
    total: int
    unhandled: int
    page: PageInfo


class ReplyAttachment(BaseModel):
    filename: str | None
    content_type: str
    size: int


class SentMessage(BaseModel):
    send_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    step: int
    status: str
    attempted_at: datetime | None


class ReplyDetail(ReplySummary):
    headers: list[tuple[str, str]]
    text: str | None
    # Sanitised (an allow-list of tags and attributes, no scripts, styles, forms or remote
    # images); the admin UI shows it only in a sandboxed frame.
    html: str | None
    attachments: list[ReplyAttachment]
    size_bytes: int | None
    forward_to: str | None
    sent: list[SentMessage]


class ReplyUpdate(Input):
    handled: bool


class WarmupDomain(BaseModel):
    domain: str
    first_send_on: date | None  # day 1 of its ramp; None: never sent from yet
    day: int | None  # today's day of the ramp
    warm: bool
    warm_since: datetime | None
    marked_by: str | None  # who marked it warm or restarted its ramp (an admin's email)
    allowance: int | None  # sends it may make today; None: no limit (warm, or no warm-up)
    sent_today: int
    remaining: int | None


class Warmup(BaseModel):
    enabled: bool
    schedule: list[int]  # WARMUP_SCHEDULE: sends a day on day 1, 2 …
    timezone: str  # WARMUP_TIMEZONE: where a day begins
    domains: list[WarmupDomain]


class WarmupChange(Input):
    # true: the domain is warm now (it has a sending history elsewhere); false: its ramp
    # starts again today at day 1.
    warm: bool


class SendingSwitch(BaseModel):
    enabled: bool  # whether sending on the SES configuration set should be enabled
    reason: str | None
    changed_by: str | None  # "reputation" (the account's guard) or an admin's email
    changed_at: datetime
    applied: bool  # the sender told SES (PutConfigurationSetSendingOptions)
    applied_at: datetime | None
    apply_error: str | None  # what SES answered, when it did not take the change
    guard_from: datetime | None  # the account's guard counts sends from here (set by a re-enable)
    configuration_set: str | None


class SendingSwitchChange(Input):
    enabled: bool
    reason: str | None = Field(default=None, max_length=500)
    # Re-enabling: SES resets the configuration set's reputation metrics; say you know.
    acknowledge_reset: bool = False


class ReputationQuery(Input):
    days: Annotated[int, Field(ge=1, le=30)] = 14


class ReputationWindow(BaseModel):
    sent: int
    bounced: int  # permanent bounces of these sends
    complained: int
    bounce_rate: float
    complaint_rate: float
    # ok, review (at or over a rate at which SES reviews the account), pause (at or over
    # one at which it may pause sending)
    state: Literal["ok", "review", "pause"]


class ReputationDay(ReputationWindow):
    day: date  # UTC


class ReputationDomain(BaseModel):
    domain: str  # the campaigns' sending domain (their from address's)
    last_24h: ReputationWindow
    last_7d: ReputationWindow
    daily: list[ReputationDay]  # days with sends, oldest first


class Reputation(BaseModel):
    thresholds: dict[str, dict[str, float]]
    domains: list[ReputationDomain]
