"""SendEmail on the wire: SES v2's REST-JSON request, signed with botocore's SigV4, over aiohttp.

The send path's one SES call. Through aiobotocore, a call cost the sender about 0.75 ms of CPU
(parameter validation, endpoint rules, event hooks, the user agent, the response parser): half of
everything the sender spent on a send. This does only what SendEmail needs and reads an error
answer as botocore reads any REST-JSON one (`error_code`), so the verdicts stay the same;
bench/sender.py measures both loops against the same stub (docs/benchmarks.md, issue 20).
The endpoint and the signing name come from the aiobotocore client (its endpoint rules), the
credentials from its session: one object, refreshed as the SDK refreshes it.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import NoCredentialsError
from botocore.httpsession import get_cert_path

from shared.ses import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS

SEND_EMAIL_PATH = "/v2/email/outbound-emails"
USER_AGENT = "outreach-sender (aiohttp; botocore SigV4)"


class RefreshableCredentials(Protocol):
    async def get_frozen_credentials(self) -> Any: ...


class SesRefusal(Exception):
    """SES answered with an error: its code (as botocore names it), HTTP status and message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(code, status, message)
        self.code = code
        self.status = status
        self.message = message


def error_code(status: int, headers: Mapping[str, str], body: Mapping[str, Any]) -> str:
    """The error's code as botocore's REST-JSON parser reads it: the x-amzn-ErrorType header,
    else the body's code or __type, else the HTTP status; without any namespace or suffix.
    `headers` as aiohttp gives them: their names case-insensitive."""
    code = headers.get("x-amzn-errortype") or body.get("code") or body.get("Code") or body.get("__type")
    code = str(code) if code else str(status)
    return code.split(":", 1)[0].rsplit("#", 1)[-1]


def send_email_body(
    raw: bytes, *, from_email: str, to: str, tags: Mapping[str, str], configuration_set: str | None
) -> bytes:
    request: dict[str, Any] = {
        "FromEmailAddress": from_email,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": base64.b64encode(raw).decode("ascii")}},
        "EmailTags": [{"Name": name, "Value": value} for name, value in tags.items()],
    }
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    return json.dumps(request, separators=(",", ":")).encode()


class SendEmailWire:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        endpoint_url: str,
        region: str,
        signing_name: str,
        credentials: RefreshableCredentials | None,
        proxy: str | None = None,
    ) -> None:
        self._http = http
        self._proxy = proxy
        self._url = endpoint_url.rstrip("/") + SEND_EMAIL_PATH
        self._region = region
        self._signing_name = signing_name
        self._credentials = credentials

    async def send(self, body: bytes) -> str:
        """The MessageId SES gave; SesRefusal when it answered with an error. Connection
        failures are aiohttp's own; NoCredentialsError when there are none to sign with."""
        if self._credentials is None:
            raise NoCredentialsError()
        frozen = await self._credentials.get_frozen_credentials()
        request = AWSRequest("POST", self._url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(frozen, self._signing_name, self._region).add_auth(request)
        headers = dict(request.headers.items())
        headers["User-Agent"] = USER_AGENT
        async with self._http.post(self._url, data=body, headers=headers, proxy=self._proxy) as response:
            payload = await response.read()
            status = response.status
            answer_headers = response.headers
        parsed = _json_object(payload)
        if status == 200 and isinstance(parsed.get("MessageId"), str):
            return str(parsed["MessageId"])
        if status == 200:  # a success without a message id: SES may have taken it
            raise ValueError("SES answered 200 without a MessageId")
        message = parsed.get("message", parsed.get("Message", ""))
        if not parsed and payload:
            message = payload[:500].decode("utf-8", "replace")
        raise SesRefusal(error_code(status, answer_headers, parsed), status, str(message))


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(payload) if payload else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


@asynccontextmanager
async def send_email_wire(
    client: Any, credentials: RefreshableCredentials | None, *, max_connections: int
) -> AsyncIterator[SendEmailWire]:
    """The wire to where `client` (an aiobotocore SES v2 client) sends, signing with
    `credentials` (its session's), with its timeouts, its CA bundle (AWS_CA_BUNDLE, else
    botocore's) and the proxy variables."""
    endpoint_url = client.meta.endpoint_url
    tls = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))
    connector = aiohttp.TCPConnector(limit=max_connections, ssl=tls)
    timeout = aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=READ_TIMEOUT_SECONDS)
    # Not trust_env: aiohttp would then read the environment and ~/.netrc in a thread on every
    # request (12 % of the sender's CPU, measured); the proxy is looked up once instead.
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        yield SendEmailWire(
            http, endpoint_url=endpoint_url, region=client.meta.region_name,
            signing_name=client.meta.service_model.signing_name, credentials=credentials,
            proxy=proxy_for(endpoint_url),
        )  # fmt: skip


def proxy_for(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY name for `url`, unless NO_PROXY exempts its host."""
    parts = urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)
