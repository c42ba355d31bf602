"""SES's own safety nets, kept in step by the sender (the holder of the SES client), at
each look of its watch:

- the kill switch (shared.lifecycle.sending_switch): each change is applied to the
  configuration set (PutConfigurationSetSendingOptions), and what SES answered recorded;
- the account suppression list (shared.ses_suppressions): bounced and complained
  prospects put on it (PutSuppressedDestination), a batch at a time.
"""

from __future__ import annotations

import asyncpg

from sender.adapters.ses import SesGateway
from shared import ses_suppressions
from shared.lifecycle import sending_switch
from shared.logging import get_logger

log = get_logger(__name__)
# An account or emulator without the suppression-list calls answers these.
UNAVAILABLE = ("NotFoundException", "UnknownOperationException", "404", "AccessDenied")
PUSH_BATCH = 100


class SafetyNets:
    def __init__(self, pool: asyncpg.Pool, ses: SesGateway, *, push_suppressions: bool = True) -> None:
        self._pool = pool
        self._ses = ses
        self._push = push_suppressions

    async def look(self) -> None:
        await self.apply_switch()
        await self.push_suppressions()

    async def apply_switch(self) -> bool:
        """Tell SES the switch's last change, if it was not told yet; True when it was now."""
        switch = await sending_switch.read(self._pool)
        if switch.applied:
            return False
        error = await self._ses.set_sending_enabled(switch.enabled)
        await sending_switch.applied(self._pool, switch.changed_at, error)
        if error:
            log.warning("SES did not take the kill switch's change; telling it again later",
                        enabled=switch.enabled, error=error)  # fmt: skip
            return False
        log.warning("sending on the configuration set " + ("enabled" if switch.enabled else "DISABLED"),
                    by=switch.changed_by, reason=switch.reason)  # fmt: skip
        return True

    async def push_suppressions(self) -> int:
        """Put the next bounced and complained prospects on the SES list; answers how many."""
        if not self._push:
            return 0
        pushed = []
        for item in await ses_suppressions.pending(self._pool, PUSH_BATCH):
            error = await self._ses.put_suppressed(item.email, item.reason)
            if error and error.startswith(UNAVAILABLE):
                log.info("SES has no account suppression list calls here; not pushing", error=error)
                self._push = False
                break
            if error:
                log.warning("PutSuppressedDestination failed; trying again later", error=error)
                break
            pushed.append(item)
        await ses_suppressions.record_pushed(self._pool, pushed)
        if pushed:
            log.info("prospects put on the SES account suppression list", count=len(pushed))
        return len(pushed)
