"""Tags from the browser: an import that tags every row, chips on the list, the tag filter,
a bulk tag on the filter after a confirmation that states the count, and the editor's
chips. axe-clean at 1280 and 360 px."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.test_admin import TIMEOUT, audit, narrow, signed_in_admin

pytestmark = pytest.mark.browser

CSV = (
    "email,first_name,tags\n"
    "ada@recipients.example,Ada,EU;lead\n"
    "grace@recipients.example,Grace,us\n"
    "alan@recipients.example,Alan,\n"
)


async def test_an_admin_tags_prospects_from_the_browser(browser, make_database, make_vhost):
    async with signed_in_admin(browser, await make_database(), await make_vhost()) as admin:
        page, pool, errors = admin.page, admin.pool, admin.errors
        await page.get_by_role("link", name="Prospects", exact=True).click()

        # Import, tagging every row of the file.
        await page.get_by_label("Tags for every row").fill("Spring Fair")
        await page.get_by_label("CSV file").set_input_files(
            files=[{"name": "fair.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
        )
        await expect(page.locator(".note")).to_contain_text("3 new", timeout=TIMEOUT)
        await expect(page.get_by_role("region", name="Import from CSV")).not_to_contain_text("null")
        ada = page.get_by_role("list", name="Tags of ada@recipients.example")
        await expect(ada).to_contain_text("eu")
        await expect(ada).to_contain_text("spring fair")
        await audit(page, "tags-list")
        await narrow(page, "tags-list")

        assert errors == []
        # Filter by a tag; tag everyone in it, after a confirmation that says how many.
        await page.get_by_label("Tag", exact=True).select_option("eu")
        await expect(page.get_by_role("table", name="Prospects")).not_to_contain_text(
            "grace@recipients.example"
        )
        await expect(page.locator("#bulk-note")).to_contain_text("the 1 prospects")
        await page.get_by_label("Tags", exact=True).fill("VIP")
        await page.get_by_role("button", name="Add to all").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Add VIP to 1 prospects?")
        await audit(page, "tags-bulk-confirm")
        await dialog.get_by_role("button", name="Add tags").click()
        await expect(ada).to_contain_text("vip", timeout=TIMEOUT)
        assert await pool.fetchval(
            "SELECT count(*) FROM prospects WHERE tags @> ARRAY['vip']"
        ) == 1  # fmt: skip

        # The editor: remove a chip, add one, save.
        await page.get_by_label("Tag", exact=True).select_option("")
        await page.get_by_role("link", name="Edit grace@recipients.example").click()
        await page.get_by_role("button", name="Remove tag spring fair").click()
        await page.get_by_label("Add a tag").fill("Speaker")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("list", name="Tags")).to_contain_text("speaker")
        await audit(page, "tags-editor")
        await narrow(page, "tags-editor")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("list", name="Tags of grace@recipients.example")).to_contain_text(
            "speaker", timeout=TIMEOUT
        )
        assert await pool.fetchval("SELECT tags FROM prospects WHERE email = 'grace@recipients.example'") == [
            "us", "speaker",
        ]  # fmt: skip
        assert errors == []
