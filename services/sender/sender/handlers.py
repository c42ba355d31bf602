"""The sender's event handlers: each starts or continues a campaign run."""

from __future__ import annotations

from sender.loop import ChunkRunner
from shared.events import CampaignChunkCompleted, CampaignRequested, CampaignResumed


async def on_campaign_requested(event: CampaignRequested | CampaignResumed, *, runner: ChunkRunner) -> None:
    """A send or resume request starts a run of its own (the event id names it)."""
    await runner.run(event.data.campaign_id, run_id=event.event_id, chunk=1, cause=event)


async def on_chunk_completed(event: CampaignChunkCompleted, *, runner: ChunkRunner) -> None:
    """The continuation: the next chunk of the same run."""
    if event.data.has_more:
        await runner.run(
            event.data.campaign_id, run_id=event.data.run_id, chunk=event.data.chunk + 1, cause=event
        )
