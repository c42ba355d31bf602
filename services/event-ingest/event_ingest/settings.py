from pydantic import Field, SecretStr

from shared.settings import MIN_SECRET_LENGTH, Settings


class EventIngestSettings(Settings):
    event_ingest_port: int = 8081
    ses_webhook_secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
    webhook_max_bytes: int = Field(default=256 * 1024, ge=1024)
    # Raw SES payloads and refused bodies are deleted once older than this (they hold
    # recipients' addresses; the domain events keep what the stats need).
    raw_event_retention_days: int = Field(default=30, ge=1)
    retention_interval_seconds: float = Field(default=86_400, gt=0)
