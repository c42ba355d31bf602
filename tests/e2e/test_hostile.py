"""Hostile input against a running stack: schemathesis on every route of the gateway's OpenAPI
spec (zero 5xx, zero schema violations), a fuzzed CSV corpus, and hostile bodies and secrets at
the webhook and the unsubscribe service. Every answer is a 2xx or a 4xx with a JSON reason."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import pytest

from tests.e2e.stack import Stack

pytestmark = pytest.mark.faults

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


# Through the front door, which answers 404 for them (tests/e2e/test_front_door.py).
OPERATOR_ROUTES = r"^/(healthz|readyz|metrics|internal/.*)$"


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(stack: Stack):
    token = stack.admin_headers()["Authorization"]
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{stack.public_url}/api/openapi.json", "--max-examples", "60",
        "--checks", CHECKS, "--header", f"Authorization: {token}", "--generation-with-security-parameters",
        "false", "--seed", "20261128", "--no-color", "--exclude-path-regex", OPERATOR_ROUTES,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(600):
        out, _ = await process.communicate()
    text = out.decode(errors="replace")
    summary = [line for line in text.splitlines() if "generated" in line or line.startswith("___")]
    print("\nschemathesis:", "; ".join(s.strip() for s in summary)[:2000])
    assert process.returncode == 0, text[-6000:]


def fuzzed_csv(rng: random.Random) -> bytes:
    """CSV-ish bytes: valid rows mixed with broken quoting, odd separators, control and non-UTF-8
    bytes, formula and injection attempts, huge fields."""
    pieces = [
        b"email,first_name,last_name\n",
        b"a@ex.example,Ann,Lee\n",
        b'"unterminated,quote\n',
        b";;;\n",
        b"\xff\xfe\xfa\n",
        b"=cmd|' /C calc'!A0,@SUM(1),+1\n",
        b"x@ex.example,\x00nul,\r\n",
        b"\r\r\n\n",
        b"y@ex.example,{{ unsubscribe_url }},<script>alert(1)</script>\n",
        b"," * 500 + b"\n",
        b"z@ex.example," + b"A" * 70_000 + b"\n",
        b"'; DROP TABLE prospects; --@ex.example,x\n",
        b'"q@ex.example","Multi\nline","ok"\n',
        b"\xef\xbb\xbfemail\n",
    ]
    body = [rng.choice(pieces) for _ in range(rng.randint(1, 40))]
    if rng.random() < 0.8:  # mostly with a header, so the rows themselves are exercised
        body.insert(
            0, rng.choice([b"email,first_name,last_name\n", b"Email;Name\r\n", b"\xef\xbb\xbfemail,x\n"])
        )
    if rng.random() < 0.1:  # now and then bytes that are not UTF-8: the whole file is refused
        body.insert(rng.randrange(len(body) + 1), b"\xff\xfe\xfa\n")
    return b"".join(body)


async def test_a_fuzzed_csv_corpus_never_breaks_the_import(stack: Stack):
    rng = random.Random(20261128)
    headers = {**stack.admin_headers(), "Content-Type": "text/csv"}
    statuses: dict[int, int] = {}
    async with stack.client() as http:
        for _ in range(150):
            body = fuzzed_csv(rng)
            async with http.post(f"{stack.public_url}/api/prospects/import", data=body, headers=headers) as r:
                statuses[r.status] = statuses.get(r.status, 0) + 1
                answer = await r.json()
                assert r.status in (200, 400, 413), answer
                if r.status == 200:
                    assert set(answer) >= {"inserted", "updated", "invalid", "errors"}
                else:
                    assert answer["error"]["message"]
        # The table survived every attempt.
        async with http.get(f"{stack.public_url}/api/prospects", headers=stack.admin_headers()) as r:
            assert r.status == 200
    print(f"\nfuzzed CSV: 150 files, answers {dict(sorted(statuses.items()))}")


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_nested(100_000), "application/json"),  # deeply nested
        (b'{"id": "\xff\xfe"}', "application/json"),  # not UTF-8
        (json.dumps({"detail": "x" * 2_000_000}).encode(), "application/json"),  # past the limit
        (b"\x00" * 100, "application/json"),
        (b"not json at all", "text/plain"),
    ],
)
async def test_hostile_webhook_bodies_get_a_4xx_with_a_reason(stack: Stack, body: bytes, content_type: str):
    headers = {"X-Webhook-Secret": stack.webhook_secret, "Content-Type": content_type}
    async with (
        stack.client() as http,
        http.post(f"{stack.public_url}/api/webhooks/ses-events", data=body, headers=headers) as r,
    ):
        assert 400 <= r.status < 500
        assert (await r.json())["error"]["message"]


async def test_wrong_webhook_secrets_of_equal_length_are_refused_alike(stack: Stack):
    """Compared in constant time (hmac.compare_digest): a secret right in all but its last
    character is refused like one wrong from the first."""
    right = stack.webhook_secret
    near = right[:-1] + ("x" if right[-1] != "x" else "y")
    far = ("x" if right[0] != "x" else "y") + right[1:]
    url = f"{stack.public_url}/api/webhooks/ses-events"
    async with stack.client() as http:
        for secret in (near, far, right.upper() if right.upper() != right else right + "!"):
            async with http.post(url, json={}, headers={"X-Webhook-Secret": secret}) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "query",
    ["token=", "token=%00", "token=" + "A" * 5000, "token=' OR 1=1 --", "token=<script>", "x=1"],
)
async def test_hostile_unsubscribe_tokens_get_a_clear_page_not_a_500(stack: Stack, query: str):
    async with stack.client() as http:
        url = f"{stack.public_url}/api/unsubscribe?{query}"
        for method in ("GET", "POST"):
            one_click = {"List-Unsubscribe": "One-Click"} if method == "POST" else None
            async with http.request(method, url, data=one_click) as r:
                assert r.status in (400, 404, 429), (method, query, r.status)
                assert "Traceback" not in await r.text()
