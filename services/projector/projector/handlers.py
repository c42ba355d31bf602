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
from dataclasses import dataclass, field

import asyncpg

from projector.adapters import store
from projector.metrics import APPLIED, LAG, SEQUENCE_STOPS
from projector.policy import ReputationLimits, SendChanges, changes_for, reputation_breach, stop_reasons
from shared.events import Envelope, ProspectsImported, StopReason
from shared.lifecycle import campaign as campaigns
from shared.lifecycle import prospect as prospects
from shared.lifecycle import sequence


@dataclass(frozen=True)
class ProjectionOptions:
    limits: ReputationLimits = field(default_factory=ReputationLimits)
    # A rebuild recomputes read tables only: prospects and campaigns are left alone.
    side_effects: bool = True


async def project(event: Envelope, conn: asyncpg.Connection, *, options: ProjectionOptions) -> None:
    if isinstance(event, ProspectsImported) and options.side_effects:
        # The search indexer (projector.search_indexer) takes it from here, in its own steps.
        await store.queue_search_refresh(conn, event.event_id, event.data.written_since)
    if options.side_effects and (stops := stop_reasons(event)) is not None:
        await _stop_sequences(event, conn, *stops)
    changes = changes_for(event)
    if changes is not None:
        counters: list[str] = []
        if changes.send_id is not None:
            counters = await store.apply_send_changes(conn, changes)
        if options.side_effects:
            await _act(event, conn, changes, counters, options)
    APPLIED.labels(event.type).inc()
    LAG.set(max(0.0, time.time() - event.occurred_at.timestamp()))


async def _stop_sequences(
    event: Envelope, conn: asyncpg.Connection, prospect_id: uuid.UUID, campaign_id: uuid.UUID | None,
    reasons: tuple[StopReason, ...],
) -> None:  # fmt: skip
    """The first event a campaign's stop_on lists ends the prospect's sequence there: the
    sender's next claim for them finds the stop."""
    for reason in reasons:
        stopped = await sequence.stop_where_listening(
            conn, prospect_id, reason, campaign_id=campaign_id, event_id=event.event_id
        )
        if stopped:
            SEQUENCE_STOPS.labels(reason).inc(len(stopped))


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
