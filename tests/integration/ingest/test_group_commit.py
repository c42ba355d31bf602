"""Deliveries arriving together share one statement: exact once-only results, and one bad
delivery never takes the others down with it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from event_ingest.adapters.store import GroupCommit, RawDelivery
from event_ingest.http import GROUP_COMMIT
from tests.harness.sending import seed_campaign, seed_prospects
from tests.harness.ses_events import addressed
from tests.integration.ingest.conftest import SECRET

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "eventbridge"


def delivery(n: int) -> dict:
    payload = json.loads((FIXTURES / "delivery.json").read_text())
    payload["id"] = f"eb-{n}"
    payload["detail"]["mail"]["messageId"] = f"message-{n}"
    return payload


async def post(client, body: dict | bytes):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(
        "/api/webhooks/ses-events",
        data=data,
        headers={"X-Webhook-Secret": SECRET, "Content-Type": "application/json"},
    )
    return response.status, await response.json()


async def test_concurrent_deliveries_and_their_repeats_store_each_event_once(ingest):
    client, pool = ingest
    originals = [delivery(n) for n in range(150)]
    repeats = [dict(p) for p in originals[:50]]  # the same envelope again
    second_envelopes = [{**p, "id": str(uuid.uuid4())} for p in originals[50:100]]  # the same SES event
    bodies = originals + repeats + second_envelopes
    answers = await asyncio.gather(*(post(client, b) for b in reversed(bodies)))
    assert {status for status, _ in answers} == {200}
    results = [body["result"] for _, body in answers]
    assert results.count("stored") == 150 and results.count("duplicate") == 100
    assert await pool.fetchval("SELECT count(*) FROM ses_events_raw") == 150
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'ses.delivery'") == 150
    stored_ids = {r["data"]["eventbridge_id"] for r in await pool.fetch("SELECT data FROM events")}
    assert len(stored_ids) == 150
    assert client.app[GROUP_COMMIT].largest_batch > 1  # they did share statements


@pytest.mark.parametrize(
    ("text", "status"),
    [("x\u0000y", 400), ("x\\u0000y", 200)],  # a NUL character; an escaped backslash before "u0000"
)
async def test_a_nul_character_is_refused_with_a_reason_but_its_lookalike_is_stored(ingest, text, status):
    client, pool = ingest
    payload = delivery(1)
    payload["detail"]["mail"]["commonHeaders"] = {"subject": text}
    answer, body = await post(client, payload)
    assert answer == status
    if status == 400:
        assert "NUL" in body["error"]["message"]
        assert await pool.fetchval("SELECT count(*) FROM rejected_payloads") == 1
    else:
        stored = await pool.fetchval("SELECT payload FROM ses_events_raw")
        assert stored["detail"]["mail"]["commonHeaders"]["subject"] == text


async def test_json_in_another_encoding_than_utf8_is_refused(ingest):
    client, pool = ingest
    status, body = await post(client, json.dumps(delivery(1)).encode("utf-16"))
    assert status == 400 and body["error"]["code"] == "invalid_json"
    assert await pool.fetchval("SELECT count(*) FROM ses_events_raw") == 0


async def test_one_bad_delivery_in_a_batch_fails_alone(ingest):
    _, pool = ingest
    batch = GroupCommit()

    def raw(n: int, body: str) -> RawDelivery:
        return RawDelivery(eventbridge_id=f"eb-{n}", dedupe_key=f"key-{n}", detail_type="SES Delivery",
                           event_type="Delivery", message_id=None, event=None, matched=False, body=body)  # fmt: skip

    good = [raw(n, '{"ok": true}') for n in range(20)]
    bad = raw(99, '{"nul": "\\u0000"}')  # jsonb refuses it: the statement for the whole batch fails
    results = await asyncio.gather(*(batch.store(pool, d) for d in [*good[:10], bad, *good[10:]]),
                                   return_exceptions=True)  # fmt: skip
    assert isinstance(results[10], asyncpg.PostgresError)
    assert results[:10] + results[11:] == [True] * 20
    assert await pool.fetchval("SELECT count(*) FROM ses_events_raw") == 20


async def seed_one_send(pool) -> dict:
    [prospect] = await seed_prospects(pool, 1)
    campaign_id = await seed_campaign(pool)
    return dict(await pool.fetchrow(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome, ses_message_id, attempted_at)"
        " VALUES ($1, $2, $3, 'sent', $4, now()) RETURNING id, campaign_id, prospect_id, ses_message_id",
        campaign_id, prospect["id"], uuid.uuid4().hex, f"msg-{uuid.uuid4().hex}",
    ))  # fmt: skip


async def test_concurrent_lookups_each_get_their_own_send(ingest):
    """Looked up together (one query for those that arrive at once): 120 deliveries for 3 sends, each event
    tied to its own send (forged ones to none)."""
    client, pool = ingest
    sends = [await seed_one_send(pool) for _ in range(3)]

    async def deliver(i: int) -> dict:
        send = sends[i % 3]
        payload = addressed("delivery", send)
        payload["detail"]["delivery"]["timestamp"] = f"2026-11-20T14:03:{i // 10:02d}.{i % 10:03d}Z"
        if i % 10 == 0:  # a forged prospect tag
            payload["detail"]["mail"]["tags"]["prospect_id"] = [str(sends[(i + 1) % 3]["prospect_id"])]
        response = await client.post(
            "/api/webhooks/ses-events", json=payload, headers={"X-Webhook-Secret": SECRET}
        )
        return await response.json()

    answers = await asyncio.gather(*(deliver(i) for i in range(120)))
    assert [a["matched"] for a in answers] == [i % 10 != 0 for i in range(120)]
    rows = await pool.fetch("SELECT data FROM events WHERE type = 'ses.delivery'")
    by_send = Counter(r["data"]["send_id"] for r in rows)
    assert by_send == {str(s["id"]): 36 for s in sends} | {None: 12}
