"""A send's lifecycle: the only statements that write `email_sends`.

    (claim) ──► claimed ──► sent | failed | unknown ──retry──► retried (a new claim takes its place)
                   └── released (SES proved it did not take the message: the row goes)

At most one message per (campaign, prospect): the claim is committed before SES is
called, under a unique index over the sends not retried. `unknown` is never sent
again by the sender itself; only the admin's explicit retry (include_unknown) does,
knowing it may duplicate. The sender claims and records; the gateway requeues.
Each statement says why it is shaped so.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.event_store import append, append_those_changed, event_columns
from shared.events import (
    CampaignRetryRequested,
    CampaignRetryRequestedData,
    Envelope,
    SendAttempted,
    SendAttemptedData,
)
from shared.ids import uuid7
from shared.lifecycle import sequence
from shared.sequence import FIRST_STEP

# Claims left `claimed` belong to a sender that died between claim and
# outcome: SES may or may not have the message. They become `unknown`, for good.
RECONCILE = """
UPDATE email_sends SET outcome = 'unknown', error_code = 'interrupted',
       error_message = 'the sender stopped between claim and outcome', attempted_at = now()
WHERE campaign_id = $1 AND outcome = 'claimed'
RETURNING id, prospect_id, step_id
"""

# The claims, committed before the SES call: each re-checks everything that may have
# changed since its batch was read: the campaign still sending under the sender's lease
# (pause takes effect here), the prospect still active and unsuppressed (an unsubscribe
# takes effect here), their sequence not stopped, and a follow-up still the step planned
# for them under the campaign's current steps (an edit or a removal takes effect here). The
# unique index makes it at most once per step. Claims that arrive together go in one
# statement (sender.commits); each row carries its own campaign, lease and clock.
CLAIM = """
INSERT INTO email_sends (id, campaign_id, prospect_id, prospect_seq, unsubscribe_token, step_id, step, claimed_at,
                         reply_token)
SELECT w.id, w.campaign_id, p.id, p.seq, w.token, w.step_id, w.step, COALESCE(w.at, now()), w.reply_token
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], $7::smallint[],
            $8::timestamptz[], $9::text[])
     AS w (id, campaign_id, prospect_id, token, lease, step_id, step, at, reply_token)
JOIN prospects p ON p.id = w.prospect_id
WHERE p.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
  AND NOT EXISTS (SELECT 1 FROM sequence_stops st WHERE st.campaign_id = w.campaign_id AND st.prospect_id = p.id)
  AND EXISTS (SELECT 1 FROM email_campaigns c
              WHERE c.id = w.campaign_id AND c.status = 'sending' AND c.sender_lease = w.lease
                AND (w.step_id = $10::uuid OR EXISTS (SELECT 1 FROM sequence_progress sp
                                         WHERE sp.campaign_id = w.campaign_id AND sp.prospect_id = p.id
                                           AND sp.next_step_id = w.step_id AND sp.plan_version = c.plan_version)))
ON CONFLICT (campaign_id, prospect_id, step_id) WHERE campaign_id IS NOT NULL AND retried_at IS NULL DO NOTHING
RETURNING id
"""
# A claim an earlier attempt may have committed (its answer lost): still ours if `claimed`.
STILL_CLAIMED = "SELECT id FROM email_sends WHERE id = ANY($1::uuid[]) AND outcome = 'claimed'"


@dataclass(frozen=True)
class Claim:
    send_id: uuid.UUID
    campaign_id: uuid.UUID
    prospect_id: uuid.UUID
    token: str
    step_id: uuid.UUID = FIRST_STEP
    step: int = 1
    reply_token: str | None = None


# Only a claim still `claimed` takes an outcome: a claim another sender already
# declared unknown stays unknown. Its SendAttempted event rides in the same statement, and
# the prospect's place in the sequence (`advance`, where given) with it. A claim whose
# prospect was erased while its message was in flight keeps its outcome, with no event
# that would name the erased prospect again, and no sequence to advance. Outcomes that
# arrive together go in one statement (sender.commits).
_OUTCOMES = "$1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[]"
_ADVANCES = "$14::uuid[], $15::uuid[], $16::uuid[], $17::uuid[], $18::timestamptz[], $19::text[], $20::text[]"
RECORD = f"""
WITH change AS (
    UPDATE email_sends s
    SET outcome = w.outcome, ses_message_id = w.message_id, error_code = w.code, error_message = w.message,
        attempted_at = now()
    FROM unnest({_OUTCOMES}) AS w (send_id, outcome, message_id, code, message, event_id)
    WHERE s.id = w.send_id AND s.outcome = 'claimed'
    RETURNING s.id, s.prospect_id, w.event_id
),
announced AS (SELECT id, event_id FROM change WHERE prospect_id IS NOT NULL),
{append_those_changed(7, "announced", "event_id")},
advanced AS ({
    sequence.advance_rows(
        "a",
        f"FROM unnest({_ADVANCES}) AS a (send_id, {', '.join(sequence.ADVANCE_COLUMNS)}) "
        "JOIN announced ON announced.id = a.send_id",
    )
})
SELECT announced.id, (SELECT n FROM appended) AS appended FROM announced
"""


async def reconcile(
    conn: asyncpg.Connection, campaign_id: uuid.UUID, cause: Envelope
) -> list[asyncpg.Record]:
    """The campaign's claims left `claimed` become `unknown`: answers (id, prospect_id, step_id)."""
    rows = await conn.fetch(RECONCILE, campaign_id)
    events = [
        SendAttempted.new(
            SendAttemptedData(
                send_id=row["id"],
                campaign_id=campaign_id,
                prospect_id=row["prospect_id"],
                outcome="unknown",
                error_code="interrupted",
            ),
            cause=cause,
        )
        for row in rows
        if row["prospect_id"] is not None
    ]
    await append(conn, *events)
    return rows


def new_claim(
    campaign_id: uuid.UUID, prospect_id: uuid.UUID, step_id: uuid.UUID = FIRST_STEP, step: int = 1
) -> Claim:
    """A claim not yet committed: its id and token are chosen here, so a retry can tell
    whether an earlier attempt whose answer was lost did commit it."""
    token = secrets.token_urlsafe(24)  # 192 random bits
    # 120 random bits in lower-case base32: an address's local part, whatever folds its case.
    reply_token = base64.b32encode(secrets.token_bytes(15)).decode().lower()
    return Claim(uuid7(), campaign_id, prospect_id, token, step_id, step, reply_token)


@dataclass(frozen=True)
class Outcome:
    """What SES answered for a claim, and the step it gave the prospect (`advance`, if any)."""

    claim: Claim
    outcome: str
    cause: Envelope
    message_id: str | None = None
    code: str | None = None
    message: str | None = None
    advance: sequence.Advance | None = None

    def event(self) -> SendAttempted:
        return SendAttempted.new(
            SendAttemptedData(
                send_id=self.claim.send_id, campaign_id=self.claim.campaign_id, prospect_id=self.claim.prospect_id,
                outcome=self.outcome, ses_message_id=self.message_id, error_code=self.code,
                error_message=self.message,
            ),
            cause=self.cause,
        )  # fmt: skip


@dataclass(frozen=True)
class ClaimRequest:
    """A claim to commit under the campaign's `lease`. `at`: the sender's clock (the daily
    limit counts first steps by it), else the database's. `retrying`: an earlier attempt
    failed without an answer (the database went away); if it did commit, the claim is ours,
    still `claimed`, and SES was not called for it: it is taken up again rather than left
    for the next sender to declare unknown."""

    wanted: Claim
    lease: uuid.UUID
    at: datetime | None = None
    retrying: bool = False


async def claim_all(
    pool: asyncpg.Pool | asyncpg.Connection, requests: Sequence[ClaimRequest]
) -> list[Claim | None]:
    """Commit the claims (one statement); for each, its claim, or None when the campaign
    stopped or the prospect is no longer eligible."""
    retried = [r.wanted.send_id for r in requests if r.retrying]
    claimed = {row["id"] for row in await pool.fetch(STILL_CLAIMED, retried)} if retried else set()
    fresh = [r for r in requests if r.wanted.send_id not in claimed]
    if fresh:
        columns = zip(*((w.send_id, w.campaign_id, w.prospect_id, w.token, r.lease, w.step_id, w.step, r.at,
                         w.reply_token) for r in fresh for w in (r.wanted,)), strict=True)  # fmt: skip
        claimed.update(row["id"] for row in await pool.fetch(CLAIM, *map(list, columns), FIRST_STEP))
    return [r.wanted if r.wanted.send_id in claimed else None for r in requests]


async def record_all(pool: asyncpg.Pool | asyncpg.Connection, outcomes: Sequence[Outcome]) -> list[bool]:
    """The outcomes, their SendAttempted events and the prospects' places in their
    sequences, in one statement: the event store's append lock is held for a statement,
    never across round trips. For each: whether it was recorded with its event (False: the
    claim was no longer `claimed`, or its prospect was erased meanwhile)."""
    events = [o.event() for o in outcomes]
    advancing = [o for o in outcomes if o.advance is not None]
    rows = await pool.fetch(
        RECORD,
        [o.claim.send_id for o in outcomes], [o.outcome for o in outcomes], [o.message_id for o in outcomes],
        [o.code for o in outcomes], [o.message for o in outcomes], [e.event_id for e in events],
        *event_columns(events),
        [o.claim.send_id for o in advancing],
        *([list(column) for column in zip(*(o.advance.args() for o in advancing if o.advance), strict=True)]
          or [[]] * len(sequence.ADVANCE_COLUMNS)),
    )  # fmt: skip
    recorded = {row["id"] for row in rows}
    return [o.claim.send_id in recorded for o in outcomes]


async def release(pool: asyncpg.Pool, claim: Claim) -> None:
    """SES proved it did not accept (throttled, refused for the account): the prospect stays eligible."""
    await pool.execute("DELETE FROM email_sends WHERE id = $1 AND outcome = 'claimed'", claim.send_id)


# The admin's retry: the chosen outcomes step aside (kept, marked retried), so the
# prospects are eligible again and the next claim for them is a new send.
REQUEUE = """
UPDATE email_sends SET retried_at = now()
WHERE campaign_id = $1 AND retried_at IS NULL AND outcome = ANY($2::text[])
RETURNING id
"""


async def requeue(
    conn: asyncpg.Connection,
    campaign_id: uuid.UUID,
    *,
    include_unknown: bool,
    actor: str,
    correlation_id: str,
) -> int:
    """Put the campaign's failed sends (and unknown ones, if asked) back in line, in the
    caller's transaction; CampaignRetryRequested is appended when any was. Returns how many."""
    outcomes = ["failed", "unknown"] if include_unknown else ["failed"]
    requeued = len(await conn.fetch(REQUEUE, campaign_id, outcomes))
    if requeued:
        await append(
            conn,
            CampaignRetryRequested.new(
                CampaignRetryRequestedData(
                    campaign_id=campaign_id,
                    requeued=requeued,
                    include_unknown=include_unknown,
                    requested_by=actor,
                ),
                correlation_id=correlation_id,
            ),
        )
    return requeued


RETRYABLE = """
SELECT outcome, count(*) AS n FROM email_sends
WHERE campaign_id = $1 AND retried_at IS NULL AND outcome IN ('failed', 'unknown')
GROUP BY outcome
"""


async def retryable(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID) -> dict[str, int]:
    """How many of the campaign's sends a retry would put back in line, by outcome."""
    counts = {row["outcome"]: int(row["n"]) for row in await conn.fetch(RETRYABLE, campaign_id)}
    return {"failed": counts.get("failed", 0), "unknown": counts.get("unknown", 0)}
