from typing import ClassVar

from pydantic import AnyHttpUrl, Field, SecretStr

from shared.lifecycle.campaign import LEASE_SECONDS
from shared.settings import MIN_SECRET_LENGTH, MessageIdentity, SesAccess, Settings, WarmupRamp


class GatewaySettings(Settings, MessageIdentity, SesAccess, WarmupRamp):
    https_in_production: ClassVar[dict[str, str]] = {
        **Settings.https_in_production,
        "admin_jwks_url": "keys fetched over plain http could be swapped on the way",
    }
    gateway_port: int = 8080
    proxy_shared_secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
    admin_jwt_secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
    # The key of the address hash (HMAC-SHA256) that prospects are unique by and that
    # suppressions outlive erasure by. Adopted at the first start; it cannot change after.
    suppression_hash_key: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
    # Supabase access tokens: aud "authenticated", the role in app_metadata.role.
    admin_jwt_audience: str = "authenticated"
    admin_role_claim: str = "app_metadata.role"
    admin_role_value: str = "admin"
    admin_jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # An identity provider that signs with asymmetric keys (RS256, ES256) publishes them here.
    admin_jwks_url: AnyHttpUrl | None = None
    # An unknown key id fetches the keys again, at most this often.
    admin_jwks_min_refresh_seconds: float = Field(default=30.0, ge=0)
    # When set, an identity provider's tokens must carry this `iss`.
    admin_jwt_issuer: str | None = None
    # No admin token is accepted that lives longer than this (exp - iat).
    admin_token_max_seconds: int = Field(default=86_400, ge=60)
    # Tokens from POST /api/auth/login: short-lived; the admin signs in again.
    admin_token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    login_rate_limit: int = Field(default=10, ge=1)
    login_rate_window_seconds: int = Field(default=60, ge=1)
    login_block_seconds: int = Field(default=300, ge=0)
    # Failed sign-ins per account, from any address (a spread-out guess at one password).
    login_account_rate_limit: int = Field(default=10, ge=1)
    login_account_window_seconds: int = Field(default=900, ge=1)
    # argon2 takes 64 MiB and tens of ms a check: at most this many at once, and this many
    # more waiting; past that a sign-in answers 503 with Retry-After.
    login_max_concurrent_hashes: int = Field(default=4, ge=1, le=64)
    login_max_waiting_hashes: int = Field(default=16, ge=0)
    # X-Forwarded-For is believed only from these addresses or networks (comma-separated).
    trusted_proxies: str = ""
    # A sending campaign with no sender lease taken for this long, and no claim, lost its
    # work: Send asks for it again (the sender's watch does the same).
    sender_lease_seconds: float = Field(default=LEASE_SECONDS, gt=0)
    # The import streams (memory is flat in the file's size: docs/benchmarks.md), so the
    # limit is about how long one request may run: 1 GiB holds several million rows.
    import_max_bytes: int = Field(default=1024**3, ge=1024)
    json_max_bytes: int = Field(default=1024**2, ge=1024)

    @property
    def address_key(self) -> bytes:
        """SUPPRESSION_HASH_KEY as the HMAC key."""
        return self.suppression_hash_key.get_secret_value().encode("utf-8")
