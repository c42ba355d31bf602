"""`outreach`: the operator's command line.

outreach migrate                 create the database if missing, apply migrations
outreach ses-register-identity   register SES_FROM_EMAIL's domain with the SES endpoint
                                 (for an emulator; on real SES, verify the domain instead)
outreach create-admin EMAIL      create an admin who signs in to /admin (or set a new
                                 password); the password from OUTREACH_ADMIN_PASSWORD or
                                 typed twice at the prompt
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from shared import db
from shared.logging import configure_logging
from shared.migrations import migrate_database
from shared.settings import Settings, load_settings


async def _migrate(settings: Settings) -> None:
    created = await db.ensure_database(settings.database_url)
    if created:
        print(f"created database {db.database_name(settings.database_url)}")
    applied = await migrate_database(settings.database_url)
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


async def _register_identity(settings: Settings) -> None:
    from shared.ses import ses_client

    if not settings.ses_from_email or "@" not in settings.ses_from_email:
        raise SystemExit("outreach: SES_FROM_EMAIL must be set to an address")
    if settings.ses_endpoint_url is None:
        raise SystemExit(
            "outreach: SES_ENDPOINT_URL is not set; on real SES verify the domain (docs/deploy.md)"
        )
    domain = settings.ses_from_email.rsplit("@", 1)[1]
    async with ses_client(settings) as ses:
        with contextlib.suppress(ses.exceptions.AlreadyExistsException):
            await ses.create_email_identity(EmailIdentity=domain)
    print(f"identity {domain} registered at {settings.ses_endpoint_url}")


def _read_password() -> str:
    if password := os.environ.get("OUTREACH_ADMIN_PASSWORD"):
        return password
    if not sys.stdin.isatty():
        raise SystemExit("outreach: set OUTREACH_ADMIN_PASSWORD or run this at a terminal")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("outreach: the passwords differ")
    return first


async def _create_admin(settings: Settings, email: str | None) -> None:
    # The gateway's own modules: this command is the gateway's, run from the shell.
    from api_gateway.adapters.admins import upsert
    from api_gateway.admins import WeakPassword, hash_password
    from shared.addresses import InvalidAddress, normalize_email

    try:
        address = normalize_email(email or "")
        password_hash = hash_password(_read_password())
    except (InvalidAddress, WeakPassword) as exc:
        raise SystemExit(f"outreach: {exc}") from None
    await migrate_database(settings.database_url)
    async with db.pool_context(settings.database_url, max_size=1) as pool:
        created = await upsert(pool, address, password_hash)
    print(f"admin {address} {'created' if created else 'given a new password'}; sign in at /admin")


COMMANDS: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {
    "migrate": _migrate,
    "ses-register-identity": _register_identity,
    "create-admin": _create_admin,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="outreach", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )  # fmt: skip
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("argument", nargs="?", help="the admin's email address (create-admin)")
    args = parser.parse_args(argv)
    settings = load_settings(Settings, "outreach")
    configure_logging("outreach-cli", level=settings.log_level, fmt="console")
    command = COMMANDS[args.command]
    if args.command == "create-admin":
        asyncio.run(command(settings, args.argument))
    else:
        asyncio.run(command(settings))


if __name__ == "__main__":
    main(sys.argv[1:])
