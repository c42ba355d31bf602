"""Which characters never reach a header (shared.header_safety), and the builder refusing them."""

from __future__ import annotations

import email
import email.policy

import pytest

from shared.header_safety import HEADER_BREAKS, blank_breaks, breaks_header
from shared.mime import build_message
from shared.rendering import RenderedContent

pytestmark = pytest.mark.unit

CONTENT = RenderedContent(subject="Hello", html="<p>x</p>", text="x")


def test_every_break_the_email_package_knows_is_listed():
    """str.splitlines (which the email package uses) breaks on each of these."""
    splitting = {chr(c) for c in range(0x110000) if len(f"a{chr(c)}b".splitlines()) > 1}
    assert splitting <= HEADER_BREAKS
    assert {"\t", "\x00", "\x7f"} <= HEADER_BREAKS


@pytest.mark.parametrize("char", sorted(HEADER_BREAKS), ids=lambda c: f"U+{ord(c):04X}")
def test_the_builder_refuses_a_break_in_any_header_value(char):
    assert breaks_header(f"a{char}b")
    with pytest.raises(ValueError, match="Subject header"):
        build_message(RenderedContent(subject=f"Hi{char}Bcc: x@example.com", html="", text=""),
                      from_email="a@example.com", from_name=None, to="b@example.com", reply_to=None,
                      unsubscribe_url="https://x.example/u")  # fmt: skip


def test_runs_of_breaks_become_one_space_and_plain_text_is_untouched():
    assert blank_breaks("Ann\r\n\u2028Lee\tX") == "Ann Lee X"
    assert blank_breaks("Zoë Ünal, CTO") == "Zoë Ünal, CTO"
    assert not breaks_header("Zoë Ünal, CTO")


def test_a_built_message_has_exactly_the_headers_it_was_given():
    message = build_message(CONTENT, from_email="a@example.com", from_name="Team «A»", to="b@example.com",
                            reply_to=None, unsubscribe_url="https://x.example/u")  # fmt: skip
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert [k for k in parsed if k not in ("Content-Type", "MIME-Version")] == [
        "From",
        "To",
        "Subject",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ]
