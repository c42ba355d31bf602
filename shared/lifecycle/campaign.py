"""A campaign's lifecycle: who may move it between which states, and the only statements
that write `email_campaigns`.

    draft ──request──► sending ◄─complete/reopen─► completed
      │  ▲              │  ▲
      │  │        pause │  │ resume
      │  │              ▼  │
      │  └──redraft──── paused
      └────cancel────► cancelled ◄──cancel── paused

Every status change is one statement that re-checks the source state in its
WHERE clause (so two writers racing cannot both win) and appends its event
only when it changed the row. A pause carries a code (PAUSE_REASONS); the
self-lifting ones (daily quota, daily cap) say when they lift, and the
sender's watch resumes them then. The gateway (admin), the sender, event-ingest
(SES account state) and the projector's reputation guard all call these.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from shared.db import set_clause
from shared.errors import Conflict
from shared.event_store import change_and_append
from shared.events import (
    CampaignCancelled,
    CampaignCancelledData,
    CampaignChunkCompleted,
    CampaignChunkCompletedData,
    CampaignCompleted,
    CampaignCompletedData,
    CampaignPausedV2,
    CampaignPausedV2Data,
    CampaignRequested,
    CampaignResumed,
    CampaignReturnedToDraft,
    CampaignReturnedToDraftData,
    Envelope,
    PauseCode,
)
from shared.ids import uuid7

Status = Literal["draft", "sending", "paused", "completed", "cancelled"]

# Every pause carries one of these codes (email_campaigns.pause_reason), beside the
# human status_reason: what it means, and what lifts it.
PAUSE_REASONS: Mapping[PauseCode, str] = {
    "manual": "the admin paused it; the admin resumes it",
    "credentials": "AWS refused or lacks the credentials (account-wide); fix them, then resume",
    "sandbox": "the SES account is in the sandbox and a recipient is not verified (account-wide); "
    "request production access, then resume",
    "failure_run": "SEND_FAILURE_RUN_PAUSE sends failed in a row; read the last error, fix, resume",
    "daily_quota": "the SES 24-hour quota is used up (account-wide); lifts by itself at resumes_at",
    "daily_cap": "DAILY_SEND_CAP is reached for the day (account-wide); lifts by itself at resumes_at",
    "account_paused": "SES paused, disabled or suspended sending for the account; resume once SES allows",
    "configuration": "an SES identity, MAIL FROM domain or configuration set is missing or unverified "
    "(account-wide); fix it, then resume",
    "ses_unavailable": "SES answered ambiguously (timeouts, 5xx) several times in a row; resume when it is back",
    "template": "the campaign's template cannot be rendered; edit it, then resume",
    "reputation": "the bounce or complaint rate passed its limit; clean the list, then resume",
}
# Pauses that lift by themselves when their window allows (the sender's watch resumes them).
SELF_LIFTING: frozenset[PauseCode] = frozenset({"daily_quota", "daily_cap"})
Actor = Literal["admin", "sender", "ses", "reputation"]
TransitionName = Literal["request", "resume", "pause", "complete", "cancel", "redraft", "reopen"]


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: Status
    actors: frozenset[Actor]


TRANSITIONS: Mapping[TransitionName, Transition] = {
    "request": Transition(frozenset({"draft"}), "sending", frozenset({"admin"})),
    # The sender resumes only a pause that lifts by itself (SELF_LIFTING), once it is due.
    "resume": Transition(frozenset({"paused"}), "sending", frozenset({"admin", "sender"})),
    "pause": Transition(
        frozenset({"sending"}), "paused", frozenset({"admin", "sender", "ses", "reputation"})
    ),
    "complete": Transition(frozenset({"sending"}), "completed", frozenset({"sender"})),
    "cancel": Transition(frozenset({"draft", "paused"}), "cancelled", frozenset({"admin"})),
    # Back to draft to correct the content (the reference design's rule); sent again, it
    # reaches only those it has not reached: claims are per campaign and prospect, for good.
    "redraft": Transition(frozenset({"paused"}), "draft", frozenset({"admin"})),
    # A completed campaign sent again reaches the prospects added since (as in the reference
    # design): a new run, and the claims keep everyone else out.
    "reopen": Transition(frozenset({"completed"}), "sending", frozenset({"admin"})),
}
# Content (subject, bodies, sender) changes only while nothing is being sent.
EDITABLE: frozenset[str] = frozenset({"draft", "paused"})


def may(transition: TransitionName, status: str, actor: Actor) -> bool:
    rule = TRANSITIONS[transition]
    return status in rule.sources and actor in rule.actors


# ------------------------------------------------------------------ the admin's checks (pure)

SendDecision = Literal["request", "resume", "reopen", "already_sending"]


def decide_send(status: str) -> SendDecision:
    """What the admin's "send" means for a campaign in `status`."""
    if status == "sending":
        return "already_sending"
    if may("request", status, "admin"):
        return "request"
    if may("resume", status, "admin"):
        return "resume"
    if may("reopen", status, "admin"):
        return "reopen"
    raise Conflict(
        f"A {status} campaign cannot be sent again.", code="not_sendable", details={"status": status}
    )


def check_editable(status: str) -> None:
    if status not in EDITABLE:
        raise Conflict(
            f"A {status} campaign cannot be edited; pause it first.", code="not_editable",
            details={"status": status},
        )  # fmt: skip


def check_sequence_editable(status: str) -> None:
    """Steps, stop rules, schedule and daily limit change at any time but after a cancel."""
    if status == "cancelled":
        raise Conflict("A cancelled campaign cannot be changed.", code="not_editable")


def check_pausable(status: str) -> None:
    """The admin may ask to pause a sending campaign; asking again once paused is no change."""
    if not may("pause", status, "admin") and status != "paused":
        raise Conflict(f"Only a sending campaign can be paused; this one is {status}.", code="not_pausable")


def check_cancellable(status: str) -> None:
    if not may("cancel", status, "admin"):
        raise Conflict(f"A {status} campaign cannot be cancelled; pause it first.", code="not_cancellable")


def check_redraftable(status: str) -> None:
    if not may("redraft", status, "admin"):
        raise Conflict(f"A {status} campaign cannot go back to draft; pause it first.", code="not_draftable")


# ------------------------------------------------------------------ the statements

COLUMNS = (
    "id, name, subject, body_html, body_text, from_email, from_name, reply_to, audience, frequency_cap_days, "
    "include_flagged, steps, stop_on, schedule, daily_new_limit, plan_version, next_send_at, wait_reason, "
    "status, status_reason, pause_reason, resumes_at, created_at, updated_at, started_at, completed_at"
)
CONTENT_FIELDS = frozenset(
    {"name", "subject", "body_html", "body_text", "from_email", "from_name", "reply_to", "audience",
     "frequency_cap_days", "include_flagged"}
)  # fmt: skip
# The sequence may change while the campaign sends (shared.lifecycle.sequence): a step
# already sent to someone is never sent again, a removed one goes to nobody more.
SEQUENCE_FIELDS = frozenset({"steps", "stop_on", "schedule", "daily_new_limit"})
# A change to these plans every prospect's next step again.
REPLANNING_FIELDS = frozenset({"steps", "schedule"})

INSERT = f"""
INSERT INTO email_campaigns (id, name, subject, body_html, body_text, from_email, from_name, reply_to,
                             audience, frequency_cap_days, steps, stop_on, schedule, daily_new_limit,
                             include_flagged)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, '[]'::jsonb),
        COALESCE($12, '{{reply,unsubscribe,complaint,bounce}}'::text[]), $13, $14, COALESCE($15, false))
RETURNING {COLUMNS}
"""

# Each transition: $1 the campaign, $2 its source states (from TRANSITIONS).
# A request starts the lease's clock too: a sender has SENDER_LEASE_SECONDS to take it
# before the work counts as lost.
START = """
UPDATE email_campaigns SET status = 'sending', status_reason = NULL, pause_reason = NULL, resumes_at = NULL,
       started_at = COALESCE(started_at, now()), completed_at = NULL, sender_lease_at = now(),
       next_send_at = NULL, wait_reason = NULL, updated_at = now()
WHERE id = $1 AND status = ANY($2::text[])
RETURNING id
"""
# The sender's resume of a pause that lifts by itself: still that pause, and due.
RESUME_DUE = """
UPDATE email_campaigns SET status = 'sending', status_reason = NULL, pause_reason = NULL, resumes_at = NULL,
       sender_lease_at = now(), next_send_at = NULL, wait_reason = NULL, updated_at = now()
WHERE id = $1 AND status = ANY($2::text[]) AND pause_reason = ANY($3::text[]) AND resumes_at <= now()
RETURNING id
"""
PAUSE = """
UPDATE email_campaigns SET status = 'paused', status_reason = $3, pause_reason = $4, resumes_at = $5,
       updated_at = now()
WHERE id = $1 AND status = ANY($2::text[])
RETURNING id
"""
# A self-lifting pause that is not over yet (the quota still used up) waits longer.
POSTPONE = """
UPDATE email_campaigns SET resumes_at = $2, updated_at = now()
WHERE id = $1 AND status = 'paused' AND pause_reason = ANY($3::text[])
RETURNING id
"""
CANCEL = """
UPDATE email_campaigns SET status = 'cancelled', status_reason = $3, pause_reason = NULL, resumes_at = NULL,
       updated_at = now()
WHERE id = $1 AND status = ANY($2::text[])
RETURNING id
"""
REDRAFT = """
UPDATE email_campaigns SET status = 'draft', status_reason = NULL, pause_reason = NULL, resumes_at = NULL,
       updated_at = now()
WHERE id = $1 AND status = ANY($2::text[])
RETURNING id
"""
# Only the sender holding the run's lease completes it.
COMPLETE = """
UPDATE email_campaigns SET status = 'completed', completed_at = now(), updated_at = now()
WHERE id = $1 AND status = ANY($2::text[]) AND sender_lease = $3
RETURNING id
"""
DUE = """
SELECT id, pause_reason, resumes_at FROM email_campaigns
WHERE resumes_at <= now() AND status = 'paused' AND pause_reason = ANY($1::text[])
ORDER BY resumes_at
"""
SENDING = "SELECT id FROM email_campaigns WHERE status = 'sending' ORDER BY id"


async def insert(conn: asyncpg.Connection | asyncpg.Pool, fields: Mapping[str, Any]) -> asyncpg.Record:
    """A new draft."""
    return await conn.fetchrow(
        INSERT, uuid7(), fields["name"], fields["subject"], fields["body_html"], fields.get("body_text") or "",
        fields["from_email"], fields.get("from_name"), fields.get("reply_to"), fields.get("audience"),
        fields.get("frequency_cap_days"), fields.get("steps"), fields.get("stop_on"), fields.get("schedule"),
        fields.get("daily_new_limit"), fields.get("include_flagged"),
    )  # fmt: skip


async def edit(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, changes: Mapping[str, Any]
) -> asyncpg.Record:
    """Content (the caller checked `check_editable` under a row lock) or the sequence (any
    time). A change to the steps or the schedule moves plan_version, and a campaign
    waiting for its next moment is looked at again now (the sender's watch)."""
    assignments, values = set_clause(changes, first=2, allowed=CONTENT_FIELDS | SEQUENCE_FIELDS)
    if REPLANNING_FIELDS & set(changes):
        assignments += ", plan_version = plan_version + 1"
    if SEQUENCE_FIELDS & set(changes):
        assignments += ", next_send_at = CASE WHEN next_send_at IS NULL THEN NULL ELSE now() END"
    row = await conn.fetchrow(
        f"UPDATE email_campaigns SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
        campaign_id,
        *values,
    )
    if SEQUENCE_FIELDS & set(changes):
        await conn.execute(f"NOTIFY {WAKE_CHANNEL}")
    return row


def _sources(transition: TransitionName) -> list[str]:
    return sorted(TRANSITIONS[transition].sources)


async def start(
    conn: asyncpg.Connection | asyncpg.Pool,
    event: CampaignRequested | CampaignResumed,
    *,
    reopen: bool = False,
) -> bool:
    """draft -> sending (CampaignRequested), paused -> sending (CampaignResumed), or with
    `reopen` completed -> sending (CampaignRequested: to the prospects added since)."""
    transition: TransitionName = "request" if isinstance(event, CampaignRequested) else "resume"
    if reopen:
        transition = "reopen"
    args = (event.data.campaign_id, _sources(transition))
    return await change_and_append(conn, START, args, event) is not None


async def resume_due(conn: asyncpg.Connection | asyncpg.Pool, event: CampaignResumed) -> bool:
    """paused -> sending by the sender, for a self-lifting pause whose time has come."""
    args = (event.data.campaign_id, _sources("resume"), sorted(SELF_LIFTING))
    return await change_and_append(conn, RESUME_DUE, args, event) is not None


async def due_to_resume(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    """Campaigns whose self-lifting pause is due (id, pause_reason, resumes_at)."""
    return await conn.fetch(DUE, sorted(SELF_LIFTING))


async def postpone(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID, resumes_at: datetime
) -> bool:
    return await conn.fetchval(POSTPONE, campaign_id, resumes_at, sorted(SELF_LIFTING)) is not None


async def pause(
    conn: asyncpg.Connection | asyncpg.Pool,
    campaign_id: uuid.UUID,
    reason: str,
    *,
    code: PauseCode,
    by: Actor,
    cause: Envelope | None = None,
    correlation_id: str | None = None,
    resumes_at: datetime | None = None,
) -> bool:
    """sending -> paused, with the reason shown to the admin. False when it was not sending."""
    if (resumes_at is not None) != (code in SELF_LIFTING):
        raise ValueError(f"a {code} pause {'needs' if code in SELF_LIFTING else 'takes no'} resumes_at")
    event = CampaignPausedV2.new(
        CampaignPausedV2Data(campaign_id=campaign_id, reason=reason, code=code, paused_by=by, resumes_at=resumes_at),
        cause=cause, correlation_id=correlation_id,
    )  # fmt: skip
    args = (campaign_id, _sources("pause"), reason, code, resumes_at)
    return await change_and_append(conn, PAUSE, args, event) is not None


async def pause_all_sending(
    conn: asyncpg.Connection | asyncpg.Pool, reason: str, *, code: PauseCode, by: Actor, cause: Envelope | None,
    resumes_at: datetime | None = None, correlation_id: str | None = None,
) -> list[uuid.UUID]:  # fmt: skip
    """Every sending campaign -> paused (an account-level fault); returns those paused."""
    candidates = [row["id"] for row in await conn.fetch(SENDING)]
    return [
        id_ for id_ in candidates
        if await pause(conn, id_, reason, code=code, by=by, cause=cause, resumes_at=resumes_at,
                       correlation_id=correlation_id)
    ]  # fmt: skip


async def cancel(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, reason: str, *, by: str, correlation_id: str
) -> bool:
    """draft or paused -> cancelled, for good."""
    event = CampaignCancelled.new(
        CampaignCancelledData(campaign_id=campaign_id, reason=reason, cancelled_by=by),
        correlation_id=correlation_id,
    )
    return await change_and_append(conn, CANCEL, (campaign_id, _sources("cancel"), reason), event) is not None


async def redraft(conn: asyncpg.Connection, campaign_id: uuid.UUID, *, by: str, correlation_id: str) -> bool:
    """paused -> draft, so the content can be corrected."""
    event = CampaignReturnedToDraft.new(
        CampaignReturnedToDraftData(campaign_id=campaign_id, returned_by=by), correlation_id=correlation_id
    )
    return await change_and_append(conn, REDRAFT, (campaign_id, _sources("redraft")), event) is not None


async def complete(pool: asyncpg.Pool, campaign_id: uuid.UUID, lease: uuid.UUID, cause: Envelope) -> bool:
    """sending -> completed, by the sender that holds the lease (nothing is in flight then)."""
    attempted = await pool.fetchval("SELECT count(*) FROM email_sends WHERE campaign_id = $1", campaign_id)
    event = CampaignCompleted.new(
        CampaignCompletedData(campaign_id=campaign_id, attempted=attempted), cause=cause
    )
    args = (campaign_id, _sources("complete"), lease)
    return await change_and_append(pool, COMPLETE, args, event) is not None


# ------------------------------------------------------------------ the sender's place in a run

# A chunk is current when it is: the first chunk of a new run (a send or resume
# request takes over), a redelivery of the current chunk, or the successor of
# the last one. Taking it hands out a fresh lease; claims must hold it.
BEGIN_CHUNK = """
UPDATE email_campaigns
SET sender_run = $2, sender_chunk = $3, sender_lease = $4, sender_lease_at = now()
WHERE id = $1 AND status = 'sending'
  AND (   (sender_run IS DISTINCT FROM $2 AND $3 = 1)
       OR (sender_run = $2 AND sender_chunk IN ($3, $3 - 1)))
RETURNING id, subject, body_html, body_text, from_email, from_name, reply_to, cursor_seq, steps, schedule,
          daily_new_limit, plan_version
"""
# The cursor moves and the continuation is asked for together, under the lease.
ADVANCE = """
UPDATE email_campaigns SET cursor_seq = GREATEST(cursor_seq, $2), sender_lease_at = now()
WHERE id = $1 AND sender_lease = $3
RETURNING id
"""
# A sending campaign whose work was lost: no lease taken or handed on for $2 seconds and
# no claim in that time. Asking again takes the lease's time, so a second asker (another
# replica's watch, the admin clicking twice) finds it live and asks nothing.
REREQUEST = """
UPDATE email_campaigns c SET sender_lease_at = now()
WHERE c.id = $1 AND c.status = 'sending' AND c.next_send_at IS NULL
  AND (c.sender_lease_at IS NULL OR c.sender_lease_at < now() - make_interval(secs => $2))
  AND NOT EXISTS (SELECT 1 FROM email_sends s
                  WHERE s.campaign_id = c.id AND s.claimed_at > now() - make_interval(secs => $2))
RETURNING c.id
"""
STALLED = """
SELECT id FROM email_campaigns
WHERE status = 'sending' AND next_send_at IS NULL
  AND (sender_lease_at IS NULL OR sender_lease_at < now() - make_interval(secs => $1))
"""
# Nothing may go before $3 (the schedule, the next step's due time): the run ends without
# a continuation and its lease with it; the sender's watch asks again then (WAKE).
WAIT = """
UPDATE email_campaigns SET next_send_at = $3, wait_reason = $4, sender_lease = NULL, sender_lease_at = now()
WHERE id = $1 AND status = 'sending' AND sender_lease = $2
RETURNING id
"""
# $2: the sender's clock. One replica's watch wins; the others find nothing due.
WAKE = """
UPDATE email_campaigns SET next_send_at = NULL, wait_reason = NULL, sender_lease_at = now()
WHERE id = $1 AND status = 'sending' AND next_send_at <= $2
RETURNING id
"""
WAITING = "SELECT id, next_send_at FROM email_campaigns WHERE status = 'sending' AND next_send_at IS NOT NULL"
# Notified when a waiting campaign should be looked at again (an edit of its sequence).
WAKE_CHANNEL = "outreach_sender_wake"
# The lease outlives the longest chunk (CHUNK_MAX_SECONDS, 300 s by default) with room to spare.
LEASE_SECONDS = 600.0


async def begin_chunk(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, run_id: uuid.UUID, chunk: int, lease: uuid.UUID
) -> asyncpg.Record | None:
    """Take the chunk with a fresh lease; None for a stale request or a campaign not sending."""
    return await conn.fetchrow(BEGIN_CHUNK, campaign_id, run_id, chunk, lease)


async def finish_chunk(
    pool: asyncpg.Pool, data: CampaignChunkCompletedData, lease: uuid.UUID, cause: Envelope
) -> bool:
    """Move the cursor and ask for the next chunk (a continuation through the outbox)."""
    event = CampaignChunkCompleted.new(data, cause=cause)
    return (
        await change_and_append(pool, ADVANCE, (data.campaign_id, data.cursor_seq, lease), event) is not None
    )


async def rerequest_if_stalled(
    conn: asyncpg.Connection | asyncpg.Pool, event: CampaignRequested, lease_seconds: float
) -> bool:
    """Ask again for a sending campaign whose work was lost (no live lease, no progress);
    False, and nothing appended, while its sender is alive."""
    args = (event.data.campaign_id, lease_seconds)
    return await change_and_append(conn, REREQUEST, args, event) is not None


async def stalled(conn: asyncpg.Connection | asyncpg.Pool, lease_seconds: float) -> list[uuid.UUID]:
    """Sending campaigns with no lease taken for `lease_seconds` (candidates; the re-request decides)."""
    return [row["id"] for row in await conn.fetch(STALLED, lease_seconds)]


WaitReason = Literal["schedule", "domain_pacing", "warmup"]


async def wait(
    pool: asyncpg.Pool,
    campaign_id: uuid.UUID,
    lease: uuid.UUID,
    until: datetime,
    *,
    reason: WaitReason = "schedule",
) -> bool:
    """The run ends until `until` (the sender's clock): nothing may go before (`reason`: why)."""
    return await pool.fetchval(WAIT, campaign_id, lease, until, reason) is not None


async def waiting(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    """Sending campaigns waiting for their next moment (id, next_send_at)."""
    return await conn.fetch(WAITING)


async def wake(conn: asyncpg.Connection | asyncpg.Pool, event: CampaignRequested, now: datetime) -> bool:
    """A waiting campaign whose moment has come is asked for again (a new run)."""
    return await change_and_append(conn, WAKE, (event.data.campaign_id, now), event) is not None
