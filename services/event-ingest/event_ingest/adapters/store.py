"""event-ingest's SQL: the raw store, send matching, account-level pauses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from event_ingest.domain import KnownSend, SendRef, resolve_send
from event_ingest.metrics import STORE_BATCH_SIZE
from shared.event_store import append_those_changed, change_and_append, event_columns
from shared.events import Envelope
from shared.gathering import Gathering

_RAW_COLUMNS = (
    "eventbridge_id, dedupe_key, detail_type, event_type, ses_message_id, event_id, matched, prospect_id, "
    "payload"
)
# An event about a send whose prospect was erased (a late open, days after) keeps no
# payload: it holds the address, and erasure has been and gone (it left the send, without
# its prospect). Its domain event has no personal data.
ERASED_PAYLOAD = """{"erased": "the prospect was erased: the payload is not kept"}"""
_PAYLOAD = f"""CASE WHEN EXISTS (SELECT 1 FROM email_sends s
                      WHERE (s.ses_message_id = d.ses_message_id OR s.id = d.send_id) AND s.prospect_id IS NULL)
     THEN '{ERASED_PAYLOAD}'::jsonb ELSE body::jsonb END"""

# Both unique keys (envelope id, dedupe key) make a repeat a no-op. The payload
# goes in as the body's own text: PostgreSQL parses it, Python need not re-encode it.
STORE_RAW = f"""
INSERT INTO ses_events_raw ({_RAW_COLUMNS})
SELECT eventbridge_id, dedupe_key, detail_type, event_type, ses_message_id, event_id, matched, prospect_id,
       {_PAYLOAD}
FROM (VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::uuid, $7::bool, $8::uuid, $9::uuid,
             $10::text))
     AS d (eventbridge_id, dedupe_key, detail_type, event_type, ses_message_id, event_id, matched, prospect_id,
           send_id, body)
ON CONFLICT DO NOTHING
RETURNING eventbridge_id
"""

# Many deliveries in one statement: store them, then append the events of those
# actually stored (in the batch's order); answers the envelope ids stored.
STORE_BATCH = f"""
WITH raw AS (
    INSERT INTO ses_events_raw ({_RAW_COLUMNS})
    SELECT eventbridge_id, dedupe_key, detail_type, event_type, ses_message_id, event_id, matched, prospect_id,
           {_PAYLOAD}
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::bool[],
                $8::uuid[], $9::uuid[], $10::text[])
         AS d (eventbridge_id, dedupe_key, detail_type, event_type, ses_message_id, event_id, matched,
               prospect_id, send_id, body)
    ON CONFLICT DO NOTHING
    RETURNING eventbridge_id, event_id
), {append_those_changed(11, "raw", "event_id")}
SELECT raw.eventbridge_id, (SELECT n FROM appended) AS appended FROM raw
"""


@dataclass(frozen=True)
class RawDelivery:
    """One EventBridge delivery as stored, with the domain event it yields (if any)."""

    eventbridge_id: str
    dedupe_key: str | None
    detail_type: str
    event_type: str | None
    message_id: str | None
    event: Envelope | None
    matched: bool
    body: str  # the JSON as received
    # The matched send's, else the tags': the prospect is what erasure deletes by; a send
    # whose prospect was erased keeps no payload.
    prospect_id: uuid.UUID | None = None
    send_id: uuid.UUID | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.eventbridge_id, self.dedupe_key, self.detail_type, self.event_type, self.message_id,
            self.event.event_id if self.event else None, self.matched, self.prospect_id, self.send_id,
            self.body,
        )  # fmt: skip


async def store_raw(conn: asyncpg.Connection | asyncpg.Pool, delivery: RawDelivery) -> bool:
    """Store one delivery and append its event in one statement. False when this
    delivery (or the same SES event) was stored before: then nothing is appended."""
    if delivery.event is None:
        return await conn.fetchval(STORE_RAW, *delivery.row()) is not None
    return await change_and_append(conn, STORE_RAW, delivery.row(), delivery.event) is not None


class GroupCommit(Gathering[RawDelivery, bool]):
    """Deliveries that arrive together are stored by one statement (one commit). A caller
    waits until its delivery is durably stored (or the statement failed). A repeat of a
    key already waiting shares the first one's fate."""

    async def store(self, pool: asyncpg.Pool, delivery: RawDelivery) -> bool:
        return await self.submit(pool, delivery)

    async def _call(self, pool: asyncpg.Pool, deliveries: list[RawDelivery]) -> list[bool]:
        STORE_BATCH_SIZE.observe(len(deliveries))
        return await _store_batch(pool, deliveries)


async def _store_batch(pool: asyncpg.Pool, deliveries: list[RawDelivery]) -> list[bool]:
    """Whether each delivery was stored by this statement (False: stored before, or a repeat
    of one earlier in the same batch)."""
    firsts: dict[str, RawDelivery] = {}
    keys: set[str] = set()
    for delivery in deliveries:  # in-batch repeats are left to the first of them
        key = delivery.dedupe_key
        if delivery.eventbridge_id not in firsts and (key is None or key not in keys):
            firsts[delivery.eventbridge_id] = delivery
            if key is not None:
                keys.add(key)
    unique = list(firsts.values())
    rows = [d.row() for d in unique]
    events = [d.event for d in unique if d.event is not None]
    stored_rows = await pool.fetch(STORE_BATCH, *(list(column) for column in zip(*rows, strict=True)),
                                   *event_columns(events))  # fmt: skip
    stored = {row["eventbridge_id"] for row in stored_rows}
    return [d.eventbridge_id in stored and firsts.get(d.eventbridge_id) is d for d in deliveries]


FIND_SENDS = """
SELECT id, campaign_id, prospect_id, ses_message_id, COALESCE(attempted_at, claimed_at) AS sent_at
FROM email_sends WHERE ses_message_id = ANY($1::text[]) OR id = ANY($2::uuid[])
"""
Match = tuple[SendRef, datetime | None]  # the send (or none) and when it was sent


class SendLookup(Gathering[tuple[SendRef, str], Match]):
    """Which send each event is about (domain.resolve_send), and when it was sent; lookups
    that arrive together are answered by one query. A message id, once recorded, names its
    send for good, so what a query found is remembered (the last `remembered` message
    ids): a message's later events (delivery, open, click) need no query at all."""

    def __init__(self, max_batch: int = 256, remembered: int = 50_000) -> None:
        super().__init__(max_batch=max_batch)
        self._remembered = remembered
        self._known: dict[str, KnownSend] = {}

    async def match(self, pool: asyncpg.Pool, tagged: SendRef, message_id: str) -> Match:
        known = self._known.get(message_id)
        if known is not None:
            return _matched(tagged, known, None)
        return await self.submit(pool, (tagged, message_id))

    def _remember(self, found: dict[str, KnownSend]) -> None:
        self._known.update(found)
        while len(self._known) > self._remembered:  # the oldest first (insertion order)
            del self._known[next(iter(self._known))]

    async def _call(self, pool: asyncpg.Pool, lookups: list[tuple[SendRef, str]]) -> list[Match]:
        rows = await pool.fetch(
            FIND_SENDS, [m for _, m in lookups], [t.send_id for t, _ in lookups if t.send_id]
        )
        known = [KnownSend(SendRef(r["id"], r["campaign_id"], r["prospect_id"]), r["ses_message_id"], r["sent_at"])
                 for r in rows]  # fmt: skip
        by_message = {k.ses_message_id: k for k in known if k.ses_message_id}
        by_id = {k.ref.send_id: k for k in known}
        self._remember(by_message)
        return [_matched(t, by_message.get(m), by_id.get(t.send_id)) for t, m in lookups]


def _matched(tagged: SendRef, by_message: KnownSend | None, by_tag: KnownSend | None) -> Match:
    ref = resolve_send(tagged, by_message, by_tag)
    found = by_message or by_tag
    return ref, (found.sent_at if found is not None and ref.send_id is not None else None)


async def reject(pool: asyncpg.Pool, *, reason: str, content_type: str | None, body: bytes) -> None:
    await pool.execute(
        "INSERT INTO rejected_payloads (source, reason, content_type, body) VALUES ('ses-events', $1, $2, $3)",
        reason[:2000],
        content_type,
        body,
    )


# One batch at a time, so the purge never holds a long lock or a huge transaction.
DELETE_EXPIRED = """
WITH doomed AS (
    SELECT ctid FROM {table} WHERE received_at < now() - make_interval(days => $1) LIMIT $2
)
DELETE FROM {table} t USING doomed WHERE t.ctid = doomed.ctid
"""
RETAINED_TABLES = ("ses_events_raw", "rejected_payloads")


async def delete_expired(pool: asyncpg.Pool, days: int, batch: int = 10_000) -> dict[str, int]:
    """Raw SES payloads and refused bodies older than `days`: they hold addresses, and
    the domain events keep what the stats need. Rows deleted, per table."""
    deleted = {}
    for table in RETAINED_TABLES:
        total = 0
        while True:
            status = await pool.execute(DELETE_EXPIRED.format(table=table), days, batch)
            count = int(status.split()[-1])
            total += count
            if count < batch:
                break
        deleted[table] = total
    return deleted
