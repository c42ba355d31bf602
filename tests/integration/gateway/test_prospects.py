"""Prospects: create, search, page, update with the suppression rules, erase."""

from __future__ import annotations

import json
import uuid

import pytest
from aiohttp.test_utils import TestServer

from api_gateway.app import create_app
from shared.addresses import email_hash
from tests.harness.gateway import ADDRESS_KEY, ADMIN, gateway_settings

pytestmark = pytest.mark.integration


async def create(client, **fields):
    return await client.post("/api/prospects", json=fields, headers=ADMIN)


async def test_create_normalises_the_address_and_answers_201_with_the_row(client):
    response = await create(
        client, email="  Ada.Lovelace@Example.COM ", first_name="Ada", attributes={"tier": 1}
    )
    assert response.status == 201
    row = await response.json()
    assert row["email"] == "Ada.Lovelace@example.com"
    assert row["status"] == "active"
    assert row["attributes"] == {"tier": 1}
    assert uuid.UUID(row["id"]).version == 7


async def test_a_duplicate_address_is_409_with_the_existing_id(client):
    first = await (await create(client, email="dup@example.com")).json()
    again = await create(client, email="DUP@Example.com")
    assert again.status == 409
    body = await again.json()
    assert body["error"]["code"] == "duplicate_email"
    assert body["error"]["details"]["existing_id"] == first["id"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@example.com\r\nBcc: victim@example.com"}, "email"),
        ({"email": "x" * 400 + "@example.com"}, "email"),
        ({"email": "ok@example.com", "first_name": "Eve\r\nBcc: x@y.z"}, "first_name"),
        ({"email": "ok@example.com", "first_name": "x" * 201}, "first_name"),
        ({"email": "ok@example.com", "attributes": [1, 2]}, "attributes"),
        ({"email": "ok@example.com", "unexpected": 1}, "unexpected"),
        ({}, "email"),
    ],
)
async def test_invalid_input_is_400_naming_the_field(client, fields, field):
    response = await create(client, **fields)
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "validation_failed"
    assert field in {d["field"] for d in body["error"]["details"]}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [(b"{not json", "application/json", 400), (b"[]", "application/json", 400),
     (b"\xff\xfe", "application/json", 400), (b"email=a@b.c", "application/x-www-form-urlencoded", 415)],
)  # fmt: skip
async def test_malformed_bodies_get_a_clear_4xx(client, body, content_type, status):
    response = await client.post("/api/prospects", data=body, headers={**ADMIN, "Content-Type": content_type})
    assert response.status == status
    assert (await response.json())["error"]["message"]


async def test_an_oversized_json_body_is_413(client):
    response = await client.post(
        "/api/prospects", data=b'{"email": "' + b"a" * (2 * 1024**2) + b'"}',
        headers={**ADMIN, "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_search_filters_and_pages(client):
    tag = uuid.uuid4().hex[:8]
    for i in range(5):
        await create(
            client,
            email=f"s{i}-{tag}@searchco.example",
            company=f"Zeta {tag} Corp",
            last_name=f"Name{i}",
        )
    await create(client, email=f"other-{tag}@elsewhere.example")
    page = await (await client.get(f"/api/prospects?q=ZETA {tag}&limit=2&page=2", headers=ADMIN)).json()
    assert page["total"] == 5
    assert page["page"] == {"page": 2, "limit": 2, "total": 5, "pages": 3}
    assert len(page["items"]) == 2
    # Newest first.
    emails = [i["email"] for i in page["items"]]
    assert emails == [f"s2-{tag}@searchco.example", f"s1-{tag}@searchco.example"]
    by_domain = await (await client.get(f"/api/prospects?q=other-{tag}", headers=ADMIN)).json()
    assert [i["email"] for i in by_domain["items"]] == [f"other-{tag}@elsewhere.example"]


async def test_search_treats_like_metacharacters_literally(client):
    await create(client, email="percent@example.com", company="100% Real")
    await create(client, email="plain@example.com", company="100 Real")
    found = await (await client.get("/api/prospects?q=100%25 real", headers=ADMIN)).json()
    assert [i["email"] for i in found["items"]] == ["percent@example.com"]
    underscore = await (await client.get("/api/prospects?q=_", headers=ADMIN)).json()
    assert all("_" in (i["email"] + (i["company"] or "")) for i in underscore["items"])


@pytest.mark.parametrize(
    "query", ["limit=201", "limit=0", "page=0", "page=x", "status=gone", "q=" + "x" * 201]
)
async def test_bad_list_parameters_are_400(client, query):
    response = await client.get(f"/api/prospects?{query}", headers=ADMIN)
    assert response.status == 400


async def test_get_patch_and_unknown_ids(client):
    row = await (await create(client, email="patch-me@example.com", company="Old")).json()
    got = await client.get(f"/api/prospects/{row['id']}", headers=ADMIN)
    assert (await got.json())["company"] == "Old"
    patched = await client.patch(
        f"/api/prospects/{row['id']}", json={"company": "New", "title": None}, headers=ADMIN
    )
    assert (await patched.json())["company"] == "New"
    missing = await client.get(f"/api/prospects/{uuid.uuid4()}", headers=ADMIN)
    assert missing.status == 404
    assert (await client.get("/api/prospects/not-a-uuid", headers=ADMIN)).status == 400
    email_change = await client.patch(f"/api/prospects/{row['id']}", json={"email": "x@y.z"}, headers=ADMIN)
    assert email_change.status == 400


async def events_for(gw_pool, prospect_id: str) -> list[dict]:
    rows = await gw_pool.fetch(
        "SELECT type, data FROM events WHERE data->>'prospect_id' = $1 ORDER BY position",
        prospect_id,
    )
    return [{"type": r["type"], **r["data"]} for r in rows]


@pytest.mark.parametrize("opted_out", ["unsubscribed", "complained"])
async def test_an_opted_out_prospect_returns_to_active_only_with_an_explicit_override(
    client, gw_pool, opted_out
):
    row = await (await create(client, email=f"{opted_out}-{uuid.uuid4().hex[:6]}@example.com")).json()
    url = f"/api/prospects/{row['id']}"
    assert (await client.patch(url, json={"status": opted_out}, headers=ADMIN)).status == 200
    refused = await client.patch(url, json={"status": "active"}, headers=ADMIN)
    assert refused.status == 409
    assert (await refused.json())["error"]["code"] == "suppressed"
    allowed = await client.patch(url, json={"status": "active", "override_suppression": True}, headers=ADMIN)
    assert (await allowed.json())["status"] == "active"
    changes = [e for e in await events_for(gw_pool, row["id"]) if e["type"] == "prospect.status_changed"]
    assert [(e["from_status"], e["to_status"], e["override_suppression"]) for e in changes] == [
        ("active", opted_out, False),
        (opted_out, "active", True),
    ]
    assert changes[1]["changed_by"] == "admin@example.com"


async def test_an_opt_out_cannot_be_left_through_another_status_without_the_override(client, gw_pool):
    row = await (await create(client, email=f"detour-{uuid.uuid4().hex[:6]}@example.com")).json()
    url = f"/api/prospects/{row['id']}"
    assert (await client.patch(url, json={"status": "unsubscribed"}, headers=ADMIN)).status == 200
    detour = await client.patch(url, json={"status": "bounced"}, headers=ADMIN)
    assert detour.status == 409 and (await detour.json())["error"]["code"] == "suppressed"
    assert (await (await client.get(url, headers=ADMIN)).json())["status"] == "unsubscribed"
    allowed = await client.patch(url, json={"status": "bounced", "override_suppression": True}, headers=ADMIN)
    assert allowed.status == 200
    last = [e for e in await events_for(gw_pool, row["id"]) if e["type"] == "prospect.status_changed"][-1]
    assert (last["from_status"], last["to_status"], last["override_suppression"], last["changed_by"]) == (
        "unsubscribed",
        "bounced",
        True,
        "admin@example.com",
    )


async def test_a_bounced_prospect_may_be_reactivated_without_override(client):
    row = await (await create(client, email="bounced-once@example.com")).json()
    url = f"/api/prospects/{row['id']}"
    await client.patch(url, json={"status": "bounced"}, headers=ADMIN)
    assert (await client.patch(url, json={"status": "active"}, headers=ADMIN)).status == 200


async def test_delete_erases_personal_data_but_keeps_the_opt_out(client, gw_pool):
    row = await (await create(client, email="Forget.Me@example.com", first_name="Forget")).json()
    url = f"/api/prospects/{row['id']}"
    await client.patch(url, json={"status": "unsubscribed"}, headers=ADMIN)
    assert (await client.delete(url, headers=ADMIN)).status == 204
    assert (await client.get(url, headers=ADMIN)).status == 404
    assert await gw_pool.fetchval("SELECT count(*) FROM prospects WHERE id = $1", uuid.UUID(row["id"])) == 0
    assert (
        await gw_pool.fetchval(
            "SELECT reason FROM suppressions WHERE email_hash = $1",
            email_hash("forget.me@example.com", ADDRESS_KEY),
        )
        == "unsubscribed"
    )
    assert [e["type"] for e in await events_for(gw_pool, row["id"])][-1] == "prospect.erased"
    # Re-created later, the address comes back suppressed.
    again = await (await create(client, email="forget.me@EXAMPLE.com")).json()
    assert again["status"] == "unsubscribed"
    assert (await client.delete(url, headers=ADMIN)).status == 404


async def test_erasing_an_active_prospect_suppresses_the_address(client, gw_pool):
    """An erasure request is a no to further mail: a later import brings the address back
    suppressed, reported as such, and never eligible."""
    address = f"erase-active-{uuid.uuid4().hex[:6]}@example.com"
    row = await (await create(client, email=address, first_name="Gone")).json()
    assert (await client.delete(f"/api/prospects/{row['id']}", headers=ADMIN)).status == 204
    assert await gw_pool.fetchval("SELECT reason FROM suppressions WHERE email_hash = $1",
                                  email_hash(address, ADDRESS_KEY)) == "manual"  # fmt: skip
    response = await client.post("/api/prospects/import", data=f"email\n{address}\n".encode(),
                                 headers={**ADMIN, "Content-Type": "text/csv"})  # fmt: skip
    report = await response.json()
    assert (report["inserted"], report["suppressed"]) == (1, 1)
    again = await gw_pool.fetchrow("SELECT status, status_reason FROM prospects WHERE email_hash = $1",
                                   email_hash(address, ADDRESS_KEY))  # fmt: skip
    assert (again["status"], again["status_reason"]) == ("unsubscribed", "suppressed before: manual")


async def test_erasure_deletes_the_persons_raw_ses_payloads_and_refused_bodies(client, gw_pool):
    """Every copy of the address goes with the prospect: payloads of their messages (found by
    the prospect stored with each), unmatched ones that quote the address, and refused webhook
    bodies that quote the address or the full name. Nobody else's is touched."""
    tag = uuid.uuid4().hex[:6]
    address = f"Ada.Erased-{tag}@Example.com"
    row = await (await create(client, email=address, first_name="Ada", last_name=f"Lovelace{tag}")).json()
    other = await (await create(client, email=f"stays-{tag}@example.com")).json()
    person, bystander = uuid.UUID(row["id"]), uuid.UUID(other["id"])
    raw = [  # (eventbridge id, prospect id, matched, payload)
        (f"mine-{tag}", person, True, {"to": address}),
        (f"unmatched-{tag}", None, False, {"bounce": f"550 <{address.lower()}>"}),
        (f"theirs-{tag}", bystander, True, {"to": f"stays-{tag}@example.com"}),
        (f"unmatched-other-{tag}", None, False, {"to": "someone@example.com"}),
    ]
    for eventbridge_id, prospect_id, matched, payload in raw:
        await gw_pool.execute(
            "INSERT INTO ses_events_raw (eventbridge_id, detail_type, matched, prospect_id, payload)"
            " VALUES ($1, 'x', $2, $3, $4::jsonb)", eventbridge_id, matched, prospect_id, json.dumps(payload),
        )  # fmt: skip
    bodies = [f"not json {address}", f"{{'name': 'Ada Lovelace{tag}'}}", "nothing of hers"]
    for body in bodies:
        await gw_pool.execute(
            "INSERT INTO rejected_payloads (source, reason, body) VALUES ('ses-events', 'x', $1)",
            body.encode(),
        )
    assert (await client.delete(f"/api/prospects/{person}", headers=ADMIN)).status == 204
    left = {r[0] for r in await gw_pool.fetch("SELECT eventbridge_id FROM ses_events_raw WHERE eventbridge_id"
                                              " LIKE '%' || $1", tag)}  # fmt: skip
    assert left == {f"theirs-{tag}", f"unmatched-other-{tag}"}
    refused = [bytes(r[0]).decode() for r in await gw_pool.fetch("SELECT body FROM rejected_payloads")]
    assert "nothing of hers" in refused and not any(tag in b for b in refused)


async def test_the_gateway_refuses_to_start_with_another_suppression_key(gateway_db, amqp_url, client):
    """The suppressions were made with the first key (adopted by `client`'s gateway): another
    key would miss every one, so the gateway stops with one line naming the setting."""
    server = TestServer(create_app(gateway_settings(gateway_db, amqp_url, suppression_hash_key="k" * 40)))
    try:
        with pytest.raises(SystemExit) as stopped:
            await server.start_server()
    finally:
        await server.close()
    assert "SUPPRESSION_HASH_KEY is not the key" in str(stopped.value.code)


async def test_a_nul_character_anywhere_is_a_400_not_a_database_error(client):
    response = await client.get("/api/prospects?q=a%00b", headers=ADMIN)
    assert response.status == 400 and "NUL" in (await response.json())["error"]["message"]
    response = await client.post("/api/prospects", json={"email": "nul@example.com", "first_name": "a\u0000"},
                                 headers=ADMIN)  # fmt: skip
    assert response.status == 400 and "NUL" in (await response.json())["error"]["message"]
    response = await client.post("/api/prospects", json={"email": "nul@example.com", "attributes": {"k\u0000": 1}},
                                 headers=ADMIN)  # fmt: skip
    assert response.status == 400
