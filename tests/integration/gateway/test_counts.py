"""prospect_counts: kept by the triggers of prospects through every kind of write, equal
to counting the table, folded without changing a sum; the list, segment counts and tags
answer from it."""

from __future__ import annotations

import json

import pytest

from shared import db
from shared.lifecycle import prospect as lifecycle
from tests.harness.gateway import ADMIN
from tests.harness.roles import as_service

pytestmark = pytest.mark.integration

TRUTH = """
SELECT tag, status, count(*) AS n FROM (
    SELECT '' AS tag, status FROM prospects UNION ALL SELECT t, status FROM prospects, unnest(tags) AS t
) x GROUP BY tag, status
"""
CSV = {"Content-Type": "text/csv"}
KEPT = "SELECT tag, status, sum(n) AS n FROM prospect_counts GROUP BY tag, status HAVING sum(n) <> 0"


async def agree(pool) -> dict[tuple[str, str], int]:
    truth = {(r["tag"], r["status"]): r["n"] for r in await pool.fetch(TRUTH)}
    kept = {(r["tag"], r["status"]): r["n"] for r in await pool.fetch(KEPT)}
    assert kept == truth
    return truth


async def call(client, method: str, path: str, headers: dict | None = None, **kwargs):
    response = await client.request(method, path, headers={**ADMIN, **(headers or {})}, **kwargs)
    assert response.status < 300, (path, response.status, await response.text())
    return await response.json() if response.status != 204 else None


async def test_counts_follow_every_write_and_answer_the_counts(client, gw_pool, gateway_db, monkeypatch):
    monkeypatch.setattr(lifecycle, "CHUNK_ROWS", 4)  # an import of several statements
    rows = ["email,first_name,tags"] + [
        f"c{i}@example.com,C{i},{'lead;eu' if i % 3 else 'us'}" for i in range(11)
    ]
    await call(client, "POST", "/api/prospects/import", data="\n".join(rows).encode(), headers=CSV)
    await agree(gw_pool)
    # Imported again with a new tag for some: updates that change tags count, name-only ones not.
    await call(client, "POST", "/api/prospects/import?tag=fair", data=b"email,first_name\nc1@example.com,New\n",
               headers=CSV)  # fmt: skip
    await call(client, "POST", "/api/prospects/import", data=b"email,first_name\nc2@example.com,Renamed\n",
               headers=CSV)  # fmt: skip
    await agree(gw_pool)
    has_lead = {"field": "tags", "op": "has", "value": "lead"}
    await call(client, "POST", "/api/prospects/bulk", json={"filter": has_lead, "add_tags": ["vip"]})
    await call(client, "POST", "/api/prospects/bulk", json={"filter": has_lead, "remove_tags": ["eu"]})
    await call(client, "POST", "/api/prospects/bulk",
               json={"filter": {"field": "tags", "op": "has", "value": "us"}, "status": "bounced"})  # fmt: skip
    created = await call(client, "POST", "/api/prospects", json={"email": "solo@example.com", "tags": ["us"]})
    await call(client, "PATCH", f"/api/prospects/{created['id']}", json={"tags": ["lead", "solo"]})
    await call(client, "PATCH", f"/api/prospects/{created['id']}", json={"status": "unsubscribed"})
    gone = await gw_pool.fetchval("SELECT id FROM prospects WHERE email = 'c5@example.com'")
    await call(client, "DELETE", f"/api/prospects/{gone}")
    truth = await agree(gw_pool)
    assert truth[("lead", "active")] == 6 and truth[("vip", "active")] == 6 and ("eu", "active") not in truth

    # The answers come from the counts and agree with the table.
    tags = {t["tag"]: t["prospects"] for t in (await call(client, "GET", "/api/tags"))["items"]}
    assert tags == {
        tag: sum(n for (t, _), n in truth.items() if t == tag) for tag in {t for t, _ in truth if t}
    }
    preview = await call(
        client,
        "POST",
        "/api/segments/preview",
        json={"rule": {"all": [has_lead, {"field": "status", "op": "eq", "value": "active"}]}},
    )
    assert preview["count"] == 6 and len(preview["items"]) == 6
    listed = await call(client, "GET", "/api/prospects", params={"status": "bounced", "rule": json.dumps(
        {"field": "tags", "op": "has", "value": "us"})})  # fmt: skip
    assert listed["total"] == truth[("us", "bounced")] == 4
    everyone = await call(client, "GET", "/api/prospects")
    assert everyone["total"] == sum(n for (t, _), n in truth.items() if t == "") == 11

    # Folded by the projector's role: one row a key, the same sums.
    before = await gw_pool.fetchval("SELECT count(*) FROM prospect_counts")
    async with db.pool_context(as_service(gateway_db, "projector")) as projector:
        await lifecycle.compact_counts(projector)
    assert await gw_pool.fetchval("SELECT count(*) FROM prospect_counts") == len(truth) < before
    await agree(gw_pool)
    await gw_pool.execute("TRUNCATE prospects CASCADE")
    assert await agree(gw_pool) == {}
