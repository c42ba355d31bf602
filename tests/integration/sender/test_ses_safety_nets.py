"""SES's own safety nets kept in step: the account suppression list both ways, and the
configuration set's kill switch on and off. Real Postgres and RabbitMQ; the SES stub
(moto lacks these calls: where it answers, they are skipped, never an error)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ops import suppressions
from projector import account_guard
from projector.policy import ReputationLimits
from sender.adapters.ses import ses_gateway
from sender.safety_nets import SafetyNets
from shared.addresses import email_hash
from shared.lifecycle import sending_switch
from shared.ses import ses_client
from tests.harness.gateway import ADDRESS_KEY, ADMIN, gateway
from tests.harness.sending import (
    request_send,
    running_sender,
    seed_campaign,
    seed_prospects,
    sender_settings,
    wait_for_status,
)
from tests.harness.ses_stub import running_stub

pytestmark = pytest.mark.integration


async def until(check, timeout: float = 30.0):
    async with asyncio.timeout(timeout):
        while not (value := await check()):
            await asyncio.sleep(0.05)
        return value


async def test_the_suppression_lists_round_trip(backends):
    database_url, amqp_url, pool = backends
    bounced, complained, active = await seed_prospects(pool, 3)
    await pool.execute("UPDATE prospects SET status = 'bounced' WHERE id = $1", bounced["id"])
    await pool.execute("UPDATE prospects SET status = 'complained' WHERE id = $1", complained["id"])
    async with running_stub() as stub:
        # On the SES list already: an active prospect of ours, and an address we never had.
        stub.suppressed[active["email"].upper()] = ("COMPLAINT", datetime.now(UTC).isoformat())
        stub.suppressed["gone@elsewhere.example"] = ("BOUNCE", datetime.now(UTC).isoformat())
        stub.page_size_max = 2  # pages, as SES pages a long list

        # Ours to SES: the sender's watch puts each bounced and complained prospect, once.
        async with running_sender(database_url, amqp_url, stub.endpoint_url, watch_seconds=0.1):
            await until(lambda: asyncio.sleep(0, len(stub.suppressed) == 4))
            pushed = await until(lambda: pool.fetchval("SELECT count(*) FROM ses_suppression_pushes"))
            calls = stub.suppression_calls
            await asyncio.sleep(0.5)  # several more looks of the watch
        assert stub.suppressed[bounced["email"]][0] == "BOUNCE"
        assert stub.suppressed[complained["email"]][0] == "COMPLAINT"
        assert pushed == 2 and stub.suppression_calls == calls, "each pushed once"

        # SES to ours: every page listed, every address suppressed, our prospect raised.
        settings = sender_settings(database_url, amqp_url, stub.endpoint_url)
        async with ses_client(settings) as client:
            report = await suppressions.sync(pool, client, ADDRESS_KEY, page_size=1000)
            again = await suppressions.sync(pool, client, ADDRESS_KEY)
    assert (report.pages, report.listed, report.skipped) == (2, 4, 0)
    assert report.raised == 1
    assert (again.added, again.raised) == (0, 0), "idempotent"
    row = await pool.fetchrow("SELECT status, status_reason FROM prospects WHERE id = $1", active["id"])
    assert row["status"] == "complained" and "SES account suppression list" in row["status_reason"]
    suppressed = {
        r["email_hash"]: r["reason"] for r in await pool.fetch("SELECT email_hash, reason FROM suppressions")
    }
    assert suppressed[email_hash("gone@elsewhere.example", ADDRESS_KEY)] == "bounced"
    assert suppressed[email_hash(active["email"], ADDRESS_KEY)] == "complained"
    event = await pool.fetchval(
        "SELECT count(*) FROM events WHERE type = 'prospect.status_changed' AND data->>'prospect_id' = $1",
        str(active["id"]),
    )
    assert event == 1


async def test_without_the_suppression_calls_pushing_stops_quietly(backends, ses_emulator):
    """moto has no suppression-list calls: the first 404 turns pushing off, nothing fails."""
    database_url, amqp_url, pool = backends
    (prospect,) = await seed_prospects(pool, 1)
    await pool.execute("UPDATE prospects SET status = 'bounced' WHERE id = $1", prospect["id"])
    settings = sender_settings(database_url, amqp_url, ses_emulator.endpoint_url)
    async with ses_gateway(settings, configuration_set=None, timeout=5) as gateway:
        nets = SafetyNets(pool, gateway)
        assert await nets.push_suppressions() == 0
        assert await nets.push_suppressions() == 0
    assert await pool.fetchval("SELECT count(*) FROM ses_suppression_pushes") == 0


SEND_STATUS = """
INSERT INTO send_status (send_id, campaign_id, status, status_rank, sent_at, bounced_at)
SELECT gen_random_uuid(), $1, 'sent', 1, now() - interval '1 hour', CASE WHEN g <= $3 THEN now() END
FROM generate_series(1, $2) g
"""


async def test_the_kill_switch_trips_at_account_level_and_only_an_admin_turns_it_on(backends):
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 3)
    sending = await seed_campaign(pool)
    await request_send(pool, sending)  # sending, with no sender running yet
    other = await seed_campaign(pool)
    limits = ReputationLimits(min_sends=500, max_bounce_rate=0.05, max_complaint_rate=0.001)
    await pool.execute(SEND_STATUS, other, 600, 24)  # 4 %: under the limit
    assert await account_guard.check(pool, limits) is None
    await pool.execute(SEND_STATUS, other, 100, 20)  # 44 of 700: 6.3 %
    reason = await account_guard.check(pool, limits)
    assert reason and "6.3%" in reason
    assert await account_guard.check(pool, limits) is None, "tripped once"
    tripped = await sending_switch.read(pool)
    paused = await pool.fetchrow("SELECT status, pause_reason FROM email_campaigns WHERE id = $1", sending)
    assert (paused["status"], paused["pause_reason"]) == ("paused", "reputation")

    async with (
        running_stub() as stub,
        running_sender(database_url, amqp_url, stub.endpoint_url, watch_seconds=0.1),
        gateway(database_url, amqp_url, ses_configuration_set="outreach-test") as client,
    ):
        await until(lambda: asyncio.sleep(0, stub.sending_options == [("outreach-test", False)]))
        switch = await until(lambda: _applied(pool))
        assert not switch.enabled and switch.changed_by == "reputation"
        answer = await (await client.get("/api/ses/sending", headers=ADMIN)).json()
        assert (
            answer["enabled"] is False
            and answer["applied"]
            and answer["configuration_set"] == "outreach-test"
        )

        resumed = await client.post("/api/campaigns/send", json={"campaignId": str(sending)}, headers=ADMIN)
        assert resumed.status == 409 and (await resumed.json())["error"]["code"] == "sending_disabled"
        refused = await client.put("/api/ses/sending", json={"enabled": True}, headers=ADMIN)
        assert refused.status == 400
        error = (await refused.json())["error"]
        assert error["code"] == "acknowledge_reset" and "reset" in error["message"]

        enabled = await client.put(
            "/api/ses/sending", json={"enabled": True, "acknowledge_reset": True}, headers=ADMIN
        )
        assert enabled.status == 200, await enabled.text()
        assert (await enabled.json())["enabled"] is True
        await until(lambda: asyncio.sleep(0, stub.sending_options[-1:] == [("outreach-test", True)]))
        switch = await until(lambda: _applied(pool))
        assert switch.enabled and switch.guard_from is not None and switch.guard_from > tripped.changed_at
        # The guard counts from the re-enable, as SES resets the set's metrics: not tripped again.
        assert await account_guard.check(pool, limits) is None
        assert (
            await client.post("/api/campaigns/send", json={"campaignId": str(sending)}, headers=ADMIN)
        ).status == 202
        await wait_for_status(pool, sending, "completed")
    assert len(stub.received) == 3


async def _applied(pool) -> sending_switch.Switch | None:
    switch = await sending_switch.read(pool)
    return switch if switch.applied else None


async def test_a_disabled_set_refuses_what_another_tool_sends(backends):
    """What the switch is for: with sending disabled on the set, SES refuses every send on it."""
    database_url, amqp_url, pool = backends
    await seed_prospects(pool, 2)
    campaign_id = await seed_campaign(pool)
    async with running_stub() as stub:
        stub.disabled_sets.add("outreach-test")  # disabled by the switch, or from the console
        async with running_sender(database_url, amqp_url, stub.endpoint_url):
            await request_send(pool, campaign_id)
            status = await wait_for_status(pool, campaign_id, "paused")
    assert stub.received == []
    assert "paused" in (status[1] or "")
    assert await pool.fetchval("SELECT pause_reason FROM email_campaigns WHERE id = $1", campaign_id) == (
        "account_paused"
    )
