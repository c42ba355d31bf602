"""The account-level reputation guard: every ACCOUNT_GUARD_SECONDS it reads the account's
bounce and complaint rates across campaigns (send_status, since the kill switch's
guard_from, at most 7 days back) and, over a threshold, trips the kill switch
(shared.lifecycle.sending_switch) and pauses every sending campaign, in one transaction.
The sender then disables sending on the SES configuration set. Run off the event path:
a burst of bounces costs one count a minute, not one per event."""

from __future__ import annotations

import asyncpg

from projector.policy import ReputationLimits, reputation_breach
from shared.lifecycle import campaign as campaigns
from shared.lifecycle import sending_switch
from shared.logging import get_logger

log = get_logger(__name__)


async def check(pool: asyncpg.Pool, limits: ReputationLimits) -> str | None:
    """Trip the switch when the account's rates are over their limits; the reason, when tripped now."""
    async with pool.acquire() as conn, conn.transaction():
        if not (await sending_switch.read(conn)).enabled:
            return None
        sent, bounced, complained = await sending_switch.account_counts(conn)
        breach = reputation_breach(sent, bounced, complained, limits)
        if breach is None:
            return None
        reason = f"account-wide {breach}"[:900]
        if await sending_switch.turn_off(conn, reason, "reputation") is None:
            return None
        paused = await campaigns.pause_all_sending(
            conn, reason, code="reputation", by="reputation", cause=None, correlation_id="account-guard"
        )
    log.warning(
        "the account's reputation guard tripped: sending disabled", reason=reason, campaigns=len(paused)
    )
    return reason
