"""The compliance footer: every message carries the sender's postal address and a visible
unsubscribe link (CAN-SPAM; Gmail's and Yahoo's bulk-sender rules).

A body (the HTML, and the text when the campaign has its own) that lacks either gets a
standard footer with both, appended to that body. The check reads the template, not a
rendered message, so it is made once per campaign (the sender's plan, the gateway's
preview and answer) and every recipient's message is the same in this respect:
- the link: an `{{ unsubscribe_url }}` placeholder, in HTML as an `href` (a link one
  can see and click, not a URL in a comment or an attribute of something else);
- the address: each of its lines, whitespace and case aside, in the body's text (HTML
  tags and entities aside).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

from shared.rendering import CampaignTemplates, Placeholder, Template, html_to_text

_HREF_BEFORE = re.compile(r"href\s*=\s*[\"']?\s*$", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
# Each footer: literal text, the unsubscribe link's placeholder, literal text.
HTML_FOOTER = (
    '\n<div class="outreach-footer" style="margin-top:24px;font-size:12px;line-height:1.5;color:#555555">'
    '{address}<a href="',
    '" style="color:#555555">Unsubscribe</a></div>\n',
)
TEXT_FOOTER = ("\n\n--\n{address}Unsubscribe: ", "\n")
LINK = Placeholder("unsubscribe_url")


@dataclass(frozen=True)
class WithFooter:
    templates: CampaignTemplates
    appended: bool  # a body lacked the address or the link and got the footer


def address_lines(postal_address: str | None) -> list[str]:
    """The address as lines (a newline or " | " separates them in the setting)."""
    if not postal_address:
        return []
    return [" ".join(line.split()) for line in re.split(r"\n|\s\|\s", postal_address) if line.strip()]


def with_footer(templates: CampaignTemplates, postal_address: str | None) -> WithFooter:
    """The templates with the footer appended to each body that needs it. Without a postal
    address (development only: production requires SENDER_POSTAL_ADDRESS) the footer
    carries the link alone, and only a body without the link gets it."""
    lines = address_lines(postal_address)
    html_template = templates.html
    if not (_links_in_html(html_template) and _has_address(html_to_text(_literal(html_template)), lines)):
        html_template = _append_html(html_template, lines)
    text_template = templates.text
    if text_template is not None and not (
        _links(text_template) and _has_address(_literal(text_template), lines)
    ):
        before, after = TEXT_FOOTER
        address = "".join(f"{line}\n" for line in lines)
        text_template = _followed(text_template, (before.format(address=address), LINK, after))
    appended = html_template is not templates.html or text_template is not templates.text
    return WithFooter(replace(templates, html=html_template, text=text_template), appended)


def _literal(template: Template) -> str:
    return "".join(part for part in template.parts if isinstance(part, str))


def _links(template: Template) -> bool:
    return any(isinstance(part, Placeholder) and part.name == "unsubscribe_url" for part in template.parts)


def _links_in_html(template: Template) -> bool:
    parts = template.parts
    return any(
        isinstance(part, Placeholder) and part.name == "unsubscribe_url" and i > 0
        and isinstance(parts[i - 1], str) and _HREF_BEFORE.search(parts[i - 1]) is not None  # type: ignore[arg-type]
        for i, part in enumerate(parts)
    )  # fmt: skip


def _has_address(text: str, lines: list[str]) -> bool:
    flat = " ".join(text.split()).casefold()
    return all(line.casefold() in flat for line in lines)


def _append_html(template: Template, lines: list[str]) -> Template:
    before, after = HTML_FOOTER
    footer = (before.format(address="".join(f"{html.escape(line)}<br>" for line in lines)), LINK, after)
    *parts, last = template.parts
    assert isinstance(last, str)  # a template ends with literal text (parse_template)
    ends = list(_BODY_END.finditer(last))
    if not ends:
        return _followed(template, footer)
    at = ends[-1].start()  # inside the document's body, before it closes
    return _followed(Template((*parts, last[:at])), (*footer[:-1], footer[-1] + last[at:]))


def _followed(template: Template, tail: tuple[str | Placeholder, ...]) -> Template:
    """The template, then `tail` (literal, placeholder, literal), literal text kept alternating."""
    *parts, last = template.parts
    first, *rest = tail
    assert isinstance(last, str) and isinstance(first, str)
    return Template((*parts, last + first, *rest))
