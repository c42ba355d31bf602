"""Typical Outreach messages as a widely used content filter scores them: SpamAssassin
(Debian's package; `make test-content`, which .ci/run installs it for), local tests only
(-L: no network, so no DNS blocklists). Each message is scored as SES delivers it: SES
adds its Message-ID, a Date and its DKIM signature. Reference in the same run: a message
any filter must catch, so a low score means the filter ran and liked ours."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from shared.compose import Thread, compose
from shared.footer import with_footer
from shared.rendering import Recipient, parse_campaign

pytestmark = pytest.mark.content_filter

SPAMASSASSIN = shutil.which("spamassassin") or "/usr/bin/spamassassin"
ADDRESS = "Example Analytics Ltd | 1 Main Street | Springfield, ST 12345 | USA"
CAMPAIGN = {"from_email": "dana@example.com", "from_name": "Dana Smith", "reply_to": None}
ADA = Recipient(email="ada@prospect.example", first_name="Ada", company="Initech")
LINK = "https://outreach.example.com/api/unsubscribe?token=AbCdEf0123456789xyzABC"
INTRO = """<p>Hi {{ first_name }},</p>
<p>I noticed {{ company }} is hiring data engineers. We help teams like yours cut their
pipeline costs by moving nightly batch jobs to incremental models.</p>
<p>Would a 20-minute call next week be useful? Happy to share what worked for two similar teams.</p>
<p>Best,<br>Dana Smith<br>Example Analytics</p>"""
FOLLOW_UP = (
    "<p>Hi {{ first_name }}, just bringing this back to the top of your inbox. Worth a chat?</p><p>Dana</p>"
)
SPAM = (
    b"From: winner@lottery.example\r\nTo: you@example.org\r\nSubject: FREE MONEY!!! You are a WINNER $$$\r\n"
    b"Content-Type: text/html\r\n\r\n<html><body><font size=7 color=red>CLICK HERE NOW to claim your "
    b"FREE $1,000,000 prize!!! 100% GUARANTEED, no risk, act now, limited time, viagra, cheap meds, "
    b"Nigerian prince wire transfer, earn extra cash from home, lose weight fast!!!</font></body></html>\r\n"
)


def as_delivered(raw: bytes) -> bytes:
    """What SES adds on the way out (it signs with the domain's Easy DKIM keys)."""
    return (
        b"Message-ID: <0100018c1234abcd-5678-4def-9abc-0123456789ab-000000@email.amazonses.com>\r\n"
        b"Date: Fri, 04 Dec 2026 20:40:00 +0000\r\n"
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=ses; h=From:To:Subject; bh=x; b=y\r\n" + raw
    )


def score(raw: bytes) -> tuple[float, str]:
    # Local tests, nothing learned from these runs (no Bayes, no auto-learning).
    command = [SPAMASSASSIN, "-L", "-t", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0"]
    result = subprocess.run(command, input=raw, capture_output=True, timeout=120, check=False)
    report = result.stdout.decode(errors="replace")
    status = re.search(
        r"^X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=([^\n]*(?:\n\t[^\n]*)*)", report, re.M
    )
    assert status, report[-2000:]
    return float(status.group(1)), " ".join(status.group(2).split())


def message(html: str, subject: str, thread: Thread | None = None) -> bytes:
    templates = with_footer(parse_campaign(subject, html, None), ADDRESS).templates
    return as_delivered(compose(CAMPAIGN, templates, ADA, LINK, thread).raw())


@pytest.fixture(scope="module")
def reference() -> float:
    if not shutil.which("spamassassin"):
        raise RuntimeError("SpamAssassin is missing: apt-get install -y spamassassin (make test-content)")
    spam, tests = score(SPAM)
    print(f"\nreference: an obvious spam scores {spam} ({tests})")
    assert spam >= 5.0, "the filter must catch the reference, or the scores below mean nothing"
    return spam


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("first message", lambda: message(INTRO, "Quick question about {{ company }}'s data stack")),
        ("follow-up, threaded", lambda: message(FOLLOW_UP, "Re: Quick question about Initech's data stack", Thread(
            None, ("<0100018c-1@email.amazonses.com>", "<0100018c-1@email.amazonses.com>")))),
    ],
)  # fmt: skip
def test_a_typical_campaign_message_scores_low(reference, name, raw):
    value, tests = score(raw())
    print(f"\n{name}: {value} ({tests}); the reference spam {reference}")
    assert value < 1.0, tests
