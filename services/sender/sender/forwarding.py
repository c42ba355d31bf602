"""Forwarding a reply to the campaign's owner: a new message from "<prospect> via
Outreach" <replies@REPLY_DOMAIN>, Reply-To the prospect, the original attached whole
(message/rfc822), so the rep answers from their own mail client. Claimed before SES is
called and recorded after, as a send is: never twice, `unknown` when the answer was lost."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default
from typing import Any

import asyncpg

from sender.adapters.ses import SesGateway
from sender.domain import Cadence, Verdict
from sender.metrics import FORWARDS
from shared.events import ReplyForwardRequested
from shared.lifecycle import inbound
from shared.logging import get_logger

log = get_logger(__name__)
MARKS = {"unsubscribe_request": "[Unsubscribed] ", "auto_reply": "[Automatic] "}
NOTES = {
    "reply": "replied",
    "unsubscribe_request": "asked to be removed: they are unsubscribed, and get nothing more",
    "auto_reply": "sent an automatic answer",
}
RECORDED = {Verdict.SENT: "sent", Verdict.AMBIGUOUS: "unknown", Verdict.FAILED: "failed"}
# Any claim older than this was interrupted (an SES call times out well before).
INTERRUPTED_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class ForwardRules:
    reply_domain: str
    configuration_set: str | None = None


def forward_message(original: Mapping[str, Any], to: str, reply_domain: str) -> bytes:
    name = original["from_name"] or original["from_address"] or "Someone"
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(f"{name} via Outreach", "replies", reply_domain)
    message["To"] = to
    if original["from_address"]:
        message["Reply-To"] = Address(original["from_name"] or "", addr_spec=original["from_address"])
    subject = original["subject"] or "(no subject)"
    message["Subject"] = MARKS.get(original["classification"], "") + subject
    campaign = original["campaign_name"]
    where = f' to "{campaign}" (step {original["step"]})' if campaign else ""
    note = NOTES.get(original["classification"], "wrote")
    message.set_content(
        f"{name} <{original['from_address'] or 'unknown address'}> {note}{where}.\n"
        "Their message is attached; answer it from here: the reply goes to them.\n"
    )
    # message/rfc822 is carried as it is (RFC 2046 allows no base64 for it): attached parsed.
    message.add_attachment(message_from_bytes(original["raw"], policy=default), filename="original.eml")
    return message.as_bytes()


async def on_forward_requested(
    event: ReplyForwardRequested,
    *,
    pool: asyncpg.Pool,
    ses: SesGateway,
    cadence: Cadence,
    rules: ForwardRules,
) -> None:
    inbound_id = event.data.inbound_id
    forward_to = await inbound.claim_forward(pool, inbound_id)
    if forward_to is None:
        return  # forwarded already (or being forwarded): never twice
    original = await inbound.original(pool, inbound_id)
    if original is None or original["raw"] is None:
        await inbound.record_forward(pool, inbound_id, "failed", error="the mail is gone (erased)")
        return
    raw = forward_message(original, forward_to, rules.reply_domain)
    loop = asyncio.get_running_loop()
    delay = cadence.next_slot(loop.time()) - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
    outcome = await ses.send_raw(
        raw, from_email=f"replies@{rules.reply_domain}", to=forward_to, tags={"kind": "reply_forward"}
    )
    recorded = RECORDED.get(outcome.verdict)
    if recorded is None:  # throttled, not sent, refused for the account: SES did not take it
        await inbound.release_forward(pool, inbound_id)
        FORWARDS.labels("released").inc()
        raise RuntimeError(f"SES did not take the forward ({outcome.code}); it is tried again")
    error = None if recorded == "sent" else f"{outcome.code}: {outcome.message or ''}".strip()[:500]
    await inbound.record_forward(pool, inbound_id, recorded, message_id=outcome.message_id, error=error)
    FORWARDS.labels(recorded).inc()
    log.info("reply forwarded", inbound_id=str(inbound_id), outcome=recorded)
