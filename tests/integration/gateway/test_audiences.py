"""Tags, segments and audience rules through the API, against PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.events import ProspectStatusChanged, parse_event
from tests.harness.gateway import ADMIN

pytestmark = pytest.mark.integration


async def create(client, email, **fields):
    response = await client.post("/api/prospects", json={"email": email, **fields}, headers=ADMIN)
    assert response.status == 201, await response.text()
    return await response.json()


async def preview(client, rule, **extra):
    return await client.post("/api/segments/preview", json={"rule": rule, **extra}, headers=ADMIN)


@pytest.fixture(scope="module")
async def people(client, gw_pool):
    """A small population, tagged, with an attribute and some engagement."""
    tag = uuid.uuid4().hex[:6]
    made = {
        "ana": await create(client, f"ana-{tag}@alpha.example", company="Acme Corp", tags=[f"VIP-{tag}", "EU"],
                            attributes={"industry": "Fintech", "seats": "5"}),
        "bo": await create(client, f"bo-{tag}@beta.example", company="Beta Ltd", title="CTO", tags=[f"vip-{tag}"]),
        "cy": await create(client, f"cy-{tag}@alpha.example", tags=["eu"], attributes={"industry": "Retail"}),
        "di": await create(client, f"di-{tag}@gamma.example"),
    }  # fmt: skip
    campaign = uuid.uuid4()
    await gw_pool.execute(
        """INSERT INTO send_status (send_id, campaign_id, prospect_id, sent_at, opened_at)
           VALUES ($1, $2, $3, now(), now()), ($4, $2, $5, now(), NULL)""",
        uuid.uuid4(), campaign, uuid.UUID(made["ana"]["id"]), uuid.uuid4(), uuid.UUID(made["bo"]["id"]),
    )  # fmt: skip
    return {"tag": tag, "campaign": str(campaign), **made}


def ids(body) -> set[str]:
    return {p["id"] for p in body["items"]}


async def test_tags_are_stored_lower_cased_and_distinct(people):
    assert people["ana"]["tags"] == [f"vip-{people['tag']}", "eu"]


async def test_a_rule_matches_exactly_its_prospects(client, people):
    vip = {"field": "tags", "op": "has", "value": f"VIP-{people['tag']}"}
    cases = [
        (vip, {"ana", "bo"}),
        ({"all": [vip, {"field": "email_domain", "op": "eq", "value": "alpha.example"}]}, {"ana"}),
        ({"all": [vip, {"not": {"field": "company", "op": "contains", "value": "acme"}}]}, {"bo"}),
        ({"all": [vip, {"engagement": "opened", "campaign_id": people["campaign"]}]}, {"ana"}),
        ({"all": [vip, {"engagement": "sent", "within_days": 1}]}, {"ana", "bo"}),
        ({"all": [{"field": "attributes.industry", "op": "eq", "value": "fintech"},
                  {"field": "attributes.seats", "op": "eq", "value": 5}]}, {"ana"}),
        ({"all": [{"field": "attributes.industry", "op": "exists"},
                  {"field": "email_domain", "op": "in", "value": ["alpha.example"]}]}, {"ana", "cy"}),
    ]  # fmt: skip
    for rule, expected in cases:
        response = await preview(client, rule, limit=200)
        assert response.status == 200, await response.text()
        body = await response.json()
        want = {people[name]["id"] for name in expected}
        # Other tests' prospects share the database: only ours are counted against the rule.
        assert ids(body) & {people[n]["id"] for n in ("ana", "bo", "cy", "di")} == want, rule


async def test_a_bad_rule_is_400_naming_the_bad_part(client):
    rule = {
        "all": [{"field": "tags", "op": "has", "value": "x"}, {"field": "status", "op": "gt", "value": "a"}]
    }
    response = await preview(client, rule)
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "invalid_rule"
    assert body["error"]["details"] == [
        {"field": "rule.all[1].op", "message": 'status takes eq or in; got "gt"'}
    ]


async def test_a_saved_segment_counts_lists_and_filters_the_prospect_list_alike(client, people):
    rule = {"field": "tags", "op": "has", "value": f"vip-{people['tag']}"}
    created = await client.post(
        "/api/segments", json={"name": f"VIPs {people['tag']}", "rule": rule}, headers=ADMIN
    )
    assert created.status == 201
    segment = await created.json()
    count = await (await client.get(f"/api/segments/{segment['id']}/count", headers=ADMIN)).json()
    assert count["count"] == 2 and ids(count) == {people["ana"]["id"], people["bo"]["id"]}
    listed = await (
        await client.get("/api/prospects", params={"segment": segment["id"]}, headers=ADMIN)
    ).json()
    assert listed["total"] == 2 and ids(listed) == ids(count)
    by_rule = await client.get("/api/prospects", params={"rule": json.dumps(rule), "q": "ana"}, headers=ADMIN)
    assert ids(await by_rule.json()) == {people["ana"]["id"]}

    again = await client.post(
        "/api/segments", json={"name": segment["name"].upper(), "rule": rule}, headers=ADMIN
    )
    assert again.status == 409

    beta = {"field": "company", "op": "eq", "value": "beta ltd"}
    renamed = await client.patch(f"/api/segments/{segment['id']}", json={"rule": beta}, headers=ADMIN)
    assert renamed.status == 200
    count = await (await client.get(f"/api/segments/{segment['id']}/count", headers=ADMIN)).json()
    assert ids(count) == {people["bo"]["id"]}
    assert segment["id"] in {
        s["id"] for s in (await (await client.get("/api/segments", headers=ADMIN)).json())["items"]
    }

    bad = await client.patch(f"/api/segments/{segment['id']}", json={"rule": {"not": []}}, headers=ADMIN)
    assert bad.status == 400
    assert (await bad.json())["error"]["details"][0]["field"] == "rule.not"

    assert (await client.delete(f"/api/segments/{segment['id']}", headers=ADMIN)).status == 204
    assert (await client.get(f"/api/segments/{segment['id']}/count", headers=ADMIN)).status == 404


async def test_a_bad_rule_in_the_list_query_is_400(client):
    response = await client.get("/api/prospects", params={"rule": "{not json"}, headers=ADMIN)
    assert response.status == 400
    response = await client.get("/api/prospects", params={"rule": '{"field": "nope"}'}, headers=ADMIN)
    assert response.status == 400
    assert (await response.json())["error"]["details"][0]["field"] == "rule.field"


async def test_patch_sets_the_tags_and_the_tag_list_counts_them(client, people):
    url = f"/api/prospects/{people['di']['id']}"
    response = await client.patch(url, json={"tags": ["New", f"vip-{people['tag']}"]}, headers=ADMIN)
    assert response.status == 200
    assert (await response.json())["tags"] == ["new", f"vip-{people['tag']}"]
    counts = {
        t["tag"]: t["prospects"]
        for t in (await (await client.get("/api/tags", headers=ADMIN)).json())["items"]
    }
    assert counts[f"vip-{people['tag']}"] == 3
    too_many = await client.patch(url, json={"tags": [str(i) for i in range(51)]}, headers=ADMIN)
    assert too_many.status == 400
    cleared = await client.patch(url, json={"tags": []}, headers=ADMIN)
    assert (await cleared.json())["tags"] == []


async def test_imported_custom_fields_are_placeholders_with_fallbacks(client):
    key = f"industry_{uuid.uuid4().hex[:6]}"
    email = f"cf-{key}@example.com"
    body = f"email,first_name,{key},Job Level\n{email},,Fintech,Senior\n".encode()
    response = await client.post(
        "/api/prospects/import", data=body, headers={**ADMIN, "Content-Type": "text/csv"}
    )
    assert response.status == 200
    campaign = {
        "name": "cf", "subject": 'Hi {{ first_name | "there" }}', "from_email": "outreach@example.com",
        "body_html": f'<p>{{{{ {key} }}}} {{{{ colour | "x" }}}}</p><a href="{{{{ unsubscribe_url }}}}">u</a>',
    }  # fmt: skip
    refused = await client.post("/api/campaigns", json=campaign, headers=ADMIN)
    assert refused.status == 400
    assert "unknown placeholder {{ colour }}" in json.dumps(await refused.json())
    campaign["body_html"] = f'<p>{{{{ {key} }}}}</p><a href="{{{{ unsubscribe_url }}}}">u</a>'
    created = await client.post("/api/campaigns", json=campaign, headers=ADMIN)
    assert created.status == 201, await created.text()
    has_field = json.dumps({"field": f"attributes.{key}", "op": "exists"})
    prospect = (await (await client.get("/api/prospects", params={"rule": has_field}, headers=ADMIN)).json())[
        "items"
    ][0]
    assert prospect["email"] == email
    preview = await client.get(
        f"/api/campaigns/{(await created.json())['id']}/preview", params={"prospect_id": prospect["id"]},
        headers=ADMIN,
    )  # fmt: skip
    rendered = await preview.json()
    assert rendered["subject"] == "Hi there" and "<p>Fintech</p>" in rendered["html"]


async def test_the_preview_counts_who_lacks_a_field_and_steps_through_the_audience(client):
    tag = f"mf-{uuid.uuid4().hex[:6]}"
    named = await create(client, f"named-{tag}@example.com", first_name="Ada", tags=[tag])
    await create(client, f"blank-{tag}@example.com", first_name="  ", company="Acme", tags=[tag])
    await create(client, f"bare-{tag}@example.com", tags=[tag])
    response = await client.post("/api/campaigns", json={
        "name": "mf", "subject": "Hi {{ first_name }}", "from_email": "outreach@example.com",
        "body_html": '<p>{{ company | "your team" }} {{ title }}</p><a href="{{ unsubscribe_url }}">u</a>',
        "audience": {"rule": {"field": "tags", "op": "has", "value": tag}},
    }, headers=ADMIN)  # fmt: skip
    assert response.status == 201, await response.text()
    url = f"/api/campaigns/{(await response.json())['id']}/preview"
    first = await (await client.get(url, params={"member": "0"}, headers=ADMIN)).json()
    assert first["audience"] == 3
    assert {m["placeholder"]: m["prospects"] for m in first["missing"]} == {"first_name": 2, "title": 3}
    assert first["prospect_id"] == named["id"] and first["subject"] == "Hi Ada"
    second = await (await client.get(url, params={"member": "1"}, headers=ADMIN)).json()
    assert second["subject"] == "Hi" and "Acme" in second["html"]
    third = await (await client.get(url, params={"member": "2"}, headers=ADMIN)).json()
    assert "your team" in third["html"]
    assert (await client.get(url, params={"member": "3"}, headers=ADMIN)).status == 404


async def bulk(client, body):
    return await client.post("/api/prospects/bulk", json=body, headers=ADMIN)


async def test_bulk_tags_on_every_match_in_one_statement(client, gw_pool):
    tag = f"bk-{uuid.uuid4().hex[:6]}"
    made = [await create(client, f"bk{i}-{tag}@example.com", tags=[tag, "old"]) for i in range(3)]
    rule = {"field": "tags", "op": "has", "value": tag}
    response = await bulk(client, {"filter": rule, "add_tags": ["New"], "remove_tags": ["old"]})
    assert response.status == 200, await response.text()
    assert await response.json() == {"matched": 3, "changed": 3}
    rows = await gw_pool.fetch(
        "SELECT tags FROM prospects WHERE id = ANY($1::uuid[])", [p["id"] for p in made]
    )
    assert [r["tags"] for r in rows] == [[tag, "new"]] * 3
    again = await bulk(client, {"filter": rule, "add_tags": ["new"]})
    assert await again.json() == {"matched": 3, "changed": 0}
    bad = await bulk(client, {"filter": {"field": "tags", "op": "nope", "value": "x"}, "add_tags": ["a"]})
    assert bad.status == 400 and (await bad.json())["error"]["details"][0]["field"] == "filter.op"
    both = await bulk(client, {"filter": rule, "add_tags": ["a"], "status": "bounced"})
    assert both.status == 400


async def test_bulk_status_keeps_the_consent_rules_and_appends_each_change(client, gw_pool):
    tag = f"bs-{uuid.uuid4().hex[:6]}"
    active = await create(client, f"a-{tag}@example.com", tags=[tag])
    said_no = await create(client, f"n-{tag}@example.com", tags=[tag])
    await client.patch(f"/api/prospects/{said_no['id']}", json={"status": "unsubscribed"}, headers=ADMIN)
    rule = {"field": "tags", "op": "has", "value": tag}

    refused = await bulk(client, {"filter": rule, "status": "active"})
    assert refused.status == 409
    body = await refused.json()
    assert body["error"]["code"] == "suppressed" and body["error"]["details"] == {
        "matched": 2,
        "opted_out": 1,
    }
    assert await gw_pool.fetchval("SELECT status FROM prospects WHERE id = $1", uuid.UUID(said_no["id"])) == (
        "unsubscribed"
    )

    # Into an opt-out needs no override; the one already unsubscribed is matched, not changed.
    moved = await bulk(client, {"filter": rule, "status": "unsubscribed", "status_reason": "asked by phone"})
    assert await moved.json() == {"matched": 2, "changed": 1}
    allowed = await bulk(client, {"filter": rule, "status": "active", "override_suppression": True})
    assert await allowed.json() == {"matched": 2, "changed": 2}
    assert await gw_pool.fetchval(
        "SELECT count(*) FROM suppressions s JOIN prospects p USING (email_hash) WHERE p.tags @> ARRAY[$1]", tag
    ) == 0  # fmt: skip

    rows = await gw_pool.fetch(
        "SELECT type, version, event_id, occurred_at, correlation_id, causation_id, data FROM events"
        " WHERE type = 'prospect.status_changed' AND data->>'prospect_id' = ANY($1::text[]) ORDER BY position",
        [active["id"], said_no["id"]],
    )  # fmt: skip
    changes = [parse_event(json.dumps(dict(r), default=str).encode()) for r in rows]
    assert all(isinstance(c, ProspectStatusChanged) for c in changes)
    summary = [(c.data.from_status, c.data.to_status, c.data.override_suppression) for c in changes]
    assert summary == [("active", "unsubscribed", False),  # by PATCH
                       ("active", "unsubscribed", False),  # by bulk
                       ("unsubscribed", "active", True), ("unsubscribed", "active", True)]  # fmt: skip
    assert changes[1].data.reason == "asked by phone" and changes[-1].data.changed_by
