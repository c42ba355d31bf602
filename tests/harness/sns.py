"""SNS as the inbound webhook meets it: a signing certificate of our own (served by a
local server the tests trust), signed messages, and SES receipt notifications."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from event_ingest.sns import SIGNED_FIELDS
from tests.harness.local_http import serving

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:outreach-inbound"
CERT_PATH = "/SimpleNotificationService-test.pem"


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    pem: bytes


@cache
def signer() -> Signer:
    """One key and self-signed certificate per test run (RSA 2048, like SNS's)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256())
    )  # fmt: skip
    return Signer(key, certificate.public_bytes(serialization.Encoding.PEM))


def sign(
    message: dict[str, Any], *, version: str = "2", key: rsa.RSAPrivateKey | None = None
) -> dict[str, Any]:
    """`message` with SignatureVersion and Signature, as SNS computes them."""
    text = "".join(
        f"{name}\n{message[name]}\n" for name in SIGNED_FIELDS[message["Type"]] if name in message
    ).encode()
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS's version 1 is SHA1
    signature = (key or signer().key).sign(text, padding.PKCS1v15(), algorithm)
    return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode()}


@dataclass
class CertServer:
    """Serves the certificate (and answers subscription confirmations) on 127.0.0.1."""

    base_url: str = ""
    fetches: int = 0
    confirmations: list[str] = field(default_factory=list)

    @property
    def cert_url(self) -> str:
        return self.base_url + CERT_PATH

    @property
    def trusted_pattern(self) -> str:
        return "^" + self.base_url.replace(".", r"\.") + "/"


@asynccontextmanager
async def cert_server() -> AsyncIterator[CertServer]:
    served = CertServer()

    async def certificate(_: web.Request) -> web.Response:
        served.fetches += 1
        return web.Response(body=signer().pem, content_type="application/x-pem-file")

    async def confirm(request: web.Request) -> web.Response:
        served.confirmations.append(request.query.get("Token", ""))
        return web.Response(text="<ConfirmSubscriptionResponse/>", content_type="text/xml")

    app = web.Application()
    app.router.add_get(CERT_PATH, certificate)
    app.router.add_get("/", confirm)
    async with serving(app) as base_url:
        served.base_url = base_url
        yield served


def notification(
    message: str, cert_url: str, *, topic_arn: str = TOPIC_ARN, version: str = "2"
) -> dict[str, Any]:
    return sign(
        {
            "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic_arn,
            "Subject": "Amazon SES Email Receipt Notification", "Message": message,
            "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "SigningCertURL": cert_url, "UnsubscribeURL": cert_url.rsplit("/", 1)[0] + "/?Action=Unsubscribe",
        },
        version=version,
    )  # fmt: skip


def confirmation(base_url: str, cert_url: str, *, topic_arn: str = TOPIC_ARN) -> dict[str, Any]:
    token = uuid.uuid4().hex
    return sign({
        "Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": token, "TopicArn": topic_arn,
        "Message": f"You have chosen to subscribe to the topic {topic_arn}.",
        "SubscribeURL": f"{base_url}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}",
        "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "SigningCertURL": cert_url,
    })  # fmt: skip


def received(
    raw: bytes,
    *,
    inline: bool,
    bucket: str = "outreach-inbound",
    key: str | None = None,
    recipients: list[str] | None = None,
    spam: str = "PASS",
    virus: str = "PASS",
) -> tuple[str, str]:
    """An SES "Received" notification for `raw` (inline with the SNS action, else pointing
    at S3); returns (the notification JSON, its SES message id)."""
    message_id = key or uuid.uuid4().hex
    action: dict[str, Any] = (
        {"type": "SNS", "topicArn": TOPIC_ARN, "encoding": "BASE64"} if inline
        else {"type": "S3", "topicArn": TOPIC_ARN, "bucketName": bucket, "objectKey": message_id}
    )  # fmt: skip
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    payload: dict[str, Any] = {
        "notificationType": "Received",
        "mail": {"timestamp": now, "source": "someone@example.org", "messageId": message_id,
                 "destination": recipients or [], "headersTruncated": False, "headers": [], "commonHeaders": {}},
        "receipt": {"timestamp": now, "processingTimeMillis": 420, "recipients": recipients or [],
                    "spamVerdict": {"status": spam}, "virusVerdict": {"status": virus},
                    "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                    "dmarcVerdict": {"status": "PASS"}, "action": action},
    }  # fmt: skip
    if inline:
        payload["content"] = base64.b64encode(raw).decode()
    return json.dumps(payload), message_id
