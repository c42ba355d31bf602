from aiohttp import web

from sender.settings import SenderSettings
from shared.http import create_base_app

SERVICE = "sender"


def create_app(settings: SenderSettings) -> web.Application:
    return create_base_app(settings, service=SERVICE, outbox_relay=True)
