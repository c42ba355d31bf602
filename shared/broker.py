"""RabbitMQ connection and publishing helpers (aio-pika)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection

EVENT_CONTENT_TYPE = "application/json"


async def connect(url: str, *, service: str) -> AbstractRobustConnection:
    """A robust connection: it reconnects and restores its channels on its own."""
    return await aio_pika.connect_robust(
        url, client_properties={"connection_name": service}, reconnect_interval=1, timeout=10
    )


@asynccontextmanager
async def connection_context(url: str, *, service: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(url, service=service)
    try:
        yield connection
    finally:
        await connection.close()


def event_message(body: bytes, *, event: dict[str, Any], position: int | None = None) -> aio_pika.Message:
    """The AMQP message that carries one event envelope."""
    headers: dict[str, Any] = {"x-event-version": event["version"]}
    if position is not None:
        headers["x-event-position"] = position
    return aio_pika.Message(
        body=body,
        content_type=EVENT_CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event["event_id"]),
        correlation_id=str(event["correlation_id"]),
        type=str(event["type"]),
        timestamp=datetime.now(UTC),
        headers=headers,
    )
