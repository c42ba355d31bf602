"""`python -m projector rebuild`: drop the read tables and replay the event store into them."""

from __future__ import annotations

from functools import partial

import asyncpg

from projector.adapters import store
from projector.handlers import ProjectionOptions, project_batch
from shared.consumer import apply_batch_on
from shared.event_store import read_all
from shared.events import Envelope
from shared.topology import PROJECTOR

REPLAY_BATCH = 500  # events tracked by one statement


async def rebuild(pool: asyncpg.Pool, options: ProjectionOptions) -> int:
    """One transaction: readers see the old tables until the new ones are complete."""
    options = ProjectionOptions(limits=options.limits, side_effects=False)
    handler = partial(project_batch, options=options)
    replayed = 0
    async with pool.acquire() as conn, conn.transaction():
        await store.truncate_read_tables(conn, PROJECTOR.consumer)
        batch: list[Envelope] = []
        async with pool.acquire() as reader:
            async for stored in read_all(reader):
                batch.append(stored.event)
                if len(batch) == REPLAY_BATCH:
                    replayed += len(await apply_batch_on(conn, PROJECTOR.consumer, batch, handler))
                    batch = []
        replayed += len(await apply_batch_on(conn, PROJECTOR.consumer, batch, handler))
    return replayed
