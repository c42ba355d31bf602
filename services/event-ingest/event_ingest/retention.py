"""The daily purge of raw SES payloads and refused bodies past RAW_EVENT_RETENTION_DAYS.

Every event-ingest process runs it (at start, then every RETENTION_INTERVAL_SECONDS);
the deletes are idempotent, so several replicas running it cost a few empty queries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from event_ingest.adapters.store import delete_expired
from event_ingest.http import INGEST_SETTINGS
from shared.http import DB_POOL, PASSING_FAULTS
from shared.logging import get_logger

log = get_logger(__name__)


async def purge_forever(app: web.Application) -> None:
    settings = app[INGEST_SETTINGS]
    while True:
        try:
            deleted = await delete_expired(app[DB_POOL], settings.raw_event_retention_days)
            if any(deleted.values()):
                log.info("expired raw payloads deleted", days=settings.raw_event_retention_days, **deleted)
        except PASSING_FAULTS as exc:
            log.warning("the retention purge could not run; next time", error=repr(exc))
        except Exception:  # any other fault: said loudly, and the purge still runs next time
            log.exception("the retention purge failed; next time")
        await asyncio.sleep(settings.retention_interval_seconds)


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(purge_forever(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
