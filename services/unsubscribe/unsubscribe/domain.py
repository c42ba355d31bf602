"""The recipient's side, without I/O: tokens."""

from __future__ import annotations

import re

# The sender's tokens are secrets.token_urlsafe(24): 32 characters of base64url.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def valid_token(token: str | None) -> bool:
    return token is not None and TOKEN.match(token) is not None
