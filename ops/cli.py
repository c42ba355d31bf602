"""`outreach`: the operator's command line.

outreach migrate                      create the database if missing, apply migrations
outreach wait-for-schema [--timeout S]
                                      wait until every migration of this version is applied
                                      (a pod's init container while the migration job runs)
outreach create-admin EMAIL           create an admin who signs in to /admin (or set a new
                                      password); the password from OUTREACH_ADMIN_PASSWORD
                                      or typed twice at the prompt
outreach campaign ID                  a campaign's progress: status, sends by outcome,
                                      SES results, eligible prospects left
outreach rebuild-projections          drop the read tables and replay the event store
outreach dead-letters list [--queue Q] [--limit N]
                                      what is in a consumer's dead-letter queue, and why
outreach dead-letters show MESSAGE_ID [--queue Q]
                                      one dead letter: headers and body
outreach dead-letters replay (--all | MESSAGE_ID) [--queue Q]
                                      send dead letters back to their consumer
outreach doctor                       every check in one run (database, migrations, broker, queues and
                                      dead letters, SES account and identity, the unsubscribe page,
                                      the webhook secret): OK, FAIL with the fix, or UNKNOWN; exit 1
                                      when anything FAILs
outreach api-key create NAME --scope S[,S…]
                                      a key for scripts (Authorization: Bearer ok_…), printed once;
                                      scopes prospects|campaigns|account :read|:write, or all
outreach api-key list                 every key: name, first characters, scopes, created, last used,
                                      revoked
outreach api-key revoke NAME          the key stops working at once
outreach smoke-test EMAIL             one message to EMAIL through the running stack (the gateway at
                                      OUTREACH_API_URL, PROXY_SHARED_SECRET), each state printed as
                                      SES reports it for up to SMOKE_TIMEOUT s; exit 0 when it was
                                      sent and nothing failed; refuses when other prospects are active
outreach suppressions sync            import SES's account suppression list (every page) into ours:
                                      each address suppressed, its prospect bounced or complained;
                                      needs SUPPRESSION_HASH_KEY; idempotent
outreach ses-register-identity        register SES_FROM_EMAIL's domain with the SES endpoint
                                      (for an emulator; on real SES, verify the domain instead)

Q is a consumer: projector (default) or sender.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import aio_pika
import asyncpg
from botocore.exceptions import ClientError

from api_gateway.adapters import api_keys as api_key_store
from api_gateway.adapters.admins import upsert
from api_gateway.admins import WeakPassword, hash_password
from api_gateway.api_keys import new_key, parse_scopes
from ops import suppressions
from ops.doctor import run_checks
from ops.roles import OWNER_ROLE, SERVICE_ROLES, prepare_database
from ops.settings import OperatorSettings
from ops.smoke import SmokeFailed, run_smoke_test
from projector.handlers import ProjectionOptions
from projector.rebuild import rebuild
from shared import db, dead_letters, eligibility, migrations
from shared.addresses import InvalidAddress, normalize_email
from shared.campaign_stats import SES_STATS
from shared.lifecycle import prospect as prospects
from shared.logging import configure_logging
from shared.ses import ses_client
from shared.settings import load_settings


async def _migrate(settings: OperatorSettings) -> None:
    created = await db.ensure_database(settings.database_url)
    if created:
        print(f"created database {db.database_name(settings.database_url)}")
    try:
        applied = await prepare_database(settings.database_url, settings.role_passwords())
    except asyncpg.InsufficientPrivilegeError as exc:
        raise SystemExit(
            f"outreach: {exc}: DATABASE_URL must be an administrator's (a superuser, or CREATEROLE "
            "with membership in outreach_owner): docs/security.md"
        ) from None
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    print(f"roles: {OWNER_ROLE} owns the schema; {', '.join(SERVICE_ROLES.values())} hold their grants")


async def _wait_for_schema(settings: OperatorSettings, timeout: float) -> None:
    """Until every migration of this image is applied (by `outreach migrate`, e.g. the
    Kubernetes migration job): a new pod's init container, so no service starts on an old schema."""
    deadline = time.monotonic() + timeout
    waiting_for: list[str] | str = "the database"
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(settings.database_url, timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            waiting_for = f"the database ({type(exc).__name__})"
        else:
            try:
                waiting_for = await migrations.pending(conn)
            except migrations.MigrationError as exc:
                raise SystemExit(f"outreach: {exc}: this image does not match the database") from None
            finally:
                await conn.close()
            if not waiting_for:
                print("schema is current")
                return
        print(
            f"waiting for {waiting_for if isinstance(waiting_for, str) else ', '.join(waiting_for)}",
            flush=True,
        )
        await asyncio.sleep(2)
    raise SystemExit(f"outreach: still waiting after {timeout:g} s for {waiting_for}")


async def _register_identity(settings: OperatorSettings) -> None:
    if not settings.ses_from_email or "@" not in settings.ses_from_email:
        raise SystemExit("outreach: SES_FROM_EMAIL must be set to an address")
    if settings.ses_mode != "emulator":
        raise SystemExit("outreach: SES_MODE is aws; on real SES verify the domain instead (docs/deploy.md)")
    domain = settings.ses_from_email.rsplit("@", 1)[1]
    async with ses_client(settings) as ses:
        with contextlib.suppress(ses.exceptions.AlreadyExistsException):
            await ses.create_email_identity(EmailIdentity=domain)
    print(f"identity {domain} registered at {settings.ses_endpoint_url}")


async def _sync_suppressions(settings: OperatorSettings) -> None:
    if settings.suppression_hash_key is None:
        raise SystemExit("outreach: SUPPRESSION_HASH_KEY must be set (the gateway's) to suppress addresses")
    key = settings.suppression_hash_key.get_secret_value().encode("utf-8")
    await prepare_database(settings.database_url, settings.role_passwords())
    async with db.pool_context(settings.database_url, max_size=2) as pool, ses_client(settings) as ses:
        try:
            await prospects.adopt_suppression_key(pool, key)
        except prospects.WrongSuppressionKey as exc:
            raise SystemExit(f"outreach: {exc}") from None
        try:
            report = await suppressions.sync(pool, ses, key)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise SystemExit(
                f"outreach: SES refused ListSuppressedDestinations: {error.get('Code')}: {error.get('Message')}"
            ) from None
    print(f"SES account suppression list: {report.listed} addresses in {report.pages} pages; "
          f"{report.added} newly suppressed here, {report.raised} prospects marked bounced or complained, "
          f"{report.skipped} skipped")  # fmt: skip


async def _doctor(settings: OperatorSettings) -> None:
    checks = await run_checks(settings)
    for check in checks:
        print(check.line(), flush=True)
    failed = [c for c in checks if c.verdict == "FAIL"]
    print(f"\n{len(failed)} FAIL, {sum(c.verdict == 'UNKNOWN' for c in checks)} UNKNOWN, "
          f"{sum(c.verdict == 'OK' for c in checks)} OK")  # fmt: skip
    if failed:
        raise SystemExit(1)


async def _api_key(settings: OperatorSettings, args: argparse.Namespace) -> None:
    await prepare_database(settings.database_url, settings.role_passwords())
    async with db.pool_context(settings.database_url, max_size=1) as pool:
        if args.action == "create":
            try:
                scopes = parse_scopes(args.scope)
            except ValueError as exc:
                raise SystemExit(f"outreach: {exc}") from None
            key = new_key()
            try:
                await api_key_store.create(pool, args.name, key, scopes)
            except asyncpg.UniqueViolationError:
                raise SystemExit(f"outreach: a live key named {args.name} exists; revoke it first") from None
            except asyncpg.CheckViolationError:
                raise SystemExit("outreach: a key name is 1-64 letters, digits, '.', '_' or '-'") from None
            print(f"API key {args.name} ({', '.join(sorted(scopes))}); shown this once, keep it secret:")
            print(key)
        elif args.action == "revoke":
            if not await api_key_store.revoke(pool, args.name):
                raise SystemExit(f"outreach: no live key named {args.name}")
            print(f"API key {args.name} revoked")
        else:
            for row in await api_key_store.listing(pool):
                state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "live"
                used = f"{row['last_used_at']:%Y-%m-%d %H:%M}" if row["last_used_at"] else "never"
                print(f"{row['name']:<24} {row['prefix']}…  {','.join(row['scopes']):<40} "
                      f"created {row['created_at']:%Y-%m-%d %H:%M}  last used {used}  {state}")  # fmt: skip


async def _smoke_test(settings: OperatorSettings, email: str) -> None:
    if settings.proxy_shared_secret is None:
        raise SystemExit("outreach: set PROXY_SHARED_SECRET (the gateway's) to run the smoke test")
    if not settings.ses_from_email:
        raise SystemExit("outreach: set SES_FROM_EMAIL (the verified sender) to run the smoke test")
    try:
        passed = await run_smoke_test(
            settings.outreach_api_url, settings.proxy_shared_secret.get_secret_value(), email,
            settings.ses_from_email, timeout=settings.smoke_timeout,
        )  # fmt: skip
    except SmokeFailed as exc:
        raise SystemExit(f"outreach: {exc}") from None
    if not passed:
        raise SystemExit(1)


def _read_password() -> str:
    if password := os.environ.get("OUTREACH_ADMIN_PASSWORD"):
        return password
    if not sys.stdin.isatty():
        raise SystemExit("outreach: set OUTREACH_ADMIN_PASSWORD or run this at a terminal")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("outreach: the passwords differ")
    return first


async def _create_admin(settings: OperatorSettings, email: str | None) -> None:
    try:
        address = normalize_email(email or "")
        password_hash = hash_password(_read_password())
    except (InvalidAddress, WeakPassword) as exc:
        raise SystemExit(f"outreach: {exc}") from None
    await prepare_database(settings.database_url, settings.role_passwords())
    async with db.pool_context(settings.database_url, max_size=1) as pool:
        created = await upsert(pool, address, password_hash)
    print(f"admin {address} {'created' if created else 'given a new password'}; sign in at /admin")


async def _rebuild(settings: OperatorSettings, _: argparse.Namespace) -> None:
    async with db.pool_context(settings.database_url, max_size=2) as pool:
        replayed = await rebuild(pool, ProjectionOptions())
    print(f"replayed {replayed} events into fresh read tables")


async def _campaign(settings: OperatorSettings, args: argparse.Namespace) -> None:
    try:
        campaign_id = uuid.UUID(args.campaign_id)
    except ValueError:
        raise SystemExit(f"outreach: {args.campaign_id!r} is not a campaign id") from None
    async with db.pool_context(settings.database_url, max_size=1) as pool:
        progress = await campaign_progress(pool, campaign_id)
    if progress is None:
        raise SystemExit(f"outreach: no campaign {campaign_id}")
    for line in progress:
        print(line)


async def campaign_progress(pool: Any, campaign_id: uuid.UUID) -> list[str] | None:
    campaign = await pool.fetchrow(
        "SELECT name, status, status_reason, started_at, completed_at FROM email_campaigns WHERE id = $1",
        campaign_id,
    )
    if campaign is None:
        return None
    outcomes = await pool.fetch(
        "SELECT outcome, count(*) AS n FROM email_sends WHERE campaign_id = $1 GROUP BY 1 ORDER BY 1",
        campaign_id,
    )
    stats = await pool.fetchrow("SELECT * FROM campaign_stats WHERE campaign_id = $1", campaign_id)
    eligible = await eligibility.count(pool, campaign_id)
    lines = [
        f"campaign   {campaign['name']} ({campaign_id})",
        f"status     {campaign['status']}"
        + (f": {campaign['status_reason']}" if campaign["status_reason"] else ""),
        f"started    {campaign['started_at'] or '-'}   completed {campaign['completed_at'] or '-'}",
        f"eligible   {eligible} prospect(s) not yet sent to",
        "sends      " + (", ".join(f"{r['outcome']} {r['n']}" for r in outcomes) or "none yet"),
    ]
    if stats is not None:
        lines.append("from SES   " + ", ".join(f"{name} {stats[name]}" for name in SES_STATS))
    return lines


async def _dead_letters(settings: OperatorSettings, args: argparse.Namespace) -> None:
    try:
        queue = dead_letters.consumer_queue(args.queue)
    except ValueError as exc:
        raise SystemExit(f"outreach: {exc}") from None
    connection = await aio_pika.connect_robust(settings.amqp_url)
    try:
        if args.action == "replay":
            if not args.all and not args.message_id:
                raise SystemExit("outreach: name a MESSAGE_ID, or --all")
            count = await dead_letters.replay(
                connection, queue, message_id=None if args.all else args.message_id
            )
            print(f"replayed {count} message(s) from {queue.dead_letter_name} to {queue.name}")
            return
        letters = await dead_letters.peek(
            connection, queue, limit=args.limit if args.action == "list" else 10_000
        )
    finally:
        await connection.close()
    if args.action == "show":
        letter = next((d for d in letters if d.message_id == args.message_id), None)
        if letter is None:
            raise SystemExit(f"outreach: no message {args.message_id} in {queue.dead_letter_name}")
        for name, value in sorted(letter.headers.items()):
            print(f"{name}: {value}")
        print()
        print(letter.pretty_body())
        return
    print(
        f"{len(letters)} message(s) shown from {queue.dead_letter_name}"
        + (" (oldest first)" if letters else "")
    )
    for d in letters:
        print(f"- {d.message_id}  {d.type or '?'}  {d.reason}  attempts={d.attempts or '?'}  "
              f"at={d.dead_lettered_at or '?'}  replayed={d.replayed}")  # fmt: skip
        if d.error:
            print(f"    {d.error.splitlines()[0][:200]}")


Command = Callable[[OperatorSettings, argparse.Namespace], Coroutine[Any, Any, None]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outreach", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate").set_defaults(run=lambda s, _: _migrate(s))
    wait = commands.add_parser("wait-for-schema")
    wait.add_argument("--timeout", type=float, default=600, help="seconds (default 600)")
    wait.set_defaults(run=lambda s, a: _wait_for_schema(s, a.timeout))
    commands.add_parser("doctor").set_defaults(run=lambda s, _: _doctor(s))
    commands.add_parser("ses-register-identity").set_defaults(run=lambda s, _: _register_identity(s))
    suppressions = commands.add_parser("suppressions").add_subparsers(dest="action", required=True)
    suppressions.add_parser("sync").set_defaults(run=lambda s, _: _sync_suppressions(s))
    keys = commands.add_parser("api-key").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create")
    create.add_argument("name")
    create.add_argument("--scope", required=True, help="comma-separated, e.g. prospects:write,campaigns:read")
    keys.add_parser("list")
    keys.add_parser("revoke").add_argument("name")
    for action, sub in keys.choices.items():
        sub.set_defaults(run=_api_key, action=action)
    smoke = commands.add_parser("smoke-test")
    smoke.add_argument("email")
    smoke.set_defaults(run=lambda s, a: _smoke_test(s, a.email))
    admin = commands.add_parser("create-admin")
    admin.add_argument("email")
    admin.set_defaults(run=lambda s, a: _create_admin(s, a.email))
    campaign = commands.add_parser("campaign")
    campaign.add_argument("campaign_id")
    campaign.set_defaults(run=_campaign)
    commands.add_parser("rebuild-projections").set_defaults(run=_rebuild)
    dead = commands.add_parser("dead-letters").add_subparsers(dest="action", required=True)
    for action in ("list", "show", "replay"):
        sub = dead.add_parser(action)
        sub.add_argument("--queue", default="projector", help="projector (default) or sender")
        if action == "list":
            sub.add_argument("--limit", type=int, default=50)
        else:
            sub.add_argument("message_id", nargs="?" if action == "replay" else None)
        if action == "replay":
            sub.add_argument("--all", action="store_true", help="every message in the queue")
        sub.set_defaults(run=_dead_letters, action=action)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = load_settings(OperatorSettings, "outreach")
    configure_logging("outreach-cli", level=settings.log_level, fmt="console")
    run: Command = args.run
    asyncio.run(run(settings, args))


if __name__ == "__main__":
    main(sys.argv[1:])
