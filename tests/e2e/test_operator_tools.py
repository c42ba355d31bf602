"""`outreach smoke-test` and `outreach doctor` against `make run` (issue 13, operator tools)."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack, _shell
from tests.harness.cli import run_outreach
from tests.harness.ses_emulator import sent_messages_at

# Only against a stack this suite started with `make run`; the doctor case stops RabbitMQ.
pytestmark = [pytest.mark.faults, pytest.mark.run_local]


def operator_env(stack: Stack) -> dict[str, str]:
    """The environment an operator of this stack has."""
    assert stack.amqp_url is not None and stack.proxy_secret is not None
    return {
        "DATABASE_URL": stack.database_url, "AMQP_URL": stack.amqp_url, "SES_MODE": "emulator",
        "SES_ENDPOINT_URL": stack.ses_url, "SES_FROM_EMAIL": "outreach@example.com",
        "PUBLIC_BASE_URL": stack.public_url, "SES_WEBHOOK_SECRET": stack.webhook_secret,
        "OUTREACH_API_URL": stack.public_url, "PROXY_SHARED_SECRET": stack.proxy_secret,
        "SMOKE_TIMEOUT": "60",
    }  # fmt: skip


async def test_smoke_test_sends_one_message_and_watches_it(stack: Stack):
    before = len(await sent_messages_at(stack.ses_url))
    code, out, err = await run_outreach("smoke-test", "Smoke@Example.com", **operator_env(stack))
    assert code == 0, out + err
    lines = out.splitlines()
    assert "the local SES emulator" in lines[0]
    states = [line.split()[-1] for line in lines if line[:2].isdigit() and line[2] == ":"]
    assert states in (["queued", "sent"], ["sent"]), out
    assert lines[-1].startswith("OK: the message was sent (to the emulator)")
    sent = await sent_messages_at(stack.ses_url)
    assert len(sent) == before + 1
    assert sent[-1].destinations == ("Smoke@example.com",)  # the domain is normalised, not the local part
    assert sent[-1].mime["Subject"].startswith("Outreach smoke test")


async def test_smoke_test_refuses_to_mail_other_prospects(stack: Stack):
    prospects = f"{stack.public_url}/api/prospects"
    async with (
        stack.client(headers=stack.admin_headers()) as http,
        http.post(prospects, json={"email": "else@example.com"}) as response,
    ):
        assert response.status == 201
    before = len(await sent_messages_at(stack.ses_url))
    code, _, err = await run_outreach("smoke-test", "smoke@example.com", **operator_env(stack))
    assert code == 1
    assert "1 other prospect(s) are active" in err and "nothing was sent" in err
    assert len(await sent_messages_at(stack.ses_url)) == before


async def test_doctor_passes_against_make_run_and_fails_with_the_fix_without_the_broker(stack: Stack):
    code, out, err = await run_outreach("doctor", **operator_env(stack))
    assert code == 0, out + err
    assert "0 FAIL" in out
    await _shell("rabbitmqctl -q stop_app")
    try:
        code, out, _ = await run_outreach("doctor", **operator_env(stack))
    finally:
        await _shell("rabbitmqctl -q start_app")
    assert code == 1
    broker = next(line for line in out.splitlines() if line.startswith("FAIL") and "broker" in line)
    assert "start RabbitMQ" in broker
    await stack.ready(timeout=120)
