"""The MIME message the sender hands to SES (Content.Raw), also shown by the preview.

Multipart/alternative (text, then HTML: every message has both), UTF-8 bodies in
quoted-printable (what content filters expect of text; base64 text is a spam signal),
and the RFC 8058 one-click headers. The standard library's email package defines the
message: `build_message` builds it with the legacy (compat32) API, which the preview
shows. The sender writes the same bytes with `wire_bytes`, which calls the package's
own header folding and quoted-printable encoder but not its object model and generator:
those were a fifth of the sender's time a send. tests/unit/test_mime.py holds the two
byte for byte equal over arbitrary content. Neither polices header values the way
EmailMessage's registry does, so this module refuses any value with a line break itself.
"""

from __future__ import annotations

import re
import uuid
from email import quoprimime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr

from shared.header_safety import breaks_header
from shared.rendering import RenderedContent

ONE_CLICK = "List-Unsubscribe=One-Click"
# Headers are not folded short: a folded List-Unsubscribe is legal but some
# parsers keep the fold's space. SES takes lines up to 1,000 characters.
MAX_LINE = 998
WIRE = compat32.clone(linesep="\r\n", max_line_length=MAX_LINE)
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP
# What the email package's generator writes before each part's body.
_PART_HEADERS = (
    'Content-Type: text/{}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_LINE_ENDS = re.compile(r"\r\n|\r|\n")  # the generator's own (email.generator.NLCRE)
# A value the folding leaves as it is: printable ASCII, single spaces, none at either end.
_PLAIN = re.compile(r"[!-~]+(?: [!-~]+)*")


def _header(name: str, value: str) -> str | Header:
    if breaks_header(value):
        raise ValueError(f"the {name} header would contain a control character or a line break")
    return value if value.isascii() else Header(value, "utf-8", header_name=name)


def format_sender(email: str, name: str | None) -> str:
    return formataddr((name, email), charset="utf-8") if name else email


def new_boundary() -> str:
    # A boundary of our own: "=_" never occurs in a quoted-printable body ("=" is always
    # followed by two hex digits or a line end), and the generator skips its
    # per-message regex search for a unique one.
    return f"=_outreach.{uuid.uuid4().hex}"


def message_headers(
    content: RenderedContent, *, from_email: str, from_name: str | None, to: str, reply_to: str | None,
    unsubscribe_url: str, thread: tuple[str, str] | None = None,
) -> list[tuple[str, str | Header]]:  # fmt: skip
    """The top-level headers after Content-Type and MIME-Version, each checked and ready to
    fold. Raises ValueError if any value would carry a line break. `thread`: (In-Reply-To,
    References) of a follow-up in the prospect's conversation."""
    headers = [
        ("From", format_sender(from_email, from_name)),
        ("To", to),
        *([("Reply-To", reply_to)] if reply_to else []),
        ("Subject", content.subject),
        ("List-Unsubscribe", f"<{unsubscribe_url}>"),
        ("List-Unsubscribe-Post", ONE_CLICK),
        *([("In-Reply-To", thread[0]), ("References", thread[1])] if thread else []),
    ]
    return [(name, _header(name, value)) for name, value in headers]


def build_message(content: RenderedContent, *, boundary: str | None = None, **headers: object) -> Message:
    """The message as the email package's objects (the preview's headers come from it);
    `headers`: message_headers()'s keywords."""
    message = MIMEMultipart("alternative", boundary=boundary or new_boundary())
    for name, value in message_headers(content, **headers):  # type: ignore[arg-type]
        message[name] = value  # type: ignore[assignment] # compat32 takes Header objects
    message.attach(MIMEText(content.text, "plain", UTF8_QP))  # type: ignore[arg-type] # a Charset is taken
    message.attach(MIMEText(content.html, "html", UTF8_QP))  # type: ignore[arg-type]
    return message


def to_bytes(message: Message) -> bytes:
    """The message on the wire: CRLF line ends, no line over 998 characters."""
    return message.as_bytes(policy=WIRE)


def wire_bytes(content: RenderedContent, *, boundary: str | None = None, **headers: object) -> bytes:
    """to_bytes(build_message(...)), written directly: the package's folding for each header
    that needs it, its quoted-printable encoder for the bodies, its generator's layout."""
    boundary = boundary or new_boundary()
    out = [f'Content-Type: multipart/alternative; boundary="{boundary}"\r\nMIME-Version: 1.0\r\n']
    for name, value in message_headers(content, **headers):  # type: ignore[arg-type]
        if isinstance(value, str) and len(name) + 2 + len(value) <= MAX_LINE and _PLAIN.fullmatch(value):
            out.append(f"{name}: {value}\r\n")
        else:
            out.append(WIRE.fold(name, value))  # type: ignore[arg-type] # compat32 folds Header objects
    out.append("\r\n")
    for kind, body in (("plain", content.text), ("html", content.html)):
        out.append(f"--{boundary}\r\n{_PART_HEADERS.format(kind)}")
        # What MIMEText(body, kind, UTF8_QP) stores: the UTF-8 bytes, encoded byte by byte.
        out.append(_LINE_ENDS.sub("\r\n", quoprimime.body_encode(body.encode("utf-8").decode("latin-1"))))
        out.append("\r\n")
    out.append(f"--{boundary}--\r\n")
    return "".join(out).encode("ascii")


def header_items(message: Message) -> list[tuple[str, str]]:
    """The top-level headers as (name, value), in order (for the preview)."""
    return [(name, str(value)) for name, value in message.items()]
