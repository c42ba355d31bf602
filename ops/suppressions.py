"""`outreach suppressions sync`: SES's account suppression list into ours.

Pages ListSuppressedDestinations (both reasons) and suppresses every address it lists,
a page per transaction (shared.lifecycle.prospect.suppress_from_ses): the keyed hash
goes to `suppressions`, and a prospect of that address is raised to bounced or
complained with an event. Idempotent: a second run adds nothing. The other way, ours
to SES, is the sender's (sender.safety_nets).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.lifecycle import prospect as prospects
from shared.ses_suppressions import STATUS_OF_REASON

PAGE_SIZE = 1000  # SES's largest page


@dataclass
class SyncReport:
    pages: int = 0
    listed: int = 0
    added: int = 0  # addresses we had not suppressed
    raised: int = 0  # prospects whose status rose to bounced or complained
    skipped: int = 0  # listed with a reason we do not know, or no address


async def sync(pool: asyncpg.Pool, ses: Any, key: bytes, *, page_size: int = PAGE_SIZE) -> SyncReport:
    report = SyncReport()
    correlation_id = f"ses-suppression-sync-{uuid.uuid4()}"
    request: dict[str, Any] = {"Reasons": ["BOUNCE", "COMPLAINT"], "PageSize": page_size}
    while True:
        page = await ses.list_suppressed_destinations(**request)
        report.pages += 1
        addresses = []
        for summary in page.get("SuppressedDestinationSummaries", []):
            report.listed += 1
            status = STATUS_OF_REASON.get(summary.get("Reason", ""))
            address = str(summary.get("EmailAddress", "")).strip()
            if status is None or "@" not in address:
                report.skipped += 1
                continue
            addresses.append((address, status))
        if addresses:
            async with pool.acquire() as conn, conn.transaction():
                added, raised = await prospects.suppress_from_ses(
                    conn, addresses, key, correlation_id=correlation_id
                )
            report.added += added
            report.raised += raised
        if not page.get("NextToken"):
            return report
        request["NextToken"] = page["NextToken"]
