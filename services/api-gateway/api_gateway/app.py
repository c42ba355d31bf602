from aiohttp import web

from api_gateway.settings import GatewaySettings
from shared.http import create_base_app

SERVICE = "api-gateway"


def create_app(settings: GatewaySettings) -> web.Application:
    return create_base_app(settings, service=SERVICE, outbox_relay=True)
