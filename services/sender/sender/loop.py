"""One chunk of a campaign: claim, send at the cadence, record; then continue, complete or pause."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import asyncpg

from sender.adapters import store
from sender.adapters.ses import SesGateway
from sender.domain import LIMIT_REASONS, Cadence, SesOutcome, Verdict, redact, throttle_backoff
from sender.metrics import ACHIEVED_RATE, ELIGIBLE_REMAINING, SENDS
from sender.pacing import DomainPacer, PacedQueue
from sender.quota import QuotaKeeper
from sender.warmup import WarmupGuard
from sender.work import MIN_WAIT, CampaignPlan, Clock, Item, WorkReader, plan_all
from shared import eligibility
from shared.addresses import domain_of
from shared.compose import UNBUILDABLE, compose, reply_address
from shared.db import DATABASE_AWAY
from shared.events import CampaignChunkCompletedData, Envelope, PauseCode
from shared.gathering import Gathering
from shared.lifecycle import campaign as campaigns
from shared.lifecycle import send as sends
from shared.lifecycle import sending_switch, sequence
from shared.lifecycle.campaign import Actor
from shared.links import unsubscribe_url
from shared.logging import get_logger
from shared.rendering import Recipient, TemplateError, render
from shared.sequence import FIRST_STEP, Step

log = get_logger(__name__)
T = TypeVar("T")
OUTAGE_ATTEMPTS = 20  # about 45 s of waiting in all
COMMITS_IN_FLIGHT = 8  # claim statements at once, and as many outcome statements (SenderSettings.db_pool_max)
KILL_SWITCH = "sending is disabled on the SES configuration set (the kill switch); an admin re-enables it"
PROSPECT_FIELDS = (
    "SELECT email, first_name, last_name, company, title, attributes FROM prospects WHERE id = $1"
)


async def through_outages(what: str, operation: Callable[[int], Awaitable[T]]) -> T:
    """Run operation(attempt), again while the database is away (a restart, a failover)."""
    for attempt in range(OUTAGE_ATTEMPTS - 1):
        try:
            return await operation(attempt)
        except DATABASE_AWAY as exc:
            log.warning(f"{what} failed; retrying", error=repr(exc), attempt=attempt + 1)
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0))
    return await operation(OUTAGE_ATTEMPTS - 1)


@dataclass(frozen=True)
class SenderConfig:
    batch_size: int
    max_in_flight: int
    chunk_max_seconds: float
    chunk_min_seconds: float
    throttle_retries: int
    ambiguous_to_pause: int
    public_base_url: str
    failure_run_pause: int = 10
    message_id_domain: str = "email.amazonses.com"
    reply_domain: str | None = None  # REPLY_DOMAIN: each send's own Reply-To, for matching replies
    postal_address: str | None = None  # SENDER_POSTAL_ADDRESS: the compliance footer's (shared.footer)


@dataclass
class ChunkState:
    """What one chunk has done so far, and whether it must stop early."""

    campaign_id: uuid.UUID
    lease: uuid.UUID
    cause: Envelope
    plan: CampaignPlan
    campaign: asyncpg.Record
    reader: WorkReader
    counts: dict[str, int] = field(default_factory=lambda: {"sent": 0, "failed": 0, "unknown": 0})
    stop: str | None = None  # why the chunk ends early
    back_off: bool = False  # SES kept throttling: a moment before the next chunk
    failure: BaseException | None = None  # a send that failed unexpectedly: the chunk fails with it
    max_seq: int = 0
    queue: PacedQueue[Item] = field(default_factory=lambda: PacedQueue(DomainPacer(None)))
    warmup_used: bool = False  # the sending domain's warm-up allowance ran out in this chunk
    # The sends in flight: a batch's last sends finish while the next batch starts.
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)
    sending: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)  # their items' keys
    slots: asyncio.Semaphore | None = None

    @property
    def sending_domain(self) -> str:
        return domain_of(self.campaign["from_email"])


class RateMeter:
    """Sends started in the last minute, for the achieved-rate gauge."""

    def __init__(self, window: float = 60.0) -> None:
        self._window = window
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        while self._times and self._times[0] < now - self._window:
            self._times.popleft()
        span = min(self._window, max(now - self._times[0], 1e-9)) if len(self._times) > 1 else self._window
        ACHIEVED_RATE.set(len(self._times) / span if len(self._times) > 1 else 0)


class ChunkRunner:
    def __init__(
        self, *, pool: asyncpg.Pool, ses: SesGateway, cadence: Cadence, quota: QuotaKeeper, config: SenderConfig,
        clock: Clock | None = None, pacer: DomainPacer | None = None, warmup: WarmupGuard | None = None,
    ) -> None:  # fmt: skip
        self._pool = pool
        self.pacer = pacer or DomainPacer(None)
        self._warmup = warmup or WarmupGuard(pool, None)
        self.clock = clock or Clock()
        # Set when a run ends waiting: the watch looks at its next moment.
        self.waiting_changed = asyncio.Event()
        self._ses = ses
        self._cadence = cadence
        self._quota = quota
        self._config = config
        self._ambiguous_streak = 0
        self._failure_streaks: dict[uuid.UUID, int] = {}
        self._meter = RateMeter()
        self._eligible_logged: dict[uuid.UUID, float] = {}
        self._stopping = False
        self._background: set[asyncio.Task[None]] = set()
        # Claims and outcomes that arrive together go in one statement each: a claim is
        # still committed before its own SES call, and an outcome before the send counts.
        # Several smaller statements at once, not one for every send in flight: that one
        # moved all sends in lockstep (all claimed, then all called, then all recorded), the
        # process idle while each statement ran (docs/benchmarks.md, issue 20).
        batch = -(-config.max_in_flight // COMMITS_IN_FLIGHT)
        self._claims = Gathering(sends.claim_all, max_batch=batch, concurrency=COMMITS_IN_FLIGHT)
        self._outcomes = Gathering(sends.record_all, max_batch=batch, concurrency=COMMITS_IN_FLIGHT)

    def shutdown(self) -> None:
        """End the chunk in hand after the sends in flight; its continuation carries on later."""
        self._stopping = True

    async def run(self, campaign_id: uuid.UUID, *, run_id: uuid.UUID, chunk: int, cause: Envelope) -> None:
        lease = uuid.uuid4()
        plan: CampaignPlan | None = None
        problem: str | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await campaigns.begin_chunk(conn, campaign_id, run_id, chunk, lease)
            if campaign is None:
                log.info(
                    "stale or stopped campaign request ignored", campaign_id=str(campaign_id), chunk=chunk
                )
                return
            try:
                # Validated by the gateway at save; any custom field it accepted renders here.
                plan = CampaignPlan.of(campaign, self._config.message_id_domain, self._config.postal_address)
            except (TemplateError, ValueError) as exc:
                problem = f"the template is invalid: {exc}"
            interrupted = await sends.reconcile(conn, campaign_id, cause)
            if plan is not None:
                await self._advance_interrupted(conn, plan, campaign, interrupted)
        if interrupted:
            SENDS.labels("unknown").inc(len(interrupted))
            log.warning("claims of an interrupted sender marked unknown", count=len(interrupted))
        if plan is None:
            await campaigns.pause(
                self._pool, campaign_id, problem or "invalid", code="template", by="sender", cause=cause
            )
            return
        if not (await sending_switch.read(self._pool)).enabled:
            await campaigns.pause(
                self._pool, campaign_id, KILL_SWITCH, code="reputation", by="sender", cause=cause
            )
            return
        await plan_all(self._pool, plan)
        state = ChunkState(
            campaign_id, lease, cause, plan, campaign, WorkReader(self._pool, plan, self.clock),
            queue=PacedQueue(self.pacer),
        )  # fmt: skip
        await self._quota.refresh_if_due()
        if (limit := self._quota.quota.exhausted()) is not None:
            await self._pause_for_limit(limit, cause)
            return
        if not await self._warmup.begin(
            state.sending_domain, self.clock.now(), self._quota.quota.max_24_hour_send
        ):
            await self._wait_for_warmup(state)
            return
        batch = await self._next_batch(state, campaign["cursor_seq"])
        if not batch:
            await self._wait_or_complete(state)
            return
        await self._send_batches(state, batch)
        if state.warmup_used and self._warmup.used_today(state.sending_domain, self.clock.now()):
            await self._wait_for_warmup(state)
            return
        if await self._wait_for_domains(state):
            return
        await self._end_chunk(state, run_id, chunk)

    async def _advance_interrupted(
        self,
        conn: asyncpg.Connection,
        plan: CampaignPlan,
        campaign: asyncpg.Record,
        rows: list[asyncpg.Record],
    ) -> None:
        """An interrupted claim is `unknown`: maybe sent. Its sequence goes on (never with
        that step again), threaded on the messages known to have gone."""
        first = plan.templates[FIRST_STEP]
        for row in rows:
            if row["prospect_id"] is None:
                continue
            prospect = await conn.fetchrow(PROSPECT_FIELDS, row["prospect_id"])
            if prospect is None:
                continue
            subject = render(first, Recipient.of(prospect), "").subject
            await sequence.advance(
                conn,
                sequence.Advance(
                    campaign["id"], row["prospect_id"], row["step_id"], self.clock.now(), None, subject
                ),
            )

    async def _wait_or_complete(self, state: ChunkState) -> None:
        """Nothing may go now: wait for the next moment, or complete when none is left."""
        moment = await state.reader.next_moment()
        if moment is None:
            if await campaigns.complete(self._pool, state.campaign_id, state.lease, state.cause):
                ELIGIBLE_REMAINING.labels(str(state.campaign_id)).set(0)
                log.info("campaign completed", campaign_id=str(state.campaign_id))
            return
        if await campaigns.wait(self._pool, state.campaign_id, state.lease, moment):
            log.info("campaign waiting", campaign_id=str(state.campaign_id), until=moment.isoformat())
            self.waiting_changed.set()

    async def _wait_for_warmup(self, state: ChunkState) -> None:
        """The sending domain has used the day's warm-up allowance: the campaign waits for the next day."""
        assert self._warmup.ramp is not None
        moment = self._warmup.ramp.next_day(self.clock.now())
        if await campaigns.wait(self._pool, state.campaign_id, state.lease, moment, reason="warmup"):
            log.info("campaign waiting for the warm-up's next day", campaign_id=str(state.campaign_id),
                     domain=state.sending_domain, until=moment.isoformat())  # fmt: skip
            self.waiting_changed.set()

    async def _wait_for_domains(self, state: ChunkState) -> bool:
        """A chunk that sent nothing because every domain it holds must wait (a low
        DOMAIN_RATE_PER_MINUTE): the campaign waits for the first to open, and the others take their turn."""
        opening = state.queue.next_opening()
        if state.stop or opening is None or any(state.counts.values()):
            return False
        ahead = timedelta(seconds=max(0.0, opening - asyncio.get_running_loop().time()))
        moment = self.clock.now() + max(ahead, MIN_WAIT)
        if await campaigns.wait(self._pool, state.campaign_id, state.lease, moment, reason="domain_pacing"):
            log.info("campaign waiting for its recipients' domains", campaign_id=str(state.campaign_id),
                     domains=len(state.queue.held_domains), until=moment.isoformat())  # fmt: skip
            self.waiting_changed.set()
        return True

    async def _next_batch(self, state: ChunkState, cursor: int) -> list[Item]:
        batch = await self._read_batch(state, cursor)
        if not batch and cursor > 0:  # the final sweep: prospects re-activated behind the cursor
            batch = await self._read_batch(state, 0)
        return batch

    async def _send_batches(self, state: ChunkState, batch: list[Item]) -> None:
        """Send the batch; at high rates, go on with further batches until the chunk has
        run chunk_min_seconds, so the hand-off between chunks (through the outbox and the
        broker) stays a small share of the time. The next batch is read while this one sends.
        Items whose domain must wait (sender.pacing) are held while the others go on; the
        reads skip the held domains, and when only held items are left the chunk waits for
        the first to open, within its time."""
        state.slots = asyncio.Semaphore(self._config.max_in_flight)
        try:
            await self._dispatch_batches(state, batch)
        finally:
            if state.in_flight:
                await asyncio.gather(*state.in_flight, return_exceptions=True)
        if state.failure is not None:
            # The chunk fails and is redelivered: its retry reconciles whatever claim the
            # failed send left, instead of a later chunk finding it by chance.
            raise state.failure

    async def _dispatch_batches(self, state: ChunkState, batch: list[Item]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._config.chunk_max_seconds
        queue = state.queue
        queue.add(batch)
        found_nothing: list[str] | None = None  # the skipped domains of a read that found nothing
        while True:
            after = max((i.prospect["seq"] for i in batch if i.step.id == FIRST_STEP), default=state.max_seq)
            skip = queue.held_domains
            # Cursor form only: the final sweep behind the cursor is the next chunk's business.
            following = (
                asyncio.create_task(self._read_batch(state, after, queue.keys() | state.sending, skip))
                if skip != found_nothing
                else None
            )
            try:
                await self._send_batch(state, deadline)
                if state.stop or loop.time() - started >= self._config.chunk_min_seconds:
                    return
                if await store.plan_version(self._pool, state.campaign_id) != state.plan.version:
                    return  # the steps or schedule were edited: the next chunk plans again
                batch = await following if following is not None else []
            finally:
                if following is not None:
                    following.cancel()
            if batch:
                queue.add(batch)
                found_nothing = None
                continue
            found_nothing = skip
            opening = queue.next_opening()
            if opening is None or opening - started >= self._config.chunk_min_seconds:
                return
            await asyncio.sleep(max(0.0, opening - loop.time()))

    async def _read_batch(
        self, state: ChunkState, after_seq: int, exclude: set[tuple[uuid.UUID, uuid.UUID]] | None = None,
        skip_domains: list[str] | None = None,
    ) -> list[Item]:  # fmt: skip
        return await state.reader.read(
            after_seq, self._config.batch_size, exclude or set(), skip_domains or []
        )

    async def _send_batch(self, state: ChunkState, deadline: float) -> None:
        """Start what the chunk's queue lets go now, each at its slot of the cadence."""
        loop = asyncio.get_running_loop()
        slots, tasks = state.slots, state.in_flight
        assert slots is not None
        shut_out: list[Item] = []  # the window closed before their turn
        while True:
            await slots.acquire()
            if self._stopping:
                state.stop = state.stop or "the sender is shutting down"
            if state.stop or loop.time() > deadline:
                slots.release()
                break
            now = loop.time()
            # The item's domain is booked for the slot it is about to get (nothing awaited between).
            item = state.queue.take(self._cadence.peek(now))
            if item is None:
                slots.release()
                break
            # Asked before the slot (a shut window costs no slot) and at it (the exact instant).
            if not state.reader.may_go(item, self.clock.now()):
                shut_out.append(item)
                slots.release()
                continue
            await self._wait_for_slot(loop, now)
            if state.stop:
                slots.release()
                break
            if not state.reader.may_go(item, self.clock.now()):
                shut_out.append(item)
                slots.release()
                continue
            if item.step.id == FIRST_STEP:
                state.max_seq = max(state.max_seq, item.prospect["seq"])
            task = asyncio.create_task(self._send_one(state, item))
            tasks.add(task)
            state.sending.add(item.key)

            def done(finished: asyncio.Task[None], key: tuple[uuid.UUID, uuid.UUID] = item.key) -> None:
                tasks.discard(finished)
                state.sending.discard(key)
                slots.release()
                if not finished.cancelled() and (exc := finished.exception()) is not None:
                    state.failure = state.failure or exc
                    state.stop = state.stop or "a send failed unexpectedly"

            task.add_done_callback(done)
        if shut_out:
            await state.reader.put_off(shut_out, self.clock.now())

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop, now: float | None = None) -> None:
        slot = self._cadence.next_slot(loop.time() if now is None else now)
        delay = slot - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self._meter.tick(loop.time())

    async def _send_one(self, state: ChunkState, item: Item) -> None:
        if not self._quota.quota.try_reserve():
            await self._stop_for_quota(state)
            return
        if not self._warmup.try_reserve(state.sending_domain, self.clock.now()):
            self._quota.quota.unreserve()
            state.warmup_used = True
            state.stop = state.stop or "the sending domain's warm-up allowance for the day is used"
            return
        prospect, step = item.prospect, item.step
        claim = await self._claim(state, prospect["id"], step)
        if claim is None:
            self._unreserve(state)
            if not await store.still_ours(self._pool, state.campaign_id, state.lease):
                state.stop = state.stop or "the campaign stopped or another sender took over"
            elif (
                step.id != FIRST_STEP
                and await store.plan_version(self._pool, state.campaign_id) != state.plan.version
            ):
                # The steps or schedule were edited: the rest of the chunk's follow-ups were
                # planned on the old ones. The next chunk plans them again.
                state.stop = state.stop or "the sequence changed"
            return  # else: the prospect unsubscribed or was suppressed since the batch was read
        link = unsubscribe_url(self._config.public_base_url, claim.token)
        campaign = state.campaign
        try:
            reply_to = None
            if self._config.reply_domain and claim.reply_token:
                reply_to = reply_address(campaign, claim.reply_token, self._config.reply_domain)
            composed = compose(
                campaign, state.plan.templates[step.id], Recipient.of(prospect), link, item.thread, reply_to
            )
            raw = composed.raw()
        except UNBUILDABLE as exc:
            # This prospect's message cannot be built (a personal field the email package
            # refuses): that one send fails with the reason; the chunk goes on.
            self._unreserve(state)
            await self._record(state, claim, "failed", code="RenderError", message=redact(str(exc), 500))
            return
        tags = {
            "campaign_id": str(state.campaign_id),
            "prospect_id": str(prospect["id"]),
            "send_id": str(claim.send_id),
        }
        outcome = await self._call_ses(raw, campaign["from_email"], prospect["email"], tags)
        await self._settle(state, claim, outcome, composed.content.subject)

    async def _call_ses(self, raw: bytes, from_email: str, to: str, tags: dict[str, str]) -> SesOutcome:
        outcome = await self._ses.send_raw(raw, from_email=from_email, to=to, tags=tags)
        attempt = 0
        # Throttled or never connected: SES did not take it, so the same recipient may go again.
        while (
            outcome.verdict in (Verdict.THROTTLED, Verdict.NOT_SENT)
            and attempt < self._config.throttle_retries
        ):
            attempt += 1
            await asyncio.sleep(throttle_backoff(attempt, random.random()))  # noqa: S311 - jitter
            await self._wait_for_slot(asyncio.get_running_loop())
            outcome = await self._ses.send_raw(raw, from_email=from_email, to=to, tags=tags)
        return outcome

    async def _settle(self, state: ChunkState, claim: sends.Claim, outcome: SesOutcome, subject: str) -> None:
        verdict = outcome.verdict
        if verdict is Verdict.SENT:
            self._ambiguous_streak = 0
            self._failure_streaks.pop(state.campaign_id, None)
            await self._record(state, claim, "sent", subject=subject, message_id=outcome.message_id)
        elif verdict is Verdict.FAILED:
            self._unreserve(state)
            await self._record(
                state, claim, "failed", subject=subject, code=outcome.code, message=outcome.message
            )
            await self._count_failure(state, outcome)
        elif verdict is Verdict.AMBIGUOUS:  # SES may have counted it: it stays reserved
            self._ambiguous_streak += 1
            await self._record(
                state, claim, "unknown", subject=subject, code=outcome.code, message=outcome.message
            )
            if self._ambiguous_streak >= self._config.ambiguous_to_pause:
                reason = f"SES unreachable or failing ({self._ambiguous_streak} ambiguous errors in a row)"
                state.stop = reason
                await campaigns.pause(
                    self._pool, state.campaign_id, reason, code="ses_unavailable", by="sender", cause=state.cause
                )  # fmt: skip
        else:  # PAUSE, or still THROTTLED / NOT_SENT after the retries: not accepted, stays eligible
            self._unreserve(state)
            await sends.release(self._pool, claim)
            SENDS.labels("released").inc()
            await self._refused(state, outcome)

    def _unreserve(self, state: ChunkState) -> None:
        """The send did not count after all (not accepted, or failed before SES took it)."""
        self._quota.quota.unreserve()
        self._warmup.unreserve(state.sending_domain)

    async def _refused(self, state: ChunkState, outcome: SesOutcome) -> None:
        """SES did not take the message: the chunk ends; an account-level refusal pauses."""
        if outcome.verdict is not Verdict.PAUSE or outcome.pause is None:
            state.stop = f"SES kept refusing: {outcome.code}"
            state.back_off = True
            log.warning("SES throttling persists; the chunk ends early", code=outcome.code)
            return
        code, reason = outcome.pause
        state.stop = reason
        if code in campaigns.SELF_LIFTING:  # SES says the daily quota is used up
            await self._pause_for_limit(code, state.cause, by="ses")
            return
        # About the account, not this campaign: every sending campaign would meet it too.
        paused = await campaigns.pause_all_sending(self._pool, reason, code=code, by="ses", cause=state.cause)
        if paused:
            log.warning("SES refused for the account; every sending campaign paused", code=code,
                        ses_code=outcome.code, campaigns=len(paused))  # fmt: skip

    async def _count_failure(self, state: ChunkState, outcome: SesOutcome) -> None:
        """Failures in a row in one campaign pause it, instead of burning the list."""
        streak = self._failure_streaks.get(state.campaign_id, 0) + 1
        self._failure_streaks[state.campaign_id] = streak
        if streak < self._config.failure_run_pause or state.stop:
            return
        last = f"{outcome.code}: {outcome.message or ''}".strip()
        reason = f"{streak} sends failed in a row; the last: {last}"[:900]
        state.stop = reason
        self._failure_streaks.pop(state.campaign_id, None)
        await campaigns.pause(
            self._pool, state.campaign_id, reason, code="failure_run", by="sender", cause=state.cause
        )

    async def _stop_for_quota(self, state: ChunkState) -> None:
        limit = self._quota.quota.exhausted() or "daily_quota"
        if state.stop is None:
            state.stop = LIMIT_REASONS[limit]
            await self._pause_for_limit(limit, state.cause)

    async def _pause_for_limit(self, limit: PauseCode, cause: Envelope, *, by: Actor = "sender") -> None:
        """A daily limit is the account's: every sending campaign pauses until it lifts."""
        resumes_at = await self._quota.resumes_at(limit)
        await campaigns.pause_all_sending(
            self._pool, LIMIT_REASONS[limit], code=limit, by=by, cause=cause, resumes_at=resumes_at
        )

    async def _claim(self, state: ChunkState, prospect_id: uuid.UUID, step: Step) -> sends.Claim | None:
        """Commit the claim. A claim whose commit answer was lost to a database restart is
        recognised by its id on the next attempt and taken up, not left `claimed`."""
        wanted = sends.new_claim(state.campaign_id, prospect_id, step.id, step.number)
        return await through_outages(
            "claiming",
            lambda attempt: self._claims.submit(
                self._pool, sends.ClaimRequest(wanted, state.lease, self.clock.now(), retrying=attempt > 0)
            ),
        )

    async def _record(
        self, state: ChunkState, claim: sends.Claim, outcome: str, *, subject: str = "", **detail: str | None
    ) -> None:
        """Record what SES answered, and the prospect's place in the sequence with it (one
        statement, with the outcomes that arrive with it). The answer is known, so a database
        that is briefly away is waited for rather than leaving the send `unknown`; the
        statement is idempotent (only a claim still `claimed` takes an outcome, and only then
        does the sequence advance)."""

        # A first step that failed reached nobody: no conversation to follow up.
        advance = None
        if outcome != "failed" or claim.step_id != FIRST_STEP:
            message_id = detail.get("message_id") if outcome == "sent" else None
            advance = sequence.Advance(
                state.campaign_id, claim.prospect_id, claim.step_id, self.clock.now(), message_id, subject
            )

        answer = sends.Outcome(claim, outcome, state.cause, advance=advance, **detail)
        if await through_outages(
            "recording a send's outcome", lambda _: self._outcomes.submit(self._pool, answer)
        ):
            state.counts[outcome] += 1
            SENDS.labels(outcome).inc()

    async def _end_chunk(self, state: ChunkState, run_id: uuid.UUID, chunk: int) -> None:
        if not await store.still_ours(self._pool, state.campaign_id, state.lease):
            return  # paused (by the admin or above) or taken over: no continuation
        data = CampaignChunkCompletedData(
            campaign_id=state.campaign_id, run_id=run_id, chunk=chunk,
            attempted=sum(state.counts.values()), cursor_seq=state.max_seq, has_more=True, **state.counts,
        )  # fmt: skip
        await campaigns.finish_chunk(self._pool, data, state.lease, state.cause)
        self._report_remaining(state.campaign_id)
        if state.back_off and not self._stopping:  # throttled: give SES a moment before continuing
            await asyncio.sleep(2.0)

    def _report_remaining(self, campaign_id: uuid.UUID) -> None:
        """Refresh the eligible-remaining gauge at most every 30 s, off the send path
        (the count walks the whole list: about a second at a million prospects)."""
        now = time.monotonic()
        if now - self._eligible_logged.get(campaign_id, -1e9) < 30:
            return
        self._eligible_logged[campaign_id] = now
        task = asyncio.create_task(self._count_remaining(campaign_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _count_remaining(self, campaign_id: uuid.UUID) -> None:
        try:
            ELIGIBLE_REMAINING.labels(str(campaign_id)).set(await eligibility.count(self._pool, campaign_id))
        except (asyncpg.PostgresError, *DATABASE_AWAY) as exc:
            # A gauge is not worth failing for.
            log.warning("eligible count failed", campaign_id=str(campaign_id), error=repr(exc))
