"""A Consumer on the projector's queue with a test handler, over a real broker."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import aio_pika
import asyncpg

from shared.broker import event_message
from shared.consumer import Consumer, Handler
from shared.events import CampaignRequested
from shared.topology import PROJECTOR, declare_topology


@asynccontextmanager
async def consuming(
    amqp_url: str, pool: asyncpg.Pool, handler: Handler, *, max_attempts: int = 3, batch_size: int = 1
):
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    consumer = Consumer(
        queue=PROJECTOR,
        pool=pool,
        handlers={CampaignRequested: handler},
        max_attempts=max_attempts,
        retry_delay=0.01,
        batch_size=batch_size,
        batch_wait=0.05,
    )
    await consumer.start(connection)
    try:
        yield exchange, channel
    finally:
        await consumer.stop()
        await connection.close()


async def publish_raw(exchange, body: bytes, routing_key: str = "campaign.requested") -> None:
    await exchange.publish(aio_pika.Message(body=body, message_id="m-1"), routing_key=routing_key)


async def publish_event(exchange, event) -> None:
    body = event.model_dump_json().encode()
    await exchange.publish(event_message(body, event=json.loads(body)), routing_key=event.type)
