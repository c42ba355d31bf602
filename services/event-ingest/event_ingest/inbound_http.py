"""POST /api/webhooks/ses-inbound: SNS's HTTPS delivery of SES receiving's notifications.

Every message is verified before anything is done with it: the certificate's URL on a
trusted SNS host, the topic one of ours, the signature (versions 1 and 2) good. A
confirmation is confirmed after the same checks. A mail's notification is stored once
(its SES message id) with the request for its processing, and answered at once; reading,
matching and classifying happen off the request (the `inbound` consumer)."""

from __future__ import annotations

import json
from datetime import datetime

import aiohttp
from aiohttp import web

from event_ingest import sns
from event_ingest.adapters import store
from event_ingest.adapters.certificates import CertificateCache
from event_ingest.metrics import INBOUND
from event_ingest.receipt import Malformed, Received, parse_received
from event_ingest.settings import EventIngestSettings
from shared.errors import ApiError, Invalid
from shared.http import DB_POOL, REQUEST_ID
from shared.lifecycle import inbound
from shared.logging import get_logger

CERTIFICATES = web.AppKey("sns_certificates", CertificateCache)
HTTP_CLIENT = web.AppKey("sns_http_client", aiohttp.ClientSession)
INBOUND_SETTINGS = web.AppKey("inbound_settings", EventIngestSettings)
log = get_logger(__name__)


async def ses_inbound(request: web.Request) -> web.Response:
    settings = request.app[INBOUND_SETTINGS]
    body = await request.read()
    try:
        message = await _verified(request, body, settings)
    except sns.Untrusted as exc:
        INBOUND.labels("refused").inc()
        log.warning("SNS message refused", reason=exc.reason)
        raise ApiError(403, "forbidden", f"Refused: {exc.reason}.") from None
    except sns.CertificateUnavailable as exc:
        INBOUND.labels("retry_later").inc()
        log.warning("SNS certificate unavailable; SNS will deliver again", reason=str(exc))
        raise ApiError(
            503, "unavailable", "The signing certificate could not be fetched; try again."
        ) from None
    if message.type == "SubscriptionConfirmation":
        return await _confirm(request, message)
    if message.type == "UnsubscribeConfirmation":
        log.warning("SNS subscription ended", topic_arn=message.topic_arn)
        return web.json_response({"result": "noted"})
    try:
        received = parse_received(message.message)
        notified = None if received is None else _notified(message, received)
    except Malformed as exc:
        INBOUND.labels("rejected").inc()
        await store.reject(
            request.app[DB_POOL], reason=exc.reason, content_type=request.content_type, body=body
        )
        raise Invalid(f"Not accepted: {exc.reason}.", code="invalid_notification") from None
    if notified is None:
        INBOUND.labels("ignored").inc()
        return web.json_response({"result": "ignored"})
    stored = await inbound.store(request.app[DB_POOL], notified, correlation_id=request[REQUEST_ID])
    INBOUND.labels("stored" if stored else "duplicate").inc()
    return web.json_response({"result": "stored" if stored else "duplicate"})


async def _verified(request: web.Request, body: bytes, settings: EventIngestSettings) -> sns.SnsMessage:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise sns.Untrusted("the body is not JSON") from None
    message = sns.parse(payload, request.headers.get("x-amz-sns-message-type"))
    sns.check_origin(message, trusted_cert_url=settings.trusted_cert_url, topic_arns=settings.topic_arns)
    sns.verify(message, await request.app[CERTIFICATES].key(message.signing_cert_url))
    return message


async def _confirm(request: web.Request, message: sns.SnsMessage) -> web.Response:
    assert message.subscribe_url is not None  # parse() requires it of a confirmation
    try:
        async with request.app[HTTP_CLIENT].get(
            message.subscribe_url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            confirmed = response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        confirmed = False
    if not confirmed:
        log.warning("SNS subscription confirmation failed; SNS will ask again", topic_arn=message.topic_arn)
        raise ApiError(503, "unavailable", "The subscription could not be confirmed; try again.")
    INBOUND.labels("confirmed").inc()
    log.info("SNS subscription confirmed", topic_arn=message.topic_arn)
    return web.json_response({"result": "confirmed"})


def _notified(message: sns.SnsMessage, received: Received) -> inbound.Notified:
    notification = json.loads(message.message)
    notification.pop("content", None)  # kept as bytes (raw), not twice
    try:
        received_at = datetime.fromisoformat(received.mail.timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed("the mail's timestamp is not an ISO 8601 instant") from None
    if received_at.tzinfo is None:
        raise Malformed("the mail's timestamp has no timezone")
    return inbound.Notified(
        ses_message_id=received.mail.message_id, sns_message_id=message.message_id, received_at=received_at,
        notification=notification, s3_location=received.s3_location, raw=received.inline_content(),
    )  # fmt: skip
