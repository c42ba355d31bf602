"""The inbound webhook under load: signed SNS notifications of received replies.

    python -m bench.inbound [--count 4000] [--rate 200] [--seconds 10]

Starts event-ingest as a process on a fresh database (its `inbound` consumer reading each
stored mail meanwhile, on the same cores), with a certificate server in this process that
it trusts. Each notification is an SES "Received" notification with a real-shaped reply
inline, signed (SignatureVersion 2) with the test certificate, each its own mail. Prints:
1. burst: --count notifications as fast as 32 connections take them: accepted/s, p50/p99;
   then how fast the consumer worked through them (each read, matched, classified): mails/s;
2. offered: --rate notifications/s for --seconds (open loop), once the burst's backlog is
   processed, the consumer keeping up meanwhile: p50/p99 at that load;
and, as the reference measured in the same run, a bare loop of the same signature check
(cryptography's RSA verify) in this process: verifications/s.
Target: at least 200/s accepted with p99 under 100 ms, signature checked, certificate cached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import asyncpg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from bench.common import bench_vhost, fresh_database, machine_line, percentile, post_all, service
from event_ingest.adapters.certificates import public_key
from event_ingest.sns import parse
from tests.harness import sns

BENCH_DB = "outreach_bench_inbound"
HEADERS = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "inbound" / "gmail-reply.eml"


def notifications(count: int, cert_url: str) -> list[bytes]:
    template = Template(FIXTURE.read_text())
    out = []
    for i in range(count):
        raw = template.substitute(
            message_id=f"0100018c{uuid.uuid4().hex}-000000", subject=f"Hello {i}", from_name="Pat Example",
            from_address=f"pat{i}@example.org", reply_to=f"dana+{uuid.uuid4().hex[:24]}@replies.example.com",
        ).encode()  # fmt: skip
        notification, _ = sns.received(raw, inline=True)
        out.append(json.dumps(sns.notification(notification, cert_url)).encode())
    return out


def stored(status: int, answer: bytes) -> bool:
    return status == 200 and json.loads(answer).get("result") == "stored"


async def drained(database_url: str, count: int, since: float) -> float:
    """Wait until the consumer has processed `count` mails; mails/s from `since`."""
    conn = await asyncpg.connect(database_url)
    try:
        while await conn.fetchval("SELECT count(*) FROM inbound_mail WHERE processed_at IS NOT NULL") < count:
            await asyncio.sleep(0.2)
        return count / (time.perf_counter() - since)
    finally:
        await conn.close()


def bare_verifications(body: bytes, seconds: float = 2.0) -> float:
    """The signature check alone, as the webhook makes it, per second in this process."""
    message = parse(json.loads(body), "Notification")
    key = public_key(sns.signer().pem, datetime.now(UTC))
    text = message.string_to_sign()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        key.verify(message.signature, text, padding.PKCS1v15(), hashes.SHA256())
        done += 1
    return done / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/outreach")
    amqp = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    print(await machine_line(database_url=base), flush=True)
    async with bench_vhost(amqp, "inbound") as amqp_url, sns.cert_server() as certs:
        database_url = await fresh_database(base, BENCH_DB)
        offered = int(args.rate * args.seconds)
        bodies = notifications(args.count + offered, certs.cert_url)
        env = {
            "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "SES_WEBHOOK_SECRET": "bench-webhook-secret-0123456789",
            "SNS_TOPIC_ARNS": sns.TOPIC_ARN, "SNS_TRUSTED_CERT_URL": certs.trusted_pattern,
            "REPLY_DOMAIN": "replies.example.com", "SES_MODE": "emulator", "SES_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        }  # fmt: skip
        async with service("event_ingest", env, "EVENT_INGEST_PORT") as (url, _):
            endpoint = f"{url}/api/webhooks/ses-inbound"
            started = time.perf_counter()
            latencies = await post_all(
                endpoint, bodies[: args.count], headers=HEADERS, workers=32, accepted=stored
            )
            elapsed = time.perf_counter() - started
            print(
                f"burst: {args.count:,} notifications in {elapsed:.1f} s = {args.count / elapsed:,.0f}/s accepted "
                f"(32 connections); p50 {statistics.median(latencies):.1f} ms, "
                f"p99 {percentile(latencies, 0.99):.1f} ms",
                flush=True,
            )
            processing = await drained(database_url, args.count, started)
            print(f"consumer: the burst's {args.count:,} mails processed at {processing:,.0f}/s", flush=True)
            latencies = await post_all(
                endpoint, bodies[args.count :], headers=HEADERS, rate=args.rate, accepted=stored
            )
            print(
                f"offered {args.rate:g}/s for {args.seconds:g} s ({offered:,}): p50 {statistics.median(latencies):.1f} "
                f"ms, p99 {percentile(latencies, 0.99):.1f} ms; certificate fetched {certs.fetches} time(s)",
                flush=True,
            )
    reference = bare_verifications(bodies[0])
    print(
        f"reference: the bare signature check, {reference:,.0f} verifications/s in one process "
        f"(the burst is {args.count / elapsed / reference:.3f} of it)",
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
