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
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.event_store import append, change_and_append
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

# The claim, committed before the SES call. It re-checks everything that may
# have changed since the batch was read: the campaign still sending under our
# lease (pause takes effect here), the prospect still active and unsuppressed
# (an unsubscribe takes effect here), their sequence not stopped, and a follow-up
# still the step planned for them under the campaign's current steps (an edit or a
# removal takes effect here). The unique index makes it at most once per step.
CLAIM = """
INSERT INTO email_sends (id, campaign_id, prospect_id, prospect_seq, unsubscribe_token, step_id, step, claimed_at,
                         reply_token)
SELECT $3, $1, p.id, p.seq, $4, $6, $7, COALESCE($9, now()), $10
FROM prospects p
WHERE p.id = $2 AND p.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
  AND NOT EXISTS (SELECT 1 FROM sequence_stops st WHERE st.campaign_id = $1 AND st.prospect_id = p.id)
  AND EXISTS (SELECT 1 FROM email_campaigns c
              WHERE c.id = $1 AND c.status = 'sending' AND c.sender_lease = $5
                AND ($6::uuid = $8::uuid OR EXISTS (SELECT 1 FROM sequence_progress sp
                                         WHERE sp.campaign_id = $1 AND sp.prospect_id = p.id
                                           AND sp.next_step_id = $6 AND sp.plan_version = c.plan_version)))
ON CONFLICT (campaign_id, prospect_id, step_id) WHERE campaign_id IS NOT NULL AND retried_at IS NULL DO NOTHING
RETURNING id
"""

# Only a claim still `claimed` takes an outcome: a claim another sender already
# declared unknown stays unknown. The event rides in the same statement. A claim
# whose prospect was erased while its message was in flight keeps its outcome,
# with no event that would name the erased prospect again (RECORD_ERASED).
_SET_OUTCOME = """
UPDATE email_sends
SET outcome = $2, ses_message_id = $3, error_code = $4, error_message = $5, attempted_at = now()
WHERE id = $1 AND outcome = 'claimed'
"""
RECORD = _SET_OUTCOME + "AND prospect_id IS NOT NULL RETURNING id"
RECORD_ERASED = _SET_OUTCOME + "AND prospect_id IS NULL"


@dataclass(frozen=True)
class Claim:
    send_id: uuid.UUID
    campaign_id: uuid.UUID
    prospect_id: uuid.UUID
    token: str
    step_id: uuid.UUID = FIRST_STEP
    step: int = 1
    reply_token: str | None = None


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


async def claim(
    pool: asyncpg.Pool, wanted: Claim, lease: uuid.UUID, *, retrying: bool = False, at: datetime | None = None
) -> Claim | None:
    """Commit the claim; None when the campaign stopped or the prospect is no longer eligible.

    `retrying`: an earlier attempt failed without an answer (the database went away). If it
    did commit, the claim is ours, still `claimed`, and SES was not called for it: it is taken
    up again rather than left for the next sender to declare unknown. `at`: the sender's
    clock (the daily limit counts first steps by it), else the database's."""
    if retrying and await pool.fetchval(
        "SELECT 1 FROM email_sends WHERE id = $1 AND outcome = 'claimed'", wanted.send_id
    ):
        return wanted
    send_id = await pool.fetchval(
        CLAIM, wanted.campaign_id, wanted.prospect_id, wanted.send_id, wanted.token, lease, wanted.step_id,
        wanted.step, FIRST_STEP, at, wanted.reply_token,
    )  # fmt: skip
    return wanted if send_id is not None else None


async def record(
    pool: asyncpg.Pool | asyncpg.Connection,
    claim: Claim,
    *,
    outcome: str,
    cause: Envelope,
    message_id: str | None = None,
    code: str | None = None,
    message: str | None = None,
    advance: sequence.Advance | None = None,
) -> bool:
    """The outcome, its SendAttempted event and (`advance`) the prospect's place in the
    sequence, in one statement: the event store's append lock is held for a statement,
    never across round trips."""
    event = SendAttempted.new(
        SendAttemptedData(
            send_id=claim.send_id, campaign_id=claim.campaign_id, prospect_id=claim.prospect_id,
            outcome=outcome, ses_message_id=message_id, error_code=code, error_message=message,
        ),
        cause=cause,
    )  # fmt: skip
    args: tuple[object, ...] = (claim.send_id, outcome, message_id, code, message)
    after = ""
    if advance is not None:
        after = f", advanced AS ({sequence.advance_statement(len(args) + 1, 'FROM change')})"
        args = (*args, *advance.args())
    if await change_and_append(pool, RECORD, args, event, after=after) is not None:
        return True
    await pool.execute(RECORD_ERASED, *args[:5])
    return False


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
