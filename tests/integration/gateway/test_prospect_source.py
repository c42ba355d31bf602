"""Where each prospect came from (its source) and the lawful basis for contacting them:
recorded at import and creation, kept through updates, shown and filtered on."""

from __future__ import annotations

import json
import uuid

import aiohttp
import pytest

from tests.harness.gateway import ADMIN

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def import_file(client, body: str, **query: str) -> dict:
    response = await client.post(
        "/api/prospects/import",
        data=body.encode(),
        params=query,
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def find(client, email: str) -> dict:
    rule = json.dumps({"field": "email_domain", "op": "eq", "value": email.split("@")[1]})
    listed = await (await client.get("/api/prospects", params={"rule": rule}, headers=ADMIN)).json()
    [found] = [p for p in listed["items"] if p["email"] == email]
    return found


async def test_an_import_records_its_source_on_new_prospects_and_keeps_theirs_on_existing_ones(client):
    domain = f"{unique('src')}.example"
    first = f"a@{domain}"
    report = await import_file(
        client, f"email,first_name\n{first},Ann\n", file_name="fair-2026.csv", note="Met at the Lisbon fair",
        lawful_basis="legitimate_interests",
    )  # fmt: skip
    assert report["inserted"] == 1
    ann = await find(client, first)
    assert ann["source"] == {
        "via": "import",
        "file": "fair-2026.csv",
        "note": "Met at the Lisbon fair",
        "by": "admin@example.com",
    }
    assert ann["lawful_basis"] == "legitimate_interests"

    # A later file updates the row but not where it came from, nor (when it gives none) its basis.
    report = await import_file(client, f"email,first_name,company\n{first},Ann,Initech\nb@{domain},Bo,X\n",
                               file_name="crm-export.csv")  # fmt: skip
    assert (report["inserted"], report["updated"]) == (1, 1)
    ann = await find(client, first)
    assert ann["company"] == "Initech"
    assert ann["source"]["file"] == "fair-2026.csv" and ann["lawful_basis"] == "legitimate_interests"
    bo = await find(client, f"b@{domain}")
    assert bo["source"] == {"via": "import", "file": "crm-export.csv", "by": "admin@example.com"}
    assert bo["lawful_basis"] is None

    # A basis given by a file is set on every row of it, and counts as a change.
    report = await import_file(client, f"email\n{first}\nb@{domain}\n", lawful_basis="consent")
    assert (report["inserted"], report["updated"], report["unchanged"]) == (0, 2, 0)
    assert {(await find(client, e))["lawful_basis"] for e in (first, f"b@{domain}")} == {"consent"}
    assert (await find(client, first))["source"]["file"] == "fair-2026.csv"


async def test_a_multipart_import_records_the_parts_file_name(client):
    email = f"{unique('form')}@example.com"
    form = aiohttp.FormData()
    form.add_field(
        "file", f"email\n{email}\n".encode(), filename="from-the-form.csv", content_type="text/csv"
    )
    response = await client.post("/api/prospects/import", data=form, headers=ADMIN)
    assert response.status == 200, await response.text()
    assert (await find(client, email))["source"]["file"] == "from-the-form.csv"


async def test_a_prospect_added_through_the_api_records_it_and_an_edit_keeps_the_source(client):
    email = f"{unique('api')}@example.com"
    body = {"email": email, "source_note": "Asked for a demo by phone", "lawful_basis": "consent"}
    created = await client.post("/api/prospects", json=body, headers=ADMIN)
    assert created.status == 201, await created.text()
    prospect = await created.json()
    assert prospect["source"] == {
        "via": "api",
        "note": "Asked for a demo by phone",
        "by": "admin@example.com",
    }
    edited = await client.patch(
        f"/api/prospects/{prospect['id']}", json={"lawful_basis": "contract"}, headers=ADMIN
    )
    assert edited.status == 200, await edited.text()
    assert (await edited.json())["lawful_basis"] == "contract"
    assert (await edited.json())["source"] == prospect["source"]
    cleared = await client.patch(
        f"/api/prospects/{prospect['id']}", json={"lawful_basis": None}, headers=ADMIN
    )
    assert (await cleared.json())["lawful_basis"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/prospects", {"email": "x@example.com", "lawful_basis": "because"}, "lawful_basis"),
        ("POST", "/api/prospects", {"email": "x@example.com", "source_note": "x" * 501}, "source_note"),
        ("PATCH", "/api/prospects/{id}", {"source": {"via": "api"}}, "source"),  # set at creation only
    ],
)
async def test_a_bad_basis_a_long_note_or_a_new_source_is_refused_with_the_field(
    client, method, path, body, field
):
    created = await (await client.post("/api/prospects", json={"email": f"{unique('bad')}@example.com"},
                                       headers=ADMIN)).json()  # fmt: skip
    response = await client.request(method, path.format(id=created["id"]), json=body, headers=ADMIN)
    assert response.status == 400
    answer = await response.json()
    assert field in json.dumps(answer["error"]), answer


async def test_an_import_with_a_bad_basis_is_400_and_imports_nothing(client):
    email = f"{unique('none')}@example.com"
    headers = {**ADMIN, "Content-Type": "text/csv"}
    response = await client.post(
        "/api/prospects/import",
        data=f"email\n{email}\n".encode(),
        params={"lawful_basis": "because"},
        headers=headers,
    )
    assert response.status == 400
    assert "lawful_basis" in await response.text()
    rule = json.dumps({"field": "email_domain", "op": "eq", "value": "example.com"})
    listed = await (
        await client.get("/api/prospects", params={"rule": rule, "q": email}, headers=ADMIN)
    ).json()
    assert listed["total"] == 0


async def test_segment_rules_filter_on_the_basis_and_the_source(client):
    domain = f"{unique('seg')}.example"
    await import_file(
        client, f"email\na@{domain}\nb@{domain}\n", file_name="webinar-leads.csv", lawful_basis="consent"
    )
    await import_file(client, f"email\nc@{domain}\n", file_name="scraped.csv")
    same_domain = {"field": "email_domain", "op": "eq", "value": domain}

    async def emails(*conditions: dict) -> set[str]:
        rule = json.dumps({"all": [same_domain, *conditions]})
        listed = await (await client.get("/api/prospects", params={"rule": rule}, headers=ADMIN)).json()
        return {p["email"].split("@")[0] for p in listed["items"]}

    assert await emails({"field": "lawful_basis", "op": "eq", "value": "consent"}) == {"a", "b"}
    assert await emails({"field": "lawful_basis", "op": "exists", "value": False}) == {"c"}
    assert await emails({"field": "source.file", "op": "contains", "value": "WEBINAR"}) == {"a", "b"}
    assert await emails({"not": {"field": "source.file", "op": "eq", "value": "webinar-leads.csv"}}) == {"c"}
    bad = await client.get("/api/prospects", params={"rule": json.dumps({"field": "source.email", "op": "eq",
                                                                        "value": "x"})}, headers=ADMIN)  # fmt: skip
    assert bad.status == 400 and "source.file" in await bad.text()
