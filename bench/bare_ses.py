"""The sender benchmark's same-run reference: a bare aiobotocore SendEmail loop, `count`
raw messages with `concurrency` calls in flight, against the endpoint given (the stub the
sender is measured against). No database, no broker, no rendering: the SDK alone.

    python -m bench.bare_ses http://127.0.0.1:PORT --count 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import os

from aiobotocore.session import get_session

from shared.ses import client_config

# A message of the size the sender sends to the stub (a short campaign, text and HTML).
RAW = (
    "From: outreach@example.com\r\nTo: someone@example.com\r\nSubject: Hello there\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    + "Hello, a short note about our product. " * 30
    + "\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    + "<p>Hello, a short note about our product.</p>" * 30
    + "\r\n--b--\r\n"
).encode()


async def send_all(endpoint: str, count: int, concurrency: int) -> None:
    session = get_session()
    async with session.create_client(
        "sesv2", region_name="us-east-1", endpoint_url=endpoint, config=client_config(concurrency + 4),
        aws_access_key_id="bench", aws_secret_access_key="bench",  # noqa: S106 - the local stub's
    ) as client:  # fmt: skip
        left = iter(range(count))

        async def sender() -> None:
            for i in left:
                await client.send_email(
                    FromEmailAddress="outreach@example.com",
                    Destination={"ToAddresses": [f"p{i}@example.com"]},
                    Content={"Raw": {"Data": RAW}},
                    EmailTags=[{"Name": "send_id", "Value": str(i)}],
                )

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("endpoint")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    asyncio.run(send_all(args.endpoint, args.count, args.concurrency))


if __name__ == "__main__":
    main()
