"""Dead-lettered messages for the operator: look at them, and send them back to their consumer.

A consumer dead-letters a message it cannot apply (malformed, a permanent
error, or failing on every attempt) with x-outreach-* headers saying why
(shared.consumer); the broker dead-letters one that crashed its consumer
too often (x-delivery-limit; an x-death header). Peeking takes messages
without acknowledging them and closes the channel, so they go back to the
queue untouched. Replaying publishes a copy to the consumer's own queue
(not the exchange: other consumers have theirs already), waits for the
broker's confirm, then removes the dead letter.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from shared.topology import CONSUMER_QUEUES, ConsumerQueue

REPLAYED_HEADER = "x-outreach-replayed"


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str | None
    type: str | None
    reason: str
    error: str
    attempts: int | None
    dead_lettered_at: str | None
    replayed: int
    headers: dict[str, Any]
    body: bytes

    def pretty_body(self) -> str:
        try:
            return json.dumps(json.loads(self.body), indent=2, ensure_ascii=False)
        except ValueError:
            return self.body.decode("utf-8", "replace")


def consumer_queue(name: str) -> ConsumerQueue:
    for queue in CONSUMER_QUEUES:
        if name in (queue.consumer, queue.name, queue.dead_letter_name):
            return queue
    known = ", ".join(q.consumer for q in CONSUMER_QUEUES)
    raise ValueError(f"no consumer queue {name!r} (known: {known})")


def _text(value: object) -> str | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return None if value is None else str(value)


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def _describe(queue: ConsumerQueue, message: AbstractIncomingMessage) -> DeadLetter:
    headers = dict(message.headers or {})
    deaths = headers.get("x-death") or []
    first_death = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}
    reason = _text(headers.get("x-outreach-dead-letter-reason")) or (
        f"broker: {_text(first_death.get('reason'))}" if first_death else "unknown"
    )
    attempts = headers.get("x-outreach-attempts")
    return DeadLetter(
        queue=queue.dead_letter_name,
        message_id=message.message_id,
        type=message.type,
        reason=reason,
        error=_text(headers.get("x-outreach-error")) or "",
        attempts=int(attempts) if isinstance(attempts, int) else None,
        dead_lettered_at=_text(headers.get("x-outreach-dead-lettered-at")),
        replayed=_count(headers.get(REPLAYED_HEADER)),
        headers=headers,
        body=message.body,
    )


@asynccontextmanager
async def _taking(connection: AbstractRobustConnection) -> AsyncIterator[AbstractChannel]:
    """A channel whose unacknowledged messages return to their queue when it closes."""
    channel = await connection.channel(publisher_confirms=True)
    try:
        yield channel
    finally:
        await channel.close()


async def _take(channel: AbstractChannel, queue: ConsumerQueue, limit: int) -> list[AbstractIncomingMessage]:
    dlq = await channel.get_queue(queue.dead_letter_name, ensure=False)
    taken: list[AbstractIncomingMessage] = []
    while len(taken) < limit and (message := await dlq.get(no_ack=False, fail=False)) is not None:
        taken.append(message)
    return taken


async def peek(
    connection: AbstractRobustConnection, queue: ConsumerQueue, limit: int = 50
) -> list[DeadLetter]:
    """Up to `limit` dead letters, oldest first, left in the queue."""
    async with _taking(connection) as channel:
        return [_describe(queue, m) for m in await _take(channel, queue, limit)]


async def replay(
    connection: AbstractRobustConnection, queue: ConsumerQueue, *, message_id: str | None = None,
    limit: int = 10_000,
) -> int:  # fmt: skip
    """Send dead letters back to their consumer (all, or the one with `message_id`). Returns how many."""
    replayed = 0
    async with _taking(connection) as channel:
        for message in await _take(channel, queue, limit):
            if message_id is not None and message.message_id != message_id:
                continue  # left unacknowledged: back in the dead-letter queue when the channel closes
            headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-outreach-")}
            headers.pop("x-death", None)
            headers[REPLAYED_HEADER] = _count((message.headers or {}).get(REPLAYED_HEADER)) + 1
            copy = aio_pika.Message(
                body=message.body, headers=headers, content_type=message.content_type,
                message_id=message.message_id, correlation_id=message.correlation_id, type=message.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )  # fmt: skip
            await channel.default_exchange.publish(copy, routing_key=queue.name)  # confirmed
            await message.ack()
            replayed += 1
    return replayed
