"""Waiting on an event with a deadline, without losing a cancellation."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait at most `seconds` for `event`; True when it is set.

    Not asyncio.wait_for: on Python 3.11 it drops a cancellation that arrives in the
    same loop step as the event is set, and a loop built on it then never stops (a
    gateway's shutdown hung on its outbox relay that way, once in about 25 runs).
    asyncio.timeout counts cancellations and keeps the caller's.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
