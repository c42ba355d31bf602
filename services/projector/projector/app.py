from aiohttp import web

from projector.settings import ProjectorSettings
from shared.http import create_base_app

SERVICE = "projector"


def create_app(settings: ProjectorSettings) -> web.Application:
    return create_base_app(settings, service=SERVICE)
