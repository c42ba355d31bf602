from aiohttp import web

from event_ingest.settings import EventIngestSettings
from shared.http import create_base_app

SERVICE = "event-ingest"


def create_app(settings: EventIngestSettings) -> web.Application:
    return create_base_app(settings, service=SERVICE, outbox_relay=True)
