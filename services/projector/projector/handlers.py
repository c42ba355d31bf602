"""Applying one event (inside the transaction that tracks it): first the read tables, then
the decisions that act on what they show.

The read tables (send_status, campaign_stats) are a projection: a rebuild drops and
replays them. The decisions (raise a prospect's status on a bounce or complaint, keep the
opt-out audit row, pause a campaign whose reputation is at risk) act on the world through
the lifecycle modules; a rebuild does not run them again (`side_effects=False`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from projector.adapters import store
from projector.metrics import APPLIED, LAG, SEQUENCE_STOPS
from projector.policy import ReputationLimits, SendChanges, changes_for, reputation_breach, stop_reasons
from shared.events import Envelope, ProspectsImported
from shared.lifecycle import campaign as campaigns
from shared.lifecycle import prospect as prospects
from shared.lifecycle import sequence


@dataclass(frozen=True)
class ProjectionOptions:
    limits: ReputationLimits = field(default_factory=ReputationLimits)
    # A rebuild recomputes read tables only: prospects and campaigns are left alone.
    side_effects: bool = True


async def project(event: Envelope, conn: asyncpg.Connection, *, options: ProjectionOptions) -> None:
    await project_batch([event], conn, options=options)


async def project_batch(
    events: Sequence[Envelope], conn: asyncpg.Connection, *, options: ProjectionOptions
) -> None:
    """Apply events in order, to the same read tables as one transaction each would give,
    in a few statements for the whole batch (the sends' facts and counters, the stops).

    The decisions come after the batch's counters: a reputation check sees the whole batch.
    """
    if options.side_effects:
        for event in events:
            if isinstance(event, ProspectsImported):
                # The search indexer (projector.search_indexer) takes it from here, in its own steps.
                await store.queue_search_refresh(conn, event.event_id, event.data.written_since)
        # The first event a campaign's stop_on lists ends the prospect's sequence there: the
        # sender's next claim for them finds the stop.
        causes = [
            sequence.StopCause(prospect_id, campaign_id, reasons, event.event_id)
            for event in events
            if (stops := stop_reasons(event)) is not None
            for prospect_id, campaign_id, reasons in [stops]
        ]
        for reason in await sequence.stop_where_listening(conn, causes):
            SEQUENCE_STOPS.labels(reason).inc()
    changed = [(event, changes) for event in events if (changes := changes_for(event)) is not None]
    counted = iter(
        await store.apply_send_changes(
            conn, [changes for _, changes in changed if changes.send_id is not None]
        )
    )
    for event, changes in changed:
        counters = next(counted) if changes.send_id is not None else []
        if options.side_effects:
            await _act(event, conn, changes, counters, options)
    now = time.time()
    for event in events:
        APPLIED.labels(event.type).inc()
    if events:
        LAG.set(max(0.0, now - events[-1].occurred_at.timestamp()))


async def _act(
    event: Envelope,
    conn: asyncpg.Connection,
    changes: SendChanges,
    counters: list[str],
    options: ProjectionOptions,
) -> None:
    if changes.prospect_status and changes.prospect_id is not None:
        reason = f"{event.type} {changes.error or ''}".strip()[:500]
        await prospects.raise_status(conn, changes.prospect_id, changes.prospect_status, reason, cause=event)
    if changes.unsubscribe_source and changes.prospect_id is not None:
        await store.audit_unsubscribe(
            conn, event.event_id, changes, changes.unsubscribe_source, changes.unsubscribe_reason
        )
    if changes.campaign_id is not None and ({"bounced", "complained"} & set(counters)):
        await _guard_reputation(event, conn, changes.campaign_id, options.limits)


async def _guard_reputation(
    event: Envelope, conn: asyncpg.Connection, campaign_id: uuid.UUID, limits: ReputationLimits
) -> None:
    counts = await store.campaign_counts(conn, campaign_id)
    if counts is None:
        return
    reason = reputation_breach(counts["sent"], counts["bounced"], counts["complained"], limits)
    if reason:
        await campaigns.pause(conn, campaign_id, reason, code="reputation", by="reputation", cause=event)
