"""Where each prospect is in a campaign's sequence: the only statements that write
`sequence_progress` (the sender's) and `sequence_stops` (the projector's and the admin's).

    step 1 sent ──► progress row (plan_version 0) ──plan──► due_at ──claim, send──► advanced (plan_version 0)
                                                                                    └─► ... until no step is left
    a stop (reply, unsubscribe, ... or the admin) ──► sequence_stops: nothing more is claimed

A send's outcome advances the progress in the transaction that records it, so a crash
never leaves a sent step unrecorded in the sequence. The plan (the next step and when it
is due) is the sender's, from the campaign's steps and schedule (shared.sequence,
shared.schedule); a change to either moves the campaign's plan_version, and the sender
plans again every row of an older version.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.event_store import append
from shared.events import SequenceStopped, SequenceStoppedData, StopReason

# The prospect had a step (sent, or maybe sent). Parameters from $first: campaign, prospect,
# the step's id, when (the sender's clock), SES's message id (NULL: unknown), the subject
# step 1 had (read on the first step only). `source`: the rows it is written for (none: once).
_ADVANCE = """
INSERT INTO sequence_progress AS sp (campaign_id, prospect_id, steps_sent, last_sent_at, message_ids, thread_subject)
SELECT {0}, {1}, ARRAY[{2}::uuid], {3}, CASE WHEN {4}::text IS NULL THEN '{{}}'::text[] ELSE ARRAY[{4}::text] END, {5}
{source}
ON CONFLICT (campaign_id, prospect_id) DO UPDATE SET
    steps_sent = sp.steps_sent || EXCLUDED.steps_sent,
    last_sent_at = EXCLUDED.last_sent_at,
    message_ids = sp.message_ids || EXCLUDED.message_ids,
    plan_version = 0, next_step_id = NULL, next_step = NULL, due_at = NULL
"""


ADVANCE = _ADVANCE.format(*(f"${n}" for n in range(1, 7)), source="")


ADVANCE_COLUMNS = ("campaign_id", "prospect_id", "step_id", "sent_at", "message_id", "thread_subject")


def advance_rows(alias: str, source: str) -> str:
    """ADVANCE for each row of `source` (a FROM clause) whose `alias` has ADVANCE_COLUMNS (Advance's fields)."""
    return _ADVANCE.format(*(f"{alias}.{column}" for column in ADVANCE_COLUMNS), source=source)


@dataclass(frozen=True)
class Advance:
    """A step the prospect had, for ADVANCE (with a send's outcome: shared.lifecycle.send.record_all)."""

    campaign_id: uuid.UUID
    prospect_id: uuid.UUID
    step_id: uuid.UUID
    sent_at: datetime
    message_id: str | None
    thread_subject: str

    def args(self) -> tuple[object, ...]:
        return (self.campaign_id, self.prospect_id, self.step_id, self.sent_at, self.message_id,
                self.thread_subject)  # fmt: skip


# Rows planned for an older version of the campaign's steps and schedule (or never).
TO_PLAN = """
SELECT sp.prospect_id, sp.steps_sent, sp.last_sent_at, p.timezone
FROM sequence_progress sp JOIN prospects p ON p.id = sp.prospect_id
WHERE sp.campaign_id = $1 AND sp.plan_version < $2
  AND NOT EXISTS (SELECT 1 FROM sequence_stops st WHERE st.campaign_id = $1 AND st.prospect_id = sp.prospect_id)
LIMIT $3
"""
# A row advanced since it was read (its last_sent_at moved) keeps waiting for the next plan.
SET_PLAN = """
UPDATE sequence_progress sp
SET plan_version = $2, next_step_id = u.step_id, next_step = u.step, due_at = u.due_at
FROM unnest($3::uuid[], $4::timestamptz[], $5::uuid[], $6::smallint[], $7::timestamptz[])
     AS u (prospect_id, last_sent_at, step_id, step, due_at)
WHERE sp.campaign_id = $1 AND sp.prospect_id = u.prospect_id AND sp.last_sent_at = u.last_sent_at
  AND sp.plan_version < $2
"""
# A due step the window had closed on by the time it came up: due again when it reopens.
POSTPONE = """
UPDATE sequence_progress sp SET due_at = u.due_at
FROM unnest($2::uuid[], $3::timestamptz[]) AS u (prospect_id, due_at)
WHERE sp.campaign_id = $1 AND sp.prospect_id = u.prospect_id AND sp.plan_version > 0
"""
# Stopped prospects leave the due index (their rows stay: the thread, the steps they had).
FORGET_STOPPED = """
UPDATE sequence_progress sp SET due_at = NULL
FROM sequence_stops st
WHERE st.campaign_id = $1 AND sp.campaign_id = $1 AND sp.prospect_id = st.prospect_id AND sp.due_at IS NOT NULL
"""

# The first stop wins; $5 the event that caused it (NULL for the admin's).
STOP = """
INSERT INTO sequence_stops (campaign_id, prospect_id, reason, event_id)
SELECT $1, $2, $3, $4
WHERE EXISTS (SELECT 1 FROM prospects WHERE id = $2)
ON CONFLICT (campaign_id, prospect_id) DO NOTHING
RETURNING stopped_at
"""
# For events in order, each with its reasons in order: every campaign the prospect is in
# (only the one the event names, if it names one) stops for the first reason its stop_on lists.
STOP_WHERE_LISTENING = """
INSERT INTO sequence_stops (campaign_id, prospect_id, reason, event_id)
SELECT c.id, u.prospect_id, u.reason, u.event_id
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[]) WITH ORDINALITY
     AS u (prospect_id, reason, campaign_id, event_id, rank)
JOIN email_campaigns c ON u.reason = ANY(c.stop_on) AND (u.campaign_id IS NULL OR c.id = u.campaign_id)
WHERE EXISTS (SELECT 1 FROM email_sends s WHERE s.campaign_id = c.id AND s.prospect_id = u.prospect_id)
  AND EXISTS (SELECT 1 FROM prospects WHERE id = u.prospect_id)
ORDER BY u.rank
ON CONFLICT (campaign_id, prospect_id) DO NOTHING
RETURNING campaign_id, reason
"""


@dataclass(frozen=True)
class StopCause:
    """An event that may end sequences: in the campaign it names (None: every campaign the
    prospect is in) whose stop_on lists one of its reasons (the first listed counts)."""

    prospect_id: uuid.UUID
    campaign_id: uuid.UUID | None
    reasons: tuple[StopReason, ...]
    event_id: uuid.UUID


@dataclass(frozen=True)
class Planned:
    prospect_id: uuid.UUID
    last_sent_at: datetime
    step_id: uuid.UUID | None  # None: no step left
    step: int | None
    due_at: datetime | None


async def advance(conn: asyncpg.Connection, advance: Advance) -> None:
    """The prospect had the step: a send's outcome not recorded by this process (interrupted)."""
    await conn.execute(ADVANCE, *advance.args())


async def to_plan(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID, version: int, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(TO_PLAN, campaign_id, version, limit)


async def set_plan(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID, version: int, plans: Sequence[Planned]
) -> None:
    await conn.execute(
        SET_PLAN, campaign_id, version,
        [p.prospect_id for p in plans], [p.last_sent_at for p in plans], [p.step_id for p in plans],
        [p.step for p in plans], [p.due_at for p in plans],
    )  # fmt: skip


async def postpone(
    conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID, due: Sequence[tuple[uuid.UUID, datetime]]
) -> None:
    await conn.execute(POSTPONE, campaign_id, [p for p, _ in due], [at for _, at in due])


async def forget_stopped(conn: asyncpg.Connection | asyncpg.Pool, campaign_id: uuid.UUID) -> None:
    await conn.execute(FORGET_STOPPED, campaign_id)


async def stop_where_listening(conn: asyncpg.Connection, causes: Sequence[StopCause]) -> list[StopReason]:
    """The projector's stops after events, in one statement; the reason of each stop made."""
    if not causes:
        return []
    flat = [(cause, reason) for cause in causes for reason in cause.reasons]
    rows = await conn.fetch(
        STOP_WHERE_LISTENING, [c.prospect_id for c, _ in flat], [r for _, r in flat],
        [c.campaign_id for c, _ in flat], [c.event_id for c, _ in flat],
    )  # fmt: skip
    return [row["reason"] for row in rows]


async def stop_by_admin(
    conn: asyncpg.Connection,
    campaign_id: uuid.UUID,
    prospect_id: uuid.UUID,
    *,
    actor: str,
    correlation_id: str,
) -> bool:
    """The admin's manual stop, with its event; False when the prospect was stopped already."""
    if await conn.fetchval(STOP, campaign_id, prospect_id, "manual", None) is None:
        return False
    event = SequenceStopped.new(
        SequenceStoppedData(
            campaign_id=campaign_id, prospect_id=prospect_id, reason="manual", stopped_by=actor
        ),
        correlation_id=correlation_id,
    )
    await append(conn, event)
    return True
