"""SES receiving's notification of a received mail (the SNS message's `Message`): what
the webhook keeps of it, and where the mail itself is (inline, or in S3)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Malformed(Exception):
    """A signed message from our topic that is not an SES receipt notification we can
    read: kept among the refused bodies (nothing lost), answered 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Lenient(BaseModel):
    # SES adds fields over time: what we do not read is kept in the stored notification.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Verdict(_Lenient):
    status: str = "GRAY"


class Action(_Lenient):
    type: str
    topic_arn: str | None = Field(default=None, alias="topicArn")
    bucket_name: str | None = Field(default=None, alias="bucketName")
    object_key: str | None = Field(default=None, alias="objectKey")
    encoding: Literal["UTF8", "BASE64"] | None = None


class Receipt(_Lenient):
    timestamp: str
    recipients: list[str] = []
    spam_verdict: Verdict = Field(default_factory=Verdict, alias="spamVerdict")
    virus_verdict: Verdict = Field(default_factory=Verdict, alias="virusVerdict")
    action: Action


class Mail(_Lenient):
    timestamp: str
    source: str
    message_id: str = Field(alias="messageId", min_length=1, max_length=200)
    destination: list[str] = []


class Received(_Lenient):
    notification_type: Literal["Received"] = Field(alias="notificationType")
    mail: Mail
    receipt: Receipt
    content: str | None = None

    @property
    def flagged(self) -> str | None:
        """Why SES's verdict says not to trust the mail (kept, never forwarded)."""
        if self.receipt.virus_verdict.status == "FAIL":
            return "virus"
        if self.receipt.spam_verdict.status == "FAIL":
            return "spam"
        return None

    def inline_content(self) -> bytes | None:
        """The mail itself, when the receipt rule's SNS action carried it."""
        if self.content is None:
            return None
        if self.receipt.action.encoding == "BASE64":
            try:
                return base64.b64decode(self.content, validate=True)
            except (binascii.Error, ValueError):
                raise Malformed("the notification's content is not base64") from None
        return self.content.encode("utf-8", "surrogateescape")

    @property
    def s3_location(self) -> tuple[str, str] | None:
        action = self.receipt.action
        if action.type == "S3" and action.bucket_name and action.object_key:
            return action.bucket_name, action.object_key
        return None


def parse_received(message: str) -> Received | None:
    """The SNS message's SES notification; None for another notification type (SES sends
    one test notification when the rule is set up, for instance)."""
    try:
        payload = json.loads(message)
    except json.JSONDecodeError:
        raise Malformed("the SNS Message is not JSON") from None
    if not isinstance(payload, dict):
        raise Malformed("the SNS Message is not a JSON object")
    if payload.get("notificationType") != "Received":
        return None
    try:
        received = Received.model_validate(payload)
    except ValidationError as exc:
        raise Malformed(f"not an SES receipt notification: {exc.errors()[0]['loc']}") from None
    if received.content is None and received.s3_location is None:
        raise Malformed("the notification has neither the content nor its S3 location")
    return received
