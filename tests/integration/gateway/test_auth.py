"""The auth matrix: admin JWT or proxy secret on every admin route; 401 vs 403."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from tests.harness.gateway import ADMIN, JWT_SECRET, PROXY, PROXY_SECRET, gateway, token

pytestmark = pytest.mark.integration

ADMIN_ROUTES = [
    ("GET", "/api/prospects"),
    ("POST", "/api/prospects"),
    ("GET", "/api/prospects/00000000-0000-0000-0000-000000000000"),
    ("PATCH", "/api/prospects/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/api/prospects/00000000-0000-0000-0000-000000000000"),
    ("POST", "/api/prospects/import"),
    ("GET", "/api/campaigns"),
    ("POST", "/api/campaigns"),
    ("GET", "/api/campaigns/00000000-0000-0000-0000-000000000000"),
    ("PATCH", "/api/campaigns/00000000-0000-0000-0000-000000000000"),
    ("POST", "/api/campaigns/send"),
    ("GET", "/api/campaigns/00000000-0000-0000-0000-000000000000/preview"),
    ("POST", "/internal/campaigns/continue"),
]


def alg_none_token() -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"aud": "authenticated", "exp": 9_999_999_999, "app_metadata": {"role": "admin"}}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_every_admin_route_refuses_anonymous_requests(client, method, path):
    response = await client.request(method, path)
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        (bearer(token(expires_in=-120)), 401, "expired"),
        (bearer(token(audience="someone-else")), 401, "audience"),
        (bearer(alg_none_token()), 401, "invalid"),
        (bearer(token(algorithm="HS512")), 401, "invalid"),
        (bearer(token(secret="another-secret-of-some-length-123")), 401, "invalid"),
        (bearer("not.a.jwt"), 401, "invalid"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "Bearer"),
        ({"X-Proxy-Secret": "x" * len(PROXY_SECRET)}, 401, "proxy secret"),
        ({"X-Proxy-Secret": ""}, 401, "proxy secret"),
        (bearer(token(role="authenticated")), 403, "not an admin"),
        (bearer(token(role=None)), 403, "not an admin"),
    ],
)
async def test_bad_credentials(client, headers, status, reason):
    response = await client.get("/api/prospects", headers=headers)
    assert response.status == status
    assert reason in (await response.json())["error"]["message"]


async def test_a_token_just_past_expiry_is_within_the_leeway(client):
    response = await client.get("/api/prospects", headers=bearer(token(expires_in=-5)))
    assert response.status == 200


async def test_a_token_without_exp_is_refused(client):
    no_exp = jwt.encode(
        {"aud": "authenticated", "app_metadata": {"role": "admin"}}, JWT_SECRET, algorithm="HS256"
    )
    assert (await client.get("/api/prospects", headers=bearer(no_exp))).status == 401


@pytest.mark.parametrize("headers", [ADMIN, PROXY])
async def test_an_admin_token_or_the_proxy_secret_is_let_in(client, headers):
    assert (await client.get("/api/prospects", headers=headers)).status == 200
    assert (await client.get("/api/campaigns", headers=headers)).status == 200


async def test_internal_routes_take_only_the_proxy_secret(client):
    body = {"campaignId": "00000000-0000-0000-0000-000000000000"}
    as_admin = await client.post("/internal/campaigns/continue", json=body, headers=ADMIN)
    assert as_admin.status == 401
    as_proxy = await client.post("/internal/campaigns/continue", json=body, headers=PROXY)
    assert as_proxy.status == 404  # authenticated; the campaign does not exist


async def test_health_and_the_spec_need_no_credentials(client):
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/openapi.json")).status == 200


async def test_the_role_claim_path_is_configurable(gateway_db, amqp_url):
    async with gateway(
        gateway_db, amqp_url, admin_role_claim="user_role", admin_role_value="owner"
    ) as custom:
        owner = bearer(token(role=None, user_role="owner"))
        assert (await custom.get("/api/prospects", headers=owner)).status == 200
        assert (await custom.get("/api/prospects", headers=ADMIN)).status == 403


async def test_the_system_route_says_where_mail_goes(client):
    """The admin app's banner: an admin may read it; nobody else."""
    assert (await client.get("/api/system")).status == 401
    response = await client.get("/api/system", headers=ADMIN)
    assert response.status == 200
    body = await response.json()
    assert body["ses_mode"] == "emulator"
    assert body["mail_goes_to"].startswith("mail goes to the local SES emulator at http://127.0.0.1:4566")
