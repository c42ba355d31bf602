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
