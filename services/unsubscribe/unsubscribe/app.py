from aiohttp import web

from shared.http import create_base_app
from shared.ratelimit import RateLimiter, parse_networks
from unsubscribe.http import LIMITER, TRUSTED, guard, show, submit
from unsubscribe.settings import UnsubscribeSettings

SERVICE = "unsubscribe"


def create_app(settings: UnsubscribeSettings) -> web.Application:
    app = create_base_app(settings, service=SERVICE, outbox_relay=True, client_max_size=64 * 1024)
    app.middlewares.append(guard)
    app[TRUSTED] = parse_networks(settings.trusted_proxies)
    if settings.unsubscribe_rate_limit_enabled:
        app[LIMITER] = RateLimiter(
            settings.unsubscribe_rate_limit,
            settings.unsubscribe_rate_window_seconds,
            settings.unsubscribe_block_seconds,
        )
    app.router.add_get("/api/unsubscribe", show)
    app.router.add_post("/api/unsubscribe", submit)
    return app
