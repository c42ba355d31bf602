"""Services in the suites connect as their own PostgreSQL roles, as they do deployed
(ops.roles): a grant that is missing fails a test, not a production start."""

from __future__ import annotations

from ops.roles import SERVICE_ROLES, role_dsn


def as_service(database_url: str, service: str) -> str:
    """The test database's DSN as `service`'s role logs in (trust authentication here)."""
    return role_dsn(database_url, SERVICE_ROLES[service])
