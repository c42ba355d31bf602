"""Realistic SES events (tests/fixtures/eventbridge) re-addressed to one of our sends."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eventbridge"


def addressed(kind: str, send: Any) -> dict[str, Any]:
    """The fixture `kind` (e.g. "delivery") under a new envelope id, for `send` (a mapping with
    id, campaign_id, prospect_id and ses_message_id), tagged as the sender tags its messages."""
    payload: dict[str, Any] = json.loads((FIXTURES / f"{kind}.json").read_text())
    payload["id"] = str(uuid.uuid4())
    mail = payload["detail"]["mail"]
    mail["messageId"] = send["ses_message_id"]
    mail["tags"].update({
        "send_id": [str(send["id"])], "campaign_id": [str(send["campaign_id"])],
        "prospect_id": [str(send["prospect_id"])],
    })  # fmt: skip
    return payload
