"""Outreach's own admins: sign-in, its token on the admin API, the rate limit, the CLI that creates them."""

from __future__ import annotations

import asyncio
import uuid

import jwt
import pytest

from api_gateway.adapters.admins import upsert
from api_gateway.admins import hash_password
from tests.harness.cli import run_outreach
from tests.harness.gateway import ADMIN, JWT_SECRET, PROXY, gateway

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
async def client(gateway_db, amqp_url):
    """This module signs in many times from one address; the limits have tests of their own."""
    async with gateway(gateway_db, amqp_url, login_rate_limit=1000) as test_client:
        yield test_client


@pytest.fixture
async def admin(gw_pool) -> str:
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    await upsert(gw_pool, email, hash_password(PASSWORD))
    return email


async def login(client, email: str, password: str):
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_sign_in_issues_a_short_lived_admin_token_the_api_accepts(client, admin):
    response = await login(client, admin.upper(), PASSWORD)  # the address in any case
    assert response.status == 200
    body = await response.json()
    assert body["token_type"] == "Bearer" and body["email"] == admin and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"], audience="authenticated")
    assert claims["app_metadata"] == {"role": "admin"} and claims["email"] == admin
    assert claims["exp"] - claims["iat"] == 3600
    listed = await client.get("/api/campaigns", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert listed.status == 200


async def token_of(client, email: str) -> dict[str, str]:
    body = await (await login(client, email, PASSWORD)).json()
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_sign_out_revokes_every_token_of_that_admin_at_once(client, admin, gw_pool):
    this_tab, other_tab = await token_of(client, admin), await token_of(client, admin)
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    await upsert(gw_pool, other, hash_password(PASSWORD))
    someone_else = await token_of(client, other)
    assert (await client.post("/api/auth/logout", headers=this_tab)).status == 204
    for headers in (this_tab, other_tab):
        refused = await client.get("/api/campaigns", headers=headers)
        assert refused.status == 401 and "revoked" in (await refused.json())["error"]["message"]
    assert (await client.get("/api/campaigns", headers=someone_else)).status == 200
    fresh = await token_of(client, admin)  # signing in again works
    assert (await client.get("/api/campaigns", headers=fresh)).status == 200


async def test_a_new_password_revokes_the_tokens_issued_before(client, admin, gw_pool):
    before = await token_of(client, admin)
    await upsert(gw_pool, admin, hash_password(PASSWORD + " again"))
    assert (await client.get("/api/campaigns", headers=before)).status == 401


async def test_a_removed_admins_token_stops_working(client, admin, gw_pool):
    token = await token_of(client, admin)
    await gw_pool.execute("DELETE FROM admin_users WHERE email = $1", admin)
    assert (await client.get("/api/campaigns", headers=token)).status == 401


async def test_tokens_from_elsewhere_cannot_be_signed_out_here(client):
    for headers in (ADMIN, PROXY):
        response = await client.post("/api/auth/logout", headers=headers)
        assert response.status == 400 and (await response.json())["error"]["code"] == "not_revocable"
    assert (await client.get("/api/campaigns", headers=ADMIN)).status == 200


async def test_a_token_from_an_external_identity_provider_still_works(client):
    assert (await client.get("/api/campaigns", headers=ADMIN)).status == 200


async def test_wrong_password_and_unknown_address_get_the_same_answer(client, admin, gw_pool):
    wrong = await login(client, admin, PASSWORD + "!")
    unknown = await login(client, "nobody@example.com", PASSWORD)
    assert wrong.status == unknown.status == 401
    assert (await wrong.json())["error"] == (await unknown.json())["error"]
    assert (await wrong.json())["error"]["code"] == "invalid_credentials"
    last_login = await gw_pool.fetchval("SELECT last_login_at FROM admin_users WHERE email = $1", admin)
    assert last_login is None


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "a@example.com"}, {"email": "a@example.com", "password": ""}, {"email": 1, "password": "x"},
     {"email": "a@example.com", "password": "x", "extra": True}],
)  # fmt: skip
async def test_malformed_sign_in_is_a_400_naming_the_field(client, body):
    response = await client.post("/api/auth/login", json=body)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "validation_failed"


async def test_sign_in_is_rate_limited_per_client(gateway_db, amqp_url, admin):
    async with gateway(gateway_db, amqp_url, login_rate_limit=3, login_block_seconds=120) as limited:
        answers = [(await login(limited, admin, "wrong password")).status for _ in range(3)]
        assert answers == [401, 401, 401]
        blocked = await login(limited, admin, PASSWORD)  # even the right password, while blocked
        assert blocked.status == 429
        assert int(blocked.headers["Retry-After"]) >= 119
        assert (await blocked.json())["error"]["code"] == "too_many_attempts"


async def test_sign_in_is_limited_per_account_from_any_address(gateway_db, amqp_url, gw_pool, admin):
    """Failures spread over many client addresses still lock the account they aim at, and
    only that one; an unknown address is limited alike (the answer says nothing of who exists)."""
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    await upsert(gw_pool, other, hash_password(PASSWORD))
    async with gateway(gateway_db, amqp_url, login_account_rate_limit=3, login_block_seconds=120,
                       trusted_proxies="127.0.0.1") as limited:  # fmt: skip

        async def from_address(n: int, email: str, password: str):
            headers = {"X-Forwarded-For": f"203.0.113.{n}"}
            return await limited.post("/api/auth/login", json={"email": email, "password": password},
                                      headers=headers)  # fmt: skip

        assert [(await from_address(n, admin, "wrong")).status for n in range(3)] == [401, 401, 401]
        blocked = await from_address(99, admin.upper(), PASSWORD)  # a new address, the right password
        assert blocked.status == 429 and int(blocked.headers["Retry-After"]) >= 119
        assert (await from_address(100, other, PASSWORD)).status == 200, "other accounts are untouched"
        assert [(await from_address(n, "nobody@example.com", "x")).status for n in range(4)] == [401] * 3 + [
            429
        ]


async def test_successful_sign_ins_do_not_count_against_the_account(gateway_db, amqp_url, admin):
    async with gateway(gateway_db, amqp_url, login_account_rate_limit=2) as limited:
        assert [(await login(limited, admin, PASSWORD)).status for _ in range(4)] == [200] * 4


async def test_a_flood_of_sign_ins_is_bounded_and_answered_503_past_the_bound(gateway_db, amqp_url, admin):
    async with gateway(gateway_db, amqp_url, login_rate_limit=1000, login_account_rate_limit=1000,
                       login_max_concurrent_hashes=1, login_max_waiting_hashes=1) as limited:  # fmt: skip
        answers = await asyncio.gather(*(login(limited, f"flood-{i}@example.com", "x") for i in range(24)))
        statuses = sorted(response.status for response in answers)
        assert set(statuses) == {401, 503}, statuses
        busy = next(r for r in answers if r.status == 503)
        assert busy.headers["Retry-After"] == "1" and (await busy.json())["error"]["code"] == "busy"
        assert (await login(limited, admin, PASSWORD)).status == 200, "served again once the flood is over"


async def test_the_cli_creates_an_admin_who_can_then_sign_in(client, gateway_db, gw_pool):
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    code, out, err = await run_outreach(
        "create-admin", email, DATABASE_URL=gateway_db, OUTREACH_ADMIN_PASSWORD=PASSWORD
    )
    assert code == 0, err
    assert f"admin {email} created" in out
    stored = await gw_pool.fetchval("SELECT password_hash FROM admin_users WHERE email = $1", email)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert (await login(client, email, PASSWORD)).status == 200
    # Again: a new password for the same admin; a short one is refused.
    code, out, _ = await run_outreach(
        "create-admin", email.upper(), DATABASE_URL=gateway_db, OUTREACH_ADMIN_PASSWORD=PASSWORD + " two"
    )
    assert code == 0 and "given a new password" in out
    assert (await login(client, email, PASSWORD + " two")).status == 200
    code, _, err = await run_outreach(
        "create-admin", email, DATABASE_URL=gateway_db, OUTREACH_ADMIN_PASSWORD="short"
    )
    assert code != 0 and "at least 12 characters" in err
