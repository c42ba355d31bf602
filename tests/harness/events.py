"""Helpers to append sample events and to watch what reaches the broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aio_pika
import asyncpg
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractRobustConnection

from shared.event_store import append
from shared.events import CampaignRequested, CampaignRequestedData, Envelope
from shared.outbox import OutboxRelay
from shared.topology import EVENTS_EXCHANGE, declare_topology


def sample_event(correlation_id: str | None = None) -> CampaignRequested:
    return CampaignRequested.new(
        CampaignRequestedData(campaign_id=uuid.uuid4()), correlation_id=correlation_id
    )


class Rollback(Exception):
    pass


async def append_events(pool: asyncpg.Pool, events: list[Envelope], *, commit: bool = True) -> None:
    try:
        async with pool.acquire() as conn, conn.transaction():
            await append(conn, *events)
            if not commit:
                raise Rollback
    except Rollback:
        pass


@dataclass
class Collector:
    """Every message routed to a queue bound to all events, in arrival order."""

    received: list[dict[str, object]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [str(m["event_id"]) for m in self.received]

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self.received.append(json.loads(message.body))
        await message.ack()

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while len(set(self.ids)) < count:
                await asyncio.sleep(0.02)


@asynccontextmanager
async def collecting(amqp_url: str) -> AsyncIterator[Collector]:
    collector = Collector()
    connection = await aio_pika.connect_robust(amqp_url, client_properties={"connection_name": "collector"})
    try:
        channel = await connection.channel()
        exchange = await declare_topology(channel)
        queue = await channel.declare_queue(f"test.collector.{uuid.uuid4().hex}", durable=True)
        await queue.bind(exchange, routing_key="#")
        await queue.consume(collector.on_message)
        yield collector
    finally:
        await connection.close()


@asynccontextmanager
async def running_relays(
    pool: asyncpg.Pool, database_url: str, amqp_url: str, *, relays: int = 1, name: str = "relay"
) -> AsyncIterator[list[OutboxRelay]]:
    connections: list[AbstractRobustConnection] = []
    tasks: list[asyncio.Task[None]] = []
    started: list[OutboxRelay] = []
    try:
        for _ in range(relays):
            connection = await aio_pika.connect_robust(
                amqp_url, client_properties={"connection_name": name}, reconnect_interval=0.5
            )
            connections.append(connection)
            relay = OutboxRelay(
                pool,
                _exchange_of(connection),
                listen_dsn=database_url,
                poll_seconds=0.5,
                batch_size=50,
            )
            started.append(relay)
            tasks.append(asyncio.create_task(relay.run()))
        yield started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for connection in connections:
            await connection.close()


def _exchange_of(connection: AbstractRobustConnection) -> Callable[[], Awaitable[AbstractExchange]]:
    channel: list[aio_pika.abc.AbstractChannel] = []

    async def exchange() -> AbstractExchange:
        if not channel or channel[0].is_closed:
            channel[:] = [await connection.channel(publisher_confirms=True)]
        return await channel[0].get_exchange(EVENTS_EXCHANGE, ensure=False)

    return exchange


async def store_order(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT event_id FROM events ORDER BY position")
    return [str(row["event_id"]) for row in rows]
