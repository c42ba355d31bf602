"""Audiences from the browser: a segment built with a live count and saved; a campaign aimed
at it, with the eligible count and the missing-field warning, stepping through its
members; then a rule of its own and a frequency cap; a bulk status change on the list's
filter, confirmed with its count, and an opt-out only overridden after a second yes.
axe-clean at 1280 and 360 px."""

from __future__ import annotations

import json

import pytest
from aiohttp import ClientSession
from playwright.async_api import expect

from tests.browser.test_admin import TIMEOUT, audit, narrow, signed_in_admin
from tests.harness.gateway import ADMIN

pytestmark = pytest.mark.browser

CSV = (
    "email,first_name,company,tags\n"
    "ada@recipients.example,Ada,Analytical,eu;lead\n"
    "grace@recipients.example,,Navy,eu\n"
    "alan@recipients.example,Alan,Bletchley,us\n"
    "barbara@recipients.example,Barbara,MIT,us\n"
)


async def test_an_admin_targets_a_campaign_from_the_browser(browser, make_database, make_vhost):
    async with signed_in_admin(browser, await make_database(), await make_vhost()) as admin:
        page, pool = admin.page, admin.pool
        async with (
            ClientSession(headers=ADMIN) as http,
            http.post(
                f"{admin.base}/api/prospects/import", data=CSV.encode(), headers={"Content-Type": "text/csv"}
            ) as response,
        ):
            assert response.status == 200, await response.text()

        # A segment: the count follows the rule as it is built.
        await page.get_by_role("link", name="Segments", exact=True).click()
        await page.get_by_role("link", name="New segment").click()
        await page.get_by_label("Name", exact=True).fill("EU")
        count = page.locator(".live-count .count")
        await page.get_by_label("Value", exact=True).fill("eu")
        await expect(count).to_have_text("2 prospects match now.", timeout=TIMEOUT)
        await expect(page.get_by_role("table", name="The newest matching prospects")).to_contain_text(
            "grace@recipients.example"
        )
        await page.get_by_role("button", name="Add condition").click()
        await page.get_by_label("Field", exact=True).nth(1).select_option("company")
        await page.get_by_label("Condition", exact=True).nth(1).select_option("contains")
        await page.get_by_label("Value", exact=True).nth(1).fill("navy")
        await page.get_by_label("Not", exact=True).nth(1).check()
        await expect(count).to_have_text("1 prospect match now.", timeout=TIMEOUT)
        await audit(page, "segment-builder")
        await narrow(page, "segment-builder")
        # A rule deeper than the rows: the JSON editor takes it, and a bad part is named.
        await page.get_by_role("button", name="Edit as JSON").click()
        rule = page.get_by_label("The rule as JSON")
        saved_rule = json.loads(await rule.input_value())
        assert saved_rule == {"all": [{"field": "tags", "op": "has", "value": "eu"},
                                      {"not": {"field": "company", "op": "contains", "value": "navy"}}]}  # fmt: skip
        await rule.fill('{"all": [{"field": "tags", "op": "near", "value": "eu"}]}')
        await expect(count).to_contain_text("rule.all[0].op", timeout=TIMEOUT)
        await rule.fill(json.dumps({"field": "tags", "op": "has", "value": "eu"}))
        await expect(count).to_have_text("2 prospects match now.", timeout=TIMEOUT)
        await page.get_by_role("button", name="Use the builder").click()
        await expect(page.get_by_label("Value", exact=True)).to_have_value("eu")
        await page.get_by_role("button", name="Save segment").click()
        await expect(page.get_by_role("heading", name="Segment EU")).to_be_visible(timeout=TIMEOUT)
        await page.get_by_role("link", name="All segments").click()
        segments = page.get_by_role("table", name="Saved segments")
        await expect(segments).to_contain_text("EU")
        await expect(segments.locator("tbody td").nth(1)).to_have_text("2")
        await audit(page, "segments")
        await narrow(page, "segments")

        # A campaign to the segment: who is eligible, who would read a placeholder empty.
        await page.get_by_role("link", name="Campaigns", exact=True).click()
        await page.get_by_role("link", name="New campaign").click()
        await page.get_by_label("Campaign name").fill("To Europe")
        await page.get_by_label("From address").fill("outreach@example.com")
        await page.get_by_label("Subject").fill("Hello {{ first_name }}")
        await page.get_by_label("HTML body").fill(
            '<p>Hi {{ first_name | "there" }} at {{ company }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
        )
        await page.get_by_label("A saved segment").check()
        await page.get_by_label("Segment", exact=True).select_option(label="EU")
        await page.get_by_role("button", name="Save draft").click()
        eligible = page.locator("#preview-audience")
        await expect(eligible).to_contain_text("2 prospects eligible now", timeout=TIMEOUT)
        await expect(page.locator("#preview-missing")).to_contain_text("1 of 2 prospects have no first_name")
        # Stepping through the audience, in the sender's order.
        frame = page.frame_locator("iframe[title='Preview of the HTML message']")
        subjects = []
        for position in (1, 2):
            await page.get_by_role("button", name="Next member").click()
            await expect(page.locator("#preview-member")).to_have_text(
                f"Member {position} of 2", timeout=TIMEOUT
            )
            subjects.append(" ".join((await page.locator("#preview-subject").inner_text()).split()))
            if subjects[-1] == "Subject: Hello":  # Grace, without a first name: the fallback in the body
                await expect(frame.locator("p").first).to_have_text("Hi there at Navy")
        assert sorted(subjects) == ["Subject: Hello", "Subject: Hello Ada"]
        await expect(page.get_by_role("button", name="Next member")).to_be_disabled()
        await audit(page, "campaign-audience")
        await narrow(page, "campaign-audience")

        # A rule of its own, and a cap: saved as it is edited, the count follows.
        await page.get_by_label("Its own rule").check()
        await page.locator("#campaign-audience").get_by_label("Value", exact=True).fill("us")
        await page.get_by_label("Frequency cap (days)").fill("7")
        await expect(eligible).to_contain_text("2 prospects eligible now", timeout=TIMEOUT)
        await expect(page.locator("#preview-missing")).to_be_hidden(timeout=TIMEOUT)
        campaign = await pool.fetchrow("SELECT audience, frequency_cap_days FROM email_campaigns")
        assert campaign["audience"] == {"rule": {"field": "tags", "op": "has", "value": "us"}}
        assert campaign["frequency_cap_days"] == 7

        # Bulk status on the list's filter: the count in the confirmation; an opt-out needs a second yes.
        await page.get_by_role("link", name="Prospects", exact=True).click()
        await page.get_by_label("Tag", exact=True).select_option("us")
        await expect(page.locator("#bulk-note")).to_contain_text("the 2 prospects", timeout=TIMEOUT)
        await page.get_by_label("New status").select_option("unsubscribed")
        await page.get_by_role("button", name="Set status of all…").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Set 2 prospects to unsubscribed?")
        await audit(page, "bulk-status-confirm")
        await dialog.get_by_role("button", name="Set 2 to unsubscribed").click()
        table = page.get_by_role("table", name="Prospects")
        await expect(table.locator(".badge.unsubscribed")).to_have_count(2, timeout=TIMEOUT)
        await page.get_by_label("New status").select_option("active")
        await page.get_by_role("button", name="Set status of all…").click()
        await page.get_by_role("dialog").get_by_role("button", name="Set 2 to active").click()
        override = page.get_by_role("dialog")
        await expect(override).to_contain_text("Some of them opted out", timeout=TIMEOUT)
        await expect(override).to_contain_text("2 of the 2 matching prospects")
        await override.get_by_role("button", name="Override their opt-out").click()
        await expect(table.locator(".badge.active")).to_have_count(2, timeout=TIMEOUT)
        assert await pool.fetchval(
            "SELECT count(*) FROM prospects WHERE status = 'active' AND tags @> ARRAY['us']"
        ) == 2  # fmt: skip
        await narrow(page, "bulk-status")
        assert admin.errors == []
