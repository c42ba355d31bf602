"""The message renderer, shared by the gateway's preview and the sender: one implementation.

Templates know only `{{ name }}` placeholders (spaces optional) from a fixed
list; nothing else in a template is interpreted, so a template cannot run
code. Personal fields are HTML-escaped in HTML and left as they are in text;
the unsubscribe URL is never escaped. Missing values render empty.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from shared.header_safety import blank_breaks

PERSONAL_FIELDS = ("first_name", "last_name", "email", "company", "title")
PLACEHOLDERS = (*PERSONAL_FIELDS, "unsubscribe_url")

_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


class TemplateError(ValueError):
    """Placeholders a template may not use; `problems` has one entry per field and problem."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholder names, alternating."""

    parts: tuple[str, ...]  # even indexes literal, odd indexes placeholder names

    def render(self, values: Mapping[str, str], *, escape_personal: bool) -> str:
        out: list[str] = []
        for index, part in enumerate(self.parts):
            if index % 2 == 0:
                out.append(part)
                continue
            value = values.get(part) or ""
            if escape_personal and part != "unsubscribe_url":
                value = html.escape(value, quote=True)
            out.append(value)
        return "".join(out)

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(self.parts[1::2])


def parse_template(source: str, field_name: str) -> Template:
    """Parse `source`; raises TemplateError naming unknown or malformed placeholders."""
    problems: list[dict[str, str]] = []
    parts: list[str] = []
    position = 0
    for match in _BRACES.finditer(source):
        parts.append(source[position : match.start()])
        name = _NAME.match(match.group(1))
        if name is None:
            problems.append({"field": field_name, "message": f"malformed placeholder {match.group(0)!r}"})
        elif name.group(1) not in PLACEHOLDERS:
            problems.append(
                {
                    "field": field_name,
                    "message": f"unknown placeholder {{{{ {name.group(1)} }}}}; "
                    f"known: {', '.join(PLACEHOLDERS)}",
                }
            )
        parts.append(name.group(1) if name else "")
        position = match.end()
    rest = source[position:]
    if "{{" in rest:
        problems.append({"field": field_name, "message": "a '{{' is never closed with '}}'"})
    parts.append(rest)
    if problems:
        raise TemplateError(problems)
    return Template(tuple(parts))


@dataclass(frozen=True)
class CampaignTemplates:
    subject: Template
    html: Template
    text: Template | None  # None: derive the text part from the rendered HTML


def parse_campaign(subject: str, body_html: str, body_text: str | None) -> CampaignTemplates:
    """Parse a campaign's three templates, reporting the problems of all of them at once."""
    problems: list[dict[str, str]] = []
    parsed: dict[str, Template | None] = {}
    for name, source in (("subject", subject), ("body_html", body_html), ("body_text", body_text)):
        if source is None or (name == "body_text" and not source.strip()):
            parsed[name] = None
            continue
        try:
            parsed[name] = parse_template(source, name)
        except TemplateError as exc:
            problems.extend(exc.problems)
    if problems:
        raise TemplateError(problems)
    subject_t, html_t = parsed["subject"], parsed["body_html"]
    assert subject_t is not None and html_t is not None
    return CampaignTemplates(subject=subject_t, html=html_t, text=parsed["body_text"])


@dataclass(frozen=True)
class Recipient:
    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None

    @classmethod
    def of(cls, prospect: Mapping[str, Any]) -> Recipient:
        """The recipient fields of a prospect row."""
        return cls(**{name: prospect[name] for name in PERSONAL_FIELDS})


@dataclass(frozen=True)
class RenderedContent:
    subject: str
    html: str
    text: str
    values: Mapping[str, str] = field(repr=False, default_factory=dict)


def render(templates: CampaignTemplates, recipient: Recipient, unsubscribe_url: str) -> RenderedContent:
    values = {name: getattr(recipient, name) or "" for name in PERSONAL_FIELDS}
    values["unsubscribe_url"] = unsubscribe_url
    # A subject is a header: a line break in a personal field must not start a new one.
    header_values = {name: blank_breaks(value) for name, value in values.items()}
    subject = templates.subject.render(header_values, escape_personal=False).strip()
    body_html = templates.html.render(values, escape_personal=True)
    if templates.text is not None:
        body_text = templates.text.render(values, escape_personal=False)
    else:
        body_text = html_to_text(body_html)
    return RenderedContent(subject=subject, html=body_html, text=body_text, values=values)


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skipping = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.out.append("\n")
        if tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.out.append("\n")
        if tag == "a" and self._links:
            href = self._links.pop()
            if href and href.startswith(("http://", "https://", "mailto:")):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.out.append(data)


def html_to_text(source: str) -> str:
    """A readable plain-text part from HTML (for a campaign without its own text body)."""
    extractor = _TextExtractor()
    extractor.feed(source)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.out).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
