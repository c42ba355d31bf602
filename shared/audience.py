"""Audience rules: a JSON rule (a segment's, a campaign's, a list filter's) validated and
compiled to one parameterised SQL predicate over `prospects`.

The SQL text comes only from the constants below; every value of the rule is a bind
parameter. A bad rule raises RuleError naming the path of its bad part
(`rule.all[1].op`), which the API answers as a 400.

    {"all": [rule, ...]}  {"any": [rule, ...]}  {"not": rule}
    {"field": F, "op": O, "value": V}
    {"engagement": "sent"|"opened"|"clicked"|"replied"|"bounced", "campaign_id": ID}
    {"engagement": ..., "within_days": N}

Engagement reads the projector's `send_status` (a second or two behind SES).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.lifecycle.domains import DOMAIN_OF

STATUSES = ("active", "unsubscribed", "bounced", "complained")
# GDPR Article 6(1) (migration 0025's check).
LAWFUL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
)
# What shared.address_checks and the MX check flag (migration 0026's check).
ADDRESS_FLAGS = ("role", "disposable", "no_mx")
# What a prospect's source records (shared.lifecycle.prospect, migration 0025).
SOURCE_KEYS = ("via", "file", "note", "by")
MAX_TAGS = 50
MAX_TAG_CHARS = 64
MAX_DEPTH = 10
MAX_CONDITIONS = 100
MAX_LIST = 100
MAX_TEXT = 500
MAX_ATTRIBUTE_KEY_CHARS = 100
MAX_WITHIN_DAYS = 3650
# Inside a tags cell of a CSV, either separates tags; neither may be part of one.
TAG_SEPARATORS = re.compile(r"[;,]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")

ENGAGEMENT_FACTS: Mapping[str, str] = {
    "sent": "sent_at", "opened": "opened_at", "clicked": "clicked_at", "replied": "replied_at",
    "bounced": "bounced_at",
}  # fmt: skip
TEXT_FIELDS: Mapping[str, str] = {"company": "company", "title": "title"}
TIME_FIELDS: Mapping[str, str] = {"created_at": "created_at", "updated_at": "updated_at"}
COMBINATORS = ("all", "any", "not")


class RuleError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def normalize_tag(value: Any) -> str:
    """A tag as stored: trimmed, inner whitespace collapsed, lower-case (tags compare
    without case). Raises ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError("a tag is a string")
    tag = " ".join(value.split()).lower()
    if not tag:
        raise ValueError("a tag cannot be empty")
    if len(tag) > MAX_TAG_CHARS:
        raise ValueError(f"a tag is at most {MAX_TAG_CHARS} characters")
    if TAG_SEPARATORS.search(tag) or _CONTROL.search(tag):
        raise ValueError("a tag cannot hold ';', ',' or control characters")
    return tag


def normalize_tags(values: Any) -> list[str]:
    """Distinct tags in the order given, at most MAX_TAGS."""
    if not isinstance(values, list):
        raise ValueError("tags are a list of strings")
    tags = list(dict.fromkeys(normalize_tag(v) for v in values))
    if len(tags) > MAX_TAGS:
        raise ValueError(f"a prospect carries at most {MAX_TAGS} tags ({len(tags)} given)")
    return tags


@dataclass(frozen=True)
class Predicate:
    """SQL over the table alias given to compile_rule, with $n placeholders from `first`."""

    sql: str
    args: tuple[Any, ...]


def compile_rule(rule: Any, *, first: int = 1, table: str = "prospects", path: str = "rule") -> Predicate:
    """The rule as a boolean SQL expression. `table` is the caller's alias for prospects
    (code, never user input)."""
    if not table.isidentifier():
        raise ValueError(f"not an SQL alias: {table!r}")
    compiler = _Compiler(first, table)
    sql = compiler.rule(rule, path, depth=1)
    return Predicate(sql, tuple(compiler.args))


@dataclass(frozen=True)
class CountedShape:
    """A rule that prospect_counts answers: a tag ('' for any), and the statuses (None: any)."""

    tag: str
    statuses: tuple[str, ...] | None


def counted_shape(rule: Any) -> CountedShape | None:
    """For a rule that compiles: its CountedShape when it is one tag, a status condition, or
    all of one tag and one status condition (the rules a list and a segment count most),
    or `{"all": []}` (everyone); None for any other."""
    parts = rule["all"] if isinstance(rule, dict) and list(rule) == ["all"] else [rule]
    if not parts:
        return CountedShape("", None)  # no condition: everyone
    tags = [p for p in parts if isinstance(p, dict) and p.get("field") == "tags" and p.get("op") == "has"]
    statuses = [p for p in parts if isinstance(p, dict) and p.get("field") == "status"]
    if (
        len(parts) not in (1, 2)
        or len(tags) > 1
        or len(statuses) > 1
        or len(tags) + len(statuses) != len(parts)
    ):
        return None
    tag = normalize_tag(tags[0]["value"]) if tags else ""
    if not statuses:
        return CountedShape(tag, None)
    value = statuses[0]["value"]
    return CountedShape(tag, (value,) if statuses[0]["op"] == "eq" else tuple(value))


def validate_rule(rule: Any, path: str = "rule") -> Any:
    """The rule unchanged if it compiles (for pydantic validators)."""
    compile_rule(rule, path=path)
    return rule


class _Compiler:
    def __init__(self, first: int, table: str) -> None:
        self.args: list[Any] = []
        self.first = first
        self.t = table
        self.conditions = 0

    def bind(self, value: Any, cast: str = "") -> str:
        self.args.append(value)
        return f"${self.first + len(self.args) - 1}{cast}"

    def rule(self, rule: Any, path: str, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise RuleError(path, f"rules nest at most {MAX_DEPTH} deep")
        if not isinstance(rule, dict):
            raise RuleError(
                path, "a rule is an object: a combinator (all, any, not), a condition or an engagement"
            )
        combinator = [key for key in COMBINATORS if key in rule]
        if combinator:
            return self.combinator(rule, combinator, path, depth)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise RuleError(path, f"a rule holds at most {MAX_CONDITIONS} conditions")
        if "engagement" in rule:
            return self.engagement(rule, path)
        if "field" in rule:
            return self.condition(rule, path)
        raise RuleError(
            path, 'expected one of "all", "any", "not", "field" or "engagement"; got ' + _keys(rule)
        )

    def combinator(self, rule: dict[str, Any], found: list[str], path: str, depth: int) -> str:
        if len(rule) != 1:
            raise RuleError(path, f'a combinator is an object with one key ("{found[0]}"); got {_keys(rule)}')
        key = found[0]
        inner = rule[key]
        if key == "not":
            return f"(NOT {self.rule(inner, f'{path}.not', depth + 1)})"
        if not isinstance(inner, list) or not inner:
            raise RuleError(f"{path}.{key}", f'"{key}" takes a non-empty list of rules')
        if len(inner) > MAX_CONDITIONS:
            raise RuleError(f"{path}.{key}", f"at most {MAX_CONDITIONS} rules")
        joiner = " AND " if key == "all" else " OR "
        parts = [self.rule(r, f"{path}.{key}[{i}]", depth + 1) for i, r in enumerate(inner)]
        return "(" + joiner.join(parts) + ")"

    def engagement(self, rule: dict[str, Any], path: str) -> str:
        _only(rule, path, {"engagement", "campaign_id", "within_days"})
        kind = rule["engagement"]
        if not isinstance(kind, str) or kind not in ENGAGEMENT_FACTS:
            raise RuleError(f"{path}.engagement", f"one of {', '.join(ENGAGEMENT_FACTS)}; got {_show(kind)}")
        fact = ENGAGEMENT_FACTS[kind]
        if "campaign_id" not in rule and "within_days" not in rule:
            raise RuleError(path, 'an engagement needs "campaign_id" or "within_days"')
        where = [f"s.prospect_id = {self.t}.id", f"s.{fact} IS NOT NULL"]
        if "campaign_id" in rule:
            where.append(f"s.campaign_id = {self.bind(_uuid(rule['campaign_id'], f'{path}.campaign_id'))}")
        if "within_days" in rule:
            days = rule["within_days"]
            if not _is_int(days) or not 1 <= days <= MAX_WITHIN_DAYS:
                raise RuleError(f"{path}.within_days", f"a whole number of days, 1 to {MAX_WITHIN_DAYS}")
            where.append(f"s.{fact} >= now() - make_interval(days => {self.bind(days, '::int')})")
        return f"EXISTS (SELECT 1 FROM send_status s WHERE {' AND '.join(where)})"

    def condition(self, rule: dict[str, Any], path: str) -> str:
        _only(rule, path, {"field", "op", "value"})
        field = rule["field"]
        if not isinstance(field, str):
            raise RuleError(f"{path}.field", "a field name (string)")
        ops, build = self.field(field, path)
        op = rule.get("op")
        if op not in ops:
            raise RuleError(f"{path}.op", f"{field} takes {' or '.join(ops)}; got {_show(op)}")
        if "value" not in rule and op != "exists":
            raise RuleError(f"{path}.value", "missing")
        return build(op, rule.get("value"), f"{path}.value")

    def field(self, field: str, path: str) -> tuple[tuple[str, ...], Callable[[str, Any, str], str]]:
        """The operators a field takes and what builds its SQL."""
        if field == "tags":
            return ("has",), self.tags
        if field == "status":
            return ("eq", "in"), self.status
        if field == "email_domain":
            return ("eq", "in"), self.email_domain
        if field == "address_flags":
            return ("has",), self.address_flag
        if field == "lawful_basis":
            return ("eq", "in", "exists"), self.lawful_basis
        if field.startswith("source."):
            key = field.removeprefix("source.")
            if key not in SOURCE_KEYS:
                raise RuleError(
                    f"{path}.field", f"source.{' or source.'.join(SOURCE_KEYS)}; got {_show(field)}"
                )
            column = f"({self.t}.source ->> '{key}')"  # key: one of SOURCE_KEYS, never user text
            return ("eq", "contains"), lambda op, value, where: self.text(column, op, value, where)
        if field in TIME_FIELDS:
            column = f"{self.t}.{TIME_FIELDS[field]}"
            return ("before", "after"), lambda op, value, where: self.time(column, op, value, where)
        if field in TEXT_FIELDS:
            column = f"{self.t}.{TEXT_FIELDS[field]}"
            return ("eq", "contains"), lambda op, value, where: self.text(column, op, value, where)
        if field.startswith("attributes."):
            key = field.removeprefix("attributes.")
            if not key or len(key) > MAX_ATTRIBUTE_KEY_CHARS or _CONTROL.search(key):
                raise RuleError(
                    f"{path}.field", f"an attribute key of 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters"
                )
            return ("eq", "contains", "exists"), lambda op, value, where: self.attribute(
                key, op, value, where
            )
        raise RuleError(
            f"{path}.field",
            "one of tags, status, email_domain, address_flags, lawful_basis, source.<via|file|note|by>, "
            "created_at, updated_at, company, title, attributes.<key>; "
            f"got {_show(field)}",
        )

    def tags(self, op: str, value: Any, where: str) -> str:
        try:
            tag = normalize_tag(value)
        except ValueError as exc:
            raise RuleError(where, str(exc)) from None
        return f"{self.t}.tags @> ARRAY[{self.bind(tag, '::text')}]"

    def status(self, op: str, value: Any, where: str) -> str:
        return self.choice(f"{self.t}.status", STATUSES, op, value, where)

    def choice(
        self,
        column: str,
        allowed: tuple[str, ...],
        op: str,
        value: Any,
        where: str,
        *,
        nullable: bool = False,
    ) -> str:
        """`eq` or `in` over a column of named values. In a `nullable` one a NULL matches
        neither (so that under "not" it does)."""

        def one(v: Any, at: str) -> str:
            if v not in allowed:
                raise RuleError(at, f"one of {', '.join(allowed)}; got {_show(v)}")
            return str(v)

        if op == "eq":
            test = f"{column} = {self.bind(one(value, where), '::text')}"
        else:
            test = f"{column} = ANY({self.bind(_list(value, where, one), '::text[]')})"
        return f"coalesce({test}, false)" if nullable else test

    def address_flag(self, op: str, value: Any, where: str) -> str:
        if value not in ADDRESS_FLAGS:
            raise RuleError(where, f"one of {', '.join(ADDRESS_FLAGS)}; got {_show(value)}")
        return f"{self.t}.address_flags @> ARRAY[{self.bind(value, '::text')}]"

    def lawful_basis(self, op: str, value: Any, where: str) -> str:
        if op == "exists":
            if value is not None and not isinstance(value, bool):
                raise RuleError(where, "true or false (or left out: true)")
            return f"({self.t}.lawful_basis IS {'NULL' if value is False else 'NOT NULL'})"
        return self.choice(f"{self.t}.lawful_basis", LAWFUL_BASES, op, value, where, nullable=True)

    def email_domain(self, op: str, value: Any, where: str) -> str:
        def one(v: Any, at: str) -> str:
            if not isinstance(v, str) or not v.strip() or "@" in v or len(v) > 255 or _CONTROL.search(v):
                raise RuleError(at, f"a domain such as example.com; got {_show(v)}")
            return v.strip().lower().rstrip(".")

        # Addresses are stored with the domain lower-cased, after the last @.
        domain = DOMAIN_OF.format(email=f"{self.t}.email")
        if op == "eq":
            return f"{domain} = {self.bind(one(value, where), '::text')}"
        return f"{domain} = ANY({self.bind(_list(value, where, one), '::text[]')})"

    def time(self, column: str, op: str, value: Any, where: str) -> str:
        sign = "<" if op == "before" else ">"
        return f"{column} {sign} {self.bind(_instant(value, where), '::timestamptz')}"

    def text(self, column: str, op: str, value: Any, where: str) -> str:
        text = _text(value, where)
        # Both compare without case; strpos needs no LIKE escaping of the user's % and _.
        # A missing value is false, not NULL: under "not", a prospect without a company
        # is one whose company does not contain the text.
        if op == "eq":
            return f"coalesce(lower({column}) = lower({self.bind(text, '::text')}), false)"
        return f"coalesce(strpos(lower({column}), lower({self.bind(text, '::text')})) > 0, false)"

    def attribute(self, key: str, op: str, value: Any, where: str) -> str:
        if op == "exists":
            if value is not None and not isinstance(value, bool):
                raise RuleError(where, "true or false (or left out: true)")
            test = f"{self.t}.attributes ? {self.bind(key, '::text')}"
            return f"(NOT {test})" if value is False else test
        if op == "eq" and isinstance(value, bool):
            value = "true" if value else "false"
        elif op == "eq" and isinstance(value, int | float):
            value = str(value)  # imported attributes are text: 5 finds "5"
        text = _text(value, where)
        column = f"({self.t}.attributes ->> {self.bind(key, '::text')})"
        return self.text(column, op, text, where)


def _keys(rule: dict[str, Any]) -> str:
    return ", ".join(f'"{k}"' for k in list(rule)[:5]) or "an empty object"


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _only(rule: dict[str, Any], path: str, allowed: set[str]) -> None:
    extra = [k for k in rule if k not in allowed]
    if extra:
        raise RuleError(f"{path}.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _uuid(value: Any, where: str) -> uuid.UUID:
    try:
        if isinstance(value, str):
            return uuid.UUID(value)
    except ValueError:
        pass
    raise RuleError(where, f"a campaign id (UUID); got {_show(value)}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(where, f"a non-empty string; got {_show(value)}")
    if len(value) > MAX_TEXT:
        raise RuleError(where, f"at most {MAX_TEXT} characters")
    return value.strip()


def _list(value: Any, where: str, each: Callable[[Any, str], str]) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RuleError(where, "a non-empty list")
    if len(value) > MAX_LIST:
        raise RuleError(where, f"at most {MAX_LIST} values")
    return [each(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _instant(value: Any, where: str) -> datetime:
    """ISO 8601, a date or a date and time; without an offset it is UTC."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    raise RuleError(
        where, f'an ISO 8601 date or time such as "2026-01-31" or "2026-01-31T09:00:00Z"; got {_show(value)}'
    )


def _condition_schema(fields: dict[str, Any], ops: list[str], value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["field", "op", "value"],
        "properties": {"field": fields, "op": {"enum": ops}, "value": value},
    }


_REF = "#/components/schemas/AudienceRule"
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
_INSTANT = {"type": "string", "description": "ISO 8601 date or date-time; UTC without an offset"}
# The OpenAPI description of a rule (components.schemas.AudienceRule), beside the code
# that reads it; tests/unit/test_audience.py checks both agree on examples.
RULE_JSON_SCHEMA: dict[str, Any] = {
    "description": "An audience rule: combinators, conditions on prospect fields, engagement. "
    "Text comparisons ignore case; a missing value matches no eq or contains.",
    "oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["all"],
         "properties": {"all": {"type": "array", "minItems": 1, "maxItems": MAX_CONDITIONS, "items": {"$ref": _REF}}}},
        {"type": "object", "additionalProperties": False, "required": ["any"],
         "properties": {"any": {"type": "array", "minItems": 1, "maxItems": MAX_CONDITIONS, "items": {"$ref": _REF}}}},
        {"type": "object", "additionalProperties": False, "required": ["not"], "properties": {"not": {"$ref": _REF}}},
        _condition_schema({"const": "tags"}, ["has"], {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS}),
        _condition_schema({"const": "status"}, ["eq", "in"], {
            "oneOf": [{"enum": list(STATUSES)},
                      {"type": "array", "minItems": 1, "items": {"enum": list(STATUSES)}}]}),
        _condition_schema({"const": "email_domain"}, ["eq", "in"], {
            "oneOf": [{"type": "string", "minLength": 1, "maxLength": 255},
                      {"type": "array", "minItems": 1, "maxItems": MAX_LIST,
                       "items": {"type": "string", "minLength": 1, "maxLength": 255}}]}),
        _condition_schema({"enum": list(TIME_FIELDS)}, ["before", "after"], _INSTANT),
        _condition_schema({"enum": list(TEXT_FIELDS)}, ["eq", "contains"], _TEXT),
        {"type": "object", "additionalProperties": False, "required": ["field", "op"],
         "properties": {"field": {"type": "string", "pattern": "^attributes\\..+"},
                        "op": {"enum": ["eq", "contains", "exists"]},
                        "value": {"oneOf": [_TEXT, {"type": "number"}, {"type": "boolean"}]}}},
        {"type": "object", "additionalProperties": False, "required": ["engagement"],
         "properties": {"engagement": {"enum": list(ENGAGEMENT_FACTS)},
                        "campaign_id": {"type": "string", "format": "uuid"},
                        "within_days": {"type": "integer", "minimum": 1, "maximum": MAX_WITHIN_DAYS}},
         "anyOf": [{"required": ["campaign_id"]}, {"required": ["within_days"]}]},
    ],
}  # fmt: skip
