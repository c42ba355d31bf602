"""POST /api/webhooks/ses-events: EventBridge's API destination."""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from event_ingest.adapters import store
from event_ingest.domain import RejectedPayload, parse_delivery
from event_ingest.handlers import accept
from event_ingest.metrics import SES_EVENTS
from event_ingest.settings import EventIngestSettings
from shared.errors import ApiError, Invalid
from shared.http import DB_POOL, REQUEST_ID
from shared.requests import has_nul_escape

GROUP_COMMIT = web.AppKey("group_commit", store.GroupCommit)
SEND_LOOKUP = web.AppKey("send_lookup", store.SendLookup)
INGEST_SETTINGS = web.AppKey("event_ingest_settings", EventIngestSettings)
SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - a header name, not a secret


async def ses_events(request: web.Request) -> web.Response:
    expected = request.app[INGEST_SETTINGS].ses_webhook_secret.get_secret_value().encode()
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(given, expected):
        raise ApiError(401, "unauthorized", f"Missing or wrong {SECRET_HEADER}.")
    body = await request.read()  # the app's client_max_size answers 413 above the limit
    pool = request.app[DB_POOL]
    try:
        text = body.decode("utf-8")  # JSON between systems is UTF-8 (RFC 8259)
        payload = json.loads(text)
        if not isinstance(payload, dict):
            raise RejectedPayload("the body must be a JSON object")
        if has_nul_escape(text):  # valid JSON, but jsonb cannot hold a NUL
            raise RejectedPayload("the body contains a NUL character (\\u0000)")
        incoming = parse_delivery(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        await _reject(request, body, f"invalid JSON: {exc}")
        raise Invalid(f"The body is not valid JSON: {exc}", code="invalid_json") from None
    except RejectedPayload as exc:
        await _reject(request, body, exc.reason)
        raise Invalid(f"Not accepted: {exc.reason}.", code="invalid_event", details=exc.details) from None
    accepted = await accept(
        pool,
        incoming,
        text,
        correlation_id=request[REQUEST_ID],
        batch=request.app[GROUP_COMMIT],
        lookup=request.app[SEND_LOOKUP],
    )
    return web.json_response(
        {"result": accepted.result, "event_type": accepted.event_type, "matched": accepted.matched}
    )


async def _reject(request: web.Request, body: bytes, reason: str) -> None:
    SES_EVENTS.labels("?", "rejected").inc()
    await store.reject(request.app[DB_POOL], reason=reason, content_type=request.content_type, body=body)
