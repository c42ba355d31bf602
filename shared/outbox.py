"""The outbox relay: publishes committed events, in store order, with publisher confirms.

Store order is position order. Positions are allocated at insert, but
transactions commit in another order: publishing by position alone could
publish 11 and later find 10. So appenders hold a shared advisory lock from
their insert to their end, and the relay takes it exclusively for an instant
to read a watermark (append_events() and settled_watermark(), in
infra/migrations/0006): every position at or below it is then settled (committed
or rolled back), and later appenders get higher ones. A batch never passes the
watermark. Transactions that append nothing (a long import) never hold the
relay back. One relay publishes at a time (a transaction advisory lock);
others stand by and take over when it stops. An event is
marked published in the same transaction that locked it, after the broker
confirmed it: a crash in between republishes (consumers are idempotent),
never loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from itertools import takewhile

import asyncpg
from aio_pika.abc import AbstractExchange

from shared.broker import event_message
from shared.event_store import OUTBOX_CHANNEL, mark_published, row_to_message
from shared.logging import get_logger
from shared.metrics import OUTBOX_LAG_SECONDS, OUTBOX_PUBLISHED
from shared.waiting import wait_until_set

RELAY_LOCK_KEY = 0x6F757472_72656C79  # "outrrely"

log = get_logger(__name__)

_NEXT_BATCH = """
SELECT position, event_id, type, version, occurred_at, correlation_id, causation_id, data,
       extract(epoch FROM now() - recorded_at) AS lag_seconds
FROM events
WHERE published_at IS NULL AND position <= $2
ORDER BY position
LIMIT $1
FOR UPDATE SKIP LOCKED
"""


def _succeeded(pair: tuple[asyncpg.Record, object]) -> bool:
    return not isinstance(pair[1], BaseException)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        exchange: Callable[[], Awaitable[AbstractExchange]],
        *,
        listen_dsn: str,
        batch_size: int = 500,
        poll_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self._exchange = exchange
        self._listen_dsn = listen_dsn
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def publish_batch(self) -> tuple[int, bool]:
        """Publish one batch. Returns (published, whether more may be waiting).

        When the broker fails part-way, the confirmed prefix is still marked
        published (so a reconnect does not resend it) and the error is raised.
        Six round trips a batch: begin, the relay lock, the watermark, read, mark, commit.
        The relay lock comes first, so that a relay standing by never takes the append
        lock (the watermark's) from appenders.
        """
        exchange = await self._exchange()
        failure: BaseException | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK_KEY):
                return 0, False  # another relay is publishing; it will see these too
            watermark = await self._watermark()
            if watermark is None:
                return 0, True  # an appender is slow to finish: look again shortly
            rows = await conn.fetch(_NEXT_BATCH, self._batch_size, watermark)
            # One channel keeps publish order; the confirms are awaited together.
            results = await asyncio.gather(
                *(self._publish(exchange, row) for row in rows), return_exceptions=True
            )
            confirmed = [
                row["position"] for row, _ in takewhile(_succeeded, zip(rows, results, strict=False))
            ]
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if confirmed:
                await mark_published(conn, confirmed)
                OUTBOX_LAG_SECONDS.observe(float(rows[len(confirmed) - 1]["lag_seconds"]))
        OUTBOX_PUBLISHED.inc(len(confirmed))
        if failure is not None:
            raise failure
        # A full batch: more may wait. Events past the watermark are announced by their
        # appender's notification, which wakes the relay again.
        return len(confirmed), len(rows) == self._batch_size

    async def _watermark(self) -> int | None:
        """The highest settled position (None: an appender did not finish in time). One
        statement on its own: the exclusive append lock it takes lasts only that long."""
        try:
            return int(await self._pool.fetchval("SELECT settled_watermark()"))
        except asyncpg.LockNotAvailableError:
            return None

    async def _publish(self, exchange: AbstractExchange, row: asyncpg.Record) -> None:
        envelope = row_to_message(row)
        body = json.dumps(envelope, separators=(",", ":")).encode()
        await exchange.publish(
            event_message(body, event=envelope, position=row["position"]),
            routing_key=row["type"],
            mandatory=False,
        )

    async def run(self) -> None:
        """Publish until cancelled, surviving database and broker outages."""
        backoff = 0.1
        while True:
            listener: asyncpg.Connection | None = None
            try:
                listener = await asyncpg.connect(self._listen_dsn)
                await listener.add_listener(OUTBOX_CHANNEL, self.wake)
                listener.add_termination_listener(self.wake)
                await self._drain_forever(listener)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay interrupted; retrying", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(2):
                            await listener.close()

    async def _drain_forever(self, listener: asyncpg.Connection) -> None:
        pending_delay = 0.02
        while not listener.is_closed():
            self._wake.clear()
            published, pending = await self.publish_batch()
            if published and pending:
                continue
            if pending:  # past the watermark (an appender still open): look again shortly
                await asyncio.sleep(pending_delay)
                pending_delay = min(pending_delay * 2, 1.0)
                continue
            pending_delay = 0.02
            await wait_until_set(self._wake, self._poll_seconds)
        raise ConnectionError("outbox listener connection closed")
