from pydantic import Field, SecretStr

from shared.settings import MIN_SECRET_LENGTH, Settings


class EventIngestSettings(Settings):
    event_ingest_port: int = 8081
    ses_webhook_secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH)
    webhook_max_bytes: int = Field(default=256 * 1024, ge=1024)
