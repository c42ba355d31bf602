"""Consuming events: the idempotent apply, and a runner that owns aio-pika.

A handler is `async def handler(event, conn) -> None`: it gets the parsed
event and a connection inside the transaction that also records the event as
processed, so its effect and the tracking row commit together or not at all.
Handlers never see a broker message.

Failure rules: a body that is not a known, valid event, or a handler raising
PermanentError, goes straight to the dead-letter queue with the reason in its
headers; any other exception is retried (the broker redelivers) until
`max_attempts`, then dead-lettered the same way.

With `batch_size` > 1 (the projector), tracked events are applied in batches: what
arrives within `batch_wait` seconds, up to `batch_size`, in one transaction with their
tracking rows (written by one statement), one batch at a time. There are no savepoints:
a batch that fails is rolled back whole and applied again one event at a time, so a
poison event fails, is retried and dead-lettered alone, by the rules above.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from shared.events import Envelope, parse_event
from shared.logging import correlation, get_logger
from shared.metrics import EVENT_HANDLING_SECONDS, EVENTS_CONSUMED
from shared.topology import DEAD_LETTER_EXCHANGE, ConsumerQueue

Handler = Callable[[Any, asyncpg.Connection], Awaitable[None]]
# A batch's events (not applied before, in order) in the batch's transaction.
BatchHandler = Callable[[Sequence[Any], asyncpg.Connection], Awaitable[None]]
# An untracked handler manages its own transactions and its own idempotency
# (the sender: a chunk is many transactions, guarded by run/chunk tokens).
UntrackedHandler = Callable[[Any], Awaitable[None]]

log = get_logger(__name__)


class PermanentError(Exception):
    """The event can never be applied (a broken invariant, not a passing fault)."""


async def apply_once(pool: asyncpg.Pool, consumer: str, event: Envelope, handler: Handler) -> bool:
    """Run `handler` and record the event as processed, in one transaction.

    Returns False (and changes nothing) when this consumer already applied the event.
    """
    async with pool.acquire() as conn:
        return await apply_once_on(conn, consumer, event, handler)


async def apply_once_on(conn: asyncpg.Connection, consumer: str, event: Envelope, handler: Handler) -> bool:
    """apply_once on a given connection (a savepoint when already inside a transaction)."""
    async with conn.transaction():
        first_time = await conn.fetchval(
            """
            INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            consumer,
            event.event_id,
        )
        if not first_time:
            return False
        await handler(event, conn)
        return True


# The events of a batch not yet applied by the consumer (a copy twice in the batch: once).
_TRACK_BATCH = """
INSERT INTO processed_events (consumer, event_id) SELECT $1, unnest($2::uuid[])
ON CONFLICT DO NOTHING RETURNING event_id
"""


async def apply_batch_on(
    conn: asyncpg.Connection, consumer: str, events: Sequence[Envelope], handler: BatchHandler
) -> list[bool]:
    """apply_once for many events inside the caller's transaction: `handler` gets those not
    applied yet, in order. Whether each was applied now; a failure leaves the transaction
    failed (the caller rolls it back)."""
    if not events:
        return []
    fresh = {
        row["event_id"] for row in await conn.fetch(_TRACK_BATCH, consumer, [e.event_id for e in events])
    }
    applied, todo = [], []
    for event in events:
        first_time = event.event_id in fresh
        if first_time:
            fresh.discard(event.event_id)  # its copy later in the batch is a duplicate
            todo.append(event)
        applied.append(first_time)
    if todo:
        await handler(todo, conn)
    return applied


def one_by_one(handlers: Mapping[type[Envelope], Handler]) -> BatchHandler:
    """A batch handler that runs each event's own handler in turn."""

    async def handle(events: Sequence[Any], conn: asyncpg.Connection) -> None:
        for event in events:
            await handlers[type(event)](event, conn)

    return handle


async def forget_applied(conn: asyncpg.Connection, consumer: str) -> None:
    """Forget what `consumer` applied (a projection rebuild replays everything again)."""
    await conn.execute("DELETE FROM processed_events WHERE consumer = $1", consumer)


class Batcher:
    """Applies tracked events a batch per transaction (see the module's note)."""

    def __init__(
        self, pool: asyncpg.Pool, consumer: str, handler: BatchHandler, *, size: int, wait: float
    ) -> None:
        self._pool = pool
        self._consumer = consumer
        self._handler = handler
        self._size = size
        self._wait = wait
        self._pending: list[tuple[Envelope, Handler, asyncio.Future[bool]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._one_at_a_time = asyncio.Lock()  # batches in turn: no two lock the same rows
        self._flushing: set[asyncio.Task[None]] = set()

    async def apply(self, event: Envelope, handler: Handler) -> bool:
        """As apply_once: False when already applied; raises what applying it alone (with
        `handler`) raised."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((event, handler, future))
        if len(self._pending) >= self._size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.create_task(self._apply(batch))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _apply(self, batch: list[tuple[Envelope, Handler, asyncio.Future[bool]]]) -> None:
        async with self._one_at_a_time:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    results = await apply_batch_on(
                        conn, self._consumer, [e for e, _, _ in batch], self._handler
                    )
            except Exception as exc:  # one by one: each event meets its own fate
                if len(batch) > 1:
                    log.info(
                        "a batch failed; applying its events one by one", size=len(batch), error=repr(exc)
                    )
                for event, handler, future in batch:
                    try:
                        result = await apply_once(self._pool, self._consumer, event, handler)
                    except Exception as one:
                        _settle(future, exception=one)
                    else:
                        _settle(future, result=result)
                return
            for (_, _, future), result in zip(batch, results, strict=True):
                _settle(future, result=result)


def _settle(
    future: asyncio.Future[bool], *, result: bool = False, exception: BaseException | None = None
) -> None:
    if future.done():  # its message's task was cancelled (the consumer stopping)
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


def delivery_attempt(message: AbstractIncomingMessage) -> int:
    """1 for the first delivery. Quorum queues count redeliveries in x-delivery-count."""
    count = (message.headers or {}).get("x-delivery-count")
    if isinstance(count, int):
        return count + 1
    return 2 if message.redelivered else 1


class Consumer:
    """Runs handlers for one consumer queue until stopped."""

    def __init__(
        self,
        *,
        queue: ConsumerQueue,
        pool: asyncpg.Pool,
        handlers: Mapping[type[Envelope], Handler] | None = None,
        untracked: Mapping[type[Envelope], UntrackedHandler] | None = None,
        prefetch: int = 32,
        max_attempts: int = 5,
        retry_delay: float = 0.2,
        batch_size: int = 1,
        batch_wait: float = 0.005,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self.queue = queue
        self._pool = pool
        self._handlers = dict(handlers or {})
        self._untracked = dict(untracked or {})
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._batcher = (
            Batcher(
                pool,
                queue.consumer,
                batch_handler or one_by_one(self._handlers),
                size=batch_size,
                wait=batch_wait,
            )
            if batch_size > 1
            else None
        )

    async def start(self, connection: AbstractRobustConnection) -> None:
        self._channel = await connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self._prefetch)
        queue = await self._channel.get_queue(self.queue.name, ensure=True)
        self._consumer_tag = await queue.consume(self._on_message)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, let the ones in hand finish, then close the channel."""
        if self._channel is None:
            return
        if self._consumer_tag is not None and not self._channel.is_closed:
            queue = await self._channel.get_queue(self.queue.name, ensure=False)
            await queue.cancel(self._consumer_tag)
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout)
        await self._channel.close()
        self._channel = None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._handle(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        consumer = self.queue.consumer
        try:
            event = parse_event(message.body)
        except ValueError as exc:
            EVENTS_CONSUMED.labels(consumer, message.type or "?", "dead_lettered").inc()
            await self._dead_letter(message, reason="invalid-event", error=str(exc), attempts=1)
            return
        handler = self._handlers.get(type(event))
        untracked = self._untracked.get(type(event))
        with correlation(event.correlation_id, event_id=str(event.event_id), event_type=event.type):
            if handler is None and untracked is None:
                EVENTS_CONSUMED.labels(consumer, event.type, "ignored").inc()
                await message.ack()
                return
            started = time.perf_counter()
            try:
                if untracked is not None:
                    await untracked(event)
                    applied = True
                else:
                    assert handler is not None
                    if self._batcher is not None:
                        applied = await self._batcher.apply(event, handler)
                    else:
                        applied = await apply_once(self._pool, consumer, event, handler)
            except PermanentError as exc:
                log.error("event cannot be applied", error=str(exc))
                EVENTS_CONSUMED.labels(consumer, event.type, "dead_lettered").inc()
                await self._dead_letter(message, reason="permanent-error", error=str(exc), attempts=1)
                return
            except Exception as exc:
                await self._retry_or_dead_letter(message, event, exc)
                return
            EVENT_HANDLING_SECONDS.labels(consumer, event.type).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(consumer, event.type, "applied" if applied else "duplicate").inc()
            await message.ack()

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, event: Envelope, exc: Exception
    ) -> None:
        attempt = delivery_attempt(message)
        consumer = self.queue.consumer
        if attempt >= self._max_attempts:
            log.error("event failed on every attempt; dead-lettered", attempts=attempt, error=repr(exc))
            EVENTS_CONSUMED.labels(consumer, event.type, "dead_lettered").inc()
            await self._dead_letter(message, reason="handler-failed", error=repr(exc), attempts=attempt)
            return
        log.warning("event handler failed; will retry", attempt=attempt, error=repr(exc))
        EVENTS_CONSUMED.labels(consumer, event.type, "retried").inc()
        # A short, growing pause so a passing fault (database restart) can pass.
        await asyncio.sleep(min(self._retry_delay * 2 ** (attempt - 1), 5.0))
        await message.nack(requeue=True)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, *, reason: str, error: str, attempts: int
    ) -> None:
        """Publish a copy with the reason to this queue's DLQ (confirmed), then ack the original."""
        assert self._channel is not None
        headers = dict(message.headers or {})
        headers.update(
            {
                "x-outreach-dead-letter-reason": reason,
                "x-outreach-error": error[:4000],
                "x-outreach-attempts": attempts,
                "x-outreach-queue": self.queue.name,
                "x-outreach-original-routing-key": message.routing_key or "",
                "x-outreach-dead-lettered-at": datetime.now(UTC).isoformat(),
            }
        )
        copy = aio_pika.Message(
            body=message.body,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        exchange = await self._channel.get_exchange(DEAD_LETTER_EXCHANGE, ensure=False)
        await exchange.publish(copy, routing_key=self.queue.name)
        await message.ack()
