"""Prospect use cases: typed input, a pool, a typed result; events appended in the same transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from api_gateway import audiences
from api_gateway.adapters import prospects as store
from api_gateway.csv_import import CsvImportParser, CsvRecordSplitter, StagedRow
from api_gateway.schemas import (
    BulkResult,
    ImportError_,
    ImportReport,
    Prospect,
    ProspectBulk,
    ProspectCreate,
    ProspectPage,
    ProspectQuery,
    ProspectUpdate,
    page_info,
)
from shared.addresses import email_hash
from shared.audience import Predicate, counted_shape
from shared.errors import Conflict, Invalid, NotFound, TooLarge
from shared.lifecycle import prospect as lifecycle


async def create(
    pool: asyncpg.Pool, data: ProspectCreate, *, key: bytes, actor: str | None = None
) -> asyncpg.Record:
    """`key`: SUPPRESSION_HASH_KEY, whose HMAC of the address identifies a prospect."""
    source = source_of("api", by=actor, note=data.source_note)
    async with pool.acquire() as conn, conn.transaction():
        row = await lifecycle.insert(conn, data.model_dump(exclude={"source_note"}), key, source)
        if row is None:
            existing = await store.id_by_hash(conn, email_hash(data.email, key))
            raise Conflict(
                "A prospect with this email exists already.",
                code="duplicate_email",
                details={"existing_id": str(existing)},
            )
        return row


async def search(pool: asyncpg.Pool, params: ProspectQuery) -> ProspectPage:
    """The list view: the same rule as an audience (`segment`, `rule`: both must hold)."""
    async with pool.acquire() as conn:
        audience = None
        first = store.first_audience_parameter(params.status, params.q)
        # The filters as one rule: prospect_counts answers the total of the common shapes.
        rules: list[Any] = [{"field": "status", "op": "eq", "value": params.status}] if params.status else []
        if params.segment is not None:
            rules.append(segment := await audiences.segment_rule(conn, params.segment))
            audience = audiences.predicate(segment, first=first)
        if params.rule is not None:
            offset = first + (len(audience.args) if audience else 0)
            rules.append(rule := audiences.rule_from_text(params.rule))
            given = audiences.predicate(rule, first=offset)
            audience = given if audience is None else Predicate(f"({audience.sql} AND {given.sql})",
                                                                 audience.args + given.args)  # fmt: skip
        rows, total = await store.search(
            conn,
            status=params.status,
            q=params.q,
            limit=params.limit,
            offset=(params.page - 1) * params.limit,
            audience=audience,
            counted=None if params.q else counted_shape({"all": rules}),
        )
    return ProspectPage(
        items=[Prospect.model_validate(dict(r)) for r in rows],
        total=total,
        page=page_info(params.page, params.limit, total),
    )


async def get(pool: asyncpg.Pool, prospect_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await store.get(conn, prospect_id)
    if row is None:
        raise NotFound(f"No prospect {prospect_id}.")
    return row


async def update(
    pool: asyncpg.Pool,
    prospect_id: uuid.UUID,
    data: ProspectUpdate,
    *,
    actor: str,
    correlation_id: str,
) -> asyncpg.Record:
    given = data.model_dump(include=data.model_fields_set)
    fields = {k: v for k, v in given.items() if k in lifecycle.EDITABLE_FIELDS}
    for name, empty in (("attributes", {}), ("tags", [])):
        if name in fields and fields[name] is None:
            fields[name] = empty
    async with pool.acquire() as conn, conn.transaction():
        row = await store.get(conn, prospect_id, for_update=True)
        if row is None:
            raise NotFound(f"No prospect {prospect_id}.")
        if data.status is not None and data.status != row["status"]:
            await lifecycle.change_status(
                conn, row, data.status, reason=data.status_reason,
                override_suppression=data.override_suppression, actor=actor, correlation_id=correlation_id,
            )  # fmt: skip
        elif not fields:
            return row
        if fields:
            return await lifecycle.edit(conn, prospect_id, fields)
        return await store.get(conn, prospect_id)


async def erase(pool: asyncpg.Pool, prospect_id: uuid.UUID, *, actor: str, correlation_id: str) -> None:
    async with pool.acquire() as conn:
        if not await lifecycle.erase(conn, prospect_id, actor=actor, correlation_id=correlation_id):
            raise NotFound(f"No prospect {prospect_id}.")


def source_of(via: str, **details: str | None) -> dict[str, str]:
    """A prospect's source as stored (migration 0025): how, and what is known of it."""
    return {"via": via, **{name: value for name, value in details.items() if value}}


async def import_csv(
    pool: asyncpg.Pool, body: AsyncIterator[bytes], *, max_bytes: int, key: bytes, tags: tuple[str, ...] = (),
    actor: str | None = None, correlation_id: str, origin: lifecycle.ImportOrigin | None = None,
) -> ImportReport:  # fmt: skip
    """Stream a CSV body into prospects: all valid rows, or (on a file-level error) nothing.
    `tags` (normalised) are added to every row's; `origin`, what the new prospects record
    of the import (their source) and the lawful basis every row gets."""
    parser = CsvImportParser(key, tags)

    async def chunks() -> AsyncIterator[list[StagedRow]]:
        splitter = CsvRecordSplitter()
        size = 0
        rows: list[StagedRow] = []
        async for chunk in body:
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(
                    f"The file is larger than the limit of {max_bytes} bytes; nothing was imported."
                )
            rows.extend(parser.parse(splitter.feed(chunk)))
            await asyncio.sleep(0)  # the chunk being written has round trips to make meanwhile
            while len(rows) >= lifecycle.CHUNK_ROWS:
                yield rows[: lifecycle.CHUNK_ROWS]
                rows = rows[lifecycle.CHUNK_ROWS :]
        rows.extend(parser.parse(splitter.finish()))
        if parser.header is None:
            raise Invalid("The file is empty: it needs a header row with an email column.", code="empty_file")
        for start in range(0, len(rows), lifecycle.CHUNK_ROWS):
            yield rows[start : start + lifecycle.CHUNK_ROWS]

    def attribute_names() -> list[str]:
        return [name for _, name in parser.header.attribute_positions] if parser.header else []

    async with pool.acquire() as conn, conn.transaction():
        counts = await lifecycle.bulk_upsert(
            conn,
            chunks(),
            attribute_names=attribute_names,
            actor=actor,
            correlation_id=correlation_id,
            origin=origin,
        )
    tally = parser.tally
    inserted, updated = int(counts["inserted"]), int(counts["updated"])
    return ImportReport(
        inserted=inserted,
        updated=updated,
        suppressed=int(counts["suppressed"]),
        unchanged=int(counts["distinct_rows"]) - inserted - updated,
        duplicates=int(counts["staged"]) - int(counts["distinct_rows"]),
        invalid=tally.invalid,
        errors=[ImportError_(line=e.line, reason=e.reason) for e in tally.errors],
    )


async def bulk(pool: asyncpg.Pool, data: ProspectBulk, *, actor: str, correlation_id: str) -> BulkResult:
    """One statement over every match; a status change that would take anyone out of an
    opt-out without the override changes nobody (409, with how many)."""
    first = 3 if data.status is None else 7
    predicate = audiences.predicate(data.filter, first=first, path="filter", table="p")
    async with pool.acquire() as conn, conn.transaction():
        row = await lifecycle.bulk_change(
            conn, predicate, add_tags=data.add_tags, remove_tags=data.remove_tags, status=data.status,
            reason=data.status_reason, override_suppression=data.override_suppression, actor=actor,
            correlation_id=correlation_id,
        )  # fmt: skip
    if row["blocked"]:
        raise Conflict(
            f"{row['blocked']} of the {row['matched']} matching prospects unsubscribed or complained; moving them "
            f'to {data.status} needs "override_suppression": true (they said no). Nobody was changed.',
            code="suppressed",
            details={"matched": row["matched"], "opted_out": row["blocked"]},
        )
    return BulkResult(matched=row["matched"], changed=row["changed"])
