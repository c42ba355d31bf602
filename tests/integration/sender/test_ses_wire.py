"""The send path's SendEmail on the wire: signed as SES verifies a signature, read as the SDK
reads an answer, and a connection never made told apart from one that failed part-way."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sender.adapters.ses import ses_gateway
from sender.domain import Verdict
from shared.settings import SesAccess
from tests.harness.local_http import serving

pytestmark = pytest.mark.integration

RAW = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
KEY, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-of-a-role"


def signature_ses_would_expect(request: web.Request, body: bytes, credentials: Credentials) -> str:
    """Recompute the signature from the request as it arrived: the headers it says it signed,
    the path, the body and its X-Amz-Date, the way AWS checks one (SigV4)."""
    authorization = request.headers["Authorization"]
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    headers = {name: request.headers[name] for name in signed}
    arrived = AWSRequest(request.method, str(request.url), data=body, headers=headers)
    arrived.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(credentials, "ses", "eu-west-1")
    canonical = signer.canonical_request(arrived)
    return signer.signature(signer.string_to_sign(arrived, canonical), arrived)


@pytest.fixture(autouse=True)
def static_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@asynccontextmanager
async def answering(
    status: int, body: bytes, headers: dict[str, str] | None = None, *, seen: list | None = None
) -> AsyncIterator[str]:
    """An SES endpoint giving every SendEmail this answer; yields its URL."""

    async def send_email(request: web.Request) -> web.Response:
        if seen is not None:
            seen.append((request, await request.read()))
        return web.Response(status=status, body=body, headers=headers, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v2/email/outbound-emails", send_email)
    async with serving(app) as endpoint:
        yield endpoint


def settings_for(endpoint: str) -> SesAccess:
    return SesAccess(ses_mode="emulator", ses_endpoint_url=endpoint, aws_region="eu-west-1")


async def send(endpoint: str, **gateway: object):
    async with ses_gateway(settings_for(endpoint), configuration_set="outreach", timeout=5, **gateway) as ses:
        return await ses.send_raw(RAW, from_email="a@example.com", to="b@example.com", tags={"send_id": "s1"})


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_the_request_is_signed_as_ses_checks_it(monkeypatch, token):
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    seen: list = []
    async with answering(200, b'{"MessageId":"m-1"}', seen=seen) as endpoint:
        outcome = await send(endpoint)
    assert outcome.verdict is Verdict.SENT and outcome.message_id == "m-1"
    ((request, body),) = seen
    authorization = request.headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={KEY}/")
    assert "/eu-west-1/ses/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    assert {"host", "x-amz-date", "content-type"} <= set(signed)
    assert ("x-amz-security-token" in signed) == bool(token)
    assert request.headers.get("X-Amz-Security-Token") == token
    expected = signature_ses_would_expect(request, body, Credentials(KEY, SECRET, token))
    assert authorization.endswith(f"Signature={expected}")
    # A body changed on the way would not verify: the check above is not vacuous.
    assert signature_ses_would_expect(request, body + b" ", Credentials(KEY, SECRET, token)) != expected
    sent = json.loads(body)
    assert sent["Destination"] == {"ToAddresses": ["b@example.com"]}
    assert sent["ConfigurationSetName"] == "outreach"
    assert sent["EmailTags"] == [{"Name": "send_id", "Value": "s1"}]


@pytest.mark.parametrize(
    ("status", "body", "headers", "verdict", "code"),
    [
        # The header wins, without its namespace: how SES names throttling.
        (429, b'{"message":"Maximum sending rate exceeded."}',
         {"x-amzn-ErrorType": "TooManyRequestsException:http://internal.amazon.com/"}, Verdict.THROTTLED,
         "TooManyRequestsException"),
        (400, b'{"__type":"com.amazonaws.sesv2#MessageRejected","message":"Email address is not verified."}',
         None, Verdict.PAUSE, "MessageRejected"),
        (400, b'{"code":"BadRequestException","message":"Illegal header"}', None, Verdict.FAILED,
         "BadRequestException"),
        (403, b'{"message":"The security token included in the request is invalid."}',
         {"x-amzn-ErrorType": "UnrecognizedClientException"}, Verdict.PAUSE, "UnrecognizedClientException"),
        # A proxy's page, no JSON: the status is the code, and SES may have taken the message.
        (502, b"<html>Bad Gateway</html>", None, Verdict.AMBIGUOUS, "502"),
        # A success without a message id: nobody can say whether it was sent.
        (200, b"{}", None, Verdict.AMBIGUOUS, "ValueError"),
    ],
)  # fmt: skip
async def test_answers_are_read_as_the_sdk_reads_them(status, body, headers, verdict, code):
    async with answering(status, body, headers) as endpoint:
        outcome = await send(endpoint)
    assert (outcome.verdict, outcome.code) == (verdict, code)
    if status == 502:
        assert "Bad Gateway" in (outcome.message or "")


async def test_a_connection_never_made_is_not_sent():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = await send(f"http://127.0.0.1:{port}")
    assert outcome.verdict is Verdict.NOT_SENT and outcome.code == "ClientConnectorError"


async def test_a_connection_dropped_after_the_request_is_ambiguous():
    async def hang_up(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.close()  # SES may have taken it: the answer never came
        return web.Response()

    app = web.Application()
    app.router.add_post("/v2/email/outbound-emails", hang_up)
    async with serving(app) as endpoint:
        outcome = await send(endpoint)
    assert outcome.verdict is Verdict.AMBIGUOUS and outcome.code == "ServerDisconnectedError"
