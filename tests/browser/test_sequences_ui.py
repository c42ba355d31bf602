"""Sequences from the browser: follow-ups added as a vertical list with their waits, stop
rules and a daily limit, a schedule with its weekly grid; the preview of a follow-up shows
"Re:" and its thread headers; the campaign page shows each step, what is due next and who
stopped. axe-clean at 1280 and 360 px."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from shared.lifecycle import sequence
from tests.browser.test_admin import TIMEOUT, audit, narrow, signed_in_admin
from tests.harness.sending import seed_campaign, seed_prospects

pytestmark = pytest.mark.browser


async def test_an_admin_builds_a_sequence_and_reads_its_progress(browser, make_database, make_vhost):
    async with signed_in_admin(browser, await make_database(), await make_vhost()) as admin:
        page, pool = admin.page, admin.pool
        prospect = (await seed_prospects(pool, 1))[0]
        campaign_id = await seed_campaign(pool, name="Intro with follow-ups")
        await expect(page.get_by_role("heading", name="Campaigns")).to_be_visible(timeout=TIMEOUT)
        await page.evaluate(f"location.hash = '#/campaigns/{campaign_id}/edit'")  # signed in: no reload
        await expect(page.get_by_role("heading", name="Edit campaign")).to_be_visible(timeout=TIMEOUT)

        # Two follow-ups: 3 days, then 4 hours, the second with a subject of its own.
        await page.get_by_role("button", name="Add a follow-up").click()
        first = page.locator(".step.card").nth(0)
        await expect(first.get_by_role("heading", name="Step 2")).to_be_visible()
        await first.get_by_label("Wait", exact=True).fill("3")
        await first.get_by_label("HTML body").fill("<p>Any thoughts, {{ first_name }}?</p>")
        await expect(first.locator(".hint").first).to_have_text("3 days later, if no reply")
        await page.get_by_role("button", name="Add a follow-up").click()
        second = page.locator(".step.card").nth(1)
        await second.get_by_label("Wait", exact=True).fill("4")
        await second.locator("select").select_option("H")
        await second.get_by_label("Subject").fill("Last one, {{ first_name }}")
        await second.get_by_label("HTML body").fill("<p>Closing the loop.</p>")
        await page.get_by_label("a click").check()
        await page.get_by_label("New prospects a day").fill("200")

        # A schedule: weekdays 09:00-17:00 in each prospect's own time, Berlin for the rest.
        await page.get_by_label("Send only in a weekly window").check()
        await page.get_by_label("Timezone", exact=True).select_option("prospect")
        await page.get_by_label("Fallback timezone").select_option("Europe/Berlin")
        week = page.locator("#schedule-week")
        await expect(week).to_have_attribute(
            "aria-label", "Sends on Mon, Tue, Wed, Thu, Fri from 09:00 to 17:00"
        )
        await page.get_by_label("Until the end of the day").check()
        await expect(week).to_have_attribute(
            "aria-label", "Sends on Mon, Tue, Wed, Thu, Fri from 09:00 to 24:00"
        )
        await page.get_by_role("button", name="Save draft").click()
        await expect(page.locator(".actions + .hint, p.hint[aria-live]")).to_contain_text(
            "Draft saved", timeout=TIMEOUT
        )
        row = await pool.fetchrow("SELECT steps, stop_on, schedule, daily_new_limit FROM email_campaigns")
        assert [s["wait"] for s in row["steps"]] == ["P3D", "PT4H"]
        assert row["steps"][1]["subject"] == "Last one, {{ first_name }}"
        assert "click" in row["stop_on"] and row["daily_new_limit"] == 200
        assert row["schedule"]["timezone"] == "prospect" and row["schedule"]["to"] == "24:00"
        assert row["schedule"]["fallback_timezone"] == "Europe/Berlin"
        await audit(page, "sequence-editor")
        await narrow(page, "sequence-editor")

        # A bad wait is named on its step's card.
        await first.get_by_label("Wait", exact=True).fill("")
        await page.get_by_role("button", name="Save draft").click()
        await expect(first.locator(".field-error").first).to_be_visible(timeout=TIMEOUT)
        await first.get_by_label("Wait", exact=True).fill("3")
        await page.get_by_role("button", name="Save draft").click()
        await expect(first.locator(".field-error").first).to_be_hidden(timeout=TIMEOUT)

        # The follow-up's preview: a reply in the thread.
        await page.get_by_label("Step", exact=True).select_option("2")
        subject = page.locator("#preview-subject")
        await expect(subject).to_contain_text("Re: Hello Jane", timeout=TIMEOUT)
        headers = page.get_by_label("Message headers")
        await expect(headers).to_contain_text("In-Reply-To: <")
        await expect(headers).to_contain_text("References: <")
        await page.get_by_label("Step", exact=True).select_option("3")
        await expect(subject).to_contain_text("Last one, Jane", timeout=TIMEOUT)

        # The campaign page: each step, what is due next, who stopped.
        async with pool.acquire() as conn, conn.transaction():
            await sequence.stop_by_admin(conn, campaign_id, prospect["id"], actor="admin@example.com",
                                         correlation_id=str(uuid.uuid4()))  # fmt: skip
        await page.evaluate(f"location.hash = '#/campaigns/{campaign_id}'")
        steps = page.get_by_role("table", name="Each step: sent, and what came of it")
        await expect(steps.locator("tbody tr")).to_have_count(3, timeout=TIMEOUT)
        stopped = page.get_by_role(
            "table", name="Prospects whose follow-ups stopped (1 in all), newest first"
        )
        await expect(stopped).to_contain_text(prospect["email"])
        await expect(stopped).to_contain_text("stopped by an admin")
        await expect(page.get_by_role("table", name="Follow-ups due next, earliest first")).to_contain_text(
            "Nothing here yet."
        )
        await audit(page, "sequence-campaign")
        await narrow(page, "sequence-campaign")
        assert admin.errors == []
