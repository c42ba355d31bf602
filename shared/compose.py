"""The message for one prospect, as the sender sends it and the gateway's preview shows it.

One function, so the preview cannot drift from what goes out: render the
campaign's templates for the recipient, then build the MIME message with the
campaign's sender, reply-to and the recipient's unsubscribe link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.errors import MessageError
from email.message import Message
from typing import Any

from shared.mime import build_message, new_boundary, wire_bytes
from shared.rendering import CampaignTemplates, Recipient, RenderedContent, render

# What compose() raises for a message that cannot be built (a header value with a break,
# a value the email package refuses): the preview answers 400, the sender fails that send.
UNBUILDABLE: tuple[type[Exception], ...] = (ValueError, TypeError, MessageError)


@dataclass(frozen=True)
class Composed:
    content: RenderedContent
    wire: bytes
    headers: Mapping[str, Any]  # shared.mime.message_headers' keywords
    boundary: str

    def raw(self) -> bytes:
        return self.wire

    @property
    def message(self) -> Message:
        """The same message as the email package's objects (the preview lists its headers)."""
        return build_message(self.content, boundary=self.boundary, **self.headers)


@dataclass(frozen=True)
class Thread:
    """A follow-up's place in the prospect's conversation."""

    subject: str | None  # set when the step has no subject of its own: "Re: " + step 1's as received
    headers: tuple[str, str] | None  # (In-Reply-To, References)


def reply_address(campaign: Mapping[str, Any], token: str, reply_domain: str) -> str:
    """The send's own Reply-To, local+TOKEN@REPLY_DOMAIN: the local part of the campaign's
    reply-to (else its from address), so the prospect sees a familiar name; replies come
    back through SES receiving and are matched by the token (event-ingest)."""
    local = str(campaign["reply_to"] or campaign["from_email"]).rsplit("@", 1)[0].split("+", 1)[0]
    return f"{local}+{token}@{reply_domain}"


def compose(
    campaign: Mapping[str, Any], templates: CampaignTemplates, recipient: Recipient, unsubscribe_url: str,
    thread: Thread | None = None, reply_to: str | None = None,
) -> Composed:  # fmt: skip
    """`campaign` has from_email, from_name and reply_to (a campaign row); `reply_to`: the
    send's own (reply_address) instead of the campaign's.
    Raises ValueError when a header value would carry a line break (UNBUILDABLE: when the
    message cannot be built at all)."""
    content = render(templates, recipient, unsubscribe_url)
    if thread is not None and thread.subject is not None:
        content = replace(content, subject=thread.subject)
    headers = dict(
        from_email=campaign["from_email"], from_name=campaign["from_name"], to=recipient.email,
        reply_to=reply_to or campaign["reply_to"], unsubscribe_url=unsubscribe_url,
        thread=thread.headers if thread is not None else None,
    )  # fmt: skip
    boundary = new_boundary()
    return Composed(content, wire_bytes(content, boundary=boundary, **headers), headers, boundary)
