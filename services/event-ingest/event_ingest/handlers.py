"""The webhook's use case: store the delivery once and append its domain event, atomically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from event_ingest.adapters import store
from event_ingest.domain import NO_SEND, Incoming, domain_event, metric_type
from event_ingest.metrics import SES_EVENTS
from shared.events import SesSendingStatusChanged
from shared.lifecycle import campaign as campaigns

Result = Literal["stored", "duplicate", "ignored"]


@dataclass(frozen=True)
class Accepted:
    result: Result
    event_type: str | None
    matched: bool


async def accept(
    pool: asyncpg.Pool, incoming: Incoming, body: str, correlation_id: str, batch: store.GroupCommit,
    lookup: store.SendLookup,
) -> Accepted:  # fmt: skip
    detail = incoming.detail
    message_id = detail.mail.message_id if detail else None
    ref, sent_at = await lookup.match(pool, incoming.tagged, message_id) if message_id else (NO_SEND, None)
    event = domain_event(incoming, ref, correlation_id, sent_at=sent_at)
    matched = detail is not None and ref.send_id is not None
    delivery = store.RawDelivery(
        eventbridge_id=incoming.envelope.id, dedupe_key=incoming.dedupe_key,
        detail_type=incoming.envelope.detail_type, event_type=incoming.event_type, message_id=message_id,
        event=event, matched=matched, prospect_id=ref.prospect_id or incoming.tagged.prospect_id,
        send_id=ref.send_id or incoming.tagged.send_id, body=body,
    )  # fmt: skip
    if isinstance(event, SesSendingStatusChanged) and not event.data.enabled:
        async with pool.acquire() as conn, conn.transaction():
            stored = await store.store_raw(conn, delivery)
            if stored:
                reason = f"SES sending disabled for the account: {event.data.reason or 'no reason given'}"
                await campaigns.pause_all_sending(conn, reason, code="account_paused", by="ses", cause=event)
    else:  # the common case: stored with whatever else arrives meanwhile, in one statement
        stored = await batch.store(pool, delivery)
    if not stored:
        SES_EVENTS.labels(metric_type(incoming), "duplicate").inc()
        return Accepted("duplicate", incoming.event_type, matched)
    label = "stored" if event is not None else "ignored"
    if detail is not None and not matched:
        label = "unmatched"
    SES_EVENTS.labels(metric_type(incoming), label).inc()
    return Accepted("stored" if event is not None else "ignored", incoming.event_type, matched)
