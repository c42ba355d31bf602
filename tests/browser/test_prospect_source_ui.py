"""Where prospects came from, in the browser: an import with a note and a lawful basis,
the prospect's page showing its source and taking a new basis, and a segment condition
on the basis. axe-clean at 1280 and 360 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.test_admin import TIMEOUT, audit, narrow, signed_in_admin

pytestmark = pytest.mark.browser

CSV = (
    "email,first_name\nada@recipients.example,Ada\ngrace@recipients.example,Grace\ninfo@recipients.example,\n"
)


async def test_an_admin_records_and_sees_where_prospects_came_from(browser, make_database, make_vhost):
    async with signed_in_admin(browser, await make_database(), await make_vhost()) as admin:
        page, pool, errors = admin.page, admin.pool, admin.errors
        await page.get_by_role("link", name="Prospects", exact=True).click()
        await page.get_by_label("Where the list came from").fill("Lisbon fair, stand 12")
        await page.get_by_label("Lawful basis").select_option("legitimate_interests")
        await page.get_by_label("CSV file").set_input_files(
            files=[{"name": "lisbon-fair.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
        )
        await expect(page.locator(".note")).to_contain_text("3 new", timeout=TIMEOUT)
        await audit(page, "source-import")

        await page.get_by_role("link", name="Edit ada@recipients.example").click()
        source = page.locator("#prospect-source")
        await expect(source).to_contain_text(
            "Imported from lisbon-fair.csv by admin@example.com — Lisbon fair, stand 12"
        )
        basis = page.get_by_label("Lawful basis")
        await expect(basis).to_have_value("legitimate_interests")
        await audit(page, "source-prospect")
        await narrow(page, "source-prospect")
        await basis.select_option("consent")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("heading", name="Prospects", exact=True)).to_be_visible()
        row = await pool.fetchrow(
            "SELECT source, lawful_basis FROM prospects WHERE email = 'ada@recipients.example'"
        )
        assert row["lawful_basis"] == "consent"
        assert row["source"]["file"] == "lisbon-fair.csv"  # kept through the edit

        # A role address says why campaigns leave it out.
        await page.get_by_role("link", name="Edit info@recipients.example").click()
        await expect(page.locator("#prospect-flags")).to_contain_text("Flagged: a role address")
        await audit(page, "source-flagged")
        await page.get_by_role("link", name="Back to prospects").click()

        # A segment on the basis counts the one with consent.
        await page.get_by_role("link", name="Segments", exact=True).click()
        await page.get_by_role("link", name="New segment").click()
        await page.get_by_label("Field").first.select_option("lawful_basis")
        await page.get_by_label("Value").first.select_option("consent")
        await expect(page.locator(".live-count .count")).to_have_text(
            "1 prospect match now.", timeout=TIMEOUT
        )
        assert errors == []
