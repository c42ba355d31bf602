"""The message renderer, shared by the gateway's preview and the sender: one implementation.

Templates know only `{{ name }}` and `{{ name | "fallback" }}` placeholders (spaces
optional): a known field, the unsubscribe URL, or a custom field (a prospect's
attribute). Nothing else in a template is interpreted, so a template cannot run
code. Personal fields, custom fields and fallbacks are HTML-escaped in HTML and left
as they are in text; the unsubscribe URL is never escaped. A missing or blank value
renders its fallback, or nothing.

The gateway parses with the names that exist (known fields and the attribute keys
registered by imports) and refuses others; the sender renders what was saved.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from shared.header_safety import blank_breaks

PERSONAL_FIELDS = ("first_name", "last_name", "email", "company", "title")
PLACEHOLDERS = (*PERSONAL_FIELDS, "unsubscribe_url")

_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*(?:\"([^\"\r\n]*)\"|'([^'\r\n]*)')\s*)?$")
MAX_FALLBACK_CHARS = 200


@dataclass(frozen=True)
class Placeholder:
    name: str
    fallback: str | None = None


class TemplateError(ValueError):
    """Placeholders a template may not use; `problems` has one entry per field and problem."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholder names, alternating."""

    parts: tuple[str | Placeholder, ...]  # even indexes literal text, odd indexes placeholders

    def render(self, values: Mapping[str, str], *, escape_personal: bool) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.name) or ""
            if not value.strip() and part.fallback is not None:
                value = part.fallback
            if escape_personal and part.name != "unsubscribe_url":
                value = html.escape(value, quote=True)
            out.append(value)
        return "".join(out)

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))


def parse_template(source: str, field_name: str, custom_fields: Collection[str] | None = ()) -> Template:
    """Parse `source`; raises TemplateError naming unknown or malformed placeholders.
    `custom_fields`: the attribute keys that may be used besides PLACEHOLDERS; None
    accepts any name (the sender renders what the gateway validated)."""
    problems: list[dict[str, str]] = []
    parts: list[str | Placeholder] = []
    position = 0
    for match in _BRACES.finditer(source):
        parts.append(source[position : match.start()])
        found = _NAME.match(match.group(1))
        fallback = (
            found.group(2) if found and found.group(2) is not None else (found.group(3) if found else None)
        )
        if found is None:
            problems.append({"field": field_name, "message": f"malformed placeholder {match.group(0)!r}"})
        elif (
            custom_fields is not None
            and found.group(1) not in PLACEHOLDERS
            and found.group(1) not in custom_fields
        ):
            known = [*PLACEHOLDERS, *sorted(custom_fields)[:20]]
            problems.append(
                {
                    "field": field_name,
                    "message": f"unknown placeholder {{{{ {found.group(1)} }}}}; known: {', '.join(known)}",
                }
            )
        elif fallback is not None and len(fallback) > MAX_FALLBACK_CHARS:
            problems.append(
                {"field": field_name, "message": f"a fallback is at most {MAX_FALLBACK_CHARS} characters"}
            )
        parts.append(Placeholder(found.group(1), fallback) if found else Placeholder(""))
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


def parse_campaign(
    subject: str, body_html: str, body_text: str | None, custom_fields: Collection[str] | None = ()
) -> CampaignTemplates:
    """Parse a campaign's three templates, reporting the problems of all of them at once."""
    problems: list[dict[str, str]] = []
    parsed: dict[str, Template | None] = {}
    for name, source in (("subject", subject), ("body_html", body_html), ("body_text", body_text)):
        if source is None or (name == "body_text" and not source.strip()):
            parsed[name] = None
            continue
        try:
            parsed[name] = parse_template(source, name, custom_fields)
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
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, prospect: Mapping[str, Any]) -> Recipient:
        """The recipient fields of a prospect row (with its attributes when it has them)."""
        attributes = prospect["attributes"] if "attributes" in prospect.keys() else None  # noqa: SIM118 - a Record
        return cls(**{name: prospect[name] for name in PERSONAL_FIELDS}, attributes=attributes or {})


def _text(value: Any) -> str:
    """An attribute as a template shows it: imported ones are text already."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class RenderedContent:
    subject: str
    html: str
    text: str
    values: Mapping[str, str] = field(repr=False, default_factory=dict)


def render(templates: CampaignTemplates, recipient: Recipient, unsubscribe_url: str) -> RenderedContent:
    # Custom fields first: a known field of the same name wins.
    values = {str(key): _text(value) for key, value in recipient.attributes.items()}
    values.update({name: getattr(recipient, name) or "" for name in PERSONAL_FIELDS})
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
