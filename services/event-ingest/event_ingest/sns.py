"""Amazon SNS messages over HTTPS: their shape, what is signed, and the signature check.

Pure: the certificate is fetched (and cached) by adapters/certificates.py. Every check
that fails raises Untrusted with the reason the webhook logs and answers 403 with.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MessageType = Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
# The fields signed, in this order, each as "name\nvalue\n" (Subject only when present).
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
DEFAULT_TRUSTED_CERT_URL = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"


class Untrusted(Exception):
    """The message fails a check: refused (403), nothing stored. (SNS does not retry a
    4xx: only what no retry could make right is answered so.)"""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CertificateUnavailable(Exception):
    """SNS's certificate could not be fetched now: 503, and SNS delivers again later."""


@dataclass(frozen=True)
class SnsMessage:
    type: MessageType
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    signature_version: str
    signature: bytes
    signing_cert_url: str
    subscribe_url: str | None
    fields: dict[str, str]

    def string_to_sign(self) -> bytes:
        parts = []
        for name in SIGNED_FIELDS[self.type]:
            if name in self.fields:
                parts.append(f"{name}\n{self.fields[name]}\n")
        return "".join(parts).encode()


def parse(payload: Any, header_type: str | None) -> SnsMessage:
    """The message as SNS posts it (JSON, sent as text/plain); `header_type`: its
    x-amz-sns-message-type header, which must agree with the body's Type."""
    if not isinstance(payload, dict):
        raise Untrusted("the body is not an SNS message (a JSON object)")
    kind = payload.get("Type")
    if kind not in SIGNED_FIELDS:
        raise Untrusted(f"unknown SNS message type {str(kind)[:40]!r}")
    if header_type is not None and header_type != kind:
        raise Untrusted("the x-amz-sns-message-type header and the body's Type differ")
    fields: dict[str, str] = {}
    for name in (*SIGNED_FIELDS[kind], "SignatureVersion", "Signature", "SigningCertURL"):
        value = payload.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise Untrusted(f"the SNS message has no {name}")
        fields[name] = value
    version = fields["SignatureVersion"]
    if version not in HASHES:
        raise Untrusted(f"unsupported SignatureVersion {version[:10]!r}")
    try:
        signature = base64.b64decode(fields["Signature"], validate=True)
    except (binascii.Error, ValueError):
        raise Untrusted("the Signature is not base64") from None
    return SnsMessage(
        type=kind, message_id=fields["MessageId"], topic_arn=fields["TopicArn"], message=fields["Message"],
        timestamp=fields["Timestamp"], signature_version=version, signature=signature,
        signing_cert_url=fields["SigningCertURL"], subscribe_url=fields.get("SubscribeURL"), fields=fields,
    )  # fmt: skip


def check_origin(
    message: SnsMessage, *, trusted_cert_url: re.Pattern[str], topic_arns: frozenset[str]
) -> None:
    """The certificate's URL (and a confirmation's SubscribeURL) on SNS's hosts, the topic ours."""
    if not trusted_cert_url.match(message.signing_cert_url) or not message.signing_cert_url.endswith(".pem"):
        raise Untrusted("SigningCertURL is not a trusted SNS certificate URL")
    if message.topic_arn not in topic_arns:
        raise Untrusted("TopicArn is not one of SNS_TOPIC_ARNS")
    if message.subscribe_url is not None and not trusted_cert_url.match(message.subscribe_url):
        raise Untrusted("SubscribeURL is not on a trusted SNS host")


def verify(message: SnsMessage, key: rsa.RSAPublicKey) -> None:
    try:
        key.verify(
            message.signature,
            message.string_to_sign(),
            padding.PKCS1v15(),
            HASHES[message.signature_version](),
        )
    except InvalidSignature:
        raise Untrusted("the signature does not verify") from None
