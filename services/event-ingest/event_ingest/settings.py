import re
from functools import cached_property

from pydantic import Field, SecretStr, field_validator

from event_ingest.sns import DEFAULT_TRUSTED_CERT_URL
from shared.settings import MIN_SECRET_LENGTH, ReplyDomain, SesAccess, Settings


class EventIngestSettings(Settings, SesAccess):
    event_ingest_port: int = 8081
    ses_webhook_secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
    webhook_max_bytes: int = Field(default=256 * 1024, ge=1024)
    # Raw SES payloads and refused bodies are deleted once older than this (they hold
    # recipients' addresses; the domain events keep what the stats need).
    raw_event_retention_days: int = Field(default=30, ge=1)
    retention_interval_seconds: float = Field(default=86_400, gt=0)
    # Replies (SES receiving -> S3 + SNS -> POST /api/webhooks/ses-inbound). SNS_TOPIC_ARNS:
    # the topics whose messages are accepted, comma-separated (none: every message refused).
    sns_topic_arns: str = ""
    # Certificates (and confirmation URLs) only from hosts this matches.
    sns_trusted_cert_url: str = DEFAULT_TRUSTED_CERT_URL
    # The domain of the Reply-To addresses (local+TOKEN@REPLY_DOMAIN) the sender sets.
    reply_domain: ReplyDomain = None
    reply_forward_to: str | None = None  # every forward goes here instead of the campaign's owner
    reply_forward_auto: bool = False  # automatic answers are forwarded too

    @field_validator("sns_trusted_cert_url")
    @classmethod
    def _a_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"SNS_TRUSTED_CERT_URL is not a regular expression: {exc}") from None
        if not value.startswith("^"):
            raise ValueError("SNS_TRUSTED_CERT_URL must be anchored at the start (^https://...)")
        return value

    @cached_property
    def trusted_cert_url(self) -> re.Pattern[str]:
        return re.compile(self.sns_trusted_cert_url)

    @property
    def topic_arns(self) -> frozenset[str]:
        return frozenset(arn.strip() for arn in self.sns_topic_arns.split(",") if arn.strip())
