"""The recipient's side: the page, the form, RFC 8058 one-click, bad tokens, the rate limit, the effect."""

from __future__ import annotations

import secrets

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from shared import db, eligibility
from tests.harness.roles import as_service
from tests.harness.sending import seed_campaign, seed_prospects
from unsubscribe.app import create_app
from unsubscribe.settings import UnsubscribeSettings

pytestmark = pytest.mark.integration
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
async def world(make_database, make_vhost):
    database_url, amqp_url = await make_database(), await make_vhost()
    async with db.pool_context(database_url) as pool:
        prospects = await seed_prospects(pool, 3)
        campaign_id = await seed_campaign(pool)
        tokens = []
        for prospect in prospects:
            token = secrets.token_urlsafe(24)
            await pool.execute(
                "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome)"
                " VALUES ($1, $2, $3, 'sent')",
                campaign_id, prospect["id"], token,
            )  # fmt: skip
            tokens.append(token)
        yield {"db": database_url, "amqp": amqp_url, "pool": pool, "prospects": prospects, "tokens": tokens,
               "campaign_id": campaign_id}  # fmt: skip


def settings_for(world, **overrides) -> UnsubscribeSettings:
    return UnsubscribeSettings(
        database_url=as_service(world["db"], "unsubscribe"), amqp_url=world["amqp"], **overrides
    )


@pytest.fixture
async def client(world):
    async with TestClient(
        TestServer(create_app(settings_for(world, unsubscribe_rate_limit_enabled=False)))
    ) as c:
        yield c


async def status_of(world, index: int) -> str:
    return await world["pool"].fetchval(
        "SELECT status FROM prospects WHERE id = $1", world["prospects"][index]["id"]
    )


async def opt_out_events(world) -> list[dict]:
    rows = await world["pool"].fetch(
        "SELECT data FROM events WHERE type = 'prospect.unsubscribed' ORDER BY position"
    )
    return [row["data"] for row in rows]


async def test_the_page_names_the_sender_masks_the_address_and_offers_one_button(client, world):
    response = await client.get("/api/unsubscribe", params={"token": world["tokens"][0]})
    assert response.status == 200
    page = await response.text()
    email = world["prospects"][0]["email"]
    assert '<html lang="en">' in page and "<h1>Unsubscribe</h1>" in page
    assert "Outreach &lt;outreach@example.com&gt;" in page
    assert email not in page and f"{email[0]}***@r***.example" in page
    assert page.count("<button") == 1 and 'method="post"' in page
    assert "<script" not in page
    assert await status_of(world, 0) == "active", "showing the page changes nothing"


async def test_every_answer_carries_the_security_headers(client, world):
    response = await client.get("/api/unsubscribe", params={"token": world["tokens"][0]})
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_form_unsubscribes_and_confirms_in_plain_words(client, world):
    response = await client.post(
        "/api/unsubscribe", data={"token": world["tokens"][0]}, allow_redirects=False
    )
    assert response.status == 200
    assert "You are unsubscribed" in await response.text()
    assert await status_of(world, 0) == "unsubscribed"
    [event] = await opt_out_events(world)
    assert event["source"] == "form"
    assert event["campaign_id"] == str(world["campaign_id"])


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
async def test_one_click_in_both_encodings(client, world, encoding):
    body: object = ONE_CLICK
    if encoding == "multipart":
        body = aiohttp.MultipartWriter("form-data")
        body.append("One-Click").set_content_disposition("form-data", name="List-Unsubscribe")
    response = await client.post(
        "/api/unsubscribe", params={"token": world["tokens"][1]}, data=body, allow_redirects=False
    )
    assert response.status == 200
    assert "Location" not in response.headers and "Set-Cookie" not in response.headers
    assert (await response.text()).strip() == "Unsubscribed."
    assert await status_of(world, 1) == "unsubscribed"
    assert [e["source"] for e in await opt_out_events(world)] == ["one_click"]


async def test_repeating_is_harmless_and_answers_the_same(client, world):
    params = {"token": world["tokens"][2]}
    answers = [await client.post("/api/unsubscribe", params=params, data=ONE_CLICK) for _ in range(3)]
    assert {a.status for a in answers} == {200}
    assert len({await a.text() for a in answers}) == 1
    assert len(await opt_out_events(world)) == 1


async def test_a_complained_prospect_stays_complained(client, world):
    await world["pool"].execute(
        "UPDATE prospects SET status = 'complained' WHERE id = $1", world["prospects"][0]["id"]
    )
    await client.post("/api/unsubscribe", params={"token": world["tokens"][0]}, data=ONE_CLICK)
    assert await status_of(world, 0) == "complained"


@pytest.mark.parametrize(
    ("token", "status", "title"),
    [
        (None, 400, "This link is incomplete"),
        ("short", 400, "This link is not valid"),
        ("<script>alert(1)</script>" * 3, 400, "This link is not valid"),
        (secrets.token_urlsafe(24), 404, "This link is not valid"),
    ],
)
async def test_bad_tokens_get_a_clear_page_not_a_stack_trace(client, world, token, status, title):
    params = {"token": token} if token else {}
    for response in (
        await client.get("/api/unsubscribe", params=params),
        await client.post("/api/unsubscribe", data={"token": token} if token else {}),
    ):
        assert response.status == status
        page = await response.text()
        assert title in page and "Traceback" not in page and "<script>" not in page
    one_click = await client.post("/api/unsubscribe", params=params, data=ONE_CLICK)
    assert one_click.status == status


async def test_the_rate_limit_answers_429_then_blocks(world):
    settings = settings_for(world, unsubscribe_rate_limit=5, unsubscribe_block_seconds=600)
    async with TestClient(TestServer(create_app(settings))) as limited:
        params = {"token": world["tokens"][0]}
        statuses = [(await limited.get("/api/unsubscribe", params=params)).status for _ in range(7)]
        assert statuses == [200] * 5 + [429, 429]
        blocked = await limited.post("/api/unsubscribe", params=params, data=ONE_CLICK)
        assert blocked.status == 429
        assert 590 <= int(blocked.headers["Retry-After"]) <= 601


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(world):
    settings = settings_for(world, unsubscribe_rate_limit=2, trusted_proxies="127.0.0.0/8")
    async with TestClient(TestServer(create_app(settings))) as limited:
        params = {"token": world["tokens"][0]}
        for client_ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            for _ in range(2):  # each forwarded client has its own allowance
                response = await limited.get(
                    "/api/unsubscribe", params=params, headers={"X-Forwarded-For": client_ip}
                )
                assert response.status == 200
    untrusted = settings_for(world, unsubscribe_rate_limit=2)
    async with TestClient(TestServer(create_app(untrusted))) as limited:
        statuses = [
            (
                await limited.get(
                    "/api/unsubscribe",
                    params={"token": world["tokens"][0]},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                )
            ).status
            for i in range(3)
        ]
        assert statuses == [200, 200, 429], "a spoofed header does not buy a fresh allowance"


async def test_an_unsubscribed_prospect_is_left_out_of_the_next_campaign(client, world):
    await client.post("/api/unsubscribe", params={"token": world["tokens"][0]}, data=ONE_CLICK)
    next_campaign = await seed_campaign(world["pool"])
    eligible = {r["id"] for r in await eligibility.batch(world["pool"], next_campaign, 100, 0)}
    assert world["prospects"][0]["id"] not in eligible
    assert {p["id"] for p in world["prospects"][1:]} <= eligible


async def test_a_recipient_already_out_is_counted_on_each_campaign_whose_link_they_use(client, world):
    """Unsubscribed through campaign A's message, then clicking campaign B's: B counts it too
    (its event names B), and a second click on either link adds nothing."""
    pool, prospect = world["pool"], world["prospects"][0]
    other_campaign = await seed_campaign(pool, name="Campaign B")
    other_token = secrets.token_urlsafe(24)
    await pool.execute(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome) VALUES ($1, $2, $3, 'sent')",
        other_campaign, prospect["id"], other_token,
    )  # fmt: skip
    for token in (world["tokens"][0], other_token, other_token, world["tokens"][0]):
        response = await client.post("/api/unsubscribe", params={"token": token}, data=ONE_CLICK)
        assert response.status == 200
    events = await opt_out_events(world)
    assert [e["campaign_id"] for e in events] == [str(world["campaign_id"]), str(other_campaign)]
    assert await status_of(world, 0) == "unsubscribed"
