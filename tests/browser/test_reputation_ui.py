"""The reputation page: each sending domain's rates of the last 24 hours and 7 days, the
state against SES's review rates, and the daily plot. axe-clean at 1280 and 360 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.browser.test_admin import audit, narrow, signed_in_admin
from tests.harness.sending import seed_campaign

pytestmark = pytest.mark.browser

SEED = """
INSERT INTO send_status (send_id, campaign_id, status, status_rank, sent_at, bounced_at)
SELECT gen_random_uuid(), $1, 'sent', 1, $2::timestamptz, CASE WHEN g <= $4 THEN $2::timestamptz END
FROM generate_series(1, $3) g
"""


async def test_the_admin_sees_each_domains_rates_against_the_review_rates(browser, make_database, make_vhost):
    async with signed_in_admin(browser, await make_database(), await make_vhost()) as admin:
        page, pool, errors = admin.page, admin.pool, admin.errors
        campaign = await seed_campaign(pool, from_email="dana@example.com")
        now = datetime.now(UTC)
        await pool.execute(SEED, campaign, now - timedelta(hours=1), 400, 4)  # 1 %
        await pool.execute(SEED, campaign, now - timedelta(days=2), 600, 60)  # 10 %
        await page.get_by_role("link", name="Reputation", exact=True).click()
        await expect(page.get_by_role("heading", name="example.com")).to_be_visible()
        rates = page.get_by_role("table", name="Rates of example.com")
        await expect(rates.get_by_role("row", name="Last 24 hours")).to_contain_text("1.0 %")
        await expect(rates.get_by_role("row", name="Last 7 days")).to_contain_text("6.4 %")
        await expect(rates.get_by_role("row", name="Last 7 days")).to_contain_text(
            "under review at SES's rate"
        )
        await expect(
            page.get_by_role("img", name="Daily bounce and complaint rates of example.com")
        ).to_be_visible()
        await audit(page, "reputation")
        await narrow(page, "reputation")
        assert errors == []


async def test_the_admin_sees_the_warm_up_and_turns_the_kill_switch_back_on(
    browser, make_database, make_vhost
):
    database_url = await make_database()
    async with signed_in_admin(
        browser,
        database_url,
        await make_vhost(),
        warmup_schedule="50,100,200",
        ses_configuration_set="outreach-set",
    ) as admin:
        page, pool, errors = admin.page, admin.pool, admin.errors
        await pool.execute("INSERT INTO sending_domains (domain, first_send_on) VALUES ('news.example.org', $1)",
                           (datetime.now(UTC) - timedelta(days=1)).date())  # fmt: skip
        await pool.execute(
            "UPDATE sending_switch SET enabled = false, reason = 'account-wide bounce rate 6.3% (44 of 700)', "
            "changed_by = 'reputation', changed_at = now(), applied_at = now()"
        )
        await page.get_by_role("link", name="Reputation", exact=True).click()
        warmup = page.get_by_role("table", name="Warm-up of the sending domains")
        await expect(warmup.get_by_role("row", name="news.example.org")).to_contain_text("day 2 of 3")
        await expect(warmup.get_by_role("row", name="news.example.org")).to_contain_text("100")
        await expect(warmup.get_by_role("row", name="example.com")).to_contain_text("not sent from yet")
        state = page.locator("#switch-state")
        await expect(state).to_contain_text("disabled")
        await expect(state).to_contain_text("account-wide bounce rate 6.3%")
        await audit(page, "reputation-switch")

        await page.get_by_role("button", name="Re-enable sending").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("resets the configuration set's reputation metrics")
        await dialog.get_by_role("button", name="Re-enable sending").click()
        await expect(state).to_contain_text("enabled")
        switch = await pool.fetchrow("SELECT enabled, changed_by, guard_from FROM sending_switch")
        assert switch["enabled"] and switch["changed_by"] == "admin@example.com" and switch["guard_from"]

        await (
            warmup.get_by_role("row", name="news.example.org").get_by_role("button", name="Mark warm").click()
        )
        await page.get_by_role("dialog").get_by_role("button", name="Mark warm").click()
        await expect(warmup.get_by_role("row", name="news.example.org")).to_contain_text("warm")
        await expect(
            warmup.get_by_role("row", name="news.example.org").get_by_role("button", name="Restart warm-up")
        ).to_be_visible()
        assert await pool.fetchval(
            "SELECT warm_since IS NOT NULL FROM sending_domains WHERE domain = 'news.example.org'"
        )
        await narrow(page, "reputation-switch")
        assert errors == []
