"""A deadline on an event wait keeps the caller's cancellation."""

from __future__ import annotations

import asyncio

import pytest

from shared.waiting import wait_until_set


async def test_a_cancellation_arriving_as_the_event_is_set_still_cancels():
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_until_set(event, 60))
    await asyncio.sleep(0)  # now inside event.wait()
    event.set()
    waiting.cancel()  # the same loop step: asyncio.wait_for on 3.11 returns normally here
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_answers_whether_the_event_was_set():
    event = asyncio.Event()
    assert await wait_until_set(event, 0.01) is False
    asyncio.get_running_loop().call_soon(event.set)
    assert await wait_until_set(event, 60) is True
