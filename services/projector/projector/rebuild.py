"""`python -m projector rebuild`: drop the read tables and replay the event store into them."""

from __future__ import annotations

import asyncpg

from projector.adapters import store
from projector.handlers import ProjectionOptions, project
from shared.consumer import Handler, apply_once_on
from shared.event_store import read_all
from shared.events import Envelope
from shared.topology import PROJECTOR


async def rebuild(pool: asyncpg.Pool, options: ProjectionOptions) -> int:
    """One transaction: readers see the old tables until the new ones are complete."""
    options = ProjectionOptions(limits=options.limits, side_effects=False)
    replayed = 0
    async with pool.acquire() as conn, conn.transaction():
        await store.truncate_read_tables(conn, PROJECTOR.consumer)
        async with pool.acquire() as reader:
            async for stored in read_all(reader):
                await apply_once_on(conn, PROJECTOR.consumer, stored.event, _bound(options))
                replayed += 1
    return replayed


def _bound(options: ProjectionOptions) -> Handler:
    async def handler(event: Envelope, conn: asyncpg.Connection) -> None:
        await project(event, conn, options=options)

    return handler
