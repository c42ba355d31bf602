"""The gateway's rules: prospect status changes, campaign sender and state checks.

Pure functions over plain values; no aiohttp, asyncpg or aio-pika here.
"""

from __future__ import annotations

from typing import Literal

from shared.errors import Conflict, Invalid

ProspectStatus = Literal["active", "unsubscribed", "bounced", "complained"]
CampaignStatus = Literal["draft", "sending", "paused", "completed", "cancelled"]
# Leaving these for "active" needs an explicit override: the person said no.
OPTED_OUT: frozenset[str] = frozenset({"unsubscribed", "complained"})
EDITABLE_CAMPAIGN_STATES: frozenset[str] = frozenset({"draft", "paused"})
SUPPRESSION_STATUS = {"unsubscribed": "unsubscribed", "bounced": "bounced",
                      "complained": "complained", "manual": "unsubscribed"}  # fmt: skip


def check_status_change(current: str, wanted: str, *, override_suppression: bool) -> None:
    if wanted == "active" and current in OPTED_OUT and not override_suppression:
        raise Conflict(
            f"This prospect is {current}; moving them back to active needs "
            '{"status": "active", "override_suppression": true}.',
            code="suppressed",
            details={"status": current},
        )


def check_sender_address(address: str, configured_from: str) -> None:
    """A campaign may send from SES_FROM_EMAIL or another address of its domain."""
    domain = configured_from.rsplit("@", 1)[-1].lower()
    if address.lower() != configured_from.lower() and address.rsplit("@", 1)[-1].lower() != domain:
        raise Invalid(
            f"from_email must be {configured_from} or another address at {domain}.",
            code="invalid_sender",
            details=[{"field": "from_email", "message": f"not an address at {domain}"}],
        )


def check_editable(status: str) -> None:
    if status not in EDITABLE_CAMPAIGN_STATES:
        raise Conflict(
            f"A {status} campaign cannot be edited; pause it first.",
            code="not_editable",
            details={"status": status},
        )


SendDecision = Literal["request", "resume", "already_sending"]


def decide_send(status: str) -> SendDecision:
    if status == "draft":
        return "request"
    if status == "paused":
        return "resume"
    if status == "sending":
        return "already_sending"
    raise Conflict(
        f"A {status} campaign cannot be sent again.",
        code="not_sendable",
        details={"status": status},
    )


def check_pausable(status: str) -> None:
    if status not in ("sending", "paused"):
        raise Conflict(f"Only a sending campaign can be paused; this one is {status}.", code="not_pausable")
