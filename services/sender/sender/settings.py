from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from shared.lifecycle.campaign import LEASE_SECONDS
from shared.settings import MessageIdentity, SesAccess, Settings, WarmupRamp


class SenderSettings(Settings, SesAccess, MessageIdentity, WarmupRamp):
    sender_port: int = 8083
    # Claims and outcomes are committed by up to 8 statements each at once (sender.loop),
    # besides the batch reads, the watch and the outbox relay.
    db_pool_max: int = Field(default=20, ge=4)
    send_rate_per_second: float = Field(default=5.0, gt=0, le=100_000)
    send_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # Sends in a day past which every campaign pauses ("daily_cap"), until the next day
    # begins in DAILY_SEND_CAP_TIMEZONE (an IANA zone name; UTC by default).
    daily_send_cap: int | None = Field(default=None, ge=1)
    daily_send_cap_timezone: ZoneInfo = ZoneInfo("UTC")
    # Per-message failures in a row, in one campaign, that pause it ("failure_run").
    send_failure_run_pause: int = Field(default=10, ge=1)
    # How often the sender looks for self-lifting pauses that are due, and for lost work.
    watch_seconds: float = Field(default=30.0, gt=0)
    # A sending campaign with no lease taken for this long, and no claim, lost its work
    # (a dead-lettered chunk): the watch asks for it again. Longer than CHUNK_MAX_SECONDS.
    sender_lease_seconds: float = Field(default=LEASE_SECONDS, gt=0)
    # At high rates an SES call outlasts the interval: this many may be in flight.
    send_max_in_flight: int = Field(default=32, ge=1, le=512)
    # A chunk ends after SEND_BATCH_SIZE sends or this many seconds, whichever first,
    # so a message is never held near the broker's consumer timeout.
    chunk_max_seconds: float = Field(default=300.0, gt=0)
    # At high rates a chunk takes further batches until it has run this long: the
    # hand-off to the next chunk (outbox, broker, about 25-80 ms) costs sends.
    chunk_min_seconds: float = Field(default=30.0, ge=0)
    ses_timeout_seconds: float = Field(default=15.0, gt=0)
    throttle_retries: int = Field(default=5, ge=0, le=20)
    # Ambiguous SES failures in a row (timeouts, 5xx) before the campaign pauses.
    ambiguous_failures_to_pause: int = Field(default=3, ge=1)
    quota_refresh_seconds: float = Field(default=60.0, gt=0)
    # At most this many sends a minute to any one recipient domain, spaced evenly
    # (sender.pacing); 0: no pacing.
    domain_rate_per_minute: int = Field(default=60, ge=0, le=60_000)
    # Bounced and complained prospects are put on the SES account suppression list.
    ses_suppression_push: bool = True

    @field_validator("daily_send_cap_timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return ZoneInfo(value)
            except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
                raise ValueError(f"not a time zone name: {value!r}") from exc
        return value
