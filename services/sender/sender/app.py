"""The sender process: health and metrics over HTTP, the send loop on the sender queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial

import asyncpg
from aiohttp import web

from sender.adapters import store
from sender.adapters.ses import SesGateway, ses_gateway
from sender.domain import Cadence
from sender.forwarding import INTERRUPTED_AFTER_SECONDS, ForwardRules, on_forward_requested
from sender.handlers import on_campaign_requested, on_chunk_completed
from sender.loop import ChunkRunner, SenderConfig
from sender.pacing import DomainPacer
from sender.quota import QuotaKeeper
from sender.safety_nets import SafetyNets
from sender.settings import SenderSettings
from sender.warmup import WarmupGuard
from sender.watch import watch
from sender.work import Clock
from shared import eligibility
from shared.consumer import Consumer
from shared.events import CampaignChunkCompleted, CampaignRequested, CampaignResumed, ReplyForwardRequested
from shared.http import AMQP, DB_POOL, create_base_app
from shared.lifecycle import inbound
from shared.logging import get_logger
from shared.topology import FORWARDER, SENDER

SERVICE = "sender"
log = get_logger(__name__)
RUNNER = web.AppKey("chunk_runner", ChunkRunner)
# A test's clock for the schedule's rules (sender.work.Clock); the real one otherwise.
CLOCK = web.AppKey("sender_clock", Clock)
SENDER_SETTINGS = web.AppKey("sender_settings", SenderSettings)


def create_app(settings: SenderSettings) -> web.Application:
    app = create_base_app(
        settings, service=SERVICE, outbox_relay=True, db_server_settings=eligibility.PLANNER_SETTINGS
    )
    app[SENDER_SETTINGS] = settings
    app.cleanup_ctx.append(_sending_ctx)
    return app


async def _sending_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SENDER_SETTINGS]
    log.info(settings.where_mail_goes())  # the one line that says whether mail is real
    async with ses_gateway(
        settings, configuration_set=settings.ses_configuration_set, timeout=settings.ses_timeout_seconds,
        max_connections=settings.send_max_in_flight + 4,
    ) as ses:  # fmt: skip
        cadence = Cadence(1.0 / settings.send_rate_per_second)
        quota = QuotaKeeper(
            ses, app[DB_POOL], cadence, configured_rate=settings.send_rate_per_second,
            daily_cap=settings.daily_send_cap, refresh_seconds=settings.quota_refresh_seconds,
            cap_zone=settings.daily_send_cap_timezone,
        )  # fmt: skip
        await quota.refresh()
        pacer = await _pacer(app[DB_POOL], settings.domain_rate_per_minute)
        runner = ChunkRunner(
            pool=app[DB_POOL], ses=ses, cadence=cadence, quota=quota,
            config=SenderConfig(
                batch_size=settings.send_batch_size, max_in_flight=settings.send_max_in_flight,
                chunk_max_seconds=settings.chunk_max_seconds, chunk_min_seconds=settings.chunk_min_seconds,
                throttle_retries=settings.throttle_retries,
                ambiguous_to_pause=settings.ambiguous_failures_to_pause,
                public_base_url=str(settings.public_base_url),
                failure_run_pause=settings.send_failure_run_pause,
                message_id_domain=settings.message_id_domain, reply_domain=settings.reply_domain,
                postal_address=settings.sender_postal_address,
            ),
            clock=app.get(CLOCK), pacer=pacer, warmup=WarmupGuard(app[DB_POOL], settings.ramp),
        )  # fmt: skip
        app[RUNNER] = runner
        consumer = Consumer(
            queue=SENDER,
            pool=app[DB_POOL],
            untracked={
                CampaignRequested: partial(on_campaign_requested, runner=runner),
                CampaignResumed: partial(on_campaign_requested, runner=runner),
                CampaignChunkCompleted: partial(on_chunk_completed, runner=runner),
            },
            prefetch=1,  # one chunk at a time: campaigns take turns, the cadence is one
            max_attempts=settings.consumer_max_attempts,
        )
        await consumer.start(app[AMQP])
        forwarder = await _forwarder(app, settings, ses, cadence)
        watching = asyncio.create_task(
            watch(
                app[DB_POOL],
                quota,
                every=settings.watch_seconds,
                lease_seconds=settings.sender_lease_seconds,
                clock=runner.clock,
                changed=runner.waiting_changed,
                nets=SafetyNets(app[DB_POOL], ses, push_suppressions=settings.ses_suppression_push),
            ),
            name="sender-watch",
        )
        yield
        watching.cancel()
        runner.shutdown()
        await consumer.stop(timeout=settings.shutdown_timeout_seconds)
        if forwarder is not None:
            await forwarder.stop(timeout=settings.shutdown_timeout_seconds)
        await asyncio.gather(watching, return_exceptions=True)


async def _pacer(pool: asyncpg.Pool, per_minute: int) -> DomainPacer:
    """The per-domain pacing, with the sends of the last interval before a restart counted."""
    pacer = DomainPacer(per_minute or None)
    if pacer.interval:
        now = asyncio.get_running_loop().time()
        ago = await store.last_sends_to_domains(pool, pacer.interval)
        pacer.seed({domain: now - seconds for domain, seconds in ago.items()})
    return pacer


async def _forwarder(
    app: web.Application, settings: SenderSettings, ses: SesGateway, cadence: Cadence
) -> Consumer | None:
    """Replies forwarded to the campaigns' owners, at the same cadence as the sends (with
    REPLY_DOMAIN; without it no reply is read, so none is forwarded)."""
    if settings.reply_domain is None:
        return None
    interrupted = await inbound.reconcile_forwards(app[DB_POOL], INTERRUPTED_AFTER_SECONDS)
    if interrupted:
        log.warning("forwards of an interrupted sender marked unknown", count=interrupted)
    consumer = Consumer(
        queue=FORWARDER,
        pool=app[DB_POOL],
        untracked={
            ReplyForwardRequested: partial(
                on_forward_requested, pool=app[DB_POOL], ses=ses, cadence=cadence,
                rules=ForwardRules(settings.reply_domain),
            )
        },
        prefetch=4,
        max_attempts=settings.consumer_max_attempts,
    )  # fmt: skip
    await consumer.start(app[AMQP])
    return consumer
