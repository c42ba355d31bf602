"""The sender's rules, free of I/O: what an SES answer means, and the cadence."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from shared.addresses import redact_addresses
from shared.events import PauseCode
from shared.ses import CREDENTIAL_REFUSALS


class Verdict(Enum):
    SENT = "sent"
    THROTTLED = "throttled"  # SES refused for rate: it did not accept; retry the same recipient
    NOT_SENT = "not_sent"  # the request never reached SES (connect failure): safe to retry
    FAILED = "failed"  # this message only: the campaign goes on
    PAUSE = "pause"  # the account (credentials, sandbox, quota, configuration): pause, keep everyone eligible
    AMBIGUOUS = "ambiguous"  # SES may have accepted: the send is `unknown`, never retried


# Answers about the account, not the message: every sending campaign pauses with the
# code, the prospect stays eligible. (code, the reason the admin reads)
ACCOUNT_FAULTS: dict[str, tuple[PauseCode, str]] = {
    "LimitExceededException": ("daily_quota", "daily quota"),
    "SendingPausedException": ("account_paused", "SES sending is paused for the account"),
    "AccountSuspendedException": ("account_paused", "the SES account is suspended"),
    "MailFromDomainNotVerifiedException": ("configuration", "the MAIL FROM domain is not verified"),
    "NotFoundException": ("configuration", "SES configuration missing (configuration set or identity)"),
    "NoCredentials": ("credentials", "AWS credentials are missing"),
}
# AWS refusing the credentials (wrong, expired), or their permission to send.
CREDENTIAL_CODES = CREDENTIAL_REFUSALS | {"AccessDenied", "AccessDeniedException"}
FAILED_CODES = {"MessageRejected", "BadRequestException", "InvalidParameterValue", "ValidationException"}
# An access key id may appear in an AWS error message (a signature mismatch explains its
# canonical request): never in a reason shown to an admin or stored.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b")


def redact(message: str | None, limit: int = 300) -> str:
    """An SES error's first line, fit to store and show: no access key id, and no address
    (the sandbox's refusal quotes the recipient; stored, it would outlive their erasure)."""
    first_line = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return redact_addresses(_ACCESS_KEY_ID.sub("[access key id]", first_line))[:limit]


def account_fault(code: str, message: str | None, from_email: str = "") -> tuple[PauseCode, str] | None:
    """The pause an error calls for when it is about the account, not this message; else None."""
    if code in CREDENTIAL_CODES:
        return "credentials", f"AWS refused the credentials: {code}: {redact(message)}"
    if code in ACCOUNT_FAULTS:
        return ACCOUNT_FAULTS[code]
    text = (message or "").lower()
    if code == "MessageRejected" and "not verified" in text:
        domain = from_email.rsplit("@", 1)[-1].lower()
        if from_email and (from_email.lower() in text or f"@{domain}" in text or f" {domain}" in text):
            return "configuration", f"the sender identity is not verified in SES: {redact(message)}"
        # In the sandbox SES sends only to verified addresses: every other recipient fails alike.
        return (
            "sandbox",
            f"the SES account is in the sandbox (recipients must be verified): {redact(message)}",
        )
    return None


@dataclass(frozen=True)
class SesOutcome:
    verdict: Verdict
    message_id: str | None = None
    code: str | None = None
    message: str | None = None
    pause: tuple[PauseCode, str] | None = None  # for Verdict.PAUSE: the code and the reason


def classify_error(
    code: str, http_status: int | None, message: str | None = None, from_email: str = ""
) -> Verdict:
    """What an SES error response means for this send and the campaign."""
    if code == "TooManyRequestsException" or http_status == 429:
        return Verdict.THROTTLED
    if account_fault(code, message, from_email) is not None:
        return Verdict.PAUSE
    if http_status is not None and http_status >= 500:
        return Verdict.AMBIGUOUS
    if code in FAILED_CODES or (http_status is not None and 400 <= http_status < 500):
        return Verdict.FAILED
    return Verdict.AMBIGUOUS


def throttle_backoff(attempt: int, jitter: float) -> float:
    """Seconds before retry `attempt` (1-based); jitter in [0, 1)."""
    return min(0.2 * 2 ** (attempt - 1), 5.0) * (0.5 + jitter / 2)


CATCH_UP_SECONDS = 0.01  # measured: 1 interval lost 12-28 % at 80 % of the ceiling, 10 ms 7-8 %
# Later than this, the dispatcher was idle (nothing to send), not held up: the schedule
# restarts from now. Up to it, a busy event loop or a process waiting for a core (10-30 ms
# at 80 % of the ceiling on two shared cores, measured) loses only what passed beyond the
# allowance, not the whole delay; restarting from now lost 3-9 % of the rate (docs/benchmarks.md, issue 20).
STALL_SECONDS = 0.1


@dataclass
class Cadence:
    """A global send cadence: slot k is at start + k * interval, never bunched to catch up.

    `next_slot(now)` returns when the next send may start and books it. A send never
    starts before its slot. One asked for at most CATCH_UP_SECONDS (or an interval, if
    longer) after its slot keeps the schedule: a busy event loop wakes a little late, and
    such delays must not add up to a lower rate. Later than that but within STALL_SECONDS
    (a stall), the schedule goes on from the allowance ago: only the time beyond it is
    lost. Later still (an idle spell), it restarts from now. Never a burst to
    make up for more: any span of n intervals holds at most n + 1 + ceil(allowance /
    interval) starts (at 500/s: 6 more than the rate's in a 10 ms burst, at most).
    """

    interval: float
    _next: float = -math.inf

    def peek(self, now: float) -> float:
        """The slot `next_slot(now)` would book, not booked."""
        allowance = max(self.interval, CATCH_UP_SECONDS)
        if self._next > now - allowance:
            return self._next
        if self._next > now - STALL_SECONDS:
            return now - allowance
        return now

    def next_slot(self, now: float) -> float:
        slot = self.peek(now)
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
    sent_by_us_today: int = 0  # since the start of the cap's day (DAILY_SEND_CAP_TIMEZONE)

    def effective_rate(self, configured: float) -> float:
        if self.max_send_rate is not None and self.max_send_rate > 0:
            return min(configured, self.max_send_rate)
        return configured

    def exhausted(self) -> PauseCode | None:
        """The pause to take, when a daily limit is reached."""
        if self.max_24_hour_send is not None and 0 <= self.max_24_hour_send <= self.sent_last_24_hours:
            return "daily_quota"
        if self.daily_cap is not None and self.sent_by_us_today >= self.daily_cap:
            return "daily_cap"
        return None

    def try_reserve(self) -> bool:
        """Count a send before it starts (several may be in flight); False at a daily limit."""
        if self.exhausted() is not None:
            return False
        self.sent_last_24_hours += 1
        self.sent_by_us_today += 1
        return True

    def unreserve(self) -> None:
        """The send did not count after all (not accepted, or failed before SES took it)."""
        self.sent_last_24_hours -= 1
        self.sent_by_us_today -= 1


LIMIT_REASONS: dict[PauseCode, str] = {"daily_quota": "daily quota", "daily_cap": "daily cap"}
# However soon a window seems to open, look again no sooner than this.
QUOTA_RECHECK = timedelta(minutes=1)


def cap_resumes_at(now: datetime, zone: ZoneInfo) -> datetime:
    """The daily cap lifts at the next midnight in `zone` (a DST day has 23 or 25 hours)."""
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(), tzinfo=zone)


def quota_resumes_at(now: datetime, oldest_send_in_window: datetime | None) -> datetime:
    """SES's 24-hour quota is a rolling window: room returns when the oldest send in it ages
    out. Ours are known; sends from elsewhere on the account are not, so this is when to look
    again (the quota is read then, and the pause postponed if it is still used up)."""
    if oldest_send_in_window is None:
        return now + timedelta(hours=1)
    return max(oldest_send_in_window + timedelta(hours=24), now + QUOTA_RECHECK)
