"""The gateway's own rule: which sender addresses a campaign may use.

How a campaign or a prospect moves between states is shared.lifecycle's, for
every service alike. Pure functions over plain values; no aiohttp, asyncpg or
aio-pika here.
"""

from __future__ import annotations

from shared.errors import Invalid


def check_sender_address(address: str, configured_from: str) -> None:
    """A campaign may send from SES_FROM_EMAIL or another address of its domain."""
    domain = configured_from.rsplit("@", 1)[-1].lower()
    if address.lower() != configured_from.lower() and address.rsplit("@", 1)[-1].lower() != domain:
        raise Invalid(
            f"from_email must be {configured_from} or another address at {domain}.",
            code="invalid_sender",
            details=[{"field": "from_email", "message": f"not an address at {domain}"}],
        )
