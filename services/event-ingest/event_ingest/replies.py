"""Processing a received mail: read it (inline, or from S3), match it to its prospect and
send, classify it, record it, and append what follows: a reply stops sequences (the
projector's stop rules), a request to be removed is an opt-out, and what a person wrote
is forwarded to the campaign's owner (by the sender, claimed like a send)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime

import asyncpg

from event_ingest.classify import Classification, classify
from event_ingest.mail import ParsedMail, parse_mail
from event_ingest.receipt import Received
from shared.events import (
    Envelope,
    ProspectAutoReplied,
    ProspectReplied,
    ProspectRepliedData,
    ProspectUnsubscribedV2,
    ProspectUnsubscribedV2Data,
    ReplyForwardRequested,
    ReplyForwardRequestedData,
)
from shared.lifecycle import inbound
from shared.lifecycle import prospect as prospects

# What SES puts in a Message-ID: <MessageId@email.amazonses.com> or <MessageId@REGION.amazonses.com>.
SES_MESSAGE_ID = re.compile(r"^([^@\s]+)@([a-z0-9-]+\.)?amazonses\.com$", re.IGNORECASE)
TOKEN = re.compile(r"^[^@+\s]+\+([a-z2-7]{20,64})@(.+)$", re.IGNORECASE)

Fetch = Callable[[str, str], Awaitable[bytes]]


@dataclass(frozen=True)
class ReplyRules:
    reply_domain: str | None
    forward_to: str | None = None  # REPLY_FORWARD_TO: every forward goes there
    forward_auto: bool = False  # REPLY_FORWARD_AUTO: automatic answers are forwarded too


def reply_tokens(addresses: list[str], reply_domain: str | None) -> list[str]:
    """The tokens of plus addresses at the reply domain (lower case: some servers fold case)."""
    if not reply_domain:
        return []
    found = []
    for address in addresses:
        m = TOKEN.match(address.strip())
        if m and m.group(2).lower() == reply_domain.lower() and m.group(1).lower() not in found:
            found.append(m.group(1).lower())
    return found


def ses_message_ids(thread_ids: list[str]) -> list[str]:
    """The SES message ids among the Message-IDs a mail answers (most recent first)."""
    return [m.group(1) for mid in thread_ids if (m := SES_MESSAGE_ID.match(mid))]


def forwarded(classification: Classification, flagged: str | None, rules: ReplyRules) -> bool:
    if flagged is not None:
        return False  # spam or a virus: kept and flagged, never passed on
    return classification in ("reply", "unsubscribe_request") or (
        classification == "auto_reply" and rules.forward_auto
    )


async def process(
    conn: asyncpg.Connection, inbound_id: uuid.UUID, *, fetch: Fetch, rules: ReplyRules, cause: Envelope
) -> tuple[Classification | None, bool]:
    """In the consumer's transaction; answers the classification (None: already done) and
    whether the mail matched a send."""
    row = await inbound.load(conn, inbound_id)
    if row is None or row["processed_at"] is not None:
        return None, False
    raw = row["raw"] if row["raw"] is not None else await fetch(row["s3_bucket"], row["s3_key"])
    mail = parse_mail(raw)
    notification = Received.model_validate(row["notification"])  # as the webhook stored it
    addresses = [*mail.recipients, *notification.receipt.recipients, *notification.mail.destination]
    found = await inbound.match(
        conn, tokens=reply_tokens(addresses, rules.reply_domain), thread_ids=ses_message_ids(mail.thread_ids),
        sender=mail.from_address,
    )  # fmt: skip
    classification = classify(mail)
    flagged = notification.flagged
    events = _events(classification, found, row["received_at"], cause)
    await inbound.save(conn, inbound_id, _processed(raw, mail, classification, flagged, found), *events)
    if classification == "unsubscribe_request" and found is not None:
        await prospects.opt_out(conn, _opt_out(found, cause))
    if forwarded(classification, flagged, rules):
        forward_to = rules.forward_to
        if forward_to is None and found is not None and found.campaign_id is not None:
            forward_to = await inbound.campaign_owner(conn, found.campaign_id)
        if forward_to is not None:
            event = ReplyForwardRequested.new(ReplyForwardRequestedData(inbound_id=inbound_id), cause=cause)
            await inbound.ask_forward(conn, inbound_id, forward_to, event)
    return classification, found is not None


def _events(
    classification: Classification, found: inbound.Match | None, received_at: datetime, cause: Envelope
) -> list[Envelope]:
    if found is None or classification not in ("reply", "auto_reply"):
        return []
    data = ProspectRepliedData(
        prospect_id=found.prospect_id, campaign_id=found.campaign_id, send_id=found.send_id,
        received_at=received_at,
    )  # fmt: skip
    kind = ProspectReplied if classification == "reply" else ProspectAutoReplied
    return [kind.new(data, cause=cause)]


def _opt_out(found: inbound.Match, cause: Envelope) -> ProspectUnsubscribedV2:
    return ProspectUnsubscribedV2.new(
        ProspectUnsubscribedV2Data(
            prospect_id=found.prospect_id,
            send_id=found.send_id,
            campaign_id=found.campaign_id,
            source="reply",
        ),
        cause=cause,
    )


def _processed(
    raw: bytes,
    mail: ParsedMail,
    classification: Classification,
    flagged: str | None,
    found: inbound.Match | None,
) -> inbound.Processed:
    return inbound.Processed(
        raw=raw, flagged=flagged, classification=classification, match=found, from_address=mail.from_address,
        from_name=mail.from_name, subject=mail.subject, headers=mail.headers, text=mail.text, html=mail.html,
        attachments=[asdict(a) for a in mail.attachments],
    )  # fmt: skip
