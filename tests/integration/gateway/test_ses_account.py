"""GET /api/ses/account: what the SES account can do, `unknown` where SES does not say (issue 13)."""

from __future__ import annotations

import pytest

from tests.harness.gateway import ADMIN, gateway
from tests.harness.ses_stub import Fault, running_stub

pytestmark = pytest.mark.integration


async def account_of(database_url: str, amqp_url: str, endpoint: str) -> dict:
    async with gateway(
        database_url, amqp_url, ses_endpoint_url=endpoint, ses_configuration_set="outreach"
    ) as client:
        assert (await client.get("/api/ses/account")).status == 401
        response = await client.get("/api/ses/account", headers=ADMIN)
        assert response.status == 200, await response.text()
        return await response.json()


async def test_the_sandbox_is_named_and_what_ses_cannot_say_is_unknown(gateway_db, amqp_url):
    async with running_stub() as stub:
        stub.account["ProductionAccessEnabled"] = False
        account = await account_of(gateway_db, amqp_url, stub.endpoint_url)
    assert (account["credentials"], account["production_access"], account["sending_enabled"]) == (
        "yes",
        "no",
        "yes",
    )
    assert account["max_send_rate"] == 14.0
    # The stub has no identities or configuration sets: unknown, with the reason, not an error.
    assert account["identity_verified"] == "unknown" and "identity" in account["unknown_because"]
    assert any("sandbox" in problem for problem in account["problems"])


async def test_refused_credentials_are_said_plainly(gateway_db, amqp_url):
    async with running_stub(
        refusing=Fault("InvalidClientTokenId", 403, "The security token is invalid.")
    ) as stub:
        account = await account_of(gateway_db, amqp_url, stub.endpoint_url)
    assert account["credentials"] == "no"
    assert any("refuses the credentials" in problem for problem in account["problems"])


async def test_the_emulator_knows_the_identity(gateway_db, amqp_url, ses_emulator):
    await ses_emulator.reset()
    await ses_emulator.verify_identity("example.com")
    account = await account_of(gateway_db, amqp_url, ses_emulator.endpoint_url)
    assert account["identity"] == "example.com" and account["mode"] == "emulator"
    assert account["identity_verified"] == "no"  # moto keeps domain identities unverified...
    assert account["problems"] == []  # ...and sends anyway: only real SES is judged on identities
