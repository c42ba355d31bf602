"""API keys: what they look like, what each scope allows, and which scope a route needs.

A key is `ok_` and 43 URL-safe characters (32 random bytes). Scopes are
`<area>:read` and `<area>:write` for prospects, campaigns, replies and account (write
includes read); a route's area and verb come from its path and method, so a new
route gets a scope without anyone remembering to add one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

PREFIX = "ok_"
AREAS = ("prospects", "campaigns", "replies", "account")
SCOPES = tuple(f"{area}:{verb}" for area in AREAS for verb in ("read", "write"))
# Where each area's routes live (longest first is not needed: they do not nest).
# Segments and tags are views of prospects: the prospects scopes cover them.
AREA_OF_PATH = {"/api/prospects": "prospects", "/api/segments": "prospects", "/api/tags": "prospects",
                "/api/fields": "prospects",
                "/api/campaigns": "campaigns", "/api/replies": "replies",
                "/api/ses": "account", "/api/system": "account"}  # fmt: skip


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]

    def allows(self, needed: str | None) -> bool:
        if needed is None:
            return False
        area, verb = needed.split(":")
        return needed in self.scopes or (verb == "read" and f"{area}:write" in self.scopes)


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def scope_for(method: str, path: str) -> str | None:
    """The scope a route needs; None for routes no API key may call (sign-out, internal)."""
    area = next(
        (a for prefix, a in AREA_OF_PATH.items() if path == prefix or path.startswith(prefix + "/")), None
    )
    if area is None:
        return None
    return f"{area}:{'read' if method in ('GET', 'HEAD') else 'write'}"


def parse_scopes(text: str) -> frozenset[str]:
    """`prospects:write,campaigns:read` (or `all`); ValueError naming what is unknown."""
    wanted = {s.strip() for s in text.split(",") if s.strip()}
    if wanted == {"all"}:
        return frozenset(f"{area}:write" for area in AREAS)
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise ValueError(f"unknown scope(s) {', '.join(sorted(unknown)) or '(none given)'}; "
                         f"choose from {', '.join(SCOPES)} or all")  # fmt: skip
    return frozenset(wanted)
