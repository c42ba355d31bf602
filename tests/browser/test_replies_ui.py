"""Replies from the browser: the inbox with its unread count in the navigation, one reply
in a sandboxed frame beside the messages we sent that prospect, marked handled.
axe-clean at 1280 and 360 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.test_admin import TIMEOUT, audit, narrow, signed_in_admin
from tests.harness.sending import seed_campaign, seed_prospects
from tests.integration.gateway.test_replies_api import received, sent

pytestmark = pytest.mark.browser


async def test_an_admin_reads_a_reply_beside_what_was_sent_and_marks_it_handled(
    browser, make_database, make_vhost
):
    async with signed_in_admin(browser, await make_database(), await make_vhost()) as admin:
        page, pool = admin.page, admin.pool
        (prospect,) = await seed_prospects(pool, 1)
        campaign_id = await seed_campaign(pool, name="Intro with replies")
        send_id = await sent(pool, campaign_id, prospect)
        reply = await received(pool, prospect=prospect, campaign_id=campaign_id, send_id=send_id, minutes=1)
        await received(pool, prospect=prospect, campaign_id=campaign_id, send_id=send_id,
                       classification="auto_reply", minutes=2)  # fmt: skip
        await received(pool, minutes=3)

        await expect(page.get_by_role("heading", name="Campaigns")).to_be_visible(timeout=TIMEOUT)
        unread = page.locator("#replies-unread")
        # The campaign list may already show "Intro with replies", a link whose name also holds "Replies".
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Replies").click()
        await expect(page.get_by_role("heading", name="Replies")).to_be_visible(timeout=TIMEOUT)
        await expect(unread).to_have_text("2", timeout=TIMEOUT)
        inbox = page.get_by_role("table", name="Received mail, newest first")
        await expect(inbox.locator("tbody tr")).to_have_count(3, timeout=TIMEOUT)
        await expect(inbox).to_contain_text("automatic answer")
        await expect(inbox).to_contain_text("unmatched")
        await page.get_by_label("Show").select_option("auto_reply")
        await expect(inbox.locator("tbody tr")).to_have_count(1, timeout=TIMEOUT)
        await page.get_by_label("Show").select_option("")
        await audit(page, "replies")
        await narrow(page, "replies")

        await page.evaluate(f"location.hash = '#/replies/{reply}'")
        await expect(page.get_by_role("heading", name="Re: Hello")).to_be_visible(timeout=TIMEOUT)
        frame = page.locator("iframe.reply-frame")
        assert await frame.get_attribute("sandbox") == "", "no scripts, forms or same-origin access"
        srcdoc = await frame.get_attribute("srcdoc")
        assert "<b>Tuesday</b>" in srcdoc and "<script" not in srcdoc and "tracker.example" not in srcdoc
        await expect(page.get_by_role("list", name="Attachments")).to_contain_text("terms.pdf")
        await expect(page.get_by_role("table", name="What we sent this prospect")).to_contain_text(
            "Intro with replies"
        )
        await audit(page, "reply")
        await narrow(page, "reply")

        await page.get_by_role("button", name="Mark handled").click()
        await expect(page.get_by_role("button", name="Mark not handled")).to_be_visible(timeout=TIMEOUT)
        await expect(unread).to_have_text("1", timeout=TIMEOUT)
        assert await pool.fetchval("SELECT handled_by FROM inbound_mail WHERE id = $1", reply)
        assert admin.errors == []
