"""`make run` ends its start-up with one block that says where everything is (issue 13, item 11)."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.stack import Stack

# Only against a stack this suite started with `make run` (compose-test deselects it).
pytestmark = [pytest.mark.faults, pytest.mark.run_local]


async def test_make_run_says_where_everything_is_once_all_is_ready(stack: Stack):
    assert stack.run_dir is not None, "a stack started here by `make run` (no E2E_* URLs)"
    log = stack.run_dir / "stack.log"
    async with asyncio.timeout(60):
        while "Outreach is running." not in log.read_text(errors="replace"):
            await asyncio.sleep(0.2)
    block = log.read_text(errors="replace").split("Outreach is running.", 1)[1]
    origin = f"http://localhost:{stack.public_url.rsplit(':', 1)[1]}"
    for path in (
        "/admin",
        "/api/openapi.json",
        "/api/unsubscribe",
        "/api/webhooks/ses-events",
        "/api/webhooks/ses-inbound",
    ):
        assert f"{origin}{path}" in block, path
    assert "make admin EMAIL=" in block
    assert all(f"{service} {url.rsplit(':', 1)[1]}" in block for service, url in stack.urls.items())
    assert "RabbitMQ console" in block and ("15672" in block or "rabbitmq-plugins enable" in block)
    assert f"the local SES emulator at {stack.ses_url}" in block
    assert "Ctrl-C" in block
