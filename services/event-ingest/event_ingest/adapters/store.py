"""event-ingest's SQL: the raw store, send matching, account-level pauses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from event_ingest.domain import KnownSend, SendRef, resolve_send
from event_ingest.metrics import STORE_BATCH_SIZE
from shared.event_store import append_those_changed, change_and_append, event_columns
from shared.events import Envelope

_RAW_COLUMNS = (
    "eventbridge_id, dedupe_key, detail_type, event_type, ses_message_id, event_id, matched, payload"
)

# Both unique keys (envelope id, dedupe key) make a repeat a no-op. The payload
# goes in as the body's own text: PostgreSQL parses it, Python need not re-encode it.
STORE_RAW = f"""
INSERT INTO ses_events_raw ({_RAW_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb)
ON CONFLICT DO NOTHING
RETURNING eventbridge_id
"""

# Many deliveries in one statement: store them, then append the events of those
# actually stored (in the batch's order); answers the envelope ids stored.
STORE_BATCH = f"""
WITH raw AS (
    INSERT INTO ses_events_raw ({_RAW_COLUMNS})
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::bool[],
                         $8::text[]::jsonb[])
    ON CONFLICT DO NOTHING
    RETURNING eventbridge_id, event_id
), {append_those_changed(9, "raw", "event_id")}
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

    def row(self) -> tuple[Any, ...]:
        return (
            self.eventbridge_id, self.dedupe_key, self.detail_type, self.event_type, self.message_id,
            self.event.event_id if self.event else None, self.matched, self.body,
        )  # fmt: skip


async def store_raw(conn: asyncpg.Connection | asyncpg.Pool, delivery: RawDelivery) -> bool:
    """Store one delivery and append its event in one statement. False when this
    delivery (or the same SES event) was stored before: then nothing is appended."""
    if delivery.event is None:
        return await conn.fetchval(STORE_RAW, *delivery.row()) is not None
    return await change_and_append(conn, STORE_RAW, delivery.row(), delivery.event) is not None


class GroupCommit:
    """Deliveries that arrive together are stored by one statement (one commit).

    A caller waits until its delivery is durably stored (or the statement
    failed). While one statement runs, new arrivals gather for the next: no
    timer, so a lone delivery goes at once, and under load the batches grow by
    themselves. A repeat of a key already waiting shares the first one's fate."""

    def __init__(self, max_batch: int = 256) -> None:
        self._max_batch = max_batch
        self._waiting: list[tuple[RawDelivery, asyncio.Future[bool]]] = []
        self._flushing = False
        self.largest_batch = 0

    async def store(self, pool: asyncpg.Pool, delivery: RawDelivery) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush(pool))
        return await future

    async def _flush(self, pool: asyncpg.Pool) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                self.largest_batch = max(self.largest_batch, len(batch))
                STORE_BATCH_SIZE.observe(len(batch))
                try:
                    stored = await _store_batch(pool, [delivery for delivery, _ in batch])
                except asyncpg.PostgresError as exc:
                    if len(batch) == 1:
                        _settle(batch, exc=exc)
                        continue
                    # One bad delivery must not fail the others: each on its own.
                    for one in batch:
                        try:
                            _settle([one], await _store_batch(pool, [one[0]]))
                        except Exception as exc:
                            _settle([one], exc=exc)
                    continue
                except Exception as exc:  # the database is away: every caller answers 503
                    _settle(batch, exc=exc)
                    continue
                _settle(batch, stored)
        finally:
            self._flushing = False


def _settle(
    batch: list[tuple[RawDelivery, asyncio.Future[bool]]], stored: list[bool] | None = None,
    exc: BaseException | None = None,
) -> None:  # fmt: skip
    for i, (_, future) in enumerate(batch):
        if future.done():
            continue
        if stored is not None:
            future.set_result(stored[i])
        else:
            future.set_exception(exc or RuntimeError("the delivery was not stored"))


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


class SendLookup:
    """Which send each event is about (domain.resolve_send), and when it was sent. Lookups
    that arrive together are answered by one query, as GroupCommit stores: while one
    query runs, new arrivals gather for the next; a lone lookup goes at once."""

    def __init__(self, max_batch: int = 256) -> None:
        self._max_batch = max_batch
        self._waiting: list[tuple[SendRef, str, asyncio.Future[Match]]] = []
        self._running = False

    async def match(self, pool: asyncpg.Pool, tagged: SendRef, message_id: str) -> Match:
        future: asyncio.Future[Match] = asyncio.get_running_loop().create_future()
        self._waiting.append((tagged, message_id, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._run(pool))
        return await future

    async def _run(self, pool: asyncpg.Pool) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                try:
                    rows = await pool.fetch(
                        FIND_SENDS, [m for _, m, _ in batch], [t.send_id for t, _, _ in batch if t.send_id]
                    )
                except Exception as exc:  # the database is away: every caller answers 503
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                known = [KnownSend(SendRef(r["id"], r["campaign_id"], r["prospect_id"]), r["ses_message_id"],
                                   r["sent_at"]) for r in rows]  # fmt: skip
                by_message = {k.ses_message_id: k for k in known if k.ses_message_id}
                by_id = {k.ref.send_id: k for k in known}
                for tagged, message_id, future in batch:
                    if not future.done():
                        future.set_result(
                            _matched(tagged, by_message.get(message_id), by_id.get(tagged.send_id))
                        )
        finally:
            self._running = False


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
