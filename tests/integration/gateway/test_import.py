"""CSV import: an awkward corpus, streaming limits, and the never-re-activate rule."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest

from shared.addresses import email_hash
from shared.lifecycle import prospect as lifecycle
from tests.harness.gateway import ADDRESS_KEY, ADMIN, gateway

pytestmark = pytest.mark.integration


async def upload(client, body: bytes | str, content_type: str = "text/csv"):
    data = body.encode() if isinstance(body, str) else body
    return await client.post(
        "/api/prospects/import", data=data, headers={**ADMIN, "Content-Type": content_type}
    )


async def imported(client, body, **expected):
    response = await upload(client, body)
    assert response.status == 200, await response.text()
    report = await response.json()
    for key, value in expected.items():
        assert report[key] == value, (key, report)
    return report


async def prospect(gw_pool, email: str):
    return await gw_pool.fetchrow(
        "SELECT * FROM prospects WHERE email_hash = $1", email_hash(email, ADDRESS_KEY)
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_bom_crlf_quoted_commas_and_newlines(client, gw_pool):
    tag = unique("q")
    body = (
        "\ufeffEmail,First Name,Company,Notes\r\n"
        f'{tag}-1@example.com,Ann,"Acme, Inc.","line one\r\nline two"\r\n'
        f'{tag}-2@example.com,"Bob ""The Builder""",Bobco,\r\n'
    ).encode()
    await imported(client, body, inserted=2, invalid=0)
    ann = await prospect(gw_pool, f"{tag}-1@example.com")
    assert ann["company"] == "Acme, Inc."
    assert ann["attributes"] == {"notes": "line one\r\nline two"}
    bob = await prospect(gw_pool, f"{tag}-2@example.com")
    assert bob["first_name"] == 'Bob "The Builder"'
    assert bob["attributes"] == {}


async def test_semicolons_blank_lines_and_trailing_empty_columns(client, gw_pool):
    tag = unique("semi")
    body = f"email;last_name;;\n\n{tag}-a@example.com;Smith;;\n\n\n{tag}-b@example.com;Jones\n"
    await imported(client, body, inserted=2, invalid=0)
    assert (await prospect(gw_pool, f"{tag}-b@example.com"))["last_name"] == "Jones"


async def test_invalid_rows_are_reported_with_their_line_and_do_not_stop_valid_ones(client):
    tag = unique("inv")
    body = (
        "email,first_name\n"                      # line 1
        f"{tag}-ok@example.com,Fine\n"            # 2
        "not-an-email,Bad\n"                      # 3
        ",No address\n"                           # 4
        f'"{tag}-multi@example.com","two\nlines"\n'  # 5-6
        f"{tag}-long@example.com,{'x' * 300}\n"   # 7
        f"{tag}-extra@example.com,Extra,surplus\n"  # 8
        f"{tag}-ok2@example.com,Fine too\n"       # 9
    )  # fmt: skip
    report = await imported(client, body, inserted=3, invalid=4)
    assert [(e["line"], e["reason"].split(":")[0]) for e in report["errors"]] == [
        (3, "invalid email address"),
        (4, "no email address"),
        (7, "first_name is longer than 200 characters"),
        (8, "3 fields, but the header has 2"),
    ]


async def test_duplicates_in_the_file_are_merged_the_last_one_winning(client, gw_pool):
    tag = unique("dup")
    body = f"email,company\n{tag}@example.com,First\n{tag.upper()}@EXAMPLE.com,Second\n"
    await imported(client, body, inserted=1, duplicates=1)
    assert (await prospect(gw_pool, f"{tag}@example.com"))["company"] == "Second"


async def test_existing_prospects_are_updated_or_left_unchanged(client, gw_pool):
    tag = unique("upd")
    await imported(client, f"email,company,title\n{tag}-1@example.com,Old,CEO\n{tag}-2@example.com,Same,\n")
    report = await imported(
        client,
        f"email,company,title\n{tag}-1@example.com,New,\n{tag}-2@example.com,Same,\n",
        inserted=0,
    )
    assert (report["updated"], report["unchanged"]) == (1, 1)
    row = await prospect(gw_pool, f"{tag}-1@example.com")
    assert (row["company"], row["title"]) == ("New", "CEO")  # an empty cell never erases


async def test_an_import_never_reactivates_a_suppressed_prospect(client, gw_pool):
    tag = unique("supp")
    await imported(client, f"email\n{tag}-u@example.com\n{tag}-gone@example.com\n")
    for email, status in (
        (f"{tag}-u@example.com", "unsubscribed"),
        (f"{tag}-gone@example.com", "complained"),
    ):
        row = await prospect(gw_pool, email)
        await client.patch(f"/api/prospects/{row['id']}", json={"status": status}, headers=ADMIN)
    gone = await prospect(gw_pool, f"{tag}-gone@example.com")
    await client.delete(f"/api/prospects/{gone['id']}", headers=ADMIN)
    await imported(client, f"email,first_name\n{tag}-u@example.com,Back\n{tag}-gone@example.com,Again\n")
    assert (await prospect(gw_pool, f"{tag}-u@example.com"))["status"] == "unsubscribed"
    assert (await prospect(gw_pool, f"{tag}-gone@example.com"))["status"] == "complained"


async def test_a_header_only_file_imports_nothing(client):
    await imported(client, "email,first_name\r\n", inserted=0, updated=0, unchanged=0, invalid=0)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("first_name,company\nAnn,Acme\n", "missing_email_column"),
        ("", "empty_file"),
        ("\n\n", "empty_file"),
        ("email,Email\na@example.com,b@example.com\n", "duplicate_column"),
        (b"email\n\xff\xfe@example.com\n", "invalid_encoding"),
    ],
)
async def test_file_level_errors_are_400_and_write_nothing(client, gw_pool, body, code):
    before = await gw_pool.fetchval("SELECT count(*) FROM prospects")
    response = await upload(client, body)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == code
    assert await gw_pool.fetchval("SELECT count(*) FROM prospects") == before


async def test_an_oversized_body_is_413_and_writes_nothing(gateway_db, amqp_url, gw_pool):
    tag = unique("big")
    rows = "".join(f"{tag}-{i}@example.com,Name {i}\n" for i in range(3000))
    body = ("email,first_name\n" + rows).encode()
    async with gateway(gateway_db, amqp_url, import_max_bytes=len(body) - 100) as small:
        # Streamed (no Content-Length): the limit trips part-way through the COPY.
        async def chunks():
            for start in range(0, len(body), 8192):
                yield body[start : start + 8192]

        streamed = await small.post(
            "/api/prospects/import", data=chunks(), headers={**ADMIN, "Content-Type": "text/csv"}
        )
        assert streamed.status == 413
        declared = await small.post(
            "/api/prospects/import", data=body, headers={**ADMIN, "Content-Type": "text/csv"}
        )
        assert declared.status == 413
    count = await gw_pool.fetchval("SELECT count(*) FROM prospects WHERE email LIKE $1", f"{tag}-%")
    assert count == 0


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"]
)
async def test_a_non_csv_content_type_is_415(client, gw_pool, content_type):
    """text/plain and urlencoded are what a cross-site form can post: never read as a file."""
    email = f"{unique('csrf')}@example.com"
    response = await upload(client, f"email\n{email}\n", content_type=content_type)
    assert response.status == 415
    assert "text/csv" in (await response.json())["error"]["message"]
    assert await prospect(gw_pool, email) is None


async def test_a_file_in_a_multipart_form_is_imported(client, gw_pool):
    tag = unique("form")
    form = aiohttp.FormData()
    form.add_field("note", "a field before the file is skipped")
    form.add_field("file", f"email,first_name\n{tag}@example.com,Ann\n".encode(), filename="p.csv",
                   content_type="text/csv")  # fmt: skip
    response = await client.post("/api/prospects/import", data=form, headers=ADMIN)
    assert response.status == 200, await response.text()
    assert (await response.json())["inserted"] == 1
    assert (await prospect(gw_pool, f"{tag}@example.com"))["first_name"] == "Ann"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b""),  # no boundary
        ("multipart/form-data; boundary=b",
         b'--b\r\nContent-Disposition: form-data; name="\xc2\xaf\x11G"\r\n\r\nx\r\n--b--\r\n'),
    ],
)  # fmt: skip
async def test_a_malformed_multipart_form_is_a_400(client, content_type, body):
    """Found by schemathesis: both were 500s."""
    response = await client.post(
        "/api/prospects/import", data=body, headers={**ADMIN, "Content-Type": content_type}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "malformed_multipart"


async def test_a_multipart_form_without_a_file_is_a_400(client):
    form = aiohttp.FormData()
    form.add_field("note", "no file here")
    form.add_field("other", b"email\n", filename="p.csv")
    response = await client.post("/api/prospects/import", data=form, headers=ADMIN)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "missing_file"


async def test_record_boundaries_split_across_chunks_are_read_whole(client, gw_pool):
    """Quoted newlines and CRLF pairs that straddle the 256 KB read boundary."""
    tag = unique("chunk")
    filler = "".join(f'{tag}-f{i}@example.com,"note\r\nwith break {i}"\r\n' for i in range(12000))
    body = ("email,notes\r\n" + filler).encode()
    assert len(body) > 2 * 256 * 1024
    report = await imported(client, body, inserted=12000, invalid=0)
    assert report["errors"] == []
    sample = await prospect(gw_pool, f"{tag}-f11999@example.com")
    assert sample["attributes"] == {"notes": "note\r\nwith break 11999"}


async def test_tags_from_the_column_and_the_query_are_added_never_removed(client, gw_pool):
    tag = unique("t")
    first = f"email,tags\n{tag}-1@example.com,Lead; EU\n{tag}-2@example.com,\n"
    response = await client.post(
        "/api/prospects/import", data=first.encode(), params=[("tag", "Batch-A"), ("tag", "batch-a")],
        headers={**ADMIN, "Content-Type": "text/csv"},
    )  # fmt: skip
    assert response.status == 200, await response.text()
    assert (await prospect(gw_pool, f"{tag}-1@example.com"))["tags"] == ["lead", "eu", "batch-a"]
    assert (await prospect(gw_pool, f"{tag}-2@example.com"))["tags"] == ["batch-a"]

    # Again with other tags: added after the prospect's own; none removed; a row that adds
    # nothing new is unchanged.
    await imported(client, f"email,tags\n{tag}-1@example.com,\"vip,eu\"\n{tag}-2@example.com,batch-a\n",
                   inserted=0, updated=1, unchanged=1)  # fmt: skip
    assert (await prospect(gw_pool, f"{tag}-1@example.com"))["tags"] == ["lead", "eu", "batch-a", "vip"]

    # A prospect keeps at most 50: the file's beyond that are not added.
    many = ";".join(f"n{i}" for i in range(48))
    await imported(client, f"email,tags\n{tag}-1@example.com,{many}\n", updated=1)
    kept = (await prospect(gw_pool, f"{tag}-1@example.com"))["tags"]
    assert len(kept) == 50 and kept[:4] == ["lead", "eu", "batch-a", "vip"]


async def test_a_row_with_a_bad_tag_or_too_many_is_refused_with_its_line(client):
    tag = unique("b")
    body = (f"email,tags\n{tag}-1@example.com,{'x' * 65}\n"
            f"{tag}-2@example.com,{';'.join(str(i) for i in range(51))}\n{tag}-3@example.com,fine\n")  # fmt: skip
    report = await imported(client, body, inserted=1, invalid=2)
    assert [e["line"] for e in report["errors"]] == [2, 3]
    assert "tags" in report["errors"][0]["reason"] and "at most 50" in report["errors"][1]["reason"]


async def test_a_bad_import_tag_is_400_and_imports_nothing(client, gw_pool):
    tag = unique("q")
    response = await client.post(
        "/api/prospects/import", data=f"email\n{tag}@example.com\n".encode(), params={"tag": "a;b"},
        headers={**ADMIN, "Content-Type": "text/csv"},
    )  # fmt: skip
    assert response.status == 400
    assert (await response.json())["error"]["details"][0]["field"].startswith("tag")
    assert await prospect(gw_pool, f"{tag}@example.com") is None


async def test_a_file_is_written_in_chunks_and_a_repeat_across_chunks_is_a_duplicate(
    client, gw_pool, monkeypatch
):
    monkeypatch.setattr(lifecycle, "CHUNK_ROWS", 3)
    tag = unique("chunks")
    await imported(client, f"email,company\n{tag}-old@example.com,Before\n", inserted=1)
    lines = [f"{tag}-{i}@example.com,Co {i}" for i in range(7)]
    lines.insert(2, f"{tag}-old@example.com,After")  # an update, in the first chunk
    lines.append(f"{tag}-0@example.com,")  # a repeat two chunks later, empty: the first line's value stays
    lines.append(f"{tag}-1@example.com,Later")  # a repeat with a value: it wins
    lines.append(f"{tag}-old@example.com,After")  # a repeat of the update
    await imported(client, "email,company\n" + "\n".join(lines) + "\n",
                   inserted=7, updated=1, unchanged=0, duplicates=3, invalid=0)  # fmt: skip
    assert (await prospect(gw_pool, f"{tag}-0@example.com"))["company"] == "Co 0"
    assert (await prospect(gw_pool, f"{tag}-1@example.com"))["company"] == "Later"
    assert (await prospect(gw_pool, f"{tag}-old@example.com"))["company"] == "After"
    # One event for the whole file, however many chunks: what the search indexer takes up.
    events = await gw_pool.fetch(
        "SELECT data FROM events WHERE type = 'prospects.imported' AND (data->>'inserted')::int = 7"
    )
    assert [(e["data"]["inserted"], e["data"]["updated"]) for e in events] == [(7, 1)]


async def test_an_address_created_while_the_import_writes_it_is_updated_not_refused(client, gw_pool):
    """The import inserts new addresses with a plain INSERT; one created by another writer
    meanwhile makes that chunk's statement fail on the unique index, and the chunk runs again."""
    tag = unique("race")
    async with gw_pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await lifecycle.insert(other, {"email": f"{tag}-b@example.com", "company": "Theirs"}, ADDRESS_KEY)
        body = f"email,title\n{tag}-a@example.com,CTO\n{tag}-b@example.com,CEO\n"
        importing = asyncio.create_task(upload(client, body))
        # The import's INSERT waits on the other writer's uncommitted row.
        async with asyncio.timeout(20):
            while not await gw_pool.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
            ):
                await asyncio.sleep(0.02)
        await transaction.commit()
    response = await importing
    assert response.status == 200, await response.text()
    report = await response.json()
    assert (report["inserted"], report["updated"]) == (1, 1)
    row = await prospect(gw_pool, f"{tag}-b@example.com")
    assert (row["company"], row["title"]) == ("Theirs", "CEO")
