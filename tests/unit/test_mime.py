"""The sender's direct writer (shared.mime.wire_bytes) writes exactly the bytes the email
package's generator writes for the same message, whatever the content."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.header_safety import HEADER_BREAKS
from shared.mime import build_message, to_bytes, wire_bytes
from shared.rendering import RenderedContent

pytestmark = pytest.mark.unit

BOUNDARY = "=_outreach.0123456789abcdef0123456789abcdef"
# Bodies: any text, line ends of every kind, the characters quoted-printable escapes, long lines.
body = st.lists(
    st.text(st.characters(codec="utf-8"))
    | st.sampled_from(["\r\n", "\r", "\n", "=", " ", "\t", "é", "x" * 80])
).map("".join)
# Header values: anything without a break (the builder refuses those), runs of spaces, long ones.
header_text = st.lists(
    st.text(st.characters(codec="utf-8").filter(lambda c: c not in HEADER_BREAKS))
    | st.sampled_from([" ", "a" * 90])
).map("".join)
address = st.from_regex(r"[a-z0-9.+_-]{1,30}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True)


def both(content: RenderedContent, **headers: object) -> tuple[bytes, bytes]:
    return to_bytes(build_message(content, boundary=BOUNDARY, **headers)), wire_bytes(
        content, boundary=BOUNDARY, **headers
    )


@settings(max_examples=400, deadline=None)
@given(
    subject=header_text, text=body, html=body, from_name=st.none() | header_text, to=address,
    reply_to=st.none() | address, path=st.from_regex(r"[A-Za-z0-9_-]{0,1100}", fullmatch=True),
    thread=st.none() | st.tuples(header_text, header_text),
)  # fmt: skip
@example(
    subject="x" * 1200, text="", html="", from_name=None, to="a@b.cc", reply_to=None, path="", thread=None
)
@example(subject=" Zoë  Ünal ", text="a\n", html="=\r", from_name="Team «A»", to="a@b.cc", reply_to="r@b.cc",
         path="t", thread=("<m@x>", "<m@x>"))  # fmt: skip
def test_the_direct_writer_equals_the_email_package(
    subject, text, html, from_name, to, reply_to, path, thread
):
    content = RenderedContent(subject=subject, html=html, text=text)
    package, direct = both(
        content, from_email="outreach@example.com", from_name=from_name, to=to, reply_to=reply_to,
        unsubscribe_url=f"https://x.example/u/{path}", thread=thread,
    )  # fmt: skip
    assert direct == package


def test_the_written_message_parses_back_to_its_content():
    content = RenderedContent(
        subject="Grüße, Zoë", html="<p>Hallo = Welt</p>", text="Hallo = Welt\nZeile zwei"
    )
    _, direct = both(content, from_email="a@example.com", from_name=None, to="b@example.com", reply_to=None,
                     unsubscribe_url="https://x.example/u/t")  # fmt: skip
    parsed = email.message_from_bytes(direct, policy=email.policy.default)
    assert parsed["Subject"] == "Grüße, Zoë"
    text, html = (
        part.get_content().replace("\r\n", "\n") for part in parsed.iter_parts()
    )  # CRLF on the wire
    assert (text, html) == ("Hallo = Welt\nZeile zwei", "<p>Hallo = Welt</p>")
    assert all(part["Content-Transfer-Encoding"] == "quoted-printable" for part in parsed.iter_parts())


@pytest.mark.parametrize("name", ["subject", "from_name", "to"])
def test_the_direct_writer_refuses_a_break_in_a_header_as_the_builder_does(name):
    values = {"subject": "Hi", "from_name": "Team", "to": "b@example.com", name: "x\r\nBcc: e@example.com"}
    content = RenderedContent(subject=values.pop("subject"), html="", text="")
    with pytest.raises(ValueError, match="header would contain"):
        wire_bytes(
            content, from_email="a@example.com", reply_to=None, unsubscribe_url="https://x/u", **values
        )
