"""`outreach smoke-test EMAIL`: one real message through the running stack, watched to the end.

As the reference design's scripts/test-ses-send: through the gateway's API (the
proxy secret), it makes sure a prospect with that address exists, creates a
one-off campaign "Hello {{ first_name }}", sends it, and prints each state of
that one message as it is observed (queued, sent, delivered, opened, clicked,
or bounced, complained, a failure). It passes when the message was at least
sent and nothing went wrong.

A campaign goes to every eligible prospect, so the smoke test refuses to send
when any other prospect is active: it is the last step of a deployment, run
before the prospects are imported (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# What the smoke test prints beyond the send's status, from its row in
# GET /api/campaigns/{id}/sends, in the order a message lives them.
MILESTONES = {"delivered": "delivered_at", "opened": "opened_at", "clicked": "clicked_at",
              "bounced": "bounced_at", "complained": "complained_at"}  # fmt: skip
FAILED_STATUSES = frozenset({"failed", "unknown", "rejected", "rendering_failed", "bounced", "complained"})
NOT_SENT = frozenset({"claimed", "failed", "unknown", "rejected", "rendering_failed"})
# Once one of these is seen there is nothing more to wait for.
FINAL = frozenset({"clicked"}) | FAILED_STATUSES


class SmokeFailed(Exception):
    """The smoke test could not run, or saw the message fail: the line says which."""


@dataclass
class Watch:
    """What was seen of the one message so far."""

    seen: list[str] = field(default_factory=list)
    failure: str | None = None

    def observe(self, campaign: dict[str, Any], send: dict[str, Any] | None) -> list[str]:
        """The states not seen before, in order, from the campaign's and its send's answers."""
        found = []
        if campaign["status"] == "paused":
            self.failure = (
                f"the campaign was paused ({campaign.get('pause_reason')}): {campaign.get('status_reason')}"
            )
            found.append("paused")
        status = "queued" if send is None or send["status"] == "claimed" else send["status"]
        if status in FAILED_STATUSES:
            assert send is not None
            self.failure = f"the message is {status}" + (f": {send['error']}" if send.get("error") else "")
        if status not in NOT_SENT | {"queued"}:
            found.append("sent")
        found += [state for state, column in MILESTONES.items() if send and send.get(column)]
        found.append(status)  # after its milestones: delivered, then what happened since
        new = [state for state in dict.fromkeys(found) if state not in self.seen]
        self.seen += new
        return new

    @property
    def finished(self) -> bool:
        return self.failure is not None or bool(FINAL & set(self.seen))

    @property
    def passed(self) -> bool:
        return self.failure is None and "sent" in self.seen


class Gateway:
    """The few calls the smoke test makes, each failing with the gateway's own words."""

    def __init__(self, http: aiohttp.ClientSession, api_url: str) -> None:
        self.http, self.api_url = http, api_url

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with self.http.request(method, path, **kwargs) as response:
                text = await response.text()
        except aiohttp.ClientError as exc:
            raise SmokeFailed(
                f"the gateway at {self.api_url} did not answer ({exc}): is the stack running?"
            ) from None
        body = json.loads(text) if text else None
        if response.status >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise SmokeFailed(
                f"{method} {path} answered {response.status}: {error.get('message', text[:200])}"
            )
        return body


async def run_smoke_test(
    api_url: str, proxy_secret: str, email: str, from_email: str, *,
    timeout: float, print_line: Callable[[str], None] = print, poll_seconds: float = 1.0,
) -> bool:  # fmt: skip
    headers = {"X-Proxy-Secret": proxy_secret}
    async with aiohttp.ClientSession(base_url=api_url, headers=headers) as http:
        gateway = Gateway(http, api_url)
        system = await gateway.call("GET", "/api/system")
        print_line(system["mail_goes_to"])
        prospect = await own_prospect(gateway, email)
        print_line(f"prospect   {prospect['email']} ({prospect['id']}, {prospect['status']})")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        campaign = await gateway.call("POST", "/api/campaigns", json={
            "name": f"Smoke test {stamp}", "subject": f"Outreach smoke test {stamp}",
            "body_html": '<p>Hello {{ first_name }},</p><p>this is the Outreach smoke test. '
                         '<a href="https://example.com/">A link to click</a>.</p>',
            "from_email": from_email,
        })  # fmt: skip
        print_line(f"campaign   {campaign['name']} ({campaign['id']})")
        await gateway.call("POST", "/api/campaigns/send", json={"campaignId": campaign["id"]})
        watch = Watch()
        # The emulator delivers nothing, so no SES event will follow the acceptance.
        only_sent = system["ses_mode"] == "emulator"
        deadline = time.monotonic() + timeout
        while True:
            state = await gateway.call("GET", f"/api/campaigns/{campaign['id']}")
            sends = await gateway.call("GET", f"/api/campaigns/{campaign['id']}/sends")
            send = next((s for s in sends["items"] if s["prospect_id"] == prospect["id"]), None)
            for new in watch.observe(state["campaign"], send):
                print_line(f"{time.strftime('%H:%M:%S')}   {new}")
            if watch.finished or (only_sent and "sent" in watch.seen) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(poll_seconds)
    if watch.failure:
        print_line(f"FAIL: {watch.failure}")
    elif not watch.passed:
        print_line(f"FAIL: the message was not sent within {timeout:g} s (is the sender running?)")
    else:
        print_line("OK: the message was sent" + (" (to the emulator)" if only_sent else "")
                   + f"; seen: {', '.join(watch.seen)}")  # fmt: skip
    return watch.passed


async def own_prospect(gateway: Gateway, email: str) -> dict[str, Any]:
    """The active prospect with this address (created if new), when it is the only one active."""
    found = await gateway.call("GET", "/api/prospects", params={"q": email, "limit": "200"})
    prospect = next((p for p in found["items"] if p["email"].lower() == email.strip().lower()), None)
    if prospect is None:
        prospect = await gateway.call("POST", "/api/prospects", json={"email": email, "first_name": "Smoke"})
    if prospect["status"] != "active":
        raise SmokeFailed(f"{email} is {prospect['status']}: a campaign would not reach it")
    active = await gateway.call("GET", "/api/prospects", params={"status": "active", "limit": "1"})
    others = active["total"] - 1
    if others:
        raise SmokeFailed(
            f"{others} other prospect(s) are active, and a campaign goes to every eligible prospect: "
            "run the smoke test before importing prospects (nothing was sent)"
        )
    return prospect
