"""The admin runs a whole campaign from the browser: sign in, import, write, preview, send, watch,
pause and resume, and see a recipient's unsubscribe counted. axe-core on every page; 360 px wide."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, TimeoutError, expect

from api_gateway.adapters.admins import upsert
from api_gateway.admins import hash_password
from api_gateway.app import create_app as create_gateway
from event_ingest.app import create_app as create_ingest
from event_ingest.settings import EventIngestSettings
from projector.app import create_app as create_projector
from projector.settings import ProjectorSettings
from shared import db
from tests.browser.conftest import SCREENSHOTS, axe_violations
from tests.harness.front_door import free_port, front_door
from tests.harness.gateway import ADDRESS_KEY, gateway_settings
from tests.harness.roles import as_service
from tests.harness.sending import running_sender
from tests.harness.ses_events import addressed
from tests.harness.ses_stub import running_stub
from unsubscribe.app import create_app as create_unsubscribe
from unsubscribe.settings import UnsubscribeSettings

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "admin@example.com"
PASSWORD = "a long admin passphrase"
SECRET = "webhook-secret-0123456789"
CSV = (
    "email,first_name,last_name,company\n"
    "ada@recipients.example,Ada,Lovelace,Analytical\n"
    "grace@recipients.example,Grace,Hopper,Navy\n"
    "alan@recipients.example,Alan,Turing,Bletchley\n"
    "not-an-address,Bad,Row,Nowhere\n"
    "edsger@recipients.example,Edsger,Dijkstra,Eindhoven\n"
)
TIMEOUT = 20_000  # ms, for what the pipeline (sender, broker, projector) must do


@contextlib.asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def audit(page: Page, name: str) -> None:
    """No axe violations, no sideways scrolling at the page's width, and a screenshot."""
    assert await axe_violations(page) == [], name
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"
    await page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)


async def sign_in(page: Page) -> None:
    """On the sign-in page: the admin's address and password, then Enter."""
    await page.get_by_label("Email").fill(ADMIN_EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.keyboard.press("Enter")


@dataclass
class AdminPage:
    pool: asyncpg.Pool
    base: str
    page: Page
    errors: list[str]  # what the page threw


@contextlib.asynccontextmanager
async def signed_in_admin(
    browser, database_url: str, amqp_url: str, **settings: Any
) -> AsyncIterator[AdminPage]:
    """A gateway on the database behind the front door, an admin account, and a page signed in
    at /admin, 1280 px wide (`settings`: the gateway's, beyond the tests' own)."""
    async with (
        db.pool_context(database_url) as pool,
        serving(create_gateway(gateway_settings(database_url, amqp_url, **settings))) as gateway_base,
        front_door(free_port(), gateway=gateway_base) as base,
    ):
        await upsert(pool, ADMIN_EMAIL, hash_password(PASSWORD))
        context = await browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
        try:
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{base}/admin")
            await sign_in(page)
            yield AdminPage(pool, base, page, errors)
        finally:
            await context.close()


async def narrow(page: Page, name: str) -> None:
    """The same page on a 360 px phone."""
    await page.set_viewport_size({"width": 360, "height": 740})
    with contextlib.suppress(TimeoutError):  # let it reflow (the chart resizes itself); audit() judges
        await page.wait_for_function(
            "document.documentElement.scrollWidth <= window.innerWidth", timeout=3000
        )
    await audit(page, f"{name}-360")
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_an_admin_runs_a_campaign_from_the_browser(browser, make_database, make_vhost, ses_emulator):
    database_url, amqp_url = await make_database(), await make_vhost()
    await ses_emulator.reset()
    await ses_emulator.verify_identity("example.com")
    SCREENSHOTS.mkdir(exist_ok=True)
    common = {"amqp_url": amqp_url, "outbox_poll_seconds": 0.5}
    unsubscribe_settings = UnsubscribeSettings(**common, database_url=as_service(database_url, "unsubscribe"))
    ingest_settings = EventIngestSettings(
        **common, database_url=as_service(database_url, "event-ingest"), ses_webhook_secret=SECRET
    )
    projector_settings = ProjectorSettings(**common, database_url=as_service(database_url, "projector"))
    # Everything the browser and SES reach goes through the front door, as deployed.
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with (
        db.pool_context(database_url) as pool,
        serving(create_unsubscribe(unsubscribe_settings)) as unsubscribe_base,
        serving(create_gateway(gateway_settings(database_url, amqp_url, public_base_url=public))) as gateway_base,
        serving(create_ingest(ingest_settings)) as ingest_base,
        serving(create_projector(projector_settings)),
        running_sender(
            database_url, amqp_url, ses_emulator.endpoint_url, public_base_url=public, send_rate_per_second=1,
        ),
        front_door(port, gateway=gateway_base, ingest=ingest_base, unsubscribe=unsubscribe_base) as base,
    ):  # fmt: skip
        await upsert(pool, ADMIN_EMAIL, hash_password(PASSWORD))
        # axe injects a script: that context must bypass the page's CSP (the app itself never needs to).
        context = await browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # Sign in with the keyboard alone: the address field has focus on arrival.
        await page.goto(f"{base}/admin")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await audit(page, "sign-in")
        await narrow(page, "sign-in")
        await page.get_by_label("Email").focus()
        await page.keyboard.type(ADMIN_EMAIL)
        await page.keyboard.press("Tab")
        await page.keyboard.type("wrong password!")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("alert")).to_contain_text("The email or password is wrong.")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
        # Every page says plainly that mail goes to the emulator, not to people.
        await expect(page.get_by_role("complementary", name="Where mail goes")).to_contain_text(
            "Test mode: mail goes to the local SES emulator"
        )
        await audit(page, "campaigns-empty")

        # Import prospects through the file picker; the report names the bad line.
        await page.get_by_role("link", name="Prospects", exact=True).click()
        await page.get_by_label("CSV file").set_input_files(
            files=[{"name": "prospects.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
        )
        await expect(page.locator(".note")).to_contain_text("4 new", timeout=TIMEOUT)
        rejected = page.get_by_role("table", name="Rows not imported")
        await expect(rejected).to_contain_text("5")  # the header is line 1
        await expect(page.get_by_role("table", name="Prospects")).to_contain_text("ada@recipients.example")
        assert await page.locator("progress").get_attribute("value") == "100"
        await audit(page, "prospects")
        await narrow(page, "prospects")
        # Dropped on the drop zone instead: an update of one row.
        await page.evaluate(
            """(csv) => {
                const data = new DataTransfer();
                data.items.add(new File([csv], "update.csv", {type: "text/csv"}));
                document.querySelector(".drop").dispatchEvent(
                    new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
            }""",
            "email,company\nada@recipients.example,Analytical Engines\n",
        )
        await expect(page.locator(".note")).to_contain_text(
            "Imported update.csv: 0 new, 1 updated", timeout=TIMEOUT
        )
        await expect(page.get_by_role("table", name="Prospects")).to_contain_text("Analytical Engines")

        # Write a campaign; a wrong placeholder is shown at its field; the preview renders for a prospect.
        await page.get_by_role("link", name="Campaigns", exact=True).click()
        await page.get_by_role("link", name="New campaign").click()
        await page.get_by_label("Campaign name").fill("Autumn hello")
        await page.get_by_label("From name").fill("Dana at Example")
        await page.get_by_label("From address").fill("outreach@example.com")
        await page.get_by_label("Subject").fill("Hello {{ first_nam }}")
        await page.get_by_label("HTML body").fill(
            '<p>Hi {{ first_name }} of {{ company }},</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        )
        await page.get_by_role("button", name="Save draft").click()
        subject_error = page.locator("#campaign-subject-error")
        await expect(subject_error).to_contain_text("first_nam")
        assert await page.get_by_label("Subject").get_attribute("aria-invalid") == "true"
        await page.get_by_label("Subject").fill("Hello {{ first_name }}")
        await page.get_by_role("button", name="Save draft").click()
        await expect(page.get_by_text(re.compile("Draft saved at"))).to_be_visible()
        await page.get_by_label("Preview for").select_option(label="grace@recipients.example")
        await expect(page.locator("#preview-subject")).to_have_text("Subject: Hello Grace")
        frame = page.frame_locator("iframe[title='Preview of the HTML message']")
        await expect(frame.locator("p").first).to_have_text("Hi Grace of Navy,")
        # The body has no postal address: the footer is added, and the editor says so.
        await expect(page.locator("#preview-footer")).to_be_visible()
        await expect(frame.locator(".outreach-footer")).to_contain_text("Outreach Test Ltd1 Test Street")
        await expect(page.get_by_label("Plain-text part")).to_contain_text("Testville TS1 1AA\nUnsubscribe (")
        await expect(page.get_by_label("Message headers")).to_contain_text(
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
        )
        # Live: an edit re-renders the preview without pressing anything.
        await page.get_by_label("Subject").fill("Hi {{ first_name }}")
        await expect(page.locator("#preview-subject")).to_have_text("Subject: Hi Grace", timeout=TIMEOUT)
        await audit(page, "campaign-editor")
        await narrow(page, "campaign-editor")

        # Send it: the confirmation states how many are eligible.
        await page.get_by_role("link", name="Back").click()
        await expect(page.get_by_role("heading", name="Autumn hello")).to_be_visible()
        await page.get_by_role("button", name="Send…").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("4 prospects are eligible")
        await audit(page, "send-confirmation")
        await dialog.get_by_role("button", name="Send to 4").click()

        # Pause after the first message (one a second), then resume; it finishes with exactly four.
        sent = page.locator("[data-stat='sent'] b")
        async with asyncio.timeout(TIMEOUT / 1000):
            while not await ses_emulator.sent_messages():
                await asyncio.sleep(0.05)
        await page.get_by_role("button", name="Pause").click()
        await expect(page.locator(".badge").first).to_have_text("paused", timeout=TIMEOUT)
        note = page.locator(".pause-note")
        await expect(note).to_contain_text("Paused by an admin")
        await expect(note).to_have_attribute("data-pause", "manual")
        await audit(page, "campaign-paused")
        await asyncio.sleep(1.5)  # nothing more goes out while paused
        paused_at = len(await ses_emulator.sent_messages())
        assert 1 <= paused_at < 4
        await page.get_by_role("button", name="Resume").click()
        await expect(page.get_by_role("dialog")).to_contain_text(f"{4 - paused_at} prospect")
        await page.get_by_role("dialog").get_by_role("button", name=re.compile("^Resume to")).click()
        await expect(page.locator(".badge").first).to_have_text("completed", timeout=TIMEOUT)
        await expect(sent).to_have_text("4", timeout=TIMEOUT)
        messages = await ses_emulator.sent_messages()
        assert sorted(m.destinations[0] for m in messages) == sorted(
            ["ada@recipients.example", "grace@recipients.example", "alan@recipients.example",
             "edsger@recipients.example"])  # fmt: skip

        # A prospect added after completion: "Send again" reaches only them.
        await pool.execute(
            "INSERT INTO prospects (id, email, email_hash, first_name)"
            " VALUES (gen_random_uuid(), 'barbara@recipients.example',"
            " outreach_email_hash('barbara@recipients.example', $1::bytea), 'Barbara')",
            ADDRESS_KEY,
        )
        await page.get_by_role("button", name="Send again…").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("1 new prospect is eligible")
        await dialog.get_by_role("button", name="Send to 1 new").click()
        await expect(sent).to_have_text("5", timeout=TIMEOUT)
        await expect(page.locator(".badge").first).to_have_text("completed", timeout=TIMEOUT)
        messages = await ses_emulator.sent_messages()
        assert sorted(m.destinations[0] for m in messages).count("barbara@recipients.example") == 1
        assert len(messages) == 5

        # A send that failed (as SES refusing it would leave it) goes back in line from the page.
        linus = await pool.fetchval(
            "INSERT INTO prospects (id, email, email_hash) VALUES (gen_random_uuid(), 'linus@recipients.example',"
            " outreach_email_hash('linus@recipients.example', $1::bytea)) RETURNING id",
            ADDRESS_KEY,
        )
        await pool.execute(
            "INSERT INTO email_sends (campaign_id, prospect_id, unsubscribe_token, outcome, error_code)"
            " SELECT id, $1, md5(random()::text) || md5(random()::text), 'failed', 'MessageRejected'"
            " FROM email_campaigns", linus,
        )  # fmt: skip
        await page.get_by_role("button", name="Retry 1 failed…").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("sent again, once each")
        await audit(page, "retry-confirmation")
        await dialog.get_by_role("button", name="Retry 1").click()
        await expect(sent).to_have_text("6", timeout=TIMEOUT)
        await expect(page.get_by_role("button", name="Retry 1 failed…")).to_have_count(0, timeout=TIMEOUT)
        messages = await ses_emulator.sent_messages()
        assert [m.destinations[0] for m in messages].count("linus@recipients.example") == 1

        # SES reports deliveries, opens and a click: the funnel follows.
        sends = await pool.fetch(
            "SELECT id, campaign_id, prospect_id, ses_message_id FROM email_sends WHERE retried_at IS NULL"
            " ORDER BY prospect_seq"
        )
        events = [addressed("delivery", s) for s in sends] + [addressed("open", s) for s in sends[:2]]
        events.append(addressed("click", sends[0]))
        async with ClientSession() as http:
            for payload in events:
                async with http.post(f"{base}/api/webhooks/ses-events", json=payload,
                                     headers={"X-Webhook-Secret": SECRET}) as response:  # fmt: skip
                    assert response.status == 200, await response.text()
        funnel = page.get_by_role("list", name="Funnel")
        await expect(funnel).to_contain_text("Delivered6 (100 %)", timeout=TIMEOUT)
        await expect(funnel).to_contain_text("Opened2 (33.3 %)", timeout=TIMEOUT)
        await expect(funnel).to_contain_text("Clicked1 (16.7 %)", timeout=TIMEOUT)

        # A recipient unsubscribes through the link in their message; the admin sees it counted.
        grace = next(m for m in messages if m.destinations[0] == "grace@recipients.example")
        recipient = await browser.new_page()
        await recipient.goto(grace.mime["List-Unsubscribe"].strip("<>"))
        await recipient.get_by_role("button", name="Unsubscribe").click()
        await expect(recipient.get_by_text("You are unsubscribed")).to_be_visible()
        await recipient.close()
        await expect(page.locator("[data-stat='unsubscribed'] b")).to_have_text("1", timeout=TIMEOUT)
        feedback = page.get_by_role("table", name="Opt-outs and failures, newest first")
        await expect(feedback).to_contain_text("grace@recipients.example")
        await expect(feedback).to_contain_text("the unsubscribe page")
        recipients = page.get_by_role("table", name="Recipients of this campaign")
        await page.get_by_label("Search by address").fill("grace")
        await expect(recipients).to_contain_text("unsubscribed", timeout=TIMEOUT)
        await expect(recipients.locator("tbody tr")).to_have_count(1)
        await page.get_by_label("Search by address").fill("")
        await expect(page.locator(".chart .uplot")).to_be_visible()
        await audit(page, "campaign-detail")
        await narrow(page, "campaign-detail")
        await page.get_by_role("link", name="Campaigns", exact=True).click()
        row = page.get_by_role("table", name="All campaigns, newest first").locator("tbody tr").first
        await expect(row).to_contain_text("Autumn hello")
        await expect(row).to_contain_text("completed")
        await audit(page, "campaigns")
        await narrow(page, "campaigns")

        # Prospects: filter by status, edit one, delete one after confirming.
        await page.get_by_role("link", name="Prospects", exact=True).click()
        await page.get_by_label("Status", exact=True).select_option("unsubscribed")
        table = page.get_by_role("table", name="Prospects")
        await expect(table.locator("tbody tr")).to_have_count(1)
        await expect(table).to_contain_text("grace@recipients.example")
        await page.get_by_label("Status", exact=True).select_option("")
        await page.get_by_role("link", name="Edit alan@recipients.example").click()
        await page.get_by_label("Company").fill("Manchester")
        await audit(page, "prospect-editor")
        await narrow(page, "prospect-editor")
        await page.get_by_role("button", name="Save").click()
        await expect(table).to_contain_text("Manchester")
        await page.get_by_role("button", name="Delete edsger@recipients.example").click()
        await expect(page.get_by_role("dialog")).to_contain_text("never emailed again")
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(table).not_to_contain_text("edsger@recipients.example")
        assert await pool.fetchval("SELECT count(*) FROM prospects") == 5

        # Signing out returns to the sign-in page; the API then refuses the old session's page.
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert errors == []
        await context.close()


async def test_the_admin_sees_why_sending_cannot_work(browser, make_database, make_vhost):
    """An SES account in the sandbox: every page says so, in plain words, once signed in."""
    database_url, amqp_url = await make_database(), await make_vhost()
    async with running_stub() as stub:
        stub.account["ProductionAccessEnabled"] = False
        settings = gateway_settings(database_url, amqp_url, ses_endpoint_url=stub.endpoint_url)
        async with db.pool_context(database_url) as pool, serving(create_gateway(settings)) as base:
            await upsert(pool, ADMIN_EMAIL, hash_password(PASSWORD))
            context = await browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await page.goto(f"{base}/admin")
            problems = page.get_by_role("complementary", name="Sending cannot work")
            await expect(problems).to_be_hidden()  # nothing is said before signing in
            await sign_in(page)
            await expect(problems).to_contain_text("The SES account is in the sandbox", timeout=TIMEOUT)
            await audit(page, "ses-problems")
            await page.get_by_role("link", name="Prospects", exact=True).click()
            await expect(problems).to_be_visible()  # on every page
            await context.close()
