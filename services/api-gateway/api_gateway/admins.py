"""Outreach's own admins: argon2id password hashes and the admin JWT they sign in for.

The token is the same kind the gateway accepts from an external identity
provider (HS256 with ADMIN_JWT_SECRET, the configured audience and role
claim), so both kinds of admin go through one check (api_gateway.auth).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api_gateway.auth import OWN_ISSUER, AuthConfig

HASHER = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) defaults
# Verified against when the address is unknown, so that a wrong address costs
# as long as a wrong password and timing does not tell which admins exist.
_DECOY_HASH = HASHER.hash(uuid.uuid4().hex)
MIN_PASSWORD_LENGTH = 12


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return HASHER.hash(password)


def password_matches(password: str, stored_hash: str | None) -> bool:
    """Constant work whether or not there is a stored hash (CPU-heavy: run it off the event loop)."""
    try:
        return HASHER.verify(stored_hash or _DECOY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    expires_in: int


def _nested(path: str, value: Any) -> dict[str, Any]:
    """{"app_metadata": {"role": "admin"}} from "app_metadata.role"."""
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def issue_token(
    admin_id: uuid.UUID, email: str, config: AuthConfig, ttl: timedelta, now: datetime | None = None,
    *, version: int = 1,
) -> IssuedToken:  # fmt: skip
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + ttl
    claims = {
        "sub": str(admin_id), "email": email, "aud": config.audience, "iss": OWN_ISSUER, "ver": version,
        "iat": issued, "exp": expires, **_nested(config.role_claim, config.role_value),
    }  # fmt: skip
    return IssuedToken(
        jwt.encode(claims, config.jwt_secret, algorithm="HS256"), expires, int(ttl.total_seconds())
    )
