"""Fitness tests: the rules of docs/architecture.md, checked on the source tree.

- shared/ imports no service and no entry point; a service imports no other service.
- Every table is written (INSERT, UPDATE, DELETE, TRUNCATE, COPY, append_events) only by
  the module the ownership matrix in docs/architecture.md names; the matrix covers every
  table the migrations create.
- A gateway route is guarded by exactly the auth its row in the route table declares (the
  OpenAPI document shows the same), and no route is served outside the table unless it is
  one of the few public ones.
- The campaign stat names exist once: the response schema and the projector follow them.

Fast and without services: the source is parsed, the gateway app is built but not started.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api_gateway.admins import issue_token
from api_gateway.auth import ROUTE_AUTH, AuthConfig, auth_middleware
from api_gateway.openapi import build_spec
from api_gateway.routes import ROUTES, register
from api_gateway.schemas import CampaignStats
from projector.policy import FACT_COUNTERS
from shared.campaign_stats import STAT_NAMES
from shared.http import request_context_middleware
from shared.ratelimit import RateLimiter

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {init.parent.name: init.parent for init in ROOT.glob("services/*/*/__init__.py")}
ENTRY_POINTS = {"ops"}
# Source that runs in production: tests, benchmarks and migrations aside.
PRODUCTION_DIRS = ("shared", "ops", "services", "infra")


def python_files(*dirs: str) -> Iterator[Path]:
    for name in dirs:
        yield from sorted((ROOT / name).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a file imports, function-local imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_common_library_imports_no_service_and_no_entry_point():
    forbidden = set(SERVICES) | ENTRY_POINTS
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & forbidden)
        for path in python_files("shared")
        if imported_packages(path) & forbidden
    }
    assert offenders == {}, "shared/ is a library every service imports; it may not know them"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_imports_no_other_service(service):
    others = (set(SERVICES) - {service}) | ENTRY_POINTS
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & others)
        for path in SERVICES[service].rglob("*.py")
        if imported_packages(path) & others
    }
    assert offenders == {}, "services meet through events and the tables each owns, not imports"


# ------------------------------------------------------------------ who writes which table

MATRIX_ROW = re.compile(
    r"^\|\s*`(?P<table>[a-z_]+)`\s*\|\s*`(?P<owner>[\w/.-]+\.py)`(?:\s*\(erasure:\s*`(?P<eraser>[\w/.-]+\.py)`\))?\s*\|",
    re.MULTILINE,
)
# Upper case only: SQL here is written in capitals, prose in lower case.
WRITE = re.compile(
    r"(?P<verb>INSERT\s+INTO|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|(?<!DO )(?<!FOR )(?<!KEY )UPDATE)"
    r"\s+(?:ONLY\s+)?(?P<tables>\{\}|[a-z_][a-z0-9_]*(?:\s*,\s*[a-z_][a-z0-9_]*)*)"
)
# SQL functions that write a table (infra/migrations): calling one is writing it.
WRITING_FUNCTIONS = {"append_events": "events"}
TEMP_TABLE = re.compile(r"CREATE\s+TEMP(?:ORARY)?\s+TABLE\s+([a-z_][a-z0-9_]*)")


def ownership_matrix() -> dict[str, str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    return {m["table"]: m["owner"] for m in MATRIX_ROW.finditer(text)}


def erasers() -> dict[str, str]:
    """Tables a person's erasure also deletes from, and the module that does it."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    return {m["table"]: m["eraser"] for m in MATRIX_ROW.finditer(text) if m["eraser"]}


def string_literals(tree: ast.AST) -> Iterator[str]:
    """Every string in the code, an f-string with `{}` where it interpolates."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.JoinedStr):
            yield "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)


def tables_written(path: Path) -> set[str]:
    """The tables a file's SQL writes ("{}" for one whose name is interpolated)."""
    tree = ast.parse(path.read_text(), str(path))
    written: set[str] = set()
    temporary: set[str] = set()
    for text in string_literals(tree):
        temporary.update(TEMP_TABLE.findall(text))
        for match in WRITE.finditer(text):
            written.update(name.strip() for name in match["tables"].split(","))
        # A call with arguments (prose names the function with empty parentheses).
        written.update(
            t for function, t in WRITING_FUNCTIONS.items() if re.search(rf"{function}\((?!\))", text)
        )
    for node in ast.walk(tree):  # asyncpg's COPY into a table
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "").startswith("copy_") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                written.add(first.value)
    return written - temporary


def created_tables() -> set[str]:
    sql = " ".join(path.read_text() for path in (ROOT / "infra" / "migrations").glob("*.sql"))
    sql += (ROOT / "shared" / "migrations.py").read_text()
    return set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)", sql))


def test_the_ownership_matrix_names_every_table_and_existing_modules():
    matrix = ownership_matrix()
    assert set(matrix) == created_tables()
    for owner in set(matrix.values()):
        assert (ROOT / owner).is_file(), f"the matrix names {owner}, which does not exist"


def test_every_table_is_written_only_by_its_owning_module():
    matrix, erasing = ownership_matrix(), erasers()
    strays: dict[str, list[str]] = {}
    for path in python_files(*PRODUCTION_DIRS):
        module = str(path.relative_to(ROOT))
        for table in tables_written(path):
            if table == "{}":
                strays.setdefault(module, []).append("a table whose name is interpolated")
            elif matrix.get(table) != module and erasing.get(table) != module:
                strays.setdefault(module, []).append(f"{table} (owned by {matrix.get(table, 'nobody')})")
    assert strays == {}, "a table has one writing module: call it, or change the matrix on purpose"


def test_the_write_scanner_sees_each_kind_of_write(tmp_path):
    """The scanner itself: each kind of statement is seen, reads and prose are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        'A = "INSERT INTO alpha (x) VALUES (1) ON CONFLICT (x) DO UPDATE SET x = 1"\n'
        'B = """UPDATE beta SET y = 2"""\n'
        'C = f"DELETE FROM gamma WHERE id = {1}"\n'
        'D = "TRUNCATE delta, epsilon"\n'
        'E = "SELECT append_events($1)"\n'
        'F = f"UPDATE {table} SET z = 3"\n'
        'G = "SELECT * FROM zeta FOR UPDATE SKIP LOCKED"\n'
        'H = "to update the rows, insert into them"\n'
        'I = "CREATE TEMP TABLE staging (x int)"\n'
        'J = "INSERT INTO staging SELECT 1"\n'
        "conn.copy_records_to_table('eta', records=[])\n"
    )
    assert tables_written(sample) == {"alpha", "beta", "gamma", "delta", "epsilon", "events", "{}", "eta"}


# ------------------------------------------------------------------ route auth

PUBLIC = {
    (method, path)
    for method in ("GET", "HEAD")
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/openapi.json",
        "/admin",
        "/admin/",
        "/admin/{filename}",
    )
}
CONFIG = AuthConfig(
    jwt_secret="j" * 32, proxy_secret="p" * 32, audience="authenticated", role_claim="app_metadata.role",
    role_value="admin", leeway_seconds=0,
)  # fmt: skip


def test_every_gateway_route_outside_the_table_is_a_public_one():
    from api_gateway.app import create_app
    from api_gateway.settings import GatewaySettings

    settings = GatewaySettings(
        proxy_shared_secret="p" * 32, admin_jwt_secret="j" * 32, suppression_hash_key="k" * 32,
        ses_from_email="outreach@example.com",
        public_base_url="https://links.example.com",
    )  # fmt: skip
    app = create_app(settings)
    declared = app[ROUTE_AUTH]
    assert {(r.method, r.path) for r in ROUTES} == {(r.method, r.resource.canonical) for r in declared}
    undeclared = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route not in declared and route.resource is not None
    }
    assert undeclared <= PUBLIC, f"routes served without a declared auth: {undeclared - PUBLIC}"


def test_the_openapi_document_shows_the_declared_auth():
    paths = build_spec()["paths"]
    expected = {"admin": [{"adminJwt": []}, {"proxySecret": []}], "proxy": [{"proxySecret": []}], "none": []}
    for route in ROUTES:
        operation = paths[route.path][route.method.lower()]
        assert operation.get("security", []) == expected[route.auth], route.path


@pytest.fixture
async def guarded_client() -> AsyncIterator[TestClient]:
    """The gateway's routes behind its middleware, without a database: a request that
    passes the guard reaches a view that fails for want of one (not a 401/403)."""

    class Lookups:
        limiter = RateLimiter(1000, 60, 0)

        async def token_version(self, request: web.Request, admin_id: uuid.UUID) -> int:
            return 1  # admin_token()'s version

        async def api_key(self, request: web.Request, key: str) -> None:
            return None

        def failures(self, request: web.Request) -> RateLimiter:
            return self.limiter

        def client(self, request: web.Request) -> str:
            return "127.0.0.1"

    app = web.Application(middlewares=[request_context_middleware, auth_middleware(CONFIG, Lookups())])
    register(app)
    async with TestClient(TestServer(app)) as client:
        yield client


def concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "0190a0a0-0000-7000-8000-000000000000", path)


def admin_token() -> str:
    """Made when used: a token made at import could expire before a slow run reaches the test."""
    return issue_token(uuid.uuid4(), "admin@example.com", CONFIG, timedelta(minutes=5)).token


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_the_middleware_enforces_exactly_the_declared_auth(guarded_client, route):
    async def status(headers: dict[str, str]) -> int:
        response = await guarded_client.request(route.method, concrete(route.path), headers=headers)
        return response.status

    anonymous = await status({})
    as_admin = await status({"Authorization": f"Bearer {admin_token()}"})
    as_proxy = await status({"X-Proxy-Secret": CONFIG.proxy_secret})
    enforced = (anonymous == 401, as_admin == 401, as_proxy == 401)
    assert enforced == {"none": (False, False, False), "admin": (True, False, False),
                        "proxy": (True, True, False)}[route.auth]  # fmt: skip


# ------------------------------------------------------------------ one list of stat names


def test_the_stat_names_are_one_list():
    assert tuple(CampaignStats.model_fields) == ("eligible", "follow_ups_left", *STAT_NAMES, "steps")
    assert sorted(FACT_COUNTERS.values()) == sorted(STAT_NAMES)
