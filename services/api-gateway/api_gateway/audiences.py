"""Audience use cases: saved segments, counts and samples of a rule, tags. A rule from
the API is compiled here (shared.audience); a bad one is a 400 naming its bad part."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from api_gateway.adapters import prospects as prospect_store
from api_gateway.adapters import segments as store
from api_gateway.schemas import (
    AudienceSample,
    FieldList,
    Prospect,
    Segment,
    SegmentCreate,
    SegmentList,
    SegmentUpdate,
    TagCount,
    TagList,
)
from shared.audience import Predicate, RuleError, compile_rule, counted_shape
from shared.errors import Conflict, Invalid, NotFound
from shared.ids import uuid7
from shared.rendering import PLACEHOLDERS


def predicate(rule: Any, *, first: int = 1, path: str = "rule", table: str = "prospects") -> Predicate:
    try:
        return compile_rule(rule, first=first, path=path, table=table)
    except RuleError as exc:
        raise Invalid(
            f"The rule is invalid at {exc.path}: {exc.message}.",
            code="invalid_rule",
            details=[{"field": exc.path, "message": exc.message}],
        ) from None


def rule_from_text(text: str, path: str = "rule") -> Any:
    """A rule given as JSON text (a query parameter)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # ValueError: JSONDecodeError, or an integer of 4,300+ digits
        raise Invalid(
            f"{path} is not valid JSON.",
            code="invalid_rule",
            details=[{"field": path, "message": "not JSON"}],
        ) from None


async def segment_rule(conn: asyncpg.Connection, segment_id: uuid.UUID) -> dict[str, Any]:
    row = await store.get(conn, segment_id)
    if row is None:
        raise NotFound(f"No segment {segment_id}.")
    return dict(row["rule"])


async def _name_taken(conn: asyncpg.Connection, name: str) -> Conflict:
    existing = await store.by_name(conn, name)
    return Conflict(
        f"A segment named {name!r} exists already.",
        code="duplicate_name",
        details={"existing_id": str(existing)},
    )


async def create_segment(pool: asyncpg.Pool, data: SegmentCreate, *, actor: str) -> Segment:
    predicate(data.rule)
    async with pool.acquire() as conn:
        row = await store.insert(conn, uuid7(), data.name, data.rule, actor)
        if row is None:
            raise await _name_taken(conn, data.name)
    return Segment.model_validate(dict(row))


async def list_segments(pool: asyncpg.Pool) -> SegmentList:
    async with pool.acquire() as conn:
        rows = await store.all_segments(conn)
    return SegmentList(items=[Segment.model_validate(dict(r)) for r in rows])


async def get_segment(pool: asyncpg.Pool, segment_id: uuid.UUID) -> Segment:
    async with pool.acquire() as conn:
        row = await store.get(conn, segment_id)
    if row is None:
        raise NotFound(f"No segment {segment_id}.")
    return Segment.model_validate(dict(row))


async def update_segment(pool: asyncpg.Pool, segment_id: uuid.UUID, data: SegmentUpdate) -> Segment:
    changes = {k: v for k, v in data.model_dump(include=data.model_fields_set).items() if v is not None}
    if "rule" in changes:
        predicate(changes["rule"])
    if not changes:
        return await get_segment(pool, segment_id)
    async with pool.acquire() as conn:
        try:
            row = await store.update(conn, segment_id, changes)
        except asyncpg.UniqueViolationError:
            raise await _name_taken(conn, changes["name"]) from None
    if row is None:
        raise NotFound(f"No segment {segment_id}.")
    return Segment.model_validate(dict(row))


async def delete_segment(pool: asyncpg.Pool, segment_id: uuid.UUID) -> None:
    """Refused while a campaign that may still send uses it (its audience would be gone)."""
    async with pool.acquire() as conn, conn.transaction():
        # Waits for a campaign being given this segment (it holds the row FOR KEY SHARE).
        if await store.get(conn, segment_id, lock="FOR UPDATE") is None:
            raise NotFound(f"No segment {segment_id}.")
        campaigns = await store.used_by(conn, segment_id)
        if campaigns:
            names = ", ".join(repr(c["name"]) for c in campaigns)
            raise Conflict(
                f"The segment is the audience of {names}: change their audience first.",
                code="segment_in_use",
                details={"campaign_ids": [str(c["id"]) for c in campaigns]},
            )
        await store.delete(conn, segment_id)


async def sample(pool: asyncpg.Pool, rule: Any, *, limit: int, path: str = "rule") -> AudienceSample:
    """How many prospects the rule matches now, and the newest `limit` of them."""
    audience = predicate(rule, path=path)
    async with pool.acquire() as conn:
        rows, total = await prospect_store.search(
            conn, status=None, q=None, limit=limit, offset=0, audience=audience, counted=counted_shape(rule)
        )
    return AudienceSample(count=total, items=[Prospect.model_validate(dict(r)) for r in rows])


async def tags(pool: asyncpg.Pool) -> TagList:
    async with pool.acquire() as conn:
        rows = await prospect_store.tag_counts(conn)
    return TagList(items=[TagCount(tag=r["tag"], prospects=r["prospects"]) for r in rows])


async def fields(pool: asyncpg.Pool) -> FieldList:
    return FieldList(placeholders=list(PLACEHOLDERS), custom=await prospect_store.attribute_keys(pool))
