"""The common app factory: health, readiness, metrics, JSON errors, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared.errors import ApiError
from shared.http import AMQP, create_base_app
from shared.settings import Settings
from unsubscribe.settings import UnsubscribeSettings

pytestmark = pytest.mark.integration


async def explode(_: web.Request) -> web.Response:
    raise RuntimeError("secret internals")


async def refuse(_: web.Request) -> web.Response:
    raise ApiError(422, "invalid_thing", "The thing is invalid.", {"field": "name"})


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[TestClient]:
    app = create_base_app(settings, service="test-service", outbox_relay=True)
    app.router.add_get("/explode", explode)
    app.router.add_post("/refuse", refuse)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
def settings(database_url, amqp_url) -> Settings:
    return Settings(database_url=database_url, amqp_url=amqp_url, migrate_on_start=True)


async def test_health_and_readiness_with_real_backends(settings):
    async with client_for(settings) as client:
        health = await client.get("/healthz")
        assert health.status == 200
        body = await health.json()
        assert (body["status"], body["service"]) == ("ok", "test-service")
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["checks"] == {"database": "ok", "broker": "ok"}


async def test_readiness_fails_when_the_broker_is_gone(settings):
    async with client_for(settings) as client:
        await client.app[AMQP].close()
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["checks"]["broker"] == "unavailable"


async def test_errors_are_json_bodies_with_a_code_and_message(settings):
    async with client_for(settings) as client:
        missing = await client.get("/no/such/route")
        assert missing.status == 404
        assert (await missing.json())["error"]["code"] == "not_found"

        wrong_method = await client.delete("/healthz")
        assert wrong_method.status == 405
        assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"
        assert "GET" in wrong_method.headers["Allow"]

        refused = await client.post("/refuse")
        assert refused.status == 422
        assert await refused.json() == {
            "error": {
                "code": "invalid_thing",
                "message": "The thing is invalid.",
                "details": {"field": "name"},
            }
        }

        crashed = await client.get("/explode")
        assert crashed.status == 500
        body = await crashed.json()
        assert body["error"]["code"] == "internal_error"
        assert "secret internals" not in await crashed.text()


async def test_request_ids_are_echoed_or_generated(settings):
    async with client_for(settings) as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert given.headers["X-Request-ID"] == "abc-123"
        hostile = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert hostile.headers["X-Request-ID"] != "bad id\twith spaces"
        assert len(hostile.headers["X-Request-ID"]) == 36


async def test_metrics_count_requests_by_route_pattern(settings):
    async with client_for(settings) as client:
        await client.get("/healthz")
        text = await (await client.get("/metrics")).text()
        assert 'outreach_http_requests_total{method="GET",route="/healthz",status="200"}' in text
        assert "outreach_outbox_published_total" in text


async def test_json_answers_are_never_cached_nor_sniffed_and_https_origins_send_hsts(settings, database_url):
    async with client_for(settings) as client:
        for path in ("/healthz", "/explode", "/no-such-route"):
            response = await client.get(path)
            assert response.headers["Cache-Control"] == "no-store", path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert "Strict-Transport-Security" not in response.headers, "an http origin sends no HSTS"
        metrics = await client.get("/metrics")
        assert "no-store" not in metrics.headers.get("Cache-Control", ""), "only JSON answers"
    https = UnsubscribeSettings(database_url=database_url, amqp_url=settings.amqp_url,
                                public_base_url="https://links.example.com")  # fmt: skip
    async with client_for(https) as client:
        for path in ("/healthz", "/metrics"):
            response = await client.get(path)
            assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000"), path
