"""RS256 and ES256 admin tokens verified against an identity provider's JWKS, served here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.harness.gateway import JWT_SECRET, gateway, token

pytestmark = pytest.mark.integration

ISSUER = "https://idp.example.com/auth/v1"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: object

    def jwk(self) -> dict:
        public = self.private.public_key()  # type: ignore[attr-defined]
        maker = jwt.algorithms.RSAAlgorithm if self.algorithm == "RS256" else jwt.algorithms.ECAlgorithm
        return {**json.loads(maker.to_jwk(public)), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def sign(self, *, kid: str | None = None, lifetime: int = 3600, **claims) -> str:
        now = int(time.time())
        payload = {"sub": "idp-user", "email": "idp@example.com", "aud": "authenticated", "iss": ISSUER,
                   "iat": now, "exp": now + lifetime, "app_metadata": {"role": "admin"}, **claims}  # fmt: skip
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid})


def rsa_key() -> SigningKey:
    return SigningKey(f"rsa-{uuid.uuid4().hex[:6]}", "RS256", rsa.generate_private_key(65537, 2048))


def ec_key() -> SigningKey:
    return SigningKey(f"ec-{uuid.uuid4().hex[:6]}", "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class IdentityProvider:
    keys: list[SigningKey]
    fetches: int = 0
    down: bool = False
    url: str = field(default="")


@pytest.fixture
async def idp() -> AsyncIterator[IdentityProvider]:
    provider = IdentityProvider(keys=[rsa_key(), ec_key()])

    async def jwks(_: web.Request) -> web.Response:
        provider.fetches += 1
        if provider.down:
            return web.Response(status=503)
        return web.json_response({"keys": [key.jwk() for key in provider.keys]})

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    provider.url = str(server.make_url("/.well-known/jwks.json"))
    yield provider
    await server.close()


def hmac_signed(header: dict, claims: dict, secret: bytes) -> str:
    """Built by hand: PyJWT itself refuses a public key as an HMAC secret."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    return f"{signing_input}.{part(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
async def client(gateway_db, amqp_url, idp):
    async with gateway(gateway_db, amqp_url, admin_jwks_url=idp.url, admin_jwt_issuer=ISSUER) as test_client:
        yield test_client


async def status(client, value: str) -> tuple[int, str]:
    response = await client.get("/api/campaigns", headers=bearer(value))
    return response.status, (await response.text())


async def test_rs256_and_es256_tokens_from_the_jwks_are_accepted(client, idp):
    for key in idp.keys:
        assert (await status(client, key.sign()))[0] == 200, key.algorithm
    assert idp.fetches == 1, "the keys are cached"


async def test_hs256_tokens_still_work_beside_the_jwks(client):
    assert (await status(client, token(iss=ISSUER)))[0] == 200


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example.com"}, "issuer"),
        ({"iss": None}, "issuer"),
        ({"lifetime": 86_401}, "lives longer"),
        ({"iat": None}, "invalid"),
        ({"app_metadata": {"role": "user"}}, "not an admin"),
    ],
)
async def test_a_jwks_token_with_a_wrong_claim_is_refused(client, idp, claims, reason):
    code, body = await status(client, idp.keys[0].sign(**claims))
    assert code in (401, 403) and reason in body


async def test_a_hs256_token_of_another_issuer_is_refused_once_one_is_configured(client):
    code, body = await status(client, token(iss="https://elsewhere.example.com"))
    assert code == 401 and "issuer" in body


async def test_a_key_the_provider_does_not_publish_is_refused(client):
    code, body = await status(client, rsa_key().sign())
    assert code == 401 and "does not publish" in body


async def test_no_algorithm_confusion(client, idp):
    """The RSA public key as an HS256 secret, an RS256 header on an EC key, or alg none: refused."""
    pem = (
        idp.keys[0]
        .private.public_key()
        .public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    claims = {"aud": "authenticated", "iss": ISSUER, "iat": int(time.time()), "exp": int(time.time()) + 60,
              "app_metadata": {"role": "admin"}}  # fmt: skip
    confused = hmac_signed({"alg": "HS256", "typ": "JWT", "kid": idp.keys[0].kid}, claims, pem)
    assert (await status(client, confused))[0] == 401
    ec_as_rsa = idp.keys[1].sign(kid=idp.keys[0].kid)  # ES256-signed, naming the RSA key
    assert (await status(client, ec_as_rsa))[0] == 401
    assert (await status(client, token(secret=JWT_SECRET, algorithm="HS512")))[0] == 401


async def test_a_rotated_key_is_fetched_once_and_made_up_ids_do_not_refetch(gateway_db, amqp_url, idp):
    async with gateway(
        gateway_db, amqp_url, admin_jwks_url=idp.url, admin_jwks_min_refresh_seconds=0
    ) as fast:
        assert (await status(fast, idp.keys[0].sign()))[0] == 200
        new = rsa_key()
        idp.keys.append(new)
        assert (await status(fast, new.sign()))[0] == 200
        assert idp.fetches == 2
    async with gateway(gateway_db, amqp_url, admin_jwks_url=idp.url) as slow:
        assert (await status(slow, idp.keys[0].sign()))[0] == 200
        before = idp.fetches
        for n in range(5):
            assert (await status(slow, idp.keys[0].sign(kid=f"made-up-{n}")))[0] == 401
        assert idp.fetches - before <= 1, "at most one fetch per refresh interval"


async def test_an_unreachable_provider_is_a_503_not_a_401(gateway_db, amqp_url, idp):
    idp.down = True
    async with gateway(gateway_db, amqp_url, admin_jwks_url=idp.url) as client:
        response = await client.get("/api/campaigns", headers=bearer(idp.keys[0].sign()))
        assert response.status == 503 and response.headers["Retry-After"] == "5"
        assert (await status(client, token()))[0] == 200, "HS256 does not need the provider"
