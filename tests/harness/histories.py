"""Realistic event histories of a few sends, for the projector's order and rebuild tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from shared.addresses import email_hash
from shared.events import (
    Diagnostic,
    Envelope,
    ProspectUnsubscribed,
    ProspectUnsubscribedData,
    SendAttempted,
    SendAttemptedData,
    SesBounce,
    SesBounceData,
    SesClick,
    SesClickData,
    SesComplaint,
    SesComplaintData,
    SesDelivery,
    SesDeliveryData,
    SesDeliveryDelay,
    SesDeliveryDelayData,
    SesEventData,
    SesOpen,
    SesSend,
)
from tests.harness.gateway import ADDRESS_KEY

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    campaign_id: uuid.UUID
    prospects: tuple[uuid.UUID, ...]
    sends: tuple[uuid.UUID, ...]


def new_world(size: int = 4) -> World:
    return World(
        uuid.uuid4(), tuple(uuid.uuid4() for _ in range(size)), tuple(uuid.uuid4() for _ in range(size))
    )


async def seed_world(conn: asyncpg.Connection, world: World) -> None:
    await conn.execute(
        "INSERT INTO email_campaigns (id, name, subject, from_email, status)"
        " VALUES ($1, 'c', 's', 'a@example.com', 'sending')",
        world.campaign_id,
    )
    for i, (prospect, send) in enumerate(zip(world.prospects, world.sends, strict=True)):
        email = f"p{i}-{prospect.hex[:6]}@example.com"
        await conn.execute(
            "INSERT INTO prospects (id, email, email_hash) VALUES ($1, $2, $3)",
            prospect,
            email,
            email_hash(email, ADDRESS_KEY),
        )
        await conn.execute(
            "INSERT INTO email_sends (id, campaign_id, prospect_id, unsubscribe_token, outcome, ses_message_id)"
            " VALUES ($1, $2, $3, $4, 'sent', $5)",
            send,
            world.campaign_id,
            prospect,
            uuid.uuid4().hex,
            f"ses-{send.hex}",
        )


def history(world: World) -> list[Envelope]:
    """A send each: delivered+opened+clicked; permanently bounced; complained; delayed then unsubscribed."""
    c = world.campaign_id
    events: list[Envelope] = []

    def ses(i: int, minutes: int) -> dict:
        return {
            "eventbridge_id": f"eb-{i}-{minutes}", "ses_message_id": f"ses-{world.sends[i].hex}",
            "timestamp": T0 + timedelta(minutes=minutes),
            "send_id": world.sends[i], "campaign_id": c, "prospect_id": world.prospects[i],
        }  # fmt: skip

    for i in range(len(world.sends)):
        events.append(
            SendAttempted.new(
                SendAttemptedData(
                    send_id=world.sends[i],
                    campaign_id=c,
                    prospect_id=world.prospects[i],
                    outcome="sent",
                    ses_message_id=f"ses-{world.sends[i].hex}",
                )
            )
        )
        events.append(SesSend.new(SesEventData(**ses(i, 1))))
    events += [
        SesDelivery.new(SesDeliveryData(**ses(0, 2))),
        SesOpen.new(SesEventData(**ses(0, 5))),
        SesOpen.new(SesEventData(**ses(0, 9))),
        SesClick.new(SesClickData(**ses(0, 10), link="https://example.com/a")),
        SesBounce.new(SesBounceData(**ses(1, 3), bounce_type="Transient", bounce_subtype="MailboxFull")),
        SesBounce.new(
            SesBounceData(
                **ses(1, 4),
                bounce_type="Permanent",
                bounce_subtype="General",
                diagnostics=(Diagnostic(action="failed", diagnostic_code="smtp; 550 5.1.1"),),
            )
        ),
        SesDelivery.new(SesDeliveryData(**ses(2, 2))),
        SesComplaint.new(SesComplaintData(**ses(2, 30), complaint_feedback_type="abuse")),
    ]
    if len(world.sends) > 3:
        events += [
            SesDeliveryDelay.new(
                SesDeliveryDelayData(**ses(3, 2), delay_type="TransientCommunicationFailure")
            ),
            SesDelivery.new(SesDeliveryData(**ses(3, 20))),
            ProspectUnsubscribed.new(
                ProspectUnsubscribedData(
                    prospect_id=world.prospects[3], send_id=world.sends[3], campaign_id=c, source="one_click"
                )
            ),
        ]
    return events


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    """The read tables and the prospect statuses, without bookkeeping columns."""
    sends = await conn.fetch("SELECT * FROM send_status ORDER BY send_id")
    stats = await conn.fetch("SELECT * FROM campaign_stats ORDER BY campaign_id")
    prospects = await conn.fetch("SELECT id, status FROM prospects ORDER BY id")
    audit = await conn.fetch("SELECT event_id, prospect_id, source FROM unsubscribes ORDER BY event_id")

    def rows(records: list[asyncpg.Record]) -> list[tuple]:
        return [tuple(v for k, v in r.items() if k != "updated_at") for r in records]

    return {"sends": rows(sends), "stats": rows(stats), "prospects": rows(prospects), "audit": rows(audit)}
