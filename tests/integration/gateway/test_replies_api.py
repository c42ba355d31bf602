"""The replies inbox through the API: filtered pages with the unhandled count, one mail
beside the messages we sent the prospect with its HTML sanitised, marked handled."""

from __future__ import annotations

import uuid

import pytest

from tests.harness.gateway import ADMIN
from tests.harness.sending import seed_campaign, seed_prospects

pytestmark = pytest.mark.integration

HOSTILE_HTML = (
    '<p onclick="steal()">Sounds good <b>Tuesday</b></p><script>alert(1)</script>'
    '<img src="https://tracker.example/open.gif"><a href="https://example.org/x">link</a>'
    '<form action="https://evil.example"><input name="password"></form><style>body{display:none}</style>'
)


async def received(pool, *, prospect=None, campaign_id=None, send_id=None, classification="reply", minutes=0):
    return await pool.fetchval(
        """
        INSERT INTO inbound_mail (ses_message_id, sns_message_id, received_at, notification, processed_at,
            classification, match_method, send_id, prospect_id, campaign_id, step, from_address, from_name, subject,
            headers, text_body, html_body, attachments, size_bytes, raw)
        VALUES ($1, $2, now() - make_interval(mins => $3), '{}'::jsonb, now(), $4, $5, $6, $7, $8, 1, $9, 'Pat',
                'Re: Hello', $10::jsonb, 'Sounds good Tuesday', $11, $12::jsonb, 1234, 'raw'::bytea)
        RETURNING id
        """,
        uuid.uuid4().hex, str(uuid.uuid4()), minutes, classification, "token" if prospect else None, send_id,
        prospect["id"] if prospect else None,
        campaign_id, prospect["email"] if prospect else "stranger@elsewhere.example",
        [["From", "Pat <pat@example.org>"], ["Subject", "Re: Hello"]], HOSTILE_HTML,
        [{"filename": "terms.pdf", "content_type": "application/pdf", "size": 24}],
    )  # fmt: skip


async def sent(pool, campaign_id, prospect):
    """A message we sent the prospect, as the sender records it; its send id."""
    return await pool.fetchval(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome, attempted_at)"
        " VALUES ($1, $2, md5(random()::text) || md5(random()::text), 'sent', now()) RETURNING id",
        campaign_id, prospect["id"],
    )  # fmt: skip


@pytest.fixture(scope="module")
async def inbox(gw_pool):
    (prospect,) = await seed_prospects(gw_pool, 1)
    campaign_id = await seed_campaign(gw_pool)
    send_id = await sent(gw_pool, campaign_id, prospect)
    reply = await received(gw_pool, prospect=prospect, campaign_id=campaign_id, send_id=send_id, minutes=1)
    auto = await received(gw_pool, prospect=prospect, campaign_id=campaign_id, send_id=send_id,
                          classification="auto_reply", minutes=2)  # fmt: skip
    stranger = await received(gw_pool, minutes=3)
    return {"reply": reply, "auto": auto, "stranger": stranger, "campaign_id": campaign_id, "send_id": send_id,
            "prospect": prospect}  # fmt: skip


async def listed(client, **params) -> dict:
    response = await client.get("/api/replies", params=params, headers=ADMIN)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_the_inbox_pages_newest_first_with_filters_and_the_unhandled_count(client, inbox):
    everything = await listed(client)
    assert [item["id"] for item in everything["items"]] == [
        str(inbox[k]) for k in ("reply", "auto", "stranger")
    ]
    assert everything["total"] == 3 and everything["unhandled"] == 2, (
        "a reply and the stranger's, not the auto"
    )
    first = everything["items"][0]
    assert {"id", "prospect_id", "campaign_id", "step", "classification", "from", "subject", "received_at",
            "handled"} <= set(first)  # fmt: skip
    assert first["from"] == inbox["prospect"]["email"] and first["handled"] is False
    assert [i["id"] for i in (await listed(client, classification="auto_reply"))["items"]] == [
        str(inbox["auto"])
    ]
    assert [i["id"] for i in (await listed(client, classification="unmatched"))["items"]] == [
        str(inbox["stranger"])
    ]
    assert (await listed(client, campaign_id=str(inbox["campaign_id"])))["total"] == 2
    assert (await listed(client, limit="1", page="2"))["items"][0]["id"] == str(inbox["auto"])
    for bad in ({"classification": "spam"}, {"handled": "maybe"}, {"campaign_id": "nope"}, {"limit": "0"}):
        response = await client.get("/api/replies", params=bad, headers=ADMIN)
        assert response.status == 400 and (await response.json())["error"]["message"]


async def test_one_reply_is_shown_sanitised_beside_what_we_sent_and_marked_handled(client, inbox):
    response = await client.get(f"/api/replies/{inbox['reply']}", headers=ADMIN)
    assert response.status == 200
    detail = await response.json()
    assert detail["text"] == "Sounds good Tuesday"
    html = detail["html"]
    assert "<b>Tuesday</b>" in html and 'href="https://example.org/x"' in html
    for gone in ("<script", "onclick", "<img", "tracker.example", "<form", "<input", "<style"):
        assert gone not in html, f"{gone} left in the sanitised HTML"
    assert detail["attachments"] == [{"filename": "terms.pdf", "content_type": "application/pdf", "size": 24}]
    assert ["From", "Pat <pat@example.org>"] in detail["headers"]
    assert [s["send_id"] for s in detail["sent"]] == [str(inbox["send_id"])]

    patched = await client.patch(f"/api/replies/{inbox['reply']}", json={"handled": True}, headers=ADMIN)
    assert patched.status == 200 and (await patched.json())["handled"] is True
    assert (await listed(client, handled="false"))["unhandled"] == 1
    assert [i["id"] for i in (await listed(client, handled="true"))["items"]] == [str(inbox["reply"])]
    undone = await client.patch(f"/api/replies/{inbox['reply']}", json={"handled": False}, headers=ADMIN)
    assert (await undone.json())["handled"] is False

    assert (await client.get(f"/api/replies/{uuid.uuid4()}", headers=ADMIN)).status == 404
    assert (await client.get("/api/replies/not-a-uuid", headers=ADMIN)).status == 400
    bad = await client.patch(f"/api/replies/{inbox['reply']}", json={"handled": "yes please"}, headers=ADMIN)
    assert bad.status == 400
    assert (await client.get("/api/replies")).status == 401, "admins only"
