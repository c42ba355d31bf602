"""A campaign's sequence: its own message as step 1, then the follow-ups of `steps`.

Pure. Steps have stable ids (step 1 is FIRST_STEP): a send is of a step id, so editing,
adding or removing follow-ups while a campaign runs never sends anyone a step twice.
A prospect's next step is the one after the furthest step they had that is still in the
sequence; a removed step is skipped by those who have not had it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shared.schedule import Wait

FIRST_STEP = uuid.UUID(int=0)
REPLY_PREFIX = "Re: "
StopEvent = Literal["reply", "auto_reply", "unsubscribe", "complaint", "bounce", "click", "open"]
DEFAULT_STOP_ON: tuple[StopEvent, ...] = ("reply", "unsubscribe", "complaint", "bounce")


@dataclass(frozen=True)
class Step:
    id: uuid.UUID
    number: int  # 1-based, in the sequence as it is now
    wait: Wait | None  # None for step 1
    subject: str | None  # None: "Re: " + step 1's subject as the prospect received it
    body_html: str
    body_text: str | None


def steps_of(campaign: Mapping[str, Any]) -> list[Step]:
    """Step 1 (the campaign's own subject and bodies), then the stored follow-ups."""
    first = Step(
        FIRST_STEP, 1, None, campaign["subject"], campaign["body_html"], campaign["body_text"] or None
    )
    follow_ups = [
        Step(
            id=uuid.UUID(str(step["id"])),
            number=number,
            wait=Wait.parse(step["wait"]),
            subject=step.get("subject"),
            body_html=step["body_html"],
            body_text=step.get("body_text") or None,
        )
        for number, step in enumerate(campaign.get("steps") or [], start=2)
    ]
    return [first, *follow_ups]


def next_step(steps: Sequence[Step], sent: Collection[uuid.UUID]) -> Step | None:
    """The step a prospect who had `sent` gets next; None when none is left."""
    furthest = max((index for index, step in enumerate(steps) if step.id in sent), default=-1)
    return steps[furthest + 1] if furthest + 1 < len(steps) else None


def follow_up_subject(thread_subject: str) -> str:
    """A reply's subject: "Re: " once, however many replies deep."""
    return thread_subject if thread_subject.lower().startswith("re:") else REPLY_PREFIX + thread_subject


def thread_headers(message_ids: Sequence[str], domain: str) -> tuple[str, str] | None:
    """(In-Reply-To, References) for a reply in the thread of SES message ids so far."""
    if not message_ids:
        return None
    ids = [f"<{message_id}@{domain}>" for message_id in message_ids]
    return ids[-1], " ".join(ids)


def message_id_domain(region: str) -> str:
    """Where SES puts its Message-ID: email.amazonses.com in us-east-1, REGION.amazonses.com elsewhere."""
    return "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
