"""A prospect's lifecycle: how its status may move, and the only statements that write
`prospects`, `suppressions` and `opt_out_links` (and what follows prospects: their search
rows in `prospect_search`, the folding of `prospect_counts`, the `attribute_keys` registry).

Status from what the recipient or SES did only rises, in RANK order
(active < bounced < unsubscribed < complained): a late bounce never hides an
unsubscribe. Only the admin moves a prospect down, and out of an opt-out
(to any status that is not one) only with an explicit override. Erasure deletes the row and keeps the
address's hash in `suppressions`, so no later import can revive it.

Writers: the gateway (admin edits, imports, erasure), the unsubscribe service
(the recipient's opt-out) and the projector (bounces and complaints from SES; the search
rows of imported prospects; folding the counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import asyncpg

from shared.address_checks import flags_of
from shared.addresses import email_hash, key_fingerprint
from shared.audience import Predicate
from shared.db import set_clause
from shared.errors import Conflict
from shared.event_store import append, append_built, change_and_append
from shared.events import (
    Envelope,
    ProspectErased,
    ProspectErasedData,
    ProspectsImported,
    ProspectsImportedData,
    ProspectStatus,
    ProspectStatusChanged,
    ProspectStatusChangedData,
    ProspectUnsubscribed,
    ProspectUnsubscribedV2,
)
from shared.ids import uuid7
from shared.lifecycle import domains

STATUSES: tuple[str, ...] = get_args(ProspectStatus)
# The order in which SES facts and the recipient may raise a status; SQL gets it as a parameter.
RANK: tuple[str, ...] = ("active", "bounced", "unsubscribed", "complained")
# Leaving these for "active" needs an explicit override: the person said no.
OPTED_OUT: frozenset[str] = frozenset({"unsubscribed", "complained"})
# The status an address comes back with when it was suppressed before (suppressions.reason).
SUPPRESSED_AS: Mapping[str, ProspectStatus] = {
    "unsubscribed": "unsubscribed", "bounced": "bounced", "complained": "complained", "manual": "unsubscribed",
}  # fmt: skip


def rises(current: str, target: str) -> bool:
    """Whether a status from SES or the recipient replaces `current`."""
    return RANK.index(target) > RANK.index(current)


def check_status_change(current: str, wanted: str, *, override_suppression: bool) -> None:
    """The admin's rule: anything goes, except leaving an opt-out without the override. Any
    status outside OPTED_OUT counts (unsubscribed -> bounced -> active would otherwise
    re-activate a person who said no, one allowed step at a time); complained ->
    unsubscribed stays an opt-out and needs none."""
    if current in OPTED_OUT and wanted not in OPTED_OUT and not override_suppression:
        raise Conflict(
            f"This prospect is {current}; moving them to {wanted} needs "
            f'{{"status": "{wanted}", "override_suppression": true}} (the person said no).',
            code="suppressed",
            details={"status": current},
        )


def _suppressed_status_sql(reason: str) -> str:
    """SQL for SUPPRESSED_AS[reason] (NULL when not suppressed)."""
    cases = " ".join(f"WHEN '{r}' THEN '{s}'" for r, s in SUPPRESSED_AS.items())
    return f"(CASE {reason} {cases} END)"


# ------------------------------------------------------------------ creating and editing

COLUMNS = (
    "id, email, first_name, last_name, company, title, timezone, attributes, tags, status, status_reason, "
    "source, lawful_basis, address_flags, created_at, updated_at"
)
DOMAIN_OF = domains.DOMAIN_OF
# A new prospect's flags: its own (shared.address_checks), and no_mx when the MX check
# already found its domain takes no mail.
FLAGS_WITH_MX = f"""({{flags}}::text[] || CASE WHEN EXISTS (
    SELECT 1 FROM email_domains d WHERE d.domain = {DOMAIN_OF} AND d.accepts_mail = false
) THEN ARRAY['no_mx'] ELSE '{{{{}}}}'::text[] END)"""
PERSONAL_FIELDS = frozenset({"first_name", "last_name", "company", "title", "attributes"})
# What substring search looks in (prospect_search, migration 0020), and the fields it is made of.
SEARCH_TEXT = "outreach_search_text(email, first_name, last_name, company)"
SEARCHED_FIELDS = frozenset({"first_name", "last_name", "company"})
# What the admin edits directly (the status moves through change_status; the source is
# set at creation and kept).
EDITABLE_FIELDS = PERSONAL_FIELDS | {"tags", "timezone", "lawful_basis"}

# A re-created address that was erased after opting out comes back suppressed.
INSERT_ONE = f"""
WITH inserted AS (
    INSERT INTO prospects (id, email, email_hash, first_name, last_name, company, title, attributes,
                           tags, timezone, source, lawful_basis, address_flags, status, status_reason)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, {FLAGS_WITH_MX.format(flags="$13", email="$2")},
           COALESCE((SELECT {_suppressed_status_sql("reason")} FROM suppressions WHERE email_hash = $3), 'active'),
           (SELECT 'suppressed before: ' || reason FROM suppressions WHERE email_hash = $3)
    ON CONFLICT (email_hash) DO NOTHING
    RETURNING {COLUMNS}
), searchable AS (
    INSERT INTO prospect_search (id, search_text) SELECT id, {SEARCH_TEXT} FROM inserted
), queued AS (  -- its domain, for the MX check
    {domains.QUEUE.format(domains=f"SELECT {DOMAIN_OF.format(email='email')} FROM inserted")}
)
SELECT * FROM inserted
"""


# An address suppressed before the key existed is known by its bare sha256 only: seen
# again, its suppression moves to `suppressions` under the key (one statement, before
# the insert reads `suppressions`).
LEGACY_SEEN = """
WITH seen AS (
    DELETE FROM legacy_suppressions l USING {addresses} a
    WHERE l.sha256 = sha256(convert_to(lower(a.email), 'UTF8'))
    RETURNING a.email_hash, l.reason, l.created_at
)
INSERT INTO suppressions (email_hash, reason, created_at)
SELECT DISTINCT ON (email_hash) email_hash, reason, created_at FROM seen
ON CONFLICT (email_hash) DO NOTHING
"""
LEGACY_SEEN_ONE = LEGACY_SEEN.format(addresses="(SELECT $1::text AS email, $2::bytea AS email_hash)")
LEGACY_SEEN_STAGED = LEGACY_SEEN.format(addresses="import_chunk")
ANY_LEGACY = "SELECT EXISTS (SELECT 1 FROM legacy_suppressions)"


# Attribute keys that can be a placeholder name, registered for template validation.
REGISTER_KEYS = """
INSERT INTO attribute_keys (key)
SELECT DISTINCT k FROM unnest($1::text[]) AS k WHERE k ~ '^[A-Za-z_][A-Za-z0-9_]{0,99}$'
ON CONFLICT DO NOTHING
"""


# The MX check's verdicts on prospects (projector.mx_checker): no_mx on the prospects of
# the domains found to take no mail ($1), off those of the domains that take it again ($2).
# One pass over prospects for all of a round's flipped domains.
_DOMAIN = DOMAIN_OF.format(email="email")
FLAG_DOMAINS = f"""
UPDATE prospects SET address_flags = CASE
        WHEN {_DOMAIN} = ANY($1::text[]) THEN address_flags || ARRAY['no_mx']
        ELSE array_remove(address_flags, 'no_mx') END
WHERE ({_DOMAIN} = ANY($1::text[]) AND NOT address_flags @> ARRAY['no_mx'])
   OR ({_DOMAIN} = ANY($2::text[]) AND address_flags @> ARRAY['no_mx'])
"""


async def flag_domains(conn: asyncpg.Connection, no_mail: list[str], mail: list[str]) -> int:
    """The number of prospects whose no_mx flag changed."""
    if not no_mail and not mail:
        return 0
    return int((await conn.execute(FLAG_DOMAINS, no_mail, mail)).split()[-1])


async def register_attribute_keys(conn: asyncpg.Connection, keys: Iterable[str]) -> None:
    if wanted := sorted(set(keys)):
        await conn.execute(REGISTER_KEYS, wanted)


async def insert(
    conn: asyncpg.Connection, fields: Mapping[str, Any], key: bytes, source: Mapping[str, Any] | None = None
) -> asyncpg.Record | None:
    """The new row, or None when the address exists already. `key`: SUPPRESSION_HASH_KEY;
    `source`: where it came from (migration 0025), kept for good."""
    address_hash = email_hash(fields["email"], key)
    await conn.execute(LEGACY_SEEN_ONE, fields["email"], address_hash)
    await register_attribute_keys(conn, fields.get("attributes") or {})
    return await conn.fetchrow(
        INSERT_ONE, uuid7(), fields["email"], address_hash, fields.get("first_name"),
        fields.get("last_name"), fields.get("company"), fields.get("title"), fields.get("attributes") or {},
        fields.get("tags") or [], fields.get("timezone"), dict(source) if source else None,
        fields.get("lawful_basis"), flags_of(fields["email"]),
    )  # fmt: skip


async def edit(
    conn: asyncpg.Connection, prospect_id: uuid.UUID, changes: Mapping[str, Any]
) -> asyncpg.Record:
    """Personal fields and tags; the status moves through the functions below."""
    await register_attribute_keys(conn, changes.get("attributes") or {})
    assignments, values = set_clause(changes, first=2, allowed=EDITABLE_FIELDS)
    update = f"UPDATE prospects SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    if SEARCHED_FIELDS.isdisjoint(changes):
        return await conn.fetchrow(update, prospect_id, *values)
    return await conn.fetchrow(
        f"""WITH edited AS ({update}), searchable AS (
                INSERT INTO prospect_search (id, search_text) SELECT id, {SEARCH_TEXT} FROM edited
                ON CONFLICT (id) DO UPDATE SET search_text = EXCLUDED.search_text
            )
            SELECT * FROM edited""",
        prospect_id,
        *values,
    )


@dataclass(frozen=True)
class ImportOrigin:
    """What an import records of itself on the prospects it creates (source) and, when
    given, on every prospect of the file (lawful basis)."""

    source: Mapping[str, Any]
    lawful_basis: str | None = None


STAGING_COLUMNS = (
    "line", "id", "email", "email_hash", "first_name", "last_name", "company", "title", "timezone",
    "attribute_values", "tags", "address_flags",
)  # fmt: skip

# import_chunk holds the rows of one chunk of the file; import_seen the existing addresses
# an earlier chunk left unchanged (those it wrote carry this transaction's now()), so a line
# repeating an address of an earlier chunk is known as a duplicate, not an update. Custom
# fields arrive as one array of values a row, in the order of the file's custom columns.
CREATE_STAGING = """
CREATE TEMP TABLE import_chunk (
    line integer, id uuid, email text, email_hash bytea, first_name text, last_name text,
    company text, title text, timezone text, attribute_values text[], tags text[], address_flags text
) ON COMMIT DROP;
CREATE TEMP TABLE import_seen (email_hash bytea PRIMARY KEY) ON COMMIT DROP;
"""


# One statement a chunk ($1: the names of the file's custom columns; $2 the import's source,
# which new prospects get and existing ones keep their own; $3 its lawful basis or null,
# which an existing prospect takes when given and otherwise keeps). Within the chunk the
# last line of an address wins; a line repeating an address of an earlier chunk updates
# what that one wrote and is counted as a duplicate. New addresses are inserted (suppressed
# ones come back suppressed); existing ones get the file's non-empty values, and their
# status is never touched, so an import cannot re-activate anyone. Rows whose values would
# not change are not written. Tags are only ever added: the file's after the prospect's
# own, the first 50 kept (a prospect carries at most 50). New rows are a plain INSERT of
# the addresses absent from the statement's snapshot (an upsert's speculative insertion
# cost a fifth more); another writer creating one meanwhile fails the statement with a
# unique violation, and the chunk is run again (bulk_upsert).
def merged_tags(own: str, added: str, removed: str = "'{}'::text[]") -> str:
    """SQL for a prospect's tags after a change: its own first, then those added, none
    removed, the first 50 kept (a prospect carries at most 50)."""
    return f"""(SELECT coalesce(array_agg(t ORDER BY o), '{{}}') FROM (
    SELECT t, min(o) AS o FROM unnest({own} || {added}) WITH ORDINALITY AS u (t, o)
    WHERE NOT t = ANY({removed}) GROUP BY t ORDER BY min(o) LIMIT 50
) AS kept)"""


UPSERT_CHUNK = f"""
WITH chunk AS (
    -- The chunk's last line of each address, in the order of the address index: the
    -- writes then walk its pages in order.
    SELECT DISTINCT ON (email_hash) *,
           COALESCE(jsonb_strip_nulls(jsonb_object($1::text[], attribute_values)), '{{}}') AS attributes
    FROM import_chunk
    ORDER BY email_hash, line DESC
), incoming AS (
    SELECT c.*, p.id AS existing,
           -- Written by an earlier chunk (this transaction's now()), or left alone by one.
           CASE WHEN p.id IS NULL THEN false
                WHEN p.updated_at = now() THEN true
                ELSE EXISTS (SELECT 1 FROM import_seen e WHERE e.email_hash = c.email_hash) END AS repeated,
           (p.first_name, p.last_name, p.company, p.title, p.timezone, p.attributes, p.lawful_basis) IS DISTINCT FROM
           (COALESCE(c.first_name, p.first_name), COALESCE(c.last_name, p.last_name),
            COALESCE(c.company, p.company), COALESCE(c.title, p.title), COALESCE(c.timezone, p.timezone),
            p.attributes || c.attributes, COALESCE($3::text, p.lawful_basis))
           OR NOT c.tags <@ p.tags AS differs
    FROM chunk c LEFT JOIN prospects p ON p.email_hash = c.email_hash
), changed AS (
    UPDATE prospects AS p SET
        first_name = COALESCE(i.first_name, p.first_name),
        last_name = COALESCE(i.last_name, p.last_name),
        company = COALESCE(i.company, p.company),
        title = COALESCE(i.title, p.title),
        timezone = COALESCE(i.timezone, p.timezone),
        attributes = p.attributes || i.attributes,
        lawful_basis = COALESCE($3::text, p.lawful_basis),
        tags = CASE WHEN i.tags <@ p.tags THEN p.tags ELSE {merged_tags("p.tags", "i.tags")} END,
        updated_at = now()
    FROM incoming i
    WHERE p.id = i.existing AND i.differs
    RETURNING i.repeated
), added AS (
    INSERT INTO prospects (id, email, email_hash, first_name, last_name, company, title, timezone, attributes,
                           tags, source, lawful_basis, address_flags, status, status_reason)
    SELECT i.id, i.email, i.email_hash, i.first_name, i.last_name, i.company, i.title, i.timezone, i.attributes,
           i.tags, $2::jsonb, $3::text, COALESCE(string_to_array(i.address_flags, ','), '{{}}'),
           COALESCE({_suppressed_status_sql("sup.reason")}, 'active'),
           CASE WHEN sup.reason IS NOT NULL THEN 'suppressed before: ' || sup.reason END
    FROM incoming i
    LEFT JOIN suppressions sup ON sup.email_hash = i.email_hash
    WHERE i.existing IS NULL
    RETURNING status
), left_alone AS (
    INSERT INTO import_seen (email_hash)
    SELECT email_hash FROM incoming WHERE existing IS NOT NULL AND NOT differs AND NOT repeated
    ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM incoming WHERE NOT repeated) AS distinct_rows,
       (SELECT count(*) FROM added) AS inserted,
       (SELECT count(*) FROM changed WHERE NOT repeated) AS updated,
       (SELECT count(*) FROM added WHERE status <> 'active') AS suppressed
"""
COUNTS = ("distinct_rows", "inserted", "updated", "suppressed")
# Rows a chunk holds: big enough that a statement's overhead is small, small enough that the
# server upserts one while the gateway parses the next, and memory stays bounded.
CHUNK_ROWS = 25_000
# A million rows take minutes on a small machine; the pool's 60 s default would cut them off.
IMPORT_STATEMENT_TIMEOUT = 3600.0
RETRIES_ON_A_RACE = 5


async def _upsert_chunk(
    conn: asyncpg.Connection, names: list[str], legacy: bool, origin: ImportOrigin
) -> dict[str, int]:
    for attempt in range(RETRIES_ON_A_RACE):
        try:
            async with conn.transaction():  # a savepoint: a race undoes this chunk only
                if legacy:
                    await conn.execute(LEGACY_SEEN_STAGED, timeout=IMPORT_STATEMENT_TIMEOUT)
                row = await conn.fetchrow(
                    UPSERT_CHUNK, names, origin.source, origin.lawful_basis, timeout=IMPORT_STATEMENT_TIMEOUT
                )
                return {name: int(row[name]) for name in COUNTS}
        except asyncpg.UniqueViolationError:
            # Created by another writer since this statement's snapshot: it is visible to the next one.
            if attempt == RETRIES_ON_A_RACE - 1:
                raise
    raise AssertionError("unreachable")


async def bulk_upsert(
    conn: asyncpg.Connection, chunks: AsyncIterable[Sequence[tuple[Any, ...]]], *,
    attribute_names: Callable[[], Sequence[str]], actor: str | None, correlation_id: str,
    origin: ImportOrigin | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Upsert the file's rows (STAGING_COLUMNS), chunk by chunk, in the caller's
    transaction: while the server writes one chunk, the caller parses the next (`chunks`
    must let the event loop run now and then, for the writing task's round trips).
    `attribute_names()`, asked once the first chunk is read, names the file's custom
    columns in the order of the rows' values. Search rows are left to the projector's
    indexer (ProspectsImported): the trigram index was the costliest part of a bulk write."""
    origin = origin or ImportOrigin(source={"via": "import", "by": actor} if actor else {"via": "import"})
    await conn.execute("SET LOCAL work_mem = '64MB'")
    await conn.execute(CREATE_STAGING)
    legacy = bool(await conn.fetchval(ANY_LEGACY))
    totals = dict.fromkeys(("staged", *COUNTS), 0)
    writing: asyncio.Task[dict[str, int]] | None = None
    try:
        async for rows in chunks:
            totals["staged"] += len(rows)
            if writing is not None:
                for name, n in (await writing).items():
                    totals[name] += n
                writing = None
            await conn.execute("TRUNCATE import_chunk")
            await conn.copy_records_to_table(
                "import_chunk",
                records=rows,
                columns=STAGING_COLUMNS,
                timeout=IMPORT_STATEMENT_TIMEOUT,
            )
            writing = asyncio.create_task(_upsert_chunk(conn, list(attribute_names()), legacy, origin))
        if writing is not None:
            for name, n in (await writing).items():
                totals[name] += n
            writing = None
    finally:
        if writing is not None:  # the file failed meanwhile: the connection is free again before the rollback
            with contextlib.suppress(Exception):
                await writing
    await register_attribute_keys(conn, attribute_names())
    written_since = await conn.fetchval("SELECT now()")
    if totals["inserted"] or totals["updated"]:
        data = ProspectsImportedData(
            written_since=written_since,
            inserted=totals["inserted"],
            updated=totals["updated"],
            imported_by=actor,
        )
        await append(conn, ProspectsImported.new(data, correlation_id=correlation_id))
    return totals


# prospect_counts (migration 0022) gets a row from every statement that writes prospects;
# this folds each key's rows into one (rows of transactions still open are not seen, so
# they stay as they are, and the sums never change).
COMPACT_COUNTS = """
WITH folded AS (DELETE FROM prospect_counts RETURNING tag, status, n)
INSERT INTO prospect_counts (tag, status, n)
SELECT tag, status, sum(n) FROM folded GROUP BY tag, status HAVING sum(n) <> 0
"""


async def compact_counts(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    await conn.execute(COMPACT_COUNTS)


# The search indexer's step (services/projector): the next `limit` prospects, in id order
# after $2, written at or after $1, get their search row (and their domains are queued for
# the MX check, flagged no_mx at once when it knows the domain takes no mail); answers the last id looked at
# (NULL: none left) and how many it looked at. Rows whose text did not change are not written.
REFRESH_SEARCH = f"""
WITH batch AS (
    SELECT id, {SEARCH_TEXT} AS search_text, {DOMAIN_OF.format(email="email")} AS domain, address_flags
    FROM prospects
    WHERE updated_at >= $1 AND id > $2
    ORDER BY id LIMIT $3
), written AS (
    INSERT INTO prospect_search AS s (id, search_text) SELECT id, search_text FROM batch
    ON CONFLICT (id) DO UPDATE SET search_text = EXCLUDED.search_text
    WHERE s.search_text IS DISTINCT FROM EXCLUDED.search_text
), queued AS (  -- their domains, for the MX check (off the import's path, as the search rows)
    {domains.QUEUE.format(domains="SELECT DISTINCT domain FROM batch")}
), known_no_mail AS (  -- at a domain the MX check already found takes no mail
    UPDATE prospects p SET address_flags = p.address_flags || ARRAY['no_mx']
    FROM batch b JOIN email_domains d ON d.domain = b.domain AND d.accepts_mail = false
    WHERE p.id = b.id AND NOT b.address_flags @> ARRAY['no_mx']
)
SELECT (SELECT id FROM batch ORDER BY id DESC LIMIT 1) AS last, (SELECT count(*) FROM batch) AS rows
"""
NO_ID = uuid.UUID(int=0)


async def refresh_search(
    conn: asyncpg.Connection, since: datetime, after: uuid.UUID = NO_ID, limit: int = 5000
) -> tuple[uuid.UUID | None, int]:
    """One step of indexing the prospects written since `since` (see REFRESH_SEARCH)."""
    row = await conn.fetchrow(REFRESH_SEARCH, since, after, limit)
    return row["last"], row["rows"]


# ------------------------------------------------------------------ status

SET_STATUS = """
UPDATE prospects SET status = $2, status_reason = $3, updated_at = now()
WHERE id = $1
RETURNING id
"""
# Upward only: $4 is RANK.
RAISE = """
UPDATE prospects SET status = $2, status_reason = $3, updated_at = now()
WHERE id = $1 AND array_position($4::text[], status) < array_position($4::text[], $2)
RETURNING id
"""
LIFT_SUPPRESSION = (
    "DELETE FROM suppressions WHERE email_hash = (SELECT email_hash FROM prospects WHERE id = $1)"
)


async def change_status(
    conn: asyncpg.Connection,
    current: asyncpg.Record,
    wanted: ProspectStatus,
    *,
    reason: str | None,
    override_suppression: bool,
    actor: str,
    correlation_id: str,
) -> None:
    """The admin's change of `current` (a row read FOR UPDATE in the caller's transaction).
    Back to active also lifts the address's suppression."""
    check_status_change(current["status"], wanted, override_suppression=override_suppression)
    if wanted == "active":
        await conn.execute(LIFT_SUPPRESSION, current["id"])
    event = ProspectStatusChanged.new(
        ProspectStatusChangedData(
            prospect_id=current["id"], from_status=current["status"], to_status=wanted, reason=reason,
            override_suppression=override_suppression, changed_by=actor,
        ),
        correlation_id=correlation_id,
    )  # fmt: skip
    await change_and_append(conn, SET_STATUS, (current["id"], wanted, reason), event)


async def raise_status(
    conn: asyncpg.Connection, prospect_id: uuid.UUID, target: ProspectStatus, reason: str, *,
    cause: Envelope | None, correlation_id: str | None = None,
) -> bool:  # fmt: skip
    """SES said so (a permanent bounce, a complaint): raise the status if it is lower.
    Runs in the caller's transaction (the projector's, with its tracking row)."""
    current = await conn.fetchval("SELECT status FROM prospects WHERE id = $1 FOR UPDATE", prospect_id)
    if current is None or not rises(current, target):
        return False
    event = ProspectStatusChanged.new(
        ProspectStatusChangedData(
            prospect_id=prospect_id, from_status=current, to_status=target, reason=reason, changed_by="ses"
        ),
        cause=cause,
        correlation_id=correlation_id,
    )
    return await change_and_append(conn, RAISE, (prospect_id, target, reason, RANK), event) is not None


# SES's account suppression list, imported (shared.ses_suppressions): each address's keyed
# hash suppressed (the first reason kept), and the prospects of those addresses.
SUPPRESS_HASHES = """
WITH added AS (
    INSERT INTO suppressions (email_hash, reason)
    SELECT h, r FROM unnest($1::bytea[], $2::text[]) AS u (h, r)
    ON CONFLICT (email_hash) DO NOTHING RETURNING 1
)
SELECT count(*) FROM added
"""
OF_HASHES = "SELECT id, email_hash FROM prospects WHERE email_hash = ANY($1::bytea[])"


async def suppress_from_ses(
    conn: asyncpg.Connection,
    addresses: Sequence[tuple[str, ProspectStatus]],
    key: bytes,
    *,
    correlation_id: str,
) -> tuple[int, int]:
    """Suppress each (address, "bounced" | "complained") as SES lists it, and raise the
    status of the prospects among them (one event each, by "ses"). Idempotent. Answers
    (suppressions added, prospects whose status rose)."""
    hashes = {email_hash(address, key): status for address, status in addresses}
    added = int(await conn.fetchval(SUPPRESS_HASHES, list(hashes), list(hashes.values())))
    raised = 0
    for row in await conn.fetch(OF_HASHES, list(hashes)):
        target = hashes[row["email_hash"]]
        reason = f"on the SES account suppression list ({'BOUNCE' if target == 'bounced' else 'COMPLAINT'})"
        raised += await raise_status(
            conn, row["id"], target, reason, cause=None, correlation_id=correlation_id
        )
    return added, raised


# The recipient's opt-out through a message's link: raise the status, note the link as used,
# and answer a row (so the event is appended) when either did something.
OPT_OUT_STEPS = f"""raised AS ({RAISE}),
used AS (INSERT INTO opt_out_links (send_id) SELECT $5 WHERE $5::uuid IS NOT NULL
         ON CONFLICT (send_id) DO NOTHING RETURNING send_id), """
OPT_OUT = "SELECT $1::uuid AS id WHERE EXISTS (SELECT 1 FROM raised) OR EXISTS (SELECT 1 FROM used)"


async def opt_out(
    conn: asyncpg.Connection | asyncpg.Pool, event: ProspectUnsubscribed | ProspectUnsubscribedV2
) -> bool:
    """The recipient's unsubscribe: effective at once for the sender (its claim checks the
    status); a complained prospect stays complained. The event is appended when the status
    changed or this message's link was used for the first time: a recipient already
    unsubscribed is still counted on the campaign whose link they used, and clicking twice
    is one opt-out."""
    data = event.data
    args = (data.prospect_id, "unsubscribed", "unsubscribed by the recipient", RANK, data.send_id)
    return await change_and_append(conn, OPT_OUT, args, event, before=OPT_OUT_STEPS) is not None


# ------------------------------------------------------------------ bulk changes


def bulk_tags_statement(predicate: Predicate) -> str:
    """Add and remove tags on every prospect the predicate (over `p`, parameters from $3)
    matches: $1 tags to add, $2 to remove. Answers matched and changed."""
    tags = merged_tags("m.tags", "$1::text[]", "$2::text[]")
    return f"""
WITH matched AS (SELECT p.id, p.tags FROM prospects p WHERE {predicate.sql} FOR UPDATE),
changed AS (
    UPDATE prospects p SET tags = {tags}, updated_at = now()
    FROM matched m WHERE p.id = m.id AND {tags} IS DISTINCT FROM m.tags
    RETURNING p.id
)
SELECT (SELECT count(*) FROM matched) AS matched, (SELECT count(*) FROM changed) AS changed, 0 AS blocked
"""


# ProspectStatusChanged v1 per changed prospect, built here so a million changes stay one
# statement (its data: shared.events.ProspectStatusChangedData; a test parses every one).
_STATUS_EVENT_DATA = """jsonb_build_object(
    'prospect_id', c.id, 'from_status', c.from_status, 'to_status', $1::text, 'reason', $2::text,
    'override_suppression', $3::bool, 'changed_by', $4::text)"""


def bulk_status_statement(predicate: Predicate) -> str:
    """Move every prospect the predicate (over `p`, parameters from $7) matches to $1, with
    reason $2, override $3, by $4, correlation $5; $6 is OPTED_OUT. Nothing changes when
    any match would leave an opt-out without the override (`blocked` counts them); back
    to active lifts the suppression, as for one prospect."""
    return f"""
WITH matched AS (SELECT p.id, p.status, p.email_hash FROM prospects p WHERE {predicate.sql} FOR UPDATE),
blocked AS (
    SELECT count(*) AS n FROM matched
    WHERE status = ANY($6::text[]) AND NOT ($1::text = ANY($6::text[])) AND NOT $3::bool
),
changed AS (
    UPDATE prospects p SET status = $1, status_reason = $2, updated_at = now()
    FROM matched m
    WHERE p.id = m.id AND m.status <> $1 AND (SELECT n FROM blocked) = 0
    RETURNING p.id, m.status AS from_status, m.email_hash
),
lifted AS (
    DELETE FROM suppressions s USING changed c WHERE $1 = 'active' AND s.email_hash = c.email_hash
),
{append_built(ProspectStatusChanged, rows="changed c", data=_STATUS_EVENT_DATA, correlation="$5")}
SELECT (SELECT count(*) FROM matched) AS matched, (SELECT count(*) FROM changed) AS changed,
       (SELECT n FROM blocked) AS blocked, (SELECT n FROM appended) AS appended
"""


async def bulk_change(
    conn: asyncpg.Connection, predicate: Predicate, *, add_tags: list[str] | None = None,
    remove_tags: list[str] | None = None, status: ProspectStatus | None = None, reason: str | None = None,
    override_suppression: bool = False, actor: str = "admin", correlation_id: str = "",
) -> asyncpg.Record:  # fmt: skip
    """Tags or status of every prospect the predicate matches, in one statement: matched,
    changed, and (status) how many an opt-out blocks. `predicate` starts at $3 for tags,
    $7 for a status change (compile it with `first=` accordingly, table `p`)."""
    if status is None:
        return await conn.fetchrow(
            bulk_tags_statement(predicate), add_tags or [], remove_tags or [], *predicate.args, timeout=600
        )
    return await conn.fetchrow(
        bulk_status_statement(predicate), status, reason, override_suppression, actor, correlation_id,
        list(OPTED_OUT), *predicate.args, timeout=600,
    )  # fmt: skip


# ------------------------------------------------------------------ erasure

# The row (and with it every personal field) goes; the address leaves its keyed hash
# behind so no later import can revive it: an active prospect's as `manual` (an erasure
# request is a no to further mail), any other as its status. What else held the person:
# the raw SES payloads of their messages (found by the prospect their send or their tag
# names, stored with each; unmatched and untagged, by the address in them) and refused webhook bodies that quote
# the address or the full name. Events hold no personal data (docs/architecture.md).
ERASE_STEPS = """gone AS (
    DELETE FROM prospects WHERE id = $1
    RETURNING id, email, email_hash, status, nullif(concat_ws(' ', first_name, last_name), '') AS full_name
),
kept AS (
    INSERT INTO suppressions (email_hash, reason)
    SELECT email_hash, CASE status WHEN 'active' THEN 'manual' ELSE status END FROM gone
    ON CONFLICT (email_hash) DO NOTHING
),
raw AS (
    DELETE FROM ses_events_raw r USING gone
    WHERE r.prospect_id = gone.id
       OR (NOT r.matched AND strpos(lower(r.payload::text), lower(gone.email)) > 0)
),
replies AS (
    -- Their mail (its row goes with the prospect's), and mail from their address never matched.
    DELETE FROM inbound_mail m USING gone WHERE lower(m.from_address) = lower(gone.email)
),
refused AS (
    -- Bodies are bytes, valid UTF-8 or not: compared as their escaped text, ASCII case-blind.
    DELETE FROM rejected_payloads b USING gone
    WHERE strpos(lower(encode(b.body, 'escape')), lower(encode(convert_to(gone.email, 'UTF8'), 'escape'))) > 0
       OR (length(gone.full_name) >= 5
           AND strpos(lower(encode(b.body, 'escape')), lower(encode(convert_to(gone.full_name, 'UTF8'), 'escape'))) > 0)
), """


async def erase(conn: asyncpg.Connection, prospect_id: uuid.UUID, *, actor: str, correlation_id: str) -> bool:
    """Delete the prospect and every copy of their personal data, keep their suppression,
    append ProspectErased: one statement."""
    event = ProspectErased.new(
        ProspectErasedData(prospect_id=prospect_id, erased_by=actor), correlation_id=correlation_id
    )
    return (
        await change_and_append(conn, "SELECT id FROM gone", (prospect_id,), event, before=ERASE_STEPS)
        is not None
    )


# ------------------------------------------------------------------ the hash key

KEY_LOCK = 0x6F757472_6B657973  # "outrkeys": one gateway adopts the key at a time
REKEY = [
    """CREATE TEMP TABLE rekeyed ON COMMIT DROP AS
       SELECT p.id, p.email_hash AS old, outreach_email_hash(p.email, k.ipad, k.opad) AS new
       FROM prospects p, outreach_hmac_pads($1::bytea) k""",
    "CREATE INDEX ON rekeyed (old)",
    "UPDATE suppressions s SET email_hash = r.new FROM rekeyed r WHERE s.email_hash = r.old",
    # Whose address nobody knows any more: kept as it was, checked on sight (LEGACY_SEEN).
    """WITH orphans AS (
           DELETE FROM suppressions s WHERE NOT EXISTS (SELECT 1 FROM rekeyed r WHERE r.new = s.email_hash)
           RETURNING email_hash, reason, created_at
       )
       INSERT INTO legacy_suppressions (sha256, reason, created_at) SELECT * FROM orphans
       ON CONFLICT (sha256) DO NOTHING""",
    "UPDATE prospects p SET email_hash = r.new FROM rekeyed r WHERE p.id = r.id AND p.email_hash <> r.new",
]


class WrongSuppressionKey(RuntimeError):
    pass


async def adopt_suppression_key(pool: asyncpg.Pool, key: bytes) -> bool:
    """Make sure the stored address hashes are made with `key`: the first start with a key
    re-keys every prospect and suppression stored before migration 0016 (bare hashes) in
    one transaction; a different key than the one adopted is refused, since every
    suppression would silently stop matching. True when this call adopted the key."""
    fingerprint = key_fingerprint(key)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", KEY_LOCK)
        state = await conn.fetchrow("SELECT fingerprint, rekey_pending FROM suppression_key")
        if state["fingerprint"] is not None:
            if state["fingerprint"] != fingerprint:
                raise WrongSuppressionKey(
                    "SUPPRESSION_HASH_KEY is not the key the stored suppressions were made with; "
                    "set that key back (a new key would let suppressed addresses be mailed)"
                )
            return False
        if state["rekey_pending"]:
            await conn.execute("SET LOCAL statement_timeout = 0")
            for statement in REKEY:
                await conn.execute(statement, *([key] if "$1" in statement else []))
        await conn.execute(
            "UPDATE suppression_key SET fingerprint = $1, rekey_pending = false, adopted_at = now()",
            fingerprint,
        )
        return True
