"""GET /api/openapi.json describes every route, and nothing else."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from api_gateway.openapi import build_spec
from tests.harness.gateway import ADMIN

pytestmark = pytest.mark.integration


def app_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.resource.canonical.startswith("/admin"):
            continue  # /admin is the web app's files, not the API
        found.add((route.method.lower(), route.resource.canonical))
    return found


async def test_the_spec_is_valid_openapi_and_matches_the_router(client):
    spec = await (await client.get("/api/openapi.json")).json()
    validate(spec)
    documented = {(method, path) for path, operations in spec["paths"].items() for method in operations}
    assert documented == app_routes(client.app)


async def test_documented_success_responses_match_what_routes_answer(client):
    """Each route's documented success status is the one it returns for good input."""
    spec = await (await client.get("/api/openapi.json")).json()
    prospect = await (
        await client.post("/api/prospects", json={"email": "spec@example.com"}, headers=ADMIN)
    ).json()
    checks = {
        ("post", "/api/prospects"): await client.post(
            "/api/prospects", json={"email": "spec2@example.com"}, headers=ADMIN
        ),
        ("get", "/api/prospects"): await client.get("/api/prospects", headers=ADMIN),
        ("get", "/api/prospects/{id}"): await client.get(f"/api/prospects/{prospect['id']}", headers=ADMIN),
        ("delete", "/api/prospects/{id}"): await client.delete(
            f"/api/prospects/{prospect['id']}", headers=ADMIN
        ),
    }
    for (method, path), response in checks.items():
        assert str(response.status) in spec["paths"][path][method]["responses"], (method, path)


def test_path_parameters_are_declared():
    spec = build_spec()
    for path, operations in spec["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, path
