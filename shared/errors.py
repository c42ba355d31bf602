"""Errors with a meaning the HTTP layer maps to one JSON error shape.

Domain code raises NotFound / Conflict / Invalid (no HTTP in sight); the app
factory's middleware renders them, and ApiError for HTTP-only cases (401,
403, 413, 415, 429), as {"error": {"code", "message", "details"}}.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details


class NotFound(DomainError):
    default_code = "not_found"


class Conflict(DomainError):
    default_code = "conflict"


class Invalid(DomainError):
    default_code = "invalid"


class TooLarge(DomainError):
    default_code = "payload_too_large"


class ApiError(Exception):
    """A client-visible HTTP error with its status."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


STATUS_OF: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 400,
    TooLarge: 413,
}
