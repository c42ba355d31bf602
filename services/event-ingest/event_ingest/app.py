from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
import asyncpg
from aiohttp import web

from event_ingest.adapters.certificates import CertificateCache
from event_ingest.adapters.s3 import MailStore, s3_client
from event_ingest.adapters.store import GroupCommit, SendLookup
from event_ingest.http import GROUP_COMMIT, INGEST_SETTINGS, SEND_LOOKUP, ses_events
from event_ingest.inbound_http import CERTIFICATES, HTTP_CLIENT, INBOUND_SETTINGS, ses_inbound
from event_ingest.metrics import REPLIES
from event_ingest.replies import ReplyRules, process
from event_ingest.retention import retention_ctx
from event_ingest.settings import EventIngestSettings
from shared.consumer import Consumer
from shared.events import InboundMailReceived
from shared.http import AMQP, DB_POOL, create_base_app
from shared.lifecycle import inbound
from shared.logging import get_logger
from shared.topology import INBOUND
from shared.waiting import wait_until_set

SERVICE = "event-ingest"
log = get_logger(__name__)


def create_app(settings: EventIngestSettings) -> web.Application:
    app = create_base_app(
        settings, service=SERVICE, outbox_relay=True, client_max_size=settings.webhook_max_bytes
    )
    app[INGEST_SETTINGS] = settings
    app[INBOUND_SETTINGS] = settings
    app[GROUP_COMMIT] = GroupCommit()
    app[SEND_LOOKUP] = SendLookup()
    app.router.add_post("/api/webhooks/ses-events", ses_events)
    app.router.add_post("/api/webhooks/ses-inbound", ses_inbound)
    app.cleanup_ctx.append(retention_ctx)
    app.cleanup_ctx.append(_inbound_ctx)
    return app


async def _inbound_ctx(app: web.Application) -> AsyncIterator[None]:
    """The SNS side (certificates, confirmations) and the consumer that reads each mail."""
    settings = app[INBOUND_SETTINGS]
    async with aiohttp.ClientSession() as session, s3_client(settings) as s3:
        app[HTTP_CLIENT] = session
        app[CERTIFICATES] = CertificateCache(session)
        rules = ReplyRules(
            reply_domain=settings.reply_domain, forward_to=settings.reply_forward_to,
            forward_auto=settings.reply_forward_auto,
        )  # fmt: skip
        mail_store, read = MailStore(s3), asyncio.Event()
        consumer = Consumer(
            queue=INBOUND,
            pool=app[DB_POOL],
            handlers={
                InboundMailReceived: partial(on_inbound_received, store=mail_store, rules=rules, read=read)
            },
            prefetch=4,
            max_attempts=settings.consumer_max_attempts,
        )
        await consumer.start(app[AMQP])
        sweeping = asyncio.create_task(
            sweep_s3_copies(app[DB_POOL], mail_store, read), name="inbound-s3-sweep"
        )
        yield
        await consumer.stop(timeout=settings.shutdown_timeout_seconds)
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)


async def on_inbound_received(
    event: InboundMailReceived, conn: asyncpg.Connection, *, store: MailStore, rules: ReplyRules,
    read: asyncio.Event,
) -> None:  # fmt: skip
    found = await process(conn, event.data.inbound_id, fetch=store.read, rules=rules, cause=event)
    classification, matched = found
    if classification is not None:
        REPLIES.labels(classification, str(matched).lower()).inc()
        read.set()  # its S3 copy goes once this transaction has committed


async def sweep_s3_copies(
    pool: asyncpg.Pool, store: MailStore, read: asyncio.Event, every: float = 60.0
) -> None:
    """Delete the S3 copy of each mail kept here (after its processing committed)."""
    while True:
        await wait_until_set(read, every)
        read.clear()
        await asyncio.sleep(
            0.5
        )  # the transaction that set it commits meanwhile; a later sweep catches a slow one
        try:
            for row in await inbound.read_from_s3(pool):
                await store.delete(row["s3_bucket"], row["s3_key"])
                await inbound.s3_copy_gone(pool, row["id"])
        except Exception as exc:  # S3 or the database away: the next sweep tries again
            log.warning("deleting read mail from S3 failed; tried again later", error=type(exc).__name__)
