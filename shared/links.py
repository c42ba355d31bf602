"""Links the recipient sees: one definition for the sender, the preview and the pages."""

from __future__ import annotations

from urllib.parse import quote

UNSUBSCRIBE_PATH = "/api/unsubscribe"


def unsubscribe_url(public_base_url: str, token: str) -> str:
    return f"{str(public_base_url).rstrip('/')}{UNSUBSCRIBE_PATH}?token={quote(token, safe='')}"
