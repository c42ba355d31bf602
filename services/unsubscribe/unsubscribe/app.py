from aiohttp import web

from shared.http import create_base_app
from unsubscribe.settings import UnsubscribeSettings

SERVICE = "unsubscribe"


def create_app(settings: UnsubscribeSettings) -> web.Application:
    return create_base_app(settings, service=SERVICE, outbox_relay=True)
