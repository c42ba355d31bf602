"""A recipient opens the real link from a sent message, clicks once, and is out: accessible throughout."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from shared import db
from tests.browser.conftest import SCREENSHOTS, axe_violations
from tests.harness.front_door import free_port, front_door
from tests.harness.roles import as_service
from tests.harness.sending import request_send, running_sender, seed_campaign, seed_prospects, wait_for_status
from unsubscribe.app import create_app
from unsubscribe.settings import UnsubscribeSettings

pytestmark = pytest.mark.browser


async def test_the_link_from_a_sent_message_unsubscribes_in_one_click(
    browser, make_database, make_vhost, ses_emulator
):
    database_url, amqp_url = await make_database(), await make_vhost()
    await ses_emulator.reset()
    await ses_emulator.verify_identity("example.com")
    server = TestServer(
        create_app(
            UnsubscribeSettings(database_url=as_service(database_url, "unsubscribe"), amqp_url=amqp_url)
        ),
        host="127.0.0.1",
    )
    await server.start_server()
    try:
        async with (
            db.pool_context(database_url) as pool,
            front_door(
                free_port(), unsubscribe=str(server.make_url(""))
            ) as base,  # the link's origin, as deployed
        ):
            [prospect] = await seed_prospects(pool, 1)
            campaign_id = await seed_campaign(pool)
            async with running_sender(
                database_url, amqp_url, ses_emulator.endpoint_url, public_base_url=base
            ):
                await request_send(pool, campaign_id)
                await wait_for_status(pool, campaign_id, "completed")
            [message] = await ses_emulator.sent_messages()
            link = message.mime["List-Unsubscribe"].strip("<>")
            assert link.startswith(f"{base}/api/unsubscribe?token=")

            SCREENSHOTS.mkdir(exist_ok=True)
            # axe needs to inject its script: that context bypasses the page's CSP.
            audit = await browser.new_context(bypass_csp=True)
            page = await audit.new_page()
            await page.goto(link)
            assert await page.locator("h1").inner_text() == "Unsubscribe"
            assert await axe_violations(page) == []
            await page.screenshot(path=str(SCREENSHOTS / "unsubscribe-page.png"), full_page=True)

            # The recipient: JavaScript off, a phone-sized screen at 400 % text zoom equivalent.
            recipient = await browser.new_context(
                java_script_enabled=False, viewport={"width": 320, "height": 640}
            )
            phone = await recipient.new_page()
            await phone.goto(link)
            await phone.get_by_role("button", name="Unsubscribe").click()
            await phone.wait_for_selector("text=You are unsubscribed")
            await phone.screenshot(path=str(SCREENSHOTS / "unsubscribe-done-phone.png"), full_page=True)

            await page.get_by_role("button", name="Unsubscribe").click()
            await page.wait_for_selector("text=You are unsubscribed")
            assert await axe_violations(page) == []
            overflow = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            assert overflow is False
            async with asyncio.timeout(5):
                while (
                    await pool.fetchval("SELECT status FROM prospects WHERE id = $1", prospect["id"])
                    != "unsubscribed"
                ):
                    await asyncio.sleep(0.05)
            await audit.close()
            await recipient.close()
    finally:
        await server.close()


async def test_a_bad_link_page_is_accessible_too(browser, make_database, make_vhost):
    settings = UnsubscribeSettings(
        database_url=as_service(await make_database(), "unsubscribe"), amqp_url=await make_vhost()
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        context = await browser.new_context(bypass_csp=True)
        page = await context.new_page()
        response = await page.goto(str(server.make_url("/api/unsubscribe?token=not-a-real-token-0123456789")))
        assert response.status == 404
        assert await page.locator("h1").inner_text() == "This link is not valid"
        assert await axe_violations(page) == []
        await context.close()
    finally:
        await server.close()
