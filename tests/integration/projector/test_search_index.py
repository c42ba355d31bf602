"""Substring search off the import's write path: an import leaves its rows to the
projector's search indexer, which makes them findable within seconds; a single create or
edit is findable at once; an erasure takes the search row with it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp.test_utils import TestServer

from projector.app import create_app as create_projector
from projector.search_indexer import SearchIndexer
from projector.settings import ProjectorSettings
from shared import db
from tests.harness.gateway import ADMIN, gateway
from tests.harness.roles import as_service

pytestmark = pytest.mark.integration

# Prospects whose search row is missing or differs from what their fields make.
STALE = """
SELECT count(*) FROM prospects p FULL JOIN prospect_search s USING (id)
WHERE s.search_text IS DISTINCT FROM outreach_search_text(p.email, p.first_name, p.last_name, p.company)
"""


async def found(client, q: str) -> int:
    response = await client.get("/api/prospects", params={"q": q, "limit": 1}, headers=ADMIN)
    assert response.status == 200, await response.text()
    return (await response.json())["total"]


async def import_csv(client, rows: list[str]) -> dict:
    response = await client.post(
        "/api/prospects/import", data="\n".join(rows).encode(), headers={**ADMIN, "Content-Type": "text/csv"}
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_imported_prospects_become_findable_through_the_projector(make_database, make_vhost):
    database_url, amqp_url = await make_database(), await make_vhost()
    run = uuid.uuid4().hex[:8]
    settings = ProjectorSettings(
        database_url=as_service(database_url, "projector"), amqp_url=amqp_url, outbox_poll_seconds=0.5,
        search_index_poll_seconds=0.1,
    )  # fmt: skip
    async with db.pool_context(database_url) as pool, gateway(database_url, amqp_url) as client:
        created = await client.post(
            "/api/prospects", json={"email": f"kept-{run}@example.com", "company": "Old Co"}, headers=ADMIN
        )
        assert created.status == 201
        # Created one at a time: findable at once, no projector running.
        assert await found(client, f"kept-{run}") == 1

        rows = ["email,first_name,company"] + [
            f"p{i}-{run}@example.com,Zelda{run},Acme {i}" for i in range(240)
        ]
        rows.append(f"kept-{run}@example.com,,Quux {run}")  # an update: the company changes
        report = await import_csv(client, rows)
        assert (report["inserted"], report["updated"]) == (240, 1)
        # The import wrote no search rows; it queued the work for the indexer.
        assert await found(client, f"zelda{run}") == 0
        assert await pool.fetchval(STALE) == 241

        async with TestServer(create_projector(settings)):
            async with asyncio.timeout(30):
                while await found(client, f"zelda{run}") < 240 or await found(client, f"quux {run}") < 1:
                    await asyncio.sleep(0.05)
            async with asyncio.timeout(10):
                while await pool.fetchval("SELECT count(*) FROM search_refresh"):
                    await asyncio.sleep(0.05)
        assert await pool.fetchval(STALE) == 0
        assert await found(client, "old co") == 0  # the old company is no longer found

        # An edit of a searched field is findable at once; erasure takes the search row.
        prospect = (
            await (await client.get("/api/prospects", params={"q": f"p7-{run}"}, headers=ADMIN)).json()
        )["items"][0]
        edited = await client.patch(
            f"/api/prospects/{prospect['id']}", json={"last_name": f"Renamed{run}"}, headers=ADMIN
        )
        assert edited.status == 200
        assert await found(client, f"renamed{run}") == 1
        assert (await client.delete(f"/api/prospects/{prospect['id']}", headers=ADMIN)).status == 204
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM prospect_search WHERE id = $1", uuid.UUID(prospect["id"])
            )
            == 0
        )
        assert await pool.fetchval(STALE) == 0


async def test_one_pass_covers_every_queued_import_in_small_steps(make_database, amqp_url):
    """Two imports queued, steps of 7 rows: one pass indexes both and forgets both; an
    import queued once they are forgotten gets the next pass."""
    database_url = await make_database()
    run = uuid.uuid4().hex[:8]
    async with (
        db.pool_context(database_url) as pool,
        db.pool_context(as_service(database_url, "projector")) as projector_pool,
        gateway(database_url, amqp_url) as client,
    ):
        for batch in ("a", "b"):
            await import_csv(
                client, ["email,first_name"] + [f"{batch}{i}-{run}@example.com,N{batch}" for i in range(20)]
            )
        # What the projector's handler does with each ProspectsImported (no broker here).
        await pool.execute(
            """INSERT INTO search_refresh (event_id, since)
               SELECT event_id, (data->>'written_since')::timestamptz FROM events WHERE type = 'prospects.imported'"""
        )
        indexer = SearchIndexer(projector_pool, step_rows=7)
        assert await indexer.drain() == 40
        assert await pool.fetchval(STALE) == 0
        assert await pool.fetchval("SELECT count(*) FROM search_refresh") == 0
        assert await indexer.drain() == 0  # nothing queued: nothing looked at

        await import_csv(client, ["email,first_name", f"c0-{run}@example.com,Nc"])
        await pool.execute(
            """INSERT INTO search_refresh (event_id, since)
               SELECT event_id, (data->>'written_since')::timestamptz FROM events
               WHERE type = 'prospects.imported' ORDER BY position DESC LIMIT 1"""
        )
        assert await indexer.drain() == 1  # only what that import wrote
        assert await found(client, f"c0-{run}") == 1
