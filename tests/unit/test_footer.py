"""The compliance footer (shared.footer) and the message's content encoding (shared.mime)."""

from __future__ import annotations

import email
import email.policy

import pytest
from pydantic import ValidationError

from sender.settings import SenderSettings
from shared.compose import compose
from shared.footer import address_lines, with_footer
from shared.rendering import Recipient, parse_campaign, render

pytestmark = pytest.mark.unit

ADDRESS = "Example Ltd | 1 Main Street | Springfield, ST 12345"
LINK = "https://links.example.com/api/unsubscribe?token=abc"
ADA = Recipient(email="ada@example.org", first_name="Ada")
CAMPAIGN = {"from_email": "dana@example.com", "from_name": "Dana", "reply_to": None}


def rendered(html: str, text: str | None = None, address: str | None = ADDRESS):
    footed = with_footer(parse_campaign("Hello", html, text), address)
    return footed.appended, render(footed.templates, ADA, LINK)


def test_a_body_without_address_and_link_gets_both_inside_its_document():
    appended, content = rendered("<html><body><p>Hi {{ first_name }}</p></body></html>")
    assert appended
    assert content.html.endswith("</body></html>")
    footer = content.html.split("<p>Hi Ada</p>", 1)[1]
    assert "Example Ltd<br>1 Main Street<br>Springfield, ST 12345<br>" in footer
    assert f'<a href="{LINK}"' in footer
    # The text part, derived from the HTML, carries both too.
    assert "Example Ltd\n1 Main Street\nSpringfield, ST 12345\nUnsubscribe (" + LINK + ")" in content.text


def test_a_body_with_both_is_left_as_written():
    html = (
        '<p>Hi</p><p>example ltd<br>1 Main   Street<br>\n Springfield, ST 12345</p>'
        '<a href="{{ unsubscribe_url }}">Opt out</a>'
    )  # fmt: skip
    text = "Hi\nExample Ltd, 1 Main Street, Springfield, ST 12345\nOpt out: {{ unsubscribe_url }}"
    templates = parse_campaign("Hello", html, text)
    footed = with_footer(templates, ADDRESS)
    assert not footed.appended
    assert footed.templates == templates


@pytest.mark.parametrize(
    "html",
    [
        "<p>Example Ltd, 1 Main Street, Springfield, ST 12345</p><!-- {{ unsubscribe_url }} -->",  # not a link
        '<p>Example Ltd, 1 Main Street, Springfield, ST 12345</p><img src="{{ unsubscribe_url }}">',  # not visible
        '<p>1 Main Street, Springfield, ST 12345</p><a href="{{ unsubscribe_url }}">Out</a>',  # a line missing
    ],
)
def test_a_link_that_is_no_visible_link_or_a_partial_address_gets_the_footer(html):
    appended, content = rendered(html)
    assert appended
    footer = content.html.split('<div class="outreach-footer"', 1)[1]
    assert "Example Ltd<br>1 Main Street<br>" in footer and f'<a href="{LINK}"' in footer


def test_a_text_body_of_its_own_gets_its_own_footer():
    html = '<p>Example Ltd, 1 Main Street, Springfield, ST 12345</p><a href="{{ unsubscribe_url }}">Out</a>'
    appended, content = rendered(html, "Hi {{ first_name }}, a short note.")
    assert appended
    assert "outreach-footer" not in content.html  # the HTML had both
    assert content.text == (
        "Hi Ada, a short note.\n\n--\nExample Ltd\n1 Main Street\nSpringfield, ST 12345\nUnsubscribe: "
        + LINK
        + "\n"
    )


def test_without_an_address_only_a_missing_link_brings_the_footer():
    appended, content = rendered('<p>Hi</p><a href="{{ unsubscribe_url }}">Out</a>', address=None)
    assert not appended
    appended, content = rendered("<p>Hi</p>", address=None)
    assert appended and f'<br><a href="{LINK}"' not in content.html and f'<a href="{LINK}"' in content.html


def test_braces_in_the_address_stay_text_and_markup_is_escaped():
    appended, content = rendered("<p>Hi</p>", address="Acme <Labs> & Co | {{ email }} Road")
    assert appended
    assert "Acme &lt;Labs&gt; &amp; Co<br>{{ email }} Road<br>" in content.html
    assert ADA.email not in content.html


def test_address_lines_split_on_newlines_and_bars():
    assert address_lines("A Ltd\n 1  Road | Town") == ["A Ltd", "1 Road", "Town"]
    assert address_lines(None) == [] and address_lines("   ") == []


def test_every_part_is_quoted_printable_and_the_boundary_cannot_occur_in_a_body():
    body = "<p>--=_outreach.0 héllo " + "x" * 300 + "</p>"
    footed = with_footer(parse_campaign("Hello", body, None), ADDRESS).templates
    raw = compose(CAMPAIGN, footed, ADA, LINK).raw()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert {p["Content-Transfer-Encoding"] for p in parts} == {"quoted-printable"}
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    html = parts[1].get_content()
    assert "--=_outreach.0 héllo" in html and LINK in html  # decoded back exactly, footer included


def test_production_requires_the_postal_address():
    production = {
        "outreach_env": "production", "ses_from_email": "dana@example.com", "public_base_url": "https://x.example.com",
        "database_url": "postgresql://outreach_sender:a-real-password-0123456789abcdef@db/outreach",
    }  # fmt: skip
    with pytest.raises(ValidationError, match="SENDER_POSTAL_ADDRESS is not set"):
        SenderSettings(**production)
    assert SenderSettings(**production, sender_postal_address=ADDRESS).sender_postal_address == ADDRESS
