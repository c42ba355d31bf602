"""Campaign use cases. Sending is asynchronous: the gateway appends an event, the sender acts."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from api_gateway import audiences
from api_gateway.adapters import campaigns as store
from api_gateway.adapters import prospects as prospect_store
from api_gateway.adapters import segments as segment_store
from api_gateway.domain import check_sender_address
from api_gateway.schemas import (
    CampaignAudience,
    CampaignCreate,
    CampaignStep,
    CampaignUpdate,
    MissingField,
    Preview,
    RetryAccepted,
    RetryRequest,
    SendAccepted,
)
from shared import eligibility
from shared.compose import UNBUILDABLE, Composed, Thread, compose
from shared.errors import Conflict, Invalid, NotFound
from shared.event_store import append
from shared.events import (
    CampaignRequested,
    CampaignRequestedData,
    CampaignResumed,
    CampaignResumedData,
)
from shared.footer import with_footer
from shared.ids import uuid7
from shared.lifecycle import campaign as lifecycle
from shared.lifecycle import send as sends
from shared.lifecycle import sending_switch
from shared.lifecycle import sequence as sequences
from shared.links import unsubscribe_url
from shared.mime import header_items
from shared.rendering import CampaignTemplates, Recipient, TemplateError, parse_campaign
from shared.sequence import DEFAULT_STOP_ON, FIRST_STEP, follow_up_subject, steps_of, thread_headers

PREVIEW_TOKEN = "preview-token"  # noqa: S105 - a visible stand-in, not a credential
SAMPLE_RECIPIENT = Recipient(
    email="jane.doe@example.com",
    first_name="Jane",
    last_name="Doe",
    company="Example Ltd",
    title="CTO",
)


@dataclass(frozen=True)
class CampaignRules:
    ses_from_email: str
    public_base_url: str
    sender_lease_seconds: float = lifecycle.LEASE_SECONDS
    message_id_domain: str = "email.amazonses.com"
    postal_address: str | None = None  # SENDER_POSTAL_ADDRESS: the compliance footer's


def parse_templates(
    subject: str, body_html: str, body_text: str | None, custom_fields: Collection[str] | None
) -> CampaignTemplates:
    try:
        return parse_campaign(subject, body_html, body_text, custom_fields)
    except TemplateError as exc:
        raise Invalid(
            "The templates use placeholders that do not exist: " + str(exc),
            code="invalid_template",
            details=exc.problems,
        ) from None


def footer_appended(campaign: Mapping[str, Any], rules: CampaignRules) -> bool:
    """Whether any of the campaign's messages gets the compliance footer (a body of a step
    lacks the postal address or the unsubscribe link): said in the campaign's answer."""
    return any(
        with_footer(
            parse_campaign(step.subject or "Re:", step.body_html, step.body_text, custom_fields=None),
            rules.postal_address,
        ).appended
        for step in steps_of(campaign)
    )


def compose_for(
    campaign: Mapping[str, Any], recipient: Recipient, rules: CampaignRules, *, field: str = "campaign",
    custom_fields: Collection[str] | None = None, thread: Thread | None = None,
) -> Composed:  # fmt: skip
    """The message as the sender would build it. A campaign that cannot be built is
    refused here (at save, for the sample recipient, with the custom fields that exist;
    in the preview of a saved one, for the chosen prospect), never discovered by the sender."""
    templates = with_footer(
        parse_templates(campaign["subject"], campaign["body_html"], campaign["body_text"], custom_fields),
        rules.postal_address,
    ).templates
    try:
        link = unsubscribe_url(rules.public_base_url, PREVIEW_TOKEN)
        return compose(campaign, templates, recipient, link, thread)
    except UNBUILDABLE as exc:
        raise Invalid(
            f"The message cannot be built: {exc}.", code="unbuildable_message", details={"field": field}
        ) from None


async def checked_audience(
    conn: asyncpg.Connection, audience: CampaignAudience | None
) -> dict[str, Any] | None:
    """The audience as stored, once its segment exists and its rule compiles."""
    if audience is None:
        return None
    if audience.segment_id is not None:
        # Held until the caller's transaction ends: the segment cannot be deleted meanwhile.
        if await segment_store.get(conn, audience.segment_id, lock="FOR KEY SHARE") is None:
            raise Invalid(
                f"No segment {audience.segment_id}.", code="unknown_segment",
                details=[{"field": "audience.segment_id", "message": "no such segment"}],
            )  # fmt: skip
    else:
        audiences.predicate(audience.rule, path="audience.rule")
    return audience.stored()


def stored_steps(steps: list[CampaignStep]) -> list[dict[str, Any]]:
    """The follow-ups as stored: each keeps the id it was given, a new one gets one."""
    ids = [step.id for step in steps if step.id is not None]
    if len(set(ids)) != len(ids) or FIRST_STEP in ids:
        raise Invalid(
            "Each step's id must be distinct (and not the nil id, which is step 1's).", code="invalid_steps",
            details=[{"field": "steps", "message": "repeated step id"}],
        )  # fmt: skip
    return [
        {"id": str(step.id or uuid7()), "wait": step.wait, "subject": step.subject, "body_html": step.body_html,
         "body_text": step.body_text}
        for step in steps
    ]  # fmt: skip


def as_follow_up(
    campaign: Mapping[str, Any], step: Mapping[str, Any], default_subject: str
) -> dict[str, Any]:
    """The campaign with a follow-up's content in place of step 1's (its sender, reply-to kept)."""
    return {**campaign, "subject": step["subject"] or default_subject, "body_html": step["body_html"],
            "body_text": step["body_text"]}  # fmt: skip


def check_steps(
    campaign: Mapping[str, Any],
    steps: list[dict[str, Any]],
    rules: CampaignRules,
    custom_fields: Collection[str],
) -> None:
    """Every follow-up builds, for the sample recipient, as the sender would build it."""
    for index, step in enumerate(steps):
        as_sent = as_follow_up(campaign, step, follow_up_subject(campaign["subject"]))
        compose_for(as_sent, SAMPLE_RECIPIENT, rules, field=f"steps[{index}]", custom_fields=custom_fields)


def sequence_fields(data: CampaignCreate | CampaignUpdate, given: Collection[str]) -> dict[str, Any]:
    """The sequence's fields among those given, as stored."""
    fields: dict[str, Any] = {}
    if "steps" in given:
        fields["steps"] = stored_steps(data.steps or [])
    if "stop_on" in given:
        fields["stop_on"] = list(dict.fromkeys(data.stop_on if data.stop_on is not None else DEFAULT_STOP_ON))
    if "schedule" in given:
        fields["schedule"] = data.schedule.stored() if data.schedule is not None else None
    if "daily_new_limit" in given:
        fields["daily_new_limit"] = data.daily_new_limit
    return fields


async def create(pool: asyncpg.Pool, data: CampaignCreate, rules: CampaignRules) -> asyncpg.Record:
    check_sender_address(data.from_email, rules.ses_from_email)
    fields = {**data.model_dump(exclude=set(lifecycle.SEQUENCE_FIELDS)),
              **sequence_fields(data, lifecycle.SEQUENCE_FIELDS)}  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        custom_fields = await prospect_store.attribute_keys(conn)
        compose_for(fields, SAMPLE_RECIPIENT, rules, custom_fields=custom_fields)
        check_steps(fields, fields["steps"], rules, custom_fields)
        fields["audience"] = await checked_audience(conn, data.audience)
        return await lifecycle.insert(conn, fields)


async def get_with_stats(
    pool: asyncpg.Pool, campaign_id: uuid.UUID
) -> tuple[asyncpg.Record, dict[str, Any], dict[str, int]]:
    async with pool.acquire() as conn:
        row = await store.get_with_stats(conn, campaign_id)
        if row is None:
            raise NotFound(f"No campaign {campaign_id}.")
        stats: dict[str, Any] = {
            **store.stats_of(row),
            "eligible": await eligibility.count(conn, campaign_id),
            "follow_ups_left": await eligibility.follow_ups_left(conn, campaign_id),
            "steps": await store.step_stats(conn, campaign_id, 1 + len(row["steps"] or [])),
        }
        retryable = await sends.retryable(conn, campaign_id)
    return row, stats, retryable


async def update(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, data: CampaignUpdate, rules: CampaignRules, *, actor: str,
    correlation_id: str,
) -> asyncpg.Record:  # fmt: skip
    given = data.model_fields_set - {"status", "reason"}
    fields = data.model_dump(include=given - lifecycle.SEQUENCE_FIELDS)
    sequence = sequence_fields(data, given)
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, campaign_id)
        if fields:
            lifecycle.check_editable(row["status"])
        if sequence:
            lifecycle.check_sequence_editable(row["status"])
        if fields or sequence:
            merged = {**dict(row), **fields, **sequence}
            if "from_email" in fields:
                check_sender_address(merged["from_email"], rules.ses_from_email)
            custom_fields = await prospect_store.attribute_keys(conn)
            compose_for(merged, SAMPLE_RECIPIENT, rules, custom_fields=custom_fields)
            check_steps(merged, merged["steps"], rules, custom_fields)
            if "audience" in fields:
                fields["audience"] = await checked_audience(conn, data.audience)
            changes = {**{k: (v if k != "body_text" else v or "") for k, v in fields.items()}, **sequence}
            row = await lifecycle.edit(conn, campaign_id, changes)
        if data.status is None or data.status == row["status"]:
            return row
        if data.status == "paused":
            lifecycle.check_pausable(row["status"])
            reason = data.reason or f"paused by {actor}"
            await lifecycle.pause(
                conn, campaign_id, reason, code="manual", by="admin", correlation_id=correlation_id
            )
        elif data.status == "cancelled":
            lifecycle.check_cancellable(row["status"])
            reason = data.reason or f"cancelled by {actor}"
            await lifecycle.cancel(conn, campaign_id, reason, by=actor, correlation_id=correlation_id)
        else:
            lifecycle.check_redraftable(row["status"])
            await lifecycle.redraft(conn, campaign_id, by=actor, correlation_id=correlation_id)
        return await _locked(conn, campaign_id)


async def _locked(conn: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record:
    row = await store.get(conn, campaign_id, for_update=True)
    if row is None:
        raise NotFound(f"No campaign {campaign_id}.")
    return row


async def request_send(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, rules: CampaignRules, *, actor: str, correlation_id: str
) -> SendAccepted:
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, campaign_id)
        decision = lifecycle.decide_send(row["status"])
        if decision != "already_sending" and not (switch := await sending_switch.read(conn)).enabled:
            raise Conflict(
                "Sending is disabled on the SES configuration set (the kill switch): "
                f"{switch.reason or 'by an admin'}. Re-enable it on the Reputation page first.",
                code="sending_disabled",
            )
        if decision == "already_sending":
            return await _ask_again_if_lost(
                conn, campaign_id, rules, actor=actor, correlation_id=correlation_id
            )
        # Counted only to decide a send again (the counts walk the lists, under the row lock).
        eligible = follow_ups = None
        if decision == "reopen":
            eligible = await eligibility.count(conn, campaign_id)
            follow_ups = await eligibility.follow_ups_left(conn, campaign_id)
            if eligible == 0 and follow_ups == 0:
                raise Conflict(
                    "Every eligible prospect has had this campaign already, and no follow-up is left; "
                    "add prospects or a follow-up, then send it again.",
                    code="nothing_new",
                    details={"eligible": 0, "follow_ups_left": 0},
                )
        event: CampaignRequested | CampaignResumed
        if decision == "resume":
            event = CampaignResumed.new(
                CampaignResumedData(campaign_id=campaign_id, resumed_by=actor), correlation_id=correlation_id
            )
        else:
            event = CampaignRequested.new(
                CampaignRequestedData(campaign_id=campaign_id, requested_by=actor),
                correlation_id=correlation_id,
            )
        await lifecycle.start(conn, event, reopen=decision == "reopen")
    detail = {
        "request": "sending requested",
        "resume": "sending resumed",
        "reopen": "sending to new prospects" if eligible else "sending the follow-ups left",
    }
    return SendAccepted(
        campaign_id=campaign_id, status="sending", accepted=True, detail=detail[decision], eligible=eligible,
        follow_ups_left=follow_ups,
    )  # fmt: skip


UNKNOWN_WARNING = (
    "Unknown sends were included: SES may have delivered some of them already, so those "
    "prospects may get the message twice."
)


async def retry(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, data: RetryRequest, *, actor: str, correlation_id: str
) -> RetryAccepted:
    """Failed sends (and unknown ones when asked) back in line, sent again under the same rules:
    a completed campaign starts sending again for them; a paused one sends them when resumed."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, campaign_id)
        if row["status"] in ("draft", "cancelled"):
            raise Conflict(f"A {row['status']} campaign has no sends to retry.", code="not_retryable")
        requeued = await sends.requeue(
            conn,
            campaign_id,
            include_unknown=data.include_unknown,
            actor=actor,
            correlation_id=correlation_id,
        )
        status = row["status"]
        if requeued and status == "completed":
            event = CampaignRequested.new(
                CampaignRequestedData(campaign_id=campaign_id, requested_by=actor),
                correlation_id=correlation_id,
            )
            await lifecycle.start(conn, event, reopen=True)
            status = "sending"
    if not requeued:
        detail = "nothing to retry"
    elif status == "paused":
        detail = "back in line; they are sent when the campaign is resumed"
    else:
        detail = "back in line; sending"
    if requeued and data.include_unknown:
        detail = f"{detail}. {UNKNOWN_WARNING}"
    return RetryAccepted(
        campaign_id=campaign_id,
        requeued=requeued,
        include_unknown=data.include_unknown,
        status=status,
        detail=detail,
    )


async def _ask_again_if_lost(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, rules: CampaignRules, *, actor: str, correlation_id: str
) -> SendAccepted:
    """Send on a sending campaign changes nothing while its sender is alive; when its work
    was lost (a dead-lettered chunk, a sender gone), it asks for it again."""
    event = CampaignRequested.new(
        CampaignRequestedData(campaign_id=campaign_id, requested_by=actor), correlation_id=correlation_id
    )
    lost = await lifecycle.rerequest_if_stalled(conn, event, rules.sender_lease_seconds)
    detail = "its work was lost: sending requested again" if lost else "already sending"
    return SendAccepted(campaign_id=campaign_id, status="sending", accepted=True, detail=detail)


async def continue_sending(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, *, correlation_id: str
) -> SendAccepted:
    """Re-request a campaign that is sending (chunk re-entry, as in the reference design)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, campaign_id)
        if row["status"] != "sending":
            raise Conflict(
                f"Only a sending campaign can be continued; this one is {row['status']}.",
                code="not_sending",
            )
        await append(
            conn,
            CampaignRequested.new(
                CampaignRequestedData(campaign_id=campaign_id, requested_by="internal"),
                correlation_id=correlation_id,
            ),
        )
    return SendAccepted(
        campaign_id=campaign_id, status="sending", accepted=True, detail="continuation requested"
    )


# Always there: the address is required, the link is the sender's.
ALWAYS_SET = frozenset({"email", "unsubscribe_url"})


def unfallen_placeholders(templates: CampaignTemplates) -> list[str]:
    """Placeholders used somewhere without a fallback, in order of first use."""
    parts = [templates.subject, templates.html, *([templates.text] if templates.text else [])]
    names = (p.name for t in parts for p in t.placeholders if p.fallback is None and p.name not in ALWAYS_SET)
    return list(dict.fromkeys(names))


# Stand-ins for the SES message ids of the steps before, in a preview of a prospect who
# has not had them (the sender quotes the real ones).
SAMPLE_MESSAGE_ID = "0100018f-preview-{step}-000000000000"


async def _follow_up(
    pool: asyncpg.Pool, campaign: Mapping[str, Any], step: int, recipient: Recipient,
    prospect_id: uuid.UUID | None, rules: CampaignRules,
) -> tuple[dict[str, Any], Thread]:  # fmt: skip
    """A follow-up as the sender builds it: its own content, "Re: " and step 1's subject as
    the prospect received it (or would), threaded on their earlier messages."""
    follow_ups = campaign["steps"] or []
    if not 2 <= step <= len(follow_ups) + 1:
        raise NotFound(f"The campaign has no step {step} (it has {len(follow_ups) + 1}).")
    chosen = follow_ups[step - 2]
    progress = None
    if prospect_id is not None:
        progress = await pool.fetchrow(
            "SELECT thread_subject, message_ids FROM sequence_progress WHERE campaign_id = $1 AND prospect_id = $2",
            campaign["id"], prospect_id,
        )  # fmt: skip
    if progress is not None:
        first_subject, ids = progress["thread_subject"], list(progress["message_ids"])
    else:
        first_subject = compose_for(campaign, recipient, rules).content.subject
        ids = [SAMPLE_MESSAGE_ID.format(step=n) for n in range(1, step)]
    as_sent = as_follow_up(campaign, chosen, "Re:")  # the thread's subject replaces it
    reply_subject = None if chosen["subject"] else follow_up_subject(first_subject)
    return as_sent, Thread(reply_subject, thread_headers(ids, rules.message_id_domain))


async def preview(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, prospect_id: uuid.UUID | None, rules: CampaignRules,
    member: int | None = None, step: int = 1,
) -> Preview:  # fmt: skip
    """The message (step 1, or a follow-up `step`) for the sample recipient, a chosen
    prospect, or the audience's member at a position; with how many of the audience would
    read each placeholder empty."""
    async with pool.acquire() as conn:
        campaign = await store.get(conn, campaign_id)
        if campaign is None:
            raise NotFound(f"No campaign {campaign_id}.")
        recipient = SAMPLE_RECIPIENT
        if member is not None:
            prospect = await eligibility.member(conn, campaign_id, member)
            if prospect is None:
                raise NotFound(f"The audience has no member at position {member}.")
            prospect_id, recipient = prospect["id"], Recipient.of(prospect)
        elif prospect_id is not None:
            prospect = await prospect_store.get(conn, prospect_id)
            if prospect is None:
                raise NotFound(f"No prospect {prospect_id}.")
            recipient = Recipient.of(prospect)
        templates = parse_templates(campaign["subject"], campaign["body_html"], campaign["body_text"], None)
        names = unfallen_placeholders(templates)
        audience, missing = await eligibility.missing_values(conn, campaign_id, names)
    as_sent, thread = campaign, None
    if step > 1:
        as_sent, thread = await _follow_up(pool, campaign, step, recipient, prospect_id, rules)
    part = f"steps[{step - 2}]" if step > 1 else "campaign"
    composed = compose_for(
        as_sent, recipient, rules, field="prospect_id" if prospect_id else part, thread=thread
    )
    content = composed.content
    return Preview(
        subject=content.subject, html=content.html, text=content.text,
        headers=header_items(composed.message), mime=composed.raw().decode("ascii"), prospect_id=prospect_id,
        audience=audience,
        missing=[
            MissingField(placeholder=name, prospects=n,
                         message=f"{n} of {audience} prospects have no {name}: they will read it empty "
                                 f'(a fallback: {{{{ {name} | "..." }}}})')
            for name, n in missing.items() if n
        ],
    )  # fmt: skip


async def stop_prospect(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, prospect_id: uuid.UUID, *, actor: str, correlation_id: str
) -> bool:
    """The admin ends a prospect's sequence in the campaign: nothing more is claimed for
    them there (their next claim finds the stop). False: they were stopped already."""
    async with pool.acquire() as conn, conn.transaction():
        if await store.get(conn, campaign_id) is None:
            raise NotFound(f"No campaign {campaign_id}.")
        if await prospect_store.get(conn, prospect_id) is None:
            raise NotFound(f"No prospect {prospect_id}.")
        return await sequences.stop_by_admin(
            conn, campaign_id, prospect_id, actor=actor, correlation_id=correlation_id
        )
