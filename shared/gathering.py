"""Requests that arrive together, served by one database call (group commit).

A caller waits for its own answer; while one call runs, new arrivals gather for the
next: no timer, so a lone request goes at once, and under load the batches grow by
themselves. A batch that fails in the database (a constraint, a bad value) is served
again one request at a time, so one bad request fails alone; a database that is away
fails every caller of the batch, each of which decides whether to try again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Gathering(Generic[ItemT, ResultT]):
    """`call(pool, items)` answers a batch (or a subclass's `_call`): one result an item, in order."""

    def __init__(
        self, call: Callable[[asyncpg.Pool, list[ItemT]], Awaitable[Sequence[ResultT]]] | None = None,
        max_batch: int = 256, concurrency: int = 1,
    ) -> None:  # fmt: skip
        self._function = call
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._waiting: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._running = 0
        self._runs: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references
        self.largest_batch = 0

    async def submit(self, pool: asyncpg.Pool, item: ItemT) -> ResultT:
        """The item's answer, served with whatever arrived with it."""
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._running < self._concurrency:
            self._running += 1
            run = asyncio.get_running_loop().create_task(self._run(pool))
            self._runs.add(run)
            run.add_done_callback(self._runs.discard)
        return await future

    async def _run(self, pool: asyncpg.Pool) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                self.largest_batch = max(self.largest_batch, len(batch))
                await self._serve(pool, batch)
        finally:
            self._running -= 1

    async def _serve(self, pool: asyncpg.Pool, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        try:
            results = await self._call(pool, [item for item, _ in batch])
        except asyncpg.PostgresError as exc:
            if len(batch) == 1:
                settle(batch, exc=exc)
                return
            for one in batch:
                try:
                    settle([one], await self._call(pool, [one[0]]))
                except Exception as exc:
                    settle([one], exc=exc)
            return
        except Exception as exc:  # the database is away (or the call is broken): every caller hears it
            settle(batch, exc=exc)
            return
        settle(batch, results)

    async def _call(self, pool: asyncpg.Pool, items: list[ItemT]) -> Sequence[ResultT]:
        if self._function is None:
            raise NotImplementedError("a Gathering needs a call or a _call")
        return await self._function(pool, items)


def settle(
    batch: Sequence[tuple[object, asyncio.Future[ResultT]]], results: Sequence[ResultT] | None = None,
    exc: BaseException | None = None,
) -> None:  # fmt: skip
    for i, (_, future) in enumerate(batch):
        if future.done():  # its caller was cancelled
            continue
        if results is not None:
            future.set_result(results[i])
        else:
            future.set_exception(exc or RuntimeError("the request was not served"))
