"""The MIME message the sender hands to SES (Content.Raw), also shown by the preview.

Built with the standard library's email package: multipart/alternative
(text, then HTML), UTF-8, and the RFC 8058 one-click headers.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr

from shared.rendering import RenderedContent

ONE_CLICK = "List-Unsubscribe=One-Click"


def format_sender(email: str, name: str | None) -> str:
    return formataddr((name, email)) if name else email


def build_message(
    content: RenderedContent,
    *,
    from_email: str,
    from_name: str | None,
    to: str,
    reply_to: str | None,
    unsubscribe_url: str,
) -> EmailMessage:
    """Raises ValueError if any header value would carry a line break."""
    message = EmailMessage(policy=SMTP)
    message["From"] = format_sender(from_email, from_name)
    message["To"] = Address(addr_spec=to) if to.isascii() else to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = content.subject
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = ONE_CLICK
    message.set_content(content.text, charset="utf-8")
    message.add_alternative(content.html, subtype="html", charset="utf-8")
    return message


def header_items(message: EmailMessage) -> list[tuple[str, str]]:
    """The top-level headers as (name, value), in order (for the preview)."""
    return [(name, str(value)) for name, value in message.items()]
