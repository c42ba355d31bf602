"""The projector process: health and metrics over HTTP, every event into the read tables."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

from projector import account_guard
from projector.handlers import ProjectionOptions, project, project_batch
from projector.mx_checker import MxChecker, resolver_for
from projector.policy import ReputationLimits
from projector.search_indexer import SearchIndexer
from projector.settings import ProjectorSettings
from projector.upkeep import every
from shared.consumer import Consumer
from shared.events import CATALOG
from shared.http import AMQP, DB_POOL, create_base_app
from shared.topology import PROJECTOR

SERVICE = "projector"
PROJECTOR_SETTINGS = web.AppKey("projector_settings", ProjectorSettings)


def options_of(settings: ProjectorSettings, *, side_effects: bool = True) -> ProjectionOptions:
    return ProjectionOptions(
        limits=ReputationLimits(
            min_sends=settings.reputation_min_sends,
            max_bounce_rate=settings.reputation_max_bounce_rate,
            max_complaint_rate=settings.reputation_max_complaint_rate,
        ),
        side_effects=side_effects,
    )


def create_app(settings: ProjectorSettings) -> web.Application:
    # The reputation guard appends CampaignPaused: the projector runs a relay too.
    app = create_base_app(settings, service=SERVICE, outbox_relay=True)
    app[PROJECTOR_SETTINGS] = settings
    app.cleanup_ctx.append(_consumer_ctx)
    app.cleanup_ctx.append(_search_indexer_ctx)
    if settings.mx_check_enabled:
        app.cleanup_ctx.append(_mx_checker_ctx)
    if settings.account_guard_seconds:
        app.cleanup_ctx.append(_account_guard_ctx)
    return app


async def _account_guard_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[PROJECTOR_SETTINGS]
    limits = ReputationLimits(
        min_sends=settings.account_guard_min_sends,
        max_bounce_rate=settings.account_max_bounce_rate,
        max_complaint_rate=settings.account_max_complaint_rate,
    )
    task = asyncio.create_task(
        every(partial(account_guard.check, app[DB_POOL], limits), seconds=settings.account_guard_seconds,
              what="the account's reputation guard", max_backoff=30.0),
        name="account-guard",
    )  # fmt: skip
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _consumer_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[PROJECTOR_SETTINGS]
    handler = partial(project, options=options_of(settings))
    consumer = Consumer(
        queue=PROJECTOR,
        pool=app[DB_POOL],
        handlers=dict.fromkeys(CATALOG, handler),
        prefetch=settings.amqp_prefetch,
        max_attempts=settings.consumer_max_attempts,
        batch_size=min(settings.projector_batch_size, max(1, settings.amqp_prefetch // 2)),
        batch_wait=settings.projector_batch_wait_seconds,
        batch_handler=partial(project_batch, options=options_of(settings)),
    )
    await consumer.start(app[AMQP])
    yield
    await consumer.stop(timeout=settings.shutdown_timeout_seconds)


async def _mx_checker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[PROJECTOR_SETTINGS]
    checker = MxChecker(
        app[DB_POOL], resolver_for(settings.dns_nameservers, settings.mx_check_timeout_seconds),
        concurrency=settings.mx_check_concurrency, poll_seconds=settings.mx_check_poll_seconds,
    )  # fmt: skip
    task = asyncio.create_task(checker.run(), name="mx-checker")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _search_indexer_ctx(app: web.Application) -> AsyncIterator[None]:
    indexer = SearchIndexer(app[DB_POOL], poll_seconds=app[PROJECTOR_SETTINGS].search_index_poll_seconds)
    task = asyncio.create_task(indexer.run(), name="search-indexer")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
