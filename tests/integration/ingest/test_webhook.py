"""POST /api/webhooks/ses-events: every SES fixture in, one domain event each, refusals kept."""

from __future__ import annotations

import copy
import json
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from shared.http import DB_POOL
from tests.harness.sending import seed_campaign, seed_prospects
from tests.harness.ses_events import addressed
from tests.integration.ingest.conftest import SECRET

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "eventbridge"
EXPECTED_TYPES = {
    "send.json": "ses.send", "delivery.json": "ses.delivery", "bounce-permanent.json": "ses.bounce",
    "bounce-transient.json": "ses.bounce", "bounce-suppressed.json": "ses.bounce",
    "complaint.json": "ses.complaint", "open.json": "ses.open", "click.json": "ses.click",
    "reject.json": "ses.reject", "rendering-failure.json": "ses.rendering_failure",
    "delivery-delay.json": "ses.delivery_delay", "sending-status-disabled.json": "ses.sending_status_changed",
}  # fmt: skip


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


async def post(client, body, secret: str | None = SECRET, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Webhook-Secret"] = secret
    return await client.post("/api/webhooks/ses-events", data=data, headers=headers)


async def counts(pool) -> tuple[int, int, int]:
    return (
        await pool.fetchval("SELECT count(*) FROM ses_events_raw"),
        await pool.fetchval("SELECT count(*) FROM events WHERE type LIKE 'ses.%'"),
        await pool.fetchval("SELECT count(*) FROM rejected_payloads"),
    )


async def seed_send(pool, message_id: str, *, attempted_ago: str = "1 minute") -> dict:
    """A send as the sender records it: its campaign, prospect and SES message id."""
    prospect = (await seed_prospects(pool, 1))[0]
    campaign_id = await seed_campaign(pool)
    return dict(await pool.fetchrow(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome, ses_message_id,"
        " attempted_at) VALUES ($1, $2, $3, 'sent', $4, now() - $5::text::interval)"
        " RETURNING id, campaign_id, prospect_id, ses_message_id",
        campaign_id, prospect["id"], uuid.uuid4().hex, message_id, attempted_ago,
    ))  # fmt: skip


def for_send(payload: dict, send: dict) -> dict:
    mail = payload["detail"]["mail"]
    mail["messageId"] = send["ses_message_id"]
    mail["tags"].update({"send_id": [str(send["id"])], "campaign_id": [str(send["campaign_id"])],
                         "prospect_id": [str(send["prospect_id"])]})  # fmt: skip
    return payload


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
async def test_every_fixture_is_stored_once_with_its_domain_event(ingest, name):
    client, pool = ingest
    payload = fixture(name)
    if "mail" in payload["detail"]:
        for_send(
            payload, await seed_send(pool, payload["detail"]["mail"]["messageId"], attempted_ago="30 days")
        )
    started = time.perf_counter()
    response = await post(client, payload)
    assert time.perf_counter() - started < 1.0
    assert response.status == 200, await response.text()
    assert (await response.json())["result"] == "stored"
    event = await pool.fetchrow("SELECT type, data FROM events WHERE type LIKE 'ses.%'")
    assert event["type"] == EXPECTED_TYPES[name]
    assert event["data"]["eventbridge_id"] == payload["id"]
    raw = await pool.fetchrow(
        "SELECT payload, detail_type FROM ses_events_raw WHERE eventbridge_id = $1", payload["id"]
    )
    assert raw["payload"] == payload
    if "mail" in payload["detail"]:
        tags = payload["detail"]["mail"]["tags"]
        assert event["data"]["send_id"] == tags["send_id"][0]
        assert event["data"]["campaign_id"] == tags["campaign_id"][0]


async def test_a_bounce_carries_its_type_and_diagnostics(ingest):
    client, pool = ingest
    await post(client, fixture("bounce-permanent.json"))
    data = await pool.fetchval("SELECT data FROM events WHERE type = 'ses.bounce'")
    assert (data["bounce_type"], data["bounce_subtype"]) == ("Permanent", "General")
    assert data["diagnostics"][0]["diagnostic_code"].startswith("smtp; 550 5.1.1")
    assert data["timestamp"].startswith("2026-11-20T14:03:13.101")


async def test_an_unknown_event_type_is_kept_and_acknowledged(ingest):
    client, pool = ingest
    response = await post(client, fixture("subscription.json"))
    assert response.status == 200
    assert (await response.json())["result"] == "ignored"
    assert await counts(pool) == (1, 0, 0)


@pytest.mark.parametrize("secret", [None, "", "x" * len(SECRET), SECRET + "x", SECRET.upper()])
async def test_a_missing_or_wrong_secret_is_401_and_stores_nothing(ingest, secret):
    client, pool = ingest
    response = await post(client, fixture("delivery.json"), secret=secret)
    assert response.status == 401
    assert await counts(pool) == (0, 0, 0)


def _mutate(path: list[str], value):
    def apply(payload: dict) -> dict:
        target = payload
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return payload

    return apply


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (_mutate(["source"], "aws.s3"), "not an EventBridge SES event"),
        (_mutate(["detail"], KeyError), "not an EventBridge SES event"),
        (_mutate(["time"], "yesterday"), "not an EventBridge SES event"),
        (_mutate(["detail", "bounce", "bounceType"], 5), "detail is invalid"),
        (_mutate(["detail", "mail", "messageId"], KeyError), "detail is invalid"),
        (_mutate(["detail", "bounce"], KeyError), "without its bounce object"),
    ],
)
async def test_malformed_events_are_400_with_the_reason_and_kept_for_the_operator(ingest, mutate, reason):
    client, pool = ingest
    response = await post(client, mutate(copy.deepcopy(fixture("bounce-permanent.json"))))
    assert response.status == 400
    assert reason in (await response.json())["error"]["message"]
    assert await counts(pool) == (0, 0, 1)
    assert reason in await pool.fetchval("SELECT reason FROM rejected_payloads")


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"\xff\xfe\x00", b""])
async def test_a_body_that_is_not_a_json_object_is_400_and_kept(ingest, body):
    client, pool = ingest
    response = await post(client, body)
    assert response.status == 400
    assert await pool.fetchval("SELECT body FROM rejected_payloads") == body


async def test_a_body_over_the_limit_is_413(ingest):
    client, pool = ingest
    payload = fixture("delivery.json")
    payload["detail"]["padding"] = "x" * 1024**2
    response = await post(client, payload)
    assert response.status == 413
    assert (await counts(pool))[:2] == (0, 0)


async def test_a_repeated_delivery_is_a_no_op_that_still_answers_200(ingest):
    client, pool = ingest
    payload = fixture("open.json")
    for _ in range(3):
        response = await post(client, payload)
        assert response.status == 200
    assert (await response.json())["result"] == "duplicate"
    # The same SES event under a second envelope id is the same event.
    payload["id"] = str(uuid.uuid4())
    assert (await (await post(client, payload)).json())["result"] == "duplicate"
    assert await counts(pool) == (1, 1, 0)


async def test_the_other_spelling_of_the_type_is_understood(ingest):
    client, pool = ingest
    payload = fixture("delivery.json")
    payload["detail"]["notificationType"] = payload["detail"].pop("eventType")
    assert (await (await post(client, payload)).json())["result"] == "stored"
    assert await pool.fetchval("SELECT type FROM events WHERE type LIKE 'ses.%'") == "ses.delivery"


async def test_without_tags_the_send_is_found_by_its_message_id(ingest):
    client, pool = ingest
    prospect = (await seed_prospects(pool, 1))[0]
    campaign_id = await seed_campaign(pool)
    payload = fixture("delivery.json")
    message_id = payload["detail"]["mail"]["messageId"]
    send_id = await pool.fetchval(
        "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome, ses_message_id)"
        " VALUES ($1, $2, $3, 'sent', $4) RETURNING id",
        campaign_id, prospect["id"], "t" * 32, message_id,
    )  # fmt: skip
    payload["detail"]["mail"]["tags"] = {"ses:configuration-set": ["outreach"]}
    body = await (await post(client, payload)).json()
    assert body["matched"] is True
    data = await pool.fetchval("SELECT data FROM events WHERE type = 'ses.delivery'")
    assert (data["send_id"], data["campaign_id"]) == (str(send_id), str(campaign_id))


async def test_forged_tags_cannot_move_an_event_onto_another_prospect(ingest):
    """The message id names one send; tags naming another prospect (or campaign, or send)
    leave the event unmatched: kept, counted, touching nobody."""
    client, pool = ingest
    mine = await seed_send(pool, f"msg-{uuid.uuid4().hex}")
    victim = await seed_send(pool, f"msg-{uuid.uuid4().hex}")
    for forged in ("prospect_id", "campaign_id", "send_id"):
        payload = for_send(fixture("complaint.json"), mine)
        payload["id"] = str(uuid.uuid4())
        payload["detail"]["complaint"]["feedbackId"] = str(uuid.uuid4())
        payload["detail"]["mail"]["tags"][forged] = [str(victim["id" if forged == "send_id" else forged])]
        body = await (await post(client, payload)).json()
        assert (body["result"], body["matched"]) == ("stored", False), forged
    complaints = await pool.fetch("SELECT data FROM events WHERE type = 'ses.complaint'")
    assert len(complaints) == 3 and all(c["data"]["prospect_id"] is None for c in complaints)
    # Tags alone, for a send whose message id is not recorded yet: believed when they agree.
    pending = await seed_send(pool, f"msg-{uuid.uuid4().hex}")
    await pool.execute("UPDATE email_sends SET ses_message_id = NULL WHERE id = $1", pending["id"])
    early = for_send(fixture("delivery.json"), {**pending, "ses_message_id": f"msg-{uuid.uuid4().hex}"})
    assert (await (await post(client, early)).json())["matched"] is True
    # ... but not a send whose recorded message id is another.
    wrong = for_send(fixture("delivery.json"), {**mine, "ses_message_id": f"msg-{uuid.uuid4().hex}"})
    wrong["id"] = str(uuid.uuid4())
    assert (await (await post(client, wrong)).json())["matched"] is False


@pytest.mark.parametrize(
    ("shift", "clamped_to"), [("-3 hours", "send"), ("+2 hours", "now"), ("+5 minutes", None)]
)
async def test_event_times_far_from_the_send_are_clamped_and_flagged(ingest, shift, clamped_to):
    client, pool = ingest
    send = await seed_send(pool, f"msg-{uuid.uuid4().hex}", attempted_ago="0 seconds")
    sent_at = await pool.fetchval("SELECT attempted_at FROM email_sends WHERE id = $1", send["id"])
    payload = for_send(fixture("delivery.json"), send)
    stamp = await pool.fetchval("SELECT $1::timestamptz + $2::text::interval", sent_at, shift)
    payload["detail"]["delivery"]["timestamp"] = stamp.isoformat()
    await post(client, payload)
    data = await pool.fetchval("SELECT data FROM events WHERE type = 'ses.delivery'")
    kept = datetime.fromisoformat(data["timestamp"])
    assert data["timestamp_clamped"] is (clamped_to is not None)
    if clamped_to == "send":
        assert abs((kept - sent_at).total_seconds() + 3600) < 1
    elif clamped_to == "now":
        assert 3500 < (kept - sent_at).total_seconds() < 3700 + 60
    else:
        assert kept == stamp


async def test_metric_labels_take_only_known_event_types(ingest):
    client, _ = ingest
    payload = fixture("delivery.json")
    payload["detail"]["eventType"] = f"Invented{uuid.uuid4().hex[:6]}"
    assert (await post(client, payload)).status == 200
    metrics = await (await client.get("/metrics")).text()
    assert "Invented" not in metrics
    assert 'event_type="other"' in metrics


async def test_an_event_for_a_message_we_never_sent_is_kept_and_counted(ingest):
    client, pool = ingest
    payload = fixture("delivery.json")
    payload["detail"]["mail"]["tags"] = {}
    body = await (await post(client, payload)).json()
    assert (body["result"], body["matched"]) == ("stored", False)
    assert await pool.fetchval("SELECT count(*) FROM ses_events_raw WHERE NOT matched") == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'outreach_ses_events_total{event_type="Delivery",result="unmatched"}' in metrics


async def test_sending_disabled_pauses_every_sending_campaign(ingest):
    client, pool = ingest
    sending = [await seed_campaign(pool) for _ in range(2)]
    draft = await seed_campaign(pool)
    await pool.execute("UPDATE email_campaigns SET status = 'sending' WHERE id = ANY($1)", sending)
    await post(client, fixture("sending-status-disabled.json"))
    rows = await pool.fetch("SELECT id, status, status_reason FROM email_campaigns")
    by_id = {row["id"]: row for row in rows}
    assert all(by_id[c]["status"] == "paused" for c in sending)
    assert "Account-level sending paused" in by_id[sending[0]]["status_reason"]
    assert by_id[draft]["status"] == "draft"
    paused = await pool.fetch("SELECT data FROM events WHERE type = 'campaign.paused'")
    assert sorted(r["data"]["campaign_id"] for r in paused) == sorted(str(c) for c in sending)
    assert {r["data"]["paused_by"] for r in paused} == {"ses"}


async def test_sending_enabled_is_recorded(ingest):
    client, pool = ingest
    payload = fixture("sending-status-disabled.json")
    payload.update({"id": str(uuid.uuid4()), "detail-type": "Sending Status Enabled"})
    payload["detail"] = {"status": "ENABLED"}
    assert (await post(client, payload)).status == 200
    data = await pool.fetchval("SELECT data FROM events WHERE type = 'ses.sending_status_changed'")
    assert data["enabled"] is True


async def test_a_passing_database_fault_answers_503_so_eventbridge_retries(ingest):
    client, _ = ingest
    await client.app[DB_POOL].close()
    response = await post(client, fixture("delivery.json"))
    assert response.status == 503
    assert response.headers["Retry-After"]


async def test_an_event_after_its_prospect_was_erased_keeps_no_payload(ingest):
    """A late open, days after the erasure: counted (its event has no personal data), but the
    payload that names the recipient is not kept; a send of someone else's keeps its own."""
    client, pool = ingest
    erased = await seed_send(pool, f"late-{uuid.uuid4().hex}")
    other = await seed_send(pool, f"kept-{uuid.uuid4().hex}")
    # The erasure of `erased`, as shared.lifecycle.prospect.erase leaves it: the send stays, without its prospect.
    await pool.execute("DELETE FROM prospects WHERE id = $1", erased["prospect_id"])
    for send in (erased, other):
        assert (await post(client, addressed("open", send))).status == 200
    rows = {
        r["ses_message_id"]: r
        for r in await pool.fetch("SELECT ses_message_id, payload, prospect_id FROM ses_events_raw")
    }
    late, kept = rows[erased["ses_message_id"]], rows[other["ses_message_id"]]
    assert late["payload"] == {"erased": "the prospect was erased: the payload is not kept"}
    assert kept["payload"]["detail"]["mail"]["messageId"] == other["ses_message_id"]
    assert kept["prospect_id"] == other["prospect_id"], "stored with its prospect, for a later erasure"
    events = await pool.fetch("SELECT data FROM events WHERE type = 'ses.open'")
    assert len(events) == 2
