"""The projector's background work (the search indexer, the MX check): a step run every
few seconds until cancelled, an error logged and retried with a growing pause, so a
database restart costs a retry, not the task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shared.logging import get_logger

log = get_logger(__name__)


async def every(
    step: Callable[[], Awaitable[object]], *, seconds: float, what: str, max_backoff: float
) -> None:
    backoff = 0.1
    while True:
        try:
            await step()
            backoff = 0.1
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{what} interrupted; retrying", error=repr(exc), retry_in=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)
