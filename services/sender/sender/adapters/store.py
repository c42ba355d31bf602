"""The sender's SQL: the only statements that write `email_sends` (claims and outcomes).

The campaign's own state (runs, leases, cursor, status) is `shared.lifecycle.campaign`'s.
Each statement says why it is shaped so.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.event_store import append, change_and_append
from shared.events import Envelope, SendAttempted, SendAttemptedData
from shared.ids import uuid7

# Claims left `claimed` belong to a sender that died between claim and
# outcome: SES may or may not have the message. They become `unknown`, for good.
RECONCILE = """
UPDATE email_sends SET outcome = 'unknown', error_code = 'interrupted',
       error_message = 'the sender stopped between claim and outcome', attempted_at = now()
WHERE campaign_id = $1 AND outcome = 'claimed'
RETURNING id, prospect_id
"""

# The claim, committed before the SES call. It re-checks everything that may
# have changed since the batch was read: the campaign still sending under our
# lease (pause takes effect here), the prospect still active and unsuppressed
# (an unsubscribe takes effect here). The unique index makes it at most once.
CLAIM = """
INSERT INTO email_sends (id, campaign_id, prospect_id, prospect_seq, unsubscribe_token)
SELECT $3, $1, p.id, p.seq, $4
FROM prospects p
WHERE p.id = $2 AND p.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = p.email_hash)
  AND EXISTS (SELECT 1 FROM email_campaigns c
              WHERE c.id = $1 AND c.status = 'sending' AND c.sender_lease = $5)
ON CONFLICT (campaign_id, prospect_id) WHERE campaign_id IS NOT NULL DO NOTHING
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

STILL_OURS = "SELECT status = 'sending' AND sender_lease = $2 FROM email_campaigns WHERE id = $1"


@dataclass(frozen=True)
class Claim:
    send_id: uuid.UUID
    campaign_id: uuid.UUID
    prospect_id: uuid.UUID
    token: str


async def reconcile(conn: asyncpg.Connection, campaign_id: uuid.UUID, cause: Envelope) -> int:
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
    return len(rows)


def new_claim(campaign_id: uuid.UUID, prospect_id: uuid.UUID) -> Claim:
    """A claim not yet committed: its id and token are chosen here, so a retry can tell
    whether an earlier attempt whose answer was lost did commit it."""
    return Claim(uuid7(), campaign_id, prospect_id, secrets.token_urlsafe(24))  # 192 random bits


async def claim(
    pool: asyncpg.Pool, wanted: Claim, lease: uuid.UUID, *, retrying: bool = False
) -> Claim | None:
    """Commit the claim; None when the campaign stopped or the prospect is no longer eligible.

    `retrying`: an earlier attempt failed without an answer (the database went away). If it
    did commit, the claim is ours, still `claimed`, and SES was not called for it: it is taken
    up again rather than left for the next sender to declare unknown."""
    if retrying and await pool.fetchval(
        "SELECT 1 FROM email_sends WHERE id = $1 AND outcome = 'claimed'", wanted.send_id
    ):
        return wanted
    send_id = await pool.fetchval(
        CLAIM, wanted.campaign_id, wanted.prospect_id, wanted.send_id, wanted.token, lease
    )
    return wanted if send_id is not None else None


async def still_ours(pool: asyncpg.Pool, campaign_id: uuid.UUID, lease: uuid.UUID) -> bool:
    return bool(await pool.fetchval(STILL_OURS, campaign_id, lease))


async def record(
    pool: asyncpg.Pool,
    claim: Claim,
    *,
    outcome: str,
    cause: Envelope,
    message_id: str | None = None,
    code: str | None = None,
    message: str | None = None,
) -> bool:
    """The outcome and its SendAttempted event, in one statement."""
    event = SendAttempted.new(
        SendAttemptedData(
            send_id=claim.send_id, campaign_id=claim.campaign_id, prospect_id=claim.prospect_id,
            outcome=outcome, ses_message_id=message_id, error_code=code, error_message=message,
        ),
        cause=cause,
    )  # fmt: skip
    args = (claim.send_id, outcome, message_id, code, message)
    if await change_and_append(pool, RECORD, args, event) is not None:
        return True
    await pool.execute(RECORD_ERASED, *args)
    return False


async def release(pool: asyncpg.Pool, claim: Claim) -> None:
    """SES proved it did not accept (throttled, refused for the account): the prospect stays eligible."""
    await pool.execute("DELETE FROM email_sends WHERE id = $1 AND outcome = 'claimed'", claim.send_id)


# Our sends that count against a daily limit: accepted, or maybe accepted.
_COUNTED = "attempted_at >= $1 AND outcome IN ('sent', 'unknown')"


async def sent_since(pool: asyncpg.Pool, since: datetime) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM email_sends WHERE {_COUNTED}", since))


async def oldest_send_since(pool: asyncpg.Pool, since: datetime) -> datetime | None:
    return await pool.fetchval(f"SELECT min(attempted_at) FROM email_sends WHERE {_COUNTED}", since)
