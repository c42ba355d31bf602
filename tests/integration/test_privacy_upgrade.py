"""The upgrade that took personal data out of events (0015) and keyed the address hash
(0016): a database of the version before comes out of it with no address in its events, and
with every suppression still holding."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid

import asyncpg
import pytest

from ops.roles import prepare_database
from shared import db
from shared.addresses import (
    ADDRESS_IN_TEXT_SQL,
    email_hash,
    key_fingerprint,
    legacy_email_hash,
    redact_addresses,
)
from shared.events import parse_event, upcast_ses_v1
from shared.lifecycle import prospect
from shared.migrations import MIGRATIONS_DIR, migrate_database
from tests.harness.gateway import ADDRESS_KEY

pytestmark = pytest.mark.integration

BEFORE = 14  # the migrations of the version before


@pytest.fixture
async def older_database(backend, tmp_path):
    """A database at migration 0014, as the superuser migrated it then."""
    url = db.with_database(backend.database_url, f"outreach_test_upgrade_{uuid.uuid4().hex[:10]}")
    older = tmp_path / "older"
    older.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[:BEFORE]:
        shutil.copy(path, older)
    await db.ensure_database(url)
    await migrate_database(url, older)
    yield url
    admin = await asyncpg.connect(backend.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db.database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()


TEXTS = [
    "550 5.1.1 <jane.doe+x@example.com>: Recipient address rejected",
    "to=bob@x.org, (c@d.e) and https://ex.com/?e=jane%40x.com&m=jane@x.com",
    "Email address is not verified. The following identities failed the check in region EU-WEST-1: ÜNI@exämple.org",
    "no address here; an @ alone, and user@ or @host",
]


async def test_python_and_sql_redact_the_same(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        for text in TEXTS:
            in_sql = await conn.fetchval(
                "SELECT regexp_replace($1, $2, '<address>', 'g')", text, ADDRESS_IN_TEXT_SQL
            )
            assert in_sql == redact_addresses(text), text
    finally:
        await conn.close()


JANE = "Jane.Roe@Example.com"
BOUNCE_V1 = {
    "eventbridge_id": "eb-1", "ses_message_id": "m-1", "timestamp": "2026-11-01T10:00:00+00:00",
    "recipients": [JANE], "bounce_type": "Permanent", "bounce_subtype": "General", "feedback_id": "f-1",
    "bounced_recipients": [{"email": JANE, "action": "failed", "status": "5.1.1",
                            "diagnostic_code": f"smtp; 550 5.1.1 <{JANE}>: unknown"}],
}  # fmt: skip
OPEN_V1 = {
    "eventbridge_id": "eb-2", "ses_message_id": "m-1", "timestamp": "2026-11-01T10:05:00+00:00",
    "recipients": [JANE], "ip_address": "203.0.113.7", "user_agent": "Mail/1.0",
}  # fmt: skip


async def test_stored_events_and_copies_lose_the_address_in_the_upgrade(older_database):
    conn = await asyncpg.connect(older_database)
    try:
        prospect_id, send_id, campaign_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            "INSERT INTO prospects (id, email, email_hash) VALUES ($1, $2, $3)", prospect_id, JANE,
            legacy_email_hash(JANE),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO email_campaigns (id, name, subject, from_email, status, status_reason)"
            " VALUES ($1, 'c', 's', 'a@ours.example', 'paused', $2)",
            campaign_id, f"the SES account is in the sandbox: identities failed the check: {JANE}",
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO email_sends (id, campaign_id, prospect_id, unsubscribe_token, outcome, ses_message_id,"
            " error_message) VALUES ($1, $2, $3, $4, 'sent', 'm-1', $5)",
            send_id, campaign_id, prospect_id, uuid.uuid4().hex, f"refused: {JANE}",
        )  # fmt: skip
        for i, (kind, data) in enumerate((("ses.bounce", BOUNCE_V1), ("ses.open", OPEN_V1))):
            await conn.execute(
                "INSERT INTO events (event_id, type, version, occurred_at, correlation_id, data)"
                " VALUES ($1, $2, 1, now(), 'c', $3::jsonb)",
                uuid.uuid4(), kind, json.dumps({**data, "send_id": str(send_id), "prospect_id": str(prospect_id)}),
            )  # fmt: skip
            payload = {"detail": {"mail": {"messageId": "m-1", "destination": [JANE],
                                           "tags": {"prospect_id": [str(prospect_id)]}}}}  # fmt: skip
            await conn.execute(
                "INSERT INTO ses_events_raw (eventbridge_id, dedupe_key, detail_type, ses_message_id, matched,"
                " payload) VALUES ($1, $2, 'x', 'm-1', $3, $4::jsonb)",
                f"eb-{i}", f"m-1|{kind}|{JANE.lower()}|2026-11-01T10:0{i}:00+00:00", i == 0, json.dumps(payload),
            )  # fmt: skip
        expected = [
            upcast_ses_v1({"type": t, "version": 1, "data": json.loads(r)})["data"]
            for t, r in await conn.fetch("SELECT type, data::text FROM events ORDER BY position")
        ]
    finally:
        await conn.close()

    await prepare_database(older_database)

    conn = await asyncpg.connect(older_database)
    try:
        rows = await conn.fetch("SELECT type, version, data::text AS data FROM events ORDER BY position")
        assert [r["version"] for r in rows] == [2, 2]
        assert [json.loads(r["data"]) for r in rows] == expected, "SQL and Python upcast alike"
        for row in rows:
            assert "jane.roe" not in row["data"].lower() and "203.0.113.7" not in row["data"]
            parse_event({"event_id": str(uuid.uuid4()), "type": row["type"], "version": 2,
                         "occurred_at": "2026-11-01T10:00:00Z", "correlation_id": "c",
                         "data": json.loads(row["data"])})  # fmt: skip
        raw = await conn.fetch("SELECT dedupe_key, prospect_id FROM ses_events_raw ORDER BY eventbridge_id")
        assert [r["prospect_id"] for r in raw] == [prospect_id, prospect_id], "backfilled for erasure"
        assert all("jane" not in r["dedupe_key"].lower() for r in raw)
        assert raw[0]["dedupe_key"] == "m-1|ses.bounce|2026-11-01T10:00:00+00:00"
        assert await conn.fetchval("SELECT error_message FROM email_sends") == "refused: <address>"
        assert "jane" not in (await conn.fetchval("SELECT status_reason FROM email_campaigns")).lower()
        assert "email_hash" not in {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'unsubscribes'")}  # fmt: skip
    finally:
        await conn.close()


async def test_the_first_key_rekeys_every_hash_and_keeps_every_suppression(older_database):
    """Bare sha256 hashes become HMACs under the key; a suppression whose address nobody knows
    any more (erased before) stays checked, and moves under the key when the address returns."""
    kept, erased = "kept@example.com", "Erased.Before@Example.com"
    conn = await asyncpg.connect(older_database)
    try:
        await conn.execute(
            "INSERT INTO prospects (email, email_hash, status) VALUES ($1, $2, 'unsubscribed')", kept,
            legacy_email_hash(kept),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO suppressions (email_hash, reason) VALUES ($1, 'unsubscribed'), ($2, 'complained')",
            legacy_email_hash(kept), legacy_email_hash(erased),
        )  # fmt: skip
    finally:
        await conn.close()
    await prepare_database(older_database)

    async with db.pool_context(older_database) as pool:
        assert await prospect.adopt_suppression_key(pool, ADDRESS_KEY) is True
        assert await prospect.adopt_suppression_key(pool, ADDRESS_KEY) is False, "once"
        assert await pool.fetchval("SELECT fingerprint FROM suppression_key") == key_fingerprint(ADDRESS_KEY)
        assert await pool.fetchval("SELECT email_hash FROM prospects") == email_hash(kept, ADDRESS_KEY)
        suppressed = {r["email_hash"]: r["reason"] for r in await pool.fetch("SELECT * FROM suppressions")}
        assert suppressed == {email_hash(kept, ADDRESS_KEY): "unsubscribed"}
        legacy = await pool.fetch("SELECT sha256, reason FROM legacy_suppressions")
        assert [(r["sha256"], r["reason"]) for r in legacy] == [(hashlib.sha256(erased.lower().encode()).digest(),
                                                                  "complained")]  # fmt: skip

        with pytest.raises(prospect.WrongSuppressionKey):
            await prospect.adopt_suppression_key(pool, b"another-key-0123456789-0123456789")

        async with pool.acquire() as conn, conn.transaction():
            back = await prospect.insert(conn, {"email": "erased.before@example.com"}, ADDRESS_KEY)
        assert back["status"] == "complained", "an address erased before the key is still suppressed"
        assert await pool.fetchval("SELECT count(*) FROM legacy_suppressions") == 0
        assert (
            await pool.fetchval(
                "SELECT reason FROM suppressions WHERE email_hash = $1", email_hash(erased, ADDRESS_KEY)
            )
            == "complained"
        )
