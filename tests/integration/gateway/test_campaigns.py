"""Campaigns: validation, stats from the read table, editing, send/pause/resume, preview."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.harness.events import collecting
from tests.harness.gateway import ADMIN, PROXY, gateway

pytestmark = pytest.mark.integration

VALID = {
    "name": "Spring intro",
    "subject": "Hello {{ first_name }}",
    "body_html": '<p>Hi {{first_name}} from {{ company }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    "body_text": "Hi {{ first_name }}\nUnsubscribe: {{unsubscribe_url}}",
    "from_email": "outreach@example.com",
}


async def new_campaign(client, **overrides) -> dict:
    response = await client.post("/api/campaigns", json={**VALID, **overrides}, headers=ADMIN)
    assert response.status == 201, await response.text()
    return await response.json()


async def campaign_events(gw_pool, campaign_id: str) -> list[str]:
    rows = await gw_pool.fetch(
        "SELECT type FROM events WHERE data->>'campaign_id' = $1 ORDER BY position", campaign_id
    )
    return [r["type"] for r in rows]


async def test_create_returns_a_draft(client):
    campaign = await new_campaign(client)
    assert campaign["status"] == "draft"
    assert campaign["body_text"].startswith("Hi {{ first_name }}")


@pytest.mark.parametrize(
    ("overrides", "code", "needle"),
    [
        ({"subject": "Hi {{ firstname }}"}, "invalid_template", "firstname"),
        ({"body_html": "<p>{{ password }}</p>"}, "invalid_template", "password"),
        ({"body_text": "{{ first_name "}, "invalid_template", "never closed"),
        ({"body_html": "{{ first name }}"}, "invalid_template", "malformed"),
        ({"subject": "Hello\r\nBcc: victim@example.com"}, "validation_failed", "subject"),
        ({"from_email": "ceo@other-domain.example"}, "invalid_sender", "example.com"),
        ({"reply_to": "x@example.com\nBcc: y@example.com"}, "validation_failed", "reply_to"),
        ({"from_name": "Team\r\nBcc: y@example.com"}, "validation_failed", "from_name"),
        ({"name": ""}, "validation_failed", "name"),
    ],
)
async def test_invalid_campaigns_are_refused_with_the_reason(client, overrides, code, needle):
    response = await client.post("/api/campaigns", json={**VALID, **overrides}, headers=ADMIN)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == code
    assert needle in error["message"] + str(error["details"])


BREAKS = ["\x00", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("field", ["subject", "from_name", "reply_to"])
@pytest.mark.parametrize("char", BREAKS, ids=[f"U+{ord(c):04X}" for c in BREAKS])
async def test_header_fields_refuse_every_character_the_email_package_breaks_on(client, field, char):
    value = f"x{char}y@example.com" if field == "reply_to" else f"Hello{char}Bcc: victim@example.com"
    draft = await new_campaign(client)
    created = await client.post("/api/campaigns", json={**VALID, field: value}, headers=ADMIN)
    edited = await client.patch(f"/api/campaigns/{draft['id']}", json={field: value}, headers=ADMIN)
    for response in (created, edited):
        assert response.status == 400
        error = (await response.json())["error"]
        if char == "\x00":  # refused before validation, for any field
            assert error["code"] == "invalid_json" and "NUL" in error["message"]
        else:
            assert error["code"] == "validation_failed" and field in str(error["details"]), error


async def test_the_preview_blanks_a_break_in_a_personal_value_and_refuses_an_unbuildable_campaign(
    client, gw_pool
):
    """Both placed directly (the API refuses them): a personal value's break becomes a
    space inside the subject; a campaign whose From cannot be built is a 400, not a 500."""
    campaign = await new_campaign(client)
    prospect = await (await client.post("/api/prospects", json={"email": f"p-{uuid.uuid4().hex[:6]}@example.com"},
                                        headers=ADMIN)).json()  # fmt: skip
    await gw_pool.execute("UPDATE prospects SET first_name = $1 WHERE id = $2", "Ann\u2028Bcc: x",
                          uuid.UUID(prospect["id"]))  # fmt: skip
    url, params = f"/api/campaigns/{campaign['id']}/preview", {"prospect_id": prospect["id"]}
    preview = await (await client.get(url, params=params, headers=ADMIN)).json()
    assert preview["subject"] == "Hello Ann Bcc: x"
    assert [name for name, _ in preview["headers"]].count("Bcc") == 0
    await gw_pool.execute("UPDATE email_campaigns SET from_name = $1 WHERE id = $2", "Team\x0bBcc: x",
                          uuid.UUID(campaign["id"]))  # fmt: skip
    response = await client.get(url, params=params, headers=ADMIN)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "unbuildable_message" and "From header" in error["message"]
    assert error["details"] == {"field": "prospect_id"}


async def test_another_address_of_the_sending_domain_is_allowed(client):
    assert (await new_campaign(client, from_email="sales@Example.com"))["from_email"] == "sales@example.com"


async def test_stats_come_from_the_projectors_read_table(client, gw_pool):
    campaign = await new_campaign(client)
    await gw_pool.execute(
        "INSERT INTO campaign_stats (campaign_id, sent, delivered, opened, bounced) VALUES ($1, 10, 8, 3, 1)",
        uuid.UUID(campaign["id"]),
    )
    one = await (await client.get(f"/api/campaigns/{campaign['id']}", headers=ADMIN)).json()
    assert one["campaign"]["id"] == campaign["id"]
    assert {k: one["stats"][k] for k in ("sent", "delivered", "opened", "bounced", "clicked")} == {
        "sent": 10, "delivered": 8, "opened": 3, "bounced": 1, "clicked": 0,
    }  # fmt: skip
    active = await gw_pool.fetchval("SELECT count(*) FROM prospects WHERE status = 'active'")
    assert one["stats"]["eligible"] == active
    listing = await (await client.get("/api/campaigns?limit=200", headers=ADMIN)).json()
    listed = next(item for item in listing["items"] if item["id"] == campaign["id"])
    assert listed["stats"]["sent"] == 10


async def test_send_is_202_appends_the_request_and_is_idempotent(client, gw_pool):
    campaign = await new_campaign(client)
    body = {"campaignId": campaign["id"]}
    first = await client.post("/api/campaigns/send", json=body, headers=ADMIN)
    assert first.status == 202
    again = await client.post("/api/campaigns/send", json=body, headers=ADMIN)
    assert again.status == 202
    assert (await again.json())["detail"] == "already sending"
    assert await campaign_events(gw_pool, campaign["id"]) == ["campaign.requested"]
    row = await (await client.get(f"/api/campaigns/{campaign['id']}", headers=ADMIN)).json()
    assert row["campaign"]["status"] == "sending"
    assert row["campaign"]["started_at"] is not None


async def test_the_send_request_reaches_the_broker_through_the_outbox(make_database, make_vhost):
    # A database of its own: the module's other gateway runs a relay to another vhost.
    database_url, amqp_url = await make_database(), await make_vhost()
    async with collecting(amqp_url) as collector, gateway(database_url, amqp_url) as client:
        campaign = await new_campaign(client)
        await client.post("/api/campaigns/send", json={"campaignId": campaign["id"]}, headers=ADMIN)
        async with asyncio.timeout(15):
            while not any(m["data"].get("campaign_id") == campaign["id"] for m in collector.received):
                await asyncio.sleep(0.05)
    message = next(m for m in collector.received if m["data"].get("campaign_id") == campaign["id"])
    assert message["type"] == "campaign.requested"
    assert message["data"]["requested_by"] == "admin@example.com"


async def test_pause_then_resume_through_send(client, gw_pool):
    campaign = await new_campaign(client)
    url = f"/api/campaigns/{campaign['id']}"
    await client.post("/api/campaigns/send", json={"campaignId": campaign["id"]}, headers=ADMIN)
    paused = await client.patch(url, json={"status": "paused", "reason": "checking copy"}, headers=ADMIN)
    assert (await paused.json())["status"] == "paused"
    assert (await paused.json())["status_reason"] == "checking copy"
    assert ((await paused.json())["pause_reason"], (await paused.json())["resumes_at"]) == ("manual", None)
    edited = await client.patch(url, json={"subject": "Better {{ first_name }}"}, headers=ADMIN)
    assert edited.status == 200
    resumed = await client.post("/api/campaigns/send", json={"campaignId": campaign["id"]}, headers=ADMIN)
    assert (await resumed.json())["detail"] == "sending resumed"
    assert await campaign_events(gw_pool, campaign["id"]) == [
        "campaign.requested", "campaign.paused", "campaign.resumed",
    ]  # fmt: skip


async def test_a_paused_campaign_goes_back_to_draft_to_be_corrected(client, gw_pool):
    campaign = await new_campaign(client)
    url = f"/api/campaigns/{campaign['id']}"
    await client.post("/api/campaigns/send", json={"campaignId": campaign["id"]}, headers=ADMIN)
    while_sending = await client.patch(url, json={"status": "draft"}, headers=ADMIN)
    assert while_sending.status == 409
    assert (await while_sending.json())["error"]["code"] == "not_draftable"
    await client.patch(url, json={"status": "paused"}, headers=ADMIN)
    drafted = await client.patch(
        url, json={"status": "draft", "subject": "Fixed {{ first_name }}"}, headers=ADMIN
    )
    assert drafted.status == 200, await drafted.text()
    body = await drafted.json()
    assert (body["status"], body["subject"], body["pause_reason"]) == (
        "draft",
        "Fixed {{ first_name }}",
        None,
    )
    again = await client.post("/api/campaigns/send", json={"campaignId": campaign["id"]}, headers=ADMIN)
    assert (await again.json())["detail"] == "sending requested"  # a new run; claims keep it to the unsent
    assert await campaign_events(gw_pool, campaign["id"]) == [
        "campaign.requested", "campaign.paused", "campaign.returned_to_draft", "campaign.requested",
    ]  # fmt: skip


async def test_a_sending_campaign_cannot_be_edited(client):
    campaign = await new_campaign(client)
    await client.post("/api/campaigns/send", json={"campaignId": campaign["id"]}, headers=ADMIN)
    response = await client.patch(f"/api/campaigns/{campaign['id']}", json={"name": "x"}, headers=ADMIN)
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "not_editable"


async def test_edits_are_validated_like_creation(client):
    campaign = await new_campaign(client)
    response = await client.patch(
        f"/api/campaigns/{campaign['id']}", json={"body_html": "{{ nope }}"}, headers=ADMIN
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_template"


async def test_a_completed_campaign_sends_again_only_to_new_prospects(client, gw_pool):
    done = await new_campaign(client)
    await gw_pool.execute(
        "UPDATE email_campaigns SET status = 'completed' WHERE id = $1", uuid.UUID(done["id"])
    )
    # Every active prospect of the shared database has had it: claims for all of them.
    await gw_pool.execute(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome)"
        " SELECT $1, id, md5(random()::text) || md5(random()::text), 'sent' FROM prospects",
        uuid.UUID(done["id"]),
    )
    response = await client.post("/api/campaigns/send", json={"campaignId": done["id"]}, headers=ADMIN)
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "nothing_new"
    created = await client.post("/api/prospects", json={"email": f"new-{uuid.uuid4().hex[:8]}@example.org"},
                                headers=ADMIN)  # fmt: skip
    assert created.status == 201
    response = await client.post("/api/campaigns/send", json={"campaignId": done["id"]}, headers=ADMIN)
    assert response.status == 202
    body = await response.json()
    assert (body["detail"], body["eligible"]) == ("sending to new prospects", 1)
    assert await campaign_events(gw_pool, done["id"]) == ["campaign.requested"]


async def test_a_cancelled_campaign_answers_409_to_send(client):
    draft = await new_campaign(client)
    cancel = await client.patch(f"/api/campaigns/{draft['id']}", json={"status": "cancelled"}, headers=ADMIN)
    assert (await cancel.json())["status"] == "cancelled"
    response = await client.post("/api/campaigns/send", json={"campaignId": draft["id"]}, headers=ADMIN)
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "not_sendable"


@pytest.mark.parametrize(
    "body", [{}, {"campaignId": "nope"}, {"campaignId": 12}, {"campaign_id": str(uuid.uuid4())}]
)
async def test_send_validates_its_body(client, body):
    response = await client.post("/api/campaigns/send", json=body, headers=ADMIN)
    assert response.status == 400


async def test_send_of_an_unknown_campaign_is_404(client):
    response = await client.post("/api/campaigns/send", json={"campaignId": str(uuid.uuid4())}, headers=ADMIN)
    assert response.status == 404


async def test_preview_renders_exactly_what_the_sender_sends(client):
    prospect = await (
        await client.post(
            "/api/prospects",
            json={
                "email": "pre@example.com",
                "first_name": "<script>alert(1)</script>",
                "company": "A&B",
            },
            headers=ADMIN,
        )
    ).json()
    campaign = await new_campaign(client, from_name="Outreach Team", reply_to="replies@example.com")
    response = await client.get(
        f"/api/campaigns/{campaign['id']}/preview?prospect_id={prospect['id']}", headers=ADMIN
    )
    preview = await response.json()
    assert preview["subject"] == "Hello <script>alert(1)</script>"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview["html"]
    assert "A&amp;B" in preview["html"]
    assert "<script>" not in preview["html"]
    assert preview["text"].startswith("Hi <script>alert(1)</script>\n")
    link = "https://links.example.com/api/unsubscribe?token=preview-token"
    assert f'href="{link}"' in preview["html"]
    headers = dict(preview["headers"])
    assert headers["From"] == "Outreach Team <outreach@example.com>"
    assert headers["To"] == "pre@example.com"
    assert headers["Reply-To"] == "replies@example.com"
    assert headers["List-Unsubscribe"] == f"<{link}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Content-Type"].startswith("multipart/alternative")


async def test_preview_without_a_prospect_uses_a_sample_and_unknown_ids_are_404(client):
    campaign = await new_campaign(client)
    sample = await (await client.get(f"/api/campaigns/{campaign['id']}/preview", headers=ADMIN)).json()
    assert sample["subject"] == "Hello Jane"
    missing = await client.get(
        f"/api/campaigns/{campaign['id']}/preview?prospect_id={uuid.uuid4()}", headers=ADMIN
    )
    assert missing.status == 404


async def test_internal_continue_re_requests_a_sending_campaign(client, gw_pool):
    campaign = await new_campaign(client)
    body = {"campaignId": campaign["id"]}
    assert (await client.post("/internal/campaigns/continue", json=body, headers=PROXY)).status == 409
    await client.post("/api/campaigns/send", json=body, headers=ADMIN)
    assert (await client.post("/internal/campaigns/continue", json=body, headers=PROXY)).status == 202
    assert await campaign_events(gw_pool, campaign["id"]) == [
        "campaign.requested",
        "campaign.requested",
    ]


async def test_retry_answers_what_it_requeued_and_refuses_what_cannot_be_retried(client, gw_pool):
    draft = await new_campaign(client)
    url = f"/api/campaigns/{draft['id']}/retry"
    refused = await client.post(url, json={}, headers=ADMIN)
    assert refused.status == 409 and (await refused.json())["error"]["code"] == "not_retryable"
    assert (await client.post(f"/api/campaigns/{uuid.uuid4()}/retry", json={}, headers=ADMIN)).status == 404
    assert (await client.post(url, json={"include_unknown": "maybe"}, headers=ADMIN)).status == 400
    await gw_pool.execute(
        "UPDATE email_campaigns SET status = 'paused' WHERE id = $1", uuid.UUID(draft["id"])
    )
    for _ in range(2):
        created = await client.post("/api/prospects", json={"email": f"r-{uuid.uuid4().hex[:8]}@example.org"},
                                    headers=ADMIN)  # fmt: skip
        assert created.status == 201
    prospects = await gw_pool.fetch("SELECT id FROM prospects ORDER BY created_at DESC LIMIT 2")
    for prospect, outcome in zip(prospects, ("failed", "unknown"), strict=True):
        await gw_pool.execute(
            "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome) VALUES ($1, $2, $3, $4)",
            uuid.UUID(draft["id"]), prospect["id"], uuid.uuid4().hex * 2, outcome,
        )  # fmt: skip
    detail = await (await client.get(f"/api/campaigns/{draft['id']}", headers=ADMIN)).json()
    assert detail["retryable"] == {"failed": 1, "unknown": 1}
    response = await client.post(url, json={}, headers=ADMIN)
    assert response.status == 202
    body = await response.json()
    assert (body["requeued"], body["status"]) == (1, "paused")
    assert "when the campaign is resumed" in body["detail"]
    detail = await (await client.get(f"/api/campaigns/{draft['id']}", headers=ADMIN)).json()
    assert detail["retryable"] == {"failed": 0, "unknown": 1}
    assert await campaign_events(gw_pool, draft["id"]) == ["campaign.retry_requested"]


async def test_a_campaign_without_the_postal_address_gets_the_footer_in_its_answer_and_preview(client):
    campaign = await new_campaign(client)  # it has the link, not the sender's postal address
    assert campaign["footer_appended"] is True
    preview = await (await client.get(f"/api/campaigns/{campaign['id']}/preview", headers=ADMIN)).json()
    assert 'class="outreach-footer"' in preview["html"]
    assert "Outreach Test Ltd<br>1 Test Street<br>Testville TS1 1AA<br>" in preview["html"]
    assert preview["text"].endswith("Outreach Test Ltd\n1 Test Street\nTestville TS1 1AA\nUnsubscribe: "
                                    "https://links.example.com/api/unsubscribe?token=preview-token\n")  # fmt: skip

    complete = {
        "body_html": VALID["body_html"] + "<p>Outreach Test Ltd, 1 Test Street, Testville TS1 1AA</p>",
        "body_text": VALID["body_text"] + "\nOutreach Test Ltd, 1 Test Street, Testville TS1 1AA",
    }
    response = await client.patch(f"/api/campaigns/{campaign['id']}", json=complete, headers=ADMIN)
    assert response.status == 200, await response.text()
    assert (await response.json())["footer_appended"] is False
    got = await (await client.get(f"/api/campaigns/{campaign['id']}", headers=ADMIN)).json()
    assert got["campaign"]["footer_appended"] is False
    preview = await (await client.get(f"/api/campaigns/{campaign['id']}/preview", headers=ADMIN)).json()
    assert "outreach-footer" not in preview["html"]

    # A follow-up that lacks them is enough to say so.
    steps = {"steps": [{"wait": "P2D", "body_html": "<p>Just checking in.</p>"}]}
    response = await client.patch(f"/api/campaigns/{campaign['id']}", json=steps, headers=ADMIN)
    assert (await response.json())["footer_appended"] is True
    listed = await (await client.get("/api/campaigns", headers=ADMIN)).json()
    assert [c["footer_appended"] for c in listed["items"] if c["id"] == campaign["id"]] == [True]
