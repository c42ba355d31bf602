from __future__ import annotations

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
from shared.topology import INBOUND

SERVICE = "event-ingest"


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
        consumer = Consumer(
            queue=INBOUND,
            pool=app[DB_POOL],
            handlers={InboundMailReceived: partial(on_inbound_received, store=MailStore(s3), rules=rules)},
            prefetch=4,
            max_attempts=settings.consumer_max_attempts,
        )
        await consumer.start(app[AMQP])
        yield
        await consumer.stop(timeout=settings.shutdown_timeout_seconds)


async def on_inbound_received(
    event: InboundMailReceived, conn: asyncpg.Connection, *, store: MailStore, rules: ReplyRules
) -> None:
    classification, matched = await process(
        conn, event.data.inbound_id, fetch=store.read, rules=rules, cause=event
    )
    if classification is not None:
        REPLIES.labels(classification, str(matched).lower()).inc()
