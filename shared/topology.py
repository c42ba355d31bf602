"""RabbitMQ topology, declared in one place.

One durable topic exchange carries every event (routing key = event type).
Each consumer has its own durable queue (quorum where the broker has them)
with a dead-letter queue beside it, both named after the consumer so the
management console reads like the architecture diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

EVENTS_EXCHANGE = "outreach.events"
DEAD_LETTER_EXCHANGE = "outreach.dead-letter"
# Redeliveries the broker allows before it dead-letters on its own. The
# consumer runner dead-letters earlier (after CONSUMER_MAX_ATTEMPTS, with the
# reason); this limit catches a message that crashes the whole process.
BROKER_DELIVERY_LIMIT = 20


@dataclass(frozen=True)
class ConsumerQueue:
    consumer: str
    bindings: tuple[str, ...]
    # One active consumer at a time (the others stand by): a single global
    # send cadence however many sender replicas run.
    single_active_consumer: bool = False

    @property
    def name(self) -> str:
        return f"outreach.{self.consumer}"

    @property
    def dead_letter_name(self) -> str:
        return f"outreach.{self.consumer}.dead-letter"


SENDER = ConsumerQueue(
    "sender",
    ("campaign.requested", "campaign.resumed", "campaign.chunk_completed"),
    single_active_consumer=True,
)
PROJECTOR = ConsumerQueue("projector", ("#",))
# event-ingest reads each received mail (from S3), matches and classifies it.
INBOUND = ConsumerQueue("inbound", ("inbound.received",))
# The sender forwards replies to the campaigns' owners (claimed like a send).
FORWARDER = ConsumerQueue("forwarder", ("reply.forward_requested",))

CONSUMER_QUEUES: tuple[ConsumerQueue, ...] = (SENDER, PROJECTOR, INBOUND, FORWARDER)


def queue_arguments(queue: ConsumerQueue, queue_type: Literal["quorum", "classic"]) -> dict[str, Any]:
    args: dict[str, Any] = {
        "x-queue-type": queue_type,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": queue.name,
    }
    if queue_type == "quorum":
        args["x-delivery-limit"] = BROKER_DELIVERY_LIMIT
        # Dead-letter without losing the message if the DLQ is briefly unavailable;
        # the broker requires reject-publish overflow for this strategy.
        args["x-dead-letter-strategy"] = "at-least-once"
        args["x-overflow"] = "reject-publish"
    if queue.single_active_consumer:
        args["x-single-active-consumer"] = True
    return args


async def declare_topology(
    channel: AbstractChannel,
    *,
    queue_type: Literal["quorum", "classic"] = "quorum",
    queues: tuple[ConsumerQueue, ...] = CONSUMER_QUEUES,
) -> AbstractExchange:
    """Declare exchanges, consumer queues, dead-letter queues and bindings (idempotent)."""
    events = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    dead_letter = await channel.declare_exchange(
        DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
    )
    for queue in queues:
        dlq = await channel.declare_queue(
            queue.dead_letter_name, durable=True, arguments={"x-queue-type": queue_type}
        )
        await dlq.bind(dead_letter, routing_key=queue.name)
        main = await channel.declare_queue(
            queue.name, durable=True, arguments=queue_arguments(queue, queue_type)
        )
        for key in queue.bindings:
            await main.bind(events, routing_key=key)
    return events
