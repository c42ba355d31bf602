"""The search indexer: the prospects an import wrote get their search row (prospect_search)
within seconds of the import, in steps of a few thousand rows, each step its own
transaction. Neither the import nor the projection of SES events waits for the trigram
index: the import only appends ProspectsImported, the projector only queues it.

One pass covers every import queued when it starts (it walks every prospect written since
the earliest of them) and then forgets those; an import queued meanwhile gets a pass of its
own. A pass interrupted (a crash, an erasure racing a step) starts over: writing a search
row is idempotent, and rows whose text did not change are not written again.

The same task folds prospect_counts every half minute (shared.lifecycle.prospect.compact_counts).
"""

from __future__ import annotations

import time
from datetime import datetime

import asyncpg

from projector.adapters import store
from projector.metrics import SEARCH_INDEXED, SEARCH_PENDING
from projector.upkeep import every
from shared.lifecycle import prospect as prospects

COMPACT_SECONDS = 30.0


class SearchIndexer:
    def __init__(self, pool: asyncpg.Pool, *, poll_seconds: float = 1.0, step_rows: int = 5000) -> None:
        self._pool = pool
        self._poll_seconds = poll_seconds
        self._step_rows = step_rows

    async def drain(self) -> int:
        """Index everything queued now; the number of prospects looked at."""
        looked_at = 0
        while jobs := await store.search_refreshes(self._pool):
            SEARCH_PENDING.set(len(jobs))
            looked_at += await self._pass(min(job["since"] for job in jobs))
            await store.forget_search_refreshes(self._pool, [job["event_id"] for job in jobs])
        SEARCH_PENDING.set(0)
        return looked_at

    async def _pass(self, since: datetime) -> int:
        after, looked_at = prospects.NO_ID, 0
        while True:
            async with self._pool.acquire() as conn:
                last, rows = await prospects.refresh_search(conn, since, after, self._step_rows)
            if last is None:
                return looked_at
            after = last
            looked_at += rows
            SEARCH_INDEXED.inc(rows)

    async def run(self) -> None:
        """Drain, then look again after `poll_seconds`; until cancelled, surviving outages.
        Every `COMPACT_SECONDS` it also folds prospect_counts (the same kind of upkeep)."""
        compacted = 0.0

        async def step() -> None:
            nonlocal compacted
            await self.drain()
            if time.monotonic() - compacted >= COMPACT_SECONDS:
                await prospects.compact_counts(self._pool)
                compacted = time.monotonic()

        await every(step, seconds=self._poll_seconds, what="search indexer", max_backoff=5.0)
