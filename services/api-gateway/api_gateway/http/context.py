"""What the views take from the app and the request."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from api_gateway.auth import actor
from api_gateway.campaigns import CampaignRules
from api_gateway.settings import GatewaySettings
from shared.http import DB_POOL, REQUEST_ID


def pool(request: web.Request) -> asyncpg.Pool:
    return request.app[DB_POOL]


GATEWAY_SETTINGS = web.AppKey("gateway_settings", GatewaySettings)


def settings(request: web.Request) -> GatewaySettings:
    return request.app[GATEWAY_SETTINGS]


def rules(request: web.Request) -> CampaignRules:
    config = settings(request)
    return CampaignRules(
        ses_from_email=config.ses_from_email, public_base_url=str(config.public_base_url),
        sender_lease_seconds=config.sender_lease_seconds, message_id_domain=config.message_id_domain,
        postal_address=config.sender_postal_address,
    )  # fmt: skip


def who(request: web.Request) -> dict[str, str]:
    """The acting admin and the request's correlation id, for the events a change appends."""
    return {"actor": actor(request), "correlation_id": request[REQUEST_ID]}
