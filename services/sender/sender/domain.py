"""The sender's rules, free of I/O: what an SES answer means, and the cadence."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    SENT = "sent"
    THROTTLED = "throttled"  # SES refused for rate: it did not accept; retry the same recipient
    NOT_SENT = "not_sent"  # the request never reached SES (connect failure): safe to retry
    FAILED = "failed"  # this message only: the campaign goes on
    PAUSE = "pause"  # account or configuration: pause the campaign, keep the rest eligible
    AMBIGUOUS = "ambiguous"  # SES may have accepted: the send is `unknown`, never retried


PAUSE_CODES = {
    "LimitExceededException": "daily quota",
    "SendingPausedException": "SES sending is paused for the account",
    "AccountSuspendedException": "the SES account is suspended",
    "MailFromDomainNotVerifiedException": "the MAIL FROM domain is not verified",
    "NotFoundException": "SES configuration missing (configuration set or identity)",
    "NoCredentials": "AWS credentials are missing",
}
FAILED_CODES = {"MessageRejected", "BadRequestException", "InvalidParameterValue", "ValidationException"}


@dataclass(frozen=True)
class SesOutcome:
    verdict: Verdict
    message_id: str | None = None
    code: str | None = None
    message: str | None = None

    @property
    def pause_reason(self) -> str:
        return PAUSE_CODES.get(self.code or "", self.message or "SES refused")


def classify_error(code: str, http_status: int | None) -> Verdict:
    """What an SES error response means for this send and the campaign."""
    if code == "TooManyRequestsException" or http_status == 429:
        return Verdict.THROTTLED
    if code in PAUSE_CODES:
        return Verdict.PAUSE
    if http_status is not None and http_status >= 500:
        return Verdict.AMBIGUOUS
    if code in FAILED_CODES or (http_status is not None and 400 <= http_status < 500):
        return Verdict.FAILED
    return Verdict.AMBIGUOUS


def throttle_backoff(attempt: int, jitter: float) -> float:
    """Seconds before retry `attempt` (1-based); jitter in [0, 1)."""
    return min(0.2 * 2 ** (attempt - 1), 5.0) * (0.5 + jitter / 2)


@dataclass
class Cadence:
    """A global send cadence: slot k is at start + k * interval, never bunched to catch up.

    `next_slot(now)` returns when the next send may start and books it. After an
    idle spell (no send wanted), the schedule restarts from now instead of
    bursting to make up for lost slots.
    """

    interval: float
    _next: float = -math.inf

    def next_slot(self, now: float) -> float:
        slot = max(self._next, now)
        self._next = slot + self.interval
        return slot

    def set_rate(self, per_second: float) -> None:
        self.interval = 1.0 / per_second


@dataclass
class Quota:
    """The SES account's limits as last read (None: unknown) and our own daily cap."""

    max_send_rate: float | None = None
    max_24_hour_send: float | None = None
    sent_last_24_hours: float = 0.0
    daily_cap: int | None = None
    sent_by_us_last_24_hours: int = 0

    def effective_rate(self, configured: float) -> float:
        if self.max_send_rate is not None and self.max_send_rate > 0:
            return min(configured, self.max_send_rate)
        return configured

    def exhausted(self) -> str | None:
        """The reason to stop, when a daily limit is reached."""
        if self.max_24_hour_send is not None and 0 <= self.max_24_hour_send <= self.sent_last_24_hours:
            return "daily quota"
        if self.daily_cap is not None and self.sent_by_us_last_24_hours >= self.daily_cap:
            return "daily cap"
        return None

    def try_reserve(self) -> bool:
        """Count a send before it starts (several may be in flight); False at a daily limit."""
        if self.exhausted() is not None:
            return False
        self.sent_last_24_hours += 1
        self.sent_by_us_last_24_hours += 1
        return True

    def unreserve(self) -> None:
        """The send did not count after all (not accepted, or failed before SES took it)."""
        self.sent_last_24_hours -= 1
        self.sent_by_us_last_24_hours -= 1
