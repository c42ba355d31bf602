"""Sequences through the API: steps, stop rules, schedules and daily limits validated and
kept; steps edited while sending; the admin's manual stop and the list of stops."""

from __future__ import annotations

import uuid

import pytest

from tests.harness.gateway import ADMIN
from tests.integration.gateway.test_campaigns import VALID, new_campaign

pytestmark = pytest.mark.integration

STEP = {"wait": "P2D", "body_html": '<p>Following up, {{ first_name | "there" }}.</p>'}
SCHEDULE = {"timezone": "prospect", "fallback_timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"],
            "from": "09:00", "to": "17:00"}  # fmt: skip


async def test_a_campaign_keeps_its_steps_stop_rules_schedule_and_limit(client):
    campaign = await new_campaign(
        client, steps=[STEP, {**STEP, "wait": "pt4h", "subject": "One more thing"}], stop_on=["reply", "click"],
        schedule=SCHEDULE, daily_new_limit=150,
    )  # fmt: skip
    assert [s["wait"] for s in campaign["steps"]] == ["P2D", "PT4H"]
    assert all(uuid.UUID(s["id"]) for s in campaign["steps"]), "each step has an id of its own"
    assert campaign["steps"][0]["subject"] is None and campaign["steps"][1]["subject"] == "One more thing"
    assert campaign["stop_on"] == ["reply", "click"]
    assert campaign["schedule"] == {**SCHEDULE, "start_at": None}
    assert campaign["daily_new_limit"] == 150 and campaign["next_send_at"] is None
    plain = await new_campaign(client)
    assert plain["steps"] == [] and plain["stop_on"] == ["reply", "unsubscribe", "complaint", "bounce"]
    assert plain["schedule"] is None


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"steps": [{**STEP, "wait": "P1M"}]}, "steps.0.wait"),
        ({"steps": [{**STEP, "wait": "soon"}]}, "steps.0.wait"),
        ({"steps": [{"wait": "P1D"}]}, "steps.0.body_html"),
        ({"steps": [{**STEP, "body_html": "<p>{{ nickname }}</p>"}]}, "nickname"),
        ({"steps": [{**STEP, "subject": "Hi\r\nBcc: x@example.com"}]}, "steps.0.subject"),
        ({"stop_on": ["reply", "mood"]}, "stop_on.1"),
        ({"schedule": {**SCHEDULE, "timezone": "Mars/Olympus"}}, "Mars/Olympus"),
        ({"schedule": {**SCHEDULE, "fallback_timezone": "Nowhere"}}, "Nowhere"),
        ({"schedule": {**SCHEDULE, "from": "17:00", "to": "09:00"}}, "later than"),
        ({"schedule": {**SCHEDULE, "from": "9am"}}, "from"),
        ({"schedule": {**SCHEDULE, "days": []}}, "days"),
        ({"schedule": {**SCHEDULE, "days": ["mon", "mon"]}}, "more than once"),
        ({"schedule": {**SCHEDULE, "days": ["monday"]}}, "days.0"),
        ({"schedule": {**SCHEDULE, "start_at": "2026-12-24T09:00:00"}}, "start_at"),
        ({"daily_new_limit": 0}, "daily_new_limit"),
    ],
)
async def test_bad_sequences_are_refused_naming_the_part(client, overrides, needle):
    response = await client.post("/api/campaigns", json={**VALID, **overrides}, headers=ADMIN)
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert needle in error["message"] + str(error.get("details")), error


async def test_steps_are_edited_while_sending_and_keep_their_ids(client, gw_pool):
    campaign = await new_campaign(client, steps=[STEP])
    step_id = campaign["steps"][0]["id"]
    await client.post("/api/campaigns/send", json={"campaignId": campaign["id"]}, headers=ADMIN)
    await gw_pool.execute("UPDATE email_campaigns SET next_send_at = now() + interval '1 day' WHERE id = $1",
                          uuid.UUID(campaign["id"]))  # fmt: skip
    edited = await client.patch(
        f"/api/campaigns/{campaign['id']}",
        json={"steps": [{**STEP, "id": step_id, "wait": "P3D"}, {**STEP, "wait": "P1D"}]}, headers=ADMIN,
    )  # fmt: skip
    assert edited.status == 200, await edited.text()
    body = await edited.json()
    assert (
        body["status"] == "sending"
        and body["steps"][0]["id"] == step_id
        and body["steps"][0]["wait"] == "P3D"
    )
    assert body["steps"][1]["id"] != step_id
    row = await gw_pool.fetchrow(
        "SELECT plan_version, next_send_at <= now() AS woken FROM email_campaigns WHERE id = $1",
        uuid.UUID(campaign["id"]),
    )
    assert row["plan_version"] == 2, "every prospect's next step is planned again"
    assert row["woken"], "a waiting campaign is looked at again at once"
    content = await client.patch(f"/api/campaigns/{campaign['id']}", json={"subject": "x"}, headers=ADMIN)
    assert content.status == 409, "the content still waits for a pause"
    repeated = await client.patch(
        f"/api/campaigns/{campaign['id']}", json={"steps": [{**STEP, "id": step_id}, {**STEP, "id": step_id}]},
        headers=ADMIN,
    )  # fmt: skip
    assert repeated.status == 400 and (await repeated.json())["error"]["code"] == "invalid_steps"


async def test_the_manual_stop_is_kept_once_and_listed(client, gw_pool):
    campaign = await new_campaign(client, steps=[STEP])
    created = await client.post("/api/prospects", json={"email": "stop.me@example.org"}, headers=ADMIN)
    prospect = await created.json()
    url = f"/api/campaigns/{campaign['id']}/prospects/{prospect['id']}/stop"
    first = await client.post(url, headers=ADMIN)
    assert first.status == 200 and (await first.json())["stopped"] is True
    again = await client.post(url, headers=ADMIN)
    assert (await again.json())["stopped"] is False, "the first stop stands"
    listed = await (await client.get(f"/api/campaigns/{campaign['id']}/stops", headers=ADMIN)).json()
    assert listed["total"] == 1
    assert listed["items"][0]["email"] == "stop.me@example.org" and listed["items"][0]["reason"] == "manual"
    events = await gw_pool.fetch(
        "SELECT data FROM events WHERE type = 'sequence.stopped' AND data->>'prospect_id' = $1",
        prospect["id"],
    )
    assert len(events) == 1 and events[0]["data"]["stopped_by"]
    missing = await client.post(
        f"/api/campaigns/{campaign['id']}/prospects/{uuid.uuid4()}/stop", headers=ADMIN
    )
    assert missing.status == 404
    bad = await client.post(f"/api/campaigns/{campaign['id']}/prospects/not-a-uuid/stop", headers=ADMIN)
    assert bad.status == 400


async def test_a_prospect_timezone_is_validated_and_imported(client, gw_pool):
    created = await client.post(
        "/api/prospects", json={"email": "tz@example.org", "timezone": "America/New_York"}, headers=ADMIN
    )
    assert (await created.json())["timezone"] == "America/New_York"
    refused = await client.post(
        "/api/prospects", json={"email": "tz2@example.org", "timezone": "Not/AZone"}, headers=ADMIN
    )
    assert refused.status == 400 and "Not/AZone" in await refused.text()
    body = "email,timezone\nny@example.org,America/New_York\nbad@example.org,Moon/Base\n"
    report = await (
        await client.post("/api/prospects/import", data=body, headers={**ADMIN, "Content-Type": "text/csv"})
    ).json()
    assert report["inserted"] == 1 and report["invalid"] == 1
    assert "Moon/Base" in report["errors"][0]["reason"]
    assert await gw_pool.fetchval("SELECT timezone FROM prospects WHERE email = 'ny@example.org'") == (
        "America/New_York"
    )
