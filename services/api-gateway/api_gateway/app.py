from collections.abc import AsyncIterator

from aiohttp import web

from api_gateway import routes
from api_gateway.auth import AUTH_CONFIG, AuthConfig, auth_middleware
from api_gateway.http import admin_ui
from api_gateway.http.context import GATEWAY_SETTINGS
from api_gateway.http.credentials import DatabaseLookups
from api_gateway.http.sessions import install_login_limits
from api_gateway.jwks import JwksKeys
from api_gateway.openapi import SPEC, build_spec, openapi_json
from api_gateway.settings import GatewaySettings
from shared.http import DB_POOL, create_base_app
from shared.lifecycle.prospect import WrongSuppressionKey, adopt_suppression_key
from shared.logging import get_logger
from shared.settings import ConfigError

SERVICE = "api-gateway"
log = get_logger(__name__)


def auth_config(settings: GatewaySettings) -> AuthConfig:
    return AuthConfig(
        jwt_secret=settings.admin_jwt_secret.get_secret_value(),
        proxy_secret=settings.proxy_shared_secret.get_secret_value(),
        audience=settings.admin_jwt_audience,
        role_claim=settings.admin_role_claim,
        role_value=settings.admin_role_value,
        leeway_seconds=settings.admin_jwt_leeway_seconds,
        issuer=settings.admin_jwt_issuer,
        max_lifetime_seconds=settings.admin_token_max_seconds,
        keys=JwksKeys(
            str(settings.admin_jwks_url), min_refresh_seconds=settings.admin_jwks_min_refresh_seconds
        )
        if settings.admin_jwks_url
        else None,
    )


async def _adopt_suppression_key(app: web.Application) -> AsyncIterator[None]:
    try:
        if await adopt_suppression_key(app[DB_POOL], app[GATEWAY_SETTINGS].address_key):
            log.info("suppression key adopted: the stored address hashes are keyed with it")
    except WrongSuppressionKey as exc:
        raise ConfigError(f"{SERVICE}: {exc}") from None
    yield


async def _close_keys(app: web.Application) -> None:
    if (keys := app[AUTH_CONFIG].keys) is not None:
        await keys.close()


def create_app(settings: GatewaySettings) -> web.Application:
    app = create_base_app(
        settings, service=SERVICE, outbox_relay=True, client_max_size=settings.json_max_bytes
    )
    app[GATEWAY_SETTINGS] = settings
    app[AUTH_CONFIG] = auth_config(settings)
    app.cleanup_ctx.append(_adopt_suppression_key)
    app.on_cleanup.append(_close_keys)
    app.middlewares.append(auth_middleware(app[AUTH_CONFIG], DatabaseLookups()))
    install_login_limits(app, settings)
    routes.register(app)
    admin_ui.register(app)
    app[SPEC] = build_spec()
    app.router.add_get("/api/openapi.json", openapi_json)
    return app
