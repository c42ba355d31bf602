"""A received mail, read with the standard library's email package (policy default): the
headers that matter for matching and classifying, the text and HTML bodies in any
charset and at any nesting, and the attachments (names and sizes only). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

MAX_BODY_CHARS = 1_000_000  # kept per body; a longer one is cut (the raw mail is kept whole)
MAX_HEADERS = 200
MESSAGE_ID = re.compile(r"<([^<>\s]{1,500})>")


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class ParsedMail:
    from_address: str | None
    from_name: str | None
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To: wherever a token may be
    subject: str
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    delivery_report: bool = False  # multipart/report; report-type=delivery-status

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    @property
    def thread_ids(self) -> list[str]:
        """The Message-IDs this mail answers, the most recent first."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


def parse_mail(raw: bytes) -> ParsedMail:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    name, address = _from(message)
    text, html, attachments = _bodies(message)
    return ParsedMail(
        from_address=address,
        from_name=name,
        recipients=_recipients(message),
        subject=_header_text(message, "Subject"),
        message_id=next(iter(_ids(message, "Message-ID")), None),
        in_reply_to=_ids(message, "In-Reply-To"),
        references=_ids(message, "References"),
        headers=[(key, _safe_str(value)) for key, value in list(message.items())[:MAX_HEADERS]],
        text=text,
        html=html,
        attachments=attachments,
        delivery_report=message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status",
    )


def _safe_str(value: object) -> str:
    try:
        return _utf8(str(value))
    except (ValueError, LookupError):  # a header whose encoded words name an unknown charset
        return repr(value)[:2000]


def _utf8(text: str) -> str:
    """Raw 8-bit header bytes (SMTPUTF8 mail) arrive surrogate-escaped: read them as UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header_text(message: Message, name: str) -> str:
    value = message.get(name)
    return "" if value is None else _safe_str(value).strip()[:2000]


def _from(message: EmailMessage) -> tuple[str | None, str | None]:
    header = message.get("From")
    if header is None:
        return None, None
    addresses = getattr(header, "addresses", ())
    if addresses:
        first: Address = addresses[0]
        address = first.addr_spec if first.domain else None
        return (_utf8(first.display_name) or None), (_utf8(address).lower() if address else None)
    name, address = parseaddr(_safe_str(header))
    return (name or None), (address.lower() if "@" in address else None)


def _recipients(message: Message) -> list[str]:
    values = [
        _safe_str(value)
        for name in ("To", "Cc", "Delivered-To", "X-Original-To")
        for value in message.get_all(name, [])
    ]
    return [address.lower() for _, address in getaddresses(values) if "@" in address]


def _ids(message: Message, name: str) -> list[str]:
    value = message.get(name)
    return [] if value is None else MESSAGE_ID.findall(_safe_str(value))


def _bodies(message: EmailMessage) -> tuple[str | None, str | None, list[Attachment]]:
    text = html = None
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        if disposition != "attachment" and content_type in ("text/plain", "text/html"):
            body = _text_of(part)
            if content_type == "text/plain" and text is None:
                text = body
                continue
            if content_type == "text/html" and html is None:
                html = body
                continue
        payload = part.get_payload(decode=True)
        attachments.append(Attachment(part.get_filename(), content_type, len(payload) if payload else 0))
    return text, html, attachments


def _text_of(part: Message) -> str:
    """The part's text in its declared charset; an unknown or wrong one falls back to
    UTF-8 with replacement characters rather than losing the mail."""
    payload = part.get_payload(decode=True) or b""
    assert isinstance(payload, bytes)
    charset = part.get_content_charset() or "utf-8"
    try:
        body = payload.decode(charset, errors="replace")
    except LookupError:
        body = payload.decode("utf-8", errors="replace")
    return body[:MAX_BODY_CHARS]
