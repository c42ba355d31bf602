"""The renderer with hostile personal fields: placeholders in values stay text, HTML stays escaped."""

from __future__ import annotations

import pytest

from shared.rendering import Recipient, TemplateError, parse_campaign, render

pytestmark = pytest.mark.unit

URL = "https://links.example.com/api/unsubscribe?token=t0k3n"


def test_a_placeholder_inside_a_personal_field_is_never_expanded():
    templates = parse_campaign("Hi {{ first_name }}", "<p>Hi {{ first_name }}</p>", "Hi {{ first_name }}")
    out = render(
        templates, Recipient(email="e@example.com", first_name="{{ unsubscribe_url }}{{email}}"), URL
    )
    assert out.subject == "Hi {{ unsubscribe_url }}{{email}}"
    assert out.html == "<p>Hi {{ unsubscribe_url }}{{email}}</p>"
    assert out.text == "Hi {{ unsubscribe_url }}{{email}}"
    assert URL not in out.html + out.text + out.subject


def test_html_in_a_personal_field_is_escaped_in_html_only_and_a_line_break_never_reaches_the_subject():
    templates = parse_campaign(
        "Hi {{ last_name }}",
        '<a href="{{ unsubscribe_url }}" title="{{ last_name }}">x</a>',
        "{{ last_name }}",
    )
    hostile = '"><script>alert(1)</script>\r\nBcc: victim@example.com'
    out = render(templates, Recipient(email="e@example.com", last_name=hostile), URL)
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html and "&quot;&gt;" in out.html
    assert f'href="{URL}"' in out.html  # the link itself is not escaped
    assert out.text == hostile  # plain text is not HTML: no entities
    assert "\r" not in out.subject and "\n" not in out.subject


def test_a_fallback_renders_when_the_value_is_missing_or_blank_and_is_escaped_like_a_field():
    templates = parse_campaign(
        'Hi {{ first_name | "there" }}',
        "<p>{{first_name|'<friend>'}} at {{ company | \"your team\" }}</p>",
        None,
    )
    missing = render(templates, Recipient(email="e@example.com", first_name="   "), URL)
    assert missing.subject == "Hi there"
    assert "&lt;friend&gt; at your team" in missing.html
    present = render(templates, Recipient(email="e@example.com", first_name="Ada", company="Acme"), URL)
    assert present.subject == "Hi Ada" and "Ada at Acme" in present.html


def test_custom_fields_render_from_attributes_and_only_registered_ones_validate():
    source = '<p>{{ industry }} / {{ seats | "some" }} / {{ first_name }}</p>'
    with pytest.raises(TemplateError, match="unknown placeholder \\{\\{ industry \\}\\}"):
        parse_campaign("s", source, None)
    templates = parse_campaign("s", source, None, custom_fields={"industry", "seats", "first_name"})
    recipient = Recipient(email="e@example.com", first_name="Ada",
                          attributes={"industry": "<Fintech>", "first_name": "not me"})  # fmt: skip
    out = render(templates, recipient, URL)
    assert "&lt;Fintech&gt; / some / Ada" in out.html  # a known field wins over an attribute
    # The sender renders whatever the gateway accepted.
    assert parse_campaign("s", source, None, custom_fields=None).html.placeholders[0].name == "industry"


@pytest.mark.parametrize("source", ["{{ first_name | there }}", '{{ first_name | "a" "b" }}', "{{ a-b }}"])
def test_malformed_fallbacks_are_refused(source):
    with pytest.raises(TemplateError, match="malformed"):
        parse_campaign("s", source, None)
