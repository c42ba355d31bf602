"""`outreach doctor`: every check an operator would make by hand, in one run.

Each check answers OK, FAIL (with the fix) or UNKNOWN (the deployment cannot say:
the emulator has no GetAccount, IAM forbids a read; with the reason). The run
fails (exit 1) when any check FAILs; UNKNOWN does not fail it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aio_pika
import aiohttp
import asyncpg

from ops.settings import OperatorSettings
from shared.links import UNSUBSCRIBE_PATH
from shared.migrations import discover
from shared.ses import ses_client
from shared.ses_account import SesAccount, read_account
from shared.settings import (
    MIN_PRODUCTION_SECRET_LENGTH,
    MIN_SECRET_LENGTH,
    production_problems,
    secret_problem,
)
from shared.topology import CONSUMER_QUEUES

Verdict = Literal["OK", "FAIL", "UNKNOWN"]


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str  # what was found; for a FAIL, the fix

    def line(self) -> str:
        return f"{self.verdict:<7} {self.name}: {self.detail}"


async def database(settings: OperatorSettings) -> list[Check]:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(settings.database_url), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return [Check("database", "FAIL", f"{type(exc).__name__}: start PostgreSQL or fix DATABASE_URL")]
    try:
        applied = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
    except asyncpg.UndefinedTableError:
        applied = set()
    finally:
        await conn.close()
    pending = [m.name for m in discover() if m.name not in applied]
    migrated = Check("migrations", "FAIL", f"{len(pending)} pending: run `outreach migrate`") if pending else (
        Check("migrations", "OK", f"all {len(applied)} applied"))  # fmt: skip
    return [Check("database", "OK", "reachable"), migrated]


async def broker(settings: OperatorSettings) -> list[Check]:
    try:
        connection = await asyncio.wait_for(aio_pika.connect(settings.amqp_url), timeout=5)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        fix = "start RabbitMQ (rabbitmq-server -detached) or fix AMQP_URL"
        return [Check("broker", "FAIL", f"{type(exc).__name__}: {fix}")]
    checks = [Check("broker", "OK", "reachable")]
    try:
        for queue in CONSUMER_QUEUES:
            checks.append(await _queue(connection, queue.name, dead_letters_of=None))
            checks.append(await _queue(connection, queue.dead_letter_name, dead_letters_of=queue.consumer))
    finally:
        await connection.close()
    return checks


async def _queue(
    connection: aio_pika.abc.AbstractConnection, name: str, *, dead_letters_of: str | None
) -> Check:
    """A passive declare: the queue's message count, or its absence (which closes the channel)."""
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return Check(f"queue {name}", "FAIL", "missing: start the services once (they declare the topology)")
    count = declared.declaration_result.message_count or 0
    await channel.close()
    if dead_letters_of is not None and count:
        fix = f"`outreach dead-letters list --queue {dead_letters_of}`, then replay or drop them"
        return Check(f"queue {name}", "FAIL", f"{count} dead letter(s): {fix}")
    return Check(f"queue {name}", "OK", f"{count} message(s) waiting" if count else "empty")


def ses_checks(account: SesAccount) -> list[Check]:
    def check(name: str, known: str, fail: str, ok: str) -> Check:
        if known == "unknown":
            return Check(name, "UNKNOWN", account.unknown_because.get(name.split()[0], "SES did not say"))
        return Check(name, "OK", ok) if known == "yes" else Check(name, "FAIL", fail)

    judged = account.mode == "aws"  # the emulator takes any message, whatever it says of identities
    checks = [
        check("credentials", account.credentials, "AWS refuses them: fix the keys or the role", "accepted"),
        check("account production access", account.production_access,
              "the account is in the SES sandbox: request production access", "out of the sandbox"),
        check("account sending", account.sending_enabled, "SES paused sending for the account", "enabled"),
    ]  # fmt: skip
    if judged:
        checks += [
            check("identity", account.identity_verified,
                  f"verify {account.identity} in SES (docs/deploy.md)", f"{account.identity} verified"),
            check("configuration_set", account.configuration_set_exists,
                  f"create {account.configuration_set} (infra/aws/outreach-ses.yaml)", "present"),
            check("event_destination", account.event_destination,
                  "add the EventBridge event destination to the configuration set", "enabled"),
        ]  # fmt: skip
    return checks


async def ses(settings: OperatorSettings) -> list[Check]:
    if not settings.ses_from_email:
        return [Check("ses", "FAIL", "SES_FROM_EMAIL is not set")]
    try:
        async with ses_client(settings) as client:
            account = await asyncio.wait_for(
                read_account(client, settings, settings.ses_from_email), timeout=30
            )
    except Exception as exc:  # the client itself could not be made (no region, say)
        return [Check("ses", "FAIL", f"{type(exc).__name__}: {exc}"[:300])]
    return [Check("mail goes to", "OK", settings.where_mail_goes()), *ses_checks(account)]


async def public_pages(settings: OperatorSettings) -> list[Check]:
    if not settings.public_base_url:
        return [
            Check("public base URL", "FAIL", "PUBLIC_BASE_URL is not set (the unsubscribe links need it)")
        ]
    url = f"{settings.public_base_url.rstrip('/')}{UNSUBSCRIBE_PATH}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(url) as response,
        ):
            page = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [
            Check(
                "unsubscribe page", "FAIL", f"{url} does not answer ({type(exc).__name__}): start the service"
            )
        ]
    if response.status == 400 and "unsubscribe link" in page:
        https = settings.public_base_url.startswith("https://")
        return [Check("unsubscribe page", "OK" if https else "UNKNOWN",
                      f"{url} serves it" + ("" if https else "; RFC 8058 wants https in production"))]  # fmt: skip
    return [Check("unsubscribe page", "FAIL", f"{url} answered {response.status}, not the unsubscribe page")]


def webhook_secret(settings: OperatorSettings) -> list[Check]:
    """Read from the environment: the operator's settings do not hold event-ingest's secret."""
    secret = os.environ.get("SES_WEBHOOK_SECRET", "")
    production = settings.outreach_env == "production"
    least = MIN_PRODUCTION_SECRET_LENGTH if production else MIN_SECRET_LENGTH
    fix = f"set SES_WEBHOOK_SECRET ({least}+ characters of your own), as in EventBridge's connection"
    problem = secret_problem("ses_webhook_secret", secret) if production else None
    if problem is not None or len(secret) < least:
        return [Check("webhook secret", "FAIL", f"{problem} ({fix})" if problem else fix)]
    return [Check("webhook secret", "OK", "set")]


def environment(settings: OperatorSettings) -> list[Check]:
    if settings.outreach_env == "development":
        return [Check("environment", "UNKNOWN", "OUTREACH_ENV=development: example secrets are accepted; "
                      "set OUTREACH_ENV=production for a real deployment")]  # fmt: skip
    problems = production_problems(settings)
    if problems:
        return [Check("environment", "FAIL", "production refuses: " + "; ".join(problems))]
    return [Check("environment", "OK", "production")]


async def run_checks(settings: OperatorSettings) -> list[Check]:
    groups: list[Callable[[OperatorSettings], Awaitable[list[Check]]]] = [database, broker, ses, public_pages]
    found = [check for group in groups for check in await group(settings)]
    return found + environment(settings) + webhook_secret(settings)
