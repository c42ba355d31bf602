"""API keys (`outreach api-key …`): printed once, stored hashed, scoped, revocable, counted."""

from __future__ import annotations

import uuid

import pytest

from api_gateway.api_keys import key_hash
from tests.harness.cli import run_outreach
from tests.harness.gateway import PROXY, PROXY_SECRET, gateway

pytestmark = pytest.mark.integration


async def create_key(database_url: str, scope: str) -> tuple[str, str]:
    name = f"script-{uuid.uuid4().hex[:6]}"
    code, out, err = await run_outreach(
        "api-key", "create", name, "--scope", scope, DATABASE_URL=database_url
    )
    assert code == 0, err
    return name, out.strip().splitlines()[-1]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_is_shown_once_stored_hashed_and_scoped(client, gateway_db, gw_pool):
    name, key = await create_key(gateway_db, "prospects:read")
    assert key.startswith("ok_") and len(key) == 46
    row = await gw_pool.fetchrow("SELECT key_hash, prefix, scopes FROM api_keys WHERE name = $1", name)
    assert (
        row["key_hash"] == key_hash(key) and row["prefix"] == key[:7] and row["scopes"] == ["prospects:read"]
    )
    dump = str([dict(r) for r in await gw_pool.fetch("SELECT * FROM api_keys")])
    assert key not in dump and key[7:] not in dump, "the key itself is not stored"
    assert (await client.get("/api/prospects", headers=bearer(key))).status == 200
    refused = await client.post("/api/prospects", json={"email": "k@example.com"}, headers=bearer(key))
    assert refused.status == 403 and "prospects:write" in (await refused.json())["error"]["message"]
    assert (await client.get("/api/campaigns", headers=bearer(key))).status == 403
    assert (await client.post("/internal/campaigns/continue", json={}, headers=bearer(key))).status == 401


async def test_write_includes_read_and_the_actor_is_the_key(client, gateway_db, gw_pool):
    name, key = await create_key(gateway_db, "prospects:write")
    created = await client.post("/api/prospects", json={"email": f"{name}@example.com"}, headers=bearer(key))
    assert created.status == 201
    prospect_id = (await created.json())["id"]
    assert (await client.get(f"/api/prospects/{prospect_id}", headers=bearer(key))).status == 200
    await client.patch(f"/api/prospects/{prospect_id}", json={"status": "bounced"}, headers=bearer(key))
    changed_by = await gw_pool.fetchval(
        "SELECT data->>'changed_by' FROM events WHERE type = 'prospect.status_changed' AND data->>'prospect_id' = $1",
        prospect_id,
    )
    assert changed_by == f"api-key:{name}"


async def test_list_shows_last_use_and_revoke_stops_the_key_at_once(client, gateway_db):
    name, key = await create_key(gateway_db, "all")
    assert (await client.get("/api/campaigns", headers=bearer(key))).status == 200
    code, out, _ = await run_outreach("api-key", "list", DATABASE_URL=gateway_db)
    line = next(line for line in out.splitlines() if line.startswith(name))
    assert key[:7] in line and "last used never" not in line and line.endswith("live")
    assert key[7:] not in out
    code, _, _ = await run_outreach("api-key", "revoke", name, DATABASE_URL=gateway_db)
    assert code == 0
    refused = await client.get("/api/campaigns", headers=bearer(key))
    assert refused.status == 401 and "revoked" in (await refused.json())["error"]["message"]
    code, _, err = await run_outreach("api-key", "revoke", name, DATABASE_URL=gateway_db)
    assert code == 1 and "no live key" in err


@pytest.mark.parametrize(("scope", "needle"), [("prospects:delete", "unknown scope"), ("", "unknown scope")])
async def test_a_bad_scope_is_refused_by_the_cli(gateway_db, scope, needle):
    code, _, err = await run_outreach("api-key", "create", "bad", "--scope", scope, DATABASE_URL=gateway_db)
    assert code == 1 and needle in err


async def test_wrong_keys_and_proxy_secrets_are_rate_limited_per_client(gateway_db, amqp_url):
    async with gateway(gateway_db, amqp_url, login_rate_limit=3, login_block_seconds=60) as limited:
        wrong = [
            bearer("ok_" + "x" * 43),
            {"X-Proxy-Secret": "y" * len(PROXY_SECRET)},
            bearer("ok_" + "z" * 43),
        ]
        assert [(await limited.get("/api/prospects", headers=h)).status for h in wrong] == [401, 401, 401]
        blocked = await limited.get("/api/prospects", headers=PROXY)  # even the right secret, while blocked
        assert blocked.status == 429 and int(blocked.headers["Retry-After"]) >= 59


async def test_the_proxy_secret_keeps_working_and_acts_as_proxy(client, gw_pool):
    created = await client.post("/api/prospects", json={"email": f"p-{uuid.uuid4().hex[:6]}@example.com"},
                                headers=PROXY)  # fmt: skip
    prospect_id = (await created.json())["id"]
    await client.patch(f"/api/prospects/{prospect_id}", json={"status": "bounced"}, headers=PROXY)
    changed_by = await gw_pool.fetchval(
        "SELECT data->>'changed_by' FROM events WHERE type = 'prospect.status_changed' AND data->>'prospect_id' = $1",
        prospect_id,
    )
    assert changed_by == "proxy"
